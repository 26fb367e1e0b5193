// Region: one region's image service — its catalog, its chunk store, its
// object-storage buckets and its background tasks — behind ECS semantics.
//
// The API layer authenticates the caller, parses ECS parameters into the
// request structs below, calls a Region, and renders the results. Every ECS
// rule (visibility, states, names, errors with their ECS codes as Status
// reasons) is enforced here.
//
// Threading: all public methods are thread-safe. Long work (import, export)
// runs as a task on the region's own worker threads; the calls that start it
// return at once with the task id.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/status.h"
#include "copy/chunk_budget.h"
#include "copy/chunk_source.h"
#include "copy/link_limiter.h"
#include "region/quotas.h"
#include "store/chunk_format.h"
#include "store/chunk_store.h"

namespace ferry {

class ObjectStore;

class CopyPeer;

inline constexpr unsigned kDefaultRegionCopyInFlight = 8;  // RegionConfig::copy_in_flight

// Which imports may share a chunk (ARCHITECTURE.md "Deduplication and
// tenants"). kAccount: only imports of the same account (chunk ids carry the
// account's scope, store/chunk_id.h), so no account can learn whether another
// holds a block. kRegion: every import of the region, across accounts; an
// operator opt-in that saves space and lets a tenant probe for blocks.
enum class DedupScope { kAccount, kRegion };

struct RegionConfig {
  std::string region_id;      // e.g. "cn-hangzhou"
  std::string local_name_en;  // "China (Hangzhou)"
  std::string local_name_zh;  // "华东1（杭州）"
  std::string data_dir;       // this region's directory: catalog.db, chunks/, tmp/
  // The region's catalog in PostgreSQL (catalog/pg_catalog.h), shared by the
  // region's nodes; empty = catalog.db in data_dir.
  std::string catalog_uri;
  // The region's chunks in an S3-compatible store (store/s3_client.h
  // ParseS3Uri), shared by the region's nodes; empty = chunks/ in data_dir.
  std::string store_uri;
  // This node's name in the catalog's task leases (catalog.h ClaimTask);
  // empty = the one kept in data_dir/node-id (made on first open), so a
  // restarted node takes its own tasks back at once.
  std::string node_id;
  // How long a task's lease lasts unless renewed (every third of it): a
  // task of a node that died is taken over by another node this long after
  // its last renewal.
  unsigned task_lease_seconds = 30;
  uint32_t chunk_size = 4u << 20;
  unsigned task_threads = 2;    // concurrent import/export tasks
  // How long an instance stays in a transitional state (Starting, Stopping)
  // before it reaches the next one.
  unsigned instance_transition_ms = 500;
  // The operator's hypervisor hook (`--instance-hook PROGRAM`): run as
  // PROGRAM INSTANCE_ID ACTION SYSTEM_DISK_PATH with ACTION start (as an
  // instance becomes Running, also on reboot), stop (as it becomes Stopped)
  // or delete (before its disks go). A start that exits non-zero leaves the
  // instance Stopped; stop and delete go on, logged. Empty = none.
  std::string instance_hook;
  unsigned ingest_threads = 2;  // hash/compress workers per task
  bool seed_public_image = true;
  // Opened only to be checked (`ferry fsck`): opening changes nothing on
  // disk (no scratch or temp file removed, no public image seeded, no task,
  // copy or instance resumed, no staging object released, no base file
  // collected, no worker thread started), and only Fsck may be called. The
  // catalog's schema is still brought up to date.
  bool check_only = false;
  DedupScope dedup_scope = DedupScope::kAccount;
  // The process's object storage, shared by all regions (borrowed; must
  // outlive the region). Required.
  ObjectStore* object_storage = nullptr;
  // The object storage keeps multipart parts of up to one chunk as chunks
  // of this region's chunk store (PartChunks, region/part_chunks.h), and
  // imports take such objects' chunks as they are. For a process serving
  // one region (an object store keeps one region's chunks); a store that
  // keeps no parts so (FsObjectStore) ignores it.
  bool keep_parts_as_chunks = false;

  // --- Copies across regions (docs/design/copy.md) ---
  // Every region this region can copy to or from, by id: a Region of this
  // process or a remote one reached over the peer API (nullptr when the
  // region is unknown). Set by the process before any call; may be empty in
  // tests that do not copy.
  std::function<CopyPeer*(const std::string& region_id)> resolve_peer;
  // A ChunkSource that reads from `source_region_id` over the peer protocol
  // (in the one-process default: this process's own server). It may fail
  // with kUnavailable (e.g. before the server listens): the copy then waits
  // and retries with backoff like for any unreachable peer.
  std::function<Result<std::unique_ptr<ChunkSource>>(const std::string& source_region_id)> chunk_source;
  unsigned max_running_copies = 5;   // per destination region; the rest wait
  // Chunk fetches in flight per copy, twice as many from a source whose
  // round trip is 10 ms or more (PullOptions::in_flight_long_link): 16 keep
  // a 1 Gbit/s link with a 50 ms round trip >= 90% busy where 8 left it ~8%
  // idle, while on loopback 16 are 5-10% slower than 8. At most four
  // fetched chunks are verified and stored at once.
  unsigned copy_in_flight = kDefaultRegionCopyInFlight;
  // The chunk buffers shared by every copy into this process, all regions
  // (PullOptions::budget); borrowed, outlives the region. Null = each copy
  // is bounded only by copy_in_flight.
  ChunkBudget* copy_budget = nullptr;
  // CopyImage sends the snapshots' manifests with the copy (CopyTarget) when
  // together they are at most this many bytes. 512 KiB holds the manifests
  // of ~56 GiB of data in 4 MiB chunks and, in base64, fits the peer API's
  // 1 MiB request body with room to spare; a queued copy keeps them in
  // memory until it runs.
  size_t max_sent_manifest_bytes = 512u << 10;
  // Decoded, they take ~1.3 times that. Past this many bytes of them kept by
  // the copies of this region, a copy is queued without them and fetches
  // them from the source when it starts (one round trip): a queue of any
  // length costs at most this much memory.
  uint64_t max_queued_manifest_bytes = 16u << 20;
  uint64_t copy_rate_limit_bytes_per_second = 0;  // per copy; 0 = unlimited
  // The cap shared by every copy into this process from `source_region_id`
  // (a per-link cap); nullptr or unset = none.
  std::function<LinkLimiter*(const std::string& source_region_id)> link_limiter;
  uint64_t max_copy_size_gib = 500;  // larger images need large_copy_allowed
  // "The ticket": whether `account_id` may copy `image_id` above
  // max_copy_size_gib. Unset = never.
  std::function<bool(const std::string& account_id, const std::string& image_id)> large_copy_allowed;
  // Whether `account_id` names an account of the cluster: image shares may
  // name only those (InvalidAccount.NotFound). Unset = none does, so nothing
  // can be shared.
  std::function<Result<bool>(const std::string& account_id)> account_exists;
  // Per-account count quotas in this region (region/quotas.h); 0 =
  // unlimited. The stored-bytes quota is the object storage's
  // (ObjectStore::set_max_account_bytes), shared by the process's regions.
  QuotaLimits quotas;
};

// The authenticated account making a request.
struct Caller {
  std::string account_id;
};

struct ImportDisk {
  std::string oss_bucket;
  std::string oss_object;
  std::string format;  // RAW | QCOW2 | VHD | VMDK | "" (detect)
  uint64_t disk_image_size_gib = 0;  // 0 = from the file
};

struct ImportImageRequest {
  std::vector<ImportDisk> disks;  // [0] = system disk
  std::string image_name;
  std::string description;
  std::string architecture;  // default x86_64
  std::string os_type;       // default linux
  std::string platform;      // default "Others Linux"
  std::string boot_mode;     // default BIOS
  std::string license_type;
  bool encrypted = false;    // the snapshot is marked encrypted
  Tags tags;
  std::string client_token;
  bool dry_run = false;
};

struct ImportImageResult {
  std::string image_id;
  std::string task_id;
};

struct DescribeImagesRequest {
  std::string image_id;
  std::string image_name;
  std::vector<std::string> statuses;  // empty = {"Available"}
  std::string owner_alias;            // "" | system | self | others | marketplace
  std::string snapshot_id;
  Tags tags;
  uint64_t page_number = 1;
  uint64_t page_size = 10;
};

struct ModifyImageAttributeRequest {
  std::string image_id;
  std::optional<std::string> image_name;
  std::optional<std::string> description;
  std::optional<std::string> status;  // Deprecated | Available
  std::optional<std::string> image_family;
  std::optional<std::string> boot_mode;
  std::optional<std::string> license_type;
};

// Sharing limits ECS documents for ModifyImageSharePermission.
inline constexpr size_t kMaxShareAccountsPerCall = 10;   // AddAccount.N, RemoveAccount.N each
inline constexpr size_t kMaxShareAccountsPerImage = 50;  // QuotaExceed.ShareImageUser beyond

struct ModifyImageSharePermissionRequest {
  std::string image_id;
  // Account ids (strings of digits), at most kMaxShareAccountsPerCall each.
  // Removals apply before additions.
  std::vector<std::string> add_accounts;
  std::vector<std::string> remove_accounts;
  bool dry_run = false;
};

struct DescribeImageSharePermissionRequest {
  std::string image_id;
  uint64_t page_number = 1;
  uint64_t page_size = 10;
};

// One DiskDeviceMapping.N of CreateImage (region_create_image.cc has the
// rules).
struct ImageDiskRequest {
  int n = 0;  // N, for messages
  std::string snapshot_id;
  uint64_t size_gib = 0;  // 0 = the snapshot's size
  std::string device;     // "" = assigned
  std::string disk_type;  // "" = the snapshot's disk's; system | data
};

struct CreateImageRequest {
  // From an instance (every disk snapshotted, then an image of them), from
  // snapshots (DiskDeviceMapping.N: one system disk and data disks), or from
  // one system-disk snapshot. ECS's priority: InstanceId, DiskDeviceMapping,
  // SnapshotId.
  std::string instance_id;
  std::vector<ImageDiskRequest> disk_mappings;
  std::string snapshot_id;
  std::string image_name;
  std::string description;
  std::string platform;
  std::string architecture;
  std::string boot_mode;
  std::string image_family;
  std::string image_version;
  Tags tags;
  std::string client_token;
  // From snapshots only: everything is checked, nothing made
  // (DryRunOperation).
  bool dry_run = false;
};

// CreateSnapshot (region_disk_snapshots.cc): a snapshot of one disk of an
// instance, taken by a task.
struct CreateSnapshotRequest {
  std::string disk_id;
  std::string snapshot_name;  // "" or 2-128, see ValidateSnapshotName
  std::string description;
  Tags tags;
  std::string client_token;
};

struct DescribeSnapshotsRequest {
  std::vector<std::string> snapshot_ids;
  std::string status;  // "" or all = any
  std::string snapshot_name;
  uint64_t page_number = 1;
  uint64_t page_size = 10;
};

struct ExportImageRequest {
  std::string image_id;
  std::string oss_bucket;
  std::string oss_prefix;
  std::string image_format;  // raw (default) | qcow2
};

struct DescribeTasksRequest {
  std::vector<std::string> task_ids;
  std::string task_action;
  std::string task_status;
  std::vector<std::string> resource_ids;
  uint64_t page_number = 1;
  uint64_t page_size = 10;
};

struct CopyImageRequest {
  std::string image_id;  // in this (the source) region
  std::string destination_region_id;
  std::string destination_image_name;  // "" = derived from the source name
  std::string destination_description;
  Tags tags;                // the copy's tags come from the request only
  std::string client_token;
  bool encrypted = false;   // requested encryption of the copy
  std::string kms_key_id;
  bool dry_run = false;
};

// What the source region hands the destination region when a copy starts.
struct CopyTarget {
  // The new image's id, chosen by the source so that its copy lease names
  // the copy before the destination has created it. Empty: the destination
  // picks one.
  std::string image_id;
  std::string account_id;
  std::string source_region_id;
  ImageRecord source_image;                      // configuration to copy
  // One per disk, in disk order. Each carries its encoded manifest when the
  // image's manifests together are at most max_sent_manifest_bytes: the
  // destination then starts fetching chunks at once. Otherwise none does,
  // and the destination asks for them.
  std::vector<SnapshotRecord> source_snapshots;
  std::string image_name;                        // validated, final
  std::string description;
  Tags tags;
  std::string client_token;
  // Check only (CopyImage with DryRun): AcceptCopy validates — the name is
  // free in the destination — and answers DryRunOperation without writing.
  bool dry_run = false;
};

// A source image's note that a copy may still need it: while the copy runs
// the image cannot be deleted and a second copy of it is refused. Leases
// are kept in the source's catalog and checked against the destination
// (CopyInProgress) when they block something, so a lease whose copy has
// ended, or whose release was lost, does not block for ever.
struct CopyLease {
  std::string source_image_id;
  std::string copy_region_id;
  std::string copy_image_id;
};

// What one region asks of another during a copy. A Region of this process
// answers directly; a region of another process through the peer API
// (NewRemoteCopyPeer). Remote calls fail with kUnavailable when the peer
// cannot be reached; other errors keep their ECS reason and message.
//
// Threading: implementations are thread-safe.
class CopyPeer {
 public:
  virtual ~CopyPeer() = default;

  // Destination side. Records the copy `t` (image Waiting, snapshots
  // progressing) and queues its pull; returns the new image id.
  virtual Result<std::string> AcceptCopy(const CopyTarget& t) = 0;
  // Whether `copy_image_id` is a copy in this region still Waiting or
  // Creating (false when it is finished, failed or gone).
  virtual Result<bool> CopyInProgress(const std::string& copy_image_id) = 0;

  // Source side. Acquire is idempotent for the same copy; a different live
  // copy of the image is OperationDenied.ImageCopyConflict; an unknown
  // image InvalidImageId.NotFound. Release of a lease held by another copy
  // (or none) does nothing.
  virtual Status AcquireCopyLease(const CopyLease& lease) = 0;
  virtual Status ReleaseCopyLease(const CopyLease& lease) = 0;

  // Whether the region answers. For a remote one this is an authenticated
  // round trip, which also leaves a connection ready for the first copy.
  virtual Status Ping() { return Status::Ok(); }
};

// RunInstances / CreateInstance (region_instances.cc).
struct RunInstancesRequest {
  std::string image_id;
  std::string instance_type;  // ecs.<family>.<size>
  std::string instance_name;
  std::string description;
  std::string host_name;
  std::string zone_id;                // "" = the region's first zone
  uint64_t system_disk_size_gib = 0;  // 0 = max(40, image size)
  std::string system_disk_category;   // "" = cloud_essd
  int amount = 1;                     // 1..100
  std::string user_data;              // base64, at most 32 KiB
  std::string ram_role_name;
  std::string client_token;
  bool dry_run = false;
  // true: RunInstances (Pending -> Starting -> Running); false:
  // CreateInstance (Pending -> Stopped).
  bool start = true;
  Tags tags;  // Tag.N, at most 20 (ValidateTags)
  // PostPaid ("" too) or PrePaid; a PrePaid instance needs a Period, in
  // PeriodUnit Month (1-9, 12, 24, 36, 48, 60) or Week (1-4). Ignored for
  // PostPaid, as ECS documents.
  std::string instance_charge_type;
  int period = 0;           // 0 = not given
  std::string period_unit;  // "" = Month
};

struct DescribeInstancesRequest {
  std::optional<std::vector<std::string>> instance_ids;  // set and empty = none
  std::string image_id;
  std::string status;
  std::string instance_name;  // '*' wildcards
  Tags tags;                  // Tag.N: each key on the instance, with its value unless ""
  uint64_t page_number = 1;
  uint64_t page_size = 10;
};

struct DescribeDisksRequest {
  std::optional<std::vector<std::string>> disk_ids;
  std::string instance_id;
  std::string disk_type;  // system | data | all | ""
  uint64_t page_number = 1;
  uint64_t page_size = 10;
};

struct ReplaceSystemDiskRequest {
  std::string instance_id;
  std::string image_id;
  uint64_t system_disk_size_gib = 0;  // 0 = max(40, image size)
  std::string client_token;
};

// Counters for /metrics. Monotonic.
struct RegionMetrics {
  std::atomic<uint64_t> bytes_imported{0};
  std::atomic<uint64_t> bytes_exported{0};
  std::atomic<uint64_t> chunks_stored{0};
  std::atomic<uint64_t> chunks_deduped{0};
  std::atomic<uint64_t> tasks_finished{0};
  std::atomic<uint64_t> tasks_failed{0};
  // Copies into this region, counted as the chunks arrive.
  std::atomic<uint64_t> copy_chunks_fetched{0};  // chunks that crossed the network
  std::atomic<uint64_t> copy_bytes_received{0};  // their wire bytes
};

struct GcStats {
  uint64_t chunks_scanned = 0;
  uint64_t chunks_referenced = 0;
  uint64_t chunks_deleted = 0;
};

struct FsckReport {
  uint64_t chunks_checked = 0;
  uint64_t manifests_checked = 0;
  uint64_t disks_checked = 0;         // overlay files
  uint64_t bases_checked = 0;         // base files
  std::vector<std::string> problems;  // one line each; empty = healthy
  // What is as expected but worth knowing (disks of Pending instances the
  // server creates when it starts); one line each.
  std::vector<std::string> notes;
};

class Region : public CopyPeer {
 public:
  virtual ~Region() = default;

  virtual const RegionConfig& config() const = 0;
  const std::string& id() const { return config().region_id; }

  virtual Result<ImportImageResult> ImportImage(const Caller& c, const ImportImageRequest& r) = 0;
  // The page of images `c` may see, each with what DescribeImages shows
  // beside the stored row (ImageRecord::is_self_shared,
  // DiskMapping::encrypted as DescribeSnapshots would show `c` the snapshot)
  // read at the listing's commit.
  virtual Result<Page<ImageRecord>> DescribeImages(const Caller& c, const DescribeImagesRequest& r) = 0;
  virtual Status ModifyImageAttribute(const Caller& c, const ModifyImageAttributeRequest& r) = 0;
  virtual Status DeleteImage(const Caller& c, const std::string& image_id, bool force) = 0;
  virtual Result<std::string> CreateImage(const Caller& c, const CreateImageRequest& r) = 0;
  virtual Result<Page<SnapshotRecord>> DescribeSnapshots(const Caller& c,
                                                         const DescribeSnapshotsRequest& r) = 0;
  virtual Status DeleteSnapshot(const Caller& c, const std::string& snapshot_id, bool force) = 0;
  virtual Result<std::string> ExportImage(const Caller& c, const ExportImageRequest& r) = 0;  // task id
  virtual Result<Page<TaskRecord>> DescribeTasks(const Caller& c, const DescribeTasksRequest& r) = 0;
  virtual Result<TaskRecord> DescribeTaskAttribute(const Caller& c, const std::string& task_id) = 0;
  virtual Status CancelTask(const Caller& c, const std::string& task_id) = 0;

  // Sharing (region_sharing.cc): an owner lets other accounts of the
  // cluster use one of its custom images in this region; no new image is
  // made. A recipient sees the image (ImageOwnerAlias=others) and may use it
  // (UsableImage), never modify, delete, export, re-share or copy it. A
  // stranger's answer about an image is the same as for one that never
  // existed.
  virtual Status ModifyImageSharePermission(const Caller& c, const ModifyImageSharePermissionRequest& r) = 0;
  virtual Result<Page<ImageShareRecord>> DescribeImageSharePermission(
      const Caller& c, const DescribeImageSharePermissionRequest& r) = 0;
  // The check for anything that uses an image without changing it (an
  // instance made from it): the image when `c` owns it, it is public, or it
  // is shared with `c`, and it is Available or Deprecated.
  // InvalidImageId.NotFound when `c` cannot see it,
  // OperationDenied.ImageNotValid when it is not ready.
  virtual Result<ImageRecord> UsableImage(const Caller& c, const std::string& image_id) = 0;

  // Peer reads (api/peer_endpoints.h): another region pulling this region's
  // data for a copy. No caller: the cluster key authenticated the peer.
  // The committed encoded manifest of `snapshot_id`; kNotFound with reason
  // InvalidSnapshotId.NotFound when it is absent or not committed yet.
  virtual Result<std::vector<uint8_t>> PeerReadManifest(const std::string& snapshot_id) = 0;
  // The verified plaintext of chunk `id` (ChunkStore::Get: kNotFound,
  // kDataLoss).
  virtual Result<std::vector<uint8_t>> PeerReadChunk(const ChunkId& id) = 0;
  // Chunk `id` as its stored chunk object (ChunkStore::GetStored: header
  // checked, payload not; kNotFound, kDataLoss), sent to a peer as it is:
  // the peer verifies what it stores. The default encodes PeerReadChunk's
  // plaintext, zstd-compressed when smaller, as a store would.
  virtual Result<std::vector<uint8_t>> PeerReadChunkStored(const ChunkId& id) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> plaintext, PeerReadChunk(id));
    return EncodeChunkObject(plaintext, /*compress=*/true);
  }
  // Chunk `id`'s stored object as an open file (ChunkStore::OpenStored: the
  // same checks, nothing read), for sending with sendfile; nullopt when the
  // store keeps no such file (the default): use PeerReadChunkStored.
  virtual Result<std::optional<ChunkObjectFile>> PeerOpenChunkStored(const ChunkId& /*id*/) {
    return std::optional<ChunkObjectFile>();
  }

  // Copies. CopyImage runs on the source region: it checks the ECS rules,
  // takes a copy lease on the source image, and calls AcceptCopy on the
  // destination (CopyPeer), returning the new image id at once.
  // CancelCopyImage runs on the destination.
  virtual Result<std::string> CopyImage(const Caller& c, const CopyImageRequest& r) = 0;
  virtual Status CancelCopyImage(const Caller& c, const std::string& image_id) = 0;

  // Instances and disks (region_instances.cc, region_disks.cc). The
  // defaults answer as a region without instances.
  virtual Result<std::vector<std::string>> RunInstances(const Caller& c, const RunInstancesRequest& r);
  virtual Result<Page<InstanceRecord>> DescribeInstances(const Caller& c, const DescribeInstancesRequest& r);
  virtual Status StartInstance(const Caller& c, const std::string& instance_id, bool dry_run);
  virtual Status StopInstance(const Caller& c, const std::string& instance_id, bool dry_run);
  virtual Status RebootInstance(const Caller& c, const std::string& instance_id, bool dry_run);
  virtual Status DeleteInstance(const Caller& c, const std::string& instance_id, bool force, bool dry_run);
  virtual Result<std::string> ReplaceSystemDisk(const Caller& c, const ReplaceSystemDiskRequest& r);
  virtual Result<Page<DiskRecord>> DescribeDisks(const Caller& c, const DescribeDisksRequest& r);
  // A snapshot of a disk (region_disk_snapshots.cc): the record appears
  // progressing at once and a task ingests the disk's current view (only
  // the chunks the guest changed are new) and marks it accomplished.
  // Returns the snapshot id.
  virtual Result<std::string> CreateSnapshot(const Caller& c, const CreateSnapshotRequest& r);

  // Operations.
  virtual Status CollectGarbage(GcStats* stats) = 0;
  virtual Status Fsck(FsckReport* report) = 0;
  virtual RegionMetrics& metrics() = 0;

  // Stops taking new tasks, lets running tasks finish their current step
  // (they resume on the next start), and joins the worker threads.
  virtual void Shutdown() = 0;
};

// Opens (creating if needed) the region under config.data_dir, resumes tasks
// left Processing by a previous run, and seeds the public image.
Result<std::unique_ptr<Region>> OpenRegion(const RegionConfig& config, const Clock& clock);

// Well-known region names: fills local_name_en / local_name_zh for known ids
// (falls back to the id itself).
void FillRegionNames(RegionConfig* config);

}  // namespace ferry
