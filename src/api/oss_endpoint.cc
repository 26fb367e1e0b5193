#include "api/oss_endpoint.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <utility>

#include "api/oss_errors.h"
#include "api/oss_xml.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/log_safe.h"
#include "region/quotas.h"

namespace ferry {
namespace {

// Bodies of operations that take none (a GET with a body) are read and
// dropped up to this; more is refused.
constexpr size_t kMaxIgnoredBodyBytes = 64 << 10;
// response-* sub-resources a GetObject may set (OSS's six).
constexpr const char* kResponseOverrides[] = {"content-type", "content-language", "expires",
                                              "cache-control", "content-disposition", "content-encoding"};

bool IsBodyOperation(OssOperation op) {
  return op == OssOperation::kPutObject || op == OssOperation::kUploadPart;
}
bool IsXmlBodyOperation(OssOperation op) {
  return op == OssOperation::kCompleteMultipartUpload || op == OssOperation::kDeleteMultipleObjects ||
         op == OssOperation::kPutBucket;
}

Status Oss(Code code, const char* reason, std::string message) { return Status(code, reason, std::move(message)); }

// Content-MD5: Base64 of 16 bytes, else InvalidDigest.
Result<std::optional<Md5Digest>> ParseContentMd5(const std::string& header) {
  if (header.empty()) return std::optional<Md5Digest>();
  std::string raw;
  if (!Base64Decode(header, &raw) || raw.size() != 16) {
    return Oss(Code::kInvalidArgument, oss_error::kInvalidDigest,
               "The Content-MD5 you specified is not valid: \"" + Echo(header) + "\" is not Base64 of 16 bytes.");
  }
  Md5Digest digest;
  std::copy(raw.begin(), raw.end(), digest.begin());
  return std::optional<Md5Digest>(digest);
}

PutOptions PutOptionsOf(const OssRequest& request) {
  PutOptions options;
  options.content_type = request.Header("content-type");
  for (const auto& [name, value] : request.headers) {
    if (name.starts_with("x-oss-meta-")) options.user_meta[name.substr(11)] = value;
  }
  return options;
}

std::string Crc64Text(uint64_t crc) { return std::to_string(crc); }

// x-ferry-zero-part (a Ferry extension, see oss_endpoint.h): decimal
// 1-kMaxPutBytes.
Result<uint64_t> ParseZeroPartSize(const std::string& text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) {
    return Oss(Code::kInvalidArgument, oss_error::kInvalidArgument,
               "x-ferry-zero-part must be the part's size in bytes (1-" +
                   std::to_string(ObjectStore::kMaxPutBytes) + "), not \"" + Echo(text) + "\".");
  }
  RETURN_IF_ERROR(ObjectStore::CheckSize(value, ObjectStore::kMaxPutBytes, "x-ferry-zero-part"));
  return value;
}

// The headers GetObject and HeadObject answer with.
void AddObjectHeaders(const ObjectInfo& info, HttpResponse& response) {
  response.content_type = info.content_type.empty() ? "application/octet-stream" : info.content_type;
  auto& h = response.headers;
  h.emplace_back("ETag", info.etag);
  h.emplace_back("Last-Modified", FormatHttpDate(info.last_modified));
  h.emplace_back("Accept-Ranges", "bytes");
  h.emplace_back("x-oss-object-type", ObjectTypeName(info.type));
  h.emplace_back("x-oss-storage-class", "Standard");
  if (info.crc64) h.emplace_back("x-oss-hash-crc64ecma", Crc64Text(*info.crc64));
  if (info.content_md5) {
    h.emplace_back("Content-MD5", Base64Encode(std::string_view(
                                      reinterpret_cast<const char*>(info.content_md5->data()), 16)));
  }
  for (const auto& [name, value] : info.user_meta) h.emplace_back("x-oss-meta-" + name, value);
}

OssObjectEntry EntryOf(const ObjectInfo& info) {
  OssObjectEntry entry;
  entry.key = info.key;
  entry.last_modified = info.last_modified;
  entry.etag = info.etag;
  entry.type = ObjectTypeName(info.type);
  entry.size = info.size;
  return entry;
}

// ListObjectsV2 continuation tokens: the marker, hex (opaque, unreserved).
std::string EncodeToken(const std::string& marker) { return ToHex(std::string_view(marker)); }
Result<std::string> DecodeToken(const std::string& token) {
  std::string out;
  if (token.size() % 2 != 0 || token.size() > 2 * kOssMaxKeyBytes) {
    return Oss(Code::kInvalidArgument, oss_error::kInvalidArgument, "The continuation-token is not valid.");
  }
  for (size_t i = 0; i < token.size(); i += 2) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(token.data() + i, token.data() + i + 2, value, 16);
    if (ec != std::errc() || end != token.data() + i + 2) {
      return Oss(Code::kInvalidArgument, oss_error::kInvalidArgument, "The continuation-token is not valid.");
    }
    out.push_back(static_cast<char>(value));
  }
  return out;
}

// The stored-bytes quota (region/quotas.h) as OSS answers a refusal: 403
// AccessDenied, the ECS code leading the message.
Status CheckQuota(const ObjectStore& store, const std::string& account_id, uint64_t adding) {
  Status st = CheckStorageQuota(store, account_id, adding);
  if (st.ok() || !st.reason().starts_with("QuotaExceed")) return st;
  return Oss(Code::kPermissionDenied, oss_error::kAccessDenied, st.reason() + ": " + st.message());
}

class Exchange final : public OssExchange {
 public:
  Exchange(OssService& service, HttpRequest http)
      : service_(service),
        store_(service.store()),
        http_(std::move(http)),
        request_id_(NewRequestId()),
        start_(std::chrono::steady_clock::now()) {}

  void Begin() {
    Status st = Prepare();
    if (!st.ok()) Fail(st);
  }

  bool refused() const override { return done_; }

  Status Consume(std::span<const uint8_t> data) override {
    if (done_ || !body_status_.ok()) return body_status_;
    received_ += data.size();
    if (zero_part_size_) {
      body_status_ = Oss(Code::kInvalidArgument, oss_error::kInvalidArgument,
                         "An UploadPart with x-ferry-zero-part takes an empty body.");
    } else if (writer_) {
      if (!auth_.payload_sha256.empty()) sha256_.Update(data);
      body_status_ = writer_->Write(data);
    } else if (IsXmlBodyOperation(op_.operation)) {
      if (xml_body_.size() + data.size() > kOssMaxXmlBodyBytes) {
        body_status_ = Oss(Code::kInvalidArgument, "MalformedXML",
                           "The XML body exceeds " + std::to_string(kOssMaxXmlBodyBytes) + " bytes.");
      } else {
        xml_body_.append(reinterpret_cast<const char*>(data.data()), data.size());
      }
    } else if (received_ > kMaxIgnoredBodyBytes) {
      body_status_ = Oss(Code::kInvalidArgument, oss_error::kInvalidArgument,
                         std::string(OssOperationName(op_.operation)) + " takes no request body.");
    }
    return body_status_;
  }

  void Finish() override {
    if (done_) return;
    Status st = body_status_;
    if (st.ok()) st = Run();
    if (!st.ok()) Fail(st);
    // Uncommitted writers are discarded now, not when the exchange goes.
    writer_ = nullptr;
    put_writer_.reset();
    part_writer_.reset();
  }

  OssAnswer TakeAnswer() override {
    if (answer_.response.status < 300) Log(answer_.response.status, "");
    if (Metrics* metrics = service_.metrics()) {
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics->RecordOssRequest(identified_ ? std::string(OssOperationName(op_.operation)) : "unknown",
                                error_code_.empty() ? "Success" : error_code_, seconds, received_,
                                answer_.file.valid() ? answer_.length : 0);
    }
    return std::move(answer_);
  }

 private:
  bool head() const { return http_.method == "HEAD"; }
  const std::string& account() const { return auth_.caller.account_id; }

  void Fail(const Status& status) {
    done_ = true;
    error_code_ = ToOssError(status).code;
    answer_ = OssAnswer();
    answer_.response = OssErrorResponse(status, request_id_, service_.config().host_id, head(), &mismatch_);
    Log(answer_.response.status, status.ToString());
  }

  void Log(int status, const std::string& error) const {
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
    spdlog::info("request_id={} oss_operation={} bucket={} key={} account={} status={} bytes={} latency_ms={:.3f}{}{}",
                 request_id_, identified_ ? OssOperationName(op_.operation) : "unknown", op_.bucket,
                 LogSafe(op_.key), auth_.caller.account_id, status, received_, ms, error.empty() ? "" : " error=",
                 LogSafe(error));
  }

  Status Prepare() {
    ASSIGN_OR_RETURN(request_, ParseOssRequest(http_, service_.config().endpoint));
    ASSIGN_OR_RETURN(auth_, service_.authenticator().Authenticate(request_, &mismatch_));
    ASSIGN_OR_RETURN(op_, IdentifyOssOperation(request_, auth_.address));
    identified_ = true;
    const bool chunked = request_.Header("transfer-encoding").find("chunked") != std::string::npos;
    const std::string& length_text = request_.Header("content-length");
    std::optional<uint64_t> length;
    if (!length_text.empty()) {
      uint64_t value = 0;
      auto [end, ec] = std::from_chars(length_text.data(), length_text.data() + length_text.size(), value);
      if (ec != std::errc() || end != length_text.data() + length_text.size()) {
        return Oss(Code::kInvalidArgument, oss_error::kInvalidArgument, "The Content-Length is not a number.");
      }
      length = value;
    }
    if (!IsBodyOperation(op_.operation)) {
      if (length.value_or(0) > (IsXmlBodyOperation(op_.operation) ? kOssMaxXmlBodyBytes : kMaxIgnoredBodyBytes)) {
        return Oss(Code::kInvalidArgument, IsXmlBodyOperation(op_.operation) ? "MalformedXML" : "InvalidArgument",
                   "The request body of " + std::to_string(*length) + " bytes is too large for " +
                       std::string(OssOperationName(op_.operation)) + ".");
      }
      return Status::Ok();
    }
    // PutObject and UploadPart: the body streams into a writer.
    if (!length && !chunked) {
      return Oss(Code::kInvalidArgument, "MissingContentLength", "You must provide the Content-Length HTTP header.");
    }
    if (length) RETURN_IF_ERROR(ObjectStore::CheckSize(*length, ObjectStore::kMaxPutBytes, "the request body"));
    ASSIGN_OR_RETURN(std::optional<Md5Digest> md5, ParseContentMd5(request_.Header("content-md5")));
    if (op_.operation == OssOperation::kUploadPart && !request_.Header(kZeroPartHeader).empty()) {
      ASSIGN_OR_RETURN(zero_part_size_, ParseZeroPartSize(request_.Header(kZeroPartHeader)));
      if (length.value_or(0) != 0) {
        return Oss(Code::kInvalidArgument, oss_error::kInvalidArgument,
                   "An UploadPart with x-ferry-zero-part takes an empty body, not " + std::to_string(*length) +
                       " bytes.");
      }
      zero_part_md5_ = md5;
      return Status::Ok();
    }
    RETURN_IF_ERROR(CheckQuota(store_, account(), length.value_or(0)));
    if (op_.operation == OssOperation::kPutObject) {
      PutOptions options = PutOptionsOf(request_);
      options.expected_md5 = md5;
      ASSIGN_OR_RETURN(put_writer_, store_.PutObject(account(), op_.bucket, op_.key, options));
      writer_ = put_writer_.get();
    } else {
      ASSIGN_OR_RETURN(part_writer_, store_.UploadPart(account(), op_.bucket, op_.key, op_.upload_id,
                                                       static_cast<uint32_t>(op_.part_number), md5, length));
      writer_ = part_writer_.get();
    }
    return Status::Ok();
  }

  // Content-MD5 is the writer's to check at Commit; the claimed V4 payload
  // digest is checked here, before anything is published.
  Status CheckPayloadDigest() {
    if (auth_.payload_sha256.empty()) return Status::Ok();
    const std::string actual = ToHex(sha256_.Finish());
    if (actual == auth_.payload_sha256) return Status::Ok();
    return Oss(Code::kInvalidArgument, oss_error::kInvalidDigest,
               "The body's SHA-256 " + actual + " is not the x-oss-content-sha256 the request signed (" +
                   auth_.payload_sha256 + ").");
  }

  HttpResponse& Ok(int status = 200) {
    done_ = true;
    answer_.response.status = status;
    answer_.response.content_type = std::string(kOssXmlContentType);
    answer_.response.headers.emplace_back("x-oss-request-id", request_id_);
    return answer_.response;
  }
  void Xml(std::string body) {
    Ok().body = std::move(body);
  }

  Status Run() {
    switch (op_.operation) {
      case OssOperation::kGetService: return GetService();
      case OssOperation::kPutBucket:
        RETURN_IF_ERROR(store_.CreateBucket(account(), op_.bucket));
        Ok().headers.emplace_back("Location", "/" + op_.bucket);
        return Status::Ok();
      case OssOperation::kDeleteBucket:
        RETURN_IF_ERROR(store_.DeleteBucket(account(), op_.bucket));
        Ok(204);
        return Status::Ok();
      case OssOperation::kListObjects: return ListObjects();
      case OssOperation::kListObjectsV2: return ListObjectsV2();
      case OssOperation::kListMultipartUploads: return ListUploads();
      case OssOperation::kDeleteMultipleObjects: return DeleteMultiple();
      case OssOperation::kPutObject: return PutObject();
      case OssOperation::kCopyObject: return CopyObject();
      case OssOperation::kGetObject: return GetObject();
      case OssOperation::kHeadObject: return HeadObject();
      case OssOperation::kDeleteObject:
        RETURN_IF_ERROR(store_.DeleteObject(account(), op_.bucket, op_.key));
        Ok(204);
        return Status::Ok();
      case OssOperation::kInitiateMultipartUpload: {
        ASSIGN_OR_RETURN(std::string upload_id,
                         store_.InitiateMultipart(account(), op_.bucket, op_.key, PutOptionsOf(request_)));
        Xml(RenderOssInitiateMultipartUpload(op_.bucket, op_.key, upload_id));
        return Status::Ok();
      }
      case OssOperation::kUploadPart: return UploadPart();
      case OssOperation::kCompleteMultipartUpload: return Complete();
      case OssOperation::kAbortMultipartUpload:
        RETURN_IF_ERROR(store_.AbortMultipart(account(), op_.bucket, op_.key, op_.upload_id));
        Ok(204);
        return Status::Ok();
      case OssOperation::kListParts: return ListParts();
    }
    return Status(Code::kInternal, "", "unhandled OSS operation");
  }

  Status GetService() {
    ListBucketsRequest list;
    list.prefix = op_.list_buckets.prefix;
    list.marker = op_.list_buckets.marker;
    list.max_keys = static_cast<uint32_t>(op_.list_buckets.max_keys);
    ASSIGN_OR_RETURN(ListBucketsResult found, store_.ListBuckets(account(), list));
    OssListBucketsResult result;
    result.prefix = list.prefix;
    result.marker = list.marker;
    result.max_keys = op_.list_buckets.max_keys;
    result.is_truncated = found.truncated;
    result.next_marker = found.next_marker;
    result.owner = {account(), account()};
    for (const BucketInfo& bucket : found.buckets) {
      OssBucketEntry entry;
      entry.name = bucket.name;
      entry.creation_time = bucket.creation_time;
      entry.extranet_endpoint = service_.config().host_id;
      entry.intranet_endpoint = service_.config().host_id;
      result.buckets.push_back(std::move(entry));
    }
    Xml(RenderOssListBuckets(result));
    return Status::Ok();
  }

  Result<ListObjectsResult> List(const std::string& marker) {
    ListObjectsRequest list;
    list.prefix = op_.list.prefix;
    list.delimiter = op_.list.delimiter;
    list.marker = marker;
    list.max_keys = static_cast<uint32_t>(op_.list.max_keys);
    return store_.ListObjects(account(), op_.bucket, list);
  }

  Status ListObjects() {
    ASSIGN_OR_RETURN(ListObjectsResult found, List(op_.list.marker));
    OssListObjectsResult result;
    result.bucket = op_.bucket;
    result.prefix = op_.list.prefix;
    result.marker = op_.list.marker;
    result.delimiter = op_.list.delimiter;
    result.max_keys = op_.list.max_keys;
    result.is_truncated = found.truncated;
    result.next_marker = found.next_marker;
    result.url_encoding = op_.url_encoding;
    for (const ObjectInfo& info : found.contents) result.contents.push_back(EntryOf(info));
    result.common_prefixes = std::move(found.common_prefixes);
    result.owner = {account(), account()};
    Xml(RenderOssListObjects(result));
    return Status::Ok();
  }

  Status ListObjectsV2() {
    std::string marker = op_.list.start_after;
    if (op_.list.has_continuation_token) {
      ASSIGN_OR_RETURN(marker, DecodeToken(op_.list.continuation_token));
      marker = std::max(marker, op_.list.start_after);
    }
    ASSIGN_OR_RETURN(ListObjectsResult found, List(marker));
    OssListObjectsV2Result result;
    result.bucket = op_.bucket;
    result.prefix = op_.list.prefix;
    result.start_after = op_.list.start_after;
    result.has_start_after = op_.list.has_start_after;
    result.continuation_token = op_.list.continuation_token;
    result.has_continuation_token = op_.list.has_continuation_token;
    result.max_keys = op_.list.max_keys;
    result.delimiter = op_.list.delimiter;
    result.url_encoding = op_.url_encoding;
    result.is_truncated = found.truncated;
    if (found.truncated) result.next_continuation_token = EncodeToken(found.next_marker);
    for (const ObjectInfo& info : found.contents) result.contents.push_back(EntryOf(info));
    result.common_prefixes = std::move(found.common_prefixes);
    result.fetch_owner = op_.list.fetch_owner;
    result.owner = {account(), account()};
    Xml(RenderOssListObjectsV2(result));
    return Status::Ok();
  }

  Status ListUploads() {
    ListUploadsRequest list;
    list.prefix = op_.list_uploads.prefix;
    list.delimiter = op_.list_uploads.delimiter;
    list.key_marker = op_.list_uploads.key_marker;
    list.upload_id_marker = op_.list_uploads.upload_id_marker;
    list.max_uploads = static_cast<uint32_t>(op_.list_uploads.max_uploads);
    ASSIGN_OR_RETURN(ListUploadsResult found, store_.ListUploads(account(), op_.bucket, list));
    OssListUploadsResult result;
    result.bucket = op_.bucket;
    result.key_marker = list.key_marker;
    result.upload_id_marker = list.upload_id_marker;
    result.next_key_marker = found.next_key_marker;
    result.next_upload_id_marker = found.next_upload_id_marker;
    result.delimiter = list.delimiter;
    result.prefix = list.prefix;
    result.max_uploads = op_.list_uploads.max_uploads;
    result.is_truncated = found.truncated;
    result.url_encoding = op_.url_encoding;
    for (const MultipartUpload& upload : found.uploads) {
      result.uploads.push_back({upload.key, upload.upload_id, upload.initiated});
    }
    result.common_prefixes = std::move(found.common_prefixes);
    Xml(RenderOssListUploads(result));
    return Status::Ok();
  }

  Status ListParts() {
    ListPartsRequest list;
    list.max_parts = static_cast<uint32_t>(op_.list_parts.max_parts);
    list.part_number_marker = static_cast<uint32_t>(op_.list_parts.part_number_marker);
    ASSIGN_OR_RETURN(ListPartsResult found, store_.ListParts(account(), op_.bucket, op_.key, op_.upload_id, list));
    OssListPartsResult result;
    result.bucket = op_.bucket;
    result.key = op_.key;
    result.upload_id = op_.upload_id;
    result.part_number_marker = op_.list_parts.part_number_marker;
    result.next_part_number_marker = static_cast<int>(found.next_part_number_marker);
    result.max_parts = op_.list_parts.max_parts;
    result.is_truncated = found.truncated;
    for (const PartInfo& part : found.parts) {
      result.parts.push_back({static_cast<int>(part.part_number), part.last_modified, part.etag, part.size,
                              Crc64Text(part.crc64)});
    }
    Xml(RenderOssListParts(result));
    return Status::Ok();
  }

  Status DeleteMultiple() {
    ASSIGN_OR_RETURN(OssDeleteRequest request, ParseOssDeleteRequest(xml_body_));
    OssDeleteResult result;
    result.url_encoding = op_.url_encoding;
    for (const std::string& key : request.keys) {
      RETURN_IF_ERROR(ObjectStore::ValidateKey(key));
      RETURN_IF_ERROR(store_.DeleteObject(account(), op_.bucket, key));
      if (!request.quiet) result.deleted.push_back(key);
    }
    Xml(RenderOssDeleteResult(result));
    return Status::Ok();
  }

  Status PutObject() {
    RETURN_IF_ERROR(CheckPayloadDigest());
    ASSIGN_OR_RETURN(ObjectInfo info, put_writer_->Commit());
    RETURN_IF_ERROR(MarkStaging());
    HttpResponse& response = Ok();
    response.headers.emplace_back("ETag", info.etag);
    if (info.crc64) response.headers.emplace_back("x-oss-hash-crc64ecma", Crc64Text(*info.crc64));
    if (info.content_md5) {
      response.headers.emplace_back(
          "Content-MD5", Base64Encode(std::string_view(reinterpret_cast<const char*>(info.content_md5->data()), 16)));
    }
    return Status::Ok();
  }

  // x-ferry-staging: 1 (a Ferry extension the CLI's `image import` sends):
  // the object is an import's staging copy, removed when that import ends.
  Status MarkStaging() {
    if (request_.Header("x-ferry-staging") != "1") return Status::Ok();
    return store_.SetStaging(account(), op_.bucket, op_.key, true);
  }

  Status UploadPart() {
    RETURN_IF_ERROR(CheckPayloadDigest());
    PartInfo part;
    if (zero_part_size_) {
      ASSIGN_OR_RETURN(part, store_.UploadZeroPart(account(), op_.bucket, op_.key, op_.upload_id,
                                                   static_cast<uint32_t>(op_.part_number), *zero_part_size_,
                                                   zero_part_md5_));
    } else {
      ASSIGN_OR_RETURN(part, part_writer_->Commit());
    }
    HttpResponse& response = Ok();
    response.headers.emplace_back("ETag", part.etag);
    response.headers.emplace_back("x-oss-hash-crc64ecma", Crc64Text(part.crc64));
    return Status::Ok();
  }

  Status Complete() {
    ASSIGN_OR_RETURN(std::vector<OssCompletePart> listed, ParseOssCompleteMultipartUpload(xml_body_));
    std::vector<CompletePart> parts;
    parts.reserve(listed.size());
    for (const OssCompletePart& part : listed) parts.push_back({static_cast<uint32_t>(part.part_number), part.etag});
    ASSIGN_OR_RETURN(ObjectInfo info, store_.CompleteMultipart(account(), op_.bucket, op_.key, op_.upload_id, parts));
    RETURN_IF_ERROR(MarkStaging());
    OssCompleteResult result;
    result.location = "http://" + service_.config().host_id + "/" + op_.bucket + "/" + op_.key;
    result.bucket = op_.bucket;
    result.key = op_.key;
    result.etag = info.etag;
    result.url_encoding = op_.url_encoding;
    Xml(RenderOssCompleteMultipartUpload(result));
    answer_.response.headers.emplace_back("ETag", info.etag);
    if (info.crc64) answer_.response.headers.emplace_back("x-oss-hash-crc64ecma", Crc64Text(*info.crc64));
    return Status::Ok();
  }

  // Same account only (the source is opened as the caller); the bytes are
  // copied through a writer, holes kept.
  Status CopyObject() {
    const OssCopySource& source = *op_.copy_source;
    ASSIGN_OR_RETURN(OpenObject from, store_.OpenForRead(account(), source.bucket, source.key));
    RETURN_IF_ERROR(CheckQuota(store_, account(), from.info.size));
    PutOptions options;
    if (LowerCase(request_.Header("x-oss-metadata-directive")) == "replace") {
      options = PutOptionsOf(request_);
    } else {
      options.content_type = from.info.content_type;
      options.user_meta = from.info.user_meta;
    }
    ASSIGN_OR_RETURN(std::unique_ptr<ObjectPutWriter> writer, store_.PutObject(account(), op_.bucket, op_.key, options));
    RETURN_IF_ERROR(CopyFileToWriter(from.fd.get(), from.info.size, *writer, "copy source " + source.key));
    ASSIGN_OR_RETURN(ObjectInfo info, writer->Commit());
    Xml(RenderOssCopyObjectResult(info.etag, info.last_modified));
    answer_.response.headers.emplace_back("ETag", info.etag);
    if (info.crc64) answer_.response.headers.emplace_back("x-oss-hash-crc64ecma", Crc64Text(*info.crc64));
    return Status::Ok();
  }

  static std::string LowerCase(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  }

  Status GetObject() {
    // The range is resolved against the object's size, and only its bytes
    // are fetched from a store that copies objects out (S3ObjectStore).
    OssRange range;
    ASSIGN_OR_RETURN(
        OpenObject object,
        store_.OpenRangeForRead(
            account(), op_.bucket, op_.key, [&](const ObjectInfo& info) -> Result<ObjectStore::ByteRange> {
              ASSIGN_OR_RETURN(range, ResolveOssRange(request_.Header("range"),
                                                      request_.Header("x-oss-range-behavior"), info.size));
              if (!range.partial) return ObjectStore::ByteRange{0, info.size};
              return ObjectStore::ByteRange{range.first, range.last - range.first + 1};
            }));
    const uint64_t size = object.info.size;
    HttpResponse& response = Ok(range.partial ? 206 : 200);
    AddObjectHeaders(object.info, response);
    if (range.partial) {
      response.headers.emplace_back("Content-Range", "bytes " + std::to_string(range.first) + "-" +
                                                         std::to_string(range.last) + "/" + std::to_string(size));
    }
    for (const char* name : kResponseOverrides) {
      auto it = request_.query.find(std::string("response-") + name);
      if (it == request_.query.end()) continue;
      if (std::string_view(name) == "content-type") {
        response.content_type = it->second;
        continue;
      }
      response.headers.emplace_back(name, it->second);
    }
    answer_.offset = range.partial ? range.first : 0;
    answer_.length = range.partial ? range.last - range.first + 1 : size;
    if (head()) {
      answer_.head_length = answer_.length;
    } else {
      answer_.file = std::move(object.fd);
    }
    return Status::Ok();
  }

  Status HeadObject() {
    ASSIGN_OR_RETURN(ObjectInfo info, store_.HeadObject(account(), op_.bucket, op_.key));
    HttpResponse& response = Ok();
    if (request_.HasQuery("objectMeta")) {
      response.headers.emplace_back("ETag", info.etag);
      response.headers.emplace_back("Last-Modified", FormatHttpDate(info.last_modified));
      if (info.crc64) response.headers.emplace_back("x-oss-hash-crc64ecma", Crc64Text(*info.crc64));
    } else {
      AddObjectHeaders(info, response);
    }
    answer_.head_length = info.size;
    return Status::Ok();
  }

  OssService& service_;
  ObjectStore& store_;
  HttpRequest http_;
  const std::string request_id_;
  const std::chrono::steady_clock::time_point start_;
  OssRequest request_;
  OssAuthResult auth_;
  OssSignatureMismatch mismatch_;
  OssOperationRequest op_;
  bool identified_ = false;
  bool done_ = false;
  OssAnswer answer_;

  // The body.
  std::unique_ptr<ObjectPutWriter> put_writer_;
  std::unique_ptr<PartWriter> part_writer_;
  ObjectWriter* writer_ = nullptr;  // one of the two, or null
  // x-ferry-zero-part: the part's size, its bytes all zero and not sent.
  std::optional<uint64_t> zero_part_size_;
  std::optional<Md5Digest> zero_part_md5_;
  Sha256 sha256_;
  std::string xml_body_;
  uint64_t received_ = 0;
  std::string error_code_;  // the OSS code of a failed request; "" until then
  Status body_status_;
};

}  // namespace

HttpResponse OssErrorResponse(const Status& status, const std::string& request_id, const std::string& host_id,
                              bool head, const OssSignatureMismatch* mismatch) {
  OssError error = ToOssError(status);
  if (mismatch && error.code == "SignatureDoesNotMatch") error.mismatch = *mismatch;
  HttpResponse response;
  response.status = error.http_status;
  response.content_type = std::string(kOssXmlContentType);
  response.headers.emplace_back("x-oss-request-id", request_id);
  if (head) {
    response.headers.emplace_back("x-oss-err", OssErrHeader(error, request_id, host_id));
  } else {
    response.body = RenderOssError(error, request_id, host_id);
  }
  if (!error.ec.empty()) response.headers.emplace_back("x-oss-ec", error.ec);
  return response;
}

OssService::OssService(OssServiceConfig config, AccountDirectory& accounts, ObjectStore& store, const Clock& clock,
                       Metrics* metrics)
    : config_(std::move(config)),
      store_(store),
      clock_(clock),
      authenticator_(accounts, clock, config_.max_clock_skew_seconds),
      metrics_(metrics) {}

std::unique_ptr<OssExchange> OssService::Begin(HttpRequest request) {
  auto exchange = std::make_unique<Exchange>(*this, std::move(request));
  exchange->Begin();
  return exchange;
}

HttpResponse OssService::ErrorResponse(const Status& status, bool head) const {
  HttpResponse response = OssErrorResponse(status, NewRequestId(), config_.host_id, head);
  return response;
}

}  // namespace ferry
