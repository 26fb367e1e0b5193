// The PostgreSQL schema (catalog/pg_schema.cc) and those of SqliteCatalog
// and SqliteAccountDirectory cannot drift apart: after both migrate, they hold the same tables, each with the
// same columns, and the same named indexes. A column added to one alone
// fails here.
#include "catalog/pg_schema.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include "catalog/pg_db.h"
#include "catalog/sqlite_account_directory.h"
#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_db.h"
#include "common/fs_util.h"
#include "common/ids.h"
#include "throwaway_postgres.h"

namespace ferry {
namespace {

using Tables = std::map<std::string, std::set<std::string>>;  // table -> its columns

// Tables only PostgreSQL has: the nonce ledger and Migrate's version.
const std::set<std::string> kPostgresOnly = {"nonces", "ferry_schema"};
// Tables only SQLite has: the listing's running totals (PgSchema version 3).
const std::set<std::string> kSqliteOnly = {"image_counts"};

TEST(PgSchemaTest, TheCatalogsAndDirectorysTablesColumnsAndIndexesMatchSqlites) {
  const std::string dir = ::testing::TempDir() + "/pg_schema_test_" + RandomHex(8);
  ASSERT_TRUE(MakeDirs(dir).ok());
  {
    // Both migrate to their newest versions.
    auto catalog = SqliteCatalog::Open(dir + "/catalog.db");
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    auto accounts = SqliteAccountDirectory::Open(dir + "/accounts.db");
    ASSERT_TRUE(accounts.ok()) << accounts.status().ToString();
  }
  Tables sqlite_tables;
  std::set<std::string> sqlite_indexes;
  for (const char* file : {"/catalog.db", "/accounts.db"}) {
    auto db = SqliteDb::Open(dir + file);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto objects = (*db)->Prepare("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'");
    ASSERT_TRUE(objects.ok());
    std::set<std::string> tables;
    while (objects->Step().value()) {
      const std::string name(objects->ColumnView(1));
      if (objects->ColumnView(0) == "table") tables.insert(name);
      if (objects->ColumnView(0) == "index") sqlite_indexes.insert(name);
    }
    for (const std::string& table : tables) {
      auto columns = (*db)->Prepare("SELECT name FROM pragma_table_info('" + table + "')");
      ASSERT_TRUE(columns.ok());
      if (kSqliteOnly.count(table) != 0) continue;
      while (columns->Step().value()) sqlite_tables[table].insert(std::string(columns->ColumnView(0)));
    }
  }
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(sqlite_tables.empty());

  ThrowawayPostgres server;
  ASSERT_FALSE(server.uri().empty());
  auto pg = PgDb::Connect(server.NewDatabase());
  ASSERT_TRUE(pg.ok()) << pg.status().ToString();
  ASSERT_TRUE((*pg)->Migrate(PgSchema()).ok());
  auto columns = (*pg)->Query(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'");
  ASSERT_TRUE(columns.ok()) << columns.status().ToString();
  Tables pg_tables;
  for (int i = 0; i < columns->size(); ++i) {
    const std::string table(columns->Text(i, 0));
    if (kPostgresOnly.count(table) == 0) pg_tables[table].insert(std::string(columns->Text(i, 1)));
  }
  auto indexes = (*pg)->Query(
      "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' AND "
      // UNIQUE columns' own indexes (SQLite's are sqlite_autoindex_*).
      "indexname NOT LIKE '%_key' AND "
      "tablename NOT IN ('nonces', 'ferry_schema')");
  ASSERT_TRUE(indexes.ok()) << indexes.status().ToString();
  std::set<std::string> pg_indexes;
  for (int i = 0; i < indexes->size(); ++i) pg_indexes.insert(std::string(indexes->Text(i, 0)));

  EXPECT_EQ(pg_tables, sqlite_tables);
  EXPECT_EQ(pg_indexes, sqlite_indexes);
}

}  // namespace
}  // namespace ferry
