// PgNonceLedger: the SignatureNonce replay guard that a region's nodes share
// (issue 13), in the region's PostgreSQL database: a nonce spent on one node
// is refused on every other until it expires.
//
// It stands behind each node's own NonceCache, which keeps its bounds (at
// most max_entries unexpired nonces, a share per AccessKey) and answers a
// replay on the same node without a round trip; only a nonce the node's
// cache accepts is claimed here. So the table holds at most nodes x
// max_entries unexpired rows, whatever clients send, and Expire() removes the
// others.
//
// Claim is one statement: an insert that also takes over an expired row of
// the same digest, so two nodes claiming one nonce at once cannot both win
// (the primary key decides).
//
// Expired claims are deleted as claims go by: at most once a minute, the
// claim that finds the minute passed also runs Expire().
//
// Threading: thread-safe; calls take connections from a PgPool, so a node's
// requests claim at once, and a broken connection is replaced.
#pragma once

#include <atomic>
#include <memory>

#include "catalog/pg_db.h"
#include "catalog/pg_pool.h"
#include "common/clock.h"
#include "common/nonce_cache.h"
#include "common/status.h"

namespace ferry {

class PgNonceLedger final : public NonceLedger {
 public:
  static constexpr size_t kMaxConnections = 8;

  // Connects to `uri` and brings its schema to PgSchema().
  static Result<std::unique_ptr<PgNonceLedger>> Open(const std::string& uri);

  // Records `digest` until `expires_at` (inclusive) unless it is held by an
  // unexpired claim at `now`: true for a first use, false for a replay.
  Result<bool> Claim(const NonceCache::Digest& digest, UnixSeconds now, UnixSeconds expires_at) override;
  // Deletes the claims that expired before `now`; how many.
  Result<uint64_t> Expire(UnixSeconds now);

 private:
  explicit PgNonceLedger(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

  std::unique_ptr<PgPool> pool_;
  std::atomic<UnixSeconds> next_expiry_{0};
};

}  // namespace ferry
