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

class Authenticator {
 public:
  // Nonces remembered at once (common/nonce_cache.h: about 62 bytes each).
  // When that many are live, signed requests are refused with 503
  // ServiceUnavailable until some expire; none is ever forgotten early.
  static constexpr size_t kDefaultMaxNonces = 1'000'000;

  Authenticator(AccountDirectory& accounts, const Clock& clock, int max_skew_seconds,
                size_t max_nonces = kDefaultMaxNonces);

  // `params` is the merged, decoded query + form body of `request`. A request
  // whose Authorization starts with "ACS3-HMAC-SHA256 " is checked as V3
  // (including the body's SHA-256); anything else as V1.
  Result<AuthResult> Authenticate(const HttpRequest& request, const Params& params);

  // V3 only, for requests whose body streams elsewhere: checks everything but
  // the body; the caller must verify the body against `x-acs-content-sha256`.
  // `canonical_uri` is the request path; `query` its decoded parameters.
  Result<AuthResult> AuthenticateV3WithoutBody(const HttpRequest& request, const std::string& canonical_uri,
                                               const std::map<std::string, std::string>& query);

  static bool IsV3(const HttpRequest& request);

  // Nonces remembered now (for tests and metrics).
  size_t nonces_in_use() const { return nonces_.size(); }

 private:
  Result<AuthResult> AuthenticateV1(const HttpRequest& request, const Params& params);
  Result<AuthResult> AuthenticateV3(const HttpRequest& request, const std::string& canonical_uri,
                                    const std::map<std::string, std::string>& query, bool check_body);
  Status CheckTimestamp(const std::string& value, const std::string& name, UnixSeconds* parsed) const;
  // The key's record, or the gateway's key errors.
  Result<AccessKeyRecord> LookupKey(const std::string& access_key_id);
  Result<AuthResult> Resolve(const AccessKeyRecord& key, bool v3);
  Status CheckNonce(const std::string& access_key_id, const std::string& nonce, UnixSeconds timestamp);

  AccountDirectory& accounts_;
  const Clock& clock_;
  const int max_skew_seconds_;
  NonceCache nonces_;
  std::atomic<UnixSeconds> last_full_warning_{0};  // when "nonce cache full" was last logged
};

}  // namespace ferry
