// Garbage collection with two nodes of one region (issue 13,
// src/region/gc_with_nodes.md): two RegionImpls on one PostgreSQL catalog
// and one bucket of a Ceph RADOS Gateway. One node's GC must never delete a
// chunk the other node's ingest is about to name in a manifest; the tests
// hold an ingest of node A where each race of the design sits, run node B's
// GC there, and then every manifest's chunks must be in the store.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "integration/region_services.h"
#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

// Holds the ingest that pins its `nth` chunk (1-based), after the pin and
// before the ingest looks the chunk up, until Open().
class NthPinGate {
 public:
  explicit NthPinGate(int nth) : nth_(nth) {}
  void Hook() {
    std::unique_lock<std::mutex> lock(mu_);
    if (++pinned_ != nth_) return;
    arrived_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  bool WaitArrived() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [this] { return arrived_; });
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  const int nth_;
  int pinned_ = 0;        // guarded by mu_
  bool arrived_ = false;  // guarded by mu_
  bool open_ = false;     // guarded by mu_
};

class RegionGcNodesTest : public RegionFixture {
 protected:
  static void SetUpTestSuite() { RegionServices::Start(); }
  static void TearDownTestSuite() { RegionServices::Stop(); }

  void SetUp() override {
    RegionFixture::SetUp();
    ASSERT_FALSE(RegionServices::postgres().uri().empty());
    ASSERT_FALSE(RegionServices::ceph().endpoint().empty());
    // S3ChunkStore reads its credentials as `ferry serve` does.
    ASSERT_EQ(::setenv("AWS_SHARED_CREDENTIALS_FILE", RegionServices::ceph().credentials_file().c_str(), 1),
              0);
    catalog_uri_ = RegionServices::postgres().NewDatabase();
    store_uri_ = ThrowawayCeph::UriOf(RegionServices::ceph().NewBucket("cn-hangzhou"));
  }
  void TearDown() override {
    if (gate_a_) gate_a_->Open();
    other_.reset();
    RegionFixture::TearDown();
  }

  RegionConfig NodeConfig(const std::string& node) const {
    RegionConfig c = Config();
    c.data_dir = dir_ + "/" + node;
    c.node_id = node;
    c.catalog_uri = catalog_uri_;
    c.store_uri = store_uri_;
    c.ingest_threads = 1;  // chunks pinned and looked up in order
    return c;
  }

  // Node A is region_ (the fixture's helpers talk to it), its ingests held
  // by gate_a_ when one is set; node B is other_.
  void OpenNodes(RegionHooks hooks_b = {}) {
    RegionHooks hooks_a;
    hooks_a.after_chunk_pinned = [this](const std::string&, const ChunkId&) {
      if (gate_a_) gate_a_->Hook();
    };
    auto a = RegionImpl::Open(NodeConfig("node-a"), SystemClock::Get(), std::move(hooks_a));
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    region_ = std::move(a).value();
    auto b = RegionImpl::Open(NodeConfig("node-b"), SystemClock::Get(), std::move(hooks_b));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    other_ = std::move(b).value();
  }

  ImportImageRequest Request(const std::string& object, const std::string& name) {
    ImportImageRequest req;
    req.disks.push_back(ImportDisk{"alice-in", object, "RAW", 0});
    req.image_name = name;
    return req;
  }

  // Every manifest's chunks are in the store, as both nodes see it.
  void ExpectNothingMissing() {
    for (RegionImpl* node : {region_.get(), other_.get()}) {
      FsckReport report;
      ASSERT_TRUE(node->Fsck(&report).ok());
      EXPECT_TRUE(report.problems.empty())
          << report.problems.size()
          << " problems, the first: " << (report.problems.empty() ? "" : report.problems[0]);
    }
  }

  std::string catalog_uri_;
  std::string store_uri_;
  std::unique_ptr<NthPinGate> gate_a_;
  std::unique_ptr<RegionImpl> other_;
};

// Race 2: node A's import finds chunks already stored (their last image was
// deleted) and does not write them; node B's GC, before A commits, finds
// them unreferenced. A's pins in the catalog keep them.
TEST_F(RegionGcNodesTest, AChunkAnotherNodeFoundStoredIsNotCollectedBeforeItsManifestCommits) {
  OpenNodes();
  const std::string content = Pattern(12 * kMiB, 41);  // three 4 MiB chunks
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/same.raw", content).ok());
  const std::string first = ImportAndWait(Request("same.raw", "first"));
  ASSERT_FALSE(first.empty());
  const std::string first_snap = Image(first).disks[0].snapshot_id;
  ASSERT_TRUE(other_->DeleteImage(kAlice, first, false).ok());
  ASSERT_TRUE(other_->DeleteSnapshot(kAlice, first_snap, false).ok());

  // A's second import of the same bytes: chunks 1 and 2 pinned and found
  // stored (deduplicated), held at the pin of chunk 3.
  gate_a_ = std::make_unique<NthPinGate>(3);
  Result<ImportImageResult> second = region_->ImportImage(kAlice, Request("same.raw", "second"));
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ASSERT_TRUE(gate_a_->WaitArrived());

  GcStats stats;
  ASSERT_TRUE(other_->CollectGarbage(&stats).ok());
  EXPECT_EQ(stats.chunks_deleted, 0u) << "node B deleted chunks node A holds";
  gate_a_->Open();
  EXPECT_EQ(WaitTask(kAlice, second->task_id).status, "Finished");
  ExpectNothingMissing();

  // Every node collects garbage: what nothing references goes, from
  // whichever node runs it.
  const std::string second_snap = Image(second->image_id).disks[0].snapshot_id;
  ASSERT_TRUE(region_->DeleteImage(kAlice, second->image_id, false).ok());
  ASSERT_TRUE(region_->DeleteSnapshot(kAlice, second_snap, false).ok());
  ASSERT_TRUE(other_->CollectGarbage(&stats).ok());
  EXPECT_EQ(stats.chunks_deleted, 3u);
  EXPECT_EQ(other_->chunk_store().Stats()->chunks, 0u);
}

// Race 3: node B's GC reads the manifests and lists the store; node A then
// commits a manifest naming chunks it wrote and releases its pins; B, whose
// view of the manifests is older, must still keep them.
TEST_F(RegionGcNodesTest, AManifestCommittedWhileAnotherNodesGcRunsKeepsItsChunks) {
  std::mutex mu;
  std::condition_variable cv;
  bool swept_held = false, sweep_may_go = false;
  RegionHooks hooks_b;
  hooks_b.gc_before_sweep = [&] {
    std::unique_lock<std::mutex> lock(mu);
    swept_held = true;
    cv.notify_all();
    cv.wait_for(lock, std::chrono::seconds(60), [&] { return sweep_may_go; });
  };
  OpenNodes(std::move(hooks_b));
  const std::string content = Pattern(12 * kMiB, 43);
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/oss/alice-in/new.raw", content).ok());
  // A writes chunks 1 and 2, and is held at the pin of chunk 3.
  gate_a_ = std::make_unique<NthPinGate>(3);
  Result<ImportImageResult> started = region_->ImportImage(kAlice, Request("new.raw", "fresh"));
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  ASSERT_TRUE(gate_a_->WaitArrived());
  ASSERT_TRUE(WaitFor([&] { return region_->chunk_store().Stats()->chunks == 2; }))
      << "chunks 1 and 2 are not stored";

  // B's GC: no manifest names chunks 1 and 2 yet, and the store has them.
  Status gc;
  GcStats stats;
  std::thread gc_b([&] { gc = other_->CollectGarbage(&stats); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(60), [&] { return swept_held; }));
  }
  // A finishes: its manifest commits, its pins are released.
  gate_a_->Open();
  EXPECT_EQ(WaitTask(kAlice, started->task_id).status, "Finished");
  ASSERT_TRUE(WaitFor([&] { return region_->pins().size() == 0; }));
  {
    std::lock_guard<std::mutex> lock(mu);
    sweep_may_go = true;
  }
  cv.notify_all();
  gc_b.join();
  ASSERT_TRUE(gc.ok()) << gc.ToString();
  EXPECT_EQ(stats.chunks_scanned, 2u);
  EXPECT_EQ(stats.chunks_deleted, 0u) << "node B deleted chunks of a manifest committed while it ran";
  ExpectNothingMissing();
}

}  // namespace
}  // namespace ferry
