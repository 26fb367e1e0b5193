// Cluster-key authentication of the peer protocol (peer_protocol.md): the
// headers a peer request carries, how the client signs it, how the server
// checks it, and where a server keeps its generated key.
//
// Threading: pure functions, except LoadOrCreateClusterKey (file I/O; call
// it once at start-up).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/nonce_cache.h"
#include "common/status.h"

namespace ferry {

inline constexpr const char* kPeerDateHeader = "x-ferry-date";
inline constexpr const char* kPeerNonceHeader = "x-ferry-nonce";
inline constexpr const char* kPeerSignatureHeader = "x-ferry-peer-signature";
// A request dated further than this from the server's clock is refused, so
// a captured request cannot be replayed later; within it, its nonce is
// refused a second time. Peers of a cluster run NTP: five minutes is ample.
inline constexpr int64_t kPeerMaxClockSkewSeconds = 5 * 60;
// A nonce is this many random bytes, sent as lower-case hex (32 digits).
inline constexpr size_t kPeerNonceBytes = 16;
// The nonces a server remembers at once (common/nonce_cache.h, ~62 bytes
// each); beyond it peer requests get 503 until some expire.
inline constexpr size_t kPeerMaxNonces = 1'000'000;
// The scope of peer nonces in a NonceCache.
inline constexpr std::string_view kPeerNonceScope = "ferry-peer-v1";
// Generated keys: this many random bytes, written as lower-case hex.
inline constexpr size_t kClusterKeyRandomBytes = 32;

// METHOD "\n" TARGET "\n" DATE "\n" NONCE "\n" hex(SHA-256(body)) — the
// signed string. Requests without a body (GET, DELETE) hash the empty
// string. Signing the body's digest keeps a captured POST from carrying
// another body; signing the nonce keeps it from being replayed with another.
std::string PeerStringToSign(std::string_view method, std::string_view target, std::string_view date,
                             std::string_view nonce, std::string_view body_sha256_hex);

// hex(HMAC-SHA256(cluster_key, PeerStringToSign(..., hex(SHA-256(body))))).
std::string SignPeerRequest(std::string_view cluster_key, std::string_view method, std::string_view target,
                            std::string_view date, std::string_view nonce, std::string_view body);

// A fresh nonce for one request: kPeerNonceBytes random bytes in hex.
std::string NewPeerNonce();

// Checks a received request's date, nonce and signature over its method,
// target, date, nonce and body, then — when `nonces` is given — that the
// nonce was not used before (it is remembered until the date leaves the
// window). kUnauthenticated with reason "Forbidden.PeerDate" (missing,
// malformed, or more than `max_skew_seconds` from `now`),
// "Forbidden.PeerNonce" (missing or not 32 lower-case hex digits),
// "Forbidden.PeerSignature" (missing or wrong signature, or `cluster_key`
// empty: the peer API is then closed) or "Forbidden.PeerNonceUsed" (a
// replay); kUnavailable "ServiceUnavailable" when `nonces` is full. The
// signature comparison runs in constant time. With `ledger` (the region's
// nodes' shared nonces, issue 13), a nonce `nonces` accepted must also be
// the ledger's first use of it: another node's is a replay, and a ledger
// that cannot answer is kUnavailable.
Status VerifyPeerRequest(std::string_view cluster_key, std::string_view method, std::string_view target,
                         std::string_view body, std::string_view date, std::string_view nonce,
                         std::string_view signature, UnixSeconds now, NonceCache* nonces,
                         int64_t max_skew_seconds = kPeerMaxClockSkewSeconds, NonceLedger* ledger = nullptr);

// Secrets that travel between peers (an AccessKey secret looked up by a
// process that does not hold it) are sealed with AES-256-GCM under a key
// derived from the cluster key (HMAC-SHA256(cluster_key, "ferry-peer-seal-v1")),
// a fresh random 12-byte nonce each time, and `context` (e.g. the
// AccessKeyId) as additional authenticated data, so a sealed secret cannot be
// replayed as another key's. Sealed form: lower-case hex of
// nonce || ciphertext || 16-byte tag.
std::string SealPeerSecret(std::string_view cluster_key, std::string_view context, std::string_view secret);
// kUnauthenticated ("Forbidden.PeerSeal") when the sealed text is malformed
// or fails authentication (wrong key, wrong context, altered bytes).
Result<std::string> OpenPeerSecret(std::string_view cluster_key, std::string_view context,
                                   std::string_view sealed);

// The key stored at `path`, or — when the file does not exist — a new
// random key written there atomically with mode 0600. An empty or
// unreadable file is an error naming the path.
Result<std::string> LoadOrCreateClusterKey(const std::string& path);

}  // namespace ferry
