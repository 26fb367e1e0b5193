// Copies into a region on two nodes (issue 13): process 0 serves the source
// region alone; processes 1 and 2 are the two nodes of the destination, on
// one PostgreSQL catalog and one Ceph bucket. The source names both nodes
// and spreads new copies over them; kill -9 of the node pulling a copy
// hands the copy to the other once its lease expires, which resumes from the
// chunks already in the store and ends with the source's bytes.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/region_services.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kSource = "cn-hangzhou";
constexpr const char* kDest = "cn-shanghai";
constexpr uint64_t kChunkBytes = 4u << 20;
// 30 chunks of incompressible data at 10 MiB/s: about 12 s per copy.
constexpr uint64_t kChunks = 30;

class CopyNodesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { RegionServices::Start(); }
  static void TearDownTestSuite() { RegionServices::Stop(); }

  void SetUp() override {
    ASSERT_FALSE(RegionServices::postgres().uri().empty());
    ASSERT_FALSE(RegionServices::ceph().endpoint().empty());
    cluster_ = std::make_unique<FerryCluster>(
        "ferry-copy-nodes-", std::vector<std::vector<std::string>>{{kSource}, {kDest}, {kDest}});
    const std::string catalog = RegionServices::postgres().NewDatabase();
    const std::string store = ThrowawayCeph::UriOf(RegionServices::ceph().NewBucket(kDest));
    for (size_t node : {1u, 2u}) {
      // A short task lease, so a dead node's copy is taken over quickly.
      cluster_->set_extra_args(node, {"--catalog", catalog, "--store", store, "--task-lease-seconds", "3",
                                      "--copy-rate-limit", "10485760"});
      cluster_->server(node).set_extra_env(
          {{"AWS_SHARED_CREDENTIALS_FILE", RegionServices::ceph().credentials_file()}});
    }
    std::string error;
    ASSERT_TRUE(cluster_->StartAll(&error)) << error;
  }

  EcsClient Root(size_t i) { return RootClient(cluster_->endpoint(i), false); }

  std::string CopyOf(EcsClient& a, const std::string& source_id, const std::string& name) {
    json started = CallOk(a, "CopyImage",
                          {{"RegionId", kSource},
                           {"ImageId", source_id},
                           {"DestinationRegionId", kDest},
                           {"DestinationImageName", name}});
    return started.value("ImageId", std::string());
  }

  // The destination node whose log says it started pulling `copy_id`, or 0.
  size_t NodeRunning(const std::string& copy_id) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (Clock::now() < deadline) {
      for (size_t node : {1u, 2u}) {
        // A line "... copy started task=... image=<copy_id> ..." of its log.
        const std::string log = cluster_->server(node).Log();
        const std::string image = " image=" + copy_id + " ";
        for (size_t at = log.find(image); at != std::string::npos; at = log.find(image, at + 1)) {
          const size_t newline = log.rfind('\n', at);
          const size_t begin = newline == std::string::npos ? 0 : newline + 1;
          if (log.substr(begin, at - begin).find("copy started task=") != std::string::npos) return node;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return 0;
  }

  static json WaitForCopyEnd(EcsClient& b, const std::string& copy_id) {
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    json image;
    while (Clock::now() < deadline) {
      json images = DescribeImageIn(b, kDest, copy_id);
      if (images.size() != 1) return images;
      image = images[0];
      const std::string status = image.value("Status", std::string());
      if (status != "Waiting" && status != "Creating") return image;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return image;
  }

  std::unique_ptr<FerryCluster> cluster_;
};

TEST_F(CopyNodesTest, ACopyWhoseNodeDiesIsFinishedByTheOtherNodeFromTheChunksAlreadyStored) {
  EcsClient a = Root(0);
  const uint64_t size = kChunks * kChunkBytes;
  const std::string object = "taken-over.raw";
  WriteSparseImage(cluster_->BucketDir(0) + "/" + object, size, {{0, size}}, 71);
  const std::string source_sha = FileSha256(cluster_->BucketDir(0) + "/" + object);
  const std::string source_id = ImportRawImage(a, kSource, kOperatorBucket, object, "source");
  ASSERT_FALSE(source_id.empty());
  const std::string copy_id = CopyOf(a, source_id, "taken-over-copy");
  ASSERT_FALSE(copy_id.empty());

  const size_t runner = NodeRunning(copy_id);
  ASSERT_NE(runner, 0u) << cluster_->Logs();
  const size_t other = runner == 1 ? 2 : 1;
  EcsClient b = Root(other);
  // A third of the way in, the node pulling it dies.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  int percent = 0;
  while (Clock::now() < deadline && percent < 30) {
    json images = DescribeImageIn(b, kDest, copy_id);
    ASSERT_EQ(images.size(), 1u) << images.dump();
    const std::string p = images[0].value("Progress", std::string("0%"));
    percent = std::stoi(p.substr(0, p.size() - 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_GE(percent, 30) << cluster_->Logs();
  ASSERT_LT(percent, 100);
  cluster_->server(runner).Kill9();

  json image = WaitForCopyEnd(b, copy_id);
  ASSERT_EQ(image.value("Status", std::string()), "Available") << image.dump() << "\n" << cluster_->Logs();
  EXPECT_NE(cluster_->server(other).Log().find("taking over task"), std::string::npos) << cluster_->Logs();
  // The destination's buckets are in its S3 store.
  CreateBucketAsRoot(cluster_->server(other).oss_endpoint(), kOperatorBucket);
  EXPECT_EQ(DownloadedSha256(cluster_->server(other).oss_endpoint(), kOperatorBucket,
                             ExportImageObject(b, kDest, copy_id, kOperatorBucket, "takeover"),
                             cluster_->server(other).data_dir() + "/../exported"),
            source_sha)
      << cluster_->Logs();
  // What the dead node stored stayed stored: the other fetched the rest.
  Result<std::string> metrics = RootClient(cluster_->server(other).admin_endpoint(), false).Get("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  const int64_t fetched = MetricValue(*metrics, "ferry_region_copy_chunks_fetched_total", kDest);
  EXPECT_GT(fetched, 0);
  EXPECT_LE(fetched, static_cast<int64_t>(kChunks) * (100 - percent + 10) / 100) << *metrics;
}

TEST_F(CopyNodesTest, NewCopiesAreSpreadOverTheDestinationsNodes) {
  EcsClient a = Root(0);
  std::vector<std::string> copies;
  for (int i = 0; i < 2; ++i) {
    const std::string object = "spread-" + std::to_string(i) + ".raw";
    const uint64_t size = 2 * kChunkBytes;
    WriteSparseImage(cluster_->BucketDir(0) + "/" + object, size, {{0, size}}, 80 + i);
    const std::string source_id =
        ImportRawImage(a, kSource, kOperatorBucket, object, "spread-" + std::to_string(i));
    copies.push_back(CopyOf(a, source_id, "spread-copy-" + std::to_string(i)));
  }
  std::vector<size_t> runners;
  for (const std::string& id : copies) runners.push_back(NodeRunning(id));
  EXPECT_NE(runners[0], 0u);
  EXPECT_NE(runners[1], 0u);
  EXPECT_NE(runners[0], runners[1]) << cluster_->Logs();
  EcsClient b = Root(1);
  for (const std::string& id : copies) {
    EXPECT_EQ(WaitForCopyEnd(b, id).value("Status", std::string()), "Available") << id;
  }
}

}  // namespace
}  // namespace ferry::testing
