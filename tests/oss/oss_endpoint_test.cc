// The OSS listener over real HTTP on loopback: a server in this process
// (api/server.h with an OSS listener over an FsObjectStore in a scratch
// folder), requests signed by OssClient (V1 and V4) or written by hand.
// Every operation of oss-api.md section 4, and the error codes a client
// sees for a wrong key, another account's bucket, a missing object, a bad
// Content-MD5, an expired presigned URL and Range edge cases.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "api/oss_auth.h"
#include "api/oss_client.h"
#include "api/server.h"
#include "common/crc64.h"
#include "common/hash.h"
#include "common/ids.h"
#include "objects/fs_object_store.h"
#include "objects/s3_object_store.h"
#include "store/s3_client.h"
#include "unit/api/api_fakes.h"
#include "unit/store/throwaway_ceph.h"

namespace ferry {
namespace {

constexpr const char* kOtherAccount = "2222222222222222";
constexpr const char* kOtherKey = "otherkey";
constexpr const char* kOtherSecret = "othersecret";

std::string Pattern(size_t n, uint64_t seed) {
  std::string out(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out[i] = static_cast<char>(x);
  }
  return out;
}

std::string Md5Base64(const std::string& data) {
  Md5Digest d = Md5::Of(data);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

// One request written on a raw connection; the status line and the rest.
struct RawAnswer {
  int status = 0;
  std::string header;
  std::string body;
};

RawAnswer RawRequest(uint16_t port, const std::string& request) {
  namespace asio = boost::asio;
  RawAnswer out;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  boost::system::error_code ec;
  socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return out;
  asio::write(socket, asio::buffer(request), ec);
  std::string received;
  char chunk[4096];
  for (;;) {
    size_t n = socket.read_some(asio::buffer(chunk), ec);
    received.append(chunk, n);
    if (ec) break;
    size_t end = received.find("\r\n\r\n");
    if (end != std::string::npos) {
      // Content-Length tells when the answer is complete.
      size_t cl = received.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) {
        size_t want = std::strtoull(received.c_str() + cl + 16, nullptr, 10);
        if (received.size() >= end + 4 + want) break;
      }
    }
  }
  size_t end = received.find("\r\n\r\n");
  out.header = received.substr(0, end == std::string::npos ? received.size() : end + 4);
  out.body = end == std::string::npos ? "" : received.substr(end + 4);
  if (out.header.starts_with("HTTP/1.1 ")) out.status = std::atoi(out.header.c_str() + 9);
  return out;
}

// Each case runs on both object stores: the data directory's and the S3
// store's (a throwaway Ceph).
enum class Backend { kFiles, kS3 };

class OssEndpointTest : public ::testing::TestWithParam<Backend> {
 protected:
  static std::unique_ptr<ObjectStore> OpenS3(const std::string& spool) {
    static ThrowawayCeph ceph;
    static const S3Location bucket = ceph.NewBucket();
    S3Location loc = bucket;
    loc.prefix = std::filesystem::path(spool).parent_path().filename().string() + "/";
    Result<std::unique_ptr<S3Client>> client = S3Client::Open(loc, ceph.credentials());
    if (!client.ok()) {
      ADD_FAILURE() << client.status().ToString();
      return nullptr;
    }
    return std::make_unique<S3ObjectStore>(std::shared_ptr<S3Client>(std::move(*client)), spool);
  }
  bool OnFiles() const { return GetParam() == Backend::kFiles; }

  void SetUp() override {
    dir_ = ::testing::TempDir() + "/ferry-oss-endpoint-" + RandomHex(8);
    std::filesystem::create_directories(dir_ + "/oss");
    ASSERT_TRUE(accounts_.CreateAccount(AccountRecord{kOtherAccount, "other", false, 0}).ok());
    ASSERT_TRUE(accounts_.AddAccessKey(AccessKeyRecord{kOtherKey, kOtherSecret, kOtherAccount, true, 0}).ok());
    if (OnFiles()) {
      store_ = std::make_unique<FsObjectStore>(dir_ + "/oss", apitest::kAccountId);
    } else {
      std::filesystem::create_directories(dir_ + "/spool");
      store_ = OpenS3(dir_ + "/spool");
      ASSERT_NE(store_, nullptr);
    }
    ServerConfig config;
    config.port = 0;
    config.threads = 2;
    config.oss_listen_address = "127.0.0.1";
    config.oss_port = 0;
    config.admin_listen_address = "127.0.0.1";
    config.admin_port = 0;
    auto server = StartServer(config, ActionTable{}, regions_, accounts_, *store_, SystemClock::Get());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    ASSERT_NE(server_->oss_port(), 0);
    ASSERT_NE(server_->oss_port(), server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }

  std::string Endpoint() const { return "http://127.0.0.1:" + std::to_string(server_->oss_port()); }
  OssClient Client(bool v4 = false, const std::string& key = apitest::kKeyId,
                   const std::string& secret = apitest::kSecret) const {
    OssClientConfig c;
    c.endpoint = Endpoint();
    c.access_key_id = key;
    c.access_key_secret = secret;
    c.v4 = v4;
    return OssClient(c);
  }
  OssHttpResponse Put(OssClient& client, const std::string& bucket, const std::string& key,
                      const std::string& data, std::map<std::string, std::string> headers = {}) {
    OssCall call;
    call.method = "PUT";
    call.bucket = bucket;
    call.key = key;
    call.body = data;
    call.headers = std::move(headers);
    auto response = client.Send(call);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? *response : OssHttpResponse();
  }
  OssHttpResponse Call(OssClient& client, const std::string& method, const std::string& bucket,
                       const std::string& key, std::map<std::string, std::string> query = {},
                       std::map<std::string, std::string> headers = {}, const std::string& body = "") {
    OssCall call;
    call.method = method;
    call.bucket = bucket;
    call.key = key;
    call.query = std::move(query);
    call.headers = std::move(headers);
    call.body = body;
    auto response = client.Send(call);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? *response : OssHttpResponse();
  }
  static std::string Code(const OssHttpResponse& response) { return OssErrorStatus(response).reason(); }

  std::string dir_;
  apitest::FakeAccounts accounts_;
  RegionSet regions_;
  std::unique_ptr<ObjectStore> store_;
  std::unique_ptr<Server> server_;
};

INSTANTIATE_TEST_SUITE_P(Stores, OssEndpointTest, ::testing::Values(Backend::kFiles, Backend::kS3),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           return info.param == Backend::kFiles ? std::string("Files") : std::string("S3");
                         });

TEST_P(OssEndpointTest, BucketsAreMadeListedAndDeleted) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("alpha").ok());
  ASSERT_TRUE(client.CreateBucket("alpha").ok()) << "creating one's own bucket again is fine";
  OssHttpResponse listed = Call(client, "GET", "", "");
  EXPECT_EQ(listed.status, 200);
  EXPECT_NE(listed.body.find("<ListAllMyBucketsResult>"), std::string::npos) << listed.body;
  EXPECT_NE(listed.body.find("<Name>alpha</Name>"), std::string::npos);
  EXPECT_FALSE(listed.Header("x-oss-request-id").empty());
  auto names = client.ListBuckets();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"alpha"});

  Put(client, "alpha", "x", "data");
  OssHttpResponse not_empty = Call(client, "DELETE", "alpha", "");
  EXPECT_EQ(not_empty.status, 409);
  EXPECT_EQ(Code(not_empty), "BucketNotEmpty");
  EXPECT_TRUE(client.DeleteObject("alpha", "x").ok());
  OssHttpResponse deleted = Call(client, "DELETE", "alpha", "");
  EXPECT_EQ(deleted.status, 204);
  OssHttpResponse gone = Call(client, "GET", "alpha", "");
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(Code(gone), "NoSuchBucket");
  OssHttpResponse bad_name = Call(client, "PUT", "Bad_Name", "");
  EXPECT_EQ(bad_name.status, 400);
  EXPECT_EQ(Code(bad_name), "InvalidBucketName");
}

// The operator's /metrics (admin listener only) counts OSS requests by
// operation and code, with their latency and body bytes.
TEST_P(OssEndpointTest, RequestsAreCountedOnTheAdminListenerOnly) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("counted").ok());
  const std::string data = Pattern(100000, 5);
  EXPECT_EQ(Put(client, "counted", "one", data).status, 200);
  EXPECT_EQ(Call(client, "GET", "counted", "one").body, data);
  EXPECT_EQ(Code(Call(client, "GET", "counted", "missing")), "NoSuchKey");

  RawAnswer metrics = RawRequest(server_->admin_port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(metrics.status, 200) << metrics.header;
  for (const std::string& line : {
           std::string("ferry_oss_requests_total{operation=\"PutBucket\",code=\"Success\"} 1\n"),
           std::string("ferry_oss_requests_total{operation=\"PutObject\",code=\"Success\"} 1\n"),
           std::string("ferry_oss_requests_total{operation=\"GetObject\",code=\"Success\"} 1\n"),
           std::string("ferry_oss_requests_total{operation=\"GetObject\",code=\"NoSuchKey\"} 1\n"),
           std::string("ferry_oss_request_duration_seconds_count{operation=\"GetObject\"} 2\n"),
           "ferry_oss_received_bytes_total " + std::to_string(data.size()) + "\n",
           "ferry_oss_sent_bytes_total " + std::to_string(data.size()) + "\n",
       }) {
    EXPECT_NE(metrics.body.find(line), std::string::npos) << line << "in:\n" << metrics.body;
  }
  // The tenants' OSS listener has no /metrics: it is a bucket name there.
  RawAnswer on_oss = RawRequest(server_->oss_port(), "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_NE(on_oss.status, 200);
  EXPECT_EQ(on_oss.body.find("ferry_oss_requests_total"), std::string::npos) << on_oss.body;
}

TEST_P(OssEndpointTest, PutGetHeadDeleteAnObject) {
  for (bool v4 : {false, true}) {
    SCOPED_TRACE(v4 ? "V4" : "V1");
    OssClient client = Client(v4);
    ASSERT_TRUE(client.CreateBucket("objects").ok());
    const std::string data = Pattern(300000, 1);
    OssHttpResponse put = Put(client, "objects", "dir/a b+c.img", data,
                              {{"content-md5", Md5Base64(data)}, {"content-type", "application/x-raw"},
                               {"x-oss-meta-purpose", "test"}});
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(put.Header("etag"), QuotedMd5Etag(Md5::Of(data)));
    EXPECT_EQ(put.Header("x-oss-hash-crc64ecma"), std::to_string(Crc64(data)));

    OssHttpResponse got = Call(client, "GET", "objects", "dir/a b+c.img");
    ASSERT_EQ(got.status, 200);
    EXPECT_TRUE(got.body == data);
    EXPECT_EQ(got.Header("content-type"), "application/x-raw");
    EXPECT_EQ(got.Header("accept-ranges"), "bytes");
    EXPECT_EQ(got.Header("x-oss-meta-purpose"), "test");
    EXPECT_EQ(got.Header("x-oss-object-type"), "Normal");
    EXPECT_EQ(got.Header("x-oss-hash-crc64ecma"), std::to_string(Crc64(data)));

    OssHttpResponse head = Call(client, "HEAD", "objects", "dir/a b+c.img");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.Header("content-length"), std::to_string(data.size()));
    EXPECT_EQ(head.Header("etag"), put.Header("etag"));
    EXPECT_TRUE(head.body.empty());
    OssHttpResponse meta = Call(client, "HEAD", "objects", "dir/a b+c.img", {{"objectMeta", ""}});
    EXPECT_EQ(meta.status, 200);
    EXPECT_EQ(meta.Header("etag"), put.Header("etag"));

    OssHttpResponse deleted = Call(client, "DELETE", "objects", "dir/a b+c.img");
    EXPECT_EQ(deleted.status, 204);
    OssHttpResponse again = Call(client, "DELETE", "objects", "dir/a b+c.img");
    EXPECT_EQ(again.status, 204) << "deleting a missing object is fine";

    OssHttpResponse missing = Call(client, "GET", "objects", "dir/a b+c.img");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(Code(missing), "NoSuchKey");
    EXPECT_NE(missing.body.find("<RequestId>" + missing.Header("x-oss-request-id") + "</RequestId>"),
              std::string::npos);
    OssHttpResponse missing_head = Call(client, "HEAD", "objects", "dir/a b+c.img");
    EXPECT_EQ(missing_head.status, 404);
    EXPECT_TRUE(missing_head.body.empty());
    std::string err;
    ASSERT_TRUE(Base64Decode(missing_head.Header("x-oss-err"), &err));
    EXPECT_NE(err.find("<Code>NoSuchKey</Code>"), std::string::npos) << err;
    ASSERT_TRUE(client.DeleteObject("objects", "never").ok());
    EXPECT_EQ(Call(client, "DELETE", "objects", "").status, 204);
  }
}

TEST_P(OssEndpointTest, ContentMd5AndPayloadDigestsAreChecked) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("digests").ok());
  const std::string data = Pattern(5000, 2);
  OssHttpResponse bad = Put(client, "digests", "k", data, {{"content-md5", Md5Base64("other bytes")}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Code(bad), "InvalidDigest");
  OssHttpResponse malformed = Put(client, "digests", "k", data, {{"content-md5", "not base64!"}});
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(Code(malformed), "InvalidDigest");
  EXPECT_EQ(Call(client, "HEAD", "digests", "k").status, 404) << "nothing was published";

  OssClient v4 = Client(true);
  OssHttpResponse wrong_sha = Put(v4, "digests", "k", data, {{"x-oss-content-sha256", std::string(64, 'a')}});
  EXPECT_EQ(wrong_sha.status, 400);
  EXPECT_EQ(Code(wrong_sha), "InvalidDigest");
  OssHttpResponse right_sha = Put(v4, "digests", "k", data, {{"x-oss-content-sha256", ToHex(Sha256::Of(data))}});
  EXPECT_EQ(right_sha.status, 200) << right_sha.body;
}

TEST_P(OssEndpointTest, WrongKeysAndAnonymousRequestsAreRefused) {
  OssClient good = Client();
  ASSERT_TRUE(good.CreateBucket("guarded").ok());
  Put(good, "guarded", "k", "secret bytes");
  for (bool v4 : {false, true}) {
    OssClient wrong_secret = Client(v4, apitest::kKeyId, "not-the-secret");
    OssHttpResponse mismatch = Call(wrong_secret, "GET", "guarded", "k");
    EXPECT_EQ(mismatch.status, 403);
    EXPECT_EQ(Code(mismatch), "SignatureDoesNotMatch");
    EXPECT_NE(mismatch.body.find("<StringToSign>"), std::string::npos);
    OssClient unknown = Client(v4, "no-such-key", "x");
    OssHttpResponse invalid = Call(unknown, "GET", "guarded", "k");
    EXPECT_EQ(invalid.status, 403);
    EXPECT_EQ(Code(invalid), "InvalidAccessKeyId");
  }
  RawAnswer anonymous = RawRequest(server_->oss_port(), "GET /guarded/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(anonymous.status, 403);
  EXPECT_NE(anonymous.body.find("<Code>AccessDenied</Code>"), std::string::npos) << anonymous.body;
  EXPECT_NE(anonymous.header.find("x-oss-request-id"), std::string::npos);
  EXPECT_EQ(anonymous.body.find("secret bytes"), std::string::npos);
}

TEST_P(OssEndpointTest, AnotherAccountsBucketIsNotThere) {
  OssClient owner = Client();
  ASSERT_TRUE(owner.CreateBucket("owned").ok());
  Put(owner, "owned", "k", "owner's bytes");
  OssClient other = Client(false, kOtherKey, kOtherSecret);
  for (const char* method : {"GET", "HEAD", "DELETE"}) {
    OssHttpResponse answer = Call(other, method, "owned", "k");
    EXPECT_EQ(answer.status, 404) << method;
    if (std::string(method) != "HEAD") {
      EXPECT_EQ(Code(answer), "NoSuchBucket") << method;
    }
  }
  OssHttpResponse put = Put(other, "owned", "k", "intruder");
  EXPECT_EQ(put.status, 404);
  EXPECT_EQ(Code(put), "NoSuchBucket");
  OssHttpResponse list = Call(other, "GET", "owned", "");
  EXPECT_EQ(Code(list), "NoSuchBucket");
  OssHttpResponse take = Call(other, "PUT", "owned", "");
  EXPECT_EQ(take.status, 409);
  EXPECT_EQ(Code(take), "BucketAlreadyExists");
  auto theirs = other.ListBuckets();
  ASSERT_TRUE(theirs.ok());
  EXPECT_TRUE(theirs->empty());
  OssHttpResponse still = Call(owner, "GET", "owned", "k");
  EXPECT_EQ(still.body, "owner's bytes");
}

TEST_P(OssEndpointTest, RangesFollowOssRules) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("ranges").ok());
  const std::string data = Pattern(1000, 3);
  Put(client, "ranges", "obj", data);
  auto get = [&](const std::string& range, const std::string& behavior = "") {
    std::map<std::string, std::string> headers = {{"range", range}};
    if (!behavior.empty()) headers["x-oss-range-behavior"] = behavior;
    return Call(client, "GET", "ranges", "obj", {}, headers);
  };
  OssHttpResponse first = get("bytes=0-9");
  EXPECT_EQ(first.status, 206);
  EXPECT_EQ(first.body, data.substr(0, 10));
  EXPECT_EQ(first.Header("content-range"), "bytes 0-9/1000");
  EXPECT_EQ(first.Header("x-oss-hash-crc64ecma"), std::to_string(Crc64(data))) << "the whole object's";
  OssHttpResponse suffix = get("bytes=-5");
  EXPECT_EQ(suffix.status, 206);
  EXPECT_EQ(suffix.body, data.substr(995));
  OssHttpResponse open = get("bytes=990-");
  EXPECT_EQ(open.body, data.substr(990));
  EXPECT_EQ(open.Header("content-range"), "bytes 990-999/1000");
  OssHttpResponse last_byte = get("bytes=999-999");
  EXPECT_EQ(last_byte.status, 206);
  EXPECT_EQ(last_byte.body, data.substr(999));
  OssHttpResponse past = get("bytes=1000-");
  EXPECT_EQ(past.status, 200) << "OSS answers an unsatisfiable range with the whole object";
  EXPECT_EQ(past.body.size(), data.size());
  OssHttpResponse garbage = get("bytes=abc");
  EXPECT_EQ(garbage.status, 200);
  OssHttpResponse several = get("bytes=0-1,5-6");
  EXPECT_EQ(several.status, 206);
  EXPECT_EQ(several.body, data.substr(0, 2));
  OssHttpResponse standard_past = get("bytes=1000-", "standard");
  EXPECT_EQ(standard_past.status, 416);
  EXPECT_EQ(Code(standard_past), "InvalidRange");
  OssHttpResponse standard_clamped = get("bytes=900-5000", "standard");
  EXPECT_EQ(standard_clamped.status, 206);
  EXPECT_EQ(standard_clamped.Header("content-range"), "bytes 900-999/1000");
  EXPECT_EQ(standard_clamped.body, data.substr(900));
}

TEST_P(OssEndpointTest, ListingsPageWithPrefixDelimiterAndMarkers) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("listing").ok());
  for (const char* key : {"a/1", "a/2", "b/1", "c", "d"}) Put(client, "listing", key, key);
  OssHttpResponse v1 = Call(client, "GET", "listing", "", {{"delimiter", "/"}, {"max-keys", "2"}});
  EXPECT_EQ(v1.status, 200);
  EXPECT_NE(v1.body.find("<CommonPrefixes><Prefix>a/</Prefix></CommonPrefixes>"), std::string::npos) << v1.body;
  EXPECT_NE(v1.body.find("<IsTruncated>true</IsTruncated>"), std::string::npos);
  EXPECT_NE(v1.body.find("<NextMarker>b/</NextMarker>"), std::string::npos) << v1.body;
  EXPECT_NE(v1.body.find("<ListBucketResult>"), std::string::npos);
  OssHttpResponse page2 = Call(client, "GET", "listing", "", {{"delimiter", "/"}, {"marker", "b/"}});
  EXPECT_NE(page2.body.find("<Key>c</Key>"), std::string::npos);
  EXPECT_NE(page2.body.find("<Owner><ID>"), std::string::npos) << "ali-oss reads Owner.ID";

  auto all = client.ListObjects("listing", "", "");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->objects.size(), 5u);
  EXPECT_EQ(all->objects[0].key, "a/1");
  auto under_a = client.ListObjects("listing", "a/", "");
  ASSERT_TRUE(under_a.ok());
  EXPECT_EQ(under_a->objects.size(), 2u);

  OssHttpResponse v2 = Call(client, "GET", "listing", "", {{"list-type", "2"}, {"max-keys", "1"}});
  EXPECT_NE(v2.body.find("<KeyCount>1</KeyCount>"), std::string::npos) << v2.body;
  const std::string token = [&] {
    size_t s = v2.body.find("<NextContinuationToken>") + 23;
    return v2.body.substr(s, v2.body.find('<', s) - s);
  }();
  OssHttpResponse v2next =
      Call(client, "GET", "listing", "", {{"list-type", "2"}, {"max-keys", "1"}, {"continuation-token", token}});
  EXPECT_NE(v2next.body.find("<Key>a/2</Key>"), std::string::npos) << v2next.body;
  OssHttpResponse bad_max = Call(client, "GET", "listing", "", {{"max-keys", "5000"}});
  EXPECT_EQ(bad_max.status, 400);
  EXPECT_EQ(Code(bad_max), "InvalidArgument");

  OssHttpResponse deleted = Call(client, "POST", "listing", "", {{"delete", ""}}, {{"content-type", "application/xml"}},
                                 "<Delete><Quiet>false</Quiet><Object><Key>c</Key></Object>"
                                 "<Object><Key>d</Key></Object><Object><Key>nope</Key></Object></Delete>");
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_NE(deleted.body.find("<Deleted><Key>d</Key></Deleted>"), std::string::npos) << deleted.body;
  EXPECT_EQ(Call(client, "HEAD", "listing", "c").status, 404);
  OssHttpResponse malformed = Call(client, "POST", "listing", "", {{"delete", ""}}, {}, "<Delete><Object>");
  EXPECT_EQ(Code(malformed), "MalformedXML");
}

TEST_P(OssEndpointTest, MultipartUploadsCompleteAbortAndList) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("multi").ok());
  OssHttpResponse init = Call(client, "POST", "multi", "disk.img", {{"uploads", ""}},
                              {{"content-type", "application/octet-stream"}});
  ASSERT_EQ(init.status, 200) << init.body;
  const size_t s = init.body.find("<UploadId>") + 10;
  const std::string upload_id = init.body.substr(s, init.body.find('<', s) - s);
  const std::string part1 = Pattern(150000, 4), part2 = Pattern(1000, 5);
  auto upload = [&](int n, const std::string& data) {
    OssCall call;
    call.method = "PUT";
    call.bucket = "multi";
    call.key = "disk.img";
    call.query = {{"partNumber", std::to_string(n)}, {"uploadId", upload_id}};
    call.body = data;
    auto response = client.Send(call);
    EXPECT_TRUE(response.ok());
    return *response;
  };
  OssHttpResponse p1 = upload(1, part1);
  ASSERT_EQ(p1.status, 200) << p1.body;
  EXPECT_EQ(p1.Header("etag"), QuotedMd5Etag(Md5::Of(part1)));
  EXPECT_EQ(p1.Header("x-oss-hash-crc64ecma"), std::to_string(Crc64(part1)));
  OssHttpResponse p2 = upload(2, part2);
  ASSERT_EQ(p2.status, 200);

  OssHttpResponse parts = Call(client, "GET", "multi", "disk.img", {{"uploadId", upload_id}});
  EXPECT_NE(parts.body.find("<PartNumber>2</PartNumber>"), std::string::npos) << parts.body;
  OssHttpResponse uploads = Call(client, "GET", "multi", "", {{"uploads", ""}});
  EXPECT_NE(uploads.body.find("<UploadId>" + upload_id + "</UploadId>"), std::string::npos) << uploads.body;

  auto complete_body = [&](const std::string& e1, const std::string& e2) {
    return "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + e1 +
           "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" + e2 + "</ETag></Part></CompleteMultipartUpload>";
  };
  OssHttpResponse wrong = Call(client, "POST", "multi", "disk.img", {{"uploadId", upload_id}}, {},
                               complete_body(p1.Header("etag"), "\"00000000000000000000000000000000\""));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(Code(wrong), "InvalidPart");
  OssHttpResponse done = Call(client, "POST", "multi", "disk.img", {{"uploadId", upload_id}}, {},
                              complete_body(p1.Header("etag"), p2.Header("etag")));
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_NE(done.body.find("<CompleteMultipartUploadResult>"), std::string::npos);
  EXPECT_TRUE(done.Header("etag").ends_with("-2\""));
  EXPECT_EQ(done.Header("x-oss-hash-crc64ecma"), std::to_string(Crc64(part1 + part2)));
  OssHttpResponse whole = Call(client, "GET", "multi", "disk.img");
  EXPECT_TRUE(whole.body == part1 + part2);
  EXPECT_EQ(whole.Header("x-oss-object-type"), "Multipart");
  OssHttpResponse after = upload(3, part2);
  EXPECT_EQ(after.status, 404);
  EXPECT_EQ(Code(after), "NoSuchUpload");

  // A small first part, then an abort.
  OssHttpResponse init2 = Call(client, "POST", "multi", "small.img", {{"uploads", ""}});
  const size_t s2 = init2.body.find("<UploadId>") + 10;
  const std::string id2 = init2.body.substr(s2, init2.body.find('<', s2) - s2);
  OssCall part;
  part.method = "PUT";
  part.bucket = "multi";
  part.key = "small.img";
  part.query = {{"partNumber", "1"}, {"uploadId", id2}};
  part.body = "tiny";
  auto tiny = client.Send(part);
  part.query["partNumber"] = "2";
  auto tiny2 = client.Send(part);
  ASSERT_TRUE(tiny.ok() && tiny2.ok());
  OssHttpResponse small = Call(client, "POST", "multi", "small.img", {{"uploadId", id2}}, {},
                               complete_body(tiny->Header("etag"), tiny2->Header("etag")));
  EXPECT_EQ(small.status, 400);
  EXPECT_EQ(Code(small), "EntityTooSmall");
  EXPECT_EQ(Call(client, "DELETE", "multi", "small.img", {{"uploadId", id2}}).status, 204);
  OssHttpResponse aborted = Call(client, "GET", "multi", "small.img", {{"uploadId", id2}});
  EXPECT_EQ(Code(aborted), "NoSuchUpload");
  OssHttpResponse bad_part = Call(client, "PUT", "multi", "small.img", {{"partNumber", "10001"}, {"uploadId", id2}});
  EXPECT_EQ(bad_part.status, 400);
}

TEST_P(OssEndpointTest, PresignedUrlsWorkWithoutKeysUntilTheyExpire) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("shared").ok());
  const std::string data = Pattern(70000, 6);
  Put(client, "shared", "export/disk.raw", data);
  for (bool v4 : {false, true}) {
    SCOPED_TRACE(v4 ? "V4" : "V1");
    auto url = Client(v4).PresignGet("shared", "export/disk.raw", 600);
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    const std::string target = url->substr(Endpoint().size());
    RawAnswer fetched = RawRequest(server_->oss_port(),
                                   "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(fetched.status, 200) << fetched.body;
    EXPECT_TRUE(fetched.body == data);

    apitest::FakeClock past(SystemClock::Get().Now() - 7200);
    OssClientConfig config = Client(v4).config();
    auto stale = OssClient(config, past).PresignGet("shared", "export/disk.raw", 600);
    ASSERT_TRUE(stale.ok());
    RawAnswer expired =
        RawRequest(server_->oss_port(), "GET " + stale->substr(Endpoint().size()) +
                                            " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(expired.status, 403);
    EXPECT_NE(expired.body.find("<Code>AccessDenied</Code>"), std::string::npos) << expired.body;
    EXPECT_NE(expired.body.find("expired"), std::string::npos) << expired.body;
  }
}

TEST_P(OssEndpointTest, PutWithoutLengthIsRefusedAndChunkedIsAccepted) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("raw").ok());
  auto signed_head = [&](const std::string& key) {
    const std::string date = FormatHttpDate(SystemClock::Get().Now());
    const std::string signature = OssV1Signature(
        apitest::kSecret, OssV1StringToSign("PUT", {{"x-oss-date", date}}, date, OssV1CanonicalResource("raw", key, {})));
    return "PUT /raw/" + key + " HTTP/1.1\r\nHost: 127.0.0.1\r\nx-oss-date: " + date +
           "\r\nAuthorization: OSS " + apitest::kKeyId + ":" + signature + "\r\nConnection: close\r\n";
  };
  RawAnswer no_length = RawRequest(server_->oss_port(), signed_head("nolength") + "\r\n");
  EXPECT_EQ(no_length.status, 411);
  EXPECT_NE(no_length.body.find("MissingContentLength"), std::string::npos) << no_length.body;
  RawAnswer chunked = RawRequest(server_->oss_port(), signed_head("chunked") +
                                                          "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.status, 200) << chunked.body;
  EXPECT_EQ(Call(client, "GET", "raw", "chunked").body, "hello world");
}

// The Ferry extension x-ferry-zero-part: an all-zero part travels as its
// size, and is stored as if its zeros had been sent.
TEST_P(OssEndpointTest, ZeroPartsTravelAsTheirSizeWithoutABody) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("zeros").ok());
  OssHttpResponse init = Call(client, "POST", "zeros", "disk.img", {{"uploads", ""}});
  const size_t s = init.body.find("<UploadId>") + 10;
  const std::string upload_id = init.body.substr(s, init.body.find('<', s) - s);
  const std::string data = Pattern(200000, 11), zeros(200000, '\0');
  OssHttpResponse p1 = Call(client, "PUT", "zeros", "disk.img", {{"partNumber", "1"}, {"uploadId", upload_id}}, {},
                            data);
  ASSERT_EQ(p1.status, 200) << p1.body;
  OssHttpResponse p2 = Call(client, "PUT", "zeros", "disk.img", {{"partNumber", "2"}, {"uploadId", upload_id}},
                            {{"x-ferry-zero-part", "200000"}});
  ASSERT_EQ(p2.status, 200) << p2.body;
  EXPECT_EQ(p2.Header("etag"), QuotedMd5Etag(Md5::Of(zeros)));
  EXPECT_EQ(p2.Header("x-oss-hash-crc64ecma"), std::to_string(Crc64(zeros)));

  // Refusals are OSS errors: too large, not a size, a body with it.
  auto refused = [&](const std::string& size, const std::string& body) {
    return Call(client, "PUT", "zeros", "disk.img", {{"partNumber", "3"}, {"uploadId", upload_id}},
                {{"x-ferry-zero-part", size}}, body);
  };
  OssHttpResponse too_large = refused("5368709121", "");
  EXPECT_EQ(too_large.status, 400);
  EXPECT_EQ(Code(too_large), "EntityTooLarge");
  EXPECT_NE(too_large.body.find("<Error>"), std::string::npos) << too_large.body;
  for (const char* bad : {"0", "-5", "12abc"}) {
    OssHttpResponse r = refused(bad, "");
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(Code(r), "InvalidArgument") << bad;
  }
  OssHttpResponse with_body = refused("4", "abcd");
  EXPECT_EQ(with_body.status, 400);
  EXPECT_EQ(Code(with_body), "InvalidArgument");
  EXPECT_NE(with_body.body.find("<Code>InvalidArgument</Code>"), std::string::npos) << with_body.body;
  EXPECT_NE(with_body.body.find("empty body"), std::string::npos) << with_body.body;

  const std::string body = "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>" + p1.Header("etag") +
                           "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>" + p2.Header("etag") +
                           "</ETag></Part></CompleteMultipartUpload>";
  OssHttpResponse done = Call(client, "POST", "zeros", "disk.img", {{"uploadId", upload_id}}, {}, body);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.Header("etag"), MultipartEtag({Md5::Of(data), Md5::Of(zeros)}));
  OssHttpResponse whole = Call(client, "GET", "zeros", "disk.img");
  EXPECT_TRUE(whole.body == data + zeros);
}

// A sparse 1 GiB file: only the parts holding data are sent, the object is
// whole (its CRC-64 is the file's) and stays sparse on the server.
TEST_P(OssEndpointTest, ASparseFileUploadSendsOnlyItsDataParts) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("sparse").ok());
  const uint64_t kSize = uint64_t{1} << 30, kPart = 16 << 20;
  const std::string local = dir_ + "/sparse.img";
  const std::string head = Pattern(1 << 20, 12), middle = Pattern(1 << 20, 13);
  {
    UniqueFd fd(::open(local.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(kSize)), 0);
    ASSERT_EQ(::pwrite(fd.get(), head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
    ASSERT_EQ(::pwrite(fd.get(), middle.data(), middle.size(), kSize / 2), static_cast<ssize_t>(middle.size()));
    // Written zeros (a data extent that reads as zeros) are found too.
    const std::string zeros(kPart, '\0');
    ASSERT_EQ(::pwrite(fd.get(), zeros.data(), zeros.size(), 3 * kPart), static_cast<ssize_t>(zeros.size()));
  }
  uint64_t done = 0, total = 0;
  Status up = client.UploadFile(local, "sparse", "disk.img", "", [&](uint64_t d, uint64_t t) {
    done = d;
    total = t;
  }, kPart);
  ASSERT_TRUE(up.ok()) << up.ToString();
  EXPECT_EQ(done, 2 * kPart) << "two parts hold data";
  EXPECT_EQ(total, 2 * kPart);
  uint64_t crc = Crc64Update(0, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(head.data()), head.size()));
  crc = Crc64ExtendZeros(crc, kSize / 2 - head.size());
  crc = Crc64Update(crc, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(middle.data()), middle.size()));
  crc = Crc64ExtendZeros(crc, kSize / 2 - middle.size());
  Result<OssHttpResponse> info = client.HeadObject("sparse", "disk.img");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->Header("x-oss-hash-crc64ecma"), std::to_string(crc));
  EXPECT_EQ(info->Header("content-length"), std::to_string(kSize));
  // Only the data parts are stored (on S3, the zero parts are lengths in
  // the object's list of parts).
  Result<uint64_t> stored = store_->ObjectStoredBytes(apitest::kAccountId, "sparse", "disk.img");
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_LE(*stored, 2 * kPart);
  if (!OnFiles()) return;
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/oss/sparse/disk.img").c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{8} << 20) << "the zeros were stored as holes";
}

TEST_P(OssEndpointTest, CopyObjectAndFileTransfersRoundTrip) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("files").ok());
  const std::string data = Pattern(3 * 1024 * 1024 + 123, 7);
  const std::string local = dir_ + "/local.img";
  std::ofstream(local, std::ios::binary) << data;
  const std::string checkpoint = dir_ + "/upload.checkpoint";
  uint64_t last_progress = 0;
  Status up = client.UploadFile(local, "files", "img/disk.img", checkpoint,
                                [&](uint64_t done, uint64_t total) {
                                  EXPECT_EQ(total, data.size());
                                  last_progress = done;
                                },
                                1 << 20);
  ASSERT_TRUE(up.ok()) << up.ToString();
  EXPECT_EQ(last_progress, data.size());
  EXPECT_FALSE(std::filesystem::exists(checkpoint)) << "a finished upload leaves no checkpoint";
  auto head = client.HeadObject("files", "img/disk.img");
  ASSERT_TRUE(head.ok());
  EXPECT_TRUE(head->Header("etag").ends_with("-4\""));

  OssHttpResponse copied = Call(client, "PUT", "files", "copy.img", {},
                                {{"x-oss-copy-source", "/files/img/disk.img"}});
  EXPECT_EQ(copied.status, 200) << copied.body;
  const std::string back = dir_ + "/back.img";
  Status down = client.DownloadFile("files", "copy.img", back, dir_ + "/down.checkpoint", nullptr, 1 << 20);
  ASSERT_TRUE(down.ok()) << down.ToString();
  std::ifstream in(back, std::ios::binary);
  std::string read((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(read == data);
}

// An upload interrupted after its first part continues from the checkpoint:
// the part the checkpoint names is not sent again. (Here that part was sent
// with other bytes, so the finished object shows which part was reused.)
TEST_P(OssEndpointTest, UploadsResumeFromTheirCheckpoint) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("resume").ok());
  const uint64_t part = 1 << 20;
  const std::string data = Pattern(2 * part + 100, 8);
  const std::string local = dir_ + "/resume.img";
  std::ofstream(local, std::ios::binary) << data;
  OssHttpResponse init = Call(client, "POST", "resume", "disk.img", {{"uploads", ""}});
  const size_t s = init.body.find("<UploadId>") + 10;
  const std::string upload_id = init.body.substr(s, init.body.find('<', s) - s);
  const std::string marker = Pattern(part, 9);
  OssCall first;
  first.method = "PUT";
  first.bucket = "resume";
  first.key = "disk.img";
  first.query = {{"partNumber", "1"}, {"uploadId", upload_id}};
  first.body = marker;
  auto sent = client.Send(first);
  ASSERT_TRUE(sent.ok() && sent->status == 200);
  struct stat st {};
  ASSERT_EQ(::stat(local.c_str(), &st), 0);
  const int64_t mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  const std::string checkpoint = dir_ + "/resume.checkpoint";
  nlohmann::json state = {{"v", 1},          {"bucket", "resume"}, {"key", "disk.img"}, {"size", data.size()},
                          {"mtime_ns", mtime_ns}, {"part_bytes", part},  {"upload_id", upload_id},
                          {"parts", {{"1", sent->Header("etag")}}}};
  std::ofstream(checkpoint) << state.dump();
  std::vector<uint64_t> progress;
  Status resumed = client.UploadFile(local, "resume", "disk.img", checkpoint,
                                     [&](uint64_t done, uint64_t) { progress.push_back(done); }, part);
  ASSERT_TRUE(resumed.ok()) << resumed.ToString();
  // Parts 2 and 3 go at once: the first call reports the checkpoint's part
  // and whichever of them came back first.
  ASSERT_GE(progress.size(), 2u);
  EXPECT_TRUE(progress.front() == 2 * part || progress.front() == part + 100) << progress.front();
  EXPECT_EQ(progress.back(), data.size());
  OssHttpResponse whole = Call(client, "GET", "resume", "disk.img");
  EXPECT_TRUE(whole.body == marker + data.substr(part)) << "part 1 came from the checkpoint";
  EXPECT_FALSE(std::filesystem::exists(checkpoint));
}

// Keys with control characters (or bytes that are not UTF-8) are refused at
// the edge, before a byte is stored or a line logged with them.
TEST_P(OssEndpointTest, KeysWithControlCharactersAreRefused) {
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("names").ok());
  for (const char* key : {"a\nb", "evil\r\n2026-01-01 info forged", "x\x1b[2J", "bad\xff", "del\x7f"}) {
    OssHttpResponse refused = Put(client, "names", key, "bytes");
    EXPECT_EQ(refused.status, 400) << key;
    EXPECT_EQ(Code(refused), "InvalidObjectName") << key;
  }
  EXPECT_EQ(Put(client, "names", "images/ok-\xE4\xB8\xAD.raw", "bytes").status, 200);
  auto listed = client.ListObjects("names", "", "");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->objects.size(), 1u);
  EXPECT_EQ(listed->objects[0].key, "images/ok-\xE4\xB8\xAD.raw");
}

// A failure deep in the object store (the bucket's ".uploads" folder is a
// file, so no put can start) reaches the client without the host path.
TEST_P(OssEndpointTest, ErrorsDoNotShowHostPaths) {
  if (!OnFiles()) GTEST_SKIP() << "plants a file in the data directory's bucket folder";
  OssClient client = Client();
  ASSERT_TRUE(client.CreateBucket("paths").ok());
  ASSERT_EQ(Put(client, "paths", "x", "first").status, 200);
  std::filesystem::remove_all(dir_ + "/oss/paths/.uploads");
  std::ofstream(dir_ + "/oss/paths/.uploads") << "not a folder";
  OssHttpResponse failed = Put(client, "paths", "y", "second");
  EXPECT_GE(failed.status, 500);
  EXPECT_EQ(failed.body.find(dir_), std::string::npos) << failed.body;
  EXPECT_FALSE(Code(failed).empty());
}

}  // namespace
}  // namespace ferry
