// PgAccountDirectory: the accounts and AccessKeys of a region's nodes, in
// the region's PostgreSQL database (issue 13; tables of PgSchema version 4,
// those of SqliteAccountDirectory). Every node reads the same rows, so an
// AccessKey created, disabled or deleted through any node (or by an
// operator's `ferry account` command) holds on every node from the next
// request: nothing is cached. Writes hold the region's write lock
// (kPgRegionWriteLock), so a name or key is taken once in the whole region.
//
// Errors are those of SqliteAccountDirectory (catalog.h AccountDirectory).
//
// Threading: thread-safe (a PgPool).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/pg_pool.h"

namespace ferry {

class PgAccountDirectory final : public AccountDirectory {
 public:
  static constexpr size_t kMaxConnections = 8;

  // Connects to `uri` and brings its schema to PgSchema().
  static Result<std::unique_ptr<PgAccountDirectory>> Open(const std::string& uri);

  Status CreateAccount(const AccountRecord& a) override;
  Result<AccountRecord> GetAccount(const std::string& account_id) override;
  Result<AccountRecord> FindAccountByName(const std::string& name) override;
  Result<std::vector<AccountRecord>> ListAccounts() override;
  Status AddAccessKey(const AccessKeyRecord& k) override;
  Result<AccessKeyRecord> GetAccessKey(const std::string& access_key_id) override;
  Result<std::vector<AccessKeyRecord>> ListAccessKeys(const std::string& account_id) override;
  Status SetAccessKeyEnabled(const std::string& access_key_id, bool enabled) override;
  Status DeleteAccessKey(const std::string& access_key_id) override;
  Status AllowLargeCopy(const std::string& account_id, const std::string& image_id) override;
  Result<bool> IsLargeCopyAllowed(const std::string& account_id, const std::string& image_id) override;

 private:
  explicit PgAccountDirectory(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

  // Runs `fn` in a transaction holding the region's write lock.
  Status Write(const std::function<Status(PgDb&)>& fn);
  Result<std::vector<AccountRecord>> Accounts(const std::string& where, const std::vector<SqlValue>& params);
  Result<std::vector<AccessKeyRecord>> Keys(const std::string& where, const std::vector<SqlValue>& params);

  std::unique_ptr<PgPool> pool_;
};

}  // namespace ferry
