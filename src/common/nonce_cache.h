// NonceCache: the replay guard shared by the ECS API (api/auth) and the peer
// protocol (api/peer_endpoints, copy/peer_auth). It remembers which nonces
// were used until the request that carried them can no longer pass its
// timestamp check, and refuses a second use.
//
// Bounded by construction, whatever clients send:
// - a nonce is stored as a 16-byte digest (the first 16 bytes of
//   SHA-256(scope "\n" nonce), scope = the AccessKeyId or the peer
//   protocol's label), never as the string; callers also bound the nonce's
//   length before hashing it;
// - one copy of each digest: a hash set of digests plus, per expiry second,
//   a vector of the digests that expire then (the set alone answers
//   "used?", the vectors make expiry cheap);
// - at most `max_entries` unexpired digests. When full, a new nonce is
//   refused (kFull) until entries expire: an unexpired entry is never
//   evicted, so being full can delay requests but never re-opens a replay;
// - at most `max_per_scope` of them per scope (an AccessKey): one client
//   sending as fast as it can fills its own share (kScopeFull), not the
//   cache, and the others keep working. Scopes are told apart by a 64-bit
//   hash of their name (ScopeOf); two that collide share one share.
//
// Memory per entry, measured from the layout rather than by a test (x86-64,
// libstdc++, glibc malloc): the set's node is 24 bytes (next pointer +
// digest; the hash is not cached because the hasher is noexcept and cheap),
// a 32-byte malloc chunk; its bucket pointer 8 bytes at load factor <= 1;
// the digest and its scope hash again in its expiry-second vector, 24
// bytes, up to 48 with the vector's growth; ~40 bytes per scope in use.
// About 64-88 bytes per entry, plus ~80 bytes per distinct expiry second (at
// most 2 x the time window of them). Measured before the scope hash was
// added (mallinfo2 around 1,000,000 inserts spread over 1,800 expiry
// seconds): 62 bytes per entry; the scope adds 8-16, so 1,000,000 entries
// take about 70 MiB.
//
// Threading: thread-safe; one mutex (mu_) guards the state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace ferry {

// Nonces that several processes serving one region share (issue 13: a
// nonce spent on one node is refused on every other). A node asks it only
// for nonces its own NonceCache accepted, so the cache's bounds hold there
// too. Implemented in PostgreSQL by PgNonceLedger (catalog/pg_nonce_ledger.h).
class NonceLedger {
 public:
  virtual ~NonceLedger() = default;
  // Records `digest` (NonceCache::DigestOf) until `expires_at` (inclusive)
  // unless it is held by an unexpired claim at `now`: true for a first use,
  // false for a replay; an error when the ledger cannot tell.
  virtual Result<bool> Claim(const std::array<uint8_t, 16>& digest, UnixSeconds now,
                             UnixSeconds expires_at) = 0;
};

class NonceCache {
 public:
  static constexpr size_t kDigestBytes = 16;
  using Digest = std::array<uint8_t, kDigestBytes>;

  enum class Outcome {
    kAccepted,   // first use: recorded until its expiry
    kReplayed,   // used before and not yet expired
    kFull,       // new, but the cache holds max_entries unexpired nonces
    kScopeFull,  // new, but its scope holds max_per_scope unexpired nonces
  };

  // `max_per_scope` 0 = max_entries (no share below the whole).
  explicit NonceCache(size_t max_entries, size_t max_per_scope = 0)
      : max_entries_(max_entries), max_per_scope_(max_per_scope == 0 ? max_entries : max_per_scope) {}

  static Digest DigestOf(std::string_view scope, std::string_view nonce);
  static uint64_t ScopeOf(std::string_view scope);

  // Drops entries whose expiry is before `now`, then records `digest` of
  // `scope` (ScopeOf) until `expires_at` (inclusive) unless it is already
  // there, the cache is full or the scope's share is.
  Outcome CheckAndInsert(const Digest& digest, UnixSeconds now, UnixSeconds expires_at, uint64_t scope = 0);

  size_t size() const;
  size_t max_entries() const { return max_entries_; }
  size_t max_per_scope() const { return max_per_scope_; }

 private:
  struct DigestHash {
    size_t operator()(const Digest& d) const noexcept {
      size_t h;  // the digest is uniform already
      std::memcpy(&h, d.data(), sizeof(h));
      return h;
    }
  };

  void ExpireLocked(UnixSeconds now);

  struct Expiring {
    Digest digest;
    uint64_t scope;
  };

  const size_t max_entries_;
  const size_t max_per_scope_;
  mutable std::mutex mu_;
  std::unordered_set<Digest, DigestHash> live_;             // guarded by mu_
  std::map<UnixSeconds, std::vector<Expiring>> by_expiry_;  // guarded by mu_
  std::unordered_map<uint64_t, size_t> per_scope_;          // guarded by mu_; live entries per scope
};

}  // namespace ferry
