// SqliteCatalog: image shares, one row per (image, recipient account).
#include <string>
#include <vector>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_catalog_sql.h"

namespace ferry {

namespace catalog_sql {

const char* ImageSharesSchemaStep() {
  // The primary key makes a share unique; the index serves the recipient's
  // listing (DescribeImages), the key the owner's (per image).
  return R"sql(
CREATE TABLE image_shares (
  image_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  shared_time INTEGER NOT NULL,
  PRIMARY KEY (image_id, account_id)
);
CREATE INDEX image_shares_account ON image_shares (account_id);
)sql";
}

std::string SharedWithAccountSql() {
  return "image_id IN (SELECT image_id FROM image_shares WHERE account_id = ?)";
}

}  // namespace catalog_sql

Status SqliteCatalog::PutImageShare(const ImageShareRecord& r) {
  return Write([&]() -> Status {
    return catalog_sql::Execute(*db_, catalog_sql::kPutImageShareSql,
                                {r.image_id, r.account_id, r.shared_time})
        .WithContext("share image " + r.image_id + " with account " + r.account_id);
  });
}

Status SqliteCatalog::DeleteImageShare(const std::string& image_id, const std::string& account_id) {
  return Write([&]() -> Status {
    return catalog_sql::Execute(*db_, "DELETE FROM image_shares WHERE image_id = ? AND account_id = ?",
                                {image_id, account_id})
        .WithContext("unshare image " + image_id + " from account " + account_id);
  });
}

Result<Page<ImageShareRecord>> SqliteCatalog::ListImageShares(const std::string& image_id, uint64_t offset,
                                                              uint64_t limit) {
  catalog_sql::WhereClause where;
  where.Add("image_id = ?", {image_id});
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  return catalog_sql::PageInSql<ImageShareRecord>(
      reader.db(), "image_shares", "SELECT image_id, account_id, shared_time FROM image_shares", where,
      " ORDER BY shared_time, account_id", offset, limit, catalog_sql::DecodeShare<SqliteStatement>);
}

Result<bool> SqliteCatalog::IsImageSharedWith(const std::string& image_id, const std::string& account_id) {
  catalog_sql::WhereClause where;
  where.Add("image_id = ? AND account_id = ?", {image_id, account_id});
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(uint64_t n, catalog_sql::Count(reader.db(), "image_shares", where));
  return n > 0;
}

Result<std::set<std::string>> SqliteCatalog::SharedImageIds(const std::vector<std::string>& image_ids) {
  std::set<std::string> shared;
  if (image_ids.empty()) return shared;
  const std::set<std::string> distinct(image_ids.begin(), image_ids.end());
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  SqliteDb& db = reader.db();
  // One read transaction for all, one index lookup per id: "image_id IN
  // (...)" would build a temporary b-tree on every call.
  RETURN_IF_ERROR(catalog_sql::InReadTransaction(db, [&]() -> Status {
    ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare("SELECT 1 FROM image_shares WHERE image_id = ? LIMIT 1"));
    for (const std::string& id : distinct) {
      RETURN_IF_ERROR(stmt.Reset());
      RETURN_IF_ERROR(stmt.BindText(1, id));
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (row) shared.insert(id);
    }
    return Status::Ok();
  }));
  return shared;
}

}  // namespace ferry
