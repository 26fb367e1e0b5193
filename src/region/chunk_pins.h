// ChunkPins: the chunks that in-flight ingests have written (or are about to
// write) but whose manifest is not committed yet. Garbage collection never
// deletes a pinned chunk.
//
// The race this closes: an ingest finds chunk X already stored (dedup) while
// GC, having found X unreferenced, is about to delete it. Pin() happens before
// the ingest's Has/Put, and DeleteUnlessPinned() checks and deletes under the
// same mutex, so either GC sees the pin, or the delete happens first and the
// ingest's Put stores X again.
//
// Threading: thread-safe. A PinLease is filled from any number of ingest
// threads and released once, by its owner.
#pragma once

#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "store/chunk_store.h"

namespace ferry {

struct ChunkIdHash {
  size_t operator()(const ChunkId& id) const {
    size_t h;
    std::memcpy(&h, id.data(), sizeof(h));  // already uniformly distributed
    return h;
  }
};

class ChunkPins {
 public:
  void Pin(const ChunkId& id);
  void Unpin(const std::vector<ChunkId>& ids);
  bool IsPinned(const ChunkId& id) const;
  size_t size() const;

  // Deletes `id` from `store` unless it is pinned; *deleted tells which.
  Status DeleteUnlessPinned(const ChunkId& id, ChunkStore& store, bool* deleted);

 private:
  mutable std::mutex mu_;
  std::unordered_map<ChunkId, uint32_t, ChunkIdHash> counts_;  // guarded by mu_
};

// The pins taken by one ingest; released (once) when its manifest is
// committed or the ingest is abandoned. Releasing on destruction makes an
// early return safe.
class PinLease {
 public:
  explicit PinLease(ChunkPins& pins) : pins_(pins) {}
  ~PinLease() { Release(); }
  PinLease(const PinLease&) = delete;
  PinLease& operator=(const PinLease&) = delete;

  void Pin(const ChunkId& id);
  void Release();

 private:
  ChunkPins& pins_;
  std::mutex mu_;
  std::vector<ChunkId> held_;  // guarded by mu_
};

}  // namespace ferry
