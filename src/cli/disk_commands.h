// Operator commands on a disk's bytes, for the hypervisor and for tests:
// `ferry disk path ID` prints the qcow2 overlay of disk ID (opened by a
// hypervisor as qcow2; its raw backing base is recorded in it), and
// `ferry disk export ID FILE` writes the disk's current view as a sparse raw
// file. They read DATA/regions/<region>/disks directly (DiskStore), so they
// work while the server runs: DiskStore's locks are flocks that the server
// and these commands both take.
#pragma once

#include <string>

#include "cli/config.h"
#include "common/status.h"

namespace ferry::cli {

Status DiskPathCommand(const ServeSettings& settings, const std::string& disk_id);
Status DiskExportCommand(const ServeSettings& settings, const std::string& disk_id, const std::string& file);

}  // namespace ferry::cli
