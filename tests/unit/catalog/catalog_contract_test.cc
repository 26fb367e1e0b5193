// The Catalog contract (catalog.h) for every implementation, typed over
// SqliteCatalog and PgCatalog (catalog_contract.h); then what only
// SqliteCatalog has (its file, its schema's history).
#include "catalog_contract.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "catalog/sqlite_db.h"
#include "common/fs_util.h"
#include "common/ids.h"

namespace ferry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

template <typename Engine>
class CatalogContractTest : public CatalogTest<Engine> {
 protected:
  std::vector<std::string> ImageIds(const ImageQuery& q, uint64_t* total = nullptr) {
    auto page = this->catalog_->ListImages(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> ids;
    if (!page.ok()) return ids;
    for (const auto& r : page->items) ids.push_back(r.image_id);
    if (total) *total = page->total;
    return ids;
  }
};
TYPED_TEST_SUITE(CatalogContractTest, CatalogEngines, CatalogEngineNames);
// What only SqliteCatalog has: its file and its schema's history.
using SqliteCatalogTest = CatalogContractTest<SqliteEngine>;

ImageRecord Image(const std::string& id, const std::string& account, const std::string& name,
                  UnixSeconds created = 1000) {
  ImageRecord r;
  r.image_id = id;
  r.account_id = account;
  r.name = name;
  r.status = "Available";
  r.creation_time = created;
  return r;
}

ImageRecord FullImage() {
  ImageRecord r;
  r.image_id = "m-full";
  r.account_id = "1234567890123456";
  r.name = "web-server";
  r.description = "a \"quoted\" description, with unicode: é";
  r.status = "Creating";
  r.progress = 42;
  r.os_type = "windows";
  r.os_name = "Windows Server 2022";
  r.platform = "Windows Server 2022";
  r.architecture = "arm64";
  r.boot_mode = "UEFI";
  r.image_family = "family-a";
  r.image_version = "2.1";
  r.license_type = "BYOL";
  r.resource_group_id = "rg-abc";
  r.size_gib = 5'000'000'000ULL;  // beyond 32 bits
  DiskMapping sys;
  sys.snapshot_id = "s-sys";
  sys.size_gib = 40;
  sys.format = "QCOW2";
  sys.import_bucket = "bucket";
  sys.import_object = "dir/disk.qcow2";
  DiskMapping data;
  data.snapshot_id = "s-data";
  data.size_gib = 100;
  data.device = "/dev/xvdb";
  data.type = "data";
  data.format = "RAW";
  r.disks = {sys, data};
  r.tags = {{"env", "prod"}, {"team", ""}, {"env", "dup-key"}};
  r.is_copied = true;
  r.source_region_id = "cn-hangzhou";
  r.source_image_id = "m-source";
  r.failure_reason = "none yet";
  r.creation_time = 1'700'000'000;
  return r;
}

void ExpectSameImage(const ImageRecord& a, const ImageRecord& b) {
  EXPECT_EQ(a.image_id, b.image_id);
  EXPECT_EQ(a.account_id, b.account_id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.progress, b.progress);
  EXPECT_EQ(a.os_type, b.os_type);
  EXPECT_EQ(a.os_name, b.os_name);
  EXPECT_EQ(a.platform, b.platform);
  EXPECT_EQ(a.architecture, b.architecture);
  EXPECT_EQ(a.boot_mode, b.boot_mode);
  EXPECT_EQ(a.image_family, b.image_family);
  EXPECT_EQ(a.image_version, b.image_version);
  EXPECT_EQ(a.license_type, b.license_type);
  EXPECT_EQ(a.resource_group_id, b.resource_group_id);
  EXPECT_EQ(a.size_gib, b.size_gib);
  ASSERT_EQ(a.disks.size(), b.disks.size());
  for (size_t i = 0; i < a.disks.size(); ++i) {
    EXPECT_EQ(a.disks[i].snapshot_id, b.disks[i].snapshot_id) << i;
    EXPECT_EQ(a.disks[i].size_gib, b.disks[i].size_gib) << i;
    EXPECT_EQ(a.disks[i].device, b.disks[i].device) << i;
    EXPECT_EQ(a.disks[i].type, b.disks[i].type) << i;
    EXPECT_EQ(a.disks[i].format, b.disks[i].format) << i;
    EXPECT_EQ(a.disks[i].import_bucket, b.disks[i].import_bucket) << i;
    EXPECT_EQ(a.disks[i].import_object, b.disks[i].import_object) << i;
  }
  EXPECT_EQ(a.tags, b.tags);
  EXPECT_EQ(a.is_copied, b.is_copied);
  EXPECT_EQ(a.source_region_id, b.source_region_id);
  EXPECT_EQ(a.source_image_id, b.source_image_id);
  EXPECT_EQ(a.failure_reason, b.failure_reason);
  EXPECT_EQ(a.creation_time, b.creation_time);
}

SnapshotRecord FullSnapshot(const std::string& id = "s-full") {
  SnapshotRecord r;
  r.snapshot_id = id;
  r.account_id = "1234567890123456";
  r.name = "snap";
  r.description = "desc";
  r.status = "accomplished";
  r.progress = 100;
  r.logical_size = 42ULL << 30;
  r.source_disk_size_gib = 42;
  r.source_disk_type = "data";
  r.usage = "disk";
  r.encrypted = true;
  r.kms_key_id = "key-1";
  r.source_region_id = "cn-beijing";
  r.source_snapshot_id = "s-src";
  r.content_digest = std::string(64, 'a');
  r.manifest = {0x00, 0x01, 0xfe, 0xff, 0x00, 0x7f};
  r.tags = {{"k", "v"}};
  r.creation_time = 1'600'000'000;
  r.last_modified_time = 1'600'000'100;
  return r;
}

void ExpectSameSnapshot(const SnapshotRecord& a, const SnapshotRecord& b, bool with_manifest) {
  EXPECT_EQ(a.snapshot_id, b.snapshot_id);
  EXPECT_EQ(a.account_id, b.account_id);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.progress, b.progress);
  EXPECT_EQ(a.logical_size, b.logical_size);
  EXPECT_EQ(a.source_disk_size_gib, b.source_disk_size_gib);
  EXPECT_EQ(a.source_disk_type, b.source_disk_type);
  EXPECT_EQ(a.usage, b.usage);
  EXPECT_EQ(a.encrypted, b.encrypted);
  EXPECT_EQ(a.kms_key_id, b.kms_key_id);
  EXPECT_EQ(a.source_region_id, b.source_region_id);
  EXPECT_EQ(a.source_snapshot_id, b.source_snapshot_id);
  EXPECT_EQ(a.content_digest, b.content_digest);
  if (with_manifest) {
    EXPECT_EQ(a.manifest, b.manifest);
  }
  EXPECT_EQ(a.tags, b.tags);
  EXPECT_EQ(a.creation_time, b.creation_time);
  EXPECT_EQ(a.last_modified_time, b.last_modified_time);
}

TaskRecord Task(const std::string& id, const std::string& status, UnixSeconds created) {
  TaskRecord t;
  t.task_id = id;
  t.account_id = "acct";
  t.action = "ImportImage";
  t.status = status;
  t.resource_id = "m-" + id;
  t.creation_time = created;
  return t;
}

// --- images ---

TYPED_TEST(CatalogContractTest, ImageRoundTripsEveryField) {
  ImageRecord in = FullImage();
  ASSERT_TRUE(this->catalog_->InsertImage(in).ok());
  auto out = this->catalog_->GetImage(in.image_id);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectSameImage(in, *out);

  ImageRecord changed = in;
  changed.name = "renamed";
  changed.status = "Available";
  changed.progress = 100;
  changed.disks.pop_back();
  changed.disks[0].size_gib = 80;
  changed.tags = {};
  changed.is_copied = false;
  changed.failure_reason = "";
  ASSERT_TRUE(this->catalog_->UpdateImage(changed).ok());
  out = this->catalog_->GetImage(in.image_id);
  ASSERT_TRUE(out.ok());
  ExpectSameImage(changed, *out);
}

TYPED_TEST(CatalogContractTest, MissingImageIsNotFound) {
  auto got = this->catalog_->GetImage("m-missing");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_EQ(got.status().reason(), "InvalidImageId.NotFound");
  EXPECT_THAT(got.status().message(), HasSubstr("m-missing"));

  Status upd = this->catalog_->UpdateImage(Image("m-missing", "a", "x"));
  EXPECT_EQ(upd.code(), Code::kNotFound);
  EXPECT_EQ(upd.reason(), "InvalidImageId.NotFound");
  EXPECT_TRUE(this->catalog_->DeleteImage("m-missing").ok());
}

TYPED_TEST(CatalogContractTest, DeleteRemovesImage) {
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-1", "a", "x")).ok());
  ASSERT_TRUE(this->catalog_->DeleteImage("m-1").ok());
  EXPECT_EQ(this->catalog_->GetImage("m-1").status().code(), Code::kNotFound);
}

TYPED_TEST(CatalogContractTest, DuplicateImageIdIsRejected) {
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-1", "a", "x")).ok());
  Status st = this->catalog_->InsertImage(Image("m-1", "a", "y"));
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_THAT(st.message(), HasSubstr("m-1"));
  EXPECT_EQ(this->catalog_->GetImage("m-1")->name, "x");
}

TYPED_TEST(CatalogContractTest, ImageNamesAreUniquePerAccount) {
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-1", "a", "web")).ok());

  Status dup = this->catalog_->InsertImage(Image("m-2", "a", "web"));
  EXPECT_EQ(dup.code(), Code::kAlreadyExists);
  EXPECT_EQ(dup.reason(), "InvalidImageName.Duplicated");
  EXPECT_THAT(dup.message(), HasSubstr("'web'"));
  EXPECT_EQ(this->catalog_->GetImage("m-2").status().code(), Code::kNotFound);

  // Another account may use the name; empty names never collide.
  EXPECT_TRUE(this->catalog_->InsertImage(Image("m-3", "b", "web")).ok());
  EXPECT_TRUE(this->catalog_->InsertImage(Image("m-4", "a", "")).ok());
  EXPECT_TRUE(this->catalog_->InsertImage(Image("m-5", "a", "")).ok());

  // Renaming onto a taken name fails; keeping one's own name does not.
  ImageRecord other = Image("m-6", "a", "db");
  ASSERT_TRUE(this->catalog_->InsertImage(other).ok());
  other.name = "web";
  Status rename = this->catalog_->UpdateImage(other);
  EXPECT_EQ(rename.reason(), "InvalidImageName.Duplicated");
  EXPECT_EQ(this->catalog_->GetImage("m-6")->name, "db");
  ImageRecord same = Image("m-1", "a", "web");
  same.progress = 7;
  EXPECT_TRUE(this->catalog_->UpdateImage(same).ok());

  // Deleting frees the name.
  ASSERT_TRUE(this->catalog_->DeleteImage("m-1").ok());
  EXPECT_TRUE(this->catalog_->InsertImage(Image("m-2", "a", "web")).ok());
}

TYPED_TEST(CatalogContractTest, TagsThatAreNotUtf8AreRejected) {
  ImageRecord r = Image("m-1", "a", "x");
  r.tags = {{"k", std::string("\xff\xfe", 2)}};
  Status st = this->catalog_->InsertImage(r);
  EXPECT_EQ(st.code(), Code::kInvalidArgument) << st.ToString();
  EXPECT_THAT(st.message(), HasSubstr("m-1"));
}

TEST_F(SqliteCatalogTest, UnreadableStoredJsonIsDataLoss) {
  ASSERT_TRUE(catalog_->InsertImage(Image("m-1", "a", "x")).ok());
  {
    auto db = SqliteDb::Open(location_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("UPDATE images SET tags = '{broken' WHERE image_id = 'm-1'").ok());
  }
  auto got = catalog_->GetImage("m-1");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), Code::kDataLoss);
  EXPECT_THAT(got.status().message(), HasSubstr("image m-1"));
}

TYPED_TEST(CatalogContractTest, ListImagesVisibility) {
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-a", "a", "a1", 3)).ok());
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-b", "b", "b1", 2)).ok());
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-sys", kSystemAccountId, "centos", 1)).ok());

  ImageQuery q;
  q.account_id = "a";
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-a", "m-sys"));
  q.include_system = false;
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-a"));
  q.include_system = true;
  q.include_self = false;
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-sys"));
  q.include_system = false;
  uint64_t total = 99;
  EXPECT_THAT(this->ImageIds(q, &total), IsEmpty());
  EXPECT_EQ(total, 0u);

  EXPECT_THAT(this->ImageIds(ImageQuery{}), ElementsAre("m-a", "m-b", "m-sys"));
}

TYPED_TEST(CatalogContractTest, ListImagesFilters) {
  ImageRecord web = Image("m-1", "a", "Web_50%", 5);
  web.disks = {DiskMapping{.snapshot_id = "s-sys"}, DiskMapping{.snapshot_id = "s-data"}};
  web.tags = {{"env", "prod"}, {"team", "x"}};
  ImageRecord db = Image("m-2", "a", "database", 4);
  db.status = "Creating";
  db.tags = {{"env", "prod"}};
  ImageRecord lower = Image("m-3", "a", "web-lower", 3);
  lower.disks = {DiskMapping{.snapshot_id = "s-other"}};
  ImageRecord wildcard = Image("m-4", "a", "Webx50y", 2);
  for (const auto& r : {web, db, lower, wildcard}) ASSERT_TRUE(this->catalog_->InsertImage(r).ok());

  ImageQuery q;
  q.image_id = "m-2";
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-2"));

  q = {};
  q.name_contains = "Web";  // case-sensitive
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-1", "m-4"));
  q.name_contains = "_50%";  // LIKE wildcards are literal
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-1"));

  q = {};
  q.snapshot_id = "s-data";  // the second disk counts too
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-1"));

  q = {};
  q.statuses = {"Creating", "Deprecated"};
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-2"));
  q.statuses = {"Available", "Creating"};
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-1", "m-2", "m-3", "m-4"));

  q = {};
  q.tags = {{"env", "prod"}};
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-1", "m-2"));
  q.tags = {{"env", "prod"}, {"team", "x"}};  // all must match
  EXPECT_THAT(this->ImageIds(q), ElementsAre("m-1"));
  q.tags = {{"env", "dev"}};
  EXPECT_THAT(this->ImageIds(q), IsEmpty());

  q = {};
  q.account_id = "b";
  q.include_system = false;
  q.name_contains = "Web";
  EXPECT_THAT(this->ImageIds(q), IsEmpty());
}

TYPED_TEST(CatalogContractTest, ListImagesPagesNewestFirstWithTotal) {
  // m-c and m-d share a creation time: the id breaks the tie.
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-a", "a", "n1", 10)).ok());
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-d", "a", "n2", 30)).ok());
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-c", "a", "n3", 30)).ok());
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-b", "a", "x4", 20)).ok());
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-e", "a", "n5", 5)).ok());

  ImageQuery q;
  uint64_t total = 0;
  EXPECT_THAT(this->ImageIds(q, &total), ElementsAre("m-c", "m-d", "m-b", "m-a", "m-e"));
  EXPECT_EQ(total, 5u);
  q.offset = 1;
  q.limit = 2;
  EXPECT_THAT(this->ImageIds(q, &total), ElementsAre("m-d", "m-b"));
  EXPECT_EQ(total, 5u);
  q.offset = 4;
  q.limit = 0;
  EXPECT_THAT(this->ImageIds(q, &total), ElementsAre("m-e"));
  q.offset = 9;
  EXPECT_THAT(this->ImageIds(q, &total), IsEmpty());
  EXPECT_EQ(total, 5u);

  // Same paging when a filter runs in memory.
  q.name_contains = "n";
  q.offset = 1;
  q.limit = 2;
  EXPECT_THAT(this->ImageIds(q, &total), ElementsAre("m-d", "m-a"));
  EXPECT_EQ(total, 4u);
  q.offset = 7;
  EXPECT_THAT(this->ImageIds(q, &total), IsEmpty());
  EXPECT_EQ(total, 4u);
}

// --- snapshots ---

TYPED_TEST(CatalogContractTest, SnapshotRoundTripsEveryField) {
  SnapshotRecord in = FullSnapshot();
  ASSERT_TRUE(this->catalog_->InsertSnapshot(in).ok());
  auto out = this->catalog_->GetSnapshot(in.snapshot_id);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ExpectSameSnapshot(in, *out, true);

  SnapshotRecord changed = in;
  changed.encrypted = false;
  changed.manifest = {};
  changed.status = "failed";
  changed.tags = {{"a", "b"}, {"c", "d"}};
  ASSERT_TRUE(this->catalog_->UpdateSnapshot(changed).ok());
  out = this->catalog_->GetSnapshot(in.snapshot_id);
  ASSERT_TRUE(out.ok());
  ExpectSameSnapshot(changed, *out, true);
}

TYPED_TEST(CatalogContractTest, MissingSnapshotIsNotFound) {
  auto got = this->catalog_->GetSnapshot("s-missing");
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_EQ(got.status().reason(), "InvalidSnapshotId.NotFound");
  Status upd = this->catalog_->UpdateSnapshot(FullSnapshot("s-missing"));
  EXPECT_EQ(upd.reason(), "InvalidSnapshotId.NotFound");
  EXPECT_TRUE(this->catalog_->DeleteSnapshot("s-missing").ok());

  ASSERT_TRUE(this->catalog_->InsertSnapshot(FullSnapshot("s-1")).ok());
  ASSERT_TRUE(this->catalog_->DeleteSnapshot("s-1").ok());
  EXPECT_EQ(this->catalog_->GetSnapshot("s-1").status().code(), Code::kNotFound);
}

TYPED_TEST(CatalogContractTest, ListSnapshotsFiltersPagesAndSkipsManifests) {
  for (int i = 0; i < 5; ++i) {
    SnapshotRecord r = FullSnapshot("s-" + std::to_string(i));
    r.creation_time = 100 + i;
    r.account_id = i < 4 ? "a" : "b";
    r.status = i % 2 ? "progressing" : "accomplished";
    r.name = i == 2 ? "special" : "snap";
    ASSERT_TRUE(this->catalog_->InsertSnapshot(r).ok());
  }
  auto ids = [&](const SnapshotQuery& q, uint64_t* total) {
    auto page = this->catalog_->ListSnapshots(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> out;
    for (const auto& r : page->items) {
      EXPECT_THAT(r.manifest, IsEmpty()) << r.snapshot_id;
      EXPECT_EQ(r.content_digest, std::string(64, 'a'));
      out.push_back(r.snapshot_id);
    }
    *total = page->total;
    return out;
  };
  uint64_t total = 0;
  SnapshotQuery q;
  q.account_id = "a";
  EXPECT_THAT(ids(q, &total), ElementsAre("s-3", "s-2", "s-1", "s-0"));
  q.status = "accomplished";
  EXPECT_THAT(ids(q, &total), ElementsAre("s-2", "s-0"));
  q = {};
  q.snapshot_ids = {"s-0", "s-4", "s-nope"};
  EXPECT_THAT(ids(q, &total), ElementsAre("s-4", "s-0"));
  q = {};
  q.name = "special";
  EXPECT_THAT(ids(q, &total), ElementsAre("s-2"));
  q = {};
  q.offset = 1;
  q.limit = 3;
  EXPECT_THAT(ids(q, &total), ElementsAre("s-3", "s-2", "s-1"));
  EXPECT_EQ(total, 5u);
}

TYPED_TEST(CatalogContractTest, ForEachManifestVisitsOnlyCommittedManifests) {
  // More than one internal batch.
  std::map<std::string, std::vector<uint8_t>> want;
  for (int i = 0; i < 40; ++i) {
    SnapshotRecord r = FullSnapshot("s-" + std::to_string(100 + i));
    if (i % 3 == 0) {
      r.manifest.clear();  // not committed yet
    } else {
      r.manifest = {static_cast<uint8_t>(i), 0, 0xff};
      want[r.snapshot_id] = r.manifest;
    }
    ASSERT_TRUE(this->catalog_->InsertSnapshot(r).ok());
  }
  // Written in a transaction that rolled back.
  Status rolled_back = this->catalog_->Transact([&]() -> Status {
    RETURN_IF_ERROR(this->catalog_->InsertSnapshot(FullSnapshot("s-rolled-back")));
    return Aborted("", "test");
  });
  ASSERT_EQ(rolled_back.code(), Code::kAborted);

  std::map<std::string, std::vector<uint8_t>> seen;
  Status st = this->catalog_->ForEachManifest([&](const std::string& id, const std::vector<uint8_t>& m) {
    EXPECT_FALSE(seen.count(id)) << "visited twice: " << id;
    seen[id] = m;
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(seen, want);
}

TYPED_TEST(CatalogContractTest, ForEachManifestStopsAtFirstError) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(this->catalog_->InsertSnapshot(FullSnapshot("s-" + std::to_string(i))).ok());
  }
  int calls = 0;
  Status st = this->catalog_->ForEachManifest([&](const std::string& id, const std::vector<uint8_t>&) {
    ++calls;
    return DataLoss("bad manifest " + id);
  });
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_EQ(st.message(), "bad manifest s-0");
  EXPECT_EQ(calls, 1);
}

// --- tasks ---

TYPED_TEST(CatalogContractTest, TaskRoundTripsEveryField) {
  TaskRecord in = Task("t-1", "Failed", 500);
  in.action = "ExportImage";
  in.progress = 33;
  in.params = R"({"OSSBucket":"b","OSSPrefix":"p"})";
  in.error_code = "ExportImageFailed";
  in.error_message = "bucket gone";
  in.cancel_requested = true;
  in.finished_time = 900;
  in.attempts = 2;
  ASSERT_TRUE(this->catalog_->InsertTask(in).ok());
  auto out = this->catalog_->GetTask("t-1");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->task_id, in.task_id);
  EXPECT_EQ(out->account_id, in.account_id);
  EXPECT_EQ(out->action, in.action);
  EXPECT_EQ(out->status, in.status);
  EXPECT_EQ(out->progress, in.progress);
  EXPECT_EQ(out->resource_id, in.resource_id);
  EXPECT_EQ(out->params, in.params);
  EXPECT_EQ(out->error_code, in.error_code);
  EXPECT_EQ(out->error_message, in.error_message);
  EXPECT_EQ(out->cancel_requested, in.cancel_requested);
  EXPECT_EQ(out->creation_time, in.creation_time);
  EXPECT_EQ(out->finished_time, in.finished_time);
  EXPECT_EQ(out->attempts, 2);

  in.cancel_requested = false;
  in.status = "Finished";
  ASSERT_TRUE(this->catalog_->UpdateTask(in).ok());
  EXPECT_FALSE(this->catalog_->GetTask("t-1")->cancel_requested);
  EXPECT_EQ(this->catalog_->GetTask("t-1")->status, "Finished");
}

TYPED_TEST(CatalogContractTest, MissingTaskIsNotFound) {
  auto got = this->catalog_->GetTask("t-missing");
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_EQ(got.status().reason(), "InvalidTaskId.NotFound");
  EXPECT_EQ(this->catalog_->UpdateTask(Task("t-missing", "Finished", 1)).reason(), "InvalidTaskId.NotFound");
}

TYPED_TEST(CatalogContractTest, ListTasksFilters) {
  ASSERT_TRUE(this->catalog_->InsertTask(Task("t-1", "Processing", 1)).ok());
  ASSERT_TRUE(this->catalog_->InsertTask(Task("t-2", "Finished", 2)).ok());
  TaskRecord other = Task("t-3", "Processing", 3);
  other.account_id = "other";
  other.action = "ExportImage";
  ASSERT_TRUE(this->catalog_->InsertTask(other).ok());
  ASSERT_TRUE(this->catalog_->InsertTask(Task("t-4", "Failed", 4)).ok());

  auto ids = [&](const TaskQuery& q, uint64_t* total = nullptr) {
    auto page = this->catalog_->ListTasks(q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> out;
    for (const auto& t : page->items) out.push_back(t.task_id);
    if (total) *total = page->total;
    return out;
  };
  TaskQuery q;
  EXPECT_THAT(ids(q), ElementsAre("t-4", "t-3", "t-2", "t-1"));
  q.statuses = {"Processing"};
  EXPECT_THAT(ids(q), ElementsAre("t-3", "t-1"));
  q.account_id = "acct";
  EXPECT_THAT(ids(q), ElementsAre("t-1"));
  q = {};
  q.status = "Finished";
  EXPECT_THAT(ids(q), ElementsAre("t-2"));
  q = {};
  q.action = "ExportImage";
  EXPECT_THAT(ids(q), ElementsAre("t-3"));
  q = {};
  q.task_ids = {"t-1", "t-4"};
  EXPECT_THAT(ids(q), ElementsAre("t-4", "t-1"));
  q = {};
  q.resource_ids = {"m-t-2", "m-t-3"};
  EXPECT_THAT(ids(q), ElementsAre("t-3", "t-2"));
  q = {};
  q.offset = 2;
  q.limit = 1;
  uint64_t total = 0;
  EXPECT_THAT(ids(q, &total), ElementsAre("t-2"));
  EXPECT_EQ(total, 4u);
}

// --- client tokens ---

TYPED_TEST(CatalogContractTest, ClientTokensAreKeyedByAccountActionAndToken) {
  auto missing = this->catalog_->GetClientToken("a", "CopyImage", "tok");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);

  ASSERT_TRUE(this->catalog_->PutClientToken("a", "CopyImage", "tok", {"fp1", "m-1"}).ok());
  auto got = this->catalog_->GetClientToken("a", "CopyImage", "tok");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->fingerprint, "fp1");
  EXPECT_EQ(got->result_id, "m-1");

  EXPECT_EQ(this->catalog_->GetClientToken("b", "CopyImage", "tok").status().code(), Code::kNotFound);
  EXPECT_EQ(this->catalog_->GetClientToken("a", "ImportImage", "tok").status().code(), Code::kNotFound);
  EXPECT_EQ(this->catalog_->GetClientToken("a", "CopyImage", "tok2").status().code(), Code::kNotFound);

  ASSERT_TRUE(this->catalog_->PutClientToken("a", "CopyImage", "tok", {"fp2", "m-2"}).ok());
  got = this->catalog_->GetClientToken("a", "CopyImage", "tok");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->fingerprint, "fp2");
  EXPECT_EQ(got->result_id, "m-2");
}

// --- task leases ---

TYPED_TEST(CatalogContractTest, TasksAreLeasedToOneNodeUntilTheLeaseExpires) {
  auto& catalog = *this->catalog_;
  ASSERT_TRUE(catalog.InsertTask(Task("t-1", "Processing", 1)).ok());
  ASSERT_TRUE(catalog.InsertTask(Task("t-2", "Processing", 2)).ok());
  ASSERT_TRUE(catalog.InsertTask(Task("t-3", "Finished", 3)).ok());
  auto claimable = [&](const std::string& node, UnixSeconds now) {
    std::vector<std::string> ids;
    Result<std::vector<TaskRecord>> tasks = catalog.ClaimableTasks(node, now);
    EXPECT_TRUE(tasks.ok()) << tasks.status().ToString();
    if (tasks.ok()) {
      for (const TaskRecord& t : *tasks) ids.push_back(t.task_id);
    }
    return ids;
  };
  EXPECT_THAT(claimable("a", 100), ElementsAre("t-1", "t-2"));

  EXPECT_TRUE(*catalog.ClaimTask("t-1", "a", 100, 130));
  EXPECT_FALSE(*catalog.ClaimTask("t-1", "b", 110, 140));  // held by a
  EXPECT_TRUE(*catalog.ClaimTask("t-1", "a", 110, 140));   // a's own again
  EXPECT_THAT(claimable("b", 120), ElementsAre("t-2"));
  EXPECT_THAT(claimable("a", 120), ElementsAre("t-1", "t-2"));

  // A renewed lease holds past its first end; an expired one is taken over.
  ASSERT_TRUE(catalog.RenewTaskLeases("a", 200).ok());
  EXPECT_FALSE(*catalog.ClaimTask("t-1", "b", 150, 180));
  EXPECT_TRUE(*catalog.ClaimTask("t-1", "b", 201, 230));
  EXPECT_THAT(claimable("a", 202), ElementsAre("t-2"));

  // Writing the task's record leaves its lease alone.
  TaskRecord t1 = *catalog.GetTask("t-1");
  t1.progress = 50;
  ASSERT_TRUE(catalog.UpdateTask(t1).ok());
  EXPECT_FALSE(*catalog.ClaimTask("t-1", "a", 203, 240));

  // A node that stops gives its leases back at once.
  ASSERT_TRUE(catalog.ReleaseTaskLeases("b").ok());
  EXPECT_TRUE(*catalog.ClaimTask("t-1", "a", 204, 240));

  // Only Processing tasks are leased.
  EXPECT_FALSE(*catalog.ClaimTask("t-3", "a", 204, 240));
  EXPECT_FALSE(*catalog.ClaimTask("t-missing", "a", 204, 240));
  t1.status = "Finished";
  ASSERT_TRUE(catalog.UpdateTask(t1).ok());
  EXPECT_THAT(claimable("b", 300), ElementsAre("t-2"));

  // Nodes claiming one task at once: one gets it.
  std::vector<std::thread> nodes;
  std::atomic<int> won{0};
  for (int i = 0; i < 8; ++i) {
    nodes.emplace_back([&, i] {
      Result<bool> claimed = catalog.ClaimTask("t-2", "node-" + std::to_string(i), 400, 430);
      EXPECT_TRUE(claimed.ok()) << claimed.status().ToString();
      if (claimed.ok() && *claimed) ++won;
    });
  }
  for (std::thread& n : nodes) n.join();
  EXPECT_EQ(won.load(), 1);
}

// --- copy slots ---

TYPED_TEST(CatalogContractTest, AtMostNCopiesHoldASlotInTheRegion) {
  auto& catalog = *this->catalog_;
  for (int i = 1; i <= 5; ++i) {
    const std::string id = "t-" + std::to_string(i);
    ASSERT_TRUE(catalog.InsertTask(Task(id, "Processing", i)).ok());
    // Copies run on two nodes; every lease lives until 200.
    ASSERT_TRUE(*catalog.ClaimTask(id, i % 2 ? "a" : "b", 100, 200));
  }
  EXPECT_TRUE(*catalog.TakeCopySlot("t-1", 100, 2));
  EXPECT_TRUE(*catalog.TakeCopySlot("t-2", 100, 2));
  EXPECT_FALSE(*catalog.TakeCopySlot("t-3", 100, 2)) << "two run in the region, whichever node runs them";
  EXPECT_TRUE(*catalog.TakeCopySlot("t-1", 100, 2)) << "a slot held is held";

  ASSERT_TRUE(catalog.ReleaseCopySlot("t-1").ok());
  ASSERT_TRUE(catalog.ReleaseCopySlot("t-1").ok()) << "releasing twice is OK";
  EXPECT_TRUE(*catalog.TakeCopySlot("t-3", 100, 2));
  EXPECT_FALSE(*catalog.TakeCopySlot("t-4", 100, 2));

  // A copy that ended gives its slot back even if its node never said so.
  TaskRecord t2 = *catalog.GetTask("t-2");
  t2.status = "Finished";
  ASSERT_TRUE(catalog.UpdateTask(t2).ok());
  EXPECT_TRUE(*catalog.TakeCopySlot("t-4", 100, 2));
  EXPECT_FALSE(*catalog.TakeCopySlot("t-5", 100, 2));

  // So does one whose node died: its lease expires, and its slot with it.
  ASSERT_TRUE(catalog.RenewTaskLeases("b", 300).ok());  // node a stops renewing (t-3)
  EXPECT_FALSE(*catalog.TakeCopySlot("t-5", 200, 2));
  EXPECT_TRUE(*catalog.TakeCopySlot("t-5", 201, 2));
  // The node that takes the dead node's copy over finds its slot held.
  ASSERT_TRUE(*catalog.ClaimTask("t-3", "b", 201, 300));
  EXPECT_TRUE(*catalog.TakeCopySlot("t-3", 201, 2));
  EXPECT_FALSE(*catalog.TakeCopySlot("t-1", 201, 2)) << "t-3 and t-4 run (t-5's node died too)";

  // Copies starting at once on many nodes: no more than the limit get slots.
  for (int i = 6; i <= 13; ++i) {
    const std::string id = "t-" + std::to_string(i);
    ASSERT_TRUE(catalog.InsertTask(Task(id, "Processing", i)).ok());
    ASSERT_TRUE(*catalog.ClaimTask(id, "node-" + std::to_string(i), 201, 300));
  }
  for (const char* held : {"t-3", "t-4", "t-5"}) ASSERT_TRUE(catalog.ReleaseCopySlot(held).ok());
  std::vector<std::thread> nodes;
  std::atomic<int> won{0};
  for (int i = 6; i <= 13; ++i) {
    nodes.emplace_back([&, i] {
      Result<bool> taken = catalog.TakeCopySlot("t-" + std::to_string(i), 202, 3);
      EXPECT_TRUE(taken.ok()) << taken.status().ToString();
      if (taken.ok() && *taken) ++won;
    });
  }
  for (std::thread& n : nodes) n.join();
  EXPECT_EQ(won.load(), 3);
}

// --- chunk pins and GC passes (src/region/gc_with_nodes.md) ---

namespace {
// What one DeleteChunkUnlessPinned did: deleted (remove ran) or kept.
template <typename C>
Result<bool> GcDeletes(C& catalog, const std::string& chunk, const std::string& pass, UnixSeconds now) {
  bool removed = false;
  bool deleted = false;
  RETURN_IF_ERROR(catalog.DeleteChunkUnlessPinned(
      chunk, pass, now, now + 3600,
      [&]() -> Status {
        removed = true;
        return Status::Ok();
      },
      &deleted));
  EXPECT_EQ(removed, deleted) << chunk;
  return deleted;
}
}  // namespace

TYPED_TEST(CatalogContractTest, ALivePinKeepsItsChunkFromEveryNodesGc) {
  auto& catalog = *this->catalog_;
  ASSERT_TRUE(catalog.PinChunk("c-x", "lease-1", "a", 200).ok());
  ASSERT_TRUE(catalog.PinChunk("c-x", "lease-1", "a", 200).ok()) << "pinning twice is a no-op";
  EXPECT_EQ(*catalog.LiveChunkPins("lease-1", 100), 1);
  ASSERT_TRUE(catalog.BeginGcPass("gc-b", 5000).ok());
  EXPECT_FALSE(*GcDeletes(catalog, "c-x", "gc-b", 100)) << "pinned by node a";
  EXPECT_TRUE(*GcDeletes(catalog, "c-y", "gc-b", 100)) << "nobody pinned it";

  // Node a died: its pin lapses with its lease, and the chunk is garbage.
  EXPECT_EQ(*catalog.LiveChunkPins("lease-1", 201), 0);
  EXPECT_TRUE(*GcDeletes(catalog, "c-x", "gc-b", 201));

  // A failed removal deletes nothing and says why.
  bool deleted = true;
  Status st = catalog.DeleteChunkUnlessPinned(
      "c-z", "gc-b", 201, 5000, [] { return Unavailable("the store is down"); }, &deleted);
  EXPECT_EQ(st.code(), Code::kUnavailable);
  EXPECT_FALSE(deleted);
  ASSERT_TRUE(catalog.EndGcPass("gc-b", 201).ok());
}

TYPED_TEST(CatalogContractTest, APinReleasedAfterAPassBeganKeepsItsChunkForThatPass) {
  auto& catalog = *this->catalog_;
  // Released while no pass runs: the pin is gone at once.
  ASSERT_TRUE(catalog.PinChunk("c-old", "lease-0", "a", 200).ok());
  ASSERT_TRUE(catalog.ReleaseChunkPins("lease-0", 100).ok());
  EXPECT_EQ(*catalog.LiveChunkPins("lease-0", 100), 0);

  // Race 3: pass p1 registers (and then reads manifests); node a commits a
  // manifest naming c-x and releases its pin; p1 never saw that manifest.
  ASSERT_TRUE(catalog.PinChunk("c-x", "lease-1", "a", 200).ok());
  ASSERT_TRUE(catalog.BeginGcPass("gc-1", 5000).ok());
  ASSERT_TRUE(catalog.ReleaseChunkPins("lease-1", 100).ok());
  EXPECT_EQ(*catalog.LiveChunkPins("lease-1", 100), 0) << "released";
  EXPECT_FALSE(*GcDeletes(catalog, "c-x", "gc-1", 100)) << "released after gc-1 began";
  EXPECT_TRUE(*GcDeletes(catalog, "c-old", "gc-1", 100)) << "released before gc-1 began";

  // A pass that began after the release reads the manifest: the stamp does
  // not hold it back. Its end keeps the stamps gc-1 still needs.
  ASSERT_TRUE(catalog.BeginGcPass("gc-2", 5000).ok());
  EXPECT_TRUE(*GcDeletes(catalog, "c-x", "gc-2", 100));
  ASSERT_TRUE(catalog.EndGcPass("gc-2", 100).ok());
  EXPECT_FALSE(*GcDeletes(catalog, "c-x", "gc-1", 100)) << "gc-2's end dropped a stamp gc-1 needs";
  ASSERT_TRUE(catalog.EndGcPass("gc-1", 100).ok());

  // Stamps nobody needs are gone: a new pass deletes, and so does one
  // started before the next release (no stamp lingers above its start).
  ASSERT_TRUE(catalog.BeginGcPass("gc-3", 5000).ok());
  EXPECT_TRUE(*GcDeletes(catalog, "c-x", "gc-3", 100));
  ASSERT_TRUE(catalog.EndGcPass("gc-3", 100).ok());
}

TYPED_TEST(CatalogContractTest, RenewalKeepsLivePinsButNotLapsedOnes) {
  auto& catalog = *this->catalog_;
  ASSERT_TRUE(catalog.PinChunk("c-1", "lease-1", "a", 110).ok());
  ASSERT_TRUE(catalog.PinChunk("c-2", "lease-2", "a", 104).ok());
  ASSERT_TRUE(catalog.PinChunk("c-3", "lease-3", "b", 110).ok());
  ASSERT_TRUE(catalog.RenewChunkPins("a", 105, 200).ok());
  EXPECT_EQ(*catalog.LiveChunkPins("lease-1", 150), 1);
  EXPECT_EQ(*catalog.LiveChunkPins("lease-2", 150), 0) << "lapsed at 104: GC may have deleted c-2 since";
  EXPECT_EQ(*catalog.LiveChunkPins("lease-3", 150), 0) << "node b's pins are b's to renew";

  // A node starting drops its own unreleased pins, not those of others,
  // nor the release stamps a running pass needs.
  ASSERT_TRUE(catalog.PinChunk("c-4", "lease-4", "a", 200).ok());
  ASSERT_TRUE(catalog.PinChunk("c-5", "lease-5", "b", 200).ok());
  ASSERT_TRUE(catalog.BeginGcPass("gc-1", 5000).ok());
  ASSERT_TRUE(catalog.ReleaseChunkPins("lease-4", 120).ok());
  ASSERT_TRUE(catalog.DropChunkPins("a").ok());
  EXPECT_EQ(*catalog.LiveChunkPins("lease-1", 120), 0);
  EXPECT_EQ(*catalog.LiveChunkPins("lease-5", 120), 1);
  EXPECT_FALSE(*GcDeletes(catalog, "c-4", "gc-1", 120));
  EXPECT_FALSE(*GcDeletes(catalog, "c-5", "gc-1", 120));
  EXPECT_TRUE(*GcDeletes(catalog, "c-1", "gc-1", 120));
}

TYPED_TEST(CatalogContractTest, ALapsedGcPassDeletesNothing) {
  auto& catalog = *this->catalog_;
  ASSERT_TRUE(catalog.BeginGcPass("gc-slow", 100).ok());
  // Each delete renews the pass.
  EXPECT_TRUE(*GcDeletes(catalog, "c-1", "gc-slow", 100));
  EXPECT_TRUE(*GcDeletes(catalog, "c-2", "gc-slow", 3000));
  // A pass that lapsed may have lost stamps to another pass's end.
  ASSERT_TRUE(catalog.BeginGcPass("gc-fast", 9000).ok());
  ASSERT_TRUE(catalog.EndGcPass("gc-fast", 6601).ok());
  Result<bool> late = GcDeletes(catalog, "c-3", "gc-slow", 6601);
  ASSERT_FALSE(late.ok());
  EXPECT_EQ(late.status().code(), Code::kAborted);
  Result<bool> unknown = GcDeletes(catalog, "c-3", "gc-never-began", 100);
  EXPECT_EQ(unknown.status().code(), Code::kAborted);
}

TYPED_TEST(CatalogContractTest, PinsTakenWhileGcDeletesAreEitherSeenOrTakenAfterTheDelete) {
  // Race 2 in the catalog: node a pins chunks while node b's GC deletes
  // them. Each pin commits either before b's delete (which then keeps the
  // chunk) or after it (and a then finds the chunk gone and writes it).
  auto& catalog = *this->catalog_;
  ASSERT_TRUE(catalog.BeginGcPass("gc-b", 5000).ok());
  constexpr int kChunks = 40;
  std::vector<std::atomic<int>> pinned_at(kChunks);   // order stamp of the pin's commit
  std::vector<std::atomic<int>> deleted_at(kChunks);  // order stamp of the delete, 0 if kept
  std::atomic<int> clock{1};
  std::thread pinner([&] {
    for (int i = 0; i < kChunks; ++i) {
      ASSERT_TRUE(catalog.PinChunk("c-" + std::to_string(i), "lease-a", "a", 1000).ok());
      pinned_at[i] = clock++;
    }
  });
  std::thread gc([&] {
    for (int i = 0; i < kChunks; ++i) {
      bool deleted = false;
      ASSERT_TRUE(catalog
                      .DeleteChunkUnlessPinned(
                          "c-" + std::to_string(i), "gc-b", 100, 5000,
                          [&] {
                            deleted_at[i] = clock++;
                            return Status::Ok();
                          },
                          &deleted)
                      .ok());
    }
  });
  pinner.join();
  gc.join();
  for (int i = 0; i < kChunks; ++i) {
    if (deleted_at[i] != 0) {
      EXPECT_GT(pinned_at[i].load(), deleted_at[i].load()) << "chunk " << i;
    }
  }
}

// --- transactions ---

TYPED_TEST(CatalogContractTest, TransactRollsBackOnError) {
  Status st = this->catalog_->Transact([&]() -> Status {
    RETURN_IF_ERROR(this->catalog_->InsertImage(Image("m-1", "a", "x")));
    RETURN_IF_ERROR(this->catalog_->InsertTask(Task("t-1", "Processing", 1)));
    EXPECT_TRUE(this->catalog_->GetImage("m-1").ok());  // visible inside
    return FailedPrecondition("", "changed my mind");
  });
  EXPECT_EQ(st.code(), Code::kFailedPrecondition);
  EXPECT_EQ(st.message(), "changed my mind");
  EXPECT_EQ(this->catalog_->GetImage("m-1").status().code(), Code::kNotFound);
  EXPECT_EQ(this->catalog_->GetTask("t-1").status().code(), Code::kNotFound);
}

TYPED_TEST(CatalogContractTest, NestedTransactJoinsOuter) {
  Status st = this->catalog_->Transact([&]() -> Status {
    RETURN_IF_ERROR(this->catalog_->InsertImage(Image("m-1", "a", "x")));
    return this->catalog_->Transact([&] { return this->catalog_->InsertImage(Image("m-2", "a", "y")); });
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(this->catalog_->GetImage("m-1").ok());
  EXPECT_TRUE(this->catalog_->GetImage("m-2").ok());

  // The outer failure undoes the nested call's committed-looking work.
  st = this->catalog_->Transact([&]() -> Status {
    RETURN_IF_ERROR(
        this->catalog_->Transact([&] { return this->catalog_->InsertImage(Image("m-3", "a", "z")); }));
    return Aborted("", "outer fails");
  });
  EXPECT_EQ(st.code(), Code::kAborted);
  EXPECT_EQ(this->catalog_->GetImage("m-3").status().code(), Code::kNotFound);
}

TYPED_TEST(CatalogContractTest, FailedCallInsideTransactLeavesTheRestIntact) {
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-1", "a", "web")).ok());
  Status st = this->catalog_->Transact([&]() -> Status {
    RETURN_IF_ERROR(this->catalog_->InsertImage(Image("m-2", "a", "db")));
    Status dup = this->catalog_->InsertImage(Image("m-3", "a", "web"));
    EXPECT_EQ(dup.reason(), "InvalidImageName.Duplicated");
    return this->catalog_->InsertImage(Image("m-4", "a", "cache"));
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(this->catalog_->GetImage("m-2").ok());
  EXPECT_EQ(this->catalog_->GetImage("m-3").status().code(), Code::kNotFound);
  EXPECT_TRUE(this->catalog_->GetImage("m-4").ok());
}

TYPED_TEST(CatalogContractTest, ConcurrentTransactionsDoNotLoseUpdates) {
  ASSERT_TRUE(this->catalog_->InsertImage(Image("m-counter", "a", "")).ok());
  constexpr int kThreads = 4;
  constexpr int kIncrements = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        Status st = this->catalog_->Transact([&]() -> Status {
          ASSIGN_OR_RETURN(ImageRecord r, this->catalog_->GetImage("m-counter"));
          ++r.progress;
          return this->catalog_->UpdateImage(r);
        });
        if (!st.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(this->catalog_->GetImage("m-counter")->progress, kThreads * kIncrements);
}

// --- durability ---

TYPED_TEST(CatalogContractTest, DataSurvivesReopen) {
  ASSERT_TRUE(this->catalog_->InsertImage(FullImage()).ok());
  ASSERT_TRUE(this->catalog_->InsertSnapshot(FullSnapshot()).ok());
  ASSERT_TRUE(this->catalog_->InsertTask(Task("t-1", "Processing", 1)).ok());
  ASSERT_TRUE(this->catalog_->PutClientToken("a", "CopyImage", "tok", {"fp", "m-1"}).ok());

  this->Reopen();  // re-running the schema migration here would fail
  auto image = this->catalog_->GetImage("m-full");
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ExpectSameImage(FullImage(), *image);
  auto snap = this->catalog_->GetSnapshot("s-full");
  ASSERT_TRUE(snap.ok());
  ExpectSameSnapshot(FullSnapshot(), *snap, true);
  EXPECT_EQ(this->catalog_->GetTask("t-1")->status, "Processing");
  EXPECT_EQ(this->catalog_->GetClientToken("a", "CopyImage", "tok")->result_id, "m-1");
  // The uniqueness index came back with the file.
  EXPECT_EQ(this->catalog_->InsertImage(Image("m-2", FullImage().account_id, "web-server")).reason(),
            "InvalidImageName.Duplicated");
}

TEST_F(SqliteCatalogTest, TasksOfASchemaWithoutAttemptsAreMigratedWithZero) {
  ASSERT_TRUE(catalog_->InsertTask(Task("t-1", "Processing", 1)).ok());
  catalog_.reset();
  {
    // Back to schema version 2, as a catalog written before task attempts.
    auto db = SqliteDb::Open(location_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("ALTER TABLE tasks DROP COLUMN attempts").ok());
    ASSERT_TRUE((*db)->Exec("DROP TABLE image_shares").ok());  // version 4
    // And without what version 5 added (instances and disks).
    ASSERT_TRUE((*db)->Exec("DROP TABLE instances; DROP TABLE disks").ok());
    ASSERT_TRUE((*db)->Exec("ALTER TABLE snapshots DROP COLUMN source_disk_id").ok());  // version 6
    ASSERT_TRUE((*db)->Exec(kUndoSchemaNineOn).ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 2").ok());
  }
  Reopen();
  Result<TaskRecord> t = catalog_->GetTask("t-1");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->status, "Processing");
  EXPECT_EQ(t->attempts, 0);
  t->attempts = 1;
  ASSERT_TRUE(catalog_->UpdateTask(*t).ok());
  EXPECT_EQ(catalog_->GetTask("t-1")->attempts, 1);
}

TEST_F(SqliteCatalogTest, SnapshotsOfASchemaWithoutSourceDiskAreMigratedWithNone) {
  SnapshotRecord before;
  before.snapshot_id = "s-old";
  before.account_id = "a";
  ASSERT_TRUE(catalog_->InsertSnapshot(before).ok());
  catalog_.reset();
  {
    // Back to schema version 5, as a catalog written before disk snapshots.
    auto db = SqliteDb::Open(location_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("ALTER TABLE snapshots DROP COLUMN source_disk_id").ok());
    ASSERT_TRUE((*db)
                    ->Exec("ALTER TABLE instances DROP COLUMN tags; "
                           "ALTER TABLE instances DROP COLUMN instance_charge_type; "
                           "ALTER TABLE instances DROP COLUMN expired_time")
                    .ok());  // version 7
    ASSERT_TRUE((*db)->Exec(kUndoSchemaNineOn).ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 5").ok());
  }
  Reopen();
  Result<SnapshotRecord> old = catalog_->GetSnapshot("s-old");
  ASSERT_TRUE(old.ok()) << old.status().ToString();
  EXPECT_EQ(old->source_disk_id, "");
  SnapshotRecord disk_snap;
  disk_snap.snapshot_id = "s-disk";
  disk_snap.account_id = "a";
  disk_snap.source_disk_id = "d-1";
  disk_snap.manifest = {1, 2, 3};
  ASSERT_TRUE(catalog_->InsertSnapshot(disk_snap).ok());
  Result<SnapshotRecord> got = catalog_->GetSnapshot("s-disk");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->source_disk_id, "d-1");
  EXPECT_EQ(got->manifest, (std::vector<uint8_t>{1, 2, 3}));
  SnapshotQuery q;
  q.source_disk_id = "d-1";
  Result<Page<SnapshotRecord>> listed = catalog_->ListSnapshots(q);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].snapshot_id, "s-disk");
  EXPECT_EQ(listed->items[0].source_disk_id, "d-1");
}

TEST_F(SqliteCatalogTest, RefusesSchemaFromTheFuture) {
  catalog_.reset();
  {
    auto db = SqliteDb::Open(location_);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 99").ok());
  }
  auto c = SqliteCatalog::Open(location_);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kFailedPrecondition);
  EXPECT_THAT(c.status().message(), HasSubstr("99"));
}

TEST_F(SqliteCatalogTest, OpenFailsForUnwritablePath) {
  auto c = SqliteCatalog::Open(engine_.dir_ + "/no/such/dir/catalog.db");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("no/such/dir"));
}

}  // namespace
}  // namespace ferry
