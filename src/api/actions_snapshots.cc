// Snapshot actions: CreateSnapshot, DescribeSnapshots, DeleteSnapshot.
#include <algorithm>
#include <charconv>
#include <optional>
#include <set>

#include "api/actions_internal.h"
#include "api/views.h"

namespace ferry::actions {
namespace {

using nlohmann::json;

constexpr size_t kMaxSnapshotIds = 100;


// The region holding the caller's own snapshot `snapshot_id`, for actions
// whose current SDK models carry no RegionId. Only the caller's own: the
// snapshots of an image shared with it are visible to DescribeSnapshots but
// not its to change, and must get the answer an unknown id gets.
Result<Region*> RegionOfSnapshot(const RegionSet& regions, const Caller& caller,
                                 const std::string& snapshot_id) {
  DescribeSnapshotsRequest lookup;
  lookup.snapshot_ids = {snapshot_id};
  for (Region* region : regions.ordered) {
    ASSIGN_OR_RETURN(Page<SnapshotRecord> found, region->DescribeSnapshots(caller, lookup));
    for (const SnapshotRecord& s : found.items)
      if (s.account_id == caller.account_id) return region;
  }
  return NotFound("InvalidSnapshotId.NotFound",
                  "The specified snapshot \"" + Echo(snapshot_id) + "\" is not found in " +
                      (regions.ordered.size() == 1 ? "region " + regions.ordered[0]->id() : "any region") +
                      ".");
}

// DescribeSnapshots filters the region's query has no field for (ECS
// combines them with AND). With any set, the handler pages after filtering.
struct SnapshotPostFilter {
  std::string snapshot_type;     // auto | user ("" or all: any)
  std::string source_disk_type;  // system | data, lower case
  std::string usage;             // image | disk | image_disk | none
  std::optional<bool> encrypted;
  std::optional<std::string> kms_key_id;
  std::optional<std::string> disk_id;
  std::optional<std::string> instance_id;
  // The disks of instance_id (their snapshots match it), filled by the
  // handler from DescribeDisks.
  std::set<std::string> instance_disk_ids;
  std::optional<std::string> resource_group_id;
  Tags tags;
  CreationFilter created;

  bool active() const {
    return !snapshot_type.empty() || !source_disk_type.empty() || !usage.empty() || encrypted || kms_key_id ||
           disk_id || instance_id || resource_group_id || !tags.empty() || created.active();
  }
  bool Matches(const SnapshotRecord& s) const {
    // Every snapshot here is one a user (an import, a copy) made.
    if (!snapshot_type.empty() && snapshot_type != "user") return false;
    if (!source_disk_type.empty() && AsciiLower(s.source_disk_type) != source_disk_type) return false;
    if (!usage.empty() && s.usage != usage) return false;
    if (encrypted && s.encrypted != *encrypted) return false;
    if (kms_key_id && s.kms_key_id != *kms_key_id) return false;
    // Only snapshots of disks (CreateSnapshot, CreateImage from an
    // instance) have a SourceDiskId; imports and copies match no disk.
    if (disk_id && !disk_id->empty() && s.source_disk_id != *disk_id) return false;
    if (instance_id && !instance_id->empty() && instance_disk_ids.count(s.source_disk_id) == 0) return false;
    // No snapshot belongs to a resource group (ResourceGroupId ""), so
    // naming one matches nothing.
    if (resource_group_id && !resource_group_id->empty()) return false;
    for (const std::pair<std::string, std::string>& want : tags) {
      // (No structured binding: clang 14 cannot capture one in a lambda.)
      bool found = std::any_of(s.tags.begin(), s.tags.end(), [&want](const std::pair<std::string, std::string>& t) {
        return t.first == want.first && (want.second.empty() || t.second == want.second);
      });
      if (!found) return false;
    }
    return created.Matches(s.creation_time);
  }
};

std::optional<std::string> Optional(const Params& p, const std::string& name) { return p.Get(name); }

Result<SnapshotPostFilter> ParseSnapshotPostFilter(const Params& p) {
  SnapshotPostFilter f;
  const std::string type = AsciiLower(p.GetOr("SnapshotType", "all"));
  if (type != "all" && type != "auto" && type != "user") {
    return NotFound("InvalidSnapshotType.NotFound",
                    "The specified SnapshotType \"" + Echo(type) + "\" is not found; use auto, user or all.");
  }
  if (type != "all") f.snapshot_type = type;
  f.source_disk_type = AsciiLower(p.GetOr("SourceDiskType", ""));
  if (!f.source_disk_type.empty() && f.source_disk_type != "system" && f.source_disk_type != "data") {
    return NotFound("InvalidSourceDiskType", "The specified SourceDiskType \"" + Echo(f.source_disk_type) +
                                                 "\" is not valid; use System or Data.");
  }
  f.usage = p.GetOr("Usage", "");
  if (!f.usage.empty() && f.usage != "image" && f.usage != "disk" && f.usage != "image_disk" && f.usage != "none") {
    return NotFound("InvalidUsage", "The specified Usage \"" + Echo(f.usage) +
                                        "\" is not valid; use image, disk, image_disk or none.");
  }
  if (p.Get("Encrypted")) {
    ASSIGN_OR_RETURN(bool encrypted, p.Bool("Encrypted", false));
    f.encrypted = encrypted;
  }
  const std::string category = AsciiLower(p.GetOr("Category", ""));
  if (!category.empty() && category != "standard" && category != "flash") {
    return InvalidArgument(
        "InvalidSnapshotCategory.Malformed",
        "The specified Category \"" + Echo(category) + "\" is not valid; use Standard or Flash.");
  }
  f.kms_key_id = Optional(p, "KMSKeyId");
  f.disk_id = Optional(p, "DiskId");
  f.instance_id = Optional(p, "InstanceId");
  f.resource_group_id = Optional(p, "ResourceGroupId");
  ASSIGN_OR_RETURN(f.tags, p.TagList());
  ASSIGN_OR_RETURN(f.created, ParseCreationFilter(p));
  return f;
}

}  // namespace

Result<json> DescribeSnapshots(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  DescribeSnapshotsRequest request;
  ASSIGN_OR_RETURN(request.snapshot_ids, p.JsonStringArray("SnapshotIds"));
  if (request.snapshot_ids.size() > kMaxSnapshotIds) {
    return InvalidArgument("InvalidSnapshotIds.Malformed",
                           "The amount of specified specified snapshot Ids exceeds the limit: got " +
                               std::to_string(request.snapshot_ids.size()) + ", at most " +
                               std::to_string(kMaxSnapshotIds) + ".");
  }
  const std::string status = p.GetOr("Status", "all");
  if (status != "all" && status != "progressing" && status != "accomplished" && status != "failed") {
    return NotFound("InvalidStatus.NotFound",
                    "The specified Status \"" + Echo(status) +
                        "\" is not found; use progressing, accomplished, failed or all.");
  }
  request.status = status == "all" ? "" : status;
  request.snapshot_name = p.GetOr("SnapshotName", "");
  ASSIGN_OR_RETURN(SnapshotPostFilter filter, ParseSnapshotPostFilter(p));
  if (filter.instance_id && !filter.instance_id->empty()) {
    DescribeDisksRequest disks;
    disks.instance_id = *filter.instance_id;
    disks.page_size = 100;
    for (disks.page_number = 1;; ++disks.page_number) {
      ASSIGN_OR_RETURN(Page<DiskRecord> page, region->DescribeDisks(ctx.caller, disks));
      for (const DiskRecord& d : page.items) filter.instance_disk_ids.insert(d.disk_id);
      if (page.items.empty() || disks.page_number * disks.page_size >= page.total) break;
    }
  }
  ASSIGN_OR_RETURN(Paging paging, TokenOrPagePaging(p));
  request.page_number = paging.page_number;
  request.page_size = paging.page_size;
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  if (dry_run) return DryRunPassed();

  Page<SnapshotRecord> page;
  if (filter.active()) {
    auto fetch = [&](uint64_t number, uint64_t size) {
      DescribeSnapshotsRequest all = request;
      all.page_number = number;
      all.page_size = size;
      return region->DescribeSnapshots(ctx.caller, all);
    };
    auto keep = [&](const SnapshotRecord& s) { return filter.Matches(s); };
    ASSIGN_OR_RETURN(page, PageAfterFilter<SnapshotRecord>(fetch, keep, paging));
  } else {
    ASSIGN_OR_RETURN(page, region->DescribeSnapshots(ctx.caller, request));
  }
  json snapshots = json::array();
  for (const SnapshotRecord& s : page.items) snapshots.push_back(SnapshotView(s, region->id()));
  const uint64_t next_offset = (paging.page_number - 1) * paging.page_size + page.items.size();
  const bool more = !page.items.empty() && next_offset < page.total;
  return json{
      {"TotalCount", page.total},
      {"PageNumber", paging.page_number},
      {"PageSize", paging.page_size},
      {"NextToken", more ? std::to_string(next_offset) : ""},
      {"Snapshots", json{{"Snapshot", std::move(snapshots)}}},
  };
}

Result<json> CreateSnapshot(ActionContext& ctx) {
  const Params& p = ctx.params;
  CreateSnapshotRequest request;
  ASSIGN_OR_RETURN(request.disk_id, p.Required("DiskId"));
  request.snapshot_name = p.GetOr("SnapshotName", "");
  request.description = p.GetOr("Description", "");
  ASSIGN_OR_RETURN(request.tags, p.TagList());
  ASSIGN_OR_RETURN(request.client_token, p.ClientToken());
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  // Checked against ecs-api.md 4.17, not kept: snapshots here stay until
  // deleted, and every one is instantly accessible.
  RETURN_IF_ERROR(p.Int("RetentionDays", 1, 1, 65536).status());
  RETURN_IF_ERROR(p.Bool("InstantAccess", false).status());
  RETURN_IF_ERROR(p.Int("InstantAccessRetentionDays", 1, 1, 65535).status());
  // Current SDK models carry no RegionId: the region is the disk's.
  Region* region = nullptr;
  if (p.Get("RegionId")) {
    ASSIGN_OR_RETURN(region, ctx.RegionParam());
  } else {
    DescribeDisksRequest lookup;
    lookup.disk_ids = std::vector<std::string>{request.disk_id};
    for (Region* r : ctx.regions.ordered) {
      ASSIGN_OR_RETURN(Page<DiskRecord> found, r->DescribeDisks(ctx.caller, lookup));
      if (!found.items.empty()) {
        region = r;
        break;
      }
    }
    if (region == nullptr) {
      return NotFound("InvalidDiskId.NotFound",
                      "The specified disk \"" + Echo(request.disk_id) + "\" does not exist in any region.");
    }
  }
  if (dry_run) {
    DescribeDisksRequest lookup;
    lookup.disk_ids = std::vector<std::string>{request.disk_id};
    ASSIGN_OR_RETURN(Page<DiskRecord> found, region->DescribeDisks(ctx.caller, lookup));
    if (found.items.empty()) {
      return NotFound("InvalidDiskId.NotFound", "The specified disk \"" + Echo(request.disk_id) +
                                                    "\" does not exist in region " + region->id() + ".");
    }
    return DryRunPassed();
  }
  ASSIGN_OR_RETURN(std::string snapshot_id, region->CreateSnapshot(ctx.caller, request));
  return json{{"SnapshotId", snapshot_id}};
}

Result<json> DeleteSnapshot(ActionContext& ctx) {
  const Params& p = ctx.params;
  ASSIGN_OR_RETURN(std::string snapshot_id, p.Required("SnapshotId"));
  ASSIGN_OR_RETURN(bool force, p.Bool("Force", false));
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  Region* region = nullptr;
  if (p.Get("RegionId")) {
    ASSIGN_OR_RETURN(region, ctx.RegionParam());
  } else {
    ASSIGN_OR_RETURN(region, RegionOfSnapshot(ctx.regions, ctx.caller, snapshot_id));
  }
  if (dry_run) {
    RETURN_IF_ERROR(RegionOfSnapshot(RegionSet{{region}}, ctx.caller, snapshot_id).status());
    return DryRunPassed();
  }
  RETURN_IF_ERROR(region->DeleteSnapshot(ctx.caller, snapshot_id, force));
  return json::object();
}

}  // namespace ferry::actions
