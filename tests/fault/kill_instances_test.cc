// Fault suite: kill -9 during RunInstances (issue 9). One `ferry serve`;
// each round asks for a random number of instances of one image, waits a
// random moment, kills the process and restarts it. Afterwards every
// instance the API acknowledged is Running with its system disk, the disks
// directory holds exactly one overlay per disk and one base file, every disk
// reads as the image, deleting them all frees everything, and `ferry fsck`
// is clean.
//
// Seeded like kill_test.cc: FERRY_FAULT_SEED replays a run;
// FERRY_FAULT_INSTANCE_KILLS changes the number of kills (default 8).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;
constexpr int kDefaultKills = 8;
constexpr int kMaxDelayMs = 400;

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

// The first `n` bytes of `path` (a disk export is sparse and 20 GiB: never
// read it whole).
std::string ReadPrefix(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string out(n, '\0');
  in.read(out.data(), static_cast<std::streamsize>(n));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) n += entry.is_regular_file() ? 1 : 0;
  return n;
}

TEST(KillNineInstancesTest, KillsDuringRunInstancesLeaveNoOrphansAndEveryDiskReadsTheImage) {
  const uint64_t seed = EnvOr("FERRY_FAULT_SEED", std::random_device{}());
  const int kills = static_cast<int>(EnvOr("FERRY_FAULT_INSTANCE_KILLS", kDefaultKills));
  std::cout << "[ fault    ] kill -9 during RunInstances: seed " << seed << ", " << kills
            << " kills (replay with FERRY_FAULT_SEED=" << seed << ")" << std::endl;
  std::mt19937_64 rng(seed);

  FerryCluster cluster("ferry-fault-instances-", {{kRegion}});
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  const std::string source = cluster.BucketDir(0) + "/image.raw";
  WriteSparseImage(source, 24 * kMiB, {{0, 8 * kMiB}, {12 * kMiB, 4 * kMiB}}, seed);
  {
    EcsClient root = RootClient(cluster.endpoint(0), false);
    ASSERT_FALSE(ImportRawImage(root, kRegion, kOperatorBucket, "image.raw", "fault-instances").empty());
  }
  EcsClient root = RootClient(cluster.endpoint(0), false);
  json images = CallOk(root, "DescribeImages", {{"RegionId", kRegion}, {"ImageName", "fault-instances"}});
  ASSERT_EQ(images["Images"]["Image"].size(), 1u) << images.dump();
  const std::string image_id = images["Images"]["Image"][0].value("ImageId", "");

  std::set<std::string> acknowledged;
  for (int round = 0; round < kills && !::testing::Test::HasFatalFailure(); ++round) {
    EcsClient client = RootClient(cluster.endpoint(0), false);
    const int amount = 1 + static_cast<int>(rng() % 10);
    Result<EcsResponse> run = client.Call("RunInstances", {{"RegionId", kRegion},
                                                           {"ImageId", image_id},
                                                           {"InstanceType", "ecs.g7.large"},
                                                           {"Amount", std::to_string(amount)}});
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_EQ(run->http_status, 200) << run->raw_body;
    for (const json& id : run->body["InstanceIdSets"]["InstanceIdSet"]) acknowledged.insert(id.get<std::string>());
    const int delay_ms = static_cast<int>(rng() % kMaxDelayMs);
    // The random point of the kill: deliberately a fixed wait, not a poll.
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    cluster.server(0).Kill9();
    ASSERT_TRUE(cluster.Start(0, &error)) << "restart after kill " << round + 1 << ": " << error;
    std::cout << "[ fault    ] kill " << round + 1 << "/" << kills << ": " << delay_ms << " ms after RunInstances of "
              << amount << std::endl;
  }

  // Every acknowledged instance ends Running, each with one system disk.
  root = RootClient(cluster.endpoint(0), false);
  std::set<std::string> running;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (running.size() < acknowledged.size() && std::chrono::steady_clock::now() < deadline) {
    running.clear();
    json listed = CallOk(root, "DescribeInstances", {{"RegionId", kRegion}, {"PageSize", "100"}});
    for (const json& i : listed["Instances"]["Instance"]) {
      if (i.value("Status", "") == "Running") running.insert(i.value("InstanceId", ""));
    }
    if (running.size() < acknowledged.size()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (const std::string& id : acknowledged) EXPECT_EQ(running.count(id), 1u) << id << " is not Running";
  json disks = CallOk(root, "DescribeDisks", {{"RegionId", kRegion}, {"PageSize", "100"}});
  const json& disk_list = disks["Disks"]["Disk"];
  EXPECT_EQ(disk_list.size(), acknowledged.size()) << disks.dump();
  const std::string disk_root = cluster.DataDir(0) + "/regions/" + kRegion + "/disks";
  EXPECT_EQ(CountFiles(disk_root + "/disks"), disk_list.size());
  EXPECT_EQ(CountFiles(disk_root + "/bases"), 1u);

  // Disks read as the image (three of them, picked by the seed).
  ScratchDir out("ferry-fault-instances-export-");
  const std::string image_bytes = ReadAll(source);
  for (int k = 0; k < 3 && !disk_list.empty(); ++k) {
    const std::string disk_id = disk_list[rng() % disk_list.size()].value("DiskId", "");
    const std::string file = out.path() + "/" + disk_id + ".raw";
    CommandResult exported =
        RunFerry({"disk", "export", disk_id, file, "--data", cluster.DataDir(0), "--region", kRegion}, {});
    ASSERT_EQ(exported.exit_code, 0) << exported.err;
    EXPECT_TRUE(ReadPrefix(file, image_bytes.size()) == image_bytes) << disk_id << " does not read as the image";
    fs::remove(file);
  }

  // Deleting every instance frees every overlay and the base.
  for (const std::string& id : running) {
    CallOk(root, "DeleteInstance", {{"RegionId", kRegion}, {"InstanceId", id}, {"Force", "true"}});
  }
  EXPECT_EQ(CountFiles(disk_root + "/disks"), 0u);
  EXPECT_EQ(CountFiles(disk_root + "/bases"), 0u);

  EXPECT_EQ(cluster.server(0).Stop(), 0) << cluster.server(0).Log();
  CommandResult fsck = RunFerry({"fsck", "--data", cluster.DataDir(0), "--regions", kRegion}, {});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  EXPECT_NE(fsck.out.find(" 0 problems"), std::string::npos) << fsck.out;
  std::cout << "[ fault    ] " << acknowledged.size() << " instances acknowledged across " << kills
            << " kills, all Running, disks verified, fsck clean" << std::endl;
}

}  // namespace
}  // namespace ferry::testing
