#include "catalog/pg_nonce_ledger.h"

#include <vector>

namespace ferry {

Result<bool> PgNonceLedger::Claim(const NonceCache::Digest& digest, UnixSeconds now, UnixSeconds expires_at) {
  std::lock_guard<std::mutex> lock(mu_);
  // A row whose claim expired is taken over; an unexpired one is left alone,
  // and no row is touched: a replay.
  ASSIGN_OR_RETURN(
      PgRows rows,
      db_->Query("INSERT INTO nonces (digest, expires_at) VALUES ($1, $2) "
                 "ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at "
                 "WHERE nonces.expires_at < $3",
                 {std::vector<uint8_t>(digest.begin(), digest.end()), int64_t{expires_at}, int64_t{now}}));
  return rows.affected() == 1;
}

Result<uint64_t> PgNonceLedger::Expire(UnixSeconds now) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(PgRows rows, db_->Query("DELETE FROM nonces WHERE expires_at < $1", {int64_t{now}}));
  return rows.affected();
}

}  // namespace ferry
