// A PostgreSQL server of the test's own (scripts/throwaway-postgres.sh): a
// cluster in a scratch folder, listening on a Unix socket there only, stopped
// by its pid and removed when the object goes. Each test takes a database of
// its own with NewDatabase().
//
// Under ctest, one server serves the whole run (the PostgresServer fixture of
// tests/CMakeLists.txt starts it; a server takes ~2 s to start) and
// FERRY_TEST_POSTGRES names it: then this object only borrows it.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "catalog/pg_db.h"
#include "catalog/pg_nonce_ledger.h"
#include "catalog/pg_schema.h"
#include "common/ids.h"
#include "unit/throwaway_script.h"

namespace ferry {

class ThrowawayPostgres {
 public:
  // Starts the server; an empty uri() and a test failure if it cannot.
  ThrowawayPostgres() : dir_(::testing::TempDir() + "/ferry_pg_" + RandomHex(8)) {
    if (const char* shared = std::getenv("FERRY_TEST_POSTGRES"); shared != nullptr && *shared != '\0') {
      uri_ = shared;
      borrowed_ = true;
      return;
    }
    std::string out;
    const std::string command = Script() + " start " + dir_;
    if (!RunThrowawayScript(command, &out) || !out.starts_with("postgresql://")) {
      ADD_FAILURE() << "throwaway PostgreSQL did not start (" << command << "): " << out;
      return;
    }
    uri_ = out;
  }
  ~ThrowawayPostgres() {
    if (borrowed_) return;
    const std::string command = Script() + " stop " + dir_;
    if (std::system(command.c_str()) != 0) ADD_FAILURE() << command << " failed";
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  ThrowawayPostgres(const ThrowawayPostgres&) = delete;
  ThrowawayPostgres& operator=(const ThrowawayPostgres&) = delete;

  const std::string& uri() const { return uri_; }

  // A new, empty database on the server; the URI that names it.
  std::string NewDatabase() {
    const std::string name = "t_" + RandomHex(8);
    auto admin = PgDb::Connect(uri_);
    EXPECT_TRUE(admin.ok()) << admin.status().ToString();
    if (!admin.ok()) return "";
    Status st = (*admin)->Exec("CREATE DATABASE " + name);
    EXPECT_TRUE(st.ok()) << st.ToString();
    std::string uri = uri_;
    uri.replace(uri.find("/postgres?"), std::string("/postgres?").size(), "/" + name + "?");
    return uri;
  }

 private:
  static std::string Script() { return std::string(FERRY_SCRIPTS_DIR) + "/throwaway-postgres.sh"; }

  std::string dir_;
  std::string uri_;
  bool borrowed_ = false;
};

// A fixture whose suite shares one server and whose every test has a new
// database of its own (uri_).
class PostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ThrowawayPostgres(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_FALSE(server_->uri().empty());
    uri_ = server_->NewDatabase();
    ASSERT_FALSE(uri_.empty());
  }

  static inline ThrowawayPostgres* server_ = nullptr;
  std::string uri_;
};

// A node's nonce ledger on the database at `uri`, migrated as a node does
// at start; null (and a test failure) if it cannot.
inline std::unique_ptr<PgNonceLedger> LedgerOfNode(const std::string& uri) {
  auto ledger = PgNonceLedger::Open(uri);
  EXPECT_TRUE(ledger.ok()) << ledger.status().ToString();
  return ledger.ok() ? std::move(ledger).value() : nullptr;
}

}  // namespace ferry
