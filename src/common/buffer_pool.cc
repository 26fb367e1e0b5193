#include "common/buffer_pool.h"

#include <utility>

namespace ferry {

std::vector<uint8_t> BufferPool::Take(size_t size, size_t room) {
  std::vector<uint8_t> buffer;
  if (Serves(size) || (Serves(room) && size <= buffer_capacity_)) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!free_.empty()) {
        buffer = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (buffer.capacity() == 0) buffer.reserve(buffer_capacity_);
  }
  // Within the capacity, only the bytes past the buffer's last size are
  // filled.
  buffer.resize(size);
  return buffer;
}

void BufferPool::Give(std::vector<uint8_t> buffer) {
  if (buffer.capacity() != buffer_capacity_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.size() < max_buffers_) free_.push_back(std::move(buffer));
  // Otherwise freed on return (after the unlock: locals die after `lock`).
}

size_t BufferPool::held_buffers() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_.size();
}

}  // namespace ferry
