// The schema of a region's PostgreSQL database (issue 13), applied by
// PgDb::Migrate when a node starts. Never edit a step that has shipped;
// append a new one. BIGINT for every integer (sizes and times do not fit
// PostgreSQL's 32-bit INTEGER), BYTEA for bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ferry {

// Version 1: nonces (PgNonceLedger). Version 2: the catalog's tables, as
// SqliteCatalog's schema has them (PgCatalog). Version 3: without
// image_counts. Version 4: the account directory's tables, as
// SqliteAccountDirectory's schema has them (PgAccountDirectory).
const std::vector<std::string>& PgSchema();

// The advisory lock every write transaction of the region's database holds
// to its end (PgCatalog, PgAccountDirectory): one writer at a time in the
// whole region, as SQLite has one per file ("FerryWR" in ASCII).
inline constexpr int64_t kPgRegionWriteLock = 0x46657272795752;

}  // namespace ferry
