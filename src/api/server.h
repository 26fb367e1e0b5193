// Server: the HTTP front door (Boost.Beast). Routes "/" to the ECS RPC API,
// "/metrics" to Prometheus text, "/healthz" to a liveness probe,
// "/ferry/peer/v1/" to the region-to-region peer protocol
// (api/peer_endpoints.h, authenticated with the cluster key), and
// "/oss/<bucket>/<object>" to object-storage uploads:
//   PUT  /oss/<bucket>/<object>?uploadId=U&offset=O   body = bytes at offset O
//   POST /oss/<bucket>/<object>?uploadId=U&complete=1&size=S   publish
// both signed with ACS3-HMAC-SHA256 (canonical URI = the path; the body's
// SHA-256 in x-acs-content-sha256 is verified while the body streams to disk,
// so a large part never sits in memory). O, O + part length and S are at most
// ObjectStorage::kMaxObjectBytes (48.8 TiB), else 400 InvalidParameter; gaps
// between parts stay holes, so S may exceed the bytes sent.
// A handler that throws (std::bad_alloc included) answers 500 InternalError
// with the generic message; the log keeps the detail.
//
// Threading: Start() spawns `threads` I/O threads; handlers run on them.
// Stop() stops accepting, lets in-flight requests finish, and joins.
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
  unsigned threads = 4;
  int max_clock_skew_seconds = 15 * 60;
  std::string host_id = "ecs.aliyuncs.com";  // HostId in error bodies
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
