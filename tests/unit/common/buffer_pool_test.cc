#include "common/buffer_pool.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace ferry {
namespace {

constexpr size_t kCapacity = 1 << 20;

TEST(BufferPoolTest, AGivenBufferIsTakenAgainWithItsMemory) {
  BufferPool pool(kCapacity, 4);
  std::vector<uint8_t> first = pool.Take(kCapacity - 100);
  ASSERT_EQ(first.size(), kCapacity - 100);
  EXPECT_EQ(first.capacity(), kCapacity);
  const uint8_t* memory = first.data();
  pool.Give(std::move(first));
  EXPECT_EQ(pool.held_buffers(), 1u);

  std::vector<uint8_t> again = pool.Take(kCapacity / 2 + 1);
  EXPECT_EQ(again.data(), memory);
  EXPECT_EQ(again.size(), kCapacity / 2 + 1);
  EXPECT_EQ(pool.held_buffers(), 0u);
}

TEST(BufferPoolTest, SmallSizesGetBuffersOfTheirOwnSizeAndAreNotKept) {
  BufferPool pool(kCapacity, 4);
  std::vector<uint8_t> small = pool.Take(kCapacity / 2);
  EXPECT_EQ(small.capacity(), kCapacity / 2);
  EXPECT_EQ(pool.CapacityFor(kCapacity / 2), kCapacity / 2);
  EXPECT_EQ(pool.CapacityFor(kCapacity / 2 + 1), kCapacity);
  EXPECT_EQ(pool.CapacityFor(kCapacity + 1), kCapacity + 1);
  pool.Give(std::move(small));
  EXPECT_EQ(pool.held_buffers(), 0u);

  std::vector<uint8_t> large = pool.Take(kCapacity + 1);  // beyond the pool's buffers
  EXPECT_EQ(large.size(), kCapacity + 1);
  pool.Give(std::move(large));
  EXPECT_EQ(pool.held_buffers(), 0u);
}

TEST(BufferPoolTest, ASmallSizeWithRoomForAWholeBufferGetsAPooledOne) {
  BufferPool pool(kCapacity, 4);
  std::vector<uint8_t> first = pool.Take(kCapacity);
  const uint8_t* memory = first.data();
  pool.Give(std::move(first));

  // The caller counted a whole buffer (room = kCapacity): the small body
  // goes into the pooled buffer, and it is kept again when given back.
  std::vector<uint8_t> small = pool.Take(100, kCapacity);
  EXPECT_EQ(small.size(), 100u);
  EXPECT_EQ(small.data(), memory);
  EXPECT_EQ(small.capacity(), kCapacity);
  pool.Give(std::move(small));
  EXPECT_EQ(pool.held_buffers(), 1u);

  // Room for less than a pooled buffer, or a size beyond one: its own size.
  EXPECT_EQ(pool.Take(100, kCapacity / 2).capacity(), 100u);
  EXPECT_EQ(pool.Take(kCapacity + 1, kCapacity).size(), kCapacity + 1);
  EXPECT_EQ(pool.held_buffers(), 1u);
}

TEST(BufferPoolTest, KeepsNoMoreThanItsBound) {
  BufferPool pool(kCapacity, 2);
  std::vector<std::vector<uint8_t>> taken;
  for (int i = 0; i < 5; ++i) taken.push_back(pool.Take(kCapacity));
  for (auto& buffer : taken) pool.Give(std::move(buffer));
  EXPECT_EQ(pool.held_buffers(), 2u);
}

TEST(BufferPoolTest, ABufferTakenAgainHoldsWhatItIsGiven) {
  BufferPool pool(kCapacity, 1);
  std::vector<uint8_t> first = pool.Take(kCapacity / 2 + 10);
  first.assign(first.size(), 0xab);
  pool.Give(std::move(first));
  std::vector<uint8_t> second = pool.Take(kCapacity);
  ASSERT_EQ(second.size(), kCapacity);
  second.back() = 0xcd;  // the grown part is writable memory of the buffer
  EXPECT_EQ(second.front(), 0xab);
  EXPECT_EQ(second.back(), 0xcd);
}

TEST(BufferPoolTest, ANewPooledBufferIsMappedWholeBeforeItIsFilled) {
  // Taken for a small size with room for a whole buffer, only the first
  // bytes are written by Take; the rest of the buffer is mapped anyway (by
  // one call, not a fault per page later).
  const long page = ::sysconf(_SC_PAGESIZE);
  void* probe = ::mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(probe, MAP_FAILED);
  const bool can_populate = ::madvise(probe, page, MADV_POPULATE_WRITE) == 0;
  ::munmap(probe, page);
  if (!can_populate) GTEST_SKIP() << "this kernel has no MADV_POPULATE_WRITE";

  constexpr size_t kCapacity = 4u << 20;
  BufferPool pool(kCapacity, 2);
  std::vector<uint8_t> buffer = pool.Take(100, kCapacity);
  ASSERT_EQ(buffer.capacity(), kCapacity);
  const auto begin = reinterpret_cast<uintptr_t>(buffer.data());
  const uintptr_t first = (begin + page - 1) / page * page;
  const uintptr_t last = (begin + kCapacity) / page * page;
  ASSERT_GT(last, first);
  std::vector<unsigned char> resident((last - first) / page);
  ASSERT_EQ(::mincore(reinterpret_cast<void*>(first), last - first, resident.data()), 0) << errno;
  size_t mapped = 0;
  for (unsigned char r : resident) mapped += r & 1;
  EXPECT_EQ(mapped, resident.size());
}

}  // namespace
}  // namespace ferry
