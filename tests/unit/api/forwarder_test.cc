#include "api/forwarder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// What the test server received.
struct Seen {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// How the test server answers one request.
struct Reply {
  enum class Kind { kRespond, kHang, kDrop } kind = Kind::kRespond;
  int status = 200;
  std::string content_type = "application/json;charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body = "{}";
  // Close the connection right after answering while still announcing
  // keep-alive, as a server whose idle timeout fires does.
  bool close_after = false;
};

// A loopback HTTP/1.1 server on an ephemeral port, run by one thread.
class TestServer {
 public:
  explicit TestServer(std::function<Reply(const Seen&)> handler)
      : handler_(std::move(handler)), acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~TestServer() {
    ioc_.stop();
    thread_.join();
  }

  uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  int connections() const { return connections_.load(); }
  std::vector<Seen> seen() const {
    std::lock_guard<std::mutex> lock(mu_);
    return seen_;
  }

 private:
  struct Session : std::enable_shared_from_this<Session> {
    Session(tcp::socket s, TestServer* owner) : socket(std::move(s)), server(owner) {}

    void Read() {
      request = {};
      http::async_read(socket, buffer, request, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (!ec) self->Answer();
      });
    }

    void Answer() {
      Seen seen{std::string(request.method_string()), std::string(request.target()), {}, request.body()};
      for (const auto& field : request) {
        std::string name(field.name_string());
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        seen.headers[name] = std::string(field.value());
      }
      Reply reply = server->Record(seen);
      if (reply.kind == Reply::Kind::kHang) {
        server->Keep(shared_from_this());
        return;
      }
      if (reply.kind == Reply::Kind::kDrop) {
        beast::error_code ignored;
        socket.close(ignored);
        return;
      }
      response = {static_cast<http::status>(reply.status), 11};
      response.set(http::field::content_type, reply.content_type);
      response.set(http::field::server, "owner");
      for (const auto& [name, value] : reply.headers) response.set(name, value);
      response.body() = reply.body;
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      close_after = reply.close_after;
      http::async_write(socket, response, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return;
        if (self->close_after || !self->response.keep_alive()) {
          beast::error_code ignored;
          self->socket.close(ignored);
          return;
        }
        self->Read();
      });
    }

    tcp::socket socket;
    TestServer* server;
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> response;
    bool close_after = false;
  };

  void Accept() {
    acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) return;
      ++connections_;
      std::make_shared<Session>(std::move(socket), this)->Read();
      Accept();
    });
  }

  Reply Record(const Seen& seen) {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(seen);
    return handler_(seen);
  }
  // Runs on the server thread only.
  void Keep(std::shared_ptr<Session> session) { hung_.push_back(std::move(session)); }

  std::function<Reply(const Seen&)> handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<Seen> seen_;                      // guarded by mu_
  std::vector<std::shared_ptr<Session>> hung_;  // server thread only
};

HttpRequest SignedLookingRequest() {
  HttpRequest request;
  request.method = "POST";
  request.target = "/?RegionId=cn-shanghai&Action=DescribeImages";
  request.headers = {{"host", "ecs.example.com:8080"},
                     {"authorization", "ACS3-HMAC-SHA256 Credential=k,SignedHeaders=host,Signature=00"},
                     {"x-acs-signature-nonce", "nonce-1"},
                     {"content-type", "application/x-www-form-urlencoded"},
                     {"connection", "keep-alive"},
                     {"transfer-encoding", "chunked"},
                     {"user-agent", "sdk/1.0"}};
  request.body = "Tag.1.Key=a%20b&X=1";
  request.remote_address = "127.0.0.1:5555";
  return request;
}

TEST(ForwarderTest, SendsTheRequestAsItCameAndRelaysTheAnswer) {
  TestServer server([](const Seen&) {
    Reply reply;
    reply.status = 404;
    reply.content_type = "text/xml;charset=utf-8";
    reply.headers = {{"x-acs-request-id", "REQ-9"}};
    reply.body = "<Error><Code>InvalidImageId.NotFound</Code></Error>";
    return reply;
  });
  auto forwarder = NewHttpForwarder();
  Result<HttpResponse> response = forwarder->Forward(server.url(), SignedLookingRequest());
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->content_type, "text/xml;charset=utf-8");
  EXPECT_EQ(response->body, "<Error><Code>InvalidImageId.NotFound</Code></Error>");
  std::map<std::string, std::string> relayed(response->headers.begin(), response->headers.end());
  EXPECT_EQ(relayed["x-acs-request-id"], "REQ-9");
  // Per-connection and self-describing headers are the relaying server's.
  EXPECT_EQ(relayed.count("content-length"), 0u);
  EXPECT_EQ(relayed.count("server"), 0u);

  std::vector<Seen> seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/?RegionId=cn-shanghai&Action=DescribeImages");
  EXPECT_EQ(seen[0].body, "Tag.1.Key=a%20b&X=1");
  // The client's Host, not the peer's address: the signature covers it.
  EXPECT_EQ(seen[0].headers["host"], "ecs.example.com:8080");
  EXPECT_EQ(seen[0].headers["authorization"],
            "ACS3-HMAC-SHA256 Credential=k,SignedHeaders=host,Signature=00");
  EXPECT_EQ(seen[0].headers["x-acs-signature-nonce"], "nonce-1");
  EXPECT_EQ(seen[0].headers["content-type"], "application/x-www-form-urlencoded");
  EXPECT_EQ(seen[0].headers["user-agent"], "sdk/1.0");
  EXPECT_EQ(seen[0].headers[kForwardedHeader], "1");
  // The body was reassembled: it travels with its length, not chunked.
  EXPECT_EQ(seen[0].headers.count("transfer-encoding"), 0u);
  EXPECT_EQ(seen[0].headers["content-length"], "19");
}

TEST(ForwarderTest, GetWithoutHostGetsThePeersAddress) {
  TestServer server([](const Seen&) { return Reply{}; });
  HttpRequest request;
  request.method = "GET";
  request.target = "/?Action=DescribeImages";
  ASSERT_TRUE(NewHttpForwarder()->Forward(server.url() + "/", request).ok());
  ASSERT_EQ(server.seen().size(), 1u);
  EXPECT_EQ(server.seen()[0].headers["host"], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(server.seen()[0].method, "GET");
}

TEST(ForwarderTest, KeepsConnectionsAlive) {
  TestServer server([](const Seen&) { return Reply{}; });
  auto forwarder = NewHttpForwarder();
  for (int i = 0; i < 3; ++i) {
    Result<HttpResponse> response = forwarder->Forward(server.url(), SignedLookingRequest());
    ASSERT_TRUE(response.ok()) << response.status().ToString();
    EXPECT_EQ(response->status, 200);
  }
  EXPECT_EQ(server.seen().size(), 3u);
  EXPECT_EQ(server.connections(), 1);
}

TEST(ForwarderTest, ReconnectsOnceWhenAKeptConnectionWasClosed) {
  TestServer server([](const Seen&) {
    Reply reply;
    reply.close_after = true;
    return reply;
  });
  auto forwarder = NewHttpForwarder();
  for (int i = 0; i < 3; ++i) {
    Result<HttpResponse> response = forwarder->Forward(server.url(), SignedLookingRequest());
    ASSERT_TRUE(response.ok()) << i << ": " << response.status().ToString();
  }
  // Each stale connection cost a new one, never a lost or doubled request.
  EXPECT_EQ(server.seen().size(), 3u);
  EXPECT_EQ(server.connections(), 3);
}

TEST(ForwarderTest, UnreachablePeerIsUnavailable) {
  uint16_t port = 0;
  {
    asio::io_context ioc;
    tcp::acceptor probe(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  Result<HttpResponse> response =
      NewHttpForwarder()->Forward("http://127.0.0.1:" + std::to_string(port), SignedLookingRequest());
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_NE(response.status().message().find(std::to_string(port)), std::string::npos);
}

TEST(ForwarderTest, PeerThatDropsTheRequestIsUnavailable) {
  TestServer server([](const Seen&) {
    Reply reply;
    reply.kind = Reply::Kind::kDrop;
    return reply;
  });
  Result<HttpResponse> response = NewHttpForwarder()->Forward(server.url(), SignedLookingRequest());
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  // A fresh connection is not retried: the peer may have acted on it.
  EXPECT_EQ(server.seen().size(), 1u);
}

TEST(ForwarderTest, SilentPeerTimesOut) {
  TestServer server([](const Seen&) {
    Reply reply;
    reply.kind = Reply::Kind::kHang;
    return reply;
  });
  ForwarderOptions options;
  options.timeout_ms = 200;
  Result<HttpResponse> response = NewHttpForwarder(options)->Forward(server.url(), SignedLookingRequest());
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_NE(response.status().message().find("reading the response"), std::string::npos)
      << response.status().ToString();
}

TEST(ForwarderTest, OversizedResponseIsRefused) {
  TestServer server([](const Seen&) {
    Reply reply;
    reply.body = std::string(4096, 'x');
    return reply;
  });
  ForwarderOptions options;
  options.max_response_bytes = 1024;
  Result<HttpResponse> response = NewHttpForwarder(options)->Forward(server.url(), SignedLookingRequest());
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), Code::kUnavailable);
  EXPECT_NE(response.status().message().find("1024"), std::string::npos) << response.status().ToString();
}

TEST(ForwarderTest, BadBaseUrls) {
  auto forwarder = NewHttpForwarder();
  for (const char* url : {"https://127.0.0.1:1", "127.0.0.1:80", "http://", "http://host:99999",
                          "http://host:80/path", "http://[::1"}) {
    Result<HttpResponse> response = forwarder->Forward(url, SignedLookingRequest());
    ASSERT_FALSE(response.ok()) << url;
    EXPECT_EQ(response.status().code(), Code::kInvalidArgument) << url;
  }
}

}  // namespace
}  // namespace ferry
