#include "catalog/sqlite_db.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/fs_util.h"
#include "common/ids.h"

namespace ferry {
namespace {

class SqliteDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/sqlite_db_test_" + RandomHex(8);
    ASSERT_TRUE(MakeDirs(dir_).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteDb> OpenDb() {
    auto db = SqliteDb::Open(dir_ + "/test.db");
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }

  int64_t QueryInt(SqliteDb& db, const std::string& sql) {
    auto stmt = db.Prepare(sql);
    EXPECT_TRUE(stmt.ok()) << stmt.status().ToString();
    if (!stmt.ok()) return -1;
    auto row = stmt->Step();
    EXPECT_TRUE(row.ok() && *row) << sql;
    return stmt->ColumnInt(0);
  }

  std::string dir_;
};

TEST_F(SqliteDbTest, OpensWithDurableSettings) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  auto mode = db->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(mode.ok());
  ASSERT_TRUE(*mode->Step());
  EXPECT_EQ(mode->ColumnText(0), "wal");
  EXPECT_EQ(QueryInt(*db, "PRAGMA synchronous"), 2);  // FULL
  EXPECT_EQ(QueryInt(*db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(QueryInt(*db, "PRAGMA busy_timeout"), SqliteDb::kBusyTimeoutMs);
}

TEST_F(SqliteDbTest, MapsConstraintFailuresToCodes) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE p (id TEXT PRIMARY KEY);"
                       "CREATE TABLE c (id TEXT, p TEXT NOT NULL REFERENCES p (id));")
                  .ok());
  ASSERT_TRUE(db->Exec("INSERT INTO p (id) VALUES ('a')").ok());
  Status dup = db->Exec("INSERT INTO p (id) VALUES ('a')");
  EXPECT_EQ(dup.code(), Code::kAlreadyExists) << dup.ToString();
  EXPECT_NE(dup.message().find("test.db"), std::string::npos) << dup.message();
  Status fk = db->Exec("INSERT INTO c (id, p) VALUES ('x', 'missing')");
  EXPECT_EQ(fk.code(), Code::kFailedPrecondition) << fk.ToString();
  auto bad = db->Prepare("SELECT nope FROM p");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInternal);
  EXPECT_NE(bad.status().message().find("SELECT nope"), std::string::npos);
}

TEST_F(SqliteDbTest, BindsAndReadsEveryType) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (s TEXT, i INTEGER, b BLOB, n TEXT)").ok());
  auto insert = db->Prepare("INSERT INTO t (s, i, b, n) VALUES (?, ?, ?, ?)");
  ASSERT_TRUE(insert.ok());
  std::string text("a\0b", 3);  // embedded NUL survives
  std::vector<uint8_t> blob = {0, 1, 0xff, 0};
  ASSERT_TRUE(insert->BindAll({text, int64_t{-5}, blob, nullptr}).ok());
  ASSERT_TRUE(insert->Run().ok());
  EXPECT_EQ(db->changes(), 1);

  auto select = db->Prepare("SELECT s, i, b, n FROM t WHERE i = ?");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(select->BindInt(1, -5).ok());
  auto row = select->Step();
  ASSERT_TRUE(row.ok() && *row);
  EXPECT_EQ(select->ColumnText(0), text);
  EXPECT_EQ(select->ColumnInt(1), -5);
  EXPECT_EQ(select->ColumnBlob(2), blob);
  EXPECT_TRUE(select->ColumnIsNull(3));
  EXPECT_FALSE(*select->Step());
}

TEST_F(SqliteDbTest, MigrateAppliesOnlyMissingSteps) {
  {
    auto db = OpenDb();
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Migrate({"CREATE TABLE a (x INTEGER)"}).ok());
    EXPECT_EQ(QueryInt(*db, "PRAGMA user_version"), 1);
  }
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  // Re-running step 1 would fail ("table a already exists").
  ASSERT_TRUE(db->Migrate({"CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y INTEGER)"}).ok());
  EXPECT_EQ(QueryInt(*db, "PRAGMA user_version"), 2);
  EXPECT_TRUE(db->Exec("INSERT INTO b (y) VALUES (1)").ok());

  Status older = db->Migrate({"CREATE TABLE a (x INTEGER)"});
  EXPECT_EQ(older.code(), Code::kFailedPrecondition) << older.ToString();
}

TEST_F(SqliteDbTest, FailedMigrationStepLeavesVersion) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  Status st = db->Migrate({"CREATE TABLE a (x INTEGER)", "CREATE TABLE a (x INTEGER)"});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("version 2"), std::string::npos) << st.message();
  EXPECT_EQ(QueryInt(*db, "PRAGMA user_version"), 1);
}

TEST_F(SqliteDbTest, NestedTransactFailureUndoesOnlyItsOwnWrites) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (x INTEGER)").ok());
  Status st = db->Transact([&]() -> Status {
    EXPECT_TRUE(db->in_transaction());
    RETURN_IF_ERROR(db->Exec("INSERT INTO t (x) VALUES (1)"));
    Status inner = db->Transact([&]() -> Status {
      RETURN_IF_ERROR(db->Exec("INSERT INTO t (x) VALUES (2)"));
      return Aborted("", "inner fails");
    });
    EXPECT_EQ(inner.code(), Code::kAborted);
    return db->Exec("INSERT INTO t (x) VALUES (3)");
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(db->in_transaction());
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM t"), 2);
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM t WHERE x = 2"), 0);
}

TEST_F(SqliteDbTest, TransactRollsBackOnException) {
  auto db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (x INTEGER)").ok());
  EXPECT_THROW((void)db->Transact([&]() -> Status {
    EXPECT_TRUE(db->Exec("INSERT INTO t (x) VALUES (1)").ok());
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  EXPECT_FALSE(db->in_transaction());
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM t"), 0);
  // The connection is usable for a new transaction.
  EXPECT_TRUE(db->Transact([&] { return db->Exec("INSERT INTO t (x) VALUES (1)"); }).ok());
  EXPECT_EQ(QueryInt(*db, "SELECT COUNT(*) FROM t"), 1);
}

}  // namespace
}  // namespace ferry
