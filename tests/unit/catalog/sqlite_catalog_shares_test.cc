// Image shares and how listings use them, for every catalog
// (catalog_contract.h); then what only SqliteCatalog has.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_db.h"
#include "catalog_contract.h"
#include "common/fs_util.h"
#include "common/ids.h"

namespace ferry {
namespace {

constexpr const char* kOwner = "1111111111111111";
constexpr const char* kBob = "2222222222222222";
constexpr const char* kCarol = "3333333333333333";

template <typename Engine>
class CatalogSharesTest : public CatalogTest<Engine> {
 protected:
  using CatalogTest<Engine>::catalog_;
  void AddImage(const std::string& id, const std::string& owner, const std::string& snapshot,
                UnixSeconds created) {
    SnapshotRecord s;
    s.snapshot_id = snapshot;
    s.account_id = owner;
    s.creation_time = created;
    ASSERT_TRUE(catalog_->InsertSnapshot(s).ok());
    ImageRecord r;
    r.image_id = id;
    r.account_id = owner;
    r.status = "Available";
    r.creation_time = created;
    r.disks.push_back(DiskMapping{snapshot, 1});
    ASSERT_TRUE(catalog_->InsertImage(r).ok());
  }
  std::vector<std::string> Shares(const std::string& image_id, uint64_t offset = 0, uint64_t limit = 0,
                                  uint64_t* total = nullptr) {
    Result<Page<ImageShareRecord>> page = catalog_->ListImageShares(image_id, offset, limit);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> out;
    if (!page.ok()) return out;
    for (const ImageShareRecord& s : page->items) out.push_back(s.account_id);
    if (total != nullptr) *total = page->total;
    return out;
  }
  std::vector<std::string> Visible(const std::string& account, bool self, bool shared) {
    ImageQuery q;
    q.account_id = account;
    q.include_system = false;
    q.include_self = self;
    q.include_shared = shared;
    Result<Page<ImageRecord>> page = catalog_->ListImages(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> out;
    if (page.ok())
      for (const ImageRecord& r : page->items) out.push_back(r.image_id);
    return out;
  }
};
TYPED_TEST_SUITE(CatalogSharesTest, CatalogEngines, CatalogEngineNames);
using SqliteCatalogSharesTest = CatalogSharesTest<SqliteEngine>;

TYPED_TEST(CatalogSharesTest, PutListDeleteInSharedTimeOrderWithPaging) {
  ASSERT_TRUE(this->catalog_->PutImageShare({"m-1", kCarol, 200}).ok());
  ASSERT_TRUE(this->catalog_->PutImageShare({"m-1", kBob, 100}).ok());
  ASSERT_TRUE(this->catalog_->PutImageShare({"m-2", kBob, 50}).ok());
  // Again: no second row, and the first time stays.
  ASSERT_TRUE(this->catalog_->PutImageShare({"m-1", kBob, 300}).ok());
  uint64_t total = 0;
  EXPECT_EQ(this->Shares("m-1", 0, 0, &total), (std::vector<std::string>{kBob, kCarol}));
  EXPECT_EQ(total, 2u);
  EXPECT_EQ(this->catalog_->ListImageShares("m-1", 0, 0)->items.at(0).shared_time, 100);
  EXPECT_EQ(this->Shares("m-1", 1, 1, &total), (std::vector<std::string>{kCarol}));
  EXPECT_EQ(total, 2u);
  EXPECT_TRUE(*this->catalog_->IsImageSharedWith("m-1", kCarol));
  EXPECT_FALSE(*this->catalog_->IsImageSharedWith("m-2", kCarol));

  ASSERT_TRUE(this->catalog_->DeleteImageShare("m-1", kCarol).ok());
  ASSERT_TRUE(this->catalog_->DeleteImageShare("m-1", kCarol).ok());  // absent: OK
  EXPECT_EQ(this->Shares("m-1"), (std::vector<std::string>{kBob}));
  EXPECT_FALSE(*this->catalog_->IsImageSharedWith("m-1", kCarol));
  EXPECT_EQ(this->Shares("m-2"), (std::vector<std::string>{kBob}));
  this->Reopen();
  EXPECT_EQ(this->Shares("m-1"), (std::vector<std::string>{kBob}));
}

TYPED_TEST(CatalogSharesTest, ListingsShowSharedImagesAndTheirSnapshotsOnlyWhenAsked) {
  this->AddImage("m-owned", kOwner, "s-owned", 100);
  this->AddImage("m-bobs", kBob, "s-bobs", 200);
  ASSERT_TRUE(this->catalog_->PutImageShare({"m-owned", kBob, 300}).ok());

  EXPECT_EQ(this->Visible(kBob, true, false), (std::vector<std::string>{"m-bobs"}));
  EXPECT_EQ(this->Visible(kBob, true, true), (std::vector<std::string>{"m-bobs", "m-owned"}));
  EXPECT_EQ(this->Visible(kBob, false, true), (std::vector<std::string>{"m-owned"}));
  EXPECT_TRUE(this->Visible(kCarol, false, true).empty());
  EXPECT_EQ(this->Visible(kOwner, false, true), std::vector<std::string>{});

  SnapshotQuery q;
  q.account_id = kBob;
  EXPECT_EQ(this->catalog_->ListSnapshots(q)->total, 1u);
  q.also_snapshot_ids = {"s-owned"};
  Result<Page<SnapshotRecord>> both = this->catalog_->ListSnapshots(q);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->total, 2u);
  q.snapshot_ids = {"s-owned"};
  Result<Page<SnapshotRecord>> one = this->catalog_->ListSnapshots(q);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->items.size(), 1u);
  EXPECT_EQ(one->items[0].account_id, kOwner);

  ASSERT_TRUE(this->catalog_->DeleteImageShare("m-owned", kBob).ok());
  EXPECT_TRUE(this->Visible(kBob, false, true).empty());
}

TEST_F(SqliteCatalogSharesTest, ACatalogOfVersionThreeGainsTheShareTable) {
  catalog_.reset();
  {
    auto db = SqliteDb::Open(location_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("DROP TABLE image_shares").ok());
    ASSERT_TRUE((*db)->Exec("DROP TABLE instances; DROP TABLE disks").ok());  // version 5
    ASSERT_TRUE((*db)->Exec("ALTER TABLE snapshots DROP COLUMN source_disk_id").ok());  // version 6
    ASSERT_TRUE((*db)->Exec(kUndoSchemaNineOn).ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 3").ok());
  }
  Reopen();
  ASSERT_TRUE(catalog_->PutImageShare({"m-1", kBob, 1}).ok());
  EXPECT_EQ(Shares("m-1"), (std::vector<std::string>{kBob}));
}

}  // namespace
}  // namespace ferry
