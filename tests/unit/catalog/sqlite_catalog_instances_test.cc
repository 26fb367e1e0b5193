// SqliteCatalog's instances and disks (sqlite_catalog_instances.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_db.h"
#include "catalog_contract.h"
#include "common/ids.h"

namespace ferry {
namespace {

template <typename Engine>
class CatalogInstancesTest : public CatalogTest<Engine> {
 protected:
  InstanceRecord Instance(const std::string& id, const std::string& account, const std::string& name,
                          const std::string& status, UnixSeconds t) {
    InstanceRecord r;
    r.instance_id = id;
    r.account_id = account;
    r.region_id = "cn-hangzhou";
    r.name = name;
    r.status = status;
    r.image_id = "m-1";
    r.instance_type = "ecs.g6.large";
    r.user_data = "aGVsbG8=";
    r.ram_role_name = "role";
    r.creation_time = t;
    r.auto_start = true;
    return r;
  }
};
TYPED_TEST_SUITE(CatalogInstancesTest, CatalogEngines, CatalogEngineNames);
using SqliteCatalogInstancesTest = CatalogInstancesTest<SqliteEngine>;

TYPED_TEST(CatalogInstancesTest, InstancesRoundTripAcrossReopenAndFilter) {
  ASSERT_TRUE(this->catalog_->InsertInstance(this->Instance("i-a", "1", "web-1", "Running", 10)).ok());
  ASSERT_TRUE(this->catalog_->InsertInstance(this->Instance("i-b", "1", "db-1", "Stopped", 20)).ok());
  ASSERT_TRUE(this->catalog_->InsertInstance(this->Instance("i-c", "2", "web-2", "Running", 30)).ok());
  EXPECT_EQ(this->catalog_->InsertInstance(this->Instance("i-a", "1", "x", "Running", 1)).code(),
            Code::kAlreadyExists);
  this->Reopen();

  Result<InstanceRecord> a = this->catalog_->GetInstance("i-a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->user_data, "aGVsbG8=");
  EXPECT_EQ(a->ram_role_name, "role");
  EXPECT_TRUE(a->auto_start);
  EXPECT_EQ(this->catalog_->GetInstance("i-zz").status().reason(), "InvalidInstanceId.NotFound");

  InstanceQuery q;
  q.account_id = "1";
  Result<Page<InstanceRecord>> mine = this->catalog_->ListInstances(q);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->total, 2u);
  EXPECT_EQ(mine->items[0].instance_id, "i-b");  // newest first

  q.name_pattern = "web-*";
  EXPECT_EQ(this->catalog_->ListInstances(q)->total, 1u);
  q.name_pattern = "";
  q.statuses = {"Stopped"};
  EXPECT_EQ(this->catalog_->ListInstances(q)->items.at(0).instance_id, "i-b");
  q.statuses.clear();
  q.instance_ids = std::vector<std::string>{};
  EXPECT_EQ(this->catalog_->ListInstances(q)->total, 0u);  // an empty id list matches nothing
  q.instance_ids = std::vector<std::string>{"i-c", "i-a"};
  EXPECT_EQ(this->catalog_->ListInstances(q)->total, 1u);  // i-c is another account's

  a->status = "Stopped";
  ASSERT_TRUE(this->catalog_->UpdateInstance(*a).ok());
  EXPECT_EQ(this->catalog_->GetInstance("i-a")->status, "Stopped");
  ASSERT_TRUE(this->catalog_->DeleteInstance("i-a").ok());
  EXPECT_EQ(this->catalog_->GetInstance("i-a").status().code(), Code::kNotFound);
  EXPECT_EQ(this->catalog_->UpdateInstance(*a).code(), Code::kNotFound);
}

TYPED_TEST(CatalogInstancesTest, TagsAndBillingRoundTripAndTagsFilter) {
  InstanceRecord a = this->Instance("i-a", "1", "web-1", "Running", 10);
  a.tags = {{"team", "web"}, {"env", "prod"}};
  a.instance_charge_type = "PrePaid";
  a.expired_time = 2000000000;
  ASSERT_TRUE(this->catalog_->InsertInstance(a).ok());
  InstanceRecord b = this->Instance("i-b", "1", "web-2", "Running", 20);
  b.tags = {{"team", "db"}};
  ASSERT_TRUE(this->catalog_->InsertInstance(b).ok());
  ASSERT_TRUE(this->catalog_->InsertInstance(this->Instance("i-c", "1", "bare", "Running", 30)).ok());
  this->Reopen();

  Result<InstanceRecord> got = this->catalog_->GetInstance("i-a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->tags, a.tags);
  EXPECT_EQ(got->instance_charge_type, "PrePaid");
  EXPECT_EQ(got->expired_time, 2000000000);
  EXPECT_EQ(this->catalog_->GetInstance("i-c")->instance_charge_type, "PostPaid");
  EXPECT_TRUE(this->catalog_->GetInstance("i-c")->tags.empty());

  auto ids = [&](Tags tags) {
    InstanceQuery q;
    q.account_id = "1";
    q.tags = std::move(tags);
    Result<Page<InstanceRecord>> page = this->catalog_->ListInstances(q);
    std::vector<std::string> out;
    if (!page.ok()) return out;
    for (const InstanceRecord& r : page->items) out.push_back(r.instance_id);
    return out;
  };
  EXPECT_EQ(ids({{"team", ""}}), (std::vector<std::string>{"i-b", "i-a"}));  // a key alone: any value
  EXPECT_EQ(ids({{"team", "web"}}), (std::vector<std::string>{"i-a"}));
  EXPECT_EQ(ids({{"team", "web"}, {"env", "prod"}}), (std::vector<std::string>{"i-a"}));
  EXPECT_EQ(ids({{"team", "web"}, {"env", "dev"}}), (std::vector<std::string>{}));
  EXPECT_EQ(ids({{"owner", ""}}), (std::vector<std::string>{}));

  got->tags.push_back({"added", "later"});
  ASSERT_TRUE(this->catalog_->UpdateInstance(*got).ok());
  EXPECT_EQ(this->catalog_->GetInstance("i-a")->tags.size(), 3u);
}

// A catalog of schema 6 (instances without tags or billing) gains the
// columns; its instances read as PostPaid with no tags.
TEST_F(SqliteCatalogInstancesTest, InstancesOfSchemaSixAreMigratedPostPaidWithoutTags) {
  ASSERT_TRUE(catalog_->InsertInstance(Instance("i-old", "1", "old", "Stopped", 10)).ok());
  catalog_.reset();
  {
    auto db = SqliteDb::Open(location_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("ALTER TABLE instances DROP COLUMN tags; "
                           "ALTER TABLE instances DROP COLUMN instance_charge_type; "
                           "ALTER TABLE instances DROP COLUMN expired_time; PRAGMA user_version = 6")
                    .ok());
    ASSERT_TRUE((*db)->Exec(kUndoSchemaNineOn).ok());
  }
  Reopen();
  Result<InstanceRecord> old = catalog_->GetInstance("i-old");
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_TRUE(old->tags.empty());
  EXPECT_EQ(old->instance_charge_type, "PostPaid");
  EXPECT_EQ(old->expired_time, 0);
  EXPECT_EQ(old->user_data, "aGVsbG8=");
}

TYPED_TEST(CatalogInstancesTest, DisksRoundTripAndFilterByInstanceAndType) {
  DiskRecord d;
  d.disk_id = "d-1";
  d.account_id = "1";
  d.instance_id = "i-a";
  d.image_id = "m-1";
  d.source_snapshot_id = "s-1";
  d.base_key = std::string(64, 'a');
  d.size_gib = 40;
  d.status = "Creating";
  d.creation_time = 5;
  ASSERT_TRUE(this->catalog_->InsertDisk(d).ok());
  DiskRecord data = d;
  data.disk_id = "d-2";
  data.type = "data";
  data.device = "/dev/xvdb";
  data.creation_time = 6;
  ASSERT_TRUE(this->catalog_->InsertDisk(data).ok());

  Result<DiskRecord> got = this->catalog_->GetDisk("d-1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->base_key, d.base_key);
  EXPECT_EQ(got->size_gib, 40u);
  EXPECT_EQ(got->source_snapshot_id, "s-1");
  DiskQuery q;
  q.instance_id = "i-a";
  EXPECT_EQ(this->catalog_->ListDisks(q)->total, 2u);
  q.disk_type = "system";
  EXPECT_EQ(this->catalog_->ListDisks(q)->items.at(0).disk_id, "d-1");
  got->status = "In_use";
  ASSERT_TRUE(this->catalog_->UpdateDisk(*got).ok());
  EXPECT_EQ(this->catalog_->GetDisk("d-1")->status, "In_use");
  ASSERT_TRUE(this->catalog_->DeleteDisk("d-1").ok());
  EXPECT_EQ(this->catalog_->GetDisk("d-1").status().reason(), "InvalidDiskId.NotFound");
}

}  // namespace
}  // namespace ferry
