// A snapshot of a qcow2 overlay read from its own cluster map (qcow2_map.h)
// and the manifest of the base it was made on, instead of the whole virtual
// disk through qemu-img: the cost follows the clusters the guest wrote. The
// rules are in disks.md, "Snapshots from the cluster map".
//
// Thread-safe: a free function; each call uses its own descriptors.
#pragma once

#include <string>

#include "common/status.h"
#include "region/disks/qcow2_header.h"
#include "store/chunk_store.h"
#include "store/ingest.h"
#include "store/manifest.h"

namespace ferry {

struct OverlaySnapshotSource {
  int overlay_fd = -1;                 // the overlay, opened and its header checked
  const Qcow2Header* header = nullptr;  // its header
  std::string label;                   // "disk d-..." in messages
  int base_fd = -1;                    // the raw base file, or -1 for a disk with no base
  const Manifest* base = nullptr;      // the base file's manifest (logical size 0: no base)
  int view_fd = -1;                    // an empty temp the changed chunks are composed in
};

// The manifest of the overlay's guest view. A chunk is *changed* when the
// overlay holds one of its clusters (data or zero), when its length differs
// from the base's (the base's short last chunk on a larger disk), or when
// the store lost the base's chunk; changed chunks are composed into view_fd
// and ingested with IngestRawFd (opts as given), every other chunk is the
// base's entry (pinned through opts.pin, then checked present), or a hole
// past the base's end. IsQcow2MapUnsupported(status) for a layout left to
// qemu-img; kDataLoss for a damaged cluster map.
Result<Manifest> SnapshotFromClusterMap(const OverlaySnapshotSource& source, ChunkStore& store,
                                        const IngestOptions& opts, IngestStats* stats);

}  // namespace ferry
