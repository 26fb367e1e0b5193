// Qcow2Map: which guest clusters a qcow2 overlay holds itself, read from its
// active L1/L2 tables (qemu docs/interop/qcow2.txt), and the guest's bytes
// composed from them — so a snapshot of a disk reads only the clusters its
// guest wrote, not the whole virtual disk through qemu-img.
//
// A guest cluster is either *backing* (the overlay has nothing: the base's
// bytes show through, zeros past the base's end), *zero* (qcow2 v3 zero
// flag) or *data* (stored in the overlay at a host offset). Every table and
// host offset is checked against the file before it is used: aligned to the
// cluster size and inside the file (kDataLoss otherwise), so a damaged or
// hostile overlay can make a snapshot fail, never read outside its own file.
// Layouts this reader does not handle — compressed clusters, extended L2
// entries, cluster maps larger than kMaxL1Entries — are refused with
// IsQcow2MapUnsupported(status) true, and the caller falls back to qemu-img.
//
// Memory: the L1 table (at most kMaxL1Entries × 8 bytes) and one cached L2
// table (one cluster). Not thread-safe; one reader per snapshot.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "region/disks/qcow2_header.h"

namespace ferry {

// kFailedPrecondition with this reason: a layout Qcow2Map leaves to qemu-img.
inline constexpr char kQcow2MapUnsupported[] = "Qcow2MapUnsupported";
inline bool IsQcow2MapUnsupported(const Status& st) {
  return st.code() == Code::kFailedPrecondition && st.reason() == kQcow2MapUnsupported;
}

class Qcow2Map {
 public:
  static constexpr uint64_t kMaxL1Entries = uint64_t{1} << 20;  // 8 MiB of L1

  enum class Kind { kBacking, kZero, kData };
  struct Cluster {
    Kind kind = Kind::kBacking;
    uint64_t host_offset = 0;  // kData only
  };

  // Reads the L1 table of the image open as `fd` (header `h`, already
  // checked by DecodeQcow2Header). `label` names the image in messages.
  static Result<Qcow2Map> Open(int fd, const Qcow2Header& h, const std::string& label);

  uint64_t cluster_size() const { return uint64_t{1} << cluster_bits_; }
  uint64_t size() const { return size_; }  // virtual, bytes
  uint64_t clusters() const { return (size_ + cluster_size() - 1) >> cluster_bits_; }

  // The state of guest cluster `index` (< clusters()).
  Result<Cluster> Lookup(uint64_t index);
  // Calls fn(index, cluster) for every zero or data cluster, in guest order;
  // stops at the first error fn returns.
  Status ForEachHeld(const std::function<Status(uint64_t, const Cluster&)>& fn);
  // Guest bytes [offset, offset + out.size()) into `out`: data clusters from
  // the overlay, zero clusters as zeros, backing clusters from the raw file
  // open as `backing_fd` (zeros past `backing_size`, or everywhere when
  // backing_fd < 0). The range must lie within size().
  Status ReadGuest(uint64_t offset, std::span<uint8_t> out, int backing_fd, uint64_t backing_size);

 private:
  Qcow2Map() = default;
  Status LoadL2(uint64_t l1_index);
  Result<Cluster> Decode(uint64_t index, uint64_t entry) const;

  int fd_ = -1;
  std::string label_;
  uint32_t version_ = 0;
  uint32_t cluster_bits_ = 0;
  uint64_t size_ = 0;
  uint64_t file_size_ = 0;
  std::vector<uint64_t> l1_;    // host offsets of the L2 tables (0: none)
  std::vector<uint64_t> l2_;    // the cached L2 table, decoded to host order
  uint64_t l2_index_ = ~uint64_t{0};  // which L1 entry l2_ holds
};

}  // namespace ferry
