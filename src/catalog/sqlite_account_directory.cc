#include "catalog/sqlite_account_directory.h"

#include <optional>
#include <utility>

namespace ferry {
namespace {

// Schema steps for SqliteDb::Migrate; append, never edit a shipped step.
const std::vector<std::string> kSchema = {
    // Version 1.
    R"sql(
CREATE TABLE accounts (
  account_id TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  is_root INTEGER NOT NULL,
  creation_time INTEGER NOT NULL
);
CREATE TABLE access_keys (
  access_key_id TEXT NOT NULL PRIMARY KEY,
  access_key_secret TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  enabled INTEGER NOT NULL,
  creation_time INTEGER NOT NULL
);
CREATE INDEX access_keys_account ON access_keys (account_id);
)sql",
    // Version 2: large-copy allowances; image_id '' covers every image.
    R"sql(
CREATE TABLE large_copy_allowances (
  account_id TEXT NOT NULL REFERENCES accounts (account_id),
  image_id TEXT NOT NULL,
  PRIMARY KEY (account_id, image_id)
);
)sql",
};

constexpr const char* kSelectAccount = "SELECT account_id, name, is_root, creation_time FROM accounts";
constexpr const char* kSelectAccessKey =
    "SELECT access_key_id, access_key_secret, account_id, enabled, creation_time FROM access_keys";

AccountRecord DecodeAccount(const SqliteStatement& s) {
  AccountRecord a;
  a.account_id = s.ColumnText(0);
  a.name = s.ColumnText(1);
  a.is_root = s.ColumnInt(2) != 0;
  a.creation_time = s.ColumnInt(3);
  return a;
}

AccessKeyRecord DecodeAccessKey(const SqliteStatement& s) {
  AccessKeyRecord k;
  k.access_key_id = s.ColumnText(0);
  k.access_key_secret = s.ColumnText(1);
  k.account_id = s.ColumnText(2);
  k.enabled = s.ColumnInt(3) != 0;
  k.creation_time = s.ColumnInt(4);
  return k;
}

Result<std::vector<AccessKeyRecord>> QueryAccessKeys(SqliteDb& db, const std::string& where,
                                                     const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(kSelectAccessKey + where));
  RETURN_IF_ERROR(stmt.BindAll(params));
  std::vector<AccessKeyRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(DecodeAccessKey(stmt));
  }
}

// True when `sql` with `params` returns at least one row.
Result<bool> Exists(SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
  RETURN_IF_ERROR(stmt.BindAll(params));
  return stmt.Step();
}

}  // namespace

Result<std::unique_ptr<SqliteAccountDirectory>> SqliteAccountDirectory::Open(const std::string& path,
                                                                            size_t max_cached) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  RETURN_IF_ERROR(db->Migrate(kSchema));
  return std::unique_ptr<SqliteAccountDirectory>(new SqliteAccountDirectory(std::move(db), max_cached));
}

Result<int64_t> SqliteAccountDirectory::DataVersionLocked() {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_->Prepare("PRAGMA data_version"));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Internal("PRAGMA data_version of " + db_->path() + " returned no row");
  return stmt.ColumnInt(0);
}

std::optional<int64_t> SqliteAccountDirectory::ValidateCacheLocked() {
  // PRAGMA data_version changes when another connection commits; this
  // connection's own writes go through WriteLocked, which empties the caches.
  Result<int64_t> version = DataVersionLocked();
  if (!version.ok() || *version != data_version_) {
    keys_.clear();
    accounts_.clear();
  }
  if (!version.ok()) return std::nullopt;
  return *version;
}

template <typename Map, typename Value>
void SqliteAccountDirectory::CacheLocked(Map& map, const std::string& id, const Value& value,
                                         std::optional<int64_t> version) {
  // Without the version read before `value` was, nothing is cached: a
  // commit in between would go unnoticed.
  if (max_cached_ == 0 || !version) return;
  if (keys_.empty() && accounts_.empty()) data_version_ = *version;
  if (map.size() >= max_cached_ && map.find(id) == map.end()) map.erase(map.begin());
  map.insert_or_assign(id, value);
}

Status SqliteAccountDirectory::WriteLocked(const std::function<Status()>& fn) {
  Status status = db_->Transact(fn);
  keys_.clear();
  accounts_.clear();
  return status;
}

size_t SqliteAccountDirectory::cached_keys() {
  std::lock_guard<std::mutex> lock(mu_);
  return keys_.size();
}

size_t SqliteAccountDirectory::cached_accounts() {
  std::lock_guard<std::mutex> lock(mu_);
  return accounts_.size();
}

Result<std::vector<AccountRecord>> SqliteAccountDirectory::QueryAccounts(
    const std::string& where, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db_->Prepare(kSelectAccount + where));
  RETURN_IF_ERROR(stmt.BindAll(params));
  std::vector<AccountRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return out;
    out.push_back(DecodeAccount(stmt));
  }
}

Status SqliteAccountDirectory::CreateAccount(const AccountRecord& a) {
  std::lock_guard<std::mutex> lock(mu_);
  // The checks and the insert share one write transaction, so a second
  // process cannot slip the same name in between.
  return WriteLocked([&]() -> Status {
    ASSIGN_OR_RETURN(bool id_taken,
                     Exists(*db_, "SELECT 1 FROM accounts WHERE account_id = ?", {a.account_id}));
    if (id_taken) {
      return AlreadyExists("InvalidAccountId.Duplicated", "account id " + a.account_id + " already exists");
    }
    ASSIGN_OR_RETURN(bool name_taken, Exists(*db_, "SELECT 1 FROM accounts WHERE name = ?", {a.name}));
    if (name_taken) {
      return AlreadyExists("InvalidAccountName.Duplicated", "account name '" + a.name + "' is already taken");
    }
    ASSIGN_OR_RETURN(SqliteStatement insert,
                     db_->Prepare("INSERT INTO accounts (account_id, name, is_root, creation_time) "
                                  "VALUES (?, ?, ?, ?)"));
    RETURN_IF_ERROR(insert.BindAll({a.account_id, a.name, int64_t{a.is_root}, int64_t{a.creation_time}}));
    return insert.Run().WithContext("create account " + a.account_id);
  });
}

Result<AccountRecord> SqliteAccountDirectory::GetAccount(const std::string& account_id) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::optional<int64_t> version = ValidateCacheLocked();
  auto cached = accounts_.find(account_id);
  if (cached != accounts_.end()) return cached->second;
  ASSIGN_OR_RETURN(std::vector<AccountRecord> rows, QueryAccounts(" WHERE account_id = ?", {account_id}));
  if (rows.empty()) {
    return NotFound("InvalidAccount.NotFound", "account " + account_id + " does not exist");
  }
  CacheLocked(accounts_, account_id, rows.front(), version);
  return std::move(rows.front());
}

Result<AccountRecord> SqliteAccountDirectory::FindAccountByName(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  ASSIGN_OR_RETURN(std::vector<AccountRecord> rows, QueryAccounts(" WHERE name = ?", {name}));
  if (rows.empty()) {
    return NotFound("InvalidAccount.NotFound", "no account is named '" + name + "'");
  }
  return std::move(rows.front());
}

Result<std::vector<AccountRecord>> SqliteAccountDirectory::ListAccounts() {
  std::lock_guard<std::mutex> lock(mu_);
  return QueryAccounts(" ORDER BY account_id", {});
}

Status SqliteAccountDirectory::AddAccessKey(const AccessKeyRecord& k) {
  std::lock_guard<std::mutex> lock(mu_);
  return WriteLocked([&]() -> Status {
    ASSIGN_OR_RETURN(bool account_exists,
                     Exists(*db_, "SELECT 1 FROM accounts WHERE account_id = ?", {k.account_id}));
    if (!account_exists) {
      return NotFound("InvalidAccount.NotFound", "cannot add AccessKey " + k.access_key_id + ": account " +
                                                     k.account_id + " does not exist");
    }
    ASSIGN_OR_RETURN(bool key_taken,
                     Exists(*db_, "SELECT 1 FROM access_keys WHERE access_key_id = ?", {k.access_key_id}));
    if (key_taken) {
      return AlreadyExists("InvalidAccessKeyId.Duplicated",
                           "AccessKey " + k.access_key_id + " already exists");
    }
    ASSIGN_OR_RETURN(SqliteStatement insert,
                     db_->Prepare("INSERT INTO access_keys (access_key_id, access_key_secret, "
                                  "account_id, enabled, creation_time) VALUES (?, ?, ?, ?, ?)"));
    RETURN_IF_ERROR(insert.BindAll(
        {k.access_key_id, k.access_key_secret, k.account_id, int64_t{k.enabled}, int64_t{k.creation_time}}));
    return insert.Run().WithContext("add AccessKey " + k.access_key_id);
  });
}

Result<AccessKeyRecord> SqliteAccountDirectory::GetAccessKey(const std::string& access_key_id) {
  std::lock_guard<std::mutex> lock(mu_);
  const std::optional<int64_t> version = ValidateCacheLocked();
  auto cached = keys_.find(access_key_id);
  if (cached != keys_.end()) return cached->second;
  ASSIGN_OR_RETURN(std::vector<AccessKeyRecord> rows,
                   QueryAccessKeys(*db_, " WHERE access_key_id = ?", {access_key_id}));
  if (rows.empty()) {
    return NotFound("InvalidAccessKeyId.NotFound", "AccessKey " + access_key_id + " does not exist");
  }
  CacheLocked(keys_, access_key_id, rows.front(), version);
  return std::move(rows.front());
}

Status SqliteAccountDirectory::SetAccessKeyEnabled(const std::string& access_key_id, bool enabled) {
  std::lock_guard<std::mutex> lock(mu_);
  return WriteLocked([&]() -> Status {
    ASSIGN_OR_RETURN(SqliteStatement update,
                     db_->Prepare("UPDATE access_keys SET enabled = ? WHERE access_key_id = ?"));
    RETURN_IF_ERROR(update.BindAll({int64_t{enabled}, access_key_id}));
    RETURN_IF_ERROR(update.Run().WithContext(std::string(enabled ? "enable" : "disable") + " AccessKey " +
                                             access_key_id));
    if (db_->changes() == 0) {
      return NotFound("InvalidAccessKeyId.NotFound", "AccessKey " + access_key_id + " does not exist");
    }
    return Status::Ok();
  });
}

Status SqliteAccountDirectory::DeleteAccessKey(const std::string& access_key_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return WriteLocked([&]() -> Status {
    ASSIGN_OR_RETURN(SqliteStatement remove, db_->Prepare("DELETE FROM access_keys WHERE access_key_id = ?"));
    RETURN_IF_ERROR(remove.BindAll({access_key_id}));
    RETURN_IF_ERROR(remove.Run().WithContext("delete AccessKey " + access_key_id));
    if (db_->changes() == 0) {
      return NotFound("InvalidAccessKeyId.NotFound", "AccessKey " + access_key_id + " does not exist");
    }
    return Status::Ok();
  });
}

Result<std::vector<AccessKeyRecord>> SqliteAccountDirectory::ListAccessKeys(const std::string& account_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return QueryAccessKeys(*db_, " WHERE account_id = ? ORDER BY creation_time, access_key_id", {account_id});
}

Status SqliteAccountDirectory::AllowLargeCopy(const std::string& account_id, const std::string& image_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return WriteLocked([&]() -> Status {
    ASSIGN_OR_RETURN(bool account_exists,
                     Exists(*db_, "SELECT 1 FROM accounts WHERE account_id = ?", {account_id}));
    if (!account_exists) {
      return NotFound("InvalidAccount.NotFound",
                      "cannot allow large copies: account " + account_id + " does not exist");
    }
    // Granting twice is not an error: the operator's intent holds either way.
    ASSIGN_OR_RETURN(SqliteStatement insert,
                     db_->Prepare("INSERT OR IGNORE INTO large_copy_allowances (account_id, image_id) "
                                  "VALUES (?, ?)"));
    RETURN_IF_ERROR(insert.BindAll({account_id, image_id}));
    return insert.Run().WithContext("allow large copies for account " + account_id + " image '" + image_id +
                                    "'");
  });
}

Result<bool> SqliteAccountDirectory::IsLargeCopyAllowed(const std::string& account_id,
                                                        const std::string& image_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return Exists(
      *db_, "SELECT 1 FROM large_copy_allowances WHERE account_id = ? AND (image_id = '' OR image_id = ?)",
      {account_id, image_id});
}

}  // namespace ferry
