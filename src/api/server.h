// Server: the HTTP front door (Boost.Beast). Routes "/" to the ECS RPC API,
// "/metrics" to Prometheus text, "/healthz" to a liveness probe,
// "/ferry/peer/v1/" to the region-to-region peer protocol
// (api/peer_endpoints.h, authenticated with the cluster key), and
// "/oss/<bucket>/<object>" to object-storage uploads:
//   PUT  /oss/<bucket>/<object>?uploadId=U&offset=O   body = bytes at offset O
//   POST /oss/<bucket>/<object>?uploadId=U&complete=1&size=S[&staging=1]   publish
//        (staging=1: a CLI staging copy, removed when its import ends)
//   DELETE /oss/<bucket>/<object>?uploadId=U   abort the upload (its parts go)
//   DELETE /oss/<bucket>/<object>              delete the object
// each part counted against the account's stored-bytes quota (region/quotas.h);
// all signed with ACS3-HMAC-SHA256 (canonical URI = the path; the body's
// SHA-256 in x-acs-content-sha256 is verified while the body streams to disk,
// so a large part never sits in memory).
//
// Threading: no thread ever waits for an answer that needs a thread of
// the same kind (here or in a peer process) to be produced:
//   - `threads` I/O threads only accept, read, parse and write (and stream
//     upload bodies to disk); they never run a handler or wait on a peer.
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
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/action.h"
#include "region/object_storage.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/status.h"

namespace ferry {

struct ServerConfig {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8080;  // 0 = pick a free port
  unsigned threads = 4;  // I/O threads
  unsigned client_workers = 16;
  unsigned peer_workers = 8;
  size_t max_queued_requests = 256;  // per pool
  int max_clock_skew_seconds = 15 * 60;
  std::string host_id = "ecs.aliyuncs.com";  // HostId in error bodies
  // Signature nonces remembered at once (api/auth.h); when that many are
  // live, signed requests get 503 until some expire.
  size_t max_nonces = 1'000'000;
  // Shared secret of the cluster for the peer protocol; empty closes it.
  std::string cluster_key;
  // The directory that answers peers' AccessKey lookups: this process's
  // own, never one that asks peers in turn (a lookup must not travel in
  // circles). Null = the `accounts` given to StartServer.
  AccountDirectory* local_accounts = nullptr;
};

class Server {
 public:
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;  // the bound port
  virtual void Stop() = 0;            // idempotent
};

// `actions` is normally BuiltinActions(); tests pass their own table.
// Borrowed objects must outlive the server.
Result<std::unique_ptr<Server>> StartServer(const ServerConfig& config, ActionTable actions,
                                            const RegionSet& regions, AccountDirectory& accounts,
                                            ObjectStorage& object_storage, const Clock& clock);

}  // namespace ferry
