// Resources given back, through the real binary: `ferry image import`
// removes its staging upload once the import ends (unless --keep-upload), a
// failed upload is aborted, and per-account quotas answer with their ECS
// code and HTTP status.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "integration/ferry_process.h"
#include "api/oss_auth.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

class QuotaTest : public ::testing::Test {
 protected:
  QuotaTest() : scratch_("ferry-quota-"), files_("ferry-quota-files-") {
    fs::create_directories(DataDir() + "/oss/" + kOperatorBucket);
    fs::create_directories(ConfigDir());
  }
  std::string DataDir() const { return scratch_.path() + "/data"; }
  std::string ConfigDir() const { return scratch_.path() + "/config"; }

  void Start(std::vector<std::string> args) {
    server_ = std::make_unique<FerryServer>(DataDir(), ConfigDir());
    server_->set_extra_args(std::move(args));
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }

  // Regular files left under DATA/oss/<bucket>/.uploads.
  uint64_t PartFiles(const std::string& bucket) const {
    uint64_t n = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(DataDir() + "/oss/" + bucket + "/.uploads", ec), end;
         !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) ++n;
    }
    return n;
  }

  CommandResult Import(const std::string& file, const std::string& name,
                       std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"image",    "import", file,       "--name", name,
                                     "--format", "raw",    "--output", "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunFerry(args, server_->ClientEnv());
  }

  ScratchDir scratch_;
  ScratchDir files_;
  std::unique_ptr<FerryServer> server_;
};

TEST_F(QuotaTest, CliImportRemovesItsStagingUploadUnlessKept) {
  Start({});
  const std::string file = files_.path() + "/disk.img";
  WriteSparseImage(file, 8 * kMiB, {{0, 2 * kMiB}}, 5);

  CommandResult imported = Import(file, "staged");
  ASSERT_EQ(imported.exit_code, 0) << imported.out << "\n" << imported.err << "\n" << server_->Log();
  json row = json::parse(imported.out, nullptr, false);
  ASSERT_TRUE(row.is_object()) << imported.out;
  EXPECT_EQ(row.value("TaskStatus", std::string()), "Finished");
  const std::string bucket = row.value("OSSBucket", std::string());
  const std::string object = row.value("OSSObject", std::string());
  ASSERT_FALSE(bucket.empty());
  EXPECT_FALSE(fs::exists(DataDir() + "/oss/" + bucket + "/" + object))
      << "the staging upload is still there";
  EXPECT_EQ(PartFiles(bucket), 0u);
  EcsClient root = RootClient(server_->endpoint(), true);
  json images = DescribeImage(root, row.value("ImageId", std::string()));
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("Status", std::string()), "Available");

  CommandResult kept = Import(file, "kept", {"--keep-upload"});
  ASSERT_EQ(kept.exit_code, 0) << kept.out << "\n" << kept.err;
  json kept_row = json::parse(kept.out, nullptr, false);
  ASSERT_TRUE(kept_row.is_object()) << kept.out;
  const std::string kept_object = kept_row.value("OSSObject", std::string());
  EXPECT_TRUE(fs::exists(DataDir() + "/oss/" + bucket + "/" + kept_object));
  // ...until its owner removes it.
  CommandResult removed = RunFerry({"oss", "rm", bucket, kept_object}, server_->ClientEnv());
  EXPECT_EQ(removed.exit_code, 0) << removed.out << "\n" << removed.err;
  EXPECT_FALSE(fs::exists(DataDir() + "/oss/" + bucket + "/" + kept_object));
  CommandResult again = RunFerry({"oss", "rm", bucket, kept_object}, server_->ClientEnv());
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("NoSuchKey"), std::string::npos) << again.err;
}

TEST_F(QuotaTest, CliImportWithoutWaitingLeavesTheRemovalToTheServer) {
  Start({});
  const std::string file = files_.path() + "/nowait.img";
  WriteSparseImage(file, 4 * kMiB, {{0, kMiB}}, 6);
  CommandResult started = Import(file, "no-wait", {"--no-wait"});
  ASSERT_EQ(started.exit_code, 0) << started.out << "\n" << started.err;
  json row = json::parse(started.out, nullptr, false);
  ASSERT_TRUE(row.is_object()) << started.out;
  EcsClient root = RootClient(server_->endpoint(), true);
  json task = WaitForTask(root, row.value("TaskId", std::string()));
  EXPECT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
  const std::string path = DataDir() + "/oss/" + row.value("OSSBucket", std::string()) + "/" +
                           row.value("OSSObject", std::string());
  // The server releases the object just after the task's final record.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (fs::exists(path) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST_F(QuotaTest, QuotasAnswerWithTheirEcsCodeAndStatus) {
  Start({"--quota-images", "1", "--quota-stored-mib", "8"});
  EcsClient root = RootClient(server_->endpoint(), true);

  // Two 5 MiB extents: the first parts are stored, a later one would take
  // the account over 8 MiB; the CLI fails with the code and aborts the
  // multipart upload, so no part is left behind.
  const std::string big = files_.path() + "/big.img";
  WriteSparseImage(big, 16 * kMiB, {{0, 5 * kMiB}, {10 * kMiB, 5 * kMiB}}, 7);
  CommandResult refused = Import(big, "too-big");
  EXPECT_EQ(refused.exit_code, 1) << refused.out << "\n" << refused.err;
  EXPECT_NE(refused.err.find("QuotaExceed.Storage"), std::string::npos) << refused.err;
  std::string upload_bucket;
  for (const auto& e : fs::directory_iterator(DataDir() + "/oss")) {
    if (e.path().filename().string().rfind("ferry-uploads-", 0) == 0)
      upload_bucket = e.path().filename().string();
  }
  ASSERT_FALSE(upload_bucket.empty());
  EXPECT_EQ(PartFiles(upload_bucket), 0u);

  // The same refusal at the wire: a put announced over the quota is 403
  // before a byte of it is sent.
  {
    const std::string date = FormatHttpDate(SystemClock::Get().Now());
    const std::string signature = OssV1Signature(
        kRootKeySecret, OssV1StringToSign("PUT", {{"x-oss-date", date}}, date,
                                          OssV1CanonicalResource(kOperatorBucket, "announced.raw", {})));
    std::map<std::string, std::string> headers = {
        {"x-oss-date", date},
        {"authorization", std::string("OSS ") + kRootKeyId + ":" + signature},
        {"content-length", std::to_string(9 * kMiB)},
        {"expect", "100-continue"}};
    HttpAnswer answer =
        SendHttp(server_->oss_endpoint(), "PUT", std::string("/") + kOperatorBucket + "/announced.raw", headers);
    EXPECT_EQ(answer.status, 403) << answer.body.dump();
    EXPECT_NE(answer.body.dump().find("QuotaExceed.Storage"), std::string::npos) << answer.body.dump();
  }

  // The one image the quota allows...
  const std::string small = files_.path() + "/small.img";
  WriteSparseImage(small, 4 * kMiB, {{0, kMiB}}, 8);
  CommandResult first = Import(small, "the-one");
  ASSERT_EQ(first.exit_code, 0) << first.out << "\n" << first.err;

  // ...and a second one is refused at the call: 403 QuotaExceed.Image.
  WriteSparseImage(DataDir() + "/oss/" + kOperatorBucket + "/second.raw", 4 * kMiB, {{0, kMiB}}, 9);
  Result<EcsResponse> second = root.Call("ImportImage", {{"RegionId", kRegion},
                                                         {"ImageName", "second"},
                                                         {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                                                         {"DiskDeviceMapping.1.OSSObject", "second.raw"}});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->http_status, 403) << second->raw_body;
  EXPECT_EQ(second->body.value("Code", std::string()), "QuotaExceed.Image") << second->raw_body;
  json images = CallOk(root, "DescribeImages", {{"RegionId", kRegion}, {"ImageOwnerAlias", "self"}});
  EXPECT_EQ(images.value("TotalCount", 0), 1) << images.dump();
}

// CreateSnapshot and CreateImage from an instance answer the stored-bytes
// quota as ImportImage does: 403 QuotaExceed.Storage at the call.
TEST_F(QuotaTest, DiskSnapshotsAnswerTheStoredBytesQuota) {
  Start({"--quota-stored-mib", "14"});
  EcsClient root = RootClient(server_->endpoint(), true);
  WriteSparseImage(DataDir() + "/oss/" + kOperatorBucket + "/vm.raw", 8 * kMiB, {{0, 4 * kMiB}}, 11);
  const std::string image_id =
      ImportRawImage(root, kRegion, kOperatorBucket, "vm.raw", "vm");  // 8 MiB stored
  ASSERT_FALSE(image_id.empty());
  json created = CallOk(root, "CreateInstance",
                        {{"RegionId", kRegion}, {"ImageId", image_id}, {"InstanceType", "ecs.g7.large"}});
  const std::string instance = created.value("InstanceId", std::string());
  std::string disk_id;
  for (int i = 0; i < 600 && disk_id.empty(); ++i) {
    json disks = CallOk(root, "DescribeDisks", {{"RegionId", kRegion}, {"InstanceId", instance}});
    for (const json& d : disks["Disks"]["Disk"]) {
      if (d.value("Status", std::string()) == "In_use") disk_id = d.value("DiskId", std::string());
    }
    if (disk_id.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(disk_id.empty());
  // 8 + 4 fits in 14; once it is committed, 12 + 4 does not.
  json snap = CallOk(root, "CreateSnapshot", {{"DiskId", disk_id}});
  const std::string snapshot_id = snap.value("SnapshotId", std::string());
  std::string status;
  for (int i = 0; i < 1200 && status != "accomplished"; ++i) {
    json listed = CallOk(root, "DescribeSnapshots",
                         {{"RegionId", kRegion}, {"SnapshotIds", json::array({snapshot_id}).dump()}});
    status = listed["Snapshots"]["Snapshot"][0].value("Status", std::string());
    if (status != "accomplished") std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(status, "accomplished");
  for (const auto& [action, params] : std::vector<std::pair<std::string, std::map<std::string, std::string>>>{
           {"CreateSnapshot", {{"DiskId", disk_id}}},
           {"CreateImage", {{"RegionId", kRegion}, {"InstanceId", instance}}}}) {
    Result<EcsResponse> refused = root.Call(action, params);
    ASSERT_TRUE(refused.ok()) << refused.status().ToString();
    EXPECT_EQ(refused->http_status, 403) << action << " " << refused->raw_body;
    EXPECT_EQ(refused->body.value("Code", std::string()), "QuotaExceed.Storage")
        << action << " " << refused->raw_body;
  }
}

}  // namespace
}  // namespace ferry::testing
