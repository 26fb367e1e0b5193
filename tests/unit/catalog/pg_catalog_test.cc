// What PgCatalog adds to the catalog contract (catalog_contract.h runs that
// against it): several nodes on one database, and connections that break.
#include "catalog/pg_catalog.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "catalog/pg_db.h"
#include "throwaway_postgres.h"

namespace ferry {
namespace {

class PgCatalogTest : public PostgresTest {
 protected:
  std::unique_ptr<PgCatalog> Node() {
    auto catalog = PgCatalog::Open(uri_);
    EXPECT_TRUE(catalog.ok()) << catalog.status().ToString();
    return catalog.ok() ? std::move(catalog).value() : nullptr;
  }
};

ImageRecord Image(const std::string& id, const std::string& account, const std::string& name) {
  ImageRecord r;
  r.image_id = id;
  r.account_id = account;
  r.name = name;
  r.status = "Available";
  r.creation_time = 1000;
  return r;
}

// Two nodes of a region: what one writes the other reads at once, and a
// read-then-write in Transact() on one never interleaves with another's, so
// no increment is lost and a name is taken once in the whole region.
TEST_F(PgCatalogTest, NodesShareRecordsAndTheirTransactionsDoNotInterleave) {
  std::unique_ptr<PgCatalog> a = Node(), b = Node();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->InsertImage(Image("m-counter", "acct", "")).ok());
  ASSERT_TRUE(b->GetImage("m-counter").ok());

  constexpr int kThreadsPerNode = 3;
  constexpr int kIncrements = 30;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (PgCatalog* node : {a.get(), b.get()}) {
    for (int t = 0; t < kThreadsPerNode; ++t) {
      threads.emplace_back([&, node] {
        for (int i = 0; i < kIncrements; ++i) {
          Status st = node->Transact([&]() -> Status {
            ASSIGN_OR_RETURN(ImageRecord r, node->GetImage("m-counter"));
            ++r.progress;
            return node->UpdateImage(r);
          });
          if (!st.ok()) ++failures;
        }
      });
    }
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(a->GetImage("m-counter")->progress, 2 * kThreadsPerNode * kIncrements);

  // The same name, asked for on both nodes at once: one image gets it.
  std::vector<Status> results(8);
  threads.clear();
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      PgCatalog* node = i % 2 == 0 ? a.get() : b.get();
      results[i] = node->InsertImage(Image("m-" + std::to_string(i), "acct", "web"));
    });
  }
  for (std::thread& t : threads) t.join();
  int won = 0;
  for (const Status& st : results) {
    if (st.ok()) {
      ++won;
    } else {
      EXPECT_EQ(st.reason(), "InvalidImageName.Duplicated") << st.ToString();
    }
  }
  EXPECT_EQ(won, 1);
}

// The server drops every connection of the catalog (a restart, a failover):
// idle ones are noticed before use, so no request fails for them; one cut
// in the middle of a transaction fails that transaction (kUnavailable), is
// not pooled again, and the calls after it connect anew and succeed.
TEST_F(PgCatalogTest, BrokenConnectionsAreDroppedAndTheNextCallConnectsAgain) {
  std::unique_ptr<PgCatalog> node = Node();
  ASSERT_NE(node, nullptr);
  ASSERT_TRUE(node->InsertImage(Image("m-1", "acct", "x")).ok());
  auto admin = PgDb::Connect(uri_);
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto cut_all = [&] {
    auto killed = (*admin)->Query(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
        "AND "
        "pid <> pg_backend_pid()");
    ASSERT_TRUE(killed.ok()) << killed.status().ToString();
    ASSERT_GE(killed->Int(0, 0).value(), 1);
  };
  cut_all();
  // A terminated backend closes its socket a moment after it is told to.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Result<ImageRecord> after_idle = node->GetImage("m-1");
  ASSERT_TRUE(after_idle.ok()) << after_idle.status().ToString();
  EXPECT_EQ(after_idle->name, "x");

  Status cut_inside = node->Transact([&]() -> Status {
    RETURN_IF_ERROR(node->GetImage("m-1").status());
    cut_all();
    return node->InsertImage(Image("m-2", "acct", "y"));
  });
  EXPECT_EQ(cut_inside.code(), Code::kUnavailable) << cut_inside.ToString();
  EXPECT_EQ(cut_inside.message().find("postgres"), std::string::npos)
      << "the database is named to callers: " << cut_inside.ToString();
  EXPECT_EQ(node->GetImage("m-2").status().code(), Code::kNotFound);
  EXPECT_TRUE(node->InsertImage(Image("m-3", "acct", "z")).ok());
  EXPECT_TRUE(node->GetImage("m-1").ok());
}

TEST_F(PgCatalogTest, ADatabaseThatCannotBeReachedIsUnavailableWithoutThePassword) {
  auto catalog = PgCatalog::Open("postgresql://ferry:s3cret-pw@127.0.0.1:1/ferry?connect_timeout=5");
  ASSERT_FALSE(catalog.ok());
  EXPECT_EQ(catalog.status().code(), Code::kUnavailable);
  EXPECT_EQ(catalog.status().message().find("s3cret-pw"), std::string::npos) << catalog.status().ToString();
}

}  // namespace
}  // namespace ferry
