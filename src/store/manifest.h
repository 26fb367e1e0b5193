// Manifest: the content of one snapshot, as an ordered list of fixed-size
// chunks. The byte format is specified in manifest_format.md (next to this
// file) and pinned by golden-bytes tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/chunk_store.h"

namespace ferry {

inline constexpr uint32_t kDefaultChunkSize = 4u << 20;  // 4 MiB

struct ChunkEntry {
  // All-zero chunks (holes) are never stored: `zero` is true and `id` is
  // all-zero bytes.
  bool zero = true;
  ChunkId id{};
  // Plaintext length of this chunk: chunk_size, except possibly the last one.
  uint32_t length = 0;
};

struct Manifest {
  uint64_t logical_size = 0;           // bytes of the virtual disk
  uint32_t chunk_size = kDefaultChunkSize;
  // entries[i] covers [i * chunk_size, min((i+1) * chunk_size, logical_size)).
  // entries.size() == ceil(logical_size / chunk_size).
  std::vector<ChunkEntry> entries;

  // SHA-256 over the encoded entries (see manifest_format.md): identifies the
  // snapshot's content without reading any chunk.
  Digest256 ContentDigest() const;

  // Bytes held in non-zero chunks.
  uint64_t DataBytes() const;

  // A manifest of `logical_size` bytes, every chunk a hole.
  static Manifest Empty(uint64_t logical_size, uint32_t chunk_size = kDefaultChunkSize);

  // Structural checks: entry count and lengths agree with logical_size and
  // chunk_size.
  Status Validate() const;
};

std::vector<uint8_t> EncodeManifest(const Manifest& m);
// Verifies magic, version, lengths and the trailing checksum.
Result<Manifest> DecodeManifest(std::span<const uint8_t> bytes);

}  // namespace ferry
