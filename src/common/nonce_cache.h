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
//   evicted, so being full can delay requests but never re-opens a replay.
//
// Memory per entry, measured from the layout rather than by a test (x86-64,
// libstdc++, glibc malloc): the set's node is 24 bytes (next pointer +
// digest; the hash is not cached because the hasher is noexcept and cheap),
// a 32-byte malloc chunk; its bucket pointer 8 bytes at load factor <= 1;
// the digest again in its expiry-second vector, 16 bytes, up to 32 with the
// vector's growth. About 56-72 bytes per entry, plus ~80 bytes per distinct
// expiry second (at most 2 x the time window of them). Measured once
// (mallinfo2 around 1,000,000 inserts spread over 1,800 expiry seconds):
// 62 bytes per entry, so 1,000,000 entries take about 60 MiB.
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
#include <unordered_set>
#include <vector>

#include "common/clock.h"

namespace ferry {

class NonceCache {
 public:
  static constexpr size_t kDigestBytes = 16;
  using Digest = std::array<uint8_t, kDigestBytes>;

  enum class Outcome {
    kAccepted,  // first use: recorded until its expiry
    kReplayed,  // used before and not yet expired
    kFull,      // new, but the cache holds max_entries unexpired nonces
  };

  explicit NonceCache(size_t max_entries) : max_entries_(max_entries) {}

  static Digest DigestOf(std::string_view scope, std::string_view nonce);

  // Drops entries whose expiry is before `now`, then records `digest` until
  // `expires_at` (inclusive) unless it is already there or the cache is
  // full.
  Outcome CheckAndInsert(const Digest& digest, UnixSeconds now, UnixSeconds expires_at);

  size_t size() const;
  size_t max_entries() const { return max_entries_; }

 private:
  struct DigestHash {
    size_t operator()(const Digest& d) const noexcept {
      size_t h;  // the digest is uniform already
      std::memcpy(&h, d.data(), sizeof(h));
      return h;
    }
  };

  void ExpireLocked(UnixSeconds now);

  const size_t max_entries_;
  mutable std::mutex mu_;
  std::unordered_set<Digest, DigestHash> live_;              // guarded by mu_
  std::map<UnixSeconds, std::vector<Digest>> by_expiry_;     // guarded by mu_
};

}  // namespace ferry
