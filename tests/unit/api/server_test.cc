#include "objects/fs_object_store.h"
#include "api/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/client.h"
#include "api/errors.h"
#include "common/ids.h"
#include "unit/api/api_fakes.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using apitest::FakeAccounts;

asio::ip::tcp::endpoint Loopback(uint16_t port) {
  return asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port);
}

// One request written on a raw TCP connection and everything the server
// sends back until it closes (or 10 s pass).
struct RawExchange {
  int status = 0;
  std::string header;   // status line and fields
  std::string body;     // every byte after the header
  nlohmann::json json;  // the body parsed, when it is JSON
  bool closed = false;  // the server closed the connection
};

RawExchange Exchange(uint16_t port, const std::string& request, bool half_close = false) {
  RawExchange out;
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(Loopback(port));
  stream.expires_after(std::chrono::seconds(10));
  beast::error_code ec;
  asio::write(stream.socket(), asio::buffer(request), ec);
  if (half_close) stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  std::string received;
  char chunk[4096];
  for (;;) {
    size_t n = stream.read_some(asio::buffer(chunk), ec);
    received.append(chunk, n);
    if (ec) {
      out.closed = ec == asio::error::eof || ec == asio::error::connection_reset;
      break;
    }
  }
  size_t end = received.find("\r\n\r\n");
  out.header = received.substr(0, end == std::string::npos ? received.size() : end + 4);
  out.body = end == std::string::npos ? "" : received.substr(end + 4);
  if (out.header.starts_with("HTTP/1.1 ")) out.status = std::atoi(out.header.c_str() + 9);
  out.json = nlohmann::json::parse(out.body, nullptr, /*allow_exceptions=*/false);
  if (!out.json.is_object()) out.json = nlohmann::json::object({{"RequestId", ""}, {"Code", ""}});
  return out;
}

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
    storage_ = std::make_unique<FsObjectStore>(dir_ + "/oss", apitest::kAccountId);
    ServerConfig config;
    config.port = 0;
    config.admin_listen_address = "127.0.0.1";
    config.admin_port = 0;
    config.threads = 2;
    config.host_id = "ecs.test";
    auto server = StartServer(config, TestActions(), regions_, accounts_, *storage_, SystemClock::Get());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    ASSERT_NE(server_->port(), 0);
    ASSERT_NE(server_->admin_port(), 0);
    ASSERT_NE(server_->admin_port(), server_->port());
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
  ClientConfig AdminConfig() {
    ClientConfig c = Config(false);
    c.endpoint = "http://127.0.0.1:" + std::to_string(server_->admin_port());
    return c;
  }

  std::string dir_;
  FakeAccounts accounts_;
  RegionSet regions_;
  std::unique_ptr<FsObjectStore> storage_;
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

TEST_F(ServerTest, HealthAndMetricsOnlyOnTheAdminListener) {
  EcsClient client(Config(false));
  ASSERT_TRUE(client.CallOrError("Echo", {}).ok());
  EcsClient admin(AdminConfig());
  auto health = admin.Get("/healthz");
  ASSERT_TRUE(health.ok()) << health.status().ToString();
  EXPECT_EQ(*health, "ok\n");
  auto metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_NE(metrics->find("ferry_api_requests_total{action=\"Echo\",code=\"Success\"} 1"), std::string::npos);
  EXPECT_FALSE(client.Get("/nope").ok());

  // The tenant listener: 404 for both, with an ECS body, and not counted.
  for (const char* path : {"/metrics", "/healthz"}) {
    RawExchange tenant = Exchange(
        server_->port(), std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(tenant.status, 404) << path;
    EXPECT_EQ(tenant.json["Code"], "InvalidAction.NotFound") << path;
  }
  // The admin listener serves nothing else: no API, no uploads, no peer protocol.
  for (const char* path : {"/", "/?Action=Echo&Version=2014-05-26", "/oss/my-bucket/obj?uploadId=u1",
                           "/ferry/peer/v1/regions/cn-test", "/nope"}) {
    RawExchange other =
        Exchange(server_->admin_port(),
                 std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(other.status, 404) << path;
  }
  metrics = admin.Get("/metrics");
  ASSERT_TRUE(metrics.ok());
  // Only GET /nope on the tenant listener counted.
  EXPECT_NE(metrics->find("ferry_api_requests_total{action=\"unknown\",code=\"InvalidAction.NotFound\"} 1\n"),
            std::string::npos)
      << *metrics;
}

// HEAD answers carry the GET answer's headers and no body, on every route,
// so a kept-alive connection parses the next answer (Node's HTTP client
// fails on the stray body otherwise).
TEST_F(ServerTest, HeadNeverCarriesABody) {
  struct Route {
    const char* path;
    bool admin;
    int head_status;
  };
  const Route routes[] = {
      {"/", false, 403},  // the RPC API takes GET and POST only
      {"/?Action=Echo&Version=2014-05-26", false, 403},
      {"/ferry/peer/v1/regions/cn-test", false, 403},  // no cluster key configured
      {"/nope", false, 404},
      {"/metrics", false, 404},
      {"/healthz", false, 404},
      {"/metrics", true, 200},
      {"/healthz", true, 200},
      {"/nope", true, 404},
  };
  for (const Route& route : routes) {
    SCOPED_TRACE(std::string(route.admin ? "admin " : "tenant ") + route.path);
    asio::io_context ioc;
    beast::tcp_stream stream(ioc);
    stream.connect(Loopback(route.admin ? server_->admin_port() : server_->port()));
    stream.expires_after(std::chrono::seconds(10));
    beast::flat_buffer buffer;

    http::request<http::empty_body> head{http::verb::head, route.path, 11};
    head.set(http::field::host, "x");
    http::write(stream, head);
    http::response_parser<http::string_body> head_parser;
    head_parser.skip(true);  // a HEAD answer has no body, whatever Content-Length says
    http::read(stream, buffer, head_parser);
    const auto& head_res = head_parser.get();
    EXPECT_EQ(head_res.result_int(), static_cast<unsigned>(route.head_status));
    ASSERT_TRUE(head_res.has_content_length());
    EXPECT_GT(std::stoull(std::string(head_res[http::field::content_length])), 0u);
    ASSERT_TRUE(head_res.keep_alive());

    // The next answer on the same connection must start where the HEAD
    // answer's header ended.
    http::request<http::empty_body> get{http::verb::get, route.path, 11};
    get.set(http::field::host, "x");
    http::write(stream, get);
    http::response<http::string_body> get_res;
    beast::error_code ec;
    http::read(stream, buffer, get_res, ec);
    ASSERT_FALSE(ec) << ec.message();
    EXPECT_EQ(get_res.body().size(), std::stoull(std::string(get_res[http::field::content_length])));
    if (route.admin && std::string_view(route.path) == "/healthz") {
      EXPECT_EQ(head_res[http::field::content_length], "3");
      EXPECT_EQ(get_res.body(), "ok\n");
    }
    if (route.head_status == 404) {
      // Same answer, same length: the HEAD's Content-Length is the GET body's.
      EXPECT_EQ(head_res[http::field::content_length], get_res[http::field::content_length]);
    }
  }
}

// An upload route refuses HEAD and closes the connection: nothing but the
// header comes before the close.
TEST_F(ServerTest, HeadOnAnUploadRouteCarriesNoBody) {
  RawExchange got =
      Exchange(server_->port(), "HEAD /oss/my-bucket/obj?uploadId=u1&offset=0 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_GE(got.status, 400);
  EXPECT_NE(got.header.find("Content-Length: "), std::string::npos) << got.header;
  EXPECT_EQ(got.body, "") << "bytes after the header of a HEAD answer";
}

TEST_F(ServerTest, MalformedRequestsGetAnAnswerThenAClose) {
  struct Case {
    const char* name;
    std::string request;
    int status;
  };
  const std::string big_header = "X-Filler: " + std::string(kMaxHeaderBytes, 'a') + "\r\n";
  const Case cases[] = {
      {"bad chunk size",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400},
      {"chunk without its CRLF",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", 400},
      {"oversized header", "GET / HTTP/1.1\r\nHost: x\r\n" + big_header + "\r\n", 431},
      {"NUL in the target", std::string("GET /a") + '\0' + "b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"control character in the target",
       "GET /oss/my-bucket/a\x01"
       "b HTTP/1.1\r\nHost: x\r\n\r\n",
       400},
      {"escape in the target", "GET /?Action=\x1b[31m HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"byte above ASCII in the target", "GET /oss/my-bucket/\xff HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"header line without a colon", "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400},
      {"two Content-Lengths",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\nabc", 413},
      {"chunked body too large",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n" +
           std::string(1 << 16, 'a'),
       413},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RawExchange got = Exchange(server_->port(), c.request);
    EXPECT_EQ(got.status, c.status) << got.header << got.body;
    // An ECS error body, and then the server closed the connection.
    EXPECT_FALSE(got.json["RequestId"].get<std::string>().empty()) << got.body;
    EXPECT_EQ(got.json["HostId"], "ecs.test");
    EXPECT_FALSE(got.json["Code"].get<std::string>().empty());
    EXPECT_NE(got.header.find("Connection: close"), std::string::npos) << got.header;
    EXPECT_TRUE(got.closed);
  }
  // A request cut short is no error of the client's to report: just closed.
  RawExchange cut = Exchange(server_->port(), "GET / HTTP/1.1\r\nHost: x\r\n", /*half_close=*/true);
  EXPECT_EQ(cut.header, "");
  EXPECT_TRUE(cut.closed);
  // And the server still answers.
  EcsClient client(Config(false));
  EXPECT_TRUE(client.CallOrError("Echo", {}).ok());
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

// A failure deep in the object store (the bucket's ".uploads" folder is a
// file, so no upload can start) reaches the caller as an ECS error without
// the host path; the log keeps the path, next to the RequestId.
TEST_F(ServerTest, ErrorsDoNotShowHostPaths) {
  AddRedactedHostPath(dir_);
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("server-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  const std::string local = dir_ + "/small.raw";
  WriteAt(local, 0, "some bytes");
  EcsClient client(Config(true));
  Status first = client.UploadFile("my-bucket", "x", local, {});
  std::filesystem::remove_all(dir_ + "/oss/my-bucket/.uploads");
  WriteAt(dir_ + "/oss/my-bucket/.uploads", 0, "not a folder");
  Status second = client.UploadFile("my-bucket", "x/y", local, {});
  spdlog::set_default_logger(previous);
  ASSERT_TRUE(first.ok()) << first.ToString();
  ASSERT_FALSE(second.ok());
  // The client names its local file first; then comes the server's answer.
  const size_t answer = second.message().find("my-bucket/x/y: ");
  ASSERT_NE(answer, std::string::npos) << second.ToString();
  const std::string message = second.message().substr(answer + 15);
  EXPECT_EQ(message.find(dir_), std::string::npos) << message;
  EXPECT_EQ(message.find("oss/my-bucket"), std::string::npos) << message;
  // "Code: Message (RequestId)": the operator finds the detail by the id.
  const size_t open = message.rfind('(');
  ASSERT_NE(open, std::string::npos) << message;
  const std::string request_id = message.substr(open + 1, message.size() - open - 2);
  const std::string logged = log.str();
  const size_t line = logged.find("request_id=" + request_id);
  ASSERT_NE(line, std::string::npos) << request_id << "\n" << logged;
  const std::string log_line = logged.substr(line, logged.find('\n', line) - line);
  EXPECT_NE(log_line.find(dir_ + "/oss/my-bucket/"), std::string::npos) << log_line;
}

// Object names with control characters are refused at the edge, before a
// byte is stored or a line logged with them.
TEST_F(ServerTest, ObjectNamesWithControlCharactersAreRefused) {
  const std::string local = dir_ + "/small.raw";
  WriteAt(local, 0, "some bytes");
  EcsClient client(Config(true));
  for (const char* object :
       {"a\nb", "evil\r\n2026-01-01 info forged", "x\x1b[2J", "bad\xff", "nul-free\x7f"}) {
    Status st = client.UploadFile("my-bucket", object, local, {});
    EXPECT_EQ(st.reason(), "InvalidOSSObject.Malformed") << st.ToString();
  }
  EXPECT_TRUE(client.UploadFile("my-bucket", "images/ok-\xE4\xB8\xAD.raw", local, {}).ok());
}

TEST_F(ServerTest, StopClosesIdleKeepAliveConnections) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port()));
  http::request<http::empty_body> req{http::verb::get, "/?Action=Echo&Version=2014-05-26", 11};
  req.keep_alive(true);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  ASSERT_EQ(res.result_int(), 400u);  // unsigned; the connection stays
  ASSERT_TRUE(res.keep_alive());

  server_->Stop();
  // The idle connection was closed rather than waited for.
  http::response<http::string_body> none;
  beast::error_code ec;
  http::read(stream, buffer, none, ec);
  EXPECT_TRUE(ec);
  EcsClient admin(AdminConfig());
  EXPECT_FALSE(admin.Get("/healthz").ok());
  server_->Stop();  // idempotent
}

}  // namespace
}  // namespace ferry
