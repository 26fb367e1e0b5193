// Instances and disks through the real binary over HTTP: RunInstances on an
// imported image (one base file, one overlay per instance), a write into a
// system disk through `ferry disk path` + qemu-io read back through
// `ferry disk export`, the documented state transitions, DeleteInstance
// freeing the base with the last instance, error codes with their HTTP
// statuses, and a stranger's view.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

class InstancesTest : public SharedServerTest<InstancesTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-instances-";

 protected:
  static std::string RegionDisks() { return DataDir() + "/regions/" + std::string(kRegion) + "/disks"; }
  static size_t CountFiles(const std::string& sub) {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(RegionDisks() + "/" + sub, ec)) {
      (void)e;
      ++n;
    }
    return n;
  }
  static std::string StatusOf(EcsClient& client, const std::string& id) {
    json body = CallOk(client, "DescribeInstances", {{"InstanceIds", json::array({id}).dump()}});
    const json& items = body["Instances"]["Instance"];
    return items.empty() ? "" : items[0].value("Status", std::string());
  }
  static bool WaitStatus(EcsClient& client, const std::string& id, const std::string& want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (StatusOf(client, id) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  // An imported 16 MiB image with pseudo-random data in its first 4 MiB.
  static std::string ImportImage(EcsClient& root, const std::string& name) {
    WriteSparseImage(BucketDir() + "/" + name + ".raw", 16 * kMiB, {{0, 4 * kMiB}}, 7);
    return ImportRawImage(root, kRegion, kOperatorBucket, name + ".raw", name);
  }
  // A Stopped instance of `image_id` with a 20 GiB system disk: (instance
  // id, disk id), empty on failure.
  static std::pair<std::string, std::string> CreateStoppedInstance(EcsClient& root, const std::string& image_id) {
    json created = CallOk(root, "CreateInstance", {{"ImageId", image_id}, {"InstanceType", "ecs.g6.large"},
                                                   {"SystemDisk.Size", "20"}});
    const std::string instance = created.value("InstanceId", std::string());
    if (!WaitStatus(root, instance, "Stopped")) return {instance, ""};
    json disks = CallOk(root, "DescribeDisks", {{"InstanceId", instance}});
    if (disks["Disks"]["Disk"].empty()) return {instance, ""};
    return {instance, disks["Disks"]["Disk"][0].value("DiskId", std::string())};
  }
  static void ExpectError(EcsClient& client, const std::string& action, std::map<std::string, std::string> params,
                          int http_status, const std::string& code) {
    if (params.count("RegionId") == 0) params["RegionId"] = kRegion;
    Result<EcsResponse> resp = client.Call(action, params);
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->http_status, http_status) << action << " " << resp->raw_body;
    EXPECT_EQ(resp->body.value("Code", std::string()), code) << action << " " << resp->raw_body;
  }
};

TEST_F(InstancesTest, ThreeInstancesShareOneBaseAndADiskWriteShowsInItsExport) {
  EcsClient root = RootClient(server_->endpoint(), false);
  const std::string image_id = ImportImage(root, "inst-base");
  ASSERT_FALSE(image_id.empty());
  json run = CallOk(root, "RunInstances",
                    {{"ImageId", image_id},
                     {"InstanceType", "ecs.g6.large"},
                     {"Amount", "3"},
                     {"SystemDisk.Size", "20"},
                     {"UserData", "ZWNobyBoaQ=="},
                     {"RamRoleName", "EcsRole"}});
  const json ids = run["InstanceIdSets"]["InstanceIdSet"];
  ASSERT_EQ(ids.size(), 3u) << run.dump();
  for (const json& id : ids) ASSERT_TRUE(WaitStatus(root, id.get<std::string>(), "Running")) << id;
  EXPECT_EQ(CountFiles("bases"), 1u);
  EXPECT_EQ(CountFiles("disks"), 3u);

  const std::string first = ids[0].get<std::string>();
  json disks = CallOk(root, "DescribeDisks", {{"InstanceId", first}});
  ASSERT_EQ(disks["Disks"]["Disk"].size(), 1u) << disks.dump();
  const json disk = disks["Disks"]["Disk"][0];
  const std::string disk_id = disk.value("DiskId", std::string());
  EXPECT_EQ(disk.value("ImageId", std::string()), image_id);
  EXPECT_EQ(disk.value("Size", 0), 20);
  EXPECT_EQ(disk.value("Type", std::string()), "system");
  EXPECT_EQ(disk.value("Status", std::string()), "In_use");
  EXPECT_EQ(disk.value("SourceSnapshotId", std::string()).rfind("s-", 0), 0u);

  json user_data = CallOk(root, "DescribeUserData", {{"InstanceId", first}});
  EXPECT_EQ(user_data.value("UserData", std::string()), "ZWNobyBoaQ==");
  json roles = CallOk(root, "DescribeInstanceRamRole", {{"InstanceIds", json::array({first}).dump()}});
  EXPECT_EQ(roles["InstanceRamRoleSets"]["InstanceRamRoleSet"][0].value("RamRoleName", std::string()), "EcsRole");

  // Write through the qcow2 the operator's hypervisor would open.
  CommandResult path = RunFerry({"disk", "path", disk_id, "--data", DataDir(), "--region", kRegion}, {});
  ASSERT_EQ(path.exit_code, 0) << path.err;
  std::string qcow2 = path.out.substr(0, path.out.find('\n'));
  ASSERT_TRUE(fs::exists(qcow2)) << qcow2;
  ASSERT_EQ(RunQemuIo(qcow2, "write -P 0xab 1048576 65536"), 0);

  ScratchDir out_dir("ferry-disk-export-");
  const std::string out = out_dir.path() + "/disk.raw";
  CommandResult exported = RunFerry({"disk", "export", disk_id, out, "--data", DataDir(), "--region", kRegion}, {});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(fs::file_size(out), 20ull << 30);
  EXPECT_EQ(ReadRange(out, kMiB, 65536), std::string(65536, '\xab'));
  // Elsewhere, the image's bytes.
  const std::string source = BucketDir() + "/inst-base.raw";
  EXPECT_EQ(ReadRange(out, 0, kMiB), ReadRange(source, 0, kMiB));
  EXPECT_EQ(ReadRange(out, 2 * kMiB, 2 * kMiB), ReadRange(source, 2 * kMiB, 2 * kMiB));
  EXPECT_EQ(ReadRange(out, 8 * kMiB, 4096), std::string(4096, '\0'));
  // Another instance's disk did not change.
  const std::string other = out_dir.path() + "/other.raw";
  json other_disks = CallOk(root, "DescribeDisks", {{"InstanceId", ids[1].get<std::string>()}});
  CommandResult other_export = RunFerry({"disk", "export", other_disks["Disks"]["Disk"][0].value("DiskId", std::string()),
                                         other, "--data", DataDir(), "--region", kRegion},
                                        {});
  ASSERT_EQ(other_export.exit_code, 0) << other_export.err;
  EXPECT_EQ(ReadRange(other, kMiB, 65536), ReadRange(source, kMiB, 65536));

  for (const json& id : ids) CallOk(root, "DeleteInstance", {{"InstanceId", id.get<std::string>()}, {"Force", "true"}});
  EXPECT_EQ(CountFiles("bases"), 0u);
  EXPECT_EQ(CountFiles("disks"), 0u);
}

// CreateImage from an instance: the disk as the guest left it becomes an
// image (0xab where written, the original image's bytes elsewhere) whose
// snapshot names the disk, and which carries no UserData or RamRoleName.
TEST_F(InstancesTest, CreateImageFromAnInstanceCapturesItsDiskAndNotItsUserData) {
  EcsClient root = RootClient(server_->endpoint(), false);
  const std::string image_id = ImportImage(root, "snap-base");
  ASSERT_FALSE(image_id.empty());
  const std::string user_data = "ZWNobyBzbmFwc2VjcmV0";  // "echo snapsecret"
  const std::string role = "SnapSecretRole";
  json run = CallOk(root, "RunInstances",
                    {{"ImageId", image_id},
                     {"InstanceType", "ecs.g6.large"},
                     {"SystemDisk.Size", "20"},
                     {"UserData", user_data},
                     {"RamRoleName", role}});
  ASSERT_EQ(run["InstanceIdSets"]["InstanceIdSet"].size(), 1u) << run.dump();
  const std::string instance = run["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  ASSERT_TRUE(WaitStatus(root, instance, "Running"));
  json disks = CallOk(root, "DescribeDisks", {{"InstanceId", instance}});
  ASSERT_EQ(disks["Disks"]["Disk"].size(), 1u) << disks.dump();
  const std::string disk_id = disks["Disks"]["Disk"][0].value("DiskId", std::string());

  CommandResult path = RunFerry({"disk", "path", disk_id, "--data", DataDir(), "--region", kRegion}, {});
  ASSERT_EQ(path.exit_code, 0) << path.err;
  const std::string qcow2 = path.out.substr(0, path.out.find('\n'));
  ASSERT_EQ(RunQemuIo(qcow2, "write -P 0xab 1048576 65536"), 0);
  CallOk(root, "StopInstance", {{"InstanceId", instance}});
  ASSERT_TRUE(WaitStatus(root, instance, "Stopped"));

  json created = CallOk(root, "CreateImage", {{"InstanceId", instance}, {"ImageName", "snap-from-instance"}});
  const std::string new_image = created.value("ImageId", std::string());
  ASSERT_EQ(new_image.rfind("m-", 0), 0u) << created.dump();
  json image;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::string status;
  while (std::chrono::steady_clock::now() < deadline) {
    json listed = CallOk(root, "DescribeImages", {{"ImageId", new_image}, {"Status", "Creating,Available,CreateFailed"}});
    ASSERT_EQ(listed["Images"]["Image"].size(), 1u) << listed.dump();
    image = listed["Images"]["Image"][0];
    status = image.value("Status", std::string());
    if (status != "Creating") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(status, "Available") << image.dump();
  const json mappings = image["DiskDeviceMappings"]["DiskDeviceMapping"];
  ASSERT_EQ(mappings.size(), 1u) << image.dump();
  const std::string snapshot_id = mappings[0].value("SnapshotId", std::string());

  // The snapshot names the disk; DescribeSnapshots finds it by DiskId and
  // by InstanceId.
  for (const auto& [key, value] : std::map<std::string, std::string>{{"DiskId", disk_id}, {"InstanceId", instance}}) {
    json snaps = CallOk(root, "DescribeSnapshots", {{key, value}});
    ASSERT_EQ(snaps["Snapshots"]["Snapshot"].size(), 1u) << key << " " << snaps.dump();
    const json snap = snaps["Snapshots"]["Snapshot"][0];
    EXPECT_EQ(snap.value("SnapshotId", std::string()), snapshot_id);
    EXPECT_EQ(snap.value("SourceDiskId", std::string()), disk_id);
    EXPECT_EQ(snap.value("SourceDiskType", std::string()), "system");
    EXPECT_EQ(snap.value("SourceDiskSize", std::string()), "20");
    EXPECT_EQ(snap.value("Status", std::string()), "accomplished");
    EXPECT_EQ(snap.value("Progress", std::string()), "100%");
    // Neither the image nor its snapshot carries the instance's UserData or
    // RAM role.
    EXPECT_EQ(snap.dump().find(user_data), std::string::npos) << snap.dump();
    EXPECT_EQ(snap.dump().find(role), std::string::npos) << snap.dump();
  }
  json none = CallOk(root, "DescribeSnapshots", {{"DiskId", "d-neverexisted00000000"}});
  EXPECT_EQ(none["Snapshots"]["Snapshot"].size(), 0u) << none.dump();
  EXPECT_EQ(image.dump().find(user_data), std::string::npos) << image.dump();
  EXPECT_EQ(image.dump().find(role), std::string::npos) << image.dump();
  EXPECT_FALSE(image.contains("UserData")) << image.dump();
  EXPECT_FALSE(image.contains("RamRoleName")) << image.dump();

  // The exported image: 0xab where written, the original bytes elsewhere.
  json started = CallOk(root, "ExportImage", {{"ImageId", new_image}, {"OSSBucket", kOperatorBucket},
                                              {"OSSPrefix", "snapexp"}, {"ImageFormat", "raw"}});
  json task = WaitForTask(root, started.value("TaskId", std::string()));
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
  const std::string out = BucketDir() + "/" + RelatedItem(task, "OSSObject");
  EXPECT_EQ(fs::file_size(out), 20ull << 30);
  const std::string source = BucketDir() + "/snap-base.raw";
  EXPECT_EQ(ReadRange(out, kMiB, 65536), std::string(65536, '\xab'));
  EXPECT_EQ(ReadRange(out, 0, kMiB), ReadRange(source, 0, kMiB));
  EXPECT_EQ(ReadRange(out, kMiB + 65536, 3 * kMiB - 65536), ReadRange(source, kMiB + 65536, 3 * kMiB - 65536));
  EXPECT_EQ(ReadRange(out, 8 * kMiB, 4096), std::string(4096, '\0'));

  // An instance of the new image has a disk made from the snapshot: once
  // the image is gone, the snapshot is still refused without Force.
  json second = CallOk(root, "CreateInstance", {{"ImageId", new_image}, {"InstanceType", "ecs.g6.large"},
                                                {"SystemDisk.Size", "20"}});
  const std::string second_id = second.value("InstanceId", std::string());
  ASSERT_TRUE(WaitStatus(root, second_id, "Stopped")) << second.dump();
  ExpectError(root, "DeleteSnapshot", {{"SnapshotId", snapshot_id}}, 403, "SnapshotCreatedImage");
  ExpectError(root, "DeleteImage", {{"ImageId", new_image}}, 403, "ImageUsingByInstance");
  CallOk(root, "DeleteImage", {{"ImageId", new_image}, {"Force", "true"}});
  ExpectError(root, "DeleteSnapshot", {{"SnapshotId", snapshot_id}}, 403, "SnapshotCreatedDisk");
  CallOk(root, "DeleteSnapshot", {{"SnapshotId", snapshot_id}, {"Force", "true"}});
  json gone = CallOk(root, "DescribeSnapshots", {{"SnapshotIds", json::array({snapshot_id}).dump()}});
  EXPECT_EQ(gone["Snapshots"]["Snapshot"].size(), 0u) << gone.dump();
  CallOk(root, "DeleteInstance", {{"InstanceId", second_id}, {"Force", "true"}});
  CallOk(root, "DeleteInstance", {{"InstanceId", instance}, {"Force", "true"}});
}

// CreateImage from an instance reads only the chunks whose clusters the
// guest wrote, found from the overlay's cluster map: the image's first
// chunk holds data but is not read again; the written one is (4 MiB in all,
// where reading the whole view would be 8).
TEST_F(InstancesTest, CreateImageFromAnInstanceReadsOnlyTheChunksItsGuestWrote) {
  EcsClient root = RootClient(server_->endpoint(), false);
  const std::string image_id = ImportImage(root, "snap-delta");
  ASSERT_FALSE(image_id.empty());
  const auto [instance, disk_id] = CreateStoppedInstance(root, image_id);
  ASSERT_FALSE(disk_id.empty());
  CommandResult path = RunFerry({"disk", "path", disk_id, "--data", DataDir(), "--region", kRegion}, {});
  ASSERT_EQ(path.exit_code, 0) << path.err;
  ASSERT_EQ(RunQemuIo(path.out.substr(0, path.out.find('\n')), "write -P 0xcd 9437184 65536"), 0);  // chunk 2

  EcsClient admin = RootClient(server_->admin_endpoint(), false);
  auto imported = [&] {
    Result<std::string> metrics = admin.Get("/metrics");
    EXPECT_TRUE(metrics.ok()) << metrics.status().ToString();
    return metrics.ok() ? MetricValue(*metrics, "ferry_region_bytes_imported_total", kRegion) : -1;
  };
  const int64_t before = imported();
  json made = CallOk(root, "CreateImage", {{"InstanceId", instance}, {"ImageName", "snap-delta-image"}});
  const std::string new_image = made.value("ImageId", std::string());
  std::string status;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    json listed = CallOk(root, "DescribeImages", {{"ImageId", new_image}, {"Status", "Creating,Available,CreateFailed"}});
    ASSERT_EQ(listed["Images"]["Image"].size(), 1u) << listed.dump();
    status = listed["Images"]["Image"][0].value("Status", std::string());
    if (status != "Creating") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(status, "Available");
  EXPECT_EQ(imported() - before, static_cast<int64_t>(4 * kMiB));

  json started = CallOk(root, "ExportImage", {{"ImageId", new_image}, {"OSSBucket", kOperatorBucket},
                                              {"OSSPrefix", "deltaexp"}, {"ImageFormat", "raw"}});
  json task = WaitForTask(root, started.value("TaskId", std::string()));
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
  const std::string out = BucketDir() + "/" + RelatedItem(task, "OSSObject");
  const std::string source = BucketDir() + "/snap-delta.raw";
  EXPECT_EQ(ReadRange(out, 0, 4 * kMiB), ReadRange(source, 0, 4 * kMiB));
  EXPECT_EQ(ReadRange(out, 9437184, 65536), std::string(65536, '\xcd'));
  EXPECT_EQ(ReadRange(out, 8 * kMiB, kMiB), std::string(kMiB, '\0'));
  CallOk(root, "DeleteImage", {{"ImageId", new_image}});
  CallOk(root, "DeleteInstance", {{"InstanceId", instance}, {"Force", "true"}});
}

// CreateSnapshot over HTTP: the snapshot is listed progressing or at once
// accomplished, and ends accomplished with its disk's source fields.
TEST_F(InstancesTest, CreateSnapshotOfADiskEndsAccomplished) {
  EcsClient root = RootClient(server_->endpoint(), true);
  const std::string image_id = ImportImage(root, "snap-one");
  ASSERT_FALSE(image_id.empty());
  const auto [instance, disk_id] = CreateStoppedInstance(root, image_id);
  ASSERT_FALSE(disk_id.empty());
  ExpectError(root, "CreateSnapshot", {{"DiskId", "d-neverexisted00000000"}}, 404, "InvalidDiskId.NotFound");
  ExpectError(root, "CreateSnapshot", {{"DiskId", disk_id}, {"SnapshotName", "auto-x"}}, 400,
              "InvalidSnapshotName.Malformed");
  json made = CallOk(root, "CreateSnapshot", {{"DiskId", disk_id}, {"SnapshotName", "manual-1"}});
  const std::string snapshot_id = made.value("SnapshotId", std::string());
  ASSERT_EQ(snapshot_id.rfind("s-", 0), 0u) << made.dump();
  json snap;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    json listed = CallOk(root, "DescribeSnapshots", {{"SnapshotIds", json::array({snapshot_id}).dump()}});
    ASSERT_EQ(listed["Snapshots"]["Snapshot"].size(), 1u) << listed.dump();
    snap = listed["Snapshots"]["Snapshot"][0];
    const std::string st = snap.value("Status", std::string());
    ASSERT_TRUE(st == "progressing" || st == "accomplished") << snap.dump();
    if (st == "accomplished") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(snap.value("Status", std::string()), "accomplished") << snap.dump();
  EXPECT_EQ(snap.value("Progress", std::string()), "100%");
  EXPECT_EQ(snap.value("SnapshotName", std::string()), "manual-1");
  EXPECT_EQ(snap.value("SourceDiskId", std::string()), disk_id);
  EXPECT_EQ(snap.value("SourceDiskType", std::string()), "system");
  EXPECT_EQ(snap.value("SourceDiskSize", std::string()), "20");
  EXPECT_EQ(snap.value("Usage", std::string()), "none");
  CallOk(root, "DeleteSnapshot", {{"SnapshotId", snapshot_id}});
  CallOk(root, "DeleteInstance", {{"InstanceId", instance}, {"Force", "true"}});
}

TEST_F(InstancesTest, StatesAndDeleteFollowTheDocumentedTransitions) {
  EcsClient root = RootClient(server_->endpoint(), true);
  const std::string image_id = ImportImage(root, "inst-states");
  ASSERT_FALSE(image_id.empty());
  json created = CallOk(root, "CreateInstance", {{"ImageId", image_id}, {"InstanceType", "ecs.g6.large"},
                                                 {"SystemDisk.Size", "20"}});
  const std::string id = created.value("InstanceId", std::string());
  ASSERT_TRUE(WaitStatus(root, id, "Stopped")) << created.dump();
  CallOk(root, "StartInstance", {{"InstanceId", id}});
  EXPECT_EQ(StatusOf(root, id), "Starting");
  ASSERT_TRUE(WaitStatus(root, id, "Running"));
  ExpectError(root, "DeleteInstance", {{"InstanceId", id}}, 403, "IncorrectInstanceStatus");
  ExpectError(root, "StartInstance", {{"InstanceId", id}}, 403, "IncorrectInstanceStatus");
  CallOk(root, "RebootInstance", {{"InstanceId", id}});
  EXPECT_EQ(StatusOf(root, id), "Starting");
  ASSERT_TRUE(WaitStatus(root, id, "Running"));
  CallOk(root, "StopInstance", {{"InstanceId", id}});
  EXPECT_EQ(StatusOf(root, id), "Stopping");
  ASSERT_TRUE(WaitStatus(root, id, "Stopped"));
  json list = CallOk(root, "DescribeInstances", {{"Status", "Stopped"}, {"ImageId", image_id}});
  ASSERT_EQ(list.value("TotalCount", 0), 1) << list.dump();
  const json& view = list["Instances"]["Instance"][0];
  EXPECT_EQ(view.value("InstanceId", std::string()), id);
  EXPECT_TRUE(view["VpcAttributes"]["PrivateIpAddress"]["IpAddress"].is_array());
  EXPECT_TRUE(view["Tags"]["Tag"].is_array());
  EXPECT_EQ(CallOk(root, "DescribeInstances", {{"InstanceIds", "[]"}}).value("TotalCount", -1), 0);
  // Deleting the image the instance uses takes Force; the disk stays.
  ExpectError(root, "DeleteImage", {{"ImageId", image_id}}, 403, "ImageUsingByInstance");
  CallOk(root, "DeleteImage", {{"ImageId", image_id}, {"Force", "true"}});
  EXPECT_EQ(CountFiles("bases"), 1u);
  CallOk(root, "DeleteInstance", {{"InstanceId", id}});
  EXPECT_EQ(StatusOf(root, id), "");
  EXPECT_EQ(CountFiles("bases"), 0u);
}

TEST_F(InstancesTest, ErrorsCarryTheDocumentedCodesAndAStrangerSeesNothing) {
  EcsClient root = RootClient(server_->endpoint(), false);
  const std::string image_id = ImportImage(root, "inst-errors");
  ASSERT_FALSE(image_id.empty());
  const std::map<std::string, std::string> good = {
      {"ImageId", image_id}, {"InstanceType", "ecs.g6.large"}, {"SystemDisk.Size", "20"}};
  auto with = [&](std::string k, std::string v) {
    auto p = good;
    p[k] = v;
    return p;
  };
  auto without = [&](const std::string& k) {
    auto p = good;
    p.erase(k);
    return p;
  };
  ExpectError(root, "RunInstances", without("ImageId"), 400, "MissingParameter");
  ExpectError(root, "RunInstances", without("InstanceType"), 400, "MissingParameter");
  ExpectError(root, "RunInstances", with("Amount", "101"), 400, "InvalidParameter");
  ExpectError(root, "RunInstances", with("InstanceType", "big"), 400, "InvalidInstanceType.ValueNotSupported");
  ExpectError(root, "RunInstances", with("ImageId", "m-doesnotexist0000000"), 404, "InvalidImageId.NotFound");
  ExpectError(root, "RunInstances", with("SystemDisk.Size", "501"), 404, "InvalidSystemDiskSize.MoreThanMaxSize");
  ExpectError(root, "RunInstances", with("SystemDisk.Size", "10"), 400, "InvalidSystemDiskSize.ValueNotSupported");
  ExpectError(root, "RunInstances", with("UserData", "%%%"), 400, "InvalidUserData.Base64FormatInvalid");
  ExpectError(root, "RunInstances", with("UserData", std::string(40000, 'A')), 400, "InvalidUserData.SizeExceeded");
  ExpectError(root, "RunInstances", with("InstanceName", "1digit"), 400, "InvalidInstanceName.Malformed");
  ExpectError(root, "RunInstances", with("DryRun", "true"), 400, "DryRunOperation");
  ExpectError(root, "RunInstances", with("RegionId", "xx-nowhere-1"), 404, "InvalidRegionId.NotFound");
  ExpectError(root, "CreateInstance", without("InstanceType"), 400, "MissingParameter");
  ExpectError(root, "DescribeInstances", {{"InstanceIds", "not json"}}, 400, "InvalidParameter");
  ExpectError(root, "DescribeInstances", {{"Status", "Flying"}}, 400, "InvalidParameter");
  ExpectError(root, "DeleteInstance", {}, 400, "MissingParameter");

  // ClientToken: the same ids again; other parameters with it are refused.
  json first = CallOk(root, "RunInstances", with("ClientToken", "tok-1"));
  json again = CallOk(root, "RunInstances", with("ClientToken", "tok-1"));
  EXPECT_EQ(first["InstanceIdSets"], again["InstanceIdSets"]);
  auto mismatch = with("ClientToken", "tok-1");
  mismatch["Amount"] = "2";
  ExpectError(root, "RunInstances", mismatch, 400, "IdempotentParameterMismatch");
  const std::string id = first["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  ASSERT_TRUE(WaitStatus(root, id, "Running"));
  json disks = CallOk(root, "DescribeDisks", {{"InstanceId", id}});
  const std::string disk_id = disks["Disks"]["Disk"][0].value("DiskId", std::string());
  ExpectError(root, "DeleteInstance", {{"InstanceId", id}, {"DryRun", "true"}}, 403, "IncorrectInstanceStatus");
  ExpectError(root, "DeleteInstance", {{"InstanceId", id}, {"Force", "true"}, {"DryRun", "true"}}, 400,
              "DryRunOperation");
  ExpectError(root, "ReplaceSystemDisk", {{"InstanceId", id}, {"ImageId", image_id}}, 403, "IncorrectInstanceStatus");

  // A stranger: the same 404 for root's instance as for one that never was.
  json account = CallOk(root, "CreateAccount", {{"AccountName", "instance-stranger"}});
  EcsClient stranger = ClientFor(server_->endpoint(), account.value("AccessKeyId", std::string()),
                                 account.value("AccessKeySecret", std::string()), false);
  for (const std::string& target : {id, std::string("i-doesnotexist00000000")}) {
    ExpectError(stranger, "StopInstance", {{"InstanceId", target}}, 404, "InvalidInstanceId.NotFound");
    ExpectError(stranger, "DeleteInstance", {{"InstanceId", target}, {"Force", "true"}}, 404,
                "InvalidInstanceId.NotFound");
    ExpectError(stranger, "DescribeUserData", {{"InstanceId", target}}, 404, "InvalidInstanceId.NotFound");
  }
  EXPECT_EQ(CallOk(stranger, "DescribeInstances", {}).value("TotalCount", -1), 0);
  EXPECT_EQ(CallOk(stranger, "DescribeDisks", {{"DiskIds", json::array({disk_id}).dump()}}).value("TotalCount", -1),
            0);
  ExpectError(stranger, "RunInstances", good, 404, "InvalidImageId.NotFound");
  EXPECT_EQ(StatusOf(root, id), "Running");
  CallOk(root, "DeleteInstance", {{"InstanceId", id}, {"Force", "true"}});
}

// Tag.N at launch are listed as Tags.Tag and filter DescribeInstances;
// InstanceChargeType=PrePaid is shown with its ExpiredTime and answered
// with an OrderId; bad values get their documented codes and statuses.
TEST_F(InstancesTest, TagsAndChargeTypeAreStoredAndShown) {
  EcsClient root = RootClient(server_->endpoint(), false);
  const std::string image_id = ImportImage(root, "inst-tags");
  ASSERT_FALSE(image_id.empty());
  json run = CallOk(root, "RunInstances",
                    {{"ImageId", image_id},
                     {"InstanceType", "ecs.g6.large"},
                     {"Amount", "2"},
                     {"Tag.1.Key", "team"},
                     {"Tag.1.Value", "infra"},
                     {"Tag.2.Key", "env"},
                     {"Tag.2.Value", ""}});
  ASSERT_EQ(run["InstanceIdSets"]["InstanceIdSet"].size(), 2u) << run.dump();
  EXPECT_FALSE(run.contains("OrderId")) << "pay-as-you-go instances have no order";
  const std::string tagged = run["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  json sub = CallOk(root, "CreateInstance",
                    {{"ImageId", image_id},
                     {"InstanceType", "ecs.g6.large"},
                     {"InstanceChargeType", "PrePaid"},
                     {"Period", "3"},
                     {"PeriodUnit", "Month"},
                     {"Tag.1.Key", "team"},
                     {"Tag.1.Value", "web"}});
  const std::string prepaid = sub.value("InstanceId", std::string());
  EXPECT_FALSE(sub.value("OrderId", std::string()).empty()) << sub.dump();
  ASSERT_TRUE(WaitStatus(root, prepaid, "Stopped"));

  json listed = CallOk(root, "DescribeInstances", {{"InstanceIds", json::array({tagged, prepaid}).dump()}});
  std::map<std::string, json> by_id;
  for (const json& i : listed["Instances"]["Instance"]) by_id[i.value("InstanceId", std::string())] = i;
  ASSERT_EQ(by_id.size(), 2u) << listed.dump();
  EXPECT_EQ(by_id[tagged]["Tags"], json::parse(R"({"Tag": [{"TagKey": "team", "TagValue": "infra"},
                                                            {"TagKey": "env", "TagValue": ""}]})"));
  EXPECT_EQ(by_id[tagged].value("InstanceChargeType", std::string()), "PostPaid");
  EXPECT_EQ(by_id[prepaid]["Tags"], json::parse(R"({"Tag": [{"TagKey": "team", "TagValue": "web"}]})"));
  EXPECT_EQ(by_id[prepaid].value("InstanceChargeType", std::string()), "PrePaid");
  EXPECT_NE(by_id[prepaid].value("ExpiredTime", std::string()), "2099-12-31T15:59Z");
  EXPECT_LT(by_id[prepaid].value("CreationTime", std::string()),
            by_id[prepaid].value("ExpiredTime", std::string()));

  auto count = [&](std::map<std::string, std::string> filter) {
    filter["RegionId"] = kRegion;
    return CallOk(root, "DescribeInstances", filter).value("TotalCount", -1);
  };
  EXPECT_EQ(count({{"Tag.1.Key", "team"}}), 3);
  EXPECT_EQ(count({{"Tag.1.Key", "team"}, {"Tag.1.Value", "infra"}}), 2);
  EXPECT_EQ(count({{"Tag.1.Key", "team"}, {"Tag.1.Value", "web"}, {"InstanceChargeType", "PrePaid"}}), 1);
  EXPECT_EQ(count({{"Tag.1.Key", "team"}, {"Tag.2.Key", "nobody"}}), 0);

  std::map<std::string, std::string> base = {{"ImageId", image_id}, {"InstanceType", "ecs.g6.large"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    auto p = base;
    for (auto& [k, v] : extra) p[k] = v;
    return p;
  };
  std::map<std::string, std::string> many;
  for (int n = 1; n <= 21; ++n) many["Tag." + std::to_string(n) + ".Key"] = "k" + std::to_string(n);
  ExpectError(root, "RunInstances", with(many), 400, "InvalidTagCount");
  ExpectError(root, "RunInstances", with({{"Tag.1.Key", "aliyun-x"}}), 400, "InvalidTagKey.Malformed");
  ExpectError(root, "RunInstances", with({{"Tag.1.Value", "v"}}), 400, "InvalidTag.Mismatch");
  ExpectError(root, "RunInstances", with({{"InstanceChargeType", "Monthly"}}), 404,
              "InvalidInstanceChargeType.NotFound");
  ExpectError(root, "RunInstances", with({{"InstanceChargeType", "PrePaid"}}), 400, "MissingParamter");
  ExpectError(root, "CreateInstance", with({{"InstanceChargeType", "PrePaid"}, {"Period", "11"}}), 400,
              "InvalidPeriod");
  EXPECT_EQ(count({}), 3) << "nothing was launched by the refused calls";
  for (const std::string& id :
       {tagged, run["InstanceIdSets"]["InstanceIdSet"][1].get<std::string>(), prepaid}) {
    ASSERT_TRUE(WaitStatus(root, id, id == prepaid ? "Stopped" : "Running"));
    CallOk(root, "DeleteInstance", {{"InstanceId", id}, {"Force", "true"}});
  }
}

// CreateImage from snapshots with DiskDeviceMapping.N: a system disk and
// data disks, listed by DescribeImages, launched with every disk; the ECS
// rules answered with their codes and the HTTP status of CreateImage's table.
TEST_F(InstancesTest, CreateImageFromASystemAndDataDiskSnapshots) {
  EcsClient root = RootClient(server_->endpoint(), true);
  WriteSparseImage(BucketDir() + "/multi-sys.raw", 8 * kMiB, {{0, kMiB}}, 21);
  WriteSparseImage(BucketDir() + "/multi-data.raw", 8 * kMiB, {{4 * kMiB, kMiB}}, 22);
  json imported = CallOk(root, "ImportImage",
                         {{"RegionId", kRegion},
                          {"ImageName", "multi-source"},
                          {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                          {"DiskDeviceMapping.1.OSSObject", "multi-sys.raw"},
                          {"DiskDeviceMapping.2.OSSBucket", kOperatorBucket},
                          {"DiskDeviceMapping.2.OSSObject", "multi-data.raw"}});
  ASSERT_EQ(WaitForTask(root, imported.value("TaskId", std::string())).value("TaskStatus", std::string()),
            "Finished");
  json source = DescribeImage(root, imported.value("ImageId", std::string()));
  ASSERT_EQ(source.size(), 1u);
  const json& source_disks = source[0]["DiskDeviceMappings"]["DiskDeviceMapping"];
  ASSERT_EQ(source_disks.size(), 2u) << source.dump();
  const std::string system_snap = source_disks[0].value("SnapshotId", std::string());
  const std::string data_snap = source_disks[1].value("SnapshotId", std::string());

  json created = CallOk(root, "CreateImage",
                        {{"RegionId", kRegion},
                         {"ImageName", "multi-combined"},
                         {"DiskDeviceMapping.1.SnapshotId", system_snap},
                         {"DiskDeviceMapping.1.DiskType", "system"},
                         {"DiskDeviceMapping.2.SnapshotId", data_snap},
                         {"DiskDeviceMapping.2.DiskType", "data"},
                         {"DiskDeviceMapping.2.Device", "/dev/xvdc"},
                         {"DiskDeviceMapping.2.Size", "30"}});
  const std::string image_id = created.value("ImageId", std::string());
  json image = DescribeImage(root, image_id);
  ASSERT_EQ(image.size(), 1u);
  EXPECT_EQ(image[0].value("Status", std::string()), "Available");
  const json& mappings = image[0]["DiskDeviceMappings"]["DiskDeviceMapping"];
  ASSERT_EQ(mappings.size(), 2u) << image.dump();
  EXPECT_EQ(mappings[0].value("SnapshotId", std::string()), system_snap);
  EXPECT_EQ(mappings[0].value("Type", std::string()), "system");
  EXPECT_EQ(mappings[0].value("Device", std::string()), "/dev/xvda");
  EXPECT_EQ(mappings[1].value("SnapshotId", std::string()), data_snap);
  EXPECT_EQ(mappings[1].value("Type", std::string()), "data");
  EXPECT_EQ(mappings[1].value("Device", std::string()), "/dev/xvdc");
  EXPECT_EQ(mappings[1].value("Size", std::string()), "30");  // a string, as ECS declares it

  json run = CallOk(root, "CreateInstance", {{"ImageId", image_id}, {"InstanceType", "ecs.g6.large"}});
  const std::string instance = run.value("InstanceId", std::string());
  ASSERT_TRUE(WaitStatus(root, instance, "Stopped"));
  json disks = CallOk(root, "DescribeDisks", {{"InstanceId", instance}, {"DiskType", "data"}});
  ASSERT_EQ(disks["Disks"]["Disk"].size(), 1u) << disks.dump();
  EXPECT_EQ(disks["Disks"]["Disk"][0].value("Device", std::string()), "/dev/xvdc");
  EXPECT_EQ(disks["Disks"]["Disk"][0].value("Size", 0), 30);
  EXPECT_EQ(disks["Disks"]["Disk"][0].value("SourceSnapshotId", std::string()), data_snap);
  ExpectError(root, "ReplaceSystemDisk", {{"InstanceId", instance}, {"ImageId", image_id}}, 400,
              "OperationDenied");

  auto mapping = [&](std::map<std::string, std::string> extra) {
    std::map<std::string, std::string> p = {{"DiskDeviceMapping.1.SnapshotId", system_snap},
                                            {"DiskDeviceMapping.2.SnapshotId", data_snap}};
    for (auto& [k, v] : extra) p[k] = v;
    return p;
  };
  ExpectError(root, "CreateImage", mapping({{"DiskDeviceMapping.2.DiskType", "system"}}), 400,
              "OperationDenied");
  ExpectError(root, "CreateImage", mapping({{"DiskDeviceMapping.1.DiskType", "data"}}), 400,
              "OperationDenied");
  ExpectError(root, "CreateImage", mapping({{"DiskDeviceMapping.2.Device", "/dev/sdb"}}), 400,
              "InvalidDevice.Malformed");
  ExpectError(root, "CreateImage",
              mapping({{"DiskDeviceMapping.3.SnapshotId", data_snap},
                       {"DiskDeviceMapping.2.Device", "/dev/xvdb"},
                       {"DiskDeviceMapping.3.Device", "/dev/xvdb"}}),
              400, "InvalidDevice.InUse");
  ExpectError(root, "CreateImage", mapping({{"DiskDeviceMapping.2.Size", "40000"}}), 400,
              "InvalidSize.ValueNotSupported");
  ExpectError(root, "CreateImage", mapping({{"DiskDeviceMapping.2.DiskType", "swap"}}), 400,
              "InvalidDiskType.ValueNotSupported");
  ExpectError(root, "CreateImage", mapping({{"DiskDeviceMapping.2.SnapshotId", "s-doesnotexist00000000"}}),
              404, "InvalidSnapshotId.NotFound");
  ExpectError(root, "CreateImage", mapping({{"DiskDeviceMapping.18.SnapshotId", data_snap}}), 400,
              "InvalidParameter");
  ExpectError(root, "CreateImage", mapping({{"DryRun", "true"}}), 400, "DryRunOperation");
  CallOk(root, "DeleteInstance", {{"InstanceId", instance}, {"Force", "true"}});

  // Its export writes both disks: the system disk as OSSObject, the data
  // disk beside it (listed among the task's related items).
  json started = CallOk(root, "ExportImage",
                        {{"ImageId", image_id},
                         {"OSSBucket", kOperatorBucket},
                         {"OSSPrefix", "multi"},
                         {"ImageFormat", "raw"}});
  json task = WaitForTask(root, started.value("TaskId", std::string()));
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
  const std::string system_out = BucketDir() + "/" + RelatedItem(task, "OSSObject");
  const std::string data_out = BucketDir() + "/" + RelatedItem(task, "DataDiskOSSObjects.1");
  ASSERT_TRUE(fs::exists(system_out)) << task.dump();
  ASSERT_TRUE(fs::exists(data_out)) << task.dump();
  EXPECT_EQ(ReadRange(system_out, 0, 8 * kMiB), ReadRange(BucketDir() + "/multi-sys.raw", 0, 8 * kMiB));
  EXPECT_EQ(ReadRange(data_out, 0, 8 * kMiB), ReadRange(BucketDir() + "/multi-data.raw", 0, 8 * kMiB));
}

TEST_F(InstancesTest, CliRunsListsStopsAndDeletesInstances) {
  EcsClient root = RootClient(server_->endpoint(), false);
  const std::string image_id = ImportImage(root, "inst-cli");
  ASSERT_FALSE(image_id.empty());
  CommandResult run = RunFerry({"instance", "run", "--image", image_id, "--disk-size", "20", "--amount", "2",
                                "--wait", "--output", "json"},
                               server_->ClientEnv());
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  json rows = json::parse(run.out, nullptr, false);
  ASSERT_TRUE(rows.is_array() && rows.size() == 2) << run.out;
  const std::string id = rows[0].value("InstanceId", std::string());
  EXPECT_EQ(rows[0].value("Status", std::string()), "Running");
  CommandResult listed = RunFerry({"instance", "list"}, server_->ClientEnv());
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find(id), std::string::npos) << listed.out;
  CommandResult disks = RunFerry({"disk", "list", "--output", "json"}, server_->ClientEnv());
  ASSERT_EQ(disks.exit_code, 0) << disks.err;
  EXPECT_NE(disks.out.find(id), std::string::npos) << disks.out;
  CommandResult refused = RunFerry({"instance", "delete", id}, server_->ClientEnv());
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("IncorrectInstanceStatus"), std::string::npos) << refused.err;
  // stop, start and reboot return once the instance is there, so they chain.
  for (const auto& [verb, status] : {std::pair{"stop", "Stopped"}, std::pair{"start", "Running"},
                                     std::pair{"reboot", "Running"}, std::pair{"stop", "Stopped"}}) {
    CommandResult moved = RunFerry({"instance", verb, id}, server_->ClientEnv());
    ASSERT_EQ(moved.exit_code, 0) << verb << ": " << moved.err;
    EXPECT_NE(moved.out.find(status), std::string::npos) << verb << ": " << moved.out;
    EXPECT_EQ(StatusOf(root, id), status) << verb;
  }
  // --no-wait returns at once, saying what is true then: the request was
  // accepted, and the instance is on its way; it gets there on its own.
  CommandResult no_wait = RunFerry({"instance", "start", id, "--no-wait", "--output", "json"}, server_->ClientEnv());
  ASSERT_EQ(no_wait.exit_code, 0) << no_wait.err;
  const json accepted = json::parse(no_wait.out, nullptr, false);
  EXPECT_EQ(accepted.value("Accepted", false), true) << no_wait.out;
  EXPECT_FALSE(accepted.contains("Done")) << no_wait.out;
  const std::string now = accepted.value("Status", std::string());
  EXPECT_TRUE(now == "Starting" || now == "Running") << no_wait.out;
  ASSERT_TRUE(WaitStatus(root, id, "Running"));
  // A wait that cannot end is refused at once: stop's timeout must be a duration.
  CommandResult bad_timeout = RunFerry({"instance", "stop", id, "--timeout", "soon"}, server_->ClientEnv());
  EXPECT_EQ(bad_timeout.exit_code, 2) << bad_timeout.err;
  EXPECT_EQ(StatusOf(root, id), "Running");
  for (const json& row : rows) {
    CommandResult deleted =
        RunFerry({"instance", "delete", row.value("InstanceId", std::string()), "--force"}, server_->ClientEnv());
    EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  }
  EXPECT_EQ(CallOk(root, "DescribeInstances", {}).value("TotalCount", -1), 0);
}

// The seed's workflow through the CLI: user data read back, a snapshot of a
// disk, an image of a stopped instance whose disk a guest wrote, the system
// disk replaced by that image (the write is in the new disk), snapshots
// listed by disk and deleted, each command waiting by default.
TEST_F(InstancesTest, CliSnapshotsImagesReplacesDisksAndShowsUserData) {
  EcsClient root = RootClient(server_->endpoint(), false);
  const EnvMap env = server_->ClientEnv();
  auto ferry_json = [&](std::vector<std::string> args) {
    args.push_back("--output");
    args.push_back("json");
    CommandResult r = RunFerry(args, env);
    EXPECT_EQ(r.exit_code, 0) << args[0] << " " << args[1] << ": " << r.out << r.err;
    return json::parse(r.out, nullptr, false);
  };
  const std::string image_id = ImportImage(root, "cli-seed");
  ASSERT_FALSE(image_id.empty());
  json run = ferry_json({"instance", "run", "--image", image_id, "--disk-size", "20", "--user-data",
                         "ZWNobyBoaQ==", "--wait"});
  ASSERT_TRUE(run.is_array() && run.size() == 1) << run.dump();
  const std::string id = run[0].value("InstanceId", std::string());
  ASSERT_EQ(run[0].value("Status", std::string()), "Running");

  json user_data = ferry_json({"instance", "user-data", id});
  EXPECT_EQ(user_data.value("UserData", std::string()), "ZWNobyBoaQ==") << user_data.dump();
  CommandResult decoded = RunFerry({"instance", "user-data", id, "--decode"}, env);
  EXPECT_EQ(decoded.exit_code, 0) << decoded.err;
  EXPECT_EQ(decoded.out, "echo hi");

  // The system disk is replaced only while Stopped.
  CommandResult running = RunFerry({"instance", "replace-disk", id, "--image", image_id}, env);
  EXPECT_EQ(running.exit_code, 1);
  EXPECT_NE(running.err.find("IncorrectInstanceStatus"), std::string::npos) << running.err;

  json disks = CallOk(root, "DescribeDisks", {{"InstanceId", id}});
  ASSERT_EQ(disks["Disks"]["Disk"].size(), 1u) << disks.dump();
  const std::string disk_id = disks["Disks"]["Disk"][0].value("DiskId", std::string());
  CommandResult path = RunFerry({"disk", "path", disk_id, "--data", DataDir(), "--region", kRegion}, {});
  ASSERT_EQ(path.exit_code, 0) << path.err;
  ASSERT_EQ(RunQemuIo(path.out.substr(0, path.out.find('\n')), "write -P 0xab 1048576 65536"), 0);
  ASSERT_EQ(RunFerry({"instance", "stop", id}, env).exit_code, 0);

  // snapshot create waits until accomplished; list finds it by disk.
  json snap = ferry_json({"snapshot", "create", disk_id, "--name", "cli-manual"});
  const std::string snapshot_id = snap.value("SnapshotId", std::string());
  ASSERT_EQ(snapshot_id.rfind("s-", 0), 0u) << snap.dump();
  EXPECT_EQ(snap.value("Status", std::string()), "accomplished") << snap.dump();
  EXPECT_EQ(snap.value("SourceDiskId", std::string()), disk_id);
  EXPECT_EQ(snap.value("SnapshotName", std::string()), "cli-manual");
  CommandResult bad_name = RunFerry({"snapshot", "create", disk_id, "--name", "auto-x"}, env);
  EXPECT_EQ(bad_name.exit_code, 1);
  EXPECT_NE(bad_name.err.find("InvalidSnapshotName.Malformed"), std::string::npos) << bad_name.err;

  // image create from the instance waits until Available.
  CommandResult neither = RunFerry({"image", "create", "--name", "cli-nothing"}, env);
  EXPECT_EQ(neither.exit_code, 2) << neither.err;
  json made = ferry_json({"image", "create", "--instance", id, "--name", "cli-from-instance"});
  const std::string new_image = made.value("ImageId", std::string());
  ASSERT_EQ(new_image.rfind("m-", 0), 0u) << made.dump();
  EXPECT_EQ(made.value("Status", std::string()), "Available") << made.dump();
  EXPECT_EQ(made.value("ImageName", std::string()), "cli-from-instance");
  const std::string image_snapshot = made.value("SnapshotId", std::string());
  ASSERT_EQ(image_snapshot.rfind("s-", 0), 0u) << made.dump();
  ASSERT_EQ(DescribeImage(root, new_image)[0].value("Status", std::string()), "Available");

  json listed = ferry_json({"snapshot", "list", "--disk", disk_id});
  std::set<std::string> of_disk;
  for (const json& row : listed) of_disk.insert(row.value("SnapshotId", std::string()));
  EXPECT_EQ(of_disk, (std::set<std::string>{snapshot_id, image_snapshot})) << listed.dump();
  json tasks = ferry_json({"task", "list"});
  std::set<std::string> actions;
  for (const json& row : tasks) actions.insert(row.value("TaskAction", std::string()));
  EXPECT_EQ(actions.count("CreateSnapshot"), 1u) << tasks.dump();
  EXPECT_EQ(actions.count("CreateImage"), 1u) << tasks.dump();

  // --no-wait: accepted, and the status then.
  json from_snapshot = ferry_json({"image", "create", "--snapshot", snapshot_id, "--name", "cli-from-snap", "--no-wait"});
  const std::string snap_image = from_snapshot.value("ImageId", std::string());
  ASSERT_EQ(snap_image.rfind("m-", 0), 0u) << from_snapshot.dump();
  const std::string snap_image_status = from_snapshot.value("Status", std::string());
  EXPECT_TRUE(snap_image_status == "Creating" || snap_image_status == "Available") << from_snapshot.dump();

  // replace-disk: a new system disk made from the new image holds the
  // guest's write.
  json replaced = ferry_json({"instance", "replace-disk", id, "--image", new_image});
  const std::string new_disk = replaced.value("DiskId", std::string());
  ASSERT_EQ(new_disk.rfind("d-", 0), 0u) << replaced.dump();
  EXPECT_NE(new_disk, disk_id);
  json after = CallOk(root, "DescribeDisks", {{"InstanceId", id}});
  ASSERT_EQ(after["Disks"]["Disk"].size(), 1u) << after.dump();
  EXPECT_EQ(after["Disks"]["Disk"][0].value("DiskId", std::string()), new_disk);
  EXPECT_EQ(after["Disks"]["Disk"][0].value("ImageId", std::string()), new_image);
  ScratchDir out_dir("ferry-cli-replaced-");
  const std::string out = out_dir.path() + "/disk.raw";
  CommandResult exported = RunFerry({"disk", "export", new_disk, out, "--data", DataDir(), "--region", kRegion}, {});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_EQ(ReadRange(out, kMiB, 65536), std::string(65536, '\xab'));
  EXPECT_EQ(ReadRange(out, 0, kMiB), ReadRange(BucketDir() + "/cli-seed.raw", 0, kMiB));

  // A snapshot an image holds is not deleted; one of nothing is.
  CommandResult held = RunFerry({"snapshot", "delete", image_snapshot}, env);
  EXPECT_EQ(held.exit_code, 1);
  EXPECT_NE(held.err.find("SnapshotCreatedImage"), std::string::npos) << held.err;
  CallOk(root, "DeleteImage", {{"ImageId", snap_image}});
  json deleted = ferry_json({"snapshot", "delete", snapshot_id});
  EXPECT_EQ(deleted.value("Deleted", false), true) << deleted.dump();
  json left = ferry_json({"snapshot", "list", "--instance", id});
  for (const json& row : left) EXPECT_NE(row.value("SnapshotId", std::string()), snapshot_id) << left.dump();

  ASSERT_EQ(RunFerry({"instance", "delete", id}, env).exit_code, 0);
  CallOk(root, "DeleteImage", {{"ImageId", new_image}});
}

}  // namespace
}  // namespace ferry::testing
