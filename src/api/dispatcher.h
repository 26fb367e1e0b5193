// Dispatcher: one ECS RPC request in, one HTTP response out.
//
// Order of checks (the gateway's): parse query + urlencoded form body ->
// Action (param "Action", or header x-acs-action for V3) -> Version
// (2014-05-26) -> the action exists -> signature -> handler -> render.
// Every request gets a RequestId, one structured log line and metrics.
// Handler exceptions are caught here and answered as InternalError (500).
//
// Every request has exactly one owner process in the cluster, which alone
// authenticates it (and so spends its nonce: a request replayed to any
// other process is forwarded to the same owner and refused there as
// SignatureNonceUsed). The owner of a request whose RegionId names a region
// of the cluster is the process serving that region; every other request —
// the cluster-wide actions (DescribeRegions, CreateAccount) whatever their
// RegionId, and requests with no or an unknown RegionId — is owned by the
// cluster owner, the process serving the alphabetically first region of the
// cluster, which each process computes from its regions and --peer list
// (RemoteOwner below). A request this process does not own is forwarded,
// unauthenticated, once the action is known to exist, and its answer is
// relayed unchanged (see api/forwarder.h). A request already forwarded once
// is never forwarded again (503), so two processes that disagree about who
// owns a request cannot loop.
//
// A server with threads to protect (api/server.h) does not let Handle()
// forward: it asks PlanForward() first, relays a planned request with
// Forwarder::ForwardAsync (no thread waits for the owner), and answers
// with FinishForward(); Handle() then only ever runs for requests this
// process answers itself. Handle() forwards by itself, blocking its
// thread, only for callers that do not plan (tests, tools).
//
// Threading: Handle(), PlanForward() and FinishForward() are thread-safe
// (handlers must be too). PlanForward() does no I/O and never waits.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "api/action.h"
#include "api/auth.h"
#include "api/forwarder.h"
#include "api/http_types.h"
#include "api/metrics.h"
#include "api/render.h"

namespace ferry {

inline constexpr const char* kApiVersion = "2014-05-26";
// STS, for the one STS action Ferry answers on the same endpoint
// (GetCallerIdentity: who is this AccessKey's account).
inline constexpr const char* kStsApiVersion = "2015-04-01";
// The API version an action of the table belongs to.
const char* ActionApiVersion(const std::string& action);

class Dispatcher {
 public:
  // `forwarder` relays requests for remote regions; null means a
  // NewHttpForwarder() with default options.
  Dispatcher(ActionTable actions, const RegionSet& regions, AccountDirectory& accounts, const Clock& clock,
             Metrics& metrics, std::string host_id, int max_skew_seconds,
             std::unique_ptr<Forwarder> forwarder = nullptr,
             size_t max_nonces = Authenticator::kDefaultMaxNonces);

  HttpResponse Handle(const HttpRequest& request);

  // What a request's bytes say, read once for PlanForward and Handle: its
  // merged, decoded parameters (or why they cannot be read), whether it is
  // V3-signed, and the action and version it names ("" when absent; V3
  // takes them from the x-acs-* headers when the parameters lack them).
  struct RequestHead {
    Result<Params> params = Params();
    bool v3 = false;
    std::string action;
    std::string version;
    ResponseFormat format = ResponseFormat::kJson;  // XML only when a V1 request asks
  };
  static RequestHead ReadHead(const HttpRequest& request);
  // Handle() for a head read already.
  HttpResponse Handle(const HttpRequest& request, const RequestHead& head);

  // A request for a region another process of the cluster serves, once
  // its action is known to exist.
  struct ForwardPlan {
    const RemoteRegionInfo* remote = nullptr;  // points into the RegionSet
    std::string action;
    std::string request_id;
    std::chrono::steady_clock::time_point start;
    ResponseFormat format = ResponseFormat::kJson;  // of an error answered here
    // Set when the request must not go out: it was forwarded here already
    // (the processes disagree about who serves the region).
    std::optional<Status> refusal;
  };
  // The plan when `request` goes to another process; nullopt when this
  // process answers it (also when it is malformed: Handle() says how).
  std::optional<ForwardPlan> PlanForward(const HttpRequest& request, const RequestHead& head) const;
  std::optional<ForwardPlan> PlanForward(const HttpRequest& request) const {
    return PlanForward(request, ReadHead(request));
  }
  // The answer to a planned request: the owner's response as it came, or
  // the ECS error (503) when it could not be forwarded; counted in metrics
  // and logged like Handle()'s. `forwarded` is the forwarder's result, or
  // the plan's refusal.
  HttpResponse FinishForward(const ForwardPlan& plan, const HttpRequest& request, Result<HttpResponse> forwarded);
  Forwarder& forwarder() { return *forwarder_; }

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
  // Only before the first request (the server sets it once bound).
  void SetHostId(std::string host_id) { host_id_ = std::move(host_id); }

 private:
  ActionTable actions_;
  const RegionSet& regions_;
  AccountDirectory& accounts_;
  const Clock& clock_;
  Metrics& metrics_;
  std::string host_id_;  // set before serving, read-only after
  Authenticator authenticator_;
  std::unique_ptr<Forwarder> forwarder_;
};

// Whether `action` is about the cluster rather than one region (so the
// cluster owner runs it, whatever RegionId says): DescribeRegions,
// CreateAccount.
bool IsClusterWideAction(const std::string& action);

// The process serving the alphabetically first region of the cluster (local
// or remote), as a remote region of it; null when this process serves it
// (or the cluster is this process alone).
const RemoteRegionInfo* ClusterOwner(const RegionSet& regions);

// The remote process that owns a request for `action` with `params` (see
// above), or null when this process owns it.
const RemoteRegionInfo* RemoteOwner(const RegionSet& regions, const std::string& action, const Params& params);

// Parses the query of `request.target` and, for an urlencoded body, the form
// body, into one map (a form value wins over a query value of the same name).
Result<Params> ParseRequestParams(const HttpRequest& request);

}  // namespace ferry
