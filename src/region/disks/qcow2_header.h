// The few qcow2 header fields the disks layer checks before it lets
// qemu-img read an overlay (qemu docs/interop/qcow2.txt; all fields
// big-endian):
//
//   0   4  magic "QFI\xfb"             24  8  size (virtual, bytes)
//   4   4  version (2 or 3)            32  4  crypt_method (0 = none)
//   8   8  backing_file_offset         36  4  l1_size (entries)
//   16  4  backing_file_size           40  8  l1_table_offset
//   20  4  cluster_bits                72  8  incompatible_features (v3)
//                                      100 4  header_length (v3)
//
// Overlays are written by qemu-img and the hypervisor, never by a guest, but
// a disk is read back for snapshots and exports, so the header is checked as
// if it were untrusted (../../../shared/reference/untrusted-images.md).
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/status.h"

namespace ferry {

inline constexpr uint64_t kQcow2IncompatDirty = 1u << 0;
inline constexpr uint64_t kQcow2IncompatCorrupt = 1u << 1;
inline constexpr uint64_t kQcow2IncompatDataFile = 1u << 2;
inline constexpr uint64_t kQcow2IncompatCompression = 1u << 3;
inline constexpr uint64_t kQcow2IncompatExtendedL2 = 1u << 4;
inline constexpr uint32_t kQcow2MaxBackingName = 1023;

struct Qcow2Header {
  uint32_t version = 0;
  uint64_t size = 0;
  uint64_t incompatible_features = 0;
  std::string backing_name;  // empty: no backing file
  // Where the cluster map is (qcow2_map.h checks these before use).
  uint32_t cluster_bits = 0;
  uint32_t l1_size = 0;
  uint64_t l1_table_offset = 0;
};

// Decodes the header in `bytes` (the first bytes of the file; the backing
// name must lie within them). kDataLoss, naming `label`, for anything but a
// qcow2 v2/v3 image without encryption, without an external data file,
// not marked corrupt and with no incompatible feature unknown to qemu 7.2.
Result<Qcow2Header> DecodeQcow2Header(std::span<const uint8_t> bytes, const std::string& label);

// Reads the first 64 KiB of the image open as `fd` and decodes them.
Result<Qcow2Header> ReadQcow2Header(int fd, const std::string& label);

}  // namespace ferry
