#include "api/oss_auth.h"

#include <gtest/gtest.h>

#include "api/oss_request.h"
#include "unit/api/api_fakes.h"

namespace ferry {
namespace {

// 2026-12-04T20:31:10Z, the reference's examples' time.
constexpr UnixSeconds kExampleTime = 1796416270;
constexpr const char* kExampleHttpDate = "Fri, 04 Dec 2026 20:31:10 GMT";
constexpr const char* kExampleIsoDate = "20261204T203110Z";

class OssAuthTest : public ::testing::Test {
 protected:
  OssAuthTest() {
    EXPECT_TRUE(accounts_.AddAccessKey(AccessKeyRecord{"AK", "SK", apitest::kAccountId, true, 0}).ok());
  }

  Result<OssAuthResult> Run(const HttpRequest& http, OssSignatureMismatch* mismatch = nullptr) {
    auto request = ParseOssRequest(http, endpoint_);
    if (!request.ok()) return request.status();
    return auth_.Authenticate(*request, mismatch);
  }

  // The reference's V1 PUT of "dir/a b+c.img", path style.
  static HttpRequest V1Put(const std::string& signature = "cQdn45k+yp1lfLPKnMhDH5yUth4=") {
    HttpRequest http;
    http.method = "PUT";
    http.target = "/bkt/dir/a%20b%2Bc.img";
    http.headers = {{"host", "127.0.0.1:8080"},
                    {"content-md5", "XUFAKrxLKna5cZ2REBfFkg=="},
                    {"content-type", "application/octet-stream"},
                    {"x-oss-date", kExampleHttpDate},
                    {"authorization", "OSS AK:" + signature}};
    return http;
  }

  // The reference's V4 PUT of the same object.
  static HttpRequest V4Put() {
    HttpRequest http = V1Put();
    http.headers["x-oss-date"] = kExampleIsoDate;
    http.headers["x-oss-content-sha256"] = "UNSIGNED-PAYLOAD";
    http.headers["authorization"] =
        "OSS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request,"
        "Signature=a896225524edbf4002d85a7e11646f44846e3bc1aefa90d3a371142900393e70";
    return http;
  }

  static HttpRequest PresignedV4Get() {
    HttpRequest http;
    http.method = "GET";
    http.target =
        "/bkt/dir/a%20b.img?x-oss-credential=AK%2F20261204%2Fcn-hangzhou%2Foss%2Faliyun_v4_request"
        "&x-oss-date=20261204T203110Z&x-oss-expires=600&x-oss-signature-version=OSS4-HMAC-SHA256"
        "&x-oss-signature=189747dead00fec1edc2ed349aff1190bf0a40c0b177a3568209cbc741a7874e";
    http.headers = {{"host", "localhost:8080"}};
    return http;
  }

  apitest::FakeAccounts accounts_;
  apitest::FakeClock clock_{kExampleTime};
  OssEndpoint endpoint_{"ferry.test", ""};
  OssAuthenticator auth_{accounts_, clock_};
};

// ---- the reference's examples, byte for byte ----

TEST(OssSignatureTest, V1PutExample) {
  const std::map<std::string, std::string> headers = {{"content-md5", "XUFAKrxLKna5cZ2REBfFkg=="},
                                                      {"content-type", "application/octet-stream"},
                                                      {"x-oss-date", kExampleHttpDate}};
  const std::string resource = OssV1CanonicalResource("bkt", "dir/a b+c.img", {});
  EXPECT_EQ(resource, "/bkt/dir/a b+c.img");
  const std::string string_to_sign = OssV1StringToSign("PUT", headers, kExampleHttpDate, resource);
  EXPECT_EQ(string_to_sign,
            "PUT\nXUFAKrxLKna5cZ2REBfFkg==\napplication/octet-stream\nFri, 04 Dec 2026 20:31:10 GMT\n"
            "x-oss-date:Fri, 04 Dec 2026 20:31:10 GMT\n/bkt/dir/a b+c.img");
  EXPECT_EQ(OssV1Signature("SK", string_to_sign), "cQdn45k+yp1lfLPKnMhDH5yUth4=");
}

TEST(OssSignatureTest, PresignedV1Example) {
  const std::map<std::string, std::string> query = {
      {"OSSAccessKeyId", "AK"},
      {"Expires", "1796416942"},
      {"Signature", "x"},
      {"response-content-disposition", "attachment; filename=a.img"}};
  const std::string resource = OssV1CanonicalResource("bkt", "dir/x.img", query);
  EXPECT_EQ(resource, "/bkt/dir/x.img?response-content-disposition=attachment; filename=a.img");
  EXPECT_EQ(OssV1Signature("SK", OssV1StringToSign("GET", {}, "1796416942", resource)),
            "3a718t7pX2K5wAfmzdmF0MyLz24=");
}

TEST(OssSignatureTest, V1ResourcesSignOnlySubResources) {
  EXPECT_EQ(OssV1CanonicalResource("", "", {}), "/");
  EXPECT_EQ(OssV1CanonicalResource("bkt", "", {{"prefix", "a"}, {"max-keys", "10"}}), "/bkt/");
  EXPECT_EQ(OssV1CanonicalResource("bkt", "k", {{"uploads", ""}}), "/bkt/k?uploads");
  EXPECT_EQ(OssV1CanonicalResource("bkt", "k", {{"uploadId", "U1"}, {"partNumber", "3"}}),
            "/bkt/k?partNumber=3&uploadId=U1");
  EXPECT_EQ(OssV1CanonicalResource("bkt", "", {{"list-type", "2"}, {"continuation-token", "tok"}}),
            "/bkt/?continuation-token=tok");
  EXPECT_EQ(OssV1CanonicalResource("bkt", "", {{"delete", ""}}), "/bkt/?delete");
  EXPECT_EQ(OssV1CanonicalResource("bkt", "dir/k", {}, /*with_bucket=*/false), "/dir/k");
}

TEST(OssSignatureTest, V1HeadersAreLowerCasedTrimmedSorted) {
  EXPECT_EQ(OssV1CanonicalizedHeaders({{"X-OSS-Meta-B", "  two "}, {"x-oss-a", "1"}, {"host", "h"}}),
            "x-oss-a:1\nx-oss-meta-b:two\n");
}

TEST(OssSignatureTest, V4PutExample) {
  const std::map<std::string, std::string> headers = {{"content-md5", "XUFAKrxLKna5cZ2REBfFkg=="},
                                                      {"content-type", "application/octet-stream"},
                                                      {"x-oss-content-sha256", "UNSIGNED-PAYLOAD"},
                                                      {"x-oss-date", kExampleIsoDate},
                                                      {"host", "ignored"}};
  EXPECT_EQ(OssV4CanonicalUri("bkt", "dir/a b+c.img"), "/bkt/dir/a%20b%2Bc.img");
  const std::string canonical = OssV4CanonicalRequest("PUT", OssV4CanonicalUri("bkt", "dir/a b+c.img"), "",
                                                      headers, {}, "UNSIGNED-PAYLOAD");
  EXPECT_EQ(canonical,
            "PUT\n/bkt/dir/a%20b%2Bc.img\n\ncontent-md5:XUFAKrxLKna5cZ2REBfFkg==\n"
            "content-type:application/octet-stream\nx-oss-content-sha256:UNSIGNED-PAYLOAD\n"
            "x-oss-date:20261204T203110Z\n\n\nUNSIGNED-PAYLOAD");
  const OssV4Credential scope{"AK", "20261204", "cn-hangzhou"};
  EXPECT_EQ(OssV4Signature("SK", scope, OssV4StringToSign(kExampleIsoDate, scope, canonical)),
            "a896225524edbf4002d85a7e11646f44846e3bc1aefa90d3a371142900393e70");
}

TEST(OssSignatureTest, PresignedV4Example) {
  const std::map<std::string, std::string> query = {
      {"x-oss-credential", "AK/20261204/cn-hangzhou/oss/aliyun_v4_request"},
      {"x-oss-date", kExampleIsoDate},
      {"x-oss-expires", "600"},
      {"x-oss-signature-version", "OSS4-HMAC-SHA256"}};
  const std::string canonical = OssV4CanonicalRequest("GET", OssV4CanonicalUri("bkt", "dir/a b.img"),
                                                      OssV4CanonicalQuery(query), {}, {}, "UNSIGNED-PAYLOAD");
  const OssV4Credential scope{"AK", "20261204", "cn-hangzhou"};
  EXPECT_EQ(OssV4Signature("SK", scope, OssV4StringToSign(kExampleIsoDate, scope, canonical)),
            "189747dead00fec1edc2ed349aff1190bf0a40c0b177a3568209cbc741a7874e");
}

TEST(OssSignatureTest, V4QueryEmptyValues) {
  const std::map<std::string, std::string> query = {{"uploads", ""}, {"prefix", ""}, {"max-keys", "10"}};
  EXPECT_EQ(OssV4CanonicalQuery(query), "max-keys=10&prefix&uploads");
  // ali-oss: "prefix=" for a plain parameter, still bare "uploads".
  EXPECT_EQ(OssV4CanonicalQuery(query, /*empty_with_equals=*/true), "max-keys=10&prefix=&uploads");
  EXPECT_EQ(OssV4CanonicalQuery({{"a b", "c/d+e"}}), "a%20b=c%2Fd%2Be");
}

TEST(OssSignatureTest, V4UriEncodesUtf8AndKeepsSlashes) {
  EXPECT_EQ(OssV4CanonicalUri("", ""), "/");
  EXPECT_EQ(OssV4CanonicalUri("bkt", ""), "/bkt/");
  EXPECT_EQ(OssV4CanonicalUri("bkt", "\xc3\xbc/x~y(1)*"), "/bkt/%C3%BC/x~y%281%29%2A");
}

TEST(OssSignatureTest, ParsesV4Authorization) {
  auto parsed = ParseOssV4Authorization(
      "OSS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request, "
      "AdditionalHeaders=Host;Range,Signature=abc");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->credential.access_key_id, "AK");
  EXPECT_EQ(parsed->credential.day, "20261204");
  EXPECT_EQ(parsed->credential.region, "cn-hangzhou");
  EXPECT_EQ(parsed->additional_headers, (std::vector<std::string>{"host", "range"}));
  EXPECT_EQ(parsed->signature, "abc");

  for (const char* bad : {
           "OSS4-HMAC-SHA256 Signature=abc",
           "OSS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request",
           "OSS4-HMAC-SHA256 Credential=AK/2026124/cn-hangzhou/oss/aliyun_v4_request,Signature=a",
           "OSS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/s3/aliyun_v4_request,Signature=a",
           "OSS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request/x,Signature=a",
           "OSS4-HMAC-SHA256 Credential=/20261204/cn-hangzhou/oss/aliyun_v4_request,Signature=a",
           "OSS4-HMAC-SHA256 "
           "Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request,Signature=a,Signature=b",
           "OSS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request,Bogus,Signature=a",
           "AWS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request,Signature=a",
       }) {
    auto result = ParseOssV4Authorization(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().reason(), "InvalidArgument") << bad;
  }
}

// ---- verification ----

TEST_F(OssAuthTest, V1PutVerifiesPathStyle) {
  auto result = Run(V1Put());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->caller.account_id, apitest::kAccountId);
  EXPECT_EQ(result->kind, OssSignatureKind::kHeaderV1);
  EXPECT_EQ(result->address.bucket, "bkt");
  EXPECT_EQ(result->address.key, "dir/a b+c.img");
  EXPECT_EQ(result->address.style, OssAddress::Style::kPath);
}

TEST_F(OssAuthTest, V1PutVerifiesVirtualHostStyle) {
  for (const char* host : {"bkt.oss-cn-hangzhou.aliyuncs.com", "bkt.ferry.test:8080", "BKT.Ferry.Test"}) {
    HttpRequest http = V1Put();
    http.target = "/dir/a%20b%2Bc.img";
    http.headers["host"] = host;
    auto result = Run(http);
    ASSERT_TRUE(result.ok()) << host << ": " << result.status().ToString();
    EXPECT_EQ(result->address.style, OssAddress::Style::kVirtualHost);
    EXPECT_EQ(result->address.key, "dir/a b+c.img");
  }
}

TEST_F(OssAuthTest, IpWithSldEnableVerifiesUnderThePathReading) {
  // ali-oss on an IP endpoint with sldEnable: Host names the bucket and so
  // does the path; the client signed the path reading.
  HttpRequest http = V1Put();
  http.headers["host"] = "bkt.oss-cn-hangzhou.aliyuncs.com";
  auto result = Run(http);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->address.style, OssAddress::Style::kPath);
  EXPECT_EQ(result->address.key, "dir/a b+c.img");
}

TEST_F(OssAuthTest, V1FallsBackToDateHeader) {
  HttpRequest http = V1Put();
  http.headers.erase("x-oss-date");
  http.headers["date"] = kExampleHttpDate;
  // The x-oss-date line is gone from what is signed: re-sign.
  const std::string resource = "/bkt/dir/a b+c.img";
  http.headers["authorization"] =
      "OSS AK:" + OssV1Signature("SK", OssV1StringToSign("PUT", http.headers, kExampleHttpDate, resource));
  EXPECT_TRUE(Run(http).ok());
}

TEST_F(OssAuthTest, V1MismatchReportsStringToSign) {
  OssSignatureMismatch mismatch;
  auto result = Run(V1Put("AAAAAAAAAAAAAAAAAAAAAAAAAAA="), &mismatch);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().reason(), "SignatureDoesNotMatch");
  EXPECT_EQ(mismatch.access_key_id, "AK");
  EXPECT_EQ(mismatch.signature_provided, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
  EXPECT_EQ(mismatch.string_to_sign,
            "PUT\nXUFAKrxLKna5cZ2REBfFkg==\napplication/octet-stream\nFri, 04 Dec 2026 20:31:10 GMT\n"
            "x-oss-date:Fri, 04 Dec 2026 20:31:10 GMT\n/bkt/dir/a b+c.img");
}

TEST_F(OssAuthTest, V1TamperedRequestsFail) {
  {
    HttpRequest http = V1Put();
    http.headers["content-md5"] = "YUFAKrxLKna5cZ2REBfFkg==";
    EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
  }
  {
    HttpRequest http = V1Put();
    http.headers["x-oss-meta-added"] = "1";
    EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
  }
  {
    HttpRequest http = V1Put();
    http.target = "/bkt/dir/a%20b%2Bd.img";
    EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
  }
  {
    HttpRequest http = V1Put();
    http.target += "?acl";  // a signed sub-resource
    EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
  }
}

TEST_F(OssAuthTest, UnknownKeyIsInvalidAccessKeyId) {
  HttpRequest http = V1Put();
  http.headers["authorization"] = "OSS NOPE:cQdn45k+yp1lfLPKnMhDH5yUth4=";
  auto result = Run(http);
  EXPECT_EQ(result.status().reason(), "InvalidAccessKeyId");
  http.headers["authorization"] = "OSS " + std::string(200, 'k') + ":cQdn45k+yp1lfLPKnMhDH5yUth4=";
  EXPECT_EQ(Run(http).status().reason(), "InvalidAccessKeyId");
}

TEST_F(OssAuthTest, DisabledKeyIsInvalidAccessKeyId) {
  ASSERT_TRUE(accounts_.AddAccessKey(AccessKeyRecord{"AK", "SK", apitest::kAccountId, false, 0}).ok());
  auto result = Run(V1Put());
  EXPECT_EQ(result.status().reason(), "InvalidAccessKeyId");
  EXPECT_NE(result.status().message().find("disabled"), std::string::npos);
}

TEST_F(OssAuthTest, ClockWindowIsFifteenMinutes) {
  clock_.Set(kExampleTime + 15 * 60);
  EXPECT_TRUE(Run(V1Put()).ok());
  EXPECT_TRUE(Run(V4Put()).ok());
  clock_.Set(kExampleTime + 15 * 60 + 1);
  EXPECT_EQ(Run(V1Put()).status().reason(), "RequestTimeTooSkewed");
  EXPECT_EQ(Run(V4Put()).status().reason(), "RequestTimeTooSkewed");
  clock_.Set(kExampleTime - 15 * 60 - 1);
  EXPECT_EQ(Run(V1Put()).status().reason(), "RequestTimeTooSkewed");
}

TEST_F(OssAuthTest, MissingOrMalformedDateIsAccessDenied) {
  HttpRequest http = V1Put();
  http.headers.erase("x-oss-date");
  EXPECT_EQ(Run(http).status().reason(), "AccessDenied");
  http.headers["x-oss-date"] = "2026-12-04T20:31:10Z";
  EXPECT_EQ(Run(http).status().reason(), "AccessDenied");
}

TEST_F(OssAuthTest, AnonymousAndMalformedAuthorization) {
  HttpRequest http = V1Put();
  http.headers.erase("authorization");
  EXPECT_EQ(Run(http).status().reason(), "AccessDenied");
  for (const char* bad :
       {"OSS AK", "OSS :sig", "OSS AK:", "Basic dXNlcjpwYXNz", "OSS4-HMAC-SHA256 nonsense"}) {
    http.headers["authorization"] = bad;
    EXPECT_EQ(Run(http).status().reason(), "InvalidArgument") << bad;
  }
}

TEST_F(OssAuthTest, V4PutVerifies) {
  auto result = Run(V4Put());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->kind, OssSignatureKind::kHeaderV4);
  EXPECT_EQ(result->address.key, "dir/a b+c.img");
  EXPECT_EQ(result->payload_sha256, "");
}

TEST_F(OssAuthTest, V4CredentialDayMustBeTheRequestsDay) {
  HttpRequest http = V4Put();
  http.headers["authorization"] =
      "OSS4-HMAC-SHA256 Credential=AK/20261203/cn-hangzhou/oss/aliyun_v4_request,"
      "Signature=a896225524edbf4002d85a7e11646f44846e3bc1aefa90d3a371142900393e70";
  EXPECT_EQ(Run(http).status().reason(), "AccessDenied");
}

TEST_F(OssAuthTest, V4TamperedRequestsFail) {
  {
    HttpRequest http = V4Put();
    http.headers["x-oss-content-sha256"] = std::string(64, 'a');
    EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
  }
  {
    HttpRequest http = V4Put();
    http.target += "?prefix=x";  // V4 signs every parameter
    EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
  }
  {
    HttpRequest http = V4Put();
    http.headers["authorization"] =
        "OSS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host,"
        "Signature=a896225524edbf4002d85a7e11646f44846e3bc1aefa90d3a371142900393e70";
    EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
  }
}

TEST_F(OssAuthTest, V4AdditionalHeadersAndPayloadDigest) {
  HttpRequest http = V4Put();
  http.headers["range"] = "bytes=0-9";
  const std::string payload(64, 'b');
  http.headers["x-oss-content-sha256"] = payload;
  const std::string canonical =
      OssV4CanonicalRequest("PUT", "/bkt/dir/a%20b%2Bc.img", "", http.headers, {"host", "range"}, payload);
  const OssV4Credential scope{"AK", "20261204", "cn-hangzhou"};
  http.headers["authorization"] =
      "OSS4-HMAC-SHA256 "
      "Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=host;range,"
      "Signature=" +
      OssV4Signature("SK", scope, OssV4StringToSign(kExampleIsoDate, scope, canonical));
  auto result = Run(http);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->payload_sha256, payload);
  http.headers["range"] = "bytes=0-10";
  EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
}

TEST_F(OssAuthTest, V4TimedByDateHeaderLikeOssutil1) {
  HttpRequest http = V4Put();
  http.headers.erase("x-oss-date");
  http.headers["date"] = kExampleHttpDate;
  const std::string canonical =
      OssV4CanonicalRequest("PUT", "/bkt/dir/a%20b%2Bc.img", "", http.headers, {}, "UNSIGNED-PAYLOAD");
  const OssV4Credential scope{"AK", "20261204", "cn-hangzhou"};
  http.headers["authorization"] =
      "OSS4-HMAC-SHA256 Credential=AK/20261204/cn-hangzhou/oss/aliyun_v4_request,Signature=" +
      OssV4Signature("SK", scope, OssV4StringToSign(kExampleHttpDate, scope, canonical));
  EXPECT_TRUE(Run(http).ok());
}

TEST_F(OssAuthTest, PresignedV1VerifiesUntilExpires) {
  HttpRequest http;
  http.method = "GET";
  http.target =
      "/bkt/dir/x.img?OSSAccessKeyId=AK&Expires=1796416942&Signature=3a718t7pX2K5wAfmzdmF0MyLz24%3D"
      "&response-content-disposition=attachment%3B%20filename%3Da.img";
  http.headers = {{"host", "localhost:8080"}};
  auto result = Run(http);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->kind, OssSignatureKind::kPresignedV1);
  clock_.Set(1796416942);
  EXPECT_TRUE(Run(http).ok());
  clock_.Set(1796416943);
  result = Run(http);
  EXPECT_EQ(result.status().reason(), "AccessDenied");
  EXPECT_EQ(result.status().message(), "Request has expired.");
}

TEST_F(OssAuthTest, PresignedV1ChangedDispositionFails) {
  HttpRequest http;
  http.method = "GET";
  http.target =
      "/bkt/dir/x.img?OSSAccessKeyId=AK&Expires=1796416942&Signature=3a718t7pX2K5wAfmzdmF0MyLz24%3D"
      "&response-content-disposition=inline";
  http.headers = {{"host", "localhost:8080"}};
  EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
  http.target = "/bkt/dir/x.img?OSSAccessKeyId=AK&Expires=17964x&Signature=abc";
  EXPECT_EQ(Run(http).status().reason(), "InvalidArgument");
  http.target = "/bkt/dir/x.img?OSSAccessKeyId=AK&Signature=abc";
  EXPECT_EQ(Run(http).status().reason(), "AccessDenied");
}

TEST_F(OssAuthTest, PresignedV4VerifiesUntilExpires) {
  auto result = Run(PresignedV4Get());
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->kind, OssSignatureKind::kPresignedV4);
  EXPECT_EQ(result->address.key, "dir/a b.img");
  clock_.Set(kExampleTime + 600);
  EXPECT_TRUE(Run(PresignedV4Get()).ok());
  clock_.Set(kExampleTime + 601);
  result = Run(PresignedV4Get());
  EXPECT_EQ(result.status().reason(), "AccessDenied");
  EXPECT_EQ(result.status().message(), "Request has expired.");
  // Dated far in the future: not yet valid.
  clock_.Set(kExampleTime - 3600);
  EXPECT_EQ(Run(PresignedV4Get()).status().reason(), "RequestTimeTooSkewed");
}

TEST_F(OssAuthTest, PresignedV4Bounds) {
  for (const char* expires : {"0", "604801", "-1", "1e3", ""}) {
    HttpRequest http = PresignedV4Get();
    const size_t at = http.target.find("x-oss-expires=600");
    http.target.replace(at, 17, std::string("x-oss-expires=") + expires);
    EXPECT_EQ(Run(http).status().reason(), "InvalidArgument") << expires;
  }
  HttpRequest http = PresignedV4Get();
  http.target.replace(http.target.find("OSS4-HMAC-SHA256"), 16, "OSS2");
  EXPECT_EQ(Run(http).status().reason(), "InvalidArgument");
  http = PresignedV4Get();
  http.target += "&extra=1";  // every parameter is signed
  EXPECT_EQ(Run(http).status().reason(), "SignatureDoesNotMatch");
}

TEST_F(OssAuthTest, OnlyOneAuthenticationPerRequest) {
  HttpRequest http = PresignedV4Get();
  http.headers["authorization"] = V4Put().headers["authorization"];
  EXPECT_EQ(Run(http).status().reason(), "InvalidArgument");
}

TEST_F(OssAuthTest, CnameRequestsVerifyAgainstTheDefaultBucket) {
  endpoint_.default_bucket = "bkt";
  // ali-oss with cname: no bucket in Host or path.
  HttpRequest http = V1Put();
  http.target = "/dir/a%20b%2Bc.img";
  http.headers["host"] = "files.example:8080";
  auto result = Run(http);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->address.style, OssAddress::Style::kDefaultBucket);
  EXPECT_EQ(result->address.bucket, "bkt");
  // Without a bucket option ali-oss signs "/key" (a key whose first segment
  // could be a bucket is read path style first: the two readings sign alike).
  http.target = "/d/a%20b%2Bc.img";
  http.headers["authorization"] =
      "OSS AK:" +
      OssV1Signature("SK", OssV1StringToSign("PUT", http.headers, kExampleHttpDate, "/d/a b+c.img"));
  result = Run(http);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->address.bucket, "bkt");
  EXPECT_EQ(result->address.key, "d/a b+c.img");
}

}  // namespace
}  // namespace ferry
