#include "region/disks/disk_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "common/fs_util.h"
#include "common/ids.h"
#include "region/disks/disk_layout.h"
#include "region/subprocess.h"
#include "store/fs_chunk_store.h"
#include "store/ingest.h"
#include "unit/store/store_test_util.h"

namespace ferry {
namespace {

using testing_util::RandomBytes;
using testing_util::ScratchDir;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kChunk = 4 * kMiB;

// Forwards to a real store; counts Gets, and can fail or die on the n-th.
class InstrumentedStore final : public ChunkStore {
 public:
  explicit InstrumentedStore(ChunkStore& inner) : inner_(inner) {}
  using ChunkStore::Put;
  Status Put(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> p, bool* n) override {
    return inner_.Put(scope, id, p, n);
  }
  Status Sync() override { return inner_.Sync(); }
  Result<std::vector<uint8_t>> Get(const ChunkId& id) override {
    const int n = ++gets;
    if (n == kill_on_get) ::raise(SIGKILL);
    if (n == fail_on_get) return DataLoss("chunk " + ToHex(id) + ": injected corruption");
    return inner_.Get(id);
  }
  Result<bool> Has(const ChunkId& id) override { return inner_.Has(id); }
  Status Delete(const ChunkId& id) override { return inner_.Delete(id); }
  Status List(const std::function<void(const ChunkId&)>& fn) override { return inner_.List(fn); }
  Result<ChunkStoreStats> Stats() override { return inner_.Stats(); }

  std::atomic<int> gets{0};
  int kill_on_get = -1;
  int fail_on_get = -1;

 private:
  ChunkStore& inner_;
};

std::vector<uint8_t> ReadAll(const std::string& path) {
  auto s = ReadFileToString(path);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return {};
  return std::vector<uint8_t>(s->begin(), s->end());
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

uint64_t AllocatedBytesIn(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) total += AllocatedBytes(e.path().string());
  return total;
}

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

class DiskStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cs = FsChunkStore::Open(dir_.Sub("chunks"));
    ASSERT_TRUE(cs.ok()) << cs.status().ToString();
    chunks_ = std::move(*cs);
    Reopen();
  }

  void Reopen() {
    disks_.reset();
    auto ds = DiskStore::Open(dir_.Sub("disks"));
    ASSERT_TRUE(ds.ok()) << ds.status().ToString();
    disks_ = std::move(*ds);
  }

  // A raw image of `size` bytes, holes except for `data` written at their
  // offsets; ingested into the chunk store. Returns its manifest and keeps
  // the bytes in image_.
  Manifest MakeImage(uint64_t size, const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& data) {
    const std::string path = dir_.Sub("image-" + RandomHex(4) + ".raw");
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
    image_.assign(size, 0);
    for (const auto& [off, bytes] : data) {
      EXPECT_TRUE(PwriteFull(fd.get(), bytes.data(), bytes.size(), off, path).ok());
      std::copy(bytes.begin(), bytes.end(), image_.begin() + static_cast<ptrdiff_t>(off));
    }
    auto m = IngestRawFd(fd.get(), path, *chunks_, IngestOptions{});
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : Manifest{};
  }

  // 24 MiB: chunk 0 random, chunk 1 a hole, chunk 2 half data, the rest holes.
  Manifest SparseImage() {
    return MakeImage(24 * kMiB, {{0, RandomBytes(kChunk, 1)}, {2 * kChunk + 4096, RandomBytes(2 * kMiB, 2)}});
  }

  std::string BasePath(const std::string& key) { return dir_.Sub("disks") + "/bases/" + key + ".raw"; }

  static void QemuIo(const std::string& disk_path, const std::string& command) {
    auto run = RunProcess({"qemu-io", "-f", "qcow2", "-c", command, disk_path});
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    ASSERT_EQ(run->exit_code, 0) << run->stderr_text << run->stdout_text;
    ASSERT_EQ(run->stdout_text.find("error"), std::string::npos) << run->stdout_text;
  }
  static void QemuIoWrite(const std::string& disk_path, uint64_t offset, uint64_t len) {
    QemuIo(disk_path, "write -P 0xab " + std::to_string(offset) + " " + std::to_string(len));
  }

  ScratchDir dir_;
  std::unique_ptr<FsChunkStore> chunks_;
  std::unique_ptr<DiskStore> disks_;
  std::vector<uint8_t> image_;
};

TEST_F(DiskStoreTest, MaterializesSparseReadOnlyBaseWithTheImageBytes) {
  Manifest m = SparseImage();
  auto base = disks_->EnsureBase(m, *chunks_);
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  EXPECT_TRUE(base->newly_written);
  EXPECT_EQ(base->key, BaseKeyFor(m));
  EXPECT_EQ(base->size, 24 * kMiB);
  const std::string path = BasePath(base->key);
  EXPECT_EQ(ReadAll(path), image_);
  // Holes stay holes: 4 MiB + 2 MiB of data, not 24 MiB.
  EXPECT_LE(AllocatedBytes(path), 6 * kMiB + 64 * 1024);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0444u);
  EXPECT_EQ(FilesIn(dir_.Sub("disks") + "/tmp"), 0u);

  auto again = disks_->EnsureBase(m, *chunks_);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->newly_written);
  auto has = disks_->HasBase(base->key);
  ASSERT_TRUE(has.ok());
  EXPECT_TRUE(*has);
}

TEST_F(DiskStoreTest, ConcurrentRequestsForOneBaseWriteOneFile) {
  Manifest m = MakeImage(32 * kMiB, {{0, RandomBytes(16 * kMiB, 3)}});
  InstrumentedStore counting(*chunks_);
  constexpr int kCallers = 4;
  std::atomic<int> written{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kCallers; ++i) {
    threads.emplace_back([&] {
      auto b = disks_->EnsureBase(m, counting);
      if (!b.ok()) ++failures;
      if (b.ok() && b->newly_written) ++written;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(written.load(), 1);
  EXPECT_EQ(counting.gets.load(), 4);  // the four data chunks, read once
  auto keys = disks_->ListBases();
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 1u);
  EXPECT_EQ(ReadAll(BasePath(BaseKeyFor(m))), image_);
}

TEST_F(DiskStoreTest, KilledMaterializationLeavesNoBaseAndItsTempIsRemovedAtOpen) {
  Manifest m = MakeImage(16 * kMiB, {{0, RandomBytes(16 * kMiB, 4)}});
  disks_.reset();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // The child writes the base and is killed (SIGKILL, no cleanup) when it
    // asks for the third chunk.
    auto ds = DiskStore::Open(dir_.Sub("disks"));
    if (!ds.ok()) ::_exit(2);
    InstrumentedStore dying(*chunks_);
    dying.kill_on_get = 3;
    auto b = (*ds)->EnsureBase(m, dying);
    ::_exit(b.ok() ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(wstatus)) << "child exited with " << WEXITSTATUS(wstatus);
  ASSERT_EQ(WTERMSIG(wstatus), SIGKILL);

  const std::string tmp = dir_.Sub("disks") + "/tmp";
  EXPECT_EQ(FilesIn(tmp), 1u);  // the partial base, as a temp only
  EXPECT_FALSE(std::filesystem::exists(BasePath(BaseKeyFor(m))));
  // A check (fsck) lists the temp and leaves it; a missing root stays so.
  {
    auto check = DiskStore::Open(dir_.Sub("disks"), /*check_only=*/true);
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    auto r = (*check)->Fsck({}, {});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->leftover_temps.size(), 1u);
    EXPECT_EQ(FilesIn(tmp), 1u);
    const std::string nowhere = dir_.Sub("disks") + "-never-made";
    EXPECT_EQ(DiskStore::Open(nowhere, /*check_only=*/true).status().code(), Code::kNotFound);
    EXPECT_FALSE(std::filesystem::exists(nowhere));
  }
  Reopen();
  EXPECT_EQ(FilesIn(tmp), 0u);
  auto has = disks_->HasBase(BaseKeyFor(m));
  ASSERT_TRUE(has.ok());
  EXPECT_FALSE(*has);

  auto b = disks_->EnsureBase(m, *chunks_);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(b->newly_written);
  EXPECT_EQ(ReadAll(BasePath(b->key)), image_);
}

TEST_F(DiskStoreTest, TempOfALiveWriterSurvivesCleanup) {
  const std::string tmp = dir_.Sub("disks") + "/tmp";
  const std::string live = tmp + "/base-" + std::string(64, 'a') + ".live";
  UniqueFd fd(::open(live.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(::flock(fd.get(), LOCK_EX), 0);
  UniqueFd dead(::open((tmp + "/base-dead").c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  dead = UniqueFd();
  Reopen();
  EXPECT_TRUE(std::filesystem::exists(live));
  EXPECT_FALSE(std::filesystem::exists(tmp + "/base-dead"));
}

TEST_F(DiskStoreTest, CorruptChunkFailsTheBaseAndLeavesNothing) {
  Manifest m = MakeImage(16 * kMiB, {{0, RandomBytes(16 * kMiB, 5)}});
  InstrumentedStore corrupt(*chunks_);
  corrupt.fail_on_get = 2;
  auto b = disks_->EnsureBase(m, corrupt);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kDataLoss);
  EXPECT_NE(b.status().message().find("injected corruption"), std::string::npos) << b.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(BasePath(BaseKeyFor(m))));
  EXPECT_EQ(FilesIn(dir_.Sub("disks") + "/tmp"), 0u);
}

TEST_F(DiskStoreTest, HundredDisksOnOneImageWriteAboutOneBase) {
  Manifest m = MakeImage(128 * kMiB, {{0, RandomBytes(128 * kMiB, 6)}});
  for (int i = 0; i < 100; ++i) {
    auto d = disks_->CreateDiskFromImage(NewResourceId("d"), m, *chunks_, 256 * kMiB);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
  }
  const uint64_t base = AllocatedBytes(BasePath(BaseKeyFor(m)));
  const uint64_t overlays = AllocatedBytesIn(dir_.Sub("disks") + "/disks");
  const uint64_t bases = AllocatedBytesIn(dir_.Sub("disks") + "/bases");
  ::testing::Test::RecordProperty("base_bytes", std::to_string(base));
  ::testing::Test::RecordProperty("overlay_bytes", std::to_string(overlays));
  std::printf("100 disks on a 128 MiB image: base %llu bytes, 100 overlays %llu bytes (%.3f x base)\n",
              static_cast<unsigned long long>(base), static_cast<unsigned long long>(overlays),
              static_cast<double>(overlays) / static_cast<double>(base));
  EXPECT_EQ(bases, base);  // one base file
  EXPECT_GE(base, 128 * kMiB);
  EXPECT_LE(base + overlays, base * 12 / 10);
  auto ids = disks_->ListDisks();
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->size(), 100u);
}

TEST_F(DiskStoreTest, LaterDisksCopyTheFirstOverlayAndAreValidQcow2) {
  Manifest m = SparseImage();
  const std::string first = NewResourceId("d"), second = NewResourceId("d"), other = NewResourceId("d");
  ASSERT_TRUE(disks_->CreateDiskFromImage(first, m, *chunks_, 32 * kMiB).ok());
  ASSERT_TRUE(disks_->CreateDiskFromImage(second, m, *chunks_, 32 * kMiB).ok());
  ASSERT_TRUE(disks_->CreateDiskFromImage(other, m, *chunks_, 40 * kMiB).ok());  // another size
  EXPECT_EQ(ReadAll(*disks_->DiskPath(first)), ReadAll(*disks_->DiskPath(second)));
  auto info = disks_->DescribeDisk(other);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 40 * kMiB);
  for (const std::string& id : {second, other}) {
    auto run = RunProcess({"qemu-img", "check", "-q", "-f", "qcow2", *disks_->DiskPath(id)});
    ASSERT_TRUE(run.ok());
    EXPECT_EQ(run->exit_code, 0) << run->stderr_text;
  }
  // The copy skips the zero blocks qemu-img allocates.
  EXPECT_LE(AllocatedBytes(*disks_->DiskPath(second)), AllocatedBytes(*disks_->DiskPath(first)));
  // A guest write to the copy lands in the copy only.
  QemuIoWrite(*disks_->DiskPath(second), 0, 4096);
  const std::string a = dir_.Sub("a.raw"), b = dir_.Sub("b.raw");
  ASSERT_TRUE(disks_->ExportRaw(first, a).ok());
  ASSERT_TRUE(disks_->ExportRaw(second, b).ok());
  EXPECT_EQ(ReadAll(a)[0], image_[0]);
  EXPECT_EQ(ReadAll(b)[0], 0xab);
}

TEST_F(DiskStoreTest, GuestWritesShowInTheRawViewOverTheBase) {
  Manifest m = SparseImage();
  const std::string id = NewResourceId("d");
  auto d = disks_->CreateDiskFromImage(id, m, *chunks_, 32 * kMiB);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->base_key, BaseKeyFor(m));
  auto path = disks_->DiskPath(id);
  ASSERT_TRUE(path.ok());
  // A hypervisor opens the overlay by path and finds the base through the
  // relative name recorded in it.
  constexpr uint64_t kOff = kChunk + 65536, kLen = 131072;  // inside the hole of chunk 1
  QemuIoWrite(*path, kOff, kLen);
  QemuIoWrite(*path, 28 * kMiB, 4096);  // past the image, inside the disk

  const std::string out = dir_.Sub("export.raw");
  ASSERT_TRUE(disks_->ExportRaw(id, out).ok());
  std::vector<uint8_t> expected = image_;
  expected.resize(32 * kMiB, 0);
  std::fill(expected.begin() + kOff, expected.begin() + kOff + kLen, 0xab);
  std::fill(expected.begin() + 28 * kMiB, expected.begin() + 28 * kMiB + 4096, 0xab);
  std::vector<uint8_t> got = ReadAll(out);
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
  EXPECT_EQ(got[kOff], 0xab);
  EXPECT_EQ(got[kOff - 1], image_[kOff - 1]);
  EXPECT_EQ(got[100], image_[100]);
  // The export is sparse: the base's 6 MiB and the two writes, not 32 MiB.
  EXPECT_LE(AllocatedBytes(out), 7 * kMiB);
  // The base did not change.
  EXPECT_EQ(ReadAll(BasePath(BaseKeyFor(m))), image_);
  EXPECT_EQ(disks_->ExportRaw(id, out).code(), Code::kAlreadyExists);

  auto info = disks_->DescribeDisk(id);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, 32 * kMiB);
  EXPECT_EQ(info->base_key, BaseKeyFor(m));
}

TEST_F(DiskStoreTest, SnapshotOfAChangedDiskStoresOnlyTheChangedChunks) {
  Manifest m = MakeImage(16 * kMiB, {{0, RandomBytes(16 * kMiB, 7)}});
  const std::string id = NewResourceId("d");
  ASSERT_TRUE(disks_->CreateDiskFromImage(id, m, *chunks_, 16 * kMiB).ok());
  auto before = chunks_->Stats();
  ASSERT_TRUE(before.ok());

  QemuIoWrite(*disks_->DiskPath(id), 2 * kChunk + 1000, 5000);  // chunk 2 only
  IngestStats stats;
  auto snap = disks_->SnapshotDisk(id, *chunks_, IngestOptions{}, &stats);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(stats.chunks_stored, 1u);
  EXPECT_EQ(stats.chunks_deduped, 3u);
  auto after = chunks_->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->chunks, before->chunks + 1);
  ASSERT_EQ(snap->logical_size, m.logical_size);
  ASSERT_EQ(snap->entries.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    if (i == 2) {
      EXPECT_NE(snap->entries[i].id, m.entries[i].id);
    } else {
      EXPECT_EQ(snap->entries[i].id, m.entries[i].id) << "chunk " << i;
    }
  }
  EXPECT_EQ(FilesIn(dir_.Sub("disks") + "/tmp"), 0u);

  // The snapshot reads back as the image with the guest's write.
  const std::string out = dir_.Sub("snap.raw");
  ASSERT_TRUE(MaterializeRawFile(*snap, *chunks_, out, MaterializeOptions{}).ok());
  std::vector<uint8_t> expected = image_;
  std::fill(expected.begin() + 2 * kChunk + 1000, expected.begin() + 2 * kChunk + 6000, 0xab);
  EXPECT_TRUE(ReadAll(out) == expected);
}

TEST_F(DiskStoreTest, EmptyDataDiskReadsAsZerosAndCostsLittle) {
  const std::string id = NewResourceId("d");
  auto d = disks_->CreateEmptyDisk(id, 64 * kMiB);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE(d->base_key.has_value());
  EXPECT_LT(d->allocated_bytes, kMiB);
  const std::string out = dir_.Sub("empty.raw");
  ASSERT_TRUE(disks_->ExportRaw(id, out).ok());
  std::vector<uint8_t> got = ReadAll(out);
  EXPECT_EQ(got, std::vector<uint8_t>(64 * kMiB, 0));
  EXPECT_EQ(AllocatedBytes(out), 0u);
  QemuIoWrite(*disks_->DiskPath(id), 0, 4096);
  IngestStats stats;
  auto snap = disks_->SnapshotDisk(id, *chunks_, IngestOptions{}, &stats);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(snap->DataBytes(), kChunk);
  EXPECT_EQ(stats.bytes_read, kChunk);  // from the cluster map: one chunk
  const std::string back = dir_.Sub("empty-snap.raw");
  ASSERT_TRUE(MaterializeRawFile(*snap, *chunks_, back, MaterializeOptions{}).ok());
  std::vector<uint8_t> expected(64 * kMiB, 0);
  std::fill(expected.begin(), expected.begin() + 4096, 0xab);
  EXPECT_TRUE(ReadAll(back) == expected);
}

TEST_F(DiskStoreTest, RefusesBadIdsSizesAndDuplicates) {
  Manifest m = SparseImage();
  for (const std::string bad :
       {"../../etc/x", "d-short", "", "d-BP1H46WFPJSJASTC0001", "d-bp1h46wfpjsjastc000/"}) {
    EXPECT_EQ(disks_->CreateDiskFromImage(bad, m, *chunks_, 32 * kMiB).status().code(),
              Code::kInvalidArgument)
        << bad;
    EXPECT_EQ(disks_->DeleteDisk(bad).status().code(), Code::kInvalidArgument) << bad;
  }
  const std::string id = NewResourceId("d");
  EXPECT_EQ(disks_->CreateDiskFromImage(id, m, *chunks_, 16 * kMiB).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(disks_->CreateDiskFromImage(id, m, *chunks_, 24 * kMiB + 100).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(disks_->CreateEmptyDisk(id, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(disks_->CreateDiskOnBase(id, std::string(64, 'c'), 32 * kMiB).status().code(), Code::kNotFound);
  ASSERT_TRUE(disks_->CreateDiskFromImage(id, m, *chunks_, 24 * kMiB).ok());
  EXPECT_EQ(disks_->CreateDiskFromImage(id, m, *chunks_, 24 * kMiB).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(disks_->CreateEmptyDisk(id, 24 * kMiB).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(FilesIn(dir_.Sub("disks") + "/tmp"), 0u);
}

TEST_F(DiskStoreTest, DeleteIsRepeatableAndKeepsTheBase) {
  Manifest m = SparseImage();
  const std::string id = NewResourceId("d");
  ASSERT_TRUE(disks_->CreateDiskFromImage(id, m, *chunks_, 24 * kMiB).ok());
  auto first = disks_->DeleteDisk(id);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto second = disks_->DeleteDisk(id);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  EXPECT_EQ(disks_->DescribeDisk(id).status().code(), Code::kNotFound);
  EXPECT_TRUE(std::filesystem::exists(BasePath(BaseKeyFor(m))));
}

TEST_F(DiskStoreTest, RemoveUnusedBasesKeepsWhatDisksAndTheCatalogNeed) {
  Manifest a = MakeImage(8 * kMiB, {{0, RandomBytes(kChunk, 8)}});
  Manifest b = MakeImage(8 * kMiB, {{0, RandomBytes(kChunk, 9)}});
  const std::string ka = BaseKeyFor(a), kb = BaseKeyFor(b);
  const std::string id = NewResourceId("d");
  ASSERT_TRUE(disks_->CreateDiskFromImage(id, a, *chunks_, 8 * kMiB).ok());
  ASSERT_TRUE(disks_->EnsureBase(b, *chunks_).ok());

  auto kept = disks_->RemoveUnusedBases({kb});  // the catalog still wants b
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  EXPECT_TRUE(kept->empty());  // a: a disk uses it, though the catalog forgot

  auto removed = disks_->RemoveUnusedBases({});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, std::vector<std::string>{kb});
  EXPECT_FALSE(std::filesystem::exists(BasePath(kb)));
  EXPECT_TRUE(std::filesystem::exists(BasePath(ka)));

  ASSERT_TRUE(disks_->DeleteDisk(id).ok());
  removed = disks_->RemoveUnusedBases({});
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, std::vector<std::string>{ka});
  auto left = disks_->ListBases();
  ASSERT_TRUE(left.ok());
  EXPECT_TRUE(left->empty());
  // A removed base comes back on demand.
  auto again = disks_->CreateDiskFromImage(NewResourceId("d"), a, *chunks_, 8 * kMiB);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(ReadAll(BasePath(ka)).size(), 8 * kMiB);
}

TEST_F(DiskStoreTest, RemoveUnusedBasesSkipsABaseInUse) {
  Manifest a = MakeImage(8 * kMiB, {{0, RandomBytes(kChunk, 10)}});
  ASSERT_TRUE(disks_->EnsureBase(a, *chunks_).ok());
  // Someone (a reader) holds the base's lock.
  const std::string lock = dir_.Sub("disks") + "/locks/" + BaseKeyFor(a) + ".lock";
  UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd.valid());
  ASSERT_EQ(::flock(fd.get(), LOCK_SH), 0);
  // A busy base a disk uses is not worth another try; the unused one is.
  Manifest b = MakeImage(8 * kMiB, {{0, RandomBytes(kChunk, 13)}});
  ASSERT_TRUE(disks_->CreateDiskFromImage(NewResourceId("d"), b, *chunks_, 8 * kMiB).ok());
  UniqueFd fd_b(::open((dir_.Sub("disks") + "/locks/" + BaseKeyFor(b) + ".lock").c_str(),
                       O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_EQ(::flock(fd_b.get(), LOCK_SH), 0);
  std::vector<std::string> busy;
  auto removed = disks_->RemoveUnusedBases({}, &busy);
  ASSERT_TRUE(removed.ok());
  EXPECT_TRUE(removed->empty());
  EXPECT_EQ(busy, std::vector<std::string>{BaseKeyFor(a)});
  fd = UniqueFd();
  busy.clear();
  removed = disks_->RemoveUnusedBases({}, &busy);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, std::vector<std::string>{BaseKeyFor(a)});
  EXPECT_TRUE(busy.empty());
}

TEST_F(DiskStoreTest, FsckFindsOrphansAndMissingFiles) {
  Manifest a = MakeImage(8 * kMiB, {{0, RandomBytes(kChunk, 11)}});
  Manifest b = MakeImage(8 * kMiB, {{0, RandomBytes(kChunk, 12)}});
  const std::string known = NewResourceId("d"), orphan = NewResourceId("d"), gone = NewResourceId("d");
  ASSERT_TRUE(disks_->CreateDiskFromImage(known, a, *chunks_, 8 * kMiB).ok());
  ASSERT_TRUE(disks_->CreateDiskFromImage(orphan, b, *chunks_, 8 * kMiB).ok());
  const std::string root = dir_.Sub("disks");
  ASSERT_TRUE(WriteFileAtomic(root + "/tmp/disk-" + orphan + ".dead", std::string("x")).ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/disks/notes.txt", std::string("x")).ok());

  auto r = disks_->Fsck({known, gone}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->orphan_disks, std::vector<std::string>{orphan});
  EXPECT_EQ(r->missing_disks, std::vector<std::string>{gone});
  // b is used only by the orphan disk, which the catalog does not know.
  EXPECT_EQ(r->orphan_bases, std::vector<std::string>{BaseKeyFor(b)});
  EXPECT_EQ(r->leftover_temps, std::vector<std::string>{"disk-" + orphan + ".dead"});
  EXPECT_EQ(r->strays, std::vector<std::string>{"disks/notes.txt"});
  EXPECT_TRUE(r->missing_bases.empty());
  EXPECT_FALSE(r->clean());

  // A base deleted by hand under a disk.
  ASSERT_EQ(::unlink(BasePath(BaseKeyFor(a)).c_str()), 0);
  r = disks_->Fsck({known, orphan}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->missing_bases, std::vector<std::string>{known + " -> " + BaseKeyFor(a)});
  EXPECT_EQ(disks_->ExportRaw(known, dir_.Sub("x.raw")).code(), Code::kFailedPrecondition);
}

TEST_F(DiskStoreTest, FsckOfAConsistentStoreIsClean) {
  Manifest a = SparseImage();
  const std::string id = NewResourceId("d");
  ASSERT_TRUE(disks_->CreateDiskFromImage(id, a, *chunks_, 24 * kMiB).ok());
  auto r = disks_->Fsck({id}, {BaseKeyFor(a)});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->clean());
}

TEST_F(DiskStoreTest, SymlinkPlantedAsADiskIsNotFollowed) {
  const std::string secret = dir_.Sub("secret");
  ASSERT_TRUE(WriteFileAtomic(secret, std::string(4096, 's')).ok());
  const std::string id = NewResourceId("d");
  const std::string link = dir_.Sub("disks") + "/disks/" + id + ".qcow2";
  ASSERT_EQ(::symlink(secret.c_str(), link.c_str()), 0);
  auto info = disks_->DescribeDisk(id);
  EXPECT_FALSE(info.ok());
  EXPECT_FALSE(disks_->ExportRaw(id, dir_.Sub("leak.raw")).ok());
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("leak.raw")));
  EXPECT_FALSE(disks_->SnapshotDisk(id, *chunks_, IngestOptions{}).ok());
}

TEST_F(DiskStoreTest, OverlayNamingAForeignBackingFileIsRefused) {
  const std::string secret = dir_.Sub("secret.raw");
  ASSERT_TRUE(WriteFileAtomic(secret, std::string(1 << 20, 's')).ok());
  const std::string id = NewResourceId("d");
  const std::string path = dir_.Sub("disks") + "/disks/" + id + ".qcow2";
  auto run =
      RunProcess({"qemu-img", "create", "-q", "-f", "qcow2", "-u", "-F", "raw", "-b", secret, path, "1M"});
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->exit_code, 0) << run->stderr_text;
  EXPECT_EQ(disks_->DescribeDisk(id).status().code(), Code::kDataLoss);
  EXPECT_EQ(disks_->ExportRaw(id, dir_.Sub("leak.raw")).code(), Code::kDataLoss);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("leak.raw")));
  auto r = disks_->Fsck({id}, {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->bad_disks.size(), 1u);
  // GC cannot tell which base such a disk needs, so it removes none.
  EXPECT_EQ(disks_->RemoveUnusedBases({}).status().code(), Code::kFailedPrecondition);
}

// ---- Snapshots from the base's manifest and the overlay's cluster map ----

// Expected bytes of a disk of `size` made from image_ after `edits`
// (offset, length, byte) were applied.
std::vector<uint8_t> Apply(std::vector<uint8_t> image, uint64_t size,
                           const std::vector<std::tuple<uint64_t, uint64_t, uint8_t>>& edits) {
  image.resize(size, 0);
  for (const auto& [off, len, byte] : edits)
    std::fill(image.begin() + static_cast<ptrdiff_t>(off), image.begin() + static_cast<ptrdiff_t>(off + len), byte);
  return image;
}

TEST_F(DiskStoreTest, SnapshotFromTheClusterMapEqualsTheFullReadForEveryKindOfWrite) {
  // 22 MiB + 1536 bytes: the base's last chunk is short; the disk is larger.
  const uint64_t image_size = 22 * kMiB + 1536;
  Manifest m = MakeImage(image_size, {{0, RandomBytes(9 * kMiB, 11)},                  // chunks 0-2
                                      {16 * kMiB, RandomBytes(image_size - 16 * kMiB, 12)}});  // 4-5
  const std::string id = NewResourceId("d");
  const uint64_t disk_size = 40 * kMiB;
  ASSERT_TRUE(disks_->CreateDiskFromImage(id, m, *chunks_, disk_size).ok());
  const std::string path = *disks_->DiskPath(id);
  std::vector<std::tuple<uint64_t, uint64_t, uint8_t>> edits;
  auto write = [&](uint64_t off, uint64_t len, uint8_t byte) {
    QemuIo(path, "write -P " + std::to_string(byte) + " " + std::to_string(off) + " " + std::to_string(len));
    edits.emplace_back(off, len, byte);
  };
  write(kChunk + 1000, 3000, 0x11);        // unaligned, inside base data (copy on write)
  write(3 * kChunk + 65536, 65536, 0x22);  // a cluster in a hole of the base
  QemuIo(path, "write -z " + std::to_string(8 * kMiB) + " 65536");  // zero flag over base data
  edits.emplace_back(8 * kMiB, 65536, 0);
  write(30 * kMiB, 4096, 0x33);            // past the image, inside the disk
  write(2 * kChunk - 512, 1024, 0x44);     // across a chunk boundary
  const std::vector<uint8_t> expected = Apply(image_, disk_size, edits);

  auto before = chunks_->Stats();
  ASSERT_TRUE(before.ok());
  IngestOptions opts;
  uint64_t pins = 0;
  opts.pin = [&](const ChunkId&) {
    ++pins;
    return Status::Ok();
  };
  IngestStats fast;
  auto snap = disks_->SnapshotDisk(id, *chunks_, opts, &fast, &m);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  // Changed: 1 and 2 (writes, the zero flag), 3, 5 (longer on the disk than
  // in the base) and 7; chunks 0 and 4 are the base's, read not at all.
  EXPECT_LE(fast.bytes_read, 5 * kChunk);
  EXPECT_GE(fast.chunks_deduped, 2u);
  EXPECT_EQ(fast.chunks_total, Manifest::ChunksFor(disk_size, kChunk));
  EXPECT_GE(pins, fast.chunks_deduped + fast.chunks_stored);
  EXPECT_EQ(FilesIn(dir_.Sub("disks") + "/tmp"), 0u);

  // The same manifest as reading the whole view through qemu-img.
  IngestStats full;
  auto whole = disks_->SnapshotDisk(id, *chunks_, IngestOptions{}, &full);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(snap->logical_size, whole->logical_size);
  EXPECT_EQ(ToHex(snap->ContentDigest()), ToHex(whole->ContentDigest()));
  EXPECT_EQ(full.chunks_stored, 0u);  // the fast path stored them all already

  const std::string out = dir_.Sub("snap.raw");
  ASSERT_TRUE(MaterializeRawFile(*snap, *chunks_, out, MaterializeOptions{}).ok());
  EXPECT_TRUE(ReadAll(out) == expected);
}

TEST_F(DiskStoreTest, SnapshotOfAnUnchangedDiskReadsNothing) {
  Manifest m = MakeImage(16 * kMiB, {{0, RandomBytes(16 * kMiB, 21)}});
  const std::string id = NewResourceId("d");
  ASSERT_TRUE(disks_->CreateDiskFromImage(id, m, *chunks_, 16 * kMiB).ok());
  IngestStats stats;
  auto snap = disks_->SnapshotDisk(id, *chunks_, IngestOptions{}, &stats, &m);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(stats.bytes_read, 0u);
  EXPECT_EQ(stats.chunks_deduped, 4u);
  EXPECT_EQ(ToHex(snap->ContentDigest()), ToHex(m.ContentDigest()));
}

TEST_F(DiskStoreTest, SnapshotReadsAChunkTheStoreLostFromTheBaseFile) {
  Manifest m = MakeImage(16 * kMiB, {{0, RandomBytes(16 * kMiB, 31)}});
  const std::string id = NewResourceId("d");
  ASSERT_TRUE(disks_->CreateDiskFromImage(id, m, *chunks_, 16 * kMiB).ok());
  ASSERT_TRUE(chunks_->Delete(m.entries[3].id).ok());
  IngestStats stats;
  auto snap = disks_->SnapshotDisk(id, *chunks_, IngestOptions{}, &stats, &m);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(stats.chunks_stored, 1u);
  EXPECT_EQ(ToHex(snap->ContentDigest()), ToHex(m.ContentDigest()));
  EXPECT_TRUE(*chunks_->Has(m.entries[3].id));
}

TEST_F(DiskStoreTest, SnapshotOfACompressedClusterFallsBackToQemuImg) {
  Manifest m = MakeImage(16 * kMiB, {{0, RandomBytes(16 * kMiB, 41)}});
  const std::string id = NewResourceId("d");
  ASSERT_TRUE(disks_->CreateDiskFromImage(id, m, *chunks_, 16 * kMiB).ok());
  QemuIo(*disks_->DiskPath(id), "write -c -P 0xcd " + std::to_string(kChunk) + " 65536");
  IngestStats stats;
  auto snap = disks_->SnapshotDisk(id, *chunks_, IngestOptions{}, &stats, &m);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(stats.bytes_read, 16 * kMiB);  // qemu-img read it all
  const std::string out = dir_.Sub("snap.raw");
  ASSERT_TRUE(MaterializeRawFile(*snap, *chunks_, out, MaterializeOptions{}).ok());
  EXPECT_TRUE(ReadAll(out) == Apply(image_, 16 * kMiB, {{kChunk, 65536, 0xcd}}));
}

// An overlay whose cluster map points outside its file fails the snapshot
// with kDataLoss; it never reads elsewhere and never falls back.
TEST_F(DiskStoreTest, SnapshotRefusesAClusterMapPointingOutsideTheOverlay) {
  Manifest m = MakeImage(16 * kMiB, {{0, RandomBytes(16 * kMiB, 51)}});
  auto be64 = [](const std::vector<uint8_t>& b, size_t at) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v = (v << 8) | b[at + i];
    return v;
  };
  auto put64 = [](const std::string& path, uint64_t at, uint64_t v) {
    uint8_t b[8];
    for (int i = 7; i >= 0; --i, v >>= 8) b[i] = static_cast<uint8_t>(v);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(PwriteFull(fd.get(), b, 8, at, path).ok());
  };
  struct Damage {
    const char* what;
    bool in_l2;      // the first L2 entry, else the first L1 entry
    uint64_t value;  // written there
  };
  const Damage cases[] = {
      {"L1 entry past the end", false, 0x0000'4000'0000'0000ULL},
      {"L1 entry not cluster aligned", false, 0x0000'0000'0003'0200ULL},
      {"L1 entry with reserved bits", false, 0x0100'0000'0003'0000ULL | 1},
      {"L2 entry past the end", true, 0x0000'4000'0000'0000ULL},
      {"L2 entry not cluster aligned", true, 0x0000'0000'0003'0200ULL},
      {"L2 entry with reserved bits", true, 0x0000'0000'0000'0002ULL},
  };
  for (const Damage& c : cases) {
    SCOPED_TRACE(c.what);
    const std::string id = NewResourceId("d");
    ASSERT_TRUE(disks_->CreateDiskFromImage(id, m, *chunks_, 16 * kMiB).ok());
    const std::string path = *disks_->DiskPath(id);
    QemuIoWrite(path, 0, 4096);  // allocates an L2 table and a data cluster
    const std::vector<uint8_t> bytes = ReadAll(path);
    const uint64_t l1 = be64(bytes, 40);
    const uint64_t l2 = be64(bytes, l1) & 0x00ff'ffff'ffff'fe00ULL;
    ASSERT_NE(l2, 0u);
    put64(path, c.in_l2 ? l2 : l1, c.value);
    auto snap = disks_->SnapshotDisk(id, *chunks_, IngestOptions{}, nullptr, &m);
    EXPECT_EQ(snap.status().code(), Code::kDataLoss) << snap.status().ToString();
    EXPECT_EQ(FilesIn(dir_.Sub("disks") + "/tmp"), 0u);
  }
}

}  // namespace
}  // namespace ferry
