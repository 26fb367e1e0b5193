// The chunk store contract: one suite typed over every ChunkStore, so the
// file store and the S3 store (on a real Ceph RADOS Gateway) keep one
// behaviour and one object format (issue 13). Each test gets an empty store
// of its own; Overwrite() changes an object behind the store's back, as a
// failing disk or a tampering operator would.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <thread>

#include "store/chunk_format.h"
#include "store/fs_chunk_store.h"
#include "store/s3_chunk_store.h"
#include "store_test_util.h"
#include "throwaway_ceph.h"

namespace ferry {
namespace {

using testing_util::CompressibleBytes;
using testing_util::RandomBytes;
using testing_util::ScratchDir;

struct FsEngine {
  static void SetUpSuite() {}
  static void TearDownSuite() {}
  std::unique_ptr<ChunkStore> Open() {
    auto store = FsChunkStore::Open(dir_.path());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    fs_ = store->get();
    return std::move(store).value();
  }
  void Overwrite(const ChunkId& id, const std::vector<uint8_t>& object) {
    std::ofstream out(fs_->ChunkPath(id), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(object.data()), static_cast<std::streamsize>(object.size()));
    ASSERT_TRUE(out.good());
  }
  ScratchDir dir_;
  FsChunkStore* fs_ = nullptr;
};

struct S3Engine {
  static void SetUpSuite() { ceph_ = new ThrowawayCeph(); }
  static void TearDownSuite() {
    delete ceph_;
    ceph_ = nullptr;
  }
  std::unique_ptr<ChunkStore> Open() {
    if (ceph_->endpoint().empty()) return nullptr;
    // Under a key prefix, as a deployment sharing a bucket would be.
    auto store = S3ChunkStore::Open(ceph_->NewBucket("region-a"), ceph_->credentials());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return nullptr;
    s3_ = store->get();
    return std::move(store).value();
  }
  void Overwrite(const ChunkId& id, const std::vector<uint8_t>& object) {
    Status st = s3_->client().Put(S3ChunkStore::KeyOf(id), object);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  static inline ThrowawayCeph* ceph_ = nullptr;
  S3ChunkStore* s3_ = nullptr;
};

template <typename Engine>
class ChunkStoreContractTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { Engine::SetUpSuite(); }
  static void TearDownTestSuite() { Engine::TearDownSuite(); }
  void SetUp() override {
    store_ = engine_.Open();
    ASSERT_NE(store_, nullptr);
  }

  Engine engine_;
  std::unique_ptr<ChunkStore> store_;
};

struct EngineNames {
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, FsEngine> ? "Fs" : "S3";
  }
};
using Engines = ::testing::Types<FsEngine, S3Engine>;
TYPED_TEST_SUITE(ChunkStoreContractTest, Engines, EngineNames);

TYPED_TEST(ChunkStoreContractTest, PutGetHasRoundTripAndPutIsIdempotent) {
  for (const std::vector<uint8_t>& data : {CompressibleBytes(1 << 20, 1), RandomBytes(300'000, 2)}) {
    const ChunkId id = Sha256::Of(data);
    bool newly = false;
    ASSERT_TRUE(this->store_->Put(id, data, &newly).ok());
    EXPECT_TRUE(newly);
    ASSERT_TRUE(this->store_->Sync().ok());
    auto got = this->store_->Get(id);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, data);
    auto has = this->store_->Has(id);
    ASSERT_TRUE(has.ok());
    EXPECT_TRUE(*has);
    ASSERT_TRUE(this->store_->Put(id, data, &newly).ok());
    EXPECT_FALSE(newly) << "a second Put of a stored chunk writes nothing";
  }
  std::vector<uint8_t> empty;
  ASSERT_TRUE(this->store_->Put(Sha256::Of(empty), empty).ok());
  auto got = this->store_->Get(Sha256::Of(empty));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(got->empty());
}

// The bytes stored are the chunk format's, identical in every store: a
// chunk object moves between stores (a copy, a migration) as it is.
TYPED_TEST(ChunkStoreContractTest, StoresTheChunkFormatsExactBytes) {
  const std::vector<uint8_t> text = CompressibleBytes(200'000, 3);
  const std::vector<uint8_t> noise = RandomBytes(100'000, 4);
  const ChunkScope scope = AccountChunkScope("account-a");
  const ChunkId scoped = ComputeChunkId(&scope, text);
  ASSERT_TRUE(this->store_->Put(&scope, scoped, text).ok());
  ASSERT_TRUE(this->store_->Put(Sha256::Of(noise), noise).ok());

  auto object = this->store_->GetStored(scoped);
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  EXPECT_EQ(*object, EncodeChunkObject(&scope, text, /*compress=*/true, 1));
  auto header = CheckChunkObject(*object);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->codec, ChunkCodec::kZstd);
  ASSERT_TRUE(header->scope.has_value());
  EXPECT_EQ(*header->scope, scope);
  auto raw = this->store_->GetStored(Sha256::Of(noise));
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(*raw, EncodeChunkObject(noise, /*compress=*/true, 1)) << "incompressible bytes are stored raw";

  // A scoped chunk reads back verified under its scope.
  auto got = this->store_->Get(scoped);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, text);
}

TYPED_TEST(ChunkStoreContractTest, RefusesBytesThatAreNotTheId) {
  const std::vector<uint8_t> data = RandomBytes(4096, 5);
  ChunkId wrong = Sha256::Of(data);
  wrong[0] ^= 1;
  bool newly = true;
  Status st = this->store_->Put(wrong, data, &newly);
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  EXPECT_FALSE(newly);
  auto has = this->store_->Has(wrong);
  ASSERT_TRUE(has.ok());
  EXPECT_FALSE(*has);

  // A chunk object whose plaintext is not the id's is refused too.
  const std::vector<uint8_t> object = EncodeChunkObject(data, true);
  st = this->store_->PutStored(wrong, object);
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  std::vector<uint8_t> torn = EncodeChunkObject(CompressibleBytes(8192, 6), true);
  torn.pop_back();
  st = this->store_->PutStored(Sha256::Of(CompressibleBytes(8192, 6)), torn);
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  // As is an object whose digest is not the authenticated one.
  Digest256 digest = ComputeObjectDigest(object);
  digest[5] ^= 1;
  st = this->store_->PutStoredWithDigest(Sha256::Of(data), object, digest);
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();

  std::set<ChunkId> listed;
  ASSERT_TRUE(this->store_->List([&](const ChunkId& id) { listed.insert(id); }).ok());
  EXPECT_TRUE(listed.empty()) << "nothing refused was stored";
}

TYPED_TEST(ChunkStoreContractTest, MissingChunks) {
  const ChunkId id = Sha256::Of(std::string_view("never stored"));
  EXPECT_EQ(this->store_->Get(id).status().code(), Code::kNotFound);
  EXPECT_EQ(this->store_->GetStored(id).status().code(), Code::kNotFound);
  auto has = this->store_->Has(id);
  ASSERT_TRUE(has.ok());
  EXPECT_FALSE(*has);
  EXPECT_TRUE(this->store_->Delete(id).ok()) << "deleting an absent chunk is OK";
}

TYPED_TEST(ChunkStoreContractTest, StoredObjectsKeepTheirBytesAndDigests) {
  const std::vector<uint8_t> data = CompressibleBytes(500'000, 7);
  const ChunkId id = Sha256::Of(data);
  const std::vector<uint8_t> object = EncodeChunkObject(data, true, 3);  // not the store's level
  bool newly = false;
  ASSERT_TRUE(this->store_->PutStored(id, object, &newly).ok());
  EXPECT_TRUE(newly);
  auto back = this->store_->GetStored(id);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, object) << "kept as it came, not recompressed";

  const std::vector<uint8_t> other = RandomBytes(70'000, 8);
  const std::vector<uint8_t> other_object = EncodeChunkObject(other, true);
  ASSERT_TRUE(
      this->store_
          ->PutStoredWithDigest(Sha256::Of(other), other_object, ComputeObjectDigest(other_object), &newly)
          .ok());
  EXPECT_TRUE(newly);
  auto got = this->store_->GetWithObjectDigest(Sha256::Of(other), ComputeObjectDigest(other_object));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, other);

  // The digest PutHashedWithDigest reports is the stored object's.
  const std::vector<uint8_t> third = CompressibleBytes(90'000, 9);
  std::optional<Digest256> digest;
  ASSERT_TRUE(this->store_->PutHashedWithDigest(nullptr, Sha256::Of(third), third, &newly, &digest).ok());
  ASSERT_TRUE(digest.has_value());
  auto third_object = this->store_->GetStored(Sha256::Of(third));
  ASSERT_TRUE(third_object.ok());
  EXPECT_EQ(*digest, ComputeObjectDigest(*third_object));
  // And nothing when the chunk was there already.
  ASSERT_TRUE(this->store_->PutHashedWithDigest(nullptr, Sha256::Of(third), third, &newly, &digest).ok());
  EXPECT_FALSE(newly);
  EXPECT_FALSE(digest.has_value());
}

TYPED_TEST(ChunkStoreContractTest, DetectsObjectsChangedBehindItsBack) {
  const std::vector<uint8_t> data = CompressibleBytes(100'000, 10);
  const ChunkId id = Sha256::Of(data);
  ASSERT_TRUE(this->store_->Put(id, data).ok());
  auto object = this->store_->GetStored(id);
  ASSERT_TRUE(object.ok());
  const Digest256 digest = ComputeObjectDigest(*object);

  // Another chunk's valid object under this id: decodes, but to other bytes.
  const std::vector<uint8_t> impostor = EncodeChunkObject(CompressibleBytes(100'000, 11), true);
  this->engine_.Overwrite(id, impostor);
  Status st = this->store_->Get(id).status();
  EXPECT_EQ(st.code(), Code::kDataLoss) << st.ToString();
  st = this->store_->GetWithObjectDigest(id, digest).status();
  EXPECT_EQ(st.code(), Code::kDataLoss)
      << "a digest that does not match falls back to the id: " << st.ToString();

  // A cut-off object: its header promises more than there is.
  std::vector<uint8_t> cut = *object;
  cut.resize(cut.size() / 2);
  this->engine_.Overwrite(id, cut);
  EXPECT_EQ(this->store_->Get(id).status().code(), Code::kDataLoss);
  EXPECT_EQ(this->store_->GetStored(id).status().code(), Code::kDataLoss);
}

TYPED_TEST(ChunkStoreContractTest, ListStatsAndDelete) {
  std::set<ChunkId> put;
  uint64_t bytes = 0;
  for (uint64_t seed = 20; seed < 25; ++seed) {
    const std::vector<uint8_t> data = seed % 2 ? RandomBytes(10'000, seed) : CompressibleBytes(50'000, seed);
    const ChunkId id = Sha256::Of(data);
    ASSERT_TRUE(this->store_->Put(id, data).ok());
    put.insert(id);
    bytes += this->store_->GetStored(id)->size();
  }
  std::set<ChunkId> listed;
  ASSERT_TRUE(this->store_->List([&](const ChunkId& id) { listed.insert(id); }).ok());
  EXPECT_EQ(listed, put);
  auto stats = this->store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->chunks, 5u);
  EXPECT_EQ(stats->stored_bytes, bytes);

  const ChunkId gone = *put.begin();
  ASSERT_TRUE(this->store_->Delete(gone).ok());
  put.erase(gone);
  listed.clear();
  ASSERT_TRUE(this->store_->List([&](const ChunkId& id) { listed.insert(id); }).ok());
  EXPECT_EQ(listed, put);
  EXPECT_EQ(this->store_->Get(gone).status().code(), Code::kNotFound);
}

TYPED_TEST(ChunkStoreContractTest, ConcurrentWritersAndABatch) {
  constexpr int kThreads = 6;
  constexpr int kEach = 5;
  std::vector<std::thread> threads;
  std::vector<Status> results(kThreads * kEach);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        // Threads t and t+1 share half their chunks: the same id put at once.
        const std::vector<uint8_t> data =
            CompressibleBytes(64 * 1024, static_cast<uint64_t>((t / 2) * 100 + i));
        results[t * kEach + i] = this->store_->Put(Sha256::Of(data), data);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const Status& st : results) ASSERT_TRUE(st.ok()) << st.ToString();
  for (int t = 0; t < kThreads; t += 2) {
    for (int i = 0; i < kEach; ++i) {
      const std::vector<uint8_t> data =
          CompressibleBytes(64 * 1024, static_cast<uint64_t>((t / 2) * 100 + i));
      auto got = this->store_->Get(Sha256::Of(data));
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(*got, data);
    }
  }

  std::unique_ptr<ChunkWriteBatch> batch = this->store_->NewWriteBatch();
  const std::vector<uint8_t> data = RandomBytes(30'000, 99);
  bool newly = false;
  ASSERT_TRUE(batch->PutStored(Sha256::Of(data), EncodeChunkObject(data, true), &newly).ok());
  ASSERT_TRUE(batch->Commit().ok());
  auto got = this->store_->Get(Sha256::Of(data));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, data);
}

}  // namespace
}  // namespace ferry
