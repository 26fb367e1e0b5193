// Cross-region copies through the real binary: three regions in one process,
// the destination pulling over the peer protocol on loopback.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

class CopyTest : public SharedServerTest<CopyTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-copy-";

 protected:

  // Imports a raw image with holes (not chunk-aligned) in cn-hangzhou and
  // waits for it; returns its id.
  static std::string ImportSource(EcsClient& client, const std::string& object, uint64_t seed) {
    const uint64_t size = 18 * kMiB + 4608;  // not chunk-aligned, whole sectors
    WriteSparseImage(BucketDir() + "/" + object, size,
                     {{0, kMiB}, {6 * kMiB, 5 * kMiB / 2}, {size - 32 * 1024, 32 * 1024}}, seed);
    json started = CallOk(client, "ImportImage",
                          {{"ImageName", "source-" + object},
                           {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                           {"DiskDeviceMapping.1.OSSObject", object},
                           {"DiskDeviceMapping.1.Format", "RAW"}});
    json task = WaitForTask(client, started.value("TaskId", std::string()));
    EXPECT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
    return started.value("ImageId", std::string());
  }

  // Polls the destination the way Terraform does until the copy leaves
  // Waiting/Creating or the deadline passes; returns the last image entry.
  static json WaitForCopy(EcsClient& client, const std::string& region, const std::string& image_id) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    json image;
    while (std::chrono::steady_clock::now() < deadline) {
      json images = DescribeImageIn(client, region, image_id);
      if (images.size() != 1) return json();
      image = images[0];
      const std::string status = image.value("Status", std::string());
      if (status != "Waiting" && status != "Creating") return image;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return image;
  }

  // Exports `image_id` of `region` as RAW and returns the file's SHA-256.
  static std::string ExportSha(EcsClient& client, const std::string& region, const std::string& image_id,
                               const std::string& prefix) {
    return ExportImageSha256(client, region, image_id, kOperatorBucket, BucketDir(), prefix);
  }

};

TEST_F(CopyTest, CopiesToTwoRegionsAreByteIdenticalAndCannotBeCancelledOnceDone) {
  EcsClient v1 = RootClient(server_->endpoint(), false);
  EcsClient v3 = RootClient(server_->endpoint(), true);
  const std::string source_id = ImportSource(v1, "copy-source.raw", 11);
  ASSERT_FALSE(source_id.empty());
  const std::string source_sha = FileSha256(BucketDir() + "/copy-source.raw");

  struct Destination {
    const char* region;
    EcsClient* client;
  };
  std::set<std::string> ids = {source_id};
  for (const Destination& d : {Destination{"cn-shanghai", &v1}, Destination{"cn-beijing", &v3}}) {
    SCOPED_TRACE(d.region);
    json started = CallOk(*d.client, "CopyImage",
                          {{"RegionId", "cn-hangzhou"},
                           {"ImageId", source_id},
                           {"DestinationRegionId", d.region},
                           {"DestinationImageName", std::string("copy-in-") + d.region},
                           {"DestinationDescription", "copied"},
                           {"Encrypted", "false"}});
    const std::string copy_id = started.value("ImageId", std::string());
    ASSERT_FALSE(copy_id.empty()) << started.dump();
    EXPECT_TRUE(ids.insert(copy_id).second) << "copy id " << copy_id << " is not new";

    // Visible at once in the destination with Terraform's status list.
    json images = DescribeImageIn(*d.client, d.region, copy_id);
    ASSERT_EQ(images.size(), 1u) << images.dump();
    const std::string first_status = images[0].value("Status", std::string());
    EXPECT_TRUE(first_status == "Waiting" || first_status == "Creating" || first_status == "Available")
        << first_status;
    EXPECT_EQ(images[0].value("IsCopied", false), true);
    // Not in the source region.
    EXPECT_TRUE(DescribeImageIn(*d.client, "cn-hangzhou", copy_id).empty());

    json image = WaitForCopy(*d.client, d.region, copy_id);
    ASSERT_EQ(image.value("Status", std::string()), "Available") << image.dump() << "\n" << server_->Log();
    EXPECT_EQ(image.value("Progress", std::string()), "100%");
    EXPECT_EQ(image.value("ImageName", std::string()), std::string("copy-in-") + d.region);
    EXPECT_EQ(image.value("Description", std::string()), "copied");
    EXPECT_EQ(image.value("IsCopied", false), true);
    EXPECT_FALSE(image.contains("CopyQueuePosition"));
    EXPECT_FALSE(image.contains("CopyRemainTime"));

    // The destination has its own snapshot.
    const json& disks = image["DiskDeviceMappings"]["DiskDeviceMapping"];
    ASSERT_EQ(disks.size(), 1u) << image.dump();
    const std::string snapshot_id = disks[0].value("SnapshotId", std::string());
    json snapshots = CallOk(*d.client, "DescribeSnapshots",
                            {{"RegionId", d.region}, {"SnapshotIds", "[\"" + snapshot_id + "\"]"}});
    ASSERT_EQ(snapshots["Snapshots"]["Snapshot"].size(), 1u) << snapshots.dump();
    EXPECT_EQ(snapshots["Snapshots"]["Snapshot"][0].value("Status", std::string()), "accomplished");

    EXPECT_EQ(ExportSha(*d.client, d.region, copy_id, std::string("x") + (d.client == &v1 ? "sh" : "bj")),
              source_sha);

    Result<EcsResponse> cancel =
        d.client->Call("CancelCopyImage", {{"RegionId", d.region}, {"ImageId", copy_id}});
    ASSERT_TRUE(cancel.ok()) << cancel.status().ToString();
    EXPECT_EQ(cancel->http_status, 400) << cancel->raw_body;
    EXPECT_EQ(cancel->body.value("Code", std::string()), "IncorrectImageStatus");
  }
  EXPECT_EQ(ExportSha(v1, "cn-hangzhou", source_id, "xhz"), source_sha);
}

TEST_F(CopyTest, RefusedCopiesCarryTheirEcsCodes) {
  EcsClient client = RootClient(server_->endpoint(), false);
  json system =
      CallOk(client, "DescribeImages", {{"RegionId", "cn-hangzhou"}, {"ImageOwnerAlias", "system"}});
  ASSERT_FALSE(system["Images"]["Image"].empty()) << system.dump();
  const std::string system_id = system["Images"]["Image"][0].value("ImageId", std::string());

  struct Case {
    std::map<std::string, std::string> params;
    int http;
    const char* code;
  };
  const Case cases[] = {
      {{{"RegionId", "cn-hangzhou"}, {"ImageId", system_id}, {"DestinationRegionId", "cn-shanghai"}},
       404,
       "InvalidImageId.NotFound"},
      {{{"RegionId", "cn-hangzhou"},
        {"ImageId", "m-doesnotexist0000000"},
        {"DestinationRegionId", "cn-shanghai"}},
       404,
       "InvalidImageId.NotFound"},
      {{{"RegionId", "cn-hangzhou"}, {"ImageId", system_id}, {"DestinationRegionId", "cn-nowhere"}},
       400,
       "DestinationRegion.NotFound"},
      {{{"RegionId", "cn-nowhere"}, {"ImageId", system_id}, {"DestinationRegionId", "cn-shanghai"}},
       400,
       "SourceRegion.NotFound"},
      {{{"RegionId", "cn-hangzhou"},
        {"ImageId", system_id},
        {"DestinationRegionId", "cn-shanghai"},
        {"KMSKeyId", "key-1"}},
       400,
       "InvalidParameter.EncryptedIllegal"},
  };
  for (const Case& c : cases) {
    Result<EcsResponse> resp = client.Call("CopyImage", c.params);
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->http_status, c.http) << c.code << ": " << resp->raw_body;
    EXPECT_EQ(resp->body.value("Code", std::string()), c.code) << resp->raw_body;
  }

  Result<EcsResponse> cancel =
      client.Call("CancelCopyImage", {{"RegionId", "cn-shanghai"}, {"ImageId", "m-doesnotexist0000000"}});
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->http_status, 404) << cancel->raw_body;
}

TEST_F(CopyTest, CliCopiesToTwoRegionsAndWaits) {
  EcsClient client = RootClient(server_->endpoint(), false);
  const std::string source_id = ImportSource(client, "cli-copy-source.raw", 12);
  ASSERT_FALSE(source_id.empty());

  CommandResult copied = RunFerry({"image", "copy", source_id, "--to", "cn-shanghai,cn-beijing", "--name",
                                   "cli-copy", "--wait", "--output", "json"},
                                  server_->ClientEnv(), std::chrono::seconds(240));
  ASSERT_EQ(copied.exit_code, 0) << copied.out << "\n" << copied.err << "\n" << server_->Log();
  json rows = json::parse(copied.out, nullptr, false);
  ASSERT_TRUE(rows.is_array()) << copied.out;
  ASSERT_EQ(rows.size(), 2u) << copied.out;
  const char* regions[] = {"cn-shanghai", "cn-beijing"};
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(rows[i].value("RegionId", std::string()), regions[i]);
    EXPECT_EQ(rows[i].value("Status", std::string()), "Available") << copied.out;
    EXPECT_EQ(rows[i].value("Progress", std::string()), "100%");
    const std::string copy_id = rows[i].value("ImageId", std::string());
    json images = DescribeImageIn(client, regions[i], copy_id);
    ASSERT_EQ(images.size(), 1u);
    EXPECT_EQ(images[0].value("ImageName", std::string()), "cli-copy");
  }
  // Progress went to stderr, one line per region.
  EXPECT_NE(copied.err.find("cn-hangzhou -> cn-beijing"), std::string::npos) << copied.err;

  CommandResult tasks =
      RunFerry({"task", "list", "--region", "cn-shanghai", "--output", "json"}, server_->ClientEnv());
  ASSERT_EQ(tasks.exit_code, 0) << tasks.err;
  json task_rows = json::parse(tasks.out, nullptr, false);
  ASSERT_TRUE(task_rows.is_array()) << tasks.out;
  bool copy_task = false;
  for (const json& t : task_rows)
    copy_task = copy_task || t.value("TaskAction", std::string()) == "CopyImage";
  EXPECT_TRUE(copy_task) << tasks.out;

  CommandResult cancel = RunFerry(
      {"image", "cancel-copy", "cn-shanghai", rows[0].value("ImageId", std::string())}, server_->ClientEnv());
  EXPECT_EQ(cancel.exit_code, 1);
  EXPECT_NE(cancel.err.find("IncorrectImageStatus"), std::string::npos) << cancel.err;
}

// A server whose size limit is 1 GiB: a 2 GiB image needs the operator's
// allowance, granted offline while the server runs.
TEST(CopySizeLimitTest, LargeImageNeedsTheAllowanceGrantedOffline) {
  ScratchDir scratch("ferry-copy-limit-");
  const std::string data = scratch.path() + "/data";
  const std::string bucket_dir = data + "/oss/" + kOperatorBucket;
  fs::create_directories(bucket_dir);
  fs::create_directories(scratch.path() + "/config");
  FerryServer server(data, scratch.path() + "/config");
  server.set_extra_args({"--max-copy-size-gib", "1", "--max-copies", "2"});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;

  EcsClient client = RootClient(server.endpoint(), false);
  // 1.5 GiB of mostly holes: 2 GiB once rounded up, cheap to store.
  const uint64_t size = 3ull << 29;
  WriteSparseImage(bucket_dir + "/big.raw", size, {{0, kMiB}, {size - kMiB, kMiB}}, 21);
  json started = CallOk(client, "ImportImage",
                        {{"ImageName", "big"},
                         {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                         {"DiskDeviceMapping.1.OSSObject", "big.raw"},
                         {"DiskDeviceMapping.1.Format", "RAW"}});
  ASSERT_EQ(WaitForTask(client, started.value("TaskId", std::string())).value("TaskStatus", std::string()),
            "Finished");
  const std::string image_id = started.value("ImageId", std::string());
  const std::map<std::string, std::string> copy = {
      {"RegionId", "cn-hangzhou"}, {"ImageId", image_id}, {"DestinationRegionId", "cn-shanghai"}};

  Result<EcsResponse> refused = client.Call("CopyImage", copy);
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->http_status, 403) << refused->raw_body;
  EXPECT_EQ(refused->body.value("Code", std::string()), "SizeExceed.Image");

  const std::string account_id = json::parse(ReadAll(data + "/root-credentials.json")).value("AccountId", "");
  CommandResult unknown =
      RunFerry({"admin", "allow-large-copy", "--account", "9999999999999999", "--data", data}, {});
  EXPECT_EQ(unknown.exit_code, 1) << unknown.out;
  EXPECT_NE(unknown.err.find("9999999999999999"), std::string::npos) << unknown.err;
  CommandResult allowed = RunFerry(
      {"admin", "allow-large-copy", "--account", account_id, "--image", image_id, "--data", data}, {});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(json::parse(allowed.out, nullptr, false).value("ImageId", std::string()), image_id)
      << allowed.out;

  json copied = CallOk(client, "CopyImage", copy);
  EXPECT_FALSE(copied.value("ImageId", std::string()).empty()) << copied.dump();
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

}  // namespace
}  // namespace ferry::testing
