// The OSS object endpoint's requests (oss-api.md sections 1, 4, 5): a raw
// HTTP request parsed once into an OssRequest (decoded query, the bucket and
// key it may address), which authentication (api/oss_auth.h) and the
// handlers share; the operation it names with its validated parameters; the
// Range header; the HTTP and XML time formats.
//
// Every input is a tenant's and hostile: sizes are bounded before anything
// is kept (target, query parameters, headers, keys), and each failure is a
// Status whose reason is the OSS error code (api/oss_errors.h).
//
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "common/clock.h"
#include "common/status.h"

namespace ferry {

// Bounds on what a request may carry (larger: InvalidArgument, or
// InvalidObjectName for keys).
inline constexpr size_t kOssMaxTargetBytes = 16 << 10;
inline constexpr size_t kOssMaxQueryParams = 64;
inline constexpr size_t kOssMaxHeaders = 128;
inline constexpr size_t kOssMaxHeaderValueBytes = 8 << 10;
inline constexpr size_t kOssMaxKeyBytes = 1023;
inline constexpr size_t kOssMaxUploadIdBytes = 256;
inline constexpr int kOssMaxPartNumber = 10000;
inline constexpr int kOssMaxListKeys = 1000;
inline constexpr int kOssDefaultListKeys = 100;

// How this endpoint is reached: which Host names carry a bucket as their
// first label, and which bucket a request naming none (an ali-oss `cname`
// client) addresses.
struct OssEndpoint {
  // "oss.example.com": Host "bkt.oss.example.com" names bucket "bkt". Hosts
  // under ".aliyuncs.com" always do (ali-oss rewrites Host for IP
  // endpoints). "" = only those.
  std::string domain;
  // "" = none: such requests address buckets by path only.
  std::string default_bucket;
};

// One reading of where a request points.
struct OssAddress {
  enum class Style {
    kVirtualHost,    // bucket from Host, key = the whole path
    kPath,           // bucket = the path's first segment, key = the rest
    kDefaultBucket,  // OssEndpoint::default_bucket, key = the whole path
  };
  Style style = Style::kPath;
  std::string bucket;  // "" = the service (ListBuckets)
  std::string key;     // percent-decoded ("%2F" too); "" = the bucket itself
};

struct OssRequest {
  std::string method;
  std::string target;    // as received
  std::string raw_path;  // the target up to '?', still encoded
  // Decoded names and values ('+' is a space); a bare "?delimiter" is "".
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-cased names
  // The readings the request allows, most likely first; never empty. More
  // than one only when Host and path both name a bucket (an IP endpoint
  // with sldEnable: "bkt.<region>.aliyuncs.com" + "/bkt/key") or a default
  // bucket is configured; authentication picks the one the client signed.
  std::vector<OssAddress> addresses;

  // The header's value, or "" when absent.
  const std::string& Header(const std::string& lower_name) const;
  bool HasQuery(const std::string& name) const { return query.count(name) != 0; }
};

// Parses and bounds `http` (its body is not looked at) and resolves its
// addresses (oss-api.md section 1 "Server resolution"). Readings whose
// bucket or key is invalid are dropped; when none is left the first one's
// error is returned (InvalidBucketName, InvalidObjectName).
Result<OssRequest> ParseOssRequest(const HttpRequest& http, const OssEndpoint& endpoint);

// `^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`.
bool IsValidOssBucketName(std::string_view name);
// 1-1023 bytes of printable UTF-8, not starting with '/' or '\'
// (InvalidObjectName naming what is wrong).
Status ValidateOssKey(std::string_view key);

// True for the query parameters V1 signs ("sub-resources": acl, uploads,
// uploadId, partNumber, delete, response-*, continuation-token, ...; the
// aliyun-oss-go-sdk signKeyList), false for list parameters (prefix,
// marker, max-keys, list-type, ...).
bool IsOssSubResource(std::string_view name);

// ---- Operations ----

enum class OssOperation {
  kGetService,
  kPutBucket,
  kDeleteBucket,
  kListObjects,
  kListObjectsV2,
  kListMultipartUploads,
  kDeleteMultipleObjects,
  kPutObject,
  kCopyObject,
  kGetObject,
  kHeadObject,
  kDeleteObject,
  kInitiateMultipartUpload,
  kUploadPart,
  kCompleteMultipartUpload,
  kAbortMultipartUpload,
  kListParts,
};

// "GetService", "PutObject", ...
std::string_view OssOperationName(OssOperation operation);

struct OssListBucketsParams {
  std::string prefix;
  std::string marker;
  int max_keys = kOssDefaultListKeys;
};

// ListObjects (V1) and ListObjectsV2.
struct OssListObjectsParams {
  std::string prefix;
  std::string delimiter;
  std::string marker;              // V1
  std::string start_after;         // V2
  std::string continuation_token;  // V2, opaque
  bool has_start_after = false;
  bool has_continuation_token = false;
  int max_keys = kOssDefaultListKeys;
  bool fetch_owner = false;  // V2
};

struct OssListUploadsParams {
  std::string prefix;
  std::string delimiter;
  std::string key_marker;
  std::string upload_id_marker;
  int max_uploads = kOssMaxListKeys;
};

struct OssListPartsParams {
  int max_parts = kOssMaxListKeys;
  int part_number_marker = 0;
};

// x-oss-copy-source: "/bucket/key" (percent-encoded on the wire).
struct OssCopySource {
  std::string bucket;
  std::string key;
};

struct OssOperationRequest {
  OssOperation operation = OssOperation::kGetService;
  std::string bucket;     // "" for GetService
  std::string key;        // "" for service and bucket operations
  std::string upload_id;  // UploadPart, Complete, Abort, ListParts
  int part_number = 0;    // UploadPart: 1-10000
  // encoding-type=url: the response's keys and prefixes are percent-encoded
  // (ListObjects, ListObjectsV2, ListMultipartUploads, DeleteMultipleObjects,
  // CompleteMultipartUpload).
  bool url_encoding = false;
  OssListBucketsParams list_buckets;         // GetService
  OssListObjectsParams list;                 // ListObjects, ListObjectsV2
  OssListUploadsParams list_uploads;         // ListMultipartUploads
  OssListPartsParams list_parts;             // ListParts
  std::optional<OssCopySource> copy_source;  // CopyObject
};

// The operation `request` names at `address` (one of request.addresses)
// with its parameters checked: MethodNotAllowed for a method the resource
// does not take, NotImplemented for a sub-resource Ferry does not serve
// (?acl, ?tagging, ...), InvalidArgument for a bad value (max-keys outside
// 1-1000, partNumber outside 1-10000, list-type other than 2, an unknown
// encoding-type), InvalidBucketName / InvalidObjectName for a bad copy
// source. Empty parameters ("?delimiter&marker") take their defaults.
Result<OssOperationRequest> IdentifyOssOperation(const OssRequest& request, const OssAddress& address);

// ---- Range ----

struct OssRange {
  bool partial = false;  // false: the whole object, 200
  uint64_t first = 0;    // partial: 206, Content-Range: bytes first-last/size
  uint64_t last = 0;     // inclusive
};

// The range a GET of an object of `size` bytes answers with, from its
// Range header ("" when absent) and x-oss-range-behavior. One range
// "bytes=a-b", "a-" or "-n"; of several, the first. OSS's default answers a
// malformed or unsatisfiable range with the whole object; with
// `range_behavior` "standard" the end is clamped to the object and a start
// at or past its end is 416 InvalidRange. A malformed header is ignored in
// both.
Result<OssRange> ResolveOssRange(std::string_view range_header, std::string_view range_behavior,
                                 uint64_t size);

// ---- Time formats ----

// "Fri, 04 Dec 2026 20:31:10 GMT" (RFC 1123: Date, x-oss-date of V1,
// Last-Modified).
std::string FormatHttpDate(UnixSeconds t);
std::optional<UnixSeconds> ParseHttpDate(std::string_view s);
// "20261204T203110Z" (V4 x-oss-date).
std::optional<UnixSeconds> ParseIso8601Basic(std::string_view s);
// "2026-12-04T20:31:10.000Z" (times in XML bodies).
std::string FormatOssXmlTime(UnixSeconds t);

}  // namespace ferry
