#include "catalog/pg_nonce_ledger.h"

#include <vector>

#include "catalog/pg_schema.h"

namespace ferry {

Result<std::unique_ptr<PgNonceLedger>> PgNonceLedger::Open(const std::string& uri) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgPool> pool, PgPool::Open(uri, kMaxConnections));
  {
    ASSIGN_OR_RETURN(PgPool::Lease lease, pool->Lend());
    RETURN_IF_ERROR(lease->Migrate(PgSchema()));
  }
  pool->ServeCallers();
  return std::unique_ptr<PgNonceLedger>(new PgNonceLedger(std::move(pool)));
}

Result<bool> PgNonceLedger::Claim(const NonceCache::Digest& digest, UnixSeconds now, UnixSeconds expires_at) {
  UnixSeconds due = next_expiry_.load();
  if (now >= due && next_expiry_.compare_exchange_strong(due, now + 60)) {
    // Best effort: a failure here leaves rows that the next minute removes.
    (void)Expire(now);
  }
  ASSIGN_OR_RETURN(PgPool::Lease db, pool_->Lend());
  // A row whose claim expired is taken over; an unexpired one is left alone,
  // and no row is touched: a replay.
  ASSIGN_OR_RETURN(
      PgRows rows,
      db->Query("INSERT INTO nonces (digest, expires_at) VALUES ($1, $2) "
                "ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at "
                "WHERE nonces.expires_at < $3",
                {std::vector<uint8_t>(digest.begin(), digest.end()), int64_t{expires_at}, int64_t{now}}));
  return rows.affected() == 1;
}

Result<uint64_t> PgNonceLedger::Expire(UnixSeconds now) {
  ASSIGN_OR_RETURN(PgPool::Lease db, pool_->Lend());
  ASSIGN_OR_RETURN(PgRows rows, db->Query("DELETE FROM nonces WHERE expires_at < $1", {int64_t{now}}));
  return rows.affected();
}

}  // namespace ferry
