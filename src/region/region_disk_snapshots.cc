// RegionImpl: snapshots of disks — CreateSnapshot, CreateImage from an
// instance — and the task that takes them.
//
// Both requests write their records first, in one transaction: the
// snapshots `progressing` (SourceDiskId/Type/Size from the disk), for
// CreateImage also the image `Creating` whose disk mappings name them, and
// a task (action CreateSnapshot or CreateImage) whose params list the disks
// in snapshot order. The task (RunDiskSnapshots) reads each disk's current
// view through DiskStore::SnapshotDisk into the chunk store — the base's
// chunks are already there in the account's scope, so only the chunks the
// guest changed are new — and commits every manifest, the snapshots
// `accomplished`, the image `Available` and the task `Finished` in one
// transaction. A restart runs the task again from the start; a failure
// leaves the image CreateFailed and the snapshots failed.
//
// An image made from an instance carries the instance's disks and nothing
// else: UserData and RamRoleName stay on the instance.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/hash.h"
#include "common/ids.h"
#include "region/names.h"
#include "region/region_impl.h"
#include "region/region_internal.h"
#include "store/manifest.h"

namespace ferry {
namespace {

constexpr auto kTaskParamDisks = "DiskIds";

int Percent(double fraction) { return std::clamp(static_cast<int>(fraction * 100.0), 0, 99); }

Status DiskNotFound(const std::string& disk_id) {
  return NotFound("InvalidDiskId.NotFound", "The specified disk \"" + Echo(disk_id) + "\" does not exist.");
}

Status InstanceNotFoundForImage(const std::string& instance_id) {
  return NotFound("InvalidInstanceId.NotFound",
                  "The specified InstanceId \"" + Echo(instance_id) + "\" does not exist.");
}

// SnapshotName: 2-128 characters, starting with a letter; letters, digits
// and : _ - . only; not starting with "auto" (ECS keeps those for automatic
// snapshots) nor http:// or https://.
Status ValidateSnapshotName(const std::string& name) {
  auto malformed = [&](const std::string& why) {
    return InvalidArgument("InvalidSnapshotName.Malformed",
                           "The specified SnapshotName \"" + Echo(name) + "\" is not valid: " + why + ".");
  };
  if (name.size() < 2 || name.size() > 128) return malformed("it must be 2 to 128 characters");
  if (!std::isalpha(static_cast<unsigned char>(name[0]))) return malformed("it must start with a letter");
  const std::string lower = [&] {
    std::string l = name;
    for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return l;
  }();
  if (lower.rfind("auto", 0) == 0) return malformed("it must not start with \"auto\"");
  if (lower.rfind("http://", 0) == 0 || lower.rfind("https://", 0) == 0)
    return malformed("it must not start with http:// or https://");
  for (char ch : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(ch)) || ch == ':' || ch == '_' || ch == '-' || ch == '.';
    if (!ok) return malformed(std::string("it contains '") + ch + "'; use letters, digits, : _ - .");
  }
  return Status::Ok();
}

// The instance a snapshot or an image may be taken of: Running or Stopped.
Status CheckSnapshotInstance(const InstanceRecord& inst) {
  if (inst.status == "Running" || inst.status == "Stopped") return Status::Ok();
  return FailedPrecondition("IncorrectInstanceStatus",
                            "The current status of the instance does not support this operation: instance " +
                                inst.instance_id + " is " + inst.status + ", snapshots need Running or Stopped.");
}

// A disk a snapshot may be taken of: created, and no snapshot of it in
// progress.
Status CheckSnapshotDisk(Catalog& catalog, const DiskRecord& disk) {
  if (disk.status == "Creating") {
    return PermissionDenied("IncorrectDiskStatus", "The current disk status does not support this operation: disk " +
                                                       disk.disk_id + " is still being created.");
  }
  SnapshotQuery q;
  q.source_disk_id = disk.disk_id;
  q.status = "progressing";
  q.limit = 1;
  ASSIGN_OR_RETURN(Page<SnapshotRecord> running, catalog.ListSnapshots(q));
  if (!running.items.empty()) {
    return PermissionDenied("IncorrectDiskStatus.CreatingSnapshot",
                            "A previous snapshot creation is in progress: snapshot " +
                                running.items[0].snapshot_id + " of disk " + disk.disk_id + ".");
  }
  return Status::Ok();
}

SnapshotRecord SnapshotOfDisk(const DiskRecord& disk, const std::string& usage, UnixSeconds now) {
  SnapshotRecord s;
  s.snapshot_id = NewResourceId("s");
  s.account_id = disk.account_id;
  s.status = "progressing";
  s.source_disk_id = disk.disk_id;
  s.source_disk_size_gib = disk.size_gib;
  s.source_disk_type = disk.type;
  s.usage = usage;
  s.creation_time = now;
  s.last_modified_time = now;
  return s;
}

TaskRecord SnapshotTask(const std::string& account_id, const std::string& action, const std::string& resource_id,
                        const std::vector<std::string>& disk_ids, UnixSeconds now) {
  TaskRecord t;
  t.task_id = NewResourceId("t");
  t.account_id = account_id;
  t.action = action;
  t.status = "Processing";
  t.resource_id = resource_id;
  t.params = nlohmann::json{{kTaskParamDisks, disk_ids}}.dump();
  t.creation_time = now;
  return t;
}

}  // namespace

Result<std::string> Region::CreateSnapshot(const Caller&, const CreateSnapshotRequest& r) {
  return DiskNotFound(r.disk_id);
}

// ------------------------------------------------------------ CreateSnapshot

Result<std::string> RegionImpl::CreateSnapshot(const Caller& c, const CreateSnapshotRequest& r) {
  if (r.disk_id.empty()) return MissingParameter("DiskId");
  if (!r.snapshot_name.empty()) RETURN_IF_ERROR(ValidateSnapshotName(r.snapshot_name));
  RETURN_IF_ERROR(ValidateDescription(r.description));
  RETURN_IF_ERROR(ValidateTags(r.tags));
  const std::string fingerprint = Fingerprint({{"DiskId", r.disk_id},
                                               {"SnapshotName", r.snapshot_name},
                                               {"Description", r.description},
                                               {"Tags", TagsJson(r.tags)}});
  // The snapshot will store about the disk's data again. Measured before the
  // transaction (quotas.h), for the caller's own disk only (the transaction
  // answers for any other), and not for a replay of a ClientToken.
  ASSIGN_OR_RETURN(std::optional<std::string> replay,
                   CheckClientToken(*catalog_, c.account_id, "CreateSnapshot", r.client_token, fingerprint));
  if (!replay) {
    if (Result<DiskRecord> disk = catalog_->GetDisk(r.disk_id);
        disk.ok() && disk->account_id == c.account_id) {
      RETURN_IF_ERROR(CheckDiskSnapshotQuota(c, {*disk}));
    }
  }
  std::string snapshot_id;
  std::string task_id;
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(std::optional<std::string> previous,
                     CheckClientToken(*catalog_, c.account_id, "CreateSnapshot", r.client_token, fingerprint));
    if (previous) {
      snapshot_id = *previous;
      return Status::Ok();
    }
    Result<DiskRecord> disk = catalog_->GetDisk(r.disk_id);
    if (!disk.ok()) return disk.status().code() == Code::kNotFound ? DiskNotFound(r.disk_id) : disk.status();
    if (disk->account_id != c.account_id) return DiskNotFound(r.disk_id);
    if (disk->instance_id.empty()) {
      return PermissionDenied("IncorrectDiskStatus.NeverAttached",
                              "The specified disk " + r.disk_id + " has never been attached to any instance.");
    }
    ASSIGN_OR_RETURN(InstanceRecord inst, catalog_->GetInstance(disk->instance_id));
    RETURN_IF_ERROR(CheckSnapshotInstance(inst));
    RETURN_IF_ERROR(CheckSnapshotDisk(*catalog_, *disk));
    RETURN_IF_ERROR(
        CheckCountQuotas(*catalog_, config_.quotas, c.account_id, QuotaUsage{0, 1, 1, 0}, "CreateSnapshot"));
    const UnixSeconds now = clock_.Now();
    SnapshotRecord snap = SnapshotOfDisk(*disk, "none", now);
    snap.name = r.snapshot_name;
    snap.description = r.description;
    snap.tags = r.tags;
    TaskRecord task = SnapshotTask(c.account_id, "CreateSnapshot", snap.snapshot_id, {disk->disk_id}, now);
    RETURN_IF_ERROR(catalog_->InsertSnapshot(snap));
    RETURN_IF_ERROR(catalog_->InsertTask(task));
    if (!r.client_token.empty()) {
      RETURN_IF_ERROR(catalog_->PutClientToken(c.account_id, "CreateSnapshot", r.client_token,
                                               {fingerprint, snap.snapshot_id}));
    }
    snapshot_id = snap.snapshot_id;
    task_id = task.task_id;
    return Status::Ok();
  }));
  if (!task_id.empty()) Enqueue(task_id);
  return snapshot_id;
}

// ------------------------------------------------- CreateImage from instance

Result<std::string> RegionImpl::CreateImageFromInstance(const Caller& c, const CreateImageRequest& r) {
  RETURN_IF_ERROR(ValidateNewImageAttributes(r));
  const std::string fingerprint = CreateImageFingerprint("InstanceId", r.instance_id, r);
  // The snapshots of the instance's disks, as CreateSnapshot measures one.
  ASSIGN_OR_RETURN(std::optional<std::string> replay,
                   CheckClientToken(*catalog_, c.account_id, "CreateImage", r.client_token, fingerprint));
  if (!replay) {
    if (Result<InstanceRecord> inst = catalog_->GetInstance(r.instance_id);
        inst.ok() && inst->account_id == c.account_id) {
      DiskQuery dq;
      dq.instance_id = inst->instance_id;
      ASSIGN_OR_RETURN(Page<DiskRecord> disks, catalog_->ListDisks(dq));
      RETURN_IF_ERROR(CheckDiskSnapshotQuota(c, disks.items));
    }
  }
  std::string image_id;
  std::string task_id;
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(std::optional<std::string> previous,
                     CheckClientToken(*catalog_, c.account_id, "CreateImage", r.client_token, fingerprint));
    if (previous) {
      image_id = *previous;
      return Status::Ok();
    }
    Result<InstanceRecord> inst = catalog_->GetInstance(r.instance_id);
    if (!inst.ok()) {
      return inst.status().code() == Code::kNotFound ? InstanceNotFoundForImage(r.instance_id) : inst.status();
    }
    if (inst->account_id != c.account_id) return InstanceNotFoundForImage(r.instance_id);
    RETURN_IF_ERROR(CheckSnapshotInstance(*inst));
    DiskQuery dq;
    dq.instance_id = inst->instance_id;
    ASSIGN_OR_RETURN(Page<DiskRecord> disks, catalog_->ListDisks(dq));
    // The system disk first, then the data disks by device.
    std::sort(disks.items.begin(), disks.items.end(), [](const DiskRecord& a, const DiskRecord& b) {
      if ((a.type == "system") != (b.type == "system")) return a.type == "system";
      return a.device < b.device;
    });
    if (disks.items.empty() || disks.items[0].type != "system") {
      return FailedPrecondition("IncorrectInstanceStatus", "The current status of the instance does not support "
                                                           "this operation: instance " +
                                                               inst->instance_id + " has no system disk.");
    }
    for (const DiskRecord& d : disks.items) RETURN_IF_ERROR(CheckSnapshotDisk(*catalog_, d));
    ASSIGN_OR_RETURN(bool taken, NameTaken(c.account_id, r.image_name, ""));
    if (taken) {
      return AlreadyExists("InvalidImageName.Duplicated",
                           "The image name \"" + Echo(r.image_name) + "\" is already in use.");
    }
    RETURN_IF_ERROR(CheckCountQuotas(*catalog_, config_.quotas, c.account_id,
                                     QuotaUsage{1, disks.items.size(), 1, 0}, "CreateImage"));
    const UnixSeconds now = clock_.Now();
    // What the caller leaves out comes from the image the instance was made
    // from, when it is still there.
    Result<ImageRecord> source = catalog_->GetImage(inst->image_id);
    ImageRecord image = NewImageRecord(c.account_id, r, source.ok() ? &*source : nullptr, now);
    image.image_id = NewResourceId("m");
    image.status = "Creating";
    image.progress = 0;
    image.size_gib = disks.items[0].size_gib;
    std::vector<std::string> disk_ids;
    for (const DiskRecord& d : disks.items) {
      SnapshotRecord snap = SnapshotOfDisk(d, "image", now);
      RETURN_IF_ERROR(catalog_->InsertSnapshot(snap));
      DiskMapping m;
      m.snapshot_id = snap.snapshot_id;
      m.size_gib = d.size_gib;
      m.device = d.device;
      m.type = d.type;
      image.disks.push_back(m);
      disk_ids.push_back(d.disk_id);
    }
    TaskRecord task = SnapshotTask(c.account_id, "CreateImage", image.image_id, disk_ids, now);
    RETURN_IF_ERROR(catalog_->InsertImage(image));
    RETURN_IF_ERROR(catalog_->InsertTask(task));
    if (!r.client_token.empty()) {
      RETURN_IF_ERROR(
          catalog_->PutClientToken(c.account_id, "CreateImage", r.client_token, {fingerprint, image.image_id}));
    }
    image_id = image.image_id;
    task_id = task.task_id;
    return Status::Ok();
  }));
  if (!task_id.empty()) Enqueue(task_id);
  return image_id;
}

// ---------------------------------------------------------------- the task

// The manifest a disk's base file was made from — its source snapshot's —
// when that snapshot still exists and its chunk ids are in `scope`, so that
// SnapshotDisk reads only what the guest changed. Otherwise nullopt: the
// snapshot reads the whole disk (an image shared from another account, or
// deleted since).
std::optional<Manifest> RegionImpl::BaseManifestOf(const std::string& disk_id,
                                                   const std::optional<ChunkScope>& scope) {
  Result<DiskRecord> disk = catalog_->GetDisk(disk_id);
  if (!disk.ok() || disk->source_snapshot_id.empty()) return std::nullopt;
  Result<SnapshotRecord> snap = catalog_->GetSnapshot(disk->source_snapshot_id);
  if (!snap.ok() || snap->manifest.empty() || ScopeFor(snap->account_id) != scope) return std::nullopt;
  Result<Manifest> m = DecodeManifest(snap->manifest);
  if (!m.ok()) return std::nullopt;
  return std::move(m).value();
}

Status RegionImpl::RunDiskSnapshots(const TaskRecord& task, TaskControl& control) {
  std::vector<std::string> disk_ids;
  try {
    disk_ids = nlohmann::json::parse(task.params).at(kTaskParamDisks).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    return Internal("task " + task.task_id + " has unreadable parameters: " + e.what());
  }
  if (disk_ids.empty()) return Internal("task " + task.task_id + " names no disks");
  // Reading a disk holds its base busy: one freed meanwhile goes once done.
  struct SweepBasesAtEnd {
    RegionImpl* region;
    ~SweepBasesAtEnd() { region->BasesMayBeFree(); }
  } sweep{this};
  const size_t n = disk_ids.size();
  std::vector<Manifest> manifests;
  PinLease lease(pins_);
  for (size_t i = 0; i < n; ++i) {
    IngestOptions opts;
    opts.chunk_size = config_.chunk_size;
    opts.threads = std::max(1u, config_.ingest_threads);
    opts.cancel = &control.stop;
    // The account's scope, as its imports: the base's chunks are found.
    opts.scope = ScopeFor(task.account_id);
    opts.progress = [this, &task, i, n](uint64_t done, uint64_t total) {
      double part = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
      ReportProgress(task.task_id, Percent((static_cast<double>(i) + part) / static_cast<double>(n)));
    };
    opts.pin = [this, &lease, &task](const ChunkId& id) -> Status {
      RETURN_IF_ERROR(lease.Pin(id));
      if (hooks_.after_chunk_pinned) hooks_.after_chunk_pinned(task.task_id, id);
      return Status::Ok();
    };
    IngestStats stats;
    const std::optional<Manifest> base = BaseManifestOf(disk_ids[i], opts.scope);
    Result<Manifest> m = disks_->SnapshotDisk(disk_ids[i], *store_, opts, &stats, base ? &*base : nullptr);
    metrics_.bytes_imported += stats.bytes_read;
    metrics_.chunks_stored += stats.chunks_stored;
    metrics_.chunks_deduped += stats.chunks_deduped;
    if (!m.ok()) {
      if (m.status().code() == Code::kNotFound) return DiskNotFound(disk_ids[i]);
      return m.status().WithContext("snapshot of disk " + disk_ids[i]);
    }
    manifests.push_back(std::move(m).value());
  }
  if (control.stop) return Cancelled("task " + task.task_id + " stopped before commit");
  RETURN_IF_ERROR(store_->Sync());

  const UnixSeconds now = clock_.Now();
  std::shared_lock<std::shared_mutex> gc_lock(gc_mu_);
  Status st = catalog_->Transact([&]() -> Status {
    RETURN_IF_ERROR(lease.CheckHeld());
    ASSIGN_OR_RETURN(TaskRecord current, catalog_->GetTask(task.task_id));
    if (current.cancel_requested) return Cancelled("task " + task.task_id + " was cancelled");
    if (current.status != "Processing") return Cancelled("task " + task.task_id + " is " + current.status);
    if (task.action == "CreateImage") {
      ASSIGN_OR_RETURN(ImageRecord image, catalog_->GetImage(task.resource_id));
      return CommitImageManifests(image, manifests, current, now, nullptr);
    }
    Result<SnapshotRecord> snap = catalog_->GetSnapshot(task.resource_id);
    if (!snap.ok()) {
      // DeleteSnapshot of a snapshot being created cancels the creation.
      if (snap.status().code() == Code::kNotFound)
        return Cancelled("snapshot " + task.resource_id + " was deleted");
      return snap.status();
    }
    snap->manifest = EncodeManifest(manifests[0]);
    snap->content_digest = ToHex(manifests[0].ContentDigest());
    snap->logical_size = manifests[0].logical_size;
    snap->status = "accomplished";
    snap->progress = 100;
    snap->last_modified_time = now;
    RETURN_IF_ERROR(catalog_->UpdateSnapshot(*snap));
    current.status = "Finished";
    current.progress = 100;
    current.finished_time = now;
    return catalog_->UpdateTask(current);
  });
  lease.Release();
  return st;
}

// -------------------------------------------------------- ends of tasks

Status RegionImpl::DropTaskOutputs(const TaskRecord& t) {
  if (t.action == "CreateSnapshot") return catalog_->DeleteSnapshot(t.resource_id);
  if (t.action != "ImportImage" && t.action != "CreateImage") return Status::Ok();
  Result<ImageRecord> image = catalog_->GetImage(t.resource_id);
  if (!image.ok()) return image.status().code() == Code::kNotFound ? Status::Ok() : image.status();
  for (const DiskMapping& d : image->disks) RETURN_IF_ERROR(catalog_->DeleteSnapshot(d.snapshot_id));
  return catalog_->DeleteImage(t.resource_id);
}

Status RegionImpl::FailTaskOutputs(const TaskRecord& t, const std::string& reason) {
  if (t.action == "ImportImage" || t.action == "CreateImage") return MarkImageCreateFailed(t.resource_id, reason);
  if (t.action != "CreateSnapshot") return Status::Ok();
  Result<SnapshotRecord> snap = catalog_->GetSnapshot(t.resource_id);
  if (!snap.ok()) return snap.status().code() == Code::kNotFound ? Status::Ok() : snap.status();
  snap->status = "failed";
  snap->last_modified_time = clock_.Now();
  return catalog_->UpdateSnapshot(*snap);
}

Result<std::vector<std::string>> RegionImpl::DisksFromSnapshot(const std::string& snapshot_id) {
  ASSIGN_OR_RETURN(Page<DiskRecord> all, catalog_->ListDisks(DiskQuery{}));
  std::vector<std::string> out;
  for (const DiskRecord& d : all.items)
    if (d.source_snapshot_id == snapshot_id) out.push_back(d.disk_id);
  return out;
}

}  // namespace ferry
