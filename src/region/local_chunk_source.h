// LocalChunkSource: a ChunkSource that reads another region served by this
// process directly, through its peer reads (Region::PeerReadManifest,
// Region::PeerReadChunk), with the same checks as HttpChunkSource: the
// manifest must decode (its checksum holds) and every chunk from FetchChunk
// must hash to its id (FetchChunkObject checks the header only, like
// HttpChunkSource). It skips HTTP, so it is the source of tests and of setups that want no
// loopback traffic.
//
// Errors: kUnavailable when `resolve` does not know the region (it may not be
// registered yet), kNotFound / kDataLoss as the source region reports them,
// kDataLoss when a chunk does not match its id.
//
// Threading: thread-safe if `resolve` is and the regions are (Region is).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "copy/chunk_source.h"
#include "region/region.h"

namespace ferry {

std::unique_ptr<ChunkSource> NewLocalChunkSource(
    std::function<Region*(const std::string& region_id)> resolve);

}  // namespace ferry
