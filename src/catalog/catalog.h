// Catalog: a region's records — images, snapshots, tasks, idempotency tokens,
// copy leases, image shares —
// and AccountDirectory: the accounts and AccessKeys shared by all regions.
//
// Catalogs are plain record stores: they enforce uniqueness and atomicity, not
// ECS rules (those live in region/). SQL is kept portable (SQLite now,
// PostgreSQL later).
//
// Threading: implementations are thread-safe. Transact() runs `fn` with the
// catalog locked in one transaction; calls made on the same catalog from
// inside `fn` join that transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace ferry {

using Tags = std::vector<std::pair<std::string, std::string>>;  // (key, value)

// The account id that owns public (system) images.
inline constexpr const char* kSystemAccountId = "system";

struct DiskMapping {
  std::string snapshot_id;
  uint64_t size_gib = 0;
  std::string device = "/dev/xvda";
  std::string type = "system";  // system | data
  std::string format;           // import format (RAW, QCOW2, ...)
  std::string import_bucket;
  std::string import_object;
  // Imports only, what the inspector found (image_inspector.h): the file's
  // format ("raw", "qcow2", "vpc", "vmdk") and what the disk holds
  // ("gpt: ext4, vfat"). Shown as Ferry extensions in DescribeImages.
  std::string detected_format;
  std::string detected_content;
  // Not persisted: filled by a listing that asks (ImageQuery::fill_view):
  // the disk's snapshot is encrypted and its listing's caller may see it.
  bool encrypted = false;
};

struct ImageRecord {
  std::string image_id;
  std::string account_id;  // owner; kSystemAccountId for public images
  std::string name;
  std::string description;
  std::string status;  // Creating | Waiting | Available | UnAvailable | CreateFailed | Deprecated
  int progress = 0;    // 0..100
  std::string os_type = "linux";
  std::string os_name;
  std::string platform = "Others Linux";
  std::string architecture = "x86_64";
  std::string boot_mode = "BIOS";
  std::string image_family;
  std::string image_version;
  std::string license_type;
  std::string resource_group_id;
  uint64_t size_gib = 0;
  std::vector<DiskMapping> disks;  // disks[0] is the system disk
  Tags tags;
  bool is_copied = false;
  std::string source_region_id;  // for copies
  std::string source_image_id;   // for copies
  std::string failure_reason;    // CreateFailed: why
  UnixSeconds creation_time = 0;
  // Not persisted: filled by the region for copies in progress.
  int64_t remain_time_seconds = 0;  // ETA; 0 when unknown or done
  uint64_t queue_position = 0;      // 1-based while Waiting, else 0
  // Bytes of this copy so far: received over the network (compressed
  // chunks, what a link cap limits) and of the disks' data now present
  // (fetched or already held: the logical progress).
  uint64_t copy_wire_bytes = 0;
  uint64_t copy_data_bytes = 0;
  // Not persisted: filled for its owner's listing (ImageQuery::fill_view).
  bool is_self_shared = false;  // shared with at least one account
};

struct SnapshotRecord {
  std::string snapshot_id;
  std::string account_id;
  std::string name;
  std::string description;
  std::string status = "progressing";  // progressing | accomplished | failed
  int progress = 0;
  uint64_t logical_size = 0;  // bytes
  uint64_t source_disk_size_gib = 0;
  std::string source_disk_type = "system";
  std::string usage = "image";  // image | disk | none
  bool encrypted = false;
  std::string kms_key_id;
  std::string source_region_id;
  std::string source_snapshot_id;
  std::string source_disk_id;        // CreateSnapshot / CreateImage InstanceId: the disk read
  std::string content_digest;        // hex SHA-256 of the manifest entries
  std::vector<uint8_t> manifest;     // encoded Manifest; empty until committed
  Tags tags;
  UnixSeconds creation_time = 0;
  UnixSeconds last_modified_time = 0;
};

struct TaskRecord {
  std::string task_id;
  std::string account_id;
  std::string action;  // ImportImage | ExportImage
  std::string status;  // Processing | Finished | Failed | Cancelled
  int progress = 0;    // 0..100
  std::string resource_id;  // image id
  std::string params;       // JSON with the action's own parameters
  std::string error_code;
  std::string error_message;
  bool cancel_requested = false;
  UnixSeconds creation_time = 0;
  UnixSeconds finished_time = 0;  // 0 while running
  // Runs started and not ended by the task itself: counted durably before
  // each run, given back when a shutdown stops it. A task the process died
  // under N times is quarantined (region_tasks.cc).
  int attempts = 0;
};

// One account an image is shared with (ModifyImageSharePermission).
struct ImageShareRecord {
  std::string image_id;
  std::string account_id;  // the recipient
  UnixSeconds shared_time = 0;
};

struct ImageQuery {
  // Visibility: images owned by `account_id`, public images, and images
  // shared with it. Empty = no restriction (internal use).
  std::string account_id;
  bool include_system = true;
  bool include_self = true;
  bool include_shared = false;  // images shared with account_id
  std::string image_id;         // exact
  std::string name_contains;    // substring
  std::string name;             // exact
  std::string snapshot_id;      // any disk mapping
  std::vector<std::string> statuses;  // empty = any
  Tags tags;                    // all must match
  uint64_t offset = 0;
  uint64_t limit = 0;           // 0 = no limit
  // False when only the page is wanted: Page::total is then not counted.
  bool count_total = true;
  // Also fill, for the page's images and in the listing's own read (one
  // commit for all), what DescribeImages shows beside the stored row:
  // ImageRecord::is_self_shared of account_id's own images, and
  // DiskMapping::encrypted where the disk's snapshot is encrypted and
  // visible to account_id as DescribeSnapshots shows it (its own, or a disk
  // of an image shared with it; any, with no account_id).
  bool fill_view = false;
};

struct SnapshotQuery {
  std::string account_id;  // empty = any
  // Also these snapshots, whoever owns them (a shared image's, for its
  // recipient); only with account_id.
  std::vector<std::string> also_snapshot_ids;
  std::vector<std::string> snapshot_ids;
  std::string status;      // empty = any
  std::string name;
  std::string source_disk_id;  // exact; empty = any
  uint64_t offset = 0;
  uint64_t limit = 0;
};

struct TaskQuery {
  std::string account_id;  // empty = any
  std::vector<std::string> task_ids;
  std::string action;
  std::vector<std::string> actions;  // any of these; empty = any
  std::string status;
  std::vector<std::string> resource_ids;
  std::vector<std::string> statuses;  // e.g. {"Processing"} for resume
  uint64_t offset = 0;
  uint64_t limit = 0;
};

// An instance (region/region_instances.cc): a record with real disks that a
// hypervisor could boot; no VM runs. UserData and RamRoleName belong to the
// instance only and never travel into an image made from it.
struct InstanceRecord {
  std::string instance_id;  // "i-" + 20 [a-z0-9]
  std::string account_id;
  std::string region_id;
  std::string name;
  std::string description;
  std::string host_name;
  std::string instance_type;
  std::string zone_id;
  std::string status;  // Pending | Starting | Running | Stopping | Stopped
  std::string image_id;
  std::string user_data;  // base64 as the caller gave it ("" = none)
  std::string ram_role_name;
  UnixSeconds creation_time = 0;
  UnixSeconds start_time = 0;  // last start; 0 = never started
  // RunInstances: the instance starts once its disks exist (a Pending
  // instance resumed after a restart needs to know).
  bool auto_start = false;
  Tags tags;                                      // Tag.N given at launch (schema 7)
  std::string instance_charge_type = "PostPaid";  // PostPaid | PrePaid
  UnixSeconds expired_time = 0;                   // PrePaid: the subscription's end; 0 for PostPaid
};

// A disk: a qcow2 overlay of the region's DiskStore on the base file of the
// image it was made from (base_key, disks/disks.md).
struct DiskRecord {
  std::string disk_id;  // "d-" + 20 [a-z0-9]
  std::string account_id;
  std::string instance_id;  // "" = not attached
  std::string image_id;
  std::string source_snapshot_id;
  std::string base_key;  // "" = no base (an empty disk)
  uint64_t size_gib = 0;
  std::string category = "cloud_essd";
  std::string status;  // Creating | In_use | Available
  std::string type = "system";  // system | data
  std::string device = "/dev/xvda";
  UnixSeconds creation_time = 0;
};

struct InstanceQuery {
  std::string account_id;  // empty = any
  std::optional<std::vector<std::string>> instance_ids;  // set and empty = nothing
  std::string image_id;
  std::vector<std::string> statuses;  // empty = any
  std::string name_pattern;           // exact, or '*' wildcards
  // Each must be on the instance: the key, and the value unless it is "".
  Tags tags;
  uint64_t offset = 0;
  uint64_t limit = 0;
};

struct DiskQuery {
  std::string account_id;  // empty = any
  std::optional<std::vector<std::string>> disk_ids;  // set and empty = nothing
  std::string instance_id;
  std::string disk_type;  // system | data | "" (any)
  uint64_t offset = 0;
  uint64_t limit = 0;
};

template <typename T>
struct Page {
  std::vector<T> items;
  uint64_t total = 0;  // matches before offset/limit
};

class Catalog {
 public:
  virtual ~Catalog() = default;

  virtual Status Transact(const std::function<Status()>& fn) = 0;

  // Images. Insert fails with kAlreadyExists (reason
  // "InvalidImageName.Duplicated") if (account_id, name) is taken by another
  // image in this region and name is not empty.
  virtual Status InsertImage(const ImageRecord& r) = 0;
  virtual Status UpdateImage(const ImageRecord& r) = 0;  // by image_id; same uniqueness rule
  virtual Result<ImageRecord> GetImage(const std::string& image_id) = 0;  // kNotFound
  virtual Status DeleteImage(const std::string& image_id) = 0;            // OK if absent
  virtual Result<Page<ImageRecord>> ListImages(const ImageQuery& q) = 0;   // newest first

  // Snapshots.
  virtual Status InsertSnapshot(const SnapshotRecord& r) = 0;
  virtual Status UpdateSnapshot(const SnapshotRecord& r) = 0;
  virtual Result<SnapshotRecord> GetSnapshot(const std::string& snapshot_id) = 0;
  virtual Status DeleteSnapshot(const std::string& snapshot_id) = 0;
  virtual Result<Page<SnapshotRecord>> ListSnapshots(const SnapshotQuery& q) = 0;  // manifests not loaded
  // Calls fn(snapshot_id, encoded_manifest) for every snapshot with a manifest.
  virtual Status ForEachManifest(
      const std::function<Status(const std::string&, const std::vector<uint8_t>&)>& fn) = 0;

  // Tasks.
  virtual Status InsertTask(const TaskRecord& r) = 0;
  virtual Status UpdateTask(const TaskRecord& r) = 0;
  virtual Result<TaskRecord> GetTask(const std::string& task_id) = 0;
  virtual Result<Page<TaskRecord>> ListTasks(const TaskQuery& q) = 0;  // newest first

  // Task leases: the node that runs a Processing task holds its lease, so
  // the nodes of a region sharing a catalog never run one task twice, and
  // a task whose node died is taken over once its lease expires. A node is
  // named by a string of its own (RegionImpl's node id). The lease is not
  // part of TaskRecord: UpdateTask leaves it as it is.
  //
  // ClaimTask takes the lease of a Processing task until `until` when no
  // node holds it, its lease expired before `now`, or `node` holds it
  // already: true; false when another node holds it or the task is not
  // Processing (or does not exist).
  virtual Result<bool> ClaimTask(const std::string& task_id, const std::string& node, UnixSeconds now,
                                 UnixSeconds until) = 0;
  // Every lease `node` holds on a Processing task now lasts until `until`.
  virtual Status RenewTaskLeases(const std::string& node, UnixSeconds until) = 0;
  // `node` gives back every lease it holds (it is stopping).
  virtual Status ReleaseTaskLeases(const std::string& node) = 0;
  // The Processing tasks `node` may claim at `now` (free, expired, or its
  // own), oldest first.
  virtual Result<std::vector<TaskRecord>> ClaimableTasks(const std::string& node, UnixSeconds now) = 0;

  // Copy slots: at most N copies run in the region at once, whichever nodes
  // run them. A copy takes a slot before it starts transferring and gives it
  // back when it ends. A slot belongs to the copy's task, so it lasts as long
  // as the task is Processing and its lease is live: the slot of a copy whose
  // node died is free once the lease expires, and taken again by the node
  // that takes the copy over.
  //
  // TakeCopySlot: true if `task_id` holds a slot already, or fewer than
  // `max_running` other Processing tasks with a live lease at `now` hold one
  // (then it takes one); false otherwise.
  virtual Result<bool> TakeCopySlot(const std::string& task_id, UnixSeconds now, unsigned max_running) = 0;
  // OK if the task holds none.
  virtual Status ReleaseCopySlot(const std::string& task_id) = 0;

  // Chunk pins (src/region/gc_with_nodes.md): what keeps one node's garbage
  // collection from deleting a chunk another node's ingest is about to
  // reference. A chunk is named by its hex id; an owner is one ingest's pin
  // lease, a pass one garbage collection. A pin or a pass is live while its
  // expiry is at or after `now`.
  //
  // PinChunk: `owner` (of `node`) pins `chunk` until `until`; committed
  // before the ingest looks the chunk up. Pinning one again is a no-op.
  virtual Status PinChunk(const std::string& chunk, const std::string& owner, const std::string& node,
                          UnixSeconds until) = 0;
  // How many of `owner`'s pins are live and not released at `now`: an
  // ingest commits its manifest only if none of its pins lapsed.
  virtual Result<int64_t> LiveChunkPins(const std::string& owner, UnixSeconds now) = 0;
  // `owner`'s manifest is committed (or its ingest abandoned): its pins are
  // stamped with a new release number while a pass is live (the pass keeps
  // what was released after it began), deleted when none is.
  virtual Status ReleaseChunkPins(const std::string& owner, UnixSeconds now) = 0;
  // `node`'s live unreleased pins last until `until` (a lapsed one stays
  // lapsed: GC may have acted on it).
  virtual Status RenewChunkPins(const std::string& node, UnixSeconds now, UnixSeconds until) = 0;
  // `node` starts: none of its ingests is in flight; its unreleased pins go.
  virtual Status DropChunkPins(const std::string& node) = 0;
  // A garbage collection pass registers before it reads any manifest, live
  // until `until`; returns the release number it started at.
  virtual Result<int64_t> BeginGcPass(const std::string& pass, UnixSeconds until) = 0;
  // In one write transaction: unless a live pin holds `chunk`, or a pin of
  // it was released after `pass` began, runs `remove` (deleting the chunk
  // from the store) and sets *deleted. `pass` lives on until `until`; a pass
  // that lapsed is refused (kAborted): another pass may have dropped the
  // release stamps it needs.
  virtual Status DeleteChunkUnlessPinned(const std::string& chunk, const std::string& pass, UnixSeconds now,
                                         UnixSeconds until, const std::function<Status()>& remove,
                                         bool* deleted) = 0;
  // `pass` ends: its row goes, with the release stamps no live pass needs,
  // lapsed pins and lapsed passes.
  virtual Status EndGcPass(const std::string& pass, UnixSeconds now) = 0;

  // Idempotency: remembers (account, action, token) -> (params fingerprint,
  // result id). Get returns kNotFound when unknown.
  struct TokenRecord {
    std::string fingerprint;
    std::string result_id;
  };
  virtual Result<TokenRecord> GetClientToken(const std::string& account_id, const std::string& action,
                                             const std::string& token) = 0;
  virtual Status PutClientToken(const std::string& account_id, const std::string& action,
                                const std::string& token, const TokenRecord& rec) = 0;

  // Copy leases (region/region.h CopyLease): a source image of this region
  // and the copy, in another region, that may still need it. At most one per
  // source image; kept across restarts.
  struct CopyLeaseRecord {
    std::string source_image_id;
    std::string copy_region_id;
    std::string copy_image_id;
    UnixSeconds creation_time = 0;
  };
  virtual Status PutCopyLease(const CopyLeaseRecord& rec) = 0;  // inserts or replaces
  virtual Result<CopyLeaseRecord> GetCopyLease(const std::string& source_image_id) = 0;  // kNotFound
  // Removes the lease of `source_image_id` only if it names `copy_image_id`;
  // OK when there is none.
  virtual Status DeleteCopyLease(const std::string& source_image_id, const std::string& copy_image_id) = 0;

  // Image shares: the accounts an image is shared with. Never copied with
  // an image (a copy is a new image id). Put keeps the first shared_time of
  // a share that exists; Delete is OK when there is none.
  virtual Status PutImageShare(const ImageShareRecord& r) = 0;
  virtual Status DeleteImageShare(const std::string& image_id, const std::string& account_id) = 0;
  // Oldest first (shared_time, then account id).
  virtual Result<Page<ImageShareRecord>> ListImageShares(const std::string& image_id, uint64_t offset,
                                                         uint64_t limit) = 0;
  virtual Result<bool> IsImageSharedWith(const std::string& image_id, const std::string& account_id) = 0;
  // Those of `image_ids` shared with at least one account.
  virtual Result<std::set<std::string>> SharedImageIds(const std::vector<std::string>& image_ids) = 0;
  // Instances and disks (sqlite_catalog_instances.cc). Get: kNotFound.
  virtual Status InsertInstance(const InstanceRecord& r) = 0;
  virtual Status UpdateInstance(const InstanceRecord& r) = 0;
  virtual Result<InstanceRecord> GetInstance(const std::string& instance_id) = 0;
  virtual Status DeleteInstance(const std::string& instance_id) = 0;  // OK if absent
  virtual Result<Page<InstanceRecord>> ListInstances(const InstanceQuery& q) = 0;  // newest first
  virtual Status InsertDisk(const DiskRecord& r) = 0;
  virtual Status UpdateDisk(const DiskRecord& r) = 0;
  virtual Result<DiskRecord> GetDisk(const std::string& disk_id) = 0;
  virtual Status DeleteDisk(const std::string& disk_id) = 0;  // OK if absent
  virtual Result<Page<DiskRecord>> ListDisks(const DiskQuery& q) = 0;  // newest first
};

struct AccountRecord {
  std::string account_id;  // 16 decimal digits
  std::string name;
  bool is_root = false;
  UnixSeconds creation_time = 0;
};

struct AccessKeyRecord {
  std::string access_key_id;
  std::string access_key_secret;
  std::string account_id;
  bool enabled = true;
  UnixSeconds creation_time = 0;
};

class AccountDirectory {
 public:
  virtual ~AccountDirectory() = default;
  // kAlreadyExists if the name or id is taken.
  virtual Status CreateAccount(const AccountRecord& a) = 0;
  virtual Result<AccountRecord> GetAccount(const std::string& account_id) = 0;
  virtual Result<AccountRecord> FindAccountByName(const std::string& name) = 0;
  virtual Result<std::vector<AccountRecord>> ListAccounts() = 0;
  virtual Status AddAccessKey(const AccessKeyRecord& k) = 0;
  virtual Result<AccessKeyRecord> GetAccessKey(const std::string& access_key_id) = 0;  // kNotFound
  virtual Result<std::vector<AccessKeyRecord>> ListAccessKeys(const std::string& account_id) = 0;
  // Disables (or enables again) and deletes an AccessKey; the next request
  // signed with it is refused. kNotFound for a key that does not exist.
  // Directories that cannot change keys refuse.
  virtual Status SetAccessKeyEnabled(const std::string& access_key_id, bool /*enabled*/) {
    return FailedPrecondition("", "this account directory cannot change AccessKey " + access_key_id);
  }
  virtual Status DeleteAccessKey(const std::string& access_key_id) {
    return FailedPrecondition("", "this account directory cannot delete AccessKey " + access_key_id);
  }

  // The large-copy allowance ("the ticket" ECS asks for above 500 GiB):
  // lets `account_id` copy `image_id` ("" = any of its images) above the
  // region's size limit. Granted offline by an operator. Directories that do
  // not store allowances refuse to grant and allow nothing.
  virtual Status AllowLargeCopy(const std::string& account_id, const std::string& image_id) {
    return FailedPrecondition("", "this account directory cannot store large-copy allowances (account " +
                                      account_id + ", image '" + image_id + "')");
  }
  virtual Result<bool> IsLargeCopyAllowed(const std::string& /*account_id*/,
                                          const std::string& /*image_id*/) {
    return false;
  }
};

}  // namespace ferry
