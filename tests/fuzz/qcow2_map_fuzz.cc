// The qcow2 cluster map reader (region/disks/qcow2_map.*) on an overlay file
// of the input's bytes: header decode, Open, the walk over held clusters and
// guest reads across the whole disk, with no backing file.
// Invariants: every held cluster lies in the disk and every data cluster's
// host offset is cluster-aligned and inside the file; Lookup agrees with the
// walk; ReadGuest either fails or fills the buffer, and reads zeros where
// the map says zero.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/fs_util.h"
#include "fuzz_util.h"
#include "region/disks/qcow2_header.h"
#include "region/disks/qcow2_map.h"

namespace {

// Keeps a run short: the walk is bounded by the disk's clusters.
constexpr uint64_t kMaxClusters = uint64_t{1} << 16;
constexpr size_t kMaxHeld = 64;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ferry::UniqueFd fd(::memfd_create("qcow2_map_fuzz", MFD_CLOEXEC));
  FUZZ_CHECK(fd.valid());
  FUZZ_CHECK(ferry::PwriteFull(fd.get(), data, size, 0, "memfd").ok());
  auto header = ferry::ReadQcow2Header(fd.get(), "fuzz");
  if (!header.ok()) return 0;
  auto map = ferry::Qcow2Map::Open(fd.get(), *header, "fuzz");
  if (!map.ok()) return 0;
  if (map->clusters() > kMaxClusters) return 0;
  FUZZ_CHECK(map->size() == header->size);
  std::vector<std::pair<uint64_t, ferry::Qcow2Map::Cluster>> held;
  ferry::Status walked = map->ForEachHeld([&](uint64_t index, const ferry::Qcow2Map::Cluster& c) {
    FUZZ_CHECK(index < map->clusters());
    FUZZ_CHECK(c.kind != ferry::Qcow2Map::Kind::kBacking);
    if (c.kind == ferry::Qcow2Map::Kind::kData) {
      FUZZ_CHECK(c.host_offset % map->cluster_size() == 0);
      FUZZ_CHECK(c.host_offset < size);
    }
    if (held.size() < kMaxHeld) held.emplace_back(index, c);
    return ferry::Status::Ok();
  });
  if (!walked.ok()) return 0;
  std::vector<uint8_t> buf;
  for (const auto& [index, c] : held) {
    auto again = map->Lookup(index);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->kind == c.kind && again->host_offset == c.host_offset);
    const uint64_t offset = index * map->cluster_size();
    buf.assign(static_cast<size_t>(std::min(map->cluster_size(), map->size() - offset)), 0xee);
    ferry::Status read = map->ReadGuest(offset, buf, -1, 0);
    if (!read.ok()) continue;
    if (c.kind == ferry::Qcow2Map::Kind::kZero)
      FUZZ_CHECK(std::all_of(buf.begin(), buf.end(), [](uint8_t b) { return b == 0; }));
  }
  // A read across the whole disk, in one call.
  if (map->size() <= (uint64_t{1} << 20)) {
    buf.assign(static_cast<size_t>(map->size()), 0xee);
    (void)map->ReadGuest(0, buf, -1, 0);
  }
  return 0;
}
