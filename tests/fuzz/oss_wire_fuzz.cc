// The OSS endpoint's wire (api/oss_request.*, oss_auth.*, oss_xml.*): a
// whole request through ParseOssRequest, IdentifyOssOperation and
// OssAuthenticator as a handler calls them, the Range header, and the two
// XML request bodies.
// Fields (NUL-separated): method, target, headers ("name: value" lines), a
// mode, a Range header, an XML body. Mode "1" re-signs the request with V1
// and "4" with V4 under the test key (AK/SK), so inputs get past the
// signature check.
// Invariants: every reading of a parsed request has a valid bucket and key;
// an identified operation's numbers are in range; a request is accepted only
// when one of its readings carries the signature computed here, for an
// address among its readings; a partial range lies inside the object; a
// parsed body keeps its bounds; keys parsed from a body render into a
// DeleteResult that parses back to the same keys.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/oss_auth.h"
#include "api/oss_request.h"
#include "api/oss_xml.h"
#include "fuzz_util.h"
#include "unit/api/api_fakes.h"

using ferry::fuzz::Fields;

namespace {

constexpr ferry::UnixSeconds kNow = 1796416270;  // 2026-12-04T20:31:10Z

void ParseHeaders(const std::string& text, ferry::HttpRequest* request) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(pos, nl - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      size_t start = colon + 1;
      while (start < line.size() && line[start] == ' ') ++start;
      request->headers[name] = line.substr(start);
    }
    pos = nl + 1;
  }
}

// The V1 and V4 signatures of `request` at `address`, computed here.
bool SignedAt(const ferry::OssRequest& request, const ferry::OssAddress& address) {
  const std::string& authorization = request.Header("authorization");
  if (authorization.starts_with("OSS ")) {
    const std::string& date =
        request.Header("x-oss-date").empty() ? request.Header("date") : request.Header("x-oss-date");
    for (bool with_bucket : {true, false}) {
      const std::string sig = ferry::OssV1Signature(
          "SK", ferry::OssV1StringToSign(
                    request.method, request.headers, date,
                    ferry::OssV1CanonicalResource(address.bucket, address.key, request.query, with_bucket)));
      if (authorization == "OSS AK:" + sig) return true;
    }
    return false;
  }
  // V4 and presigned URLs: trust the authenticator's own reading, but it
  // must have named a reading the request has (checked by the caller).
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ferry::apitest::FakeAccounts* accounts = [] {
    auto* a = new ferry::apitest::FakeAccounts();
    (void)a->AddAccessKey(ferry::AccessKeyRecord{"AK", "SK", ferry::apitest::kAccountId, true, 0});
    return a;
  }();
  static ferry::apitest::FakeClock clock(kNow);
  static ferry::OssAuthenticator auth(*accounts, clock);
  static const ferry::OssEndpoint endpoint{"ferry.test", "dflt"};

  Fields fields(data, size);
  ferry::HttpRequest http;
  http.method = fields.Next();
  http.target = fields.Next();
  ParseHeaders(fields.Next(), &http);
  const std::string mode = fields.Next();
  const std::string range = fields.Next();
  const std::string body = fields.Next();

  auto parsed = ferry::ParseOssRequest(http, endpoint);
  if (parsed.ok()) {
    FUZZ_CHECK(!parsed->addresses.empty());
    for (const ferry::OssAddress& address : parsed->addresses) {
      FUZZ_CHECK(address.bucket.empty() || ferry::IsValidOssBucketName(address.bucket));
      FUZZ_CHECK(address.key.empty() || ferry::ValidateOssKey(address.key).ok());
      FUZZ_CHECK(!address.bucket.empty() || address.key.empty());
      auto operation = ferry::IdentifyOssOperation(*parsed, address);
      if (!operation.ok()) continue;
      FUZZ_CHECK(operation->list.max_keys >= 1 && operation->list.max_keys <= ferry::kOssMaxListKeys);
      FUZZ_CHECK(operation->list_buckets.max_keys >= 1 && operation->list_buckets.max_keys <= 1000);
      if (operation->operation == ferry::OssOperation::kUploadPart) {
        FUZZ_CHECK(operation->part_number >= 1 && operation->part_number <= ferry::kOssMaxPartNumber);
        FUZZ_CHECK(!operation->upload_id.empty());
      }
      if (operation->copy_source) FUZZ_CHECK(ferry::ValidateOssKey(operation->copy_source->key).ok());
    }

    // Re-sign under the first reading so the fuzzer explores past the check.
    const ferry::OssAddress& first = parsed->addresses.front();
    if (mode == "1") {
      parsed->headers["x-oss-date"] = ferry::FormatHttpDate(kNow);
      parsed->headers["authorization"] =
          "OSS AK:" + ferry::OssV1Signature(
                          "SK", ferry::OssV1StringToSign(
                                    parsed->method, parsed->headers, parsed->headers["x-oss-date"],
                                    ferry::OssV1CanonicalResource(first.bucket, first.key, parsed->query)));
    } else if (mode == "4") {
      parsed->headers["x-oss-date"] = "20261204T203110Z";
      parsed->headers.erase("x-oss-content-sha256");
      const ferry::OssV4Credential scope{"AK", "20261204", "cn-hangzhou"};
      const std::string canonical = ferry::OssV4CanonicalRequest(
          parsed->method, ferry::OssV4CanonicalUri(first.bucket, first.key),
          ferry::OssV4CanonicalQuery(parsed->query), parsed->headers, {}, ferry::kOssUnsignedPayload);
      parsed->headers["authorization"] =
          "OSS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request,Signature=" +
          ferry::OssV4Signature("SK", scope, ferry::OssV4StringToSign("20261204T203110Z", scope, canonical));
    }
    ferry::OssSignatureMismatch mismatch;
    auto result = auth.Authenticate(*parsed, &mismatch);
    if (result.ok()) {
      const bool known =
          std::any_of(parsed->addresses.begin(), parsed->addresses.end(), [&](const ferry::OssAddress& a) {
            return a.bucket == result->address.bucket && a.key == result->address.key &&
                   a.style == result->address.style;
          });
      FUZZ_CHECK(known);
      FUZZ_CHECK(SignedAt(*parsed, result->address));
      FUZZ_CHECK(result->access_key_id == "AK");
    } else if (result.status().reason() == "SignatureDoesNotMatch") {
      FUZZ_CHECK(!mismatch.string_to_sign.empty());
    }
    if (mode == "1" || mode == "4") {
      // A request signed here under its first reading verifies, unless it
      // also carries presign parameters or was too big to re-sign.
      const bool presign = parsed->HasQuery("OSSAccessKeyId") || parsed->HasQuery("Signature") ||
                           parsed->HasQuery("x-oss-signature") || parsed->HasQuery("x-oss-credential");
      if (!presign) FUZZ_CHECK(result.ok() || result.status().reason() != "SignatureDoesNotMatch");
    }
  }

  const uint64_t object_size = body.size();
  auto resolved = ferry::ResolveOssRange(range, mode == "s" ? "standard" : "", object_size);
  if (resolved.ok() && resolved->partial) {
    FUZZ_CHECK(resolved->first <= resolved->last && resolved->last < object_size);
  } else if (!resolved.ok()) {
    FUZZ_CHECK(resolved.status().reason() == "InvalidRange");
  }

  auto parts = ferry::ParseOssCompleteMultipartUpload(body);
  if (parts.ok()) {
    FUZZ_CHECK(!parts->empty() && parts->size() <= ferry::kOssMaxCompleteParts);
    for (const auto& part : *parts) {
      FUZZ_CHECK(part.part_number >= 1 && part.part_number <= ferry::kOssMaxPartNumber && !part.etag.empty());
    }
  } else {
    FUZZ_CHECK(parts.status().reason() == "MalformedXML");
  }
  auto deletion = ferry::ParseOssDeleteRequest(body);
  if (deletion.ok()) {
    FUZZ_CHECK(!deletion->keys.empty() && deletion->keys.size() <= ferry::kOssMaxDeleteObjects);
    const std::string rendered = ferry::RenderOssDeleteResult({deletion->keys, false});
    std::string as_request = "<Delete>";
    size_t pos = rendered.find("<Deleted>");
    while (pos != std::string::npos) {
      const size_t end = rendered.find("</Deleted>", pos);
      as_request += "<Object>" + rendered.substr(pos + 9, end - pos - 9) + "</Object>";
      pos = rendered.find("<Deleted>", end);
    }
    as_request += "</Delete>";
    auto again = ferry::ParseOssDeleteRequest(as_request);
    FUZZ_CHECK(again.ok() && again->keys == deletion->keys);
  }
  return 0;
}
