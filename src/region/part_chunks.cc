#include "region/part_chunks.h"

#include <mutex>

namespace ferry {

Result<Digest256> RegionPartChunks::Keep(const std::string& account_id, std::span<const uint8_t> bytes,
                                         const std::function<Status(const Digest256&)>& root) {
  if (bytes.empty() || bytes.size() > chunk_size_) {
    return Internal("a part of " + std::to_string(bytes.size()) + " bytes cannot be one chunk");
  }
  const std::optional<ChunkScope> scope = scope_of_(account_id);
  const ChunkScope* s = scope ? &*scope : nullptr;
  const ChunkId id = ComputeChunkId(s, bytes);
  PinLease lease(pins_);
  RETURN_IF_ERROR(lease.Pin(id));
  RETURN_IF_ERROR(store_.PutHashed(s, id, bytes));
  RETURN_IF_ERROR(store_.Sync());
  RETURN_IF_ERROR(root(id));
  // A pin that lapsed (the node lost the catalog for longer than a lease)
  // may have let a GC take the chunk before the root named it.
  RETURN_IF_ERROR(lease.CheckHeld());
  std::shared_lock<std::shared_mutex> gc_lock(gc_mu_);
  lease.Release();
  return id;
}

}  // namespace ferry
