#include "catalog/sqlite_account_directory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "catalog_contract.h"
#include "common/fs_util.h"
#include "common/ids.h"

namespace ferry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

template <typename Engine>
class AccountDirectoryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Engine::SetUpSuite(); }
  static void TearDownTestSuite() { Engine::TearDownSuite(); }
  void SetUp() override {
    location_ = engine_.NewLocation();
    ASSERT_FALSE(location_.empty());
    accounts_ = OpenDirectory();
    ASSERT_NE(accounts_, nullptr);
  }
  void TearDown() override { accounts_.reset(); }

  // Another handle on the same directory: a restart, or another node.
  std::unique_ptr<AccountDirectory> OpenDirectory() {
    auto d = Engine::OpenDirectory(location_);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  Engine engine_;
  std::string location_;
  std::unique_ptr<AccountDirectory> accounts_;
};
TYPED_TEST_SUITE(AccountDirectoryTest, CatalogEngines, CatalogEngineNames);

// What only SqliteAccountDirectory has: its cache, its file's history.
class SqliteAccountDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/sqlite_account_directory_test_" + RandomHex(8);
    ASSERT_TRUE(MakeDirs(dir_).ok());
    path_ = dir_ + "/accounts.db";
    accounts_ = OpenDirectory();
    ASSERT_NE(accounts_, nullptr);
  }
  void TearDown() override {
    accounts_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<SqliteAccountDirectory> OpenDirectory() {
    auto d = SqliteAccountDirectory::Open(path_);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(d).value() : nullptr;
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteAccountDirectory> accounts_;
};

AccountRecord Account(const std::string& id, const std::string& name) {
  AccountRecord a;
  a.account_id = id;
  a.name = name;
  a.is_root = true;
  a.creation_time = 1'700'000'000;
  return a;
}

AccessKeyRecord Key(const std::string& id, const std::string& account) {
  AccessKeyRecord k;
  k.access_key_id = id;
  k.access_key_secret = "secret-of-" + id;
  k.account_id = account;
  k.enabled = false;
  k.creation_time = 1'700'000'001;
  return k;
}

TYPED_TEST(AccountDirectoryTest, AccountRoundTrip) {
  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000002", "bob")).ok());
  AccountRecord alice = Account("1000000000000001", "alice");
  alice.is_root = false;
  ASSERT_TRUE(this->accounts_->CreateAccount(alice).ok());

  auto got = this->accounts_->GetAccount("1000000000000001");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->account_id, alice.account_id);
  EXPECT_EQ(got->name, "alice");
  EXPECT_FALSE(got->is_root);
  EXPECT_EQ(got->creation_time, alice.creation_time);

  auto by_name = this->accounts_->FindAccountByName("bob");
  ASSERT_TRUE(by_name.ok());
  EXPECT_EQ(by_name->account_id, "1000000000000002");
  EXPECT_TRUE(by_name->is_root);

  auto all = this->accounts_->ListAccounts();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "alice");
  EXPECT_EQ((*all)[1].name, "bob");
}

TYPED_TEST(AccountDirectoryTest, UnknownAccountIsNotFound) {
  auto got = this->accounts_->GetAccount("1999999999999999");
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_EQ(got.status().reason(), "InvalidAccount.NotFound");
  EXPECT_THAT(got.status().message(), HasSubstr("1999999999999999"));
  auto by_name = this->accounts_->FindAccountByName("nobody");
  EXPECT_EQ(by_name.status().reason(), "InvalidAccount.NotFound");
  EXPECT_THAT(by_name.status().message(), HasSubstr("nobody"));
}

TYPED_TEST(AccountDirectoryTest, AccountIdAndNameAreUnique) {
  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000001", "alice")).ok());
  Status same_id = this->accounts_->CreateAccount(Account("1000000000000001", "other"));
  EXPECT_EQ(same_id.code(), Code::kAlreadyExists);
  EXPECT_EQ(same_id.reason(), "InvalidAccountId.Duplicated");
  Status same_name = this->accounts_->CreateAccount(Account("1000000000000009", "alice"));
  EXPECT_EQ(same_name.code(), Code::kAlreadyExists);
  EXPECT_EQ(same_name.reason(), "InvalidAccountName.Duplicated");
  EXPECT_THAT(same_name.message(), HasSubstr("alice"));
  EXPECT_EQ(this->accounts_->ListAccounts()->size(), 1u);
}

TYPED_TEST(AccountDirectoryTest, AccessKeyRoundTrip) {
  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000001", "alice")).ok());
  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000002", "bob")).ok());
  ASSERT_TRUE(this->accounts_->AddAccessKey(Key("LTAIalice1", "1000000000000001")).ok());
  AccessKeyRecord second = Key("LTAIalice2", "1000000000000001");
  second.enabled = true;
  second.creation_time += 10;
  ASSERT_TRUE(this->accounts_->AddAccessKey(second).ok());
  ASSERT_TRUE(this->accounts_->AddAccessKey(Key("LTAIbob", "1000000000000002")).ok());

  auto got = this->accounts_->GetAccessKey("LTAIalice1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->access_key_secret, "secret-of-LTAIalice1");
  EXPECT_EQ(got->account_id, "1000000000000001");
  EXPECT_FALSE(got->enabled);
  EXPECT_EQ(got->creation_time, 1'700'000'001);
  EXPECT_TRUE(this->accounts_->GetAccessKey("LTAIalice2")->enabled);

  auto keys = this->accounts_->ListAccessKeys("1000000000000001");
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].access_key_id, "LTAIalice1");
  EXPECT_EQ((*keys)[1].access_key_id, "LTAIalice2");
  EXPECT_THAT(*this->accounts_->ListAccessKeys("1000000000000003"), IsEmpty());
}

TYPED_TEST(AccountDirectoryTest, AccessKeyErrors) {
  auto missing = this->accounts_->GetAccessKey("LTAInope");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_EQ(missing.status().reason(), "InvalidAccessKeyId.NotFound");
  EXPECT_THAT(missing.status().message(), HasSubstr("LTAInope"));

  Status orphan = this->accounts_->AddAccessKey(Key("LTAIorphan", "1000000000000001"));
  EXPECT_EQ(orphan.code(), Code::kNotFound);
  EXPECT_EQ(orphan.reason(), "InvalidAccount.NotFound");
  EXPECT_EQ(this->accounts_->GetAccessKey("LTAIorphan").status().code(), Code::kNotFound);

  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000001", "alice")).ok());
  ASSERT_TRUE(this->accounts_->AddAccessKey(Key("LTAIkey", "1000000000000001")).ok());
  AccessKeyRecord dup = Key("LTAIkey", "1000000000000001");
  dup.access_key_secret = "different";
  Status st = this->accounts_->AddAccessKey(dup);
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_EQ(st.reason(), "InvalidAccessKeyId.Duplicated");
  EXPECT_EQ(this->accounts_->GetAccessKey("LTAIkey")->access_key_secret, "secret-of-LTAIkey");
}

TYPED_TEST(AccountDirectoryTest, TwoInstancesSeeEachOthersWrites) {
  auto second = this->OpenDirectory();
  ASSERT_NE(second, nullptr);
  // Read before the write, so a cache would hold the miss.
  EXPECT_EQ(this->accounts_->GetAccessKey("LTAIlate").status().code(), Code::kNotFound);

  ASSERT_TRUE(second->CreateAccount(Account("1000000000000001", "alice")).ok());
  ASSERT_TRUE(second->AddAccessKey(Key("LTAIlate", "1000000000000001")).ok());
  EXPECT_EQ(this->accounts_->GetAccessKey("LTAIlate")->account_id, "1000000000000001");
  EXPECT_EQ(this->accounts_->FindAccountByName("alice")->account_id, "1000000000000001");

  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000002", "bob")).ok());
  EXPECT_EQ(second->GetAccount("1000000000000002")->name, "bob");
  EXPECT_EQ(second->CreateAccount(Account("1000000000000003", "bob")).reason(),
            "InvalidAccountName.Duplicated");
}

TEST_F(SqliteAccountDirectoryTest, CachedKeyDisabledOrDeletedIsSeenAtOnce) {
  ASSERT_TRUE(accounts_->CreateAccount(Account("1000000000000001", "alice")).ok());
  AccessKeyRecord key = Key("LTAIcached", "1000000000000001");
  key.enabled = true;
  ASSERT_TRUE(accounts_->AddAccessKey(key).ok());
  ASSERT_TRUE(accounts_->GetAccessKey("LTAIcached")->enabled);
  ASSERT_EQ(accounts_->GetAccount("1000000000000001")->name, "alice");
  EXPECT_EQ(accounts_->cached_keys(), 1u);
  EXPECT_EQ(accounts_->cached_accounts(), 1u);

  ASSERT_TRUE(accounts_->SetAccessKeyEnabled("LTAIcached", false).ok());
  EXPECT_FALSE(accounts_->GetAccessKey("LTAIcached")->enabled);
  ASSERT_TRUE(accounts_->SetAccessKeyEnabled("LTAIcached", true).ok());
  EXPECT_TRUE(accounts_->GetAccessKey("LTAIcached")->enabled);
  ASSERT_TRUE(accounts_->DeleteAccessKey("LTAIcached").ok());
  EXPECT_EQ(accounts_->GetAccessKey("LTAIcached").status().reason(), "InvalidAccessKeyId.NotFound");

  EXPECT_EQ(accounts_->SetAccessKeyEnabled("LTAIcached", true).reason(), "InvalidAccessKeyId.NotFound");
  EXPECT_EQ(accounts_->DeleteAccessKey("LTAIcached").reason(), "InvalidAccessKeyId.NotFound");
}

// Another connection (another process: `ferry account create`, an operator's
// sqlite3) changes a key this directory has cached.
TEST_F(SqliteAccountDirectoryTest, CachedKeyChangedByAnotherConnectionIsSeenAtOnce) {
  auto other = OpenDirectory();
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(accounts_->CreateAccount(Account("1000000000000001", "alice")).ok());
  AccessKeyRecord key = Key("LTAIshared", "1000000000000001");
  key.enabled = true;
  ASSERT_TRUE(accounts_->AddAccessKey(key).ok());
  ASSERT_TRUE(accounts_->GetAccessKey("LTAIshared")->enabled);
  ASSERT_EQ(accounts_->cached_keys(), 1u);

  ASSERT_TRUE(other->SetAccessKeyEnabled("LTAIshared", false).ok());
  EXPECT_FALSE(accounts_->GetAccessKey("LTAIshared")->enabled);
  ASSERT_TRUE(other->DeleteAccessKey("LTAIshared").ok());
  EXPECT_EQ(accounts_->GetAccessKey("LTAIshared").status().code(), Code::kNotFound);
}

TEST_F(SqliteAccountDirectoryTest, CacheHoldsNoMissesAndStaysWithinItsBound) {
  auto d = SqliteAccountDirectory::Open(path_, /*max_cached=*/3);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  SqliteAccountDirectory& small = **d;
  for (int i = 0; i < 2000; ++i) {
    EXPECT_EQ(small.GetAccessKey("LTAIunknown" + std::to_string(i)).status().code(), Code::kNotFound);
    EXPECT_EQ(small.GetAccount(std::to_string(9000000000000000 + i)).status().code(), Code::kNotFound);
  }
  EXPECT_EQ(small.cached_keys(), 0u);
  EXPECT_EQ(small.cached_accounts(), 0u);

  ASSERT_TRUE(small.CreateAccount(Account("1000000000000001", "alice")).ok());
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(small.AddAccessKey(Key("LTAIkey" + std::to_string(i), "1000000000000001")).ok());
  }
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 10; ++i) {
      const std::string id = "LTAIkey" + std::to_string(i);
      auto got = small.GetAccessKey(id);
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(got->access_key_secret, "secret-of-" + id);
      EXPECT_LE(small.cached_keys(), 3u);
    }
  }
  EXPECT_EQ(small.cached_keys(), 3u);
}

// `ferry account create` runs as its own process next to a server.
TEST_F(SqliteAccountDirectoryTest, AnotherProcessCanWriteWhileOpen) {
  ASSERT_TRUE(accounts_->CreateAccount(Account("1000000000000001", "alice")).ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: a fresh connection, no gtest assertions, no destructors of the
    // parent's objects.
    auto d = SqliteAccountDirectory::Open(path_);
    bool ok = d.ok() && (*d)->CreateAccount(Account("1000000000000002", "carol")).ok() &&
              (*d)->AddAccessKey(Key("LTAIchild", "1000000000000002")).ok() &&
              (*d)->GetAccount("1000000000000001").ok();
    _exit(ok ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus));
  ASSERT_EQ(WEXITSTATUS(wstatus), 0);
  EXPECT_EQ(accounts_->GetAccessKey("LTAIchild")->account_id, "1000000000000002");
  auto all = accounts_->ListAccounts();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].name, "carol");
}

TYPED_TEST(AccountDirectoryTest, DataSurvivesReopen) {
  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000001", "alice")).ok());
  ASSERT_TRUE(this->accounts_->AddAccessKey(Key("LTAIkey", "1000000000000001")).ok());
  this->accounts_.reset();
  this->accounts_ = this->OpenDirectory();
  ASSERT_NE(this->accounts_, nullptr);
  EXPECT_EQ(this->accounts_->GetAccount("1000000000000001")->name, "alice");
  EXPECT_EQ(this->accounts_->GetAccessKey("LTAIkey")->access_key_secret, "secret-of-LTAIkey");
  EXPECT_THAT(*this->accounts_->ListAccessKeys("1000000000000001"), ::testing::SizeIs(1));
}

TYPED_TEST(AccountDirectoryTest, LargeCopyAllowanceForOneImageOrAll) {
  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000001", "alice")).ok());
  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000002", "bob")).ok());
  EXPECT_FALSE(*this->accounts_->IsLargeCopyAllowed("1000000000000001", "m-big"));

  ASSERT_TRUE(this->accounts_->AllowLargeCopy("1000000000000001", "m-big").ok());
  EXPECT_TRUE(*this->accounts_->IsLargeCopyAllowed("1000000000000001", "m-big"));
  EXPECT_FALSE(*this->accounts_->IsLargeCopyAllowed("1000000000000001", "m-other"));
  EXPECT_FALSE(*this->accounts_->IsLargeCopyAllowed("1000000000000002", "m-big"));
  // Granting again is harmless.
  EXPECT_TRUE(this->accounts_->AllowLargeCopy("1000000000000001", "m-big").ok());

  ASSERT_TRUE(this->accounts_->AllowLargeCopy("1000000000000002", "").ok());
  EXPECT_TRUE(*this->accounts_->IsLargeCopyAllowed("1000000000000002", "m-anything"));
  EXPECT_FALSE(*this->accounts_->IsLargeCopyAllowed("1000000000000001", "m-other"));
}

TYPED_TEST(AccountDirectoryTest, LargeCopyAllowanceNeedsAnAccountAndSurvivesReopen) {
  Status st = this->accounts_->AllowLargeCopy("1000000000000009", "");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(st.reason(), "InvalidAccount.NotFound");
  EXPECT_THAT(st.message(), HasSubstr("1000000000000009"));

  ASSERT_TRUE(this->accounts_->CreateAccount(Account("1000000000000001", "alice")).ok());
  ASSERT_TRUE(this->accounts_->AllowLargeCopy("1000000000000001", "m-big").ok());
  this->accounts_.reset();
  this->accounts_ = this->OpenDirectory();
  ASSERT_NE(this->accounts_, nullptr);
  EXPECT_TRUE(*this->accounts_->IsLargeCopyAllowed("1000000000000001", "m-big"));
}

TEST_F(SqliteAccountDirectoryTest, VersionOneFileIsMigrated) {
  accounts_.reset();
  std::filesystem::remove(path_);
  {
    // A file written by a release that knew only accounts and keys.
    auto db = SqliteDb::Open(path_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)
                    ->Migrate({"CREATE TABLE accounts (account_id TEXT NOT NULL PRIMARY KEY, name TEXT NOT "
                               "NULL UNIQUE, is_root INTEGER NOT NULL, creation_time INTEGER NOT NULL);"
                               "CREATE TABLE access_keys (access_key_id TEXT NOT NULL PRIMARY KEY, "
                               "access_key_secret TEXT NOT NULL, account_id TEXT NOT NULL, enabled "
                               "INTEGER NOT NULL, creation_time INTEGER NOT NULL);"})
                    .ok());
    ASSERT_TRUE((*db)->Exec("INSERT INTO accounts VALUES ('1000000000000001', 'alice', 1, 0)").ok());
  }
  accounts_ = OpenDirectory();
  ASSERT_NE(accounts_, nullptr);
  EXPECT_EQ(accounts_->GetAccount("1000000000000001")->name, "alice");
  ASSERT_TRUE(accounts_->AllowLargeCopy("1000000000000001", "").ok());
  EXPECT_TRUE(*accounts_->IsLargeCopyAllowed("1000000000000001", "m-x"));
}

}  // namespace
}  // namespace ferry
