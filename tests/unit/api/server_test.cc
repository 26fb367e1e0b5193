#include "api/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>

#include "api/client.h"
#include "common/ids.h"
#include "unit/api/api_fakes.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using apitest::FakeAccounts;

ActionTable TestActions() {
  ActionTable table;
  table["Echo"] = [](ActionContext& ctx) -> Result<nlohmann::json> {
    return nlohmann::json{{"Value", ctx.params.GetOr("Value", "")}, {"Account", ctx.caller.account_id}};
  };
  table["Fail"] = [](ActionContext&) -> Result<nlohmann::json> {
    return NotFound("InvalidImageId.NotFound", "The specified ImageId does not exist.");
  };
  return table;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/ferry-server-test-" + RandomHex(8);
    std::filesystem::create_directories(dir_ + "/oss");
    storage_ = std::make_unique<ObjectStorage>(dir_ + "/oss", apitest::kAccountId);
    ServerConfig config;
    config.port = 0;
    config.threads = 2;
    config.host_id = "ecs.test";
    auto server = StartServer(config, TestActions(), regions_, accounts_, *storage_, SystemClock::Get());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }

  ClientConfig Config(bool v3, const std::string& secret = apitest::kSecret) {
    ClientConfig c;
    c.endpoint = "http://127.0.0.1:" + std::to_string(server_->port());
    c.access_key_id = apitest::kKeyId;
    c.access_key_secret = secret;
    c.use_v3 = v3;
    return c;
  }

  std::string dir_;
  FakeAccounts accounts_;
  RegionSet regions_;
  std::unique_ptr<ObjectStorage> storage_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, V1AndV3CallsRoundTrip) {
  const std::string value = "desc with spaces & symbols *~ +100% \xE4\xB8\xAD";
  for (bool v3 : {false, true}) {
    EcsClient client(Config(v3));
    auto body = client.CallOrError("Echo", {{"Value", value}, {"RegionId", "cn-hangzhou"}});
    ASSERT_TRUE(body.ok()) << (v3 ? "v3: " : "v1: ") << body.status().ToString();
    EXPECT_EQ((*body)["Value"], value);
    EXPECT_EQ((*body)["Account"], apitest::kAccountId);
  }
}

TEST_F(ServerTest, EcsErrorsBecomeStatuses) {
  EcsClient client(Config(true));
  auto raw = client.Call("Fail", {});
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(raw->http_status, 404);
  EXPECT_EQ(raw->body["HostId"], "ecs.test");

  auto failed = client.CallOrError("Fail", {});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kNotFound);
  EXPECT_EQ(failed.status().reason(), "InvalidImageId.NotFound");
  EXPECT_TRUE(failed.status().message().starts_with(
      "InvalidImageId.NotFound: The specified ImageId does not exist. ("));

  EcsClient wrong(Config(false, "not-the-secret"));
  auto denied = wrong.CallOrError("Echo", {});
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().reason(), "SignatureDoesNotMatch");
  EXPECT_EQ(denied.status().code(), Code::kUnauthenticated);
}

TEST_F(ServerTest, HealthMetricsAndUnknownPath) {
  EcsClient client(Config(false));
  ASSERT_TRUE(client.CallOrError("Echo", {}).ok());
  auto health = client.Get("/healthz");
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(*health, "ok\n");
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->find("ferry_api_requests_total{action=\"Echo\",code=\"Success\"} 1"), std::string::npos);
  EXPECT_FALSE(client.Get("/nope").ok());
}

TEST_F(ServerTest, OversizedRpcBodyIsRejected) {
  EcsClient client(Config(false));
  auto r = client.Call("Echo", {{"Value", std::string(2 << 20, 'x')}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->http_status, 413);
  EXPECT_EQ(r->body["Code"], "InvalidParameter");
}

// Writes `data` at `offset` of `path`, leaving holes elsewhere.
void WriteAt(const std::string& path, uint64_t offset, const std::string& data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(data.size()));
  close(fd);
}

std::string ReadAt(const std::string& path, uint64_t offset, size_t n) {
  std::string out(n, '\0');
  int fd = open(path.c_str(), O_RDONLY);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(pread(fd, out.data(), n, static_cast<off_t>(offset)), static_cast<ssize_t>(n));
  close(fd);
  return out;
}

std::string Pattern(size_t n, char seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + (i * 7) % 251);
  return s;
}

TEST_F(ServerTest, UploadFileSendsOnlyDataExtents) {
  const std::string local = dir_ + "/disk.raw";
  const uint64_t kSize = 200ull << 20;
  const std::string head = Pattern(1 << 20, 'a');
  const std::string middle = Pattern(2 << 20, 'q');
  const uint64_t kMiddle = 100ull << 20;
  WriteAt(local, 0, head);
  WriteAt(local, kMiddle, middle);
  ASSERT_EQ(truncate(local.c_str(), static_cast<off_t>(kSize)), 0);

  EcsClient client(Config(true));
  uint64_t last_sent = 0, last_total = 0;
  Status st = client.UploadFile("my-bucket", "images/disk.raw", local, [&](uint64_t sent, uint64_t total) {
    last_sent = sent;
    last_total = total;
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  // The file system may round extents to its block size, never to the whole file.
  EXPECT_EQ(last_sent, last_total);
  EXPECT_GE(last_total, head.size() + middle.size());
  EXPECT_LT(last_total, 16ull << 20);

  auto path = storage_->PathForRead(apitest::kAccountId, "my-bucket", "images/disk.raw");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  struct stat sb {};
  ASSERT_EQ(stat(path->c_str(), &sb), 0);
  EXPECT_EQ(static_cast<uint64_t>(sb.st_size), kSize);
  EXPECT_EQ(ReadAt(*path, 0, head.size()), head);
  EXPECT_EQ(ReadAt(*path, kMiddle, middle.size()), middle);
  EXPECT_EQ(ReadAt(*path, 50ull << 20, 4096), std::string(4096, '\0'));
}

// A raw signed PUT whose header digest does not match the body.
TEST_F(ServerTest, UploadPartWithWrongDigestIsRejected) {
  const std::string body = "hello world";
  const std::string path = "/oss/my-bucket/obj";
  std::map<std::string, std::string> query = {{"offset", "0"}, {"uploadId", "u1"}};
  std::map<std::string, std::string> headers = {
      {"host", "127.0.0.1:" + std::to_string(server_->port())},
      {"x-acs-date", FormatTimeSeconds(SystemClock::Get().Now())},
      {"x-acs-signature-nonce", RandomHex(16)},
      {"x-acs-content-sha256", Sha256Hex("something else")},
  };
  V3Request canonical{
      "PUT", path, query, headers, V3SignableHeaders(headers), headers["x-acs-content-sha256"]};
  V3Authorization auth{apitest::kKeyId, canonical.signed_headers,
                       V3Signature(apitest::kSecret, V3StringToSign(V3CanonicalRequest(canonical)))};

  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  http::request<http::string_body> req{http::verb::put, path + "?offset=0&uploadId=u1", 11};
  for (const auto& [k, v] : headers) req.set(k, v);
  req.set("authorization", FormatV3Authorization(auth));
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  EXPECT_EQ(res.result_int(), 400u);
  auto json = nlohmann::json::parse(res.body());
  EXPECT_EQ(json["Code"], "InvalidParameter");
  EXPECT_NE(json["Message"].get<std::string>().find(Sha256Hex(body)), std::string::npos);

  // The same request unsigned is refused before the body is read.
  http::request<http::string_body> anon{http::verb::put, path + "?offset=0&uploadId=u1", 11};
  anon.body() = body;
  anon.prepare_payload();
  beast::tcp_stream stream2(ioc);
  stream2.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  http::write(stream2, anon);
  http::response<http::string_body> res2;
  beast::flat_buffer buffer2;
  http::read(stream2, buffer2, res2);
  EXPECT_EQ(res2.result_int(), 400u);
  EXPECT_EQ(nlohmann::json::parse(res2.body())["Code"], "IncompleteSignature");
}

TEST_F(ServerTest, StopClosesIdleKeepAliveConnections) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  http::request<http::empty_body> req{http::verb::get, "/healthz", 11};
  req.keep_alive(true);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  ASSERT_EQ(res.result_int(), 200u);
  ASSERT_TRUE(res.keep_alive());

  server_->Stop();
  // The idle connection was closed rather than waited for.
  http::response<http::string_body> none;
  beast::error_code ec;
  http::read(stream, buffer, none, ec);
  EXPECT_TRUE(ec);
  EcsClient client(Config(false));
  EXPECT_FALSE(client.Get("/healthz").ok());
  server_->Stop();  // idempotent
}

}  // namespace
}  // namespace ferry
