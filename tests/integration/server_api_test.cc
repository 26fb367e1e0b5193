// The real binary over HTTP: one server shared by the tests of this suite.
#include <filesystem>
#include <memory>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

class ServerApiTest : public SharedServerTest<ServerApiTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-api-";

 protected:

  // Writes a raw image with holes into the operator bucket and imports it;
  // returns {image id, task id}.
  static std::pair<std::string, std::string> ImportRaw(EcsClient& client, const std::string& object,
                                                       const std::string& name, uint64_t seed) {
    const uint64_t size = 20 * kMiB + 12345;  // not chunk-aligned: the tail must survive
    WriteSparseImage(BucketDir() + "/" + object, size,
                     {{0, kMiB}, {8 * kMiB, 3 * kMiB / 2}, {size - 64 * 1024, 64 * 1024}}, seed);
    json started = CallOk(client, "ImportImage",
                          {{"ImageName", name},
                           {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                           {"DiskDeviceMapping.1.OSSObject", object},
                           {"DiskDeviceMapping.1.Format", "RAW"}});
    return {started.value("ImageId", std::string()), started.value("TaskId", std::string())};
  }

  // One server for the whole suite: starting one per test would dominate
  // the suite's run time.
};

TEST_F(ServerApiTest, DescribeRegionsListsTheThreeDefaultRegionsWithBothSignatures) {
  for (bool v3 : {false, true}) {
    EcsClient client = RootClient(server_->endpoint(), v3);
    json body = CallOk(client, "DescribeRegions", {});
    std::vector<std::string> ids;
    for (const json& r : body["Regions"]["Region"]) ids.push_back(r.value("RegionId", std::string()));
    EXPECT_EQ(ids, (std::vector<std::string>{"cn-hangzhou", "cn-shanghai", "cn-beijing"})) << "v3=" << v3;
  }
}

TEST_F(ServerApiTest, ServeWritesRootCredentialsAndDefaultProfile) {
  json creds = json::parse(ReadAll(DataDir() + "/root-credentials.json"));
  EXPECT_EQ(creds.value("AccessKeyId", std::string()), kRootKeyId);
  EXPECT_EQ(creds.value("AccessKeySecret", std::string()), kRootKeySecret);
  EXPECT_EQ(creds.value("AccountId", std::string()).size(), 16u);
  EXPECT_EQ(fs::status(DataDir() + "/root-credentials.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);

  json profiles = json::parse(ReadAll(ConfigDir() + "/profiles.json"));
  const json& def = profiles["profiles"]["default"];
  EXPECT_EQ(def.value("endpoint", std::string()), server_->endpoint());
  EXPECT_EQ(def.value("access_key_id", std::string()), kRootKeyId);
  EXPECT_EQ(def.value("region", std::string()), "cn-hangzhou");
  EXPECT_EQ(fs::status(ConfigDir() + "/profiles.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

class ImageLifecycleTest : public ServerApiTest, public ::testing::WithParamInterface<bool> {};

TEST_P(ImageLifecycleTest, ImportDescribeRenameExportDelete) {
  const bool v3 = GetParam();
  const std::string suffix = v3 ? "v3" : "v1";
  EcsClient client = RootClient(server_->endpoint(), v3);
  const std::string object = "disk-" + suffix + ".raw";
  auto [image_id, task_id] = ImportRaw(client, object, "lifecycle-" + suffix, v3 ? 2 : 1);
  ASSERT_FALSE(image_id.empty());
  ASSERT_FALSE(task_id.empty());

  json task = WaitForTask(client, task_id);
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
  EXPECT_EQ(task.value("TaskProcess", std::string()), "100%");

  json images = DescribeImage(client, image_id);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("Status", std::string()), "Available");
  EXPECT_EQ(images[0].value("ImageName", std::string()), "lifecycle-" + suffix);
  EXPECT_EQ(images[0].value("Size", 0), 1);  // 20 MiB rounds up to 1 GiB

  CallOk(client, "ModifyImageAttribute", {{"ImageId", image_id}, {"ImageName", "renamed-" + suffix}});
  images = DescribeImage(client, image_id);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("ImageName", std::string()), "renamed-" + suffix);

  json exported = CallOk(client, "ExportImage",
                         {{"ImageId", image_id}, {"OSSBucket", kOperatorBucket}, {"OSSPrefix", "exp" + suffix},
                          {"ImageFormat", "raw"}});
  const std::string export_task = exported.value("TaskId", std::string());
  ASSERT_FALSE(export_task.empty()) << exported.dump();
  json done = WaitForTask(client, export_task);
  ASSERT_EQ(done.value("TaskStatus", std::string()), "Finished") << done.dump();
  const std::string out_object = RelatedItem(done, "OSSObject");
  ASSERT_FALSE(out_object.empty()) << done.dump();
  const std::string out_path = BucketDir() + "/" + out_object;
  ASSERT_TRUE(fs::exists(out_path)) << out_path;
  EXPECT_EQ(fs::file_size(out_path), fs::file_size(BucketDir() + "/" + object));
  EXPECT_EQ(FileSha256(out_path), FileSha256(BucketDir() + "/" + object));

  CallOk(client, "DeleteImage", {{"ImageId", image_id}});
  EXPECT_TRUE(DescribeImage(client, image_id).empty());
}

INSTANTIATE_TEST_SUITE_P(Signatures, ImageLifecycleTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "V3" : "V1"; });

TEST_F(ServerApiTest, ErrorsCarryEcsCodesAndHttpStatuses) {
  for (bool v3 : {false, true}) {
    SCOPED_TRACE(v3 ? "v3" : "v1");
    EcsClient client = RootClient(server_->endpoint(), v3);
    Result<EcsResponse> resp =
        client.Call("ModifyImageAttribute",
                    {{"RegionId", kRegion}, {"ImageId", "m-doesnotexist0000000"}, {"ImageName", "whatever"}});
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->http_status, 404) << resp->raw_body;
    EXPECT_EQ(resp->body.value("Code", std::string()), "InvalidImageId.NotFound");
    EXPECT_FALSE(resp->body.value("RequestId", std::string()).empty());

    EcsClient forged = ClientFor(server_->endpoint(), kRootKeyId, "not-the-secret", v3);
    resp = forged.Call("DescribeImages", {{"RegionId", kRegion}});
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->http_status, 400) << resp->raw_body;
    EXPECT_EQ(resp->body.value("Code", std::string()), "SignatureDoesNotMatch");

    resp = client.Call("ImportImage", {{"RegionId", kRegion},
                                       {"ImageName", "1-starts-with-a-digit"},
                                       {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                                       {"DiskDeviceMapping.1.OSSObject", "whatever.raw"}});
    ASSERT_TRUE(resp.ok()) << resp.status().ToString();
    EXPECT_EQ(resp->http_status, 400) << resp->raw_body;
    EXPECT_EQ(resp->body.value("Code", std::string()), "InvalidImageName.Malformed");
  }
}

TEST_F(ServerApiTest, SecondAccountMadeOfflineCannotSeeRootImages) {
  EcsClient root = RootClient(server_->endpoint(), false);
  auto [image_id, task_id] = ImportRaw(root, "private.raw", "root-private", 3);
  ASSERT_EQ(WaitForTask(root, task_id).value("TaskStatus", std::string()), "Finished");

  CommandResult created = RunFerry({"account", "create", "bob", "--data", DataDir()}, {});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  json bob_key = json::parse(created.out, nullptr, false);
  ASSERT_TRUE(bob_key.is_object()) << created.out;
  ASSERT_EQ(bob_key.value("AccountId", std::string()).size(), 16u);

  for (bool v3 : {false, true}) {
    EcsClient bob = ClientFor(server_->endpoint(), bob_key.value("AccessKeyId", std::string()),
                              bob_key.value("AccessKeySecret", std::string()), v3);
    EXPECT_TRUE(DescribeImage(bob, image_id).empty()) << "v3=" << v3;
    json own = CallOk(bob, "DescribeImages", {{"ImageOwnerAlias", "self"}});
    EXPECT_EQ(own.value("TotalCount", -1), 0) << own.dump();
    Result<EcsResponse> resp = bob.Call(
        "ModifyImageAttribute", {{"RegionId", kRegion}, {"ImageId", image_id}, {"ImageName", "stolen"}});
    ASSERT_TRUE(resp.ok());
    EXPECT_EQ(resp->http_status, 404) << resp->raw_body;
  }
  // The root still sees its image, unrenamed.
  json images = DescribeImage(root, image_id);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("ImageName", std::string()), "root-private");

  CommandResult duplicate = RunFerry({"account", "create", "bob", "--data", DataDir()}, {});
  EXPECT_EQ(duplicate.exit_code, 1) << duplicate.out;
  EXPECT_NE(duplicate.err.find("Error:"), std::string::npos) << duplicate.err;
}

TEST_F(ServerApiTest, CliImportsAFileAndListsItAsJson) {
  ScratchDir files("ferry-cli-file-");
  const std::string file = files.path() + "/cli-disk.img";
  WriteSparseImage(file, 12 * kMiB, {{kMiB, 2 * kMiB}, {10 * kMiB, 5000}}, 4);

  CommandResult imported = RunFerry({"image", "import", file, "--name", "cli-imported", "--format", "raw",
                                     "--output", "json", "--keep-upload"},
                                    server_->ClientEnv());
  ASSERT_EQ(imported.exit_code, 0) << imported.out << "\n" << imported.err;
  json result = json::parse(imported.out, nullptr, false);
  ASSERT_TRUE(result.is_object()) << imported.out;
  const std::string image_id = result.value("ImageId", std::string());
  EXPECT_EQ(result.value("TaskStatus", std::string()), "Finished");
  // Progress goes to stderr, never into the JSON on stdout.
  EXPECT_NE(imported.err.find("upload"), std::string::npos) << imported.err;

  CommandResult listed = RunFerry({"image", "list", "--output", "json"}, server_->ClientEnv());
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json images = json::parse(listed.out, nullptr, false);
  ASSERT_TRUE(images.is_array()) << listed.out;
  bool found = false;
  for (const json& img : images) {
    if (img.value("ImageId", std::string()) != image_id) continue;
    found = true;
    EXPECT_EQ(img.value("ImageName", std::string()), "cli-imported");
    EXPECT_EQ(img.value("Status", std::string()), "Available");
  }
  EXPECT_TRUE(found) << listed.out;

  // The uploaded object (kept: --keep-upload) is byte-identical to the file.
  const std::string bucket = result.value("OSSBucket", std::string());
  const std::string object = result.value("OSSObject", std::string());
  EXPECT_EQ(FileSha256(DataDir() + "/oss/" + bucket + "/" + object), FileSha256(file));

  CommandResult table = RunFerry({"image", "list"}, server_->ClientEnv());
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out.rfind("IMAGEID", 0), 0u) << table.out;
  EXPECT_NE(table.out.find(image_id), std::string::npos) << table.out;
}

TEST_F(ServerApiTest, CliReportsEcsErrorsAndUsageErrorsWithDistinctExitCodes) {
  CommandResult missing = RunFerry({"image", "show", "m-doesnotexist0000000"}, server_->ClientEnv());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("Error: InvalidImageId.NotFound"), std::string::npos) << missing.err;

  CommandResult rename = RunFerry({"image", "rename", "m-doesnotexist0000000", "newname"}, server_->ClientEnv());
  EXPECT_EQ(rename.exit_code, 1);
  EXPECT_NE(rename.err.find("Error: InvalidImageId.NotFound: "), std::string::npos) << rename.err;
  EXPECT_NE(rename.err.find("(RequestId "), std::string::npos) << rename.err;

  CommandResult usage = RunFerry({"image", "frobnicate"}, server_->ClientEnv());
  EXPECT_EQ(usage.exit_code, 2) << usage.err;

  CommandResult regions = RunFerry({"region", "list", "--v3", "--output", "json"}, server_->ClientEnv());
  ASSERT_EQ(regions.exit_code, 0) << regions.err;
  json list = json::parse(regions.out, nullptr, false);
  ASSERT_TRUE(list.is_array()) << regions.out;
  EXPECT_EQ(list.size(), 3u);
}

}  // namespace
}  // namespace ferry::testing
