// FailoverPeerClient: a PeerClient over the several servers (nodes) of one
// peer region (issue 13: a region on several machines). Calls go to the
// server that answered last; a call that cannot reach it (kUnavailable:
// refused, reset, timed out, a 5xx without a peer's error body) is sent to
// the next one, each server at most once per call, and the one that answers
// becomes the server of the calls that follow. Any other answer, an error
// included, is the call's answer: a peer that refused is not asked again
// elsewhere.
//
// A call is sent again only when the first server gave no usable answer,
// which the peer protocol's calls tolerate (reads, and writes keyed by the
// copy they are about), but for one: a spent upload nonce (POST nonces)
// whose answer was lost is refused by the next server as a replay.
//
// Calls that start work on the peer (`spread` says which: a new copy) are
// spread instead: each starts at the server after the one the previous such
// call started at, so the peer's nodes share that work without a balancer in
// front of them; failover is the same.
//
// Threading: thread-safe (the clients are; the indexes are atomic).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "copy/peer_client.h"

namespace ferry {

// Whether a call (method, target) starts work the peer's servers should share.
using SpreadCalls = std::function<bool(const std::string& method, const std::string& target)>;

// `clients` in order of preference, at least one.
std::unique_ptr<PeerClient> NewFailoverPeerClient(std::vector<std::shared_ptr<PeerClient>> clients,
                                                  SpreadCalls spread = nullptr);

}  // namespace ferry
