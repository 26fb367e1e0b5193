// PeerEndpoints: the server side of the peer protocol (copy/peer_protocol.md)
// under /ferry/peer/v1/: what other Ferry processes of the cluster ask of
// the regions and accounts this process holds. Every request is
// authenticated with the cluster key (method, target, date, nonce and body
// signed), never with an account's AccessKey, and accepted once: a replayed
// nonce is refused.
//
//   GET    regions/{region}/snapshots/{snapshot_id}/manifest   a copy pulls
//   GET    regions/{region}/chunks/{64 hex digits}
//   POST   regions/{region}/copies                             AcceptCopy
//   GET    regions/{region}/copies/{copy_image_id}             CopyInProgress
//   PUT    regions/{region}/images/{id}/copy-leases/{copy_region}/{copy_id}
//   DELETE (same)                                              the copy leases
//   GET    access-keys/{access_key_id}                         AccessKey lookup
//   GET    accounts/{account_id}                               account lookup (no secrets)
//   POST   nonces                                              spend an upload's nonce
//
// Only this process's own regions and its own AccountDirectory answer:
// nothing is forwarded to other peers, so a lookup can never loop.
// Errors are JSON {RequestId, Code, Message, Status} with the HTTP status
// of the table in peer_protocol.md; Status names the internal code
// (CodeName) so the caller's PeerClient rebuilds the same Status.
//
// Threading: Handle() is thread-safe (the object is immutable after
// construction but for the nonce cache, which locks itself; the regions and
// the directory are thread-safe).
#pragma once

#include <string>

#include "api/action.h"
#include "api/auth.h"
#include "api/http_types.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/nonce_cache.h"
#include "common/status.h"
#include "copy/peer_wire.h"

namespace ferry {

class PeerEndpoints {
 public:
  // An empty `cluster_key` closes the peer API: every request gets 403.
  // `local_accounts` is this process's own directory, not one that asks
  // peers. `authenticator` spends the nonces peers send (POST nonces);
  // null answers that route 404. Borrowed objects must outlive this one.
  PeerEndpoints(std::string cluster_key, const RegionSet& regions, AccountDirectory& local_accounts,
                const Clock& clock, Authenticator* authenticator = nullptr);

  // The largest body POST nonces takes.
  static constexpr size_t kMaxPeerNonceBody = 1024;

  HttpResponse Handle(const HttpRequest& request) const;

  // The ledger of the region's other nodes (issue 13): a peer request's
  // nonce another node accepted is a replay here too. Null (the default) =
  // this process alone. Set before requests are served; borrowed.
  void SetSharedNonces(NonceLedger* ledger) { shared_nonces_ = ledger; }

  // The status and body of a peer error; exposed for tests and the server.
  static HttpResponse ErrorResponse(const Status& status, const std::string& request_id);

 private:
  Result<HttpResponse> Serve(const HttpRequest& request) const;
  Result<HttpResponse> ServeAccessKey(const std::string& access_key_id) const;
  Result<HttpResponse> ServeAccount(const std::string& account_id) const;
  Result<HttpResponse> ServeNonce(const std::string& body) const;
  Result<HttpResponse> ServeRegion(Region& region, const PeerRoute& route, const HttpRequest& request) const;

  const std::string cluster_key_;
  const RegionSet& regions_;
  AccountDirectory& local_accounts_;
  Authenticator* const authenticator_;
  const Clock& clock_;
  // Nonces of the peer requests accepted within the date window: a captured
  // request is refused the second time (thread-safe on its own).
  mutable NonceCache nonces_;
  NonceLedger* shared_nonces_ = nullptr;
};

}  // namespace ferry
