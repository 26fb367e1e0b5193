#include "region/disks/overlay_snapshot.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

#include "common/fs_util.h"
#include "region/disks/qcow2_map.h"

namespace ferry {
namespace {

// The entries of a manifest by chunk index, for indices that never
// decrease.
class ChunkCursor {
 public:
  explicit ChunkCursor(const Manifest& m) : m_(m) {}
  // The entry covering chunk `index`, or nullptr past the last one.
  const ChunkEntry* At(uint64_t index) {
    while (pos_ < m_.entries.size() && first_ + m_.entries[pos_].count <= index) first_ += m_.entries[pos_++].count;
    return pos_ < m_.entries.size() ? &m_.entries[pos_] : nullptr;
  }

 private:
  const Manifest& m_;
  size_t pos_ = 0;
  uint64_t first_ = 0;
};

bool AllZero(std::span<const uint8_t> b) {
  return b.empty() || (b[0] == 0 && std::memcmp(b.data(), b.data() + 1, b.size() - 1) == 0);
}

}  // namespace

Result<Manifest> SnapshotFromClusterMap(const OverlaySnapshotSource& src, ChunkStore& store,
                                        const IngestOptions& opts, IngestStats* stats) {
  const std::string& label = src.label;
  const Manifest& base = *src.base;
  const uint64_t size = src.header->size;
  const uint64_t chunk = opts.chunk_size;
  const uint64_t n_chunks = Manifest::ChunksFor(size, opts.chunk_size);
  if (base.logical_size > size) return DataLoss(label + " is smaller than its base");
  if (base.logical_size > 0 && src.base_fd < 0) return Internal(label + ": no base file to read");
  ASSIGN_OR_RETURN(Qcow2Map map, Qcow2Map::Open(src.overlay_fd, *src.header, label));

  std::vector<bool> changed(n_chunks, false);
  RETURN_IF_ERROR(map.ForEachHeld([&](uint64_t index, const Qcow2Map::Cluster&) -> Status {
    const uint64_t first = index * map.cluster_size();
    const uint64_t last = std::min(first + map.cluster_size(), size) - 1;
    for (uint64_t c = first / chunk; c <= last / chunk; ++c) changed[c] = true;
    return Status::Ok();
  }));
  const uint64_t base_chunks = Manifest::ChunksFor(base.logical_size, opts.chunk_size);
  if (base.logical_size % chunk != 0 && size != base.logical_size) changed[base_chunks - 1] = true;
  uint64_t reused = 0;
  Status lookup = Status::Ok();
  base.ForEachData([&](uint64_t index, const ChunkEntry& e) {
    if (!lookup.ok() || changed[index]) return;
    if (opts.pin) {  // before the lookup: GC spares what is pinned
      lookup = opts.pin(e.id);
      if (!lookup.ok()) return;
    }
    Result<bool> has = store.Has(e.id);
    if (!has.ok()) {
      lookup = has.status();
    } else if (*has) {
      ++reused;
    } else {
      changed[index] = true;  // lost by the store: the base file still has the bytes
    }
  });
  RETURN_IF_ERROR(lookup);

  if (::ftruncate(src.view_fd, static_cast<off_t>(size)) != 0) return ErrnoStatus("truncate", label, errno);
  std::vector<uint8_t> buf(chunk);
  for (uint64_t c = 0; c < n_chunks; ++c) {
    if (!changed[c]) continue;
    if (opts.cancel != nullptr && opts.cancel->load()) return Cancelled("snapshot of " + label + " cancelled");
    const uint64_t offset = c * chunk;
    std::span<uint8_t> piece(buf.data(), static_cast<size_t>(std::min(chunk, size - offset)));
    RETURN_IF_ERROR(map.ReadGuest(offset, piece, src.base_fd, base.logical_size));
    if (AllZero(piece)) continue;  // a hole in the view: the ingest finds a zero chunk
    RETURN_IF_ERROR(PwriteFull(src.view_fd, piece.data(), piece.size(), offset, "snapshot view of " + label));
  }
  IngestStats read;
  ASSIGN_OR_RETURN(Manifest fresh, IngestRawFd(src.view_fd, label, store, opts, &read));

  ManifestBuilder out(size, opts.chunk_size);
  ChunkCursor fresh_at(fresh);
  ChunkCursor base_at(base);
  uint64_t data = 0;
  for (uint64_t c = 0; c < n_chunks; ++c) {
    const ChunkEntry* e = changed[c] ? fresh_at.At(c) : (c < base_chunks ? base_at.At(c) : nullptr);
    if (e == nullptr || e->zero) continue;
    out.AddHolesUntil(c);
    out.AddData(e->id);
    ++data;
  }
  if (stats != nullptr) {
    stats->bytes_read = read.bytes_read;
    stats->chunks_total = n_chunks;
    stats->chunks_zero = n_chunks - data;
    stats->chunks_stored = read.chunks_stored;
    stats->chunks_deduped = read.chunks_deduped + reused;
  }
  return out.Finish();
}

}  // namespace ferry
