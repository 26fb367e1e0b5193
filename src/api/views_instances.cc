// Views of instances and disks (views.h). Types follow the declared ECS
// response models: Cpu and Memory (MiB) are integers, Size (GiB) an
// integer, times minute precision ("2017-12-10T04:04Z").
#include <cctype>
#include <string>

#include "api/views.h"
#include "common/hash.h"

namespace ferry {
namespace {

using nlohmann::json;

std::string MinutesOrEmpty(UnixSeconds t) { return t == 0 ? "" : FormatTimeMinutes(t); }

// vCPUs of ecs.<family>.<size>: small 1, large 2, xlarge 4, <N>xlarge 4N.
int CpuOf(const std::string& type) {
  const std::string size = type.substr(type.rfind('.') + 1);
  if (size == "small" || size == "tiny" || size == "nano" || size == "micro") return 1;
  if (size == "large" || size == "medium") return 2;
  if (size == "xlarge") return 4;
  size_t digits = 0;
  while (digits < size.size() && std::isdigit(static_cast<unsigned char>(size[digits]))) ++digits;
  if (digits > 0 && digits <= 3 && size.substr(digits) == "xlarge") return 4 * std::stoi(size.substr(0, digits));
  return 2;
}

// A stable private address per instance (VpcAttributes.PrivateIpAddress is
// read at [0] without a length check by some clients).
std::string PrivateIp(const std::string& instance_id) {
  const std::string h = Sha256Hex(instance_id);
  auto byte = [&](size_t i) { return std::stoi(h.substr(2 * i, 2), nullptr, 16); };
  return "172.16." + std::to_string(byte(0)) + "." + std::to_string(1 + byte(1) % 254);
}

}  // namespace

json InstanceView(const InstanceRecord& i) {
  const int cpu = CpuOf(i.instance_type);
  return json{
      {"InstanceId", i.instance_id},
      {"InstanceName", i.name},
      {"Description", i.description},
      {"ImageId", i.image_id},
      {"InstanceType", i.instance_type},
      {"RegionId", i.region_id},
      {"ZoneId", i.zone_id},
      {"Status", i.status},
      {"CreationTime", MinutesOrEmpty(i.creation_time)},
      {"StartTime", MinutesOrEmpty(i.start_time)},
      // Pay-as-you-go instances never expire; ECS shows them so.
      {"ExpiredTime", i.expired_time != 0 ? FormatTimeMinutes(i.expired_time) : "2099-12-31T15:59Z"},
      {"Cpu", cpu},
      {"Memory", cpu * 4096},
      {"OSType", "linux"},
      {"OSName", ""},
      {"HostName", i.host_name},
      {"InstanceChargeType", i.instance_charge_type},
      {"InstanceNetworkType", "vpc"},
      {"InternetMaxBandwidthOut", 0},
      {"IoOptimized", true},
      {"DeletionProtection", false},
      {"ResourceGroupId", ""},
      {"PublicIpAddress", json{{"IpAddress", json::array()}}},
      {"InnerIpAddress", json{{"IpAddress", json::array()}}},
      {"SecurityGroupIds", json{{"SecurityGroupId", json::array()}}},
      {"VpcAttributes",
       json{{"VpcId", ""},
            {"VSwitchId", ""},
            {"PrivateIpAddress", json{{"IpAddress", json::array({PrivateIp(i.instance_id)})}}}}},
      {"OperationLocks", json{{"LockReason", json::array()}}},
      {"Tags", TagsView(i.tags)},
  };
}

json DiskView(const DiskRecord& d, const std::string& region_id, const std::string& zone_id) {
  return json{
      {"DiskId", d.disk_id},
      {"DiskName", ""},
      {"Description", ""},
      {"RegionId", region_id},
      {"ZoneId", zone_id},
      {"Type", d.type},
      {"Category", d.category},
      {"Size", d.size_gib},
      {"ImageId", d.image_id},
      {"SourceSnapshotId", d.source_snapshot_id},
      {"Status", d.status},
      {"InstanceId", d.instance_id},
      {"Device", d.device},
      {"CreationTime", MinutesOrEmpty(d.creation_time)},
      {"AttachedTime", MinutesOrEmpty(d.creation_time)},
      {"Portable", d.type == "data"},
      {"Encrypted", false},
      {"DeleteWithInstance", true},
      {"DeleteAutoSnapshot", true},
      {"EnableAutoSnapshot", false},
      {"DiskChargeType", "PostPaid"},
      {"ResourceGroupId", ""},
      {"OperationLocks", json{{"OperationLock", json::array()}}},
      {"Tags", json{{"Tag", json::array()}}},
  };
}

}  // namespace ferry
