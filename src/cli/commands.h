// Client commands: each signs ECS requests with EcsClient against a Ferry
// endpoint and renders the answer as a table or JSON.
//
// Exit codes: 0 success, 1 an ECS error or a transport failure (printed as
// "Error: <Code>: <Message> (RequestId <id>)" on stderr), 2 a usage error.
//
// Threading: commands run on the calling thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/output.h"
#include "common/status.h"

namespace ferry::cli {

// Global options shared by all client commands. Empty = not given.
struct ClientOptions {
  std::string profile;  // default "default"
  std::string endpoint;
  std::string access_key_id;
  std::string access_key_secret;
  std::string region;
  OutputFormat output = OutputFormat::kTable;
  bool use_v3 = false;
  std::string retry_for;  // --retry-for; "" = kDefaultRetryFor (cli/wait.h)
  std::string query;      // --query (cli/output.h: PrintQuery); "" = the whole result
};

// A Status whose reason is kUsageReason is a usage error (exit code 2).
inline constexpr const char* kUsageReason = "Usage";

// The one format of every failure the CLI reports, one line (a multi-line
// message continues on the next lines): "Error: CODE: message", CODE being
// the ECS error code of an error the server answered (whose message then
// ends with " (RequestId X)"), else the CLI's own reason (Usage,
// WaitTimeout, TaskFailed, ...) or the status code's name (Unavailable).
std::string FailureLine(const Status& status);
// Prints FailureLine(status) on stderr and returns the exit code: 2 for a
// usage error, 1 otherwise.
int ReportFailure(const Status& status);

Status ProfileSet(const std::string& name, const std::string& endpoint, const std::string& access_key_id,
                  const std::string& access_key_secret, const std::string& region);
Status ProfileList(const ClientOptions& opts);

Status RegionList(const ClientOptions& opts);

// CreateAccount through the API, signed by the profile's key (the root
// account's): prints {AccountId, AccessKeyId, AccessKeySecret}.
Status AccountCreate(const ClientOptions& opts, const std::string& name);

struct ImageImportOptions {
  std::string file;
  std::string name;
  std::string description;
  std::string format;  // RAW | QCOW2 | VHD | VMDK | "" (server detects)
  std::string bucket;  // "" = the caller's upload bucket
  std::string object;  // "" = the file's base name
  bool no_wait = false;
  // Keep the uploaded object after the import; by default it is a staging
  // copy that goes once the import task ends (Finished or Failed).
  bool keep_upload = false;
  std::string timeout;  // --timeout: how long to wait; "" = kJobTimeout (cli/wait.h)
};
Status ImageImport(const ClientOptions& opts, const ImageImportOptions& import);

Status ImageList(const ClientOptions& opts, const std::string& status, bool all);
Status ImageShow(const ClientOptions& opts, const std::string& image_id);
Status ImageRename(const ClientOptions& opts, const std::string& image_id, const std::string& name);
Status ImageDelete(const ClientOptions& opts, const std::string& image_id, bool force);

// CreateImage from an instance (a snapshot of each of its disks as they are
// now) or from one system-disk snapshot; waits until the image is Available
// unless `no_wait`. Prints ImageId, ImageName, Status, Progress and the
// image's SnapshotId.
struct ImageCreateOptions {
  std::string instance_id;  // exactly one of instance_id and snapshot_id
  std::string snapshot_id;
  std::string name;
  std::string description;
  bool no_wait = false;
  std::string timeout;  // "" = kJobTimeout (cli/wait.h)
};
Status ImageCreate(const ClientOptions& opts, const ImageCreateOptions& create);

struct ImageExportOptions {
  std::string image_id;
  std::string bucket;
  std::string prefix;
  std::string format;  // raw | qcow2 | "" (server default)
  bool wait = false;
  std::string timeout;  // with wait; "" = kJobTimeout (cli/wait.h)
};
Status ImageExport(const ClientOptions& opts, const ImageExportOptions& export_opts);

struct ImageCopyOptions {
  std::string image_id;                   // in the session's region (the source)
  std::vector<std::string> destinations;  // region ids; one CopyImage each
  std::string name;                       // DestinationImageName
  std::string description;                // DestinationDescription
  bool wait = false;                      // poll until every copy is Available (exit 1 if one fails)
  // How long to wait for the copies (and, without `wait`, for the earlier
  // ones to end so the next can start); "" = kCopyTimeout (cli/wait.h).
  std::string timeout;
};
// Prints one row per destination: RegionId, ImageId (and with --wait the
// final Status and Progress).
Status ImageCopy(const ClientOptions& opts, const ImageCopyOptions& copy);
Status ImageCancelCopy(const ClientOptions& opts, const std::string& region, const std::string& image_id);

// ModifyImageSharePermission: `remove` then `add` (account ids), ten of each
// per call as ECS takes them; prints the accounts the image is shared with
// afterwards.
Status ImageShare(const ClientOptions& opts, const std::string& image_id, const std::vector<std::string>& add,
                  const std::vector<std::string>& remove);
// DescribeImageSharePermission, every page: AccountId and SharedTime.
Status ImageShares(const ClientOptions& opts, const std::string& image_id);

// DescribeSnapshots, every page; `disk_id` / `instance_id` ("" = any) keep
// the snapshots of that disk / of that instance's disks.
Status SnapshotList(const ClientOptions& opts, const std::string& disk_id, const std::string& instance_id);
// CreateSnapshot of a disk; waits until it is accomplished unless `no_wait`.
struct SnapshotCreateOptions {
  std::string disk_id;
  std::string name;  // SnapshotName: 2-128 characters, starts with a letter, not "auto"
  std::string description;
  bool no_wait = false;
  std::string timeout;  // "" = kJobTimeout (cli/wait.h)
};
Status SnapshotCreate(const ClientOptions& opts, const SnapshotCreateOptions& create);
// DeleteSnapshot. A snapshot an image holds cannot be deleted; `force`
// deletes one disks were made from (they keep their data).
Status SnapshotDelete(const ClientOptions& opts, const std::string& snapshot_id, bool force);

Status TaskList(const ClientOptions& opts, const std::string& status, const std::string& action);
Status TaskShow(const ClientOptions& opts, const std::string& task_id);
Status TaskCancel(const ClientOptions& opts, const std::string& task_id);

struct InstanceRunOptions {
  std::string image_id;
  std::string instance_type = "ecs.g6.large";
  int amount = 1;
  std::string name;
  uint64_t disk_size_gib = 0;  // 0 = the server's default
  std::string user_data;       // base64
  std::string ram_role;
  std::string client_token;
  bool stopped = false;  // CreateInstance: left Stopped
  bool wait = false;     // poll until Running (Stopped with --stopped)
  std::string timeout;   // with wait; "" = kInstanceTimeout (cli/wait.h)
};
// Prints every new instance's id and status, also when the wait for one
// failed (see WaitForInstances in cli/wait.h).
Status InstanceRun(const ClientOptions& opts, const InstanceRunOptions& run);
Status InstanceList(const ClientOptions& opts);

struct InstanceActionOptions {
  std::string action;  // StartInstance | StopInstance | RebootInstance | DeleteInstance
  std::string instance_id;
  bool force = false;   // DeleteInstance: release even if Running
  bool wait = true;     // start, stop, reboot: return once Running / Stopped
  std::string timeout;  // with wait; "" = kInstanceTimeout (cli/wait.h)
};
// Without `wait`, prints that the request was accepted and the instance's
// status now (Starting, Stopping); a wait fails as soon as the instance
// cannot get there any more (a refused start: Stopped).
Status InstanceAction(const ClientOptions& opts, const InstanceActionOptions& action);
// ReplaceSystemDisk: a Stopped instance gets a new system disk made from
// an image; the old disk and what was written to it are released. Prints
// the new DiskId.
struct InstanceReplaceDiskOptions {
  std::string instance_id;
  std::string image_id;
  uint64_t disk_size_gib = 0;  // 0 = the server's default
  std::string client_token;
};
Status InstanceReplaceDisk(const ClientOptions& opts, const InstanceReplaceDiskOptions& replace);
// DescribeUserData: the instance's user data as given to RunInstances
// (base64), or with `decode` its bytes as they are, alone on stdout.
Status InstanceUserData(const ClientOptions& opts, const std::string& instance_id, bool decode);

Status DiskList(const ClientOptions& opts, const std::string& instance_id);  // "" = every disk

// "ferry-uploads-" + 16 hex digits derived from the AccessKey id: a stable
// per-key bucket name that fits the bucket-name rules.
std::string DefaultUploadBucket(const std::string& access_key_id);

}  // namespace ferry::cli
