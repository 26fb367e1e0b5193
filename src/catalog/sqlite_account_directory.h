// SqliteAccountDirectory: accounts and AccessKeys in one SQLite file
// (accounts.db), shared by every region of a server and written by the
// offline `ferry account create` command while a server may be running.
//
// Nothing is cached: every lookup reads the file, so a key created by another
// process is usable at once. WAL lets readers proceed while the other process
// writes; its busy timeout absorbs the short write locks.
//
// Schema (version 1): accounts(account_id PK, name UNIQUE, is_root,
// creation_time); access_keys(access_key_id PK, access_key_secret,
// account_id -> accounts, enabled, creation_time). Version 2 adds
// large_copy_allowances(account_id, image_id; '' = every image).
//
// Threading: thread-safe; one connection guarded by `mu_`.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/sqlite_db.h"

namespace ferry {

class SqliteAccountDirectory final : public AccountDirectory {
 public:
  static Result<std::unique_ptr<SqliteAccountDirectory>> Open(const std::string& path);

  // kAlreadyExists with reason "InvalidAccountId.Duplicated" or
  // "InvalidAccountName.Duplicated".
  Status CreateAccount(const AccountRecord& a) override;
  // kNotFound "InvalidAccount.NotFound".
  Result<AccountRecord> GetAccount(const std::string& account_id) override;
  Result<AccountRecord> FindAccountByName(const std::string& name) override;
  Result<std::vector<AccountRecord>> ListAccounts() override;  // by account_id
  // kAlreadyExists "InvalidAccessKeyId.Duplicated" for a taken id;
  // kNotFound "InvalidAccount.NotFound" when the account does not exist.
  Status AddAccessKey(const AccessKeyRecord& k) override;
  // kNotFound "InvalidAccessKeyId.NotFound".
  Result<AccessKeyRecord> GetAccessKey(const std::string& access_key_id) override;
  Result<std::vector<AccessKeyRecord>> ListAccessKeys(const std::string& account_id) override;
  // kNotFound "InvalidAccount.NotFound" when the account does not exist;
  // granting the same allowance twice is OK.
  Status AllowLargeCopy(const std::string& account_id, const std::string& image_id) override;
  Result<bool> IsLargeCopyAllowed(const std::string& account_id, const std::string& image_id) override;

 private:
  explicit SqliteAccountDirectory(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Result<std::vector<AccountRecord>> QueryAccounts(const std::string& where,
                                                   const std::vector<SqlValue>& params);

  std::mutex mu_;                 // serializes every use of db_
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
};

}  // namespace ferry
