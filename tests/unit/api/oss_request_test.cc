#include "api/oss_request.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

HttpRequest Http(const std::string& method, const std::string& target,
                 const std::string& host = "localhost:9000",
                 std::map<std::string, std::string> headers = {}) {
  HttpRequest http;
  http.method = method;
  http.target = target;
  http.headers = std::move(headers);
  http.headers["host"] = host;
  return http;
}

const OssEndpoint kEndpoint{"ferry.test", ""};

// The operation of a path-style request, or its error's reason.
std::string OperationOf(const HttpRequest& http) {
  auto request = ParseOssRequest(http, kEndpoint);
  if (!request.ok()) return request.status().reason();
  auto operation = IdentifyOssOperation(*request, request->addresses.front());
  if (!operation.ok()) return operation.status().reason();
  return std::string(OssOperationName(operation->operation));
}

Result<OssOperationRequest> Identify(const HttpRequest& http) {
  auto request = ParseOssRequest(http, kEndpoint);
  if (!request.ok()) return request.status();
  return IdentifyOssOperation(*request, request->addresses.front());
}

TEST(OssRequestTest, ResolvesPathStyle) {
  auto request = ParseOssRequest(Http("GET", "/bkt/dir%2Fsub/a%20b+c.img?x=1"), kEndpoint);
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  ASSERT_EQ(request->addresses.size(), 1u);
  EXPECT_EQ(request->addresses[0].style, OssAddress::Style::kPath);
  EXPECT_EQ(request->addresses[0].bucket, "bkt");
  EXPECT_EQ(request->addresses[0].key, "dir/sub/a b+c.img");  // %2F decoded, '+' kept
  EXPECT_EQ(request->raw_path, "/bkt/dir%2Fsub/a%20b+c.img");

  for (const char* bucket_level : {"/bkt", "/bkt/"}) {
    request = ParseOssRequest(Http("GET", bucket_level), kEndpoint);
    ASSERT_TRUE(request.ok());
    EXPECT_EQ(request->addresses[0].bucket, "bkt");
    EXPECT_EQ(request->addresses[0].key, "");
  }
  request = ParseOssRequest(Http("GET", "/"), kEndpoint);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->addresses[0].bucket, "");
}

TEST(OssRequestTest, ResolvesVirtualHostStyle) {
  auto request = ParseOssRequest(Http("GET", "/dir/x.img", "bkt.ferry.test:9000"), kEndpoint);
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  ASSERT_EQ(request->addresses.size(), 1u);
  EXPECT_EQ(request->addresses[0].style, OssAddress::Style::kVirtualHost);
  EXPECT_EQ(request->addresses[0].bucket, "bkt");
  EXPECT_EQ(request->addresses[0].key, "dir/x.img");

  request = ParseOssRequest(Http("GET", "/dir/x.img", "bkt.oss-cn-beijing.aliyuncs.com"), kEndpoint);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->addresses[0].bucket, "bkt");

  // ali-oss ListBuckets on an IP endpoint: an empty first label.
  request = ParseOssRequest(Http("GET", "/?max-keys=10", ".oss-cn-hangzhou.aliyuncs.com"), kEndpoint);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->addresses[0].bucket, "");

  // The region endpoint itself names no bucket: path style.
  request = ParseOssRequest(Http("GET", "/bkt/k", "oss-cn-hangzhou.aliyuncs.com"), kEndpoint);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->addresses[0].style, OssAddress::Style::kPath);
  EXPECT_EQ(request->addresses[0].key, "k");

  // An IPv6 literal never names a bucket.
  request = ParseOssRequest(Http("GET", "/bkt/k", "[::1]:9000"), kEndpoint);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->addresses[0].style, OssAddress::Style::kPath);
}

TEST(OssRequestTest, HostAndPathBothNamingTheBucketGiveBothReadings) {
  auto request =
      ParseOssRequest(Http("PUT", "/bkt/dir/x.img", "bkt.oss-cn-hangzhou.aliyuncs.com"), kEndpoint);
  ASSERT_TRUE(request.ok());
  ASSERT_EQ(request->addresses.size(), 2u);
  EXPECT_EQ(request->addresses[0].style, OssAddress::Style::kVirtualHost);
  EXPECT_EQ(request->addresses[0].key, "bkt/dir/x.img");
  EXPECT_EQ(request->addresses[1].style, OssAddress::Style::kPath);
  EXPECT_EQ(request->addresses[1].key, "dir/x.img");
}

TEST(OssRequestTest, DefaultBucketReading) {
  const OssEndpoint endpoint{"", "dflt"};
  auto request = ParseOssRequest(Http("GET", "/dir/x.img"), endpoint);
  ASSERT_TRUE(request.ok());
  ASSERT_EQ(request->addresses.size(), 2u);
  EXPECT_EQ(request->addresses[0].bucket, "dir");
  EXPECT_EQ(request->addresses[1].style, OssAddress::Style::kDefaultBucket);
  EXPECT_EQ(request->addresses[1].bucket, "dflt");
  EXPECT_EQ(request->addresses[1].key, "dir/x.img");
  // A first segment that cannot be a bucket leaves the default reading only.
  request = ParseOssRequest(Http("GET", "/Dir_1/x.img"), endpoint);
  ASSERT_TRUE(request.ok());
  ASSERT_EQ(request->addresses.size(), 1u);
  EXPECT_EQ(request->addresses[0].bucket, "dflt");
}

TEST(OssRequestTest, RefusesBadNames) {
  EXPECT_EQ(ParseOssRequest(Http("GET", "/Bkt/k"), kEndpoint).status().reason(), "InvalidBucketName");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/ab/k"), kEndpoint).status().reason(), "InvalidBucketName");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt//k"), kEndpoint).status().reason(), "InvalidObjectName");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/%5Ck"), kEndpoint).status().reason(), "InvalidObjectName");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/a%00b"), kEndpoint).status().reason(), "InvalidObjectName");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/a%0Ab"), kEndpoint).status().reason(), "InvalidObjectName");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/%FF"), kEndpoint).status().reason(), "InvalidObjectName");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/a%zz"), kEndpoint).status().reason(), "InvalidArgument");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/a%4"), kEndpoint).status().reason(), "InvalidArgument");
  EXPECT_EQ(ParseOssRequest(Http("GET", "bkt/k"), kEndpoint).status().reason(), "InvalidArgument");
  EXPECT_TRUE(ParseOssRequest(Http("GET", "/bkt/" + std::string(1023, 'k')), kEndpoint).ok());
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/" + std::string(1024, 'k')), kEndpoint).status().reason(),
            "InvalidObjectName");
  EXPECT_TRUE(IsValidOssBucketName("a-1"));
  EXPECT_FALSE(IsValidOssBucketName("-ab"));
  EXPECT_FALSE(IsValidOssBucketName("ab-"));
  EXPECT_FALSE(IsValidOssBucketName(std::string(64, 'a')));
  EXPECT_TRUE(IsValidOssBucketName(std::string(63, 'a')));
}

TEST(OssRequestTest, BoundsHostileRequests) {
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/?" + std::string(kOssMaxTargetBytes, 'a')), kEndpoint)
                .status()
                .reason(),
            "InvalidArgument");
  std::string many = "/bkt/?";
  for (size_t i = 0; i <= kOssMaxQueryParams; ++i) many += "p" + std::to_string(i) + "&";
  EXPECT_EQ(ParseOssRequest(Http("GET", many), kEndpoint).status().reason(), "InvalidArgument");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/?a=1&a=2"), kEndpoint).status().reason(), "InvalidArgument");
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/?a=%g1"), kEndpoint).status().reason(), "InvalidArgument");
  EXPECT_EQ(ParseOssRequest(
                Http("GET", "/bkt/k", "h", {{"x-oss-meta-a", std::string(kOssMaxHeaderValueBytes + 1, 'v')}}),
                kEndpoint)
                .status()
                .reason(),
            "InvalidArgument");
  std::map<std::string, std::string> headers;
  for (size_t i = 0; i < kOssMaxHeaders; ++i) headers["x-h" + std::to_string(i)] = "v";
  EXPECT_EQ(ParseOssRequest(Http("GET", "/bkt/k", "h", headers), kEndpoint).status().reason(),
            "InvalidArgument");
}

TEST(OssRequestTest, QueryDecoding) {
  auto request =
      ParseOssRequest(Http("GET", "/bkt/?delimiter&marker=&prefix=a+b%2Fc&&max-keys=5"), kEndpoint);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->query.at("delimiter"), "");
  EXPECT_EQ(request->query.at("marker"), "");
  EXPECT_EQ(request->query.at("prefix"), "a b/c");
  EXPECT_EQ(request->query.size(), 4u);
}

TEST(OssRequestTest, IdentifiesEveryOperation) {
  EXPECT_EQ(OperationOf(Http("GET", "/")), "GetService");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/")), "PutBucket");
  EXPECT_EQ(OperationOf(Http("DELETE", "/bkt")), "DeleteBucket");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?prefix=a")), "ListObjects");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?list-type=2")), "ListObjectsV2");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?uploads")), "ListMultipartUploads");
  EXPECT_EQ(OperationOf(Http("POST", "/bkt/?delete")), "DeleteMultipleObjects");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k")), "PutObject");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k", "h", {{"x-oss-copy-source", "/src/a%20b"}})), "CopyObject");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/k")), "GetObject");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/k?response-content-type=text%2Fplain")), "GetObject");
  EXPECT_EQ(OperationOf(Http("HEAD", "/bkt/k")), "HeadObject");
  EXPECT_EQ(OperationOf(Http("HEAD", "/bkt/k?objectMeta")), "HeadObject");
  EXPECT_EQ(OperationOf(Http("DELETE", "/bkt/k")), "DeleteObject");
  EXPECT_EQ(OperationOf(Http("POST", "/bkt/k?uploads=")), "InitiateMultipartUpload");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k?partNumber=3&uploadId=U1")), "UploadPart");
  EXPECT_EQ(OperationOf(Http("POST", "/bkt/k?uploadId=U1")), "CompleteMultipartUpload");
  EXPECT_EQ(OperationOf(Http("DELETE", "/bkt/k?uploadId=U1")), "AbortMultipartUpload");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/k?uploadId=U1")), "ListParts");
}

TEST(OssRequestTest, RefusesWhatIsNotServed) {
  EXPECT_EQ(OperationOf(Http("POST", "/")), "MethodNotAllowed");
  EXPECT_EQ(OperationOf(Http("HEAD", "/bkt/")), "MethodNotAllowed");
  EXPECT_EQ(OperationOf(Http("POST", "/bkt/")), "MethodNotAllowed");
  EXPECT_EQ(OperationOf(Http("PATCH", "/bkt/k")), "MethodNotAllowed");
  EXPECT_EQ(OperationOf(Http("POST", "/bkt/k")), "MethodNotAllowed");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/?acl")), "NotImplemented");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/k?tagging")), "NotImplemented");
  EXPECT_EQ(OperationOf(Http("POST", "/bkt/k?append&position=0")), "NotImplemented");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k?partNumber=1&uploadId=U", "h", {{"x-oss-copy-source", "/a/b"}})),
            "NotImplemented");
}

TEST(OssRequestTest, ValidatesParameters) {
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?max-keys=0")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?max-keys=1001")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?max-keys=1x")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?max-keys=-5")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("GET", "/?max-keys=99999999999")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?list-type=3")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?encoding-type=base64")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?list-type=2&fetch-owner=yes")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/?prefix=" + std::string(1024, 'p'))), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k?partNumber=0&uploadId=U")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k?partNumber=10001&uploadId=U")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k?partNumber&uploadId=U")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k?partNumber=1")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k?uploadId=U")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("POST", "/bkt/k?uploadId=")), "NoSuchUpload");
  EXPECT_EQ(OperationOf(Http("GET", "/bkt/k?uploadId=U&max-parts=1001")), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k", "h", {{"x-oss-copy-source", "/nobucket"}})), "InvalidArgument");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k", "h", {{"x-oss-copy-source", "/B/k"}})), "InvalidBucketName");
  EXPECT_EQ(OperationOf(Http("PUT", "/bkt/k", "h", {{"x-oss-copy-source", "/src/"}})), "InvalidObjectName");
}

TEST(OssRequestTest, ListParameters) {
  auto op = Identify(Http("GET", "/bkt/?delimiter&marker&prefix=dir%2F&encoding-type=url"));
  ASSERT_TRUE(op.ok()) << op.status().ToString();
  EXPECT_EQ(op->list.max_keys, 100);  // the default
  EXPECT_EQ(op->list.delimiter, "");
  EXPECT_EQ(op->list.prefix, "dir/");
  EXPECT_TRUE(op->url_encoding);

  op = Identify(
      Http("GET", "/bkt/?list-type=2&max-keys=1000&start-after=a&continuation-token=t&fetch-owner=true"));
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->list.max_keys, 1000);
  EXPECT_TRUE(op->list.has_start_after);
  EXPECT_EQ(op->list.start_after, "a");
  EXPECT_TRUE(op->list.has_continuation_token);
  EXPECT_EQ(op->list.continuation_token, "t");
  EXPECT_TRUE(op->list.fetch_owner);

  op = Identify(Http("GET", "/bkt/?uploads&key-marker=k&upload-id-marker=u&max-uploads=7"));
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->list_uploads.key_marker, "k");
  EXPECT_EQ(op->list_uploads.upload_id_marker, "u");
  EXPECT_EQ(op->list_uploads.max_uploads, 7);

  op = Identify(Http("GET", "/bkt/k?uploadId=U1&max-parts=5&part-number-marker=3"));
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->upload_id, "U1");
  EXPECT_EQ(op->list_parts.max_parts, 5);
  EXPECT_EQ(op->list_parts.part_number_marker, 3);

  op = Identify(Http("PUT", "/bkt/k?partNumber=10000&uploadId=U1"));
  ASSERT_TRUE(op.ok());
  EXPECT_EQ(op->part_number, 10000);

  op = Identify(Http("PUT", "/bkt/k", "h", {{"x-oss-copy-source", "/src/dir/a%20b.img"}}));
  ASSERT_TRUE(op.ok());
  ASSERT_TRUE(op->copy_source);
  EXPECT_EQ(op->copy_source->bucket, "src");
  EXPECT_EQ(op->copy_source->key, "dir/a b.img");
}

TEST(OssRangeTest, SingleRanges) {
  auto range = ResolveOssRange("bytes=0-9", "", 100);
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->partial);
  EXPECT_EQ(range->first, 0u);
  EXPECT_EQ(range->last, 9u);
  range = ResolveOssRange("bytes=90-", "", 100);
  EXPECT_EQ(range->first, 90u);
  EXPECT_EQ(range->last, 99u);
  range = ResolveOssRange("bytes=-10", "", 100);
  EXPECT_EQ(range->first, 90u);
  EXPECT_EQ(range->last, 99u);
  range = ResolveOssRange("bytes=5-6,10-20", "", 100);  // the first of several
  EXPECT_EQ(range->first, 5u);
  EXPECT_EQ(range->last, 6u);
}

TEST(OssRangeTest, OssDefaultAnswersBadRangesWithTheWholeObject) {
  for (const char* header : {"", "bytes=100-", "bytes=50-100", "bytes=-101", "bytes=-0", "bytes=9-3",
                             "bytes=a-b", "items=0-1", "bytes=0", "bytes=99999999999999999999-"}) {
    auto range = ResolveOssRange(header, "", 100);
    ASSERT_TRUE(range.ok()) << header;
    EXPECT_FALSE(range->partial) << header;
  }
}

TEST(OssRangeTest, StandardBehaviorClampsAndRefuses) {
  auto range = ResolveOssRange("bytes=50-1000", "standard", 100);
  ASSERT_TRUE(range.ok());
  EXPECT_TRUE(range->partial);
  EXPECT_EQ(range->last, 99u);
  range = ResolveOssRange("bytes=-1000", "standard", 100);
  EXPECT_EQ(range->first, 0u);
  EXPECT_EQ(range->last, 99u);
  EXPECT_EQ(ResolveOssRange("bytes=100-", "standard", 100).status().reason(), "InvalidRange");
  EXPECT_EQ(ResolveOssRange("bytes=0-0", "standard", 0).status().reason(), "InvalidRange");
  // Malformed is still ignored.
  range = ResolveOssRange("bytes=9-3", "standard", 100);
  ASSERT_TRUE(range.ok());
  EXPECT_FALSE(range->partial);
}

TEST(OssTimeTest, Formats) {
  EXPECT_EQ(FormatHttpDate(1796416270), "Fri, 04 Dec 2026 20:31:10 GMT");
  EXPECT_EQ(ParseHttpDate("Fri, 04 Dec 2026 20:31:10 GMT"), 1796416270);
  EXPECT_EQ(ParseIso8601Basic("20261204T203110Z"), 1796416270);
  EXPECT_EQ(FormatOssXmlTime(1796416270), "2026-12-04T20:31:10.000Z");
  EXPECT_EQ(FormatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(ParseHttpDate("Sun, 29 Feb 2032 00:00:00 GMT"), 1961625600);
  for (const char* bad : {"Fri, 04 Dec 2026 20:31:10 UTC", "Fri, 31 Nov 2026 20:31:10 GMT",
                          "Fri, 29 Feb 2026 20:31:10 GMT", "Fri, 04 Dec 2026 24:31:10 GMT",
                          "Fri,  4 Dec 2026 20:31:10 GMT", "Xyz, 04 Dec 2026 20:31:10 GMT", ""}) {
    EXPECT_FALSE(ParseHttpDate(bad)) << bad;
  }
  for (const char* bad :
       {"20261304T203110Z", "20261204T203110", "2026-12-04T20:31:10Z", "20261204t203110Z"}) {
    EXPECT_FALSE(ParseIso8601Basic(bad)) << bad;
  }
}

}  // namespace
}  // namespace ferry
