// BufferPool: byte buffers kept for reuse, for the bodies of the chunks a
// copy receives. A fresh buffer of a few MiB costs a page fault for each
// 4 KiB the first time it is written, and malloc hands freed ones back to
// the kernel, so every received chunk paid those faults again (with the
// zero fill, ~15 % of a destination's CPU in a copy); a reused buffer is
// already mapped. A new pooled buffer is mapped in one go (huge pages where
// the kernel allows them, the page tables filled by one call) rather than by a
// fault per 4 KiB of its first fill.
//
// The pooled buffers all have one capacity, `buffer_capacity`, and serve
// sizes above half of it (smaller ones get a buffer of their own size, so no
// buffer is ever more than twice what it holds), and any size up to it when
// the caller has room for a whole one (a chunk that compressed well arrives
// in a buffer that a large one needed before). Bounded: at most
// `max_buffers` are kept; one given back beyond that is freed. Take never
// waits.
//
// Threading: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace ferry {

class BufferPool {
 public:
  BufferPool(size_t buffer_capacity, size_t max_buffers)
      : buffer_capacity_(buffer_capacity), max_buffers_(max_buffers) {}

  // A buffer of `size` bytes, contents unspecified: a pooled one (or a new
  // one of the pool's capacity) when `size` is one the pool serves, else a
  // new one of its own size. `room` is the most the caller has counted for
  // the buffer, CapacityFor(room): when that is a pooled buffer's capacity,
  // any `size` up to it is served from the pool.
  std::vector<uint8_t> Take(size_t size, size_t room = 0);
  // Keeps `buffer` for a later Take when it is one of the pool's and there
  // is room; frees it if not.
  void Give(std::vector<uint8_t> buffer);

  // The capacity a buffer taken for up to `size` bytes may have: what a
  // caller accounting for memory must count.
  size_t CapacityFor(size_t size) const { return Serves(size) ? buffer_capacity_ : size; }
  size_t held_buffers() const;

 private:
  bool Serves(size_t size) const { return size > buffer_capacity_ / 2 && size <= buffer_capacity_; }

  const size_t buffer_capacity_;
  const size_t max_buffers_;
  mutable std::mutex mu_;
  std::vector<std::vector<uint8_t>> free_;
};

}  // namespace ferry
