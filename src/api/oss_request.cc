#include "api/oss_request.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdio>

#include "api/params.h"
#include "common/log_safe.h"

namespace ferry {
namespace {

// The aliyun-oss-go-sdk signKeyList (conn.go): the query parameters V1
// signs.
constexpr std::string_view kSubResources[] = {
    "accessPoint",
    "accessPointPolicy",
    "acl",
    "append",
    "asyncFetch",
    "bucketArchiveDirectRead",
    "bucketInfo",
    "callback",
    "callback-var",
    "cloudboxes",
    "cname",
    "comp",
    "continuation-token",
    "cors",
    "delete",
    "encryption",
    "endTime",
    "httpsConfig",
    "img",
    "inventory",
    "inventoryId",
    "lifecycle",
    "live",
    "location",
    "logging",
    "metaQuery",
    "objectMeta",
    "partNumber",
    "policy",
    "position",
    "publicAccessBlock",
    "qos",
    "qosInfo",
    "referer",
    "regionList",
    "replication",
    "replicationLocation",
    "replicationProgress",
    "requestPayment",
    "reservedcapacity",
    "resourceGroup",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "responseHeader",
    "restore",
    "rtc",
    "security-token",
    "sequential",
    "startTime",
    "stat",
    "status",
    "style",
    "styleName",
    "symlink",
    "tagging",
    "transferAcceleration",
    "udf",
    "udfApplication",
    "udfApplicationLog",
    "udfId",
    "udfImage",
    "udfImageDesc",
    "udfName",
    "uploadId",
    "uploads",
    "userDefinedLogFieldsConfig",
    "versionId",
    "versioning",
    "versions",
    "vod",
    "website",
    "withHashContext",
    "worm",
    "wormExtend",
    "wormId",
    "x-oss-ac-forward-allow",
    "x-oss-ac-source-ip",
    "x-oss-ac-subnet-mask",
    "x-oss-ac-vpc-id",
    "x-oss-async-process",
    "x-oss-enable-md5",
    "x-oss-enable-sha1",
    "x-oss-enable-sha256",
    "x-oss-hash-ctx",
    "x-oss-md5-ctx",
    "x-oss-process",
    "x-oss-request-payer",
    "x-oss-traffic-limit",
};

// The sub-resources an operation Ferry serves may carry (and response-*);
// any other one names an operation Ferry does not serve.
constexpr std::string_view kServedSubResources[] = {
    "uploads", "uploadId", "partNumber", "delete", "objectMeta", "continuation-token", "security-token",
};

Status Invalid(const std::string& message) { return InvalidArgument("InvalidArgument", message); }

// Strict percent-decoding: false on a malformed escape.
bool PercentDecode(std::string_view s, bool plus_is_space, std::string* out) {
  std::optional<std::string> decoded = UrlDecodeStrict(s, plus_is_space);
  if (!decoded) return false;
  *out = std::move(*decoded);
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// The Host header without its port, lower-cased; "" for an IPv6 literal,
// which never names a bucket.
std::string HostName(std::string_view host) {
  if (host.empty() || host.front() == '[') return "";
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos) host = host.substr(0, colon);
  return Lower(host);
}

// The bucket label of a virtual-host-style Host: nullopt when the host is
// not one (then the path names the bucket); "" for the service
// (".oss-cn-hangzhou.aliyuncs.com", as ali-oss sends ListBuckets).
std::optional<std::string> VirtualHostBucket(const std::string& host, const OssEndpoint& endpoint) {
  constexpr std::string_view kAliyun = ".aliyuncs.com";
  if (EndsWith(host, kAliyun)) {
    // "bkt.oss-cn-hangzhou" names a bucket; "oss-cn-hangzhou" alone is the
    // region's endpoint itself.
    const std::string_view rest = std::string_view(host).substr(0, host.size() - kAliyun.size());
    const size_t dot = rest.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    return std::string(rest.substr(0, dot));
  }
  if (!endpoint.domain.empty()) {
    const std::string suffix = "." + Lower(endpoint.domain);
    if (EndsWith(host, suffix)) return host.substr(0, host.size() - suffix.size());
  }
  return std::nullopt;
}

Status CheckAddress(const OssAddress& address) {
  if (!address.bucket.empty() && !IsValidOssBucketName(address.bucket)) {
    return InvalidArgument("InvalidBucketName",
                           "The specified bucket is not valid: \"" + Echo(address.bucket) +
                               "\" must be 3-63 lower-case letters, digits and hyphens, starting and ending "
                               "with a letter or digit.");
  }
  if (address.bucket.empty() && !address.key.empty()) {
    return InvalidArgument("InvalidBucketName", "The request names an object but no bucket.");
  }
  if (!address.key.empty()) return ValidateOssKey(address.key);
  return Status::Ok();
}

Result<std::vector<OssAddress>> ResolveAddresses(const std::string& raw_path, const std::string& host_header,
                                                 const OssEndpoint& endpoint) {
  std::string whole_key;  // the whole path, decoded
  if (!PercentDecode(std::string_view(raw_path).substr(1), /*plus_is_space=*/false, &whole_key)) {
    return Invalid("The request path has a malformed percent-escape.");
  }
  // Path style: the first raw segment is the bucket, the rest the key.
  OssAddress path_style;
  path_style.style = OssAddress::Style::kPath;
  {
    const std::string_view rest = std::string_view(raw_path).substr(1);
    const size_t slash = rest.find('/');
    path_style.bucket = std::string(rest.substr(0, slash));
    if (slash != std::string_view::npos &&
        !PercentDecode(rest.substr(slash + 1), /*plus_is_space=*/false, &path_style.key)) {
      return Invalid("The request path has a malformed percent-escape.");
    }
  }

  std::vector<OssAddress> candidates;
  const std::optional<std::string> virtual_bucket = VirtualHostBucket(HostName(host_header), endpoint);
  if (virtual_bucket && !virtual_bucket->empty()) {
    candidates.push_back(OssAddress{OssAddress::Style::kVirtualHost, *virtual_bucket, whole_key});
    // An IP endpoint with sldEnable: Host and path both carry the bucket.
    if (path_style.bucket == *virtual_bucket) candidates.push_back(path_style);
  } else {
    candidates.push_back(path_style);
    if (!endpoint.default_bucket.empty()) {
      candidates.push_back(OssAddress{OssAddress::Style::kDefaultBucket, endpoint.default_bucket, whole_key});
    }
  }

  std::vector<OssAddress> valid;
  Status first_error;
  for (OssAddress& candidate : candidates) {
    Status status = CheckAddress(candidate);
    if (status.ok()) {
      valid.push_back(std::move(candidate));
    } else if (first_error.ok()) {
      first_error = status;
    }
  }
  if (valid.empty()) return first_error;
  return valid;
}

Result<std::map<std::string, std::string>> ParseQuery(std::string_view raw) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t amp = raw.find('&', pos);
    if (amp == std::string_view::npos) amp = raw.size();
    const std::string_view piece = raw.substr(pos, amp - pos);
    pos = amp + 1;
    if (piece.empty()) continue;
    const size_t eq = piece.find('=');
    std::string name;
    std::string value;
    if (!PercentDecode(piece.substr(0, eq), true, &name) ||
        (eq != std::string_view::npos && !PercentDecode(piece.substr(eq + 1), true, &value))) {
      return Invalid("The query string has a malformed percent-escape.");
    }
    if (out.size() >= kOssMaxQueryParams) {
      return Invalid("The query string has more than " + std::to_string(kOssMaxQueryParams) + " parameters.");
    }
    if (!out.emplace(std::move(name), std::move(value)).second) {
      return Invalid("The query parameter \"" + Echo(std::string(piece.substr(0, eq))) +
                     "\" is given twice.");
    }
  }
  return out;
}

bool IsServedSubResource(std::string_view name) {
  // response-content-type and the other response-* overrides of GetObject.
  if (name.starts_with("response-")) return true;
  return std::find(std::begin(kServedSubResources), std::end(kServedSubResources), name) !=
         std::end(kServedSubResources);
}

// An integer parameter within [min, max]; absent or empty -> `fallback`.
Result<int> IntParam(const OssRequest& request, const std::string& name, int fallback, int min, int max) {
  auto it = request.query.find(name);
  if (it == request.query.end() || it->second.empty()) return fallback;
  const std::string& text = it->second;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return Invalid("Argument " + name + " \"" + Echo(text) + "\" must be an integer from " +
                   std::to_string(min) + " to " + std::to_string(max) + ".");
  }
  return value;
}

Result<std::string> TextParam(const OssRequest& request, const std::string& name) {
  auto it = request.query.find(name);
  if (it == request.query.end()) return std::string();
  if (it->second.size() > kOssMaxKeyBytes) {
    return Invalid("Argument " + name + " is " + std::to_string(it->second.size()) + " bytes; at most " +
                   std::to_string(kOssMaxKeyBytes) + ".");
  }
  return it->second;
}

Result<bool> UrlEncodingParam(const OssRequest& request) {
  auto it = request.query.find("encoding-type");
  if (it == request.query.end() || it->second.empty()) return false;
  if (Lower(it->second) == "url") return true;
  return Invalid("The Encoding-Type \"" + Echo(it->second) + "\" is invalid; only \"url\" is supported.");
}

Result<std::string> UploadIdParam(const OssRequest& request) {
  const std::string& id = request.query.at("uploadId");
  if (id.empty() || id.size() > kOssMaxUploadIdBytes || !IsPrintableUtf8(id)) {
    return InvalidArgument("NoSuchUpload", "The specified upload does not exist: the uploadId \"" + Echo(id) +
                                               "\" is not one this endpoint issues.");
  }
  return id;
}

Status MethodNotAllowed(const OssRequest& request, const std::string& resource) {
  return InvalidArgument("MethodNotAllowed", "The specified method is not allowed against this resource: " +
                                                 Echo(request.method) + " on " + resource + ".");
}

Status ListObjectsParams(const OssRequest& request, bool v2, OssOperationRequest* out) {
  OssListObjectsParams& list = out->list;
  ASSIGN_OR_RETURN(list.prefix, TextParam(request, "prefix"));
  ASSIGN_OR_RETURN(list.delimiter, TextParam(request, "delimiter"));
  ASSIGN_OR_RETURN(list.max_keys, IntParam(request, "max-keys", kOssDefaultListKeys, 1, kOssMaxListKeys));
  ASSIGN_OR_RETURN(out->url_encoding, UrlEncodingParam(request));
  if (!v2) {
    ASSIGN_OR_RETURN(list.marker, TextParam(request, "marker"));
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(list.start_after, TextParam(request, "start-after"));
  ASSIGN_OR_RETURN(list.continuation_token, TextParam(request, "continuation-token"));
  list.has_start_after = request.HasQuery("start-after");
  list.has_continuation_token = request.HasQuery("continuation-token");
  auto owner = request.query.find("fetch-owner");
  if (owner != request.query.end() && !owner->second.empty()) {
    const std::string value = Lower(owner->second);
    if (value != "true" && value != "false") {
      return Invalid("Argument fetch-owner \"" + Echo(owner->second) + "\" must be true or false.");
    }
    list.fetch_owner = value == "true";
  }
  return Status::Ok();
}

Status ListUploadsParams(const OssRequest& request, OssOperationRequest* out) {
  OssListUploadsParams& list = out->list_uploads;
  ASSIGN_OR_RETURN(list.prefix, TextParam(request, "prefix"));
  ASSIGN_OR_RETURN(list.delimiter, TextParam(request, "delimiter"));
  ASSIGN_OR_RETURN(list.key_marker, TextParam(request, "key-marker"));
  ASSIGN_OR_RETURN(list.upload_id_marker, TextParam(request, "upload-id-marker"));
  ASSIGN_OR_RETURN(list.max_uploads, IntParam(request, "max-uploads", kOssMaxListKeys, 1, kOssMaxListKeys));
  ASSIGN_OR_RETURN(out->url_encoding, UrlEncodingParam(request));
  return Status::Ok();
}

Result<OssCopySource> ParseCopySource(std::string_view header) {
  std::string decoded;
  if (!PercentDecode(header, /*plus_is_space=*/false, &decoded)) {
    return Invalid("x-oss-copy-source has a malformed percent-escape.");
  }
  std::string_view rest = decoded;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return Invalid("x-oss-copy-source must be /bucket/object, not \"" + Echo(header) + "\".");
  }
  OssCopySource source{std::string(rest.substr(0, slash)), std::string(rest.substr(slash + 1))};
  if (!IsValidOssBucketName(source.bucket)) {
    return InvalidArgument("InvalidBucketName",
                           "The bucket of x-oss-copy-source \"" + Echo(source.bucket) + "\" is not valid.");
  }
  RETURN_IF_ERROR(ValidateOssKey(source.key));
  return source;
}

Result<OssOperationRequest> ServiceOperation(const OssRequest& request, OssOperationRequest out) {
  if (request.method != "GET") return MethodNotAllowed(request, "the service");
  out.operation = OssOperation::kGetService;
  ASSIGN_OR_RETURN(out.list_buckets.prefix, TextParam(request, "prefix"));
  ASSIGN_OR_RETURN(out.list_buckets.marker, TextParam(request, "marker"));
  ASSIGN_OR_RETURN(out.list_buckets.max_keys,
                   IntParam(request, "max-keys", kOssDefaultListKeys, 1, kOssMaxListKeys));
  return out;
}

Result<OssOperationRequest> BucketOperation(const OssRequest& request, OssOperationRequest out) {
  const std::string& m = request.method;
  if (m == "PUT") {
    out.operation = OssOperation::kPutBucket;
  } else if (m == "DELETE") {
    out.operation = OssOperation::kDeleteBucket;
  } else if (m == "POST" && request.HasQuery("delete")) {
    out.operation = OssOperation::kDeleteMultipleObjects;
    ASSIGN_OR_RETURN(out.url_encoding, UrlEncodingParam(request));
  } else if (m == "GET" && request.HasQuery("uploads")) {
    out.operation = OssOperation::kListMultipartUploads;
    RETURN_IF_ERROR(ListUploadsParams(request, &out));
  } else if (m == "GET") {
    auto list_type = request.query.find("list-type");
    const bool v2 = list_type != request.query.end() && !list_type->second.empty();
    if (v2 && list_type->second != "2") {
      return Invalid("Argument list-type \"" + Echo(list_type->second) + "\" must be 2.");
    }
    out.operation = v2 ? OssOperation::kListObjectsV2 : OssOperation::kListObjects;
    RETURN_IF_ERROR(ListObjectsParams(request, v2, &out));
  } else {
    return MethodNotAllowed(request, "a bucket");
  }
  return out;
}

Result<OssOperationRequest> ObjectOperation(const OssRequest& request, OssOperationRequest out) {
  const std::string& m = request.method;
  const bool has_upload_id = request.HasQuery("uploadId");
  if (m == "PUT") {
    const std::string& copy_source = request.Header("x-oss-copy-source");
    if (has_upload_id || request.HasQuery("partNumber")) {
      if (!has_upload_id || !request.HasQuery("partNumber")) {
        return Invalid("UploadPart needs both partNumber and uploadId.");
      }
      if (!copy_source.empty()) {
        return InvalidArgument("NotImplemented", "UploadPartCopy is not implemented.");
      }
      out.operation = OssOperation::kUploadPart;
      ASSIGN_OR_RETURN(out.upload_id, UploadIdParam(request));
      auto number = request.query.find("partNumber");
      if (number->second.empty()) return Invalid("Argument partNumber must be an integer from 1 to 10000.");
      ASSIGN_OR_RETURN(out.part_number, IntParam(request, "partNumber", 0, 1, kOssMaxPartNumber));
    } else if (!copy_source.empty()) {
      out.operation = OssOperation::kCopyObject;
      ASSIGN_OR_RETURN(out.copy_source, ParseCopySource(copy_source));
    } else {
      out.operation = OssOperation::kPutObject;
    }
  } else if (m == "GET") {
    out.operation = has_upload_id ? OssOperation::kListParts : OssOperation::kGetObject;
    if (has_upload_id) {
      ASSIGN_OR_RETURN(out.upload_id, UploadIdParam(request));
      ASSIGN_OR_RETURN(out.list_parts.max_parts,
                       IntParam(request, "max-parts", kOssMaxListKeys, 1, kOssMaxListKeys));
      ASSIGN_OR_RETURN(out.list_parts.part_number_marker,
                       IntParam(request, "part-number-marker", 0, 0, kOssMaxPartNumber));
      ASSIGN_OR_RETURN(out.url_encoding, UrlEncodingParam(request));
    }
  } else if (m == "HEAD") {
    out.operation = OssOperation::kHeadObject;
  } else if (m == "DELETE") {
    out.operation = has_upload_id ? OssOperation::kAbortMultipartUpload : OssOperation::kDeleteObject;
    if (has_upload_id) {
      ASSIGN_OR_RETURN(out.upload_id, UploadIdParam(request));
    }
  } else if (m == "POST" && request.HasQuery("uploads")) {
    out.operation = OssOperation::kInitiateMultipartUpload;
  } else if (m == "POST" && has_upload_id) {
    out.operation = OssOperation::kCompleteMultipartUpload;
    ASSIGN_OR_RETURN(out.upload_id, UploadIdParam(request));
    ASSIGN_OR_RETURN(out.url_encoding, UrlEncodingParam(request));
  } else {
    return MethodNotAllowed(request, "an object");
  }
  return out;
}

// ---- time ----

constexpr const char* kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t pos, size_t n, unsigned* out) {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + static_cast<unsigned>(s[i] - '0');
  }
  *out = v;
  return true;
}

std::optional<UnixSeconds> FromCivil(unsigned year, unsigned month, unsigned day, unsigned hour,
                                     unsigned minute, unsigned second) {
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  static constexpr unsigned kDaysIn[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (day > kDaysIn[month - 1] || (month == 2 && day == 29 && !leap)) return std::nullopt;
  return DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
}

}  // namespace

const std::string& OssRequest::Header(const std::string& lower_name) const {
  static const std::string kEmpty;
  auto it = headers.find(lower_name);
  return it == headers.end() ? kEmpty : it->second;
}

bool IsOssSubResource(std::string_view name) {
  return std::find(std::begin(kSubResources), std::end(kSubResources), name) != std::end(kSubResources);
}

bool IsValidOssBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  return std::all_of(name.begin(), name.end(), [&](char c) { return alnum(c) || c == '-'; });
}

Status ValidateOssKey(std::string_view key) {
  if (key.empty() || key.size() > kOssMaxKeyBytes) {
    return InvalidArgument("InvalidObjectName", "The specified object is not valid: its name is " +
                                                    std::to_string(key.size()) + " bytes; it must be 1-" +
                                                    std::to_string(kOssMaxKeyBytes) + ".");
  }
  if (!IsPrintableUtf8(key)) {
    return InvalidArgument("InvalidObjectName",
                           "The specified object is not valid: its name must be UTF-8 without control "
                           "characters.");
  }
  if (key.front() == '/' || key.front() == '\\') {
    return InvalidArgument("InvalidObjectName",
                           "The specified object is not valid: its name must not start with '/' or '\\'.");
  }
  return Status::Ok();
}

Result<OssRequest> ParseOssRequest(const HttpRequest& http, const OssEndpoint& endpoint) {
  if (http.target.size() > kOssMaxTargetBytes) {
    return Invalid("The request target is " + std::to_string(http.target.size()) + " bytes; at most " +
                   std::to_string(kOssMaxTargetBytes) + ".");
  }
  if (http.headers.size() > kOssMaxHeaders) {
    return Invalid("The request has " + std::to_string(http.headers.size()) + " headers; at most " +
                   std::to_string(kOssMaxHeaders) + ".");
  }
  for (const auto& header : http.headers) {
    if (header.second.size() > kOssMaxHeaderValueBytes) {
      return Invalid("The header \"" + Echo(header.first) + "\" is " + std::to_string(header.second.size()) +
                     " bytes; at most " + std::to_string(kOssMaxHeaderValueBytes) + ".");
    }
  }
  OssRequest out;
  out.method = http.method;
  out.target = http.target;
  const size_t q = http.target.find('?');
  out.raw_path = http.target.substr(0, q);
  if (out.raw_path.empty() || out.raw_path.front() != '/') {
    return Invalid("The request target must be a path starting with '/'.");
  }
  if (q != std::string::npos) {
    ASSIGN_OR_RETURN(out.query, ParseQuery(std::string_view(http.target).substr(q + 1)));
  }
  out.headers = http.headers;
  ASSIGN_OR_RETURN(out.addresses, ResolveAddresses(out.raw_path, out.Header("host"), endpoint));
  return out;
}

std::string_view OssOperationName(OssOperation operation) {
  switch (operation) {
    case OssOperation::kGetService:
      return "GetService";
    case OssOperation::kPutBucket:
      return "PutBucket";
    case OssOperation::kDeleteBucket:
      return "DeleteBucket";
    case OssOperation::kListObjects:
      return "ListObjects";
    case OssOperation::kListObjectsV2:
      return "ListObjectsV2";
    case OssOperation::kListMultipartUploads:
      return "ListMultipartUploads";
    case OssOperation::kDeleteMultipleObjects:
      return "DeleteMultipleObjects";
    case OssOperation::kPutObject:
      return "PutObject";
    case OssOperation::kCopyObject:
      return "CopyObject";
    case OssOperation::kGetObject:
      return "GetObject";
    case OssOperation::kHeadObject:
      return "HeadObject";
    case OssOperation::kDeleteObject:
      return "DeleteObject";
    case OssOperation::kInitiateMultipartUpload:
      return "InitiateMultipartUpload";
    case OssOperation::kUploadPart:
      return "UploadPart";
    case OssOperation::kCompleteMultipartUpload:
      return "CompleteMultipartUpload";
    case OssOperation::kAbortMultipartUpload:
      return "AbortMultipartUpload";
    case OssOperation::kListParts:
      return "ListParts";
  }
  return "Unknown";
}

Result<OssOperationRequest> IdentifyOssOperation(const OssRequest& request, const OssAddress& address) {
  for (const auto& param : request.query) {
    if (IsOssSubResource(param.first) && !IsServedSubResource(param.first)) {
      return InvalidArgument("NotImplemented", "The sub-resource \"" + Echo(param.first) +
                                                   "\" names an operation this endpoint does not serve.");
    }
  }
  OssOperationRequest out;
  out.bucket = address.bucket;
  out.key = address.key;
  if (address.bucket.empty()) return ServiceOperation(request, std::move(out));
  if (address.key.empty()) return BucketOperation(request, std::move(out));
  return ObjectOperation(request, std::move(out));
}

Result<OssRange> ResolveOssRange(std::string_view header, std::string_view range_behavior, uint64_t size) {
  const bool standard = Lower(range_behavior) == "standard";
  OssRange whole;
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() < kUnit.size() || Lower(header.substr(0, kUnit.size())) != kUnit) return whole;
  std::string_view spec = header.substr(kUnit.size());
  spec = spec.substr(0, spec.find(','));  // of several ranges, the first
  while (!spec.empty() && spec.front() == ' ') spec.remove_prefix(1);
  while (!spec.empty() && spec.back() == ' ') spec.remove_suffix(1);
  const size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  auto number = [](std::string_view s, uint64_t* v) {
    if (s.empty() || s.size() > 19) return false;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return ec == std::errc() && end == s.data() + s.size();
  };
  const std::string_view a = spec.substr(0, dash);
  const std::string_view b = spec.substr(dash + 1);
  uint64_t first = 0;
  uint64_t last = 0;
  const Status unsatisfiable = InvalidArgument("InvalidRange", "The requested range \"" + Echo(header) +
                                                                   "\" cannot be satisfied: the object is " +
                                                                   std::to_string(size) + " bytes.");
  if (a.empty()) {  // "-n": the last n bytes
    uint64_t n = 0;
    if (!number(b, &n)) return whole;
    if (n == 0 || size == 0) return standard ? Result<OssRange>(unsatisfiable) : Result<OssRange>(whole);
    if (n > size && !standard) return whole;
    first = n >= size ? 0 : size - n;
    last = size - 1;
  } else {
    if (!number(a, &first)) return whole;
    if (b.empty()) {
      last = size == 0 ? 0 : size - 1;
    } else if (!number(b, &last) || last < first) {
      return whole;
    }
    if (first >= size) return standard ? Result<OssRange>(unsatisfiable) : Result<OssRange>(whole);
    if (last >= size) {
      if (!standard) return whole;
      last = size - 1;
    }
  }
  return OssRange{true, first, last};
}

std::string FormatHttpDate(UnixSeconds t) {
  const Civil c = CivilFromSeconds(t);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%s, %02u %s %04lld %02u:%02u:%02u GMT", kWeekdays[c.weekday], c.day,
                kMonths[c.month - 1], static_cast<long long>(c.year), c.hour, c.minute, c.second);
  return buf;
}

std::optional<UnixSeconds> ParseHttpDate(std::string_view s) {
  // "Fri, 04 Dec 2026 20:31:10 GMT": 29 characters.
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
      s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(std::begin(kWeekdays), std::end(kWeekdays), s.substr(0, 3)) == std::end(kWeekdays)) {
    return std::nullopt;
  }
  const auto month = std::find(std::begin(kMonths), std::end(kMonths), s.substr(8, 3));
  if (month == std::end(kMonths)) return std::nullopt;
  unsigned day, year, hour, minute, second;
  if (!Digits(s, 5, 2, &day) || !Digits(s, 12, 4, &year) || !Digits(s, 17, 2, &hour) ||
      !Digits(s, 20, 2, &minute) || !Digits(s, 23, 2, &second)) {
    return std::nullopt;
  }
  return FromCivil(year, static_cast<unsigned>(month - std::begin(kMonths)) + 1, day, hour, minute, second);
}

std::optional<UnixSeconds> ParseIso8601Basic(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  unsigned year, month, day, hour, minute, second;
  if (!Digits(s, 0, 4, &year) || !Digits(s, 4, 2, &month) || !Digits(s, 6, 2, &day) ||
      !Digits(s, 9, 2, &hour) || !Digits(s, 11, 2, &minute) || !Digits(s, 13, 2, &second)) {
    return std::nullopt;
  }
  return FromCivil(year, month, day, hour, minute, second);
}

std::string FormatOssXmlTime(UnixSeconds t) {
  const Civil c = CivilFromSeconds(t);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02u:%02u:%02u.000Z", static_cast<long long>(c.year),
                c.month, c.day, c.hour, c.minute, c.second);
  return buf;
}

}  // namespace ferry
