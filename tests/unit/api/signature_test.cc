#include "api/signature.h"

#include <gtest/gtest.h>

#include "api/params.h"

namespace ferry {
namespace {

std::map<std::string, std::string> Form(std::string_view encoded) {
  auto parsed = ParseFormUrlEncoded(encoded);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? *parsed : std::map<std::string, std::string>{};
}

TEST(SignatureV1Test, OfficialDocumentVector) {
  std::map<std::string, std::string> params = {
      {"AccessKeyId", "testid"},
      {"Action", "DescribeRegions"},
      {"Format", "XML"},
      {"SignatureMethod", "HMAC-SHA1"},
      {"SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
      {"SignatureVersion", "1.0"},
      {"Timestamp", "2016-02-23T12:46:24Z"},
      {"Version", "2014-05-26"},
  };
  std::string sts = V1StringToSign("GET", params);
  EXPECT_EQ(
      sts,
      "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
      "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-"
      "02-23T12%253A46%253A24Z%26Version%3D2014-05-26");
  EXPECT_EQ(V1Signature("testsecret", sts), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
  // The Signature parameter itself is never signed.
  params["Signature"] = "anything";
  EXPECT_EQ(V1StringToSign("GET", params), sts);
}

TEST(SignatureV1Test, PopCoreFormBodyRequest) {
  auto params = Form(
      "AccessKeyId=testid&Action=CopyImage&DestinationDescription=desc%20with%20spaces%20%26%20symbols%20%2A~"
      "&"
      "DestinationImageName=copy%20name&DestinationRegionId=cn-beijing&Format=JSON&ImageId=m-src&RegionId=cn-"
      "hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=17101b9d158249b666f53b2b3ce0f096&SignatureVersion=1."
      "0&"
      "Timestamp=2026-11-26T14%3A02%3A48Z&Version=2014-05-26&Signature=15tK8M%2BZ679T5afO7rwaQ4FmwwM%3D");
  std::string sts = V1StringToSign("POST", params);
  EXPECT_EQ(
      sts,
      "POST&%2F&AccessKeyId%3Dtestid%26Action%3DCopyImage%26DestinationDescription%3Ddesc%2520with%2520spaces"
      "%2520%2526%2520symbols%2520%252A~%26DestinationImageName%3Dcopy%2520name%26DestinationRegionId%3Dcn-"
      "beijing%26Format%3DJSON%26ImageId%3Dm-src%26RegionId%3Dcn-hangzhou%26SignatureMethod%3DHMAC-SHA1%26"
      "SignatureNonce%3D17101b9d158249b666f53b2b3ce0f096%26SignatureVersion%3D1.0%26Timestamp%3D2026-11-"
      "26T14%253A02%253A48Z%26Version%3D2014-05-26");
  EXPECT_EQ(V1Signature("testsecret", sts), params["Signature"]);
  EXPECT_EQ(params["Signature"], "15tK8M+Z679T5afO7rwaQ4FmwwM=");
}

TEST(SignatureV1Test, PopCoreErrorPortRequest) {
  auto params = Form(
      "AccessKeyId=testid&Action=CopyImage&DestinationDescription=desc%20with%20spaces%20%26%20symbols%20%2A~"
      "&"
      "DestinationImageName=copy%20name&DestinationRegionId=cn-beijing&Format=JSON&ImageId=m-src&RegionId=cn-"
      "hangzhou&SignatureMethod=HMAC-SHA1&SignatureNonce=e36d8537ffb08038768f2b6b1e0cbe0c&SignatureVersion=1."
      "0&"
      "Timestamp=2026-11-26T14%3A03%3A05Z&Version=2014-05-26&Signature=NSgILcg1OQk0K2Minr9OuHgHw0E%3D");
  EXPECT_EQ(V1Signature("testsecret", V1StringToSign("POST", params)), "NSgILcg1OQk0K2Minr9OuHgHw0E=");
}

TEST(SignatureV1Test, Ecs20140526V2QueryRequest) {
  // The wire query leaves '*' raw; the canonical form has %2A.
  auto params = Form(
      "Action=CopyImage&Format=json&Version=2014-05-26&Timestamp=2026-11-26T14%3A03%3A51Z&SignatureNonce="
      "3bbdbea33c42d958888d63ef224a10428b8d1983c99a2cb4662b2cffb2a2644e&DestinationDescription=desc%20with%20"
      "spaces%20%26%20symbols%20*~&DestinationImageName=copy%20name&DestinationRegionId=cn-beijing&ImageId=m-"
      "src&RegionId=cn-hangzhou&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0&AccessKeyId=testid&Signature="
      "EpcXm0YtOD4S2ha%2FOlnjAQ5r9gg%3D");
  EXPECT_EQ(V1Signature("testsecret", V1StringToSign("POST", params)), "EpcXm0YtOD4S2ha/OlnjAQ5r9gg=");
}

TEST(SignatureV1Test, SortsByEncodedNameAndKeepsEmptyValues) {
  // "/" encodes to "%2F", which sorts before "."; an empty value stays.
  std::map<std::string, std::string> params = {{"a.b", "1"}, {"a/b", "2"}, {"SignatureType", ""}};
  EXPECT_EQ(V1CanonicalizedQuery(params), "SignatureType=&a%2Fb=2&a.b=1");
}

TEST(SignatureV3Test, CapturedEcs20140526Request) {
  V3Request request;
  request.method = "POST";
  request.canonical_uri = "/";
  request.query = Form(
      "DestinationDescription=desc%20with%20spaces%20%26%20symbols%20*~&DestinationImageName=copy%20name&"
      "DestinationRegionId=cn-beijing&ImageId=m-src&RegionId=cn-hangzhou");
  request.headers = {
      {"host", "127.0.0.1:18080"},
      {"x-acs-version", "2014-05-26"},
      {"x-acs-action", "CopyImage"},
      {"user-agent", "AlibabaCloud (linux; x64) Node.js/v20.20.2 Core/1.0.1 TeaDSL/2"},
      {"x-acs-date", "2026-11-26T14:02:49Z"},
      {"x-acs-signature-nonce", "1c4c5fd582bbe2ca1ccc63318ead0d980db1f17fea349432c02f194239867ede"},
      {"accept", "application/json"},
      {"x-acs-content-sha256", std::string(kEmptyPayloadSha256)},
      {"x-acs-credentials-provider", "static_ak"},
  };
  auto authorization = ParseV3Authorization(
      "ACS3-HMAC-SHA256 "
      "Credential=testid,SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-credentials-"
      "provider;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature="
      "110579ac16522add8ab610383ea4ece12c733f6cf7d884cf46133381c3403097");
  ASSERT_TRUE(authorization.ok()) << authorization.status().ToString();
  EXPECT_EQ(authorization->access_key_id, "testid");
  request.signed_headers = authorization->signed_headers;
  request.hashed_payload = std::string(kEmptyPayloadSha256);

  std::string canonical = V3CanonicalRequest(request);
  EXPECT_EQ(
      canonical,
      "POST\n/\n"
      "DestinationDescription=desc%20with%20spaces%20%26%20symbols%20%2A~&DestinationImageName=copy%20name&"
      "DestinationRegionId=cn-beijing&ImageId=m-src&RegionId=cn-hangzhou\n"
      "host:127.0.0.1:18080\n"
      "x-acs-action:CopyImage\n"
      "x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-acs-credentials-provider:static_ak\n"
      "x-acs-date:2026-11-26T14:02:49Z\n"
      "x-acs-signature-nonce:1c4c5fd582bbe2ca1ccc63318ead0d980db1f17fea349432c02f194239867ede\n"
      "x-acs-version:2014-05-26\n\n"
      "host;x-acs-action;x-acs-content-sha256;x-acs-credentials-provider;x-acs-date;x-acs-signature-nonce;"
      "x-acs-version\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string sts = V3StringToSign(canonical);
  EXPECT_EQ(sts, "ACS3-HMAC-SHA256\ne2f1ce6bcc6768d688bebe3f04392b5f80753c0b3bd037af42cf595fac12b3b6");
  EXPECT_EQ(V3Signature("testsecret", sts),
            "110579ac16522add8ab610383ea4ece12c733f6cf7d884cf46133381c3403097");
  // The SDK signs exactly host, content-type and x-acs-* headers.
  EXPECT_EQ(V3SignableHeaders(request.headers), authorization->signed_headers);
}

TEST(SignatureV3Test, ReferenceWorkedExample) {
  V3Request request;
  request.method = "POST";
  request.canonical_uri = "";
  request.query = {{"RegionId", "cn-hangzhou"},
                   {"ImageId", "m-bp1h46wfpjsjastc0001"},
                   {"DestinationRegionId", "cn-shanghai"}};
  request.headers = {
      {"host", "ecs.cn-hangzhou.aliyuncs.com"},
      {"x-acs-action", "CopyImage"},
      {"x-acs-content-sha256", std::string(kEmptyPayloadSha256)},
      {"x-acs-date", "2024-01-01T00:00:00Z"},
      {"x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"},
      {"x-acs-version", "2014-05-26"},
  };
  request.signed_headers = V3SignableHeaders(request.headers);
  request.hashed_payload = std::string(kEmptyPayloadSha256);
  std::string sts = V3StringToSign(V3CanonicalRequest(request));
  EXPECT_EQ(sts, "ACS3-HMAC-SHA256\n7fce338571bd80fd4b5159dd8cff657f6e690157ede88731e9cbf966037acf56");
  EXPECT_EQ(V3Signature("testsecret", sts),
            "94c9a1747c710dd54a4ba8e67e8a3c6f4d7c45176e243096d67b8d8743a32d49");
}

TEST(SignatureV3Test, AuthorizationRoundTripAndMalformed) {
  V3Authorization a{"key", {"host", "x-acs-date"}, "abc123"};
  std::string header = FormatV3Authorization(a);
  EXPECT_EQ(header, "ACS3-HMAC-SHA256 Credential=key,SignedHeaders=host;x-acs-date,Signature=abc123");
  auto parsed = ParseV3Authorization(header);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->signed_headers, a.signed_headers);
  EXPECT_EQ(parsed->signature, "abc123");

  auto missing = ParseV3Authorization("ACS3-HMAC-SHA256 Credential=key,SignedHeaders=host");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().reason(), "IncompleteSignature");
  EXPECT_FALSE(ParseV3Authorization("Bearer x").ok());
}

}  // namespace
}  // namespace ferry
