// S3Client: the few S3 operations Ferry's stores need (put, get, ranged get,
// head, delete, list, multipart upload) against one bucket of an
// S3-compatible server (Ceph RADOS Gateway, MinIO, AWS), over libcurl with
// its built-in AWS Signature Version 4.
//
// Every request is signed; a request with a body carries the body's SHA-256
// (x-amz-content-sha256), which the server checks, so a body damaged on the
// way is refused rather than stored. Timeouts, dropped connections, 5xx and
// 429 answers are retried with exponential backoff (every operation here is
// idempotent); other errors return at once, naming the S3 error code.
//
// Status codes: kNotFound (no such key), kPermissionDenied (the server
// refused the credentials or the signature), kUnavailable (unreachable, or
// still failing after the retries), kDataLoss (an answer larger than asked
// for, or one that does not parse), kInternal otherwise.
//
// Threading: thread-safe. Each request borrows a curl handle from a pool, so
// connections are reused and requests from many threads run at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/hash.h"
#include "common/status.h"

namespace ferry {

// Where the objects are: "s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT[&region=REGION]".
// Keys are PREFIX/... ; region defaults to us-east-1 (what Ceph accepts).
struct S3Location {
  std::string bucket;
  std::string prefix;    // "" or ending in "/"
  std::string endpoint;  // "http://host:port" (no trailing slash)
  std::string region = "us-east-1";

  // The location as written, for logs (it holds no secret).
  std::string ToString() const;
};

// kInvalidArgument naming what is wrong: another scheme, no bucket, a bucket
// name S3 would refuse, no endpoint, an endpoint that is not http(s)://HOST[:PORT],
// an unknown parameter.
Result<S3Location> ParseS3Uri(std::string_view uri);

struct S3Credentials {
  std::string access_key_id;
  std::string secret_access_key;
};

// The credentials as AWS tools find them: AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, else the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials) under the profile
// AWS_PROFILE (default "default"). kFailedPrecondition naming where it looked.
Result<S3Credentials> S3CredentialsFromEnvironment();

struct S3Options {
  int max_attempts = 5;                          // per request, the first included
  std::chrono::milliseconds first_backoff{100};  // doubled per retry, with jitter
  std::chrono::milliseconds connect_timeout{5000};
  // A transfer slower than 1 KiB/s for this long is abandoned (and retried).
  std::chrono::seconds stall_timeout{30};
  int list_page_size = 1000;  // keys per LIST answer (S3's most)
};

struct S3ObjectInfo {
  std::string key;  // without the location's prefix
  uint64_t size = 0;
  int64_t last_modified = 0;  // Unix seconds, as the listing says (0 if it does not)
};

// An ISO 8601 time as S3 listings write it ("2026-12-06T20:26:38.991Z"),
// in Unix seconds; 0 if it is not one.
int64_t ParseS3Time(std::string_view text);

// A request of any shape (S3Client::Call), for a store that needs more than
// the calls above: headers of its own, a body read from a file, an answer
// written into one.
struct S3Request {
  std::string method;  // GET PUT HEAD DELETE POST
  // Relative to the location's prefix; any bytes but '\0' (percent-encoded
  // here; "." and ".." segments and "//" are the caller's to avoid). "" for
  // the bucket itself.
  std::string key;
  std::string query;  // names sorted, values encoded (S3Client::EncodeQuery): "a=1&b=2"
  // Sent and signed. curl 7.88 orders the signed headers by their whole
  // line, not by name, so no name may be a prefix of another's
  // ("x-amz-copy-source" with "x-amz-copy-source-range" fails to verify).
  std::vector<std::pair<std::string, std::string>> headers;
  std::span<const uint8_t> body;
  const Digest256* body_sha256 = nullptr;  // the body's, if known
  // The body read from this file instead (pread, so a retry sends it again):
  // body_length bytes from body_offset.
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  // Sign the body as UNSIGNED-PAYLOAD rather than by its SHA-256 (with a
  // Content-MD5 header, so that the server still checks the bytes). A body
  // from a file is always sent so.
  bool unsigned_payload = false;
  // A 2xx answer's body goes to this function, piece by piece in order
  // (offset, bytes; false stops the transfer), instead of into memory; a
  // retry starts again at offset 0. Other answers' bodies are kept.
  std::function<bool(uint64_t offset, std::span<const uint8_t> bytes)> sink;
  uint64_t max_bytes = 8u << 20;  // the most body kept in memory (or sunk)
};

struct S3Answer {
  long status = 0;
  std::vector<uint8_t> body;  // empty when it went to the sink
  uint64_t sunk = 0;          // bytes given to the sink
  std::string etag;
  std::optional<uint64_t> content_length;
  std::string last_modified;  // the Last-Modified header
  std::string ferry_meta;     // the x-amz-meta-ferry header
  std::string error_code;     // S3's <Code>, for a non-2xx answer with an XML body
  std::string error_message;

  bool ok() const { return status >= 200 && status < 300; }
  // The Status of a failed answer (as the calls above report them), `what`
  // naming the request.
  Status Error(const std::string& what) const;
};

class S3Client {
 public:
  // Checks that the bucket exists and the credentials are accepted (a HEAD of
  // the bucket): kFailedPrecondition for a missing bucket, kPermissionDenied
  // for refused credentials, kUnavailable for an endpoint that does not answer.
  static Result<std::unique_ptr<S3Client>> Open(S3Location location, S3Credentials credentials,
                                                S3Options options = {});
  // Creates the location's bucket (for tests and throwaway clusters: a real
  // deployment's bucket is made by its operator). OK if this account owns it.
  static Status CreateBucket(const S3Location& location, const S3Credentials& credentials);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Keys below are relative to the location's prefix and must be made of
  // [A-Za-z0-9/._-] (the stores' own keys; kInvalidArgument otherwise).

  // `sha256`: the body's SHA-256 when the caller has it already (it is sent
  // for the server to check, so a wrong one makes the PUT fail, never stores
  // other bytes); null = computed here.
  Status Put(std::string_view key, std::span<const uint8_t> body, const Digest256* sha256 = nullptr);
  // The whole object; kDataLoss if it is larger than max_bytes.
  Result<std::vector<uint8_t>> Get(std::string_view key, uint64_t max_bytes);
  // `length` bytes from `offset` (fewer at the end of the object).
  Result<std::vector<uint8_t>> GetRange(std::string_view key, uint64_t offset, uint64_t length);
  // The object's size, or nullopt when there is none.
  Result<std::optional<uint64_t>> Head(std::string_view key);
  // OK when the key does not exist.
  Status Delete(std::string_view key);
  // Every object whose key starts with `key_prefix`, in key order, a page
  // (S3Options::list_page_size keys) at a time.
  Status List(std::string_view key_prefix, const std::function<void(const S3ObjectInfo&)>& fn);

  // Multipart upload: parts of at least 5 MiB except the last, numbered
  // from 1. UploadPart returns the part's ETag for Complete.
  Result<std::string> CreateMultipartUpload(std::string_view key);
  Result<std::string> UploadPart(std::string_view key, const std::string& upload_id, int part_number,
                                 std::span<const uint8_t> body);
  Status CompleteMultipartUpload(std::string_view key, const std::string& upload_id,
                                 const std::vector<std::string>& part_etags);
  Status AbortMultipartUpload(std::string_view key, const std::string& upload_id);

  // Sends `request` (retried as the header comment says) and returns the
  // answer, whatever its status; an error only when no answer came.
  Result<S3Answer> Call(const S3Request& request);
  // AWS's URI encoding of a query value (unreserved bytes kept, the rest %XX).
  static std::string EncodeQuery(std::string_view value);
  // Fields of a ListObjectsV2 answer body (path from the root, text), in
  // document order; for callers listing with parameters List does not take.
  static Status ParseXml(std::span<const uint8_t> xml,
                         const std::function<void(const std::string& path, const std::string& text)>& fn);

  const S3Location& location() const { return location_; }
  // Retries made so far, Open's included (for tests and metrics).
  uint64_t retries() const;

 private:
  struct Response;
  struct Request;
  class HandlePool;

  S3Client(S3Location location, S3Credentials credentials, S3Options options);
  // Sends `req`, retrying as the header comment says. A non-2xx answer that
  // is not retried comes back as a Response (its status and S3 error code),
  // not as an error; the Status is for transport failures.
  Result<Response> Send(const Request& req);
  Result<Response> SendOnce(const Request& req);
  std::string UrlFor(std::string_view key, const std::string& query) const;

  const S3Location location_;
  const S3Credentials credentials_;
  const S3Options options_;
  std::unique_ptr<HandlePool> handles_;
  mutable std::mutex mu_;
  uint64_t retries_ = 0;  // guarded by mu_
};

}  // namespace ferry
