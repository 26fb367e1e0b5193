// The client side of the CLI: a Session resolves the connection (flags >
// FERRY_* environment > profile), signs ECS calls with EcsClient and turns
// ECS errors into Statuses; the helpers below page through Describe* calls
// and render answers as a table or JSON.
//
// Threading: a Session is used by one thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/client.h"
#include "api/oss_client.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "common/status.h"

namespace ferry::cli {

using ParamMap = std::map<std::string, std::string>;

// A usage error (exit code 2).
Status Usage(const std::string& message);

// " (RequestId X)", the end of the message of every error the server
// answered; "" without an id.
std::string RequestIdSuffix(const std::string& request_id);

class Session {
 public:
  static Result<Session> Open(const ClientOptions& opts);

  // Calls `action` in this session's region (unless params name another);
  // an ECS error becomes a Status whose reason is the ECS code and whose
  // message is "Message (RequestId X)" (ReportFailure puts the code first).
  Result<nlohmann::json> Call(const std::string& action, ParamMap params, bool with_region = true);

  // Call for a wait's polls (and for calls safe to repeat): a transient
  // failure (IsTransient) is retried with a back-off (kRetryFirstPause
  // doubling to kRetryPauseCap) for up to retry_for() from the first
  // failure of the outage; "server unreachable, retrying ..." is printed
  // on stderr once per outage, and "server reachable again" when it ends.
  // After retry_for() the last error is returned, saying how long it was
  // tried.
  Result<nlohmann::json> Poll(const std::string& action, ParamMap params, bool with_region = true);
  std::chrono::milliseconds retry_for() const { return retry_for_; }

  EcsClient& client() { return *client_; }
  // The OSS object endpoint's client (cli/oss_commands.h): FERRY_OSS_ENDPOINT,
  // else the profile's oss_endpoint, else the ECS endpoint's host on its
  // port + 2 (`ferry serve`'s default).
  Result<OssClient> Oss(bool v4 = false) const;
  const std::string& region() const { return region_; }
  const std::string& access_key_id() const { return access_key_id_; }
  OutputFormat output() const { return output_; }
  const std::string& query() const { return query_; }

 private:
  std::unique_ptr<EcsClient> client_;
  std::string region_;
  std::string access_key_id_;
  std::string access_key_secret_;
  std::string endpoint_;
  std::string oss_endpoint_;
  OutputFormat output_ = OutputFormat::kTable;
  std::string query_;
  std::chrono::milliseconds retry_for_{0};
  bool unreachable_ = false;  // an outage is being retried
};

// A failure worth retrying: the server could not be reached or answered in
// time (connection refused or reset, timeouts), or answered HTTP 5xx or 429
// (ServiceUnavailable, Throttling, InternalError): the status code
// kUnavailable. Session::Call gives 5xx and 429 answers that code.
bool IsTransient(const Status& status);

// The array under a list wrapper: body["Images"]["Image"]; [] when absent.
nlohmann::json ListUnder(const nlohmann::json& body, const char* outer, const char* inner);

// Every page of a paged Describe* call, concatenated; with `poll`, each
// page through Session::Poll (for waits).
Result<nlohmann::json> FetchAllPages(Session& session, const std::string& action, ParamMap params,
                                     const char* outer, const char* inner, bool poll = false);

// Rows as a table with `columns`, or as a JSON array with --output json,
// or what --query selects of that array (which can fail: QueryNoMatch).
[[nodiscard]] Status Render(Session& session, const std::vector<Column>& columns, const nlohmann::json& rows);
// One object as "Key: value" lines, or as JSON, or what --query selects;
// its RequestId is dropped.
[[nodiscard]] Status RenderRecord(Session& session, nlohmann::json record);

}  // namespace ferry::cli
