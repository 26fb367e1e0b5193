// ListImages of every catalog checked against a plain model (filter
// everything, sort, cut) through random writes, and its listing view
// (catalog_contract.h). Then SqliteCatalog's own way of listing — a merge
// of index-ordered streams with counts kept in image_counts
// (sqlite_catalog_images.cc) — after a migration from schema 7, with readers
// running while a writer holds a transaction, and its remembered positions.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_db.h"
#include "catalog_contract.h"
#include "common/fs_util.h"
#include "common/ids.h"

namespace ferry {
namespace {

const std::vector<std::string> kAccounts = {"1000000000000001", "1000000000000002", "1000000000000003",
                                            kSystemAccountId};
const std::vector<std::string> kStatuses = {"Available", "Creating", "CreateFailed", "Deprecated"};
const std::vector<std::string> kSnapshots = {"s-1", "s-2", "s-3", "s-4", "s-5"};

template <typename Engine>
class ListingTest : public CatalogTest<Engine> {
 protected:
  using CatalogTest<Engine>::catalog_;
  using CatalogTest<Engine>::location_;
  using CatalogTest<Engine>::Reopen;

  SqliteCatalog& sqlite() { return static_cast<SqliteCatalog&>(*catalog_); }

  ImageRecord RandomImage(const std::string& id) {
    ImageRecord r;
    r.image_id = id;
    r.account_id = Pick(kAccounts);
    r.name = Chance(0.7) ? "name-" + id : "";
    r.status = Pick(kStatuses);
    r.creation_time = static_cast<UnixSeconds>(1000 + rng_() % 40);  // many ties
    r.disks = {DiskMapping{.snapshot_id = Pick(kSnapshots)}};
    if (Chance(0.4)) r.disks.push_back(DiskMapping{.snapshot_id = Pick(kSnapshots), .type = "data"});
    if (Chance(0.3)) r.tags = {{"env", Chance(0.5) ? "prod" : "test"}};
    return r;
  }

  // What ListImages must answer, computed the slow way.
  Page<ImageRecord> Model(const ImageQuery& q) {
    std::vector<ImageRecord> rows;
    for (const auto& entry : images_) {
      const std::string& id = entry.first;
      const ImageRecord& r = entry.second;  // a named variable: clang 14 cannot capture a binding
      bool visible = q.account_id.empty() || (q.include_self && r.account_id == q.account_id) ||
                     (q.include_system && r.account_id == kSystemAccountId) ||
                     (q.include_shared && shares_.count({id, q.account_id}) != 0);
      if (!visible) continue;
      if (!q.image_id.empty() && r.image_id != q.image_id) continue;
      if (!q.name.empty() && r.name != q.name) continue;
      if (!q.name_contains.empty() && r.name.find(q.name_contains) == std::string::npos) continue;
      if (!q.statuses.empty() && std::find(q.statuses.begin(), q.statuses.end(), r.status) == q.statuses.end()) {
        continue;
      }
      if (!q.snapshot_id.empty() && std::none_of(r.disks.begin(), r.disks.end(), [&](const DiskMapping& d) {
            return d.snapshot_id == q.snapshot_id;
          })) {
        continue;
      }
      if (!std::all_of(q.tags.begin(), q.tags.end(), [&](const auto& t) {
            return std::find(r.tags.begin(), r.tags.end(), t) != r.tags.end();
          })) {
        continue;
      }
      rows.push_back(r);
    }
    std::sort(rows.begin(), rows.end(), [](const ImageRecord& a, const ImageRecord& b) {
      return a.creation_time != b.creation_time ? a.creation_time > b.creation_time : a.image_id < b.image_id;
    });
    Page<ImageRecord> page;
    page.total = rows.size();
    for (uint64_t i = q.offset; i < rows.size() && (q.limit == 0 || i < q.offset + q.limit); ++i) {
      page.items.push_back(rows[i]);
    }
    return page;
  }

  ImageQuery RandomQuery() {
    ImageQuery q;
    if (Chance(0.9)) {
      q.account_id = Pick(kAccounts);
      q.include_self = Chance(0.8);
      q.include_system = Chance(0.7);
      q.include_shared = Chance(0.6);
    }
    if (Chance(0.7)) q.statuses = {Pick(kStatuses)};
    if (Chance(0.15)) q.statuses = {"Available", "Deprecated"};
    if (Chance(0.1) && !images_.empty()) q.image_id = std::next(images_.begin(), rng_() % images_.size())->first;
    if (Chance(0.15)) q.snapshot_id = Pick(kSnapshots);
    if (Chance(0.1)) q.name_contains = "-1";
    if (Chance(0.05) && !images_.empty()) q.name = std::next(images_.begin(), rng_() % images_.size())->second.name;
    if (Chance(0.1)) q.tags = {{"env", "prod"}};
    q.limit = Chance(0.2) ? 0 : 1 + rng_() % 12;
    q.offset = rng_() % 30;
    return q;
  }

  void ExpectMatchesModel(const ImageQuery& q) {
    auto got = catalog_->ListImages(q);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    Page<ImageRecord> want = Model(q);
    std::vector<std::string> got_ids, want_ids;
    for (const auto& r : got->items) got_ids.push_back(r.image_id);
    for (const auto& r : want.items) want_ids.push_back(r.image_id);
    ASSERT_EQ(got_ids, want_ids) << Describe(q);
    ASSERT_EQ(got->total, want.total) << Describe(q);
    for (size_t i = 0; i < got->items.size(); ++i) {
      ASSERT_EQ(got->items[i].status, want.items[i].status);
      ASSERT_EQ(got->items[i].disks.size(), want.items[i].disks.size());
    }
  }

  static std::string Describe(const ImageQuery& q) {
    return "account=" + q.account_id + " self=" + std::to_string(q.include_self) +
           " system=" + std::to_string(q.include_system) + " shared=" + std::to_string(q.include_shared) +
           " statuses=" + std::to_string(q.statuses.size()) + (q.statuses.empty() ? "" : ":" + q.statuses[0]) +
           " image=" + q.image_id + " snapshot=" + q.snapshot_id + " name=" + q.name +
           " contains=" + q.name_contains + " tags=" + std::to_string(q.tags.size()) +
           " offset=" + std::to_string(q.offset) + " limit=" + std::to_string(q.limit);
  }

  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[rng_() % v.size()];
  }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

  std::mt19937 rng_{20261205};
  std::map<std::string, ImageRecord> images_;
  std::set<std::pair<std::string, std::string>> shares_;  // (image, account)
};
TYPED_TEST_SUITE(ListingTest, CatalogEngines, CatalogEngineNames);
// What only SqliteCatalog does: its streams, counts and remembered positions.
using SqliteListingTest = ListingTest<SqliteEngine>;

TYPED_TEST(ListingTest, MatchesAModelThroughRandomWrites) {
  int next_id = 0;
  for (int step = 0; step < 1500; ++step) {
    const int op = static_cast<int>(this->rng_() % 10);
    if (op < 5 || this->images_.empty()) {
      ImageRecord r = this->RandomImage("m-" + std::to_string(next_id++));
      Status st = this->catalog_->InsertImage(r);
      if (st.ok()) this->images_[r.image_id] = r;  // a duplicate name is refused, as the model would not know
    } else if (op < 7) {
      ImageRecord r = std::next(this->images_.begin(), this->rng_() % this->images_.size())->second;
      r.status = this->Pick(kStatuses);
      if (this->Chance(0.3)) r.disks = {DiskMapping{.snapshot_id = this->Pick(kSnapshots)}};
      ASSERT_TRUE(this->catalog_->UpdateImage(r).ok());
      this->images_[r.image_id] = r;
    } else if (op < 8) {
      std::string id = std::next(this->images_.begin(), this->rng_() % this->images_.size())->first;
      ASSERT_TRUE(this->catalog_->DeleteImage(id).ok());
      this->images_.erase(id);
      std::erase_if(this->shares_, [&](const auto& s) { return s.first == id; });
      ASSERT_TRUE(this->catalog_
                      ->Transact([&]() -> Status {
                        for (const std::string& account : kAccounts)
                          RETURN_IF_ERROR(this->catalog_->DeleteImageShare(id, account));
                        return Status::Ok();
                      })
                      .ok());
    } else {
      std::string id = std::next(this->images_.begin(), this->rng_() % this->images_.size())->first;
      std::string account = this->Pick(kAccounts);
      if (this->Chance(0.7)) {
        ASSERT_TRUE(this->catalog_->PutImageShare(ImageShareRecord{id, account, 1}).ok());
        this->shares_.insert({id, account});
      } else {
        ASSERT_TRUE(this->catalog_->DeleteImageShare(id, account).ok());
        this->shares_.erase({id, account});
      }
    }
    if (step % 10 == 0) {
      for (int i = 0; i < 5; ++i) this->ExpectMatchesModel(this->RandomQuery());
      if (this->HasFatalFailure()) return;
    }
  }
  ASSERT_GT(this->images_.size(), 100u);
  // The counts survive a reopen (they are rows, not memory).
  this->Reopen();
  for (int i = 0; i < 200; ++i) {
    this->ExpectMatchesModel(this->RandomQuery());
    if (this->HasFatalFailure()) return;
  }
}

TEST_F(SqliteListingTest, ASchemaSevenCatalogGetsItsCountsAndSnapshotLinks) {
  for (int i = 0; i < 40; ++i) {
    ImageRecord r = RandomImage("m-" + std::to_string(i));
    r.name.clear();
    ASSERT_TRUE(catalog_->InsertImage(r).ok());
    images_[r.image_id] = r;
  }
  catalog_.reset();
  {
    auto db = SqliteDb::Open(location_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("DROP TABLE image_counts; DROP TABLE image_snapshots; "
                            "DROP INDEX images_owner_status_order; DROP INDEX images_owner_order; "
                            "CREATE INDEX images_account_created ON images (account_id, creation_time); "
                            "PRAGMA user_version = 7")
                    .ok());
    ASSERT_TRUE((*db)->Exec(kUndoSchemaNineOn).ok());
  }
  Reopen();
  for (const std::string& snapshot : kSnapshots) {
    ImageQuery q;
    q.snapshot_id = snapshot;
    ExpectMatchesModel(q);
  }
  for (const std::string& account : kAccounts) {
    for (const std::string& status : kStatuses) {
      ImageQuery q;
      q.account_id = account;
      q.statuses = {status};
      q.limit = 3;
      ExpectMatchesModel(q);
    }
  }
}

TEST_F(SqliteListingTest, ReadersDoNotWaitForAWriterToCommit) {
  ImageRecord committed = RandomImage("m-committed");
  ASSERT_TRUE(catalog_->InsertImage(committed).ok());
  std::promise<void> written;
  std::promise<void> read_done;
  std::thread writer([&] {
    Status st = catalog_->Transact([&]() -> Status {
      ImageRecord r = RandomImage("m-uncommitted");
      r.name.clear();
      RETURN_IF_ERROR(catalog_->InsertImage(r));
      // This thread sees its own write before the commit...
      RETURN_IF_ERROR(catalog_->GetImage("m-uncommitted").status());
      written.set_value();
      // ...and holds the transaction open until the reader has finished.
      read_done.get_future().wait();
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok()) << st.ToString();
  });
  written.get_future().wait();
  // Were readers serialized behind the writer, these calls would never
  // return and the test would hang instead of passing.
  auto got = catalog_->GetImage("m-committed");
  EXPECT_TRUE(got.ok());
  EXPECT_EQ(catalog_->GetImage("m-uncommitted").status().code(), Code::kNotFound);
  ImageQuery q;
  auto page = catalog_->ListImages(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 1u);
  read_done.set_value();
  writer.join();
  auto after = catalog_->ListImages(q);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->total, 2u);
}

TYPED_TEST(ListingTest, FillViewMarksWhatTheCallerMaySeeAtTheListingsCommit) {
  const std::string alice = kAccounts[0], bob = kAccounts[1], carol = kAccounts[2];
  auto snapshot = [&](const std::string& id, const std::string& owner, bool encrypted) {
    SnapshotRecord s;
    s.snapshot_id = id;
    s.account_id = owner;
    s.encrypted = encrypted;
    ASSERT_TRUE(this->catalog_->InsertSnapshot(s).ok());
  };
  snapshot("s-alice-enc", alice, true);
  snapshot("s-alice-plain", alice, false);
  snapshot("s-bob-enc", bob, true);          // a disk of an image bob shares with alice
  snapshot("s-bob-enc-2", bob, true);  // a disk of m-bob-other only, which bob shares with carol
  snapshot("s-system-enc", kSystemAccountId, true);
  auto image = [&](const std::string& id, const std::string& owner, std::vector<std::string> snapshots,
                   UnixSeconds created) {
    ImageRecord r;
    r.image_id = id;
    r.account_id = owner;
    r.status = "Available";
    r.creation_time = created;
    for (const std::string& s : snapshots) r.disks.push_back(DiskMapping{.snapshot_id = s});
    ASSERT_TRUE(this->catalog_->InsertImage(r).ok());
  };
  image("m-alice", alice, {"s-alice-enc", "s-alice-plain", ""}, 106);
  image("m-alice-shared", alice, {"s-alice-plain"}, 105);
  image("m-bob", bob, {"s-bob-enc"}, 104);
  image("m-bob-other", bob, {"s-bob-enc-2", "s-bob-enc"}, 103);
  image("m-system", kSystemAccountId, {"s-system-enc", "s-missing"}, 102);
  ASSERT_TRUE(this->catalog_->PutImageShare({"m-alice-shared", carol, 1}).ok());
  ASSERT_TRUE(this->catalog_->PutImageShare({"m-bob", alice, 1}).ok());
  ASSERT_TRUE(this->catalog_->PutImageShare({"m-bob-other", carol, 1}).ok());

  // (image id, is_self_shared, each disk's encrypted) as `account` lists them.
  using Row = std::pair<std::string, std::pair<bool, std::vector<bool>>>;
  auto listed = [&](const std::string& account, bool fill_view) {
    ImageQuery q;
    q.account_id = account;
    q.include_shared = true;
    q.fill_view = fill_view;
    Result<Page<ImageRecord>> page = this->catalog_->ListImages(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<Row> rows;
    if (!page.ok()) return rows;
    for (const ImageRecord& r : page->items) {
      std::vector<bool> encrypted;
      for (const DiskMapping& d : r.disks) encrypted.push_back(d.encrypted);
      rows.push_back({r.image_id, {r.is_self_shared, encrypted}});
    }
    return rows;
  };
  // Alice: her own encrypted snapshot, and bob's where it is a disk of an
  // image bob shares with her (in m-bob-other too: a snapshot is visible or
  // not, whichever image lists it); not bob's other one, not the system's.
  EXPECT_EQ(listed(alice, true), (std::vector<Row>{
                                     {"m-alice", {false, {true, false, false}}},
                                     {"m-alice-shared", {true, {false}}},
                                     {"m-bob", {false, {true}}},
                                     {"m-system", {false, {false, false}}},
                                 }));
  // Carol: m-bob-other is shared with her, so both of its snapshots are
  // visible to her; none is hers.
  EXPECT_EQ(listed(carol, true), (std::vector<Row>{
                                     {"m-alice-shared", {false, {false}}},
                                     {"m-bob-other", {false, {true, true}}},
                                     {"m-system", {false, {false, false}}},
                                 }));
  // Bob owns both of his; his images are shared, alice's are not his.
  EXPECT_EQ(listed(bob, true), (std::vector<Row>{
                                   {"m-bob", {true, {true}}},
                                   {"m-bob-other", {true, {true, true}}},
                                   {"m-system", {false, {false, false}}},
                               }));
  // Without fill_view nothing is marked.
  EXPECT_EQ(listed(alice, false)[0], (Row{"m-alice", {false, {false, false, false}}}));

  // No account: every encrypted snapshot shows.
  ImageQuery everything;
  everything.fill_view = true;
  Result<Page<ImageRecord>> all = this->catalog_->ListImages(everything);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->items.size(), 5u);
  EXPECT_TRUE(all->items[4].disks[0].encrypted) << all->items[4].image_id;

  // A change is seen by the next listing: once carol's share of
  // m-alice-shared is gone it is no longer marked shared.
  ASSERT_TRUE(this->catalog_->DeleteImageShare("m-alice-shared", carol).ok());
  EXPECT_EQ(listed(alice, true)[1], (Row{"m-alice-shared", {false, {false}}}));
}

TEST_F(SqliteListingTest, LookupsDoNotGrowWithTheAccountsImages) {
  // The work (SQLite VM steps) of what CreateImage and DescribeImages ask
  // the catalog, with 50 and then 2,000 images in the account: a query that
  // scans the account instead of seeking an index grows forty-fold, one
  // that seeks stays about the same.
  const std::string account = kAccounts[0];
  auto fill = [&](int from, int to) {
    for (int i = from; i < to; ++i) {
      ImageRecord r;
      r.image_id = "m-" + std::to_string(i);
      r.account_id = account;
      r.name = "n-" + std::to_string(i);
      r.status = "Available";
      r.creation_time = 1000 + i;
      r.disks = {DiskMapping{.snapshot_id = "s-1"}};
      ASSERT_TRUE(catalog_->InsertImage(r).ok());
    }
  };
  int probes = 0;
  auto work = [&]() -> uint64_t {
    const uint64_t before = sqlite().vm_steps();
    ImageQuery by_name;  // RegionImpl::NameTaken
    by_name.account_id = account;
    by_name.include_system = false;
    by_name.name = "n-7";
    by_name.count_total = false;
    EXPECT_EQ(catalog_->ListImages(by_name)->items.size(), 1u);
    ImageQuery first_page;  // DescribeImages
    first_page.account_id = account;
    first_page.statuses = {"Available"};
    first_page.limit = 10;
    first_page.fill_view = true;
    EXPECT_EQ(catalog_->ListImages(first_page)->items.size(), 10u);
    ImageQuery by_snapshot;  // CreateImage's attributes, DeleteSnapshot's check
    by_snapshot.snapshot_id = "s-1";
    by_snapshot.limit = 1;
    by_snapshot.count_total = false;
    EXPECT_EQ(catalog_->ListImages(by_snapshot)->items.size(), 1u);
    ImageQuery by_id;  // DescribeImages by ImageId
    by_id.account_id = account;
    by_id.image_id = "m-7";
    EXPECT_EQ(catalog_->ListImages(by_id)->items.size(), 1u);
    ImageRecord probe;
    probe.image_id = "m-probe-" + std::to_string(probes);
    probe.account_id = account;
    probe.name = "n-probe-" + std::to_string(probes++);
    probe.status = "Available";
    EXPECT_TRUE(catalog_->InsertImage(probe).ok());  // the name check, the counts
    return sqlite().vm_steps() - before;
  };
  fill(0, 50);
  const uint64_t small = work();
  fill(50, 2000);
  const uint64_t large = work();
  EXPECT_GT(small, 0u);
  EXPECT_LE(large, small * 2) << "steps with 50 images: " << small << ", with 2000: " << large;
}

// Deep pages start from the positions a reader connection remembers
// (ListingMarks): asked again, and after writes that move every position
// (a newer image, a deletion, a change of status), they still match the
// model, and a page asked again steps through far fewer index entries than
// the first walk to it.
TEST_F(SqliteListingTest, DeepPagesStartFromRememberedPositionsAndFollowEveryWrite) {
  const std::string account = kAccounts[0];
  int next_id = 0;
  auto insert = [&](UnixSeconds created, const std::string& status) {
    ImageRecord r = RandomImage("m-" + std::to_string(next_id++));
    r.account_id = account;
    r.status = status;
    r.creation_time = created;
    ASSERT_TRUE(catalog_->InsertImage(r).ok());
    images_[r.image_id] = r;
  };
  for (int i = 0; i < 600; ++i) insert(1000 + i / 7, i % 5 == 0 ? "Deprecated" : "Available");  // ties of 7
  std::vector<ImageQuery> shapes;
  ImageQuery own;  // the caller's images of any status
  own.account_id = account;
  own.include_system = false;
  own.include_shared = false;
  shapes.push_back(own);
  ImageQuery listed = own;  // DescribeImages: two statuses, system and shared images too
  listed.include_system = listed.include_shared = true;
  listed.statuses = {"Available", "Deprecated"};
  shapes.push_back(listed);
  ImageQuery everyone;  // no caller: every image
  shapes.push_back(everyone);
  auto ask_all = [&] {
    for (const ImageQuery& shape : shapes) {
      for (uint64_t offset :
           {1, 6, 7, 127, 128, 129, 200, 255, 256, 257, 390, 511, 512, 590, 599, 600, 650}) {
        for (uint64_t limit : {1, 10, 100}) {
          ImageQuery q = shape;
          q.offset = offset;
          q.limit = limit;
          ASSERT_NO_FATAL_FAILURE(ExpectMatchesModel(q));
        }
      }
    }
  };
  ASSERT_NO_FATAL_FAILURE(ask_all());
  ASSERT_NO_FATAL_FAILURE(ask_all());  // from the remembered positions

  ImageQuery deep = own;
  deep.offset = 577;
  deep.limit = 10;
  auto steps_of = [&](const ImageQuery& q) {
    const uint64_t before = sqlite().vm_steps();
    EXPECT_EQ(catalog_->ListImages(q)->items.size(), 10u);
    return sqlite().vm_steps() - before;
  };
  insert(5000, "Available");  // a write drops every position: the next walk starts at the first row
  const uint64_t first = steps_of(deep);
  const uint64_t again = steps_of(deep);
  EXPECT_LT(again * 4, first) << "the first walk to offset 577 took " << first << " steps, the second "
                              << again;

  ASSERT_NO_FATAL_FAILURE(ask_all());  // after the newest image moved every position by one
  ImageRecord middle = images_.at("m-300");
  ASSERT_TRUE(catalog_->DeleteImage(middle.image_id).ok());
  images_.erase(middle.image_id);
  ASSERT_NO_FATAL_FAILURE(ask_all());
  ImageRecord changed = images_.at("m-100");
  changed.status = changed.status == "Available" ? "Deprecated" : "Available";
  ASSERT_TRUE(catalog_->UpdateImage(changed).ok());
  images_[changed.image_id] = changed;
  ASSERT_NO_FATAL_FAILURE(ask_all());
  insert(1040, "Available");  // an older image, in the middle of the ties
  ASSERT_NO_FATAL_FAILURE(ask_all());
}

// A connection remembers at most 4,096 positions (a new shape costs 4).
// Once full it drops nothing to make room: shapes it knows still start from
// their positions, and a new shape walks from the first row every time, with
// pages that still match the model. The next commit empties it, and new
// shapes are remembered again.
TEST_F(SqliteListingTest, AFullConnectionKeepsItsPositionsAndWalksNewShapesUntilTheNextCommit) {
  int next_id = 0;
  auto insert = [&](const std::string& account, UnixSeconds created) {
    ImageRecord r = RandomImage("m-" + std::to_string(next_id++));
    r.account_id = account;
    r.status = "Available";
    r.creation_time = created;
    ASSERT_TRUE(catalog_->InsertImage(r).ok());
    images_[r.image_id] = r;
  };
  for (int i = 0; i < 600; ++i) {
    insert(kAccounts[0], 1000 + i / 3);
    insert(kAccounts[1], 1000 + i / 3);
  }
  auto deep_page_of = [](const std::string& account) {
    ImageQuery q;
    q.account_id = account;
    q.include_system = q.include_shared = false;
    q.offset = 577;
    q.limit = 10;
    return q;
  };
  auto steps_of = [&](const ImageQuery& q) {
    const uint64_t before = sqlite().vm_steps();
    EXPECT_NO_FATAL_FAILURE(ExpectMatchesModel(q));
    return sqlite().vm_steps() - before;
  };
  const ImageQuery known = deep_page_of(kAccounts[0]);
  const ImageQuery late = deep_page_of(kAccounts[1]);
  const uint64_t walk = steps_of(known);
  const uint64_t remembered = steps_of(known);
  ASSERT_LT(remembered * 4, walk) << "the walk to offset 577 took " << walk << " steps, from its position "
                                  << remembered;

  // 1,100 shapes of 4 fill the connection: accounts with no image, each
  // asked for its second page.
  for (int i = 0; i < 1100; ++i) {
    ImageQuery q = deep_page_of("20000000" + std::to_string(10000000 + i));
    q.offset = 10;
    ASSERT_TRUE(catalog_->ListImages(q)->items.empty());
  }
  EXPECT_LT(steps_of(known) * 4, walk) << "a shape the full connection knew walked again";
  const uint64_t late_first = steps_of(late);
  const uint64_t late_again = steps_of(late);
  EXPECT_GT(late_again * 2, late_first)
      << "a new shape was remembered past the cap (" << late_first << " then " << late_again << " steps)";

  insert(kAccounts[2], 5000);  // a commit empties the connection's positions
  const uint64_t after_commit = steps_of(late);
  EXPECT_LT(steps_of(late) * 4, after_commit) << "after a commit the new shape was not remembered";
}

}  // namespace
}  // namespace ferry
