// Server: the HTTP front door (Boost.Beast). Routes "/" to the ECS RPC API,
// "/metrics" to Prometheus text, "/healthz" to a liveness probe.
//
// Threading: Start() spawns `threads` I/O threads; handlers run on them.
// Stop() stops accepting, lets in-flight requests finish, and joins.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/action.h"
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
};

class Server {
 public:
  virtual ~Server() = default;
  virtual uint16_t port() const = 0;  // the bound port
  virtual void Stop() = 0;            // idempotent
};

Result<std::unique_ptr<Server>> StartServer(const ServerConfig& config, const RegionSet& regions,
                                            AccountDirectory& accounts, const Clock& clock);

}  // namespace ferry
