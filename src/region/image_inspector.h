// Image inspector: decides, from the bytes alone and before qemu-img ever
// sees them, what format a tenant's disk image is and whether it is safe to
// hand to qemu-img. Modelled on oslo.utils' format_inspector (see
// ../shared/reference/untrusted-images.md, sections 2 and 6).
//
// Why: an image can name other files (a qcow2 backing file or external data
// file, VMDK extents, json:/protocol filenames) and `-f FMT` does not stop
// qemu-img from opening them. Every door is closed here, by refusing the
// image, before any qemu-img run; qemu-img's own view (`info`) is only a
// second opinion.
//
// Input: an open file descriptor and its size. The inspector only preads at
// most kMaxInspectBytes from the start of the file and kMaxInspectBytes from
// its end, so memory is bounded whatever the image claims. It never follows
// a name found in the image.
//
// Detection (first match decides; two matches are refused as ambiguous):
//   qcow2  "QFI\xfb" at 0                  vmdk  "KDMV" at 0 (sparse extent)
//   vpc    "conectix" at 0 or at size-512  vdi   0xbeda107f (LE) at 0x40
//   qed    "QED\0" at 0                    vhdx  "vhdxfile" at 0
//   vmdk-descriptor  "# Disk DescriptorFile" at 0 (a text descriptor)
//   raw    nothing matched
//
// Safety checks (kSafe only if every one passes):
//   qcow2: version 2 or 3; backing file offset (bytes 8-15) and length
//          (16-19) both 0; crypt_method (32-35) 0; cluster_bits 9..21;
//          L1 size <= 32 MiB of entries and refcount table <= 8 MiB (what
//          qemu accepts, so a header bomb is refused before qemu-img runs);
//          v3: no incompatible feature bit other than dirty (0), corrupt
//          (1) and compression type (3) - bit 2 is the external data file,
//          bit 4 extended L2 and higher bits unknown; autoclear bit 1 (raw
//          external data) clear; no header extension 0x44415441 (data file
//          name) or 0xe2792aca (backing format).
//   vmdk:  "KDMV" version 1..3; descriptor at sector 1, at most 1 MiB - 1;
//          createType monolithicSparse or streamOptimized; every line blank,
//          a comment, ddb.*, key=value, or an extent line starting with
//          RW/RDONLY/NOACCESS whose text holds no '/'; at least one extent;
//          a streamOptimized footer (grain directory at the end) that
//          matches the header.
//   vpc:   disk type 2 (fixed) or 3 (dynamic); 4 (differencing, which names
//          a parent file) and anything else refused.
//   raw:   always safe: Ferry reads it itself, qemu-img never interprets it.
//   qed, vhdx, vmdk-descriptor, vdi: never safe for import.
//
// What cannot be a disk at all is refused too (CheckImportImage): an empty
// file, a raw image whose size is not a whole number of 512-byte sectors, a
// container whose virtual size is 0 or not whole sectors, and bytes in
// another format than the one claimed (RAW included: a claimed RAW disk
// that is a qcow2 file is a mistake, not a disk).
//
// Content (DetectDiskContent): the partition table (MBR, GPT) and the file
// systems found by their magic numbers, on the whole disk or at the start
// of each of the first kMaxProbedPartitions partitions; reported to the
// owner, never used to decide anything.
//
// Threading: free functions, safe to call concurrently (pread only).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ferry {

enum class ImageFormat { kRaw, kQcow2, kVpc, kVmdk, kVdi, kQed, kVhdx, kVmdkDescriptor };

// "raw", "qcow2", "vpc", "vmdk", "vdi", "qed", "vhdx", "vmdk-descriptor":
// the qemu-img driver name where there is one.
std::string ImageFormatName(ImageFormat f);

inline constexpr uint64_t kMaxInspectBytes = 2ull << 20;  // 2 MiB (the largest qcow2 cluster)
// The largest virtual size Ferry imports: ECS's largest data disk (32 TiB).
inline constexpr uint64_t kMaxImageVirtualSize = 32ull << 40;

struct ImageFacts {
  ImageFormat format = ImageFormat::kRaw;
  // From the header (raw: the file size). For vpc the largest of the
  // footer's current size and its CHS geometry (qemu-img picks one by the
  // creator application).
  uint64_t virtual_size = 0;
  uint64_t vpc_geometry_size = 0;  // vpc only: cylinders * heads * sectors * 512
  uint64_t vpc_current_size = 0;   // vpc only: the footer's current size
  std::string vmdk_create_type;    // vmdk only
};

// Detects the format and runs its safety checks. `label` names the image in
// messages (an object name, never a host path). Errors:
// InvalidImageFormat.Malformed naming the failed check.
Result<ImageFacts> InspectImage(int fd, uint64_t file_size, const std::string& label);

// The import rule on top of InspectImage: `claimed` is the ECS format
// (RAW, QCOW2, VHD, VMDK, or empty).
// - RAW: accepted whatever the bytes hold; the image is the bytes as they
//   are (qemu-img never interprets them), virtual size = file size.
// - QCOW2/VHD/VMDK: the detected format must be the claimed one.
// - empty: the detected format, never qemu-img probing.
// Only raw, qcow2, vpc and vmdk are importable; virtual sizes above
// kMaxImageVirtualSize are refused.
Result<ImageFacts> CheckImportImage(int fd, uint64_t file_size, const std::string& claimed,
                                    const std::string& label);

// The size rule alone, for a raw disk of `size` bytes (also what the CLI
// checks of a local file before uploading it): not empty, whole 512-byte
// sectors. InvalidImageFormat.Malformed saying which.
Status CheckRawDiskSize(uint64_t size, const std::string& label);

inline constexpr size_t kMaxProbedPartitions = 16;
// Bytes read at the start of the disk and of each partition to find a file
// system (btrfs keeps its magic at 64 KiB + 64).
inline constexpr uint64_t kFileSystemProbeBytes = 68ull << 10;

struct DiskContent {
  std::string partition_table;            // "gpt", "mbr", or "" (none found)
  std::vector<std::string> file_systems;  // "ext4", "xfs", "ntfs", "vfat", "swap", ... in disk order
  // Where the partitions probed start (a reader that holds only some of
  // the disk's bytes fetches these and asks again).
  std::vector<uint64_t> partition_starts;
  // "gpt: ext4, vfat", "mbr: ntfs", "xfs" (a file system on the whole disk),
  // "gpt" (no file system recognised), "unknown" (nothing recognised).
  std::string Describe() const;
};

// Reads a raw disk's first sectors (and, for a partition table, its entries
// and the first kFileSystemProbeBytes of each of at most
// kMaxProbedPartitions partitions) through `fd`: bounded reads, whatever the
// image claims.
Result<DiskContent> DetectDiskContent(int fd, uint64_t size, const std::string& label);

}  // namespace ferry
