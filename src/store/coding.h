// Fixed-width little-endian integer coding for the store's on-disk formats
// (chunk_format.md, manifest_format.md). Byte-wise, so the formats do not
// depend on the host's endianness or alignment.
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <vector>

namespace ferry {

inline void PutFixed32(std::vector<uint8_t>* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

inline void PutFixed64(std::vector<uint8_t>* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

inline void EncodeFixed16(uint8_t* dst, uint16_t v) {
  for (int i = 0; i < 2; ++i) dst[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline void EncodeFixed32(uint8_t* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline void EncodeFixed64(uint8_t* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<uint8_t>(v >> (8 * i));
}

inline uint16_t DecodeFixed16(const uint8_t* src) { return static_cast<uint16_t>(src[0] | (src[1] << 8)); }

inline uint32_t DecodeFixed32(const uint8_t* src) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | src[i];
  return v;
}

inline uint64_t DecodeFixed64(const uint8_t* src) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | src[i];
  return v;
}

}  // namespace ferry
