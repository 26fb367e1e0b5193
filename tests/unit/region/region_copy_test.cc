// Copies across three RegionImpl instances of one process: real catalogs
// and chunk stores in a scratch directory, one shared FsObjectStore, and a
// LocalChunkSource behind a wrapper that can block, fail or count fetches.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "catalog/sqlite_catalog.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"
#include "objects/fs_object_store.h"
#include "region/local_chunk_source.h"
#include "region/region_impl.h"
#include "store/manifest.h"
#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

constexpr const char* kA = "cn-hangzhou";
constexpr const char* kB = "cn-shanghai";
constexpr const char* kC = "cn-beijing";
constexpr uint64_t kChunk = 256 << 10;
const std::vector<std::string> kAllStatuses = {"Creating",    "Waiting",      "Available",
                                               "UnAvailable", "CreateFailed", "Deprecated"};

// A disk of `seeds.size()` chunks; seed 0 leaves a chunk zero (a hole).
void WriteDisk(const std::string& path, const std::vector<uint32_t>& seeds) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid());
  for (size_t i = 0; i < seeds.size(); ++i) {
    if (seeds[i] == 0) continue;
    std::string data = Pattern(kChunk, seeds[i]);
    ASSERT_TRUE(
        PwriteFull(fd.get(), reinterpret_cast<const uint8_t*>(data.data()), data.size(), i * kChunk, path)
            .ok());
  }
  ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(seeds.size() * kChunk)), 0);
}

std::string FileSha256(const std::string& path) {
  Result<std::string> content = ReadFileToString(path);
  EXPECT_TRUE(content.ok()) << content.status().ToString();
  return content.ok() ? Sha256Hex(*content) : "";
}

template <typename Pred>
bool PollUntil(Pred pred, std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// What the chunk sources of every region do; shared by the test and the
// sources it hands out.
struct Faults {
  std::mutex mu;
  std::condition_variable cv;
  bool blocked = false;          // fetches wait until Release()
  int pass = 0;                  // while blocked: fetches still let through
  int waiting = 0;               // fetches held
  int unavailable_fetches = 0;   // next fetches fail with kUnavailable
  int unavailable_sources = 0;   // next chunk_source() calls fail with kUnavailable
  bool gone = false;             // the source answers kNotFound
  std::vector<ChunkId> fetched;  // chunks that crossed successfully, in order
  int manifest_fetches = 0;

  void Block(int let_through = 0) {
    std::lock_guard<std::mutex> lock(mu);
    blocked = true;
    pass = let_through;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      blocked = false;
    }
    cv.notify_all();
  }
  bool WaitHeld(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(60), [&] { return waiting >= n; });
  }
  size_t FetchCount() {
    std::lock_guard<std::mutex> lock(mu);
    return fetched.size();
  }
  std::vector<ChunkId> Fetched() {
    std::lock_guard<std::mutex> lock(mu);
    return fetched;
  }
  int ManifestFetches() {
    std::lock_guard<std::mutex> lock(mu);
    return manifest_fetches;
  }
};

class FaultySource final : public ChunkSource {
 public:
  FaultySource(std::unique_ptr<ChunkSource> inner, Faults& faults)
      : inner_(std::move(inner)), faults_(faults) {}

  Result<Manifest> FetchManifest(const std::string& region_id, const std::string& snapshot_id) override {
    {
      std::lock_guard<std::mutex> lock(faults_.mu);
      if (faults_.gone) return NotFound("InvalidSnapshotId.NotFound", "snapshot " + snapshot_id + " is gone");
      faults_.manifest_fetches++;
    }
    return inner_->FetchManifest(region_id, snapshot_id);
  }

  Result<std::vector<uint8_t>> FetchChunk(const std::string& region_id, const ChunkId& id,
                                          uint64_t* wire_bytes) override {
    RETURN_IF_ERROR(Gate(id));
    Result<std::vector<uint8_t>> data = inner_->FetchChunk(region_id, id, wire_bytes);
    if (data.ok()) Fetched(id);
    return data;
  }

  // The object as the source stores it: a scoped chunk's object carries its
  // scope, which a plaintext re-encoded here would lose.
  Result<std::vector<uint8_t>> FetchChunkObject(const std::string& region_id, const ChunkId& id,
                                                uint64_t length, uint64_t* wire_bytes) override {
    RETURN_IF_ERROR(Gate(id));
    Result<std::vector<uint8_t>> object = inner_->FetchChunkObject(region_id, id, length, wire_bytes);
    if (object.ok()) Fetched(id);
    return object;
  }

 private:
  Status Gate(const ChunkId& id) {
    {
      std::unique_lock<std::mutex> lock(faults_.mu);
      if (faults_.gone) return NotFound("InvalidChunkId.NotFound", "chunk " + ToHex(id) + " is gone");
      if (faults_.unavailable_fetches > 0) {
        faults_.unavailable_fetches--;
        return Unavailable("injected: source unreachable");
      }
      if (faults_.blocked && faults_.pass > 0) {
        faults_.pass--;
      } else if (faults_.blocked) {
        faults_.waiting++;
        faults_.cv.notify_all();
        faults_.cv.wait(lock, [&] { return !faults_.blocked; });
        faults_.waiting--;
      }
    }
    return Status::Ok();
  }

  void Fetched(const ChunkId& id) {
    std::lock_guard<std::mutex> lock(faults_.mu);
    faults_.fetched.push_back(id);
  }

  std::unique_ptr<ChunkSource> inner_;
  Faults& faults_;
};

class RegionCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/region-copy-test-" + RandomHex(6);
    ASSERT_TRUE(MakeDirs(dir_ + "/oss").ok());
    oss_ = std::make_unique<FsObjectStore>(dir_ + "/oss", kRoot);
    ASSERT_TRUE(oss_->CreateBucket(kAlice.account_id, "alice-in").ok());
    ASSERT_TRUE(oss_->CreateBucket(kAlice.account_id, "alice-out").ok());
  }

  void TearDown() override {
    faults_.Release();
    for (auto& [id, region] : owned_) region->Shutdown();
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_.clear();
    }
    owned_.clear();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Region* Resolve(const std::string& id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(id);
    return it == live_.end() ? nullptr : it->second;
  }

  RegionConfig Config(const std::string& id) {
    RegionConfig c;
    c.region_id = id;
    FillRegionNames(&c);
    c.data_dir = dir_ + "/" + id;
    c.chunk_size = kChunk;
    c.task_threads = 2;
    c.ingest_threads = 1;
    c.seed_public_image = false;
    c.object_storage = oss_.get();
    c.resolve_peer = [this](const std::string& r) -> CopyPeer* { return Resolve(r); };
    c.chunk_source = [this](const std::string&) -> Result<std::unique_ptr<ChunkSource>> {
      {
        std::lock_guard<std::mutex> lock(faults_.mu);
        if (faults_.unavailable_sources > 0) {
          faults_.unavailable_sources--;
          return Unavailable("injected: peer server not listening yet");
        }
      }
      return std::unique_ptr<ChunkSource>(std::make_unique<FaultySource>(
          NewLocalChunkSource([this](const std::string& r) { return Resolve(r); }), faults_));
    };
    if (tweak_) tweak_(c);
    return c;
  }

  void Open(const std::string& id) {
    RegionHooks hooks;
    hooks.copy_sleep = [](std::chrono::milliseconds) { std::this_thread::yield(); };
    auto r = RegionImpl::Open(Config(id), SystemClock::Get(), hooks);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::lock_guard<std::mutex> lock(mu_);
    owned_[id] = std::move(r).value();
    live_[id] = owned_[id].get();
  }

  void OpenAll() {
    for (const char* id : {kA, kB, kC}) {
      Open(id);
      if (HasFatalFailure()) return;
    }
  }

  void Close(const std::string& id) {
    std::unique_ptr<RegionImpl> region;
    {
      std::lock_guard<std::mutex> lock(mu_);
      live_.erase(id);
      region = std::move(owned_[id]);
      owned_.erase(id);
    }
    region.reset();
  }

  RegionImpl& R(const std::string& id) { return *owned_.at(id); }

  TaskRecord WaitTask(RegionImpl& region, const std::string& task_id) {
    TaskRecord last;
    EXPECT_TRUE(PollUntil([&] {
      Result<TaskRecord> t = region.catalog().GetTask(task_id);
      if (t.ok()) last = *t;
      return t.ok() && t->status != "Processing";
    })) << "task "
        << task_id << " still Processing";
    return last;
  }

  // Imports a disk of chunks `seeds` into `region` for alice.
  std::string Import(const std::string& region, const std::string& name, const std::vector<uint32_t>& seeds,
                     bool encrypted = false) {
    std::string object = name + ".raw";
    WriteDisk(dir_ + "/oss/alice-in/" + object, seeds);
    ImportImageRequest req;
    req.disks.push_back(ImportDisk{"alice-in", object, "RAW", 0});
    req.image_name = name;
    req.architecture = "arm64";
    req.platform = "Ubuntu";
    req.boot_mode = "UEFI";
    req.license_type = "BYOL";
    req.encrypted = encrypted;
    req.tags = {{"team", "source"}};
    Result<ImportImageResult> r = R(region).ImportImage(kAlice, req);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    TaskRecord t = WaitTask(R(region), r->task_id);
    EXPECT_EQ(t.status, "Finished") << t.error_code << ": " << t.error_message;
    return r->image_id;
  }

  Result<std::string> Copy(const std::string& image_id, const std::string& to, const std::string& name = "",
                           const std::string& token = "") {
    CopyImageRequest req;
    req.image_id = image_id;
    req.destination_region_id = to;
    req.destination_image_name = name;
    req.destination_description = "copied by the test";
    req.tags = {{"env", "copy"}};
    req.client_token = token;
    return R(kA).CopyImage(kAlice, req);
  }

  // Shuts `region` down while faults_ holds its copy's pull: releases the
  // pull once Shutdown has begun, failing every fetch until Shutdown
  // returns, so the copy stops unfinished.
  void ShutDownMidCopy(const std::string& region) {
    std::thread stopper([&] { R(region).Shutdown(); });
    // Shutdown has begun once the region refuses new work.
    const bool refusing = PollUntil([&] {
      return R(region).ExportImage(kAlice, ExportImageRequest{"m-x", "alice-out", "", "raw"}).status().code() ==
             Code::kUnavailable;
    });
    // Whatever the pull asks for next fails until the scheduler's cancel flag
    // stops it, so the copy cannot finish during shutdown.
    {
      std::lock_guard<std::mutex> lock(faults_.mu);
      faults_.unavailable_fetches = 1 << 30;
    }
    faults_.Release();
    stopper.join();
    {
      std::lock_guard<std::mutex> lock(faults_.mu);
      faults_.unavailable_fetches = 0;
    }
    ASSERT_TRUE(refusing) << region << " still takes new work during Shutdown";
  }

  ImageRecord GetImage(const std::string& region, const std::string& id) {
    Result<ImageRecord> img = R(region).catalog().GetImage(id);
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    return img.ok() ? *img : ImageRecord{};
  }

  // Waits until the copy leaves Waiting/Creating; returns the final record.
  ImageRecord WaitCopy(const std::string& region, const std::string& id) {
    ImageRecord last;
    EXPECT_TRUE(PollUntil([&] {
      Result<ImageRecord> img = R(region).catalog().GetImage(id);
      if (img.ok()) last = *img;
      return img.ok() && img->status != "Waiting" && img->status != "Creating";
    })) << "copy "
        << id << " still " << last.status;
    return last;
  }

  // What DescribeImages shows alice in `region` for `id` (any status).
  std::optional<ImageRecord> Describe(const std::string& region, const std::string& id) {
    DescribeImagesRequest q;
    q.image_id = id;
    q.statuses = kAllStatuses;
    Result<Page<ImageRecord>> page = R(region).DescribeImages(kAlice, q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    if (!page.ok() || page->items.empty()) return std::nullopt;
    return page->items[0];
  }

  std::string ExportRaw(const std::string& region, const std::string& image_id) {
    Result<std::string> task_id =
        R(region).ExportImage(kAlice, ExportImageRequest{image_id, "alice-out", "x", "raw"});
    EXPECT_TRUE(task_id.ok()) << task_id.status().ToString();
    if (!task_id.ok()) return "";
    TaskRecord t = WaitTask(R(region), *task_id);
    EXPECT_EQ(t.status, "Finished") << t.error_code << ": " << t.error_message;
    Result<std::string> path =
        oss_->PathForRead(kAlice.account_id, "alice-out", "x_" + image_id + "_" + *task_id + ".raw");
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    return path.ok() ? FileSha256(*path) : "";
  }

  Manifest ManifestOf(const std::string& region, const std::string& image_id) {
    ImageRecord img = GetImage(region, image_id);
    if (img.disks.empty()) return {};
    Result<SnapshotRecord> snap = R(region).catalog().GetSnapshot(img.disks[0].snapshot_id);
    EXPECT_TRUE(snap.ok());
    Result<Manifest> m = DecodeManifest(snap->manifest);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : Manifest{};
  }

  // Copy() of each of `sources` to `to`, all queued at once; the copies'
  // ids (fewer when one was refused).
  std::vector<std::string> CopyAll(const std::vector<std::string>& sources, const std::string& to) {
    std::vector<std::string> copies;
    for (const std::string& s : sources) {
      Result<std::string> id = Copy(s, to);
      EXPECT_TRUE(id.ok()) << id.status().ToString();
      if (id.ok()) copies.push_back(*id);
    }
    return copies;
  }

  // What region A's CopyImage would send B for alice's one-disk `source`,
  // manifest included, under the new image id `image_id`.
  CopyTarget TargetFor(const std::string& source, const std::string& image_id) {
    CopyTarget t;
    t.image_id = image_id;
    t.account_id = kAlice.account_id;
    t.source_region_id = kA;
    t.source_image = GetImage(kA, source);
    t.source_snapshots.push_back(*R(kA).catalog().GetSnapshot(t.source_image.disks[0].snapshot_id));
    return t;
  }

  bool Has(const std::string& region, const ChunkId& id) {
    Result<bool> has = R(region).chunk_store().Has(id);
    return has.ok() && *has;
  }

  std::string dir_;
  std::unique_ptr<FsObjectStore> oss_;
  Faults faults_;
  std::function<void(RegionConfig&)> tweak_;
  // Room for two chunk objects, for the tests that share it between copies;
  // outlives the regions.
  ChunkBudget budget_{2 * (kMaxChunkPrefixSize + kChunk), 1};
  std::mutex mu_;
  std::map<std::string, Region*> live_;                       // guarded by mu_
  std::map<std::string, std::unique_ptr<RegionImpl>> owned_;  // test thread only
};

const std::vector<uint32_t> kDisk = {1, 2, 0, 3, 4, 0, 0, 5};

TEST_F(RegionCopyTest, CopyCreatesAnIdenticalImageWithItsOwnSnapshot) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  ImageRecord src = GetImage(kA, source);
  faults_.Block();
  Result<std::string> id = Copy(source, kB, "golden-b");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_NE(*id, source);
  // Visible at once, before any data moved.
  std::optional<ImageRecord> early = Describe(kB, *id);
  ASSERT_TRUE(early.has_value());
  EXPECT_TRUE(early->status == "Waiting" || early->status == "Creating") << early->status;
  EXPECT_TRUE(early->is_copied);
  EXPECT_EQ(early->source_region_id, kA);
  EXPECT_EQ(early->source_image_id, source);
  ASSERT_TRUE(faults_.WaitHeld(1));
  EXPECT_EQ(Describe(kB, *id)->status, "Creating");
  // Not in the Available-only default listing while copying.
  DescribeImagesRequest def;
  def.image_id = *id;
  EXPECT_TRUE(R(kB).DescribeImages(kAlice, def)->items.empty());
  faults_.Release();

  ImageRecord done = WaitCopy(kB, *id);
  EXPECT_EQ(done.status, "Available");
  EXPECT_EQ(done.progress, 100);
  EXPECT_EQ(done.name, "golden-b");
  EXPECT_EQ(done.description, "copied by the test");
  EXPECT_EQ(done.tags, (Tags{{"env", "copy"}}));
  EXPECT_EQ(done.architecture, "arm64");
  EXPECT_EQ(done.platform, "Ubuntu");
  EXPECT_EQ(done.os_type, src.os_type);
  EXPECT_EQ(done.boot_mode, "UEFI");
  EXPECT_EQ(done.license_type, "BYOL");
  EXPECT_EQ(done.size_gib, src.size_gib);
  ASSERT_EQ(done.disks.size(), 1u);
  EXPECT_NE(done.disks[0].snapshot_id, src.disks[0].snapshot_id);
  EXPECT_EQ(done.disks[0].size_gib, src.disks[0].size_gib);
  EXPECT_TRUE(done.disks[0].import_bucket.empty());

  DescribeSnapshotsRequest sq;
  sq.snapshot_ids = {done.disks[0].snapshot_id};
  Result<Page<SnapshotRecord>> snaps = R(kB).DescribeSnapshots(kAlice, sq);
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->items.size(), 1u);
  EXPECT_EQ(snaps->items[0].status, "accomplished");
  EXPECT_EQ(snaps->items[0].source_region_id, kA);
  EXPECT_EQ(snaps->items[0].source_snapshot_id, src.disks[0].snapshot_id);
  EXPECT_FALSE(snaps->items[0].encrypted);
  EXPECT_EQ(R(kB).catalog().GetSnapshot(done.disks[0].snapshot_id)->content_digest,
            R(kA).catalog().GetSnapshot(src.disks[0].snapshot_id)->content_digest);
  // Only the data chunks travelled (5 of 8; holes never do), and the
  // manifest came with the copy: nobody asked for it.
  EXPECT_EQ(faults_.FetchCount(), 5u);
  EXPECT_EQ(faults_.ManifestFetches(), 0);
  EXPECT_EQ(ExportRaw(kB, *id), ExportRaw(kA, source));
  FsckReport fsck;
  ASSERT_TRUE(R(kB).Fsck(&fsck).ok());
  EXPECT_TRUE(fsck.problems.empty());
}

// An image of several snapshots (CreateImage's DiskDeviceMapping.N) copies
// whole: every disk, with its type, device and size, and its data.
TEST_F(RegionCopyTest, AnImageWithDataDisksIsCopiedWithEveryDisk) {
  OpenAll();
  const ImageRecord system = GetImage(kA, Import(kA, "system-src", kDisk));
  const ImageRecord data = GetImage(kA, Import(kA, "data-src", {7, 0, 8}));
  CreateImageRequest req;
  req.image_name = "two-disks";
  ImageDiskRequest first;
  first.n = 1;
  first.snapshot_id = system.disks[0].snapshot_id;
  ImageDiskRequest second;
  second.n = 2;
  second.snapshot_id = data.disks[0].snapshot_id;
  second.disk_type = "data";
  second.device = "/dev/xvdc";
  second.size_gib = 7;
  req.disk_mappings = {first, second};
  Result<std::string> combined = R(kA).CreateImage(kAlice, req);
  ASSERT_TRUE(combined.ok()) << combined.status().ToString();
  const ImageRecord src = GetImage(kA, *combined);
  ASSERT_EQ(src.disks.size(), 2u);

  Result<std::string> id = Copy(*combined, kB, "two-disks-b");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const ImageRecord done = WaitCopy(kB, *id);
  EXPECT_EQ(done.status, "Available") << done.failure_reason;
  ASSERT_EQ(done.disks.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const DiskMapping& a = src.disks[i];
    const DiskMapping& b = done.disks[i];
    EXPECT_EQ(std::tie(b.type, b.device, b.size_gib), std::tie(a.type, a.device, a.size_gib)) << i;
    EXPECT_NE(b.snapshot_id, a.snapshot_id);
    Result<SnapshotRecord> copied = R(kB).catalog().GetSnapshot(b.snapshot_id);
    ASSERT_TRUE(copied.ok());
    EXPECT_EQ(copied->status, "accomplished");
    EXPECT_EQ(copied->source_snapshot_id, a.snapshot_id);
    EXPECT_EQ(copied->content_digest, R(kA).catalog().GetSnapshot(a.snapshot_id)->content_digest) << i;
  }
  EXPECT_EQ(done.size_gib, src.size_gib);
}

TEST_F(RegionCopyTest, CopyImageChecksItsRequest) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  auto reason = [](const Result<std::string>& r) { return r.ok() ? std::string("OK") : r.status().reason(); };
  EXPECT_EQ(reason(Copy("m-doesnotexist", kB)), "InvalidImageId.NotFound");
  CopyImageRequest bob;
  bob.image_id = source;
  bob.destination_region_id = kB;
  EXPECT_EQ(reason(R(kA).CopyImage(kBob, bob)), "InvalidImageId.NotFound");
  ImageRecord pub;
  pub.image_id = "public_x64_base.vhd";
  pub.account_id = kSystemAccountId;
  pub.name = "public";
  pub.status = "Available";
  ASSERT_TRUE(R(kA).catalog().InsertImage(pub).ok());
  EXPECT_EQ(reason(Copy(pub.image_id, kB)), "InvalidImageId.NotFound");
  EXPECT_EQ(reason(Copy(source, "xx-nowhere-1")), "DestinationRegion.NotFound");
  EXPECT_EQ(reason(Copy(source, kA)), "IncorrectDestinationRegion");
  EXPECT_EQ(reason(Copy(source, kB, "1-bad-name")), "InvalidImageName.Malformed");
  CopyImageRequest desc;
  desc.image_id = source;
  desc.destination_region_id = kB;
  desc.destination_description = "http://example.invalid";
  EXPECT_EQ(reason(R(kA).CopyImage(kAlice, desc)), "InvalidDescription.Malformed");
  CopyImageRequest kms = desc;
  kms.destination_description = "";
  kms.kms_key_id = "key-1";
  EXPECT_EQ(reason(R(kA).CopyImage(kAlice, kms)), "InvalidParameter.EncryptedIllegal");

  // DryRun validates, then stops.
  CopyImageRequest dry;
  dry.image_id = source;
  dry.destination_region_id = kB;
  dry.dry_run = true;
  EXPECT_EQ(reason(R(kA).CopyImage(kAlice, dry)), "DryRunOperation");
  DescribeImagesRequest all;
  all.statuses = kAllStatuses;
  EXPECT_TRUE(R(kB).DescribeImages(kAlice, all)->items.empty());

  // The default name is the source's; names are unique per account in B.
  Result<std::string> first = Copy(source, kB);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(WaitCopy(kB, *first).name, "golden");
  EXPECT_EQ(reason(Copy(source, kB)), "InvalidImageName.Duplicated");
  EXPECT_EQ(reason(R(kA).CopyImage(kAlice, dry)), "InvalidImageName.Duplicated");
  EXPECT_TRUE(Copy(source, kB, "golden-2").ok());

  // Not Available.
  ModifyImageAttributeRequest deprecate;
  deprecate.image_id = source;
  deprecate.status = "Deprecated";
  ASSERT_TRUE(R(kA).ModifyImageAttribute(kAlice, deprecate).ok());
  Result<std::string> deprecated = Copy(source, kC);
  EXPECT_EQ(reason(deprecated), "IncorrectImageStatus");
  EXPECT_EQ(deprecated.status().message(), "The image not available.");
}

TEST_F(RegionCopyTest, EncryptedSnapshotsAreNotCopied) {
  OpenAll();
  std::string source = Import(kA, "secret", kDisk, /*encrypted=*/true);
  Result<std::string> r = Copy(source, kB);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "OperationDeined.EncryptedSnapshot");
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied);
}

// Share permissions belong to one image in one region: a copy is a new
// image, shared with nobody; and a recipient cannot copy a shared image out
// of its region.
TEST_F(RegionCopyTest, SharesAreNeverCopiedAndARecipientCannotCopy) {
  tweak_ = [](RegionConfig& c) {
    c.account_exists = [](const std::string& id) -> Result<bool> { return id == kBob.account_id; };
  };
  OpenAll();
  std::string source = Import(kA, "shared", kDisk);
  ModifyImageSharePermissionRequest share;
  share.image_id = source;
  share.add_accounts = {kBob.account_id};
  ASSERT_TRUE(R(kA).ModifyImageSharePermission(kAlice, share).ok());

  CopyImageRequest by_bob;
  by_bob.image_id = source;
  by_bob.destination_region_id = kB;
  Result<std::string> refused = R(kA).CopyImage(kBob, by_bob);
  EXPECT_EQ(refused.status().reason(), "OperationDenied.SameRegionOnly");
  EXPECT_EQ(refused.status().code(), Code::kPermissionDenied);

  Result<std::string> id = Copy(source, kB, "shared-b");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  DescribeImageSharePermissionRequest shares;
  shares.image_id = *id;
  Result<Page<ImageShareRecord>> copied = R(kB).DescribeImageSharePermission(kAlice, shares);
  ASSERT_TRUE(copied.ok()) << copied.status().ToString();
  EXPECT_EQ(copied->total, 0u);
  EXPECT_FALSE(Describe(kB, *id)->is_self_shared);
  DescribeImagesRequest bobs;
  bobs.statuses = kAllStatuses;
  EXPECT_TRUE(R(kB).DescribeImages(kBob, bobs)->items.empty());
  EXPECT_EQ(R(kA).DescribeImages(kBob, bobs)->items.size(), 1u);
}

TEST_F(RegionCopyTest, LargeImagesNeedTheTicket) {
  bool allowed = false;
  std::string allowed_image;
  tweak_ = [&](RegionConfig& c) {
    c.max_copy_size_gib = 0;
    c.large_copy_allowed = [&](const std::string& account, const std::string& image) {
      return allowed && account == kAlice.account_id && image == allowed_image;
    };
  };
  OpenAll();
  std::string source = Import(kA, "big", kDisk);
  allowed_image = source;
  Result<std::string> refused = Copy(source, kB);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().reason(), "SizeExceed.Image");
  allowed = true;
  Result<std::string> ok = Copy(source, kB);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(WaitCopy(kB, *ok).status, "Available");
}

TEST_F(RegionCopyTest, OneCopyOfAnImageAtATimeAndClientTokenIsIdempotent) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  faults_.Block();
  Result<std::string> first = Copy(source, kB, "to-b", "token-1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<std::string> again = Copy(source, kB, "to-b", "token-1");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *first);
  Result<std::string> mismatch = Copy(source, kB, "other-name", "token-1");
  EXPECT_EQ(mismatch.status().reason(), "IdempotentParameterMismatch");
  Result<std::string> conflict = Copy(source, kC, "to-c");
  EXPECT_EQ(conflict.status().reason(), "OperationDenied.ImageCopyConflict");
  DescribeImagesRequest all;
  all.statuses = kAllStatuses;
  EXPECT_EQ(R(kB).DescribeImages(kAlice, all)->items.size(), 1u);
  EXPECT_TRUE(R(kC).DescribeImages(kAlice, all)->items.empty());
  faults_.Release();
  EXPECT_EQ(WaitCopy(kB, *first).status, "Available");
  // The token still answers after the copy; the lease is gone.
  EXPECT_EQ(*Copy(source, kB, "to-b", "token-1"), *first);
  Result<std::string> to_c = Copy(source, kC, "to-c");
  ASSERT_TRUE(to_c.ok()) << to_c.status().ToString();
  EXPECT_EQ(WaitCopy(kC, *to_c).status, "Available");
}

TEST_F(RegionCopyTest, SourceAndCopyCannotBeDeletedDuringTheCopy) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  faults_.Block();
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(faults_.WaitHeld(1));
  Status del_source = R(kA).DeleteImage(kAlice, source, false);
  EXPECT_EQ(del_source.reason(), "OperationDenied.ImageCopying");
  Status del_copy = R(kB).DeleteImage(kAlice, *id, false);
  EXPECT_EQ(del_copy.reason(), "OperationDenied.ImageCopying");
  // The source stays usable.
  EXPECT_TRUE(Describe(kA, source).has_value());
  std::string source_sha = ExportRaw(kA, source);
  EXPECT_FALSE(source_sha.empty());
  CreateImageRequest create;
  create.snapshot_id = GetImage(kA, source).disks[0].snapshot_id;
  create.image_name = "from-snapshot";
  EXPECT_TRUE(R(kA).CreateImage(kAlice, create).ok());
  faults_.Release();
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  EXPECT_TRUE(R(kA).DeleteImage(kAlice, source, false).ok());
  EXPECT_EQ(ExportRaw(kB, *id), source_sha);
  EXPECT_TRUE(R(kB).DeleteImage(kAlice, *id, false).ok());
}

TEST_F(RegionCopyTest, FiveCopiesRunAndTheRestWaitInQueue) {
  tweak_ = [](RegionConfig& c) { c.max_running_copies = 5; };
  OpenAll();
  std::vector<std::string> sources;
  for (uint32_t i = 0; i < 7; ++i) {
    sources.push_back(Import(kA, "img" + std::to_string(i), {100 + i, 200 + i}));
  }
  faults_.Block();
  std::vector<std::string> copies = CopyAll(sources, kB);
  ASSERT_EQ(copies.size(), sources.size());
  std::vector<ImageRecord> seen;
  auto count = [&](const std::string& status) {
    return std::count_if(seen.begin(), seen.end(), [&](const ImageRecord& r) { return r.status == status; });
  };
  ASSERT_TRUE(PollUntil([&] {
    seen.clear();
    for (const std::string& id : copies) seen.push_back(*Describe(kB, id));
    return count("Creating") == 5 && count("Waiting") == 2;
  })) << count("Creating")
      << " Creating, " << count("Waiting") << " Waiting";
  std::set<uint64_t> positions;
  for (const ImageRecord& r : seen) {
    if (r.status == "Waiting") positions.insert(r.queue_position);
    if (r.status == "Creating") {
      EXPECT_EQ(r.queue_position, 0u);
    }
  }
  EXPECT_EQ(positions, (std::set<uint64_t>{1, 2}));
  faults_.Release();
  for (const std::string& id : copies) EXPECT_EQ(WaitCopy(kB, id).status, "Available") << id;
}

// The running-copies limit is the region's, not the node's: copies that
// another node of the region runs (their slots in the shared catalog) count
// against it, so this node's copies wait until those end.
TEST_F(RegionCopyTest, CopiesAnotherNodeRunsCountAgainstTheRegionsLimit) {
  tweak_ = [](RegionConfig& c) { c.max_running_copies = 2; };
  OpenAll();
  const std::vector<std::string> sources = {Import(kA, "one", {100, 200}), Import(kA, "two", {300, 400})};
  // Another node of region B, through the same catalog: two copies of its
  // own running, their leases live for an hour.
  auto other = SqliteCatalog::Open(dir_ + "/" + kB + "/catalog.db");
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  const UnixSeconds now = SystemClock::Get().Now();
  for (const char* id : {"t-other-1", "t-other-2"}) {
    TaskRecord t;
    t.task_id = id;
    t.account_id = kRoot;
    t.action = "CopyImage";
    t.status = "Processing";
    t.resource_id = std::string("m-") + id;
    t.creation_time = now;
    ASSERT_TRUE((*other)->InsertTask(t).ok());
    ASSERT_TRUE(*(*other)->ClaimTask(id, "other-node", now, now + 3600));
    ASSERT_TRUE(*(*other)->TakeCopySlot(id, now, 2));
  }
  std::vector<std::string> copies = CopyAll(sources, kB);
  ASSERT_EQ(copies.size(), 2u);
  // Past two admission retries (1 s apart), both still wait.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  for (const std::string& id : copies) EXPECT_EQ(Describe(kB, id)->status, "Waiting") << id;

  ASSERT_TRUE((*other)->ReleaseCopySlot("t-other-1").ok());
  ASSERT_TRUE(PollUntil([&] {
    int moved = 0;
    for (const std::string& id : copies) moved += Describe(kB, id)->status != "Waiting";
    return moved == 1;
  })) << "one slot freed, one copy runs";
  ASSERT_TRUE((*other)->ReleaseCopySlot("t-other-2").ok());
  for (const std::string& id : copies) EXPECT_EQ(WaitCopy(kB, id).status, "Available") << id;
}

TEST_F(RegionCopyTest, TwentyCopiesAtOnceSharingASmallBudgetAllFinishByteIdentical) {
  tweak_ = [this](RegionConfig& c) {
    c.max_running_copies = 5;
    c.copy_budget = &budget_;
  };
  OpenAll();
  std::vector<std::string> sources;
  for (uint32_t i = 0; i < 20; ++i) {
    sources.push_back(Import(kA, "many" + std::to_string(i), {300 + i, 0, 400 + i, 500 + i}));
  }
  faults_.Block();
  std::vector<std::string> copies = CopyAll(sources, kB);
  ASSERT_EQ(copies.size(), sources.size());
  faults_.Release();
  for (size_t i = 0; i < copies.size(); ++i) {
    ASSERT_EQ(WaitCopy(kB, copies[i]).status, "Available") << copies[i];
    EXPECT_EQ(ExportRaw(kB, copies[i]), ExportRaw(kA, sources[i])) << copies[i];
  }
  EXPECT_LE(budget_.peak(), budget_.capacity()) << "five copies, room for two chunks";
  EXPECT_GT(budget_.peak(), 0u);
  EXPECT_EQ(budget_.in_use(), 0u);
}

TEST_F(RegionCopyTest, QueuedCopiesPastTheirManifestLimitFetchTheManifestsWhenTheyStart) {
  tweak_ = [](RegionConfig& c) {
    c.max_running_copies = 1;
    c.max_queued_manifest_bytes = 1;  // not even one is kept
  };
  OpenAll();
  std::vector<std::string> sources;
  for (uint32_t i = 0; i < 3; ++i)
    sources.push_back(Import(kA, "queued" + std::to_string(i), {600 + i, 700 + i}));
  std::vector<std::string> copies = CopyAll(sources, kB);
  ASSERT_EQ(copies.size(), sources.size());
  for (size_t i = 0; i < copies.size(); ++i) {
    ASSERT_EQ(WaitCopy(kB, copies[i]).status, "Available") << copies[i];
    EXPECT_EQ(ExportRaw(kB, copies[i]), ExportRaw(kA, sources[i])) << copies[i];
  }
  EXPECT_EQ(faults_.ManifestFetches(), 3);
}

TEST_F(RegionCopyTest, ASecondVersionFetchesOnlyTheChangedChunks) {
  OpenAll();
  std::string v1 = Import(kA, "app-v1", {11, 12, 13, 14, 15, 16});
  std::string v2 = Import(kA, "app-v2", {11, 12, 13, 99, 15, 16});
  Result<std::string> c1 = Copy(v1, kB);
  ASSERT_TRUE(c1.ok());
  ASSERT_EQ(WaitCopy(kB, *c1).status, "Available");
  EXPECT_EQ(faults_.FetchCount(), 6u);
  Result<std::string> c2 = Copy(v2, kB);
  ASSERT_TRUE(c2.ok());
  ASSERT_EQ(WaitCopy(kB, *c2).status, "Available");
  std::vector<ChunkId> fetched = faults_.Fetched();
  ASSERT_EQ(fetched.size(), 7u);
  EXPECT_EQ(R(kB).metrics().copy_chunks_fetched.load(), 7u);
  EXPECT_GT(R(kB).metrics().copy_bytes_received.load(), 0u);
  EXPECT_EQ(fetched.back(), ManifestOf(kA, v2).entries[3].id);
  EXPECT_EQ(ManifestOf(kB, *c2).ContentDigest(), ManifestOf(kA, v2).ContentDigest());
}

TEST_F(RegionCopyTest, CancelMidTransferRemovesTheCopyAndReclaimsItsChunks) {
  tweak_ = [](RegionConfig& c) { c.copy_in_flight = 1; };
  OpenAll();
  std::string v1 = Import(kA, "app-v1", {21, 22, 23});
  std::string v2 = Import(kA, "app-v2", {21, 22, 23, 31, 32, 33});
  Result<std::string> c1 = Copy(v1, kB);
  ASSERT_TRUE(c1.ok());
  ASSERT_EQ(WaitCopy(kB, *c1).status, "Available");
  Manifest m2 = ManifestOf(kA, v2);
  const ChunkId shared = m2.entries[0].id;
  const ChunkId first_new = m2.entries[3].id;

  faults_.Block(/*let_through=*/1);
  Result<std::string> c2 = Copy(v2, kB);
  ASSERT_TRUE(c2.ok());
  ASSERT_TRUE(faults_.WaitHeld(1));
  ASSERT_TRUE(PollUntil([&] { return Has(kB, first_new); }));
  std::string snapshot = GetImage(kB, *c2).disks[0].snapshot_id;
  ASSERT_TRUE(R(kB).CancelCopyImage(kAlice, *c2).ok());
  EXPECT_FALSE(Describe(kB, *c2).has_value());
  DescribeSnapshotsRequest sq;
  sq.snapshot_ids = {snapshot};
  EXPECT_TRUE(R(kB).DescribeSnapshots(kAlice, sq)->items.empty());
  faults_.Release();
  // The pull lets go of its pins when it stops; then GC may take the chunk.
  EXPECT_TRUE(PollUntil([&] {
    GcStats stats;
    EXPECT_TRUE(R(kB).CollectGarbage(&stats).ok());
    return !Has(kB, first_new);
  }));
  EXPECT_TRUE(Has(kB, shared));
  EXPECT_EQ(Describe(kB, *c1)->status, "Available");
  // The source is free again.
  EXPECT_TRUE(R(kA).DeleteImage(kAlice, v2, false).ok());
}

TEST_F(RegionCopyTest, CancelCopyImageErrors) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  std::string local = Import(kB, "local", kDisk);
  Result<std::string> done = Copy(source, kB, "done");
  ASSERT_TRUE(done.ok());
  ASSERT_EQ(WaitCopy(kB, *done).status, "Available");
  Status finished = R(kB).CancelCopyImage(kAlice, *done);
  EXPECT_EQ(finished.reason(), "IncorrectImageStatus");
  EXPECT_EQ(finished.message(), "The image copy has completed.");
  EXPECT_EQ(R(kB).CancelCopyImage(kAlice, local).reason(), "ImageCreatedNotFromCopy");
  EXPECT_EQ(R(kB).CancelCopyImage(kAlice, "m-unknown").reason(), "InvalidImageId.NotFound");
  EXPECT_EQ(R(kB).CancelCopyImage(kBob, *done).reason(), "InvalidImageId.NotFound");

  // An image whose chunks B does not hold yet: its copy must fetch them.
  std::string fresh = Import(kA, "fresh", {61, 62});
  {
    std::lock_guard<std::mutex> lock(faults_.mu);
    faults_.gone = true;
  }
  Result<std::string> failed = Copy(fresh, kB, "failed");
  ASSERT_TRUE(failed.ok());
  ASSERT_EQ(WaitCopy(kB, *failed).status, "CreateFailed");
  Status st = R(kB).CancelCopyImage(kAlice, *failed);
  EXPECT_EQ(st.reason(), "IncorrectImageStatus");
  EXPECT_EQ(st.message(), "The Image copy has been failed.");
}

TEST_F(RegionCopyTest, AnUnreachableSourceIsWaitedFor) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  {
    std::lock_guard<std::mutex> lock(faults_.mu);
    faults_.unavailable_sources = 3;
    faults_.unavailable_fetches = 4;
  }
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  std::lock_guard<std::mutex> lock(faults_.mu);
  EXPECT_EQ(faults_.unavailable_sources, 0);
  EXPECT_EQ(faults_.unavailable_fetches, 0);
}

TEST_F(RegionCopyTest, ASourceThatIsGoneFailsTheCopy) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  {
    std::lock_guard<std::mutex> lock(faults_.mu);
    faults_.gone = true;
  }
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  ImageRecord failed = WaitCopy(kB, *id);
  EXPECT_EQ(failed.status, "CreateFailed");
  // The manifest came with the copy; the first chunk asked for is gone.
  EXPECT_NE(failed.failure_reason.find("InvalidChunkId.NotFound"), std::string::npos)
      << failed.failure_reason;
  EXPECT_EQ(R(kB).catalog().GetSnapshot(failed.disks[0].snapshot_id)->status, "failed");
  TaskQuery q;
  q.resource_ids = {*id};
  Result<Page<TaskRecord>> tasks = R(kB).catalog().ListTasks(q);
  ASSERT_TRUE(tasks.ok());
  ASSERT_EQ(tasks->items.size(), 1u);
  EXPECT_EQ(tasks->items[0].status, "Failed");
  EXPECT_EQ(tasks->items[0].error_code, "InvalidChunkId.NotFound");
  // The lease went with the failure.
  EXPECT_TRUE(R(kA).DeleteImage(kAlice, source, false).ok());
}

TEST_F(RegionCopyTest, ACopyResumesAfterRestartFetchingOnlyMissingChunks) {
  tweak_ = [](RegionConfig& c) { c.copy_in_flight = 1; };
  OpenAll();
  std::string source = Import(kA, "golden", {41, 42, 43, 44, 45, 46});
  faults_.Block(/*let_through=*/2);
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(faults_.WaitHeld(1));
  ASSERT_NO_FATAL_FAILURE(ShutDownMidCopy(kB));
  EXPECT_EQ(R(kB).catalog().GetImage(*id)->status, "Creating");
  std::set<ChunkId> present;
  ASSERT_TRUE(R(kB).chunk_store().List([&](const ChunkId& c) { present.insert(c); }).ok());
  EXPECT_GE(present.size(), 2u);
  size_t before = faults_.FetchCount();

  EXPECT_EQ(faults_.ManifestFetches(), 0);
  Close(kB);
  Open(kB);
  ImageRecord done = WaitCopy(kB, *id);
  EXPECT_EQ(done.status, "Available");
  EXPECT_EQ(faults_.ManifestFetches(), 1) << "the resumed copy asks for the manifest it was sent";
  std::vector<ChunkId> fetched = faults_.Fetched();
  ASSERT_GT(fetched.size(), before);
  for (size_t i = before; i < fetched.size(); ++i) EXPECT_EQ(present.count(fetched[i]), 0u) << i;
  EXPECT_EQ(fetched.size() - before, 6u - present.size());
  EXPECT_EQ(ExportRaw(kB, *id), ExportRaw(kA, source));
  // The resumed copy held, then released, the source's lease.
  EXPECT_TRUE(R(kA).DeleteImage(kAlice, source, false).ok());
}

TEST_F(RegionCopyTest, ACopyThatStoppedTheServerThreeTimesIsQuarantinedOnResume) {
  tweak_ = [](RegionConfig& c) { c.copy_in_flight = 1; };
  OpenAll();
  std::string source = Import(kA, "golden", {51, 52, 53});
  faults_.Block(/*let_through=*/1);
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(faults_.WaitHeld(1));
  TaskQuery q;
  q.resource_ids = {*id};
  Result<Page<TaskRecord>> tasks = R(kB).catalog().ListTasks(q);
  ASSERT_TRUE(tasks.ok() && tasks->items.size() == 1u);
  const std::string task_id = tasks->items[0].task_id;
  EXPECT_EQ(R(kB).catalog().GetTask(task_id)->attempts, 1) << "counted before the run";

  ASSERT_NO_FATAL_FAILURE(ShutDownMidCopy(kB));
  // A clean shutdown gives the attempt back; three crashes would not have.
  Result<TaskRecord> task = R(kB).catalog().GetTask(task_id);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->attempts, 0);
  task->attempts = RegionImpl::kTaskQuarantineAttempts;
  ASSERT_TRUE(R(kB).catalog().UpdateTask(*task).ok());
  const size_t fetched_before = faults_.FetchCount();

  Close(kB);
  Open(kB);
  ImageRecord done = WaitCopy(kB, *id);
  EXPECT_EQ(done.status, "CreateFailed");
  Result<TaskRecord> failed = R(kB).catalog().GetTask(task_id);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, "Failed");
  EXPECT_NE(failed->error_message.find("stopped the server 3 times; quarantined"), std::string::npos)
      << failed->error_message;
  EXPECT_EQ(faults_.FetchCount(), fetched_before) << "the quarantined copy did not run";
}

TEST_F(RegionCopyTest, AfterBothRegionsRestartTheResumedCopyRetakesItsLease) {
  tweak_ = [](RegionConfig& c) { c.copy_in_flight = 1; };
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  faults_.Block();
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(faults_.WaitHeld(1));
  ASSERT_NO_FATAL_FAILURE(ShutDownMidCopy(kB));
  Close(kB);
  Close(kA);

  // B comes back first: its copy waits for the source region to appear.
  faults_.Block();
  Open(kB);
  std::string resumed = R(kB).catalog().GetImage(*id)->status;
  EXPECT_TRUE(resumed == "Waiting" || resumed == "Creating") << resumed;
  Open(kA);
  ASSERT_TRUE(faults_.WaitHeld(1));
  EXPECT_EQ(R(kA).DeleteImage(kAlice, source, false).reason(), "OperationDenied.ImageCopying");
  faults_.Release();
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  EXPECT_EQ(ExportRaw(kB, *id), ExportRaw(kA, source));
  EXPECT_TRUE(R(kA).DeleteImage(kAlice, source, false).ok());
}

TEST_F(RegionCopyTest, ProgressIsReportedWhileCopying) {
  tweak_ = [](RegionConfig& c) { c.copy_in_flight = 1; };
  OpenAll();
  // Five data chunks; three cross, then the pull waits.
  std::string source = Import(kA, "golden", kDisk);
  faults_.Block(/*let_through=*/3);
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(faults_.WaitHeld(1));
  std::optional<ImageRecord> seen;
  EXPECT_TRUE(PollUntil([&] {
    seen = Describe(kB, *id);
    return seen.has_value() && seen->progress >= 60;
  })) << (seen ? seen->progress : -1);
  EXPECT_EQ(seen->status, "Creating");
  EXPECT_LT(seen->progress, 100);
  EXPECT_GT(seen->remain_time_seconds, 0);  // bytes crossed within the rate window
  faults_.Release();
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  std::optional<ImageRecord> done = Describe(kB, *id);
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->progress, 100);
  EXPECT_EQ(done->remain_time_seconds, 0);
  EXPECT_EQ(done->queue_position, 0u);
}

TEST_F(RegionCopyTest, TheSourceKeepsItsLeaseAcrossARestart) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  faults_.Block();
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(faults_.WaitHeld(1));
  Close(kA);
  Open(kA);
  // The lease is in A's catalog, and B says the copy is still running.
  EXPECT_EQ(R(kA).DeleteImage(kAlice, source, false).reason(), "OperationDenied.ImageCopying");
  EXPECT_EQ(Copy(source, kC).status().reason(), "OperationDenied.ImageCopyConflict");
  faults_.Release();
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  EXPECT_TRUE(R(kA).DeleteImage(kAlice, source, false).ok());
}

TEST_F(RegionCopyTest, ALeaseWhoseCopyHasEndedIsDropped) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  // A release that never arrived (the destination died right after its
  // commit, say): the lease still names the finished copy.
  ASSERT_TRUE(R(kA).catalog().PutCopyLease({source, kB, *id, 0}).ok());
  Result<std::string> again = Copy(source, kC);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(WaitCopy(kC, *again).status, "Available");

  // A lease naming a copy that does not exist does not block deletion
  // either; one naming a region nobody knows does (it cannot be checked).
  ASSERT_TRUE(R(kA).catalog().PutCopyLease({source, kB, "m-neverexisted", 0}).ok());
  std::string other = Import(kA, "other", {7, 8});
  ASSERT_TRUE(R(kA).catalog().PutCopyLease({other, "xx-unknown-1", "m-elsewhere", 0}).ok());
  EXPECT_EQ(R(kA).DeleteImage(kAlice, other, false).reason(), "OperationDenied.ImageCopying");
  EXPECT_TRUE(R(kA).DeleteImage(kAlice, source, false).ok());
}

TEST_F(RegionCopyTest, DryRunAsksTheDestinationAndWritesNothing) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  CopyImageRequest req;
  req.image_id = source;
  req.destination_region_id = kB;
  req.dry_run = true;
  EXPECT_EQ(R(kA).CopyImage(kAlice, req).status().reason(), "DryRunOperation");
  Result<std::string> id = Copy(source, kB, "taken");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  req.destination_image_name = "taken";
  EXPECT_EQ(R(kA).CopyImage(kAlice, req).status().reason(), "InvalidImageName.Duplicated");
  DescribeImagesRequest q;
  q.statuses = kAllStatuses;
  Result<Page<ImageRecord>> in_b = R(kB).DescribeImages(kAlice, q);
  ASSERT_TRUE(in_b.ok());
  EXPECT_EQ(in_b->items.size(), 1u);
}

TEST_F(RegionCopyTest, CopyTasksAreListedOnlyWhenAskedFor) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  std::string exported = ExportRaw(kB, *id);
  ASSERT_FALSE(exported.empty());
  DescribeTasksRequest all;
  Result<Page<TaskRecord>> listed = R(kB).DescribeTasks(kAlice, all);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].action, "ExportImage");
  DescribeTasksRequest copies;
  copies.task_action = "CopyImage";
  listed = R(kB).DescribeTasks(kAlice, copies);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_EQ(listed->items[0].resource_id, *id);
  EXPECT_EQ(listed->items[0].status, "Finished");
}

TEST_F(RegionCopyTest, ARepeatedAcceptCopyGetsTheSameCopy) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  CopyTarget t = TargetFor(source, "m-repeatedaccept0001");
  t.source_snapshots[0].manifest.clear();
  t.image_name = "copied";
  Result<std::string> first = R(kB).AcceptCopy(t);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<std::string> again = R(kB).AcceptCopy(t);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *first);
  EXPECT_EQ(WaitCopy(kB, *first).status, "Available");
  DescribeImagesRequest q;
  q.statuses = kAllStatuses;
  EXPECT_EQ(R(kB).DescribeImages(kAlice, q)->items.size(), 1u);
  // Another source under the same id is not this copy.
  t.source_image.image_id = "m-someotherimage0001";
  EXPECT_EQ(R(kB).AcceptCopy(t).status().reason(), "InvalidImageId.Duplicated");
  EXPECT_EQ(faults_.ManifestFetches(), 1) << "none was sent";
}

TEST_F(RegionCopyTest, ASentManifestThatDoesNotMatchItsDigestIsFetchedInstead) {
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  std::string other = Import(kA, "other", {7, 8, 9});
  CopyTarget t = TargetFor(source, "m-sentmanifest000001");
  // Another image's manifest, or bytes that are none: both are ignored.
  for (std::vector<uint8_t> wrong : {EncodeManifest(ManifestOf(kA, other)), std::vector<uint8_t>{1, 2, 3}}) {
    t.image_id[t.image_id.size() - 1]++;
    t.image_name = "copied-" + t.image_id;
    t.source_snapshots[0].manifest = wrong;
    const int fetched_before = faults_.ManifestFetches();
    Result<std::string> id = R(kB).AcceptCopy(t);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
    EXPECT_EQ(faults_.ManifestFetches(), fetched_before + 1);
    EXPECT_EQ(ExportRaw(kB, *id), ExportRaw(kA, source));
  }
}

TEST_F(RegionCopyTest, ManifestsTooLargeToSendStayBehind) {
  tweak_ = [](RegionConfig& c) { c.max_sent_manifest_bytes = 64; };
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  ASSERT_GT(EncodeManifest(ManifestOf(kA, source)).size(), 64u);
  Result<std::string> id = Copy(source, kB);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(WaitCopy(kB, *id).status, "Available");
  EXPECT_EQ(faults_.ManifestFetches(), 1);
  EXPECT_EQ(ExportRaw(kB, *id), ExportRaw(kA, source));
}

// Passes every call on to `to`, but loses the answers of the first
// `lose_accepts` AcceptCopy calls after they were made (a peer call that
// timed out on its way back).
class AnswerLosingPeer final : public CopyPeer {
 public:
  explicit AnswerLosingPeer(std::function<CopyPeer*()> to) : to_(std::move(to)) {}
  Result<std::string> AcceptCopy(const CopyTarget& t) override {
    Result<std::string> made = to_()->AcceptCopy(t);
    if (lose_accepts > 0) {
      --lose_accepts;
      return Unavailable("injected: the AcceptCopy answer was lost");
    }
    return made;
  }
  Result<bool> CopyInProgress(const std::string& id) override { return to_()->CopyInProgress(id); }
  Status Ping() override { return to_()->Ping(); }
  Status AcquireCopyLease(const CopyLease& l) override { return to_()->AcquireCopyLease(l); }
  Status ReleaseCopyLease(const CopyLease& l) override { return to_()->ReleaseCopyLease(l); }

  std::atomic<int> lose_accepts{0};

 private:
  std::function<CopyPeer*()> to_;
};

TEST_F(RegionCopyTest, ARepeatWithTheClientTokenAfterALostAnswerMakesNoSecondCopy) {
  AnswerLosingPeer lossy([this]() -> CopyPeer* { return Resolve(kB); });
  lossy.lose_accepts = 1;
  tweak_ = [&](RegionConfig& c) {
    c.resolve_peer = [this, &lossy](const std::string& r) -> CopyPeer* {
      return r == kB ? static_cast<CopyPeer*>(&lossy) : Resolve(r);
    };
  };
  OpenAll();
  std::string source = Import(kA, "golden", kDisk);
  Result<std::string> lost = Copy(source, kB, "to-b", "token-lost");
  ASSERT_EQ(lost.status().code(), Code::kUnavailable) << lost.status().ToString();
  DescribeImagesRequest all;
  all.statuses = kAllStatuses;
  ASSERT_EQ(R(kB).DescribeImages(kAlice, all)->items.size(), 1u) << "the first call made its copy";
  const std::string made = R(kB).DescribeImages(kAlice, all)->items[0].image_id;

  // The caller never learnt the outcome and repeats the call.
  Result<std::string> again = Copy(source, kB, "to-b", "token-lost");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, made);
  EXPECT_EQ(R(kB).DescribeImages(kAlice, all)->items.size(), 1u);
  EXPECT_EQ(WaitCopy(kB, made).status, "Available");
  EXPECT_EQ(*Copy(source, kB, "to-b", "token-lost"), made);
  // Other parameters under the token are still refused.
  EXPECT_EQ(Copy(source, kB, "other", "token-lost").status().reason(), "IdempotentParameterMismatch");
  EXPECT_EQ(R(kB).DescribeImages(kAlice, all)->items.size(), 1u);
}

// A copy keeps the source's scoped ids: the destination verifies each chunk
// object with the scope it carries, whatever its own dedup scope.
TEST_F(RegionCopyTest, ScopedImageCopiesWithItsIdsIntoARegionOfEitherScope) {
  tweak_ = [](RegionConfig& c) {
    if (c.region_id == kC) c.dedup_scope = DedupScope::kRegion;
  };
  OpenAll();
  std::string source = Import(kA, "scoped", kDisk);
  const Manifest m = ManifestOf(kA, source);
  const ChunkScope alice = AccountChunkScope(kAlice.account_id);
  const std::string first = Pattern(kChunk, kDisk[0]);
  ASSERT_FALSE(m.entries.empty());
  EXPECT_EQ(m.entries[0].id,
            ComputeChunkId(&alice, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(first.data()),
                                                            first.size())));
  const std::string source_sha = ExportRaw(kA, source);
  for (const char* to : {kB, kC}) {
    Result<std::string> id = Copy(source, to, std::string("scoped-") + to);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ImageRecord done = WaitCopy(to, *id);
    EXPECT_EQ(done.status, "Available") << to;
    EXPECT_EQ(ExportRaw(to, *id), source_sha) << to;
    Manifest copied = ManifestOf(to, *id);
    EXPECT_EQ(EncodeManifest(copied), EncodeManifest(m)) << to;
    EXPECT_TRUE(Has(to, m.entries[0].id)) << to;
    FsckReport fsck;
    ASSERT_TRUE(R(to).Fsck(&fsck).ok());
    EXPECT_TRUE(fsck.problems.empty()) << to << ": " << fsck.problems[0];
  }
}

}  // namespace
}  // namespace ferry
