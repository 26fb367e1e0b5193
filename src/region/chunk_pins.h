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
// Nodes sharing a chunk store (ShareThrough): a pin is also a catalog row,
// committed before the ingest's Has/Put, and GC registers a pass and deletes
// each chunk in a catalog write transaction that checks the pins of every
// node (src/region/gc_with_nodes.md has the design and why it holds). The
// node renews its live pins with its task leases (RenewShared); a pin that
// lapsed fails the ingest's commit (PinLease::CheckHeld).
//
// Threading: thread-safe. A PinLease is filled from any number of ingest
// threads and released once, by its owner.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
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
  // From now on pins are also rows of `catalog`, held by `node` for
  // `lease_seconds` at a time. Called once, before any pin; drops the pins
  // an earlier run of `node` left (none of its ingests is in flight).
  Status ShareThrough(Catalog* catalog, std::string node, const Clock* clock, unsigned lease_seconds);
  bool shared() const { return catalog_ != nullptr; }

  void Pin(const ChunkId& id);
  void Unpin(const std::vector<ChunkId>& ids);
  bool IsPinned(const ChunkId& id) const;
  size_t size() const;

  // One garbage collection: registered in the catalog when shared, so
  // pins released while it runs keep their chunks from it.
  struct Pass {
    std::string id;  // empty when not shared
  };
  Result<Pass> BeginPass();
  // Deletes `id` from `store` unless it is pinned; *deleted tells which.
  Status DeleteUnlessPinned(const Pass& pass, const ChunkId& id, ChunkStore& store, bool* deleted);
  Status EndPass(const Pass& pass);

  // The lease loop: releases that failed are tried again, live pins renewed
  // (no catalog write while this node holds none).
  Status RenewShared();

 private:
  friend class PinLease;
  Status PinShared(const std::string& owner, const ChunkId& id);
  Result<int64_t> LiveShared(const std::string& owner);
  void ReleaseShared(const std::string& owner);
  UnixSeconds Until() const { return clock_->Now() + static_cast<UnixSeconds>(lease_seconds_); }

  mutable std::mutex mu_;
  std::unordered_map<ChunkId, uint32_t, ChunkIdHash> counts_;  // guarded by mu_
  std::vector<std::string> unreleased_;                        // guarded by mu_: owners to release again
  size_t open_leases_ = 0;  // guarded by mu_: shared PinLeases that pinned, not released yet

  // Set once by ShareThrough, before any other call.
  Catalog* catalog_ = nullptr;
  std::string node_;
  const Clock* clock_ = nullptr;
  unsigned lease_seconds_ = 0;
};

// The pins taken by one ingest; released (once) when its manifest is
// committed or the ingest is abandoned. Releasing on destruction makes an
// early return safe.
class PinLease {
 public:
  explicit PinLease(ChunkPins& pins);
  ~PinLease() { Release(); }
  PinLease(const PinLease&) = delete;
  PinLease& operator=(const PinLease&) = delete;

  // Pins `id`; when shared, the catalog row is committed before it returns
  // (an error means the chunk is not pinned: the ingest must stop).
  Status Pin(const ChunkId& id);
  // Inside the manifest's commit transaction: every pin this lease took is
  // still live (when shared); kUnavailable when one lapsed (the node lost
  // the catalog longer than a lease, and GC may have deleted its chunk).
  Status CheckHeld();
  void Release();

 private:
  ChunkPins& pins_;
  const std::string owner_;  // this lease's name in the catalog; empty when not shared
  std::mutex mu_;
  std::vector<ChunkId> held_;                             // guarded by mu_
  std::unordered_set<ChunkId, ChunkIdHash> shared_held_;  // guarded by mu_
  bool counted_ = false;                                  // guarded by mu_: counted in pins_.open_leases_
};

}  // namespace ferry
