// The OSS object endpoint's XML (oss-api.md sections 4 and 5): every
// response body, rendered from plain structs the handlers fill from the
// object store, and the two request bodies, parsed with expat.
//
// Rendering: exact root and element names and order (the Go SDKs decode by
// name, ali-oss tests "true"/"false" as strings), times as
// 2026-12-04T20:31:10.000Z. Text is escaped so that no tenant-chosen key can
// break or inject markup: & < > " ' as entities (api/render.h XmlEscape);
// what XML 1.0 cannot carry at all (control characters but tab and newline,
// bytes that are not UTF-8, U+FFFE/U+FFFF) as U+FFFD. With encoding-type=url the
// keys, prefixes, markers and delimiters listed in the reference are
// percent-encoded instead (everything but A-Z a-z 0-9 - _ . ~).
//
// Parsing: at most kOssMaxXmlBodyBytes, no DOCTYPE or entity declarations,
// bounded depth and counts; anything else is MalformedXML (400).
//
// Threading: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/oss_errors.h"
#include "common/clock.h"
#include "common/status.h"

namespace ferry {

inline constexpr std::string_view kOssXmlContentType = "application/xml";
inline constexpr size_t kOssMaxXmlBodyBytes = 2 << 20;
inline constexpr size_t kOssMaxDeleteObjects = 1000;
inline constexpr size_t kOssMaxCompleteParts = 10000;

struct OssOwner {
  std::string id;
  std::string display_name;
};

// ---- GetService ----
struct OssBucketEntry {
  std::string name;
  UnixSeconds creation_time = 0;
  std::string location = "oss-cn-hangzhou";
  std::string region = "cn-hangzhou";
  std::string extranet_endpoint;  // "oss-cn-hangzhou.aliyuncs.com" or Ferry's host
  std::string intranet_endpoint;
  std::string storage_class = "Standard";
};

struct OssListBucketsResult {
  std::string prefix;
  std::string marker;
  int max_keys = 100;
  bool is_truncated = false;
  std::string next_marker;  // rendered only when truncated
  OssOwner owner;
  std::vector<OssBucketEntry> buckets;
};

// ---- ListObjects / ListObjectsV2 ----
struct OssObjectEntry {
  std::string key;
  UnixSeconds last_modified = 0;
  std::string etag;             // with its quotes: "\"5EB63BBBE01EEED093CB22BB8F5ACDC3\""
  std::string type = "Normal";  // Normal | Multipart | Appendable
  uint64_t size = 0;
  std::string storage_class = "Standard";
};

struct OssListObjectsResult {
  std::string bucket;
  std::string prefix;
  std::string marker;
  std::string delimiter;
  int max_keys = 100;
  bool is_truncated = false;
  std::string next_marker;  // rendered only when truncated
  bool url_encoding = false;
  std::vector<OssObjectEntry> contents;
  std::vector<std::string> common_prefixes;
  OssOwner owner;  // every Contents carries it (ali-oss reads Owner.ID)
};

struct OssListObjectsV2Result {
  std::string bucket;
  std::string prefix;
  std::string start_after;  // rendered when has_start_after
  bool has_start_after = false;
  std::string continuation_token;  // rendered when has_continuation_token
  bool has_continuation_token = false;
  int max_keys = 100;
  std::string delimiter;
  bool url_encoding = false;
  bool is_truncated = false;
  std::string next_continuation_token;  // rendered only when truncated
  std::vector<OssObjectEntry> contents;
  std::vector<std::string> common_prefixes;
  bool fetch_owner = false;
  OssOwner owner;  // rendered in Contents only with fetch_owner
};

// ---- Multipart ----
struct OssPartEntry {
  int part_number = 0;
  UnixSeconds last_modified = 0;
  std::string etag;  // with quotes
  uint64_t size = 0;
  std::string crc64;  // decimal; "" = element left out
};

struct OssListPartsResult {
  std::string bucket;
  std::string key;
  std::string upload_id;
  int part_number_marker = 0;
  int next_part_number_marker = 0;
  int max_parts = 1000;
  bool is_truncated = false;
  std::vector<OssPartEntry> parts;
};

struct OssUploadEntry {
  std::string key;
  std::string upload_id;
  UnixSeconds initiated = 0;
};

struct OssListUploadsResult {
  std::string bucket;
  std::string key_marker;
  std::string upload_id_marker;
  std::string next_key_marker;
  std::string next_upload_id_marker;
  std::string delimiter;
  std::string prefix;
  int max_uploads = 1000;
  bool is_truncated = false;
  bool url_encoding = false;
  std::vector<OssUploadEntry> uploads;
  std::vector<std::string> common_prefixes;
};

struct OssCompleteResult {
  std::string location;  // "http://bkt.host/key"
  std::string bucket;
  std::string key;
  std::string etag;  // with quotes
  bool url_encoding = false;
};

struct OssDeleteResult {
  std::vector<std::string> deleted;  // keys; empty (and not rendered) when quiet
  bool url_encoding = false;
};

std::string RenderOssListBuckets(const OssListBucketsResult& result);
std::string RenderOssListObjects(const OssListObjectsResult& result);
std::string RenderOssListObjectsV2(const OssListObjectsV2Result& result);
std::string RenderOssListParts(const OssListPartsResult& result);
std::string RenderOssListUploads(const OssListUploadsResult& result);
std::string RenderOssInitiateMultipartUpload(std::string_view bucket, std::string_view key,
                                             std::string_view upload_id);
std::string RenderOssCompleteMultipartUpload(const OssCompleteResult& result);
std::string RenderOssDeleteResult(const OssDeleteResult& result);
// CopyObjectResult{ETag, LastModified}.
std::string RenderOssCopyObjectResult(std::string_view etag, UnixSeconds last_modified);

// <Error> with Code, Message, RequestId, HostId, the SignatureDoesNotMatch
// extras, and EC when known.
std::string RenderOssError(const OssError& error, std::string_view request_id, std::string_view host_id);
// The x-oss-err header of a HEAD error (which has no body): the Base64 of
// RenderOssError.
std::string OssErrHeader(const OssError& error, std::string_view request_id, std::string_view host_id);

// XML text content with the escaping described above.
std::string OssXmlEscape(std::string_view text);

// ---- Request bodies ----
struct OssCompletePart {
  int part_number = 0;
  std::string etag;  // as received (quotes and all)
};

// <CompleteMultipartUpload><Part><PartNumber>n</PartNumber><ETag>..</ETag>
// </Part>...</CompleteMultipartUpload>: 1 to 10000 parts, each with a
// PartNumber of 1-10000 and an ETag, in the order given (the handler checks
// the order: InvalidPartOrder).
Result<std::vector<OssCompletePart>> ParseOssCompleteMultipartUpload(std::string_view body);

struct OssDeleteRequest {
  bool quiet = false;
  std::vector<std::string> keys;  // 1 to 1000, as given
};

// <Delete><Quiet>true|false</Quiet><Object><Key>k</Key></Object>...</Delete>.
Result<OssDeleteRequest> ParseOssDeleteRequest(std::string_view body);

}  // namespace ferry
