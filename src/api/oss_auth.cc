#include "api/oss_auth.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>

#include "api/auth.h"
#include "api/params.h"
#include "common/hash.h"
#include "common/log_safe.h"

namespace ferry {
namespace {

constexpr std::string_view kV4Terminator = "aliyun_v4_request";
constexpr std::string_view kV4Product = "oss";
// A V1 signature is 28 base64 characters, a V4 one 64 hex digits; anything
// much longer is not worth hashing against.
constexpr size_t kMaxSignatureBytes = 128;

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const std::string& Get(const std::map<std::string, std::string>& map, const std::string& name) {
  static const std::string kEmpty;
  auto it = map.find(name);
  return it == map.end() ? kEmpty : it->second;
}

Status Malformed(const std::string& message) { return InvalidArgument("InvalidArgument", message); }

Status Denied(const std::string& message) { return PermissionDenied("AccessDenied", message); }

Status Expired() { return PermissionDenied("AccessDenied", "Request has expired."); }

// The 8-digit day of a V4 timestamp.
std::string DayOf(UnixSeconds t) {
  const std::string iso = FormatOssXmlTime(t);  // 2026-12-04T...
  return iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2);
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// V4 retries with "k=" only help when some parameter is empty and not a
// sub-resource.
bool HasEmptyPlainParam(const std::map<std::string, std::string>& query) {
  return std::any_of(query.begin(), query.end(),
                     [](const auto& p) { return p.second.empty() && !IsOssSubResource(p.first); });
}

// "host;range" -> {"host", "range"}, lower-cased.
Result<std::vector<std::string>> ParseAdditionalHeaders(std::string_view value) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p <= value.size()) {
    size_t semi = value.find(';', p);
    if (semi == std::string_view::npos) semi = value.size();
    std::string h = Lower(Trim(value.substr(p, semi - p)));
    if (!h.empty()) out.push_back(std::move(h));
    if (out.size() > kOssMaxAdditionalHeaders) {
      return Malformed("AdditionalHeaders lists more than " + std::to_string(kOssMaxAdditionalHeaders) +
                       " headers.");
    }
    p = semi + 1;
  }
  return out;
}

}  // namespace

// ---- V1 ----

std::string OssV1CanonicalizedHeaders(const std::map<std::string, std::string>& headers) {
  std::map<std::string, std::string> oss;  // lower-cased names, sorted
  for (const auto& header : headers) {
    std::string name = Lower(header.first);
    if (name.starts_with("x-oss-")) oss[std::move(name)] = std::string(Trim(header.second));
  }
  std::string out;
  for (const auto& header : oss) out += header.first + ":" + header.second + "\n";
  return out;
}

std::string OssV1CanonicalResource(std::string_view bucket, std::string_view key,
                                   const std::map<std::string, std::string>& query, bool with_bucket) {
  std::string out = "/";
  if (with_bucket && !bucket.empty()) {
    out += bucket;
    out += "/";
  }
  out += key;
  char separator = '?';
  for (const auto& param : query) {  // std::map: sorted by name
    if (!IsOssSubResource(param.first)) continue;
    out += separator;
    out += param.first;
    if (!param.second.empty()) out += "=" + param.second;
    separator = '&';
  }
  return out;
}

std::string OssV1StringToSign(std::string_view method, const std::map<std::string, std::string>& headers,
                              std::string_view date, std::string_view canonical_resource) {
  std::string out(method);
  out += "\n" + Get(headers, "content-md5") + "\n" + Get(headers, "content-type") + "\n";
  out += date;
  out += "\n" + OssV1CanonicalizedHeaders(headers);
  out += canonical_resource;
  return out;
}

std::string OssV1Signature(std::string_view secret, std::string_view string_to_sign) {
  return Base64Encode(HmacSha1(secret, string_to_sign));
}

// ---- V4 ----

Result<OssV4Credential> ParseOssV4Credential(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (parts.size() < 6) {
    const size_t slash = text.find('/', pos);
    parts.push_back(text.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  if (parts.size() != 5 || parts[0].empty() || parts[0].size() > kOssMaxAccessKeyIdBytes ||
      parts[1].size() != 8 || !IsDigits(parts[1]) || parts[2].empty() || parts[2].size() > 64 ||
      parts[3] != kV4Product || parts[4] != kV4Terminator) {
    return Malformed("The V4 credential \"" + Echo(text) +
                     "\" must be <AccessKeyId>/<yyyymmdd>/<region>/oss/aliyun_v4_request.");
  }
  return OssV4Credential{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

Result<OssV4Authorization> ParseOssV4Authorization(std::string_view header) {
  const std::string prefix = std::string(kOssV4Algorithm) + " ";
  if (!header.starts_with(prefix)) return Malformed("The Authorization header is not " + prefix + "...");
  std::string_view rest = header.substr(prefix.size());
  OssV4Authorization out;
  bool have_credential = false;
  bool have_signature = false;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) return Malformed("The Authorization header has an item without '='.");
    const std::string_view name = item.substr(0, eq);
    const std::string_view value = item.substr(eq + 1);
    if (name == "Credential" && !have_credential) {
      ASSIGN_OR_RETURN(out.credential, ParseOssV4Credential(value));
      have_credential = true;
    } else if (name == "AdditionalHeaders" && out.additional_headers.empty()) {
      ASSIGN_OR_RETURN(out.additional_headers, ParseAdditionalHeaders(value));
    } else if (name == "Signature" && !have_signature) {
      if (value.empty() || value.size() > kMaxSignatureBytes)
        return Malformed("The V4 Signature is malformed.");
      out.signature = std::string(value);
      have_signature = true;
    } else {
      return Malformed("The Authorization header has an unknown or repeated item \"" + Echo(name) + "\".");
    }
  }
  if (!have_credential || !have_signature) {
    return Malformed("The Authorization header needs Credential and Signature.");
  }
  return out;
}

std::string OssV4CanonicalUri(std::string_view bucket, std::string_view key) {
  std::string path = "/";
  if (!bucket.empty()) {
    path += bucket;
    path += "/";
  }
  path += key;
  std::string encoded = PercentEncode(path);
  std::string out;
  out.reserve(encoded.size());
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded.compare(i, 3, "%2F") == 0) {
      out.push_back('/');
      i += 2;
    } else {
      out.push_back(encoded[i]);
    }
  }
  return out;
}

std::string OssV4CanonicalQuery(const std::map<std::string, std::string>& query, bool empty_with_equals) {
  std::map<std::string, std::string> encoded;  // sorted by encoded name
  for (const auto& param : query) {
    std::string item = PercentEncode(param.first);
    if (!param.second.empty()) {
      item += "=" + PercentEncode(param.second);
    } else if (empty_with_equals && !IsOssSubResource(param.first)) {
      item += "=";
    }
    encoded.emplace(PercentEncode(param.first), std::move(item));
  }
  std::string out;
  for (const auto& item : encoded) {
    if (!out.empty()) out += "&";
    out += item.second;
  }
  return out;
}

std::string OssV4CanonicalRequest(std::string_view method, std::string_view canonical_uri,
                                  std::string_view canonical_query,
                                  const std::map<std::string, std::string>& headers,
                                  const std::vector<std::string>& additional_headers,
                                  std::string_view hashed_payload) {
  std::set<std::string> names(additional_headers.begin(), additional_headers.end());
  for (const auto& header : headers) {
    std::string name = Lower(header.first);
    if (name == "content-type" || name == "content-md5" || name.starts_with("x-oss-")) names.insert(name);
  }
  std::string out(method);
  out += "\n";
  out += canonical_uri;
  out += "\n";
  out += canonical_query;
  out += "\n";
  for (const std::string& name : names) out += name + ":" + std::string(Trim(Get(headers, name))) + "\n";
  out += "\n";
  for (size_t i = 0; i < additional_headers.size(); ++i) {
    if (i > 0) out += ";";
    out += additional_headers[i];
  }
  out += "\n";
  out += hashed_payload;
  return out;
}

std::string OssV4StringToSign(std::string_view timestamp, const OssV4Credential& scope,
                              std::string_view canonical_request) {
  std::string out(kOssV4Algorithm);
  out += "\n";
  out += timestamp;
  out += "\n" + scope.day + "/" + scope.region + "/" + std::string(kV4Product) + "/" +
         std::string(kV4Terminator);
  out += "\n" + Sha256Hex(canonical_request);
  return out;
}

std::string OssV4Signature(std::string_view secret, const OssV4Credential& scope,
                           std::string_view string_to_sign) {
  std::string key = HmacSha256("aliyun_v4" + std::string(secret), scope.day);
  key = HmacSha256(key, scope.region);
  key = HmacSha256(key, kV4Product);
  key = HmacSha256(key, kV4Terminator);
  return ToHex(HmacSha256(key, string_to_sign));
}

// ---- Verification ----

OssAuthenticator::OssAuthenticator(AccountDirectory& accounts, const Clock& clock, int max_skew_seconds)
    : accounts_(accounts), clock_(clock), max_skew_seconds_(max_skew_seconds) {}

Result<OssAuthResult> OssAuthenticator::Authenticate(const OssRequest& request,
                                                     OssSignatureMismatch* mismatch) const {
  const std::string& authorization = request.Header("authorization");
  const bool presigned_v1 = request.HasQuery("OSSAccessKeyId") || request.HasQuery("Signature");
  const bool presigned_v4 = request.HasQuery("x-oss-signature") || request.HasQuery("x-oss-credential");
  if (static_cast<int>(!authorization.empty()) + static_cast<int>(presigned_v1) +
          static_cast<int>(presigned_v4) >
      1) {
    return Malformed(
        "The request carries more than one authentication (Authorization header, V1 or V4 URL).");
  }
  if (!authorization.empty()) {
    if (authorization.starts_with("OSS ")) return HeaderV1(request, mismatch);
    if (authorization.starts_with(std::string(kOssV4Algorithm) + " ")) return HeaderV4(request, mismatch);
    return Malformed("The Authorization header must start with \"OSS \" or \"OSS4-HMAC-SHA256 \".");
  }
  if (presigned_v1) return PresignedV1(request, mismatch);
  if (presigned_v4) return PresignedV4(request, mismatch);
  return Denied("Anonymous access is forbidden: sign the request with an AccessKey.");
}

Status OssAuthenticator::CheckSkew(UnixSeconds t) const {
  const UnixSeconds now = clock_.Now();
  if (t < now - max_skew_seconds_ || t > now + max_skew_seconds_) {
    return PermissionDenied("RequestTimeTooSkewed",
                            "The difference between the request time and the current time is too large: the "
                            "request is dated " +
                                FormatHttpDate(t) + ", the server's time is " + FormatHttpDate(now) +
                                " and at most " + std::to_string(max_skew_seconds_) +
                                " seconds are allowed.");
  }
  return Status::Ok();
}

Result<AccessKeyRecord> OssAuthenticator::Lookup(const std::string& access_key_id) const {
  if (access_key_id.empty() || access_key_id.size() > kOssMaxAccessKeyIdBytes) {
    return PermissionDenied("InvalidAccessKeyId",
                            "The OSS Access Key Id you provided does not exist in our records.");
  }
  Result<AccessKeyRecord> key = LookupAccessKey(accounts_, access_key_id);
  if (!key.ok() && key.status().reason() == "InvalidAccessKeyId.NotFound") {
    return PermissionDenied("InvalidAccessKeyId",
                            "The OSS Access Key Id you provided does not exist in our records.");
  }
  return key;
}

Result<OssAuthResult> OssAuthenticator::Resolve(const AccessKeyRecord& key, OssSignatureKind kind,
                                                const OssAddress& address) const {
  Result<AuthResult> identity = ResolveAccessKey(accounts_, key, /*v3=*/false);
  if (!identity.ok()) {
    const std::string& reason = identity.status().reason();
    if (reason == "Forbidden.AccessKeyDisabled") {
      return PermissionDenied("InvalidAccessKeyId", "The OSS Access Key Id you provided is disabled.");
    }
    if (reason == "InvalidAccessKeyId.NotFound") {
      return PermissionDenied("InvalidAccessKeyId",
                              "The OSS Access Key Id you provided does not exist in our records.");
    }
    return identity.status();
  }
  OssAuthResult out;
  out.caller = identity->caller;
  out.is_root = identity->is_root;
  out.access_key_id = identity->access_key_id;
  out.kind = kind;
  out.address = address;
  return out;
}

Result<OssAuthResult> OssAuthenticator::MatchV1(const OssRequest& request, const AccessKeyRecord& key,
                                                std::string_view date, std::string_view given,
                                                OssSignatureKind kind, OssSignatureMismatch* mismatch) const {
  std::string first_string_to_sign;
  for (const OssAddress& address : request.addresses) {
    // ali-oss with `cname` and no bucket option signs "/key".
    const int readings = address.style == OssAddress::Style::kDefaultBucket ? 2 : 1;
    for (int reading = 0; reading < readings; ++reading) {
      const std::string resource =
          OssV1CanonicalResource(address.bucket, address.key, request.query, /*with_bucket=*/reading == 0);
      const std::string string_to_sign = OssV1StringToSign(request.method, request.headers, date, resource);
      if (ConstantTimeEquals(OssV1Signature(key.access_key_secret, string_to_sign), given)) {
        return Resolve(key, kind, address);
      }
      if (first_string_to_sign.empty()) first_string_to_sign = string_to_sign;
    }
  }
  if (mismatch != nullptr) *mismatch = {key.access_key_id, std::string(given), first_string_to_sign};
  return PermissionDenied("SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided. "
                          "Check your key and signing method.");
}

Result<OssAuthResult> OssAuthenticator::MatchV4(const OssRequest& request, const AccessKeyRecord& key,
                                                const OssV4Authorization& authorization,
                                                std::string_view timestamp,
                                                const std::map<std::string, std::string>& signed_query,
                                                OssSignatureKind kind, OssSignatureMismatch* mismatch) const {
  const std::string given = Lower(authorization.signature);
  const std::string& claimed = request.Header("x-oss-content-sha256");
  const std::string hashed_payload = claimed.empty() ? std::string(kOssUnsignedPayload) : claimed;
  const int query_forms = HasEmptyPlainParam(signed_query) ? 2 : 1;
  std::string first_string_to_sign;
  for (const OssAddress& address : request.addresses) {
    const std::string uri = OssV4CanonicalUri(address.bucket, address.key);
    for (int form = 0; form < query_forms; ++form) {
      const std::string canonical =
          OssV4CanonicalRequest(request.method, uri, OssV4CanonicalQuery(signed_query, form == 1),
                                request.headers, authorization.additional_headers, hashed_payload);
      const std::string string_to_sign = OssV4StringToSign(timestamp, authorization.credential, canonical);
      if (ConstantTimeEquals(OssV4Signature(key.access_key_secret, authorization.credential, string_to_sign),
                             given)) {
        ASSIGN_OR_RETURN(OssAuthResult out, Resolve(key, kind, address));
        if (hashed_payload != kOssUnsignedPayload) out.payload_sha256 = Lower(hashed_payload);
        return out;
      }
      if (first_string_to_sign.empty()) first_string_to_sign = string_to_sign;
    }
  }
  if (mismatch != nullptr) *mismatch = {key.access_key_id, authorization.signature, first_string_to_sign};
  return PermissionDenied("SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature you provided. "
                          "Check your key and signing method.");
}

Result<OssAuthResult> OssAuthenticator::HeaderV1(const OssRequest& request,
                                                 OssSignatureMismatch* mismatch) const {
  const std::string_view credentials = std::string_view(request.Header("authorization")).substr(4);
  const size_t colon = credentials.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == credentials.size() ||
      credentials.size() - colon - 1 > kMaxSignatureBytes) {
    return Malformed("The Authorization header must be \"OSS <AccessKeyId>:<Signature>\".");
  }
  const std::string access_key_id(Trim(credentials.substr(0, colon)));
  const std::string signature(credentials.substr(colon + 1));
  const std::string& date =
      request.Header("x-oss-date").empty() ? request.Header("date") : request.Header("x-oss-date");
  const std::optional<UnixSeconds> t = ParseHttpDate(date);
  if (!t) return Denied("OSS authentication requires a valid Date (or x-oss-date) header.");
  RETURN_IF_ERROR(CheckSkew(*t));
  ASSIGN_OR_RETURN(AccessKeyRecord key, Lookup(access_key_id));
  return MatchV1(request, key, date, signature, OssSignatureKind::kHeaderV1, mismatch);
}

Result<OssAuthResult> OssAuthenticator::PresignedV1(const OssRequest& request,
                                                    OssSignatureMismatch* mismatch) const {
  const std::string& access_key_id = Get(request.query, "OSSAccessKeyId");
  const std::string& expires = Get(request.query, "Expires");
  std::string signature = Get(request.query, "Signature");
  if (access_key_id.empty() || expires.empty() || signature.empty()) {
    return Denied("A presigned URL needs OSSAccessKeyId, Expires and Signature.");
  }
  int64_t expires_at = 0;
  auto [end, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), expires_at);
  if (ec != std::errc() || end != expires.data() + expires.size() || !IsDigits(expires)) {
    return Malformed("Expires \"" + Echo(expires) + "\" must be Unix seconds.");
  }
  if (clock_.Now() > expires_at) return Expired();
  if (signature.size() > kMaxSignatureBytes) return Malformed("The Signature is malformed.");
  // Base64 has no spaces: one here was a '+' sent unescaped.
  std::replace(signature.begin(), signature.end(), ' ', '+');
  ASSIGN_OR_RETURN(AccessKeyRecord key, Lookup(access_key_id));
  return MatchV1(request, key, expires, signature, OssSignatureKind::kPresignedV1, mismatch);
}

Result<OssAuthResult> OssAuthenticator::HeaderV4(const OssRequest& request,
                                                 OssSignatureMismatch* mismatch) const {
  ASSIGN_OR_RETURN(OssV4Authorization authorization,
                   ParseOssV4Authorization(request.Header("authorization")));
  // ali-oss and ossutil 2.x send x-oss-date; ossutil 1.x only Date, whose
  // literal text is then the TimeStamp.
  const std::string& oss_date = request.Header("x-oss-date");
  const std::string& timestamp = oss_date.empty() ? request.Header("date") : oss_date;
  const std::optional<UnixSeconds> t =
      oss_date.empty() ? ParseHttpDate(timestamp) : ParseIso8601Basic(timestamp);
  if (!t) return Denied("OSS V4 authentication requires a valid x-oss-date (or Date) header.");
  RETURN_IF_ERROR(CheckSkew(*t));
  if (DayOf(*t) != authorization.credential.day) {
    return Denied("The credential's day " + authorization.credential.day + " is not the request's (" +
                  DayOf(*t) + ").");
  }
  ASSIGN_OR_RETURN(AccessKeyRecord key, Lookup(authorization.credential.access_key_id));
  return MatchV4(request, key, authorization, timestamp, request.query, OssSignatureKind::kHeaderV4,
                 mismatch);
}

Result<OssAuthResult> OssAuthenticator::PresignedV4(const OssRequest& request,
                                                    OssSignatureMismatch* mismatch) const {
  const std::string& version = Get(request.query, "x-oss-signature-version");
  const std::string& date = Get(request.query, "x-oss-date");
  const std::string& expires = Get(request.query, "x-oss-expires");
  const std::string& signature = Get(request.query, "x-oss-signature");
  if (version != kOssV4Algorithm) {
    return Malformed("x-oss-signature-version must be " + std::string(kOssV4Algorithm) + ".");
  }
  if (signature.empty() || signature.size() > kMaxSignatureBytes) {
    return Denied("A presigned V4 URL needs x-oss-signature.");
  }
  OssV4Authorization authorization;
  ASSIGN_OR_RETURN(authorization.credential, ParseOssV4Credential(Get(request.query, "x-oss-credential")));
  authorization.signature = signature;
  ASSIGN_OR_RETURN(authorization.additional_headers,
                   ParseAdditionalHeaders(Get(request.query, "x-oss-additional-headers")));
  const std::optional<UnixSeconds> t = ParseIso8601Basic(date);
  if (!t) return Malformed("x-oss-date \"" + Echo(date) + "\" must look like 20261204T203110Z.");
  int64_t lifetime = 0;
  auto [end, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), lifetime);
  if (ec != std::errc() || end != expires.data() + expires.size() || lifetime < 1 ||
      lifetime > kOssMaxPresignedV4Expires) {
    return Malformed("x-oss-expires \"" + Echo(expires) + "\" must be 1 to " +
                     std::to_string(kOssMaxPresignedV4Expires) + " seconds.");
  }
  if (DayOf(*t) != authorization.credential.day) {
    return Denied("The credential's day " + authorization.credential.day + " is not x-oss-date's.");
  }
  const UnixSeconds now = clock_.Now();
  if (*t > now + max_skew_seconds_) RETURN_IF_ERROR(CheckSkew(*t));
  if (now > *t + lifetime) return Expired();
  ASSIGN_OR_RETURN(AccessKeyRecord key, Lookup(authorization.credential.access_key_id));
  std::map<std::string, std::string> signed_query = request.query;
  signed_query.erase("x-oss-signature");
  return MatchV4(request, key, authorization, date, signed_query, OssSignatureKind::kPresignedV4, mismatch);
}

}  // namespace ferry
