// PeerEndpoints: the server side of the region-to-region peer protocol
// (copy/peer_protocol.md) under /ferry/peer/v1/. A destination region
// pulls a snapshot's manifest and chunks from here; every request is
// authenticated with the cluster key, not with an account's AccessKey.
//
//   GET /ferry/peer/v1/regions/{region}/snapshots/{snapshot_id}/manifest
//   GET /ferry/peer/v1/regions/{region}/chunks/{64 hex digits}
//
// Errors are JSON {RequestId, Code, Message} with the status of the table
// in peer_protocol.md.
//
// Threading: Handle() is thread-safe (the object is immutable after
// construction; the regions are thread-safe).
#pragma once

#include <string>

#include "api/action.h"
#include "api/http_types.h"
#include "common/clock.h"
#include "common/status.h"

namespace ferry {

class PeerEndpoints {
 public:
  // An empty `cluster_key` closes the peer API: every request gets 403.
  // Borrowed objects must outlive this one.
  PeerEndpoints(std::string cluster_key, const RegionSet& regions, const Clock& clock);

  HttpResponse Handle(const HttpRequest& request) const;

  // The status and body of a peer error; exposed for tests and the server.
  static HttpResponse ErrorResponse(const Status& status, const std::string& request_id);

 private:
  Result<HttpResponse> Serve(const HttpRequest& request) const;

  const std::string cluster_key_;
  const RegionSet& regions_;
  const Clock& clock_;
};

}  // namespace ferry
