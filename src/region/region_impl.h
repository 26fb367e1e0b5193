// RegionImpl: the one Region implementation — a SqliteCatalog for records, an
// FsChunkStore for data, the process's ObjectStore for import sources and
// export targets, and a small pool of task threads for imports and exports.
//
// Layout under config.data_dir: catalog.db, chunks/, tmp/ (scratch for
// format conversions; emptied on open).
//
// Tasks. ImportImage/ExportImage insert their records in one catalog
// transaction and queue the task id; `task_threads` workers run the queue.
// A task left Processing by a previous run (crash or Shutdown) is run again
// from the start when the region opens: ingest is idempotent (chunks are
// content-addressed), conversions and exports restart from scratch.
// Cancellation and shutdown both stop a task at its next chunk boundary (or
// kill its qemu-img); only cancellation changes its records.
//
// Deletion. DeleteImage removes the image record only. The snapshots an import
// made stay, as in ECS, and become deletable with DeleteSnapshot once no
// image uses them; a cancelled import removes its image and snapshots at once.
// Chunk data is never deleted inline: a background garbage collection runs
// after DeleteSnapshot, a cancelled or failed import, and DeleteImage.
//
// Garbage collection and pins. Every data chunk an ingest touches is pinned
// (ChunkPins) before it is stored and unpinned only after its manifest is
// committed (or the ingest is abandoned). GC holds gc_mu_ exclusively for its
// whole mark-and-sweep; manifest commit + unpin hold it shared. So a chunk is
// either referenced by a committed manifest or pinned whenever GC looks at it.
// Nodes sharing a catalog (RegionConfig::catalog_uri) pin in the catalog too,
// and each GC is a registered pass (chunk_pins.h, gc_with_nodes.md): every
// node collects garbage, none deletes what another is about to reference.
//
// Sharing (region_sharing.cc). Shares are catalog rows (image, recipient);
// listings and UsableImage read them, so RemoveAccount takes effect at the
// next request. Only the owner's requests change them, and an image that is
// shared cannot be deleted or deprecated until it is unshared.
//
// Copies (region_copy.cc). As a source, the region keeps copy leases in its
// catalog (source image -> copy region + copy image) that refuse a second
// copy and DeleteImage; a lease in the way is checked against its copy's
// region (CopyInProgress) and dropped when that copy has ended. As a
// destination, a copy is a CopyImage task row plus a job in its
// CopyScheduler (max_running_copies at once): PullSnapshot pins what it
// fetches, the commit (snapshots + image + task) is one transaction, and the
// source's lease is released after it. Shutdown stops running pulls without
// touching their records; the next open queues them again (image back to
// Waiting) and they take their lease again when they start.
//
// Threading: all public methods are thread-safe (see Region). Lock order:
// copy_mu_, then this region's catalog transaction. No lock is held while
// calling another region (CopyPeer), except copy_mu_ (CopyImage,
// DeleteImage): a peer never calls back into the region's copy_mu_ while
// serving such a call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "catalog/catalog.h"
#include "copy/copy_scheduler.h"
#include "region/chunk_pins.h"
#include "region/delayed_runner.h"
#include "region/disks/disk_store.h"
#include "objects/object_store.h"
#include "region/object_errors.h"
#include "region/quotas.h"
#include "region/region.h"
#include "store/chunk_store.h"
#include "store/ingest.h"
#include "store/manifest.h"

namespace ferry {

// The public image every region seeds (a small ext4 disk, "Ferry Linux").
inline constexpr const char* kPublicImageId = "ferrylinux_1_x64_1G_base_20261126.vhd";

// Test seams. Production code leaves them empty.
struct RegionHooks {
  // Called on an ingest thread after a data chunk has been pinned and before
  // it is stored; blocking here pauses that ingest.
  std::function<void(const std::string& task_id, const ChunkId& id)> after_chunk_pinned;
  // Replaces the real sleeps of copy retries (backoff before the source is
  // reachable, and the puller's own backoff).
  std::function<void(std::chrono::milliseconds)> copy_sleep;
  // Called by an import after disk `disk_index`'s object was opened and
  // inspected, before qemu-img or ingest reads it (tests swap the object
  // here to prove the import keeps reading the bytes it inspected).
  std::function<void(const std::string& task_id, size_t disk_index)> after_image_inspected;
  // Called by garbage collection after it read the manifests and listed the
  // store, before it deletes anything (tests commit another node's manifest
  // here).
  std::function<void()> gc_before_sweep;
};

class RegionImpl final : public Region {
 public:
  // A task the process died under this many times is quarantined: it ends
  // Failed instead of running again (BeginAttempt).
  static constexpr int kTaskQuarantineAttempts = 3;
  // The largest disk an image may have: 32768 GiB, the largest ECS disk
  // (DiskDeviceMapping.N.Size). Imports and copies beyond it are refused
  // (InvalidParameter) before anything is allocated for them.
  static constexpr uint64_t kMaxDiskBytes = uint64_t{32768} << 30;

  static Result<std::unique_ptr<RegionImpl>> Open(const RegionConfig& config, const Clock& clock,
                                                  RegionHooks hooks = {});
  ~RegionImpl() override;
  RegionImpl(const RegionImpl&) = delete;
  RegionImpl& operator=(const RegionImpl&) = delete;

  const RegionConfig& config() const override { return config_; }

  Result<ImportImageResult> ImportImage(const Caller& c, const ImportImageRequest& r) override;
  Result<Page<ImageRecord>> DescribeImages(const Caller& c, const DescribeImagesRequest& r) override;
  Status ModifyImageAttribute(const Caller& c, const ModifyImageAttributeRequest& r) override;
  Status DeleteImage(const Caller& c, const std::string& image_id, bool force) override;
  Result<std::string> CreateImage(const Caller& c, const CreateImageRequest& r) override;
  Result<Page<SnapshotRecord>> DescribeSnapshots(const Caller& c, const DescribeSnapshotsRequest& r) override;
  Status DeleteSnapshot(const Caller& c, const std::string& snapshot_id, bool force) override;
  Result<std::string> ExportImage(const Caller& c, const ExportImageRequest& r) override;
  Result<Page<TaskRecord>> DescribeTasks(const Caller& c, const DescribeTasksRequest& r) override;
  Result<TaskRecord> DescribeTaskAttribute(const Caller& c, const std::string& task_id) override;
  Status CancelTask(const Caller& c, const std::string& task_id) override;

  // Sharing: region_sharing.cc.
  Status ModifyImageSharePermission(const Caller& c, const ModifyImageSharePermissionRequest& r) override;
  Result<Page<ImageShareRecord>> DescribeImageSharePermission(
      const Caller& c, const DescribeImageSharePermissionRequest& r) override;
  Result<ImageRecord> UsableImage(const Caller& c, const std::string& image_id) override;

  Result<std::vector<uint8_t>> PeerReadManifest(const std::string& snapshot_id) override;
  Result<std::vector<uint8_t>> PeerReadChunk(const ChunkId& id) override;
  Result<std::vector<uint8_t>> PeerReadChunkStored(const ChunkId& id) override;
  Result<std::optional<ChunkObjectFile>> PeerOpenChunkStored(const ChunkId& id) override;

  // Copies across regions: region_copy.cc.
  Result<std::string> CopyImage(const Caller& c, const CopyImageRequest& r) override;
  Status CancelCopyImage(const Caller& c, const std::string& image_id) override;
  // CopyPeer.
  Result<std::string> AcceptCopy(const CopyTarget& t) override;
  Result<bool> CopyInProgress(const std::string& copy_image_id) override;
  Status AcquireCopyLease(const CopyLease& lease) override;
  Status ReleaseCopyLease(const CopyLease& lease) override;

  // Mark-and-sweep over all committed manifests; see the file comment.
  Status CollectGarbage(GcStats* stats) override;
  // Reads and verifies every chunk, decodes every manifest and checks that
  // each data chunk it names exists.
  Status Fsck(FsckReport* report) override;
  RegionMetrics& metrics() override { return metrics_; }
  void Shutdown() override;

  // Instances and disks: region_instances.cc, region_disks.cc.
  Result<std::vector<std::string>> RunInstances(const Caller& c, const RunInstancesRequest& r) override;
  Result<Page<InstanceRecord>> DescribeInstances(const Caller& c, const DescribeInstancesRequest& r) override;
  Status StartInstance(const Caller& c, const std::string& instance_id, bool dry_run) override;
  Status StopInstance(const Caller& c, const std::string& instance_id, bool dry_run) override;
  Status RebootInstance(const Caller& c, const std::string& instance_id, bool dry_run) override;
  Status DeleteInstance(const Caller& c, const std::string& instance_id, bool force, bool dry_run) override;
  Result<std::string> ReplaceSystemDisk(const Caller& c, const ReplaceSystemDiskRequest& r) override;
  Result<Page<DiskRecord>> DescribeDisks(const Caller& c, const DescribeDisksRequest& r) override;
  // Disk snapshots: region_disk_snapshots.cc.
  Result<std::string> CreateSnapshot(const Caller& c, const CreateSnapshotRequest& r) override;
  // Whether `c` may create instances from `image`: own, public and shared
  // images (region_sharing.cc). InvalidImageId.NotFound otherwise.
  Status CheckImageUsable(const Caller& c, const ImageRecord& image);
  Status MoveInstance(const Caller& c, const std::string& instance_id, bool dry_run, const char* from,
                      const char* via, const char* to);
  // Runs config_.instance_hook for `action` (start, stop, delete) with the
  // path of the instance's system disk (`system_disk_id`, or looked up when
  // empty); OK when there is no hook. Never inside a catalog transaction.
  Status RunInstanceHook(const std::string& instance_id, const std::string& action,
                         const std::string& system_disk_id = "");
  static constexpr std::chrono::seconds kInstanceHookDeadline{60};

  // For tools and tests.
  DiskStore& disk_store() { return *disks_; }
  ChunkStore& chunk_store() { return *store_; }
  Catalog& catalog() { return *catalog_; }
  const ChunkPins& pins() const { return pins_; }
  PartChunks* part_chunks() { return part_chunks_.get(); }  // null unless keep_parts_as_chunks

 private:
  struct TaskControl {
    std::atomic<bool> stop{false};    // cancel or shutdown: polled by ingest and qemu-img
    std::atomic<bool> cancel{false};  // the user asked (CancelTask)
    // What the run moved, for the line the log gets when it ends; written
    // by the run's own thread only.
    uint64_t data_bytes = 0;
    uint64_t chunks = 0;
  };
  // The operator's log of a long job (import, export, copy): one info line
  // when it starts, one when it ends with what it moved, how long it took
  // and at what rate (region_tasks.cc).
  void LogJobStart(const std::string& kind, const TaskRecord& task, const std::string& detail) const;
  void LogJobEnd(const std::string& kind, const TaskRecord& task, const Status& st, bool stopped,
                 std::chrono::steady_clock::duration took, uint64_t data_bytes, uint64_t chunks,
                 const std::string& extra) const;

  RegionImpl(const RegionConfig& config, const Clock& clock, RegionHooks hooks,
             std::unique_ptr<Catalog> catalog, std::unique_ptr<ChunkStore> store);

  void StartThreads();
  // Resumes every Processing task this node may claim (catalog.h
  // ClaimTask): its own, and those no live node holds.
  Status ResumeTasks();
  // Queues `task` here: an import, export or snapshot for a worker (which
  // claims it), a copy claimed now and handed to the copy scheduler.
  Status ResumeTask(const TaskRecord& task);
  // Renews this node's task leases every third of a lease, and takes over
  // the Processing tasks no node holds any more (their node died).
  void LeaseLoop();
  // This node's own task: in the worker queue, running, or in the copy
  // scheduler (the lease loop leaves it alone).
  bool QueuedOrRunningHere(const TaskRecord& task);
  Result<bool> ClaimTask(const std::string& task_id);
  void Enqueue(const std::string& task_id);
  void RequestGc();
  void WorkerLoop();
  void GcLoop();
  // CollectGarbage's mark and sweep, inside `pass`.
  Status Sweep(const ChunkPins::Pass& pass, GcStats* stats);
  bool stopping();

  void RunTask(const std::string& task_id, TaskControl& control);
  // Counts a run of the task durably before it starts; refuses (kInternal,
  // "... quarantined") a task the process already died under
  // kTaskQuarantineAttempts times. EndAttempt gives the count back when a
  // shutdown, not a crash, stops the run.
  Status BeginAttempt(const std::string& task_id);
  void EndAttempt(const std::string& task_id);
  Status RunImport(const TaskRecord& task, TaskControl& control);
  // The manifest of `disk` made from its object's parts, when they are
  // chunks of this store on chunk boundaries and the disk is raw (nullopt
  // otherwise: the import reads the object). The chunks are in the scope of
  // the bucket's owner, the account importing.
  Result<std::optional<Manifest>> ManifestFromParts(const TaskRecord& task, const DiskMapping& disk,
                                                    PinLease& lease, std::string* content);
  Status RunExport(const TaskRecord& task, TaskControl& control);
  // Puts the export file at `path` into the bucket as `object`.
  Status PublishExport(const TaskRecord& task, const std::string& bucket, const std::string& object,
                       const std::string& path, const std::optional<KnownFileDigests>& known,
                       TaskControl& control);
  // Disk snapshots (region_disk_snapshots.cc). CreateImage from an
  // instance; the CreateSnapshot and CreateImage tasks, which snapshot the
  // disks their params name and commit the manifests in one transaction.
  Result<std::string> CreateImageFromInstance(const Caller& c, const CreateImageRequest& r);
  // Inside a catalog transaction (region_create_image.cc): the disks of an
  // image made of the caller's snapshots, checked as ECS does, the system
  // disk first.
  Result<std::vector<DiskMapping>> ImageDisksFromSnapshots(const Caller& c,
                                                           const std::vector<ImageDiskRequest>& mappings);
  Status RunDiskSnapshots(const TaskRecord& task, TaskControl& control);
  // Inside a catalog transaction, for a task that ends without finishing:
  // what its records become when it is cancelled (an import's or
  // CreateImage's image and snapshots, a CreateSnapshot's snapshot, are
  // removed) or fails (image CreateFailed, snapshots failed).
  Status DropTaskOutputs(const TaskRecord& task);
  Status FailTaskOutputs(const TaskRecord& task, const std::string& reason);
  // Inside a catalog transaction: the disk ids made from `snapshot_id`.
  Result<std::vector<std::string>> DisksFromSnapshot(const std::string& snapshot_id);
  // Tells a queued or running task that it was cancelled (its record
  // already says cancel_requested): it stops at its next chunk.
  void SignalCancel(const std::string& task_id);
  void FinishCancelled(const TaskRecord& task);
  void FinishFailed(const TaskRecord& task, const Status& why);
  // `why` as a task's or image's failure is shown to API callers: host paths
  // reduced to the bucket-relative or region-relative part. Every failure
  // recorded for callers (imports, exports, copies) goes through it.
  Status ShownFailure(const Status& why) const;
  // Throttled (about once a second) progress write for a running task.
  void ReportProgress(const std::string& task_id, int percent);

  // The dedup scope of `account_id`'s imports under config_.dedup_scope:
  // the account's scope, or none (unscoped ids) for region-wide dedup.
  std::optional<ChunkScope> ScopeFor(const std::string& account_id) const;
  // The manifest of the snapshot disk `disk_id` was made from, if its chunk
  // ids are in `scope` (region_disk_snapshots.cc).
  std::optional<Manifest> BaseManifestOf(const std::string& disk_id, const std::optional<ChunkScope>& scope);
  // Ingests a raw image read through `raw_fd` (named `label` in messages)
  // with chunk ids in `scope`, pinning every data chunk in `lease`.
  Result<Manifest> Ingest(const std::string& task_id, const std::optional<ChunkScope>& scope, int raw_fd,
                          const std::string& label,
                          const std::atomic<bool>* stop, PinLease& lease,
                          std::function<void(uint64_t, uint64_t)> progress);
  Status SeedPublicImage();

  // Copies (region_copy.cc). A copy is a CopyImage task row plus a job in
  // copies_; SubmitCopy queues the job for a Processing copy task.
  // `sent`: the snapshots' manifests when the source sent them (one per
  // disk), else empty.
  Status SubmitCopy(const TaskRecord& task, bool resumed, std::vector<Manifest> sent = {});
  Status RunCopy(const TaskRecord& task, bool resumed, const std::vector<Manifest>& sent,
                 const std::atomic<bool>& cancel);
  std::vector<Manifest> SentManifests(const CopyTarget& t) const;
  void StartCopy(const std::string& image_id);
  void FinishCopy(const TaskRecord& task, const Status& st);
  void FinishCopyFailed(const TaskRecord& task, const Status& why);
  // Inside a catalog transaction: the image (if it still exists) becomes
  // CreateFailed with `reason`, and its snapshots failed.
  Status MarkImageCreateFailed(const std::string& image_id, const std::string& reason);
  // Inside a catalog transaction, the success twin of MarkImageCreateFailed
  // for imports and copies: each disk's snapshot takes its manifest
  // (accomplished), the image becomes Available and `task` Finished.
  // `on_disk(i, snapshot, disk)` adds what only the caller knows.
  Status CommitImageManifests(ImageRecord& image, const std::vector<Manifest>& manifests, TaskRecord& task,
                              UnixSeconds now,
                              const std::function<void(size_t, SnapshotRecord&, DiskMapping&)>& on_disk);
  // Releases the lease the copy `image_id` holds on its source region
  // (best effort: a lost release is dropped later as stale).
  void ReleaseSourceLease(const std::string& source_region_id, const std::string& source_image_id,
                          const std::string& image_id);
  void CopySleep(std::chrono::milliseconds d, const std::atomic<bool>& cancel);
  // With copy_mu_ held. Drops the lease on `source_image_id` if its copy's
  // region says the copy is no longer in progress.
  void ClearStaleLeaseLocked(const std::string& source_image_id);
  Status AcquireLeaseLocked(const CopyLease& lease);
  // With copy_mu_ held: whether an image of this region is the source of a
  // copy that may still need it.
  Result<bool> SourceOfLiveCopyLocked(const std::string& image_id);
  // Fills the in-memory copy fields (queue position, ETA) of listed images.
  void FillCopyProgress(std::vector<ImageRecord>& images);

  // Sharing (region_sharing.cc). For a request that changes or reads out
  // `image`: OK for its owner; Forbidden for an account it is shared with;
  // InvalidImageId.NotFound for anyone else (public images included), as if
  // it did not exist. CheckCopySource is the same for CopyImage, whose
  // recipients are told OperationDenied.SameRegionOnly.
  Status CheckOwner(const Caller& c, const ImageRecord& image);
  Status CheckCopySource(const Caller& c, const ImageRecord& image);
  Result<bool> HasShares(const std::string& image_id);
  // What only an owner sees, blanked in the records of others' images and
  // snapshots that `c` gets: an image's import bucket and object; a
  // snapshot's name, description, tags, KMS key, source disk and source
  // snapshot and region.
  void HideOwnerPrivate(const Caller& c, std::vector<ImageRecord>& images);
  void HideOwnerPrivate(const Caller& c, std::vector<SnapshotRecord>& snapshots);
  // Those of `wanted` that are snapshots of images shared with `c`.
  Result<std::vector<std::string>> SharedSnapshotIds(const Caller& c, const std::vector<std::string>& wanted);

  // Whether `name` is used by another image of `account_id`.
  Result<bool> NameTaken(const std::string& account_id, const std::string& name,
                         const std::string& except_id);
  Result<bool> HasProcessingTask(const std::string& image_id, const std::string& action);

  const RegionConfig config_;
  const Clock& clock_;
  const RegionHooks hooks_;
  ObjectStore& oss_;
  const std::string tmp_dir_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<ChunkStore> store_;
  RegionMetrics metrics_;
  ChunkPins pins_;
  std::shared_ptr<PartChunks> part_chunks_;  // given to oss_ (keep_parts_as_chunks), taken back at the end

  // Exclusive: garbage collection. Shared: manifest commit + unpin, fsck.
  std::shared_mutex gc_mu_;

  std::mutex progress_mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_progress_;  // guarded by progress_mu_

  std::mutex mu_;
  std::condition_variable cv_;                                    // queue_, gc_requested_, stopping_
  std::deque<std::string> queue_;                                 // guarded by mu_
  std::map<std::string, std::shared_ptr<TaskControl>> controls_;  // queued or running; guarded by mu_
  bool stopping_ = false;                                         // guarded by mu_
  bool gc_requested_ = false;                                     // guarded by mu_
  bool joined_ = false;                                           // guarded by join_mu_
  std::mutex join_mu_;
  std::vector<std::thread> workers_;
  std::thread gc_thread_;
  std::thread lease_thread_;
  std::string node_id_;  // set at open (RegionConfig::node_id)

  // Copies. copy_mu_ serialises CopyImage, lease and DeleteImage calls on
  // this (source) region so a ClientToken and a lease are checked and taken
  // atomically, and a lease is never judged stale between being taken and
  // its copy being accepted.
  std::mutex copy_mu_;
  struct CopyLive {
    int percent = 0;       // fresher than the catalog's (written at most once a second)
    int64_t eta_seconds = 0;
    uint64_t wire_bytes = 0;  // received so far, every disk of the copy
    uint64_t data_bytes = 0;  // data present so far, every disk of the copy
    uint64_t chunks_fetched = 0;
  };
  std::map<std::string, CopyLive> copy_live_;  // by copy image id; guarded by progress_mu_
  std::unique_ptr<CopyScheduler> copies_;      // this region's queue as a destination
  // Bytes of sent manifests that queued and running copies keep
  // (RegionConfig::max_queued_manifest_bytes).
  std::atomic<uint64_t> queued_manifest_bytes_{0};

  // Quotas and staging objects (region_quotas.cc).
  // Releases the staging objects an ended ImportImage task claimed.
  void ReleaseStagingOf(const std::string& task_id);
  // At open: releases claims whose task ended while the process was down.
  void ReleaseEndedStaging();
  // Allocated bytes of the objects an import reads (the estimate of the
  // data its snapshots will add).
  Result<uint64_t> ImportSourceBytes(const Caller& c, const std::vector<ImportDisk>& disks);
  // Logical data bytes of an image's snapshots (0 for a snapshot not found).
  uint64_t ImageDataBytes(const ImageRecord& image);
  // About the logical data bytes a snapshot of `disk` will hold: the data of
  // the snapshot it was made from (its base) plus what the guest wrote (the
  // overlay's allocated bytes).
  uint64_t DiskDataBytes(const DiskRecord& disk);
  // The stored-bytes quota for snapshots of `disks` (CreateSnapshot,
  // CreateImage from an instance), as ImportImage checks it for its objects:
  // before the catalog transaction (quotas.h), QuotaExceed.Storage.
  Status CheckDiskSnapshotQuota(const Caller& c, const std::vector<DiskRecord>& disks);
  QuotaMeter quota_meter_{*catalog_};

  // Instances and disks (region_instances.cc, region_disks.cc). Instance
  // state transitions (Pending's disk creation, Starting -> Running, ...)
  // run on instance_runner_ after config_.instance_transition_ms.
  // Records are written before files: a disk record (Creating) exists
  // before its overlay, and is deleted before its overlay, so after a crash
  // an overlay the catalog does not know is an orphan, removed at open.
  Status ResumeInstances();
  void CreateInstanceDisks(const std::vector<std::string>& instance_ids, bool start);
  void FinishTransition(const std::string& instance_id, const std::string& from, const std::string& to);
  void PostTransition(const std::string& instance_id, const std::string& from, const std::string& to);
  // Creates the overlay of `disk` (a record already in the catalog).
  Status CreateDiskFile(const DiskRecord& disk);
  // Removes the base files no disk record needs. One a reader holds (a disk
  // snapshot, `ferry disk export`) is tried again: at once when a disk
  // snapshot ends (BasesMayBeFree), else on instance_runner_ after a delay
  // that doubles (kBaseRetryFirst .. kBaseRetryMax) while it stays busy.
  Status RemoveUnusedBases();
  void RetryBasesLater();
  void BasesMayBeFree();
  static constexpr std::chrono::milliseconds kBaseRetryFirst{250};
  static constexpr std::chrono::milliseconds kBaseRetryMax{30000};
  std::mutex base_retry_mu_;
  bool base_retry_pending_ = false;                // guarded by base_retry_mu_
  std::chrono::milliseconds base_retry_delay_{0};  // guarded by base_retry_mu_
  // Fsck of the disks and base files against the catalog.
  Status FsckDisks(FsckReport* report);
  std::unique_ptr<DiskStore> disks_;
  std::unique_ptr<DelayedRunner> instance_runner_;
  uint64_t usage_source_id_ = 0;  // this region's snapshot bytes in oss_'s usage
};

}  // namespace ferry
