// The header that prefixes every chunk object of FsChunkStore. The byte
// format is specified in chunk_format.md (next to this file) and pinned by
// golden-bytes tests.
// Thread-safe: pure functions and constants.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/status.h"
#include "store/chunk_id.h"

namespace ferry {

inline constexpr std::array<uint8_t, 4> kChunkMagic = {'F', 'R', 'C', 'K'};
// Version 1: an unscoped chunk, the 24-byte header then the payload.
// Version 2: a scoped chunk, the 24-byte header, the 32-byte scope, then the
// payload (chunk_id.h: the id is SHA-256(scope || plaintext)).
inline constexpr uint8_t kChunkFormatVersion = 1;
inline constexpr uint8_t kChunkFormatVersionScoped = 2;
inline constexpr size_t kChunkHeaderSize = 24;  // the fixed part, both versions
inline constexpr size_t kChunkScopeSize = 32;
inline constexpr size_t kMaxChunkPrefixSize = kChunkHeaderSize + kChunkScopeSize;
// The largest object a chunk of `plaintext_length` bytes can have: the raw
// form, since a zstd payload is kept only when it is smaller.
inline constexpr uint64_t MaxChunkObjectSize(uint64_t plaintext_length) {
  return kMaxChunkPrefixSize + plaintext_length;
}
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
  uint64_t stored_length = 0;  // payload bytes following the header (and scope)
  // Set: a version 2 object of a scoped chunk. Unset: version 1.
  std::optional<ChunkScope> scope;

  // Where the payload starts: 24 for version 1, 56 for version 2.
  size_t prefix_size() const { return kChunkHeaderSize + (scope ? kChunkScopeSize : 0); }
  const ChunkScope* scope_ptr() const { return scope ? &*scope : nullptr; }
};

using ChunkHeaderBytes = std::array<uint8_t, kChunkHeaderSize>;

// The fixed 24 bytes (version 2 when h.scope is set; the scope itself is not
// in them: EncodeChunkPrefix writes both).
ChunkHeaderBytes EncodeChunkHeader(const ChunkHeader& h);
// Everything before the payload: the header, then for version 2 the scope.
std::vector<uint8_t> EncodeChunkPrefix(const ChunkHeader& h);
// Verifies magic, version, codec, the reserved field, and that a raw payload
// is as long as its plaintext; for version 2 also reads the scope, so
// `bytes` must then hold the 56-byte prefix. kDataLoss with the offending
// values.
Result<ChunkHeader> DecodeChunkHeader(std::span<const uint8_t> bytes);

// A whole object (header + payload) of `plaintext`. With `compress`, the
// payload is a zstd frame at `zstd_level` when that is strictly smaller than
// the plaintext; otherwise it is raw.
// Unscoped (version 1).
std::vector<uint8_t> EncodeChunkObject(std::span<const uint8_t> plaintext, bool compress, int zstd_level = 1);
// Version 2 carrying `*scope`, or version 1 when `scope` is null.
std::vector<uint8_t> EncodeChunkObject(const ChunkScope* scope, std::span<const uint8_t> plaintext, bool compress,
                                       int zstd_level = 1);
// Checks an object's header and that its size is prefix + stored_length;
// the payload is not looked at. kDataLoss with the offending values.
Result<ChunkHeader> CheckChunkObject(std::span<const uint8_t> object);
// CheckChunkObject, then the plaintext (zstd decoded). kDataLoss if the
// payload does not decode to plaintext_length bytes. The caller compares
// ComputeChunkId(header.scope, plaintext) with the chunk id: the object does
// not carry the id. The second form also returns the header (with the scope).
Result<std::vector<uint8_t>> DecodeChunkObject(std::span<const uint8_t> object);
Result<std::vector<uint8_t>> DecodeChunkObject(std::span<const uint8_t> object, ChunkHeader* header);
// DecodeChunkObject, then verifies ComputeChunkId(the object's scope,
// plaintext) == id: what every reader of an object from elsewhere (a peer,
// another region) does. kDataLoss naming both digests.
Result<std::vector<uint8_t>> DecodeVerifiedChunkObject(const ChunkId& id, std::span<const uint8_t> object);

// kDataLoss unless `plaintext`, read from chunk `id`'s object with `header`,
// hashes to `id` under the header's scope; the message names `where` (the
// object's file or key).
Status VerifyChunkPlaintext(const ChunkId& id, const ChunkHeader& header, std::span<const uint8_t> plaintext,
                            const std::string& where);

// The object digest (chunk_format.md, "Object digest"): SHA-256 of the whole
// object as stored, header, scope and payload. A manifest may carry it next to
// a chunk's id, so that a copy verifies the object it receives without
// decoding it. The second form digests an object held as prefix + payload.
Digest256 ComputeObjectDigest(std::span<const uint8_t> object);
Digest256 ComputeObjectDigest(std::span<const uint8_t> prefix, std::span<const uint8_t> payload);
// kDataLoss unless ComputeObjectDigest(object) == expected, naming chunk `id`,
// the object's size and both digests.
Status VerifyObjectDigest(const ChunkId& id, std::span<const uint8_t> object, const Digest256& expected);

}  // namespace ferry
