// Client commands on snapshots: DescribeSnapshots, CreateSnapshot,
// DeleteSnapshot.
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/session.h"
#include "cli/wait.h"

namespace ferry::cli {
namespace {

using json = nlohmann::json;

// The fields a person reads about one snapshot.
json SnapshotSummary(const std::string& snapshot_id, const json& snapshot) {
  return json{{"SnapshotId", snapshot_id},
              {"SnapshotName", snapshot.value("SnapshotName", std::string())},
              {"SourceDiskId", snapshot.value("SourceDiskId", std::string())},
              {"Status", snapshot.value("Status", std::string("progressing"))},
              {"Progress", snapshot.value("Progress", std::string())}};
}

}  // namespace

Status SnapshotList(const ClientOptions& opts, const std::string& disk_id, const std::string& instance_id) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params;
  if (!disk_id.empty()) params["DiskId"] = disk_id;
  if (!instance_id.empty()) params["InstanceId"] = instance_id;
  ASSIGN_OR_RETURN(json snapshots,
                   FetchAllPages(session, "DescribeSnapshots", params, "Snapshots", "Snapshot"));
  RETURN_IF_ERROR(Render(session,
                         {{"SnapshotId", "SnapshotId"},
                          {"Name", "SnapshotName"},
                          {"Status", "Status"},
                          {"Progress", "Progress"},
                          {"Size(GiB)", "SourceDiskSize"},
                          {"SourceDiskId", "SourceDiskId"},
                          {"Usage", "Usage"},
                          {"Created", "CreationTime"}},
                         snapshots));
  return Status::Ok();
}

Status SnapshotCreate(const ClientOptions& opts, const SnapshotCreateOptions& create) {
  ASSIGN_OR_RETURN(Millis timeout, TimeoutOr(create.timeout, kJobTimeout));
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"DiskId", create.disk_id}};
  if (!create.name.empty()) params["SnapshotName"] = create.name;
  if (!create.description.empty()) params["Description"] = create.description;
  ASSIGN_OR_RETURN(json started, session.Call("CreateSnapshot", params));
  const std::string snapshot_id = started.value("SnapshotId", std::string());
  json snapshot = json::object();
  if (create.no_wait) {
    ASSIGN_OR_RETURN(json body,
                     session.Call("DescribeSnapshots", {{"SnapshotIds", json::array({snapshot_id}).dump()}}));
    json found = ListUnder(body, "Snapshots", "Snapshot");
    if (!found.empty()) snapshot = found[0];
  } else {
    ASSIGN_OR_RETURN(snapshot, WaitForSnapshot(session, snapshot_id, timeout));
  }
  RETURN_IF_ERROR(RenderRecord(session, SnapshotSummary(snapshot_id, snapshot)));
  return Status::Ok();
}

Status SnapshotDelete(const ClientOptions& opts, const std::string& snapshot_id, bool force) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"SnapshotId", snapshot_id}};
  if (force) params["Force"] = "true";
  ASSIGN_OR_RETURN(json body, session.Call("DeleteSnapshot", params));
  RETURN_IF_ERROR(RenderRecord(session, {{"SnapshotId", snapshot_id}, {"Deleted", true}}));
  return Status::Ok();
}

}  // namespace ferry::cli
