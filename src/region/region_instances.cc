// RegionImpl: instances — RunInstances, CreateInstance, DescribeInstances,
// Start/Stop/RebootInstance, DeleteInstance, ReplaceSystemDisk — and their
// state machine:
//
//   RunInstances:    Pending --(disks created)--> Starting --> Running
//   CreateInstance:  Pending --(disks created)--> Stopped
//   StartInstance:   Stopped --> Starting --> Running
//   StopInstance:    Running --> Stopping --> Stopped
//   RebootInstance:  Running --> Starting --> Running
//
// A transitional state lasts config_.instance_transition_ms and is left by a
// job on instance_runner_ that moves the instance on only if it is still in
// that state. Records come before files (region_impl.h): a crash leaves a
// Pending instance whose disks are created at the next open, or an overlay
// no record names, which the next open removes (region_disks.cc).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "common/ids.h"
#include "region/disks/disk_layout.h"
#include "region/names.h"
#include "region/region_impl.h"
#include "region/region_internal.h"
#include "region/subprocess.h"
#include "store/manifest.h"

namespace ferry {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr int kMaxAmount = 100;
constexpr size_t kMaxUserDataBytes = 32 * 1024;
constexpr uint64_t kMinSystemDiskGiB = 20;
constexpr uint64_t kMaxSystemDiskGiB = 500;
constexpr uint64_t kDefaultSystemDiskGiB = 40;
constexpr size_t kMaxInstanceIds = 100;

Status NoInstances(const std::string& region_id) {
  return FailedPrecondition("OperationDenied", "region " + region_id + " does not host instances");
}

Status InstanceNotFound(const std::string& instance_id) {
  return NotFound("InvalidInstanceId.NotFound",
                  "The specified InstanceId \"" + Echo(instance_id) + "\" does not exist.");
}

Status IncorrectStatus(const InstanceRecord& instance, const std::string& needed) {
  return FailedPrecondition("IncorrectInstanceStatus",
                            "The current status of the resource does not support this operation: instance " +
                                instance.instance_id + " is " + instance.status + ", the operation needs " +
                                needed + ".");
}

bool IsBase64(const std::string& s) {
  if (s.size() % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad != 0) return false;  // '=' only at the end
    if (!std::isalnum(c) && c != '+' && c != '/') return false;
  }
  return pad <= 2;
}

Status ValidateInstanceType(const std::string& type) {
  // ecs.<family>.<size>, lower-case letters, digits and '-'.
  bool ok = type.size() <= 64 && type.rfind("ecs.", 0) == 0 && std::count(type.begin(), type.end(), '.') == 2 &&
            type.back() != '.' && type.find("..") == std::string::npos;
  for (char ch : type) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (!(std::islower(c) || std::isdigit(c) || c == '.' || c == '-')) ok = false;
  }
  if (ok) return Status::Ok();
  return InvalidArgument(
      "InvalidInstanceType.ValueNotSupported",
      "The specified InstanceType \"" + Echo(type) + "\" does not exist (ecs.<family>.<size>).");
}

Status ValidateRamRoleName(const std::string& name) {
  bool ok = name.size() <= 64;
  for (char ch : name) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '@')) ok = false;
  }
  if (ok) return Status::Ok();
  return InvalidArgument("InvalidParameter", "The specified parameter \"RamRoleName\" is not valid: 1-64 letters, "
                                             "digits and . - _ @.");
}

// The system disk size in GiB: `requested` (0 = the default) checked
// against the image's size and ECS's range.
Result<uint64_t> SystemDiskSize(uint64_t requested, uint64_t image_gib) {
  if (requested == 0) return std::max(kDefaultSystemDiskGiB, image_gib);
  if (requested < image_gib) {
    return NotFound("InvalidSystemDiskSize.LessThanImageSize",
                    "The specified SystemDisk.Size " + std::to_string(requested) +
                        " GiB is less than the image size (" + std::to_string(image_gib) + " GiB).");
  }
  if (requested > kMaxSystemDiskGiB) {
    return NotFound("InvalidSystemDiskSize.MoreThanMaxSize", "The specified SystemDisk.Size " +
                                                                 std::to_string(requested) +
                                                                 " GiB exceeds the maximum (500 GiB).");
  }
  if (requested < kMinSystemDiskGiB) {
    return InvalidArgument("InvalidSystemDiskSize.ValueNotSupported",
                           "The specified SystemDisk.Size " + std::to_string(requested) +
                               " GiB is not supported: use " + std::to_string(std::max(kMinSystemDiskGiB, image_gib)) +
                               " to 500.");
  }
  return requested;
}

Status ValidateCategory(const std::string& category) {
  static const std::set<std::string> kCategories = {"cloud",     "cloud_efficiency", "cloud_ssd",
                                                    "cloud_essd", "cloud_auto",       "cloud_essd_entry"};
  if (kCategories.count(category) != 0) return Status::Ok();
  return InvalidArgument("InvalidSystemDiskCategory.ValueNotSupported",
                         "The specified SystemDisk.Category \"" + Echo(category) + "\" is not supported.");
}

uint64_t CeilGiB(uint64_t bytes) { return (bytes + kGiB - 1) / kGiB; }

// InstanceChargeType (D21 RunInstances): PostPaid (the default) or PrePaid
// (InvalidInstanceChargeType.NotFound otherwise, 404). A subscription needs
// a Period ("MissingParamter", sic) of Month 1-9, 12, 24, 36, 48 or 60, or
// Week 1-4 (InvalidPeriod). Period and PeriodUnit mean nothing for PostPaid.
Result<std::string> ChargeTypeOf(const RunInstancesRequest& r) {
  const std::string type = r.instance_charge_type.empty() ? "PostPaid" : r.instance_charge_type;
  if (type != "PostPaid" && type != "PrePaid") {
    return NotFound("InvalidInstanceChargeType.NotFound",
                    "The InstanceChargeType \"" + type +
                        "\" does not exist in our records: use PostPaid or "
                        "PrePaid.");
  }
  if (type == "PostPaid") return type;
  if (r.period == 0) {
    return InvalidArgument("MissingParamter",
                           "The specified parameter \"Period\" is not null: a PrePaid instance needs one.");
  }
  const std::string unit = r.period_unit.empty() ? "Month" : r.period_unit;
  static const std::set<int> kMonths = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 24, 36, 48, 60};
  const bool ok =
      unit == "Month" ? kMonths.count(r.period) != 0 : unit == "Week" && r.period >= 1 && r.period <= 4;
  if (!ok) {
    return InvalidArgument("InvalidPeriod", "The specified period is not valid: Period " +
                                                std::to_string(r.period) + " " + unit +
                                                " (Month: 1-9, 12, 24, 36, 48 or 60; Week: 1-4).");
  }
  return type;
}

// `t` plus `period` weeks, or calendar months (the day clamped to the
// month's last: Jan 31 + 1 month is Feb 28 or 29).
UnixSeconds AddPeriod(UnixSeconds t, int period, const std::string& unit) {
  if (unit == "Week") return t + int64_t{period} * 7 * 86400;
  const std::time_t at = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&at, &tm);
  const int day = tm.tm_mday;
  tm.tm_mday = 1;
  tm.tm_mon += period;
  std::tm last = tm;
  last.tm_mon += 1;
  last.tm_mday = 0;  // the day before the 1st of the next month
  ::timegm(&last);
  tm.tm_mday = std::min(day, last.tm_mday);
  return static_cast<UnixSeconds>(::timegm(&tm));
}

}  // namespace

// ------------------------------------------------ Region defaults (no instances)

Result<std::vector<std::string>> Region::RunInstances(const Caller&, const RunInstancesRequest&) {
  return NoInstances(id());
}
Result<Page<InstanceRecord>> Region::DescribeInstances(const Caller&, const DescribeInstancesRequest&) {
  return Page<InstanceRecord>{};
}
Status Region::StartInstance(const Caller&, const std::string& instance_id, bool) {
  return InstanceNotFound(instance_id);
}
Status Region::StopInstance(const Caller&, const std::string& instance_id, bool) {
  return InstanceNotFound(instance_id);
}
Status Region::RebootInstance(const Caller&, const std::string& instance_id, bool) {
  return InstanceNotFound(instance_id);
}
Status Region::DeleteInstance(const Caller&, const std::string& instance_id, bool, bool) {
  return InstanceNotFound(instance_id);
}
Result<std::string> Region::ReplaceSystemDisk(const Caller&, const ReplaceSystemDiskRequest& r) {
  return InstanceNotFound(r.instance_id);
}
Result<Page<DiskRecord>> Region::DescribeDisks(const Caller&, const DescribeDisksRequest&) {
  return Page<DiskRecord>{};
}

// ------------------------------------------------------------- image checks

namespace {

// Disk records for the disks of `image` on `instance_id`: [0] the system
// disk of `system_gib`, then one data disk per data mapping, each on the
// device its mapping names (CreateImage's DiskDeviceMapping.N.Device).
Result<std::vector<DiskRecord>> DisksForImage(Catalog& catalog, const ImageRecord& image, const Caller& c,
                                              const std::string& instance_id, uint64_t system_gib,
                                              const std::string& category, UnixSeconds now) {
  std::vector<DiskRecord> out;
  for (size_t i = 0; i < image.disks.size(); ++i) {
    const DiskMapping& mapping = image.disks[i];
    ASSIGN_OR_RETURN(SnapshotRecord snap, catalog.GetSnapshot(mapping.snapshot_id));
    if (snap.manifest.empty()) {
      return FailedPrecondition("OperationDenied.ImageNotValid",
                                "The snapshot " + snap.snapshot_id + " of image " + image.image_id + " has no data.");
    }
    ASSIGN_OR_RETURN(Manifest m, DecodeManifest(snap.manifest));
    DiskRecord d;
    d.disk_id = NewResourceId("d");
    d.account_id = c.account_id;
    d.instance_id = instance_id;
    d.image_id = image.image_id;
    d.source_snapshot_id = snap.snapshot_id;
    d.base_key = BaseKeyFor(m);
    const uint64_t data_gib = std::max<uint64_t>(1, CeilGiB(m.logical_size));
    d.size_gib = i == 0 ? system_gib : std::max(data_gib, mapping.size_gib);
    d.category = category;
    d.status = "Creating";
    d.type = i == 0 ? "system" : "data";
    d.device =
        mapping.device.empty() ? "/dev/xvd" + std::string(1, static_cast<char>('a' + i)) : mapping.device;
    d.creation_time = now;
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace

// ------------------------------------------------------------- RunInstances

Result<std::vector<std::string>> RegionImpl::RunInstances(const Caller& c, const RunInstancesRequest& r) {
  if (r.image_id.empty()) return MissingParameter("ImageId");
  if (r.instance_type.empty()) return MissingParameter("InstanceType");
  RETURN_IF_ERROR(ValidateInstanceType(r.instance_type));
  if (r.amount < 1 || r.amount > kMaxAmount) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"Amount\" must be 1 to 100, got " +
                                                   std::to_string(r.amount) + ".");
  }
  if (!r.instance_name.empty()) RETURN_IF_ERROR(ValidateImageName(r.instance_name, "InvalidInstanceName.Malformed"));
  if (!r.host_name.empty()) RETURN_IF_ERROR(ValidateHostName(r.host_name, /*windows=*/false));
  RETURN_IF_ERROR(ValidateDescription(r.description));
  if (r.user_data.size() > kMaxUserDataBytes) {
    return InvalidArgument("InvalidUserData.SizeExceeded", "The specified UserData is " +
                                                               std::to_string(r.user_data.size()) +
                                                               " bytes, more than 32 KiB.");
  }
  if (!IsBase64(r.user_data)) {
    return InvalidArgument("InvalidUserData.Base64FormatInvalid", "The specified UserData is not valid Base64.");
  }
  RETURN_IF_ERROR(ValidateRamRoleName(r.ram_role_name));
  RETURN_IF_ERROR(ValidateTags(r.tags));
  ASSIGN_OR_RETURN(const std::string charge_type, ChargeTypeOf(r));
  const std::string period_unit = r.period_unit.empty() ? "Month" : r.period_unit;
  const std::string category = r.system_disk_category.empty() ? "cloud_essd" : r.system_disk_category;
  RETURN_IF_ERROR(ValidateCategory(category));
  const std::string zone = r.zone_id.empty() ? config_.region_id + "-a" : r.zone_id;
  if (zone.rfind(config_.region_id + "-", 0) != 0) {
    return NotFound("InvalidZoneId.NotFound", "The specified ZoneId \"" + Echo(zone) +
                                                  "\" is not in region " + config_.region_id + ".");
  }
  const std::string action = r.start ? "RunInstances" : "CreateInstance";
  const std::string fingerprint = Fingerprint({{"ImageId", r.image_id},
                                               {"InstanceType", r.instance_type},
                                               {"InstanceName", r.instance_name},
                                               {"Description", r.description},
                                               {"HostName", r.host_name},
                                               {"ZoneId", zone},
                                               {"SystemDiskSize", r.system_disk_size_gib},
                                               {"Category", category},
                                               {"Amount", r.amount},
                                               {"UserData", r.user_data},
                                               {"RamRoleName", r.ram_role_name},
                                               {"Tags", TagsJson(r.tags)},
                                               {"InstanceChargeType", charge_type},
                                               {"Period", charge_type == "PrePaid" ? r.period : 0},
                                               {"PeriodUnit", charge_type == "PrePaid" ? period_unit : ""}});
  if (r.dry_run) {
    ASSIGN_OR_RETURN(ImageRecord image, UsableImage(c, r.image_id));
    RETURN_IF_ERROR(SystemDiskSize(r.system_disk_size_gib, image.size_gib).status());
    return DryRunPassed();
  }
  if (stopping()) return Unavailable("region " + config_.region_id + " is shutting down");

  std::vector<std::string> ids;
  bool replayed = false;
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(std::optional<std::string> previous,
                     CheckClientToken(*catalog_, c.account_id, action, r.client_token, fingerprint));
    if (previous) {
      for (size_t start = 0; start < previous->size();) {
        size_t comma = previous->find(',', start);
        if (comma == std::string::npos) comma = previous->size();
        ids.push_back(previous->substr(start, comma - start));
        start = comma + 1;
      }
      replayed = true;
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(ImageRecord image, UsableImage(c, r.image_id));
    ASSIGN_OR_RETURN(uint64_t system_gib, SystemDiskSize(r.system_disk_size_gib, image.size_gib));
    if (!r.host_name.empty() && image.os_type == "windows") {
      RETURN_IF_ERROR(ValidateHostName(r.host_name, /*windows=*/true));
    }
    const UnixSeconds now = clock_.Now();
    for (int n = 0; n < r.amount; ++n) {
      InstanceRecord inst;
      inst.instance_id = NewResourceId("i");
      inst.account_id = c.account_id;
      inst.region_id = config_.region_id;
      inst.name = r.instance_name.empty() ? inst.instance_id : r.instance_name;
      inst.description = r.description;
      inst.host_name = r.host_name.empty() ? "iZ" + inst.instance_id.substr(2) + "Z" : r.host_name;
      inst.instance_type = r.instance_type;
      inst.zone_id = zone;
      inst.status = "Pending";
      inst.image_id = image.image_id;
      inst.user_data = r.user_data;
      inst.ram_role_name = r.ram_role_name;
      inst.creation_time = now;
      inst.auto_start = r.start;
      inst.tags = r.tags;
      inst.instance_charge_type = charge_type;
      if (charge_type == "PrePaid") inst.expired_time = AddPeriod(now, r.period, period_unit);
      ASSIGN_OR_RETURN(std::vector<DiskRecord> disks,
                       DisksForImage(*catalog_, image, c, inst.instance_id, system_gib, category, now));
      RETURN_IF_ERROR(catalog_->InsertInstance(inst));
      for (const DiskRecord& d : disks) RETURN_IF_ERROR(catalog_->InsertDisk(d));
      ids.push_back(inst.instance_id);
    }
    if (!r.client_token.empty()) {
      std::string joined;
      for (const std::string& id : ids) joined += (joined.empty() ? "" : ",") + id;
      RETURN_IF_ERROR(catalog_->PutClientToken(c.account_id, action, r.client_token, {fingerprint, joined}));
    }
    return Status::Ok();
  }));
  if (!replayed) {
    const bool start = r.start;
    instance_runner_->Post(std::chrono::milliseconds(0),
                           [this, ids, start] { CreateInstanceDisks(ids, start); });
  }
  return ids;
}

void RegionImpl::CreateInstanceDisks(const std::vector<std::string>& instance_ids, bool start) {
  bool failed_any = false;
  for (const std::string& id : instance_ids) {
    if (stopping()) return;  // left Pending: the next open resumes it
    DiskQuery q;
    q.instance_id = id;
    Result<Page<DiskRecord>> disks = catalog_->ListDisks(q);
    Status st = disks.status();
    if (st.ok()) {
      for (const DiskRecord& d : disks->items) {
        if (d.status != "Creating") continue;
        st = CreateDiskFile(d);
        if (!st.ok()) break;
      }
    }
    if (st.ok()) {
      st = catalog_->Transact([&]() -> Status {
        ASSIGN_OR_RETURN(InstanceRecord inst, catalog_->GetInstance(id));
        if (inst.status != "Pending") return Status::Ok();
        for (DiskRecord d : disks->items) {
          d.status = "In_use";
          RETURN_IF_ERROR(catalog_->UpdateDisk(d));
        }
        inst.status = start ? "Starting" : "Stopped";
        if (start) inst.start_time = clock_.Now();
        return catalog_->UpdateInstance(inst);
      });
      if (st.ok() && start) PostTransition(id, "Starting", "Running");
    }
    if (st.ok()) continue;
    // Cleanly failed: the instance and its disks go, records first.
    spdlog::error("region {}: instance {} could not be created, releasing it: {}", config_.region_id, id,
                  st.ToString());
    failed_any = true;
    std::vector<std::string> disk_ids;
    Status cleanup = catalog_->Transact([&]() -> Status {
      DiskQuery dq;
      dq.instance_id = id;
      ASSIGN_OR_RETURN(Page<DiskRecord> owned, catalog_->ListDisks(dq));
      for (const DiskRecord& d : owned.items) {
        disk_ids.push_back(d.disk_id);
        RETURN_IF_ERROR(catalog_->DeleteDisk(d.disk_id));
      }
      return catalog_->DeleteInstance(id);
    });
    if (!cleanup.ok()) {
      spdlog::error("region {}: instance {} not released: {}", config_.region_id, id, cleanup.ToString());
      continue;
    }
    for (const std::string& d : disk_ids) (void)disks_->DeleteDisk(d);
  }
  if (failed_any) (void)RemoveUnusedBases();
}

void RegionImpl::PostTransition(const std::string& instance_id, const std::string& from, const std::string& to) {
  instance_runner_->Post(std::chrono::milliseconds(config_.instance_transition_ms),
                         [this, instance_id, from, to] { FinishTransition(instance_id, from, to); });
}

Status RegionImpl::RunInstanceHook(const std::string& instance_id, const std::string& action,
                                   const std::string& system_disk_id) {
  if (config_.instance_hook.empty()) return Status::Ok();
  std::string disk_id = system_disk_id;
  if (disk_id.empty()) {
    DiskQuery q;
    q.instance_id = instance_id;
    ASSIGN_OR_RETURN(Page<DiskRecord> disks, catalog_->ListDisks(q));
    for (const DiskRecord& d : disks.items) {
      if (d.type == "system") disk_id = d.disk_id;
    }
  }
  std::string disk_path;
  if (!disk_id.empty()) {
    ASSIGN_OR_RETURN(disk_path, disks_->DiskPath(disk_id));
  }
  ProcessOptions options;
  options.deadline = kInstanceHookDeadline;
  ASSIGN_OR_RETURN(ProcessResult run,
                   RunProcess({config_.instance_hook, instance_id, action, disk_path}, options));
  if (run.exit_code != 0 || run.deadline_exceeded) {
    return Internal("instance hook " + config_.instance_hook + " " + action + " " + instance_id + ": " +
                    (run.deadline_exceeded ? "did not finish in time" : DescribeFailure({config_.instance_hook}, run)));
  }
  return Status::Ok();
}

void RegionImpl::FinishTransition(const std::string& instance_id, const std::string& from, const std::string& to) {
  // The hypervisor's say comes first: a start it refuses leaves the
  // instance Stopped.
  std::string reached = to;
  if (from == "Starting" || from == "Stopping") {
    Status hooked = RunInstanceHook(instance_id, to == "Running" ? "start" : "stop");
    if (!hooked.ok()) {
      spdlog::warn("region {}: {}", config_.region_id, hooked.ToString());
      if (to == "Running") reached = "Stopped";
    }
  }
  Status st = catalog_->Transact([&]() -> Status {
    Result<InstanceRecord> inst = catalog_->GetInstance(instance_id);
    if (!inst.ok()) return inst.status().code() == Code::kNotFound ? Status::Ok() : inst.status();
    if (inst->status != from) return Status::Ok();  // deleted or moved on meanwhile
    inst->status = reached;
    return catalog_->UpdateInstance(*inst);
  });
  if (!st.ok()) {
    spdlog::error("region {}: instance {} not moved from {} to {}: {}", config_.region_id, instance_id, from, to,
                  st.ToString());
  }
}

// -------------------------------------------------------- DescribeInstances

Result<Page<InstanceRecord>> RegionImpl::DescribeInstances(const Caller& c, const DescribeInstancesRequest& r) {
  RETURN_IF_ERROR(ValidatePage(r.page_number, r.page_size));
  if (r.instance_ids && r.instance_ids->size() > kMaxInstanceIds) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"InstanceIds\" holds " +
                                                   std::to_string(r.instance_ids->size()) +
                                                   " ids, more than 100.");
  }
  static const std::set<std::string> kStatuses = {"Pending", "Running", "Starting", "Stopping", "Stopped"};
  if (!r.status.empty() && kStatuses.count(r.status) == 0) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"Status\" has an unknown value \"" +
                                                   Echo(r.status) +
                                                   "\" (Pending, Running, Starting, Stopping, Stopped).");
  }
  InstanceQuery q;
  q.account_id = c.account_id;
  q.instance_ids = r.instance_ids;
  q.image_id = r.image_id;
  if (!r.status.empty()) q.statuses = {r.status};
  q.name_pattern = r.instance_name;
  q.tags = r.tags;
  q.offset = (r.page_number - 1) * r.page_size;
  q.limit = r.page_size;
  return catalog_->ListInstances(q);
}

// ------------------------------------------------- Start / Stop / Reboot

namespace {

// The caller's instance `instance_id`, inside a transaction.
Result<InstanceRecord> OwnInstance(Catalog& catalog, const Caller& c, const std::string& instance_id) {
  if (instance_id.empty()) return MissingParameter("InstanceId");
  Result<InstanceRecord> got = catalog.GetInstance(instance_id);
  if (!got.ok()) {
    if (got.status().code() == Code::kNotFound) return InstanceNotFound(instance_id);
    return got.status();
  }
  if (got->account_id != c.account_id) return InstanceNotFound(instance_id);
  return got;
}

}  // namespace

// Start, stop and reboot: from `from`, through `via` (shown for the
// transition time), to `to`. Starting sets the start time.
Status RegionImpl::MoveInstance(const Caller& c, const std::string& instance_id, bool dry_run, const char* from,
                                const char* via, const char* to) {
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(InstanceRecord inst, OwnInstance(*catalog_, c, instance_id));
    if (inst.status != from) return IncorrectStatus(inst, from);
    if (dry_run) return DryRunPassed();
    inst.status = via;
    if (std::string_view(via) == "Starting") inst.start_time = clock_.Now();
    return catalog_->UpdateInstance(inst);
  }));
  PostTransition(instance_id, via, to);
  return Status::Ok();
}

Status RegionImpl::StartInstance(const Caller& c, const std::string& instance_id, bool dry_run) {
  return MoveInstance(c, instance_id, dry_run, "Stopped", "Starting", "Running");
}

Status RegionImpl::StopInstance(const Caller& c, const std::string& instance_id, bool dry_run) {
  return MoveInstance(c, instance_id, dry_run, "Running", "Stopping", "Stopped");
}

Status RegionImpl::RebootInstance(const Caller& c, const std::string& instance_id, bool dry_run) {
  return MoveInstance(c, instance_id, dry_run, "Running", "Starting", "Running");
}

// ----------------------------------------------------------- DeleteInstance

Status RegionImpl::DeleteInstance(const Caller& c, const std::string& instance_id, bool force, bool dry_run) {
  std::vector<std::string> disk_ids;
  std::string system_disk_id;
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(InstanceRecord inst, OwnInstance(*catalog_, c, instance_id));
    if (inst.status == "Pending") {
      return PermissionDenied("IncorrectInstanceStatus.Initializing",
                              "The specified instance " + instance_id + " is initializing.");
    }
    if (inst.status != "Stopped" && !force) return IncorrectStatus(inst, "Stopped (or Force=true)");
    if (dry_run) return DryRunPassed();
    DiskQuery q;
    q.instance_id = instance_id;
    ASSIGN_OR_RETURN(Page<DiskRecord> disks, catalog_->ListDisks(q));
    for (const DiskRecord& d : disks.items) {
      disk_ids.push_back(d.disk_id);
      if (d.type == "system") system_disk_id = d.disk_id;
      RETURN_IF_ERROR(catalog_->DeleteDisk(d.disk_id));
    }
    return catalog_->DeleteInstance(instance_id);
  }));
  // The hypervisor lets go of the disks before their files go (outside the
  // transaction: the hook may take its time).
  if (Status hooked = RunInstanceHook(instance_id, "delete", system_disk_id); !hooked.ok()) {
    spdlog::warn("region {}: {}", config_.region_id, hooked.ToString());
  }
  for (const std::string& id : disk_ids) {
    Result<bool> removed = disks_->DeleteDisk(id);
    if (!removed.ok()) {
      // The record is gone: the overlay is an orphan the next open removes.
      spdlog::warn("region {}: overlay of disk {} not removed: {}", config_.region_id, id,
                   removed.status().ToString());
    }
  }
  Status st = RemoveUnusedBases();
  if (!st.ok()) spdlog::warn("region {}: base files not collected: {}", config_.region_id, st.ToString());
  return Status::Ok();
}

// -------------------------------------------------------- ReplaceSystemDisk

Result<std::string> RegionImpl::ReplaceSystemDisk(const Caller& c, const ReplaceSystemDiskRequest& r) {
  if (r.instance_id.empty()) return MissingParameter("InstanceId");
  if (r.image_id.empty()) return MissingParameter("ImageId");
  const std::string fingerprint =
      Fingerprint({{"InstanceId", r.instance_id}, {"ImageId", r.image_id}, {"Size", r.system_disk_size_gib}});
  DiskRecord fresh;
  std::optional<std::string> previous;
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(previous,
                     CheckClientToken(*catalog_, c.account_id, "ReplaceSystemDisk", r.client_token, fingerprint));
    if (previous) return Status::Ok();
    ASSIGN_OR_RETURN(InstanceRecord inst, OwnInstance(*catalog_, c, r.instance_id));
    if (inst.status != "Stopped") {
      return PermissionDenied("IncorrectInstanceStatus", "The current status of the resource does not support "
                                                         "this operation: instance " + inst.instance_id + " is " +
                                                         inst.status + ", the operation needs Stopped.");
    }
    DiskQuery q;
    q.instance_id = r.instance_id;
    ASSIGN_OR_RETURN(Page<DiskRecord> disks, catalog_->ListDisks(q));
    for (const DiskRecord& d : disks.items) {
      if (d.status == "Creating") {
        return PermissionDenied("IncorrectInstanceStatus",
                                "The system disk of instance " + inst.instance_id + " is being replaced.");
      }
    }
    ASSIGN_OR_RETURN(ImageRecord image, UsableImage(c, r.image_id));
    // ECS 4.22: a system disk comes from a system-disk-only image.
    if (image.disks.size() > 1) {
      return FailedPrecondition(
          "OperationDenied",
          "The specified image contains the snapshot of the data disk,does not support this "
          "operation: image " +
              image.image_id + " has " + std::to_string(image.disks.size() - 1) + " data disk(s).");
    }
    ASSIGN_OR_RETURN(uint64_t gib, SystemDiskSize(r.system_disk_size_gib, image.size_gib));
    std::string category = "cloud_essd";
    for (const DiskRecord& d : disks.items)
      if (d.type == "system") category = d.category;  // the category stays
    ImageRecord system_only = image;
    system_only.disks.resize(1);
    ASSIGN_OR_RETURN(std::vector<DiskRecord> made,
                     DisksForImage(*catalog_, system_only, c, inst.instance_id, gib, category, clock_.Now()));
    fresh = made[0];
    return catalog_->InsertDisk(fresh);
  }));
  if (previous) return *previous;

  Status created = CreateDiskFile(fresh);
  std::string old_disk;
  Status st = created;
  if (created.ok()) {
    st = catalog_->Transact([&]() -> Status {
      // The instance may have been deleted meanwhile (with this record).
      ASSIGN_OR_RETURN(DiskRecord d, catalog_->GetDisk(fresh.disk_id));
      ASSIGN_OR_RETURN(InstanceRecord inst, catalog_->GetInstance(r.instance_id));
      DiskQuery q;
      q.instance_id = r.instance_id;
      q.disk_type = "system";
      ASSIGN_OR_RETURN(Page<DiskRecord> systems, catalog_->ListDisks(q));
      for (const DiskRecord& s : systems.items) {
        if (s.disk_id == fresh.disk_id) continue;
        old_disk = s.disk_id;
        RETURN_IF_ERROR(catalog_->DeleteDisk(s.disk_id));
      }
      d.status = "In_use";
      RETURN_IF_ERROR(catalog_->UpdateDisk(d));
      inst.image_id = r.image_id;
      RETURN_IF_ERROR(catalog_->UpdateInstance(inst));
      if (!r.client_token.empty()) {
        RETURN_IF_ERROR(
            catalog_->PutClientToken(c.account_id, "ReplaceSystemDisk", r.client_token, {fingerprint, d.disk_id}));
      }
      return Status::Ok();
    });
  }
  if (!st.ok()) {
    // Cleanly failed: the new disk goes, the old one stays.
    (void)catalog_->DeleteDisk(fresh.disk_id);
    (void)disks_->DeleteDisk(fresh.disk_id);
    (void)RemoveUnusedBases();
    if (st.code() == Code::kNotFound && st.reason() == "InvalidInstanceId.NotFound") {
      return InstanceNotFound(r.instance_id);
    }
    return st;
  }
  if (!old_disk.empty()) (void)disks_->DeleteDisk(old_disk);
  (void)RemoveUnusedBases();
  return fresh.disk_id;
}

}  // namespace ferry
