// OssService: the OSS object endpoint's request handling (oss-api.md
// section 4), between the listener (api/server.cc, which owns sockets and
// threads) and the object store (objects/object_store.h).
//
// One request is one OssExchange, in three steps the listener drives:
//   1. Begin (on a handler pool): parse (api/oss_request.h), authenticate
//      (api/oss_auth.h), name the operation, check what can be checked
//      before the body (Content-Length, Content-MD5's form, the stored-bytes
//      quota) and open the object writer. A refused request has its answer
//      ready and its body is never read.
//   2. Consume (on the connection's I/O thread, as the body arrives): the
//      bytes go straight to the writer in the listener's buffer-sized pieces
//      (hashed for Content-MD5 and a claimed V4 x-oss-content-sha256); small
//      XML bodies are kept, bounded by kOssMaxXmlBodyBytes. Never a whole
//      object in memory.
//   3. Finish (on a handler pool): check digests, commit, run the
//      operation and render the answer.
// An answer may stream an object's bytes from a file (GetObject): the
// listener preads it in bounded pieces.
//
// Ferry extension, all-zero parts: an UploadPart with the header
// `x-ferry-zero-part: <size>` and an empty body stores a part of <size>
// zero bytes (1-5 GiB), answered with the ETag and x-oss-hash-crc64ecma
// those bytes would have had, so CompleteMultipartUpload and the object's
// ETag are as if they had been sent. A body with it is InvalidArgument.
// The Ferry CLI sends it for parts of a disk that are all zero (and sends
// the bytes when an endpoint answers another ETag); clients that never
// send the header see plain OSS.
//
// Every answer carries x-oss-request-id; errors are OSS XML bodies
// (api/oss_errors.h, api/oss_xml.h), and a HEAD's error has no body but an
// x-oss-err header. Buckets are the caller's own: another account's bucket
// answers as the object store does (NoSuchBucket); a request without a
// signature is AccessDenied.
//
// Threading: OssService is thread-safe. An OssExchange is driven by one
// thread at a time, in the order above.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "api/http_types.h"
#include "api/metrics.h"
#include "api/oss_auth.h"
#include "api/oss_request.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/fs_util.h"
#include "objects/object_store.h"

namespace ferry {

inline constexpr char kZeroPartHeader[] = "x-ferry-zero-part";

struct OssServiceConfig {
  OssEndpoint endpoint;  // virtual-host domain, default bucket
  // What error bodies name as <HostId> and listings as a bucket's
  // endpoint: this listener's host:port.
  std::string host_id = "127.0.0.1";
  int max_clock_skew_seconds = OssAuthenticator::kDefaultMaxSkewSeconds;
};

// What the listener writes back.
struct OssAnswer {
  HttpResponse response;
  // A valid descriptor: the body is `length` bytes of it from `offset`
  // (response.body stays empty).
  UniqueFd file;
  uint64_t offset = 0;
  uint64_t length = 0;
  // HEAD: the Content-Length to announce (the object's), no body.
  std::optional<uint64_t> head_length;
};

class OssExchange {
 public:
  virtual ~OssExchange() = default;
  // True when the request was refused before its body: TakeAnswer() is
  // ready and the body must not be read (close the connection after it).
  virtual bool refused() const = 0;
  // The next body bytes. A failure (too large, the disk) is the request's
  // answer: stop reading, call Finish.
  virtual Status Consume(std::span<const uint8_t> data) = 0;
  // After the whole body (or a Consume failure).
  virtual void Finish() = 0;
  virtual OssAnswer TakeAnswer() = 0;
};

class OssService {
 public:
  // Borrowed objects must outlive the service.
  // `metrics` (may be null) counts every request (api/metrics.h).
  OssService(OssServiceConfig config, AccountDirectory& accounts, ObjectStore& store, const Clock& clock,
             Metrics* metrics = nullptr);

  // `request` has no body (it is fed through Consume).
  std::unique_ptr<OssExchange> Begin(HttpRequest request);

  // The answer to a request refused before it could be parsed (pool busy,
  // malformed HTTP): an OSS error body with a new request id.
  HttpResponse ErrorResponse(const Status& status, bool head) const;

  const OssServiceConfig& config() const { return config_; }
  // Once the listener knows its port; before serving.
  void set_host_id(std::string host_id) { config_.host_id = std::move(host_id); }
  ObjectStore& store() { return store_; }
  const Clock& clock() const { return clock_; }
  const OssAuthenticator& authenticator() const { return authenticator_; }
  Metrics* metrics() const { return metrics_; }

 private:
  OssServiceConfig config_;
  ObjectStore& store_;
  const Clock& clock_;
  OssAuthenticator authenticator_;
  Metrics* metrics_;
};

// The error answer of `status` for request `request_id` (HEAD: no body,
// x-oss-err).
HttpResponse OssErrorResponse(const Status& status, const std::string& request_id, const std::string& host_id,
                              bool head, const OssSignatureMismatch* mismatch = nullptr);

}  // namespace ferry
