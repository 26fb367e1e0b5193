// RegionImpl's base-file collection (region_disks.cc): a base file no disk
// needs any more goes, also when a reader held it at the moment its last disk
// was deleted — a disk snapshot of that disk (the sweep when the snapshot
// ends) or another process (`ferry disk export`: the retry with backoff).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "common/fs_util.h"
#include "common/ids.h"
#include "region/disks/disk_layout.h"
#include "objects/fs_object_store.h"
#include "region/region_impl.h"
#include "region/subprocess.h"

namespace ferry {
namespace {

constexpr const char* kRoot = "1000000000000001";
constexpr uint64_t kMiB = 1ull << 20;
const Caller kAlice{"2000000000000002"};

// Holds the first task that pins a chunk until Open() is called.
class Gate {
 public:
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    if (used_) return;
    used_ = true;
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  bool WaitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool used_ = false, entered_ = false, open_ = false;
};

class RegionDisksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/region-disks-" + RandomHex(6);
    ASSERT_TRUE(MakeDirs(dir_ + "/oss").ok());
    oss_ = std::make_unique<FsObjectStore>(dir_ + "/oss", kRoot);
    ASSERT_TRUE(oss_->CreateBucket(kAlice.account_id, "alice-in").ok());
    RegionConfig c;
    c.region_id = "cn-hangzhou";
    FillRegionNames(&c);
    c.data_dir = dir_ + "/region";
    c.oss_dir = dir_ + "/oss";
    c.seed_public_image = false;
    c.object_storage = oss_.get();
    c.instance_transition_ms = 20;
    RegionHooks hooks;
    hooks.after_chunk_pinned = [this](const std::string&, const ChunkId&) {
      if (gate_armed_) gate_.Pass();
    };
    auto r = RegionImpl::Open(c, SystemClock::Get(), std::move(hooks));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    region_ = std::move(r).value();
    // A 16 MiB raw image with data in its first MiB.
    const std::string path = dir_ + "/oss/alice-in/disk.raw";
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    std::vector<uint8_t> data(kMiB, 0x5a);
    ASSERT_TRUE(PwriteFull(fd.get(), data.data(), data.size(), 0, path).ok());
    ASSERT_EQ(::ftruncate(fd.get(), 16 * kMiB), 0);
    ImportImageRequest req;
    req.disks.push_back(ImportDisk{"alice-in", "disk.raw", "RAW", 0});
    req.image_name = "base-image";
    Result<ImportImageResult> imported = region_->ImportImage(kAlice, req);
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
    image_id_ = imported->image_id;
    ASSERT_TRUE(WaitFor([&] { return Image(image_id_).status == "Available"; }));
  }
  void TearDown() override {
    gate_.Open();
    region_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  template <typename F>
  bool WaitFor(F done, std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  ImageRecord Image(const std::string& id) {
    Result<ImageRecord> r = region_->catalog().GetImage(id);
    return r.ok() ? *r : ImageRecord{};
  }
  std::string RunOne() {
    RunInstancesRequest r;
    r.image_id = image_id_;
    r.instance_type = "ecs.g6.large";
    r.system_disk_size_gib = 20;
    r.start = true;
    Result<std::vector<std::string>> ids = region_->RunInstances(kAlice, r);
    EXPECT_TRUE(ids.ok() && ids->size() == 1) << ids.status().ToString();
    if (!ids.ok() || ids->empty()) return "";
    EXPECT_TRUE(WaitFor([&] { return region_->catalog().GetInstance((*ids)[0])->status == "Running"; }));
    return (*ids)[0];
  }
  std::string SystemDiskId(const std::string& instance_id) {
    DescribeDisksRequest q;
    q.instance_id = instance_id;
    Result<Page<DiskRecord>> page = region_->DescribeDisks(kAlice, q);
    EXPECT_TRUE(page.ok() && page->items.size() == 1);
    return page.ok() && !page->items.empty() ? page->items[0].disk_id : "";
  }
  std::vector<std::string> Bases() {
    Result<std::vector<std::string>> keys = region_->disk_store().ListBases();
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    return keys.ok() ? *keys : std::vector<std::string>{};
  }

  std::string dir_;
  std::unique_ptr<FsObjectStore> oss_;
  std::unique_ptr<RegionImpl> region_;
  std::string image_id_;
  std::atomic<bool> gate_armed_{false};  // the next pin waits at gate_
  Gate gate_;
};

TEST_F(RegionDisksTest, ABaseASnapshotWasReadingGoesWhenTheSnapshotEnds) {
  const std::string instance = RunOne();
  ASSERT_FALSE(instance.empty());
  const std::string disk_id = SystemDiskId(instance);
  Result<std::string> path = region_->disk_store().DiskPath(disk_id);
  ASSERT_TRUE(path.ok());
  // The guest writes a chunk, so the snapshot ingests one and pins it.
  auto wrote = RunProcess({"qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 4M", *path});
  ASSERT_TRUE(wrote.ok() && wrote->exit_code == 0) << wrote->stderr_text;
  ASSERT_EQ(Bases().size(), 1u);

  // The image the tester made: the instance is deleted while CreateImage
  // reads its disk (the base's lock held shared).
  CreateImageRequest create;
  create.instance_id = instance;
  create.image_name = "while-reading";
  gate_armed_ = true;
  Result<std::string> image = region_->CreateImage(kAlice, create);
  ASSERT_TRUE(image.ok()) << image.status().ToString();
  ASSERT_TRUE(gate_.WaitEntered());
  ASSERT_TRUE(region_->DeleteInstance(kAlice, instance, /*force=*/true, false).ok());
  EXPECT_EQ(Bases().size(), 1u) << "busy: the snapshot still reads it";
  gate_.Open();
  ASSERT_TRUE(WaitFor([&] { return Image(*image).status == "Available"; })) << Image(*image).status;
  EXPECT_TRUE(WaitFor([&] { return Bases().empty(); }, std::chrono::seconds(20)))
      << "no disk needs base " << Bases().at(0) << ", yet it stays";
  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  EXPECT_TRUE(report.problems.empty()) << report.problems.at(0);
}

TEST_F(RegionDisksTest, ABaseAnotherProcessWasReadingGoesOnceItLetsGo) {
  const std::string instance = RunOne();
  ASSERT_FALSE(instance.empty());
  const std::vector<std::string> bases = Bases();
  ASSERT_EQ(bases.size(), 1u);
  // `ferry disk export` in another process holds the base's lock shared.
  const std::string lock = region_->disk_store().root() + "/" + kLocksDir + "/" + LockFileName(bases[0]);
  UniqueFd held(::open(lock.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(held.valid()) << lock;
  ASSERT_EQ(::flock(held.get(), LOCK_SH), 0);
  ASSERT_TRUE(region_->DeleteInstance(kAlice, instance, /*force=*/true, false).ok());
  EXPECT_EQ(Bases().size(), 1u);
  held = UniqueFd();
  EXPECT_TRUE(WaitFor([&] { return Bases().empty(); }, std::chrono::seconds(20)))
      << "no disk needs base " << bases[0] << ", yet it stays";
}

}  // namespace
}  // namespace ferry
