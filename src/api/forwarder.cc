#include "api/forwarder.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <exception>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_url.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Headers that describe one connection, not the message: the server and
// this client each set their own.
bool IsHopByHop(std::string_view lower_name) {
  static const std::set<std::string_view> kNames = {"connection",
                                                    "keep-alive",
                                                    "proxy-connection",
                                                    "te",
                                                    "trailer",
                                                    "transfer-encoding",
                                                    "upgrade",
                                                    "proxy-authenticate",
                                                    "proxy-authorization",
                                                    "content-length"};
  return kNames.count(lower_name) != 0;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// One kept-alive connection. It has its own io_context so that a call,
// synchronous for the caller, can still use the stream's per-step deadline
// (which only asynchronous operations honour).
struct Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
};

template <typename Start>
beast::error_code RunStep(Connection& conn, std::chrono::milliseconds timeout, Start&& start) {
  beast::error_code result = asio::error::operation_aborted;
  conn.stream.expires_after(timeout);
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  conn.ioc.restart();
  conn.ioc.run();
  return result;
}

http::request<http::string_body> BuildRequest(const HttpRequest& in, const HttpBaseUrl& endpoint) {
  http::request<http::string_body> out;
  out.version(11);
  out.method_string(in.method);
  out.target(in.target);
  for (const auto& [name, value] : in.headers) {
    if (IsHopByHop(name) || name == kForwardedHeader) continue;
    out.set(name, value);
  }
  if (in.headers.count("host") == 0) out.set(http::field::host, endpoint.host + ":" + endpoint.port);
  out.set(kForwardedHeader, "1");
  out.body() = in.body;
  out.keep_alive(true);
  out.prepare_payload();
  return out;
}

HttpResponse ToHttpResponse(http::response<http::string_body>& in) {
  HttpResponse out;
  out.status = static_cast<int>(in.result_int());
  std::set<std::string> connection_tokens;
  if (auto it = in.find(http::field::connection); it != in.end()) {
    std::string value = Lower(it->value());
    size_t start = 0;
    while (start <= value.size()) {
      size_t comma = value.find(',', start);
      std::string token = value.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      token.erase(0, token.find_first_not_of(" \t"));
      token.erase(token.find_last_not_of(" \t") + 1);
      if (!token.empty()) connection_tokens.insert(token);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  for (const auto& field : in) {
    std::string name = Lower(field.name_string());
    if (name == "content-type") {
      out.content_type = std::string(field.value());
      continue;
    }
    // The relaying server names itself; the rest travels end to end.
    if (IsHopByHop(name) || name == "server" || connection_tokens.count(name) != 0) continue;
    out.headers.emplace_back(name, std::string(field.value()));
  }
  out.body = std::move(in.body());
  return out;
}

class HttpForwarder final : public Forwarder {
 public:
  explicit HttpForwarder(const ForwarderOptions& options)
      : timeout_(std::max(1, options.timeout_ms)), options_(options) {}

  Result<HttpResponse> Forward(const std::string& base_url, const HttpRequest& request,
                               int timeout_ms) override {
    try {
      return ForwardOrThrow(base_url, request,
                            timeout_ms > 0 ? std::chrono::milliseconds(timeout_ms) : timeout_);
    } catch (const std::exception& e) {
      return Unavailable("forwarding to " + base_url + " failed: " + e.what());
    }
  }

 private:
  struct Exchange {
    beast::error_code ec;
    const char* step = "";
    bool got_response_bytes = false;
  };

  Result<HttpResponse> ForwardOrThrow(const std::string& base_url, const HttpRequest& request,
                                      std::chrono::milliseconds timeout) {
    ASSIGN_OR_RETURN(HttpBaseUrl endpoint, ParseHttpBaseUrl(base_url));
    while (true) {
      std::unique_ptr<Connection> conn = TakeIdle(base_url);
      const bool reused = conn != nullptr;
      if (!reused) {
        ASSIGN_OR_RETURN(conn, Connect(base_url, endpoint, timeout));
      }
      http::request<http::string_body> out = BuildRequest(request, endpoint);
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(options_.max_response_bytes);
      Exchange exchange = Send(*conn, out, buffer, parser, timeout);
      if (!exchange.ec) {
        bool reusable = parser.get().keep_alive() && buffer.size() == 0;
        HttpResponse response = ToHttpResponse(parser.get());
        if (reusable) PutIdle(base_url, std::move(conn));
        return response;
      }
      // A kept-alive connection the peer closed while idle (or lost in a
      // restart) fails before any response byte: the request is sent again
      // once on a new connection. Should the peer have run it after all,
      // the repeat carries the same signature nonce and is refused, never
      // run twice.
      if (reused && !exchange.got_response_bytes && exchange.ec != beast::error::timeout) {
        DropIdle(base_url);
        continue;
      }
      std::string what =
          exchange.ec == http::error::body_limit
              ? "a response body over " + std::to_string(options_.max_response_bytes) + " bytes"
              : exchange.ec.message();
      return Unavailable("forwarding to " + base_url + " failed while " + exchange.step + ": " + what);
    }
  }

  Result<std::unique_ptr<Connection>> Connect(const std::string& base_url, const HttpBaseUrl& endpoint,
                                              std::chrono::milliseconds timeout) {
    auto conn = std::make_unique<Connection>();
    tcp::resolver resolver(conn->ioc);
    beast::error_code ec;
    auto results = resolver.resolve(endpoint.host, endpoint.port, ec);
    if (ec) return Unavailable("cannot resolve the host of " + base_url + ": " + ec.message());
    ec = RunStep(*conn, timeout, [&](auto handler) { conn->stream.async_connect(results, std::move(handler)); });
    if (ec) return Unavailable("cannot connect to " + base_url + ": " + ec.message());
    return conn;
  }

  Exchange Send(Connection& conn, http::request<http::string_body>& out, beast::flat_buffer& buffer,
                http::response_parser<http::string_body>& parser, std::chrono::milliseconds timeout) {
    Exchange result;
    result.step = "sending the request";
    result.ec = RunStep(conn, timeout, [&](auto handler) { http::async_write(conn.stream, out, std::move(handler)); });
    if (result.ec) return result;
    result.step = "reading the response";
    result.ec = RunStep(conn, timeout, [&](auto handler) {
      http::async_read(conn.stream, buffer, parser, std::move(handler));
    });
    result.got_response_bytes = parser.got_some() || buffer.size() != 0;
    return result;
  }

  std::unique_ptr<Connection> TakeIdle(const std::string& base_url) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(base_url);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    std::unique_ptr<Connection> conn = std::move(it->second.back());
    it->second.pop_back();
    return conn;
  }

  void PutIdle(const std::string& base_url, std::unique_ptr<Connection> conn) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& pool = idle_[base_url];
    if (pool.size() < options_.max_idle_per_peer) pool.push_back(std::move(conn));
  }

  void DropIdle(const std::string& base_url) {
    std::vector<std::unique_ptr<Connection>> dropped;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(base_url);
    if (it != idle_.end()) dropped.swap(it->second);
  }

  const std::chrono::milliseconds timeout_;
  const ForwarderOptions options_;
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;  // guarded by mu_
};

}  // namespace

std::unique_ptr<Forwarder> NewHttpForwarder(const ForwarderOptions& options) {
  return std::make_unique<HttpForwarder>(options);
}

}  // namespace ferry
