// RegionImpl: copies across regions served by this process
// (docs/design/copy.md). The source region checks the ECS rules and takes a
// copy lease on its image; the destination region records the copy (image
// Waiting, snapshots progressing, a CopyImage task row so a restart resumes
// it) and pulls the data through its CopyScheduler.
//
// Same-region copies are refused with IncorrectDestinationRegion: ECS
// documents that code for "the source region is the same as the destination
// region", and a copy in the same region would only duplicate records (the
// chunks are shared anyway); CreateImage from the snapshot does that.
//
// Leases live in memory on the source. A process restart drops them; a
// resumed copy takes its lease again when its job starts, so a source image
// is protected from deletion again as soon as the copy runs.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "common/hash.h"
#include "common/ids.h"
#include "copy/puller.h"
#include "region/names.h"
#include "region/region_impl.h"
#include "region/region_internal.h"

namespace ferry {
namespace {

constexpr const char* kCopyAction = "CopyImage";
// A ClientToken's copy before the destination has confirmed it: the image id
// sent in the AcceptCopy whose answer may have been lost. A repeat sends the
// same id again, which the destination makes at most once.
constexpr const char* kCopyAttemptAction = "CopyImage.Attempt";
// How long a copy waits for its source to become reachable before failing.
constexpr auto kSourceRetryFor = std::chrono::minutes(30);

// The bytes decoded manifests take in memory.
uint64_t ManifestMemory(const std::vector<Manifest>& manifests) {
  uint64_t bytes = 0;
  for (const Manifest& m : manifests) bytes += sizeof(Manifest) + m.entries.capacity() * sizeof(ChunkEntry);
  return bytes;
}

// Sent manifests held by a copy job, counted in the region's total
// (RegionConfig::max_queued_manifest_bytes) while they live.
class QueuedManifests {
 public:
  QueuedManifests(std::vector<Manifest> manifests, uint64_t bytes, std::atomic<uint64_t>& total)
      : manifests_(std::move(manifests)), bytes_(bytes), total_(total) {}
  QueuedManifests(const QueuedManifests&) = delete;
  QueuedManifests& operator=(const QueuedManifests&) = delete;
  ~QueuedManifests() { total_.fetch_sub(bytes_); }
  const std::vector<Manifest>& manifests() const { return manifests_; }

 private:
  const std::vector<Manifest> manifests_;
  const uint64_t bytes_;
  std::atomic<uint64_t>& total_;
};

Status DuplicatedName(const std::string& name) {
  return AlreadyExists("InvalidImageName.Duplicated",
                       "The specified image name \"" + Echo(name) +
                           "\" is already in use in the target region. Please try a different one.");
}

Status CopyConflict(const std::string& image_id, const std::string& copy_image_id) {
  return InvalidArgument("OperationDenied.ImageCopyConflict",
                         "The same image cannot be copied concurrently. Please wait until the last copy "
                         "of image " +
                             image_id + " (" + copy_image_id + ") is completed before performing the next "
                             "operation.");
}

struct CopyParams {
  std::string source_region_id;
  std::string source_image_id;
  std::vector<std::string> source_snapshot_ids;
  std::vector<std::string> source_digests;  // hex content digests, "" = unknown
};

Result<CopyParams> ParseCopyParams(const TaskRecord& task) {
  CopyParams p;
  try {
    nlohmann::json j = nlohmann::json::parse(task.params);
    p.source_region_id = j.at("SourceRegionId").get<std::string>();
    p.source_image_id = j.at("SourceImageId").get<std::string>();
    for (const auto& s : j.at("SourceSnapshots")) {
      p.source_snapshot_ids.push_back(s.at("SnapshotId").get<std::string>());
      p.source_digests.push_back(s.value("ContentDigest", ""));
    }
  } catch (const nlohmann::json::exception& e) {
    return Internal("copy task " + task.task_id + " has unreadable parameters: " + e.what());
  }
  return p;
}

}  // namespace

// ------------------------------------------------------------------ leases

void RegionImpl::ClearStaleLeaseLocked(const std::string& source_image_id) {
  Result<Catalog::CopyLeaseRecord> lease = catalog_->GetCopyLease(source_image_id);
  if (!lease.ok()) return;
  CopyPeer* peer = config_.resolve_peer ? config_.resolve_peer(lease->copy_region_id) : nullptr;
  if (peer == nullptr) {
    spdlog::warn("region {}: copy lease of {} names {} in unknown region {}; keeping it", config_.region_id,
                 source_image_id, lease->copy_image_id, lease->copy_region_id);
    return;
  }
  Result<bool> running = peer->CopyInProgress(lease->copy_image_id);
  if (!running.ok()) {
    // Unreachable: the copy may still need the image, so the lease stays.
    spdlog::info("region {}: cannot check copy {} in {} ({}); its lease on {} stays", config_.region_id,
                 lease->copy_image_id, lease->copy_region_id, running.status().ToString(), source_image_id);
    return;
  }
  if (*running) return;
  spdlog::info("region {}: copy {} in {} has ended; dropping its lease on {}", config_.region_id,
               lease->copy_image_id, lease->copy_region_id, source_image_id);
  Status st = catalog_->DeleteCopyLease(source_image_id, lease->copy_image_id);
  if (!st.ok()) spdlog::warn("region {}: {}", config_.region_id, st.ToString());
}

Status RegionImpl::AcquireLeaseLocked(const CopyLease& l) {
  ClearStaleLeaseLocked(l.source_image_id);
  return catalog_->Transact([&]() -> Status {
    Result<ImageRecord> image = catalog_->GetImage(l.source_image_id);
    if (!image.ok()) {
      if (image.status().code() == Code::kNotFound) return ImageNotFound(l.source_image_id);
      return image.status();
    }
    Result<Catalog::CopyLeaseRecord> held = catalog_->GetCopyLease(l.source_image_id);
    if (held.ok() && held->copy_image_id != l.copy_image_id) {
      return CopyConflict(l.source_image_id, held->copy_image_id);
    }
    if (!held.ok() && held.status().code() != Code::kNotFound) return held.status();
    if (held.ok()) return Status::Ok();
    return catalog_->PutCopyLease({l.source_image_id, l.copy_region_id, l.copy_image_id, clock_.Now()});
  });
}

Status RegionImpl::AcquireCopyLease(const CopyLease& l) {
  std::lock_guard<std::mutex> lock(copy_mu_);
  return AcquireLeaseLocked(l);
}

Status RegionImpl::ReleaseCopyLease(const CopyLease& l) {
  return catalog_->DeleteCopyLease(l.source_image_id, l.copy_image_id);
}

Result<bool> RegionImpl::SourceOfLiveCopyLocked(const std::string& image_id) {
  ClearStaleLeaseLocked(image_id);
  Result<Catalog::CopyLeaseRecord> lease = catalog_->GetCopyLease(image_id);
  if (lease.ok()) return true;
  if (lease.status().code() == Code::kNotFound) return false;
  return lease.status();
}

Result<bool> RegionImpl::CopyInProgress(const std::string& copy_image_id) {
  Result<ImageRecord> image = catalog_->GetImage(copy_image_id);
  if (!image.ok()) {
    if (image.status().code() == Code::kNotFound) return false;
    return image.status();
  }
  return image->is_copied && (image->status == "Waiting" || image->status == "Creating");
}

void RegionImpl::ReleaseSourceLease(const std::string& source_region_id, const std::string& source_image_id,
                                    const std::string& image_id) {
  CopyPeer* source = config_.resolve_peer ? config_.resolve_peer(source_region_id) : nullptr;
  if (source == nullptr) return;
  // A lost release is harmless: the source drops a lease whose copy has
  // ended the next time the lease is in its way.
  Status st = source->ReleaseCopyLease(CopyLease{source_image_id, config_.region_id, image_id});
  if (!st.ok()) {
    spdlog::info("region {}: releasing the lease of copy {} on {} in {}: {}", config_.region_id, image_id,
                 source_image_id, source_region_id, st.ToString());
  }
}

// --------------------------------------------------------- CopyImage (source)

Result<std::string> RegionImpl::CopyImage(const Caller& c, const CopyImageRequest& r) {
  if (r.image_id.empty()) return MissingParameter("ImageId");
  if (r.destination_region_id.empty()) return MissingParameter("DestinationRegionId");
  if (!r.destination_image_name.empty()) {
    Status st = ValidateImageName(r.destination_image_name);
    if (!st.ok()) {
      return InvalidArgument("InvalidImageName.Malformed", "The specified destination image name \"" +
                                                               Echo(r.destination_image_name) +
                                                               "\" is wrongly formed.");
    }
  }
  if (!ValidateDescription(r.destination_description).ok()) {
    return InvalidArgument("InvalidDescription.Malformed",
                           "The specified destination description is wrongly formed.");
  }
  RETURN_IF_ERROR(ValidateTags(r.tags));
  if (!r.kms_key_id.empty() && !r.encrypted) {
    return InvalidArgument("InvalidParameter.EncryptedIllegal",
                           "The specified parameter Encrypted must be true when kmsKeyId is not empty.");
  }
  if (r.encrypted) {
    return InvalidArgument("InvalidParameter.KmsNotEnabled",
                           "The specified operation need enable KMS: encrypted copies are not supported.");
  }
  CopyPeer* destination = config_.resolve_peer ? config_.resolve_peer(r.destination_region_id) : nullptr;
  if (destination == nullptr) {
    return InvalidArgument("DestinationRegion.NotFound",
                           "The destination region \"" + Echo(r.destination_region_id) + "\" not found.");
  }
  if (r.destination_region_id == config_.region_id) {
    return PermissionDenied("IncorrectDestinationRegion",
                            "The destination region " + r.destination_region_id +
                                " is the source region; use CreateImage to copy within a region.");
  }

  // One CopyImage at a time in this region: the token, the conflict check
  // and the lease must not interleave with another call's.
  std::lock_guard<std::mutex> copy_lock(copy_mu_);
  Result<ImageRecord> got = catalog_->GetImage(r.image_id);
  if (!got.ok()) {
    if (got.status().code() == Code::kNotFound) return ImageNotFound(r.image_id);
    return got.status();
  }
  const ImageRecord source = std::move(got).value();
  RETURN_IF_ERROR(CheckCopySource(c, source));

  const std::string name = r.destination_image_name.empty() ? source.name : r.destination_image_name;
  const std::string fingerprint = Sha256Hex(nlohmann::json{
      {"ImageId", r.image_id},
      {"DestinationRegionId", r.destination_region_id},
      {"DestinationImageName", r.destination_image_name},
      {"DestinationDescription", r.destination_description},
      {"Tags", TagsJson(r.tags)}}.dump());
  // Set when an earlier call with this ClientToken sent its copy to the
  // destination without learning the outcome.
  std::string attempted_image_id;
  if (!r.client_token.empty()) {
    Result<Catalog::TokenRecord> token = catalog_->GetClientToken(c.account_id, kCopyAction, r.client_token);
    if (token.ok()) {
      if (token->fingerprint != fingerprint) {
        return InvalidArgument(
            "IdempotentParameterMismatch",
            "The ClientToken \"" + Echo(r.client_token) + "\" was used before with different parameters.");
      }
      return token->result_id;
    }
    if (token.status().code() != Code::kNotFound) return token.status();
    Result<Catalog::TokenRecord> attempt =
        catalog_->GetClientToken(c.account_id, kCopyAttemptAction, r.client_token);
    if (attempt.ok()) {
      if (attempt->fingerprint != fingerprint) {
        return InvalidArgument(
            "IdempotentParameterMismatch",
            "The ClientToken \"" + Echo(r.client_token) + "\" was used before with different parameters.");
      }
      attempted_image_id = attempt->result_id;
    } else if (attempt.status().code() != Code::kNotFound) {
      return attempt.status();
    }
  }

  if (source.status != "Available") {
    return InvalidArgument("IncorrectImageStatus", "The image not available.");
  }
  std::vector<SnapshotRecord> snapshots;
  for (const DiskMapping& d : source.disks) {
    Result<SnapshotRecord> snap = catalog_->GetSnapshot(d.snapshot_id);
    if (!snap.ok()) {
      if (snap.status().code() == Code::kNotFound) {
        return NotFound("InvalidSnapshotId.NotFound", "The snapshot \"" + Echo(d.snapshot_id) +
                                                          "\" of image " + r.image_id + " does not exist.");
      }
      return snap.status();
    }
    if (snap->encrypted) {
      return PermissionDenied(
          "OperationDeined.EncryptedSnapshot",
          "The image contains encrypted snapshots, which do not support copying (snapshot " +
              snap->snapshot_id + ").");
    }
    snapshots.push_back(std::move(snap).value());
  }
  if (snapshots.empty()) return Internal("image " + r.image_id + " has no disks");
  size_t manifest_bytes = 0;
  for (const SnapshotRecord& s : snapshots) manifest_bytes += s.manifest.size();
  if (manifest_bytes > config_.max_sent_manifest_bytes) {
    for (SnapshotRecord& s : snapshots) s.manifest.clear();
  }
  if (source.size_gib > config_.max_copy_size_gib &&
      !(config_.large_copy_allowed && config_.large_copy_allowed(c.account_id, r.image_id))) {
    return PermissionDenied("SizeExceed.Image",
                            "The image exceeds the maximum size (" + std::to_string(source.size_gib) +
                                " GiB > " + std::to_string(config_.max_copy_size_gib) +
                                " GiB). Please open a ticket to add the account to the white list.");
  }
  ClearStaleLeaseLocked(r.image_id);
  Result<Catalog::CopyLeaseRecord> held = catalog_->GetCopyLease(r.image_id);
  if (held.ok() && held->copy_image_id != attempted_image_id) return CopyConflict(r.image_id, held->copy_image_id);
  if (!held.ok() && held.status().code() != Code::kNotFound) return held.status();

  CopyTarget target;
  target.image_id = attempted_image_id.empty() ? NewResourceId("m") : attempted_image_id;
  target.account_id = c.account_id;
  target.source_region_id = config_.region_id;
  target.source_image = source;
  target.source_snapshots = std::move(snapshots);
  target.image_name = name;
  target.description = r.destination_description;
  target.tags = r.tags;
  target.client_token = r.client_token;
  if (r.dry_run) {
    // The destination decides whether the name is free, without writing.
    target.dry_run = true;
    return destination->AcceptCopy(target).status();
  }
  if (!r.client_token.empty() && attempted_image_id.empty()) {
    // Before the destination hears of the copy: should its answer be lost
    // (or this process stop), a repeat of the call makes no second copy.
    RETURN_IF_ERROR(
        catalog_->PutClientToken(c.account_id, kCopyAttemptAction, r.client_token, {fingerprint, target.image_id}));
  }
  const CopyLease lease{r.image_id, r.destination_region_id, target.image_id};
  RETURN_IF_ERROR(AcquireLeaseLocked(lease));
  Result<std::string> accepted = destination->AcceptCopy(target);
  if (!accepted.ok()) {
    Status released = ReleaseCopyLease(lease);
    if (!released.ok()) spdlog::warn("region {}: {}", config_.region_id, released.ToString());
    return accepted.status();
  }
  if (!r.client_token.empty()) {
    Status st = catalog_->PutClientToken(c.account_id, kCopyAction, r.client_token, {fingerprint, *accepted});
    if (!st.ok()) {
      spdlog::warn("region {}: ClientToken of copy {} not recorded: {}", config_.region_id, *accepted,
                   st.ToString());
    }
  }
  return accepted;
}

// ------------------------------------------------------ AcceptCopy (destination)

Result<std::string> RegionImpl::AcceptCopy(const CopyTarget& t) {
  if (t.source_snapshots.empty() || t.source_snapshots.size() != t.source_image.disks.size()) {
    return InvalidArgument("InvalidParameter", "copy of image " + t.source_image.image_id + " names " +
                                                   std::to_string(t.source_snapshots.size()) +
                                                   " snapshots for " +
                                                   std::to_string(t.source_image.disks.size()) + " disks");
  }
  if (!t.image_name.empty()) RETURN_IF_ERROR(ValidateImageName(t.image_name));
  if (stopping()) return Unavailable("region " + config_.region_id + " is shutting down");

  const UnixSeconds now = clock_.Now();
  const ImageRecord& src = t.source_image;
  ImageRecord image;
  image.image_id = t.image_id.empty() ? NewResourceId("m") : t.image_id;
  image.account_id = t.account_id;
  image.name = t.image_name;
  image.description = t.description;
  image.status = "Waiting";
  image.progress = 0;
  image.os_type = src.os_type;
  image.os_name = src.os_name;
  image.platform = src.platform;
  image.architecture = src.architecture;
  image.boot_mode = src.boot_mode;
  image.image_family = src.image_family;
  image.image_version = src.image_version;
  image.license_type = src.license_type;
  image.size_gib = src.size_gib;
  image.tags = t.tags;
  image.is_copied = true;
  image.source_region_id = t.source_region_id;
  image.source_image_id = src.image_id;
  image.creation_time = now;

  std::vector<SnapshotRecord> snapshots;
  nlohmann::json sources = nlohmann::json::array();
  for (size_t i = 0; i < t.source_snapshots.size(); ++i) {
    const SnapshotRecord& from = t.source_snapshots[i];
    SnapshotRecord s;
    s.snapshot_id = NewResourceId("s");
    s.account_id = t.account_id;
    s.description =
        "Copied for image " + image.image_id + " from " + from.snapshot_id + " in " + t.source_region_id;
    s.status = "progressing";
    s.logical_size = from.logical_size;
    s.source_disk_size_gib = from.source_disk_size_gib;
    s.source_disk_type = from.source_disk_type;
    s.usage = "image";
    s.encrypted = false;
    s.source_region_id = t.source_region_id;
    s.source_snapshot_id = from.snapshot_id;
    s.creation_time = now;
    s.last_modified_time = now;
    snapshots.push_back(s);
    DiskMapping m = src.disks[i];
    m.snapshot_id = s.snapshot_id;
    m.import_bucket.clear();
    m.import_object.clear();
    image.disks.push_back(m);
    sources.push_back({{"SnapshotId", from.snapshot_id}, {"ContentDigest", from.content_digest}});
  }
  TaskRecord task;
  task.task_id = NewResourceId("t");
  task.account_id = t.account_id;
  task.action = kCopyAction;
  task.status = "Processing";
  task.resource_id = image.image_id;
  task.params = nlohmann::json{
      {"SourceRegionId", t.source_region_id},
      {"SourceImageId", src.image_id},
      {"SourceSnapshots",
       sources}}.dump();
  task.creation_time = now;

  if (!t.image_id.empty() && !t.dry_run) {
    // A repeated AcceptCopy (the source's call was retried after its answer
    // was lost) names the same new image: it gets the copy already made.
    Result<ImageRecord> existing = catalog_->GetImage(t.image_id);
    if (existing.ok()) {
      if (existing->is_copied && existing->account_id == t.account_id &&
          existing->source_region_id == t.source_region_id && existing->source_image_id == src.image_id) {
        return existing->image_id;
      }
      return AlreadyExists("InvalidImageId.Duplicated", "image " + t.image_id + " already exists in region " +
                                                            config_.region_id + " and is not this copy");
    }
    if (existing.status().code() != Code::kNotFound) return existing.status();
  }
  if (t.dry_run) {
    ASSIGN_OR_RETURN(bool taken, NameTaken(t.account_id, image.name, ""));
    if (taken) return DuplicatedName(image.name);
    return InvalidArgument("DryRunOperation", "Request validation has been passed with DryRun flag set.");
  }
  {
    // The copy stores the source snapshots' data again, here.
    uint64_t adding = 0;
    for (const SnapshotRecord& s : t.source_snapshots) adding += QuotaMeter::ManifestDataBytes(s.manifest);
    RETURN_IF_ERROR(CheckStorageQuota(oss_, t.account_id, adding));
  }
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(bool taken, NameTaken(t.account_id, image.name, ""));
    if (taken) return DuplicatedName(image.name);
    RETURN_IF_ERROR(CheckCountQuotas(*catalog_, config_.quotas, t.account_id,
                                     QuotaUsage{1, snapshots.size(), 1, 0}, kCopyAction));
    for (const SnapshotRecord& s : snapshots) RETURN_IF_ERROR(catalog_->InsertSnapshot(s));
    Status st = catalog_->InsertImage(image);
    if (st.code() == Code::kAlreadyExists && st.reason() == "InvalidImageName.Duplicated") {
      return DuplicatedName(image.name);
    }
    RETURN_IF_ERROR(st);
    RETURN_IF_ERROR(catalog_->InsertTask(task));
    // Pulled by this node (its lease, renewed while it queues and runs).
    return ClaimTask(task.task_id).status();
  }));
  Status submitted = SubmitCopy(task, /*resumed=*/false, SentManifests(t));
  if (!submitted.ok()) {
    // Shutting down between the check and here: the task resumes on the next
    // start, as any Processing copy does.
    spdlog::warn("region {}: copy {} not queued now: {}", config_.region_id, image.image_id,
                 submitted.ToString());
  }
  return image.image_id;
}

// The manifests the source sent with `t`, decoded; empty when it sent none,
// or when one does not decode or does not match the digest the source
// recorded for it (the copy then fetches them, and checks those).
std::vector<Manifest> RegionImpl::SentManifests(const CopyTarget& t) const {
  std::vector<Manifest> out;
  for (const SnapshotRecord& s : t.source_snapshots) {
    if (s.manifest.empty()) return {};
    Result<Manifest> m = DecodeManifest(s.manifest);
    Status bad;
    if (!m.ok()) {
      bad = m.status();
    } else if (!m->HasContentDigest(s.content_digest)) {
      bad = DataLoss("content digest " + ToHex(m->ContentDigest()) + ", the source recorded " + s.content_digest);
    }
    if (!bad.ok()) {
      spdlog::warn("region {}: manifest of snapshot {} sent by region {} not used: {}", config_.region_id,
                   s.snapshot_id, t.source_region_id, bad.ToString());
      return {};
    }
    out.push_back(std::move(m).value());
  }
  return out;
}

// ------------------------------------------------------------ the copy job

Status RegionImpl::SubmitCopy(const TaskRecord& task, bool resumed, std::vector<Manifest> sent) {
  CopyJob job;
  job.job_id = task.resource_id;
  job.account_id = task.account_id;
  // The sent manifests are kept only while this region's copies keep no
  // more than max_queued_manifest_bytes of them; else the copy fetches its
  // manifests when it starts.
  uint64_t bytes = ManifestMemory(sent);
  uint64_t held = queued_manifest_bytes_.load();
  do {
    if (held + bytes > config_.max_queued_manifest_bytes) {
      sent.clear();
      bytes = 0;
      break;
    }
  } while (!queued_manifest_bytes_.compare_exchange_weak(held, held + bytes));
  auto queued = std::make_shared<const QueuedManifests>(std::move(sent), bytes, queued_manifest_bytes_);
  job.run = [this, task, resumed, queued](const std::atomic<bool>& cancel) {
    // Counted before the run, like every task; a copy the process died
    // under too often fails here (quarantined) instead of running.
    RETURN_IF_ERROR(BeginAttempt(task.task_id));
    Result<CopyParams> params = ParseCopyParams(task);
    LogJobStart("copy", task,
                " from=" + (params.ok() ? params->source_region_id : std::string("?")) +
                    (resumed ? " resumed=true" : ""));
    const auto started = std::chrono::steady_clock::now();
    Status st = RunCopy(task, resumed, queued->manifests(), cancel);
    CopyLive moved;
    {
      std::lock_guard<std::mutex> lock(progress_mu_);
      if (auto it = copy_live_.find(task.resource_id); it != copy_live_.end()) moved = it->second;
    }
    LogJobEnd("copy", task, st, stopping(), std::chrono::steady_clock::now() - started, moved.data_bytes,
              moved.chunks_fetched, " wire_bytes=" + std::to_string(moved.wire_bytes));
    if (!st.ok() && stopping()) EndAttempt(task.task_id);
    return st;
  };
  // max_running_copies in the whole region, not per node: the copy takes a
  // slot in the catalog the region's nodes share before it starts
  // (catalog.h TakeCopySlot), and gives it back when it ends.
  job.admit = [this, task_id = task.task_id]() -> Result<bool> {
    return catalog_->TakeCopySlot(task_id, clock_.Now(), std::max(1u, config_.max_running_copies));
  };
  job.on_start = [this, id = task.resource_id] { StartCopy(id); };
  job.on_done = [this, task](const Status& st) {
    FinishCopy(task, st);
    if (Status released = catalog_->ReleaseCopySlot(task.task_id); !released.ok()) {
      // The slot goes with the task's end or its lease anyway.
      spdlog::warn("region {}: copy slot of task {} not given back: {}", config_.region_id, task.task_id,
                   released.ToString());
    }
  };
  return copies_->Submit(std::move(job));
}

void RegionImpl::CopySleep(std::chrono::milliseconds d, const std::atomic<bool>& cancel) {
  if (hooks_.copy_sleep) {
    hooks_.copy_sleep(d);
    return;
  }
  (void)SleepUnlessStopped(cancel, d, std::chrono::milliseconds(50));
}

void RegionImpl::StartCopy(const std::string& image_id) {
  Status st = catalog_->Transact([&]() -> Status {
    Result<ImageRecord> image = catalog_->GetImage(image_id);
    if (!image.ok()) return image.status().code() == Code::kNotFound ? Status::Ok() : image.status();
    if (image->status != "Waiting") return Status::Ok();
    image->status = "Creating";
    return catalog_->UpdateImage(*image);
  });
  if (!st.ok()) {
    spdlog::warn("region {}: copy {} not marked Creating: {}", config_.region_id, image_id, st.ToString());
  }
}

Status RegionImpl::RunCopy(const TaskRecord& task, bool resumed, const std::vector<Manifest>& sent,
                           const std::atomic<bool>& cancel) {
  ASSIGN_OR_RETURN(CopyParams params, ParseCopyParams(task));
  // CancelCopyImage may have removed the records just before the start.
  ASSIGN_OR_RETURN(TaskRecord current, catalog_->GetTask(task.task_id));
  if (cancel || current.status != "Processing")
    return Cancelled("copy task " + task.task_id + " is not running");
  ASSIGN_OR_RETURN(ImageRecord image, catalog_->GetImage(task.resource_id));
  if (image.disks.size() != params.source_snapshot_ids.size()) {
    return Internal("copy " + image.image_id + " has " + std::to_string(image.disks.size()) + " disks but " +
                    std::to_string(params.source_snapshot_ids.size()) + " source snapshots");
  }

  // The source region and the chunk source may not be ready yet (the
  // process is starting): wait for them like for an unreachable peer.
  std::unique_ptr<ChunkSource> source;
  auto backoff = std::chrono::milliseconds(200);
  const auto give_up = clock_.Steady() + kSourceRetryFor;
  while (true) {
    if (cancel) return Cancelled("copy " + image.image_id + " cancelled");
    Status st;
    CopyPeer* region = config_.resolve_peer ? config_.resolve_peer(params.source_region_id) : nullptr;
    if (region == nullptr) {
      st = Unavailable("source region " + params.source_region_id + " is not reachable");
    } else if (resumed) {
      st = region->AcquireCopyLease(CopyLease{params.source_image_id, config_.region_id, image.image_id});
      if (st.code() == Code::kNotFound) return st;
      if (!st.ok()) {
        // Another copy took the source after a restart; this copy still has
        // its data source, only not the protection of the lease.
        spdlog::warn("region {}: copy {} runs without a lease on {}: {}", config_.region_id, image.image_id,
                     params.source_image_id, st.ToString());
        st = Status::Ok();
      }
      resumed = false;
    }
    if (st.ok()) {
      if (!config_.chunk_source)
        return Internal("region " + config_.region_id + " has no chunk source for copies");
      Result<std::unique_ptr<ChunkSource>> made = config_.chunk_source(params.source_region_id);
      if (made.ok()) {
        source = std::move(made).value();
        break;
      }
      st = made.status();
    }
    if (st.code() != Code::kUnavailable || clock_.Steady() >= give_up) return st;
    CopySleep(backoff, cancel);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }

  const size_t n = image.disks.size();
  std::vector<Manifest> manifests(n);
  PinLease lease(pins_);
  uint64_t wire_before = 0, data_before = 0, chunks_before = 0;  // the disks pulled before this one
  for (size_t i = 0; i < n; ++i) {
    // What this pull has added to /metrics so far: the counters move while
    // the copy runs, and a pull cut short still counts what it fetched.
    uint64_t counted_chunks = 0;
    uint64_t counted_bytes = 0;
    auto count = [&](uint64_t chunks_fetched, uint64_t wire_bytes) {
      std::lock_guard<std::mutex> lock(progress_mu_);
      if (chunks_fetched > counted_chunks) {
        metrics_.copy_chunks_fetched += chunks_fetched - counted_chunks;
        counted_chunks = chunks_fetched;
      }
      if (wire_bytes > counted_bytes) {
        metrics_.copy_bytes_received += wire_bytes - counted_bytes;
        counted_bytes = wire_bytes;
      }
    };
    PullOptions opts;
    opts.in_flight = std::max(1u, config_.copy_in_flight);
    opts.in_flight_long_link = 2 * opts.in_flight;
    opts.rate_limit_bytes_per_second = config_.copy_rate_limit_bytes_per_second;
    opts.budget = config_.copy_budget;
    if (config_.link_limiter) opts.link_limiter = config_.link_limiter(params.source_region_id);
    opts.pin = [&lease](const ChunkId& id) { return lease.Pin(id); };
    opts.cancel = &cancel;
    if (hooks_.copy_sleep) opts.sleep = hooks_.copy_sleep;
    if (sent.size() == n) opts.manifest = &sent[i];
    opts.max_logical_size = kMaxDiskBytes;
    opts.progress = [this, &task, &count, i, n, wire_before, data_before,
                     chunks_before](const PullProgress& p) {
      count(p.chunks_fetched, p.wire_bytes);
      double part =
          p.bytes_total == 0 ? 1.0 : static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total);
      int percent = std::clamp(
          static_cast<int>((static_cast<double>(i) + part) / static_cast<double>(n) * 100.0), 0, 99);
      int64_t eta = 0;
      if (p.bytes_per_second > 0 && p.bytes_total > p.bytes_done) {
        eta =
            static_cast<int64_t>(static_cast<double>(p.bytes_total - p.bytes_done) / p.bytes_per_second) + 1;
      }
      {
        std::lock_guard<std::mutex> lock(progress_mu_);
        copy_live_[task.resource_id] = CopyLive{percent, eta, wire_before + p.wire_bytes,
                                                data_before + p.bytes_done, chunks_before + p.chunks_fetched};
      }
      ReportProgress(task.task_id, percent);
    };
    ASSIGN_OR_RETURN(PullResult pulled, PullSnapshot(*source, params.source_region_id,
                                                     params.source_snapshot_ids[i], *store_, opts));
    std::string digest = ToHex(pulled.manifest.ContentDigest());
    if (!params.source_digests[i].empty() && !pulled.manifest.HasContentDigest(params.source_digests[i])) {
      return DataLoss("snapshot " + params.source_snapshot_ids[i] + " copied from " +
                      params.source_region_id + " has content digest " + digest + ", the source recorded " +
                      params.source_digests[i]);
    }
    count(pulled.stats.chunks_fetched, pulled.stats.wire_bytes);
    wire_before += pulled.stats.wire_bytes;
    data_before += pulled.stats.bytes_done;
    chunks_before += pulled.stats.chunks_fetched;
    manifests[i] = std::move(pulled.manifest);
  }
  if (cancel) return Cancelled("copy " + image.image_id + " stopped before commit");
  RETURN_IF_ERROR(store_->Sync());

  const UnixSeconds now = clock_.Now();
  std::shared_lock<std::shared_mutex> gc_lock(gc_mu_);
  Status st = catalog_->Transact([&]() -> Status {
    RETURN_IF_ERROR(lease.CheckHeld());
    ASSIGN_OR_RETURN(TaskRecord current, catalog_->GetTask(task.task_id));
    if (current.cancel_requested || current.status != "Processing") {
      return Cancelled("copy task " + task.task_id + " is " + current.status);
    }
    ASSIGN_OR_RETURN(ImageRecord img, catalog_->GetImage(task.resource_id));
    return CommitImageManifests(img, manifests, current, now, nullptr);
  });
  lease.Release();
  // (FinishCopy releases the source's lease; whoever copies the source again
  // before that finds the lease's copy Available, no longer in progress.)
  return st;
}

void RegionImpl::FinishCopy(const TaskRecord& task, const Status& st) {
  {
    std::lock_guard<std::mutex> lock(progress_mu_);
    copy_live_.erase(task.resource_id);
    last_progress_.erase(task.task_id);
  }
  Result<CopyParams> params = ParseCopyParams(task);
  if (st.ok()) {
    metrics_.tasks_finished++;
    if (params.ok()) ReleaseSourceLease(params->source_region_id, params->source_image_id, task.resource_id);
    return;
  }
  if (stopping()) {
    // Shutdown: the task stays Processing and resumes on the next start.
    spdlog::info("region {}: copy {} stopped by shutdown ({}); it resumes on the next start",
                 config_.region_id, task.resource_id, st.ToString());
    return;
  }
  // Released before the failure is visible, so a retry is not refused.
  if (params.ok()) ReleaseSourceLease(params->source_region_id, params->source_image_id, task.resource_id);
  if (st.code() != Code::kCancelled) {
    spdlog::warn("region {}: copy {} failed: {}", config_.region_id, task.resource_id, st.ToString());
    FinishCopyFailed(task, st);
  }
  // Cancelled: CancelCopyImage removed the records already.
  RequestGc();
}

Status RegionImpl::CommitImageManifests(
    ImageRecord& image, const std::vector<Manifest>& manifests, TaskRecord& task, UnixSeconds now,
    const std::function<void(size_t, SnapshotRecord&, DiskMapping&)>& on_disk) {
  for (size_t i = 0; i < manifests.size() && i < image.disks.size(); ++i) {
    DiskMapping& disk = image.disks[i];
    ASSIGN_OR_RETURN(SnapshotRecord snap, catalog_->GetSnapshot(disk.snapshot_id));
    snap.manifest = EncodeManifest(manifests[i]);
    snap.content_digest = ToHex(manifests[i].ContentDigest());
    snap.logical_size = manifests[i].logical_size;
    snap.status = "accomplished";
    snap.progress = 100;
    snap.last_modified_time = now;
    if (on_disk) on_disk(i, snap, disk);
    RETURN_IF_ERROR(catalog_->UpdateSnapshot(snap));
  }
  image.status = "Available";
  image.progress = 100;
  RETURN_IF_ERROR(catalog_->UpdateImage(image));
  task.status = "Finished";
  task.progress = 100;
  task.finished_time = now;
  return catalog_->UpdateTask(task);
}

Status RegionImpl::MarkImageCreateFailed(const std::string& image_id, const std::string& reason) {
  Result<ImageRecord> image = catalog_->GetImage(image_id);
  if (!image.ok()) return Status::Ok();
  image->status = "CreateFailed";
  image->failure_reason = reason;
  RETURN_IF_ERROR(catalog_->UpdateImage(*image));
  for (const DiskMapping& d : image->disks) {
    Result<SnapshotRecord> snap = catalog_->GetSnapshot(d.snapshot_id);
    if (!snap.ok()) continue;
    snap->status = "failed";
    snap->last_modified_time = clock_.Now();
    RETURN_IF_ERROR(catalog_->UpdateSnapshot(*snap));
  }
  return Status::Ok();
}

void RegionImpl::FinishCopyFailed(const TaskRecord& task, const Status& why) {
  const Status shown = ShownFailure(why);
  std::string code = shown.reason().empty() ? "CopyImageFailed" : shown.reason();
  std::string message = shown.message().empty() ? shown.ToString() : shown.message();
  Status st = catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(TaskRecord t, catalog_->GetTask(task.task_id));
    if (t.status != "Processing") return Status::Ok();
    RETURN_IF_ERROR(MarkImageCreateFailed(t.resource_id, code + ": " + message));
    t.status = "Failed";
    t.error_code = code;
    t.error_message = message;
    t.finished_time = clock_.Now();
    return catalog_->UpdateTask(t);
  });
  if (!st.ok()) {
    spdlog::error("region {}: recording the failure of copy {} failed: {}", config_.region_id,
                  task.resource_id, st.ToString());
  }
  metrics_.tasks_failed++;
}

// ------------------------------------------------- CancelCopyImage (destination)

Status RegionImpl::CancelCopyImage(const Caller& c, const std::string& image_id) {
  if (image_id.empty()) return MissingParameter("ImageId");
  ImageRecord image;
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    Result<ImageRecord> got = catalog_->GetImage(image_id);
    if (!got.ok()) {
      if (got.status().code() == Code::kNotFound) return ImageNotFound(image_id);
      return got.status();
    }
    image = std::move(got).value();
    if (image.account_id != c.account_id) return ImageNotFound(image_id);
    if (!image.is_copied) {
      return InvalidArgument("ImageCreatedNotFromCopy",
                             "The specified image is not the target image of a copy action.");
    }
    if (image.status == "CreateFailed") {
      return InvalidArgument("IncorrectImageStatus", "The Image copy has been failed.");
    }
    if (image.status != "Waiting" && image.status != "Creating") {
      return InvalidArgument("IncorrectImageStatus", "The image copy has completed.");
    }
    TaskQuery q;
    q.resource_ids = {image_id};
    q.action = kCopyAction;
    q.statuses = {"Processing"};
    ASSIGN_OR_RETURN(Page<TaskRecord> tasks, catalog_->ListTasks(q));
    for (TaskRecord& t : tasks.items) {
      t.status = "Cancelled";
      t.cancel_requested = true;
      t.finished_time = clock_.Now();
      RETURN_IF_ERROR(catalog_->UpdateTask(t));
    }
    for (const DiskMapping& d : image.disks) RETURN_IF_ERROR(catalog_->DeleteSnapshot(d.snapshot_id));
    return catalog_->DeleteImage(image_id);
  }));
  ReleaseSourceLease(image.source_region_id, image.source_image_id, image_id);
  // A waiting job is dropped here (no on_done); a running one stops at its
  // next chunk and its on_done asks for GC again once its pins are gone.
  copies_->Cancel(image_id);
  RequestGc();
  return Status::Ok();
}

// ------------------------------------------------------------ DescribeImages

void RegionImpl::FillCopyProgress(std::vector<ImageRecord>& images) {
  for (ImageRecord& img : images) {
    if (!img.is_copied) continue;
    if (img.status == "Waiting") {
      img.queue_position = copies_->QueuePosition(img.image_id);
    } else if (img.status == "Creating") {
      std::lock_guard<std::mutex> lock(progress_mu_);
      auto it = copy_live_.find(img.image_id);
      if (it != copy_live_.end()) {
        img.progress = std::max(img.progress, it->second.percent);
        img.remain_time_seconds = it->second.eta_seconds;
        img.copy_wire_bytes = it->second.wire_bytes;
        img.copy_data_bytes = it->second.data_bytes;
      }
    }
  }
}

}  // namespace ferry
