#include "cli/session.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <thread>

#include "cli/config.h"
#include "cli/profile.h"
#include "cli/wait.h"

namespace ferry::cli {
namespace {

using json = nlohmann::json;

constexpr const char* kDefaultRegion = "cn-hangzhou";
constexpr uint64_t kListPageSize = 100;

}  // namespace

Status Usage(const std::string& message) { return InvalidArgument(kUsageReason, message); }

std::string RequestIdSuffix(const std::string& request_id) {
  return request_id.empty() ? "" : " (RequestId " + request_id + ")";
}

Result<Session> Session::Open(const ClientOptions& opts) {
  Session s;
  s.output_ = opts.output;
  s.query_ = opts.query;
  const std::string path = ProfilesPath();
  ASSIGN_OR_RETURN(ProfileMap profiles, LoadProfiles(path));
  Profile profile;
  const std::string name = opts.profile.empty() ? kDefaultProfile : opts.profile;
  if (auto it = profiles.find(name); it != profiles.end()) {
    profile = it->second;
  } else if (!opts.profile.empty()) {
    return Usage("profile \"" + opts.profile + "\" is not in " + path);
  }
  auto pick = [](const std::string& flag, const char* env, const std::string& from_profile) {
    if (!flag.empty()) return flag;
    if (auto v = GetEnv(env)) return *v;
    return from_profile;
  };
  ClientConfig config;
  config.endpoint = pick(opts.endpoint, "FERRY_ENDPOINT", profile.endpoint);
  config.access_key_id = pick(opts.access_key_id, "FERRY_ACCESS_KEY_ID", profile.access_key_id);
  config.access_key_secret =
      pick(opts.access_key_secret, "FERRY_ACCESS_KEY_SECRET", profile.access_key_secret);
  config.use_v3 = opts.use_v3;
  config.timeout_ms = 60000;
  s.region_ = pick(opts.region, "FERRY_REGION", profile.region);
  if (s.region_.empty()) s.region_ = kDefaultRegion;
  if (config.endpoint.empty())
    return Usage("no endpoint: pass --endpoint, set FERRY_ENDPOINT, or run `ferry profile set " + name +
                 " --endpoint URL ...`");
  if (config.access_key_id.empty() || config.access_key_secret.empty())
    return Usage(
        "no AccessKey: pass --access-key-id and --access-key-secret, set FERRY_ACCESS_KEY_ID and "
        "FERRY_ACCESS_KEY_SECRET, or store them in a profile");
  ASSIGN_OR_RETURN(s.retry_for_, DurationOr("--retry-for", opts.retry_for, kDefaultRetryFor));
  s.access_key_id_ = config.access_key_id;
  s.access_key_secret_ = config.access_key_secret;
  s.endpoint_ = config.endpoint;
  // The profile's OSS endpoint belongs to the profile's ECS endpoint only.
  s.oss_endpoint_ =
      pick("", "FERRY_OSS_ENDPOINT", config.endpoint == profile.endpoint ? profile.oss_endpoint : "");
  s.client_ = std::make_unique<EcsClient>(config);
  return s;
}

Result<json> Session::Call(const std::string& action, ParamMap params, bool with_region) {
  if (with_region && params.count("RegionId") == 0) params["RegionId"] = region_;
  ASSIGN_OR_RETURN(EcsResponse resp, client_->Call(action, params));
  if (resp.http_status >= 200 && resp.http_status < 300) return resp.body;
  auto str = [&resp](const char* key) {
    auto it = resp.body.find(key);
    return resp.body.is_object() && it != resp.body.end() && it->is_string() ? it->get<std::string>()
                                                                             : std::string();
  };
  std::string code = str("Code");
  if (code.empty()) code = "HTTP" + std::to_string(resp.http_status);
  std::string message = str("Message");
  if (message.empty()) message = "the server answered HTTP " + std::to_string(resp.http_status);
  // 5xx (ServiceUnavailable, InternalError) and 429 (Throttling) may pass:
  // waits retry them (IsTransient).
  const Code status_code =
      resp.http_status >= 500 || resp.http_status == 429 ? Code::kUnavailable : Code::kFailedPrecondition;
  return Status(status_code, code, message + RequestIdSuffix(str("RequestId")));
}

bool IsTransient(const Status& status) {
  return status.code() == Code::kUnavailable && status.reason() != kWaitTimeoutReason;
}

Result<json> Session::Poll(const std::string& action, ParamMap params, bool with_region) {
  std::chrono::steady_clock::time_point outage_began;
  Millis pause = kRetryFirstPause;
  for (bool first_failure = true;; first_failure = false) {
    Result<json> got = Call(action, params, with_region);
    if (got.ok() || !IsTransient(got.status())) {
      if (unreachable_) std::cerr << "server reachable again" << std::endl;
      unreachable_ = false;
      return got;
    }
    const auto now = std::chrono::steady_clock::now();
    if (first_failure) outage_began = now;
    if (!unreachable_) {
      // A progress bar may be mid-line on a terminal.
      std::cerr << (::isatty(STDERR_FILENO) == 1 ? "\n" : "") << "server unreachable, retrying for up to "
                << FormatDuration(retry_for_) << " (--retry-for): " << FailureLine(got.status()) << std::endl;
      unreachable_ = true;
    }
    const auto left = outage_began + retry_for_ - now;
    if (left <= Millis(0)) {
      return got.status().WithContext("the server was unreachable for " + FormatDuration(retry_for_) +
                                      " (--retry-for)");
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, left));
    pause = std::min(pause * 2, kRetryPauseCap);
  }
}

json ListUnder(const json& body, const char* outer, const char* inner) {
  auto o = body.find(outer);
  if (o == body.end() || !o->is_object()) return json::array();
  auto i = o->find(inner);
  if (i == o->end() || !i->is_array()) return json::array();
  return *i;
}

Result<json> FetchAllPages(Session& session, const std::string& action, ParamMap params, const char* outer,
                           const char* inner, bool poll) {
  json all = json::array();
  for (uint64_t page = 1;; ++page) {
    params["PageNumber"] = std::to_string(page);
    params["PageSize"] = std::to_string(kListPageSize);
    ASSIGN_OR_RETURN(json body, poll ? session.Poll(action, params) : session.Call(action, params));
    json items = ListUnder(body, outer, inner);
    for (auto& item : items) all.push_back(std::move(item));
    uint64_t total = body.value("TotalCount", static_cast<uint64_t>(0));
    if (items.size() < kListPageSize || all.size() >= total) break;
  }
  return all;
}

Status Render(Session& session, const std::vector<Column>& columns, const json& rows) {
  if (!session.query().empty()) return PrintQuery(std::cout, rows, session.query());
  if (session.output() == OutputFormat::kJson) {
    PrintJson(std::cout, rows);
  } else {
    PrintTable(std::cout, columns, rows);
  }
  return Status::Ok();
}

Status RenderRecord(Session& session, json record) {
  if (record.is_object()) record.erase("RequestId");
  if (!session.query().empty()) return PrintQuery(std::cout, record, session.query());
  if (session.output() == OutputFormat::kJson) {
    PrintJson(std::cout, record);
  } else {
    PrintRecord(std::cout, record);
  }
  return Status::Ok();
}

}  // namespace ferry::cli
