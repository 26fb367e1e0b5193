// Forwarder: relays an ECS request for a region another Ferry process serves
// to that process, and its answer back, unchanged.
//
// The request goes out as it came in — method, target, every header
// (Host included) and the body — so the account's signature still holds and
// the owner authenticates it; only hop-by-hop headers (Connection,
// Transfer-Encoding, ...) are redone, and `x-ferry-forwarded: 1` is added so
// the owner never forwards it again. The response comes back with its status,
// Content-Type, end-to-end headers and body.
//
// Errors: kInvalidArgument for a base URL that is not http://host[:port];
// kUnavailable when the peer cannot be reached, does not answer within the
// deadline, or sends a response that is cut short, malformed or larger
// than `max_response_bytes`.
//
// Threading: thread-safe. The I/O of every call runs asynchronously on the
// forwarder's own I/O thread (one io_context the forwarder owns), with a
// deadline on every step, so a call in flight holds no thread: ForwardAsync
// returns at once, and the server's threads go on serving while a peer
// answers (a peer may need this very process to answer first: its
// CopyImage calls our AcceptCopy). Forward() is the blocking form for
// callers with a thread of their own to spend (the keep-ready loop, tests);
// it must not be called from a `done` callback. Up to `max_idle_per_peer`
// connections per peer are kept alive between calls, and at most
// `max_in_flight` calls run at once: more are refused at once
// (kUnavailable), never queued. Destroying the forwarder abandons the calls
// in flight; their `done` is not called.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/http_types.h"
#include "common/status.h"

namespace ferry {

// Marks a request one process has forwarded to another (value "1").
inline constexpr const char* kForwardedHeader = "x-ferry-forwarded";
// Status::reason() of a forward that never reached the process (its host
// did not resolve, or the connection was refused or timed out): nothing was
// sent, so another process of the region may be asked instead.
inline constexpr const char* kForwardNotConnected = "ForwardNotConnected";

struct ForwarderOptions {
  int timeout_ms = 60000;  // per step: connect, write, read
  unsigned max_idle_per_peer = 4;
  uint64_t max_response_bytes = 64u << 20;
  unsigned max_in_flight = 1024;
};

class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Sends `request` to the process at `base_url` ("http://host:port").
  // `timeout_ms` > 0 replaces the per-step deadline for this call.
  // Blocks the calling thread until the answer (or the error) is in.
  virtual Result<HttpResponse> Forward(const std::string& base_url, const HttpRequest& request,
                                       int timeout_ms = 0) = 0;

  using Done = std::function<void(Result<HttpResponse>)>;
  // Starts the same call and returns at once; `done` runs exactly once, on
  // the forwarder's I/O thread (so it must be quick: post the answer on),
  // or on the calling thread before ForwardAsync returns when the call is
  // refused at once (`max_in_flight` calls in flight).
  virtual void ForwardAsync(const std::string& base_url, HttpRequest request, int timeout_ms, Done done) = 0;
};

std::unique_ptr<Forwarder> NewHttpForwarder(const ForwarderOptions& options = {});

}  // namespace ferry
