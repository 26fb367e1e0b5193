#include "catalog/pg_account_directory.h"

#include <utility>

#include "catalog/pg_schema.h"

namespace ferry {
namespace {

constexpr const char* kSelectAccount = "SELECT account_id, name, is_root, creation_time FROM accounts";
constexpr const char* kSelectAccessKey =
    "SELECT access_key_id, access_key_secret, account_id, enabled, creation_time FROM access_keys";

Result<bool> Exists(PgDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(PgRows rows, db.Query(sql, params));
  return !rows.empty();
}

Status AccountExists(PgDb& db, const std::string& account_id, const std::string& what) {
  ASSIGN_OR_RETURN(bool exists, Exists(db, "SELECT 1 FROM accounts WHERE account_id = $1", {account_id}));
  if (exists) return Status::Ok();
  return NotFound("InvalidAccount.NotFound", what + ": account " + account_id + " does not exist");
}

}  // namespace

Result<std::unique_ptr<PgAccountDirectory>> PgAccountDirectory::Open(const std::string& uri) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgPool> pool, PgPool::Open(uri, kMaxConnections));
  {
    ASSIGN_OR_RETURN(PgPool::Lease lease, pool->Lend());
    RETURN_IF_ERROR(lease->Migrate(PgSchema()));
  }
  pool->ServeCallers();
  return std::unique_ptr<PgAccountDirectory>(new PgAccountDirectory(std::move(pool)));
}

Status PgAccountDirectory::Write(const std::function<Status(PgDb&)>& fn) {
  ASSIGN_OR_RETURN(PgPool::Lease db, pool_->Lend());
  return db->Transact([&]() -> Status {
    RETURN_IF_ERROR(db->Query("SELECT pg_advisory_xact_lock($1)", {kPgRegionWriteLock}).status());
    return fn(db.db());
  });
}

Result<std::vector<AccountRecord>> PgAccountDirectory::Accounts(const std::string& where,
                                                                const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(PgPool::Lease db, pool_->Lend());
  ASSIGN_OR_RETURN(PgRows rows, db->Query(kSelectAccount + where, params));
  std::vector<AccountRecord> out;
  for (int i = 0; i < rows.size(); ++i) {
    const PgRow row(rows, i);
    out.push_back(
        AccountRecord{row.ColumnText(0), row.ColumnText(1), row.ColumnInt(2) != 0, row.ColumnInt(3)});
  }
  return out;
}

Result<std::vector<AccessKeyRecord>> PgAccountDirectory::Keys(const std::string& where,
                                                              const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(PgPool::Lease db, pool_->Lend());
  ASSIGN_OR_RETURN(PgRows rows, db->Query(kSelectAccessKey + where, params));
  std::vector<AccessKeyRecord> out;
  for (int i = 0; i < rows.size(); ++i) {
    const PgRow row(rows, i);
    out.push_back(AccessKeyRecord{row.ColumnText(0), row.ColumnText(1), row.ColumnText(2),
                                  row.ColumnInt(3) != 0, row.ColumnInt(4)});
  }
  return out;
}

Status PgAccountDirectory::CreateAccount(const AccountRecord& a) {
  return Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(bool id_taken,
                     Exists(db, "SELECT 1 FROM accounts WHERE account_id = $1", {a.account_id}));
    if (id_taken) {
      return AlreadyExists("InvalidAccountId.Duplicated", "account id " + a.account_id + " already exists");
    }
    ASSIGN_OR_RETURN(bool name_taken, Exists(db, "SELECT 1 FROM accounts WHERE name = $1", {a.name}));
    if (name_taken) {
      return AlreadyExists("InvalidAccountName.Duplicated", "account name '" + a.name + "' is already taken");
    }
    return db
        .Query("INSERT INTO accounts (account_id, name, is_root, creation_time) VALUES ($1, $2, $3, $4)",
               {a.account_id, a.name, int64_t{a.is_root}, int64_t{a.creation_time}})
        .status()
        .WithContext("create account " + a.account_id);
  });
}

Result<AccountRecord> PgAccountDirectory::GetAccount(const std::string& account_id) {
  ASSIGN_OR_RETURN(std::vector<AccountRecord> rows, Accounts(" WHERE account_id = $1", {account_id}));
  if (rows.empty()) return NotFound("InvalidAccount.NotFound", "account " + account_id + " does not exist");
  return std::move(rows.front());
}

Result<AccountRecord> PgAccountDirectory::FindAccountByName(const std::string& name) {
  ASSIGN_OR_RETURN(std::vector<AccountRecord> rows, Accounts(" WHERE name = $1", {name}));
  if (rows.empty()) return NotFound("InvalidAccount.NotFound", "no account is named '" + name + "'");
  return std::move(rows.front());
}

Result<std::vector<AccountRecord>> PgAccountDirectory::ListAccounts() {
  return Accounts(" ORDER BY account_id COLLATE \"C\"", {});
}

Status PgAccountDirectory::AddAccessKey(const AccessKeyRecord& k) {
  return Write([&](PgDb& db) -> Status {
    RETURN_IF_ERROR(AccountExists(db, k.account_id, "cannot add AccessKey " + k.access_key_id));
    ASSIGN_OR_RETURN(bool key_taken,
                     Exists(db, "SELECT 1 FROM access_keys WHERE access_key_id = $1", {k.access_key_id}));
    if (key_taken) {
      return AlreadyExists("InvalidAccessKeyId.Duplicated",
                           "AccessKey " + k.access_key_id + " already exists");
    }
    return db
        .Query(
            "INSERT INTO access_keys (access_key_id, access_key_secret, account_id, enabled, creation_time) "
            "VALUES ($1, $2, $3, $4, $5)",
            {k.access_key_id, k.access_key_secret, k.account_id, int64_t{k.enabled},
             int64_t{k.creation_time}})
        .status()
        .WithContext("add AccessKey " + k.access_key_id);
  });
}

Result<AccessKeyRecord> PgAccountDirectory::GetAccessKey(const std::string& access_key_id) {
  ASSIGN_OR_RETURN(std::vector<AccessKeyRecord> rows, Keys(" WHERE access_key_id = $1", {access_key_id}));
  if (rows.empty()) {
    return NotFound("InvalidAccessKeyId.NotFound", "AccessKey " + access_key_id + " does not exist");
  }
  return std::move(rows.front());
}

Result<std::vector<AccessKeyRecord>> PgAccountDirectory::ListAccessKeys(const std::string& account_id) {
  return Keys(" WHERE account_id = $1 ORDER BY creation_time, access_key_id COLLATE \"C\"", {account_id});
}

Status PgAccountDirectory::SetAccessKeyEnabled(const std::string& access_key_id, bool enabled) {
  return Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(PgRows rows, db.Query("UPDATE access_keys SET enabled = $1 WHERE access_key_id = $2",
                                           {int64_t{enabled}, access_key_id}));
    if (rows.affected() == 0) {
      return NotFound("InvalidAccessKeyId.NotFound", "AccessKey " + access_key_id + " does not exist");
    }
    return Status::Ok();
  });
}

Status PgAccountDirectory::DeleteAccessKey(const std::string& access_key_id) {
  return Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(PgRows rows,
                     db.Query("DELETE FROM access_keys WHERE access_key_id = $1", {access_key_id}));
    if (rows.affected() == 0) {
      return NotFound("InvalidAccessKeyId.NotFound", "AccessKey " + access_key_id + " does not exist");
    }
    return Status::Ok();
  });
}

Status PgAccountDirectory::AllowLargeCopy(const std::string& account_id, const std::string& image_id) {
  return Write([&](PgDb& db) -> Status {
    RETURN_IF_ERROR(AccountExists(db, account_id, "cannot allow large copies"));
    // Granting twice is not an error: the operator's intent holds either way.
    return db
        .Query(
            "INSERT INTO large_copy_allowances (account_id, image_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            {account_id, image_id})
        .status()
        .WithContext("allow large copies for account " + account_id + " image '" + image_id + "'");
  });
}

Result<bool> PgAccountDirectory::IsLargeCopyAllowed(const std::string& account_id,
                                                    const std::string& image_id) {
  ASSIGN_OR_RETURN(PgPool::Lease db, pool_->Lend());
  return Exists(
      db.db(),
      "SELECT 1 FROM large_copy_allowances WHERE account_id = $1 AND (image_id = '' OR image_id = $2)",
      {account_id, image_id});
}

}  // namespace ferry
