// SqliteAccountDirectory: accounts and AccessKeys in one SQLite file
// (accounts.db), shared by every region of a server and written by the
// offline `ferry account create` command while a server may be running.
//
// AccessKeys and accounts that exist are cached in memory (every signed
// request looks up both), never a miss: a key created by another process is
// usable at once, and a client's made-up AccessKeyIds take no memory. The
// cache is never stale to its caller: every write of this directory empties
// it, and every cached answer first asks SQLite whether any other connection
// (another process: `ferry account create`, an operator's sqlite3) has
// committed since the cache was filled (PRAGMA data_version); if so the
// cache is emptied and the file read. At most `max_cached` keys and as many
// accounts are held; beyond, an arbitrary entry makes room.
//
// WAL lets readers proceed while the other process writes; its busy timeout
// absorbs the short write locks.
//
// Schema (version 1): accounts(account_id PK, name UNIQUE, is_root,
// creation_time); access_keys(access_key_id PK, access_key_secret,
// account_id -> accounts, enabled, creation_time). Version 2 adds
// large_copy_allowances(account_id, image_id; '' = every image).
//
// Threading: thread-safe; one connection guarded by `mu_`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/sqlite_db.h"

namespace ferry {

class SqliteAccountDirectory final : public AccountDirectory {
 public:
  static constexpr size_t kDefaultMaxCached = 10'000;

  static Result<std::unique_ptr<SqliteAccountDirectory>> Open(const std::string& path,
                                                              size_t max_cached = kDefaultMaxCached);

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
  // kNotFound "InvalidAccessKeyId.NotFound" for a key that does not exist.
  Status SetAccessKeyEnabled(const std::string& access_key_id, bool enabled) override;
  Status DeleteAccessKey(const std::string& access_key_id) override;
  // kNotFound "InvalidAccount.NotFound" when the account does not exist;
  // granting the same allowance twice is OK.
  Status AllowLargeCopy(const std::string& account_id, const std::string& image_id) override;
  Result<bool> IsLargeCopyAllowed(const std::string& account_id, const std::string& image_id) override;

  // Entries cached now (for tests).
  size_t cached_keys();
  size_t cached_accounts();

 private:
  SqliteAccountDirectory(std::unique_ptr<SqliteDb> db, size_t max_cached)
      : db_(std::move(db)), max_cached_(max_cached) {}

  Result<std::vector<AccountRecord>> QueryAccounts(const std::string& where,
                                                   const std::vector<SqlValue>& params);
  Result<int64_t> DataVersionLocked();
  // PRAGMA data_version now, after emptying the caches if another connection
  // has committed since they were filled; nullopt (and empty caches) when it
  // cannot tell.
  std::optional<int64_t> ValidateCacheLocked();
  // Writes through `fn` and empties the caches, whatever `fn` answered.
  Status WriteLocked(const std::function<Status()>& fn);
  template <typename Map, typename Value>
  void CacheLocked(Map& map, const std::string& id, const Value& value, std::optional<int64_t> version);

  std::mutex mu_;                 // serializes every use of db_ and the caches
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
  const size_t max_cached_;
  // Guarded by mu_. `data_version_` is PRAGMA data_version when the caches
  // were last known to match the file.
  std::unordered_map<std::string, AccessKeyRecord> keys_;
  std::unordered_map<std::string, AccountRecord> accounts_;
  int64_t data_version_ = -1;
};

}  // namespace ferry
