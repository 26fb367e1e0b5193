// RegionPartChunks: the region's side of PartChunks (objects/object_store.h).
// An object store that keeps multipart parts as chunks (S3ObjectStore) stores
// each part through Keep: the chunk goes into the region's chunk store in the
// uploader's dedup scope, as an import would store it, so an import of the
// completed object takes the chunks as they are (RegionImpl::RunImport).
//
// Garbage collection: Keep pins the chunk (ChunkPins, in the catalog too
// when nodes share it) before storing it, runs the store's `root` (the
// object store's record that names the chunk, which RegionImpl::Sweep reads
// with the manifests) and releases the pin only then, holding gc_mu_ shared
// as a manifest commit does. So whenever a GC pass looks at the chunk it is
// either pinned or named by a root the pass has read: the argument of
// gc_with_nodes.md, with the root in the place of the manifest.
//
// Threading: thread-safe; Keep and Read run on the upload's threads.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>

#include "objects/object_store.h"
#include "region/chunk_pins.h"
#include "store/chunk_id.h"
#include "store/chunk_store.h"

namespace ferry {

class RegionPartChunks final : public PartChunks {
 public:
  using ScopeOf = std::function<std::optional<ChunkScope>(const std::string& account_id)>;
  // All borrowed: they outlive this (the region clears the object store's
  // pointer to it before they go).
  RegionPartChunks(ChunkStore& store, ChunkPins& pins, std::shared_mutex& gc_mu, ScopeOf scope_of,
                   uint32_t chunk_size)
      : store_(store), pins_(pins), gc_mu_(gc_mu), scope_of_(std::move(scope_of)), chunk_size_(chunk_size) {}

  uint64_t max_part_bytes() const override { return chunk_size_; }
  Result<Digest256> Keep(const std::string& account_id, std::span<const uint8_t> bytes,
                         const std::function<Status(const Digest256&)>& root) override;
  Result<std::vector<uint8_t>> Read(const Digest256& id) override { return store_.Get(id); }

 private:
  ChunkStore& store_;
  ChunkPins& pins_;
  std::shared_mutex& gc_mu_;
  const ScopeOf scope_of_;
  const uint32_t chunk_size_;
};

}  // namespace ferry
