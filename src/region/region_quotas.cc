// RegionImpl: what quotas measure, and giving staging objects back when the
// import that read them ends. The quota rules are in quotas.h.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "region/region_impl.h"

namespace ferry {

void RegionImpl::ReleaseStagingOf(const std::string& task_id) {
  Result<TaskRecord> task = catalog_->GetTask(task_id);
  // Still Processing: stopped by shutdown, it resumes and ends later.
  if (!task.ok() || task->action != "ImportImage" || task->status == "Processing") return;
  nlohmann::json params = nlohmann::json::parse(task->params, nullptr, /*allow_exceptions=*/false);
  if (!params.is_object() || !params.contains("Disks") || !params["Disks"].is_array()) return;
  for (const nlohmann::json& d : params["Disks"]) {
    if (!d.is_object()) continue;
    std::string bucket = d.value("OSSBucket", std::string());
    std::string object = d.value("OSSObject", std::string());
    Status st = oss_.ReleaseStaging(bucket, object, task_id);
    if (!st.ok()) {
      spdlog::warn("region {}: staging object {}/{} of task {} not released: {}", config_.region_id, bucket,
                   object, task_id, st.ToString());
    }
  }
}

void RegionImpl::ReleaseEndedStaging() {
  for (const StagingClaim& claim : oss_.ListStagingClaims()) {
    // A task this catalog does not know is another region's: that region
    // releases it when it opens.
    Result<TaskRecord> task = catalog_->GetTask(claim.task_id);
    if (task.ok() && task->status != "Processing") ReleaseStagingOf(claim.task_id);
  }
}

Result<uint64_t> RegionImpl::ImportSourceBytes(const Caller& c, const std::vector<ImportDisk>& disks) {
  uint64_t total = 0;
  for (const ImportDisk& d : disks) {
    Result<uint64_t> bytes = oss_.ObjectStoredBytes(c.account_id, d.oss_bucket, d.oss_object);
    if (!bytes.ok()) return EcsObjectStatus(bytes.status());
    total += *bytes;
  }
  return total;
}

uint64_t RegionImpl::DiskDataBytes(const DiskRecord& disk) {
  uint64_t total = 0;
  if (!disk.source_snapshot_id.empty()) {
    Result<SnapshotRecord> snap = catalog_->GetSnapshot(disk.source_snapshot_id);
    if (snap.ok()) total += QuotaMeter::ManifestDataBytes(snap->manifest);
  }
  Result<DiskInfo> info = disks_->DescribeDisk(disk.disk_id);
  if (info.ok()) total += info->allocated_bytes;
  return total;
}

Status RegionImpl::CheckDiskSnapshotQuota(const Caller& c, const std::vector<DiskRecord>& disks) {
  uint64_t adding = 0;
  for (const DiskRecord& d : disks) adding += DiskDataBytes(d);
  return CheckStorageQuota(oss_, c.account_id, adding);
}

uint64_t RegionImpl::ImageDataBytes(const ImageRecord& image) {
  uint64_t total = 0;
  for (const DiskMapping& d : image.disks) {
    Result<SnapshotRecord> snap = catalog_->GetSnapshot(d.snapshot_id);
    if (snap.ok()) total += QuotaMeter::ManifestDataBytes(snap->manifest);
  }
  return total;
}

}  // namespace ferry
