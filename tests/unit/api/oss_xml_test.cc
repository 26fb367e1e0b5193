#include "api/oss_xml.h"

#include <gtest/gtest.h>

#include "api/oss_errors.h"
#include "common/hash.h"

namespace ferry {
namespace {

constexpr UnixSeconds kT = 1796416270;  // 2026-12-04T20:31:10Z
constexpr const char* kDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

TEST(OssXmlEscapeTest, TenantTextCannotBreakMarkup) {
  EXPECT_EQ(OssXmlEscape("a&b<c>d\"e'f"), "a&amp;b&lt;c&gt;d&quot;e&apos;f");
  EXPECT_EQ(OssXmlEscape("</Key><Key>evil"), "&lt;/Key&gt;&lt;Key&gt;evil");
  // Control characters cannot appear in XML 1.0, not even as references.
  EXPECT_EQ(OssXmlEscape(std::string("a\x01\tb\rc\nd\x7f", 9)),
            "a\xEF\xBF\xBD\tb\xEF\xBF\xBD"
            "c\nd\x7f");
  EXPECT_EQ(OssXmlEscape(std::string("\0", 1)), "\xEF\xBF\xBD");
  // Not UTF-8 (a lone continuation byte, an overlong '/', a surrogate, a cut
  // sequence, U+FFFF): U+FFFD.
  EXPECT_EQ(OssXmlEscape("a\x80z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(OssXmlEscape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(OssXmlEscape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(OssXmlEscape("\xE7\x9B"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(OssXmlEscape("\xEF\xBF\xBF"), "\xEF\xBF\xBD");
  EXPECT_EQ(OssXmlEscape("\xE7\x9B\xAE\xF0\x9F\x98\x80"), "\xE7\x9B\xAE\xF0\x9F\x98\x80");
}

TEST(OssXmlRenderTest, ListBuckets) {
  OssListBucketsResult r;
  r.max_keys = 10;
  r.owner = {"1234", "1234"};
  r.buckets.push_back(
      OssBucketEntry{"bkt", kT, "oss-cn-hangzhou", "cn-hangzhou", "ferry.test", "ferry.test"});
  EXPECT_EQ(
      RenderOssListBuckets(r),
      std::string(kDecl) +
          "<ListAllMyBucketsResult><Prefix></Prefix><Marker></Marker><MaxKeys>10</MaxKeys>"
          "<IsTruncated>false</IsTruncated><Owner><ID>1234</ID><DisplayName>1234</DisplayName></Owner>"
          "<Buckets><Bucket><CreationDate>2026-12-04T20:31:10.000Z</CreationDate>"
          "<ExtranetEndpoint>ferry.test</ExtranetEndpoint><IntranetEndpoint>ferry.test</IntranetEndpoint>"
          "<Location>oss-cn-hangzhou</Location><Name>bkt</Name><Region>cn-hangzhou</Region>"
          "<StorageClass>Standard</StorageClass></Bucket></Buckets></ListAllMyBucketsResult>");
  r.is_truncated = true;
  r.next_marker = "bkt";
  EXPECT_NE(
      RenderOssListBuckets(r).find("<IsTruncated>true</IsTruncated><NextMarker>bkt</NextMarker><Owner>"),
      std::string::npos);
}

OssObjectEntry Entry(const std::string& key) {
  OssObjectEntry e;
  e.key = key;
  e.last_modified = kT;
  e.etag = "\"5EB63BBBE01EEED093CB22BB8F5ACDC3\"";
  e.size = 11;
  return e;
}

TEST(OssXmlRenderTest, ListObjectsV1) {
  OssListObjectsResult r;
  r.bucket = "bkt";
  r.prefix = "dir/";
  r.delimiter = "/";
  r.owner = {"1234", "root"};
  r.contents.push_back(Entry("dir/a&b.img"));
  r.common_prefixes.push_back("dir/sub/");
  EXPECT_EQ(
      RenderOssListObjects(r),
      std::string(kDecl) +
          "<ListBucketResult><Name>bkt</Name><Prefix>dir/</Prefix><Marker></Marker><MaxKeys>100</MaxKeys>"
          "<Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>"
          "<Contents><Key>dir/a&amp;b.img</Key><LastModified>2026-12-04T20:31:10.000Z</LastModified>"
          "<ETag>&quot;5EB63BBBE01EEED093CB22BB8F5ACDC3&quot;</ETag><Type>Normal</Type><Size>11</Size>"
          "<StorageClass>Standard</StorageClass><Owner><ID>1234</ID><DisplayName>root</DisplayName></Owner>"
          "</Contents><CommonPrefixes><Prefix>dir/sub/</Prefix></CommonPrefixes></ListBucketResult>");
}

TEST(OssXmlRenderTest, ListObjectsV1UrlEncoding) {
  OssListObjectsResult r;
  r.bucket = "bkt";
  r.prefix = "a b/";
  r.marker = "a b/%";
  r.delimiter = "/";
  r.is_truncated = true;
  r.next_marker = "a b/+c";
  r.url_encoding = true;
  r.contents.push_back(Entry("a b/+c"));
  r.common_prefixes.push_back("a b/\xC3\xBC/");
  const std::string xml = RenderOssListObjects(r);
  EXPECT_NE(
      xml.find(
          "<Prefix>a%20b%2F</Prefix><Marker>a%20b%2F%25</Marker><MaxKeys>100</MaxKeys>"
          "<Delimiter>%2F</Delimiter><IsTruncated>true</IsTruncated><NextMarker>a%20b%2F%2Bc</NextMarker>"
          "<EncodingType>url</EncodingType><Contents><Key>a%20b%2F%2Bc</Key>"),
      std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<CommonPrefixes><Prefix>a%20b%2F%C3%BC%2F</Prefix></CommonPrefixes>"),
            std::string::npos);
}

TEST(OssXmlRenderTest, ListObjectsV2) {
  OssListObjectsV2Result r;
  r.bucket = "bkt";
  r.max_keys = 2;
  r.has_continuation_token = true;
  r.continuation_token = "tok1";
  r.has_start_after = true;
  r.start_after = "a";
  r.is_truncated = true;
  r.next_continuation_token = "tok2";
  r.contents.push_back(Entry("b"));
  r.common_prefixes.push_back("c/");
  r.owner = {"1234", "root"};
  std::string xml = RenderOssListObjectsV2(r);
  EXPECT_EQ(xml,
            std::string(kDecl) +
                "<ListBucketResult><Name>bkt</Name><Prefix></Prefix><StartAfter>a</StartAfter>"
                "<ContinuationToken>tok1</ContinuationToken><MaxKeys>2</MaxKeys><Delimiter></Delimiter>"
                "<IsTruncated>true</IsTruncated><NextContinuationToken>tok2</NextContinuationToken>"
                "<KeyCount>2</KeyCount><Contents><Key>b</Key><LastModified>2026-12-04T20:31:10.000Z"
                "</LastModified><ETag>&quot;5EB63BBBE01EEED093CB22BB8F5ACDC3&quot;</ETag><Type>Normal</Type>"
                "<Size>11</Size><StorageClass>Standard</StorageClass></Contents>"
                "<CommonPrefixes><Prefix>c/</Prefix></CommonPrefixes></ListBucketResult>");
  r.fetch_owner = true;
  EXPECT_NE(RenderOssListObjectsV2(r).find("<Owner><ID>1234</ID>"), std::string::npos);
  r.url_encoding = true;
  r.start_after = "a b";
  xml = RenderOssListObjectsV2(r);
  EXPECT_NE(xml.find("<StartAfter>a%20b</StartAfter>"), std::string::npos);
  EXPECT_NE(xml.find("<Delimiter></Delimiter><EncodingType>url</EncodingType><IsTruncated>"),
            std::string::npos);
}

TEST(OssXmlRenderTest, Multipart) {
  EXPECT_EQ(
      RenderOssInitiateMultipartUpload("bkt", "big/disk.raw", "U1"),
      std::string(kDecl) +
          "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>big/disk.raw</Key><UploadId>U1</UploadId>"
          "</InitiateMultipartUploadResult>");
  OssListPartsResult parts;
  parts.bucket = "bkt";
  parts.key = "k";
  parts.upload_id = "U1";
  parts.next_part_number_marker = 1;
  parts.parts.push_back(OssPartEntry{1, kT, "\"E1\"", 102400, "123"});
  EXPECT_EQ(RenderOssListParts(parts),
            std::string(kDecl) +
                "<ListPartsResult><Bucket>bkt</Bucket><Key>k</Key><UploadId>U1</UploadId>"
                "<PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>1</NextPartNumberMarker>"
                "<MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated><Part><PartNumber>1</PartNumber>"
                "<LastModified>2026-12-04T20:31:10.000Z</LastModified><ETag>&quot;E1&quot;</ETag>"
                "<HashCrc64ecma>123</HashCrc64ecma><Size>102400</Size></Part></ListPartsResult>");
  OssListUploadsResult uploads;
  uploads.bucket = "bkt";
  uploads.url_encoding = true;
  uploads.uploads.push_back(OssUploadEntry{"a b", "U1", kT});
  EXPECT_EQ(RenderOssListUploads(uploads),
            std::string(kDecl) +
                "<ListMultipartUploadsResult><Bucket>bkt</Bucket><EncodingType>url</EncodingType>"
                "<KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><NextKeyMarker></NextKeyMarker>"
                "<NextUploadIdMarker></NextUploadIdMarker><Delimiter></Delimiter><Prefix></Prefix>"
                "<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated><Upload><Key>a%20b</Key>"
                "<UploadId>U1</UploadId><Initiated>2026-12-04T20:31:10.000Z</Initiated></Upload>"
                "</ListMultipartUploadsResult>");
  EXPECT_EQ(
      RenderOssCompleteMultipartUpload({"http://bkt.ferry.test/k", "bkt", "k", "\"E-2\"", false}),
      std::string(kDecl) +
          "<CompleteMultipartUploadResult><Location>http://bkt.ferry.test/k</Location><Bucket>bkt</Bucket>"
          "<Key>k</Key><ETag>&quot;E-2&quot;</ETag></CompleteMultipartUploadResult>");
}

TEST(OssXmlRenderTest, DeleteResult) {
  EXPECT_EQ(RenderOssDeleteResult({}), std::string(kDecl) + "<DeleteResult></DeleteResult>");
  EXPECT_EQ(RenderOssDeleteResult({{"a", "b&c"}, false}),
            std::string(kDecl) +
                "<DeleteResult><Deleted><Key>a</Key></Deleted><Deleted><Key>b&amp;c</Key></Deleted></"
                "DeleteResult>");
  EXPECT_EQ(
      RenderOssDeleteResult({{"b&c"}, true}),
      std::string(kDecl) +
          "<DeleteResult><EncodingType>url</EncodingType><Deleted><Key>b%26c</Key></Deleted></DeleteResult>");
}

TEST(OssXmlRenderTest, ErrorBodies) {
  OssError error = ToOssError(NotFound("NoSuchKey", ""));
  EXPECT_EQ(error.http_status, 404);
  EXPECT_EQ(RenderOssError(error, "RID", "bkt.ferry.test"),
            std::string(kDecl) +
                "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
                "<RequestId>RID</RequestId><HostId>bkt.ferry.test</HostId><EC>0026-00000001</EC></Error>");
  error = ToOssError(PermissionDenied("SignatureDoesNotMatch", ""));
  error.mismatch = OssSignatureMismatch{"AK", "sig<", "PUT\n\n\n1\n/bkt/a&b"};
  EXPECT_EQ(
      RenderOssError(error, "RID", "h"),
      std::string(kDecl) +
          "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not "
          "match the signature you provided. Check your key and signing method.</Message>"
          "<RequestId>RID</RequestId><HostId>h</HostId><OSSAccessKeyId>AK</OSSAccessKeyId>"
          "<SignatureProvided>sig&lt;</SignatureProvided><StringToSign>PUT\n\n\n1\n/bkt/a&amp;b"
          "</StringToSign><EC>0002-00000040</EC></Error>");
  std::string decoded;
  ASSERT_TRUE(Base64Decode(OssErrHeader(error, "RID", "h"), &decoded));
  EXPECT_EQ(decoded, RenderOssError(error, "RID", "h"));
}

TEST(OssErrorsTest, CodesAndStatuses) {
  EXPECT_EQ(OssHttpStatusForCode("AccessDenied"), 403);
  EXPECT_EQ(OssHttpStatusForCode("SignatureDoesNotMatch"), 403);
  EXPECT_EQ(OssHttpStatusForCode("InvalidAccessKeyId"), 403);
  EXPECT_EQ(OssHttpStatusForCode("RequestTimeTooSkewed"), 403);
  EXPECT_EQ(OssHttpStatusForCode("NoSuchBucket"), 404);
  EXPECT_EQ(OssHttpStatusForCode("NoSuchUpload"), 404);
  EXPECT_EQ(OssHttpStatusForCode("BucketAlreadyExists"), 409);
  EXPECT_EQ(OssHttpStatusForCode("BucketNotEmpty"), 409);
  EXPECT_EQ(OssHttpStatusForCode("MalformedXML"), 400);
  EXPECT_EQ(OssHttpStatusForCode("EntityTooSmall"), 400);
  EXPECT_EQ(OssHttpStatusForCode("MethodNotAllowed"), 405);
  EXPECT_EQ(OssHttpStatusForCode("MissingContentLength"), 411);
  EXPECT_EQ(OssHttpStatusForCode("PreconditionFailed"), 412);
  EXPECT_EQ(OssHttpStatusForCode("InvalidRange"), 416);
  EXPECT_EQ(OssHttpStatusForCode("Bogus"), 500);

  // Without an OSS reason, by Code; internal detail never reaches the caller.
  OssError error = ToOssError(Internal("rename /srv/data/x failed"));
  EXPECT_EQ(error.code, "InternalError");
  EXPECT_EQ(error.http_status, 500);
  EXPECT_TRUE(error.withheld);
  EXPECT_EQ(error.message.find("/srv"), std::string::npos);
  EXPECT_EQ(ToOssError(NotFound("", "x")).code, "NoSuchKey");
  EXPECT_EQ(ToOssError(Unavailable("peer down")).http_status, 503);
  error = ToOssError(InvalidArgument("InvalidArgument", "max-keys must be 1-1000"));
  EXPECT_EQ(error.message, "max-keys must be 1-1000");
  EXPECT_EQ(error.http_status, 400);
  EXPECT_EQ(ToOssError(InvalidArgument("NotImplemented", "x")).http_status, 501);
}

// ---- request bodies ----

TEST(OssXmlParseTest, CompleteMultipartUpload) {
  auto parts = ParseOssCompleteMultipartUpload(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUpload>\n"
      "  <Part><PartNumber>1</PartNumber><ETag>\"E1\"</ETag></Part>\n"
      "  <Part><ETag>&quot;E2&quot;</ETag><PartNumber> 2 </PartNumber><Extra>x</Extra></Part>\n"
      "</CompleteMultipartUpload>");
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].part_number, 1);
  EXPECT_EQ((*parts)[0].etag, "\"E1\"");
  EXPECT_EQ((*parts)[1].part_number, 2);
  EXPECT_EQ((*parts)[1].etag, "\"E2\"");
}

TEST(OssXmlParseTest, DeleteRequest) {
  auto request = ParseOssDeleteRequest(
      "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
      "<Object><Key>\xE7\x9B\xAE/x</Key><VersionId>v</VersionId></Object></Delete>");
  ASSERT_TRUE(request.ok()) << request.status().ToString();
  EXPECT_TRUE(request->quiet);
  EXPECT_EQ(request->keys, (std::vector<std::string>{"a&b", "\xE7\x9B\xAE/x"}));
  request = ParseOssDeleteRequest("<Delete><Object><Key>a</Key></Object></Delete>");
  ASSERT_TRUE(request.ok());
  EXPECT_FALSE(request->quiet);
}

TEST(OssXmlParseTest, MalformedBodies) {
  for (const char* bad : {
           "",
           "not xml",
           "<CompleteMultipartUpload>",
           "<CompleteMultipartUpload></CompleteMultipartUpload>",
           "<Other><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part></Other>",
           "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>",
           "<CompleteMultipartUpload><Part><ETag>e</ETag></Part></CompleteMultipartUpload>",
           "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>e</ETag></Part>"
           "</CompleteMultipartUpload>",
           "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>e</ETag></Part>"
           "</CompleteMultipartUpload>",
           "<CompleteMultipartUpload><Part><PartNumber>1x</PartNumber><ETag>e</ETag></Part>"
           "</CompleteMultipartUpload>",
           "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>e</ETag>"
           "</Part></CompleteMultipartUpload>",
           "<CompleteMultipartUpload><Bogus/></CompleteMultipartUpload>",
           "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>"
           "</CompleteMultipartUpload><Second/>",
           "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
           "<ETag>&a;</ETag></Part></CompleteMultipartUpload>",
           "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>e</ETag><A><B><C>deep</C></B></A>"
           "</Part></CompleteMultipartUpload>",
       }) {
    auto result = ParseOssCompleteMultipartUpload(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().reason(), "MalformedXML") << bad;
  }
  for (const char* bad : {
           "<Delete></Delete>",
           "<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>",
           "<Delete><Object></Object></Delete>",
           "<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>",
           "<Delete><Thing/></Delete>",
           "<Delete><Quiet>true</Quiet><Quiet>true</Quiet></Delete>",
       }) {
    auto result = ParseOssDeleteRequest(bad);
    ASSERT_FALSE(result.ok()) << bad;
    EXPECT_EQ(result.status().reason(), "MalformedXML") << bad;
  }
  EXPECT_EQ(ParseOssDeleteRequest("<Delete><Object><Key>/abs</Key></Object></Delete>").status().reason(),
            "InvalidObjectName");
}

TEST(OssXmlParseTest, Bounds) {
  std::string body = "<Delete>";
  for (size_t i = 0; i <= kOssMaxDeleteObjects; ++i)
    body += "<Object><Key>k" + std::to_string(i) + "</Key></Object>";
  body += "</Delete>";
  EXPECT_EQ(ParseOssDeleteRequest(body).status().reason(), "MalformedXML");

  std::string parts = "<CompleteMultipartUpload>";
  for (size_t i = 1; i <= kOssMaxCompleteParts; ++i) {
    parts += "<Part><PartNumber>" + std::to_string(i) + "</PartNumber><ETag>e</ETag></Part>";
  }
  parts += "</CompleteMultipartUpload>";
  auto ok = ParseOssCompleteMultipartUpload(parts);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->size(), kOssMaxCompleteParts);

  EXPECT_EQ(ParseOssCompleteMultipartUpload(std::string(kOssMaxXmlBodyBytes + 1, ' ')).status().reason(),
            "MalformedXML");
  EXPECT_EQ(
      ParseOssDeleteRequest("<Delete><Object><Key>" + std::string(5000, 'k') + "</Key></Object></Delete>")
          .status()
          .reason(),
      "MalformedXML");
  // A billion laughs never expands.
  EXPECT_EQ(ParseOssDeleteRequest("<!DOCTYPE d [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;\">]>"
                                  "<Delete><Object><Key>&b;</Key></Object></Delete>")
                .status()
                .reason(),
            "MalformedXML");
}

TEST(OssXmlParseTest, RenderedKeysParseBack) {
  // Whatever key a tenant chose, the rendered DeleteResult is well-formed
  // XML that names exactly that key.
  const std::string key = "a&b<c>d\"e'f/\xE7\x9B\xAE]]>";
  const std::string xml = RenderOssDeleteResult({{key}, false});
  std::string as_request = xml;
  as_request.replace(as_request.find("<DeleteResult>"), 14, "<Delete>");
  as_request.replace(as_request.find("</DeleteResult>"), 15, "</Delete>");
  as_request.replace(as_request.find("<Deleted>"), 9, "<Object>");
  as_request.replace(as_request.find("</Deleted>"), 10, "</Object>");
  auto parsed = ParseOssDeleteRequest(as_request);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString() << "\n" << xml;
  EXPECT_EQ(parsed->keys, std::vector<std::string>{key});
}

}  // namespace
}  // namespace ferry
