// Authentication of the OSS object endpoint (oss-api.md sections 2 and 3):
// header signatures V1 ("Authorization: OSS AK:Sig", HMAC-SHA1) and V4
// ("OSS4-HMAC-SHA256 Credential=...,Signature=..."), presigned URLs of both
// (OSSAccessKeyId/Expires/Signature; x-oss-signature-version/-credential/
// -date/-expires/-signature), the clock window, and the AccessKey resolved
// to its account the way the ECS API does (api/auth.h LookupAccessKey).
//
// V1:  StringToSign = VERB \n Content-MD5 \n Content-Type \n Date \n
//                     CanonicalizedOSSHeaders CanonicalizedResource
//      Date = x-oss-date, else Date (presigned: Expires);
//      CanonicalizedOSSHeaders = "name:trimmed value\n" of each x-oss-*
//      header, sorted; CanonicalizedResource = "/", "/bkt/" or "/bkt/key"
//      (key decoded, raw UTF-8) + "?" + the sub-resources (IsOssSubResource)
//      sorted, "k=v" or bare "k" when empty, joined by "&".
//      Signature = Base64(HMAC-SHA1(secret, StringToSign)).
// V4:  CanonicalRequest = VERB \n URI \n Query \n Headers \n Additional \n Payload
//      URI = "/bkt/key" RFC 3986-encoded with "/" kept; Query = every
//      parameter (presigned: but x-oss-signature) encoded, sorted, "k=v" or
//      bare "k"; Headers = content-type, content-md5, x-oss-* and the
//      AdditionalHeaders as "name:trimmed\n", sorted, then one more "\n";
//      Payload = x-oss-content-sha256 or UNSIGNED-PAYLOAD.
//      StringToSign = "OSS4-HMAC-SHA256\n" TimeStamp "\n" day/region/oss/
//      aliyun_v4_request "\n" hex(SHA-256(CanonicalRequest)).
//      Key = HMAC chain "aliyun_v4"+secret -> day -> region -> "oss" ->
//      "aliyun_v4_request"; Signature = hex(HMAC-SHA256(key, StringToSign)).
//
// A request is checked under each of its OssRequest::addresses (and, for
// V4, with empty non-sub-resource parameters signed as "k=" too: ali-oss
// signs listV2's "prefix=" so while it signs "?uploads=" bare); the first
// reading whose signature matches is the request's.
//
// Failures are Statuses whose reason is the OSS code: AccessDenied (no or
// unusable credentials, expired URL), InvalidAccessKeyId, RequestTimeTooSkewed
// (header time more than the window off), SignatureDoesNotMatch (with the
// server's StringToSign in an OssSignatureMismatch for the error body),
// InvalidArgument (malformed Authorization or presign parameters).
//
// Threading: OssAuthenticator is thread-safe (it keeps no state; the
// directory must be thread-safe). The free functions are pure.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/oss_errors.h"
#include "api/oss_request.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/status.h"
#include "region/region.h"

namespace ferry {

inline constexpr std::string_view kOssV4Algorithm = "OSS4-HMAC-SHA256";
inline constexpr std::string_view kOssUnsignedPayload = "UNSIGNED-PAYLOAD";
// x-oss-expires of a presigned V4 URL: 1 second to 7 days.
inline constexpr int64_t kOssMaxPresignedV4Expires = 604800;
inline constexpr size_t kOssMaxAccessKeyIdBytes = 128;
inline constexpr size_t kOssMaxAdditionalHeaders = 32;

// ---- V1 ----
std::string OssV1CanonicalizedHeaders(const std::map<std::string, std::string>& headers);
// `bucket` "" = the service; `key` "" = the bucket. With
// `with_bucket` false the resource is "/" + key (ali-oss with `cname` and no
// bucket option).
std::string OssV1CanonicalResource(std::string_view bucket, std::string_view key,
                                   const std::map<std::string, std::string>& query, bool with_bucket = true);
std::string OssV1StringToSign(std::string_view method, const std::map<std::string, std::string>& headers,
                              std::string_view date, std::string_view canonical_resource);
std::string OssV1Signature(std::string_view secret, std::string_view string_to_sign);

// ---- V4 ----
struct OssV4Credential {
  std::string access_key_id;
  std::string day;     // yyyymmdd
  std::string region;  // "cn-hangzhou"
};
// "AK/20261204/cn-hangzhou/oss/aliyun_v4_request"; InvalidArgument otherwise.
Result<OssV4Credential> ParseOssV4Credential(std::string_view text);

struct OssV4Authorization {
  OssV4Credential credential;
  std::vector<std::string> additional_headers;  // lower-cased, as listed
  std::string signature;                        // as sent
};
// "OSS4-HMAC-SHA256 Credential=...[,AdditionalHeaders=a;b],Signature=hex";
// InvalidArgument when malformed.
Result<OssV4Authorization> ParseOssV4Authorization(std::string_view header);

std::string OssV4CanonicalUri(std::string_view bucket, std::string_view key);
// `empty_with_equals`: empty values of parameters that are not
// sub-resources as "k=" rather than "k" (ali-oss's listV2 prefix=).
std::string OssV4CanonicalQuery(const std::map<std::string, std::string>& query,
                                bool empty_with_equals = false);
std::string OssV4CanonicalRequest(std::string_view method, std::string_view canonical_uri,
                                  std::string_view canonical_query,
                                  const std::map<std::string, std::string>& headers,
                                  const std::vector<std::string>& additional_headers,
                                  std::string_view hashed_payload);
std::string OssV4StringToSign(std::string_view timestamp, const OssV4Credential& scope,
                              std::string_view canonical_request);
// Lower-case hex.
std::string OssV4Signature(std::string_view secret, const OssV4Credential& scope,
                           std::string_view string_to_sign);

// ---- Verification ----

enum class OssSignatureKind { kHeaderV1, kHeaderV4, kPresignedV1, kPresignedV4 };

struct OssAuthResult {
  Caller caller;
  bool is_root = false;
  std::string access_key_id;
  OssSignatureKind kind = OssSignatureKind::kHeaderV1;
  OssAddress address;  // the reading of the request the client signed
  // V4 only: x-oss-content-sha256 when it is a digest the body must match
  // (lower-case hex), "" for UNSIGNED-PAYLOAD or V1. The handler checks it.
  std::string payload_sha256;
};

class OssAuthenticator {
 public:
  static constexpr int kDefaultMaxSkewSeconds = 15 * 60;

  OssAuthenticator(AccountDirectory& accounts, const Clock& clock,
                   int max_skew_seconds = kDefaultMaxSkewSeconds);

  // Verifies `request`'s signature. On SignatureDoesNotMatch, `mismatch`
  // (when not null) receives what the error body reports.
  Result<OssAuthResult> Authenticate(const OssRequest& request,
                                     OssSignatureMismatch* mismatch = nullptr) const;

 private:
  Result<OssAuthResult> HeaderV1(const OssRequest& request, OssSignatureMismatch* mismatch) const;
  Result<OssAuthResult> HeaderV4(const OssRequest& request, OssSignatureMismatch* mismatch) const;
  Result<OssAuthResult> PresignedV1(const OssRequest& request, OssSignatureMismatch* mismatch) const;
  Result<OssAuthResult> PresignedV4(const OssRequest& request, OssSignatureMismatch* mismatch) const;
  Status CheckSkew(UnixSeconds t) const;
  // The key's record with the OSS key errors.
  Result<AccessKeyRecord> Lookup(const std::string& access_key_id) const;
  // Tries V1 under every reading; the caller's result or SignatureDoesNotMatch.
  Result<OssAuthResult> MatchV1(const OssRequest& request, const AccessKeyRecord& key, std::string_view date,
                                std::string_view given, OssSignatureKind kind,
                                OssSignatureMismatch* mismatch) const;
  Result<OssAuthResult> MatchV4(const OssRequest& request, const AccessKeyRecord& key,
                                const OssV4Authorization& authorization, std::string_view timestamp,
                                const std::map<std::string, std::string>& signed_query, OssSignatureKind kind,
                                OssSignatureMismatch* mismatch) const;
  Result<OssAuthResult> Resolve(const AccessKeyRecord& key, OssSignatureKind kind,
                                const OssAddress& address) const;

  AccountDirectory& accounts_;
  const Clock& clock_;
  const int max_skew_seconds_;
};

}  // namespace ferry
