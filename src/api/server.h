// Server: the HTTP front door (Boost.Beast). Three listeners:
//
// The tenant listener routes "/" to the ECS RPC API and
// "/ferry/peer/v1/" to the region-to-region peer protocol
// (api/peer_endpoints.h, authenticated with the cluster key). Objects are
// uploaded and downloaded on the OSS listener (below), the one upload path.
// A handler that throws (std::bad_alloc included) answers 500 InternalError
// with the generic message; the log keeps the detail.
//
// Threading: no thread ever waits for an answer that needs a thread of
// the same kind (here or in a peer process) to be produced:
//   - `threads` I/O threads only accept, read, parse and write (and stream
//     object bodies to and from disk); they never run a handler or wait on
//     a peer.
//   - ECS requests for this process's regions run on the client pool
//     (`client_workers` threads). A client handler may wait on a peer
//     process's *peer* pool (CopyImage calls the destination's AcceptCopy,
//     an AccessKey lookup asks the key's owner), never on a client pool.
//   - Peer-protocol requests run on the peer pool (`peer_workers`
//     threads); peer handlers answer from local state and never wait on a
//     client pool anywhere (copy/peer_protocol.md, "Threads").
//   - ECS requests for a region another process serves are forwarded
//     asynchronously (Forwarder::ForwardAsync): nothing here waits while
//     the owner works on them.
// A pool whose queue holds `max_queued_requests` jobs answers the next
// request at once with 503 ServiceUnavailable (ECS format for clients, the
// peer error format for peers) instead of queueing it behind handlers that
// may be waiting themselves. Stop() stops accepting, lets in-flight requests
// finish, and joins the I/O threads, then the pools.
//
// The OSS listener serves the OSS object API (api/oss_endpoint.h) and
// nothing else: handlers (parsing, authentication, commits, listings) run
// on the client pool; bodies stream between the socket and the object
// store on the I/O threads in kUploadBufferBytes pieces, as uploads do, so
// neither an upload nor a download is ever whole in memory. Its errors are
// OSS XML.
//
// The operator's (admin) listener, loopback by default, serves only
// "/metrics" (Prometheus text) and "/healthz" (a liveness probe). The
// tenant listener answers those two 404: the counters tell about every
// account (which blocks are deduplicated, which actions run), and tenants
// must not see them.
//
// HTTP hygiene, on both listeners: a HEAD request gets the GET answer's
// status and headers (Content-Length included) and never a body, whatever
// the route. A request the parser refuses gets an answer before the
// connection closes: 431 for a header over kMaxHeaderBytes, 413 for a body
// over the route's limit, 400 for anything else malformed (bad chunked
// encoding, a control character or a byte outside printable ASCII in the
// target, a bad header line), each with an ECS error body.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/action.h"
#include "api/auth.h"
#include "api/oss_request.h"
#include "objects/object_store.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/status.h"

namespace ferry {

// Request line plus header fields, in bytes (431 beyond).
inline constexpr uint32_t kMaxHeaderBytes = 8u << 10;

struct ServerConfig {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8080;  // 0 = pick a free port
  unsigned threads = 4;  // I/O threads
  unsigned client_workers = 16;
  unsigned peer_workers = 8;
  size_t max_queued_requests = 256;  // per pool
  int max_clock_skew_seconds = 15 * 60;
  // Ferry's own host, "HOST:PORT": the HostId of error bodies and the
  // RegionEndpoint of the regions served here. "" = this listener's
  // authority once bound (ListenerAuthority: a wildcard address becomes
  // loopback), what `ferry serve` prints as its endpoint.
  std::string host_id;
  // Signature nonces remembered at once (api/auth.h); when that many are
  // live, signed requests get 503 until some expire.
  size_t max_nonces = 1'000'000;
  // The operator's listener for /metrics and /healthz; an empty address
  // opens none. Port 0 = pick a free port.
  std::string admin_listen_address;
  uint16_t admin_port = 0;
  // Shared secret of the cluster for the peer protocol; empty closes it.
  std::string cluster_key;
  // The directory that answers peers' AccessKey lookups: this process's
  // own, never one that asks peers in turn (a lookup must not travel in
  // circles). Null = the `accounts` given to StartServer.
  AccountDirectory* local_accounts = nullptr;
  // Where uploads spend their signature nonces when the cluster owner is
  // another process (api/peer_nonces.h); null = this process's own cache.
  // Borrowed: must outlive the server.
  NonceSpender* cluster_nonces = nullptr;
  // The nonces every node of this region has accepted (common/nonce_cache.h
  // NonceLedger; PgNonceLedger in the region's database), asked after this
  // node's own cache for ECS and peer requests; null = one node. Borrowed.
  NonceLedger* shared_nonces = nullptr;
  // The OSS object endpoint (api/oss_endpoint.h) over the server's object
  // store, on a listener of its own; none when `oss_listen_address` is
  // empty. Port 0 = pick a free port.
  std::string oss_listen_address;
  uint16_t oss_port = 0;
  OssEndpoint oss_endpoint;  // virtual-host domain and default bucket
};

class Server {
 public:
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;  // the bound port
  virtual uint16_t admin_port() const = 0;  // the admin listener's bound port; 0 = none
  virtual uint16_t oss_port() const = 0;    // the OSS listener's bound port; 0 = none
  virtual void Stop() = 0;            // idempotent
};

// `actions` is normally BuiltinActions(); tests pass their own table.
// Borrowed objects must outlive the server.
Result<std::unique_ptr<Server>> StartServer(const ServerConfig& config, ActionTable actions,
                                            const RegionSet& regions, AccountDirectory& accounts,
                                            ObjectStore& object_storage, const Clock& clock);

}  // namespace ferry
