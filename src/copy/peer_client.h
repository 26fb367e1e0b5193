// PeerClient: signed HTTP/1.1 calls to another Ferry process's peer API
// (peer_protocol.md), over a small pool of kept-alive connections. The
// chunk source (HttpChunkSource), the remote copy peer (region layer) and
// the peer account lookup (api layer) all talk to peers through it.
//
// Errors: transport failures (refused, reset, timeout, a response cut short)
// and 5xx other than a peer's own error body are kUnavailable — the Status a
// caller retries with backoff. A peer's JSON error body
// {"RequestId","Code","Message","Status"} becomes a Status with that Code as
// its reason, that Message, and the code named by "Status" (CodeName: "NotFound",
// "AlreadyExists", ...) as its code, so an ECS error raised in another
// process reaches the client unchanged.
//
// Threading: thread-safe; at most `max_connections` requests run at once,
// later callers wait for a free connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace ferry {

struct PeerClientOptions {
  std::string base_url;     // "http://127.0.0.1:8080" — the peer's server
  std::string cluster_key;  // shared secret of the cluster (peer_protocol.md)
  int timeout_ms = 30000;   // per step: resolve, connect, write, read
  unsigned max_connections = 8;
  uint64_t max_response_bytes = 64u << 20;
  // A kept-alive connection idle for longer is closed, not reused: the
  // peer may have closed it (a Ferry server closes connections idle for
  // 120 s), or a middlebox forgotten it. TCP keepalive probes every 30 s
  // keep a live one known to the path and find a dead one within a minute.
  int max_idle_ms = 100000;
};

struct PeerResponse {
  int status = 0;  // always 2xx: other statuses are returned as a Status
  std::string content_type;
  std::vector<uint8_t> body;
};

class PeerClient {
 public:
  virtual ~PeerClient() = default;
  // `method` GET, PUT, POST or DELETE; `target` the path (no query string);
  // `body` sent as is (Content-Type application/json when not empty) and
  // covered by the signature. `timeout_ms` > 0 replaces the client's
  // per-step deadline for this call (a best-effort call that must not hold
  // its caller up for long). `max_response_bytes` > 0 lowers the client's
  // bound on the answer for this call (a chunk's answer is no larger than
  // its object can be); a larger answer is refused before its body is read.
  virtual Result<PeerResponse> Call(const std::string& method, const std::string& target,
                                    const std::string& body = "", int timeout_ms = 0,
                                    uint64_t max_response_bytes = 0) = 0;
  // Opens connections, each with one GET of `target` (a cheap route such as
  // a region ping), until `connections` kept-alive ones wait in the pool, at
  // most max_connections in all; the new ones are opened at once, so on a
  // long link they cost one round trip together rather than one each when
  // they are first needed. Idle connections past half of max_idle_ms get
  // the same GET, which keeps them usable: calling Warm more often than
  // that keeps the pool ready indefinitely. Best effort: a failure drops
  // the connection and is met again by the calls that follow. `timeout_ms`
  // > 0 as for Call.
  virtual void Warm(const std::string& target, unsigned connections, int timeout_ms = 0) = 0;
  // The shortest time any call with a small answer (<= 64 KiB) took from
  // sending its request to the end of the answer, on an open connection:
  // the path's round trip plus the peer's work. Zero until one was seen.
  virtual std::chrono::microseconds min_round_trip() const = 0;
  virtual const std::string& base_url() const = 0;
};

// kInvalidArgument when `base_url` is not http://host[:port].
Result<std::unique_ptr<PeerClient>> NewPeerClient(const PeerClientOptions& options);

}  // namespace ferry
