// The qemu-img runs of the disks layer. Each goes through RunProcess (no
// shell) with rlimits and a wall-clock deadline, names every format
// explicitly (never probing), and reads or writes the overlay through a
// descriptor the layer opened beneath its root (the child's
// /proc/self/fd/3), so qemu-img touches the very file the layer checked.
//
//   create:  1 GiB address space, 30 s CPU, 60 s wall clock.
//   convert: 2 GiB address space (MALLOC_ARENA_MAX=3), 60 s + 30 s per GiB
//            CPU, 10 min + 2 min per GiB wall clock, RLIMIT_FSIZE = size.
//
// Threading: free functions, safe to call concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace ferry {

// Formats the empty file open (read-write) as `fd` as a qcow2 overlay of
// `size` bytes on the raw file `backing_name` (recorded with backing format
// raw, so no reader probes it). qemu-img does not open the backing file (-u):
// the caller checked it exists and is no larger than `size`.
Status QemuCreateOverlay(int fd, const std::string& backing_name, uint64_t size, const std::string& label,
                         const std::atomic<bool>* stop);

// Formats the empty file open as `fd` as a qcow2 image of `size` bytes with
// no backing file (an empty data disk).
Status QemuCreateEmpty(int fd, uint64_t size, const std::string& label, const std::atomic<bool>* stop);

// Writes the guest's view of the qcow2 image open as `overlay_fd` (`size`
// bytes) to `out_path`, an existing file of `size` bytes that reads as zeros
// (created and truncated by the caller), as raw, holes for zeros (-S 4k).
// The backing file is pinned: the raw file at absolute path `base_path`, or
// none (null) when `base_path` is empty; the name in the overlay's header is
// never followed.
Status QemuConvertToRaw(int overlay_fd, const std::string& base_path, const std::string& out_path,
                        uint64_t size, const std::string& label, const std::atomic<bool>* stop);

}  // namespace ferry
