// Manifest: the content of one snapshot, as an ordered list of fixed-size
// chunks. The byte format is specified in manifest_format.md (next to this
// file) and pinned by golden-bytes tests.
//
// Holes are kept as runs: one entry covers any number of consecutive all-zero
// chunks, so a manifest's memory and its encoding grow with the image's data,
// not with its virtual size (a 4 EiB disk of holes is one entry).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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
  // For a run of holes, the length of the run's last chunk.
  uint32_t length = 0;
  // Chunks this entry covers: 1 for a data chunk, >= 1 for a run of holes.
  uint64_t count = 1;
  // Data chunks only, when known: SHA-256 of the chunk object as the store
  // that wrote this manifest holds it (chunk_format.md, "Object digest"). It
  // lets a copy verify the object without decoding it, when the manifest came
  // over an authenticated channel. It is not part of the content
  // (ContentDigest ignores it): two regions may store one chunk differently.
  std::optional<Digest256> object_digest;
};

struct Manifest {
  uint64_t logical_size = 0;           // bytes of the virtual disk
  uint32_t chunk_size = kDefaultChunkSize;
  // In chunk order; entry k covers chunks [first_k, first_k + count), where
  // first_k is the sum of the counts before it. The counts add up to
  // ChunksFor(logical_size, chunk_size). Adjacent hole runs are allowed in
  // memory (the encoder merges them).
  std::vector<ChunkEntry> entries;

  // SHA-256 over the canonical entries (manifest_format.md, "ContentDigest"):
  // the same content has the same digest whichever format version encoded it
  // and however its holes are split into entries.
  Digest256 ContentDigest() const;
  // True if `hex` is this manifest's ContentDigest, or the digest that builds
  // before format version 2 recorded for it (one 5-byte entry per hole chunk;
  // computed only for manifests of at most kLegacyDigestMaxChunks chunks, as
  // it costs 5 bytes of hashing per chunk). Catalogs and peers of older
  // builds hold such digests.
  bool HasContentDigest(std::string_view hex) const;
  static constexpr uint64_t kLegacyDigestMaxChunks = uint64_t{1} << 24;

  // Bytes held in non-zero chunks.
  uint64_t DataBytes() const;
  // Chunks covered by the entries (the sum of their counts).
  uint64_t ChunkCount() const;
  // Chunks a manifest of these sizes has: ceil(logical_size / chunk_size).
  static uint64_t ChunksFor(uint64_t logical_size, uint32_t chunk_size);

  // Calls fn(chunk_index, entry) for every data chunk, in order.
  template <typename Fn>
  void ForEachData(Fn&& fn) const {
    uint64_t index = 0;
    for (const ChunkEntry& e : entries) {
      if (!e.zero) fn(index, e);
      index += e.count;
    }
  }

  // A manifest of `logical_size` bytes, every chunk a hole: one run.
  static Manifest Empty(uint64_t logical_size, uint32_t chunk_size = kDefaultChunkSize);
  // The same with one entry per chunk, to be filled in place by index.
  // Memory grows with the virtual size: for small manifests (tests) only.
  static Manifest OneEntryPerChunk(uint64_t logical_size, uint32_t chunk_size = kDefaultChunkSize);

  // Structural checks: counts and lengths agree with logical_size and
  // chunk_size, data entries cover one chunk, holes carry no id.
  Status Validate() const;
};

// Builds a manifest chunk by chunk, in order, merging holes into runs.
// Not thread-safe.
class ManifestBuilder {
 public:
  ManifestBuilder(uint64_t logical_size, uint32_t chunk_size);

  // Index of the next chunk to be added.
  uint64_t next_index() const { return next_; }
  // Holes from next_index() up to (not including) chunk `index`.
  void AddHolesUntil(uint64_t index);
  void AddHole() { AddHolesUntil(next_ + 1); }
  // A data chunk at next_index(); its length follows from the sizes.
  // `object_digest`: that of the object the store holds, when known.
  void AddData(const ChunkId& id, const std::optional<Digest256>& object_digest = std::nullopt);
  // Holes up to the end; the builder is spent.
  Manifest Finish();

 private:
  uint32_t LengthOf(uint64_t index) const;

  Manifest m_;
  uint64_t total_ = 0;
  uint64_t next_ = 0;
};

// Encodes in format version 3 when a data entry carries an object digest,
// else in version 2 (which builds before version 3 read too).
std::vector<uint8_t> EncodeManifest(const Manifest& m);
// Verifies magic, version, lengths and the trailing checksum. Reads format
// versions 1, 2 and 3. Allocates only after checking that the bytes present can
// hold the entries the header announces.
Result<Manifest> DecodeManifest(std::span<const uint8_t> bytes);

}  // namespace ferry
