// ChunkPins shared through a catalog (src/region/gc_with_nodes.md): two
// "nodes" (two ChunkPins) on one SQLite catalog and one file chunk store,
// with a clock the test moves.
#include "region/chunk_pins.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "catalog/sqlite_catalog.h"
#include "common/hash.h"
#include "common/ids.h"
#include "store/fs_chunk_store.h"

namespace ferry {
namespace {

class MovableClock final : public Clock {
 public:
  UnixSeconds Now() const override { return now.load(); }
  std::chrono::steady_clock::time_point Steady() const override { return std::chrono::steady_clock::now(); }
  std::atomic<UnixSeconds> now{1000};
};

class SharedChunkPinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/chunk-pins-" + RandomHex(6);
    std::filesystem::create_directories(dir_);
    auto catalog = SqliteCatalog::Open(dir_ + "/catalog.db");
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::move(catalog).value();
    auto store = FsChunkStore::Open(dir_ + "/chunks");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    ASSERT_TRUE(a_.ShareThrough(catalog_.get(), "node-a", &clock_, 30).ok());
    ASSERT_TRUE(b_.ShareThrough(catalog_.get(), "node-b", &clock_, 30).ok());
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  ChunkId Stored(const std::string& text) {
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    const ChunkId id = Sha256::Of(bytes);
    EXPECT_TRUE(store_->Put(id, bytes).ok());
    return id;
  }
  // What node b's GC does with `id` in a pass of its own.
  bool BDeletes(const ChunkPins::Pass& pass, const ChunkId& id) {
    bool deleted = false;
    Status st = b_.DeleteUnlessPinned(pass, id, *store_, &deleted);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return deleted;
  }

  std::string dir_;
  MovableClock clock_;
  std::unique_ptr<SqliteCatalog> catalog_;
  std::unique_ptr<FsChunkStore> store_;
  ChunkPins a_, b_;
};

TEST_F(SharedChunkPinsTest, AnotherNodesGcKeepsWhatALeasePinnedAndWhatItReleasedDuringThePass) {
  const ChunkId x = Stored("chunk x");
  const ChunkId y = Stored("chunk y");
  PinLease lease(a_);
  ASSERT_TRUE(lease.Pin(x).ok());
  EXPECT_FALSE(b_.IsPinned(x)) << "node b's memory knows nothing of it";

  Result<ChunkPins::Pass> pass = b_.BeginPass();
  ASSERT_TRUE(pass.ok()) << pass.status().ToString();
  EXPECT_FALSE(BDeletes(*pass, x)) << "pinned by node a";
  EXPECT_TRUE(BDeletes(*pass, y));
  lease.Release();  // node a committed a manifest b's pass never read
  EXPECT_FALSE(BDeletes(*pass, x)) << "released after the pass began";
  ASSERT_TRUE(b_.EndPass(*pass).ok());

  Result<ChunkPins::Pass> next = b_.BeginPass();
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(BDeletes(*next, x)) << "a pass that began after the release reads the manifest";
  ASSERT_TRUE(b_.EndPass(*next).ok());
  EXPECT_FALSE(*store_->Has(x));
}

TEST_F(SharedChunkPinsTest, PinsLiveWhileTheNodeRenewsThemAndALapsedOneFailsTheCommit) {
  const ChunkId x = Stored("chunk x");
  PinLease lease(a_);
  ASSERT_TRUE(lease.Pin(x).ok());
  EXPECT_TRUE(lease.CheckHeld().ok());

  clock_.now = 1020;
  ASSERT_TRUE(a_.RenewShared().ok());  // now lasts until 1050
  clock_.now = 1045;
  EXPECT_TRUE(lease.CheckHeld().ok()) << "renewed";
  Result<ChunkPins::Pass> pass = b_.BeginPass();
  ASSERT_TRUE(pass.ok());
  EXPECT_FALSE(BDeletes(*pass, x));

  // Node a cannot renew for longer than a lease: its pin lapses, node b's
  // GC may delete the chunk, and a's commit must not go through.
  clock_.now = 1100;
  EXPECT_TRUE(BDeletes(*pass, x));
  ASSERT_TRUE(a_.RenewShared().ok());
  Status held = lease.CheckHeld();
  EXPECT_EQ(held.code(), Code::kUnavailable) << held.ToString();
  ASSERT_TRUE(b_.EndPass(*pass).ok());
}

TEST_F(SharedChunkPinsTest, ANodeStartingDropsThePinsItsEarlierRunLeft) {
  const ChunkId x = Stored("chunk x");
  // What node c's earlier run left when it died mid-ingest.
  ASSERT_TRUE(catalog_->PinChunk(ToHex(x), "node-c/pins-1", "node-c", clock_.Now() + 3600).ok());
  Result<ChunkPins::Pass> pass = b_.BeginPass();
  ASSERT_TRUE(pass.ok());
  EXPECT_FALSE(BDeletes(*pass, x)) << "node c's pin lives for its hour";
  ChunkPins restarted;
  ASSERT_TRUE(restarted.ShareThrough(catalog_.get(), "node-c", &clock_, 3600).ok());
  EXPECT_TRUE(BDeletes(*pass, x)) << "node c started again: no ingest of its earlier run is in flight";
  ASSERT_TRUE(b_.EndPass(*pass).ok());
}

}  // namespace
}  // namespace ferry
