#include "region/chunk_pins.h"

namespace ferry {

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

Status ChunkPins::DeleteUnlessPinned(const ChunkId& id, ChunkStore& store, bool* deleted) {
  std::lock_guard<std::mutex> lock(mu_);
  *deleted = false;
  if (counts_.count(id) != 0) return Status::Ok();
  RETURN_IF_ERROR(store.Delete(id));
  *deleted = true;
  return Status::Ok();
}

void PinLease::Pin(const ChunkId& id) {
  pins_.Pin(id);
  std::lock_guard<std::mutex> lock(mu_);
  held_.push_back(id);
}

void PinLease::Release() {
  std::vector<ChunkId> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held.swap(held_);
  }
  pins_.Unpin(held);
}

}  // namespace ferry
