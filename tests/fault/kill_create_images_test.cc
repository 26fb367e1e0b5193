// Fault suite: kill -9 while CreateImage runs as fast as the server takes it
// (issue 12: commits are grouped, one WAL sync for many). Every CreateImage
// that was answered with an ImageId must find its image after the restart:
// the answer leaves only after the commit is durable
// (SqliteCatalog::MakeDurable), and a kill never unwinds a commit.
//
// Seeded like the other fault tests: FERRY_FAULT_SEED replays a run.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kRounds = 4;
constexpr int kClients = 12;
constexpr uint64_t kMiB = 1 << 20;

uint64_t SeedFromEnv() {
  const char* v = std::getenv("FERRY_FAULT_SEED");
  if (v == nullptr || *v == '\0') return std::random_device{}();
  return std::strtoull(v, nullptr, 10);
}

// Every image id the account can see in the region, any status.
std::set<std::string> AllImageIds(EcsClient& client) {
  std::set<std::string> ids;
  for (int page = 1;; ++page) {
    json listed = CallOk(client, "DescribeImages",
                         {{"RegionId", kRegion},
                          {"ImageOwnerAlias", "self"},
                          {"Status", "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated"},
                          {"PageSize", "100"},
                          {"PageNumber", std::to_string(page)}});
    const json& images = listed["Images"]["Image"];
    for (const json& image : images) ids.insert(image.value("ImageId", ""));
    if (images.size() < 100) return ids;
  }
}

TEST(KillCreateImagesTest, EveryAnsweredCreateImageSurvivesKillNine) {
  const uint64_t seed = SeedFromEnv();
  std::cout << "[ fault    ] seed " << seed << " (replay with FERRY_FAULT_SEED=" << seed << ")" << std::endl;
  std::mt19937_64 rng(seed);
  FerryCluster cluster("ferry-fault-create-", {{kRegion}});
  cluster.set_extra_args(0, {"--quota-images", "0"});
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;

  WriteSparseImage(cluster.BucketDir(0) + "/small.raw", 8 * kMiB, {{0, kMiB}}, seed);
  EcsClient root = RootClient(cluster.endpoint(0), false);
  const std::string source = ImportRawImage(root, kRegion, kOperatorBucket, "small.raw", "source");
  ASSERT_FALSE(source.empty());
  const json described = DescribeImage(root, source);
  ASSERT_EQ(described.size(), 1u) << described.dump();
  const std::string snapshot = described[0]["DiskDeviceMappings"]["DiskDeviceMapping"][0].value("SnapshotId", "");
  ASSERT_FALSE(snapshot.empty()) << described.dump();

  size_t answered_total = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<bool> stop{false};
    std::mutex mu;
    std::vector<std::string> answered;
    std::vector<std::thread> clients;
    const std::string endpoint = cluster.endpoint(0);
    for (int t = 0; t < kClients; ++t) {
      clients.emplace_back([&, t] {
        EcsClient client = RootClient(endpoint, false);
        for (int i = 0; !stop.load(); ++i) {
          Result<EcsResponse> r = client.Call(
              "CreateImage", {{"RegionId", kRegion},
                              {"SnapshotId", snapshot},
                              {"ImageName", "r" + std::to_string(round) + "-c" + std::to_string(t) + "-" +
                                                std::to_string(i)}});
          if (!r.ok()) return;  // the server is gone
          if (r->http_status == 200 && r->body.contains("ImageId")) {
            std::lock_guard<std::mutex> lock(mu);
            answered.push_back(r->body["ImageId"].get<std::string>());
          }
        }
      });
    }
    const auto started = Clock::now();
    std::this_thread::sleep_for(milliseconds(400 + rng() % 1200));
    cluster.server(0).Kill9();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    stop = true;
    for (std::thread& c : clients) c.join();
    ASSERT_TRUE(cluster.Start(0, &error)) << error;
    EcsClient after = RootClient(cluster.endpoint(0), false);
    const std::set<std::string> present = AllImageIds(after);
    size_t lost = 0;
    for (const std::string& id : answered) lost += present.count(id) == 0 ? 1 : 0;
    std::cout << "[ fault    ] round " << round << ": " << answered.size() << " CreateImage answered in "
              << seconds << " s before the kill (" << static_cast<int>(answered.size() / seconds)
              << "/s), " << lost << " lost" << std::endl;
    EXPECT_EQ(lost, 0u) << "round " << round << "\n" << cluster.Logs();
    answered_total += answered.size();
  }
  EXPECT_GT(answered_total, 0u);
}

}  // namespace
}  // namespace ferry::testing
