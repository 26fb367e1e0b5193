#include "copy/puller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "copy/chunk_budget.h"
#include "fake_chunk_source.h"
#include "poll_until.h"
#include "store/chunk_format.h"
#include "store/fs_chunk_store.h"
#include "store/ingest.h"
#include "unit/store/store_test_util.h"

namespace ferry {
namespace {

using std::chrono::milliseconds;
using testing_util::FakeChunkSource;
using testing_util::RandomBytes;
using testing_util::ScratchDir;

constexpr uint32_t kChunk = 64 << 10;  // small chunks keep the tests fast
constexpr char kRegion[] = "cn-source";
constexpr char kSnapshot[] = "s-source0000000000001";

// A FsChunkStore that counts Syncs, remembers Puts, and can fail Put.
class SpyStore final : public ChunkStore {
 public:
  explicit SpyStore(std::unique_ptr<FsChunkStore> inner) : inner_(std::move(inner)) {}

  using ChunkStore::Put;
  Status Put(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
             bool* newly_stored = nullptr) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      put_ids_.insert(id);
      if (!put_error_.ok()) return put_error_;
    }
    return inner_->Put(scope, id, plaintext, newly_stored);
  }
  Status PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored = nullptr) override {
    decoding_stores_.fetch_add(1);
    {
      std::unique_lock<std::mutex> lock(mu_);
      put_ids_.insert(id);
      if (!put_error_.ok()) return put_error_;
      ++storing_;
      most_storing_ = std::max(most_storing_, storing_);
      stores_cv_.notify_all();
      // Held (bounded) until one more store than the limit would be inside:
      // stores that can overlap do.
      stores_cv_.wait_for(lock, store_hold_, [this] { return storing_ > store_limit_; });
    }
    Status st = inner_->PutStored(id, object, newly_stored);
    std::lock_guard<std::mutex> lock(mu_);
    --storing_;
    stores_cv_.notify_all();
    return st;
  }
  Status PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object, const Digest256& object_digest,
                             bool* newly_stored = nullptr) override {
    digest_stores_.fetch_add(1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      put_ids_.insert(id);
      if (!put_error_.ok()) return put_error_;
    }
    return inner_->PutStoredWithDigest(id, object, object_digest, newly_stored);
  }
  Status Sync() override {
    syncs_.fetch_add(1);
    return inner_->Sync();
  }
  Result<std::vector<uint8_t>> Get(const ChunkId& id) override { return inner_->Get(id); }
  Result<std::vector<uint8_t>> GetStored(const ChunkId& id) override { return inner_->GetStored(id); }
  Result<bool> Has(const ChunkId& id) override { return inner_->Has(id); }
  Status Delete(const ChunkId& id) override { return inner_->Delete(id); }
  Status List(const std::function<void(const ChunkId&)>& fn) override { return inner_->List(fn); }
  Result<ChunkStoreStats> Stats() override { return inner_->Stats(); }

  void FailPuts(Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    put_error_ = std::move(st);
  }
  bool WasPut(const ChunkId& id) {
    std::lock_guard<std::mutex> lock(mu_);
    return put_ids_.count(id) != 0;
  }
  int syncs() const { return syncs_.load(); }
  // Stores verified by an object digest (PutStoredWithDigest), and by
  // decoding (PutStored).
  int digest_stores() const { return digest_stores_.load(); }
  int decoding_stores() const { return decoding_stores_.load(); }
  FsChunkStore& inner() { return *inner_; }
  // Each PutStored waits up to `hold` for more than `limit` to be inside.
  void HoldStores(int limit, milliseconds hold) {
    std::lock_guard<std::mutex> lock(mu_);
    store_limit_ = limit;
    store_hold_ = hold;
  }
  int most_storing() {
    std::lock_guard<std::mutex> lock(mu_);
    return most_storing_;
  }

 private:
  std::unique_ptr<FsChunkStore> inner_;
  std::mutex mu_;
  std::set<ChunkId> put_ids_;  // guarded by mu_
  Status put_error_;           // guarded by mu_
  std::condition_variable stores_cv_;
  int storing_ = 0;                   // guarded by mu_
  int most_storing_ = 0;              // guarded by mu_
  int store_limit_ = 0;               // guarded by mu_
  milliseconds store_hold_{0};        // guarded by mu_
  std::atomic<int> syncs_{0};
  std::atomic<int> digest_stores_{0};
  std::atomic<int> decoding_stores_{0};
};

size_t CountEntries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

class PullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto fs = FsChunkStore::Open(dir_.Sub("dest"));
    ASSERT_TRUE(fs.ok()) << fs.status().ToString();
    store_ = std::make_unique<SpyStore>(std::move(*fs));
    options_.in_flight = 4;
    options_.initial_backoff = milliseconds(100);
    options_.max_backoff = milliseconds(400);
    options_.sleep = [this](milliseconds d) {
      std::lock_guard<std::mutex> lock(sleeps_mu_);
      sleeps_.push_back(d);
    };
  }

  // A snapshot with one chunk per seed, seed 0 meaning a hole, served by
  // source_. Returns the manifest; chunk bytes are kept in bytes_.
  Manifest Snapshot(const std::vector<uint64_t>& seeds) {
    Manifest m = Manifest::OneEntryPerChunk(uint64_t{kChunk} * seeds.size(), kChunk);
    for (size_t i = 0; i < seeds.size(); ++i) {
      if (seeds[i] == 0) continue;
      std::vector<uint8_t> bytes = RandomBytes(kChunk, seeds[i]);
      m.entries[i].zero = false;
      m.entries[i].id = source_.AddChunk(bytes);
      bytes_[m.entries[i].id] = std::move(bytes);
    }
    source_.SetManifest(kRegion, kSnapshot, m);
    return m;
  }
  static std::vector<uint64_t> Seeds(uint64_t first, size_t n) {
    std::vector<uint64_t> seeds;
    for (size_t i = 0; i < n; ++i) seeds.push_back(first + i);
    return seeds;
  }

  Result<PullResult> Pull() { return PullSnapshot(source_, kRegion, kSnapshot, *store_, options_); }

  void ExpectStored(const Manifest& m) {
    for (const ChunkEntry& e : m.entries) {
      if (e.zero) continue;
      Result<std::vector<uint8_t>> got = store_->Get(e.id);
      ASSERT_TRUE(got.ok()) << ToHex(e.id) << ": " << got.status().ToString();
      EXPECT_EQ(*got, bytes_[e.id]) << ToHex(e.id);
    }
  }

  std::vector<milliseconds> Sleeps() {
    std::lock_guard<std::mutex> lock(sleeps_mu_);
    return sleeps_;
  }
  // The source's snapshot: 10 distinct chunks of kChunk bytes, each 50000
  // bytes on the wire (the rate-limit tests' traffic: 5 s at 100000 B/s).
  // Ten chunks of kChunk bytes that the source sends as `wire_bytes` each.
  void SnapshotOfTenChunks(uint64_t seed, uint64_t wire_bytes = 50000) {
    Manifest m = Manifest::OneEntryPerChunk(uint64_t{kChunk} * 10, kChunk);
    for (size_t i = 0; i < 10; ++i) {
      m.entries[i].zero = false;
      m.entries[i].id = source_.AddChunk(RandomBytes(kChunk, seed + i), wire_bytes);
    }
    source_.SetManifest(kRegion, kSnapshot, m);
  }

  milliseconds SleptTotal() {
    milliseconds total{0};
    for (milliseconds d : Sleeps()) total += d;
    return total;
  }

  ScratchDir dir_;
  FakeChunkSource source_;
  std::unique_ptr<SpyStore> store_;
  std::map<ChunkId, std::vector<uint8_t>> bytes_;
  PullOptions options_;
  std::mutex sleeps_mu_;
  std::vector<milliseconds> sleeps_;  // guarded by sleeps_mu_
};

TEST_F(PullTest, PullCopiesEveryDataChunkAndNeverFetchesHoles) {
  Manifest m = Snapshot({1, 2, 0, 3, 4, 5, 0, 0, 6, 7, 8, 9, 10, 11, 0, 12});

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->manifest.logical_size, m.logical_size);
  EXPECT_EQ(r->manifest.chunk_size, m.chunk_size);
  EXPECT_EQ(r->manifest.ContentDigest(), m.ContentDigest());
  ExpectStored(m);
  EXPECT_EQ(source_.total_fetches(), 12u);
  EXPECT_EQ(source_.Fetches(ChunkId{}), 0u);
  for (const auto& [id, bytes] : bytes_) EXPECT_EQ(source_.Fetches(id), 1u) << ToHex(id);
  EXPECT_EQ(r->stats.chunks_total, 12u);
  EXPECT_EQ(r->stats.chunks_fetched, 12u);
  EXPECT_EQ(r->stats.bytes_total, m.DataBytes());
  EXPECT_EQ(r->stats.wire_bytes, 12u * kChunk);
  EXPECT_GE(store_->syncs(), 1);
  EXPECT_TRUE(Sleeps().empty()) << "nothing failed and there is no rate limit";
}

TEST_F(PullTest, PullReadiesTheWorkersConnectionsWhileTheManifestComes) {
  Snapshot(Seeds(1800, 6));
  options_.in_flight = 5;
  Result<PullResult> r = Pull();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // The manifest takes one connection; the other four workers' are readied.
  using Warm = std::pair<std::string, unsigned>;
  EXPECT_EQ(source_.Warmed(), (std::vector<Warm>{{kRegion, 4u}}));
  options_.in_flight = 1;
  ASSERT_TRUE(Pull().ok());
  EXPECT_EQ(source_.Warmed().size(), 1u) << "one worker uses the manifest's connection";
}

TEST_F(PullTest, PullGivenItsManifestNeverAsksForItAndStartsAtOnce) {
  Manifest m = Snapshot({1, 0, 2, 3, 0, 4});
  options_.manifest = &m;
  options_.in_flight = 4;
  Result<PullResult> r = Pull();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(r->manifest.ContentDigest(), m.ContentDigest());
  EXPECT_EQ(source_.manifest_fetches(), 0u);
  EXPECT_TRUE(source_.Warmed().empty()) << "no manifest request to ready connections behind";
  EXPECT_EQ(source_.total_fetches(), 4u);
}

TEST_F(PullTest, PullRefusesAGivenManifestThatDoesNotHoldTogether) {
  Manifest m = Snapshot({1, 2});
  Manifest broken = m;
  broken.entries.pop_back();  // no longer covers logical_size
  options_.manifest = &broken;
  Result<PullResult> r = Pull();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("manifest given"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(source_.total_fetches(), 0u);
}

TEST_F(PullTest, PullSyncsTheChunksStoredSoFarWhileItRuns) {
  Snapshot(Seeds(1900, 6));
  options_.in_flight = 1;
  bool synced_before_last = false;
  // The last fetch waits (bounded) for a sync of the five chunks before it:
  // only a pull that syncs as it goes lets it through early.
  source_.OnFetch([&](uint64_t call) {
    if (call != 6) return;
    for (int i = 0; i < 1000 && !synced_before_last; ++i) {
      synced_before_last = store_->syncs() > 0;
      if (!synced_before_last) std::this_thread::sleep_for(milliseconds(10));
    }
  });
  Result<PullResult> r = Pull();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(synced_before_last);
  EXPECT_GE(store_->syncs(), 2) << "and once more at the end";
}

// The pulls above store through SpyStore, whose batches write each chunk at
// once (ChunkStore's default). These two store into FsChunkStore's batches.
TEST_F(PullTest, PullIntoABatchingStoreNamesEveryChunkOnlyAfterItsSyncAndCommitsAsItGoes) {
  Manifest m = Snapshot(Seeds(2300, 40));
  FsChunkStore& dest = store_->inner();
  std::mutex mu;
  int syncs = 0;
  int renames = 0;
  int renames_of_unsynced = 0;
  // Each write asks the hook at its sync and then at its rename: when every
  // name comes after its own sync, each rename has had one more sync than
  // the renames before it.
  dest.SetWriteFaultHookForTesting([&](FsChunkStore::WriteStep step) {
    std::lock_guard<std::mutex> lock(mu);
    if (step == FsChunkStore::WriteStep::kSync) ++syncs;
    if (step == FsChunkStore::WriteStep::kRename) {
      if (syncs <= renames) ++renames_of_unsynced;
      ++renames;
    }
    return 0;
  });
  // Late in the pull, some of the chunks stored before must already have
  // their names: the pull commits as it goes, not only at its end.
  bool named_before_the_end = false;
  source_.OnFetch([&](uint64_t call) {
    if (call != 36) return;
    for (int i = 0; i < 1000 && !named_before_the_end; ++i) {
      for (const ChunkEntry& e : m.entries) {
        Result<bool> has = dest.Has(e.id);
        if (has.ok() && *has) named_before_the_end = true;
      }
      if (!named_before_the_end) std::this_thread::sleep_for(milliseconds(10));
    }
  });

  Result<PullResult> r = PullSnapshot(source_, kRegion, kSnapshot, dest, options_);

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  dest.SetWriteFaultHookForTesting(nullptr);
  ExpectStored(m);
  EXPECT_TRUE(named_before_the_end);
  EXPECT_EQ(syncs, 40) << "one fdatasync per chunk written";
  EXPECT_EQ(renames_of_unsynced, 0);
  EXPECT_EQ(CountEntries(dir_.Sub("dest") + "/tmp"), 0u);
}

TEST_F(PullTest, PullWhoseCommitFailsFailsWithItAndNamesNoChunkItCouldNotSync) {
  Manifest m = Snapshot(Seeds(2400, 6));
  FsChunkStore& dest = store_->inner();
  dest.SetWriteFaultHookForTesting(
      [](FsChunkStore::WriteStep step) { return step == FsChunkStore::WriteStep::kSync ? ENOSPC : 0; });

  Result<PullResult> r = PullSnapshot(source_, kRegion, kSnapshot, dest, options_);

  ASSERT_EQ(r.status().code(), Code::kResourceExhausted) << r.status().ToString();
  EXPECT_NE(r.status().message().find("commit of the chunks stored"), std::string::npos)
      << r.status().ToString();
  for (const ChunkEntry& e : m.entries) EXPECT_FALSE(*dest.Has(e.id)) << ToHex(e.id);
  EXPECT_EQ(CountEntries(dir_.Sub("dest") + "/tmp"), 0u) << "the batch's temp files are gone";
}

TEST_F(PullTest, PullStoresNoMoreChunksAtOnceThanAllowed) {
  Manifest m = Snapshot(Seeds(2000, 12));
  options_.in_flight = 6;
  options_.max_concurrent_stores = 2;
  store_->HoldStores(2, milliseconds(30));
  Result<PullResult> r = Pull();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(store_->most_storing(), 2) << "six fetches in flight, two stores at a time";
}

TEST_F(PullTest, PullFetchesDuplicateIdsOnce) {
  Manifest m = Snapshot({7, 7, 0, 8, 7, 8, 9});

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(source_.total_fetches(), 3u);
  EXPECT_EQ(r->stats.chunks_fetched, 3u);
  EXPECT_EQ(r->stats.chunks_total, 6u) << "progress counts manifest entries";
  EXPECT_EQ(r->stats.chunks_done, 6u);
  EXPECT_EQ(r->stats.bytes_done, m.DataBytes());
}

TEST_F(PullTest, PullOfEmptySnapshotFetchesNothing) {
  Manifest m = Snapshot({0, 0, 0});

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->manifest.ContentDigest(), m.ContentDigest());
  EXPECT_EQ(source_.total_fetches(), 0u);
  EXPECT_EQ(r->stats.chunks_total, 0u);
}

TEST_F(PullTest, PullMovesOnlyChangedChunksOfANewVersion) {
  Manifest v1 = Snapshot(Seeds(100, 20));
  for (const ChunkEntry& e : v1.entries) ASSERT_TRUE(store_->Put(e.id, bytes_[e.id]).ok());
  std::vector<uint64_t> seeds2 = Seeds(100, 20);
  seeds2[4] = 1004;
  seeds2[17] = 1017;
  Manifest v2 = Snapshot(seeds2);

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->manifest.ContentDigest(), v2.ContentDigest());
  ExpectStored(v2);
  EXPECT_EQ(source_.total_fetches(), 2u);
  EXPECT_EQ(source_.Fetches(v2.entries[4].id), 1u);
  EXPECT_EQ(source_.Fetches(v2.entries[17].id), 1u);
  EXPECT_EQ(r->stats.chunks_fetched, 2u);
  EXPECT_EQ(r->stats.wire_bytes,
            source_.wire_bytes_of(v2.entries[4].id) + source_.wire_bytes_of(v2.entries[17].id));
  EXPECT_EQ(r->stats.chunks_done, 20u);
}

TEST_F(PullTest, PullResumesAfterCancelFetchingOnlyTheRest) {
  Manifest m = Snapshot(Seeds(200, 20));
  std::atomic<bool> cancel{false};
  options_.cancel = &cancel;
  source_.OnFetch([&](uint64_t call) {
    if (call == 7) cancel = true;
  });

  Result<PullResult> first = Pull();

  ASSERT_EQ(first.status().code(), Code::kCancelled) << first.status().ToString();
  const uint64_t first_fetches = source_.total_fetches();
  EXPECT_LT(first_fetches, 20u);
  EXPECT_EQ(store_->syncs(), 0) << "a cancelled pull does not sync for a commit";

  cancel = false;
  source_.OnFetch(nullptr);
  Result<PullResult> second = Pull();

  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(source_.total_fetches(), 20u) << "first pull fetched " << first_fetches;
  EXPECT_EQ(second->stats.chunks_fetched, 20u - first_fetches);
}

TEST_F(PullTest, PullCancelledBeforeStartDoesNothing) {
  Snapshot(Seeds(1, 3));
  std::atomic<bool> cancel{true};
  options_.cancel = &cancel;

  EXPECT_EQ(Pull().status().code(), Code::kCancelled);
  EXPECT_EQ(source_.manifest_fetches(), 0u);
  EXPECT_EQ(source_.total_fetches(), 0u);
}

TEST_F(PullTest, PullRunsInFlightFetchesAtOnceAndNoMore) {
  Manifest m = Snapshot(Seeds(300, 16));
  options_.in_flight = 4;
  source_.Block();
  Result<PullResult> r = Internal("not run");
  std::thread puller([&] { r = Pull(); });

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (source_.concurrent() < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_EQ(source_.concurrent(), 4u);
  source_.Release();
  puller.join();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(source_.max_concurrent(), 4u);
}

// Runs a pull of 16 chunks whose fetches block until as many as `expected`
// are in flight (bounded), and returns the most that ever were.
unsigned MostInFlight(FakeChunkSource& source, unsigned expected, const std::function<Result<PullResult>()>& pull) {
  source.Block();
  Result<PullResult> r = Internal("not run");
  std::thread puller([&] { r = pull(); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (source.concurrent() < expected && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  // A few more moments for a window larger than expected to show.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  source.Release();
  puller.join();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return source.max_concurrent();
}

TEST_F(PullTest, PullKeepsMoreFetchesInFlightOnALongLink) {
  Snapshot(Seeds(2100, 16));
  options_.in_flight = 2;
  options_.in_flight_long_link = 5;
  options_.long_round_trip = milliseconds(10);
  source_.SetRoundTrip(std::chrono::milliseconds(50));
  EXPECT_EQ(MostInFlight(source_, 5, [this] { return Pull(); }), 5u);
}

TEST_F(PullTest, PullKeepsItsUsualFetchesInFlightOnAShortLink) {
  Snapshot(Seeds(2200, 16));
  options_.in_flight = 2;
  options_.in_flight_long_link = 5;
  options_.long_round_trip = milliseconds(10);
  source_.SetRoundTrip(std::chrono::microseconds(300));
  EXPECT_EQ(MostInFlight(source_, 2, [this] { return Pull(); }), 2u);
}

TEST_F(PullTest, PullWithOneInFlightFetchesOneAtATime) {
  Snapshot(Seeds(400, 8));
  options_.in_flight = 1;

  ASSERT_TRUE(Pull().ok());
  EXPECT_EQ(source_.max_concurrent(), 1u);
}

TEST_F(PullTest, PullRetriesUnavailableManifestWithBackoff) {
  Manifest m = Snapshot(Seeds(500, 3));
  source_.FailNextCalls(3);

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->manifest.ContentDigest(), m.ContentDigest());
  EXPECT_EQ(source_.manifest_fetches(), 4u);
  EXPECT_EQ(Sleeps().size(), 3u);
}

TEST_F(PullTest, PullRetriesUnavailableChunksWithGrowingJitteredBackoff) {
  Manifest m = Snapshot(Seeds(600, 6));
  options_.in_flight = 1;
  source_.OnFetch([&](uint64_t call) {
    if (call == 3) source_.FailNextCalls(4);
  });

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(source_.total_fetches(), 6u + 4u);
  std::vector<milliseconds> sleeps = Sleeps();
  const std::vector<milliseconds> caps = {milliseconds(100), milliseconds(200), milliseconds(400),
                                          milliseconds(400)};
  ASSERT_EQ(sleeps.size(), caps.size());
  for (size_t i = 0; i < caps.size(); ++i) {
    EXPECT_LE(sleeps[i], caps[i]) << "sleep " << i;
    EXPECT_GE(sleeps[i], caps[i] / 2) << "sleep " << i;
  }
}

TEST_F(PullTest, PullGivesUpWhenUnavailableBeyondRetryFor) {
  Snapshot(Seeds(700, 4));
  options_.retry_for = std::chrono::seconds(60);
  options_.max_backoff = std::chrono::seconds(5);
  source_.OnFetch([&](uint64_t call) {
    if (call == 2) source_.SetDown(true);
  });

  Result<PullResult> r = Pull();

  ASSERT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("fake: source down"), std::string::npos) << r.status().ToString();
  // Time only moves through the seam here, so the workers slept (together)
  // about retry_for before giving up; each one's sleeps stop at its end.
  EXPECT_GT(Sleeps().size(), 10u);
  EXPECT_GE(SleptTotal(), std::chrono::seconds(50));
  EXPECT_LE(SleptTotal(), options_.in_flight * options_.retry_for);
  EXPECT_EQ(store_->syncs(), 0);
}

TEST_F(PullTest, PullGivesUpWhenManifestUnavailableBeyondRetryFor) {
  Snapshot(Seeds(750, 2));
  options_.retry_for = std::chrono::seconds(10);
  source_.SetDown(true);

  Result<PullResult> r = Pull();

  ASSERT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find("manifest"), std::string::npos) << r.status().ToString();
  EXPECT_LE(SleptTotal(), options_.retry_for);
  EXPECT_GE(SleptTotal(), std::chrono::seconds(8));
  EXPECT_EQ(source_.total_fetches(), 0u);
}

TEST_F(PullTest, PullRetriesCorruptChunkAndSucceeds) {
  Manifest m = Snapshot(Seeds(800, 5));
  const ChunkId bad = m.entries[2].id;
  source_.CorruptNext(bad, 2);

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(source_.Fetches(bad), 3u);
  EXPECT_EQ(r->stats.chunks_fetched, 5u);
  EXPECT_EQ(r->stats.wire_bytes, 7u * kChunk) << "corrupt transfers crossed the network too";
}

TEST_F(PullTest, PullFailsWithDataLossNamingAChunkThatStaysCorrupt) {
  Manifest m = Snapshot(Seeds(900, 5));
  const ChunkId bad = m.entries[3].id;
  source_.CorruptNext(bad, 1000);
  options_.corrupt_retries = 3;

  Result<PullResult> r = Pull();

  ASSERT_EQ(r.status().code(), Code::kDataLoss) << r.status().ToString();
  EXPECT_NE(r.status().message().find(ToHex(bad)), std::string::npos) << r.status().ToString();
  EXPECT_EQ(source_.Fetches(bad), 4u) << "one try and corrupt_retries retries";
  EXPECT_EQ(store_->syncs(), 0);
}

TEST_F(PullTest, PullCatchesBadBytesTheSourceDidNotCatch) {
  Manifest m = Snapshot(Seeds(1000, 4));
  const ChunkId bad = m.entries[1].id;
  source_.LieNext(bad, 1);

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(source_.Fetches(bad), 2u);
}

TEST_F(PullTest, PullFailsAtOnceWhenAChunkIsGone) {
  Manifest m = Snapshot(Seeds(1100, 10));
  const ChunkId gone = m.entries[2].id;
  source_.Remove(gone);
  options_.in_flight = 1;

  Result<PullResult> r = Pull();

  ASSERT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  EXPECT_NE(r.status().message().find(ToHex(gone)), std::string::npos) << r.status().ToString();
  EXPECT_EQ(source_.Fetches(gone), 1u);
  EXPECT_EQ(source_.total_fetches(), 3u) << "nothing after the failure";
  EXPECT_TRUE(Sleeps().empty());
  EXPECT_EQ(store_->syncs(), 0);
}

TEST_F(PullTest, PullFailsAtOnceWhenTheSnapshotIsGone) {
  Result<PullResult> r = Pull();  // the source has no manifest

  ASSERT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  EXPECT_EQ(r.status().reason(), "InvalidSnapshotId.NotFound");
  EXPECT_EQ(source_.manifest_fetches(), 1u);
  EXPECT_TRUE(Sleeps().empty());
}

TEST_F(PullTest, PullFailsAtOnceWhenTheDestinationIsFull) {
  Snapshot(Seeds(1200, 6));
  options_.in_flight = 1;
  store_->FailPuts(ResourceExhausted("", "disk full"));

  Result<PullResult> r = Pull();

  ASSERT_EQ(r.status().code(), Code::kResourceExhausted) << r.status().ToString();
  EXPECT_EQ(source_.total_fetches(), 1u);
}

TEST_F(PullTest, PullPinsEveryDataChunkBeforePuttingIt) {
  Manifest m = Snapshot({1300, 1301, 0, 1302, 1303, 1301, 1304});
  ASSERT_TRUE(store_->Put(m.entries[0].id, bytes_[m.entries[0].id]).ok());
  ASSERT_TRUE(store_->Put(m.entries[3].id, bytes_[m.entries[3].id]).ok());
  std::mutex mu;
  std::multiset<ChunkId> pinned;
  std::set<ChunkId> put_before_pin;
  options_.pin = [&](const ChunkId& id) {
    std::lock_guard<std::mutex> lock(mu);
    pinned.insert(id);
    if (id != m.entries[0].id && id != m.entries[3].id && store_->WasPut(id)) put_before_pin.insert(id);
    return Status::Ok();
  };

  ASSERT_TRUE(Pull().ok());

  std::multiset<ChunkId> want;
  for (const auto& [id, bytes] : bytes_) want.insert(id);
  EXPECT_EQ(pinned, want) << "every distinct data chunk once, present or fetched";
  EXPECT_TRUE(put_before_pin.empty());
  EXPECT_EQ(source_.total_fetches(), 3u);
}

TEST_F(PullTest, AChunkThatCannotBePinnedFailsThePullBeforeItIsFetched) {
  Snapshot({1350, 1351, 0, 1352});
  options_.pin = [&](const ChunkId&) { return Unavailable("the catalog is down"); };
  Result<PullResult> r = Pull();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ(source_.total_fetches(), 0u) << "nothing fetched without its pin";
}

TEST_F(PullTest, PullReportsProgressOnTheCallingThreadEndingComplete) {
  Manifest m = Snapshot({1400, 0, 1401, 1402, 1403, 0, 1404});
  ASSERT_TRUE(store_->Put(m.entries[0].id, bytes_[m.entries[0].id]).ok());
  std::vector<PullProgress> calls;
  std::set<std::thread::id> threads;
  options_.progress = [&](const PullProgress& p) {
    calls.push_back(p);
    threads.insert(std::this_thread::get_id());
  };

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(threads, std::set<std::thread::id>{std::this_thread::get_id()});
  const PullProgress& last = calls.back();
  EXPECT_EQ(last.chunks_total, 5u);
  EXPECT_EQ(last.chunks_done, last.chunks_total);
  EXPECT_EQ(last.chunks_fetched, 4u);
  EXPECT_EQ(last.bytes_total, m.DataBytes());
  EXPECT_EQ(last.bytes_done, last.bytes_total);
  EXPECT_EQ(last.wire_bytes, 4u * kChunk);
  EXPECT_EQ(r->stats.chunks_done, last.chunks_done);
  EXPECT_EQ(r->stats.wire_bytes, last.wire_bytes);
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_GE(calls[i].chunks_done, calls[i - 1].chunks_done);
}

TEST_F(PullTest, PullRateLimitSleepsForTheWireBytes) {
  // 10 chunks of 50000 wire bytes at 100000 B/s: 5 s of traffic, and the
  // limiter makes every fetch but the first wait for the one before.
  SnapshotOfTenChunks(1500);
  options_.in_flight = 1;
  options_.rate_limit_bytes_per_second = 100000;

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stats.wire_bytes, 500000u);
  EXPECT_LE(SleptTotal(), milliseconds(5000));
  EXPECT_GE(SleptTotal(), milliseconds(4500 - 300)) << "9 of 10 chunks paid for, less real time elapsed";
}

TEST_F(PullTest, PullRateLimitPacesFetchesInFlightToo) {
  // 10 chunks with 4 fetches in flight: each fetch books its bytes before it
  // starts, so only the first starts at once and every other waits its turn.
  // (Charged only on receipt, the first 4 went out together: a burst of
  // in_flight chunks above the cap at every start and resume.) Each chunk
  // travels whole, so every turn is 0.66 s of the test's clock after the one
  // before: no refund of a smaller chunk brings a turn within the real time
  // the threads take (compressed chunks did, under load: 8 sleeps of 9).
  SnapshotOfTenChunks(1800, kChunk);
  options_.in_flight = 4;
  options_.rate_limit_bytes_per_second = 100000;

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stats.wire_bytes, 10u * kChunk);
  std::vector<milliseconds> sleeps = Sleeps();
  EXPECT_EQ(sleeps.size(), 9u) << "every fetch but the first waits for its turn";
  for (milliseconds d : sleeps) EXPECT_GT(d, milliseconds(0));
}

TEST(LinkLimiterTest, FetchesBookedTogetherStartOneAfterAnother) {
  const LinkLimiter::Steady::time_point t0{};
  LinkLimiter link(100000);
  // Four fetches of 50000 bytes asking at once: 0, 0.5, 1 and 1.5 s.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(link.Reserve(50000, t0), t0 + milliseconds(500 * i)) << i;
  // The first got 10000 bytes less than it booked: the next start is 0.1 s earlier.
  link.Settle(50000, 40000);
  EXPECT_EQ(link.Reserve(1, t0), t0 + milliseconds(1900));
  // A link idle since then does not bank the idle time.
  const LinkLimiter::Steady::time_point later = t0 + std::chrono::seconds(60);
  EXPECT_EQ(link.Reserve(50000, later), later);
  EXPECT_EQ(link.Reserve(50000, later), later + milliseconds(500));
  // A fetch that failed gives back all it booked.
  link.Settle(50000, 0);
  EXPECT_EQ(link.Reserve(50000, later), later + milliseconds(500));
  // No cap: always now.
  LinkLimiter none(0);
  EXPECT_EQ(none.Reserve(1 << 30, t0), t0);
}

TEST_F(PullTest, PullWaitsForTheLinkItShares) {
  // The same 10 chunks under a link cap instead of a per-copy cap, on a link
  // another copy has just used for 300000 bytes: this pull first waits for
  // that debt (3 s), then pays for 9 of its own 10 chunks (4.5 s).
  SnapshotOfTenChunks(1700);
  LinkLimiter link(100000);
  link.Charge(300000, LinkLimiter::Steady::now());
  options_.in_flight = 1;
  options_.link_limiter = &link;

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stats.wire_bytes, 500000u);
  EXPECT_LE(SleptTotal(), milliseconds(8000));
  EXPECT_GE(SleptTotal(), milliseconds(7500 - 300)) << "the other copy's 3 s and 9 of 10 chunks";
  EXPECT_GE(link.ReadyAt(), LinkLimiter::Steady::now() + milliseconds(300));
}

TEST_F(PullTest, PullCancelsDuringBackoff) {
  Snapshot(Seeds(1600, 3));
  std::atomic<bool> cancel{false};
  options_.cancel = &cancel;
  options_.sleep = [&](milliseconds d) {
    std::lock_guard<std::mutex> lock(sleeps_mu_);
    sleeps_.push_back(d);
    cancel = true;
  };
  source_.SetDown(true);

  Result<PullResult> r = Pull();

  EXPECT_EQ(r.status().code(), Code::kCancelled) << r.status().ToString();
  EXPECT_EQ(Sleeps().size(), 1u);
}

// Real sleeps (no seam): a worker in a long backoff must still notice, at
// once, a cancel or another worker's failure. Broken, these tests hang for
// minutes instead of failing an assertion.
TEST_F(PullTest, PullCancelInterruptsARealBackoff) {
  Manifest m = Snapshot(Seeds(1700, 3));
  options_.sleep = nullptr;
  options_.initial_backoff = std::chrono::minutes(10);
  options_.max_backoff = std::chrono::minutes(10);
  source_.SetUnavailable(m.entries[0].id);
  options_.in_flight = 1;
  std::atomic<bool> cancel{false};
  options_.cancel = &cancel;
  Result<PullResult> r = Internal("not run");
  std::thread puller([&] { r = Pull(); });

  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (source_.total_fetches() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  cancel = true;
  puller.join();

  EXPECT_EQ(r.status().code(), Code::kCancelled) << r.status().ToString();
  EXPECT_EQ(source_.total_fetches(), 1u);
}

TEST_F(PullTest, PullFailureWakesAWorkerInARealBackoff) {
  Manifest m = Snapshot(Seeds(1800, 2));
  options_.sleep = nullptr;
  options_.initial_backoff = std::chrono::minutes(10);
  options_.max_backoff = std::chrono::minutes(10);
  options_.in_flight = 2;
  source_.SetUnavailable(m.entries[0].id);
  source_.Remove(m.entries[1].id);

  Result<PullResult> r = Pull();

  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
}

// --- The chunk buffers shared by every pull of a process (ChunkBudget).

// The budget a fetch of one test chunk reserves.
constexpr uint64_t kObjectBudget = kMaxChunkPrefixSize + kChunk;

TEST_F(PullTest, PullWithABudgetFetchesNoMoreAtOnceThanItHoldsAndGivesItAllBack) {
  Manifest m = Snapshot(Seeds(5000, 16));
  ChunkBudget budget(3 * kObjectBudget, 2);
  options_.budget = &budget;
  options_.in_flight = 8;
  store_->HoldStores(2, milliseconds(30));

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_LE(source_.max_concurrent(), 3u) << "eight workers, room for three chunks";
  EXPECT_LE(budget.peak(), budget.capacity());
  EXPECT_LE(store_->most_storing(), 2) << "store turns come from the budget";
  EXPECT_EQ(budget.in_use(), 0u);
}

TEST_F(PullTest, PullWithABudgetSmallerThanAChunkFetchesOneAtATime) {
  Manifest m = Snapshot(Seeds(5100, 6));
  ChunkBudget budget(kChunk / 2, 1);
  options_.budget = &budget;
  options_.in_flight = 4;

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(source_.max_concurrent(), 1u);
  EXPECT_EQ(budget.in_use(), 0u);
}

TEST_F(PullTest, PullWaitingForTheBudgetIsCancelledAndFetchesNothing) {
  Snapshot(Seeds(5200, 4));
  ChunkBudget budget(kObjectBudget, 1);
  Result<ChunkBudget::Reservation> other = budget.Reserve(kObjectBudget, nullptr);  // another copy's
  ASSERT_TRUE(other.ok());
  std::atomic<bool> cancel{false};
  options_.cancel = &cancel;
  options_.budget = &budget;
  options_.sleep = nullptr;  // real waits, as in a server
  Result<PullResult> r = Internal("not run");
  std::thread puller([&] { r = Pull(); });

  ASSERT_TRUE(testing_util::PollUntil([&] { return budget.waiting() == 4; }))
      << budget.waiting() << " waiting";
  cancel = true;
  puller.join();

  EXPECT_EQ(r.status().code(), Code::kCancelled) << r.status().ToString();
  EXPECT_EQ(source_.total_fetches(), 0u);
  EXPECT_EQ(budget.waiting(), 0u);
  EXPECT_EQ(budget.in_use(), kObjectBudget) << "only the other copy's bytes";
}

TEST_F(PullTest, PullThatFailsGivesBackItsBudgetAndStopsItsWaitingWorkers) {
  Manifest m = Snapshot(Seeds(5300, 8));
  ChunkBudget budget(kObjectBudget, 1);
  options_.budget = &budget;
  options_.in_flight = 4;
  options_.sleep = nullptr;
  source_.Remove(m.entries[0].id);

  Result<PullResult> r = Pull();

  EXPECT_EQ(r.status().code(), Code::kNotFound) << r.status().ToString();
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_EQ(budget.waiting(), 0u);
}

TEST_F(PullTest, PullRetryingAnUnavailableChunkHoldsNoBudgetWhileItWaits) {
  Manifest m = Snapshot(Seeds(5400, 3));
  ChunkBudget budget(kObjectBudget, 1);
  options_.budget = &budget;
  options_.in_flight = 1;
  uint64_t in_use_while_sleeping = 1;
  options_.sleep = [&](milliseconds) { in_use_while_sleeping = budget.in_use(); };
  options_.manifest = &m;  // the one failure is a chunk's
  source_.FailNextCalls(1);

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(in_use_while_sleeping, 0u);
  EXPECT_EQ(budget.in_use(), 0u);
}

TEST_F(PullTest, ManyPullsSharingOneSmallBudgetAllFinishWithEveryByte) {
  constexpr int kPulls = 12;
  ChunkBudget budget(2 * kObjectBudget, 1);
  options_.budget = &budget;
  options_.in_flight = 4;
  std::vector<Manifest> manifests;
  for (int p = 0; p < kPulls; ++p) {
    Manifest m = Manifest::OneEntryPerChunk(uint64_t{kChunk} * 5, kChunk);
    for (size_t i = 0; i < m.entries.size(); ++i) {
      std::vector<uint8_t> bytes = RandomBytes(kChunk, 6000 + p * 10 + i);
      m.entries[i].zero = false;
      m.entries[i].id = source_.AddChunk(bytes);
      bytes_[m.entries[i].id] = std::move(bytes);
    }
    source_.SetManifest(kRegion, "s-many" + std::to_string(p), m);
    manifests.push_back(std::move(m));
  }
  std::vector<Result<PullResult>> results(kPulls, Internal("not run"));
  std::vector<std::thread> pulls;
  for (int p = 0; p < kPulls; ++p) {
    pulls.emplace_back([&, p] {
      results[p] = PullSnapshot(source_, kRegion, "s-many" + std::to_string(p), *store_, options_);
    });
  }
  for (std::thread& t : pulls) t.join();

  for (int p = 0; p < kPulls; ++p) {
    ASSERT_TRUE(results[p].ok()) << p << ": " << results[p].status().ToString();
    EXPECT_EQ(results[p]->manifest.ContentDigest(), manifests[p].ContentDigest());
    ExpectStored(manifests[p]);
  }
  EXPECT_LE(source_.max_concurrent(), 2u) << kPulls << " pulls of 4 workers, room for two chunks";
  EXPECT_LE(budget.peak(), budget.capacity());
  EXPECT_EQ(budget.in_use(), 0u);
}


// ---- Object digests (store/chunk_format.md, "Object digest") ----

// `m` with each data entry's object digest: that of the object the fake
// source serves for it (a raw version 1 object of its bytes).
Manifest WithObjectDigests(Manifest m, const std::map<ChunkId, std::vector<uint8_t>>& bytes) {
  for (ChunkEntry& e : m.entries) {
    if (!e.zero) e.object_digest = ComputeObjectDigest(EncodeChunkObject(bytes.at(e.id), /*compress=*/false));
  }
  return m;
}

// A hostile peer: serves `object` whenever chunk `victim` is asked for, and
// `manifest` (when set) as the snapshot's; everything else from `inner`.
class SubstitutingSource final : public ChunkSource {
 public:
  SubstitutingSource(ChunkSource& inner, const ChunkId& victim, std::vector<uint8_t> object)
      : inner_(inner), victim_(victim), object_(std::move(object)) {}
  void SetManifest(Manifest m) { manifest_ = std::move(m); }
  Result<Manifest> FetchManifest(const std::string& region_id, const std::string& snapshot_id) override {
    if (manifest_) return *manifest_;
    return inner_.FetchManifest(region_id, snapshot_id);
  }
  Result<std::vector<uint8_t>> FetchChunk(const std::string& region_id, const ChunkId& id,
                                          uint64_t* wire_bytes) override {
    return inner_.FetchChunk(region_id, id, wire_bytes);
  }
  Result<std::vector<uint8_t>> FetchChunkObject(const std::string& region_id, const ChunkId& id,
                                                uint64_t length, uint64_t* wire_bytes) override {
    if (id != victim_) return inner_.FetchChunkObject(region_id, id, length, wire_bytes);
    served_.fetch_add(1);
    if (wire_bytes != nullptr) *wire_bytes = object_.size();
    return object_;
  }
  int served() const { return served_.load(); }

 private:
  ChunkSource& inner_;
  const ChunkId victim_;
  const std::vector<uint8_t> object_;
  std::optional<Manifest> manifest_;
  std::atomic<int> served_{0};
};

TEST_F(PullTest, AGivenManifestsObjectDigestsVerifyChunksWithoutDecoding) {
  Manifest m = WithObjectDigests(Snapshot({1, 0, 2, 3, 0, 4, 5}), bytes_);
  // A chunk the destination has already: its object there is not known to
  // be the one the source's digest names.
  const ChunkId present = m.entries[2].id;
  ASSERT_TRUE(store_->inner().Put(present, bytes_[present]).ok());
  options_.manifest = &m;

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(store_->digest_stores(), 4);
  EXPECT_EQ(store_->decoding_stores(), 0);
  EXPECT_EQ(r->manifest.ContentDigest(), m.ContentDigest());
  // The manifest to commit vouches for the objects this pull stored, and no
  // others.
  for (size_t i = 0; i < m.entries.size(); ++i) {
    const ChunkEntry& e = r->manifest.entries[i];
    if (e.zero) continue;
    if (e.id == present) {
      EXPECT_FALSE(e.object_digest.has_value());
      continue;
    }
    EXPECT_EQ(e.object_digest, m.entries[i].object_digest) << i;
    auto object = store_->GetStored(e.id);
    ASSERT_TRUE(object.ok()) << object.status().ToString();
    EXPECT_EQ(ComputeObjectDigest(*object), *e.object_digest) << i;
  }
}

TEST_F(PullTest, AFlippedByteUnderAnObjectDigestIsFetchedAgainThenRefused) {
  Manifest m = WithObjectDigests(Snapshot(Seeds(2100, 4)), bytes_);
  options_.manifest = &m;
  const ChunkId bad = m.entries[1].id;
  source_.LieNext(bad, 1);
  Result<PullResult> r = Pull();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(source_.Fetches(bad), 2u);

  // Always flipped: kDataLoss naming the chunk and the digest it should have.
  ScratchDir other;
  auto fresh = FsChunkStore::Open(other.Sub("dest"));
  ASSERT_TRUE(fresh.ok());
  source_.LieNext(bad, 1000);
  options_.corrupt_retries = 2;
  r = PullSnapshot(source_, kRegion, kSnapshot, **fresh, options_);
  ASSERT_EQ(r.status().code(), Code::kDataLoss) << r.status().ToString();
  EXPECT_NE(r.status().message().find(ToHex(bad)), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find(ToHex(*m.entries[1].object_digest)), std::string::npos)
      << r.status().ToString();
  EXPECT_FALSE(*(*fresh)->Has(bad));
}

TEST_F(PullTest, AnotherChunksValidObjectSentUnderAnIdIsRefused) {
  Manifest m = WithObjectDigests(Snapshot(Seeds(2200, 3)), bytes_);
  const ChunkId victim = m.entries[0].id;
  const std::vector<uint8_t> other_object = EncodeChunkObject(bytes_[m.entries[1].id], /*compress=*/false);
  SubstitutingSource hostile(source_, victim, other_object);
  options_.manifest = &m;
  options_.corrupt_retries = 1;

  Result<PullResult> r = PullSnapshot(hostile, kRegion, kSnapshot, *store_, options_);

  ASSERT_EQ(r.status().code(), Code::kDataLoss) << r.status().ToString();
  EXPECT_NE(r.status().message().find(ToHex(victim)), std::string::npos) << r.status().ToString();
  EXPECT_EQ(hostile.served(), 2);
  EXPECT_FALSE(*store_->Has(victim));
}

TEST_F(PullTest, AFetchedManifestsObjectDigestsAreNotTrusted) {
  // The manifest response is not authenticated: a peer in the middle could
  // name its own object's digest for a chunk, and serve that object.
  Manifest m = Snapshot(Seeds(2300, 3));
  const ChunkId victim = m.entries[2].id;
  const std::vector<uint8_t> impostor = EncodeChunkObject(RandomBytes(kChunk, 2399), /*compress=*/false);
  Manifest forged = WithObjectDigests(m, bytes_);
  forged.entries[2].object_digest = ComputeObjectDigest(impostor);
  SubstitutingSource hostile(source_, victim, impostor);
  hostile.SetManifest(forged);
  options_.corrupt_retries = 1;

  Result<PullResult> r = PullSnapshot(hostile, kRegion, kSnapshot, *store_, options_);

  ASSERT_EQ(r.status().code(), Code::kDataLoss) << r.status().ToString();
  EXPECT_NE(r.status().message().find(ToHex(victim)), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(*store_->Has(victim));
  EXPECT_EQ(store_->digest_stores(), 0) << "every chunk was decoded and hashed";

  // The honest fetched manifest with digests copies, by decoding, and the
  // result vouches for nothing it did not check.
  ScratchDir other;
  auto fresh = FsChunkStore::Open(other.Sub("dest"));
  ASSERT_TRUE(fresh.ok());
  source_.SetManifest(kRegion, kSnapshot, WithObjectDigests(m, bytes_));
  r = PullSnapshot(source_, kRegion, kSnapshot, **fresh, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  r->manifest.ForEachData([](uint64_t, const ChunkEntry& e) { EXPECT_FALSE(e.object_digest.has_value()); });
}

TEST_F(PullTest, AnOldFormatManifestStillCopiesByDecoding) {
  Manifest m = Snapshot({1, 0, 2, 3});
  // Given as a version 2 manifest decodes: no object digests.
  std::vector<uint8_t> v2 = EncodeManifest(m);
  ASSERT_EQ(v2[4], 2);
  Result<Manifest> given = DecodeManifest(v2);
  ASSERT_TRUE(given.ok()) << given.status().ToString();
  options_.manifest = &*given;

  Result<PullResult> r = Pull();

  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ExpectStored(m);
  EXPECT_EQ(store_->decoding_stores(), 3);
  EXPECT_EQ(store_->digest_stores(), 0);
  EXPECT_EQ(EncodeManifest(r->manifest), v2);
}

// A source that serves one store's chunks as they are stored, and `manifest`.
class StoreChunkSource final : public ChunkSource {
 public:
  StoreChunkSource(ChunkStore& store, Manifest manifest) : store_(store), manifest_(std::move(manifest)) {}
  Result<Manifest> FetchManifest(const std::string&, const std::string&) override { return manifest_; }
  Result<std::vector<uint8_t>> FetchChunk(const std::string&, const ChunkId& id, uint64_t* wire_bytes) override {
    ASSIGN_OR_RETURN(std::vector<uint8_t> plaintext, store_.Get(id));
    if (wire_bytes != nullptr) *wire_bytes = plaintext.size();
    return plaintext;
  }
  Result<std::vector<uint8_t>> FetchChunkObject(const std::string&, const ChunkId& id, uint64_t /*length*/,
                                                uint64_t* wire_bytes) override {
    ASSIGN_OR_RETURN(std::vector<uint8_t> object, store_.GetStored(id));
    if (wire_bytes != nullptr) *wire_bytes = object.size();
    return object;
  }

 private:
  ChunkStore& store_;
  const Manifest manifest_;
};

std::vector<uint8_t> ReadWholeFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

TEST_F(PullTest, AnImportCopiedTwiceOnItsDigestsExportsByteIdentical) {
  // 11 chunks and a short tail: compressible, random, zero and short ones.
  std::vector<uint8_t> image;
  for (uint64_t seed : {1, 2, 0, 3, 0, 0, 4, 5, 6, 0, 7}) {
    std::vector<uint8_t> part = seed == 0 ? std::vector<uint8_t>(kChunk, 0)
                                : seed % 2 == 1 ? testing_util::CompressibleBytes(kChunk, 2400 + seed)
                                                : RandomBytes(kChunk, 2400 + seed);
    image.insert(image.end(), part.begin(), part.end());
  }
  std::vector<uint8_t> tail = testing_util::CompressibleBytes(1000, 2499);
  image.insert(image.end(), tail.begin(), tail.end());
  const std::string path = dir_.Sub("image.raw");
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
  }
  auto origin = FsChunkStore::Open(dir_.Sub("origin"));
  ASSERT_TRUE(origin.ok());
  IngestOptions ingest;
  ingest.chunk_size = kChunk;
  Result<Manifest> imported = IngestRawFile(path, **origin, ingest);
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  // Region A -> region B (store_), on the digests the import recorded.
  StoreChunkSource from_a(**origin, *imported);
  options_.manifest = &*imported;
  Result<PullResult> b = PullSnapshot(from_a, kRegion, kSnapshot, *store_, options_);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(store_->digest_stores(), 8);
  EXPECT_EQ(store_->decoding_stores(), 0);
  EXPECT_EQ(EncodeManifest(b->manifest), EncodeManifest(*imported)) << "B holds A's very objects";
  // Region B -> region C, on the digests B's manifest carries.
  auto c_store = FsChunkStore::Open(dir_.Sub("region-c"));
  ASSERT_TRUE(c_store.ok());
  StoreChunkSource from_b(*store_, b->manifest);
  options_.manifest = &b->manifest;
  Result<PullResult> c = PullSnapshot(from_b, kRegion, kSnapshot, **c_store, options_);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(EncodeManifest(c->manifest), EncodeManifest(*imported)) << "C verified and kept them too";
  // Exported from either copy: the original bytes.
  for (ChunkStore* store : {static_cast<ChunkStore*>(store_.get()), static_cast<ChunkStore*>(c_store->get())}) {
    const std::string out = dir_.Sub("export.raw");
    Status st = MaterializeRawFile(store == store_.get() ? b->manifest : c->manifest, *store, out, {});
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(ReadWholeFile(out) == image);
  }
}

}  // namespace
}  // namespace ferry
