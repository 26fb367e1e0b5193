// RegionImpl: the task requests (DescribeTasks, DescribeTaskAttribute,
// CancelTask), the task workers and how tasks end, the public image seed,
// garbage collection, fsck and shutdown. The import and export tasks
// themselves are in region_import_export.cc.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <unordered_set>

#include "common/catch_all.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/log_safe.h"
#include "region/disk_tools.h"
#include "region/image_inspector.h"
#include "region/region_impl.h"
#include "region/region_internal.h"

namespace ferry {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kPublicImageBytes = 64ull << 20;
constexpr auto kProgressInterval = std::chrono::seconds(1);

uint64_t CeilGiB(uint64_t bytes) { return std::max<uint64_t>(1, (bytes + kGiB - 1) / kGiB); }

Status TaskNotFound(const std::string& task_id) {
  return NotFound("InvalidTaskId.NotFound", "The specified \"TaskId\" \"" + Echo(task_id) + "\" is not found.");
}

}  // namespace

Status RedactPath(const Status& st, const std::string& path, const std::string& label) {
  if (st.ok() || path.empty()) return st;
  std::string msg = st.message();
  for (size_t pos = msg.find(path); pos != std::string::npos; pos = msg.find(path, pos + label.size())) {
    msg.replace(pos, path.size(), label);
  }
  return Status(st.code(), st.reason(), msg);
}

// ------------------------------------------------------------ thread control

bool RegionImpl::stopping() {
  std::lock_guard<std::mutex> lock(mu_);
  return stopping_;
}

void RegionImpl::StartThreads() {
  unsigned n = std::max(1u, config_.task_threads);
  for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  gc_thread_ = std::thread([this] { GcLoop(); });
  lease_thread_ = std::thread([this] { LeaseLoop(); });
}

Result<bool> RegionImpl::ClaimTask(const std::string& task_id) {
  const UnixSeconds now = clock_.Now();
  return catalog_->ClaimTask(task_id, node_id_, now,
                             now + static_cast<UnixSeconds>(config_.task_lease_seconds));
}

Status RegionImpl::ResumeTasks() {
  // Oldest first: resumed in the order they were started.
  ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, catalog_->ClaimableTasks(node_id_, clock_.Now()));
  for (const TaskRecord& task : tasks) {
    spdlog::info("region {}: resuming task {} ({} {})", config_.region_id, task.task_id, task.action,
                 task.resource_id);
    RETURN_IF_ERROR(ResumeTask(task));
  }
  return Status::Ok();
}

Status RegionImpl::ResumeTask(const TaskRecord& task) {
  if (task.action != "CopyImage") {
    Enqueue(task.task_id);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(bool claimed, ClaimTask(task.task_id));
  if (!claimed) return Status::Ok();  // another node took it first
  // A copy that was pulling when its node stopped queues again.
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    Result<ImageRecord> image = catalog_->GetImage(task.resource_id);
    if (!image.ok()) return image.status().code() == Code::kNotFound ? Status::Ok() : image.status();
    if (image->status != "Creating") return Status::Ok();
    image->status = "Waiting";
    return catalog_->UpdateImage(*image);
  }));
  Status st = SubmitCopy(task, /*resumed=*/true);
  if (!st.ok()) {
    spdlog::warn("region {}: copy {} not resumed: {}", config_.region_id, task.resource_id, st.ToString());
  }
  return Status::Ok();
}

bool RegionImpl::QueuedOrRunningHere(const TaskRecord& task) {
  if (task.action == "CopyImage") return copies_->State(task.resource_id) != CopyJobState::kUnknown;
  std::lock_guard<std::mutex> lock(mu_);
  return controls_.count(task.task_id) != 0;
}

void RegionImpl::LeaseLoop() {
  const auto every = std::chrono::seconds(std::max(1u, config_.task_lease_seconds / 3));
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (cv_.wait_for(lock, every, [this] { return stopping_; })) return;
    }
    const UnixSeconds now = clock_.Now();
    Status renewed =
        catalog_->RenewTaskLeases(node_id_, now + static_cast<UnixSeconds>(config_.task_lease_seconds));
    if (renewed.ok()) renewed = pins_.RenewShared().WithContext("chunk pins");
    if (!renewed.ok()) {
      spdlog::warn("region {}: task leases of node {} not renewed: {}", config_.region_id, node_id_,
                   renewed.ToString());
      continue;
    }
    Result<std::vector<TaskRecord>> claimable = catalog_->ClaimableTasks(node_id_, now);
    if (!claimable.ok()) {
      spdlog::warn("region {}: tasks to take over not listed: {}", config_.region_id,
                   claimable.status().ToString());
      continue;
    }
    for (const TaskRecord& task : *claimable) {
      if (QueuedOrRunningHere(task)) continue;
      spdlog::info("region {}: taking over task {} ({} {}): no node holds it", config_.region_id,
                   task.task_id, task.action, task.resource_id);
      Status st = ResumeTask(task);
      if (!st.ok()) {
        spdlog::warn("region {}: task {} not taken over: {}", config_.region_id, task.task_id, st.ToString());
      }
    }
  }
}

void RegionImpl::Enqueue(const std::string& task_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || controls_.count(task_id) != 0) return;
    controls_[task_id] = std::make_shared<TaskControl>();
    queue_.push_back(task_id);
  }
  cv_.notify_all();
}

void RegionImpl::RequestGc() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    gc_requested_ = true;
  }
  cv_.notify_all();
}

void RegionImpl::WorkerLoop() {
  while (true) {
    std::string task_id;
    std::shared_ptr<TaskControl> control;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      task_id = queue_.front();
      queue_.pop_front();
      control = controls_[task_id];
    }
    // Whatever escapes a task (std::bad_alloc included) fails the task, not
    // the process.
    Status thrown = CatchAll("task " + task_id, [&] { RunTask(task_id, *control); });
    if (!thrown.ok()) {
      spdlog::error("region {}: {}", config_.region_id, thrown.ToString());
      Result<TaskRecord> task = catalog_->GetTask(task_id);
      if (task.ok() && task->status == "Processing") FinishFailed(*task, thrown);
    }
    ReleaseStagingOf(task_id);
    {
      std::lock_guard<std::mutex> lock(mu_);
      controls_.erase(task_id);
    }
    std::lock_guard<std::mutex> lock(progress_mu_);
    last_progress_.erase(task_id);
  }
}

void RegionImpl::GcLoop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || gc_requested_; });
      if (stopping_) return;
      gc_requested_ = false;
    }
    GcStats stats;
    Status st = CatchAll("garbage collection", [&] { return CollectGarbage(&stats); });
    if (!st.ok()) {
      spdlog::warn("region {}: garbage collection failed: {}", config_.region_id, st.ToString());
    } else if (stats.chunks_deleted > 0) {
      spdlog::info("region {}: garbage collection deleted {} of {} chunks", config_.region_id,
                   stats.chunks_deleted, stats.chunks_scanned);
    }
  }
}

void RegionImpl::Shutdown() {
  std::lock_guard<std::mutex> join_lock(join_mu_);
  if (joined_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& [id, control] : controls_) control->stop = true;
  }
  cv_.notify_all();
  // Running copies see their cancel flag; with stopping_ set they keep their
  // records (Processing) and resume on the next start.
  copies_->Shutdown();
  if (instance_runner_) instance_runner_->Stop();
  for (std::thread& t : workers_) t.join();
  if (gc_thread_.joinable()) gc_thread_.join();
  if (lease_thread_.joinable()) {
    lease_thread_.join();
    // What this node stopped resumes at once on another (or on its next
    // start), without waiting for the leases to expire.
    Status released = catalog_->ReleaseTaskLeases(node_id_);
    if (!released.ok()) {
      spdlog::warn("region {}: task leases of node {} not released: {}", config_.region_id, node_id_,
                   released.ToString());
    }
  }
  workers_.clear();
  joined_ = true;
}

// --------------------------------------------------------------- task driver

void RegionImpl::RunTask(const std::string& task_id, TaskControl& control) {
  Result<TaskRecord> got = catalog_->GetTask(task_id);
  if (!got.ok()) {
    spdlog::error("region {}: task {} cannot be read: {}", config_.region_id, task_id,
                  got.status().ToString());
    return;
  }
  const TaskRecord task = std::move(got).value();
  if (task.status != "Processing") return;
  if (task.cancel_requested) {
    control.cancel = true;
    control.stop = true;
  }
  Status st;
  const char* kind = task.action == "ImportImage" ? "import" : "export";
  bool logged = false;  // an import or export started: its end is logged too
  const auto started = std::chrono::steady_clock::now();
  if (!control.cancel) {
    Result<bool> claimed = ClaimTask(task_id);
    if (!claimed.ok()) {
      spdlog::warn("region {}: task {} not claimed (taken over later): {}", config_.region_id, task_id,
                   claimed.status().ToString());
      return;
    }
    if (!*claimed) {
      spdlog::info("region {}: task {} runs on another node", config_.region_id, task_id);
      return;
    }
  }
  if (control.cancel) {
    st = Cancelled("task " + task_id + " was cancelled before it started");
  } else if (Status begun = BeginAttempt(task_id); !begun.ok()) {
    spdlog::error("region {}: task {} not run: {}", config_.region_id, task_id, begun.ToString());
    FinishFailed(task, begun);
    return;
  } else if (task.action == "ImportImage") {
    LogJobStart(kind, task, "");
    logged = true;
    st = RunImport(task, control);
  } else if (task.action == "ExportImage") {
    LogJobStart(kind, task, "");
    logged = true;
    st = RunExport(task, control);
  } else if (task.action == "CreateSnapshot" || task.action == "CreateImage") {
    st = RunDiskSnapshots(task, control);
  } else {
    st = Internal("task " + task_id + " has unknown action " + task.action);
  }
  if (logged) {
    LogJobEnd(kind, task, st, control.stop.load() && !control.cancel.load(),
              std::chrono::steady_clock::now() - started, control.data_bytes, control.chunks, "");
  }
  if (st.ok()) {
    metrics_.tasks_finished++;
    return;
  }
  bool cancelled = control.cancel.load();
  if (!cancelled) {
    Result<TaskRecord> now = catalog_->GetTask(task_id);
    cancelled = now.ok() && now->cancel_requested;
  }
  if (cancelled) {
    FinishCancelled(task);
  } else if (control.stop) {
    spdlog::info("region {}: task {} stopped by shutdown; it resumes on the next start", config_.region_id,
                 task_id);
    EndAttempt(task_id);
  } else if (st.code() == Code::kUnavailable) {
    // The region's chunk store or database did not answer, through its
    // client's own retries. The task is not the cause: it keeps its lease and
    // what it stored, and the lease loop runs it again (every
    // task_lease_seconds / 3) until they answer.
    spdlog::warn("region {}: task {} paused, to run again when the store is back: {}", config_.region_id,
                 task_id, st.ToString());
    EndAttempt(task_id);
  } else {
    spdlog::warn("region {}: task {} failed: {}", config_.region_id, task_id, st.ToString());
    FinishFailed(task, st);
  }
}

void RegionImpl::LogJobStart(const std::string& kind, const TaskRecord& task,
                             const std::string& detail) const {
  spdlog::info("region {}: {} started task={} image={} account={}{}", config_.region_id, kind, task.task_id,
               task.resource_id, task.account_id, detail);
}

void RegionImpl::LogJobEnd(const std::string& kind, const TaskRecord& task, const Status& st, bool stopped,
                           std::chrono::steady_clock::duration took, uint64_t data_bytes, uint64_t chunks,
                           const std::string& extra) const {
  const double seconds = std::chrono::duration<double>(took).count();
  const double mib_per_s = seconds > 0 ? static_cast<double>(data_bytes) / seconds / (1 << 20) : 0.0;
  const char* outcome = st.ok()                         ? "finished"
                        : stopped                       ? "stopped"
                        : st.code() == Code::kCancelled ? "cancelled"
                                                        : "failed";
  if (st.ok()) {
    spdlog::info("region {}: {} {} task={} image={} bytes={} chunks={}{} duration_s={:.3f} rate_mib_s={:.1f}",
                 config_.region_id, kind, outcome, task.task_id, task.resource_id, data_bytes, chunks, extra,
                 seconds, mib_per_s);
  } else {
    spdlog::info(
        "region {}: {} {} task={} image={} bytes={} chunks={}{} duration_s={:.3f} rate_mib_s={:.1f} error={}",
        config_.region_id, kind, outcome, task.task_id, task.resource_id, data_bytes, chunks, extra, seconds,
        mib_per_s, LogSafe(st.ToString()));
  }
}

Status RegionImpl::BeginAttempt(const std::string& task_id) {
  // Committed before the run starts: if the run takes the process down, the
  // next start finds the count one higher.
  return catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(TaskRecord task, catalog_->GetTask(task_id));
    if (task.attempts >= kTaskQuarantineAttempts) {
      return Internal("the task stopped the server " + std::to_string(task.attempts) +
                      " times; quarantined (it is not run again)");
    }
    ++task.attempts;
    return catalog_->UpdateTask(task);
  });
}

void RegionImpl::EndAttempt(const std::string& task_id) {
  Status st = catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(TaskRecord task, catalog_->GetTask(task_id));
    if (task.attempts == 0) return Status::Ok();
    --task.attempts;
    return catalog_->UpdateTask(task);
  });
  if (!st.ok()) {
    spdlog::warn("region {}: task {}: giving back its attempt: {}", config_.region_id, task_id,
                 st.ToString());
  }
}

void RegionImpl::ReportProgress(const std::string& task_id, int percent) {
  {
    std::lock_guard<std::mutex> lock(progress_mu_);
    auto now = clock_.Steady();
    auto it = last_progress_.find(task_id);
    if (it != last_progress_.end() && now - it->second < kProgressInterval) return;
    last_progress_[task_id] = now;
  }
  Status st = catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(TaskRecord task, catalog_->GetTask(task_id));
    if (task.status != "Processing" || task.progress == percent) return Status::Ok();
    task.progress = percent;
    RETURN_IF_ERROR(catalog_->UpdateTask(task));
    if (task.action == "CreateSnapshot") {
      Result<SnapshotRecord> snap = catalog_->GetSnapshot(task.resource_id);
      // Deleted while progressing (DeleteSnapshot cancels the task).
      if (!snap.ok()) return snap.status().code() == Code::kNotFound ? Status::Ok() : snap.status();
      snap->progress = percent;
      return catalog_->UpdateSnapshot(*snap);
    }
    if (task.action != "ImportImage" && task.action != "CopyImage" && task.action != "CreateImage")
      return Status::Ok();
    ASSIGN_OR_RETURN(ImageRecord image, catalog_->GetImage(task.resource_id));
    image.progress = percent;
    RETURN_IF_ERROR(catalog_->UpdateImage(image));
    for (const DiskMapping& d : image.disks) {
      ASSIGN_OR_RETURN(SnapshotRecord snap, catalog_->GetSnapshot(d.snapshot_id));
      snap.progress = percent;
      RETURN_IF_ERROR(catalog_->UpdateSnapshot(snap));
    }
    return Status::Ok();
  });
  if (!st.ok()) spdlog::warn("region {}: progress of task {}: {}", config_.region_id, task_id, st.ToString());
}

std::optional<ChunkScope> RegionImpl::ScopeFor(const std::string& account_id) const {
  if (config_.dedup_scope == DedupScope::kRegion) return std::nullopt;
  return AccountChunkScope(account_id);
}

Result<Manifest> RegionImpl::Ingest(const std::string& task_id, const std::optional<ChunkScope>& scope, int raw_fd,
                                    const std::string& label,
                                    const std::atomic<bool>* stop, PinLease& lease,
                                    std::function<void(uint64_t, uint64_t)> progress) {
  IngestOptions opts;
  opts.chunk_size = config_.chunk_size;
  opts.threads = std::max(1u, config_.ingest_threads);
  opts.cancel = stop;
  opts.scope = scope;
  opts.progress = std::move(progress);
  opts.pin = [this, &lease, task_id](const ChunkId& id) -> Status {
    RETURN_IF_ERROR(lease.Pin(id));
    if (hooks_.after_chunk_pinned) hooks_.after_chunk_pinned(task_id, id);
    return Status::Ok();
  };
  // The virtual size is bounded before the ingest allocates anything for it
  // (a 4 EiB qcow2 converts to a 4 EiB sparse raw file on some file systems).
  struct stat st {};
  if (::fstat(raw_fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > kMaxDiskBytes) {
    return InvalidArgument("InvalidParameter", "the disk image has a virtual size of " +
                                                   std::to_string(st.st_size) +
                                                   " bytes, more than the maximum " +
                                                   std::to_string(kMaxDiskBytes) + " bytes (32768 GiB)");
  }
  IngestStats stats;
  Result<Manifest> m = IngestRawFd(raw_fd, label, *store_, opts, &stats);
  metrics_.bytes_imported += stats.bytes_read;
  metrics_.chunks_stored += stats.chunks_stored;
  metrics_.chunks_deduped += stats.chunks_deduped;
  return m;
}

// ------------------------------------------------------------ task endings

void RegionImpl::FinishCancelled(const TaskRecord& task) {
  Status st = catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(TaskRecord t, catalog_->GetTask(task.task_id));
    RETURN_IF_ERROR(DropTaskOutputs(t));
    t.status = "Cancelled";
    t.cancel_requested = true;
    t.finished_time = clock_.Now();
    return catalog_->UpdateTask(t);
  });
  if (!st.ok()) {
    spdlog::error("region {}: recording the cancellation of task {} failed: {}", config_.region_id,
                  task.task_id, st.ToString());
  }
  RequestGc();
}

Status RegionImpl::ShownFailure(const Status& why) const {
  // Whatever host paths are left (export temp files, scratch, chunk temp
  // files) are reduced to the bucket-relative or region-relative part.
  return RedactPath(RedactPath(why, oss_.HostPathPrefix(), "OSS "), config_.data_dir + "/", "");
}

void RegionImpl::FinishFailed(const TaskRecord& task, const Status& why) {
  std::string code = why.reason();
  if (code.empty()) code = task.action + "Failed";
  Status shown = ShownFailure(why);
  std::string message = shown.message().empty() ? shown.ToString() : shown.message();
  Status st = catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(TaskRecord t, catalog_->GetTask(task.task_id));
    RETURN_IF_ERROR(FailTaskOutputs(t, code + ": " + message));
    t.status = "Failed";
    t.error_code = code;
    t.error_message = message;
    t.finished_time = clock_.Now();
    return catalog_->UpdateTask(t);
  });
  if (!st.ok()) {
    spdlog::error("region {}: recording the failure of task {} failed: {}", config_.region_id, task.task_id,
                  st.ToString());
  }
  metrics_.tasks_failed++;
  RequestGc();
}

// -------------------------------------------------------------- public image

Status RegionImpl::SeedPublicImage() {
  Result<ImageRecord> existing = catalog_->GetImage(kPublicImageId);
  if (existing.ok()) return Status::Ok();
  if (existing.status().code() != Code::kNotFound) return existing.status();

  std::string work = tmp_dir_ + "/seed-" + RandomHex(6);
  std::string root = work + "/root";
  std::string disk = work + "/disk.raw";
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{work};
  RETURN_IF_ERROR(MakeDirs(root + "/etc"));
  RETURN_IF_ERROR(WriteFileAtomic(root + "/etc/os-release",
                                  "NAME=\"Ferry Linux\"\n"
                                  "VERSION=\"1\"\n"
                                  "ID=ferrylinux\n"
                                  "VERSION_ID=\"1\"\n"
                                  "PRETTY_NAME=\"Ferry Linux 1\"\n"
                                  "HOME_URL=\"https://example.invalid/ferry\"\n"));
  RETURN_IF_ERROR(WriteFileAtomic(root + "/etc/hostname", "ferry\n"));
  RETURN_IF_ERROR(WriteFileAtomic(root + "/README",
                                  "Ferry Linux 1 - the public image seeded in every Ferry region.\n"
                                  "It is a small ext4 file system (label ferry-root) for trying out\n"
                                  "DescribeImages, CopyImage and ExportImage; it does not boot.\n"));
  RETURN_IF_ERROR(MakeExt4Image(root, disk, kPublicImageBytes, "ferry-root"));

  PinLease lease(pins_);
  UniqueFd disk_fd(::open(disk.c_str(), O_RDONLY | O_CLOEXEC));
  if (!disk_fd.valid()) return ErrnoStatus("open", disk, errno);
  ASSIGN_OR_RETURN(Manifest manifest,
                   // Unscoped: the public image is the same known bytes in every region
                   // and account, so sharing its chunks reveals nothing.
                   Ingest("seed", /*scope=*/std::nullopt, disk_fd.get(), disk, nullptr, lease,
                          [](uint64_t, uint64_t) {}));
  RETURN_IF_ERROR(store_->Sync());

  const UnixSeconds now = clock_.Now();
  SnapshotRecord snap;
  snap.snapshot_id = NewResourceId("s");
  snap.account_id = kSystemAccountId;
  snap.description = "System disk of public image " + std::string(kPublicImageId);
  snap.status = "accomplished";
  snap.progress = 100;
  snap.logical_size = manifest.logical_size;
  snap.source_disk_size_gib = CeilGiB(manifest.logical_size);
  snap.source_region_id = config_.region_id;
  snap.content_digest = ToHex(manifest.ContentDigest());
  snap.manifest = EncodeManifest(manifest);
  snap.creation_time = now;
  snap.last_modified_time = now;

  ImageRecord image;
  image.image_id = kPublicImageId;
  image.account_id = kSystemAccountId;
  image.name = "ferrylinux_1_x64_1G_base";
  image.description = "Ferry Linux 1, 64 bit: a small public image present in every region";
  image.status = "Available";
  image.progress = 100;
  image.os_type = "linux";
  image.os_name = "Ferry Linux 1 64 bit";
  image.platform = "Others Linux";
  image.architecture = "x86_64";
  image.boot_mode = "BIOS";
  image.size_gib = snap.source_disk_size_gib;
  DiskMapping m;
  m.snapshot_id = snap.snapshot_id;
  m.size_gib = image.size_gib;
  m.format = "RAW";
  image.disks.push_back(m);
  image.creation_time = now;

  std::shared_lock<std::shared_mutex> gc_lock(gc_mu_);
  Status st = catalog_->Transact([&]() -> Status {
    RETURN_IF_ERROR(lease.CheckHeld());
    RETURN_IF_ERROR(catalog_->InsertSnapshot(snap));
    return catalog_->InsertImage(image);
  });
  lease.Release();
  return st;
}

// ------------------------------------------------------- garbage collection

Status RegionImpl::CollectGarbage(GcStats* stats) {
  GcStats local;
  std::unique_lock<std::shared_mutex> gc_lock(gc_mu_);
  // Registered before the manifests are read: a pin released after this
  // (its manifest committed after) keeps its chunk from this pass.
  ASSIGN_OR_RETURN(ChunkPins::Pass pass, pins_.BeginPass());
  Status swept = Sweep(pass, &local);
  Status ended = pins_.EndPass(pass);
  RETURN_IF_ERROR(swept);
  RETURN_IF_ERROR(ended.WithContext("garbage collection: end of the pass"));
  RETURN_IF_ERROR(RemoveUnusedBases());
  if (stats != nullptr) *stats = local;
  return Status::Ok();
}

Status RegionImpl::Sweep(const ChunkPins::Pass& pass, GcStats* stats) {
  GcStats& local = *stats;
  std::unordered_set<ChunkId, ChunkIdHash> referenced;
  // A manifest that does not decode could reference anything: stop rather
  // than delete chunks it may need.
  RETURN_IF_ERROR(
      catalog_->ForEachManifest([&](const std::string& snapshot_id, const std::vector<uint8_t>& bytes) {
        Result<Manifest> m = DecodeManifest(bytes);
        if (!m.ok()) return m.status().WithContext("garbage collection: manifest of snapshot " + snapshot_id);
        for (const ChunkEntry& e : m->entries) {
          if (!e.zero) referenced.insert(e.id);
        }
        return Status::Ok();
      }));
  // Multipart parts the object storage keeps as chunks (part_chunks.h):
  // read after the pass began, as the manifests are.
  RETURN_IF_ERROR(oss_.ForEachChunkRoot([&](const Digest256& id) { referenced.insert(id); })
                      .WithContext("garbage collection: the chunks of object parts"));
  std::vector<ChunkId> stored;
  RETURN_IF_ERROR(store_->List([&](const ChunkId& id) { stored.push_back(id); }));
  if (hooks_.gc_before_sweep) hooks_.gc_before_sweep();
  for (const ChunkId& id : stored) {
    local.chunks_scanned++;
    if (referenced.count(id) != 0) {
      local.chunks_referenced++;
      continue;
    }
    bool deleted = false;
    RETURN_IF_ERROR(pins_.DeleteUnlessPinned(pass, id, *store_, &deleted));
    if (deleted) local.chunks_deleted++;
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------- fsck

Status RegionImpl::Fsck(FsckReport* report) {
  FsckReport local;
  std::shared_lock<std::shared_mutex> gc_lock(gc_mu_);
  std::unordered_set<ChunkId, ChunkIdHash> present;
  std::vector<ChunkId> stored;
  RETURN_IF_ERROR(store_->List([&](const ChunkId& id) { stored.push_back(id); }));
  for (const ChunkId& id : stored) {
    present.insert(id);
    local.chunks_checked++;
    Result<std::vector<uint8_t>> data = store_->Get(id);
    if (!data.ok()) local.problems.push_back("chunk " + ToHex(id) + ": " + data.status().ToString());
  }
  RETURN_IF_ERROR(
      catalog_->ForEachManifest([&](const std::string& snapshot_id, const std::vector<uint8_t>& bytes) {
        local.manifests_checked++;
        Result<Manifest> m = DecodeManifest(bytes);
        if (!m.ok()) {
          local.problems.push_back("snapshot " + snapshot_id +
                                   ": manifest does not decode: " + m.status().ToString());
          return Status::Ok();
        }
        m->ForEachData([&](uint64_t i, const ChunkEntry& e) {
          if (present.count(e.id) != 0) return;
          local.problems.push_back("snapshot " + snapshot_id + ": chunk " + ToHex(e.id) + " (index " +
                                   std::to_string(i) + ", offset " + std::to_string(i * m->chunk_size) +
                                   ") is missing");
        });
        return Status::Ok();
      }));
  // Object parts kept as chunks (part_chunks.h) name chunks too.
  RETURN_IF_ERROR(oss_.ForEachChunkRoot([&](const Digest256& id) {
    if (present.count(id) == 0)
      local.problems.push_back("chunk " + ToHex(id) + " of an object's part is missing");
  }));
  RETURN_IF_ERROR(FsckDisks(&local));
  if (report != nullptr) *report = std::move(local);
  return Status::Ok();
}

// ------------------------------------------------------------------- Tasks

Result<Page<TaskRecord>> RegionImpl::DescribeTasks(const Caller& c, const DescribeTasksRequest& r) {
  RETURN_IF_ERROR(ValidatePage(r.page_number, r.page_size));
  TaskQuery q;
  q.account_id = c.account_id;
  q.task_ids = r.task_ids;
  q.action = r.task_action;
  // Without a TaskAction, only the actions ECS documents for DescribeTasks:
  // copy rows (TaskAction=CopyImage, a Ferry extension) are listed only when
  // asked for, so ECS clients never meet an action they do not know.
  if (r.task_action.empty()) q.actions = {"ImportImage", "ExportImage"};
  // ECS ignores status values it does not know.
  if (r.task_status == "Finished" || r.task_status == "Processing" || r.task_status == "Failed" ||
      r.task_status == "Cancelled") {
    q.status = r.task_status;
  }
  q.resource_ids = r.resource_ids;
  q.offset = (r.page_number - 1) * r.page_size;
  q.limit = r.page_size;
  return catalog_->ListTasks(q);
}

Result<TaskRecord> RegionImpl::DescribeTaskAttribute(const Caller& c, const std::string& task_id) {
  if (task_id.empty()) return MissingParameter("TaskId");
  Result<TaskRecord> task = catalog_->GetTask(task_id);
  if (!task.ok()) {
    if (task.status().code() == Code::kNotFound) return TaskNotFound(task_id);
    return task.status();
  }
  if (task->account_id != c.account_id) return TaskNotFound(task_id);
  return task;
}

Status RegionImpl::CancelTask(const Caller& c, const std::string& task_id) {
  if (task_id.empty()) return MissingParameter("TaskId");
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    Result<TaskRecord> got = catalog_->GetTask(task_id);
    if (!got.ok()) {
      if (got.status().code() == Code::kNotFound) return TaskNotFound(task_id);
      return got.status();
    }
    TaskRecord task = std::move(got).value();
    if (task.account_id != c.account_id) return TaskNotFound(task_id);
    // ECS 4.15: CancelTask cancels imports and exports only. A snapshot
    // being created is cancelled by deleting it (DeleteSnapshot); an image
    // being created from an instance cannot be cancelled.
    if (task.action != "ImportImage" && task.action != "ExportImage") {
      std::string how = task.action == "CreateSnapshot" ? " (DeleteSnapshot of " + task.resource_id +
                                                              " cancels the creation of that snapshot)"
                                                        : "";
      return PermissionDenied("InvalidTaskId.TaskActionNotSupport",
                              "The specified task action not support: task " + task_id + " is " +
                                  task.action + "; only ImportImage and ExportImage tasks can be cancelled" +
                                  how + ".");
    }
    if (task.status != "Processing") {
      return FailedPrecondition(
          "InvalidTaskId.IncorrectTaskStatus",
          "The specified task status is not invalid: task " + task_id + " is " + task.status + ".");
    }
    task.cancel_requested = true;
    return catalog_->UpdateTask(task);
  }));
  SignalCancel(task_id);
  return Status::Ok();
}

void RegionImpl::SignalCancel(const std::string& task_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = controls_.find(task_id);
  if (it != controls_.end()) {
    it->second->cancel = true;
    it->second->stop = true;
  }
  // A Processing task without a control is not queued in this run (the
  // region is shutting down); the next start sees cancel_requested.
}

}  // namespace ferry
