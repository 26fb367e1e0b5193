#include "store/fs_chunk_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "store/chunk_format.h"
#include "store/manifest.h"
#include "store_test_util.h"

namespace ferry {
namespace {

using testing_util::CompressibleBytes;
using testing_util::RandomBytes;
using testing_util::ScratchDir;

std::unique_ptr<FsChunkStore> OpenStore(const std::string& root) {
  auto store = FsChunkStore::Open(root);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(store).value();
}

uint64_t FileSize(const std::string& path) { return std::filesystem::file_size(path); }

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x40);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

TEST(FsChunkStoreTest, PutGetRoundTrip) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = CompressibleBytes(1 << 20, 1);
  ChunkId id = Sha256::Of(data);

  bool newly = false;
  ASSERT_TRUE(store->Put(id, data, &newly).ok());
  EXPECT_TRUE(newly);
  ASSERT_TRUE(store->Sync().ok());

  auto got = store->Get(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, data);
  auto has = store->Has(id);
  ASSERT_TRUE(has.ok());
  EXPECT_TRUE(*has);
  // Laid out as <root>/<first 4 hex>/<64 hex>.
  std::string hex = ToHex(id);
  EXPECT_EQ(store->ChunkPath(id), dir.path() + "/" + hex.substr(0, 4) + "/" + hex);
  EXPECT_TRUE(std::filesystem::exists(store->ChunkPath(id)));
}

TEST(FsChunkStoreTest, EmptyChunkRoundTrips) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> empty;
  ChunkId id = Sha256::Of(empty);
  ASSERT_TRUE(store->Put(id, empty).ok());
  auto got = store->Get(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->empty());
}

TEST(FsChunkStoreTest, SecondPutIsDeduplicated) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = RandomBytes(100000, 2);
  ChunkId id = Sha256::Of(data);
  bool newly = false;
  ASSERT_TRUE(store->Put(id, data, &newly).ok());
  EXPECT_TRUE(newly);
  auto mtime_before = std::filesystem::last_write_time(store->ChunkPath(id));
  ASSERT_TRUE(store->Put(id, data, &newly).ok());
  EXPECT_FALSE(newly);
  EXPECT_EQ(std::filesystem::last_write_time(store->ChunkPath(id)), mtime_before);
  auto stats = store->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->chunks, 1u);
}

TEST(FsChunkStoreTest, PutWithWrongIdIsDataLoss) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = RandomBytes(4096, 3);
  ChunkId wrong = Sha256::Of(std::string_view("something else"));
  bool newly = true;
  Status st = store->Put(wrong, data, &newly);
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_FALSE(newly);
  EXPECT_NE(st.message().find(ToHex(wrong)), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(ToHex(Sha256::Of(data))), std::string::npos) << st.message();
  EXPECT_FALSE(*store->Has(wrong));
}

TEST(FsChunkStoreTest, PutHashedStoresWithoutRehashingAndGetStillVerifies) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = CompressibleBytes(1 << 20, 7);
  ChunkId id = Sha256::Of(data);
  bool newly = false;
  ASSERT_TRUE(store->PutHashed(id, data, &newly).ok());
  EXPECT_TRUE(newly);
  auto got = store->Get(id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, data);

  // PutHashed trusts its caller; a caller that lied is still caught on read.
  std::vector<uint8_t> other = CompressibleBytes(1 << 20, 8);
  ChunkId wrong = Sha256::Of(std::string_view("not these bytes"));
  ASSERT_TRUE(store->PutHashed(wrong, other).ok());
  auto bad = store->Get(wrong);
  EXPECT_EQ(bad.status().code(), Code::kDataLoss) << bad.status().ToString();
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

TEST(FsChunkStoreTest, GetStoredPutStoredMovesObjectsByteForByte) {
  ScratchDir src_dir, dst_dir;
  auto src = OpenStore(src_dir.path());
  auto dst = OpenStore(dst_dir.path());
  // One chunk stored zstd, one stored raw: both travel unchanged.
  for (const std::vector<uint8_t>& data : {CompressibleBytes(1 << 20, 3), RandomBytes(300000, 4)}) {
    ChunkId id = Sha256::Of(data);
    ASSERT_TRUE(src->Put(id, data).ok());
    auto object = src->GetStored(id);
    ASSERT_TRUE(object.ok()) << object.status().ToString();
    EXPECT_EQ(*object, ReadFile(src->ChunkPath(id)));

    bool newly = false;
    Status st = dst->PutStored(id, *object, &newly);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(newly);
    EXPECT_EQ(ReadFile(dst->ChunkPath(id)), ReadFile(src->ChunkPath(id)));
    auto got = dst->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, data);

    ASSERT_TRUE(dst->PutStored(id, *object, &newly).ok());
    EXPECT_FALSE(newly);
  }
  ASSERT_TRUE(dst->Sync().ok());
  EXPECT_EQ(CountEntries(dst_dir.path() + "/tmp"), 0u);
}

TEST(FsChunkStoreTest, ABatchsChunksHaveNoNameUntilItCommitsThenAreByteForByte) {
  ScratchDir src_dir, dst_dir;
  auto src = OpenStore(src_dir.path());
  auto dst = OpenStore(dst_dir.path());
  std::vector<std::vector<uint8_t>> datas = {CompressibleBytes(1 << 20, 11), RandomBytes(300000, 12),
                                             RandomBytes(4096 * 3, 13)};
  std::unique_ptr<ChunkWriteBatch> batch = dst->NewWriteBatch();
  std::vector<ChunkId> ids;
  for (size_t i = 0; i < datas.size(); ++i) {
    ChunkId id = Sha256::Of(datas[i]);
    ids.push_back(id);
    ASSERT_TRUE(src->Put(id, datas[i]).ok());
    Result<std::vector<uint8_t>> object = src->GetStored(id);
    ASSERT_TRUE(object.ok());
    bool newly = false;
    // Both ways in: decoded and hashed, and on the object's digest.
    Status st = i % 2 == 0 ? batch->PutStored(id, *object, &newly)
                           : batch->PutStoredWithDigest(id, *object, ComputeObjectDigest(*object), &newly);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(newly);
  }
  EXPECT_EQ(batch->pending(), 3u);
  EXPECT_EQ(CountEntries(dst_dir.path() + "/tmp"), 3u) << "written, in temp files";
  for (const ChunkId& id : ids) {
    EXPECT_FALSE(*dst->Has(id));
    EXPECT_FALSE(std::filesystem::exists(dst->ChunkPath(id)));
  }

  ASSERT_TRUE(batch->Commit().ok());
  ASSERT_TRUE(dst->Sync().ok());
  EXPECT_EQ(batch->pending(), 0u);
  EXPECT_EQ(CountEntries(dst_dir.path() + "/tmp"), 0u);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(ReadFile(dst->ChunkPath(ids[i])), ReadFile(src->ChunkPath(ids[i])));
    Result<std::vector<uint8_t>> got = dst->Get(ids[i]);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, datas[i]);
  }

  // A chunk the store holds is not written again.
  bool newly = true;
  ASSERT_TRUE(batch->PutStored(ids[0], *src->GetStored(ids[0]), &newly).ok());
  EXPECT_FALSE(newly);
  EXPECT_EQ(batch->pending(), 0u);
}

TEST(FsChunkStoreTest, ABatchVerifiesBeforeItWritesAndDropsWhatItDidNotCommit) {
  ScratchDir src_dir, dst_dir;
  auto src = OpenStore(src_dir.path());
  auto dst = OpenStore(dst_dir.path());
  const std::vector<uint8_t> data = RandomBytes(200000, 21);
  const ChunkId id = Sha256::Of(data);
  ASSERT_TRUE(src->Put(id, data).ok());
  std::vector<uint8_t> object = *src->GetStored(id);
  {
    std::unique_ptr<ChunkWriteBatch> batch = dst->NewWriteBatch();
    std::vector<uint8_t> flipped = object;
    flipped.back() ^= 1;
    bool newly = true;
    EXPECT_EQ(batch->PutStored(id, flipped, &newly).code(), Code::kDataLoss);
    EXPECT_FALSE(newly);
    EXPECT_EQ(batch->PutStoredWithDigest(id, object, Sha256::Of(data), &newly).code(), Code::kDataLoss);
    EXPECT_EQ(batch->pending(), 0u);

    ASSERT_TRUE(batch->PutStored(id, object, &newly).ok());
    EXPECT_EQ(batch->pending(), 1u);
    EXPECT_EQ(CountEntries(dst_dir.path() + "/tmp"), 1u);
  }  // destroyed without a commit
  EXPECT_EQ(CountEntries(dst_dir.path() + "/tmp"), 0u);
  EXPECT_FALSE(*dst->Has(id));
}

TEST(FsChunkStoreTest, ABatchHoldsABoundedNumberOfWrittenChunks) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::unique_ptr<ChunkWriteBatch> batch = store->NewWriteBatch();
  size_t most = 0;
  std::vector<ChunkId> ids;
  for (uint64_t seed = 0; seed < 150; ++seed) {
    const std::vector<uint8_t> data = RandomBytes(1000, 300 + seed);
    std::vector<uint8_t> object = EncodeChunkObject(data, /*compress=*/false);
    ids.push_back(Sha256::Of(data));
    ASSERT_TRUE(batch->PutStored(ids.back(), object, nullptr).ok());
    most = std::max(most, batch->pending());
  }
  // Open files are bounded whatever the caller does: past its bound the batch commits.
  EXPECT_LT(most, 150u);
  EXPECT_LE(most, 64u);
  EXPECT_LE(CountEntries(dir.path() + "/tmp"), most);
  ASSERT_TRUE(batch->Commit().ok());
  for (const ChunkId& id : ids) EXPECT_TRUE(*store->Has(id));
}

// A zstd object of exactly `total` bytes: a prefix of random 4-bit values,
// which zstd codes in about half a byte each so that its length tunes the
// frame's size almost byte by byte, ahead of a zero run zstd shrinks to a few
// bytes. A few zero run lengths are tried for the sizes a step skips.
std::vector<uint8_t> ZstdObjectOfSize(size_t total, uint64_t seed, std::vector<uint8_t>* plaintext) {
  for (size_t zero_run : {size_t{0}, size_t{64}, size_t{8192}, size_t{8193}}) {
    for (size_t prefix = 0; prefix <= 4 * total; ++prefix) {
      std::vector<uint8_t> data = RandomBytes(prefix, seed);
      for (uint8_t& b : data) b &= 0x0f;
      data.resize(prefix + zero_run, 0);
      std::vector<uint8_t> object = EncodeChunkObject(data, /*compress=*/true);
      if (object.size() > total + 64) break;
      if (object.size() == total && object.size() < kChunkHeaderSize + data.size()) {
        *plaintext = std::move(data);
        return object;
      }
    }
  }
  ADD_FAILURE() << "no zstd object of " << total << " bytes";
  return {};
}

TEST(FsChunkStoreTest, PutStoredKeepsEveryByteWhateverTheObjectsSize) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  struct Case {
    std::string name;
    std::vector<uint8_t> plaintext;
    std::vector<uint8_t> object;
  };
  std::vector<Case> cases;
  uint64_t seed = 100;
  // Whole blocks only, one byte short of a block (no O_DIRECT part), one
  // byte into the next block (a one-byte tail), far below a block.
  for (size_t total : {size_t{4096}, size_t{4095}, size_t{4097}, size_t{100}}) {
    std::vector<uint8_t> raw = RandomBytes(total - kChunkHeaderSize, ++seed);
    std::vector<uint8_t> raw_object = EncodeChunkObject(raw, /*compress=*/false);
    cases.push_back({"raw " + std::to_string(total), raw, raw_object});
    std::vector<uint8_t> plaintext;
    std::vector<uint8_t> zstd_object = ZstdObjectOfSize(total, ++seed, &plaintext);
    ASSERT_EQ(zstd_object.size(), total);
    cases.push_back({"zstd " + std::to_string(total), plaintext, zstd_object});
  }
  std::vector<uint8_t> full_raw = RandomBytes(kDefaultChunkSize, ++seed);
  cases.push_back({"raw full chunk", full_raw, EncodeChunkObject(full_raw, /*compress=*/false)});
  std::vector<uint8_t> full_zstd = CompressibleBytes(kDefaultChunkSize, ++seed);
  cases.push_back({"zstd full chunk", full_zstd, EncodeChunkObject(full_zstd, /*compress=*/true)});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name + ", object of " + std::to_string(c.object.size()) + " bytes");
    auto header = CheckChunkObject(c.object);
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    EXPECT_EQ(header->codec, c.name.starts_with("zstd") ? ChunkCodec::kZstd : ChunkCodec::kRaw);
    ChunkId id = Sha256::Of(c.plaintext);
    bool newly = false;
    Status st = store->PutStored(id, c.object, &newly);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(newly);
    EXPECT_EQ(FileSize(store->ChunkPath(id)), c.object.size());
    auto stored = store->GetStored(id);
    ASSERT_TRUE(stored.ok()) << stored.status().ToString();
    EXPECT_TRUE(*stored == c.object);
    auto got = store->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(*got == c.plaintext);
  }
  ASSERT_TRUE(store->Sync().ok());
  EXPECT_EQ(CountEntries(dir.path() + "/tmp"), 0u);
}

TEST(FsChunkStoreTest, GetStoredChecksTheHeaderButNotThePayload) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = RandomBytes(4096, 5);
  ChunkId id = Sha256::Of(data);
  EXPECT_EQ(store->GetStored(id).status().code(), Code::kNotFound);
  ASSERT_TRUE(store->Put(id, data).ok());
  FlipByte(store->ChunkPath(id), kChunkHeaderSize + 10);
  auto object = store->GetStored(id);
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  EXPECT_EQ(object->size(), kChunkHeaderSize + data.size());
  FlipByte(store->ChunkPath(id), 0);  // the magic
  EXPECT_EQ(store->GetStored(id).status().code(), Code::kDataLoss);
}

TEST(FsChunkStoreTest, OpenStoredIsTheFileOfTheObjectGetStoredReadsWithTheSameChecks) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = RandomBytes(100000, 6);
  ChunkId id = Sha256::Of(data);
  EXPECT_EQ(store->OpenStored(id).status().code(), Code::kNotFound);
  ASSERT_TRUE(store->Put(id, data).ok());
  auto object = store->GetStored(id);
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  {
    auto file = store->OpenStored(id);
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    ASSERT_TRUE(file->has_value());
    ASSERT_EQ((*file)->size, object->size());
    std::vector<uint8_t> read((*file)->size);
    ASSERT_EQ(::pread((*file)->fd.get(), read.data(), read.size(), 0), static_cast<ssize_t>(read.size()));
    EXPECT_TRUE(read == *object);
  }
  // A file cut short no longer matches its header's length.
  ASSERT_EQ(::truncate(store->ChunkPath(id).c_str(), static_cast<off_t>(object->size() - 1)), 0);
  EXPECT_EQ(store->OpenStored(id).status().code(), Code::kDataLoss);
  EXPECT_EQ(store->GetStored(id).status().code(), Code::kDataLoss);
  ASSERT_EQ(::truncate(store->ChunkPath(id).c_str(), 10), 0);  // shorter than a header
  EXPECT_EQ(store->OpenStored(id).status().code(), Code::kDataLoss);
}

TEST(FsChunkStoreTest, PutStoredOfCorruptObjectIsDataLossAndStoresNothing) {
  ScratchDir src_dir, dst_dir;
  auto src = OpenStore(src_dir.path());
  auto dst = OpenStore(dst_dir.path());
  for (const std::vector<uint8_t>& data : {CompressibleBytes(1 << 20, 6), RandomBytes(65536, 7)}) {
    ChunkId id = Sha256::Of(data);
    ASSERT_TRUE(src->Put(id, data).ok());
    auto object = src->GetStored(id);
    ASSERT_TRUE(object.ok()) << object.status().ToString();

    std::vector<uint8_t> flipped = *object;
    flipped[flipped.size() - 1] ^= 0x40;
    bool newly = true;
    Status st = dst->PutStored(id, flipped, &newly);
    EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
    EXPECT_NE(st.message().find(ToHex(id)), std::string::npos) << st.ToString();
    EXPECT_FALSE(newly);

    std::vector<uint8_t> truncated(object->begin(), object->end() - 1);
    EXPECT_EQ(dst->PutStored(id, truncated).code(), Code::kDataLoss);
    std::vector<uint8_t> bad_header = *object;
    bad_header[4] = 9;  // version
    EXPECT_EQ(dst->PutStored(id, bad_header).code(), Code::kDataLoss);

    auto has = dst->Has(id);
    ASSERT_TRUE(has.ok());
    EXPECT_FALSE(*has);
  }
  EXPECT_EQ(CountEntries(dst_dir.path() + "/tmp"), 0u);
}

TEST(FsChunkStoreTest, PutStoredUnderWrongIdIsDataLossNamingBothDigests) {
  ScratchDir src_dir, dst_dir;
  auto src = OpenStore(src_dir.path());
  auto dst = OpenStore(dst_dir.path());
  std::vector<uint8_t> data = CompressibleBytes(200000, 8);
  ChunkId id = Sha256::Of(data);
  ASSERT_TRUE(src->Put(id, data).ok());
  auto object = src->GetStored(id);
  ASSERT_TRUE(object.ok());
  ChunkId wrong = Sha256::Of(std::string_view("another chunk"));
  Status st = dst->PutStored(wrong, *object);
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find(ToHex(id)), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find(ToHex(wrong)), std::string::npos) << st.ToString();
  EXPECT_FALSE(*dst->Has(wrong));
  EXPECT_FALSE(*dst->Has(id));
}

// The object digest a manifest carries (chunk_format.md, "Object digest"):
// PutHashedWithDigest reports it for the bytes it wrote, and a store given it
// keeps an object it matches without decoding it.
TEST(FsChunkStoreTest, PutHashedWithDigestReportsTheDigestOfTheObjectWritten) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  for (const std::vector<uint8_t>& data : {CompressibleBytes(1 << 20, 20), RandomBytes(70000, 21)}) {
    ChunkId id = Sha256::Of(data);
    bool newly = false;
    std::optional<Digest256> digest;
    ASSERT_TRUE(store->PutHashedWithDigest(nullptr, id, data, &newly, &digest).ok());
    EXPECT_TRUE(newly);
    ASSERT_TRUE(digest.has_value());
    EXPECT_EQ(*digest, Sha256::Of(ReadFile(store->ChunkPath(id))));
    // There already: not written by this call, so not vouched for.
    ASSERT_TRUE(store->PutHashedWithDigest(nullptr, id, data, &newly, &digest).ok());
    EXPECT_FALSE(newly);
    EXPECT_FALSE(digest.has_value());
  }
}

TEST(FsChunkStoreTest, PutStoredWithDigestKeepsTheObjectAsItCame) {
  ScratchDir src_dir, dst_dir;
  auto src = OpenStore(src_dir.path());
  auto dst = OpenStore(dst_dir.path());
  const ChunkScope scope = AccountChunkScope("1234567890");
  struct Case {
    const ChunkScope* scope;  // null: a version 1 object, else version 2
    std::vector<uint8_t> data;
  };
  for (const Case& c : {Case{nullptr, CompressibleBytes(1 << 20, 22)}, Case{nullptr, RandomBytes(9000, 23)},
                        Case{&scope, CompressibleBytes(300000, 24)}}) {
    ChunkId id = ComputeChunkId(c.scope, c.data);
    std::optional<Digest256> digest;
    ASSERT_TRUE(src->PutHashedWithDigest(c.scope, id, c.data, nullptr, &digest).ok());
    ASSERT_TRUE(digest.has_value());
    auto object = src->GetStored(id);
    ASSERT_TRUE(object.ok()) << object.status().ToString();
    bool newly = false;
    Status st = dst->PutStoredWithDigest(id, *object, *digest, &newly);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(newly);
    EXPECT_EQ(ReadFile(dst->ChunkPath(id)), *object);
    auto got = dst->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, c.data);
    ASSERT_TRUE(dst->PutStoredWithDigest(id, *object, *digest, &newly).ok());
    EXPECT_FALSE(newly);
  }
  ASSERT_TRUE(dst->Sync().ok());
  EXPECT_EQ(CountEntries(dst_dir.path() + "/tmp"), 0u);
}

TEST(FsChunkStoreTest, PutStoredWithDigestRejectsAFlippedOrSubstitutedObject) {
  ScratchDir src_dir, dst_dir;
  auto src = OpenStore(src_dir.path());
  auto dst = OpenStore(dst_dir.path());
  std::vector<uint8_t> data = CompressibleBytes(1 << 20, 25);
  std::vector<uint8_t> other = CompressibleBytes(1 << 20, 26);  // same length
  ChunkId id = Sha256::Of(data);
  ChunkId other_id = Sha256::Of(other);
  std::optional<Digest256> digest, other_digest;
  ASSERT_TRUE(src->PutHashedWithDigest(nullptr, id, data, nullptr, &digest).ok());
  ASSERT_TRUE(src->PutHashedWithDigest(nullptr, other_id, other, nullptr, &other_digest).ok());
  auto object = src->GetStored(id);
  auto other_object = src->GetStored(other_id);
  ASSERT_TRUE(object.ok() && other_object.ok());

  // Every single flipped byte, header or payload, fails the digest.
  for (size_t i : {size_t{0}, size_t{5}, size_t{9}, kChunkHeaderSize, object->size() / 2, object->size() - 1}) {
    std::vector<uint8_t> flipped = *object;
    flipped[i] ^= 0x01;
    bool newly = true;
    Status st = dst->PutStoredWithDigest(id, flipped, *digest, &newly);
    EXPECT_EQ(st.code(), Code::kDataLoss) << "byte " << i << ": " << st.ToString();
    EXPECT_FALSE(newly);
  }
  // Another chunk's valid object sent under this id: its digest is not the
  // one the manifest names.
  Status st = dst->PutStoredWithDigest(id, *other_object, *digest);
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find(ToHex(id)), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find(ToHex(*digest)), std::string::npos) << st.ToString();
  EXPECT_NE(st.message().find(ToHex(*other_digest)), std::string::npos) << st.ToString();
  EXPECT_FALSE(*dst->Has(id));
  EXPECT_EQ(CountEntries(dst_dir.path() + "/tmp"), 0u);
}

TEST(FsChunkStoreTest, AnObjectStoredOnItsDigestIsStillVerifiedOnEveryRead) {
  // The store takes the digest on trust: binding it to the id is the
  // authenticated manifest's job. Were a wrong pair ever given (the other
  // chunk's object with that object's own digest), the object is kept
  // without decoding (even a payload that does not decode), and every read
  // of the plaintext still refuses it.
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = CompressibleBytes(100000, 27);
  ChunkId id = Sha256::Of(data);
  std::vector<uint8_t> impostor = EncodeChunkObject(CompressibleBytes(100000, 28), /*compress=*/true);
  ASSERT_EQ(CheckChunkObject(impostor)->codec, ChunkCodec::kZstd);
  impostor[impostor.size() - 3] ^= 0x55;  // nor does it decode any more
  ASSERT_TRUE(store->PutStoredWithDigest(id, impostor, ComputeObjectDigest(impostor)).ok());
  EXPECT_EQ(ReadFile(store->ChunkPath(id)), impostor);
  EXPECT_EQ(store->Get(id).status().code(), Code::kDataLoss);
  // Through PutStored (no digest) the same object is refused.
  ScratchDir other_dir;
  auto other = OpenStore(other_dir.path());
  EXPECT_EQ(other->PutStored(id, impostor).code(), Code::kDataLoss);
}

// An export reads with the object digest its manifest carries: the object
// is checked by that digest instead of hashing the plaintext, and an object
// that does not match it (encoded otherwise, or corrupt) is checked against
// the id as Get does, so corruption is still DataLoss.
TEST(FsChunkStoreTest, GetWithObjectDigestVerifiesTheObjectOrFallsBackToTheId) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  const ChunkScope scope = AccountChunkScope("1234567890");
  struct Case {
    const ChunkScope* scope;
    std::vector<uint8_t> data;
  };
  for (const Case& c : {Case{nullptr, CompressibleBytes(1 << 20, 30)}, Case{nullptr, RandomBytes(70000, 31)},
                        Case{&scope, CompressibleBytes(300000, 32)}, Case{&scope, RandomBytes(5000, 33)}}) {
    const ChunkId id = ComputeChunkId(c.scope, c.data);
    std::optional<Digest256> digest;
    ASSERT_TRUE(store->PutHashedWithDigest(c.scope, id, c.data, nullptr, &digest).ok());
    ASSERT_TRUE(digest.has_value());
    Result<std::vector<uint8_t>> got = store->GetWithObjectDigest(id, *digest);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, c.data);
    // A digest the object does not have: verified by its id instead.
    got = store->GetWithObjectDigest(id, Digest256{});
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, c.data);
    // Any flipped byte of header or payload fails the digest, then the id
    // check or the decoding: DataLoss naming the chunk.
    const std::string path = store->ChunkPath(id);
    const std::vector<uint8_t> intact = ReadFile(path);
    for (uint64_t at : {uint64_t{9}, uint64_t{kChunkHeaderSize + 1}, FileSize(path) - 1}) {
      FlipByte(path, at);
      got = store->GetWithObjectDigest(id, *digest);
      EXPECT_FALSE(got.ok()) << "byte " << at;
      EXPECT_EQ(got.status().code(), Code::kDataLoss) << "byte " << at << ": " << got.status().ToString();
      EXPECT_NE(got.status().message().find(ToHex(id)), std::string::npos) << got.status().ToString();
      FlipByte(path, at);
    }
    EXPECT_EQ(ReadFile(path), intact);
  }
  EXPECT_EQ(store->GetWithObjectDigest(Sha256::Of(std::string_view("absent")), Digest256{}).status().code(),
            Code::kNotFound);
}

TEST(FsChunkStoreTest, GetOfAbsentChunkIsNotFound) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  ChunkId id = Sha256::Of(std::string_view("absent"));
  auto got = store->Get(id);
  EXPECT_EQ(got.status().code(), Code::kNotFound);
  EXPECT_NE(got.status().message().find(ToHex(id)), std::string::npos);
  EXPECT_FALSE(*store->Has(id));
}

TEST(FsChunkStoreTest, CorruptRawPayloadIsDataLoss) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = RandomBytes(65536, 4);
  ChunkId id = Sha256::Of(data);
  ASSERT_TRUE(store->Put(id, data).ok());
  FlipByte(store->ChunkPath(id), kChunkHeaderSize + 1000);
  auto got = store->Get(id);
  ASSERT_EQ(got.status().code(), Code::kDataLoss);
  const std::string& msg = got.status().message();
  EXPECT_NE(msg.find(ToHex(id)), std::string::npos) << msg;
  std::vector<uint8_t> corrupted = data;
  corrupted[1000] ^= 0x40;
  EXPECT_NE(msg.find(ToHex(Sha256::Of(corrupted))), std::string::npos) << msg;
}

TEST(FsChunkStoreTest, CorruptCompressedPayloadIsDataLoss) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = CompressibleBytes(1 << 20, 5);
  ChunkId id = Sha256::Of(data);
  ASSERT_TRUE(store->Put(id, data).ok());
  const std::string path = store->ChunkPath(id);
  ASSERT_LT(FileSize(path), data.size());
  FlipByte(path, (FileSize(path) + kChunkHeaderSize) / 2);
  auto got = store->Get(id);
  EXPECT_EQ(got.status().code(), Code::kDataLoss) << got.status().ToString();
  EXPECT_NE(got.status().message().find(ToHex(id)), std::string::npos);
}

TEST(FsChunkStoreTest, CorruptHeaderAndTruncationAreDataLoss) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = RandomBytes(8192, 6);
  ChunkId id = Sha256::Of(data);
  ASSERT_TRUE(store->Put(id, data).ok());
  const std::string path = store->ChunkPath(id);

  FlipByte(path, 0);  // magic
  EXPECT_EQ(store->Get(id).status().code(), Code::kDataLoss);
  FlipByte(path, 0);
  ASSERT_TRUE(store->Get(id).ok());

  ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(FileSize(path) - 1)), 0);
  auto got = store->Get(id);
  EXPECT_EQ(got.status().code(), Code::kDataLoss);
  EXPECT_NE(got.status().message().find("header says"), std::string::npos) << got.status().message();
  ASSERT_EQ(::truncate(path.c_str(), 10), 0);
  EXPECT_EQ(store->Get(id).status().code(), Code::kDataLoss);
}

TEST(FsChunkStoreTest, IncompressibleStoredRawCompressibleStoredSmaller) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> random = RandomBytes(1 << 20, 7);
  std::vector<uint8_t> text = CompressibleBytes(1 << 20, 7);
  ChunkId rid = Sha256::Of(random);
  ChunkId tid = Sha256::Of(text);
  ASSERT_TRUE(store->Put(rid, random).ok());
  ASSERT_TRUE(store->Put(tid, text).ok());

  EXPECT_EQ(FileSize(store->ChunkPath(rid)), kChunkHeaderSize + random.size());
  EXPECT_LT(FileSize(store->ChunkPath(tid)), text.size() / 2);

  std::ifstream f(store->ChunkPath(tid), std::ios::binary);
  std::vector<uint8_t> header(kChunkHeaderSize);
  f.read(reinterpret_cast<char*>(header.data()), static_cast<std::streamsize>(header.size()));
  auto h = DecodeChunkHeader(header);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->codec, ChunkCodec::kZstd);
  EXPECT_EQ(h->plaintext_length, text.size());
  EXPECT_EQ(*store->Get(tid), text);
  EXPECT_EQ(*store->Get(rid), random);
}

TEST(FsChunkStoreTest, DeleteHasListStats) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::set<ChunkId> ids;
  uint64_t expected_bytes = 0;
  for (uint64_t i = 0; i < 5; ++i) {
    std::vector<uint8_t> data = i % 2 ? RandomBytes(10000 + i, i) : CompressibleBytes(50000 + i, i);
    ChunkId id = Sha256::Of(data);
    ASSERT_TRUE(store->Put(id, data).ok());
    ids.insert(id);
    expected_bytes += FileSize(store->ChunkPath(id));
  }
  // Names that are not chunks must never be listed.
  std::filesystem::create_directories(dir.Sub("zzzz"));
  std::filesystem::create_directories(dir.Sub("abcd"));
  std::ofstream(dir.Sub("abcd/not-a-chunk")) << "x";
  std::ofstream(dir.Sub("abcd/" + std::string(64, 'e'))) << "wrong prefix";
  std::ofstream(dir.Sub("tmp/" + std::string(64, 'a'))) << "temp";
  std::ofstream(dir.Sub("ffff")) << "a file where a prefix dir would be";

  std::set<ChunkId> listed;
  ASSERT_TRUE(store->List([&](const ChunkId& id) { listed.insert(id); }).ok());
  EXPECT_EQ(listed, ids);
  auto stats = store->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->chunks, 5u);
  EXPECT_EQ(stats->stored_bytes, expected_bytes);

  ChunkId victim = *ids.begin();
  ASSERT_TRUE(store->Delete(victim).ok());
  EXPECT_FALSE(*store->Has(victim));
  EXPECT_EQ(store->Get(victim).status().code(), Code::kNotFound);
  EXPECT_TRUE(store->Delete(victim).ok());  // absent is fine
  listed.clear();
  ASSERT_TRUE(store->List([&](const ChunkId& id) { listed.insert(id); }).ok());
  EXPECT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed.count(victim), 0u);
  EXPECT_EQ(store->Stats()->chunks, 4u);
}

TEST(FsChunkStoreTest, OpenRemovesLeftoverTempFilesAndKeepsChunks) {
  ScratchDir dir;
  std::vector<uint8_t> data = RandomBytes(1000, 8);
  ChunkId id = Sha256::Of(data);
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Put(id, data).ok());
    ASSERT_TRUE(store->Sync().ok());
  }
  std::ofstream(dir.Sub("tmp/interrupted.1234")) << "half a chunk";
  ASSERT_EQ(CountEntries(dir.Sub("tmp")), 1u);
  auto store = OpenStore(dir.path());
  EXPECT_EQ(CountEntries(dir.Sub("tmp")), 0u);
  EXPECT_EQ(*store->Get(id), data);
}

TEST(FsChunkStoreTest, OpenRejectsBadZstdLevel) {
  ScratchDir dir;
  EXPECT_EQ(FsChunkStore::Open(dir.path(), 1000).status().code(), Code::kInvalidArgument);
}

TEST(FsChunkStoreTest, ConcurrentPutsOfSharedAndDistinctChunks) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  constexpr int kThreads = 4;
  constexpr int kShared = 6;
  constexpr int kOwn = 4;
  std::vector<std::vector<uint8_t>> shared;
  for (int i = 0; i < kShared; ++i) shared.push_back(CompressibleBytes(200000, 100 + i));

  std::vector<std::thread> threads;
  std::vector<Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kShared + kOwn; ++round) {
        std::vector<uint8_t> data =
            round < kShared ? shared[(round + t) % kShared] : RandomBytes(150000, 1000 * (t + 1) + round);
        Status st = store->Put(Sha256::Of(data), data);
        if (!st.ok()) {
          results[t] = st;
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const Status& st : results) EXPECT_TRUE(st.ok()) << st.ToString();
  ASSERT_TRUE(store->Sync().ok());

  EXPECT_EQ(store->Stats()->chunks, static_cast<uint64_t>(kShared + kThreads * kOwn));
  for (const auto& data : shared) {
    auto got = store->Get(Sha256::Of(data));
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, data);
  }
  EXPECT_EQ(CountEntries(dir.Sub("tmp")), 0u);
}

TEST(FsChunkStoreTest, ConcurrentGetsAndPutsOfOneId) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  std::vector<uint8_t> data = CompressibleBytes(1 << 20, 9);
  ChunkId id = Sha256::Of(data);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (!store->Put(id, data).ok()) ++failures;
        auto got = store->Get(id);
        if (!got.ok() || *got != data) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

// Dedup scopes (chunk_id.h): the same plaintext in two scopes is two chunks.
TEST(FsChunkStoreScopeTest, ScopedChunkIsInvisibleUnderAnotherScopesId) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  const std::vector<uint8_t> data = CompressibleBytes(1 << 20, 31);
  const ChunkScope a = AccountChunkScope("account-a");
  const ChunkScope b = AccountChunkScope("account-b");
  const ChunkId id_a = ComputeChunkId(&a, data);
  const ChunkId id_b = ComputeChunkId(&b, data);
  ASSERT_NE(id_a, id_b);

  bool newly = false;
  ASSERT_TRUE(store->Put(&a, id_a, data, &newly).ok());
  EXPECT_TRUE(newly);
  EXPECT_TRUE(*store->Has(id_a));
  EXPECT_FALSE(*store->Has(id_b));
  EXPECT_FALSE(*store->Has(Sha256::Of(data)));
  EXPECT_EQ(store->Get(id_b).status().code(), Code::kNotFound);

  // The scope is part of the id: the right bytes under the wrong scope fail.
  Status st = store->Put(&b, id_a, data);
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  st = store->Put(id_a, data);  // unscoped
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();

  // B's copy is a second chunk; A's is untouched.
  ASSERT_TRUE(store->Put(&b, id_b, data, &newly).ok());
  EXPECT_TRUE(newly);
  ASSERT_TRUE(store->Sync().ok());
  for (const ChunkId& id : {id_a, id_b}) {
    auto got = store->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, data);
  }
  auto stats = store->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->chunks, 2u);
  // Version 2 objects: the header, the scope, then the payload.
  std::vector<uint8_t> object = ReadFile(store->ChunkPath(id_a));
  ASSERT_GT(object.size(), 56u);
  EXPECT_EQ(object[4], 2);
  EXPECT_EQ(std::vector<uint8_t>(object.begin() + 24, object.begin() + 56), std::vector<uint8_t>(a.begin(), a.end()));
}

TEST(FsChunkStoreScopeTest, GetAndPutStoredVerifyScopedObjectsAndRejectASwappedScope) {
  ScratchDir src_dir, dst_dir;
  auto src = OpenStore(src_dir.path());
  auto dst = OpenStore(dst_dir.path());
  const ChunkScope a = AccountChunkScope("account-a");
  const ChunkScope b = AccountChunkScope("account-b");
  // Compressible (zstd), random (raw) and a full random 4 MiB chunk, whose
  // object is written through the O_DIRECT path with the 56-byte prefix.
  for (const std::vector<uint8_t>& data :
       {CompressibleBytes(1 << 20, 32), RandomBytes(300000, 33), RandomBytes(kDefaultChunkSize, 34)}) {
    const ChunkId id = ComputeChunkId(&a, data);
    ASSERT_TRUE(src->Put(&a, id, data).ok());
    auto object = src->GetStored(id);
    ASSERT_TRUE(object.ok()) << object.status().ToString();
    EXPECT_EQ(*object, ReadFile(src->ChunkPath(id)));

    // The copy keeps the source's id and verifies it with the object's scope.
    bool newly = false;
    Status st = dst->PutStored(id, *object, &newly);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(newly);
    EXPECT_EQ(ReadFile(dst->ChunkPath(id)), *object);
    auto got = dst->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, data);

    // The object with B's scope in place of A's is not chunk `id`.
    std::vector<uint8_t> swapped = *object;
    std::copy(b.begin(), b.end(), swapped.begin() + 24);
    ScratchDir other_dir;
    auto other = OpenStore(other_dir.path());
    st = other->PutStored(id, swapped, &newly);
    EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
    EXPECT_FALSE(newly);
    EXPECT_FALSE(*other->Has(id));
    // Nor is it, swapped on disk, readable as `id`.
    {
      std::ofstream f(dst->ChunkPath(id), std::ios::binary | std::ios::trunc);
      f.write(reinterpret_cast<const char*>(swapped.data()), static_cast<std::streamsize>(swapped.size()));
    }
    auto bad = dst->Get(id);
    EXPECT_EQ(bad.status().code(), Code::kDataLoss) << bad.status().ToString();
    EXPECT_NE(bad.status().message().find(ToHex(b)), std::string::npos) << bad.status().message();
  }
}

TEST(FsChunkStoreScopeTest, VersionOneAndVersionTwoObjectsLiveSideBySide) {
  ScratchDir dir;
  auto store = OpenStore(dir.path());
  const std::vector<uint8_t> data = RandomBytes(5000, 35);
  const ChunkScope a = AccountChunkScope("account-a");
  const ChunkId unscoped = Sha256::Of(data);
  const ChunkId scoped = ComputeChunkId(&a, data);
  ASSERT_TRUE(store->Put(unscoped, data).ok());
  ASSERT_TRUE(store->Put(&a, scoped, data).ok());
  EXPECT_EQ(ReadFile(store->ChunkPath(unscoped))[4], 1);
  EXPECT_EQ(ReadFile(store->ChunkPath(scoped))[4], 2);
  EXPECT_EQ(FileSize(store->ChunkPath(unscoped)) + 32, FileSize(store->ChunkPath(scoped)));
  for (const ChunkId& id : {unscoped, scoped}) {
    auto got = store->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, data);
  }
}

}  // namespace
}  // namespace ferry
