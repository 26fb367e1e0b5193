// PgDb against a real PostgreSQL server the suite starts for itself
// (scripts/throwaway-postgres.sh): values round-trip, errors keep their
// kind, transactions roll back, migrations run once however many nodes start
// together, and a server that is gone is kUnavailable without the password.
#include "catalog/pg_db.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "throwaway_postgres.h"

namespace ferry {
namespace {

class PgDbTest : public PostgresTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(PostgresTest::SetUp());
    db_ = Open();
  }
  std::unique_ptr<PgDb> Open() {
    auto db = PgDb::Connect(uri_);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }
  int64_t Count(const std::string& sql) {
    auto rows = db_->Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status().ToString();
    if (!rows.ok()) return -1;
    auto n = rows->Int(0, 0);
    EXPECT_TRUE(n.ok()) << n.status().ToString();
    return n.ok() ? *n : -1;
  }

  std::unique_ptr<PgDb> db_;
};

TEST_F(PgDbTest, EveryKindOfValueRoundTrips) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (i BIGINT, s TEXT, b BYTEA, n TEXT)").ok());
  std::vector<uint8_t> blob;
  for (int i = 0; i < 256; ++i) blob.push_back(static_cast<uint8_t>(i));  // NUL and every byte
  const std::string text = "caf\xc3\xa9 ' \" \\ $1 %s";
  auto inserted = db_->Query("INSERT INTO t (i, s, b, n) VALUES ($1, $2, $3, $4)",
                             {int64_t{-9007199254740993}, text, blob, nullptr});
  ASSERT_TRUE(inserted.ok()) << inserted.status().ToString();
  EXPECT_EQ(inserted->affected(), 1u);

  auto rows = db_->Query("SELECT i, s, b, n FROM t WHERE s = $1", {text});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1);
  EXPECT_EQ(rows->Int(0, 0).value(), -9007199254740993);
  EXPECT_EQ(rows->Text(0, 1), text);
  EXPECT_EQ(rows->Bytes(0, 2).value(), blob);
  EXPECT_TRUE(rows->IsNull(0, 3));
  EXPECT_FALSE(rows->IsNull(0, 1));
  EXPECT_EQ(rows->Int(0, 1).status().code(), Code::kDataLoss) << "text is not an integer";

  auto empty = db_->Query("INSERT INTO t (b) VALUES ($1)", {std::vector<uint8_t>{}});
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE b = ''::bytea"), 1);
}

TEST_F(PgDbTest, ErrorsKeepTheirKind) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)").ok());
  ASSERT_TRUE(db_->Query("INSERT INTO t VALUES ($1, $2)", {std::string("a"), std::string("1")}).ok());

  Status duplicate =
      db_->Query("INSERT INTO t VALUES ($1, $2)", {std::string("a"), std::string("2")}).status();
  EXPECT_EQ(duplicate.code(), Code::kAlreadyExists) << duplicate.ToString();
  EXPECT_NE(duplicate.message().find("23505"), std::string::npos) << duplicate.ToString();

  Status missing = db_->Query("INSERT INTO t VALUES ($1, $2)", {std::string("b"), nullptr}).status();
  EXPECT_EQ(missing.code(), Code::kFailedPrecondition) << missing.ToString();

  Status syntax = db_->Exec("SELEC 1");
  EXPECT_EQ(syntax.code(), Code::kInternal) << syntax.ToString();
  EXPECT_NE(syntax.message().find("42601"), std::string::npos) << syntax.ToString();

  // The connection is still good after each.
  EXPECT_EQ(Count("SELECT count(*) FROM t"), 1);
}

TEST_F(PgDbTest, TransactCommitsOnlyWhatSucceeded) {
  ASSERT_TRUE(db_->Exec("CREATE TABLE t (k TEXT PRIMARY KEY)").ok());
  Status failed = db_->Transact([&]() -> Status {
    RETURN_IF_ERROR(db_->Query("INSERT INTO t VALUES ($1)", {std::string("gone")}).status());
    return Aborted("", "the caller changed its mind");
  });
  EXPECT_EQ(failed.code(), Code::kAborted);
  Status duplicate = db_->Transact([&]() -> Status {
    RETURN_IF_ERROR(db_->Query("INSERT INTO t VALUES ($1)", {std::string("x")}).status());
    return db_->Query("INSERT INTO t VALUES ($1)", {std::string("x")}).status();
  });
  EXPECT_EQ(duplicate.code(), Code::kAlreadyExists) << duplicate.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM t"), 0) << "a failed transaction left rows";

  ASSERT_TRUE(
      db_->Transact([&] { return db_->Query("INSERT INTO t VALUES ($1)", {std::string("kept")}).status(); })
          .ok());
  EXPECT_EQ(Count("SELECT count(*) FROM t WHERE k = 'kept'"), 1);
}

TEST_F(PgDbTest, MigrationsRunOnceWhenNodesStartTogether) {
  const std::vector<std::string> steps = {
      "CREATE TABLE applied (step INTEGER NOT NULL); INSERT INTO applied VALUES (1)",
      "INSERT INTO applied VALUES (2)",
  };
  EXPECT_EQ(db_->SchemaVersion().value(), 0);
  constexpr int kNodes = 6;
  std::vector<Status> results(kNodes);
  std::vector<std::thread> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.emplace_back([&, i] {
      auto db = PgDb::Connect(uri_);
      results[i] = db.ok() ? (*db)->Migrate(steps) : db.status();
    });
  }
  for (std::thread& t : nodes) t.join();
  for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(Count("SELECT count(*) FROM applied"), 2) << "a step ran more than once";
  EXPECT_EQ(db_->SchemaVersion().value(), 2);

  // A newer program adds a step: only it runs.
  std::vector<std::string> newer = steps;
  newer.push_back("INSERT INTO applied VALUES (3)");
  ASSERT_TRUE(db_->Migrate(newer).ok());
  ASSERT_TRUE(db_->Migrate(newer).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM applied"), 3);
  EXPECT_EQ(db_->SchemaVersion().value(), 3);

  // An older program refuses the newer database.
  Status older = db_->Migrate(steps);
  EXPECT_EQ(older.code(), Code::kFailedPrecondition) << older.ToString();

  // A failing step leaves the version where it was.
  newer.push_back("INSERT INTO no_such_table VALUES (4)");
  EXPECT_FALSE(db_->Migrate(newer).ok());
  EXPECT_EQ(db_->SchemaVersion().value(), 3);
}

TEST_F(PgDbTest, AServerThatIsGoneIsUnavailableAndThePasswordIsNeverShown) {
  // Nothing listens on port 1 of loopback: refused at once.
  auto refused = PgDb::Connect("postgresql://ferry:s3cret-pw@127.0.0.1:1/ferry?connect_timeout=5");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
  EXPECT_EQ(refused.status().message().find("s3cret-pw"), std::string::npos) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("127.0.0.1"), std::string::npos) << refused.status().ToString();

  auto keyword = PgDb::Connect("host=127.0.0.1 port=1 password='two words' connect_timeout=5");
  ASSERT_FALSE(keyword.ok());
  EXPECT_EQ(keyword.status().message().find("two words"), std::string::npos) << keyword.status().ToString();
  EXPECT_EQ(PgDb::Redacted("postgresql://u:p%40ss@h:5/d?password=x&sslmode=disable"),
            "postgresql://u:***@h:5/d?password=***&sslmode=disable");

  // A connection the server drops: the next statement says so.
  auto victim = Open();
  ASSERT_NE(victim, nullptr);
  auto pid = victim->Query("SELECT pg_backend_pid()");
  ASSERT_TRUE(pid.ok()) << pid.status().ToString();
  auto killed = db_->Query("SELECT pg_terminate_backend($1)", {pid->Int(0, 0).value()});
  ASSERT_TRUE(killed.ok()) << killed.status().ToString();
  Status after = victim->Exec("SELECT 1");
  EXPECT_EQ(after.code(), Code::kUnavailable) << after.ToString();
}

}  // namespace
}  // namespace ferry
