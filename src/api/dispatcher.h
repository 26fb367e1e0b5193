// Dispatcher: one ECS RPC request in, one HTTP response out.
//
// Order of checks (the gateway's): parse query + urlencoded form body ->
// Action (param "Action", or header x-acs-action for V3) -> Version
// (2014-05-26) -> the action exists -> signature -> handler -> render.
// Every request gets a RequestId, one structured log line and metrics.
// Handler exceptions are caught here and answered as InternalError (500).
//
// Threading: Handle() is thread-safe (handlers must be too).
#pragma once

#include <string>

#include "api/action.h"
#include "api/auth.h"
#include "api/http_types.h"
#include "api/metrics.h"
#include "api/render.h"

namespace ferry {

inline constexpr const char* kApiVersion = "2014-05-26";

class Dispatcher {
 public:
  Dispatcher(ActionTable actions, const RegionSet& regions, AccountDirectory& accounts, const Clock& clock,
             Metrics& metrics, std::string host_id, int max_skew_seconds);

  HttpResponse Handle(const HttpRequest& request);

  // An ECS error response for failures outside Handle() (e.g. the server's
  // body-size limit, or uploads), counted in metrics under `action`.
  HttpResponse ErrorResponse(const Status& status, const std::string& request_id, const std::string& action,
                             double latency_seconds);

  // Shared with the upload endpoint so nonces are unique across both.
  Authenticator& authenticator() { return authenticator_; }
  const std::string& host_id() const { return host_id_; }

 private:
  ActionTable actions_;
  const RegionSet& regions_;
  AccountDirectory& accounts_;
  const Clock& clock_;
  Metrics& metrics_;
  const std::string host_id_;
  Authenticator authenticator_;
};

// Parses the query of `request.target` and, for an urlencoded body, the form
// body, into one map (a form value wins over a query value of the same name).
Result<Params> ParseRequestParams(const HttpRequest& request);

}  // namespace ferry
