#include "api/views.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>

#include "api/errors.h"
#include "common/clock.h"

namespace ferry {
namespace {

using nlohmann::json;

// Records keep 0 for "not yet"; ECS prints an empty string rather than 1970.
std::string SecondsOrEmpty(UnixSeconds t) { return t == 0 ? "" : FormatTimeSeconds(t); }
std::string MinutesOrEmpty(UnixSeconds t) { return t == 0 ? "" : FormatTimeMinutes(t); }

// RemainTime is declared int32; an ETA beyond that is as good as unknown.
int64_t RemainTimeSeconds(int64_t seconds) {
  return std::clamp<int64_t>(seconds, 0, std::numeric_limits<int32_t>::max());
}

void WriteDiskMapping(ResponseWriter& w, const DiskMapping& disk, const ImageRecord& image,
                      const ImageViewOptions& options) {
  // Ferry extensions of an imported disk, absent otherwise: what the disk
  // holds ("gpt: ext4") and the format the inspector found in the file.
  if (!disk.detected_content.empty()) w.String("DetectedContent", disk.detected_content);
  if (!disk.detected_format.empty()) w.String("DetectedFormat", disk.detected_format);
  w.String("Device", disk.device);
  w.Bool("Encrypted", options.encrypted_snapshot_ids.count(disk.snapshot_id) != 0);
  w.String("Format", disk.format);
  w.String("ImportOSSBucket", disk.import_bucket);
  w.String("ImportOSSObject", disk.import_object);
  // A disk is as far along as its image: they are created together.
  w.String("Progress", ProgressPercent(image.progress));
  w.Int("RemainTime", RemainTimeSeconds(image.remain_time_seconds));
  char size[24];
  auto [size_end, ec] = std::to_chars(size, size + sizeof size, disk.size_gib);
  w.String("Size", std::string_view(size, size_end - size));
  w.String("SnapshotId", disk.snapshot_id);
  w.String("Type", disk.type);
}

// Appends (name, value) pairs for every scalar under `value`; objects add
// ".Key", arrays ".N" (1-based, as ECS list parameters count).
void FlattenInto(const std::string& name, const json& value, json* items) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items())
      FlattenInto(name.empty() ? key : name + "." + key, child, items);
    return;
  }
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      FlattenInto(name + "." + std::to_string(i + 1), value[i], items);
    return;
  }
  if (value.is_null()) return;
  items->push_back(
      json{{"Name", name}, {"Value", value.is_string() ? value.get<std::string>() : value.dump()}});
}

std::string OperationStatus(const std::string& task_status) {
  if (task_status == "Finished") return "Success";
  return task_status;  // Processing | Failed | Cancelled
}

}  // namespace

std::string ProgressPercent(int progress) { return std::to_string(std::clamp(progress, 0, 100)) + "%"; }

json TagsView(const Tags& tags) {
  json list = json::array();
  for (const auto& [key, value] : tags) list.push_back(json{{"TagKey", key}, {"TagValue", value}});
  return json{{"Tag", std::move(list)}};
}

std::string ImageOwnerAlias(const std::string& owner_account_id, const std::string& caller_account_id) {
  if (owner_account_id == kSystemAccountId) return "system";
  if (owner_account_id == caller_account_id) return "self";
  return "others";
}

int64_t ImageOwnerId(const std::string& owner_account_id) {
  int64_t id = 0;
  const char* end = owner_account_id.data() + owner_account_id.size();
  auto [ptr, ec] = std::from_chars(owner_account_id.data(), end, id);
  if (ec != std::errc() || ptr != end) return 0;
  return id;
}

void WriteImage(ResponseWriter& w, const ImageRecord& image, const ImageViewOptions& options) {
  // Members in nlohmann::json's order (by key), as ResponseWriter needs.
  w.String("Architecture", image.architecture);
  w.String("BootMode", image.boot_mode);
  // Ferry extensions for copies in progress; absent otherwise, so responses
  // for everything else look exactly like ECS's. While a copy is Creating:
  // bytes received over the network so far (what a link cap limits) and
  // bytes of the disks' data present so far (chunks already held are not
  // fetched again, zeros never are), so a client can show the wire rate and
  // the logical rate apart.
  const bool copy_bytes = image.status == "Creating" && image.is_copied &&
                          (image.copy_wire_bytes > 0 || image.copy_data_bytes > 0);
  if (copy_bytes) w.Uint("CopyDataBytes", image.copy_data_bytes);
  if (image.queue_position != 0) w.Uint("CopyQueuePosition", image.queue_position);
  if (image.remain_time_seconds > 0) w.Int("CopyRemainTime", RemainTimeSeconds(image.remain_time_seconds));
  if (copy_bytes) w.Uint("CopyWireBytes", image.copy_wire_bytes);
  // Why an image is CreateFailed ("InvalidImageFormat.Malformed: disk image
  // ...: the file is empty"), the error of the task that made it.
  if (image.status == "CreateFailed" && !image.failure_reason.empty())
    w.String("CreateFailedReason", RedactHostPaths(image.failure_reason));
  TimeText created;
  w.String("CreationTime", image.creation_time == 0 ? "" : FormatTimeSecondsTo(image.creation_time, created));
  w.String("Description", image.description);
  w.BeginObject("DiskDeviceMappings");
  w.BeginList("DiskDeviceMapping");
  for (const DiskMapping& disk : image.disks) {
    w.BeginItem();
    WriteDiskMapping(w, disk, image, options);
    w.EndItem();
  }
  w.EndList();
  w.EndObject();
  w.String("ImageFamily", image.image_family);
  w.String("ImageId", image.image_id);
  w.String("ImageName", image.name);
  w.String("ImageOwnerAlias", ImageOwnerAlias(image.account_id, options.caller_account_id));
  w.Int("ImageOwnerId", ImageOwnerId(image.account_id));
  w.String("ImageVersion", image.image_version);
  w.Bool("IsCopied", image.is_copied);
  w.Bool("IsPublic", image.account_id == kSystemAccountId);
  // Declared as a string by the ECS model.
  w.String("IsSelfShared", image.is_self_shared ? "true" : "false");
  w.Bool("IsSubscribed", false);
  w.Bool("IsSupportCloudinit", true);
  w.Bool("IsSupportIoOptimized", true);
  w.String("LicenseType", image.license_type);
  w.String("OSName", image.os_name);
  w.String("OSNameEn", image.os_name);
  w.String("OSType", image.os_type);
  w.String("Platform", image.platform);
  w.String("ProductCode", "");
  w.String("Progress", ProgressPercent(image.progress));
  w.String("ResourceGroupId", image.resource_group_id);
  w.Uint("Size", image.size_gib);
  w.String("Status", image.status);
  w.BeginObject("Tags");
  w.BeginList("Tag");
  for (const auto& [key, value] : image.tags) {
    w.BeginItem();
    w.String("TagKey", key);
    w.String("TagValue", value);
    w.EndItem();
  }
  w.EndList();
  w.EndObject();
  w.String("Usage", "instance");
}

std::string DescribeImagesBody(ResponseFormat format, const std::string& request_id, const std::string& region_id,
                               const Page<ImageRecord>& page, uint64_t page_number, uint64_t page_size,
                               const ImageViewOptions& options) {
  ResponseWriter w(format, "DescribeImages", request_id);
  // An image without tags or a description takes 850-900 bytes of JSON: no
  // copy as the body grows, and below malloc's mmap threshold (128 KiB) for
  // a page of 100.
  w.Reserve(1024 + page.items.size() * 1100);
  w.BeginObject("Images");
  w.BeginList("Image");
  for (const ImageRecord& image : page.items) {
    w.BeginItem();
    WriteImage(w, image, options);
    w.EndItem();
  }
  w.EndList();
  w.EndObject();
  w.Uint("PageNumber", page_number);
  w.Uint("PageSize", page_size);
  w.String("RegionId", region_id);
  w.Uint("TotalCount", page.total);
  return std::move(w).Finish();
}

json ImageView(const ImageRecord& image, const ImageViewOptions& options) {
  ResponseWriter w = ResponseWriter::Object(ResponseFormat::kJson, "Image");
  WriteImage(w, image, options);
  return json::parse(std::move(w).Finish());
}

json ShareAccountView(const ImageShareRecord& share) {
  return json{{"AliyunId", share.account_id}, {"SharedTime", SecondsOrEmpty(share.shared_time)}};
}

json SnapshotView(const SnapshotRecord& s, const std::string& region_id) {
  const UnixSeconds modified = s.last_modified_time != 0 ? s.last_modified_time : s.creation_time;
  return json{
      {"SnapshotId", s.snapshot_id},
      {"SnapshotName", s.name},
      {"Description", s.description},
      {"Status", s.status},
      {"Progress", ProgressPercent(s.progress)},
      {"RemainTime", 0},
      {"CreationTime", SecondsOrEmpty(s.creation_time)},
      {"LastModifiedTime", SecondsOrEmpty(modified)},
      {"SourceDiskId", s.source_disk_id},
      {"SourceDiskSize", std::to_string(s.source_disk_size_gib)},
      {"SourceDiskType", s.source_disk_type},
      {"SourceStorageType", "disk"},
      {"SnapshotType", "user"},
      {"SnapshotLinkId", ""},
      {"Usage", s.usage},
      {"Encrypted", s.encrypted},
      {"KMSKeyId", s.kms_key_id},
      {"ProductCode", ""},
      {"RetentionDays", 0},
      {"InstantAccess", false},
      {"InstantAccessRetentionDays", 0},
      {"Category", "standard"},
      {"SnapshotSN", ""},
      {"ResourceGroupId", ""},
      {"Available", s.status == "accomplished"},
      {"SourceRegionId", s.source_region_id},
      {"SourceSnapshotId", s.source_snapshot_id},
      {"RegionId", region_id},
      {"FullSnapshotSizeInBytes", s.logical_size},
      {"Tags", TagsView(s.tags)},
  };
}

std::string TaskSupportCancel(const TaskRecord& task) {
  const bool cancellable = task.status == "Processing" && !task.cancel_requested &&
                           (task.action == "ImportImage" || task.action == "ExportImage");
  return cancellable ? "true" : "false";
}

json TaskView(const TaskRecord& task) {
  json view{
      {"TaskId", task.task_id},
      {"TaskAction", task.action},
      {"TaskStatus", task.status},
      {"SupportCancel", TaskSupportCancel(task)},
      {"CreationTime", MinutesOrEmpty(task.creation_time)},
      {"FinishedTime", MinutesOrEmpty(task.finished_time)},
      {"ResourceId", task.resource_id},
  };
  // Ferry extensions of a failed task, absent otherwise: the listing says
  // why, as DescribeTaskAttribute's OperationProgress does.
  if (task.status == "Failed" && !task.error_code.empty()) {
    view["ErrorCode"] = task.error_code;
    view["ErrorMsg"] = RedactHostPaths(task.error_message);
  }
  return view;
}

json TaskAttributeView(const TaskRecord& task, const std::string& region_id) {
  json items = json::array();
  // A task whose params are not JSON still describes itself; it just has no
  // related items.
  json params = json::parse(task.params, nullptr, /*allow_exceptions=*/false);
  if (params.is_object()) FlattenInto("", params, &items);

  json operation{
      {"OperationStatus", OperationStatus(task.status)},
      {"ErrorCode", task.error_code},
      // Stored when the task failed; shown through the same redaction as error bodies.
      {"ErrorMsg", RedactHostPaths(task.error_message)},
      {"RelatedItemSet", json{{"RelatedItem", std::move(items)}}},
  };
  const bool failed = task.status == "Failed" || task.status == "Cancelled";
  return json{
      {"RegionId", region_id},
      {"TaskId", task.task_id},
      {"TaskAction", task.action},
      {"TaskStatus", task.status},
      {"TaskProcess", ProgressPercent(task.progress)},
      {"SupportCancel", TaskSupportCancel(task)},
      {"CreationTime", MinutesOrEmpty(task.creation_time)},
      {"FinishedTime", MinutesOrEmpty(task.finished_time)},
      {"TotalCount", 1},
      {"SuccessCount", task.status == "Finished" ? 1 : 0},
      {"FailedCount", failed ? 1 : 0},
      {"OperationProgressSet", json{{"OperationProgress", json::array({std::move(operation)})}}},
  };
}

json RegionView(const RegionConfig& config, bool english, const std::string& endpoint) {
  const std::string& name = english ? config.local_name_en : config.local_name_zh;
  return json{
      {"RegionId", config.region_id},
      {"LocalName", name.empty() ? config.region_id : name},
      {"RegionEndpoint", endpoint},
      {"Status", "available"},
  };
}

}  // namespace ferry
