// Two nodes of one region (issue 13): two `ferry serve` processes with data
// directories of their own, the same PostgreSQL catalog (--catalog) and the
// same bucket of a Ceph RADOS Gateway for their chunks (--store).
// Either answers for the region's records, buckets and bytes: an object
// uploaded through one is imported through the other, an image imported
// through one is described and exported by the other, a ClientToken used on
// one holds on the other, an account made through one signs requests on the
// other, and a signed request accepted by one is a replay on the other.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "api/params.h"
#include "api/signature.h"
#include "catalog/pg_db.h"
#include "common/clock.h"
#include "common/ids.h"
#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/region_services.h"
#include "integration/tcp_cut.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
constexpr const char* kRegion = "cn-hangzhou";

class RegionNodesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegionServices::Start(); }
  static void TearDownTestSuite() { RegionServices::Stop(); }

  void SetUp() override {
    ASSERT_FALSE(RegionServices::postgres().uri().empty());
    ASSERT_FALSE(RegionServices::ceph().endpoint().empty());
    catalog_ = RegionServices::postgres().NewDatabase();
    ASSERT_FALSE(catalog_.empty());
    // The nodes reach the gateway through a relay the test can cut.
    S3Location bucket = RegionServices::ceph().NewBucket("cn-hangzhou");
    const std::string& endpoint = RegionServices::ceph().endpoint();
    store_cut_ = std::make_unique<TcpCut>(std::stoi(endpoint.substr(endpoint.rfind(':') + 1)));
    ASSERT_NE(store_cut_->port(), 0);
    bucket.endpoint = "http://127.0.0.1:" + std::to_string(store_cut_->port());
    store_ = ThrowawayCeph::UriOf(bucket);
    scratch_ = std::make_unique<ScratchDir>("ferry-nodes-");
    const std::string key_file = scratch_->path() + "/cluster-key";
    std::ofstream(key_file) << "nodes-" << RandomHex(16) << "\n";
    std::filesystem::permissions(key_file,
                                 std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace);
    for (int i = 0; i < 2; ++i) {
      const std::string base = scratch_->path() + "/node" + std::to_string(i);
      std::filesystem::create_directories(base + "/config");
      nodes_.push_back(std::make_unique<FerryServer>(base + "/data", base + "/config"));
      // A short task lease, so a dead node's task is taken over quickly.
      nodes_.back()->set_extra_args({"--region", kRegion, "--catalog", catalog_, "--store", store_,
                                     "--cluster-key-file", key_file, "--task-lease-seconds", "3"});
      nodes_.back()->set_extra_env(
          {{"AWS_SHARED_CREDENTIALS_FILE", RegionServices::ceph().credentials_file()}});
    }
    // Both at once, on an empty database: they migrate its schema and make
    // the root account together, and both must come up.
    std::string errors[2];
    bool started[2] = {false, false};
    std::thread second([&] { started[1] = nodes_[1]->Start(&errors[1]); });
    started[0] = nodes_[0]->Start(&errors[0]);
    second.join();
    ASSERT_TRUE(started[0]) << errors[0];
    ASSERT_TRUE(started[1]) << errors[1];
  }
  void TearDown() override {
    for (auto& node : nodes_) node->Stop(std::chrono::seconds(10));
    store_cut_.reset();
  }

  FerryServer& node(int i) { return *nodes_.at(i); }
  std::string Logs() const {
    std::string out;
    for (size_t i = 0; i < nodes_.size(); ++i)
      out += "---- node " + std::to_string(i) + ":\n" + nodes_[i]->Log();
    return out;
  }

  std::string catalog_;
  std::string store_;
  std::unique_ptr<TcpCut> store_cut_;
  std::unique_ptr<ScratchDir> scratch_;
  std::vector<std::unique_ptr<FerryServer>> nodes_;
};

TEST_F(RegionNodesTest, EitherNodeAnswersForTheRegionsImagesTokensAccountsAndNonces) {
  EcsClient a = RootClient(node(0).endpoint(), false);
  EcsClient b = RootClient(node(1).endpoint(), true);

  // The buckets are the region's, in its S3 store: the source is uploaded
  // through node 1 and imported through node 0.
  const std::string local = scratch_->path() + "/disk.raw";
  WriteSparseImage(local, 8 << 20, {{0, 2 << 20}}, 7);
  UploadAsRoot(node(1).oss_endpoint(), kOperatorBucket, "disk.raw", local);
  const std::map<std::string, std::string> import = {{"RegionId", kRegion},
                                                     {"ImageName", "web"},
                                                     {"ClientToken", "import-once"},
                                                     {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                                                     {"DiskDeviceMapping.1.OSSObject", "disk.raw"},
                                                     {"DiskDeviceMapping.1.Format", "RAW"}};
  json started = CallOk(a, "ImportImage", import);
  const std::string image_id = started.value("ImageId", "");
  ASSERT_FALSE(image_id.empty()) << started.dump() << Logs();
  json task = WaitForTaskIn(a, kRegion, started.value("TaskId", ""));
  ASSERT_EQ(task.value("TaskStatus", ""), "Finished") << task.dump() << Logs();

  // Node 1 describes what node 0 imported, and its task.
  json described = DescribeImageIn(b, kRegion, image_id);
  ASSERT_EQ(described.size(), 1u) << described.dump() << Logs();
  EXPECT_EQ(described[0].value("Status", ""), "Available") << described.dump();
  EXPECT_EQ(described[0].value("ImageName", ""), "web") << described.dump();
  // And exports its bytes (the chunks node 0 wrote are in the shared
  // store), downloaded through node 0.
  const std::string exported = ExportImageObject(b, kRegion, image_id, kOperatorBucket, "fromnode1");
  EXPECT_EQ(DownloadedSha256(node(0).oss_endpoint(), kOperatorBucket, exported, scratch_->path() + "/got"),
            FileSha256(local))
      << Logs();
  json tasks = CallOk(b, "DescribeTasks", {{"RegionId", kRegion}, {"TaskIds", started.value("TaskId", "")}});
  EXPECT_EQ(tasks.dump().find(started.value("TaskId", "")) != std::string::npos, true) << tasks.dump();

  // The ClientToken holds in the region, not on one node: node 1 answers the
  // retry with node 0's image and task, and refuses it with other parameters.
  json retried = CallOk(b, "ImportImage", import);
  EXPECT_EQ(retried.value("ImageId", ""), image_id) << retried.dump();
  EXPECT_EQ(retried.value("TaskId", ""), started.value("TaskId", "")) << retried.dump();
  std::map<std::string, std::string> changed = import;
  changed["ImageName"] = "other";
  Result<json> mismatch = b.CallOrError("ImportImage", changed);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().reason(), "IdempotentParameterMismatch") << mismatch.status().ToString();
  // So does the image name.
  std::map<std::string, std::string> same_name = import;
  same_name.erase("ClientToken");
  Result<json> duplicate = b.CallOrError("ImportImage", same_name);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.status().reason(), "InvalidImageName.Duplicated") << duplicate.status().ToString();

  // An account made through node 1 signs requests on node 0.
  json alice = CallOk(b, "CreateAccount", {{"AccountName", "alice"}});
  EcsClient as_alice = ClientFor(node(0).endpoint(), alice.value("AccessKeyId", ""),
                                 alice.value("AccessKeySecret", ""), false);
  Result<json> alices = as_alice.CallOrError("DescribeImages", {{"RegionId", kRegion}});
  EXPECT_TRUE(alices.ok()) << alices.status().ToString();

  // A signed request accepted by one node is a replay on the other, both ways.
  for (int first : {0, 1}) {
    const std::string target = RootSignedV1Target({{"Action", "DescribeImages"}, {"RegionId", kRegion}});
    HttpAnswer ok = SendHttp(node(first).endpoint(), "GET", target);
    ASSERT_EQ(ok.status, 200) << ok.body.dump();
    HttpAnswer replay = SendHttp(node(1 - first).endpoint(), "GET", target);
    EXPECT_EQ(replay.status, 400) << replay.body.dump();
    EXPECT_EQ(replay.body.value("Code", ""), "SignatureNonceUsed") << replay.body.dump();
  }
}

// kill -9 of the node running an import (either may run it: the object is
// the region's): the other node takes the task over once its lease expires
// (3 s here), and the image ends Available with the bytes of its source.
TEST_F(RegionNodesTest, AnImportWhoseNodeDiesIsFinishedByAnotherNode) {
  const std::string object = "big.raw";
  const uint64_t size = 96ull << 20;
  const std::string local = scratch_->path() + "/" + object;
  WriteSparseImage(local, size, {{0, size}}, 11);
  UploadAsRoot(node(0).oss_endpoint(), kOperatorBucket, object, local);
  const std::string source_sha = FileSha256(local);
  EcsClient a = RootClient(node(0).endpoint(), false);
  json started = CallOk(a, "ImportImage",
                        {{"RegionId", kRegion},
                         {"ImageName", "taken-over"},
                         {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                         {"DiskDeviceMapping.1.OSSObject", object},
                         {"DiskDeviceMapping.1.Format", "RAW"}});
  const std::string image_id = started.value("ImageId", "");
  const std::string task_id = started.value("TaskId", "");
  // Either node may take the task (the object is the region's): kill the
  // one running it.
  const std::string running = "import started task=" + task_id;
  int runner = -1;
  for (int i = 0; i < 300 && runner < 0; ++i) {
    for (int n : {0, 1}) {
      if (node(n).Log().find(running) != std::string::npos) runner = n;
    }
    if (runner < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(runner, 0) << Logs();
  const int other = 1 - runner;
  node(runner).Kill9();
  EcsClient survivor = RootClient(node(other).endpoint(), false);
  json task = CallOk(survivor, "DescribeTasks", {{"RegionId", kRegion}, {"TaskIds", task_id}});
  ASSERT_NE(task.dump().find("Processing"), std::string::npos)
      << "the import ended before its node died: " << task.dump();

  json finished = WaitForTaskIn(survivor, kRegion, task_id);
  ASSERT_EQ(finished.value("TaskStatus", ""), "Finished") << finished.dump() << Logs();
  EXPECT_NE(node(other).Log().find("taking over task " + task_id), std::string::npos) << Logs();
  EXPECT_NE(node(other).Log().find(running), std::string::npos) << "the survivor ran it again: " << Logs();
  json image = DescribeImageIn(survivor, kRegion, image_id);
  ASSERT_EQ(image.size(), 1u) << image.dump();
  EXPECT_EQ(image[0].value("Status", ""), "Available") << image.dump();
  EXPECT_EQ(DownloadedSha256(node(other).oss_endpoint(), kOperatorBucket,
                             ExportImageObject(survivor, kRegion, image_id, kOperatorBucket, "takeover"),
                             scratch_->path() + "/got"),
            source_sha);
}

// The object store goes away in the middle of an import: the task does not
// fail and nothing of the image becomes Available; it waits, keeping its
// lease and the chunks already stored, and ends with the source's bytes
// once the store answers again.
TEST_F(RegionNodesTest, AnImportPausesWhileTheObjectStoreIsDownAndFinishesWhenItIsBack) {
  const std::string object = "paused.raw";
  const uint64_t size = 64ull << 20;
  const std::string local = scratch_->path() + "/" + object;
  WriteSparseImage(local, size, {{0, size}}, 13);
  UploadAsRoot(node(0).oss_endpoint(), kOperatorBucket, object, local);
  const std::string source_sha = FileSha256(local);
  EcsClient a = RootClient(node(0).endpoint(), false);
  json started = CallOk(a, "ImportImage",
                        {{"RegionId", kRegion},
                         {"ImageName", "paused"},
                         {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                         {"DiskDeviceMapping.1.OSSObject", object},
                         {"DiskDeviceMapping.1.Format", "RAW"}});
  const std::string image_id = started.value("ImageId", "");
  const std::string task_id = started.value("TaskId", "");
  store_cut_->Cut();
  // Either node may run the task: the object is the region's.
  const std::string paused = "task " + task_id + " paused";
  for (int i = 0; i < 300 && Logs().find(paused) == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_NE(Logs().find(paused), std::string::npos) << Logs();
  // Still Processing a while later, the image not Available.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  json task = CallOk(a, "DescribeTasks", {{"RegionId", kRegion}, {"TaskIds", task_id}});
  EXPECT_NE(task.dump().find("Processing"), std::string::npos) << task.dump();
  json image = DescribeImageIn(a, kRegion, image_id);
  ASSERT_EQ(image.size(), 1u) << image.dump();
  EXPECT_NE(image[0].value("Status", ""), "Available") << image.dump();

  store_cut_->Mend();
  json finished = WaitForTaskIn(a, kRegion, task_id);
  ASSERT_EQ(finished.value("TaskStatus", ""), "Finished") << finished.dump() << Logs();
  EXPECT_EQ(DownloadedSha256(node(0).oss_endpoint(), kOperatorBucket,
                             ExportImageObject(a, kRegion, image_id, kOperatorBucket, "afterpause"),
                             scratch_->path() + "/got"),
            source_sha);
}

// The database goes away (its connections cut, new ones refused): requests
// get a 503 the SDKs retry, which names no database; when it is back the
// same nodes answer again, without a restart.
TEST_F(RegionNodesTest, WhileTheDatabaseIsDownRequestsGetServiceUnavailableAndThenResume) {
  EcsClient a = RootClient(node(0).endpoint(), false);
  CallOk(a, "DescribeImages", {{"RegionId", kRegion}});
  const std::string database =
      catalog_.substr(catalog_.find(":///") + 4, catalog_.find('?') - catalog_.find(":///") - 4);
  auto admin = PgDb::Connect(RegionServices::postgres().uri());
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto cut = [&](bool allow) {
    ASSERT_TRUE((*admin)
                    ->Exec("ALTER DATABASE " + database + " ALLOW_CONNECTIONS " + (allow ? "true" : "false"))
                    .ok());
    if (!allow) {
      auto killed = (*admin)->Query(
          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1", {database});
      ASSERT_TRUE(killed.ok()) << killed.status().ToString();
    }
  };
  cut(false);
  for (int i = 0; i < 2; ++i) {
    // Both nodes, twice: the first call meets a cut connection, the next a
    // refused new one.
    for (int n = 0; n < 2; ++n) {
      HttpAnswer down = SendHttp(node(n).endpoint(), "GET",
                                 RootSignedV1Target({{"Action", "DescribeImages"}, {"RegionId", kRegion}}));
      EXPECT_EQ(down.status, 503) << down.body.dump();
      EXPECT_EQ(down.body.value("Code", ""), "ServiceUnavailable") << down.body.dump();
      EXPECT_EQ(down.body.dump().find("postgres"), std::string::npos) << down.body.dump();
      EXPECT_EQ(down.body.dump().find(database), std::string::npos) << down.body.dump();
    }
  }
  cut(true);
  for (int n = 0; n < 2; ++n) {
    HttpAnswer up = SendHttp(node(n).endpoint(), "GET",
                             RootSignedV1Target({{"Action", "DescribeImages"}, {"RegionId", kRegion}}));
    EXPECT_EQ(up.status, 200) << up.body.dump() << node(n).Log();
  }
}

}  // namespace
}  // namespace ferry::testing

namespace ferry::testing {
namespace {

// What --catalog refuses before anything starts: another database's URI, a
// database for several regions at once, and a database that cannot be
// reached (named without its password).
TEST(RegionNodesSettingsTest, ACatalogThatCannotServeIsRefusedAtStart) {
  ScratchDir scratch("ferry-nodes-settings-");
  CommandResult mysql = RunFerry({"serve", "--data", scratch.path(), "--catalog", "mysql://u@db/ferry"}, {});
  EXPECT_EQ(mysql.exit_code, 2) << mysql.err;
  EXPECT_NE(mysql.err.find("is not a PostgreSQL URI"), std::string::npos) << mysql.err;

  CommandResult two = RunFerry({"serve", "--data", scratch.path(), "--catalog", "postgresql://u@db/ferry",
                                "--region", "cn-hangzhou", "--region", "cn-shanghai"},
                               {});
  EXPECT_EQ(two.exit_code, 2) << two.err;
  EXPECT_NE(two.err.find("holds one region"), std::string::npos) << two.err;

  CommandResult gone =
      RunFerry({"serve", "--data", scratch.path(), "--region", "cn-hangzhou", "--listen", "127.0.0.1:0",
                "--catalog", "postgresql://ferry:s3cret-pw@127.0.0.1:1/ferry?connect_timeout=5"},
               {});
  EXPECT_NE(gone.exit_code, 0) << gone.err;
  EXPECT_NE(gone.err.find("cannot connect to PostgreSQL"), std::string::npos) << gone.err;
  EXPECT_EQ(gone.err.find("s3cret-pw"), std::string::npos) << gone.err;
  EXPECT_EQ(gone.out.find("s3cret-pw"), std::string::npos) << gone.out;
}

// What --store refuses before anything starts: a URI that is not one, a
// store for several regions at once, no credentials, a bucket that does not
// exist, credentials the gateway refuses (the secret never printed).
TEST(RegionNodesSettingsTest, AStoreThatCannotServeIsRefusedAtStart) {
  ScratchDir scratch("ferry-nodes-store-");
  ThrowawayCeph ceph;
  ASSERT_FALSE(ceph.endpoint().empty());
  const S3Location bucket = ceph.NewBucket();
  const std::vector<std::string> serve = {"serve",       "--data",   scratch.path(), "--region",
                                          "cn-hangzhou", "--listen", "127.0.0.1:0"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = serve;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  CommandResult not_s3 = RunFerry(with({"--store", "gs://bucket"}), {});
  EXPECT_EQ(not_s3.exit_code, 2) << not_s3.err;
  EXPECT_NE(not_s3.err.find("not an s3:// URI"), std::string::npos) << not_s3.err;
  CommandResult two = RunFerry({"serve", "--data", scratch.path(), "--store", ThrowawayCeph::UriOf(bucket),
                                "--region", "cn-hangzhou", "--region", "cn-shanghai"},
                               {});
  EXPECT_EQ(two.exit_code, 2) << two.err;
  EXPECT_NE(two.err.find("holds one region"), std::string::npos) << two.err;

  const EnvMap no_keys = {{"AWS_SHARED_CREDENTIALS_FILE", scratch.path() + "/none"}};
  CommandResult keyless = RunFerry(with({"--store", ThrowawayCeph::UriOf(bucket)}), no_keys);
  EXPECT_NE(keyless.exit_code, 0) << keyless.err;
  EXPECT_NE(keyless.err.find("no S3 credentials"), std::string::npos) << keyless.err;

  const EnvMap keys = {{"AWS_SHARED_CREDENTIALS_FILE", ceph.credentials_file()}};
  S3Location missing = bucket;
  missing.bucket = "never-made-" + RandomHex(6);
  CommandResult no_bucket = RunFerry(with({"--store", ThrowawayCeph::UriOf(missing)}), keys);
  EXPECT_NE(no_bucket.exit_code, 0) << no_bucket.err;
  EXPECT_NE(no_bucket.err.find("has no bucket '" + missing.bucket + "'"), std::string::npos) << no_bucket.err;

  const std::string wrong_secret = "wrong-" + RandomHex(12);
  const EnvMap wrong = {{"AWS_ACCESS_KEY_ID", ceph.credentials().access_key_id},
                        {"AWS_SECRET_ACCESS_KEY", wrong_secret}};
  CommandResult refused = RunFerry(with({"--store", ThrowawayCeph::UriOf(bucket)}), wrong);
  EXPECT_NE(refused.exit_code, 0) << refused.err;
  EXPECT_NE(
      refused.err.find("refused the credentials of access key '" + ceph.credentials().access_key_id + "'"),
      std::string::npos)
      << refused.err;
  EXPECT_EQ(refused.err.find(wrong_secret), std::string::npos) << refused.err;
  EXPECT_EQ(refused.out.find(wrong_secret), std::string::npos) << refused.out;
}

}  // namespace
}  // namespace ferry::testing
