#include "api/dispatcher.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

#include "api/errors.h"
#include "common/ids.h"

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

}  // namespace

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

Dispatcher::Dispatcher(ActionTable actions, const RegionSet& regions, AccountDirectory& accounts,
                       const Clock& clock, Metrics& metrics, std::string host_id, int max_skew_seconds)
    : actions_(std::move(actions)),
      regions_(regions),
      accounts_(accounts),
      clock_(clock),
      metrics_(metrics),
      host_id_(std::move(host_id)),
      authenticator_(accounts, clock, max_skew_seconds) {}

HttpResponse Dispatcher::ErrorResponse(const Status& status, const std::string& request_id,
                                       const std::string& action, double latency_seconds) {
  EcsError error = ToEcsError(status);
  metrics_.RecordRequest(action, error.code, latency_seconds);
  return RenderError(error, request_id, host_id_, ResponseFormat::kJson);
}

HttpResponse Dispatcher::Handle(const HttpRequest& request) {
  const auto start = std::chrono::steady_clock::now();
  const std::string request_id = NewRequestId();
  const bool v3 = Authenticator::IsV3(request);
  ResponseFormat format = ResponseFormat::kJson;
  std::string action_name;
  std::string metric_action = "unknown";
  std::string access_key_id;
  std::string error_detail;

  auto run = [&]() -> Result<nlohmann::json> {
    if (request.method != "GET" && request.method != "POST") {
      return PermissionDenied("UnsupportedHTTPMethod",
                              "This http method is not supported: " + request.method + ".");
    }
    ASSIGN_OR_RETURN(Params params, ParseRequestParams(request));
    // V3 requests carry no Format and must be answered in JSON.
    if (!v3 && EqualsNoCase(params.GetOr("Format", ""), "XML")) format = ResponseFormat::kXml;

    // The x-acs-* headers are signed only under V3; a V1 request names its
    // action in the signed parameters.
    action_name = params.GetOr("Action", v3 ? HeaderOrEmpty(request, "x-acs-action") : "");
    if (action_name.empty()) return MissingParameter("Action");
    std::string version = params.GetOr("Version", v3 ? HeaderOrEmpty(request, "x-acs-version") : "");
    if (version.empty()) return MissingParameter("Version");
    if (version != kApiVersion) {
      return InvalidArgument("InvalidParameter",
                             "The specified parameter \"Action or Version\" is not valid.");
    }
    auto handler = actions_.find(action_name);
    if (handler == actions_.end()) {
      return NotFound("InvalidAction.NotFound",
                      "Specified api is not found, please check your url and method.");
    }
    metric_action = action_name;

    ASSIGN_OR_RETURN(AuthResult auth, authenticator_.Authenticate(request, params));
    access_key_id = auth.access_key_id;

    ActionContext context{params, auth.caller, auth.is_root, request_id, regions_, accounts_, clock_};
    try {
      return handler->second(context);
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
    response = RenderSuccess(*result, request_id, action_name, format);
  } else {
    EcsError error = ToEcsError(result.status());
    code = error.code;
    message = error.message;
    response = RenderError(error, request_id, host_id_, format);
  }
  double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  metrics_.RecordRequest(metric_action, code, latency);

  if (!error_detail.empty()) {
    spdlog::error("request_id={} action={} handler threw: {}", request_id, action_name, error_detail);
  }
  if (response.status >= 500) {
    spdlog::error("request_id={} action={} status={} code={} latency_ms={:.3f} remote={} key={} message={}",
                  request_id, action_name, response.status, code, latency * 1000, request.remote_address,
                  access_key_id, message);
  } else {
    spdlog::info("request_id={} action={} status={} code={} latency_ms={:.3f} remote={} key={}", request_id,
                 action_name, response.status, code, latency * 1000, request.remote_address, access_key_id);
  }
  return response;
}

}  // namespace ferry
