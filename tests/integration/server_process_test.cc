// Process lifecycle of the real binary: clean SIGTERM shutdown, restart on the
// same data directory, and kill -9 in the middle of an import (the resumed
// image exported and compared with the object it came from).
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/ferry_process.h"
#include "api/oss_client.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

class ServerProcessTest : public ::testing::Test {
 protected:
  ServerProcessTest() : scratch_("ferry-restart-") {
    fs::create_directories(DataDir() + "/oss/" + kOperatorBucket);
    fs::create_directories(ConfigDir());
  }
  std::string DataDir() const { return scratch_.path() + "/data"; }
  std::string ConfigDir() const { return scratch_.path() + "/config"; }
  std::string BucketDir() const { return DataDir() + "/oss/" + kOperatorBucket; }
  std::string ChunkDir() const { return DataDir() + "/regions/" + kRegion + "/chunks"; }

  // Regular files under `dir`, tolerating files that come and go meanwhile.
  static uint64_t CountFiles(const std::string& dir) {
    uint64_t n = 0;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) ++n;
    }
    return n;
  }

  std::unique_ptr<FerryServer> StartServer() {
    auto server = std::make_unique<FerryServer>(DataDir(), ConfigDir());
    std::string error;
    if (!server->Start(&error)) {
      ADD_FAILURE() << error;
      return nullptr;
    }
    return server;
  }

  ScratchDir scratch_;
};

TEST_F(ServerProcessTest, SigtermExitsZeroAndARestartKeepsTheImage) {
  WriteSparseImage(BucketDir() + "/keep.raw", 9 * kMiB, {{0, 2 * kMiB}, {6 * kMiB, kMiB}}, 11);
  std::string image_id;
  {
    std::unique_ptr<FerryServer> server = StartServer();
    ASSERT_NE(server, nullptr);
    EcsClient client = RootClient(server->endpoint(), true);
    json started = CallOk(client, "ImportImage",
                          {{"ImageName", "survivor"},
                           {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                           {"DiskDeviceMapping.1.OSSObject", "keep.raw"}});
    image_id = started.value("ImageId", std::string());
    json task = WaitForTask(client, started.value("TaskId", std::string()));
    ASSERT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
    EXPECT_EQ(server->Stop(), 0) << server->Log();
  }

  std::unique_ptr<FerryServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  // The restart did not print a second set of root credentials.
  EXPECT_EQ(server->Log().find("\"AccessKeySecret\""), std::string::npos) << server->Log();
  EcsClient client = RootClient(server->endpoint(), false);
  json images = DescribeImage(client, image_id);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("Status", std::string()), "Available");
  EXPECT_EQ(images[0].value("ImageName", std::string()), "survivor");

  // The default profile follows the server to its new port.
  json profiles = json::parse(ReadAll(ConfigDir() + "/profiles.json"));
  EXPECT_EQ(profiles["profiles"]["default"].value("endpoint", std::string()), server->endpoint());
  EXPECT_EQ(server->Stop(), 0) << server->Log();
}

// The root account id is a JSON number in ImageOwnerId: it must be below
// 2^53, or JavaScript SDKs round it to another account. This cluster key
// made 9690589091277667 before ids began with 1.
TEST_F(ServerProcessTest, TheRootAccountIdIsBelowTwoToThe53) {
  FerryServer server(DataDir(), ConfigDir());
  server.set_extra_env({{"FERRY_CLUSTER_KEY", "root-id-test-key-11"}});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  json creds = json::parse(ReadAll(DataDir() + "/root-credentials.json"));
  const std::string id = creds.value("AccountId", std::string());
  ASSERT_EQ(id.size(), 16u) << id;
  EXPECT_EQ(id[0], '1') << id;
  EXPECT_LT(std::stoull(id), 1ull << 53) << id;
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

TEST_F(ServerProcessTest, ARestartWithANewEnvironmentKeyAddsItToTheRootAccount) {
  {
    std::unique_ptr<FerryServer> server = StartServer();
    ASSERT_NE(server, nullptr);
    EXPECT_EQ(server->Stop(), 0) << server->Log();
  }
  FerryServer server(DataDir(), ConfigDir());
  server.set_extra_env({{"FERRY_ACCESS_KEY_ID", "LTAIsecondRootKey0000001"},
                        {"FERRY_ACCESS_KEY_SECRET", "secondRootSecret00000000000000"}});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  for (const auto& [id, secret] : std::vector<std::pair<std::string, std::string>>{
           {kRootKeyId, kRootKeySecret}, {"LTAIsecondRootKey0000001", "secondRootSecret00000000000000"}}) {
    EcsClient client = ClientFor(server.endpoint(), id, secret, false);
    json own = CallOk(client, "DescribeImages", {{"ImageOwnerAlias", "self"}});
    EXPECT_EQ(own.value("TotalCount", -1), 0) << id << ": " << own.dump();
  }
  // root-credentials.json still records the key made on the first start.
  json creds = json::parse(ReadAll(DataDir() + "/root-credentials.json"));
  EXPECT_EQ(creds.value("AccessKeyId", std::string()), kRootKeyId);
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

TEST_F(ServerProcessTest, SecondServerOnTheSameDataDirIsRefused) {
  std::unique_ptr<FerryServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  ScratchDir other_config("ferry-second-");
  FerryServer second(DataDir(), other_config.path());
  std::string error;
  EXPECT_FALSE(second.Start(&error));
  EXPECT_NE(error.find("in use by another ferry process"), std::string::npos) << error;
  EXPECT_EQ(server->Stop(), 0) << server->Log();
}

class InterruptedImportTest : public ServerProcessTest, public ::testing::WithParamInterface<bool> {};

// Param: true = SIGTERM (graceful: exit 0, the task stops after its current
// step), false = kill -9.
TEST_P(InterruptedImportTest, RestartResumesTheTaskToFinished) {
  const bool graceful = GetParam();
  // 1 GiB logical, 384 MiB of incompressible data: long enough to be caught
  // mid-import.
  const uint64_t size = 1024 * kMiB;
  WriteSparseImage(BucketDir() + "/big.raw", size, {{0, 128 * kMiB}, {512 * kMiB, 256 * kMiB}}, 21);

  std::string image_id, task_id;
  {
    std::unique_ptr<FerryServer> server = StartServer();
    ASSERT_NE(server, nullptr);
    EcsClient client = RootClient(server->endpoint(), false);
    const uint64_t baseline_chunks = CountFiles(ChunkDir());
    json started = CallOk(client, "ImportImage",
                          {{"ImageName", "interrupted"},
                           {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                           {"DiskDeviceMapping.1.OSSObject", "big.raw"},
                           {"DiskDeviceMapping.1.Format", "RAW"}});
    image_id = started.value("ImageId", std::string());
    task_id = started.value("TaskId", std::string());
    ASSERT_FALSE(task_id.empty()) << started.dump();
    // Interrupt once the task has stored a good part of its chunks (task
    // progress is reported too coarsely to aim at), while it still runs.
    const uint64_t target_chunks = baseline_chunks + 24;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::string status = "Processing";
    uint64_t chunks = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      chunks = CountFiles(ChunkDir());
      json task = CallOk(client, "DescribeTaskAttribute", {{"TaskId", task_id}});
      status = task.value("TaskStatus", std::string());
      if (status != "Processing" || chunks >= target_chunks) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(status, "Processing") << "the import ended before it could be interrupted";
    if (graceful) {
      EXPECT_EQ(server->Stop(), 0) << server->Log();
    } else {
      server->Kill9();
    }
    RecordProperty("chunks_at_interrupt", std::to_string(chunks - baseline_chunks));
  }

  std::unique_ptr<FerryServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  EcsClient client = RootClient(server->endpoint(), true);
  json task = WaitForTask(client, task_id, std::chrono::seconds(120));
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump() << "\n" << server->Log();
  json images = DescribeImage(client, image_id);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("Status", std::string()), "Available");
  EXPECT_EQ(images[0].value("Size", 0), 1);

  json snapshots = CallOk(client, "DescribeSnapshots", {});
  bool found = false;
  for (const json& s : snapshots["Snapshots"]["Snapshot"]) {
    if (s.value("SnapshotId", std::string()) != images[0]["DiskDeviceMappings"]["DiskDeviceMapping"][0].value(
                                                    "SnapshotId", std::string()))
      continue;
    found = true;
    EXPECT_EQ(s.value("Status", std::string()), "accomplished");
  }
  EXPECT_TRUE(found) << snapshots.dump();
  // The resumed import holds the object's very bytes.
  EXPECT_EQ(ExportImageSha256(client, kRegion, image_id, kOperatorBucket, BucketDir(), "resumed"),
            FileSha256(BucketDir() + "/big.raw"));
  EXPECT_EQ(server->Stop(), 0) << server->Log();

  // The store holds exactly what the catalog references.
  CommandResult fsck = RunFerry({"fsck", "--data", DataDir(), "--regions", kRegion}, {});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  EXPECT_NE(fsck.out.find("0 problems"), std::string::npos) << fsck.out;
}

INSTANTIATE_TEST_SUITE_P(Signals, InterruptedImportTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Sigterm" : "Sigkill"; });

std::vector<std::string> RegionIds(const std::string& endpoint) {
  EcsClient client = RootClient(endpoint, false);
  json body = CallOk(client, "DescribeRegions", {});
  std::vector<std::string> ids;
  for (const json& r : body["Regions"]["Region"]) ids.push_back(r.value("RegionId", std::string()));
  return ids;
}

TEST_F(ServerProcessTest, SettingsComeFromFlagsThenEnvironmentThenConfigFile) {
  const std::string config = scratch_.path() + "/ferry.toml";
  {
    std::ofstream out(config);
    out << "regions = [\"cn-beijing\", \"cn-shanghai\"]\nlog_level = \"debug\"\nthreads = 2\n";
  }
  // The config file alone.
  {
    FerryServer server(DataDir(), ConfigDir());
    server.set_extra_args({"--config", config});
    std::string error;
    ASSERT_TRUE(server.Start(&error)) << error;
    EXPECT_EQ(RegionIds(server.endpoint()), (std::vector<std::string>{"cn-beijing", "cn-shanghai"}));
    EXPECT_EQ(server.Stop(), 0) << server.Log();
  }
  // The environment beats the file (FERRY_CONFIG names the file here).
  {
    FerryServer server(DataDir(), ConfigDir());
    server.set_extra_env({{"FERRY_CONFIG", config}, {"FERRY_REGIONS", "cn-shenzhen"}});
    std::string error;
    ASSERT_TRUE(server.Start(&error)) << error;
    EXPECT_EQ(RegionIds(server.endpoint()), (std::vector<std::string>{"cn-shenzhen"}));
    EXPECT_EQ(server.Stop(), 0) << server.Log();
  }
  // A flag beats both.
  {
    FerryServer server(DataDir(), ConfigDir());
    server.set_extra_args({"--config", config, "--regions", "cn-qingdao,cn-hangzhou"});
    server.set_extra_env({{"FERRY_REGIONS", "cn-shenzhen"}});
    std::string error;
    ASSERT_TRUE(server.Start(&error)) << error;
    EXPECT_EQ(RegionIds(server.endpoint()), (std::vector<std::string>{"cn-qingdao", "cn-hangzhou"}));
    EXPECT_EQ(server.Stop(), 0) << server.Log();
  }
}

// /metrics and /healthz are the operator's: served on the admin listener
// only. A client's object name cannot forge a log line.
TEST_F(ServerProcessTest, AdminListenerAndLogHygiene) {
  {
    std::unique_ptr<FerryServer> server = StartServer();
    ASSERT_NE(server, nullptr);
    ASSERT_FALSE(server->admin_endpoint().empty());
    ASSERT_NE(server->admin_endpoint(), server->endpoint());
    EcsClient admin = RootClient(server->admin_endpoint(), false);
    Result<std::string> health = admin.Get("/healthz");
    ASSERT_TRUE(health.ok()) << health.status().ToString();
    EXPECT_EQ(*health, "ok\n");
    Result<std::string> metrics = admin.Get("/metrics");
    ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
    EXPECT_NE(metrics->find("ferry_region_"), std::string::npos) << *metrics;
    EcsClient tenant = RootClient(server->endpoint(), false);
    EXPECT_FALSE(tenant.Get("/metrics").ok());
    EXPECT_FALSE(tenant.Get("/healthz").ok());

    const std::string local = scratch_.path() + "/small.raw";
    WriteSparseImage(local, 4096, {{0, 4096}}, 7);
    const std::string forged = "2026-01-01T00:00:00.000+0000 error forged";
    OssClientConfig oss_config;
    oss_config.endpoint = server->oss_endpoint();
    oss_config.access_key_id = kRootKeyId;
    oss_config.access_key_secret = kRootKeySecret;
    Status refused = OssClient(oss_config).UploadFile(local, kOperatorBucket, "evil\n" + forged, "", nullptr);
    EXPECT_EQ(refused.reason(), "InvalidObjectName") << refused.ToString();
    const std::string log = server->Log();
    EXPECT_EQ(log.find("\n" + forged), std::string::npos) << log;
    EXPECT_EQ(server->Stop(), 0) << server->Log();
  }
  {
    FerryServer server(DataDir(), ConfigDir());
    server.set_admin_listen("off");
    std::string error;
    ASSERT_TRUE(server.Start(&error)) << error;
    EXPECT_EQ(server.admin_endpoint(), "");
    EXPECT_EQ(server.Stop(), 0) << server.Log();
  }
  CommandResult bad = RunFerry({"serve", "--data", DataDir()}, {{"FERRY_ADMIN_LISTEN", "no-port"}});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("FERRY_ADMIN_LISTEN"), std::string::npos) << bad.err;
}

TEST_F(ServerProcessTest, MalformedSettingsAreUsageErrorsNamingTheirSource) {
  const std::string config = scratch_.path() + "/bad.toml";
  {
    std::ofstream out(config);
    out << "threads = \"many\"\n";
  }
  CommandResult bad_file = RunFerry({"serve", "--config", config, "--data", DataDir()}, {});
  EXPECT_EQ(bad_file.exit_code, 2);
  EXPECT_NE(bad_file.err.find("config file " + config + " key threads"), std::string::npos) << bad_file.err;

  CommandResult bad_env = RunFerry({"serve", "--data", DataDir()}, {{"FERRY_LISTEN", "no-port"}});
  EXPECT_EQ(bad_env.exit_code, 2);
  EXPECT_NE(bad_env.err.find("FERRY_LISTEN"), std::string::npos) << bad_env.err;

  // Cluster settings: each refusal names the flag and what is wrong.
  const std::pair<std::vector<std::string>, std::string> cluster_cases[] = {
      {{"--peer", "cn-beijing"}, "is not REGION=http://HOST:PORT"},
      {{"--peer", "cn-beijing=http://127.0.0.1:1/x"}, "has a path"},
      {{"--peer", "cn-beijing=ftp://127.0.0.1:1"}, "only http"},
      {{"--peer", "cn-hangzhou=http://127.0.0.1:1"}, "is served here"},
      {{"--peer", "cn-beijing=http://127.0.0.1:1", "--peer", "cn-beijing=http://127.0.0.1:1"},
       "listed twice"},
      {{"--link-rate-limit", "cn-beijing=fast"}, "is not an integer"},
      {{"--link-rate-limit", "=5"}, "is not REGION=BYTES_PER_SECOND"},
      {{"--copy-in-flight", "0"}, "copy_in_flight: \"0\" is not an integer in [1, 64]"},
      {{"--copy-in-flight", "65"}, "is not an integer in [1, 64]"},
      {{"--copy-buffer-mib", "3"}, "copy_buffer_mib: \"3\" is not an integer in [4, 1048576]"},
      {{"--quota-images", "-1"}, "quota_images: \"-1\" is not an integer"},
      {{"--quota-stored-mib", "lots"}, "quota_stored_mib: \"lots\" is not an integer"},
      {{"--upload-expiry-hours", "0"}, "upload_expiry_hours: \"0\" is not an integer in [1, 8784]"},
      {{"--dedup-scope", "cluster"}, "\"cluster\" is not a dedup scope (account or region)"},
      {{"--max-nonces", "0"}, "max_nonces"},
  };
  for (const auto& [flags, why] : cluster_cases) {
    std::vector<std::string> args = {"serve", "--data", DataDir(), "--region", "cn-hangzhou"};
    args.insert(args.end(), flags.begin(), flags.end());
    CommandResult bad = RunFerry(args, {});
    EXPECT_EQ(bad.exit_code, 2) << flags[1];
    EXPECT_NE(bad.err.find(why), std::string::npos) << flags[1] << ": " << bad.err;
  }
}

}  // namespace
}  // namespace ferry::testing
