#include "store/ingest.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>

#include "common/crc64.h"
#include "common/fs_util.h"
#include "common/ids.h"
#include "store/fs_chunk_store.h"
#include "store_test_util.h"

namespace ferry {
namespace {

using testing_util::CompressibleBytes;
using testing_util::RandomBytes;
using testing_util::ScratchDir;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kChunk = 4 * kMiB;

// A raw file built by ftruncate + pwrite, so everything not written is a hole.
// One entry per chunk, hole runs expanded: what the old manifest held.
std::vector<ChunkEntry> PerChunk(const Manifest& m) {
  std::vector<ChunkEntry> out;
  for (const ChunkEntry& e : m.entries) {
    for (uint64_t k = 0; k < e.count; ++k) {
      ChunkEntry c = e;
      c.count = 1;
      if (e.zero && k + 1 < e.count) c.length = m.chunk_size;
      out.push_back(c);
    }
  }
  return out;
}

class SparseFile {
 public:
  SparseFile(const std::string& path, uint64_t size) : path_(path) {
    fd_ = UniqueFd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_TRUE(fd_.valid());
    EXPECT_EQ(::ftruncate(fd_.get(), static_cast<off_t>(size)), 0);
  }
  void Write(uint64_t offset, const std::vector<uint8_t>& data) {
    ASSERT_TRUE(PwriteFull(fd_.get(), data.data(), data.size(), offset, path_).ok());
    written_ += data.size();
  }
  void Close() {
    ASSERT_EQ(::fsync(fd_.get()), 0);
    fd_ = UniqueFd();
  }
  uint64_t written() const { return written_; }

 private:
  std::string path_;
  UniqueFd fd_;
  uint64_t written_ = 0;
};

Digest256 FileDigest(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_TRUE(fd.valid()) << path;
  Sha256 h;
  std::vector<uint8_t> buf(kMiB);
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    EXPECT_GE(n, 0);
    if (n <= 0) break;
    h.Update(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
  }
  return h.Finish();
}

std::vector<uint8_t> ReadRange(const std::string& path, uint64_t offset, uint64_t len) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::vector<uint8_t> out(len);
  EXPECT_TRUE(PreadFull(fd.get(), out.data(), len, offset, path).ok());
  return out;
}

uint64_t AllocatedBytes(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// A ChunkStore that forwards to a real one and fails on cue.
class FaultyChunkStore final : public ChunkStore {
 public:
  explicit FaultyChunkStore(ChunkStore& inner) : inner_(inner) {}

  void FailPutNumber(int n, Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_put_at_ = n;
    put_error_ = std::move(st);
  }
  void FailGets(Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    get_error_ = std::move(st);
  }
  void FailSync(Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    sync_error_ = std::move(st);
  }
  int puts() {
    std::lock_guard<std::mutex> lock(mu_);
    return puts_;
  }
  int syncs() {
    std::lock_guard<std::mutex> lock(mu_);
    return syncs_;
  }
  bool put_after_sync() {
    std::lock_guard<std::mutex> lock(mu_);
    return put_after_sync_;
  }

  using ChunkStore::Put;
  Status Put(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
             bool* newly_stored) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++puts_;
      if (syncs_ > 0) put_after_sync_ = true;
      if (puts_ == fail_put_at_) return put_error_;
    }
    return inner_.Put(scope, id, plaintext, newly_stored);
  }
  Status Sync() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++syncs_;
      if (!sync_error_.ok()) return sync_error_;
    }
    return inner_.Sync();
  }
  Result<std::vector<uint8_t>> Get(const ChunkId& id) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!get_error_.ok()) return get_error_;
    }
    return inner_.Get(id);
  }
  Result<bool> Has(const ChunkId& id) override { return inner_.Has(id); }
  Status Delete(const ChunkId& id) override { return inner_.Delete(id); }
  Status List(const std::function<void(const ChunkId&)>& fn) override { return inner_.List(fn); }
  Result<ChunkStoreStats> Stats() override { return inner_.Stats(); }

 private:
  ChunkStore& inner_;
  std::mutex mu_;
  int puts_ = 0;
  int syncs_ = 0;
  bool put_after_sync_ = false;
  int fail_put_at_ = -1;
  Status put_error_;
  Status get_error_;
  Status sync_error_;
};

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FsChunkStore::Open(dir_.Sub("store"));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  // 64 MiB - 1000 bytes logical (16 chunks, the last one short):
  //   chunks 1-2: random data from 4 MiB + 100 for 6 MiB
  //   chunk 5:    4 MiB of written zeros (a data extent that is all zero)
  //   chunk 10:   1 MiB of text at 41 MiB
  //   chunk 15:   5000 random bytes ending at EOF (short last chunk)
  std::string MakeSparseImage() {
    std::string path = dir_.Sub("image.raw");
    SparseFile f(path, kImageSize);
    f.Write(kChunk + 100, RandomBytes(6 * kMiB, 11));
    f.Write(5 * kChunk, std::vector<uint8_t>(kChunk, 0));
    f.Write(41 * kMiB, CompressibleBytes(kMiB, 12));
    f.Write(kImageSize - 5000, RandomBytes(5000, 13));
    f.Close();
    return path;
  }

  static constexpr uint64_t kImageSize = 64 * kMiB - 1000;
  ScratchDir dir_;
  std::unique_ptr<FsChunkStore> store_;
};

TEST_F(IngestTest, DataExtentsSkipHoles) {
  std::string path = dir_.Sub("extents.raw");
  SparseFile f(path, 64 * kMiB);
  f.Write(8 * kMiB, RandomBytes(kMiB, 1));
  f.Close();
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  auto extents = DataExtents(fd.get(), 64 * kMiB);
  ASSERT_TRUE(extents.ok()) << extents.status().ToString();
  uint64_t total = 0;
  for (const Extent& e : *extents) {
    total += e.length;
    EXPECT_LE(e.offset + e.length, 64 * kMiB);
  }
  ASSERT_FALSE(extents->empty());
  EXPECT_LE(extents->front().offset, 8 * kMiB);
  EXPECT_GE(extents->back().offset + extents->back().length, 9 * kMiB);
  EXPECT_LT(total, 4 * kMiB);  // nowhere near the 64 MiB logical size

  std::string empty = dir_.Sub("all-hole.raw");
  SparseFile(empty, 16 * kMiB).Close();
  UniqueFd efd(::open(empty.c_str(), O_RDONLY | O_CLOEXEC));
  auto none = DataExtents(efd.get(), 16 * kMiB);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(IngestTest, AChunkThatCannotBePinnedStopsTheIngestBeforeItIsStored) {
  // Shared pins live in the catalog: when it is unreachable, the ingest
  // must not look the chunk up, let alone commit a manifest naming it.
  std::string path = MakeSparseImage();
  IngestOptions opts;
  std::atomic<int> asked{0};
  opts.pin = [&](const ChunkId&) {
    ++asked;
    return Unavailable("the catalog is down");
  };
  IngestStats stats;
  auto m = IngestRawFile(path, *store_, opts, &stats);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kUnavailable) << m.status().ToString();
  EXPECT_NE(m.status().message().find("the catalog is down"), std::string::npos) << m.status().ToString();
  EXPECT_GE(asked.load(), 1);
  EXPECT_EQ(store_->Stats()->chunks, 0u) << "no chunk stored without its pin";
}

TEST_F(IngestTest, SparseImageManifestStatsAndMaterialize) {
  std::string path = MakeSparseImage();
  std::vector<std::pair<uint64_t, uint64_t>> progress;
  std::mutex pin_mu;
  std::set<ChunkId> pinned;
  IngestOptions opts;
  opts.progress = [&](uint64_t done, uint64_t total) { progress.emplace_back(done, total); };
  opts.pin = [&](const ChunkId& id) {
    std::lock_guard<std::mutex> lock(pin_mu);
    pinned.insert(id);
    return Status::Ok();
  };
  IngestStats stats;
  auto m = IngestRawFile(path, *store_, opts, &stats);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_TRUE(m->Validate().ok());

  EXPECT_EQ(m->logical_size, kImageSize);
  EXPECT_EQ(m->chunk_size, kChunk);
  // Holes 0, 3-9 and 11-14 are one run each between the four data chunks.
  EXPECT_EQ(m->entries.size(), 7u);
  const std::vector<ChunkEntry> per_chunk = PerChunk(*m);
  ASSERT_EQ(per_chunk.size(), 16u);
  const std::set<size_t> data_chunks = {1, 2, 10, 15};
  for (size_t i = 0; i < per_chunk.size(); ++i) {
    const ChunkEntry& e = per_chunk[i];
    uint64_t start = i * kChunk;
    uint64_t len = std::min(kChunk, kImageSize - start);
    EXPECT_EQ(e.length, len) << i;
    if (data_chunks.count(i)) {
      EXPECT_FALSE(e.zero) << i;
      EXPECT_EQ(e.id, Sha256::Of(ReadRange(path, start, len))) << i;
      EXPECT_TRUE(pinned.count(e.id)) << i;
    } else {
      EXPECT_TRUE(e.zero) << i;
      EXPECT_EQ(e.id, ChunkId{}) << i;
    }
  }
  EXPECT_EQ(pinned.size(), 4u);

  // Reads only data extents: at most the 5 chunks holding any (the zero
  // chunk 5 included), at least the bytes actually written.
  EXPECT_GE(stats.bytes_read, 6 * kMiB + kChunk + kMiB + 5000);
  EXPECT_LE(stats.bytes_read, 5 * kChunk);
  EXPECT_EQ(stats.chunks_total, 16u);
  EXPECT_EQ(stats.chunks_zero, 12u);
  EXPECT_EQ(stats.chunks_stored, 4u);
  EXPECT_EQ(stats.chunks_deduped, 0u);
  EXPECT_EQ(store_->Stats()->chunks, 4u);

  ASSERT_FALSE(progress.empty());
  for (size_t i = 1; i < progress.size(); ++i) EXPECT_GE(progress[i].first, progress[i - 1].first);
  EXPECT_EQ(progress.back().first, progress.back().second);
  EXPECT_EQ(progress.back().second, stats.bytes_read);

  // Same image again: everything deduplicated, same content digest.
  IngestStats again;
  auto m2 = IngestRawFile(path, *store_, IngestOptions{}, &again);
  ASSERT_TRUE(m2.ok());
  EXPECT_EQ(again.chunks_stored, 0u);
  EXPECT_EQ(again.chunks_deduped, 4u);
  EXPECT_EQ(m2->ContentDigest(), m->ContentDigest());

  std::string out = dir_.Sub("restored.raw");
  std::vector<uint64_t> mprogress;
  MaterializeOptions mopts;
  mopts.progress = [&](uint64_t done, uint64_t total) {
    EXPECT_EQ(total, m->DataBytes());
    mprogress.push_back(done);
  };
  ASSERT_TRUE(MaterializeRawFile(*m, *store_, out, mopts).ok());
  EXPECT_EQ(std::filesystem::file_size(out), kImageSize);
  EXPECT_EQ(FileDigest(out), FileDigest(path));
  // Only the 4 data chunks are allocated; the written-zero chunk became a hole.
  EXPECT_LE(AllocatedBytes(out), m->DataBytes() + 256 * 1024);
  EXPECT_LT(AllocatedBytes(out), kImageSize / 3);
  ASSERT_FALSE(mprogress.empty());
  EXPECT_EQ(mprogress.back(), m->DataBytes());
  // Nothing but the result is left next to it.
  for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();
  }
}

TEST_F(IngestTest, ManyWorkersAndTinyWindowGiveTheSameManifest) {
  std::string path = MakeSparseImage();
  IngestOptions narrow;
  narrow.threads = 1;
  narrow.max_in_flight = 1;
  IngestOptions wide;
  wide.threads = 4;
  wide.max_in_flight = 3;
  // Each into a store of its own, so both write every object (and record
  // its object digest) rather than the second finding them there.
  auto other = FsChunkStore::Open(dir_.Sub("other-store"));
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto a = IngestRawFile(path, *store_, narrow);
  auto b = IngestRawFile(path, **other, wide);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(EncodeManifest(*a), EncodeManifest(*b));
}

TEST_F(IngestTest, ManifestCarriesTheDigestOfEachObjectItWrote) {
  std::string path = MakeSparseImage();
  auto first = IngestRawFile(path, *store_, IngestOptions{});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  size_t data = 0;
  first->ForEachData([&](uint64_t, const ChunkEntry& e) {
    ++data;
    ASSERT_TRUE(e.object_digest.has_value()) << ToHex(e.id);
    Result<std::vector<uint8_t>> object = store_->GetStored(e.id);
    ASSERT_TRUE(object.ok()) << object.status().ToString();
    EXPECT_EQ(*e.object_digest, ComputeObjectDigest(*object)) << ToHex(e.id);
  });
  EXPECT_EQ(data, 4u);
  // A second import finds every chunk stored: it wrote no object, so it
  // vouches for none, and its manifest has the same content without digests.
  auto again = IngestRawFile(path, *store_, IngestOptions{});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  again->ForEachData([&](uint64_t, const ChunkEntry& e) { EXPECT_FALSE(e.object_digest.has_value()); });
  EXPECT_EQ(again->ContentDigest(), first->ContentDigest());
}

TEST_F(IngestTest, HugeSparseImageReadsOnlyItsData) {
  constexpr uint64_t kSize = 32ull << 30;
  std::string path = dir_.Sub("huge.raw");
  SparseFile f(path, kSize);
  std::vector<uint8_t> data = RandomBytes(kChunk, 21);
  f.Write(16ull << 30, data);
  f.Close();

  IngestStats stats;
  auto m = IngestRawFile(path, *store_, IngestOptions{}, &stats);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(stats.bytes_read, kChunk);
  EXPECT_EQ(stats.chunks_total, kSize / kChunk);
  EXPECT_EQ(stats.chunks_zero, kSize / kChunk - 1);
  EXPECT_EQ(m->DataBytes(), kChunk);
  // A run of holes, the data chunk, a run of holes.
  ASSERT_EQ(m->entries.size(), 3u);
  EXPECT_EQ(m->entries[0].count, (16ull << 30) / kChunk);
  const ChunkEntry& e = m->entries[1];
  EXPECT_FALSE(e.zero);
  EXPECT_EQ(e.id, Sha256::Of(data));
}

TEST_F(IngestTest, VastSparseImageGivesAManifestSizedByItsData) {
  // The largest sparse file the test file system allows, from 4 EiB (tmpfs,
  // XFS, btrfs) down to just under ext4's 16 TiB: one entry per 4 MiB would
  // be millions of entries, runs of holes make it three.
  // tmpfs (/dev/shm) first: it holds the 4 EiB.
  std::string path;
  uint64_t size = 0;
  for (const std::string& where :
       {"/dev/shm/ferry-ingest-vast-" + RandomHex(6) + ".raw", dir_.Sub("vast.raw")}) {
    for (uint64_t candidate : {uint64_t{1} << 62, uint64_t{64} << 40, (uint64_t{16} << 40) - kChunk}) {
      UniqueFd fd(::open(where.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!fd.valid()) break;
      if (::ftruncate(fd.get(), static_cast<off_t>(candidate)) == 0) {
        path = where;
        size = candidate;
        break;
      }
    }
    if (size != 0) break;
    ::unlink(where.c_str());
  }
  if (size == 0) GTEST_SKIP() << "the file system allows no sparse file of 16 TiB";
  RecordProperty("vast_size", std::to_string(size));
  const uint64_t data_at = size / 2 / kChunk * kChunk;
  std::vector<uint8_t> data = RandomBytes(kChunk, 77);
  {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    ASSERT_TRUE(PwriteFull(fd.get(), data.data(), data.size(), data_at, path).ok());
  }

  IngestStats stats;
  auto m = IngestRawFile(path, *store_, IngestOptions{}, &stats);
  ::unlink(path.c_str());
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->logical_size, size);
  ASSERT_EQ(m->entries.size(), 3u) << "holes, the data chunk, holes";
  EXPECT_EQ(m->entries[0].count, data_at / kChunk);
  EXPECT_EQ(m->entries[1].id, Sha256::Of(data));
  EXPECT_EQ(m->ChunkCount(), Manifest::ChunksFor(size, kChunk));
  EXPECT_EQ(stats.bytes_read, kChunk);
  EXPECT_EQ(stats.chunks_total, size / kChunk);
  EXPECT_LT(EncodeManifest(*m).size(), 200u);
  auto back = DecodeManifest(EncodeManifest(*m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ContentDigest(), m->ContentDigest());
}

TEST_F(IngestTest, CancelFromProgressReturnsCancelled) {
  std::string path = MakeSparseImage();
  std::atomic<bool> cancel{false};
  IngestOptions opts;
  opts.cancel = &cancel;
  opts.progress = [&](uint64_t, uint64_t) { cancel = true; };
  auto m = IngestRawFile(path, *store_, opts);
  EXPECT_EQ(m.status().code(), Code::kCancelled) << m.status().ToString();

  IngestOptions pre;
  std::atomic<bool> already{true};
  pre.cancel = &already;
  IngestStats stats;
  EXPECT_EQ(IngestRawFile(path, *store_, pre, &stats).status().code(), Code::kCancelled);
  EXPECT_EQ(stats.bytes_read, 0u);  // untouched on failure
}

TEST_F(IngestTest, FailedPutFailsIngest) {
  std::string path = MakeSparseImage();
  FaultyChunkStore faulty(*store_);
  faulty.FailPutNumber(2, ResourceExhausted("DiskFull", "no space left for chunk"));
  auto m = IngestRawFile(path, faulty, IngestOptions{});
  ASSERT_EQ(m.status().code(), Code::kResourceExhausted) << m.status().ToString();
  EXPECT_EQ(m.status().reason(), "DiskFull");
  EXPECT_NE(m.status().message().find("no space left"), std::string::npos);
  EXPECT_NE(m.status().message().find("chunk "), std::string::npos);
  EXPECT_EQ(faulty.syncs(), 0);  // a failed ingest commits nothing
}

TEST_F(IngestTest, SyncsStoreAfterAllPutsAndReportsSyncFailure) {
  std::string path = MakeSparseImage();
  FaultyChunkStore faulty(*store_);
  auto m = IngestRawFile(path, faulty, IngestOptions{});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(faulty.puts(), 4);
  EXPECT_EQ(faulty.syncs(), 1);
  EXPECT_FALSE(faulty.put_after_sync());

  FaultyChunkStore failing_sync(*store_);
  failing_sync.FailSync(Internal("fsync failed"));
  EXPECT_EQ(IngestRawFile(path, failing_sync, IngestOptions{}).status().code(), Code::kInternal);
}

// Whether [offset, offset + len) of the file holds no data (SEEK_DATA finds
// the next data at or past its end).
bool IsHole(int fd, uint64_t offset, uint64_t len) {
  off_t data = ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA);
  if (data < 0) return errno == ENXIO;
  return static_cast<uint64_t>(data) >= offset + len;
}

TEST_F(IngestTest, MaterializeLeavesZeroBlocksInsideChunksAsHoles) {
  constexpr uint64_t kBlock = 4096;
  // Four chunks and a short fifth ending mid-block:
  //   chunk 0: every third 4 KiB block data, one block whose only non-zero
  //            byte is its last, one whose only one is its first
  //   chunk 1: all data but two zero blocks in its middle
  //   chunk 2: written zeros only (a zero chunk inside a data extent)
  //   chunk 3: a hole but for one data block at its end
  //   chunk 4: a zero block, a data block, then 1000 bytes of data at EOF
  const uint64_t size = 4 * kChunk + 2 * kBlock + 1000;
  std::vector<uint8_t> image(size, 0);
  auto fill = [&](uint64_t offset, uint64_t len, uint64_t seed) {
    std::vector<uint8_t> r = RandomBytes(len, seed);
    for (uint64_t i = 0; i < len; ++i) image[offset + i] = static_cast<uint8_t>(r[i] | 1);
  };
  for (uint64_t b = 0; b < kChunk / kBlock; b += 3) fill(b * kBlock, kBlock, 100 + b);
  image[4 * kBlock + kBlock - 1] = 7;
  image[5 * kBlock] = 9;
  fill(kChunk, kChunk, 200);
  std::fill(image.begin() + kChunk + 500 * kBlock, image.begin() + kChunk + 502 * kBlock, 0);
  fill(4 * kChunk - kBlock, kBlock, 300);
  fill(4 * kChunk + kBlock, kBlock, 301);
  fill(size - 1000, 1000, 302);

  const std::string path = dir_.Sub("mixed.raw");
  SparseFile f(path, size);
  f.Write(0, std::vector<uint8_t>(image.begin(), image.begin() + 3 * kChunk));  // zeros written too
  f.Write(4 * kChunk - kBlock, std::vector<uint8_t>(image.begin() + 4 * kChunk - kBlock, image.end()));
  f.Close();
  auto m = IngestRawFile(path, *store_, IngestOptions{});
  ASSERT_TRUE(m.ok()) << m.status().ToString();

  const std::string out = dir_.Sub("mixed.out");
  ASSERT_TRUE(MaterializeRawFile(*m, *store_, out, MaterializeOptions{}).ok());
  ASSERT_EQ(std::filesystem::file_size(out), size);
  EXPECT_EQ(ReadRange(out, 0, size), image);

  UniqueFd fd(::open(out.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  uint64_t data_blocks = 0;
  for (uint64_t offset = 0; offset < size; offset += kBlock) {
    const uint64_t len = std::min(kBlock, size - offset);
    const bool zero =
        std::all_of(image.begin() + offset, image.begin() + offset + len, [](uint8_t b) { return b == 0; });
    if (zero) {
      EXPECT_TRUE(IsHole(fd.get(), offset, len)) << "zero block at " << offset << " was written";
    } else {
      ++data_blocks;
      EXPECT_EQ(::lseek(fd.get(), static_cast<off_t>(offset), SEEK_DATA), static_cast<off_t>(offset))
          << "data block at " << offset << " is a hole";
    }
  }
  // Allocated: the data blocks, and at most a few blocks of extent tree.
  EXPECT_GE(AllocatedBytes(out), data_blocks * kBlock);
  EXPECT_LE(AllocatedBytes(out), data_blocks * kBlock + 16 * kBlock);
  EXPECT_LT(data_blocks * kBlock, m->DataBytes() / 2);
}

// The CRC-64 a materialize reports is the CRC-64 of the file it wrote,
// computed here independently (the table implementation over every byte
// read back), whatever the layout: no data at all, holes inside chunks and
// between them, data at the very last byte, sizes that are not a multiple
// of the chunk or of 4 KiB.
TEST_F(IngestTest, MaterializeReportsTheCrc64OfTheFileItWrote) {
  constexpr uint64_t kBlock = 4096;
  struct Layout {
    const char* name;
    uint64_t size;
    std::function<void(std::vector<uint8_t>&)> fill;
  };
  auto put = [](std::vector<uint8_t>& image, uint64_t offset, uint64_t len, uint64_t seed) {
    const std::vector<uint8_t> bytes = RandomBytes(len, seed);
    std::copy(bytes.begin(), bytes.end(), image.begin() + static_cast<ptrdiff_t>(offset));
  };
  const std::vector<Layout> layouts = {
      {"all zero", 3 * kChunk + 100, [](std::vector<uint8_t>&) {}},
      {"holes inside chunks", 3 * kChunk,
       [&](std::vector<uint8_t>& image) {
         for (uint64_t b = 0; b < kChunk / kBlock; b += 5) put(image, b * kBlock, kBlock, 10 + b);
         image[7 * kBlock + 3] = 1;                                 // a block with one byte
         put(image, 2 * kChunk + 9 * kBlock + 17, 3 * kBlock, 11);  // unaligned, across blocks
       }},
      {"data at the last byte", 5 * kChunk + 777, [](std::vector<uint8_t>& image) { image.back() = 0x5a; }},
      {"size not a multiple of the chunk", 2 * kChunk + 3 * kBlock + 5,
       [&](std::vector<uint8_t>& image) {
         put(image, 0, kChunk, 12);
         put(image, 2 * kChunk + kBlock, 2 * kBlock + 5, 13);
       }},
      {"one byte", 1, [](std::vector<uint8_t>& image) { image[0] = 0xff; }},
  };
  for (const Layout& layout : layouts) {
    SCOPED_TRACE(layout.name);
    std::vector<uint8_t> image(layout.size, 0);
    layout.fill(image);
    const std::string path = dir_.Sub("crc.raw");
    SparseFile f(path, layout.size);
    f.Write(0, image);  // zeros written too: the ingest finds them
    f.Close();
    auto m = IngestRawFile(path, *store_, IngestOptions{});
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    for (bool drop_cache : {false, true}) {
      const std::string out = dir_.Sub("crc.out");
      uint64_t crc = 12345;
      MaterializeOptions opts;
      opts.crc64 = &crc;
      opts.drop_cache = drop_cache;
      ASSERT_TRUE(MaterializeRawFile(*m, *store_, out, opts).ok());
      const std::vector<uint8_t> written = ReadRange(out, 0, layout.size);
      ASSERT_EQ(written, image);
      EXPECT_EQ(crc, crc64_internal::UpdateTable(0, written));
      EXPECT_EQ(crc, Crc64(image));
      std::filesystem::remove(out);
    }
  }
}

// A block the image holds twice is written once; both entries carry the
// digest of that object, so an export reads either by it.
TEST_F(IngestTest, RepeatedBlocksCarryTheDigestOfTheObjectWritten) {
  const std::vector<uint8_t> block = RandomBytes(kChunk, 40);
  const std::string path = dir_.Sub("repeated.raw");
  SparseFile f(path, 5 * kChunk);
  f.Write(0, block);
  f.Write(2 * kChunk, block);
  f.Write(4 * kChunk, block);
  f.Close();
  IngestOptions one_at_a_time;  // so the later copies find the first stored
  one_at_a_time.threads = 1;
  one_at_a_time.max_in_flight = 1;
  IngestStats stats;
  auto m = IngestRawFile(path, *store_, one_at_a_time, &stats);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(stats.chunks_stored, 1u);
  EXPECT_EQ(stats.chunks_deduped, 2u);
  std::vector<ChunkEntry> data;
  m->ForEachData([&](uint64_t, const ChunkEntry& e) { data.push_back(e); });
  ASSERT_EQ(data.size(), 3u);
  for (const ChunkEntry& e : data) {
    ASSERT_TRUE(e.object_digest.has_value());
    EXPECT_EQ(*e.object_digest, Sha256::Of(*store_->GetStored(e.id)));
  }
  // Already stored before this ingest: nothing vouches for the object.
  auto again = IngestRawFile(path, *store_, IngestOptions{});
  ASSERT_TRUE(again.ok());
  again->ForEachData([&](uint64_t, const ChunkEntry& e) { EXPECT_FALSE(e.object_digest.has_value()); });
}

TEST_F(IngestTest, EmptyFileRoundTrips) {
  std::string path = dir_.Sub("empty.raw");
  SparseFile(path, 0).Close();
  auto m = IngestRawFile(path, *store_, IngestOptions{});
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->entries.empty());
  std::string out = dir_.Sub("empty.out");
  uint64_t crc = 1;
  MaterializeOptions opts;
  opts.crc64 = &crc;
  ASSERT_TRUE(MaterializeRawFile(*m, *store_, out, opts).ok());
  EXPECT_EQ(std::filesystem::file_size(out), 0u);
  EXPECT_EQ(crc, 0u);
}

TEST_F(IngestTest, MissingSourceIsNotFound) {
  EXPECT_EQ(IngestRawFile(dir_.Sub("nope.raw"), *store_, IngestOptions{}).status().code(), Code::kNotFound);
}

TEST_F(IngestTest, MaterializeFailuresLeaveNoFile) {
  std::string path = MakeSparseImage();
  auto m = IngestRawFile(path, *store_, IngestOptions{});
  ASSERT_TRUE(m.ok());
  const std::string out = dir_.Sub("out.raw");
  auto no_leftovers = [&] {
    EXPECT_FALSE(std::filesystem::exists(out));
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      EXPECT_EQ(e.path().filename().string().find("out.raw"), std::string::npos) << e.path();
    }
  };

  FaultyChunkStore faulty(*store_);
  faulty.FailGets(DataLoss("chunk corrupt on disk"));
  Status st = MaterializeRawFile(*m, faulty, out, MaterializeOptions{});
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("chunk corrupt on disk"), std::string::npos);
  no_leftovers();

  // A chunk missing from the store.
  const ChunkId chunk10 = m->entries[4].id;  // after a hole, 1, 2 and the run 3-9
  ASSERT_TRUE(store_->Delete(chunk10).ok());
  st = MaterializeRawFile(*m, *store_, out, MaterializeOptions{});
  EXPECT_EQ(st.code(), Code::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find(ToHex(chunk10)), std::string::npos) << st.message();
  no_leftovers();

  std::atomic<bool> cancel{true};
  MaterializeOptions mopts;
  mopts.cancel = &cancel;
  EXPECT_EQ(MaterializeRawFile(*m, *store_, out, mopts).code(), Code::kCancelled);
  no_leftovers();

  Manifest bad = *m;
  bad.entries.pop_back();
  EXPECT_EQ(MaterializeRawFile(bad, *store_, out, MaterializeOptions{}).code(), Code::kInvalidArgument);
  no_leftovers();
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

TEST(IngestScopeTest, ScopedIngestGivesIdsOfScopeThenPlaintextAndDedupsOnlyInItsScope) {
  testing_util::ScratchDir dir;
  auto store = FsChunkStore::Open(dir.Sub("chunks"));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::vector<uint8_t> data = testing_util::RandomBytes(kDefaultChunkSize, 41);
  const std::string path = dir.Sub("one.raw");
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  }
  const ChunkScope a = AccountChunkScope("account-a");
  const ChunkScope b = AccountChunkScope("account-b");
  std::string joined(a.begin(), a.end());
  joined.append(data.begin(), data.end());

  IngestOptions in_a;
  in_a.scope = a;
  IngestStats stats;
  auto m = IngestRawFile(path, **store, in_a, &stats);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ASSERT_EQ(m->entries.size(), 1u);
  EXPECT_EQ(m->entries[0].id, Sha256::Of(std::string_view(joined)));
  EXPECT_EQ(stats.chunks_stored, 1u);

  // Again in A: deduplicated.
  stats = {};
  ASSERT_TRUE(IngestRawFile(path, **store, in_a, &stats).ok());
  EXPECT_EQ(stats.chunks_deduped, 1u);
  EXPECT_EQ(stats.chunks_stored, 0u);

  // In B and unscoped: stored again, each under its own id.
  IngestOptions in_b;
  in_b.scope = b;
  stats = {};
  auto mb = IngestRawFile(path, **store, in_b, &stats);
  ASSERT_TRUE(mb.ok()) << mb.status().ToString();
  EXPECT_EQ(stats.chunks_stored, 1u);
  EXPECT_EQ(stats.chunks_deduped, 0u);
  EXPECT_EQ(mb->entries[0].id, ComputeChunkId(&b, data));
  stats = {};
  auto mu = IngestRawFile(path, **store, IngestOptions{}, &stats);
  ASSERT_TRUE(mu.ok()) << mu.status().ToString();
  EXPECT_EQ(stats.chunks_stored, 1u);
  EXPECT_EQ(mu->entries[0].id, Sha256::Of(std::span<const uint8_t>(data)));
  EXPECT_EQ((*store)->Stats()->chunks, 3u);

  // Each image materializes to its bytes, verified with its scope.
  for (const Manifest* manifest : {&*m, &*mb, &*mu}) {
    const std::string out = dir.Sub("out.raw");
    ASSERT_TRUE(MaterializeRawFile(*manifest, **store, out, MaterializeOptions{}).ok());
    std::ifstream f(out, std::ios::binary);
    std::vector<uint8_t> back((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(back, data);
  }
}

}  // namespace
}  // namespace ferry
