// The schema of a region's PostgreSQL database (issue 13), applied by
// PgDb::Migrate when a node starts. Never edit a step that has shipped;
// append a new one. BIGINT for every integer (sizes and times do not fit
// PostgreSQL's 32-bit INTEGER), BYTEA for bytes.
#pragma once

#include <string>
#include <vector>

namespace ferry {

// Version 1: nonces (PgNonceLedger). Version 2: the catalog's tables, as
// SqliteCatalog's schema has them (for the PostgreSQL catalog to come).
const std::vector<std::string>& PgSchema();

}  // namespace ferry
