// Client commands on instances and their disks: RunInstances /
// CreateInstance, DescribeInstances, Start/Stop/Reboot/DeleteInstance,
// ReplaceSystemDisk, DescribeUserData and DescribeDisks.
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/session.h"
#include "cli/wait.h"
#include "common/hash.h"

namespace ferry::cli {
namespace {

using json = nlohmann::json;

// Each instance's status now ("Released" when it is gone), in one call.
Result<std::map<std::string, std::string>> CurrentStatuses(Session& session,
                                                           const std::vector<std::string>& ids) {
  ASSIGN_OR_RETURN(json found, FetchAllPages(session, "DescribeInstances",
                                             {{"InstanceIds", json(ids).dump()}}, "Instances", "Instance"));
  std::map<std::string, std::string> statuses;
  for (const std::string& id : ids) statuses[id] = "Released";
  for (const json& item : found)
    statuses[item.value("InstanceId", std::string())] = item.value("Status", std::string());
  return statuses;
}

}  // namespace

Status InstanceRun(const ClientOptions& opts, const InstanceRunOptions& run) {
  ASSIGN_OR_RETURN(Millis timeout, TimeoutOr(run.timeout, kInstanceTimeout));
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"ImageId", run.image_id}, {"InstanceType", run.instance_type}};
  const bool create = run.stopped;
  if (!create) params["Amount"] = std::to_string(run.amount);
  if (!run.name.empty()) params["InstanceName"] = run.name;
  if (run.disk_size_gib != 0) params["SystemDisk.Size"] = std::to_string(run.disk_size_gib);
  if (!run.user_data.empty()) params["UserData"] = run.user_data;
  if (!run.ram_role.empty()) params["RamRoleName"] = run.ram_role;
  if (!run.client_token.empty()) params["ClientToken"] = run.client_token;
  const std::string action = create ? "CreateInstance" : "RunInstances";
  ASSIGN_OR_RETURN(json body, session.Call(action, params));
  std::vector<std::string> ids;
  if (create) {
    ids.push_back(body.value("InstanceId", std::string()));
  } else {
    for (const json& id : ListUnder(body, "InstanceIdSets", "InstanceIdSet"))
      ids.push_back(id.get<std::string>());
  }
  std::map<std::string, std::string> statuses;
  Status waited = Status::Ok();
  if (run.wait) {
    waited = WaitForInstances(session, ids, create ? "Stopped" : "Running", action, timeout, &statuses);
  } else {
    ASSIGN_OR_RETURN(statuses, CurrentStatuses(session, ids));
  }
  // The ids are printed even when a wait failed: the instances exist.
  json rows = json::array();
  for (const std::string& id : ids) rows.push_back({{"InstanceId", id}, {"Status", statuses[id]}});
  RETURN_IF_ERROR(Render(session, {{"InstanceId", "InstanceId"}, {"Status", "Status"}}, rows));
  return waited;
}

Status InstanceList(const ClientOptions& opts) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json instances, FetchAllPages(session, "DescribeInstances", {}, "Instances", "Instance"));
  RETURN_IF_ERROR(Render(session,
                         {{"InstanceId", "InstanceId"},
                          {"Name", "InstanceName"},
                          {"Status", "Status"},
                          {"ImageId", "ImageId"},
                          {"Type", "InstanceType"},
                          {"Created", "CreationTime"}},
                         instances));
  return Status::Ok();
}

Status InstanceAction(const ClientOptions& opts, const InstanceActionOptions& a) {
  ASSIGN_OR_RETURN(Millis timeout, TimeoutOr(a.timeout, kInstanceTimeout));
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"InstanceId", a.instance_id}};
  if (a.force) params["Force"] = "true";
  ASSIGN_OR_RETURN(json body, session.Call(a.action, params));
  if (a.action == "DeleteInstance") {
    // Released when the call returns.
    RETURN_IF_ERROR(
        RenderRecord(session, {{"InstanceId", a.instance_id}, {"Action", a.action}, {"Deleted", true}}));
    return Status::Ok();
  }
  // Start, stop and reboot pass through Starting / Stopping: by default
  // the command returns once the instance is there, so the next one finds
  // it ready.
  std::map<std::string, std::string> statuses;
  if (a.wait) {
    const std::string want = a.action == "StopInstance" ? "Stopped" : "Running";
    RETURN_IF_ERROR(WaitForInstances(session, {a.instance_id}, want, a.action, timeout, &statuses));
    RETURN_IF_ERROR(RenderRecord(
        session, {{"InstanceId", a.instance_id}, {"Action", a.action}, {"Status", statuses[a.instance_id]}}));
    return Status::Ok();
  }
  // Not there yet: what is true is that the request was accepted, and the
  // status the instance has now (Starting, Stopping).
  ASSIGN_OR_RETURN(statuses, CurrentStatuses(session, {a.instance_id}));
  RETURN_IF_ERROR(RenderRecord(session, {{"InstanceId", a.instance_id},
                                         {"Action", a.action},
                                         {"Accepted", true},
                                         {"Status", statuses[a.instance_id]}}));
  return Status::Ok();
}

Status InstanceReplaceDisk(const ClientOptions& opts, const InstanceReplaceDiskOptions& replace) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"InstanceId", replace.instance_id}, {"ImageId", replace.image_id}};
  if (replace.disk_size_gib != 0) params["SystemDisk.Size"] = std::to_string(replace.disk_size_gib);
  if (!replace.client_token.empty()) params["ClientToken"] = replace.client_token;
  // The new disk is ready when the call returns: nothing to wait for.
  ASSIGN_OR_RETURN(json body, session.Call("ReplaceSystemDisk", params));
  RETURN_IF_ERROR(RenderRecord(session, {{"InstanceId", replace.instance_id},
                                         {"ImageId", replace.image_id},
                                         {"DiskId", body.value("DiskId", std::string())}}));
  return Status::Ok();
}

Status InstanceUserData(const ClientOptions& opts, const std::string& instance_id, bool decode) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json body, session.Call("DescribeUserData", {{"InstanceId", instance_id}}));
  const std::string user_data = body.value("UserData", std::string());
  if (decode) {
    std::string bytes;
    if (!Base64Decode(user_data, &bytes)) {
      return Status(Code::kDataLoss, "InvalidUserData",
                    "the user data of instance " + instance_id + " is not base64; see it without --decode");
    }
    std::cout << bytes << std::flush;
    return Status::Ok();
  }
  RETURN_IF_ERROR(RenderRecord(session, {{"InstanceId", instance_id}, {"UserData", user_data}}));
  return Status::Ok();
}

Status DiskList(const ClientOptions& opts, const std::string& instance_id) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params;
  if (!instance_id.empty()) params["InstanceId"] = instance_id;
  ASSIGN_OR_RETURN(json disks, FetchAllPages(session, "DescribeDisks", params, "Disks", "Disk"));
  RETURN_IF_ERROR(Render(session,
                         {{"DiskId", "DiskId"},
                          {"InstanceId", "InstanceId"},
                          {"Type", "Type"},
                          {"Size(GiB)", "Size"},
                          {"Status", "Status"},
                          {"ImageId", "ImageId"},
                          {"SourceSnapshotId", "SourceSnapshotId"}},
                         disks));
  return Status::Ok();
}

}  // namespace ferry::cli
