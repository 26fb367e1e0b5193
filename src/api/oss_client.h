// OssClient: a small synchronous client of the OSS object API (Ferry's OSS
// listener, api/oss_endpoint.h, or any OSS-compatible endpoint), path style
// (/bucket/key), signed with header signature V1 ("Authorization: OSS
// AK:Sig") or V4 (OSS4-HMAC-SHA256) through the very canonicalization
// functions the server verifies with (api/oss_auth.h). The Ferry CLI's
// uploads, downloads and `ferry oss` commands use it.
//
// Large transfers never sit whole in memory: uploads are multipart, each
// part read from the file and sent in pieces; downloads are ranged GETs
// written to the file as they arrive. Both resume from a checkpoint file
// (JSON, beside the destination or named by the caller).
//
// Errors: an OSS error answer is a Status whose reason is the OSS Code and
// whose message is "Code: Message (RequestId)"; transport failures are
// Unavailable.
//
// Threading: one request at a time per object.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace ferry {

struct OssClientConfig {
  std::string endpoint;  // "http://127.0.0.1:8082"
  std::string access_key_id;
  std::string access_key_secret;
  bool v4 = false;
  std::string region = "cn-hangzhou";  // V4 scope
  int timeout_ms = 120000;
};

struct OssHttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;                            // empty when streamed to a file
  const std::string& Header(const std::string& name) const;
};

// One request. `key` "" = the bucket; `bucket` "" = the service.
struct OssCall {
  std::string method = "GET";
  std::string bucket;
  std::string key;
  std::map<std::string, std::string> query;    // decoded; "" values sent bare
  std::map<std::string, std::string> headers;  // lower-cased names
  // The body: `body`, or `length` bytes of `body_fd` from `body_offset`.
  std::string body;
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t length = 0;
  // Where a 2xx answer's body goes when >= 0: written at `sink_offset`.
  int sink_fd = -1;
  uint64_t sink_offset = 0;
};

struct OssObjectSummary {
  std::string key;
  uint64_t size = 0;
  std::string etag;
  std::string last_modified;
};

struct OssListing {
  std::vector<OssObjectSummary> objects;
  std::vector<std::string> prefixes;
};

// Progress of a transfer: bytes done of the total.
using OssProgress = std::function<void(uint64_t done, uint64_t total)>;

class OssClient {
 public:
  // Parts of multipart uploads and ranged downloads.
  static constexpr uint64_t kDefaultPartBytes = 16ull << 20;
  // `ferry image import`'s parts: smaller, so more of a sparse disk's
  // zeros are found and not sent.
  static constexpr uint64_t kImportPartBytes = 4ull << 20;
  // Parts of one multipart upload in flight at once.
  static constexpr unsigned kUploadThreads = 4;

  explicit OssClient(OssClientConfig config, const Clock& clock = SystemClock::Get());

  // Signs and sends `call`; any HTTP status is a response.
  Result<OssHttpResponse> Send(const OssCall& call);
  // Send, and a non-2xx answer becomes the OSS error's Status.
  Result<OssHttpResponse> SendOk(const OssCall& call);

  Result<std::vector<std::string>> ListBuckets();
  Status CreateBucket(const std::string& bucket);
  // Every object under `prefix` (all pages); with a delimiter, the common
  // prefixes too.
  Result<OssListing> ListObjects(const std::string& bucket, const std::string& prefix,
                                 const std::string& delimiter);
  Status DeleteObject(const std::string& bucket, const std::string& key);
  Result<OssHttpResponse> HeadObject(const std::string& bucket, const std::string& key);

  // Uploads `path` as bucket/key: multipart in parts of `part_bytes`,
  // kUploadThreads at a time (a single PUT below one part). A part that reads as all zeros (no data
  // extent, or only zeros in them) is sent as the Ferry extension
  // x-ferry-zero-part (api/oss_endpoint.h) without a body; an endpoint that
  // answers another ETag gets the zeros. `progress` counts the bytes that
  // move: done of the data parts' total, which shrinks as zero parts are
  // found. With `checkpoint` non-empty, the upload
  // id and finished parts are kept there after each part, and a later call
  // with the same checkpoint (same file size and mtime) continues the
  // upload; the file is removed when the object is complete.
  // `staging` (a Ferry extension, header x-ferry-staging: 1 on the final
  // request): the object is an import's staging copy, which the server
  // removes once the import that reads it ends.
  Status UploadFile(const std::string& path, const std::string& bucket, const std::string& key,
                    const std::string& checkpoint, const OssProgress& progress,
                    uint64_t part_bytes = kDefaultPartBytes, bool staging = false);
  // Downloads bucket/key into `path` in ranged GETs of `part_bytes`,
  // written to `path`.part and renamed at the end; with `checkpoint`, a
  // later call continues where this one stopped when the object's ETag and
  // size are unchanged.
  Status DownloadFile(const std::string& bucket, const std::string& key, const std::string& path,
                      const std::string& checkpoint, const OssProgress& progress,
                      uint64_t part_bytes = kDefaultPartBytes);

  // A presigned GET URL valid for `expires_seconds` (V1: Expires; V4:
  // x-oss-expires, at most 7 days).
  Result<std::string> PresignGet(const std::string& bucket, const std::string& key, int64_t expires_seconds);

  const OssClientConfig& config() const { return config_; }

 private:
  void Sign(OssCall& call, const std::string& host_header) const;
  Status Multipart(const std::string& path, const std::string& bucket, const std::string& key,
                   const std::string& checkpoint, const OssProgress& progress, uint64_t part_bytes, bool staging);

  OssClientConfig config_;
  const Clock& clock_;
};

// The Status of an OSS error answer: reason = Code.
Status OssErrorStatus(const OssHttpResponse& response);

// "oss://bucket/key" or "oss://bucket" → bucket, key; nullopt when `url`
// does not start with "oss://".
std::optional<std::pair<std::string, std::string>> ParseOssUrl(const std::string& url);

}  // namespace ferry
