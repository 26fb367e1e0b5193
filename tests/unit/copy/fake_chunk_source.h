// FakeChunkSource: an in-memory ChunkSource for copy tests, scriptable to
// fail, corrupt, vanish or stall on cue, and counting what it was asked.
//
// Threading: thread-safe, like every ChunkSource; one mutex guards all state.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/hash.h"
#include "copy/chunk_source.h"
#include "store/manifest.h"

namespace ferry::testing_util {

class FakeChunkSource final : public ChunkSource {
 public:
  // Serves `m` as `snapshot_id` of `region_id`.
  void SetManifest(const std::string& region_id, const std::string& snapshot_id, Manifest m) {
    std::lock_guard<std::mutex> lock(mu_);
    manifests_[region_id + "/" + snapshot_id] = std::move(m);
  }

  // Serves `bytes` under their SHA-256, which it returns. The wire size
  // reported for them is `wire_bytes`, or their length when 0 (a fake of
  // compression on the wire).
  ChunkId AddChunk(std::vector<uint8_t> bytes, uint64_t wire_bytes = 0) {
    ChunkId id = Sha256::Of(bytes);
    std::lock_guard<std::mutex> lock(mu_);
    Chunk& c = chunks_[id];
    c.wire_bytes = wire_bytes != 0 ? wire_bytes : bytes.size();
    c.bytes = std::move(bytes);
    return id;
  }

  // The next `n` calls (manifest or chunk, any id) fail with kUnavailable.
  void FailNextCalls(unsigned n) {
    std::lock_guard<std::mutex> lock(mu_);
    unavailable_calls_ = n;
  }
  // Every call fails with kUnavailable until set back to false.
  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  // Fetches of `id` fail with kUnavailable (while other chunks are served).
  void SetUnavailable(const ChunkId& id) {
    std::lock_guard<std::mutex> lock(mu_);
    chunks_[id].unavailable = true;
  }
  // The next `n` fetches of `id` report kDataLoss (the source's own check of
  // received bytes failing), after counting their wire bytes.
  void CorruptNext(const ChunkId& id, unsigned n) {
    std::lock_guard<std::mutex> lock(mu_);
    chunks_[id].corrupt_next = n;
  }
  // The next `n` fetches of `id` return flipped bytes as if they were good:
  // a source that forgot to verify.
  void LieNext(const ChunkId& id, unsigned n) {
    std::lock_guard<std::mutex> lock(mu_);
    chunks_[id].lie_next = n;
  }
  // Fetches of `id` report kNotFound.
  void Remove(const ChunkId& id) {
    std::lock_guard<std::mutex> lock(mu_);
    chunks_.erase(id);
  }
  // While blocked, FetchChunk waits inside the call until Release().
  void Block() {
    std::lock_guard<std::mutex> lock(mu_);
    blocked_ = true;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    blocked_ = false;
    cv_.notify_all();
  }
  // Runs at the start of every FetchChunk, outside the lock, with the
  // 1-based number of that call.
  void OnFetch(std::function<void(uint64_t)> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    on_fetch_ = std::move(fn);
  }

  unsigned Fetches(const ChunkId& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fetches_.find(id);
    return it == fetches_.end() ? 0 : it->second;
  }
  uint64_t total_fetches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return total_fetches_;
  }
  uint64_t manifest_fetches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return manifest_fetches_;
  }
  unsigned concurrent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return concurrent_;
  }
  unsigned max_concurrent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return max_concurrent_;
  }
  uint64_t wire_bytes_of(const ChunkId& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    return chunks_.at(id).wire_bytes;
  }

  void Warm(const std::string& region_id, unsigned connections) override {
    std::lock_guard<std::mutex> lock(mu_);
    warmed_.emplace_back(region_id, connections);
  }
  void SetRoundTrip(std::chrono::microseconds rtt) {
    std::lock_guard<std::mutex> lock(mu_);
    round_trip_ = rtt;
  }
  std::chrono::microseconds RoundTrip(const std::string& /*region_id*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    return round_trip_;
  }
  // (region, connections) of every Warm call.
  std::vector<std::pair<std::string, unsigned>> Warmed() {
    std::lock_guard<std::mutex> lock(mu_);
    return warmed_;
  }

  Result<Manifest> FetchManifest(const std::string& region_id, const std::string& snapshot_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++manifest_fetches_;
    if (TakeUnavailableLocked()) return Unavailable("fake: source down");
    auto it = manifests_.find(region_id + "/" + snapshot_id);
    if (it == manifests_.end())
      return NotFound("InvalidSnapshotId.NotFound", "fake: no snapshot " + snapshot_id);
    return it->second;
  }

  Result<std::vector<uint8_t>> FetchChunk(const std::string& /*region_id*/, const ChunkId& id,
                                          uint64_t* wire_bytes) override {
    std::function<void(uint64_t)> hook;
    uint64_t call;
    {
      std::unique_lock<std::mutex> lock(mu_);
      call = ++total_fetches_;
      ++fetches_[id];
      ++concurrent_;
      max_concurrent_ = std::max(max_concurrent_, concurrent_);
      hook = on_fetch_;
    }
    if (hook) hook(call);
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return !blocked_; });
    --concurrent_;
    if (wire_bytes != nullptr) *wire_bytes = 0;
    if (TakeUnavailableLocked()) return Unavailable("fake: source down");
    auto it = chunks_.find(id);
    if (it == chunks_.end()) return NotFound("", "fake: no chunk " + ToHex(id));
    Chunk& c = it->second;
    if (c.unavailable) return Unavailable("fake: chunk " + ToHex(id) + " unavailable");
    if (wire_bytes != nullptr) *wire_bytes = c.wire_bytes;
    if (c.corrupt_next > 0) {
      --c.corrupt_next;
      return DataLoss("fake: chunk " + ToHex(id) + " failed verification");
    }
    std::vector<uint8_t> out = c.bytes;
    if (c.lie_next > 0) {
      --c.lie_next;
      if (!out.empty()) out[0] ^= 0xff;
    }
    return out;
  }

 private:
  struct Chunk {
    std::vector<uint8_t> bytes;
    uint64_t wire_bytes = 0;
    unsigned corrupt_next = 0;
    unsigned lie_next = 0;
    bool unavailable = false;
  };

  bool TakeUnavailableLocked() {
    if (down_) return true;
    if (unavailable_calls_ == 0) return false;
    --unavailable_calls_;
    return true;
  }

  mutable std::mutex mu_;
  std::vector<std::pair<std::string, unsigned>> warmed_;  // guarded by mu_
  std::chrono::microseconds round_trip_{0};  // guarded by mu_
  std::condition_variable cv_;
  std::map<std::string, Manifest> manifests_;
  std::map<ChunkId, Chunk> chunks_;
  std::map<ChunkId, unsigned> fetches_;
  std::function<void(uint64_t)> on_fetch_;
  unsigned unavailable_calls_ = 0;
  bool down_ = false;
  bool blocked_ = false;
  uint64_t total_fetches_ = 0;
  uint64_t manifest_fetches_ = 0;
  unsigned concurrent_ = 0;
  unsigned max_concurrent_ = 0;
};

}  // namespace ferry::testing_util
