// `ferry serve` and the offline admin commands that work on a data directory.
//
// Data directory layout (docs/configuration.md):
//   DATA/accounts.db               accounts and AccessKeys (SQLite, WAL)
//   DATA/root-credentials.json     the root AccessKey made on first start (0600)
//   DATA/ferry.lock                held (flock) by `serve`, `fsck` and `gc`
//   DATA/oss/<bucket>/...          object storage shared by all regions
//   DATA/regions/<region-id>/      catalog.db, chunks/, tmp/
//
// Threading: each function runs on the calling thread and owns everything it
// opens; RunServe blocks until SIGTERM/SIGINT.
#pragma once

#include <string>

#include "cli/config.h"
#include "common/status.h"

namespace ferry::cli {

// Serves until SIGTERM or SIGINT, then stops the HTTP server (in-flight
// requests finish), shuts every region down and returns OK.
Status RunServe(const ServeSettings& settings);

// Creates a non-root account with one AccessKey and prints
// {"AccountId","AccessKeyId","AccessKeySecret"} on stdout, in the data
// directory's accounts or the region's PostgreSQL database
// (ServeSettings::catalog). Safe while servers run on either (SQLite WAL;
// PostgreSQL).
// Prints the new account's {AccountId, AccessKeyId, AccessKeySecret}, or
// what `query` selects of it (cli/output.h: PrintQuery).
Status RunAccountCreate(const ServeSettings& settings, const std::string& name, const std::string& query);

// Lets `account_id` copy `image_id` ("" = any of its images) above
// max_copy_size_gib and prints {"AccountId","ImageId"}. Safe while a server
// runs on the same data directory; the server reads it on every copy.
Status RunAllowLargeCopy(const ServeSettings& settings, const std::string& account_id,
                         const std::string& image_id);

// Region::Fsck for each region, opened to be checked only: nothing changes
// (no task, copy or instance resumed, no temp removed; RegionConfig::
// check_only). Prints per region the manifests, chunks, disk overlays and
// base files checked, each problem, and notes (disks of Pending instances
// and temps the server handles when it starts). `*problems_found` is set
// when any report lists a problem. Needs the server stopped (takes the
// data-dir lock).
Status RunFsck(const ServeSettings& settings, bool* problems_found);

// Region::CollectGarbage for each region. Needs the server stopped.
Status RunGc(const ServeSettings& settings);

}  // namespace ferry::cli
