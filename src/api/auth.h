// Authenticator: verifies ECS request signatures (V1 HMAC-SHA1 and V3
// ACS3-HMAC-SHA256), the timestamp window and nonce reuse, and resolves the
// AccessKey to the calling account.
//
// Failures are Status values whose reason is the gateway's ECS error code
// (SignatureDoesNotMatch, InvalidAccessKeyId.NotFound, ...), with the exact
// messages SDKs parse (see api/errors.cc for the HTTP statuses).
//
// Threading: thread-safe (the nonce cache has its own lock).
#pragma once

#include <atomic>
#include <cstddef>
#include <map>
#include <string>

#include "api/http_types.h"
#include "api/params.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/nonce_cache.h"
#include "common/status.h"
#include "region/region.h"

namespace ferry {

inline constexpr const char* kSignatureMismatchPrefix =
    "Specified signature is not matched with our calculation. server string to sign is:";

struct AuthResult {
  Caller caller;
  bool is_root = false;
  std::string access_key_id;
  bool v3 = false;
};

// The longest SignatureNonce (V1) or x-acs-signature-nonce (V3) accepted.
// Alibaba documents no bound; SDKs send a 36-character UUID or 32 hex
// digits. Longer is refused with 400 InvalidParameter before anything else
// about the nonce is looked at.
inline constexpr size_t kMaxSignatureNonceLength = 128;

// Where nonces are spent when they must be unique in the whole cluster, not
// only in this process: the cluster owner's Authenticator, asked over the
// peer API (api/peer_nonces.h). Spend answers Ok for a fresh nonce, reason
// "SignatureNonceUsed" for a used one, kUnavailable when it cannot tell.
// Thread-safe.
class NonceSpender {
 public:
  virtual ~NonceSpender() = default;
  virtual Status Spend(const std::string& access_key_id, const std::string& nonce, UnixSeconds timestamp) = 0;
};

// How every authenticator of this process (ECS here, OSS in api/oss_auth.h)
// resolves an AccessKey: its record (InvalidAccessKeyId.NotFound when the
// directory has none; 503 ServiceUnavailable when it cannot tell), then the
// account it belongs to (Forbidden.AccessKeyDisabled for a disabled key).
Result<AccessKeyRecord> LookupAccessKey(AccountDirectory& accounts, const std::string& access_key_id);
Result<AuthResult> ResolveAccessKey(AccountDirectory& accounts, const AccessKeyRecord& key, bool v3);

class Authenticator {
 public:
  // Nonces remembered at once (common/nonce_cache.h: about 62 bytes each).
  // When that many are live, signed requests are refused with 503
  // ServiceUnavailable until some expire; none is ever forgotten early.
  static constexpr size_t kDefaultMaxNonces = 1'000'000;
  // One AccessKey may hold at most max_nonces / kNonceShareDivisor of them;
  // beyond, its requests get 400 Throttling.User while other keys go on.
  static constexpr size_t kNonceShareDivisor = 4;

  Authenticator(AccountDirectory& accounts, const Clock& clock, int max_skew_seconds,
                size_t max_nonces = kDefaultMaxNonces);

  // `params` is the merged, decoded query + form body of `request`. A request
  // whose Authorization starts with "ACS3-HMAC-SHA256 " is checked as V3
  // (including the body's SHA-256); anything else as V1.
  Result<AuthResult> Authenticate(const HttpRequest& request, const Params& params);

  // V3 only, for requests whose body streams elsewhere (uploads): checks
  // everything but the body; the caller must verify the body against
  // `x-acs-content-sha256`. `canonical_uri` is the request path; `query` its
  // decoded parameters. Any process of a cluster takes uploads, so their
  // nonce is spent with the cluster's nonces (SetClusterNonces), and a
  // captured upload request is refused by every process, not only the one
  // that saw it first.
  Result<AuthResult> AuthenticateV3WithoutBody(const HttpRequest& request, const std::string& canonical_uri,
                                               const std::map<std::string, std::string>& query);

  static bool IsV3(const HttpRequest& request);

  // Spends `nonce` of `access_key_id` in this process's cache, remembered
  // until `timestamp` + the skew window: Ok, "SignatureNonceUsed", or 503
  // when the cache is full. What the peer API answers a NonceSpender with.
  Status SpendNonce(const std::string& access_key_id, const std::string& nonce, UnixSeconds timestamp);
  // The seconds a request's timestamp may be off from now.
  int max_skew_seconds() const { return max_skew_seconds_; }

  // Where AuthenticateV3WithoutBody spends nonces in a cluster whose owner
  // is another process; null (the default) = this process's cache. Set
  // before requests are served; borrowed.
  void SetClusterNonces(NonceSpender* cluster_nonces) { cluster_nonces_ = cluster_nonces; }

  // The ledger of the region's other nodes (issue 13), asked after this
  // process's cache accepts a nonce: a nonce another node spent is refused
  // here too, and a ledger that cannot answer makes the request 503. Null
  // (the default) = this process alone. Set before requests are served;
  // borrowed.
  void SetSharedNonces(NonceLedger* ledger) { shared_nonces_ = ledger; }

  // Nonces remembered now (for tests and metrics).
  size_t nonces_in_use() const { return nonces_.size(); }

 private:
  Result<AuthResult> AuthenticateV1(const HttpRequest& request, const Params& params);
  // `nonces` null = this process's cache.
  Result<AuthResult> AuthenticateV3(const HttpRequest& request, const std::string& canonical_uri,
                                    const std::map<std::string, std::string>& query, bool check_body,
                                    NonceSpender* nonces);
  Status CheckTimestamp(const std::string& value, const std::string& name, UnixSeconds* parsed) const;
  // A nonce this process's cache accepted, claimed in the shared ledger if
  // there is one.
  Status SpendWithOtherNodes(const NonceCache::Digest& digest, UnixSeconds now, UnixSeconds expires_at);

  AccountDirectory& accounts_;
  const Clock& clock_;
  const int max_skew_seconds_;
  NonceCache nonces_;
  NonceSpender* cluster_nonces_ = nullptr;
  NonceLedger* shared_nonces_ = nullptr;
  std::atomic<UnixSeconds> last_full_warning_{0};    // when "nonce cache full" was last logged
  std::atomic<UnixSeconds> last_ledger_warning_{0};  // when the ledger's failure was last logged
};

}  // namespace ferry
