// The external disk tools a region drives: qemu-img for format detection and
// conversion, mkfs.ext4 for the seeded public image. Every call goes through
// RunProcess (no shell) and can be stopped through `stop`.
//
// Threading: free functions, safe to call concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace ferry {

// ECS import format names (RAW, QCOW2, VHD, VMDK) <-> qemu-img driver names.
// Empty string for an unknown name.
std::string QemuDriverForImportFormat(const std::string& ecs_format);
std::string ImportFormatForQemuDriver(const std::string& driver);
// Export format (raw, qcow2, vhd, vmdk, vdi) -> qemu-img driver.
std::string QemuDriverForExportFormat(const std::string& export_format);

// Returns the ECS format of the image at `path`: `declared` when given (RAW
// is trusted without running qemu-img), else what qemu-img detects.
// Refuses images that would make qemu-img read other files: a backing file,
// an external data file, or VMDK extents outside `path`
// (InvalidImageFormat.Malformed / ImportImageFailed).
Result<std::string> InspectDiskImage(const std::string& path, const std::string& declared,
                                     const std::atomic<bool>* stop);

// qemu-img convert -f SRC_DRIVER -O DST_DRIVER [-S 4k for raw] src dst.
Status ConvertDiskImage(const std::string& src, const std::string& src_driver, const std::string& dst,
                        const std::string& dst_driver, const std::atomic<bool>* stop);

// Builds an ext4 file system image of `size_bytes` at `image_path` holding
// the contents of `source_dir`, with a fixed UUID, hash seed and timestamps
// so that every region builds the same bytes.
Status MakeExt4Image(const std::string& source_dir, const std::string& image_path, uint64_t size_bytes,
                     const std::string& label);

}  // namespace ferry
