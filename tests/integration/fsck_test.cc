// `ferry fsck` is a check: on a data directory a kill -9 left with Pending
// instances (their disks not created yet, a creation's temp behind) it
// changes no file, reports the disks and base files it checked, and notes
// the Pending instances' disks; the next `serve` is what resumes them.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;
constexpr int kInstances = 5;

// The first `name` in PATH that is a file.
std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path == nullptr ? "/usr/bin" : path;
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (fs::is_regular_file(candidate)) return candidate;
    start = end + 1;
  }
  return "";
}

// Every file under `root` (but the catalog's SQLite files, which opening
// reads through): relative path -> size and modification time.
std::map<std::string, std::string> FileList(const std::string& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    const std::string rel = fs::relative(it->path(), root).string();
    if (rel.rfind("catalog.db", 0) == 0) continue;
    std::string what = it->is_directory() ? "dir" : std::to_string(it->file_size());
    what += " " + std::to_string(fs::last_write_time(it->path()).time_since_epoch().count());
    out[rel] = what;
  }
  return out;
}

// The entries of `a` and `b` that differ, one a line.
std::string Differences(const std::map<std::string, std::string>& a,
                        const std::map<std::string, std::string>& b) {
  std::string out;
  for (const auto& [path, what] : a) {
    auto it = b.find(path);
    if (it == b.end())
      out += "gone: " + path + "\n";
    else if (it->second != what)
      out += "changed: " + path + "\n";
  }
  for (const auto& [path, what] : b)
    if (a.count(path) == 0) out += "new: " + path + "\n";
  return out;
}

TEST(FsckTest, AChecksChangesNothingAndNotesPendingInstances) {
  ScratchDir scratch("ferry-fsck-");
  const std::string data = scratch.path() + "/data";
  const std::string config = scratch.path() + "/config";
  const std::string tools = scratch.path() + "/tools";
  fs::create_directories(data + "/oss/" + kOperatorBucket);
  fs::create_directories(config);
  fs::create_directories(tools);
  // qemu-img as the server finds it: a new overlay never gets made (the
  // marker says the server is there), so the instances stay Pending.
  const std::string marker = scratch.path() + "/creating";
  const std::string qemu_img = FindInPath("qemu-img");
  ASSERT_FALSE(qemu_img.empty());
  {
    std::ofstream wrapper(tools + "/qemu-img");
    wrapper << "#!/bin/sh\n"
            << "if [ \"$1\" = create ]; then touch '" << marker << "'; exec sleep 600; fi\n"
            << "exec '" << qemu_img << "' \"$@\"\n";
  }
  fs::permissions(tools + "/qemu-img", fs::perms::owner_all);
  FerryServer server(data, config);
  const char* search = std::getenv("PATH");
  server.set_extra_env({{"PATH", tools + ":" + (search == nullptr ? "/usr/bin:/bin" : search)}});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  EcsClient root = RootClient(server.endpoint(), false);
  WriteSparseImage(data + "/oss/" + kOperatorBucket + "/disk.raw", 16 * kMiB, {{0, 4 * kMiB}}, 5);
  const std::string image = ImportRawImage(root, kRegion, kOperatorBucket, "disk.raw", "fsck-image");
  ASSERT_FALSE(image.empty());
  json run = CallOk(root, "RunInstances",
                    {{"RegionId", kRegion},
                     {"ImageId", image},
                     {"InstanceType", "ecs.g6.large"},
                     {"Amount", std::to_string(kInstances)}});
  ASSERT_EQ(run["InstanceIdSets"]["InstanceIdSet"].size(), static_cast<size_t>(kInstances)) << run.dump();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(marker) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(fs::exists(marker)) << server.Log();
  server.Kill9();

  const std::string region_dir = data + "/regions/" + kRegion;
  const std::map<std::string, std::string> before = FileList(region_dir);
  size_t overlays = 0;
  for (const auto& [path, what] : before) overlays += path.rfind("disks/disks/", 0) == 0 ? 1 : 0;
  ASSERT_LT(overlays, static_cast<size_t>(kInstances)) << "no instance left Pending";

  CommandResult fsck = RunFerry({"fsck", "--data", data, "--regions", kRegion}, {});
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  EXPECT_NE(fsck.out.find(" 0 problems"), std::string::npos) << fsck.out;
  EXPECT_NE(fsck.out.find("disks: " + std::to_string(overlays) + " overlays, 1 base files checked"),
            std::string::npos)
      << fsck.out;
  EXPECT_NE(fsck.out.find("note: disks: " + std::to_string(kInstances - overlays) +
                          " disk(s) of Pending instances not created yet"),
            std::string::npos)
      << fsck.out;
  EXPECT_EQ(Differences(before, FileList(region_dir)), "") << fsck.out;
  // Twice over: still nothing.
  ASSERT_EQ(RunFerry({"fsck", "--data", data, "--regions", kRegion}, {}).exit_code, 0);
  EXPECT_EQ(Differences(before, FileList(region_dir)), "");

  // The server, not fsck, resumes them.
  server.set_extra_env({});
  ASSERT_TRUE(server.Start(&error)) << error;
  root = RootClient(server.endpoint(), false);
  size_t running = 0;
  const auto resumed = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (running < static_cast<size_t>(kInstances) && std::chrono::steady_clock::now() < resumed) {
    running = 0;
    json listed = CallOk(root, "DescribeInstances", {{"RegionId", kRegion}, {"Status", "Running"}});
    running = listed["Instances"]["Instance"].size();
    if (running < static_cast<size_t>(kInstances))
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(running, static_cast<size_t>(kInstances)) << server.Log();
  EXPECT_EQ(server.Stop(), 0) << server.Log();
  CommandResult clean = RunFerry({"fsck", "--data", data, "--regions", kRegion}, {});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_NE(clean.out.find("disks: " + std::to_string(kInstances) + " overlays, 1 base files checked"),
            std::string::npos)
      << clean.out;
  EXPECT_EQ(clean.out.find("note:"), std::string::npos) << clean.out;
}

}  // namespace
}  // namespace ferry::testing
