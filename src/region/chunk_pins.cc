#include "region/chunk_pins.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/hash.h"
#include "common/ids.h"

namespace ferry {

namespace {
// How long a GC pass stays registered without deleting anything (listing a
// large store takes a while); each delete renews it.
constexpr UnixSeconds kGcPassSeconds = 3600;
}  // namespace

Status ChunkPins::ShareThrough(Catalog* catalog, std::string node, const Clock* clock,
                               unsigned lease_seconds) {
  catalog_ = catalog;
  node_ = std::move(node);
  clock_ = clock;
  lease_seconds_ = std::max(1u, lease_seconds);
  return catalog_->DropChunkPins(node_).WithContext("drop the chunk pins node " + node_ + " left");
}

void ChunkPins::Pin(const ChunkId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[id];
}

void ChunkPins::Unpin(const std::vector<ChunkId>& ids) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const ChunkId& id : ids) {
    auto it = counts_.find(id);
    if (it == counts_.end()) continue;
    if (--it->second == 0) counts_.erase(it);
  }
}

bool ChunkPins::IsPinned(const ChunkId& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_.count(id) != 0;
}

size_t ChunkPins::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_.size();
}

Result<ChunkPins::Pass> ChunkPins::BeginPass() {
  Pass pass;
  if (!shared()) return pass;
  pass.id = node_ + "/gc-" + RandomHex(8);
  RETURN_IF_ERROR(catalog_->BeginGcPass(pass.id, clock_->Now() + kGcPassSeconds).status());
  return pass;
}

Status ChunkPins::DeleteUnlessPinned(const Pass& pass, const ChunkId& id, ChunkStore& store, bool* deleted) {
  *deleted = false;
  // This node's pins, then (when shared) every node's; the store delete runs
  // under both, so no pin can commit between the check and the delete.
  auto local = [&]() -> Status {
    std::lock_guard<std::mutex> lock(mu_);
    if (counts_.count(id) != 0) return Status::Ok();
    RETURN_IF_ERROR(store.Delete(id));
    *deleted = true;
    return Status::Ok();
  };
  if (!shared()) return local();
  const UnixSeconds now = clock_->Now();
  bool unpinned = false;  // (local() says whether this node's pins let it go)
  return catalog_->DeleteChunkUnlessPinned(ToHex(id), pass.id, now, now + kGcPassSeconds, local, &unpinned);
}

Status ChunkPins::EndPass(const Pass& pass) {
  if (!shared()) return Status::Ok();
  return catalog_->EndGcPass(pass.id, clock_->Now());
}

Status ChunkPins::RenewShared() {
  if (!shared()) return Status::Ok();
  std::vector<std::string> owners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    owners.swap(unreleased_);
    if (owners.empty() && open_leases_ == 0) return Status::Ok();
  }
  for (const std::string& owner : owners) ReleaseShared(owner);
  const UnixSeconds now = clock_->Now();
  return catalog_->RenewChunkPins(node_, now, now + static_cast<UnixSeconds>(lease_seconds_));
}

Status ChunkPins::PinShared(const std::string& owner, const ChunkId& id) {
  return catalog_->PinChunk(ToHex(id), owner, node_, Until());
}

Result<int64_t> ChunkPins::LiveShared(const std::string& owner) {
  return catalog_->LiveChunkPins(owner, clock_->Now());
}

void ChunkPins::ReleaseShared(const std::string& owner) {
  Status st = catalog_->ReleaseChunkPins(owner, clock_->Now());
  if (st.ok()) return;
  // Kept (renewed) until a later try succeeds: keeping a chunk is safe.
  spdlog::warn("chunk pins of {} not released (tried again with the task leases): {}", owner, st.ToString());
  std::lock_guard<std::mutex> lock(mu_);
  unreleased_.push_back(owner);
}

PinLease::PinLease(ChunkPins& pins)
    : pins_(pins), owner_(pins.shared() ? pins.node_ + "/pins-" + RandomHex(8) : std::string()) {}

Status PinLease::Pin(const ChunkId& id) {
  pins_.Pin(id);
  {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(id);
    if (owner_.empty() || !shared_held_.insert(id).second) return Status::Ok();
    if (!counted_) {
      counted_ = true;
      std::lock_guard<std::mutex> pins_lock(pins_.mu_);
      ++pins_.open_leases_;
    }
  }
  Status st = pins_.PinShared(owner_, id);
  if (!st.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    shared_held_.erase(id);
  }
  return st.WithContext("pin chunk " + ToHex(id) + " in the catalog");
}

Status PinLease::CheckHeld() {
  if (owner_.empty()) return Status::Ok();
  size_t want;
  {
    std::lock_guard<std::mutex> lock(mu_);
    want = shared_held_.size();
  }
  if (want == 0) return Status::Ok();
  ASSIGN_OR_RETURN(int64_t live, pins_.LiveShared(owner_));
  if (live == static_cast<int64_t>(want)) return Status::Ok();
  return Unavailable("chunk pins of " + owner_ + " lapsed (" +
                     std::to_string(static_cast<int64_t>(want) - live) + " of " + std::to_string(want) +
                     "): this node could not renew them in time, and another node's garbage collection may "
                     "have deleted their chunks; the ingest must run again");
}

void PinLease::Release() {
  std::vector<ChunkId> held;
  bool counted = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held.swap(held_);
    shared_held_.clear();
    std::swap(counted, counted_);
  }
  pins_.Unpin(held);
  // Even a pin whose commit answered an error may be in the catalog.
  if (!owner_.empty() && !held.empty()) pins_.ReleaseShared(owner_);
  if (counted) {
    std::lock_guard<std::mutex> lock(pins_.mu_);
    --pins_.open_leases_;
  }
}

}  // namespace ferry
