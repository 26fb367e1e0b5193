// Fault suite: a full disk. The server's data directory is a small tmpfs
// (64 MiB), so an import, an export and a copy run out of space part-way.
// Each must fail with a clear error through the API (or, for a copy, wait
// and finish once space is back), the server must stay up, and the space
// the failed operation took must be given back (no temp files, no chunks
// nothing references). Skipped where mounting a tmpfs is not permitted.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>

#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kDiskBytes = 64 * kMiB;
constexpr const char* kDest = "cn-shanghai";

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<ScratchDir>("ferry-fault-enospc-");
    mount_ = scratch_->path() + "/disk";
    fs::create_directories(mount_);
    const std::string options = "size=" + std::to_string(kDiskBytes) + ",mode=0755";
    if (::mount("tmpfs", mount_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs (" << std::strerror(errno) << "); the disk-full tests need root";
    }
    mounted_ = true;
    fs::create_directories(BucketDir());
    fs::create_directories(ConfigDir());
    server_ = std::make_unique<FerryServer>(DataDir(), ConfigDir());
    // No storage quota: its default (half the file system) would refuse
    // these imports before the disk fills, and the disk filling is the test.
    server_->set_extra_args({"--regions", std::string(kRegion) + "," + kDest, "--quota-stored-mib", "0"});
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Stop(seconds(10));
    server_.reset();
    if (mounted_) ::umount2(mount_.c_str(), MNT_DETACH);
    scratch_.reset();
  }

  std::string DataDir() const { return mount_ + "/data"; }
  // Outside the data directory: the server's log must not fill the disk.
  std::string ConfigDir() const { return scratch_->path() + "/config"; }
  std::string BucketDir() const { return DataDir() + "/oss/" + kOperatorBucket; }
  std::string RegionDir(const std::string& region) const { return DataDir() + "/regions/" + region; }

  uint64_t FreeBytes() const {
    struct statvfs st {};
    if (::statvfs(mount_.c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

  // Regular files under `dir` whose path contains "tmp" (temp files of
  // chunk writes, exports and conversions).
  static std::set<std::string> TempFiles(const std::string& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string relative = it->path().lexically_relative(dir);
      if (it->is_regular_file(ec) && relative.find("tmp") != std::string::npos) out.insert(relative);
    }
    return out;
  }

  static std::set<std::string> BucketFiles(const std::string& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) out.insert(it->path().lexically_relative(dir));
    }
    return out;
  }

  // A file of `bytes` that takes real space, leaving the rest of the disk.
  void Fill(const std::string& path, uint64_t bytes) {
    std::ofstream out(path, std::ios::binary);
    std::vector<char> block(kMiB, 'f');
    for (uint64_t done = 0; done < bytes;) {
      const uint64_t n = std::min<uint64_t>(block.size(), bytes - done);
      out.write(block.data(), static_cast<std::streamsize>(n));
      done += n;
    }
    out.close();
    ASSERT_TRUE(out.good()) << "filling " << bytes << " bytes";
  }

  // Leaves about `left` bytes free; the filler's path.
  std::string FillUpTo(uint64_t left) {
    const std::string path = mount_ + "/filler";
    const uint64_t free_now = FreeBytes();
    if (free_now > left) Fill(path, free_now - left);
    return path;
  }

  // Polls until the disk has at least `bytes` free and no temp files are
  // left under the data directory; false after 60 s.
  bool WaitForSpace(uint64_t bytes, std::string* why) {
    const auto deadline = Clock::now() + seconds(60);
    while (Clock::now() < deadline) {
      if (FreeBytes() >= bytes && TempFiles(DataDir()).empty()) return true;
      std::this_thread::sleep_for(milliseconds(200));
    }
    *why = std::to_string(FreeBytes()) + " bytes free, wanted " + std::to_string(bytes) + "; temp files:";
    for (const std::string& f : TempFiles(DataDir())) *why += " " + f;
    return false;
  }

  void ExpectServerUp() {
    EcsClient client = RootClient(server_->endpoint(), true);
    json regions = CallOk(client, "DescribeRegions", {});
    EXPECT_TRUE(regions.contains("Regions")) << regions.dump();
  }

  // The task's ErrorCode and ErrorMsg.
  static std::pair<std::string, std::string> TaskError(const json& task) {
    const json& op = task["OperationProgressSet"]["OperationProgress"][0];
    return {op.value("ErrorCode", std::string()), op.value("ErrorMsg", std::string())};
  }

  void CopyIntoAFullRegion(bool check_host_path);

  std::unique_ptr<ScratchDir> scratch_;
  std::string mount_;
  bool mounted_ = false;
  std::unique_ptr<FerryServer> server_;
};

TEST_F(DiskFullTest, ImportRunningOutOfSpaceFailsClearlyAndGivesTheSpaceBack) {
  EcsClient client = RootClient(server_->endpoint(), false);
  // 40 MiB of incompressible data on a 64 MiB disk: its chunks cannot fit
  // next to the object.
  WriteSparseImage(BucketDir() + "/big.raw", 40 * kMiB, {{0, 40 * kMiB}}, 51);
  const uint64_t free_before = FreeBytes();
  json started = CallOk(client, "ImportImage",
                        {{"ImageName", "too-big"},
                         {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                         {"DiskDeviceMapping.1.OSSObject", "big.raw"},
                         {"DiskDeviceMapping.1.Format", "RAW"}});
  json task = WaitForTask(client, started.value("TaskId", std::string()), seconds(120));
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Failed") << task.dump() << "\n" << server_->Log();
  const auto [code, message] = TaskError(task);
  EXPECT_EQ(code, "DiskFull") << task.dump();
  EXPECT_EQ(message.find(mount_), std::string::npos) << "a host path in: " << message;
  json images = DescribeImage(client, started.value("ImageId", std::string()));
  ASSERT_EQ(images.size(), 1u) << images.dump();
  EXPECT_EQ(images[0].value("Status", std::string()), "CreateFailed") << images.dump();
  ExpectServerUp();

  // The chunks the failed import wrote are collected, temp files removed.
  std::string why;
  EXPECT_TRUE(WaitForSpace(free_before - kMiB, &why)) << why << "\n" << server_->Log();

  // With the space back, a smaller import works.
  fs::remove(BucketDir() + "/big.raw");
  WriteSparseImage(BucketDir() + "/fits.raw", 8 * kMiB, {{0, 8 * kMiB}}, 52);
  const std::string sha = FileSha256(BucketDir() + "/fits.raw");
  const std::string image = ImportRawImage(client, kRegion, kOperatorBucket, "fits.raw", "fits");
  ASSERT_FALSE(image.empty()) << server_->Log();
  EXPECT_EQ(ExportImageSha256(client, kRegion, image, kOperatorBucket, BucketDir(), "fits"), sha);
}

TEST_F(DiskFullTest, ExportRunningOutOfSpaceFailsClearlyAndLeavesNoPartialObject) {
  EcsClient client = RootClient(server_->endpoint(), false);
  WriteSparseImage(BucketDir() + "/disk.raw", 12 * kMiB, {{0, 12 * kMiB}}, 53);
  const std::string sha = FileSha256(BucketDir() + "/disk.raw");
  const std::string image = ImportRawImage(client, kRegion, kOperatorBucket, "disk.raw", "disk");
  ASSERT_FALSE(image.empty());
  fs::remove(BucketDir() + "/disk.raw");

  const std::set<std::string> bucket_before = BucketFiles(BucketDir());
  const uint64_t free_before = FreeBytes();
  const std::string filler = FillUpTo(6 * kMiB);
  json started = CallOk(
      client, "ExportImage",
      {{"ImageId", image}, {"OSSBucket", kOperatorBucket}, {"OSSPrefix", "full"}, {"ImageFormat", "raw"}});
  json task = WaitForTask(client, started.value("TaskId", std::string()), seconds(120));
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Failed") << task.dump() << "\n" << server_->Log();
  const auto [code, message] = TaskError(task);
  EXPECT_EQ(code, "DiskFull") << task.dump();
  EXPECT_EQ(message.find(mount_), std::string::npos) << "a host path in: " << message;
  EXPECT_EQ(BucketFiles(BucketDir()), bucket_before) << "a partial export was left";
  ExpectServerUp();

  fs::remove(filler);
  std::string why;
  EXPECT_TRUE(WaitForSpace(free_before - kMiB, &why)) << why;
  // The image itself is intact: with room, the export works.
  EXPECT_EQ(ExportImageSha256(client, kRegion, image, kOperatorBucket, BucketDir(), "again"), sha);
}

// A copy into a region whose disk is full; with `check_host_path`, its
// failure message must not name a host path either.
void DiskFullTest::CopyIntoAFullRegion(bool check_host_path) {
  EcsClient client = RootClient(server_->endpoint(), false);
  WriteSparseImage(BucketDir() + "/src.raw", 16 * kMiB, {{0, 16 * kMiB}}, 54);
  const std::string sha = FileSha256(BucketDir() + "/src.raw");
  const std::string image = ImportRawImage(client, kRegion, kOperatorBucket, "src.raw", "src");
  ASSERT_FALSE(image.empty());
  fs::remove(BucketDir() + "/src.raw");

  const uint64_t free_before = FreeBytes();
  const std::string filler = FillUpTo(6 * kMiB);
  json copied = CallOk(client, "CopyImage", {{"ImageId", image}, {"DestinationRegionId", kDest}});
  const std::string copy_id = copied.value("ImageId", std::string());
  ASSERT_FALSE(copy_id.empty()) << copied.dump();

  // The copy cannot finish while the disk is full: it either fails cleanly
  // (CreateFailed) or keeps waiting (Creating). Never Available with data
  // missing; the server answers throughout.
  const auto deadline = Clock::now() + seconds(20);
  json copy;
  while (Clock::now() < deadline) {
    json images = DescribeImageIn(client, kDest, copy_id);
    ASSERT_EQ(images.size(), 1u) << images.dump();
    copy = images[0];
    const std::string status = copy.value("Status", std::string());
    ASSERT_NE(status, "Available") << "a copy finished on a full disk: " << copy.dump();
    if (status == "CreateFailed") break;
    std::this_thread::sleep_for(milliseconds(250));
  }
  const std::string status_while_full = copy.value("Status", std::string());
  RecordProperty("copy_on_full_disk", status_while_full);
  ExpectServerUp();

  if (status_while_full == "CreateFailed") {
    // The copy's task in the destination says why.
    json tasks = CallOk(client, "DescribeTasks", {{"RegionId", kDest}, {"TaskAction", "CopyImage"}});
    bool found = false;
    for (const json& t : tasks["TaskSet"]["Task"]) {
      if (t.value("ResourceId", std::string()) != copy_id) continue;
      found = true;
      json task =
          CallOk(client, "DescribeTaskAttribute", {{"RegionId", kDest}, {"TaskId", t.value("TaskId", "")}});
      EXPECT_EQ(task.value("TaskStatus", std::string()), "Failed") << task.dump();
      const auto [code, message] = TaskError(task);
      EXPECT_EQ(code, "DiskFull") << task.dump();
      EXPECT_FALSE(message.empty()) << task.dump();
      if (check_host_path) {
        EXPECT_EQ(message.find(mount_), std::string::npos) << "a host path in: " << message;
      }
    }
    EXPECT_TRUE(found) << "no CopyImage task for " << copy_id << ": " << tasks.dump();
  }
  fs::remove(filler);
  if (status_while_full == "CreateFailed") {
    // Its chunks are collected once the copy failed.
    CallOk(client, "DeleteImage", {{"RegionId", kDest}, {"ImageId", copy_id}});
    std::string why;
    EXPECT_TRUE(WaitForSpace(free_before - kMiB, &why)) << why;
  } else {
    // It resumes once the space is back, and holds the source's bytes.
    const auto until = Clock::now() + seconds(120);
    while (Clock::now() < until) {
      json images = DescribeImageIn(client, kDest, copy_id);
      ASSERT_EQ(images.size(), 1u);
      copy = images[0];
      const std::string status = copy.value("Status", std::string());
      if (status != "Creating" && status != "Waiting") break;
      std::this_thread::sleep_for(milliseconds(250));
    }
    ASSERT_EQ(copy.value("Status", std::string()), "Available") << copy.dump() << "\n" << server_->Log();
    EXPECT_EQ(ExportImageSha256(client, kDest, copy_id, kOperatorBucket, BucketDir(), "copy"), sha);
    EXPECT_TRUE(TempFiles(DataDir()).empty());
  }
}

TEST_F(DiskFullTest, CopyIntoAFullRegionEndsCleanlyAndGivesTheSpaceBack) { CopyIntoAFullRegion(false); }

// A copy that ran out of space records a message without host paths (the
// region's ShownFailure, shared with imports and exports).
TEST_F(DiskFullTest, CopyFailureMessageNamesNoHostPath) { CopyIntoAFullRegion(true); }

}  // namespace
}  // namespace ferry::testing
