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
// Threading: thread-safe. Each call runs on the calling thread (synchronous
// I/O with a deadline on every step); up to `max_idle_per_peer` connections
// per peer are kept alive between calls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/http_types.h"
#include "common/status.h"

namespace ferry {

// Marks a request one process has forwarded to another (value "1").
inline constexpr const char* kForwardedHeader = "x-ferry-forwarded";

struct ForwarderOptions {
  int timeout_ms = 60000;  // per step: connect, write, read
  unsigned max_idle_per_peer = 4;
  uint64_t max_response_bytes = 64u << 20;
};

class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Sends `request` to the process at `base_url` ("http://host:port").
  // `timeout_ms` > 0 replaces the per-step deadline for this call.
  virtual Result<HttpResponse> Forward(const std::string& base_url, const HttpRequest& request,
                                       int timeout_ms = 0) = 0;
};

std::unique_ptr<Forwarder> NewHttpForwarder(const ForwarderOptions& options = {});

}  // namespace ferry
