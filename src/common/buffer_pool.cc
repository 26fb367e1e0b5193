#include "common/buffer_pool.h"

#include <sys/mman.h>

#include <cstdint>
#include <utility>

namespace ferry {
namespace {

// Maps a new pooled buffer's memory in one go: its whole 2 MiB pages as huge
// pages where the kernel allows (madvise mode), and every page written into
// the page tables by one call. The first use of a buffer otherwise takes a
// fault for each 4 KiB, and on a paravirtualized machine a fault costs
// ~10 us: eight fresh 4 MiB buffers cost ~100 ms at the start of a copy,
// ~30 ms mapped this way. Advice only: a kernel without it (EINVAL) or a
// refusal changes nothing but the speed.
void MapAtOnce(uint8_t* data, size_t size) {
  constexpr uintptr_t kPage = 4096;
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<uintptr_t>(data);
  const uintptr_t end = begin + size;
  const uintptr_t huge_begin = (begin + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t huge_end = end & ~(kHugePage - 1);
  if (huge_end > huge_begin) {
    (void)::madvise(reinterpret_cast<void*>(huge_begin), huge_end - huge_begin, MADV_HUGEPAGE);
  }
  const uintptr_t page_begin = (begin + kPage - 1) & ~(kPage - 1);
  const uintptr_t page_end = end & ~(kPage - 1);
  if (page_end > page_begin) {
    (void)::madvise(reinterpret_cast<void*>(page_begin), page_end - page_begin, MADV_POPULATE_WRITE);
  }
}

}  // namespace

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
    if (buffer.capacity() == 0) {
      buffer.reserve(buffer_capacity_);
      MapAtOnce(buffer.data(), buffer.capacity());
    }
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
