// The header that prefixes every chunk object of FsChunkStore. The byte
// format is specified in chunk_format.md (next to this file) and pinned by
// golden-bytes tests.
// Thread-safe: pure functions and constants.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"

namespace ferry {

inline constexpr std::array<uint8_t, 4> kChunkMagic = {'F', 'R', 'C', 'K'};
inline constexpr uint8_t kChunkFormatVersion = 1;
inline constexpr size_t kChunkHeaderSize = 24;
// A bound on plaintext_length so a corrupt header cannot make a reader
// allocate an absurd buffer; far above any chunk size we use.
inline constexpr uint64_t kMaxChunkPlaintext = 1ull << 30;

enum class ChunkCodec : uint8_t {
  kRaw = 0,
  kZstd = 1,
};

struct ChunkHeader {
  ChunkCodec codec = ChunkCodec::kRaw;
  uint64_t plaintext_length = 0;
  uint64_t stored_length = 0;  // payload bytes following the header
};

using ChunkHeaderBytes = std::array<uint8_t, kChunkHeaderSize>;

ChunkHeaderBytes EncodeChunkHeader(const ChunkHeader& h);
// Verifies magic, version, codec, the reserved field, and that a raw payload
// is as long as its plaintext. kDataLoss with the offending values.
Result<ChunkHeader> DecodeChunkHeader(std::span<const uint8_t> bytes);

// A whole object (header + payload) of `plaintext`. With `compress`, the
// payload is a zstd frame at `zstd_level` when that is strictly smaller than
// the plaintext; otherwise it is raw.
std::vector<uint8_t> EncodeChunkObject(std::span<const uint8_t> plaintext, bool compress, int zstd_level = 1);
// Checks an object's header and that its size is header + stored_length;
// the payload is not looked at. kDataLoss with the offending values.
Result<ChunkHeader> CheckChunkObject(std::span<const uint8_t> object);
// CheckChunkObject, then the plaintext (zstd decoded). kDataLoss if the
// payload does not decode to plaintext_length bytes. The caller compares
// the plaintext with the chunk id: the object does not carry it.
Result<std::vector<uint8_t>> DecodeChunkObject(std::span<const uint8_t> object);

}  // namespace ferry
