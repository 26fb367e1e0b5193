#include "api/accounts_admin.h"

#include <gtest/gtest.h>

#include <cctype>
#include <vector>

namespace ferry {
namespace {

class FixedClock final : public Clock {
 public:
  UnixSeconds Now() const override { return 1700000000; }
  std::chrono::steady_clock::time_point Steady() const override { return {}; }
};

// Refuses the first `collisions` account ids, as if they were taken.
class MemoryAccounts final : public AccountDirectory {
 public:
  int collisions = 0;
  std::vector<AccountRecord> accounts;
  std::vector<AccessKeyRecord> keys;

  Status CreateAccount(const AccountRecord& a) override {
    if (collisions > 0) {
      --collisions;
      return AlreadyExists("", "account id " + a.account_id + " is taken");
    }
    for (const AccountRecord& e : accounts)
      if (e.name == a.name || e.account_id == a.account_id) return AlreadyExists("", "taken");
    accounts.push_back(a);
    return Status::Ok();
  }
  Result<AccountRecord> GetAccount(const std::string& id) override {
    for (const AccountRecord& a : accounts)
      if (a.account_id == id) return a;
    return NotFound("", id);
  }
  Result<AccountRecord> FindAccountByName(const std::string& name) override {
    for (const AccountRecord& a : accounts)
      if (a.name == name) return a;
    return NotFound("", name);
  }
  Result<std::vector<AccountRecord>> ListAccounts() override { return accounts; }
  Status AddAccessKey(const AccessKeyRecord& k) override {
    keys.push_back(k);
    return Status::Ok();
  }
  Result<AccessKeyRecord> GetAccessKey(const std::string& id) override {
    for (const AccessKeyRecord& k : keys)
      if (k.access_key_id == id) return k;
    return NotFound("", id);
  }
  Result<std::vector<AccessKeyRecord>> ListAccessKeys(const std::string&) override { return keys; }
};

bool AllOf(const std::string& s, int (*pred)(int)) {
  for (unsigned char c : s)
    if (!pred(c)) return false;
  return true;
}

TEST(AccountsAdminTest, CreatesAnAccountAndAKeyWithEcsShapes) {
  MemoryAccounts accounts;
  FixedClock clock;
  Result<AccessKeyRecord> key = CreateAccountWithKey(accounts, "team-a", clock);
  ASSERT_TRUE(key.ok()) << key.status().ToString();

  ASSERT_EQ(accounts.accounts.size(), 1u);
  const AccountRecord& account = accounts.accounts[0];
  EXPECT_EQ(account.name, "team-a");
  EXPECT_FALSE(account.is_root);
  EXPECT_EQ(account.creation_time, 1700000000);
  EXPECT_EQ(account.account_id.size(), 16u);
  EXPECT_TRUE(AllOf(account.account_id, isdigit));
  EXPECT_NE(account.account_id[0], '0');
  // Below 2^53 (9007199254740992): it is sent as the number ImageOwnerId.
  EXPECT_EQ(account.account_id[0], '1');

  EXPECT_EQ(key->account_id, account.account_id);
  EXPECT_EQ(key->access_key_id.size(), 24u);
  EXPECT_EQ(key->access_key_id.substr(0, 4), "LTAI");
  EXPECT_TRUE(AllOf(key->access_key_id, isalnum));
  EXPECT_EQ(key->access_key_secret.size(), 30u);
  EXPECT_TRUE(AllOf(key->access_key_secret, isalnum));
  EXPECT_TRUE(key->enabled);
  ASSERT_EQ(accounts.keys.size(), 1u);
  EXPECT_EQ(accounts.keys[0].access_key_id, key->access_key_id);
}

TEST(AccountsAdminTest, RetriesAnIdCollision) {
  MemoryAccounts accounts;
  accounts.collisions = 2;
  FixedClock clock;
  Result<AccessKeyRecord> key = CreateAccountWithKey(accounts, "team", clock);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(accounts.accounts.size(), 1u);
}

TEST(AccountsAdminTest, RefusesDuplicateAndMalformedNames) {
  MemoryAccounts accounts;
  FixedClock clock;
  ASSERT_TRUE(CreateAccountWithKey(accounts, "team", clock).ok());
  Result<AccessKeyRecord> again = CreateAccountWithKey(accounts, "team", clock);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(again.status().reason(), "InvalidAccountName.Duplicated");
  EXPECT_NE(again.status().message().find(accounts.accounts[0].account_id), std::string::npos);

  for (const std::string& bad :
       std::vector<std::string>{"", "-lead", "has space", std::string(65, 'a'), "slash/name"}) {
    Result<AccessKeyRecord> r = CreateAccountWithKey(accounts, bad, clock);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().reason(), "InvalidParameter") << bad;
  }
  EXPECT_EQ(accounts.accounts.size(), 1u);
  EXPECT_EQ(accounts.keys.size(), 1u);
}

}  // namespace
}  // namespace ferry
