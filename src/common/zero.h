// Zero tests for sparse writes: data that is all zero becomes a hole.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ferry {

// Whether n bytes at p are all zero. OR-reduces 64-byte blocks (one cache
// line, which compilers vectorize) with an early exit per block, since data
// is usually non-zero near its start.
bool IsAllZero(const uint8_t* p, size_t n);

}  // namespace ferry
