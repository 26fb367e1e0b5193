#include "api/forwarder.h"

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <chrono>
#include <exception>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string_view>
#include <thread>
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

// One kept-alive connection, on the forwarder's io_context (one thread, so
// no strand is needed).
struct Connection {
  explicit Connection(asio::io_context& ioc) : stream(ioc) {}
  beast::tcp_stream stream;
};

const auto kAwait = asio::as_tuple(asio::use_awaitable);

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
      : timeout_(std::max(1, options.timeout_ms)),
        options_(options),
        work_(asio::make_work_guard(ioc_)),
        thread_([this] { ioc_.run(); }) {}

  ~HttpForwarder() override {
    work_.reset();
    ioc_.stop();
    thread_.join();
  }

  Result<HttpResponse> Forward(const std::string& base_url, const HttpRequest& request,
                               int timeout_ms) override {
    std::promise<Result<HttpResponse>> answer;
    std::future<Result<HttpResponse>> got = answer.get_future();
    ForwardAsync(base_url, request, timeout_ms,
                 [&answer](Result<HttpResponse> r) { answer.set_value(std::move(r)); });
    return got.get();
  }

  void ForwardAsync(const std::string& base_url, HttpRequest request, int timeout_ms, Done done) override {
    if (in_flight_.fetch_add(1) >= options_.max_in_flight) {
      in_flight_.fetch_sub(1);
      done(Unavailable("forwarding to " + base_url + " refused: " + std::to_string(options_.max_in_flight) +
                       " forwarded requests are in flight already"));
      return;
    }
    const std::chrono::milliseconds timeout = timeout_ms > 0 ? std::chrono::milliseconds(timeout_ms) : timeout_;
    asio::co_spawn(ioc_, Run(base_url, std::move(request), timeout, std::move(done)), asio::detached);
  }

 private:
  struct Exchange {
    beast::error_code ec;
    const char* step = "";
    bool got_response_bytes = false;
  };

  // Runs one call on ioc_ and reports it; never throws out.
  asio::awaitable<void> Run(std::string base_url, HttpRequest request, std::chrono::milliseconds timeout,
                            Done done) {
    Result<HttpResponse> result = Unavailable("forwarding to " + base_url + " did not run");
    try {
      result = co_await ForwardOnce(base_url, request, timeout);
    } catch (const std::exception& e) {
      result = Unavailable("forwarding to " + base_url + " failed: " + e.what());
    }
    in_flight_.fetch_sub(1);
    done(std::move(result));
  }

  asio::awaitable<Result<HttpResponse>> ForwardOnce(const std::string& base_url, const HttpRequest& request,
                                                    std::chrono::milliseconds timeout) {
    Result<HttpBaseUrl> endpoint = ParseHttpBaseUrl(base_url);
    if (!endpoint.ok()) co_return endpoint.status();
    while (true) {
      std::unique_ptr<Connection> conn = TakeIdle(base_url);
      const bool reused = conn != nullptr;
      if (!reused) {
        Result<std::unique_ptr<Connection>> made = co_await Connect(base_url, *endpoint, timeout);
        if (!made.ok()) co_return made.status();
        conn = std::move(made).value();
      }
      http::request<http::string_body> out = BuildRequest(request, *endpoint);
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(options_.max_response_bytes);
      Exchange exchange = co_await Send(*conn, out, buffer, parser, timeout);
      if (!exchange.ec) {
        bool reusable = parser.get().keep_alive() && buffer.size() == 0;
        HttpResponse response = ToHttpResponse(parser.get());
        if (reusable) PutIdle(base_url, std::move(conn));
        co_return response;
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
      co_return Unavailable("forwarding to " + base_url + " failed while " + exchange.step + ": " + what);
    }
  }

  asio::awaitable<Result<std::unique_ptr<Connection>>> Connect(const std::string& base_url,
                                                               const HttpBaseUrl& endpoint,
                                                               std::chrono::milliseconds timeout) {
    auto conn = std::make_unique<Connection>(ioc_);
    tcp::resolver resolver(ioc_);
    auto [rec, results] = co_await resolver.async_resolve(endpoint.host, endpoint.port, kAwait);
    if (rec) {
      co_return Status(Code::kUnavailable, kForwardNotConnected,
                       "cannot resolve the host of " + base_url + ": " + rec.message());
    }
    conn->stream.expires_after(timeout);
    auto [cec, connected] = co_await conn->stream.async_connect(results, kAwait);
    if (cec)
      co_return Status(Code::kUnavailable, kForwardNotConnected,
                       "cannot connect to " + base_url + ": " + cec.message());
    co_return std::move(conn);
  }

  asio::awaitable<Exchange> Send(Connection& conn, http::request<http::string_body>& out,
                                 beast::flat_buffer& buffer, http::response_parser<http::string_body>& parser,
                                 std::chrono::milliseconds timeout) {
    Exchange result;
    result.step = "sending the request";
    conn.stream.expires_after(timeout);
    auto [wec, written] = co_await http::async_write(conn.stream, out, kAwait);
    result.ec = wec;
    if (result.ec) co_return result;
    result.step = "reading the response";
    conn.stream.expires_after(timeout);
    auto [rec, read] = co_await http::async_read(conn.stream, buffer, parser, kAwait);
    result.ec = rec;
    result.got_response_bytes = parser.got_some() || buffer.size() != 0;
    co_return result;
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

  // ioc_ first: the connections below die before it. thread_ last: it
  // runs ioc_ until the destructor stops it.
  asio::io_context ioc_;
  const std::chrono::milliseconds timeout_;
  const ForwarderOptions options_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::atomic<unsigned> in_flight_{0};
  std::mutex mu_;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle_;  // guarded by mu_
  std::thread thread_;
};

}  // namespace

std::unique_ptr<Forwarder> NewHttpForwarder(const ForwarderOptions& options) {
  return std::make_unique<HttpForwarder>(options);
}

}  // namespace ferry
