// RegionImpl against the real FsChunkStore and SqliteCatalog in a scratch
// directory, with qemu-img and mkfs.ext4 as installed on the machine.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "common/crc64.h"
#include "common/hash.h"
#include "region/export_etag.h"
#include "region/subprocess.h"
#include "store/fs_chunk_store.h"
#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

// A data range of a test disk: `length` pseudo-random bytes from `seed`.
struct Fill {
  uint64_t offset;
  uint64_t length;
  uint32_t seed;
};

void WriteSparseFile(const std::string& path, uint64_t size, const std::vector<Fill>& fills) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid());
  for (const Fill& f : fills) {
    std::string data = Pattern(f.length, f.seed);
    ASSERT_TRUE(
        PwriteFull(fd.get(), reinterpret_cast<const uint8_t*>(data.data()), data.size(), f.offset, path)
            .ok());
  }
  ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
}

std::string FileSha256(const std::string& path) {
  Result<std::string> content = ReadFileToString(path);
  EXPECT_TRUE(content.ok()) << content.status().ToString();
  return content.ok() ? Sha256Hex(*content) : "";
}

bool IsSparse(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  return static_cast<uint64_t>(st.st_blocks) * 512 < static_cast<uint64_t>(st.st_size);
}

// The id of an import's chunk under the default, per-account dedup scope.
ChunkId ChunkOf(const std::string& data, const Caller& owner = kAlice) {
  const ChunkScope scope = AccountChunkScope(owner.account_id);
  return ComputeChunkId(&scope, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

// Metrics are counted just after a task's final record is committed.
bool WaitCounter(const std::atomic<uint64_t>& counter, uint64_t want) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (counter.load() != want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return counter.load() == want;
}

class RegionTest : public RegionFixture {
 protected:
  void SetUp() override {
    RegionFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(MakeDirs(dir_ + "/scratch").ok());
  }

  RegionConfig Config(bool seed) {
    RegionConfig c = RegionFixture::Config();
    c.task_threads = 2;
    c.ingest_threads = 2;
    c.seed_public_image = seed;
    c.dedup_scope = dedup_scope_;
    return c;
  }

  void Open(bool seed = false) { OpenRegion(Config(seed)); }

  // Puts a test disk into alice's input bucket; returns its local path.
  std::string PutObject(const std::string& object, uint64_t size, const std::vector<Fill>& fills,
                        const std::string& bucket = "alice-in") {
    std::string path = dir_ + "/oss/" + bucket + "/" + object;
    WriteSparseFile(path, size, fills);
    return path;
  }

  ImportImageRequest ImportRequest(const std::string& object, const std::string& name,
                                   const std::string& format = "RAW",
                                   const std::string& bucket = "alice-in") {
    ImportImageRequest req;
    req.disks.push_back(ImportDisk{bucket, object, format, 0});
    req.image_name = name;
    return req;
  }

  // Starts importing "disk.raw", `mib` MiB of data from `seed`, as `name`;
  // returns once the import is held at gate_ on a chunk, surely Processing.
  void StartHeldImport(const std::string& name, uint64_t mib, uint32_t seed, ImportImageResult* started) {
    PutObject("disk.raw", mib * kMiB, {{0, mib * kMiB, seed}});
    gate_.Arm();
    Result<ImportImageResult> r = region_->ImportImage(kAlice, ImportRequest("disk.raw", name));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(gate_.WaitArrived(nullptr));
    *started = *r;
  }

  // Shuts region_ down while the import of `image_id` is held at gate_, and
  // opens the gate once Shutdown has flagged the running task; returns when
  // Shutdown has, the import left Processing.
  void ShutdownDuringImport(const std::string& image_id) {
    std::thread stopper([this] { region_->Shutdown(); });
    // Shutdown has flagged the running task once new tasks are refused (until
    // then this export fails on the image status, without side effects).
    const ExportImageRequest probe{image_id, "alice-out", "", "raw"};
    const bool refused =
        WaitFor([&] { return region_->ExportImage(kAlice, probe).status().code() == Code::kUnavailable; },
                std::chrono::seconds(30));
    gate_.Open();
    stopper.join();
    ASSERT_TRUE(refused) << "new tasks still accepted 30 s into Shutdown";
  }

  ImageRecord GetImage(const std::string& id) {
    Result<ImageRecord> img = region_->catalog().GetImage(id);
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    return img.ok() ? *img : ImageRecord{};
  }

  SnapshotRecord GetSnapshot(const std::string& id) {
    Result<SnapshotRecord> s = region_->catalog().GetSnapshot(id);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : SnapshotRecord{};
  }

  // Exports and waits; returns the local path of the exported object.
  std::string ExportAndWait(const std::string& image_id, const std::string& format,
                            const Caller& caller = kAlice, const std::string& bucket = "alice-out",
                            std::string* key = nullptr) {
    Result<std::string> task_id =
        region_->ExportImage(caller, ExportImageRequest{image_id, bucket, "exp", format});
    EXPECT_TRUE(task_id.ok()) << task_id.status().ToString();
    if (!task_id.ok()) return "";
    TaskRecord t = WaitTask(caller, *task_id);
    EXPECT_EQ(t.status, "Finished") << t.error_code << ": " << t.error_message;
    std::string object = "exp_" + image_id + "_" + *task_id + "." + format;
    EXPECT_NE(t.params.find(object), std::string::npos) << t.params;
    if (key != nullptr) *key = object;
    Result<std::string> path = oss_->PathForRead(caller.account_id, bucket, object);
    EXPECT_TRUE(path.ok()) << path.status().ToString();
    return path.ok() ? *path : "";
  }

  DedupScope dedup_scope_ = DedupScope::kAccount;
};

// A 24 MiB disk with 6 MiB of data in two extents; the rest are holes.
const std::vector<Fill> kDiskFills = {{0, 5 * kMiB, 1}, {12 * kMiB, 1 * kMiB, 2}};
constexpr uint64_t kDiskSize = 24 * kMiB;

TEST_F(RegionTest, ImportRawThenExportRawIsByteIdenticalAndSparse) {
  Open();
  std::string source = PutObject("disk.raw", kDiskSize, kDiskFills);
  Result<ImportImageResult> r = region_->ImportImage(kAlice, ImportRequest("disk.raw", "raw-image"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(LooksLikeResourceId(r->image_id, "m"));
  EXPECT_TRUE(LooksLikeResourceId(r->task_id, "t"));
  TaskRecord task = WaitTask(kAlice, r->task_id);
  ASSERT_EQ(task.status, "Finished") << task.error_message;
  EXPECT_EQ(task.progress, 100);
  EXPECT_EQ(task.action, "ImportImage");

  ImageRecord image = GetImage(r->image_id);
  EXPECT_EQ(image.status, "Available");
  EXPECT_EQ(image.progress, 100);
  EXPECT_EQ(image.size_gib, 1u);
  EXPECT_EQ(image.architecture, "x86_64");
  EXPECT_EQ(image.platform, "Others Linux");
  ASSERT_EQ(image.disks.size(), 1u);
  EXPECT_EQ(image.disks[0].import_bucket, "alice-in");
  SnapshotRecord snap = GetSnapshot(image.disks[0].snapshot_id);
  EXPECT_EQ(snap.status, "accomplished");
  EXPECT_EQ(snap.logical_size, kDiskSize);
  EXPECT_EQ(snap.content_digest.size(), 64u);

  std::string exported = ExportAndWait(r->image_id, "raw");
  ASSERT_FALSE(exported.empty());
  EXPECT_EQ(FileSha256(exported), FileSha256(source));
  EXPECT_TRUE(IsSparse(exported));
  EXPECT_GT(region_->metrics().bytes_imported.load(), 0u);
  EXPECT_GT(region_->metrics().bytes_exported.load(), 0u);
  EXPECT_TRUE(WaitCounter(region_->metrics().tasks_finished, 2));
}

// A raw export's ETag is derived from the image's manifest
// (region/export_etag.h), not an MD5 of its bytes: the same for every export
// of the image and of its bytes re-imported, another for other bytes; its
// CRC-64 is exact and it claims no Content-MD5. A converted export keeps the
// MD5 multipart ETag.
TEST_F(RegionTest, RawExportsHaveTheManifestEtagAndAnExactCrc64) {
  Open();
  PutObject("disk.raw", kDiskSize, kDiskFills);
  PutObject("other.raw", kDiskSize, {{0, 5 * kMiB, 1}, {12 * kMiB, 1 * kMiB, 3}});
  const std::string image = ImportAndWait(ImportRequest("disk.raw", "disk"));
  const std::string other = ImportAndWait(ImportRequest("other.raw", "other"));
  auto head = [&](const std::string& image_id, const std::string& format) {
    std::string key;
    const std::string path = ExportAndWait(image_id, format, kAlice, "alice-out", &key);
    Result<ObjectInfo> info = oss_->HeadObject(kAlice.account_id, "alice-out", key);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    Result<std::string> bytes = ReadFileToString(path);
    EXPECT_TRUE(bytes.ok());
    if (info.ok() && bytes.ok()) {
      EXPECT_EQ(info->crc64, Crc64(*bytes)) << format;
      EXPECT_FALSE(info->content_md5.has_value()) << format;
      EXPECT_EQ(info->type, ObjectType::kMultipart) << format;
    }
    return info.ok() ? std::make_pair(key, info->etag) : std::make_pair(key, std::string());
  };
  Result<Manifest> manifest = DecodeManifest(GetSnapshot(GetImage(image).disks[0].snapshot_id).manifest);
  ASSERT_TRUE(manifest.ok());
  const auto [first_key, first] = head(image, "raw");
  EXPECT_EQ(first, ExportObjectEtag(*manifest));
  EXPECT_NE(first, MultipartEtag({Md5::Of(*ReadFileToString(dir_ + "/oss/alice-in/disk.raw"))}));
  EXPECT_EQ(head(image, "raw").second, first);
  EXPECT_NE(head(other, "raw").second, first);
  // The exported object imported again: the same bytes, the same ETag.
  const std::string again = ImportAndWait(ImportRequest(first_key, "again", "RAW", "alice-out"));
  EXPECT_EQ(head(again, "raw").second, first);
  // qcow2 is written by qemu-img: hashed as before, an MD5 multipart ETag.
  std::string qcow_key;
  const std::string qcow = ExportAndWait(image, "qcow2", kAlice, "alice-out", &qcow_key);
  Result<ObjectInfo> qcow_info = oss_->HeadObject(kAlice.account_id, "alice-out", qcow_key);
  ASSERT_TRUE(qcow_info.ok());
  UniqueFd qcow_fd(::open(qcow.c_str(), O_RDONLY | O_CLOEXEC));
  Result<std::vector<FilePart>> parts = PutFileParts(qcow_fd.get(), qcow_info->size);
  ASSERT_TRUE(parts.ok());
  const std::string qcow_bytes = *ReadFileToString(qcow);
  std::vector<Md5Digest> md5s;
  for (const FilePart& p : *parts)
    md5s.push_back(Md5::Of(std::string_view(qcow_bytes).substr(p.offset, p.length)));
  EXPECT_EQ(qcow_info->etag, MultipartEtag(md5s));
  EXPECT_EQ(qcow_info->crc64, Crc64(qcow_bytes));
}

TEST_F(RegionTest, Qcow2ImportHasTheSameContentAsRaw) {
  Open();
  std::string raw = PutObject("disk.raw", kDiskSize, kDiskFills);
  std::string qcow = dir_ + "/oss/alice-in/disk.qcow2";
  std::vector<std::string> argv = {"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow};
  Result<ProcessResult> conv = RunProcess(argv);
  ASSERT_TRUE(conv.ok() && conv->exit_code == 0)
      << DescribeFailure(argv, conv.ok() ? *conv : ProcessResult{});

  std::string raw_image = ImportAndWait(ImportRequest("disk.raw", "from-raw"));
  std::string qcow_image = ImportAndWait(ImportRequest("disk.qcow2", "from-qcow2", "QCOW2"));
  std::string detected_image = ImportAndWait(ImportRequest("disk.qcow2", "detected", ""));
  std::string digest = GetSnapshot(GetImage(raw_image).disks[0].snapshot_id).content_digest;
  EXPECT_EQ(GetSnapshot(GetImage(qcow_image).disks[0].snapshot_id).content_digest, digest);
  EXPECT_EQ(GetSnapshot(GetImage(detected_image).disks[0].snapshot_id).content_digest, digest);
  EXPECT_EQ(GetImage(detected_image).disks[0].format, "QCOW2");

  // An export to qcow2 converts back to the same bytes.
  std::string exported = ExportAndWait(qcow_image, "qcow2");
  ASSERT_FALSE(exported.empty());
  std::string back = dir_ + "/scratch/back.raw";
  argv = {"qemu-img", "convert", "-f", "qcow2", "-O", "raw", exported, back};
  conv = RunProcess(argv);
  ASSERT_TRUE(conv.ok() && conv->exit_code == 0);
  EXPECT_EQ(FileSha256(back), FileSha256(raw));
}

TEST_F(RegionTest, ImportOfAFileThatIsNotTheDeclaredFormatFails) {
  Open();
  PutObject("not-qcow2.img", 4 * kMiB, {{0, kMiB, 3}});
  Result<ImportImageResult> r =
      region_->ImportImage(kAlice, ImportRequest("not-qcow2.img", "bad-format", "QCOW2"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  TaskRecord task = WaitTask(kAlice, r->task_id);
  EXPECT_EQ(task.status, "Failed");
  EXPECT_EQ(task.error_code, "InvalidImageFormat.Malformed");
  EXPECT_NE(task.error_message.find("alice-in/not-qcow2.img"), std::string::npos) << task.error_message;
  EXPECT_EQ(task.error_message.find(dir_), std::string::npos) << "host paths leak: " << task.error_message;
  ImageRecord image = GetImage(r->image_id);
  EXPECT_EQ(image.status, "CreateFailed");
  EXPECT_FALSE(image.failure_reason.empty());
  EXPECT_EQ(GetSnapshot(image.disks[0].snapshot_id).status, "failed");
  EXPECT_TRUE(WaitCounter(region_->metrics().tasks_failed, 1));
}

TEST_F(RegionTest, ImportValidatesItsRequest) {
  Open();
  PutObject("disk.raw", 4 * kMiB, {{0, kMiB, 3}});
  ImportImageRequest none;
  Status st = region_->ImportImage(kAlice, none).status();
  EXPECT_EQ(st.reason(), "MissingParameter");
  EXPECT_NE(st.message().find("DiskDeviceMapping.1.OSSBucket"), std::string::npos);
  EXPECT_EQ(region_->ImportImage(kAlice, ImportRequest("disk.raw", "x1", "ISO")).status().reason(),
            "InvalidImageFormat.Malformed");
  EXPECT_EQ(region_->ImportImage(kAlice, ImportRequest("missing.raw", "x2")).status().reason(),
            "InvalidOSSObject.NotFound");
  EXPECT_EQ(region_->ImportImage(kAlice, ImportRequest("../disk.raw", "x3")).status().reason(),
            "InvalidOSSObject.Malformed");
  // Bob cannot import from Alice's bucket.
  EXPECT_EQ(region_->ImportImage(kBob, ImportRequest("disk.raw", "x4")).status().reason(),
            "InvalidOSSBucket.NotFound");
  ImportImageRequest arch = ImportRequest("disk.raw", "x5");
  arch.architecture = "sparc";
  EXPECT_EQ(region_->ImportImage(kAlice, arch).status().reason(), "InvalidParameter");
  ImportImageRequest boot = ImportRequest("disk.raw", "x6");
  boot.boot_mode = "Legacy";
  EXPECT_EQ(region_->ImportImage(kAlice, boot).status().reason(), "InvalidParameter");
  ImportImageRequest desc = ImportRequest("disk.raw", "x7");
  desc.description = "http://example.com";
  EXPECT_EQ(region_->ImportImage(kAlice, desc).status().reason(), "InvalidDescription.Malformed");

  ImportImageRequest dry = ImportRequest("disk.raw", "dry-run");
  dry.dry_run = true;
  EXPECT_EQ(region_->ImportImage(kAlice, dry).status().reason(), "DryRunOperation");
  DescribeImagesRequest all;
  all.statuses = {"Creating", "Available", "CreateFailed"};
  EXPECT_TRUE(region_->DescribeImages(kAlice, all)->items.empty());
}

TEST_F(RegionTest, ImageNameRules) {
  Open();
  PutObject("disk.raw", 4 * kMiB, {{0, kMiB, 3}});
  for (const std::string bad : {"a", "1abc", "_abc", "aliyun-img", "acs:img", "has space", "slash/name"}) {
    EXPECT_EQ(region_->ImportImage(kAlice, ImportRequest("disk.raw", bad)).status().reason(),
              "InvalidImageName.Malformed")
        << bad;
  }
  EXPECT_EQ(region_->ImportImage(kAlice, ImportRequest("disk.raw", std::string(129, 'a'))).status().reason(),
            "InvalidImageName.Malformed");
  std::string cjk = ImportAndWait(ImportRequest("disk.raw", "中文镜像-1"));
  EXPECT_EQ(GetImage(cjk).name, "中文镜像-1");
  ImportAndWait(ImportRequest("disk.raw", "img-1.0:x_y"));
  EXPECT_EQ(region_->ImportImage(kAlice, ImportRequest("disk.raw", "img-1.0:x_y")).status().reason(),
            "InvalidImageName.Duplicated");
  // Another account may use the same name.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/bob-in/disk.raw", Pattern(kMiB, 4)).ok());
  ImportAndWait(ImportRequest("disk.raw", "img-1.0:x_y", "RAW", "bob-in"), kBob);
  // Renaming onto a taken name is refused too.
  ModifyImageAttributeRequest rename;
  rename.image_id = cjk;
  rename.image_name = "img-1.0:x_y";
  EXPECT_EQ(region_->ModifyImageAttribute(kAlice, rename).reason(), "InvalidImageName.Duplicated");
  rename.image_name = "renamed";
  EXPECT_TRUE(region_->ModifyImageAttribute(kAlice, rename).ok());
  EXPECT_EQ(GetImage(cjk).name, "renamed");
}

TEST_F(RegionTest, ClientTokenMakesImportIdempotent) {
  Open();
  PutObject("disk.raw", 4 * kMiB, {{0, kMiB, 3}});
  ImportImageRequest req = ImportRequest("disk.raw", "tokened");
  req.client_token = "token-1";
  Result<ImportImageResult> a = region_->ImportImage(kAlice, req);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Result<ImportImageResult> b = region_->ImportImage(kAlice, req);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(a->image_id, b->image_id);
  EXPECT_EQ(a->task_id, b->task_id);
  req.description = "different";
  EXPECT_EQ(region_->ImportImage(kAlice, req).status().reason(), "IdempotentParameterMismatch");
  WaitTask(kAlice, a->task_id);
}

TEST_F(RegionTest, OtherAccountsCannotSeeOrTouchAnImage) {
  Open();
  PutObject("disk.raw", 4 * kMiB, {{0, kMiB, 3}});
  Result<ImportImageResult> r = region_->ImportImage(kAlice, ImportRequest("disk.raw", "private"));
  ASSERT_TRUE(r.ok());
  WaitTask(kAlice, r->task_id);
  const std::string id = r->image_id;

  DescribeImagesRequest by_id;
  by_id.image_id = id;
  EXPECT_EQ(region_->DescribeImages(kAlice, by_id)->items.size(), 1u);
  EXPECT_TRUE(region_->DescribeImages(kBob, by_id)->items.empty());
  ModifyImageAttributeRequest mod;
  mod.image_id = id;
  mod.description = "mine now";
  EXPECT_EQ(region_->ModifyImageAttribute(kBob, mod).reason(), "InvalidImageId.NotFound");
  EXPECT_EQ(region_->DeleteImage(kBob, id, false).reason(), "InvalidImageId.NotFound");
  EXPECT_EQ(region_->ExportImage(kBob, ExportImageRequest{id, "bob-in", "", "raw"}).status().reason(),
            "InvalidImageId.NotFound");
  // Alice's bucket is invisible to Bob.
  EXPECT_EQ(region_->ExportImage(kBob, ExportImageRequest{id, "alice-out", "", "raw"}).status().reason(),
            "InvalidOSSBucket.NotFound");
  EXPECT_EQ(region_->DescribeTaskAttribute(kBob, r->task_id).status().reason(), "InvalidTaskId.NotFound");
  EXPECT_EQ(region_->CancelTask(kBob, r->task_id).reason(), "InvalidTaskId.NotFound");
  std::string snapshot = GetImage(id).disks[0].snapshot_id;
  CreateImageRequest from_snap;
  from_snap.snapshot_id = snapshot;
  EXPECT_EQ(region_->CreateImage(kBob, from_snap).status().reason(), "InvalidSnapshotId.NotFound");
  EXPECT_EQ(region_->DeleteSnapshot(kBob, snapshot, false).reason(), "InvalidSnapshotId.NotFound");
  DescribeSnapshotsRequest snaps;
  snaps.snapshot_ids = {snapshot};
  EXPECT_TRUE(region_->DescribeSnapshots(kBob, snaps)->items.empty());
  EXPECT_EQ(region_->DescribeSnapshots(kAlice, snaps)->items.size(), 1u);
  DescribeTasksRequest tasks;
  EXPECT_TRUE(region_->DescribeTasks(kBob, tasks)->items.empty());
  EXPECT_EQ(region_->DescribeTasks(kAlice, tasks)->items.size(), 1u);
}

TEST_F(RegionTest, DescribeImagesFiltersOnAvailableByDefault) {
  Open();
  ImportImageResult r;
  ASSERT_NO_FATAL_FAILURE(StartHeldImport("in-progress", 8, 5, &r));
  DescribeImagesRequest def;
  def.image_id = r.image_id;
  EXPECT_TRUE(region_->DescribeImages(kAlice, def)->items.empty());
  DescribeImagesRequest creating = def;
  creating.statuses = {"Creating", "Waiting", "Available", "UnAvailable", "CreateFailed"};
  ASSERT_EQ(region_->DescribeImages(kAlice, creating)->items.size(), 1u);
  EXPECT_EQ(region_->DescribeImages(kAlice, creating)->items[0].status, "Creating");
  DescribeImagesRequest bad = def;
  bad.statuses = {"Copying"};
  EXPECT_EQ(region_->DescribeImages(kAlice, bad).status().reason(), "InvalidParameter");
  DescribeImagesRequest alias = def;
  alias.owner_alias = "everyone";
  EXPECT_EQ(region_->DescribeImages(kAlice, alias).status().reason(),
            "InvalidImageOwnerAlias.ValueNotSupported");
  DescribeImagesRequest unknown;
  unknown.image_id = "m-doesnotexist0000000";
  EXPECT_TRUE(region_->DescribeImages(kAlice, unknown)->items.empty());

  // While importing: no delete, no modify, no CreateImage from the snapshot.
  EXPECT_EQ(region_->DeleteImage(kAlice, r.image_id, false).reason(), "ImageIsImporting");
  ModifyImageAttributeRequest mod;
  mod.image_id = r.image_id;
  mod.description = "changed";
  EXPECT_EQ(region_->ModifyImageAttribute(kAlice, mod).reason(), "InvalidStatus.ImageIsCreating");
  CreateImageRequest from_snap;
  from_snap.snapshot_id = GetImage(r.image_id).disks[0].snapshot_id;
  EXPECT_EQ(region_->CreateImage(kAlice, from_snap).status().reason(), "InvalidSnapshotId.NotReady");
  EXPECT_EQ(
      region_->ExportImage(kAlice, ExportImageRequest{r.image_id, "alice-out", "", "raw"}).status().reason(),
      "IncorrectImageStatus");
  gate_.Open();
  EXPECT_EQ(WaitTask(kAlice, r.task_id).status, "Finished");
  EXPECT_EQ(region_->DescribeImages(kAlice, def)->items.size(), 1u);
}

TEST_F(RegionTest, CancelTaskMidImportRemovesImageAndSnapshot) {
  Open();
  ImportImageResult r;
  ASSERT_NO_FATAL_FAILURE(StartHeldImport("to-cancel", 16, 6, &r));
  std::string snapshot = GetImage(r.image_id).disks[0].snapshot_id;
  ASSERT_TRUE(region_->CancelTask(kAlice, r.task_id).ok());
  gate_.Open();
  TaskRecord task = WaitTask(kAlice, r.task_id);
  EXPECT_EQ(task.status, "Cancelled");
  EXPECT_EQ(region_->catalog().GetImage(r.image_id).status().code(), Code::kNotFound);
  EXPECT_EQ(region_->catalog().GetSnapshot(snapshot).status().code(), Code::kNotFound);
  EXPECT_EQ(region_->CancelTask(kAlice, r.task_id).reason(), "InvalidTaskId.IncorrectTaskStatus");
  // The name is free again.
  ImportAndWait(ImportRequest("disk.raw", "to-cancel"));
}

TEST_F(RegionTest, ModifyDeprecateAndRestore) {
  Open();
  PutObject("disk.raw", 4 * kMiB, {{0, kMiB, 3}});
  std::string id = ImportAndWait(ImportRequest("disk.raw", "deprecate-me"));
  ModifyImageAttributeRequest mod;
  mod.image_id = id;
  mod.status = "Deprecated";
  ASSERT_TRUE(region_->ModifyImageAttribute(kAlice, mod).ok());
  DescribeImagesRequest def;
  def.image_id = id;
  EXPECT_TRUE(region_->DescribeImages(kAlice, def)->items.empty());
  def.statuses = {"Deprecated"};
  EXPECT_EQ(region_->DescribeImages(kAlice, def)->items.size(), 1u);
  mod.status = "Available";
  ASSERT_TRUE(region_->ModifyImageAttribute(kAlice, mod).ok());
  EXPECT_EQ(GetImage(id).status, "Available");
  mod.status = "Broken";
  EXPECT_EQ(region_->ModifyImageAttribute(kAlice, mod).reason(), "InvalidParameter");
  ModifyImageAttributeRequest bad_name;
  bad_name.image_id = id;
  bad_name.image_name = "9lives";
  EXPECT_EQ(region_->ModifyImageAttribute(kAlice, bad_name).reason(), "InvalidImageName.Malformed");
}

TEST_F(RegionTest, CreateImageFromSnapshotSharesItsData) {
  Open();
  std::string source = PutObject("disk.raw", kDiskSize, kDiskFills);
  std::string id = ImportAndWait(ImportRequest("disk.raw", "original"));
  std::string snapshot = GetImage(id).disks[0].snapshot_id;
  CreateImageRequest req;
  req.snapshot_id = snapshot;
  req.image_name = "copy-of-original";
  req.client_token = "ci-1";
  Result<std::string> made = region_->CreateImage(kAlice, req);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(*region_->CreateImage(kAlice, req), *made);  // same token
  ImageRecord image = GetImage(*made);
  EXPECT_EQ(image.status, "Available");
  EXPECT_EQ(image.size_gib, 1u);
  EXPECT_EQ(image.disks[0].snapshot_id, snapshot);
  req.client_token.clear();
  EXPECT_EQ(region_->CreateImage(kAlice, req).status().reason(), "InvalidImageName.Duplicated");
  req.snapshot_id = "s-doesnotexist0000000";
  req.image_name = "other";
  EXPECT_EQ(region_->CreateImage(kAlice, req).status().reason(), "InvalidSnapshotId.NotFound");
  EXPECT_EQ(FileSha256(ExportAndWait(*made, "raw")), FileSha256(source));
}

TEST_F(RegionTest, DeleteRulesForImagesAndSnapshots) {
  Open();
  PutObject("disk.raw", 4 * kMiB, {{0, kMiB, 3}});
  std::string id = ImportAndWait(ImportRequest("disk.raw", "deletable"));
  std::string snapshot = GetImage(id).disks[0].snapshot_id;
  EXPECT_EQ(region_->DeleteSnapshot(kAlice, snapshot, false).reason(), "SnapshotCreatedImage");
  EXPECT_EQ(region_->DeleteImage(kAlice, "m-doesnotexist0000000", false).reason(), "InvalidImageId.NotFound");

  // An export in progress blocks deletion.
  TaskRecord exporting;
  exporting.task_id = NewResourceId("t");
  exporting.account_id = kAlice.account_id;
  exporting.action = "ExportImage";
  exporting.status = "Processing";
  exporting.resource_id = id;
  ASSERT_TRUE(region_->catalog().InsertTask(exporting).ok());
  EXPECT_EQ(region_->DeleteImage(kAlice, id, false).reason(), "ImageIsExporting");
  EXPECT_EQ(region_->ExportImage(kAlice, ExportImageRequest{id, "alice-out", "", "raw"}).status().reason(),
            "ImageIsExporting");
  exporting.status = "Finished";
  ASSERT_TRUE(region_->catalog().UpdateTask(exporting).ok());

  ASSERT_TRUE(region_->DeleteImage(kAlice, id, false).ok());
  EXPECT_EQ(region_->catalog().GetImage(id).status().code(), Code::kNotFound);
  // The snapshot outlives the image and can then be deleted.
  EXPECT_EQ(GetSnapshot(snapshot).status, "accomplished");
  ASSERT_TRUE(region_->DeleteSnapshot(kAlice, snapshot, false).ok());
  EXPECT_EQ(region_->DeleteSnapshot(kAlice, snapshot, false).reason(), "InvalidSnapshotId.NotFound");
  DescribeSnapshotsRequest bad;
  bad.status = "done";
  EXPECT_EQ(region_->DescribeSnapshots(kAlice, bad).status().reason(), "InvalidStatus.NotFound");
}

TEST_F(RegionTest, ExportValidatesItsRequest) {
  Open();
  PutObject("disk.raw", 4 * kMiB, {{0, kMiB, 3}});
  std::string id = ImportAndWait(ImportRequest("disk.raw", "exportable"));
  EXPECT_EQ(region_->ExportImage(kAlice, ExportImageRequest{id, "alice-out", "bad_prefix", "raw"})
                .status()
                .reason(),
            "InvalidOSSPrefix.Malformed");
  EXPECT_EQ(region_->ExportImage(kAlice, ExportImageRequest{id, "alice-out", std::string(31, 'p'), "raw"})
                .status()
                .reason(),
            "InvalidOSSPrefix.Malformed");
  EXPECT_EQ(region_->ExportImage(kAlice, ExportImageRequest{id, "alice-out", "p", "iso"}).status().reason(),
            "InvalidImageFormat.Malformed");
  EXPECT_EQ(region_->ExportImage(kAlice, ExportImageRequest{id, "", "p", "raw"}).status().reason(),
            "MissingParameter");
  EXPECT_EQ(
      region_->ExportImage(kAlice, ExportImageRequest{id, "no-such-bucket", "p", "raw"}).status().reason(),
      "InvalidOSSBucket.NotFound");
}

TEST_F(RegionTest, PublicImageIsSeededReadableByAllAndProtected) {
  Open(/*seed=*/true);
  DescribeImagesRequest sys;
  sys.owner_alias = "system";
  for (const Caller& caller : {kAlice, kBob}) {
    Result<Page<ImageRecord>> page = region_->DescribeImages(caller, sys);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->items.size(), 1u);
    EXPECT_EQ(page->items[0].image_id, kPublicImageId);
    EXPECT_EQ(page->items[0].os_name, "Ferry Linux 1 64 bit");
    EXPECT_EQ(page->items[0].status, "Available");
  }
  DescribeImagesRequest self;
  self.owner_alias = "self";
  EXPECT_TRUE(region_->DescribeImages(kAlice, self)->items.empty());
  DescribeImagesRequest others;
  others.owner_alias = "others";
  EXPECT_TRUE(region_->DescribeImages(kAlice, others)->items.empty());
  EXPECT_EQ(region_->DeleteImage(kAlice, kPublicImageId, false).reason(), "InvalidImageId.NotFound");
  ModifyImageAttributeRequest mod;
  mod.image_id = kPublicImageId;
  mod.description = "hijacked";
  EXPECT_EQ(region_->ModifyImageAttribute(kAlice, mod).reason(), "InvalidImageId.NotFound");
  EXPECT_EQ(region_->ExportImage(kAlice, ExportImageRequest{kPublicImageId, "alice-out", "", "raw"})
                .status()
                .reason(),
            "ImageNotSupported");

  // The data is a real ext4 file system holding /etc/os-release.
  ImageRecord image = GetImage(kPublicImageId);
  SnapshotRecord snap = GetSnapshot(image.disks[0].snapshot_id);
  Result<Manifest> m = DecodeManifest(snap.manifest);
  ASSERT_TRUE(m.ok());
  std::string disk = dir_ + "/scratch/public.raw";
  ASSERT_TRUE(MaterializeRawFile(*m, region_->chunk_store(), disk, {}).ok());
  std::string debugfs = ::access("/usr/sbin/debugfs", X_OK) == 0 ? "/usr/sbin/debugfs" : "/sbin/debugfs";
  std::vector<std::string> argv = {debugfs, "-R", "cat /etc/os-release", disk};
  Result<ProcessResult> cat = RunProcess(argv);
  ASSERT_TRUE(cat.ok());
  EXPECT_NE(cat->stdout_text.find("Ferry Linux"), std::string::npos) << DescribeFailure(argv, *cat);

  // Reopening does not seed a second copy.
  region_.reset();
  Open(/*seed=*/true);
  EXPECT_EQ(GetImage(kPublicImageId).disks[0].snapshot_id, snap.snapshot_id);
  EXPECT_EQ(region_->DescribeImages(kBob, sys)->items.size(), 1u);
}

TEST_F(RegionTest, ShutdownMidImportResumesOnReopen) {
  Open();
  ImportImageResult r;
  ASSERT_NO_FATAL_FAILURE(StartHeldImport("resumed", 16, 7, &r));
  const std::string source = dir_ + "/oss/alice-in/disk.raw";
  ASSERT_NO_FATAL_FAILURE(ShutdownDuringImport(r.image_id));
  Result<TaskRecord> stopped = region_->catalog().GetTask(r.task_id);
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->status, "Processing");
  EXPECT_EQ(GetImage(r.image_id).status, "Creating");

  region_.reset();
  Open();
  EXPECT_EQ(WaitTask(kAlice, r.task_id).status, "Finished");
  EXPECT_EQ(GetImage(r.image_id).status, "Available");
  EXPECT_EQ(FileSha256(ExportAndWait(r.image_id, "raw")), FileSha256(source));
}

TEST_F(RegionTest, ATaskThatStoppedTheServerThreeTimesIsQuarantinedOnReopen) {
  Open();
  ImportImageResult r;
  ASSERT_NO_FATAL_FAILURE(StartHeldImport("crashy", 16, 7, &r));
  // Counted durably before the run: a crash now would leave it at 1.
  EXPECT_EQ(region_->catalog().GetTask(r.task_id)->attempts, 1);
  ASSERT_NO_FATAL_FAILURE(ShutdownDuringImport(r.image_id));
  // A clean shutdown gives the attempt back.
  Result<TaskRecord> task = region_->catalog().GetTask(r.task_id);
  ASSERT_TRUE(task.ok());
  EXPECT_EQ(task->status, "Processing");
  EXPECT_EQ(task->attempts, 0);

  // As if the process had died under the task three times.
  task->attempts = RegionImpl::kTaskQuarantineAttempts;
  ASSERT_TRUE(region_->catalog().UpdateTask(*task).ok());
  region_.reset();
  Open();
  TaskRecord done = WaitTask(kAlice, r.task_id);
  EXPECT_EQ(done.status, "Failed");
  EXPECT_NE(done.error_message.find("the task stopped the server 3 times; quarantined"), std::string::npos)
      << done.error_message;
  EXPECT_EQ(GetImage(r.image_id).status, "CreateFailed");
}

TEST_F(RegionTest, ATaskBelowTheQuarantineLimitStillRuns) {
  Open();
  ImportImageResult r;
  ASSERT_NO_FATAL_FAILURE(StartHeldImport("twice", 8, 9, &r));
  ASSERT_NO_FATAL_FAILURE(ShutdownDuringImport(r.image_id));
  Result<TaskRecord> task = region_->catalog().GetTask(r.task_id);
  ASSERT_TRUE(task.ok());
  task->attempts = RegionImpl::kTaskQuarantineAttempts - 1;
  ASSERT_TRUE(region_->catalog().UpdateTask(*task).ok());
  region_.reset();
  Open();
  TaskRecord done = WaitTask(kAlice, r.task_id);
  EXPECT_EQ(done.status, "Finished") << done.error_message;
  EXPECT_EQ(region_->catalog().GetTask(r.task_id)->attempts, RegionImpl::kTaskQuarantineAttempts);
}

TEST_F(RegionTest, AnObjectLargerThanTheLargestDiskIsRefusedAtImport) {
  Open();
  // 32768 GiB + 1 byte, sparse: refused from its size, nothing allocated.
  std::string path = dir_ + "/oss/alice-in/vast.raw";
  {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    if (::ftruncate(fd.get(), static_cast<off_t>(RegionImpl::kMaxDiskBytes + 1)) != 0) {
      GTEST_SKIP() << "the file system allows no sparse file over 32 TiB";
    }
  }
  Result<ImportImageResult> r = region_->ImportImage(kAlice, ImportRequest("vast.raw", "vast", ""));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().reason(), "InvalidParameter");
  EXPECT_NE(r.status().message().find("35184372088833 bytes"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find(dir_), std::string::npos) << "no host path";
}

TEST_F(RegionTest, GarbageCollectionKeepsSharedChunks) {
  Open();
  const std::string only_a = Pattern(4 * kMiB, 11);
  const std::string shared = Pattern(4 * kMiB, 12);
  const std::string only_b = Pattern(4 * kMiB, 13);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/a.raw", only_a + shared).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/b.raw", shared + only_b).ok());
  std::string a = ImportAndWait(ImportRequest("a.raw", "image-a"));
  std::string b = ImportAndWait(ImportRequest("b.raw", "image-b"));
  ChunkStore& store = region_->chunk_store();
  ASSERT_TRUE(*store.Has(ChunkOf(only_a)));
  ASSERT_TRUE(*store.Has(ChunkOf(shared)));

  std::string snap_a = GetImage(a).disks[0].snapshot_id;
  ASSERT_TRUE(region_->DeleteImage(kAlice, a, false).ok());
  GcStats stats;
  ASSERT_TRUE(region_->CollectGarbage(&stats).ok());
  EXPECT_TRUE(*store.Has(ChunkOf(only_a))) << "the snapshot still references it";
  ASSERT_TRUE(region_->DeleteSnapshot(kAlice, snap_a, false).ok());
  ASSERT_TRUE(region_->CollectGarbage(&stats).ok());
  EXPECT_FALSE(*store.Has(ChunkOf(only_a)));
  EXPECT_TRUE(*store.Has(ChunkOf(shared)));
  EXPECT_TRUE(*store.Has(ChunkOf(only_b)));
  EXPECT_EQ(stats.chunks_referenced, 2u);

  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  EXPECT_TRUE(report.problems.empty()) << report.problems[0];
  std::string exported = ExportAndWait(b, "raw");
  EXPECT_EQ(*ReadFileToString(exported), shared + only_b);
}

TEST_F(RegionTest, ChunkPinnedByInFlightIngestIsNotCollected) {
  Open();
  const std::string content = Pattern(12 * kMiB, 21);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/same.raw", content).ok());
  std::string first = ImportAndWait(ImportRequest("same.raw", "first"));
  std::string first_snap = GetImage(first).disks[0].snapshot_id;

  gate_.Arm();
  Result<ImportImageResult> second = region_->ImportImage(kAlice, ImportRequest("same.raw", "second"));
  ASSERT_TRUE(second.ok());
  ChunkId held{};
  ASSERT_TRUE(gate_.WaitArrived(&held));
  // The only committed reference goes away while the second ingest holds a pin.
  ASSERT_TRUE(region_->DeleteImage(kAlice, first, false).ok());
  ASSERT_TRUE(region_->DeleteSnapshot(kAlice, first_snap, false).ok());
  ASSERT_TRUE(region_->CollectGarbage(nullptr).ok());
  EXPECT_TRUE(region_->pins().IsPinned(held));
  EXPECT_TRUE(*region_->chunk_store().Has(held));
  gate_.Open();
  EXPECT_EQ(WaitTask(kAlice, second->task_id).status, "Finished");
  // Pins are dropped right after the commit that made them unnecessary.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (region_->pins().IsPinned(held) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_FALSE(region_->pins().IsPinned(held));

  ASSERT_TRUE(region_->CollectGarbage(nullptr).ok());
  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  EXPECT_TRUE(report.problems.empty()) << report.problems[0];
  EXPECT_EQ(*ReadFileToString(ExportAndWait(second->image_id, "raw")), content);
}

TEST_F(RegionTest, FsckReportsACorruptedChunk) {
  Open();
  const std::string data = Pattern(4 * kMiB, 31);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/c.raw", data).ok());
  ImportAndWait(ImportRequest("c.raw", "to-corrupt"));
  FsckReport clean;
  ASSERT_TRUE(region_->Fsck(&clean).ok());
  EXPECT_TRUE(clean.problems.empty());
  EXPECT_GE(clean.chunks_checked, 1u);
  EXPECT_GE(clean.manifests_checked, 1u);

  ChunkId id = ChunkOf(data);
  auto* fs = dynamic_cast<FsChunkStore*>(&region_->chunk_store());
  ASSERT_NE(fs, nullptr);
  std::string path = fs->ChunkPath(id);
  Result<std::string> bytes = ReadFileToString(path);
  ASSERT_TRUE(bytes.ok()) << path;
  std::string corrupted = *bytes;
  corrupted[corrupted.size() / 2] ^= 0x5a;
  ASSERT_TRUE(WriteFileAtomic(path, corrupted).ok());

  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  ASSERT_FALSE(report.problems.empty());
  EXPECT_NE(report.problems[0].find(ToHex(id)), std::string::npos) << report.problems[0];

  ASSERT_EQ(::unlink(path.c_str()), 0);
  ASSERT_TRUE(region_->Fsck(&report).ok());
  ASSERT_FALSE(report.problems.empty());
  EXPECT_NE(report.problems[0].find("missing"), std::string::npos) << report.problems[0];
}

TEST(RegionNamesTest, KnownRegionsGetDocumentedNames) {
  RegionConfig c;
  c.region_id = "cn-hangzhou";
  FillRegionNames(&c);
  EXPECT_EQ(c.local_name_en, "China (Hangzhou)");
  EXPECT_EQ(c.local_name_zh, "华东1（杭州）");
  RegionConfig s;
  s.region_id = "cn-shanghai";
  FillRegionNames(&s);
  EXPECT_EQ(s.local_name_zh, "华东2（上海）");
  RegionConfig unknown;
  unknown.region_id = "xx-nowhere-1";
  FillRegionNames(&unknown);
  EXPECT_EQ(unknown.local_name_en, "xx-nowhere-1");
}

// ------------------------------------------------------------ dedup scope

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

uint64_t StoredChunks(RegionImpl& region) {
  Result<ChunkStoreStats> stats = region.chunk_store().Stats();
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  return stats.ok() ? stats->chunks : 0;
}

// The version byte of a stored chunk object (chunk_format.md).
int ObjectVersion(RegionImpl& region, const ChunkId& id) {
  auto* fs = dynamic_cast<FsChunkStore*>(&region.chunk_store());
  if (fs == nullptr) return -1;
  Result<std::string> bytes = ReadFileToString(fs->ChunkPath(id));
  return bytes.ok() && bytes->size() > 4 ? static_cast<uint8_t>((*bytes)[4]) : -1;
}

// Two 4 MiB data chunks, the same bytes for both accounts.
const std::string kSharedA = Pattern(4 * kMiB, 51);
const std::string kSharedB = Pattern(4 * kMiB, 52);

TEST_F(RegionTest, AccountScopeKeepsAnotherAccountsBlocksUnobservable) {
  Open();
  const std::string content = kSharedA + kSharedB;
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/same.raw", content).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/bob-in/same.raw", content).ok());
  const std::string alice_image = ImportAndWait(ImportRequest("same.raw", "alice-copy"));
  EXPECT_EQ(region_->metrics().chunks_stored.load(), 2u);
  EXPECT_EQ(region_->metrics().chunks_deduped.load(), 0u);

  // Bob imports the very same bytes: nothing he can see says Alice has them.
  const std::string bob_image = ImportAndWait(ImportRequest("same.raw", "bob-copy", "RAW", "bob-in"), kBob);
  EXPECT_EQ(region_->metrics().chunks_deduped.load(), 0u) << "Bob's import must not dedup against Alice's";
  EXPECT_EQ(region_->metrics().chunks_stored.load(), 4u);
  EXPECT_EQ(StoredChunks(*region_), 4u);
  ChunkStore& store = region_->chunk_store();
  for (const std::string* chunk : {&kSharedA, &kSharedB}) {
    EXPECT_TRUE(*store.Has(ChunkOf(*chunk, kAlice)));
    EXPECT_TRUE(*store.Has(ChunkOf(*chunk, kBob)));
    EXPECT_FALSE(*store.Has(Sha256::Of(Bytes(*chunk)))) << "no unscoped copy";
    EXPECT_EQ(ObjectVersion(*region_, ChunkOf(*chunk, kAlice)), 2);
  }
  // The manifests name the account's own ids.
  Result<SnapshotRecord> snap = region_->catalog().GetSnapshot(GetImage(bob_image).disks[0].snapshot_id);
  ASSERT_TRUE(snap.ok());
  Result<Manifest> m = DecodeManifest(snap->manifest);
  ASSERT_TRUE(m.ok());
  ASSERT_FALSE(m->entries.empty());
  EXPECT_EQ(m->entries[0].id, ChunkOf(kSharedA, kBob));

  // The same account importing again dedups fully.
  ImportAndWait(ImportRequest("same.raw", "alice-again"));
  EXPECT_EQ(region_->metrics().chunks_deduped.load(), 2u);
  EXPECT_EQ(region_->metrics().chunks_stored.load(), 4u);
  EXPECT_EQ(StoredChunks(*region_), 4u);

  EXPECT_EQ(*ReadFileToString(ExportAndWait(alice_image, "raw")), content);
  EXPECT_EQ(*ReadFileToString(ExportAndWait(bob_image, "raw", kBob, "bob-in")), content);
  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  EXPECT_TRUE(report.problems.empty()) << report.problems[0];
  EXPECT_EQ(report.chunks_checked, 4u);
}

TEST_F(RegionTest, RegionScopeSharesChunksAcrossAccounts) {
  dedup_scope_ = DedupScope::kRegion;
  Open();
  const std::string content = kSharedA + kSharedB;
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/same.raw", content).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/bob-in/same.raw", content).ok());
  ImportAndWait(ImportRequest("same.raw", "alice-copy"));
  const std::string bob_image = ImportAndWait(ImportRequest("same.raw", "bob-copy", "RAW", "bob-in"), kBob);
  EXPECT_EQ(region_->metrics().chunks_stored.load(), 2u);
  EXPECT_EQ(region_->metrics().chunks_deduped.load(), 2u);
  EXPECT_EQ(StoredChunks(*region_), 2u);
  for (const std::string* chunk : {&kSharedA, &kSharedB}) {
    const ChunkId plain = Sha256::Of(Bytes(*chunk));
    EXPECT_TRUE(*region_->chunk_store().Has(plain));
    EXPECT_EQ(ObjectVersion(*region_, plain), 1) << "unscoped chunks stay version 1";
    EXPECT_FALSE(*region_->chunk_store().Has(ChunkOf(*chunk, kAlice)));
  }
  EXPECT_EQ(*ReadFileToString(ExportAndWait(bob_image, "raw", kBob, "bob-in")), content);
}

TEST_F(RegionTest, FsckIsCleanOnAStoreOfUnscopedAndScopedChunks) {
  // Chunks from before scopes (version 1, plain ids), then the same and new
  // bytes under the default account scope (version 2), in one store.
  dedup_scope_ = DedupScope::kRegion;
  Open();
  const std::string old_content = kSharedA + kSharedB;
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/old.raw", old_content).ok());
  const std::string old_image = ImportAndWait(ImportRequest("old.raw", "before-scopes"));
  region_.reset();

  dedup_scope_ = DedupScope::kAccount;
  Open();
  const std::string new_content = kSharedA + Pattern(4 * kMiB, 53);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/new.raw", new_content).ok());
  const std::string new_image = ImportAndWait(ImportRequest("new.raw", "with-scopes"));
  // Not re-keyed: the old chunks stay as they were, the new import stores its own.
  EXPECT_EQ(ObjectVersion(*region_, Sha256::Of(Bytes(kSharedA))), 1);
  EXPECT_EQ(ObjectVersion(*region_, ChunkOf(kSharedA)), 2);
  EXPECT_EQ(StoredChunks(*region_), 4u);

  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  EXPECT_TRUE(report.problems.empty()) << report.problems[0];
  EXPECT_EQ(report.chunks_checked, 4u);
  EXPECT_EQ(report.manifests_checked, 2u);
  EXPECT_EQ(*ReadFileToString(ExportAndWait(old_image, "raw")), old_content);
  EXPECT_EQ(*ReadFileToString(ExportAndWait(new_image, "raw")), new_content);

  // A scoped chunk whose scope bytes were swapped for another account's is
  // corrupt, and fsck says which chunk.
  auto* fs = dynamic_cast<FsChunkStore*>(&region_->chunk_store());
  ASSERT_NE(fs, nullptr);
  const std::string path = fs->ChunkPath(ChunkOf(kSharedA));
  std::string object = *ReadFileToString(path);
  const ChunkScope bob = AccountChunkScope(kBob.account_id);
  object.replace(24, 32, std::string(bob.begin(), bob.end()));
  ASSERT_TRUE(WriteFileAtomic(path, object).ok());
  ASSERT_TRUE(region_->Fsck(&report).ok());
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find(ToHex(ChunkOf(kSharedA))), std::string::npos) << report.problems[0];
}

}  // namespace
}  // namespace ferry
