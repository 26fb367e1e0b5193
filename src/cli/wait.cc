#include "cli/wait.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <thread>

#include "cli/progress.h"

namespace ferry::cli {
namespace {

using json = nlohmann::json;

constexpr const char* kAllImageStatuses = "Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated";

// "37%" -> 37; 0 for anything else.
int ParsePercent(const std::string& text) {
  if (text.empty()) return 0;
  try {
    return std::clamp(std::stoi(text), 0, 100);
  } catch (const std::exception&) {
    return 0;
  }
}

Status WaitTimeout(const std::string& message) {
  return Status(Code::kUnavailable, kWaitTimeoutReason, message);
}

// ": Code: Message" of a failed task's answer, "" when it says nothing.
std::string TaskError(const json& task) {
  json ops = ListUnder(task, "OperationProgressSet", "OperationProgress");
  if (ops.empty()) return "";
  const std::string code = ops[0].value("ErrorCode", std::string());
  const std::string msg = ops[0].value("ErrorMsg", std::string());
  if (code.empty() && msg.empty()) return "";
  return ": " + code + (code.empty() || msg.empty() ? "" : ": ") + msg;
}

// The error of the `action` task that made `resource_id` (" (task t-x:
// Code: Message)"), "" when there is none or it says nothing: best effort,
// for the message of a failed wait.
std::string ReasonOfTaskFor(Session& session, const std::string& action, const std::string& resource_id) {
  Result<json> tasks =
      session.Call("DescribeTasks", {{"TaskAction", action}, {"ResourceIds.1", resource_id}});
  if (!tasks.ok()) return "";
  json items = ListUnder(*tasks, "TaskSet", "Task");
  if (items.empty()) return "";
  const std::string task_id = items[0].value("TaskId", std::string());
  Result<json> task = session.Call("DescribeTaskAttribute", {{"TaskId", task_id}});
  if (!task.ok()) return "";
  const std::string error = TaskError(*task);
  return error.empty() ? "" : " (task " + task_id + error + ")";
}

// The statuses an instance passes on its way to `want`.
bool OnTheWayTo(const std::string& want, const std::string& status) {
  if (status == "Pending") return true;
  if (want == "Running") return status == "Starting";
  if (want == "Stopped") return status == "Stopping";
  return false;
}

// "Starting -> Stopped".
std::string Path(const std::vector<std::string>& seen) {
  std::string out;
  for (const std::string& s : seen) out += (out.empty() ? "" : " -> ") + s;
  return out;
}

// Why an instance that should become `want` is `status` instead, and what
// to look at.
std::string FallBackMessage(const std::string& id, const std::string& want, const std::string& action,
                            const std::vector<std::string>& seen) {
  const std::string& status = seen.back();
  std::string message = "instance " + id + " is " + status + " after " + action +
                        " was accepted (seen: " + Path(seen) + "), and will not become " + want +
                        " by itself";
  if (want == "Running" && status == "Stopped") {
    message +=
        ": the start was refused, most likely by the operator's instance hook (ferry serve --instance-hook); "
        "the server's log has the hook's reason on a line with \"instance hook\" and " +
        id;
  } else if (want == "Stopped") {
    message += ": another request may have started it again; see `ferry instance list`";
  }
  return message;
}

}  // namespace

Poller::Poller(Millis timeout, Millis pause_cap)
    : timeout_(timeout), pause_cap_(pause_cap), deadline_(std::chrono::steady_clock::now() + timeout) {}

bool Poller::Pause() {
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline_) return false;
  const auto left = std::chrono::duration_cast<Millis>(deadline_ - now);
  std::this_thread::sleep_for(std::min(next_pause_, left));
  next_pause_ = std::min(
      pause_cap_, Millis(static_cast<int64_t>(static_cast<double>(next_pause_.count()) * kPauseGrowth)));
  return true;
}

Result<Millis> ParseTimeout(const std::string& text) { return ParseDuration("--timeout", text); }

Result<Millis> DurationOr(const std::string& flag, const std::string& text, Millis fallback) {
  if (text.empty()) return fallback;
  return ParseDuration(flag, text);
}

Result<Millis> ParseDuration(const std::string& flag, const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string unit = text.substr(digits);
  static const std::map<std::string, int64_t> kSeconds = {
      {"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};
  auto it = kSeconds.find(unit);
  int64_t value = 0;
  if (digits > 0 && digits <= 9) value = std::stoll(text.substr(0, digits));
  if (it == kSeconds.end() || value <= 0) {
    return Usage(flag + " \"" + text +
                 "\" is not a duration: use e.g. 90s, 10m, 6h or 2d (a number alone is seconds)");
  }
  return Millis(value * it->second * 1000);
}

Result<Millis> TimeoutOr(const std::string& flag, Millis fallback) {
  return DurationOr("--timeout", flag, fallback);
}

std::string FormatDuration(Millis duration) {
  int64_t seconds = duration.count() / 1000;
  if (seconds == 0) return std::to_string(duration.count()) + "ms";
  std::string out;
  for (const auto& [unit, size] :
       std::vector<std::pair<const char*, int64_t>>{{"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}}) {
    if (seconds >= size) {
      out += std::to_string(seconds / size) + unit;
      seconds %= size;
    }
  }
  return out;
}

Result<json> WaitForTask(Session& session, const std::string& task_id, const std::string& label,
                         uint64_t total_bytes, Millis timeout) {
  ProgressBar bar(label + " " + task_id, total_bytes);
  Poller poller(timeout, kJobPauseCap);
  while (true) {
    ASSIGN_OR_RETURN(json task, session.Poll("DescribeTaskAttribute", {{"TaskId", task_id}}));
    const std::string status = task.value("TaskStatus", std::string());
    const int percent = ParsePercent(task.value("TaskProcess", std::string()));
    bar.UpdatePercent(percent);
    if (status == "Finished") {
      bar.UpdatePercent(100);
      bar.Finish("finished");
      return task;
    }
    if (status != "Processing" && !status.empty()) {
      bar.Finish(status);
      return Status(Code::kAborted, "Task" + status, "task " + task_id + " " + status + TaskError(task));
    }
    if (!poller.Pause()) {
      bar.Finish("still " + status);
      return WaitTimeout("task " + task_id + " is still " + status + " (" + std::to_string(percent) +
                         "%) after " + FormatDuration(timeout) +
                         " (--timeout); the server goes on with it: follow it with `ferry task show " +
                         task_id + "`, or wait longer with a larger --timeout");
    }
  }
}

Status WaitForInstances(Session& session, const std::vector<std::string>& ids, const std::string& want,
                        const std::string& action, Millis timeout,
                        std::map<std::string, std::string>* statuses) {
  std::map<std::string, std::vector<std::string>> seen;  // distinct statuses in order, per instance
  std::set<std::string> waiting(ids.begin(), ids.end());
  std::vector<std::string> failures;
  Poller poller(timeout, kInstancePauseCap);
  while (!waiting.empty()) {
    ParamMap params = {
        {"InstanceIds", json(std::vector<std::string>(waiting.begin(), waiting.end())).dump()}};
    ASSIGN_OR_RETURN(json found, FetchAllPages(session, "DescribeInstances", params, "Instances", "Instance",
                                               /*poll=*/true));
    std::map<std::string, std::string> now;
    for (const json& item : found)
      now[item.value("InstanceId", std::string())] = item.value("Status", std::string());
    for (auto it = waiting.begin(); it != waiting.end();) {
      const std::string& id = *it;
      auto got = now.find(id);
      if (got == now.end()) {
        (*statuses)[id] = "Released";
        failures.push_back("instance " + id + " was released while waiting for it to become " + want);
        it = waiting.erase(it);
        continue;
      }
      const std::string& status = got->second;
      (*statuses)[id] = status;
      std::vector<std::string>& path = seen[id];
      if (path.empty() || path.back() != status) path.push_back(status);
      if (status == want) {
        it = waiting.erase(it);
      } else if (!OnTheWayTo(want, status)) {
        failures.push_back(FallBackMessage(id, want, action, path));
        it = waiting.erase(it);
      } else {
        ++it;
      }
    }
    if (waiting.empty()) break;
    if (!poller.Pause()) {
      for (const std::string& id : waiting) {
        failures.push_back("instance " + id + " is still " + (*statuses)[id] + " after " +
                           FormatDuration(timeout) + " (--timeout), not " + want + "; " + action +
                           " was accepted and the server goes on with it: see `ferry instance list`");
      }
      std::string message;
      for (const std::string& f : failures) message += (message.empty() ? "" : "\n") + f;
      return WaitTimeout(message);
    }
  }
  if (failures.empty()) return Status::Ok();
  std::string message;
  for (const std::string& f : failures) message += (message.empty() ? "" : "\n") + f;
  return Status(Code::kFailedPrecondition, "IncorrectInstanceStatus", message);
}

ImageProgress ClassifyImageStatus(const std::string& status) {
  if (status == "Available") return ImageProgress::kAvailable;
  if (status == "Creating" || status == "Waiting") return ImageProgress::kOnTheWay;
  return ImageProgress::kFailed;
}

Result<json> WaitForImage(Session& session, const std::string& image_id, const std::string& task_action,
                          Millis timeout) {
  ProgressBar bar("create image " + image_id, 0);
  Poller poller(timeout, kJobPauseCap);
  while (true) {
    ASSIGN_OR_RETURN(json body,
                     session.Poll("DescribeImages", {{"ImageId", image_id}, {"Status", kAllImageStatuses}}));
    json images = ListUnder(body, "Images", "Image");
    if (images.empty()) {
      bar.Finish("gone");
      return Status(Code::kAborted, "ImageGone",
                    "image " + image_id + " no longer exists: it was deleted while being created");
    }
    const json& image = images[0];
    const std::string status = image.value("Status", std::string());
    bar.UpdatePercent(ParsePercent(image.value("Progress", std::string())));
    switch (ClassifyImageStatus(status)) {
      case ImageProgress::kAvailable:
        bar.UpdatePercent(100);
        bar.Finish(status);
        return image;
      case ImageProgress::kFailed:
        bar.Finish(status);
        return Status(
            Code::kAborted, "Image" + status,
            "image " + image_id + " is " + status + ReasonOfTaskFor(session, task_action, image_id));
      case ImageProgress::kOnTheWay:
        break;
    }
    if (!poller.Pause()) {
      bar.Finish("still " + status);
      return WaitTimeout("image " + image_id + " is still " + status + " after " + FormatDuration(timeout) +
                         " (--timeout); the server goes on with it: follow it with `ferry image show " +
                         image_id + "`");
    }
  }
}

Result<json> WaitForSnapshot(Session& session, const std::string& snapshot_id, Millis timeout) {
  ProgressBar bar("snapshot " + snapshot_id, 0);
  Poller poller(timeout, kJobPauseCap);
  while (true) {
    ASSIGN_OR_RETURN(json body,
                     session.Poll("DescribeSnapshots", {{"SnapshotIds", json::array({snapshot_id}).dump()}}));
    json snapshots = ListUnder(body, "Snapshots", "Snapshot");
    if (snapshots.empty()) {
      bar.Finish("gone");
      return Status(Code::kAborted, "SnapshotGone",
                    "snapshot " + snapshot_id + " no longer exists: it was deleted while being created");
    }
    const json& snapshot = snapshots[0];
    const std::string status = snapshot.value("Status", std::string());
    bar.UpdatePercent(ParsePercent(snapshot.value("Progress", std::string())));
    if (status == "accomplished") {
      bar.UpdatePercent(100);
      bar.Finish(status);
      return snapshot;
    }
    if (status != "progressing") {
      bar.Finish(status);
      return Status(Code::kAborted, "Snapshot" + status,
                    "snapshot " + snapshot_id + " is " + status +
                        ReasonOfTaskFor(session, "CreateSnapshot", snapshot_id));
    }
    if (!poller.Pause()) {
      bar.Finish("still " + status);
      return WaitTimeout("snapshot " + snapshot_id + " is still " + status + " after " +
                         FormatDuration(timeout) +
                         " (--timeout); the server goes on with it: follow it with `ferry snapshot list`");
    }
  }
}

}  // namespace ferry::cli
