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
// Threading: thread-safe (the clients are; the current index is atomic).
#pragma once

#include <memory>
#include <vector>

#include "copy/peer_client.h"

namespace ferry {

// `clients` in order of preference, at least one.
std::unique_ptr<PeerClient> NewFailoverPeerClient(std::vector<std::shared_ptr<PeerClient>> clients);

}  // namespace ferry
