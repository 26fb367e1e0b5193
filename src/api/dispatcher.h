// Dispatcher: one ECS RPC request in, one HTTP response out.
//
// Order of checks (the gateway's): parse query + urlencoded form body ->
// Action (param "Action", or header x-acs-action for V3) -> Version
// (2014-05-26) -> the action exists -> signature -> handler -> render.
// Every request gets a RequestId, one structured log line and metrics.
// Handler exceptions are caught here and answered as InternalError (500).
//
// A request whose RegionId names a region of another process of the cluster
// (RegionSet::remote) is forwarded, unauthenticated, to that process once
// the action is known to exist, and its answer is relayed unchanged (see
// api/forwarder.h); the owner checks the signature. Actions that are not
// about one region (DescribeRegions, CreateAccount) are answered here. A
// request already forwarded once is never forwarded again (503), so two
// processes that disagree about who serves a region cannot loop.
//
// Threading: Handle() is thread-safe (handlers must be too).
#pragma once

#include <memory>
#include <string>

#include "api/action.h"
#include "api/auth.h"
#include "api/forwarder.h"
#include "api/http_types.h"
#include "api/metrics.h"
#include "api/render.h"

namespace ferry {

inline constexpr const char* kApiVersion = "2014-05-26";

class Dispatcher {
 public:
  // `forwarder` relays requests for remote regions; null means a
  // NewHttpForwarder() with default options.
  Dispatcher(ActionTable actions, const RegionSet& regions, AccountDirectory& accounts, const Clock& clock,
             Metrics& metrics, std::string host_id, int max_skew_seconds,
             std::unique_ptr<Forwarder> forwarder = nullptr);

  HttpResponse Handle(const HttpRequest& request);

  // Opens one connection to each peer process and leaves it ready in the
  // forwarder's pool (GET /healthz, which a peer's tenant listener answers
  // 404 without counting it), or uses the one there, so the next
  // forwarded request does not pay a new connection's round trip on a long
  // link. The server calls it at start and every 30 s. Best effort, with a
  // 2 s deadline per step.
  void WarmForwarding();

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
  std::unique_ptr<Forwarder> forwarder_;
};

// Whether the answer to `action` is the same in every region (so it is never
// forwarded): DescribeRegions, CreateAccount.
bool IsClusterWideAction(const std::string& action);

// Parses the query of `request.target` and, for an urlencoded body, the form
// body, into one map (a form value wins over a query value of the same name).
Result<Params> ParseRequestParams(const HttpRequest& request);

}  // namespace ferry
