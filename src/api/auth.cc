#include "api/auth.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "api/signature.h"
#include "common/hash.h"
#include "common/log_safe.h"

namespace ferry {
namespace {

Status Missing(const std::string& name) {
  return InvalidArgument(
      "MissingParameter",
      "The input parameter \"" + name + "\" that is mandatory for processing this request is not supplied.");
}

std::string Header(const HttpRequest& request, const std::string& name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? std::string() : it->second;
}

std::string TargetPath(const std::string& target) {
  size_t q = target.find('?');
  std::string path = target.substr(0, q);
  return path.empty() ? "/" : path;
}

std::string TargetQuery(const std::string& target) {
  size_t q = target.find('?');
  return q == std::string::npos ? std::string() : target.substr(q + 1);
}

// A directory that cannot tell whether a key exists (a peer that may hold
// it is unreachable) must not look like a bad key to the client: it is a
// 503 the SDKs retry, never InvalidAccessKeyId.NotFound.
Status DirectoryFailure(const Status& status) {
  if (status.code() == Code::kUnavailable) {
    return Status(Code::kUnavailable, "ServiceUnavailable", status.message());
  }
  return status;
}

}  // namespace

Authenticator::Authenticator(AccountDirectory& accounts, const Clock& clock, int max_skew_seconds,
                             size_t max_nonces)
    : accounts_(accounts),
      clock_(clock),
      max_skew_seconds_(max_skew_seconds),
      nonces_(max_nonces, std::max<size_t>(1, max_nonces / kNonceShareDivisor)) {}

bool Authenticator::IsV3(const HttpRequest& request) {
  auto it = request.headers.find("authorization");
  return it != request.headers.end() && it->second.starts_with(std::string(kAcs3Algorithm) + " ");
}

Result<AuthResult> Authenticator::Authenticate(const HttpRequest& request, const Params& params) {
  if (!IsV3(request)) return AuthenticateV1(request, params);
  // V3 signs the query only; form-body parameters are covered by the body hash.
  auto query = ParseFormUrlEncoded(TargetQuery(request.target));
  if (!query.ok()) return query.status();
  return AuthenticateV3(request, TargetPath(request.target), *query, /*check_body=*/true, nullptr);
}

Result<AuthResult> Authenticator::AuthenticateV3WithoutBody(const HttpRequest& request,
                                                            const std::string& canonical_uri,
                                                            const std::map<std::string, std::string>& query) {
  if (!IsV3(request)) {
    return InvalidArgument(
        "IncompleteSignature",
        "The request signature does not conform to Aliyun standards. This endpoint accepts "
        "only ACS3-HMAC-SHA256 signed requests.");
  }
  return AuthenticateV3(request, canonical_uri, query, /*check_body=*/false, cluster_nonces_);
}

Status Authenticator::CheckTimestamp(const std::string& value, const std::string& name,
                                     UnixSeconds* parsed) const {
  std::optional<UnixSeconds> t = ParseTime(value);
  if (!t) {
    return InvalidArgument("InvalidTimeStamp.Format",
                           "Specified time stamp or date value is not well formatted. " + name + " \"" +
                               Echo(value) + "\" must look like 2018-01-01T12:00:00Z (UTC).");
  }
  UnixSeconds now = clock_.Now();
  if (*t < now - max_skew_seconds_ || *t > now + max_skew_seconds_) {
    return InvalidArgument("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.");
  }
  *parsed = *t;
  return Status::Ok();
}

Result<AccessKeyRecord> LookupAccessKey(AccountDirectory& accounts, const std::string& access_key_id) {
  Result<AccessKeyRecord> key = accounts.GetAccessKey(access_key_id);
  if (!key.ok()) {
    if (key.status().code() == Code::kNotFound) {
      return NotFound("InvalidAccessKeyId.NotFound", "Specified access key is not found.");
    }
    return DirectoryFailure(key.status());
  }
  return key;
}

Result<AuthResult> ResolveAccessKey(AccountDirectory& accounts, const AccessKeyRecord& key, bool v3) {
  if (!key.enabled) return PermissionDenied("Forbidden.AccessKeyDisabled", "The Access Key is disabled.");
  Result<AccountRecord> account = accounts.GetAccount(key.account_id);
  if (!account.ok()) {
    if (account.status().code() == Code::kNotFound) {
      return NotFound("InvalidAccessKeyId.NotFound", "Specified access key is not found.");
    }
    return DirectoryFailure(account.status());
  }
  AuthResult out;
  out.caller.account_id = account->account_id;
  out.is_root = account->is_root;
  out.access_key_id = key.access_key_id;
  out.v3 = v3;
  return out;
}

namespace {

Status CheckNonceLength(const std::string& name, const std::string& nonce) {
  if (nonce.size() <= kMaxSignatureNonceLength) return Status::Ok();
  return InvalidArgument("InvalidParameter", "The specified parameter \"" + name + "\" is not valid: " +
                                                 std::to_string(nonce.size()) + " characters, at most " +
                                                 std::to_string(kMaxSignatureNonceLength) + ".");
}

}  // namespace

Status Authenticator::SpendWithOtherNodes(const NonceCache::Digest& digest, UnixSeconds now,
                                          UnixSeconds expires_at) {
  if (shared_nonces_ == nullptr) return Status::Ok();
  Result<bool> first = shared_nonces_->Claim(digest, now, expires_at);
  if (!first.ok()) {
    // This node keeps the nonce: a retry with it is a replay either way, and
    // the SDKs retry a 503 with a new nonce.
    UnixSeconds last = last_ledger_warning_.load();
    if (now - last >= 60 && last_ledger_warning_.compare_exchange_strong(last, now)) {
      spdlog::warn("signed requests get 503: the region's nonce ledger did not answer: {}",
                   first.status().ToString());
    }
    return Status(Code::kUnavailable, "ServiceUnavailable",
                  "The request has failed due to a temporary failure of the server.");
  }
  if (!*first) return InvalidArgument("SignatureNonceUsed", "Specified signature nonce was used already.");
  return Status::Ok();
}

Status Authenticator::SpendNonce(const std::string& access_key_id, const std::string& nonce,
                                 UnixSeconds timestamp) {
  // A replay must pass the timestamp check too, which a request dated
  // `timestamp` passes up to timestamp + max_skew: that long, and no longer,
  // the nonce is remembered.
  UnixSeconds expires_at = timestamp + max_skew_seconds_;
  const NonceCache::Digest digest = NonceCache::DigestOf(access_key_id, nonce);
  const UnixSeconds now = clock_.Now();
  switch (nonces_.CheckAndInsert(digest, now, expires_at, NonceCache::ScopeOf(access_key_id))) {
    case NonceCache::Outcome::kAccepted:
      return SpendWithOtherNodes(digest, now, expires_at);
    case NonceCache::Outcome::kReplayed:
      return InvalidArgument("SignatureNonceUsed", "Specified signature nonce was used already.");
    case NonceCache::Outcome::kScopeFull:
      // This key's share is used up; other keys are not held back by it.
      // The SDKs read Throttling* as "retry later".
      return InvalidArgument("Throttling.User",
                             "Request was denied due to user flow control. This AccessKey signed " +
                                 std::to_string(nonces_.max_per_scope()) + " requests within " +
                                 std::to_string(max_skew_seconds_) + " seconds; try again later.");
    case NonceCache::Outcome::kFull:
      break;
  }
  // The operator must hear of it, but a flood must not flood the log too.
  UnixSeconds last = last_full_warning_.load();
  if (now - last >= 60 && last_full_warning_.compare_exchange_strong(last, now)) {
    spdlog::warn(
        "nonce cache full: {} signed requests within the time window; new signed requests get 503 "
        "until some expire (raise --max-nonces if this is real traffic)",
        nonces_.max_entries());
  }
  return Status(Code::kUnavailable, "ServiceUnavailable",
                "The request has failed due to a temporary failure of the server: " +
                    std::to_string(nonces_.max_entries()) +
                    " signature nonces are in use within the time window; try again in a minute.");
}

Result<AuthResult> Authenticator::AuthenticateV1(const HttpRequest& request, const Params& params) {
  for (const char* name :
       {"AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"}) {
    if (!params.Get(name)) return Missing(name);
  }
  if (*params.Get("SignatureMethod") != "HMAC-SHA1") {
    return InvalidArgument("InvalidParamater", "The specified parameter \"SignatureMethod\" is not valid.");
  }
  if (*params.Get("SignatureVersion") != "1.0") {
    return InvalidArgument("InvalidParamater", "The specified parameter \"SignatureVersion\" is not valid.");
  }
  RETURN_IF_ERROR(CheckNonceLength("SignatureNonce", *params.Get("SignatureNonce")));
  UnixSeconds timestamp = 0;
  RETURN_IF_ERROR(CheckTimestamp(*params.Get("Timestamp"), "Timestamp", &timestamp));
  ASSIGN_OR_RETURN(AccessKeyRecord key, LookupAccessKey(accounts_, *params.Get("AccessKeyId")));
  ASSIGN_OR_RETURN(AuthResult result, ResolveAccessKey(accounts_, key, /*v3=*/false));

  std::string string_to_sign = V1StringToSign(request.method, params.all());
  std::string expected = V1Signature(key.access_key_secret, string_to_sign);
  if (!ConstantTimeEquals(expected, *params.Get("Signature"))) {
    return InvalidArgument("SignatureDoesNotMatch", std::string(kSignatureMismatchPrefix) + string_to_sign);
  }
  RETURN_IF_ERROR(SpendNonce(key.access_key_id, *params.Get("SignatureNonce"), timestamp));
  return result;
}

Result<AuthResult> Authenticator::AuthenticateV3(const HttpRequest& request, const std::string& canonical_uri,
                                                 const std::map<std::string, std::string>& query,
                                                 bool check_body, NonceSpender* nonces) {
  ASSIGN_OR_RETURN(V3Authorization authorization, ParseV3Authorization(Header(request, "authorization")));
  for (const char* name : {"x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"}) {
    if (Header(request, name).empty()) return Missing(name);
  }
  // Headers that steer the request must be covered by the signature, or a
  // captured request could be replayed with another action or payload.
  std::vector<std::string> must_sign = {"x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"};
  for (const char* name : {"x-acs-action", "x-acs-version"}) {
    if (request.headers.count(name) != 0) must_sign.push_back(name);
  }
  for (const std::string& name : must_sign) {
    bool signed_header = std::any_of(authorization.signed_headers.begin(), authorization.signed_headers.end(),
                                     [&](const std::string& h) {
                                       std::string lower = h;
                                       std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
                                       return lower == name;
                                     });
    if (!signed_header) {
      return InvalidArgument("IncompleteSignature",
                             "The request signature does not conform to Aliyun standards. Header \"" + name +
                                 "\" must be listed in SignedHeaders.");
    }
  }

  RETURN_IF_ERROR(CheckNonceLength("x-acs-signature-nonce", Header(request, "x-acs-signature-nonce")));
  UnixSeconds timestamp = 0;
  RETURN_IF_ERROR(CheckTimestamp(Header(request, "x-acs-date"), "x-acs-date", &timestamp));

  std::string claimed_hash = Header(request, "x-acs-content-sha256");
  if (check_body) {
    std::string actual_hash = Sha256Hex(request.body);
    std::string claimed_lower = claimed_hash;
    std::transform(claimed_lower.begin(), claimed_lower.end(), claimed_lower.begin(), ::tolower);
    if (claimed_lower != actual_hash) {
      return InvalidArgument("InvalidParameter",
                             "The specified parameter \"x-acs-content-sha256\" is not valid. "
                             "The header says " +
                                 claimed_hash + " but the " + std::to_string(request.body.size()) +
                                 "-byte body hashes to " + actual_hash + ".");
    }
  }

  ASSIGN_OR_RETURN(AccessKeyRecord key, LookupAccessKey(accounts_, authorization.access_key_id));
  ASSIGN_OR_RETURN(AuthResult result, ResolveAccessKey(accounts_, key, /*v3=*/true));

  V3Request canonical;
  canonical.method = request.method;
  canonical.canonical_uri = canonical_uri;
  canonical.query = query;
  canonical.headers = request.headers;
  canonical.signed_headers = authorization.signed_headers;
  canonical.hashed_payload = claimed_hash;
  std::string string_to_sign = V3StringToSign(V3CanonicalRequest(canonical));
  std::string expected = V3Signature(key.access_key_secret, string_to_sign);
  std::string given = authorization.signature;
  std::transform(given.begin(), given.end(), given.begin(), ::tolower);
  if (!ConstantTimeEquals(expected, given)) {
    return InvalidArgument("SignatureDoesNotMatch", std::string(kSignatureMismatchPrefix) + string_to_sign);
  }
  const std::string nonce = Header(request, "x-acs-signature-nonce");
  RETURN_IF_ERROR(nonces != nullptr ? nonces->Spend(key.access_key_id, nonce, timestamp)
                                    : SpendNonce(key.access_key_id, nonce, timestamp));
  return result;
}

}  // namespace ferry
