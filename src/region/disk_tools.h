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
#include "region/image_inspector.h"

namespace ferry {

// ECS import format names (RAW, QCOW2, VHD, VMDK) <-> qemu-img driver names.
// Empty string for an unknown name.
std::string QemuDriverForImportFormat(const std::string& ecs_format);
std::string ImportFormatForQemuDriver(const std::string& driver);
// Export format (raw, qcow2, vhd, vmdk, vdi) -> qemu-img driver.
std::string QemuDriverForExportFormat(const std::string& export_format);

// qemu-img only ever reads a tenant image through a descriptor Ferry holds
// (given to the child as /proc/self/fd/3, see ProcessOptions::inherit_fd),
// after InspectImage (region/image_inspector.h) found it safe, with the
// driver the inspector chose (never probing), and for qcow2 with the backing
// file pinned to null. Every run is resource-limited:
//   info:    1 GiB address space, 30 s CPU, 60 s wall clock.
//   convert: 2 GiB address space with MALLOC_ARENA_MAX=3, 60 s + 30 s per
//            GiB of virtual size of CPU, 10 min + 2 min per GiB of wall
//            clock, RLIMIT_FSIZE of the virtual size (+ 1/8 + 64 MiB for
//            formats with metadata).
// A run killed by a limit fails with `failure_reason` naming the limit.

// `qemu-img info -f DRIVER` of the image open as `fd`, as a second opinion:
// it must report the inspector's format and virtual size, no backing file,
// no data file, and for VMDK one extent that is the image itself and an
// allowed create type. InvalidImageFormat.Malformed otherwise; `label`
// names the image in messages. For vpc, whose header holds two sizes,
// facts->virtual_size becomes the one qemu-img uses.
Status CheckWithQemuInfo(int fd, ImageFacts* facts, const std::string& label, const std::atomic<bool>* stop);

// qemu-img convert of the image open as `src_fd` (read as `facts.format`,
// qcow2 with backing: null) to `dst` as `dst_driver` (raw targets sparse,
// -S 4k). `dst` never appears in the returned message; `label` does.
// Failures carry `failure_reason` (e.g. InvalidImageFormat.Malformed for
// imports, ExportImageFailed-style for exports).
Status ConvertImageFd(int src_fd, const ImageFacts& facts, const std::string& dst,
                      const std::string& dst_driver, const std::string& label,
                      const std::string& failure_reason, const std::atomic<bool>* stop);

// Builds an ext4 file system image of `size_bytes` at `image_path` holding
// the contents of `source_dir`, with a fixed UUID, hash seed and timestamps
// so that every region builds the same bytes.
Status MakeExt4Image(const std::string& source_dir, const std::string& image_path, uint64_t size_bytes,
                     const std::string& label);

}  // namespace ferry
