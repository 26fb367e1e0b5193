// RegionImpl: the import and export tasks. An import reads each disk's
// object through one descriptor (inspected, converted by qemu-img when it is
// not raw, ingested) and commits every manifest at once; an export
// materializes the image's disks from the chunk store (converted when asked)
// into scratch files and streams them into the bucket (ObjectStore puts).
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/fs_util.h"
#include "common/log_safe.h"
#include "region/disk_tools.h"
#include "region/export_etag.h"
#include "region/image_inspector.h"
#include "region/region_impl.h"
#include "region/region_internal.h"

namespace ferry {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

uint64_t CeilGiB(uint64_t bytes) { return std::max<uint64_t>(1, (bytes + kGiB - 1) / kGiB); }

int Percent(double fraction) { return std::clamp(static_cast<int>(fraction * 100.0), 0, 99); }

// Removes a scratch file when the step that made it ends, however it ends.
class ScratchFile {
 public:
  explicit ScratchFile(std::string path = "") : path_(std::move(path)) {}
  ~ScratchFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;
  void Reset(std::string path) {
    if (!path_.empty()) ::unlink(path_.c_str());
    path_ = std::move(path);
  }
  void Keep() { path_.clear(); }

 private:
  std::string path_;
};

// The import read one inode throughout; refuse if its bytes may have changed
// while it was read (someone wrote the file in place: only the operator can).
Status CheckUnchanged(int fd, const struct stat& before, const std::string& label) {
  struct stat now {};
  if (::fstat(fd, &now) != 0) return ErrnoStatus("stat", label, errno);
  if (now.st_dev != before.st_dev || now.st_ino != before.st_ino || now.st_size != before.st_size ||
      now.st_mtim.tv_sec != before.st_mtim.tv_sec || now.st_mtim.tv_nsec != before.st_mtim.tv_nsec ||
      now.st_ctim.tv_sec != before.st_ctim.tv_sec || now.st_ctim.tv_nsec != before.st_ctim.tv_nsec) {
    return InvalidArgument("InvalidImageFormat.Malformed",
                           "disk image " + label + " changed while it was being imported; import it again");
  }
  return Status::Ok();
}

// Chunks of `m` that hold data (holes are not stored), for the job's log line.
uint64_t DataChunks(const Manifest& m) {
  uint64_t n = 0;
  for (const ChunkEntry& e : m.entries) {
    if (!e.zero) n += e.count;
  }
  return n;
}

// What the disk holds, for the owner to read; a failure to tell is
// "unknown", never a failed import.
std::string DescribeDiskContent(int fd, uint64_t size, const std::string& label) {
  Result<DiskContent> content = DetectDiskContent(fd, size, label);
  return content.ok() ? content->Describe() : "unknown";
}

}  // namespace

// -------------------------------------------------------------------- import

// An object kept as parts that are chunks of this store (part_chunks.h), on
// chunk boundaries (`ferry image import` uploads parts of one chunk): the
// disk's manifest is the list of its parts, and only the chunks the
// inspector reads are fetched: the first and the last (the format's
// headers and footers), then the first of each partition (its file
// system). Every chunk is pinned and found in the store before the
// manifest is returned.
Result<std::optional<Manifest>> RegionImpl::ManifestFromParts(const TaskRecord& task, const DiskMapping& disk,
                                                              PinLease& lease, std::string* content) {
  const std::optional<Manifest> none;
  if (!part_chunks_) return none;
  // Any error is the ordinary read's to tell.
  Result<std::optional<ObjectChunkLayout>> layout =
      oss_.ChunkLayout(task.account_id, disk.import_bucket, disk.import_object);
  if (!layout.ok() || !*layout) return none;
  const ObjectChunkLayout& l = **layout;
  const uint64_t size = l.info.size;
  const uint32_t chunk = kDefaultChunkSize;
  std::vector<uint64_t> starts;
  uint64_t at = 0;
  for (size_t k = 0; k < l.parts.size(); ++k) {
    const ObjectChunkLayout::Part& p = l.parts[k];
    const bool last = k + 1 == l.parts.size();
    if (!last && p.size % chunk != 0) return none;
    if (!p.zeros && (!p.chunk || p.size > chunk || (!last && p.size != chunk))) return none;
    starts.push_back(at);
    at += p.size;
  }
  if (size == 0 || at != size) return none;

  const std::string label = "OSS object " + disk.import_bucket + "/" + disk.import_object;
  const std::string path = tmp_dir_ + "/" + task.task_id + "-inspect";
  ScratchFile scratch(path);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("create", path, errno);
  if (::ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return ErrnoStatus("size", path, errno);
  std::vector<bool> filled(l.parts.size(), false);
  auto fill_at = [&](uint64_t offset) -> Status {  // the part holding `offset`
    const size_t k =
        static_cast<size_t>(std::upper_bound(starts.begin(), starts.end(), offset) - starts.begin()) - 1;
    const ObjectChunkLayout::Part& p = l.parts[k];
    if (filled[k] || p.zeros) return Status::Ok();
    filled[k] = true;
    ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, store_->Get(*p.chunk));
    if (bytes.size() != p.size) return DataLoss("a part of " + label + " is not the size of its chunk");
    return PwriteFull(fd.get(), bytes.data(), bytes.size(), starts[k], "the inspected head of " + label);
  };
  RETURN_IF_ERROR(fill_at(0));
  RETURN_IF_ERROR(fill_at(size - 1));
  ASSIGN_OR_RETURN(ImageFacts facts, CheckImportImage(fd.get(), size, disk.format, label));
  if (facts.format != ImageFormat::kRaw) return none;
  Result<DiskContent> found = DetectDiskContent(fd.get(), size, label);
  if (found.ok() && !found->partition_starts.empty()) {
    for (uint64_t start : found->partition_starts) {
      RETURN_IF_ERROR(fill_at(start));
      RETURN_IF_ERROR(fill_at(std::min(size, start + kFileSystemProbeBytes) - 1));
    }
    found = DetectDiskContent(fd.get(), size, label);
  }
  *content = found.ok() ? found->Describe() : "unknown";

  ManifestBuilder built(size, chunk);
  for (const ObjectChunkLayout::Part& p : l.parts) {
    if (p.zeros) {
      built.AddHolesUntil(built.next_index() + Manifest::ChunksFor(p.size, chunk));
      continue;
    }
    RETURN_IF_ERROR(lease.Pin(*p.chunk));
    ASSIGN_OR_RETURN(const bool there, store_->Has(*p.chunk));
    if (!there) return DataLoss("a chunk of " + label + " is missing from the store (ferry fsck tells more)");
    built.AddData(*p.chunk);
  }
  return std::optional<Manifest>(built.Finish());
}

Status RegionImpl::RunImport(const TaskRecord& task, TaskControl& control) {
  ASSIGN_OR_RETURN(ImageRecord image, catalog_->GetImage(task.resource_id));
  const size_t n = image.disks.size();
  if (n == 0) return Internal("image " + image.image_id + " of task " + task.task_id + " has no disks");
  std::vector<Manifest> manifests(n);
  std::vector<std::string> formats(n);
  std::vector<std::string> detected(n), contents(n);
  PinLease lease(pins_);
  for (size_t i = 0; i < n; ++i) {
    const DiskMapping& disk = image.disks[i];
    const std::string label = "OSS object " + disk.import_bucket + "/" + disk.import_object;
    // One descriptor for the whole disk: the inspector, qemu-img (as
    // /proc/self/fd/3) and ingest all read the inode opened here, never a
    // path that could be swapped in between (untrusted-images.md section 4).
    ASSIGN_OR_RETURN(std::optional<Manifest> from_parts, ManifestFromParts(task, disk, lease, &contents[i]));
    if (from_parts) {
      formats[i] = ImportFormatForQemuDriver("raw");
      detected[i] = "raw";
      manifests[i] = std::move(*from_parts);
      control.data_bytes += manifests[i].DataBytes();
      control.chunks += DataChunks(manifests[i]);
      ReportProgress(task.task_id, Percent(static_cast<double>(i + 1) / static_cast<double>(n)));
      spdlog::info("region {}: task {} took {} chunks of {} from its parts", config_.region_id, task.task_id,
                   DataChunks(manifests[i]), LogSafe(label));
      continue;
    }
    const auto reading = std::chrono::steady_clock::now();
    Result<OpenObject> opened = oss_.OpenForRead(task.account_id, disk.import_bucket, disk.import_object);
    if (!opened.ok()) return EcsObjectStatus(opened.status());
    spdlog::debug("region {}: task {} opened {} ({} bytes) in {:.3f} s", config_.region_id, task.task_id,
                  LogSafe(label), opened->info.size,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - reading).count());
    UniqueFd source = std::move(opened->fd);
    std::string raw;
    ScratchFile scratch;
    const std::optional<ChunkScope> scope = ScopeFor(task.account_id);
    auto ingest_disk = [&]() -> Status {
      struct stat before {};
      if (::fstat(source.get(), &before) != 0) return ErrnoStatus("stat", label, errno);
      ASSIGN_OR_RETURN(ImageFacts facts, CheckImportImage(source.get(), static_cast<uint64_t>(before.st_size),
                                                          disk.format, label));
      formats[i] = ImportFormatForQemuDriver(ImageFormatName(facts.format));
      detected[i] = ImageFormatName(facts.format);
      if (hooks_.after_image_inspected) hooks_.after_image_inspected(task.task_id, i);
      auto progress = [this, &task, i, n](uint64_t done, uint64_t total) {
        double part = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
        ReportProgress(task.task_id, Percent((static_cast<double>(i) + part) / static_cast<double>(n)));
      };
      if (facts.format == ImageFormat::kRaw) {
        contents[i] = DescribeDiskContent(source.get(), facts.virtual_size, label);
        ASSIGN_OR_RETURN(manifests[i],
                         Ingest(task.task_id, scope, source.get(), label, &control.stop, lease, progress));
        return CheckUnchanged(source.get(), before, label);
      }
      RETURN_IF_ERROR(CheckWithQemuInfo(source.get(), &facts, label, &control.stop));
      raw = tmp_dir_ + "/" + task.task_id + "-" + std::to_string(i) + ".raw";
      scratch.Reset(raw);
      RETURN_IF_ERROR(ConvertImageFd(source.get(), facts, raw, "raw", label, "InvalidImageFormat.Malformed",
                                     &control.stop));
      RETURN_IF_ERROR(CheckUnchanged(source.get(), before, label));
      UniqueFd converted(::open(raw.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!converted.valid()) return ErrnoStatus("open", raw, errno);
      struct stat out {};
      if (::fstat(converted.get(), &out) != 0) return ErrnoStatus("stat", raw, errno);
      if (static_cast<uint64_t>(out.st_size) != facts.virtual_size) {
        return InvalidArgument("InvalidImageFormat.Malformed",
                               "disk image " + label + ": converted to " + std::to_string(out.st_size) +
                                   " bytes, its header says " + std::to_string(facts.virtual_size));
      }
      contents[i] = DescribeDiskContent(converted.get(), facts.virtual_size, label);
      ASSIGN_OR_RETURN(manifests[i], Ingest(task.task_id, scope, converted.get(), "the converted " + label,
                                            &control.stop, lease, progress));
      return Status::Ok();
    };
    Status st = ingest_disk();
    RETURN_IF_ERROR(RedactPath(st, raw, "the converted " + label));
    control.data_bytes += manifests[i].DataBytes();
    control.chunks += DataChunks(manifests[i]);
  }
  // Shutdown or cancel before the commit: nothing is recorded.
  if (control.stop) return Cancelled("task " + task.task_id + " stopped before commit");
  RETURN_IF_ERROR(store_->Sync());

  const UnixSeconds now = clock_.Now();
  std::shared_lock<std::shared_mutex> gc_lock(gc_mu_);
  Status st = catalog_->Transact([&]() -> Status {
    RETURN_IF_ERROR(lease.CheckHeld());
    ASSIGN_OR_RETURN(TaskRecord current, catalog_->GetTask(task.task_id));
    if (current.cancel_requested) return Cancelled("task " + task.task_id + " was cancelled");
    if (current.status != "Processing") return Cancelled("task " + task.task_id + " is " + current.status);
    ASSIGN_OR_RETURN(ImageRecord img, catalog_->GetImage(task.resource_id));
    return CommitImageManifests(
        img, manifests, current, now, [&](size_t i, SnapshotRecord& snap, DiskMapping& disk) {
          snap.source_disk_size_gib = std::max(CeilGiB(manifests[i].logical_size), disk.size_gib);
          disk.size_gib = snap.source_disk_size_gib;
          disk.format = formats[i];
          disk.detected_format = detected[i];
          disk.detected_content = contents[i];
          if (i == 0) img.size_gib = disk.size_gib;
        });
  });
  lease.Release();
  return st;
}

// -------------------------------------------------------------------- export

// Publishes the finished export file as the object itself (ObjectStore::
// PutFile: a hard link in FsObjectStore, so no second copy; holes stay
// holes). A raw export brings its digests (`known`: the ETag from the
// manifest, region/export_etag.h, and the CRC-64 the materialize computed),
// so nothing is read back; a converted one is hashed by one read of its
// data extents (an MD5 multipart ETag).
Status RegionImpl::PublishExport(const TaskRecord& task, const std::string& bucket, const std::string& object,
                                 const std::string& path, const std::optional<KnownFileDigests>& known,
                                 TaskControl& control) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("open", path, errno);
  if (control.stop) return Cancelled("task " + task.task_id + " stopped");
  PutOptions options;
  options.max_bytes = ObjectStore::kMaxObjectBytes;
  options.known_digests = known;
  return oss_.PutFile(task.account_id, bucket, object, fd.get(), options).status();
}

Status RegionImpl::RunExport(const TaskRecord& task, TaskControl& control) {
  std::string bucket, format;
  std::vector<std::string> objects;  // [0] the system disk's, then the data disks'
  try {
    nlohmann::json params = nlohmann::json::parse(task.params);
    bucket = params.at("OSSBucket").get<std::string>();
    objects.push_back(params.at("OSSObject").get<std::string>());
    format = params.at("ImageFormat").get<std::string>();
    // Absent for one-disk images (and in tasks made before data disks were
    // exported: those export the system disk, as they did).
    for (const nlohmann::json& o : params.value("DataDiskOSSObjects", nlohmann::json::array()))
      objects.push_back(o.get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    return Internal("task " + task.task_id + " has unreadable parameters: " + e.what());
  }
  ASSIGN_OR_RETURN(ImageRecord image, catalog_->GetImage(task.resource_id));
  if (image.disks.size() < objects.size()) {
    return Internal("image " + image.image_id + " has " + std::to_string(image.disks.size()) +
                    " disks, its export task " + task.task_id + " names " + std::to_string(objects.size()));
  }

  // Allow-listed target drivers only; no -o options are ever passed, so no
  // backing file, data file or multi-file VMDK can be asked for.
  const std::string driver = QemuDriverForExportFormat(format);
  if (driver.empty())
    return InvalidArgument("InvalidParameter", "export format " + format + " is not supported");
  const bool convert = driver != "raw";
  const size_t n = objects.size();
  std::vector<std::unique_ptr<ScratchFile>> scratches;
  std::vector<std::string> targets;
  std::vector<std::optional<KnownFileDigests>> digests(n);  // raw exports' (export_etag.h)
  uint64_t data_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    ASSIGN_OR_RETURN(SnapshotRecord snap, catalog_->GetSnapshot(image.disks[i].snapshot_id));
    ASSIGN_OR_RETURN(Manifest manifest, DecodeManifest(snap.manifest));
    // Chunks are read by their object digests (ChunkStore::GetWithObjectDigest)
    // only where this region's store took them from its own encoding of a
    // plaintext it hashed: snapshots made here. A copy's digests were checked
    // against the source's word on arrival, so its chunks are decoded and
    // hashed against their ids (chunk_format.md, "Object digest").
    if (snap.source_region_id != config_.region_id || !snap.source_snapshot_id.empty()) {
      for (ChunkEntry& e : manifest.entries) e.object_digest.reset();
    }
    data_bytes += manifest.DataBytes();
    control.data_bytes += manifest.DataBytes();
    control.chunks += DataChunks(manifest);
    RETURN_IF_ERROR(EcsObjectStatus(oss_.GetBucket(task.account_id, bucket).status()));
    const std::string target = tmp_dir_ + "/" + task.task_id + "-" + std::to_string(i) + ".export";
    scratches.push_back(std::make_unique<ScratchFile>(target));
    targets.push_back(target);
    MaterializeOptions opts;
    opts.cancel = &control.stop;
    opts.progress = [this, &task, convert, i, n](uint64_t done, uint64_t total) {
      double part = total == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total);
      ReportProgress(task.task_id, Percent((static_cast<double>(i) + (convert ? part * 0.5 : part)) /
                                           static_cast<double>(n)));
    };
    const std::string label =
        "the export of image " + image.image_id + (i == 0 ? "" : " (data disk " + std::to_string(i) + ")");
    if (!convert) {
      // Nothing reads the file back: its CRC-64 comes from the workers.
      uint64_t crc64 = 0;
      opts.crc64 = &crc64;
      opts.drop_cache = true;
      RETURN_IF_ERROR(MaterializeRawFile(manifest, *store_, target, opts));
      digests[i] = KnownFileDigests{ExportObjectEtag(manifest), crc64};
      continue;
    }
    std::string raw = tmp_dir_ + "/" + task.task_id + "-" + std::to_string(i) + ".raw";
    ScratchFile raw_scratch(raw);
    RETURN_IF_ERROR(MaterializeRawFile(manifest, *store_, raw, opts));
    if (control.stop) return Cancelled("task " + task.task_id + " stopped");
    // The stored image is raw bytes and is read as raw, never probed.
    UniqueFd raw_fd(::open(raw.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!raw_fd.valid()) return ErrnoStatus("open", raw, errno);
    ImageFacts source;
    source.format = ImageFormat::kRaw;
    source.virtual_size = manifest.logical_size;
    Status converted = ConvertImageFd(raw_fd.get(), source, target, driver, label, "", &control.stop);
    if (converted.code() == Code::kCancelled) return converted;
    if (!converted.ok()) return Internal(converted.message());
    // The output must be what was asked for and pass the same safety check
    // as an import before it is published for the tenant to use elsewhere.
    UniqueFd out(::open(target.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!out.valid()) return ErrnoStatus("open", target, errno);
    struct stat out_st {};
    if (::fstat(out.get(), &out_st) != 0) return ErrnoStatus("stat", target, errno);
    ASSIGN_OR_RETURN(ImageFacts facts, InspectImage(out.get(), static_cast<uint64_t>(out_st.st_size), label));
    if (ImageFormatName(facts.format) != driver) {
      return Internal(label + " inspects as " + ImageFormatName(facts.format) + ", not " + driver);
    }
  }
  if (control.stop) return Cancelled("task " + task.task_id + " stopped");
  ASSIGN_OR_RETURN(TaskRecord current, catalog_->GetTask(task.task_id));
  if (current.cancel_requested) return Cancelled("task " + task.task_id + " was cancelled");
  // The data disks first, the system disk (the object the task names) last;
  // a failure takes back what was published, so an export is whole or absent.
  for (size_t k = n; k-- > 0;) {
    Status published = PublishExport(task, bucket, objects[k], targets[k], digests[k], control);
    if (!published.ok()) {
      for (size_t j = k + 1; j < n; ++j) (void)oss_.DeleteObject(task.account_id, bucket, objects[j]);
      return EcsObjectStatus(published);
    }
  }
  metrics_.bytes_exported += data_bytes;
  return catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(TaskRecord t, catalog_->GetTask(task.task_id));
    t.status = "Finished";
    t.progress = 100;
    t.finished_time = clock_.Now();
    return catalog_->UpdateTask(t);
  });
}

}  // namespace ferry
