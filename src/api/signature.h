// Request signatures of the ECS RPC API, shared by the server (verification)
// and the client (signing). Pure functions, no I/O; thread-safe.
//
// V1 (HMAC-SHA1, SignatureVersion 1.0):
//   Canonicalized = sorted by encoded name, PercentEncode(name)=PercentEncode(value)
//                   joined by "&", over every parameter except "Signature"
//                   (empty values kept)
//   StringToSign  = METHOD + "&%2F&" + PercentEncode(Canonicalized)
//   Signature     = Base64(HMAC-SHA1(secret + "&", StringToSign))
//
// V3 (ACS3-HMAC-SHA256):
//   CanonicalRequest = METHOD \n URI \n CanonicalQuery \n CanonicalHeaders \n
//                      SignedHeaders \n HashedPayload
//   StringToSign     = "ACS3-HMAC-SHA256\n" + hex(SHA-256(CanonicalRequest))
//   Signature        = hex(HMAC-SHA256(secret, StringToSign))
//   Authorization    = "ACS3-HMAC-SHA256 Credential=<id>,SignedHeaders=<a;b>,Signature=<hex>"
// The canonical URI is the request path as sent on the wire ("/" for RPC,
// "/oss/<bucket>/<object>" for uploads, with the client's percent-encoding).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ferry {

inline constexpr std::string_view kAcs3Algorithm = "ACS3-HMAC-SHA256";
// hex(SHA-256("")): the payload hash of a request without a body.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// ---- V1 ----
std::string V1CanonicalizedQuery(const std::map<std::string, std::string>& params);
std::string V1StringToSign(std::string_view method, const std::map<std::string, std::string>& params);
std::string V1Signature(std::string_view secret, std::string_view string_to_sign);

// ---- V3 ----
struct V3Request {
  std::string method;                          // "POST"
  std::string canonical_uri;                   // "/" when empty
  std::map<std::string, std::string> query;    // decoded names and values
  std::map<std::string, std::string> headers;  // lower-cased names
  std::vector<std::string> signed_headers;     // lower-cased, any order
  std::string hashed_payload;                  // x-acs-content-sha256
};

// key=value pairs (both percent-encoded), sorted by name, joined by "&".
std::string V3CanonicalQuery(const std::map<std::string, std::string>& query);
std::string V3CanonicalRequest(const V3Request& request);
std::string V3StringToSign(std::string_view canonical_request);
std::string V3Signature(std::string_view secret, std::string_view string_to_sign);

struct V3Authorization {
  std::string access_key_id;
  std::vector<std::string> signed_headers;  // as listed
  std::string signature;                    // lower-case hex
};

// Parses an Authorization header value; IncompleteSignature when malformed.
Result<V3Authorization> ParseV3Authorization(std::string_view header);
std::string FormatV3Authorization(const V3Authorization& authorization);

// The headers an SDK signs: host, content-type and every x-acs-* header
// present in `headers` (lower-cased names), sorted.
std::vector<std::string> V3SignableHeaders(const std::map<std::string, std::string>& headers);

}  // namespace ferry
