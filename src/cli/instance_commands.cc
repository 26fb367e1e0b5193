// Client commands on instances and their disks: RunInstances /
// CreateInstance, DescribeInstances, Start/Stop/Reboot/DeleteInstance and
// DescribeDisks.
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/session.h"

namespace ferry::cli {
namespace {

using json = nlohmann::json;

constexpr auto kTaskPollInterval = std::chrono::milliseconds(500);

// Polls DescribeInstances until `id` is `want`; its last status. Instances
// change state within seconds, so waiting longer than kInstanceWait means
// something is wrong: that is an error, not a hang.
constexpr auto kInstanceWait = std::chrono::minutes(5);

Result<std::string> WaitInstanceStatus(Session& session, const std::string& id, const std::string& want) {
  const auto deadline = std::chrono::steady_clock::now() + kInstanceWait;
  std::string status;
  while (true) {
    ASSIGN_OR_RETURN(json found,
                     session.Call("DescribeInstances", {{"InstanceIds", json::array({id}).dump()}}));
    json items = ListUnder(found, "Instances", "Instance");
    if (items.empty())
      return NotFound("InvalidInstanceId.NotFound", "instance " + id + " was released meanwhile");
    status = items[0].value("Status", std::string());
    if (status == want) return status;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(Code::kUnavailable, "",
                    "instance " + id + " is still " + status + " after " +
                        std::to_string(kInstanceWait.count()) + " minutes, not " + want);
    }
    std::this_thread::sleep_for(kTaskPollInterval / 5);
  }
}

}  // namespace

Status InstanceRun(const ClientOptions& opts, const InstanceRunOptions& run) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"ImageId", run.image_id}, {"InstanceType", run.instance_type}};
  const bool create = run.stopped;
  if (!create) params["Amount"] = std::to_string(run.amount);
  if (!run.name.empty()) params["InstanceName"] = run.name;
  if (run.disk_size_gib != 0) params["SystemDisk.Size"] = std::to_string(run.disk_size_gib);
  if (!run.user_data.empty()) params["UserData"] = run.user_data;
  if (!run.ram_role.empty()) params["RamRoleName"] = run.ram_role;
  if (!run.client_token.empty()) params["ClientToken"] = run.client_token;
  ASSIGN_OR_RETURN(json body, session.Call(create ? "CreateInstance" : "RunInstances", params));
  std::vector<std::string> ids;
  if (create) {
    ids.push_back(body.value("InstanceId", std::string()));
  } else {
    for (const json& id : ListUnder(body, "InstanceIdSets", "InstanceIdSet"))
      ids.push_back(id.get<std::string>());
  }
  const std::string want = create ? "Stopped" : "Running";
  json rows = json::array();
  for (const std::string& id : ids) {
    std::string status = "Pending";
    if (run.wait) {
      ASSIGN_OR_RETURN(status, WaitInstanceStatus(session, id, want));
    }
    rows.push_back({{"InstanceId", id}, {"Status", status}});
  }
  Render(session, {{"InstanceId", "InstanceId"}, {"Status", "Status"}}, rows);
  return Status::Ok();
}

Status InstanceList(const ClientOptions& opts) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json instances, FetchAllPages(session, "DescribeInstances", {}, "Instances", "Instance"));
  Render(session,
         {{"InstanceId", "InstanceId"},
          {"Name", "InstanceName"},
          {"Status", "Status"},
          {"ImageId", "ImageId"},
          {"Type", "InstanceType"},
          {"Created", "CreationTime"}},
         instances);
  return Status::Ok();
}

Status InstanceAction(const ClientOptions& opts, const std::string& action, const std::string& instance_id,
                      bool force, bool wait) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"InstanceId", instance_id}};
  if (force) params["Force"] = "true";
  ASSIGN_OR_RETURN(json body, session.Call(action, params));
  // Start, stop and reboot pass through Starting / Stopping: by default
  // the command returns once the instance is there, so the next one finds
  // it ready.
  const std::string want = action == "StopInstance" ? "Stopped" : "Running";
  if (wait && action != "DeleteInstance") {
    ASSIGN_OR_RETURN(std::string status, WaitInstanceStatus(session, instance_id, want));
    RenderRecord(session, {{"InstanceId", instance_id}, {"Action", action}, {"Status", status}});
    return Status::Ok();
  }
  RenderRecord(session, {{"InstanceId", instance_id}, {"Action", action}, {"Done", true}});
  return Status::Ok();
}

Status DiskList(const ClientOptions& opts) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json disks, FetchAllPages(session, "DescribeDisks", {}, "Disks", "Disk"));
  Render(session,
         {{"DiskId", "DiskId"},
          {"InstanceId", "InstanceId"},
          {"Type", "Type"},
          {"Size(GiB)", "Size"},
          {"Status", "Status"},
          {"ImageId", "ImageId"},
          {"SourceSnapshotId", "SourceSnapshotId"}},
         disks);
  return Status::Ok();
}

}  // namespace ferry::cli
