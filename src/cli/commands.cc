#include "cli/commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "cli/config.h"
#include "cli/oss_commands.h"
#include "cli/profile.h"
#include "cli/progress.h"
#include "cli/session.h"
#include "cli/wait.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"
#include "region/image_inspector.h"
#include "region/names.h"

namespace ferry::cli {
namespace {

using json = nlohmann::json;

constexpr const char* kAllImageStatuses = "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated";
// The list Terraform polls a copy with.
constexpr const char* kCopyPollStatuses = "Creating,Waiting,Available,UnAvailable,CreateFailed";

// The bytes a copy moves, for its rate: the logical size of its snapshots
// in the destination, or the image's whole-GiB Size when they are not
// listed (yet).
uint64_t CopySizeBytes(Session& session, const std::string& region, const json& image) {
  json ids = json::array();
  for (const json& disk : ListUnder(image, "DiskDeviceMappings", "DiskDeviceMapping")) {
    const std::string id = disk.value("SnapshotId", std::string());
    if (!id.empty()) ids.push_back(id);
  }
  uint64_t total = 0;
  if (!ids.empty()) {
    Result<json> body =
        session.Call("DescribeSnapshots", {{"RegionId", region}, {"SnapshotIds", ids.dump()}});
    if (body.ok()) {
      for (const json& s : ListUnder(*body, "Snapshots", "Snapshot"))
        total += s.value("FullSnapshotSizeInBytes", static_cast<uint64_t>(0));
    }
  }
  return total > 0 ? total : image.value("Size", static_cast<uint64_t>(0)) << 30;
}

}  // namespace

std::string DefaultUploadBucket(const std::string& access_key_id) {
  return "ferry-uploads-" + Sha256Hex(access_key_id).substr(0, 16);
}

std::string FailureLine(const Status& status) {
  const std::string code = status.reason().empty() ? CodeName(status.code()) : status.reason();
  return "Error: " + code + ": " + (status.message().empty() ? "(no detail)" : status.message());
}

int ReportFailure(const Status& status) {
  std::cerr << FailureLine(status) << std::endl;
  return status.reason() == kUsageReason ? 2 : 1;
}

Status ProfileSet(const std::string& name, const std::string& endpoint, const std::string& access_key_id,
                  const std::string& access_key_secret, const std::string& region) {
  const std::string path = ProfilesPath();
  ASSIGN_OR_RETURN(ProfileMap profiles, LoadProfiles(path));
  Profile& p = profiles[name];
  if (!endpoint.empty()) p.endpoint = endpoint;
  if (!access_key_id.empty()) p.access_key_id = access_key_id;
  if (!access_key_secret.empty()) p.access_key_secret = access_key_secret;
  if (!region.empty()) p.region = region;
  RETURN_IF_ERROR(SaveProfiles(path, profiles));
  std::cerr << "profile \"" << name << "\" saved in " << path << std::endl;
  return Status::Ok();
}

Status ProfileList(const ClientOptions& opts) {
  ASSIGN_OR_RETURN(ProfileMap profiles, LoadProfiles(ProfilesPath()));
  json rows = json::array();
  for (const auto& [name, p] : profiles) {
    // Secrets stay in the file; listing shows which key a profile uses.
    rows.push_back({{"Name", name}, {"Endpoint", p.endpoint}, {"AccessKeyId", p.access_key_id}, {"Region", p.region}});
  }
  if (opts.output == OutputFormat::kJson) {
    PrintJson(std::cout, rows);
  } else {
    PrintTable(std::cout, {{"Name", "Name"}, {"Endpoint", "Endpoint"}, {"AccessKeyId", "AccessKeyId"}, {"Region", "Region"}},
               rows);
  }
  return Status::Ok();
}

Status RegionList(const ClientOptions& opts) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json body, session.Call("DescribeRegions", {{"AcceptLanguage", "en-US"}}, false));
  RETURN_IF_ERROR(Render(
      session,
      {{"RegionId", "RegionId"}, {"Name", "LocalName"}, {"Endpoint", "RegionEndpoint"}, {"Status", "Status"}},
      ListUnder(body, "Regions", "Region")));
  return Status::Ok();
}

Status AccountCreate(const ClientOptions& opts, const std::string& name) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json created, session.Call("CreateAccount", {{"AccountName", name}}, false));
  return RenderRecord(session, created);
}

Status ImageImport(const ClientOptions& opts, const ImageImportOptions& import) {
  ASSIGN_OR_RETURN(Millis timeout, TimeoutOr(import.timeout, kJobTimeout));
  // What ImportImage would refuse, refused before the upload (the server's
  // very checks, region/names.h).
  if (!import.name.empty()) RETURN_IF_ERROR(ValidateImageName(import.name));
  RETURN_IF_ERROR(ValidateDescription(import.description));
  std::error_code ec;
  if (!std::filesystem::is_regular_file(import.file, ec)) return Usage("no such file: " + import.file);
  const uint64_t size = std::filesystem::file_size(import.file, ec);
  if (ec) return Usage("cannot read the size of " + import.file + ": " + ec.message());
  {
    // The server's own first checks (region/image_inspector.h), before
    // anything is uploaded: what cannot be a disk, or is not the --format
    // given, fails here with the message the import task would end with.
    UniqueFd fd(::open(import.file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus("open", import.file, errno);
    RETURN_IF_ERROR(CheckImportImage(fd.get(), size, import.format, import.file).status());
  }

  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  const std::string bucket = import.bucket.empty() ? DefaultUploadBucket(session.access_key_id()) : import.bucket;
  const std::string object =
      import.object.empty() ? std::filesystem::path(import.file).filename().string() : import.object;

  // Through the OSS endpoint (cli/oss_commands.h): multipart, resumable.
  Status uploaded = UploadForImport(opts, import.file, bucket, object, /*staging=*/!import.keep_upload);
  if (!uploaded.ok()) {
    return uploaded.WithContext("uploading " + import.file + " to oss://" + bucket + "/" + object +
                                ResumeHint(uploaded));
  }

  ParamMap params = {{"DiskDeviceMapping.1.OSSBucket", bucket}, {"DiskDeviceMapping.1.OSSObject", object}};
  if (!import.format.empty()) params["DiskDeviceMapping.1.Format"] = import.format;
  if (!import.name.empty()) params["ImageName"] = import.name;
  if (!import.description.empty()) params["Description"] = import.description;
  // The server deletes a staging object when the import task that claimed
  // it ends; the CLI deletes it too when it sees the end (so the object is
  // gone when the command returns) or when no task claimed it.
  auto drop_staging = [&] {
    if (import.keep_upload) return;
    Status st = DeleteUploaded(opts, bucket, object);
    if (!st.ok() && st.code() != Code::kNotFound && st.reason().find("NotFound") == std::string::npos) {
      std::cerr << "warning: the uploaded object oss://" << bucket << "/" << object
                << " was not removed: " << st.message() << std::endl;
    }
  };
  Result<json> started = session.Call("ImportImage", params);
  if (!started.ok()) {
    drop_staging();
    return started.status();
  }
  const std::string image_id = started->value("ImageId", std::string());
  const std::string task_id = started->value("TaskId", std::string());
  json result = {{"ImageId", image_id}, {"TaskId", task_id}, {"OSSBucket", bucket}, {"OSSObject", object}};
  if (!import.no_wait) {
    Result<json> task = WaitForTask(session, task_id, "import", size, timeout);
    if (task.ok() || task.status().reason().rfind("Task", 0) == 0) drop_staging();
    if (!task.ok()) return task.status();
    result["TaskStatus"] = task->value("TaskStatus", std::string());
  }
  RETURN_IF_ERROR(RenderRecord(session, result));
  return Status::Ok();
}

Status ImageList(const ClientOptions& opts, const std::string& status, bool all) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"Status", status.empty() ? kAllImageStatuses : status}};
  if (!all) params["ImageOwnerAlias"] = "self";
  ASSIGN_OR_RETURN(json images, FetchAllPages(session, "DescribeImages", params, "Images", "Image"));
  RETURN_IF_ERROR(Render(session,
                         {{"ImageId", "ImageId"},
                          {"Name", "ImageName"},
                          {"Status", "Status"},
                          {"Progress", "Progress"},
                          {"Size(GiB)", "Size"},
                          {"Owner", "ImageOwnerAlias"},
                          {"Created", "CreationTime"}},
                         images));
  return Status::Ok();
}

Status ImageShow(const ClientOptions& opts, const std::string& image_id) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json body, session.Call("DescribeImages", {{"ImageId", image_id}, {"Status", kAllImageStatuses}}));
  json images = ListUnder(body, "Images", "Image");
  if (images.empty()) {
    // DescribeImages answers an unknown id with an empty list; say so as
    // the server says it of any other call on the image.
    return NotFound("InvalidImageId.NotFound", "The specified ImageId does not exist: " + image_id +
                                                   " in region " + session.region() +
                                                   RequestIdSuffix(body.value("RequestId", std::string())));
  }
  RETURN_IF_ERROR(RenderRecord(session, images[0]));
  return Status::Ok();
}

Status ImageRename(const ClientOptions& opts, const std::string& image_id, const std::string& name) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json body, session.Call("ModifyImageAttribute", {{"ImageId", image_id}, {"ImageName", name}}));
  RETURN_IF_ERROR(RenderRecord(session, {{"ImageId", image_id}, {"ImageName", name}}));
  return Status::Ok();
}

Status ImageDelete(const ClientOptions& opts, const std::string& image_id, bool force) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"ImageId", image_id}};
  if (force) params["Force"] = "true";
  ASSIGN_OR_RETURN(json body, session.Call("DeleteImage", params));
  RETURN_IF_ERROR(RenderRecord(session, {{"ImageId", image_id}, {"Deleted", true}}));
  return Status::Ok();
}

Status ImageCreate(const ClientOptions& opts, const ImageCreateOptions& create) {
  if (create.instance_id.empty() == create.snapshot_id.empty())
    return Usage("give the source of the image: --instance ID or --snapshot ID (one of them)");
  ASSIGN_OR_RETURN(Millis timeout, TimeoutOr(create.timeout, kJobTimeout));
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params;
  if (!create.instance_id.empty()) params["InstanceId"] = create.instance_id;
  if (!create.snapshot_id.empty()) params["SnapshotId"] = create.snapshot_id;
  if (!create.name.empty()) params["ImageName"] = create.name;
  if (!create.description.empty()) params["Description"] = create.description;
  ASSIGN_OR_RETURN(json started, session.Call("CreateImage", params));
  const std::string image_id = started.value("ImageId", std::string());
  json image;
  if (create.no_wait) {
    ASSIGN_OR_RETURN(json body, session.Call("DescribeImages", {{"ImageId", image_id}, {"Status", kAllImageStatuses}}));
    json images = ListUnder(body, "Images", "Image");
    if (!images.empty()) image = images[0];
  } else {
    ASSIGN_OR_RETURN(image, WaitForImage(session, image_id, "CreateImage", timeout));
  }
  json result = {{"ImageId", image_id},
                 {"ImageName", image.value("ImageName", create.name)},
                 {"Status", image.value("Status", std::string("Creating"))},
                 {"Progress", image.value("Progress", std::string())}};
  // The snapshot of each disk the image holds: the instance's disks as they
  // were, or the snapshot given.
  json snapshots = json::array();
  for (const json& disk : ListUnder(image, "DiskDeviceMappings", "DiskDeviceMapping")) {
    const std::string id = disk.value("SnapshotId", std::string());
    if (!id.empty()) snapshots.push_back(id);
  }
  if (snapshots.size() == 1) {
    result["SnapshotId"] = snapshots[0];
  } else if (!snapshots.empty()) {
    result["SnapshotIds"] = snapshots;
  }
  RETURN_IF_ERROR(RenderRecord(session, result));
  return Status::Ok();
}

namespace {

Result<json> ImageShareAccounts(Session& session, const std::string& image_id) {
  json accounts = json::array();
  for (int page = 1;; ++page) {
    ASSIGN_OR_RETURN(json body, session.Call("DescribeImageSharePermission", {{"ImageId", image_id},
                                                                              {"PageNumber", std::to_string(page)},
                                                                              {"PageSize", "100"}}));
    json items = ListUnder(body, "Accounts", "Account");
    for (const json& a : items) accounts.push_back({{"AccountId", a.value("AliyunId", "")},
                                                    {"SharedTime", a.value("SharedTime", "")}});
    if (items.empty() || accounts.size() >= body.value("TotalCount", uint64_t{0})) return accounts;
  }
}

}  // namespace

Status ImageShare(const ClientOptions& opts, const std::string& image_id, const std::vector<std::string>& add,
                  const std::vector<std::string>& remove) {
  if (add.empty() && remove.empty()) {
    return InvalidArgument("", "nothing to change: give --add and/or --remove account ids");
  }
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  constexpr size_t kPerCall = 10;  // ECS ignores AddAccount.N / RemoveAccount.N beyond 10
  for (size_t begin = 0; begin < std::max(add.size(), remove.size()); begin += kPerCall) {
    ParamMap params = {{"ImageId", image_id}};
    for (size_t i = begin; i < std::min(begin + kPerCall, remove.size()); ++i)
      params["RemoveAccount." + std::to_string(i - begin + 1)] = remove[i];
    for (size_t i = begin; i < std::min(begin + kPerCall, add.size()); ++i)
      params["AddAccount." + std::to_string(i - begin + 1)] = add[i];
    RETURN_IF_ERROR(session.Call("ModifyImageSharePermission", params).status());
  }
  ASSIGN_OR_RETURN(json accounts, ImageShareAccounts(session, image_id));
  RETURN_IF_ERROR(Render(session, {{"AccountId", "AccountId"}, {"SharedTime", "SharedTime"}}, accounts));
  return Status::Ok();
}

Status ImageShares(const ClientOptions& opts, const std::string& image_id) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json accounts, ImageShareAccounts(session, image_id));
  RETURN_IF_ERROR(Render(session, {{"AccountId", "AccountId"}, {"SharedTime", "SharedTime"}}, accounts));
  return Status::Ok();
}

Status ImageExport(const ClientOptions& opts, const ImageExportOptions& e) {
  ASSIGN_OR_RETURN(Millis timeout, TimeoutOr(e.timeout, kJobTimeout));
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params = {{"ImageId", e.image_id}, {"OSSBucket", e.bucket}};
  if (!e.prefix.empty()) params["OSSPrefix"] = e.prefix;
  if (!e.format.empty()) params["ImageFormat"] = e.format;
  ASSIGN_OR_RETURN(json started, session.Call("ExportImage", params));
  const std::string task_id = started.value("TaskId", std::string());
  json result = {{"ImageId", e.image_id}, {"TaskId", task_id}, {"OSSBucket", e.bucket}};
  if (e.wait) {
    ASSIGN_OR_RETURN(json task, WaitForTask(session, task_id, "export", 0, timeout));
    result["TaskStatus"] = task.value("TaskStatus", std::string());
    json ops = ListUnder(task, "OperationProgressSet", "OperationProgress");
    if (!ops.empty()) {
      for (const json& item : ListUnder(ops[0], "RelatedItemSet", "RelatedItem")) {
        if (item.value("Name", std::string()) == "OSSObject") result["OSSObject"] = item.value("Value", std::string());
      }
    }
  }
  RETURN_IF_ERROR(RenderRecord(session, result));
  return Status::Ok();
}

Status ImageCopy(const ClientOptions& opts, const ImageCopyOptions& copy) {
  if (copy.destinations.empty()) return Usage("--to needs at least one destination region");
  ASSIGN_OR_RETURN(Millis timeout, TimeoutOr(copy.timeout, kCopyTimeout));
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  // One row per destination; "ImageId" stays empty until its copy started.
  json rows = json::array();
  std::vector<std::string> labels;
  for (const std::string& destination : copy.destinations) {
    rows.push_back({{"SourceRegionId", session.region()},
                    {"SourceImageId", copy.image_id},
                    {"RegionId", destination},
                    {"ImageId", ""},
                    {"Status", "Pending"},
                    {"Progress", "0%"}});
    labels.push_back(session.region() + " -> " + destination);
  }
  std::optional<ProgressBoard> board;
  if (copy.wait) board.emplace(labels);

  // Copies start in order. ECS refuses a second copy of an image while one
  // runs (OperationDenied.ImageCopyConflict), so the next destination starts
  // when the previous copy is done.
  size_t next_to_start = 0;
  std::string failure;
  bool timed_out = false;
  Poller poller(timeout, kJobPauseCap);
  while (true) {
    while (next_to_start < rows.size()) {
      json& row = rows[next_to_start];
      // A ClientToken per destination makes the call safe to repeat (the
      // server answers a repeat with the same copy), so it is retried like
      // a poll while the server is unreachable.
      if (!row.contains("ClientToken")) row["ClientToken"] = RandomHex(16);
      ParamMap params = {{"ImageId", copy.image_id},
                         {"DestinationRegionId", row.value("RegionId", "")},
                         {"ClientToken", row.value("ClientToken", "")}};
      if (!copy.name.empty()) params["DestinationImageName"] = copy.name;
      if (!copy.description.empty()) params["DestinationDescription"] = copy.description;
      Result<json> started = session.Poll("CopyImage", params);
      if (!started.ok() && started.status().reason() == "OperationDenied.ImageCopyConflict" &&
          next_to_start > 0) {
        break;  // retried once the running copy is done
      }
      if (!started.ok()) {
        // Copies already started keep running; say which, so they can be
        // watched or cancelled.
        if (board) board->Finish();
        for (size_t i = 0; i < next_to_start; ++i)
          std::cerr << "started: " << rows[i].value("RegionId", "") << " " << rows[i].value("ImageId", "")
                    << "\n";
        return started.status().WithContext("copying " + copy.image_id + " to " + row.value("RegionId", ""));
      }
      row["ImageId"] = started->value("ImageId", std::string());
      row["Status"] = "Waiting";
      ++next_to_start;
    }
    const bool all_started = next_to_start == rows.size();
    if (all_started && !copy.wait) break;

    bool all_available = true;
    for (size_t i = 0; i < next_to_start; ++i) {
      json& row = rows[i];
      if (row.value("Status", "") == "Available") continue;
      const std::string image_id = row.value("ImageId", "");
      ASSIGN_OR_RETURN(json body, session.Poll("DescribeImages", {{"RegionId", row.value("RegionId", "")},
                                                                  {"ImageId", image_id},
                                                                  {"Status", kCopyPollStatuses}}));
      json images = ListUnder(body, "Images", "Image");
      if (images.empty()) {
        row["Status"] = "Gone";
        failure = "copy " + image_id + " in " + row.value("RegionId", "") +
                  " no longer exists (cancelled with `ferry image cancel-copy`?)";
        break;
      }
      const json& image = images[0];
      const std::string status = image.value("Status", std::string());
      const std::string progress = image.value("Progress", std::string("0%"));
      int percent = 0;
      try {
        percent = std::stoi(progress);
      } catch (const std::exception&) {
      }
      row["Status"] = status;
      row["Progress"] = progress;
      if (board) {
        if (!row.contains("SizeBytes"))
          row["SizeBytes"] = CopySizeBytes(session, row.value("RegionId", ""), image);
        ProgressBoard::Report report;
        report.percent = percent;
        report.total_bytes = row.value("SizeBytes", static_cast<uint64_t>(0));
        report.state = status;
        report.remain_seconds = image.value("CopyRemainTime", static_cast<int64_t>(0));
        report.wire_bytes = image.value("CopyWireBytes", static_cast<uint64_t>(0));
        report.data_bytes = image.value("CopyDataBytes", static_cast<uint64_t>(0));
        board->Update(i, report);
      }
      const ImageProgress progressed = ClassifyImageStatus(status);
      if (progressed == ImageProgress::kFailed) {
        failure = "copy " + image_id + " in " + row.value("RegionId", "") + " is " + status +
                  (status == "CreateFailed" ? "" : ", and will not become Available by itself");
        break;
      }
      if (progressed != ImageProgress::kAvailable) all_available = false;
    }
    if (board) {
      ProgressBoard::Report pending;
      pending.state = "Pending";
      for (size_t i = next_to_start; i < rows.size(); ++i) board->Update(i, pending);
      board->Draw();
    }
    if (!failure.empty() || (all_started && all_available)) break;
    if (!poller.Pause()) {
      // Giving up waiting cancels nothing: say what goes on and what never
      // started.
      timed_out = true;
      failure = "after " + FormatDuration(timeout) + " (--timeout) not every copy is Available; those started go on " +
                "on the server: follow them with `ferry --region REGION image show ID`";
      if (next_to_start < rows.size()) {
        failure += "; never started (one copy of an image at a time):";
        for (size_t i = next_to_start; i < rows.size(); ++i) failure += " " + rows[i].value("RegionId", "");
      }
      break;
    }
  }
  if (board) board->Finish();
  for (json& row : rows) {
    row.erase("SizeBytes");
    row.erase("ClientToken");
  }
  std::vector<Column> columns = {{"RegionId", "RegionId"}, {"ImageId", "ImageId"}};
  if (copy.wait) {
    columns.push_back({"Status", "Status"});
    columns.push_back({"Progress", "Progress"});
  }
  RETURN_IF_ERROR(Render(session, columns, rows));
  if (timed_out) return Status(Code::kUnavailable, kWaitTimeoutReason, failure);
  if (!failure.empty()) return Status(Code::kAborted, "CopyFailed", failure);
  return Status::Ok();
}

Status ImageCancelCopy(const ClientOptions& opts, const std::string& region, const std::string& image_id) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json body, session.Call("CancelCopyImage", {{"RegionId", region}, {"ImageId", image_id}}));
  RETURN_IF_ERROR(RenderRecord(session, {{"RegionId", region}, {"ImageId", image_id}, {"Cancelled", true}}));
  return Status::Ok();
}

Status TaskList(const ClientOptions& opts, const std::string& status, const std::string& action) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ParamMap params;
  if (!status.empty()) params["TaskStatus"] = status;
  if (!action.empty()) params["TaskAction"] = action;
  ASSIGN_OR_RETURN(json tasks, FetchAllPages(session, "DescribeTasks", params, "TaskSet", "Task"));
  if (action.empty()) {
    // ECS clients do not expect copy or snapshot rows, so the server leaves
    // them out unless asked; this listing is for people and shows them.
    std::set<std::string> seen;
    for (const json& t : tasks) seen.insert(t.value("TaskId", std::string()));
    for (const char* more : {"CopyImage", "CreateImage", "CreateSnapshot"}) {
      params["TaskAction"] = more;
      ASSIGN_OR_RETURN(json extra, FetchAllPages(session, "DescribeTasks", params, "TaskSet", "Task"));
      for (json& t : extra)
        if (seen.insert(t.value("TaskId", std::string())).second) tasks.push_back(std::move(t));
    }
  }
  RETURN_IF_ERROR(Render(session,
                         {{"TaskId", "TaskId"},
                          {"Action", "TaskAction"},
                          {"Status", "TaskStatus"},
                          {"Resource", "ResourceId"},
                          {"Created", "CreationTime"},
                          {"Finished", "FinishedTime"}},
                         tasks));
  return Status::Ok();
}

Status TaskShow(const ClientOptions& opts, const std::string& task_id) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json task, session.Call("DescribeTaskAttribute", {{"TaskId", task_id}}));
  RETURN_IF_ERROR(RenderRecord(session, task));
  return Status::Ok();
}

Status TaskCancel(const ClientOptions& opts, const std::string& task_id) {
  ASSIGN_OR_RETURN(Session session, Session::Open(opts));
  ASSIGN_OR_RETURN(json body, session.Call("CancelTask", {{"TaskId", task_id}}));
  RETURN_IF_ERROR(RenderRecord(session, {{"TaskId", task_id}, {"CancelRequested", true}}));
  return Status::Ok();
}


}  // namespace ferry::cli
