// Private to SqliteCatalog's source files (sqlite_catalog.cc and the
// per-table sqlite_catalog_*.cc): building and running portable SQL
// (SQLite now, PostgreSQL later), and paging its results.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/catalog_rows.h"
#include "catalog/sqlite_db.h"
#include "common/status.h"

namespace ferry::catalog_sql {

// Runs `fn` inside one read transaction of `db` (BEGIN ... COMMIT), or
// inside the transaction already open on it: every statement of `fn` sees
// the same commit.
Status InReadTransaction(SqliteDb& db, const std::function<Status()>& fn);

inline Status Execute(SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
  RETURN_IF_ERROR(stmt.BindAll(params));
  return stmt.Run();
}

// Runs `sql` and decodes every row with `decode` (returning Result<T>).
template <typename T, typename Decode>
Result<std::vector<T>> Rows(SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& params,
                            Decode decode) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
  RETURN_IF_ERROR(stmt.BindAll(params));
  std::vector<T> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    ASSIGN_OR_RETURN(T item, decode(stmt));
    out.push_back(std::move(item));
  }
}

inline Result<uint64_t> Count(SqliteDb& db, const char* table, const WhereClause& where) {
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   db.Prepare("SELECT COUNT(*) FROM " + std::string(table) + where.Sql()));
  RETURN_IF_ERROR(stmt.BindAll(where.params()));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? FromSql(stmt.ColumnInt(0)) : 0;
}

// Appends " LIMIT ? OFFSET ?" to `sql` and its values to `params`. A LIMIT is
// always present because SQLite accepts OFFSET only after one.
inline void AddPaging(uint64_t offset, uint64_t limit, std::string* sql, std::vector<SqlValue>* params) {
  *sql += " LIMIT ? OFFSET ?";
  params->emplace_back(limit == 0 ? std::numeric_limits<int64_t>::max() : ClampToSql(limit));
  params->emplace_back(ClampToSql(offset));
}

// Counts and fetches one page entirely in SQL.
template <typename T, typename Decode>
Result<Page<T>> PageInSql(SqliteDb& db, const char* table, const std::string& select,
                          const WhereClause& where, const std::string& order, uint64_t offset, uint64_t limit,
                          Decode decode) {
  Page<T> page;
  ASSIGN_OR_RETURN(page.total, Count(db, table, where));
  std::string sql = select + where.Sql() + order;
  std::vector<SqlValue> params = where.params();
  AddPaging(offset, limit, &sql, &params);
  ASSIGN_OR_RETURN(page.items, Rows<T>(db, sql, params, decode));
  return page;
}

// --- image shares (sqlite_catalog_shares.cc) ---

// Schema step 4: the image_shares table.
const char* ImageSharesSchemaStep();
// "image_id IN (...images shared with ?...)", for an images query; bind the
// recipient's account id.
std::string SharedWithAccountSql();

// --- images (the row codec in sqlite_catalog.cc, listing in sqlite_catalog_images.cc) ---

// "image_id, account_id, ...": every column, in DecodeImageRow's order, each
// prefixed with `prefix` (a table alias and a dot, or nothing).
std::string ImageColumnsSql(const std::string& prefix = "");
inline std::string ImageSelectSql() { return "SELECT " + ImageColumnsSql() + " FROM images"; }
Result<ImageRecord> DecodeImageRow(const SqliteStatement& s);
// The same into `r`, every field set (a record reused keeps its strings' room).
Status DecodeImageRowInto(const SqliteStatement& s, ImageRecord& r);

// Schema step 8: the listing indexes, image_counts and image_snapshots; the
// hook fills image_snapshots from existing images.
const char* ImageIndexSchemaStep();
SqliteDb::MigrationHooks ImageIndexMigrationHooks();
// Keeps image_counts and image_snapshots in step with a write of the images
// table, in the writer's transaction: `before` is the row as it was (absent
// for an insert), `after` as it is now (absent for a delete).
Status UpdateImageIndexes(SqliteDb& db, const std::optional<ImageRecord>& before,
                          const std::optional<ImageRecord>& after);
// The image row as UpdateImageIndexes needs it for `before`: image_id,
// account_id, status, creation_time and one disk per snapshot image_snapshots
// holds for it; nothing else is read or decoded. nullopt when there is no
// such image.
Result<std::optional<ImageRecord>> IndexedImageRow(SqliteDb& db, const std::string& image_id);

}  // namespace ferry::catalog_sql
