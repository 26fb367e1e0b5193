// Views: catalog records rendered as the JSON objects of ECS responses.
//
// Every key, nesting and scalar type follows the declared ECS response models
// (Go/Java SDKs decode into typed structs): lists are wrapped as
// {"Tag":[...]} even when empty, image Size is an integer while
// DiskDeviceMapping.Size is a string, Progress is a "NN%" string, images and
// snapshots use second-precision times and tasks minute precision.
//
// Threading: pure functions, safe from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "api/response_writer.h"
#include "catalog/catalog.h"
#include "region/region.h"

namespace ferry {

// 37 -> "37%" (clamped to 0..100).
std::string ProgressPercent(int progress);

// {"Tag":[{"TagKey":..,"TagValue":..}]}.
nlohmann::json TagsView(const Tags& tags);

// "system" for public images, "self" for the caller's own, "others" else.
std::string ImageOwnerAlias(const std::string& owner_account_id, const std::string& caller_account_id);

// The owner account id as the int64 ECS declares ImageOwnerId to be; 0 for
// public images (and for ids that are not decimal).
int64_t ImageOwnerId(const std::string& owner_account_id);

struct ImageViewOptions {
  std::string caller_account_id;
  // Snapshots known to be encrypted: their DiskDeviceMapping says so.
  std::set<std::string> encrypted_snapshot_ids;
};

// One element of DescribeImages' Images.Image: its members, written into the
// item `w` has begun. Copies in progress show their ETA as
// DiskDeviceMapping.RemainTime, plus Ferry extensions present only when
// non-zero: CopyQueuePosition (1-based while Waiting), CopyRemainTime
// (seconds), CopyWireBytes and CopyDataBytes (while a copy is Creating).
void WriteImage(ResponseWriter& w, const ImageRecord& image, const ImageViewOptions& options);
// The whole DescribeImages success body (with `request_id`), as RenderSuccess
// would render {RegionId, TotalCount, PageNumber, PageSize, Images: {Image:
// [...]}}.
std::string DescribeImagesBody(ResponseFormat format, const std::string& request_id, const std::string& region_id,
                               const Page<ImageRecord>& page, uint64_t page_number, uint64_t page_size,
                               const ImageViewOptions& options);
// One image as a JSON object (for tests and callers that want a tree).
nlohmann::json ImageView(const ImageRecord& image, const ImageViewOptions& options);

// One element of DescribeImageSharePermission's Accounts.Account: AliyunId
// as the string the ECS model declares, SharedTime to the second.
nlohmann::json ShareAccountView(const ImageShareRecord& share);

// One element of DescribeSnapshots' Snapshots.Snapshot.
nlohmann::json SnapshotView(const SnapshotRecord& snapshot, const std::string& region_id);

// "true" while an import or export can still be cancelled.
std::string TaskSupportCancel(const TaskRecord& task);

// One element of DescribeTasks' TaskSet.Task.
nlohmann::json TaskView(const TaskRecord& task);

// The whole DescribeTaskAttribute body (without RequestId). The task's params
// JSON becomes RelatedItemSet entries; nested values are flattened to
// "Parent.N.Child" names so every Value is a string.
nlohmann::json TaskAttributeView(const TaskRecord& task, const std::string& region_id);

// One element of DescribeInstances' Instances.Instance (views_instances.cc),
// the documented skeleton with Cpu/Memory derived from the instance type.
nlohmann::json InstanceView(const InstanceRecord& instance);
// One element of DescribeDisks' Disks.Disk.
nlohmann::json DiskView(const DiskRecord& disk, const std::string& region_id, const std::string& zone_id);

// One element of DescribeRegions' Regions.Region; `endpoint` is the Ferry
// process serving it ("HOST:PORT").
nlohmann::json RegionView(const RegionConfig& config, bool english, const std::string& endpoint);

}  // namespace ferry
