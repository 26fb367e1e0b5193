// The catalog contract: suites typed over every Catalog and AccountDirectory
// implementation, so that SqliteCatalog and PgCatalog (SqliteAccountDirectory
// and PgAccountDirectory) keep one behaviour (issue 13). A suite
// derives its fixture from CatalogTest<Engine> and declares
//
//   TYPED_TEST_SUITE(MyTest, CatalogEngines, CatalogEngineNames);
//
// Each test gets an empty catalog of its own (catalog_), and Reopen() opens
// the same one again, as a restart of the node would.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "catalog/catalog.h"
#include "catalog/pg_account_directory.h"
#include "catalog/pg_catalog.h"
#include "catalog/sqlite_account_directory.h"
#include "catalog/sqlite_catalog.h"
#include "common/fs_util.h"
#include "common/ids.h"
#include "throwaway_postgres.h"

namespace ferry {

// A catalog file in a scratch folder.
struct SqliteEngine {
  static void SetUpSuite() {}
  static void TearDownSuite() {}
  std::string NewLocation() {
    dir_ = ::testing::TempDir() + "/catalog_contract_" + RandomHex(8);
    EXPECT_TRUE(MakeDirs(dir_).ok());
    return dir_ + "/catalog.db";
  }
  static Result<std::unique_ptr<Catalog>> Open(const std::string& location) {
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteCatalog> catalog, SqliteCatalog::Open(location));
    return std::unique_ptr<Catalog>(std::move(catalog));
  }
  // The account directory beside the catalog, as `ferry serve` keeps it.
  static Result<std::unique_ptr<AccountDirectory>> OpenDirectory(const std::string& location) {
    const std::string path = location.substr(0, location.rfind('/')) + "/accounts.db";
    ASSIGN_OR_RETURN(std::unique_ptr<SqliteAccountDirectory> directory, SqliteAccountDirectory::Open(path));
    return std::unique_ptr<AccountDirectory>(std::move(directory));
  }
  ~SqliteEngine() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  std::string dir_;
};

// A database of its own on the suite's PostgreSQL server.
struct PostgresEngine {
  static void SetUpSuite() { server_ = new ThrowawayPostgres(); }
  static void TearDownSuite() {
    delete server_;
    server_ = nullptr;
  }
  std::string NewLocation() { return server_->uri().empty() ? "" : server_->NewDatabase(); }
  static Result<std::unique_ptr<Catalog>> Open(const std::string& location) {
    ASSIGN_OR_RETURN(std::unique_ptr<PgCatalog> catalog, PgCatalog::Open(location));
    return std::unique_ptr<Catalog>(std::move(catalog));
  }
  // The account directory in the same database.
  static Result<std::unique_ptr<AccountDirectory>> OpenDirectory(const std::string& location) {
    ASSIGN_OR_RETURN(std::unique_ptr<PgAccountDirectory> directory, PgAccountDirectory::Open(location));
    return std::unique_ptr<AccountDirectory>(std::move(directory));
  }
  static inline ThrowawayPostgres* server_ = nullptr;
};

template <typename Engine>
class CatalogTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Engine::SetUpSuite(); }
  static void TearDownTestSuite() { Engine::TearDownSuite(); }
  void SetUp() override {
    location_ = engine_.NewLocation();
    ASSERT_FALSE(location_.empty());
    Reopen();
  }
  void TearDown() override { catalog_.reset(); }
  void Reopen() {
    catalog_.reset();
    auto c = Engine::Open(location_);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    catalog_ = std::move(c).value();
  }

  Engine engine_;
  std::string location_;
  std::unique_ptr<Catalog> catalog_;
};

// What SqliteCatalog's schema versions 9 (task leases) and 10 (copy slots) added, for the tests
// that take a catalog back to an older version.
inline constexpr const char* kUndoSchemaNineOn =
    "DROP TABLE chunk_pins; DROP TABLE gc_passes; DROP TABLE pin_seq; "
    "DROP TABLE copy_slots; DROP INDEX tasks_lease_owner; ALTER TABLE tasks DROP COLUMN lease_owner; "
    "ALTER TABLE tasks DROP COLUMN lease_expires";

using CatalogEngines = ::testing::Types<SqliteEngine, PostgresEngine>;

struct CatalogEngineNames {
  template <typename Engine>
  static std::string GetName(int) {
    return std::is_same_v<Engine, SqliteEngine> ? "Sqlite" : "Postgres";
  }
};

}  // namespace ferry
