// Instance and disk actions: RunInstances, CreateInstance,
// DescribeInstances, StartInstance, StopInstance, RebootInstance,
// DeleteInstance, ReplaceSystemDisk, DescribeDisks, DescribeUserData,
// DescribeInstanceRamRole.
#include <charconv>

#include "api/actions_internal.h"
#include "api/views.h"
#include "common/hash.h"
#include "region/names.h"

namespace ferry::actions {
namespace {

using nlohmann::json;

// The region of `instance_id`: the RegionId parameter when given (current
// SDK models of the per-instance actions carry none), else the region
// serving an instance of that id for this caller.
Result<Region*> RegionOfInstance(ActionContext& ctx, const std::string& instance_id) {
  if (ctx.params.Get("RegionId")) return ctx.RegionParam();
  DescribeInstancesRequest lookup;
  lookup.instance_ids = std::vector<std::string>{instance_id};
  for (Region* region : ctx.regions.ordered) {
    ASSIGN_OR_RETURN(Page<InstanceRecord> found, region->DescribeInstances(ctx.caller, lookup));
    if (!found.items.empty()) return region;
  }
  return NotFound("InvalidInstanceId.NotFound",
                  "The specified InstanceId \"" + Echo(instance_id) + "\" does not exist.");
}

Result<RunInstancesRequest> ParseRunRequest(const Params& p) {
  RunInstancesRequest r;
  ASSIGN_OR_RETURN(r.image_id, p.Required("ImageId"));
  ASSIGN_OR_RETURN(r.instance_type, p.Required("InstanceType"));
  r.instance_name = p.GetOr("InstanceName", "");
  r.description = p.GetOr("Description", "");
  r.host_name = p.GetOr("HostName", "");
  r.zone_id = p.GetOr("ZoneId", "");
  ASSIGN_OR_RETURN(int64_t size, p.Int("SystemDisk.Size", 0, 1, 1 << 20));
  r.system_disk_size_gib = static_cast<uint64_t>(size);
  r.system_disk_category = p.GetOr("SystemDisk.Category", "");
  r.user_data = p.GetOr("UserData", "");
  r.ram_role_name = p.GetOr("RamRoleName", "");
  ASSIGN_OR_RETURN(r.client_token, p.ClientToken());
  ASSIGN_OR_RETURN(r.dry_run, p.Bool("DryRun", false));
  ASSIGN_OR_RETURN(r.tags, p.TagList());
  r.instance_charge_type = p.GetOr("InstanceChargeType", "");
  if (r.instance_charge_type == "PrePaid") {
    // Period and PeriodUnit are documented for subscriptions only.
    if (p.Get("Period")) {
      Result<int64_t> period = p.Int("Period", 0, 1, 60);
      if (!period.ok()) {
        return InvalidArgument("InvalidPeriod", "The specified period is not valid: Period \"" +
                                                    Echo(p.GetOr("Period", "")) +
                                                    "\" is not a whole number of 1 to 60.");
      }
      r.period = static_cast<int>(*period);
    }
    r.period_unit = p.GetOr("PeriodUnit", "");
  }
  // Checked, not kept: no guest to log into, no link to cap.
  if (std::optional<std::string> password = p.Get("Password")) RETURN_IF_ERROR(ValidatePassword(*password));
  RETURN_IF_ERROR(p.Int("InternetMaxBandwidthOut", 0, 0, 100).status());
  return r;
}

// The OrderId ECS answers for subscriptions: a number made from the
// instances' ids, so a ClientToken replay gets the same one.
std::string OrderId(const std::vector<std::string>& ids) {
  std::string joined;
  for (const std::string& id : ids) joined += id + ",";
  const std::string hex = Sha256Hex(joined);
  std::string digits = "2";
  for (size_t i = 0; digits.size() < 15 && i < hex.size(); ++i) {
    digits.push_back(static_cast<char>('0' + std::stoi(hex.substr(i, 1), nullptr, 16) % 10));
  }
  return digits;
}

std::string NextToken(const Paging& paging, uint64_t total) {
  const uint64_t next = paging.page_number * paging.page_size;
  return next < total ? std::to_string(next) : "";
}

Result<std::optional<std::vector<std::string>>> OptionalIds(const Params& p, const std::string& name) {
  if (!p.Get(name)) return std::optional<std::vector<std::string>>();
  ASSIGN_OR_RETURN(std::vector<std::string> ids, p.JsonStringArray(name));
  return std::optional<std::vector<std::string>>(std::move(ids));
}

// The caller's instance `instance_id` in `region`.
Result<InstanceRecord> FindInstance(Region& region, const Caller& caller, const std::string& instance_id) {
  DescribeInstancesRequest lookup;
  lookup.instance_ids = std::vector<std::string>{instance_id};
  ASSIGN_OR_RETURN(Page<InstanceRecord> found, region.DescribeInstances(caller, lookup));
  if (found.items.empty()) {
    return NotFound("InvalidInstanceId.NotFound",
                    "The specified InstanceId \"" + Echo(instance_id) + "\" does not exist.");
  }
  return std::move(found.items.front());
}

}  // namespace

Result<json> RunInstances(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  ASSIGN_OR_RETURN(RunInstancesRequest request, ParseRunRequest(ctx.params));
  ASSIGN_OR_RETURN(int64_t amount, ctx.params.Int("Amount", 1, 1, 100));
  request.amount = static_cast<int>(amount);
  // All Amount instances are made, so any MinAmount up to Amount holds.
  ASSIGN_OR_RETURN(int64_t min_amount, ctx.params.Int("MinAmount", 1, 1, 100));
  if (min_amount > amount) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"MinAmount\" is not valid: " +
                                                   std::to_string(min_amount) + " is more than Amount (" +
                                                   std::to_string(amount) + ").");
  }
  request.start = true;
  ASSIGN_OR_RETURN(std::vector<std::string> ids, region->RunInstances(ctx.caller, request));
  json out{{"InstanceIdSets", json{{"InstanceIdSet", ids}}}};
  if (request.instance_charge_type == "PrePaid") out["OrderId"] = OrderId(ids);
  return out;
}

Result<json> CreateInstance(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  ASSIGN_OR_RETURN(RunInstancesRequest request, ParseRunRequest(ctx.params));
  request.amount = 1;
  request.start = false;
  ASSIGN_OR_RETURN(std::vector<std::string> ids, region->RunInstances(ctx.caller, request));
  json out{{"InstanceId", ids.empty() ? "" : ids.front()}};
  if (request.instance_charge_type == "PrePaid") out["OrderId"] = OrderId(ids);
  return out;
}

namespace {

// DescribeInstances filters the region does not apply: ZoneId, InstanceType
// and InstanceChargeType match the record; Ferry's instances are in no VPC,
// vSwitch or security group, so a VpcId, VSwitchId or SecurityGroupId filter
// keeps nothing (as their views show: "", "" and []). Tag.N the region
// applies.
struct InstanceFilters {
  std::string zone_id;
  std::string instance_type;
  std::string instance_charge_type;
  bool keeps_nothing = false;

  bool any() const {
    return keeps_nothing || !zone_id.empty() || !instance_type.empty() || !instance_charge_type.empty();
  }
  bool Keeps(const InstanceRecord& i) const {
    return !keeps_nothing && (zone_id.empty() || i.zone_id == zone_id) &&
           (instance_type.empty() || i.instance_type == instance_type) &&
           (instance_charge_type.empty() || i.instance_charge_type == instance_charge_type);
  }
};

InstanceFilters ParseInstanceFilters(const Params& p) {
  InstanceFilters f;
  f.zone_id = p.GetOr("ZoneId", "");
  f.instance_type = p.GetOr("InstanceType", "");
  f.instance_charge_type = p.GetOr("InstanceChargeType", "");
  for (const char* name : {"VpcId", "VSwitchId", "SecurityGroupId"}) {
    if (!p.GetOr(name, "").empty()) f.keeps_nothing = true;
  }
  return f;
}

}  // namespace

Result<json> DescribeInstances(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  DescribeInstancesRequest request;
  ASSIGN_OR_RETURN(request.instance_ids, OptionalIds(p, "InstanceIds"));
  request.image_id = p.GetOr("ImageId", "");
  request.status = p.GetOr("Status", "");
  request.instance_name = p.GetOr("InstanceName", "");
  ASSIGN_OR_RETURN(request.tags, p.TagList());
  const InstanceFilters filters = ParseInstanceFilters(p);
  ASSIGN_OR_RETURN(Paging paging, TokenOrPagePaging(p));
  request.page_number = paging.page_number;
  request.page_size = paging.page_size;
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  if (dry_run) return DryRunPassed();
  Page<InstanceRecord> page;
  if (!filters.any()) {
    ASSIGN_OR_RETURN(page, region->DescribeInstances(ctx.caller, request));
  } else {
    // Filtered here, so before the paging: every region page, then the
    // requested page of what the filters keep.
    std::vector<InstanceRecord> kept;
    DescribeInstancesRequest all = request;
    all.page_size = 100;
    for (all.page_number = 1;; ++all.page_number) {
      ASSIGN_OR_RETURN(Page<InstanceRecord> part, region->DescribeInstances(ctx.caller, all));
      for (InstanceRecord& i : part.items)
        if (filters.Keeps(i)) kept.push_back(std::move(i));
      if (part.items.empty() || all.page_number * all.page_size >= part.total) break;
    }
    page.total = kept.size();
    const uint64_t begin = (paging.page_number - 1) * paging.page_size;
    for (uint64_t n = begin; n < kept.size() && n < begin + paging.page_size; ++n) page.items.push_back(kept[n]);
  }
  json instances = json::array();
  for (const InstanceRecord& i : page.items) instances.push_back(InstanceView(i));
  return json{
      {"TotalCount", page.total},
      {"PageNumber", paging.page_number},
      {"PageSize", paging.page_size},
      {"NextToken", NextToken(paging, page.total)},
      {"Instances", json{{"Instance", std::move(instances)}}},
  };
}

namespace {

using InstanceOp = Status (Region::*)(const Caller&, const std::string&, bool);

Result<json> InstanceAction(ActionContext& ctx, InstanceOp op) {
  ASSIGN_OR_RETURN(std::string instance_id, ctx.params.Required("InstanceId"));
  ASSIGN_OR_RETURN(bool dry_run, ctx.params.Bool("DryRun", false));
  // Accepted and checked; a record has no guest to stop gently.
  RETURN_IF_ERROR(ctx.params.Bool("ForceStop", false).status());
  ASSIGN_OR_RETURN(Region * region, RegionOfInstance(ctx, instance_id));
  RETURN_IF_ERROR((region->*op)(ctx.caller, instance_id, dry_run));
  return json::object();
}

}  // namespace

Result<json> StartInstance(ActionContext& ctx) { return InstanceAction(ctx, &Region::StartInstance); }
Result<json> StopInstance(ActionContext& ctx) { return InstanceAction(ctx, &Region::StopInstance); }
Result<json> RebootInstance(ActionContext& ctx) { return InstanceAction(ctx, &Region::RebootInstance); }

Result<json> DeleteInstance(ActionContext& ctx) {
  ASSIGN_OR_RETURN(std::string instance_id, ctx.params.Required("InstanceId"));
  ASSIGN_OR_RETURN(bool force, ctx.params.Bool("Force", false));
  RETURN_IF_ERROR(ctx.params.Bool("ForceStop", false).status());
  RETURN_IF_ERROR(ctx.params.Bool("TerminateSubscription", false).status());
  ASSIGN_OR_RETURN(bool dry_run, ctx.params.Bool("DryRun", false));
  ASSIGN_OR_RETURN(Region * region, RegionOfInstance(ctx, instance_id));
  RETURN_IF_ERROR(region->DeleteInstance(ctx.caller, instance_id, force, dry_run));
  return json::object();
}

Result<json> ReplaceSystemDisk(ActionContext& ctx) {
  const Params& p = ctx.params;
  ReplaceSystemDiskRequest request;
  ASSIGN_OR_RETURN(request.instance_id, p.Required("InstanceId"));
  ASSIGN_OR_RETURN(request.image_id, p.Required("ImageId"));
  ASSIGN_OR_RETURN(int64_t size, p.Int("SystemDisk.Size", 0, 1, 1 << 20));
  request.system_disk_size_gib = static_cast<uint64_t>(size);
  ASSIGN_OR_RETURN(request.client_token, p.ClientToken());
  // Checked, not kept, as for RunInstances.
  ASSIGN_OR_RETURN(bool inherit, p.Bool("PasswordInherit", false));
  if (std::optional<std::string> password = p.Get("Password")) {
    if (inherit) {
      return InvalidArgument("InvalidPasswordParam.Mismatch",
                             "The specified Password and PasswordInherit=true cannot be used together.");
    }
    RETURN_IF_ERROR(ValidatePassword(*password));
  }
  ASSIGN_OR_RETURN(Region * region, RegionOfInstance(ctx, request.instance_id));
  ASSIGN_OR_RETURN(std::string disk_id, region->ReplaceSystemDisk(ctx.caller, request));
  return json{{"DiskId", disk_id}};
}

Result<json> DescribeDisks(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  DescribeDisksRequest request;
  ASSIGN_OR_RETURN(request.disk_ids, OptionalIds(p, "DiskIds"));
  request.instance_id = p.GetOr("InstanceId", "");
  request.disk_type = p.GetOr("DiskType", "");
  ASSIGN_OR_RETURN(Paging paging, TokenOrPagePaging(p));
  request.page_number = paging.page_number;
  request.page_size = paging.page_size;
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  if (dry_run) return DryRunPassed();
  ASSIGN_OR_RETURN(Page<DiskRecord> page, region->DescribeDisks(ctx.caller, request));
  // A disk's zone is its instance's.
  std::map<std::string, std::string> zones;
  DescribeInstancesRequest owners;
  owners.instance_ids = std::vector<std::string>{};
  for (const DiskRecord& d : page.items)
    if (!d.instance_id.empty()) owners.instance_ids->push_back(d.instance_id);
  owners.page_size = 100;
  ASSIGN_OR_RETURN(Page<InstanceRecord> instances, region->DescribeInstances(ctx.caller, owners));
  for (const InstanceRecord& i : instances.items) zones[i.instance_id] = i.zone_id;
  json disks = json::array();
  for (const DiskRecord& d : page.items) disks.push_back(DiskView(d, region->id(), zones[d.instance_id]));
  return json{
      {"TotalCount", page.total},
      {"PageNumber", paging.page_number},
      {"PageSize", paging.page_size},
      {"NextToken", NextToken(paging, page.total)},
      {"Disks", json{{"Disk", std::move(disks)}}},
  };
}

Result<json> DescribeUserData(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  ASSIGN_OR_RETURN(std::string instance_id, ctx.params.Required("InstanceId"));
  ASSIGN_OR_RETURN(InstanceRecord instance, FindInstance(*region, ctx.caller, instance_id));
  return json{{"RegionId", region->id()}, {"InstanceId", instance.instance_id}, {"UserData", instance.user_data}};
}

Result<json> DescribeInstanceRamRole(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  DescribeInstancesRequest request;
  ASSIGN_OR_RETURN(request.instance_ids, OptionalIds(p, "InstanceIds"));
  ASSIGN_OR_RETURN(Paging paging, PagingParams(p));
  const std::string role = p.GetOr("RamRoleName", "");
  // Only instances with a role (of that name) are listed, so the filter
  // comes before the paging: TotalCount counts them all and every page but
  // the last is full.
  std::vector<InstanceRecord> with_role;
  request.page_size = 100;
  for (request.page_number = 1;; ++request.page_number) {
    ASSIGN_OR_RETURN(Page<InstanceRecord> page, region->DescribeInstances(ctx.caller, request));
    for (InstanceRecord& i : page.items) {
      if (i.ram_role_name.empty() || (!role.empty() && i.ram_role_name != role)) continue;
      with_role.push_back(std::move(i));
    }
    if (page.items.empty() || request.page_number * request.page_size >= page.total) break;
  }
  json sets = json::array();
  const uint64_t begin = (paging.page_number - 1) * paging.page_size;
  for (uint64_t n = begin; n < with_role.size() && n < begin + paging.page_size; ++n) {
    sets.push_back(json{{"InstanceId", with_role[n].instance_id}, {"RamRoleName", with_role[n].ram_role_name}});
  }
  return json{{"RegionId", region->id()},
              {"TotalCount", with_role.size()},
              {"InstanceRamRoleSets", json{{"InstanceRamRoleSet", std::move(sets)}}}};
}

}  // namespace ferry::actions
