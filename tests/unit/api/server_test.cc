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
    // host_id left empty: Ferry's own listener authority.
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
  EXPECT_EQ(raw->body["HostId"], "127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(raw->body["Recommend"], "");

  auto failed = client.CallOrError("Fail", {});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Code::kNotFound);
  EXPECT_EQ(failed.status().reason(), "InvalidImageId.NotFound");
  // The code is the reason; the message is the server's, with its RequestId.
  EXPECT_TRUE(failed.status().message().starts_with("The specified ImageId does not exist. (RequestId "))
      << failed.status().message();

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
  for (const char* path : {"/", "/?Action=Echo&Version=2014-05-26", "/ferry/peer/v1/regions/cn-test", "/nope"}) {
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
    EXPECT_EQ(got.json["HostId"], "127.0.0.1:" + std::to_string(server_->port()));
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
