// PeerNonceSpender: spends signature nonces at the cluster owner (the
// process serving the cluster's alphabetically first region, api/dispatcher.h
// ClusterOwner), so a nonce is used once in the whole cluster. Uploads need
// it: every process takes them, so a captured upload request replayed to
// another process would otherwise find that process's cache empty.
//
//   POST /ferry/peer/v1/nonces  {"AccessKeyId","Nonce","Timestamp"}
//
// answered 200 {} (fresh), 400 SignatureNonceUsed, or 503 (the owner's cache
// is full), from the owner's own Authenticator (peer_protocol.md).
//
// Failures: fails closed. An owner that cannot be reached gives kUnavailable
// "ServiceUnavailable": a nonce that cannot be checked is not accepted.
//
// Threading: thread-safe (PeerClient is).
#pragma once

#include <memory>

#include "api/auth.h"
#include "copy/peer_client.h"

namespace ferry {

std::unique_ptr<NonceSpender> NewPeerNonceSpender(std::unique_ptr<PeerClient> cluster_owner);

}  // namespace ferry
