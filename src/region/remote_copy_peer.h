// RemoteCopyPeer: a CopyPeer for a region served by another Ferry process,
// reached over the peer API (copy/peer_protocol.md) with the cluster key:
//
//   AcceptCopy        POST   /ferry/peer/v1/regions/{region}/copies
//   CopyInProgress    GET    /ferry/peer/v1/regions/{region}/copies/{copy_image_id}
//   AcquireCopyLease  PUT    /ferry/peer/v1/regions/{region}/images/{id}/copy-leases/{copy_region}/{copy_id}
//   ReleaseCopyLease  DELETE (same path)
//
// Errors: kUnavailable when the peer cannot be reached (or answers 5xx
// without its own error body); errors the remote region raised keep their
// code, ECS reason and message (PeerClient), so a CopyImage refused in
// another process reads exactly as one refused here. A 2xx answer whose body
// is not what the protocol says is kInternal naming the peer and the call.
//
// Threading: thread-safe (the PeerClient is).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "region/region.h"

namespace ferry {

struct RemoteCopyPeerOptions {
  std::string region_id;    // the remote region this peer stands for
  std::string base_url;     // "http://host:port" of the process serving it
  // Further servers (nodes) of the region: calls fail over to them
  // (copy/failover_peer_client.h).
  std::vector<std::string> more_urls;
  std::string cluster_key;  // shared secret of the cluster
  int timeout_ms = 10000;   // per step of a call: connect, write, read
};

// kInvalidArgument when `base_url` is not http://host[:port] or
// `region_id` is empty.
Result<std::unique_ptr<CopyPeer>> NewRemoteCopyPeer(const RemoteCopyPeerOptions& options);

}  // namespace ferry
