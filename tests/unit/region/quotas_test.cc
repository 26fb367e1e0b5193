// Per-account quotas: the rules (CheckQuota) and each entry point that
// enforces them (ImportImage, CreateImage, ExportImage, AcceptCopy), against
// a real RegionImpl; and staging objects released when their import ends.
#include "region/quotas.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

TEST(CheckQuotaTest, EachLimitHasItsDocumentedCode) {
  QuotaLimits limits{2, 3, 1, 100};
  QuotaUsage usage{2, 0, 0, 0};
  EXPECT_EQ(CheckQuota(limits, usage, QuotaUsage{1, 0, 0, 0}, "a", "ImportImage").reason(),
            "QuotaExceed.Image");
  usage = QuotaUsage{0, 2, 0, 0};
  EXPECT_EQ(CheckQuota(limits, usage, QuotaUsage{1, 2, 0, 0}, "a", "ImportImage").reason(),
            "QuotaExceed.Snapshot");
  EXPECT_TRUE(CheckQuota(limits, usage, QuotaUsage{1, 1, 0, 0}, "a", "ImportImage").ok());
  usage = QuotaUsage{0, 0, 1, 0};
  Status tasks = CheckQuota(limits, usage, QuotaUsage{0, 0, 1, 0}, "a", "ExportImage");
  EXPECT_EQ(tasks.reason(), "ConcurrentQuotaExceed.ExportImage");
  EXPECT_EQ(tasks.code(), Code::kResourceExhausted);
  usage = QuotaUsage{0, 0, 0, 60};
  Status bytes = CheckQuota(limits, usage, QuotaUsage{0, 0, 0, 41}, "a", "ImportImage");
  EXPECT_EQ(bytes.reason(), "QuotaExceed.Storage");
  EXPECT_NE(bytes.message().find("60 + 41 > 100"), std::string::npos) << bytes.message();
  EXPECT_TRUE(CheckQuota(limits, usage, QuotaUsage{0, 0, 0, 40}, "a", "ImportImage").ok());
  // Already over (the limit was lowered): nothing more, not even 0 bytes.
  usage.stored_bytes = 101;
  EXPECT_EQ(CheckQuota(limits, usage, QuotaUsage{0, 0, 0, 0}, "a", "ImportImage").reason(),
            "QuotaExceed.Storage");
}

TEST(CheckQuotaTest, ZeroIsUnlimitedAndPublicImagesAreExempt) {
  QuotaLimits none;
  QuotaUsage huge{1u << 30, 1u << 30, 1u << 30, UINT64_MAX / 2};
  EXPECT_TRUE(CheckQuota(none, huge, QuotaUsage{1, 1, 1, UINT64_MAX / 2}, "a", "ImportImage").ok());
  QuotaLimits tight{1, 1, 1, 1};
  EXPECT_TRUE(CheckQuota(tight, huge, QuotaUsage{1, 1, 1, 1}, kSystemAccountId, "ImportImage").ok());
}

class RegionQuotaTest : public RegionFixture {
 protected:
  void Open(QuotaLimits limits) {
    RegionConfig c = Config();
    c.task_threads = 2;
    c.quotas = limits;
    oss_->set_max_account_bytes(limits.stored_bytes);
    OpenRegion(c);
  }

  // `data_mib` MiB of non-zero data, as a raw disk in `bucket`.
  void PutDisk(const std::string& object, uint64_t data_mib, const std::string& bucket = "alice-in") {
    std::string path = dir_ + "/oss/" + bucket + "/" + object;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    std::string data(data_mib * kMiB, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(1 + (i * 7 + object.size()) % 251);
    ASSERT_TRUE(
        PwriteFull(fd.get(), reinterpret_cast<const uint8_t*>(data.data()), data.size(), 0, path).ok());
  }

  ImportImageRequest Request(const std::string& object, const std::string& name, size_t disks = 1) {
    ImportImageRequest req;
    for (size_t i = 0; i < disks; ++i) req.disks.push_back(ImportDisk{"alice-in", object, "RAW", 0});
    req.image_name = name;
    return req;
  }

  // The task of `resource_id` (CreateImage from an instance has no TaskId
  // in its answer).
  std::string TaskFor(const std::string& resource_id) {
    TaskQuery q;
    q.resource_ids = {resource_id};
    Result<Page<TaskRecord>> tasks = region_->catalog().ListTasks(q);
    return tasks.ok() && !tasks->items.empty() ? tasks->items[0].task_id : "";
  }

  bool ObjectExists(const std::string& bucket, const std::string& object) {
    return oss_->PathForRead(kAlice.account_id, bucket, object).ok();
  }
};

TEST_F(RegionQuotaTest, ImportImageStopsAtTheImageQuota) {
  Open(QuotaLimits{2, 0, 0, 0});
  PutDisk("disk.raw", 1);
  ImportAndWait(Request("disk.raw", "one"));
  ImportAndWait(Request("disk.raw", "two"));
  Result<ImportImageResult> third = region_->ImportImage(kAlice, Request("disk.raw", "three"));
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.status().reason(), "QuotaExceed.Image");
  EXPECT_NE(third.status().message().find("(2)"), std::string::npos) << third.status().message();
  // Nothing of the refused call was recorded, and another account is not affected.
  ImageQuery q;
  q.account_id = kAlice.account_id;
  q.include_system = false;
  EXPECT_EQ(region_->catalog().ListImages(q)->total, 2u);
  PutDisk("disk.raw", 1, "bob-in");
  ImportImageRequest bob = Request("disk.raw", "bob");
  bob.disks[0].oss_bucket = "bob-in";
  EXPECT_TRUE(region_->ImportImage(kBob, bob).ok());
}

TEST_F(RegionQuotaTest, ImportImageStopsAtTheSnapshotQuota) {
  Open(QuotaLimits{0, 3, 0, 0});
  PutDisk("disk.raw", 1);
  ImportAndWait(Request("disk.raw", "two-disks", 2));
  Result<ImportImageResult> r = region_->ImportImage(kAlice, Request("disk.raw", "two-more", 2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "QuotaExceed.Snapshot");
  ImportAndWait(Request("disk.raw", "one-more", 1));  // exactly at the limit
}

TEST_F(RegionQuotaTest, CreateImageStopsAtTheImageQuota) {
  Open(QuotaLimits{1, 0, 0, 0});
  PutDisk("disk.raw", 1);
  std::string image_id = ImportAndWait(Request("disk.raw", "base"));
  Result<ImageRecord> image = region_->catalog().GetImage(image_id);
  ASSERT_TRUE(image.ok());
  CreateImageRequest req;
  req.snapshot_id = image->disks[0].snapshot_id;
  req.image_name = "from-snapshot";
  Result<std::string> created = region_->CreateImage(kAlice, req);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().reason(), "QuotaExceed.Image");
}

TEST_F(RegionQuotaTest, RunningTasksAreLimitedPerAccount) {
  Open(QuotaLimits{0, 0, 1, 0});
  PutDisk("disk.raw", 1);
  gate_.Arm();
  Result<ImportImageResult> first = region_->ImportImage(kAlice, Request("disk.raw", "first"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(gate_.WaitArrived());
  Result<ImportImageResult> second = region_->ImportImage(kAlice, Request("disk.raw", "second"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().reason(), "ConcurrentQuotaExceed.ImportImage");
  gate_.Open();
  EXPECT_EQ(WaitTask(kAlice, first->task_id).status, "Finished");
  // Ended tasks no longer count.
  std::string again = ImportAndWait(Request("disk.raw", "second"));
  EXPECT_FALSE(again.empty());

  // An export is a task too.
  gate_.Arm();
  Result<ImportImageResult> held = region_->ImportImage(kAlice, Request("disk.raw", "held"));
  ASSERT_TRUE(held.ok());
  ASSERT_TRUE(gate_.WaitArrived());
  Result<std::string> exp =
      region_->ExportImage(kAlice, ExportImageRequest{again, "alice-out", "exp", "raw"});
  ASSERT_FALSE(exp.ok());
  EXPECT_EQ(exp.status().reason(), "ConcurrentQuotaExceed.ExportImage");
  gate_.Open();
  EXPECT_EQ(WaitTask(kAlice, held->task_id).status, "Finished");
}

TEST_F(RegionQuotaTest, StoredBytesCountLogicalSnapshotDataAndObjects) {
  // 20 MiB: a 4 MiB object plus the 4 MiB snapshot of its import fit, a
  // second import of it (another 4 MiB, estimated from the object) fits,
  // then the account holds 12 MiB of the 20 and a 9 MiB object cannot be
  // imported (12 + 9 > 20).
  Open(QuotaLimits{0, 0, 0, 20 * kMiB});
  PutDisk("disk.raw", 4);
  ImportAndWait(Request("disk.raw", "img-a"));
  // The second import has identical content: deduplicated chunks, but the
  // quota counts its logical bytes again (never what others share).
  ImportAndWait(Request("disk.raw", "img-b"));
  Result<uint64_t> stored = oss_->AccountStoredBytes(kAlice.account_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_GE(*stored, 12 * kMiB);
  EXPECT_LT(*stored, 13 * kMiB);
  PutDisk("big.raw", 9);
  Result<ImportImageResult> r = region_->ImportImage(kAlice, Request("big.raw", "big"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "QuotaExceed.Storage");
  // Bob's usage is his own.
  Result<uint64_t> bob = oss_->AccountStoredBytes(kBob.account_id);
  ASSERT_TRUE(bob.ok());
  EXPECT_EQ(*bob, 0u);
}

// CreateSnapshot and CreateImage from an instance store the disks' data again
// (logically): refused at the call when it would not fit, with the code
// imports use; a committed snapshot then counts its data bytes.
TEST_F(RegionQuotaTest, DiskSnapshotsAreRefusedWhenTheyWouldNotFitAndCountOnceCommitted) {
  Open(QuotaLimits{0, 0, 0, 14 * kMiB});
  PutDisk("disk.raw", 4);
  const std::string image_id = ImportAndWait(Request("disk.raw", "img-a"));  // 4 MiB object + 4 MiB snapshot
  RunInstancesRequest run;
  run.image_id = image_id;
  run.instance_type = "ecs.g6.large";
  run.start = false;
  Result<std::vector<std::string>> ids = region_->RunInstances(kAlice, run);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  const std::string instance = (*ids)[0];
  ASSERT_TRUE(WaitFor([&] { return region_->catalog().GetInstance(instance)->status == "Stopped"; }));
  DescribeDisksRequest dq;
  dq.instance_id = instance;
  Result<Page<DiskRecord>> disks = region_->DescribeDisks(kAlice, dq);
  ASSERT_TRUE(disks.ok() && disks->items.size() == 1);
  const std::string disk_id = disks->items[0].disk_id;
  auto stored = [&] { return oss_->AccountStoredBytes(kAlice.account_id).value(); };
  const uint64_t before = stored();
  EXPECT_GE(before, 8 * kMiB);
  EXPECT_LT(before, 9 * kMiB);

  // 8 + about 4 fits in 14.
  CreateSnapshotRequest snap;
  snap.disk_id = disk_id;
  Result<std::string> first = region_->CreateSnapshot(kAlice, snap);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  WaitFor([&] { return region_->catalog().GetSnapshot(*first)->status == "accomplished"; });
  ASSERT_EQ(region_->catalog().GetSnapshot(*first)->status, "accomplished");
  EXPECT_EQ(stored(), before + 4 * kMiB) << "the committed snapshot counts its data, as if unshared";

  // 12 + about 4 does not.
  Result<std::string> second = region_->CreateSnapshot(kAlice, snap);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().reason(), "QuotaExceed.Storage") << second.status().ToString();
  CreateImageRequest image_req;
  image_req.instance_id = instance;
  Result<std::string> image = region_->CreateImage(kAlice, image_req);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().reason(), "QuotaExceed.Storage") << image.status().ToString();
  // Nothing was recorded for them.
  SnapshotQuery sq;
  sq.account_id = kAlice.account_id;
  EXPECT_EQ(region_->catalog().ListSnapshots(sq)->total, 2u);
  // Bob asking about Alice's disk learns nothing from the quota.
  EXPECT_EQ(region_->CreateSnapshot(kBob, snap).status().reason(), "InvalidDiskId.NotFound");

  // Deleting the uploaded object makes room for the image.
  ASSERT_TRUE(oss_->DeleteObject(kAlice.account_id, "alice-in", "disk.raw").ok());
  image = region_->CreateImage(kAlice, image_req);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(WaitTask(kAlice, TaskFor(*image)).status, "Finished");
  EXPECT_EQ(stored(), before + 4 * kMiB) << "the object's 4 MiB went, the image's snapshot's 4 MiB came";
}

TEST_F(RegionQuotaTest, ExportImageIsRefusedWhenTheExportWouldNotFit) {
  Open(QuotaLimits{0, 0, 0, 10 * kMiB});
  PutDisk("disk.raw", 4);
  std::string image_id = ImportAndWait(Request("disk.raw", "img-a"));  // 8 MiB stored
  Result<std::string> exp =
      region_->ExportImage(kAlice, ExportImageRequest{image_id, "alice-out", "exp", "raw"});
  ASSERT_FALSE(exp.ok());
  EXPECT_EQ(exp.status().reason(), "QuotaExceed.Storage");
  // Deleting the uploaded object makes room.
  ASSERT_TRUE(oss_->DeleteObject(kAlice.account_id, "alice-in", "disk.raw").ok());
  Result<std::string> ok =
      region_->ExportImage(kAlice, ExportImageRequest{image_id, "alice-out", "exp", "raw"});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(WaitTask(kAlice, *ok).status, "Finished");
}

TEST_F(RegionQuotaTest, AcceptCopyChecksTheDestinationsQuotas) {
  Open(QuotaLimits{1, 0, 0, 0});
  PutDisk("disk.raw", 1);
  std::string image_id = ImportAndWait(Request("disk.raw", "img-a"));
  Result<ImageRecord> image = region_->catalog().GetImage(image_id);
  Result<SnapshotRecord> snap = region_->catalog().GetSnapshot(image->disks[0].snapshot_id);
  ASSERT_TRUE(snap.ok());
  CopyTarget t;
  t.account_id = kAlice.account_id;
  t.source_region_id = "cn-shanghai";
  t.source_image = *image;
  t.source_snapshots = {*snap};
  t.image_name = "copy";
  Result<std::string> accepted = region_->AcceptCopy(t);
  ASSERT_FALSE(accepted.ok());
  EXPECT_EQ(accepted.status().reason(), "QuotaExceed.Image");
}

TEST_F(RegionQuotaTest, AStagingObjectIsDeletedWhenItsImportEnds) {
  Open(QuotaLimits{});
  PutDisk("staged.raw", 1);
  PutDisk("kept.raw", 1);
  ASSERT_TRUE(oss_->SetStaging(kAlice.account_id, "alice-in", "staged.raw", true).ok());
  ImportAndWait(Request("staged.raw", "staged"));
  ImportAndWait(Request("kept.raw", "kept"));
  // The release runs just after the task's final record: poll briefly.
  EXPECT_TRUE(WaitFor([&] { return !ObjectExists("alice-in", "staged.raw"); }, std::chrono::seconds(30)));
  EXPECT_TRUE(ObjectExists("alice-in", "kept.raw"));

  // A failed import gives its staging object back too.
  std::string path = dir_ + "/oss/alice-in/bad.qcow2";
  ASSERT_TRUE(WriteFileAtomic(path, std::string(4096, 'z')).ok());
  ASSERT_TRUE(oss_->SetStaging(kAlice.account_id, "alice-in", "bad.qcow2", true).ok());
  ImportImageRequest bad = Request("bad.qcow2", "bad");
  bad.disks[0].format = "QCOW2";
  Result<ImportImageResult> r = region_->ImportImage(kAlice, bad);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(WaitTask(kAlice, r->task_id).status, "Failed");
  EXPECT_TRUE(WaitFor([&] { return !ObjectExists("alice-in", "bad.qcow2"); }, std::chrono::seconds(30)));
}

TEST_F(RegionQuotaTest, AClaimWhoseTaskEndedWhileDownIsReleasedAtOpen) {
  Open(QuotaLimits{});
  PutDisk("staged.raw", 1);
  std::string image_id = ImportAndWait(Request("staged.raw", "staged"));
  TaskQuery q;
  q.account_id = kAlice.account_id;
  Result<Page<TaskRecord>> tasks = region_->catalog().ListTasks(q);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->items.size(), 1u);
  region_.reset();
  // As if the process had died between the task's end and the release.
  ASSERT_TRUE(oss_->SetStaging(kAlice.account_id, "alice-in", "staged.raw", true).ok());
  ASSERT_TRUE(oss_->ClaimStaging(kAlice.account_id, "alice-in", "staged.raw", tasks->items[0].task_id).ok());
  Open(QuotaLimits{});
  EXPECT_FALSE(ObjectExists("alice-in", "staged.raw"));
}

}  // namespace
}  // namespace ferry
