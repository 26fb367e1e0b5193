// RegionFixture: a RegionImpl over a scratch directory, the setting the
// region layer's unit tests share. The real catalog, chunk store, DiskStore
// and a file-system object store, with kAlice's buckets "alice-in" and
// "alice-out" and kBob's "bob-in"; gate_ sits on every ingest's pinned chunks
// (see IngestGate) and stays open until armed.
//
// SetUp() makes the directory and the buckets; the region is opened by the
// test or the derived fixture's SetUp (OpenRegion, with Config() tuned as it
// needs). Helpers that report a failure through EXPECT return an empty value
// with it; those that ASSERT are for ASSERT_NO_FATAL_FAILURE.
//
// Threading: the test thread only (gate_ is the exception, see IngestGate).
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/fs_util.h"
#include "common/ids.h"
#include "objects/fs_object_store.h"
#include "region/region_impl.h"
#include "unit/region/ingest_gate.h"

namespace ferry {

inline constexpr const char* kRoot = "1000000000000001";
inline constexpr uint64_t kMiB = 1ull << 20;
inline const Caller kAlice{"2000000000000002"};
inline const Caller kBob{"3000000000000003"};

// `length` pseudo-random bytes from `seed`: test disks' data.
inline std::string Pattern(uint64_t length, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(length, '\0');
  for (size_t i = 0; i + 8 <= out.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(&out[i], &v, 8);
  }
  return out;
}

class RegionFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/" + ::testing::UnitTest::GetInstance()->current_test_suite()->name() + "-" +
           RandomHex(6);
    ASSERT_TRUE(MakeDirs(dir_ + "/oss").ok());
    oss_ = std::make_unique<FsObjectStore>(dir_ + "/oss", kRoot);
    ASSERT_TRUE(oss_->CreateBucket(kAlice.account_id, "alice-in").ok());
    ASSERT_TRUE(oss_->CreateBucket(kAlice.account_id, "alice-out").ok());
    ASSERT_TRUE(oss_->CreateBucket(kBob.account_id, "bob-in").ok());
  }
  void TearDown() override {
    gate_.Open();
    region_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // cn-hangzhou over dir_, without the public image.
  RegionConfig Config() const {
    RegionConfig c;
    c.region_id = "cn-hangzhou";
    FillRegionNames(&c);
    c.data_dir = dir_ + "/region";
    c.seed_public_image = false;
    c.object_storage = oss_.get();
    c.instance_transition_ms = 20;
    return c;
  }

  // Closes region_ if open, then opens it with `config` and `hooks`, whose
  // after_chunk_pinned is gate_'s.
  void OpenRegion(const RegionConfig& config, RegionHooks hooks = {}) {
    region_.reset();
    hooks.after_chunk_pinned = [this](const std::string& task, const ChunkId& id) { gate_.Hook(task, id); };
    auto r = RegionImpl::Open(config, SystemClock::Get(), std::move(hooks));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    region_ = std::move(r).value();
  }

  // A 16 MiB raw disk at `bucket`/`object`: `data_mib` MiB of `fill`, then holes.
  void PutRawDisk(const std::string& bucket, const std::string& object, uint64_t data_mib, uint8_t fill) {
    const std::string path = dir_ + "/oss/" + bucket + "/" + object;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    std::vector<uint8_t> data(data_mib * kMiB, fill);
    ASSERT_TRUE(PwriteFull(fd.get(), data.data(), data.size(), 0, path).ok());
    ASSERT_EQ(::ftruncate(fd.get(), 16 * kMiB), 0);
  }

  // Polls `done` every 10 ms until it holds or `limit` has passed.
  template <typename F>
  bool WaitFor(F done, std::chrono::seconds limit = std::chrono::seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // The task once it is no longer Processing (as `caller` sees it).
  TaskRecord WaitTask(const Caller& caller, const std::string& task_id) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      Result<TaskRecord> t = region_->DescribeTaskAttribute(caller, task_id);
      EXPECT_TRUE(t.ok()) << t.status().ToString();
      if (!t.ok() || t->status != "Processing") return t.ok() ? *t : TaskRecord{};
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "task " << task_id << " still Processing after 60 s";
    return TaskRecord{};
  }

  // Imports, expects the task Finished; returns the image id.
  std::string ImportAndWait(const ImportImageRequest& req, const Caller& caller = kAlice) {
    Result<ImportImageResult> r = region_->ImportImage(caller, req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    TaskRecord t = WaitTask(caller, r->task_id);
    EXPECT_EQ(t.status, "Finished") << t.error_code << ": " << t.error_message;
    return r->image_id;
  }

  // The catalog's records; empty ones when there is none.
  ImageRecord Image(const std::string& id) {
    Result<ImageRecord> r = region_->catalog().GetImage(id);
    return r.ok() ? *r : ImageRecord{};
  }
  SnapshotRecord Snapshot(const std::string& id) {
    Result<SnapshotRecord> r = region_->catalog().GetSnapshot(id);
    return r.ok() ? *r : SnapshotRecord{};
  }

  // image_id_: kAlice's "base-image", a 16 MiB raw disk with 0x5a in its
  // first MiB (chunk 0) and holes after it, Available.
  void ImportBaseImage(const std::string& platform = "") {
    PutRawDisk("alice-in", "disk.raw", 1, 0x5a);
    if (HasFatalFailure()) return;
    ImportImageRequest req;
    req.disks.push_back(ImportDisk{"alice-in", "disk.raw", "RAW", 0});
    req.image_name = "base-image";
    req.platform = platform;
    Result<ImportImageResult> r = region_->ImportImage(kAlice, req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    image_id_ = r->image_id;
    ASSERT_TRUE(WaitFor([&] { return Image(image_id_).status == "Available"; })) << Image(image_id_).status;
  }

  // SetUp for the fixtures that start from image_id_: the directory, the
  // region opened with Config() as `tweak` changes it, ImportBaseImage(platform).
  void SetUpWithBaseImage(const std::string& platform = "",
                          const std::function<void(RegionConfig&)>& tweak = nullptr) {
    RegionFixture::SetUp();
    if (HasFatalFailure()) return;
    RegionConfig config = Config();
    if (tweak) tweak(config);
    OpenRegion(config);
    if (HasFatalFailure()) return;
    ImportBaseImage(platform);
  }

  // `amount` instances of image_id_ with a 20 GiB system disk.
  RunInstancesRequest Run(int amount) const {
    RunInstancesRequest r;
    r.image_id = image_id_;
    r.instance_type = "ecs.g6.large";
    r.system_disk_size_gib = 20;
    r.amount = amount;
    return r;
  }
  // Runs `r` as kAlice; waits until each instance is Running (Stopped when
  // it was not to start).
  std::vector<std::string> RunAndWait(const RunInstancesRequest& r) {
    Result<std::vector<std::string>> ids = region_->RunInstances(kAlice, r);
    EXPECT_TRUE(ids.ok()) << ids.status().ToString();
    if (!ids.ok()) return {};
    for (const std::string& id : *ids) EXPECT_TRUE(WaitStatus(id, r.start ? "Running" : "Stopped")) << id;
    return *ids;
  }
  // The instance's status as DescribeInstances shows it to `c`; "" if it does not.
  std::string StatusOf(const std::string& id, const Caller& c = kAlice) {
    DescribeInstancesRequest q;
    q.instance_ids = std::vector<std::string>{id};
    Result<Page<InstanceRecord>> page = region_->DescribeInstances(c, q);
    if (!page.ok() || page->items.empty()) return "";
    return page->items[0].status;
  }
  bool WaitStatus(const std::string& id, const std::string& want) {
    return WaitFor([&] { return StatusOf(id) == want; });
  }
  DiskRecord SystemDisk(const std::string& instance_id) {
    DescribeDisksRequest q;
    q.instance_id = instance_id;
    q.disk_type = "system";
    Result<Page<DiskRecord>> page = region_->DescribeDisks(kAlice, q);
    EXPECT_TRUE(page.ok() && page->items.size() == 1);
    return page.ok() && !page->items.empty() ? page->items[0] : DiskRecord{};
  }

  std::string dir_;
  std::unique_ptr<FsObjectStore> oss_;
  IngestGate gate_;
  std::unique_ptr<RegionImpl> region_;
  std::string image_id_;  // ImportBaseImage's
};

}  // namespace ferry
