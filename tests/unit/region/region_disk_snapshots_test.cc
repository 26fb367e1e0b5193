// RegionImpl's disk snapshots (region_disk_snapshots.cc): CreateSnapshot,
// CreateImage from an instance, DeleteSnapshot of a snapshot disks were
// made from — against the real catalog, chunk store and DiskStore in a
// scratch directory, with qemu-img and qemu-io as installed.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "common/hash.h"
#include "region/subprocess.h"
#include "store/manifest.h"
#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

constexpr uint64_t kChunk = 4 * kMiB;  // RegionConfig's default chunk size

class RegionDiskSnapshotsTest : public RegionFixture {
 protected:
  void SetUp() override { SetUpWithBaseImage("Ubuntu"); }
  // One instance of image_id_, with user data and a RAM role; running or
  // stopped as asked.
  std::string RunOne(bool start = true) {
    RunInstancesRequest r = Run(1);
    r.user_data = "IyEvYmluL3NoCmVjaG8gc2VjcmV0";
    r.ram_role_name = "SecretRole";
    r.start = start;
    std::vector<std::string> ids = RunAndWait(r);
    EXPECT_EQ(ids.size(), 1u);
    return ids.size() == 1 ? ids[0] : "";
  }
  void QemuIoWrite(const std::string& disk_id, uint64_t offset, uint64_t len) {
    Result<std::string> path = region_->disk_store().DiskPath(disk_id);
    ASSERT_TRUE(path.ok()) << path.status().ToString();
    auto run = RunProcess({"qemu-io", "-f", "qcow2", "-c",
                           "write -P 0xab " + std::to_string(offset) + " " + std::to_string(len), *path});
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_EQ(run->exit_code, 0) << run->stderr_text << run->stdout_text;
  }
  std::set<std::string> StoredChunks() {
    std::set<std::string> out;
    EXPECT_TRUE(region_->chunk_store().List([&](const ChunkId& id) { out.insert(ToHex(id)); }).ok());
    return out;
  }
  Manifest ManifestOf(const std::string& snapshot_id) {
    Result<Manifest> m = DecodeManifest(Snapshot(snapshot_id).manifest);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : Manifest{};
  }
  // The data chunk ids of `m` by chunk index.
  static std::map<uint64_t, std::string> DataChunks(const Manifest& m) {
    std::map<uint64_t, std::string> out;
    uint64_t index = 0;
    for (const ChunkEntry& e : m.entries) {
      if (!e.zero) out[index] = ToHex(e.id);
      index += e.count;
    }
    return out;
  }

  // The one task of `resource_id` (a snapshot or an image).
  TaskRecord TaskOf(const std::string& resource_id) {
    TaskQuery q;
    q.resource_ids = {resource_id};
    Result<Page<TaskRecord>> tasks = region_->catalog().ListTasks(q);
    EXPECT_TRUE(tasks.ok() && tasks->items.size() == 1) << resource_id;
    return tasks.ok() && tasks->items.size() == 1 ? tasks->items[0] : TaskRecord{};
  }
  // Files in the DiskStore's tmp/ (a snapshot's raw view lives there while
  // it is read).
  size_t DiskTempFiles() {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(region_->disk_store().root() + "/tmp", ec)) {
      (void)e;
      ++n;
    }
    return n;
  }
};

TEST_F(RegionDiskSnapshotsTest, CreateImageFromInstanceStoresExactlyTheChangedChunks) {
  const std::string instance = RunOne();
  const DiskRecord disk = SystemDisk(instance);
  // Chunk 0 held the image's data and changes; chunk 2 was a hole and gets
  // data. Every other chunk stays as the image had it.
  QemuIoWrite(disk.disk_id, 512 * 1024, 4096);
  QemuIoWrite(disk.disk_id, 2 * kChunk + 8192, 65536);
  const std::set<std::string> before = StoredChunks();
  ASSERT_EQ(before.size(), 1u);  // the image's one data chunk

  CreateImageRequest req;
  req.instance_id = instance;
  req.image_name = "from-instance";
  Result<std::string> image_id = region_->CreateImage(kAlice, req);
  ASSERT_TRUE(image_id.ok()) << image_id.status().ToString();
  EXPECT_TRUE(LooksLikeResourceId(*image_id, "m")) << *image_id;
  const std::string first_status = Image(*image_id).status;
  EXPECT_TRUE(first_status == "Creating" || first_status == "Available") << first_status;
  ASSERT_TRUE(WaitFor([&] { return Image(*image_id).status == "Available"; })) << Image(*image_id).status;

  const ImageRecord image = Image(*image_id);
  EXPECT_EQ(image.platform, "Ubuntu");  // from the instance's image
  EXPECT_EQ(image.size_gib, 20u);
  ASSERT_EQ(image.disks.size(), 1u);
  EXPECT_EQ(image.disks[0].type, "system");
  EXPECT_EQ(image.disks[0].size_gib, 20u);
  const SnapshotRecord snap = Snapshot(image.disks[0].snapshot_id);
  EXPECT_EQ(snap.status, "accomplished");
  EXPECT_EQ(snap.progress, 100);
  EXPECT_EQ(snap.source_disk_id, disk.disk_id);
  EXPECT_EQ(snap.source_disk_type, "system");
  EXPECT_EQ(snap.source_disk_size_gib, 20u);
  EXPECT_EQ(snap.usage, "image");
  EXPECT_EQ(snap.logical_size, 20ull << 30);

  // Exactly the two changed chunks are new in the store, and they are the
  // new manifest's chunks 0 and 2.
  const std::set<std::string> after = StoredChunks();
  std::set<std::string> added;
  for (const std::string& id : after)
    if (before.count(id) == 0) added.insert(id);
  const std::map<uint64_t, std::string> chunks = DataChunks(ManifestOf(snap.snapshot_id));
  ASSERT_EQ(chunks.size(), 2u);
  ASSERT_EQ(chunks.count(0), 1u);
  ASSERT_EQ(chunks.count(2), 1u);
  EXPECT_EQ(added, (std::set<std::string>{chunks.at(0), chunks.at(2)}));
  EXPECT_EQ(before.count(chunks.at(0)), 0u);

  // The image's task is an internal one: DescribeTasks (ImportImage and
  // ExportImage by default) does not show it.
  TaskQuery tq;
  tq.resource_ids = {*image_id};
  Result<Page<TaskRecord>> tasks = region_->catalog().ListTasks(tq);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->items.size(), 1u);
  EXPECT_EQ(tasks->items[0].action, "CreateImage");
  EXPECT_EQ(tasks->items[0].status, "Finished");
}

TEST_F(RegionDiskSnapshotsTest, CreateImageFromInstanceChecksTheInstance) {
  CreateImageRequest req;
  req.instance_id = "i-doesnotexist00000000";
  Result<std::string> missing = region_->CreateImage(kAlice, req);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().reason(), "InvalidInstanceId.NotFound");

  const std::string instance = RunOne();
  req.instance_id = instance;
  Result<std::string> stranger = region_->CreateImage(kBob, req);
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.status().reason(), "InvalidInstanceId.NotFound");

  ASSERT_TRUE(region_->StopInstance(kAlice, instance, false).ok());
  // Stopping is neither Running nor Stopped.
  Result<std::string> stopping = region_->CreateImage(kAlice, req);
  if (region_->catalog().GetInstance(instance)->status == "Stopping") {
    ASSERT_FALSE(stopping.ok());
    EXPECT_EQ(stopping.status().reason(), "IncorrectInstanceStatus");
  }
  ASSERT_TRUE(WaitFor([&] { return region_->catalog().GetInstance(instance)->status == "Stopped"; }));
  req.image_name = "base-image";  // taken by the imported image
  Result<std::string> dup = region_->CreateImage(kAlice, req);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().reason(), "InvalidImageName.Duplicated");
  req.image_name = "";
  req.client_token = "tok-1";
  Result<std::string> first = region_->CreateImage(kAlice, req);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<std::string> again = region_->CreateImage(kAlice, req);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *first);
  ASSERT_TRUE(WaitFor([&] { return Image(*first).status == "Available"; }));
}

TEST_F(RegionDiskSnapshotsTest, CreateSnapshotGoesFromProgressingToAccomplished) {
  const std::string instance = RunOne(/*start=*/false);
  const DiskRecord disk = SystemDisk(instance);
  QemuIoWrite(disk.disk_id, 0, 4096);

  CreateSnapshotRequest req;
  req.disk_id = disk.disk_id;
  req.snapshot_name = "before-upgrade";
  req.description = "a snapshot";
  req.tags = {{"team", "infra"}};
  Result<std::string> id = region_->CreateSnapshot(kAlice, req);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_TRUE(LooksLikeResourceId(*id, "s")) << *id;
  const SnapshotRecord first = Snapshot(*id);
  EXPECT_TRUE(first.status == "progressing" || first.status == "accomplished") << first.status;
  ASSERT_TRUE(WaitFor([&] { return Snapshot(*id).status == "accomplished"; })) << Snapshot(*id).status;
  const SnapshotRecord snap = Snapshot(*id);
  EXPECT_EQ(snap.progress, 100);
  EXPECT_EQ(snap.name, "before-upgrade");
  EXPECT_EQ(snap.description, "a snapshot");
  EXPECT_EQ(snap.tags, req.tags);
  EXPECT_EQ(snap.source_disk_id, disk.disk_id);
  EXPECT_EQ(snap.source_disk_type, "system");
  EXPECT_EQ(snap.source_disk_size_gib, 20u);
  const std::map<uint64_t, std::string> chunks = DataChunks(ManifestOf(*id));
  ASSERT_EQ(chunks.size(), 1u);  // chunk 0: the image's MiB of 0x5a with 4 KiB of 0xab

  // The snapshot makes an image.
  CreateImageRequest image_req;
  image_req.snapshot_id = *id;
  Result<std::string> image = region_->CreateImage(kAlice, image_req);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  EXPECT_EQ(Image(*image).disks[0].snapshot_id, *id);

  // DescribeSnapshots lists it by id for its owner only.
  DescribeSnapshotsRequest q;
  q.snapshot_ids = {*id};
  Result<Page<SnapshotRecord>> mine = region_->DescribeSnapshots(kAlice, q);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(mine->items.size(), 1u);
  EXPECT_EQ(mine->items[0].source_disk_id, disk.disk_id);
  Result<Page<SnapshotRecord>> bobs = region_->DescribeSnapshots(kBob, q);
  ASSERT_TRUE(bobs.ok());
  EXPECT_TRUE(bobs->items.empty());
}

TEST_F(RegionDiskSnapshotsTest, CreateSnapshotErrors) {
  CreateSnapshotRequest req;
  Result<std::string> none = region_->CreateSnapshot(kAlice, req);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().reason(), "MissingParameter");
  req.disk_id = "d-doesnotexist00000000";
  Result<std::string> missing = region_->CreateSnapshot(kAlice, req);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().reason(), "InvalidDiskId.NotFound");

  const std::string instance = RunOne(/*start=*/false);
  req.disk_id = SystemDisk(instance).disk_id;
  Result<std::string> stranger = region_->CreateSnapshot(kBob, req);
  ASSERT_FALSE(stranger.ok());
  EXPECT_EQ(stranger.status().reason(), "InvalidDiskId.NotFound");
  for (const std::string& bad : std::vector<std::string>{"a", "1abc", "auto-snap", "http://x", "has space", std::string(129, 'a')}) {
    req.snapshot_name = bad;
    Result<std::string> r = region_->CreateSnapshot(kAlice, req);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().reason(), "InvalidSnapshotName.Malformed") << bad;
  }
  req.snapshot_name = "";
  req.client_token = "snap-token";
  Result<std::string> first = region_->CreateSnapshot(kAlice, req);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<std::string> again = region_->CreateSnapshot(kAlice, req);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *first);
  req.description = "other parameters";
  Result<std::string> mismatch = region_->CreateSnapshot(kAlice, req);
  ASSERT_FALSE(mismatch.ok());
  ASSERT_TRUE(WaitFor([&] { return Snapshot(*first).status == "accomplished"; }));
}

TEST_F(RegionDiskSnapshotsTest, DeleteSnapshotThatDisksWereMadeFromNeedsForce) {
  const std::string instance = RunOne(/*start=*/false);
  CreateImageRequest req;
  req.instance_id = instance;
  Result<std::string> image_id = region_->CreateImage(kAlice, req);
  ASSERT_TRUE(image_id.ok()) << image_id.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return Image(*image_id).status == "Available"; }));
  const std::string snapshot_id = Image(*image_id).disks[0].snapshot_id;

  // An instance of the new image: its disk is made from the snapshot.
  RunInstancesRequest run;
  run.image_id = *image_id;
  run.instance_type = "ecs.g6.large";
  run.start = false;
  Result<std::vector<std::string>> second = region_->RunInstances(kAlice, run);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return region_->catalog().GetInstance((*second)[0])->status == "Stopped"; }));
  EXPECT_EQ(SystemDisk((*second)[0]).source_snapshot_id, snapshot_id);

  Status used_by_image = region_->DeleteSnapshot(kAlice, snapshot_id, false);
  EXPECT_EQ(used_by_image.reason(), "SnapshotCreatedImage");
  ASSERT_TRUE(region_->DeleteImage(kAlice, *image_id, /*force=*/true).ok());
  Status used_by_disk = region_->DeleteSnapshot(kAlice, snapshot_id, false);
  EXPECT_EQ(used_by_disk.reason(), "SnapshotCreatedDisk") << used_by_disk.ToString();
  EXPECT_EQ(used_by_disk.code(), Code::kPermissionDenied);
  EXPECT_EQ(Snapshot(snapshot_id).snapshot_id, snapshot_id);

  ASSERT_TRUE(region_->DeleteSnapshot(kAlice, snapshot_id, true).ok());
  EXPECT_FALSE(region_->catalog().GetSnapshot(snapshot_id).ok());
  // The disk keeps its base: the instance still starts and its disk reads.
  EXPECT_TRUE(region_->disk_store().DescribeDisk(SystemDisk((*second)[0]).disk_id).ok());
  EXPECT_TRUE(region_->StartInstance(kAlice, (*second)[0], false).ok());
}

// ECS 4.18: deleting a snapshot being created cancels the creation. The
// record goes at once; the task stops at its next chunk and ends Cancelled
// (not Failed, not after reading the whole disk); its pins are released and
// the chunks it stored are collected; the disk can be snapshotted again.
TEST_F(RegionDiskSnapshotsTest, DeleteSnapshotOfASnapshotBeingCreatedCancelsTheCreation) {
  const std::string instance = RunOne(/*start=*/false);
  const DiskRecord disk = SystemDisk(instance);
  QemuIoWrite(disk.disk_id, 0, 4096);
  QemuIoWrite(disk.disk_id, 2 * kChunk, 4096);
  const std::set<std::string> before = StoredChunks();

  gate_.Arm();
  CreateSnapshotRequest req;
  req.disk_id = disk.disk_id;
  Result<std::string> id = region_->CreateSnapshot(kAlice, req);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(gate_.WaitArrived());
  const TaskRecord task = TaskOf(*id);
  ASSERT_EQ(task.status, "Processing");
  EXPECT_EQ(Snapshot(*id).status, "progressing");

  ASSERT_TRUE(region_->DeleteSnapshot(kAlice, *id, false).ok());
  EXPECT_FALSE(region_->catalog().GetSnapshot(*id).ok()) << "the record goes at once";
  DescribeSnapshotsRequest q;
  q.snapshot_ids = {*id};
  EXPECT_TRUE(region_->DescribeSnapshots(kAlice, q)->items.empty());
  EXPECT_TRUE(TaskOf(*id).cancel_requested);
  gate_.Open();

  ASSERT_TRUE(WaitFor([&] { return TaskOf(*id).status != "Processing"; }));
  const TaskRecord ended = TaskOf(*id);
  EXPECT_EQ(ended.status, "Cancelled") << ended.error_code << ": " << ended.error_message;
  EXPECT_NE(ended.finished_time, 0);
  EXPECT_FALSE(region_->catalog().GetSnapshot(*id).ok()) << "the commit did not bring it back";
  EXPECT_EQ(region_->pins().size(), 0u);
  EXPECT_EQ(DiskTempFiles(), 0u);
  // What the cancelled task stored is garbage, and collected.
  ASSERT_TRUE(WaitFor([&] { return StoredChunks() == before; }));

  // No snapshot of the disk is in progress any more.
  Result<std::string> again = region_->CreateSnapshot(kAlice, req);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return Snapshot(*again).status == "accomplished"; }));
}

// ECS 4.15: CancelTask cancels imports and exports only. A CreateSnapshot or
// CreateImage (from an instance) task is refused and runs to its end.
TEST_F(RegionDiskSnapshotsTest, CancelTaskRefusesSnapshotAndImageCreationTasks) {
  const std::string instance = RunOne(/*start=*/false);
  const DiskRecord disk = SystemDisk(instance);
  QemuIoWrite(disk.disk_id, 0, 4096);

  gate_.Arm();
  CreateSnapshotRequest snap_req;
  snap_req.disk_id = disk.disk_id;
  Result<std::string> snap = region_->CreateSnapshot(kAlice, snap_req);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  ASSERT_TRUE(gate_.WaitArrived());
  Status refused = region_->CancelTask(kAlice, TaskOf(*snap).task_id);
  EXPECT_EQ(refused.reason(), "InvalidTaskId.TaskActionNotSupport") << refused.ToString();
  EXPECT_EQ(refused.code(), Code::kPermissionDenied);
  EXPECT_NE(refused.message().find("DeleteSnapshot"), std::string::npos) << refused.message();
  EXPECT_FALSE(TaskOf(*snap).cancel_requested);
  gate_.Open();
  ASSERT_TRUE(WaitFor([&] { return Snapshot(*snap).status == "accomplished"; }));
  EXPECT_EQ(TaskOf(*snap).status, "Finished");

  gate_.Arm();
  CreateImageRequest image_req;
  image_req.instance_id = instance;
  Result<std::string> image = region_->CreateImage(kAlice, image_req);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ASSERT_TRUE(gate_.WaitArrived());
  refused = region_->CancelTask(kAlice, TaskOf(*image).task_id);
  EXPECT_EQ(refused.reason(), "InvalidTaskId.TaskActionNotSupport") << refused.ToString();
  // Its snapshot is the image's: DeleteSnapshot refuses it, nothing is cancelled.
  const std::string image_snapshot = Image(*image).disks[0].snapshot_id;
  EXPECT_EQ(region_->DeleteSnapshot(kAlice, image_snapshot, false).reason(), "SnapshotCreatedImage");
  gate_.Open();
  ASSERT_TRUE(WaitFor([&] { return Image(*image).status == "Available"; })) << Image(*image).status;
  EXPECT_EQ(TaskOf(*image).status, "Finished");
  // Bob's CancelTask of Alice's task: not found, as for any task he cannot see.
  EXPECT_EQ(region_->CancelTask(kBob, TaskOf(*snap).task_id).reason(), "InvalidTaskId.NotFound");
}

}  // namespace
}  // namespace ferry
