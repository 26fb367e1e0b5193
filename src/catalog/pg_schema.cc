#include "catalog/pg_schema.h"

namespace ferry {

const std::vector<std::string>& PgSchema() {
  static const std::vector<std::string> steps = {
      // Version 1. A nonce's digest (NonceCache::DigestOf) until the request
      // that carried it fails its timestamp check.
      R"sql(
CREATE TABLE nonces (
  digest BYTEA NOT NULL PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX nonces_expiry ON nonces (expires_at);
)sql",
  };
  return steps;
}

}  // namespace ferry
