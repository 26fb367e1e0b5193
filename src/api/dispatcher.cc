#include "api/dispatcher.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>
#include <optional>
#include <set>

#include "api/errors.h"
#include "common/ids.h"
#include "common/log_safe.h"

namespace ferry {
namespace {

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string HeaderOrEmpty(const HttpRequest& request, const std::string& name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? std::string() : it->second;
}

Status MissingParameter(const std::string& name) {
  return InvalidArgument(
      "MissingParameter",
      "The input parameter \"" + name + "\" that is mandatory for processing this request is not supplied.");
}

Status RegionUnavailable(const std::string& message) {
  return Status(Code::kUnavailable, "ServiceUnavailable", message);
}

Status ForwardedTwice(const RemoteRegionInfo& region, const std::string& request_id) {
  spdlog::error(
      "request_id={} region={} arrived forwarded, but this process forwards {} to {}: the "
      "processes' --region/--peer settings disagree",
      request_id, region.region_id, region.region_id, region.base_url);
  return RegionUnavailable("The request has failed due to a temporary failure of the server: region \"" +
                           region.region_id +
                           "\" is not served by this Ferry process, and the request was already forwarded "
                           "here by another process of the cluster. The processes disagree about which one "
                           "serves the region (check their --region and --peer settings); the request was "
                           "not forwarded again.");
}

// The ECS code of a relayed response, for metrics and the log line.
std::string RelayedCode(const HttpResponse& response) {
  if (response.status < 400) return "Success";
  nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object() && body.contains("Code") && body["Code"].is_string()) return body["Code"];
  size_t open = response.body.find("<Code>");
  size_t close = response.body.find("</Code>");
  if (open != std::string::npos && close != std::string::npos && close > open + 6) {
    return response.body.substr(open + 6, close - open - 6);
  }
  return "HTTP" + std::to_string(response.status);
}

}  // namespace

bool IsClusterWideAction(const std::string& action) {
  return action == "DescribeRegions" || action == "CreateAccount";
}

const RemoteRegionInfo* ClusterOwner(const RegionSet& regions) {
  const Region* first_local = nullptr;
  for (const Region* r : regions.ordered) {
    if (first_local == nullptr || r->id() < first_local->id()) first_local = r;
  }
  const RemoteRegionInfo* first_remote = nullptr;
  for (const RemoteRegionInfo& r : regions.remote) {
    if (regions.Find(r.region_id) != nullptr) continue;  // served here after all
    if (first_remote == nullptr || r.region_id < first_remote->region_id) first_remote = &r;
  }
  if (first_remote == nullptr) return nullptr;
  if (first_local != nullptr && first_local->id() < first_remote->region_id) return nullptr;
  return first_remote;
}

const RemoteRegionInfo* RemoteOwner(const RegionSet& regions, const std::string& action, const Params& params) {
  const std::string region_id = params.GetOr("RegionId", "");
  if (!IsClusterWideAction(action) && !region_id.empty()) {
    if (regions.Find(region_id) != nullptr) return nullptr;
    if (const RemoteRegionInfo* remote = regions.FindRemote(region_id)) return remote;
  }
  return ClusterOwner(regions);
}

Result<Params> ParseRequestParams(const HttpRequest& request) {
  size_t q = request.target.find('?');
  std::map<std::string, std::string> merged;
  if (q != std::string::npos) {
    ASSIGN_OR_RETURN(merged, ParseFormUrlEncoded(std::string_view(request.target).substr(q + 1)));
  }
  std::string content_type = HeaderOrEmpty(request, "content-type");
  std::string media_type = content_type.substr(0, content_type.find(';'));
  while (!media_type.empty() && media_type.back() == ' ') media_type.pop_back();
  if (!request.body.empty() && EqualsNoCase(media_type, "application/x-www-form-urlencoded")) {
    ASSIGN_OR_RETURN(auto form, ParseFormUrlEncoded(request.body));
    for (auto& [k, v] : form) merged[k] = std::move(v);
  }
  return Params(std::move(merged));
}

const char* ActionApiVersion(const std::string& action) {
  return action == "GetCallerIdentity" ? kStsApiVersion : kApiVersion;
}

Dispatcher::Dispatcher(ActionTable actions, const RegionSet& regions, AccountDirectory& accounts,
                       const Clock& clock, Metrics& metrics, std::string host_id, int max_skew_seconds,
                       std::unique_ptr<Forwarder> forwarder, size_t max_nonces)
    : actions_(std::move(actions)),
      regions_(regions),
      accounts_(accounts),
      clock_(clock),
      metrics_(metrics),
      host_id_(std::move(host_id)),
      authenticator_(accounts, clock, max_skew_seconds, max_nonces),
      forwarder_(forwarder != nullptr ? std::move(forwarder) : NewHttpForwarder()) {}

// Short: the server's Stop() waits for the warming.
constexpr int kWarmTimeoutMs = 2000;

void Dispatcher::WarmForwarding() {
  std::set<std::string> urls;
  for (const RemoteRegionInfo& remote : regions_.remote) {
    if (!urls.insert(remote.base_url).second) continue;
    HttpRequest ping;
    ping.method = "GET";
    ping.target = "/healthz";
    Result<HttpResponse> answer = forwarder_->Forward(remote.base_url, ping, kWarmTimeoutMs);
    if (!answer.ok()) spdlog::info("forwarding to {} not ready yet: {}", remote.base_url, answer.status().ToString());
  }
}

HttpResponse Dispatcher::ErrorResponse(const Status& status, const std::string& request_id,
                                       const std::string& action, double latency_seconds) {
  EcsError error = ToEcsError(status, action);
  metrics_.RecordRequest(action, error.code, latency_seconds);
  return RenderError(error, request_id, host_id_, ResponseFormat::kJson);
}

Dispatcher::RequestHead Dispatcher::ReadHead(const HttpRequest& request) {
  RequestHead head;
  head.params = ParseRequestParams(request);
  head.v3 = Authenticator::IsV3(request);
  if (!head.params.ok()) return head;
  head.action = head.params->GetOr("Action", head.v3 ? HeaderOrEmpty(request, "x-acs-action") : "");
  head.version = head.params->GetOr("Version", head.v3 ? HeaderOrEmpty(request, "x-acs-version") : "");
  // V3 requests carry no Format and must be answered in JSON.
  if (!head.v3 && EqualsNoCase(head.params->GetOr("Format", ""), "XML")) head.format = ResponseFormat::kXml;
  return head;
}

std::optional<Dispatcher::ForwardPlan> Dispatcher::PlanForward(const HttpRequest& request,
                                                               const RequestHead& head) const {
  if (regions_.remote.empty()) return std::nullopt;
  // The checks Handle() makes before it would forward; any failure is
  // Handle()'s to answer.
  if (request.method != "GET" && request.method != "POST") return std::nullopt;
  if (!head.params.ok()) return std::nullopt;
  if (head.action.empty() || head.version != kApiVersion || actions_.count(head.action) == 0) return std::nullopt;
  const RemoteRegionInfo* remote = RemoteOwner(regions_, head.action, *head.params);
  if (remote == nullptr) return std::nullopt;
  ForwardPlan plan;
  plan.remote = remote;
  plan.action = head.action;
  plan.request_id = NewRequestId();
  plan.start = std::chrono::steady_clock::now();
  plan.format = head.format;
  if (request.headers.count(kForwardedHeader) != 0) plan.refusal = ForwardedTwice(*remote, plan.request_id);
  return plan;
}

HttpResponse Dispatcher::FinishForward(const ForwardPlan& plan, const HttpRequest& request,
                                       Result<HttpResponse> forwarded) {
  HttpResponse response;
  std::string code;
  if (forwarded.ok()) {
    response = std::move(forwarded).value();
    code = RelayedCode(response);
  } else {
    Status status = forwarded.status();
    if (status.reason().empty() || status.reason() == kForwardNotConnected) {
      // The peer's address stays in the log: the caller is not authenticated.
      spdlog::warn("request_id={} region={} cannot forward to {}: {}", plan.request_id, plan.remote->region_id,
                   plan.remote->base_url, status.ToString());
      status = RegionUnavailable("The request has failed due to a temporary failure of the server: region \"" +
                                 plan.remote->region_id +
                                 "\" is served by another Ferry process of the cluster, which cannot be "
                                 "reached now. Try again later.");
    }
    EcsError error = ToEcsError(status, plan.action);
    code = error.code;
    response = RenderError(error, plan.request_id, host_id_, plan.format);
  }
  double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - plan.start).count();
  metrics_.RecordRequest(plan.action, code, latency);
  spdlog::info("request_id={} action={} forwarded_to={} status={} code={} latency_ms={:.3f} remote={}",
               plan.request_id, plan.action, plan.remote->region_id, response.status, code, latency * 1000,
               request.remote_address);
  return response;
}

HttpResponse Dispatcher::Handle(const HttpRequest& request) { return Handle(request, ReadHead(request)); }

HttpResponse Dispatcher::Handle(const HttpRequest& request, const RequestHead& head) {
  if (std::optional<ForwardPlan> plan = PlanForward(request, head)) {
    if (plan->refusal) return FinishForward(*plan, request, *plan->refusal);
    Result<HttpResponse> forwarded = Unavailable("region " + plan->remote->region_id + " has no URL");
    for (const std::string& url : plan->remote->UrlsInTurn()) {
      forwarded = forwarder_->Forward(url, request);
      if (forwarded.ok() || forwarded.status().reason() != kForwardNotConnected) {
        plan->remote->Answered(url);
        break;
      }
    }
    return FinishForward(*plan, request, std::move(forwarded));
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string request_id = NewRequestId();
  const ResponseFormat format = head.format;
  std::string action_name;
  std::string metric_action = "unknown";
  std::string access_key_id;
  std::string error_detail;
  std::string withheld;  // the error as the caller was not shown it, for the log
  std::optional<std::string> rendered_body;  // ActionContext::rendered_body

  auto run = [&]() -> Result<nlohmann::json> {
    if (request.method != "GET" && request.method != "POST") {
      return PermissionDenied("UnsupportedHTTPMethod",
                              "This http method is not supported: " + request.method + ".");
    }
    if (!head.params.ok()) return head.params.status();
    const Params& params = *head.params;
    // The x-acs-* headers are signed only under V3; a V1 request names its
    // action in the signed parameters (ReadHead).
    action_name = head.action;
    if (action_name.empty()) return MissingParameter("Action");
    if (head.version.empty()) return MissingParameter("Version");
    if (head.version != kApiVersion && head.version != kStsApiVersion) {
      return InvalidArgument("InvalidParameter",
                             "The specified parameter \"Action or Version\" is not valid.");
    }
    auto handler = actions_.find(action_name);
    if (handler == actions_.end() || head.version != ActionApiVersion(action_name)) {
      return NotFound("InvalidAction.NotFound",
                      "Specified api is not found, please check your url and method.");
    }
    metric_action = action_name;

    // (Requests another process owns were forwarded above, before
    // authentication: the owner alone checks the signature and spends the
    // nonce, so a request replayed to any process meets the same cache.)

    ASSIGN_OR_RETURN(AuthResult auth, authenticator_.Authenticate(request, params));
    access_key_id = auth.access_key_id;

    ActionContext context{params,   auth.caller, auth.is_root, request_id,
                          regions_, accounts_,   clock_,       host_id_, format};
    try {
      Result<nlohmann::json> body = handler->second(context);
      rendered_body = std::move(context.rendered_body);
      return body;
    } catch (const std::exception& e) {
      error_detail = e.what();
      return Internal("The request processing has failed due to some unknown error, exception or failure.");
    } catch (...) {
      error_detail = "non-standard exception";
      return Internal("The request processing has failed due to some unknown error, exception or failure.");
    }
  };

  Result<nlohmann::json> result = run();
  HttpResponse response;
  std::string code = "Success";
  std::string message;
  if (result.ok()) {
    response = rendered_body ? RenderedSuccess(std::move(*rendered_body), format)
                             : RenderSuccess(std::move(*result), request_id, action_name, format);
  } else {
    EcsError error = ToEcsError(result.status(), action_name);
    code = error.code;
    message = error.message;
    if (error.withheld) withheld = result.status().ToString();
    response = RenderError(error, request_id, host_id_, format);
  }
  double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.RecordRequest(metric_action, code, latency);

  if (!error_detail.empty()) {
    spdlog::error("request_id={} action={} handler threw: {}", request_id, LogSafe(action_name),
                  LogSafe(error_detail));
  }
  if (response.status >= 500 || !withheld.empty()) {
    // The detail the caller was not shown (paths, what failed inside) is here.
    const auto level = response.status >= 500 ? spdlog::level::err : spdlog::level::warn;
    spdlog::log(
        level, "request_id={} action={} status={} code={} latency_ms={:.3f} remote={} key={} message={}",
        request_id, LogSafe(action_name), response.status, code, latency * 1000, request.remote_address,
        LogSafe(access_key_id), LogSafe(withheld.empty() ? message : withheld));
  } else {
    spdlog::info("request_id={} action={} status={} code={} latency_ms={:.3f} remote={} key={}", request_id,
                 LogSafe(action_name), response.status, code, latency * 1000, request.remote_address,
                 LogSafe(access_key_id));
  }
  return response;
}

}  // namespace ferry
