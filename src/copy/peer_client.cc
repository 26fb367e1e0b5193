// PeerClient over Boost.Beast (peer_protocol.md).
//
// Each pooled connection owns its io_context, and a call runs that context
// on the calling thread: the API is synchronous, yet every step is an async
// Beast operation so tcp_stream's deadlines apply (blocking socket calls in
// Asio cannot time out).
#include "copy/peer_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/http_url.h"
#include "copy/chunk_budget.h"
#include "copy/peer_auth.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Source-side corruption, from peers that predate the "Status" field: the
// one error code that maps to kDataLoss.
constexpr const char* kChunkCorruptedCode = "InvalidChunk.Corrupted";

std::optional<http::verb> VerbOf(const std::string& method) {
  if (method == "GET") return http::verb::get;
  if (method == "PUT") return http::verb::put;
  if (method == "POST") return http::verb::post;
  if (method == "DELETE") return http::verb::delete_;
  return std::nullopt;
}

using Steady = std::chrono::steady_clock;

// Answers up to this size time a round trip (min_round_trip); larger ones
// time mostly their transfer.
constexpr size_t kRoundTripMaxBody = 64u << 10;
// A body is read with the socket's low-water mark at this much (or what is
// left of the body, when less): the kernel wakes the reader once that much
// has arrived, not for every 64 KiB segment, so a 4 MiB chunk takes a few
// waits and reads instead of a hundred of each.
constexpr size_t kBodyLowWater = 512u << 10;

// TCP keepalive on every connection: the first probe after this long idle,
// then every kKeepaliveIntervalSec, giving up after kKeepaliveProbes.
constexpr int kKeepaliveIdleSec = 30;
constexpr int kKeepaliveIntervalSec = 10;
constexpr int kKeepaliveProbes = 3;

struct Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;
  Steady::time_point idle_since{};  // when it last went back to the pool
};

// Best effort: a socket without keepalive still works, only a dead path is
// found later (by the call's deadline).
void EnableKeepalive(tcp::socket& socket) {
  const int fd = socket.native_handle();
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &kKeepaliveIdleSec, sizeof(kKeepaliveIdleSec));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &kKeepaliveIntervalSec, sizeof(kKeepaliveIntervalSec));
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &kKeepaliveProbes, sizeof(kKeepaliveProbes));
}

struct RawResponse {
  int status = 0;
  std::string content_type;
  std::vector<uint8_t> body;
  bool keep_alive = false;
};

// A failed exchange, and what a retry needs to know.
struct TransportError {
  Status status;
  bool repeatable = true;         // false after a timeout or an oversized answer
  bool response_started = false;  // some bytes of a response had arrived
};

// The Status of a peer's answer with a status outside 2xx.
Status StatusFromHttp(int http_status, const std::string& code) {
  if (code == kChunkCorruptedCode) return Status(Code::kDataLoss, code, "");
  if (http_status >= 500) return Status(Code::kUnavailable, code, "");
  switch (http_status) {
    case 400:
      return Status(Code::kInvalidArgument, code, "");
    case 401:
    case 403:
      return Status(Code::kPermissionDenied, code, "");
    case 404:
      return Status(Code::kNotFound, code, "");
    case 409:
      return Status(Code::kAborted, code, "");
    case 429:
      return Status(Code::kResourceExhausted, code, "");
    default:
      return Status(Code::kInternal, code, "");
  }
}

class BeastPeerClient final : public PeerClient {
 public:
  BeastPeerClient(const PeerClientOptions& options, HttpBaseUrl endpoint)
      : options_(options),
        endpoint_(std::move(endpoint)),
        max_connections_(std::max(1u, options.max_connections)) {}

  const std::string& base_url() const override { return options_.base_url; }

  std::chrono::microseconds min_round_trip() const override {
    return std::chrono::microseconds(min_round_trip_us_.load(std::memory_order_relaxed));
  }

  void Warm(const std::string& target, unsigned connections, int timeout_ms) override {
    // Each job pings one connection: an idle one past half its max_idle
    // (the ping makes it fresh again) or a new one (null here).
    std::vector<std::unique_ptr<Connection>> jobs;
    std::vector<std::unique_ptr<Connection>> expired;  // closed after the lock is released
    {
      std::lock_guard<std::mutex> lock(mu_);
      DropExpiredLocked(&expired);
      const auto refresh_before = Steady::now() - std::chrono::milliseconds(options_.max_idle_ms / 2);
      size_t stale = 0;  // idle_ is oldest first
      while (stale < idle_.size() && idle_[stale]->idle_since < refresh_before) ++stale;
      for (size_t i = 0; i < stale; ++i) jobs.push_back(std::move(idle_[i]));
      idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(stale));
      const unsigned ready = static_cast<unsigned>(idle_.size() + stale);
      const unsigned room = max_connections_ - open_;
      const unsigned opening = connections > ready ? std::min(connections - ready, room) : 0;
      open_ += opening;
      jobs.resize(jobs.size() + opening);
    }
    if (!expired.empty()) cv_.notify_all();
    if (jobs.empty()) return;
    auto ping = [this, &target, timeout_ms](std::unique_ptr<Connection> conn) {
      if (conn == nullptr) conn = std::make_unique<Connection>();
      RawResponse response;
      bool ok = false;
      try {
        std::optional<TransportError> error = Exchange(*conn, http::verb::get, "GET", target, "",
                                                       timeout_ms > 0 ? timeout_ms : options_.timeout_ms,
                                                       options_.max_response_bytes, &response);
        ok = !error && response.keep_alive && response.status >= 200 && response.status <= 299;
      } catch (const std::exception&) {
        ok = false;
      }
      Release(std::move(conn), ok);
    };
    std::vector<std::thread> pingers;
    size_t next = 1;
    try {
      for (; next < jobs.size(); ++next) pingers.emplace_back(ping, std::move(jobs[next]));
    } catch (const std::system_error&) {
      // No thread for the rest: they go back as they are (a new one's place
      // is given back).
      for (; next < jobs.size(); ++next) {
        if (jobs[next] != nullptr) {
          Release(std::move(jobs[next]), true);
        } else {
          {
            std::lock_guard<std::mutex> lock(mu_);
            --open_;
          }
          cv_.notify_all();
        }
      }
    }
    ping(std::move(jobs[0]));
    for (std::thread& t : pingers) t.join();
  }

  Result<PeerResponse> Call(const std::string& method, const std::string& target, const std::string& body,
                            int timeout_ms, uint64_t max_response_bytes) override {
    const uint64_t limit = max_response_bytes > 0 ? std::min(max_response_bytes, options_.max_response_bytes)
                                                  : options_.max_response_bytes;
    std::optional<http::verb> verb = VerbOf(method);
    if (!verb) {
      return InvalidArgument("", "peer call " + method + " " + target + ": the method must be GET, PUT, POST "
                                 "or DELETE");
    }
    try {
      // A kept-alive connection the peer has closed since its last use fails
      // on first use; that costs one reconnect, not a failed call. A GET is
      // repeated after any such failure; a write only when no byte of the
      // answer arrived, which is how a connection closed while idle fails
      // (a repeated AcceptCopy cannot create a second image: peer_protocol.md).
      for (int attempt = 0;; ++attempt) {
        std::unique_ptr<Connection> conn = Acquire();
        const bool reused = conn->connected;
        RawResponse response;
        std::optional<TransportError> error =
            Exchange(*conn, *verb, method, target, body, timeout_ms > 0 ? timeout_ms : options_.timeout_ms,
                     limit, &response);
        if (error) {
          Release(std::move(conn), false);
          const bool repeatable = *verb == http::verb::get || !error->response_started;
          if (reused && attempt == 0 && error->repeatable && repeatable) {
            DropIdle();  // a peer restart makes every idle connection stale
            continue;
          }
          return error->status;
        }
        Release(std::move(conn), response.keep_alive);
        if (response.status < 200 || response.status > 299) return ErrorFromResponse(method, target, response);
        PeerResponse out;
        out.status = response.status;
        out.content_type = std::move(response.content_type);
        out.body = std::move(response.body);
        return out;
      }
    } catch (const std::exception& e) {
      return Internal("peer " + method + " " + endpoint_.host_header + target + ": " + e.what());
    }
  }

 private:
  // Runs one async operation on the connection's context to completion.
  template <class Start>
  beast::error_code Run(Connection& conn, Start start) {
    beast::error_code result = asio::error::operation_aborted;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    conn.ioc.restart();
    conn.ioc.run();
    return result;
  }

  std::optional<TransportError> Exchange(Connection& conn, http::verb verb, const std::string& method,
                                         const std::string& target, const std::string& body, int timeout_ms,
                                         uint64_t limit, RawResponse* out) {
    const auto timeout = std::chrono::milliseconds(std::max(1, timeout_ms));
    auto fail = [&](const std::string& step, const beast::error_code& ec, bool response_started = false) {
      conn.connected = false;
      beast::error_code ignored;
      conn.stream.socket().close(ignored);
      const std::string what = "peer " + endpoint_.host_header + " (" + method + " " + target + ")";
      if (ec == http::error::body_limit) {
        // Not a passing failure: asking again brings the same answer.
        return TransportError{Internal(what + " answered with more than " + std::to_string(limit) + " bytes"),
                              false, response_started};
      }
      return TransportError{Unavailable(step + " " + what + ": " + ec.message()), ec != beast::error::timeout,
                            response_started};
    };
    if (!conn.connected) {
      tcp::resolver resolver(conn.ioc);
      tcp::resolver::results_type endpoints;
      beast::error_code ec = Run(conn, [&](auto handler) {
        resolver.async_resolve(endpoint_.host, endpoint_.port,
                               [&endpoints, handler](beast::error_code e, tcp::resolver::results_type r) {
                                 endpoints = std::move(r);
                                 handler(e);
                               });
      });
      if (ec) return fail("resolving", ec);
      conn.stream.expires_after(timeout);
      ec = Run(conn, [&](auto handler) { conn.stream.async_connect(endpoints, handler); });
      if (ec) return fail("connecting to", ec);
      conn.stream.socket().set_option(tcp::no_delay(true), ec);
      EnableKeepalive(conn.stream.socket());
      conn.buffer.clear();
      conn.connected = true;
    }

    const Steady::time_point sent = Steady::now();
    const std::string date = FormatTimeSeconds(SystemClock::Get().Now());
    http::request<http::string_body> request{verb, target, 11};
    request.set(http::field::host, endpoint_.host_header);
    request.set(http::field::user_agent, "ferry-peer/1");
    // A fresh nonce on every attempt: a request sent again after a failure
    // is a new request to the server, which refuses any nonce twice.
    const std::string nonce = NewPeerNonce();
    request.set(kPeerDateHeader, date);
    request.set(kPeerNonceHeader, nonce);
    request.set(kPeerSignatureHeader, SignPeerRequest(options_.cluster_key, method, target, date, nonce, body));
    if (!body.empty()) request.set(http::field::content_type, "application/json");
    request.body() = body;
    request.keep_alive(true);
    request.prepare_payload();
    conn.stream.expires_after(timeout);
    beast::error_code ec = Run(conn, [&](auto handler) { http::async_write(conn.stream, request, handler); });
    if (ec) return fail("sending to", ec);

    http::response_parser<http::vector_body<uint8_t>> parser;
    parser.body_limit(limit);
    // The answer, headers and body, must arrive by then.
    const Steady::time_point read_deadline = Steady::now() + timeout;
    conn.stream.expires_at(read_deadline);
    ec = Run(conn, [&](auto handler) { http::async_read_header(conn.stream, conn.buffer, parser, handler); });
    if (ec) return fail("reading the response from", ec, parser.got_some());
    out->status = static_cast<int>(parser.get().result_int());
    out->content_type = std::string(parser.get()[http::field::content_type]);
    out->keep_alive = parser.get().keep_alive();
    const auto length = parser.content_length();  // boost::optional
    if (parser.is_done() || !length || parser.chunked()) {
      // No body, or one whose end only the parser can find (chunked, or
      // delimited by the close).
      if (!parser.is_done()) {
        ec = Run(conn, [&](auto handler) { http::async_read(conn.stream, conn.buffer, parser, handler); });
        if (ec) return fail("reading the response from", ec, true);
      }
      out->body = std::move(parser.get().body());
      RecordRoundTrip(sent, out->body.size());
      return std::nullopt;
    }
    // A body of known length (every chunk) is read straight into place in as
    // few reads as the socket allows. Through the parser it would arrive in
    // pieces no larger than the buffer's spare room — thousands of reads and
    // timer updates for a 4 MiB chunk.
    if (*length > limit) return fail("reading the response from", http::error::body_limit, true);
    // A chunk-sized body goes into a buffer already mapped (given back by
    // the pull that stored the last chunk in it). A chunk's limit is its
    // largest object, which the pull counted a pooled buffer for, so one
    // that compressed well goes into a pooled buffer too.
    out->body = ChunkReceiveBuffers().Take(static_cast<size_t>(*length), static_cast<size_t>(limit));
    const size_t buffered = std::min<size_t>(conn.buffer.size(), *length);
    asio::buffer_copy(asio::buffer(out->body.data(), buffered), conn.buffer.data());
    conn.buffer.consume(buffered);
    if (buffered < *length) {
      ec = ReadBody(conn, out->body.data() + buffered, *length - buffered, read_deadline);
      if (ec) return fail("reading the response from", ec, true);
    }
    RecordRoundTrip(sent, out->body.size());
    return std::nullopt;
  }

  // Reads exactly `n` bytes of a body into `dst` by `deadline`
  // (beast::error::timeout after it). The socket's low-water mark is raised
  // for the read (never above what is left, or the last wait would never
  // end) and put back to 1 before returning, since the headers of the next
  // answer are read through the stream.
  static beast::error_code ReadBody(Connection& conn, uint8_t* dst, size_t n, Steady::time_point deadline) {
    const int fd = conn.stream.socket().native_handle();
    int low_water = 1;
    auto set_low_water = [&](int want) {
      if (want != low_water && ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &want, sizeof want) == 0) {
        low_water = want;
      }
    };
    beast::error_code ec;
    size_t got = 0;
    while (got < n) {
      set_low_water(static_cast<int>(std::min(n - got, kBodyLowWater)));
      const ssize_t r = ::recv(fd, dst + got, n - got, MSG_DONTWAIT);
      if (r > 0) {
        got += static_cast<size_t>(r);
        continue;
      }
      if (r == 0) {
        ec = asio::error::eof;
        break;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        ec = beast::error_code(errno, beast::system_category());
        break;
      }
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Steady::now()).count();
      if (left <= 0) {
        ec = beast::error::timeout;
        break;
      }
      pollfd p{fd, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, INT32_MAX)));
      if (ready == 0) {
        ec = beast::error::timeout;
        break;
      }
      if (ready < 0 && errno != EINTR) {
        ec = beast::error_code(errno, beast::system_category());
        break;
      }
    }
    set_low_water(1);
    return ec;
  }

  void RecordRoundTrip(Steady::time_point sent, size_t body_bytes) {
    if (body_bytes > kRoundTripMaxBody) return;
    const int64_t us = std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - sent).count();
    int64_t seen = min_round_trip_us_.load(std::memory_order_relaxed);
    while ((seen == 0 || us < seen) &&
           !min_round_trip_us_.compare_exchange_weak(seen, std::max<int64_t>(us, 1), std::memory_order_relaxed)) {
    }
  }

  Status ErrorFromResponse(const std::string& method, const std::string& target,
                           const RawResponse& response) const {
    std::string code, message, request_id, status_name;
    nlohmann::json body = nlohmann::json::parse(response.body.begin(), response.body.end(), nullptr, false);
    if (body.is_object()) {
      auto text = [&body](const char* key) {
        auto it = body.find(key);
        return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
      };
      code = text("Code");
      message = text("Message");
      request_id = text("RequestId");
      status_name = text("Status");
    }
    // A Ferry peer names the internal code: the error is passed on as the
    // peer raised it, so an ECS error from another process reads the same.
    if (!code.empty() && !status_name.empty()) {
      Code named = CodeFromName(status_name);
      if (named == Code::kOk) named = Code::kInternal;  // an error that says OK is not one
      return Status(named, code, message);
    }
    std::string text =
        "peer " + endpoint_.host_header + " " + method + " " + target + ": HTTP " + std::to_string(response.status);
    if (!code.empty()) text += " " + code;
    if (!message.empty()) text += ": " + message;
    if (!request_id.empty()) text += " (RequestId " + request_id + ")";
    Status mapped = StatusFromHttp(response.status, code);
    return Status(mapped.code(), mapped.reason(), text);
  }

  std::unique_ptr<Connection> Acquire() {
    std::vector<std::unique_ptr<Connection>> expired;  // closed after the lock is released
    std::unique_lock<std::mutex> lock(mu_);
    DropExpiredLocked(&expired);
    cv_.wait(lock, [this] { return !idle_.empty() || open_ < max_connections_; });
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;
    lock.unlock();
    return std::make_unique<Connection>();
  }

  void Release(std::unique_ptr<Connection> conn, bool reusable) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (reusable && conn->connected) {
        conn->idle_since = Steady::now();
        idle_.push_back(std::move(conn));
      } else {
        --open_;
      }
    }
    cv_.notify_one();
    // A connection not kept is destroyed here, outside the lock.
  }

  // Closes the idle connections unused for longer than max_idle_ms. They sit
  // in idle_ oldest first: Acquire takes from the back.
  void DropExpiredLocked(std::vector<std::unique_ptr<Connection>>* expired) {
    const auto oldest_kept = Steady::now() - std::chrono::milliseconds(options_.max_idle_ms);
    size_t n = 0;
    while (n < idle_.size() && idle_[n]->idle_since < oldest_kept) ++n;
    if (n == 0) return;
    for (size_t i = 0; i < n; ++i) expired->push_back(std::move(idle_[i]));
    idle_.erase(idle_.begin(), idle_.begin() + static_cast<std::ptrdiff_t>(n));
    open_ -= static_cast<unsigned>(n);
  }

  void DropIdle() {
    std::vector<std::unique_ptr<Connection>> stale;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stale.swap(idle_);
      open_ -= static_cast<unsigned>(stale.size());
    }
    cv_.notify_all();
  }

  const PeerClientOptions options_;
  const HttpBaseUrl endpoint_;
  const unsigned max_connections_;

  std::mutex mu_;
  std::condition_variable cv_;                     // idle_ or open_ changed
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  unsigned open_ = 0;                              // idle + in use; guarded by mu_
  std::atomic<int64_t> min_round_trip_us_{0};      // 0 = none seen yet
};

}  // namespace

Result<std::unique_ptr<PeerClient>> NewPeerClient(const PeerClientOptions& options) {
  ASSIGN_OR_RETURN(HttpBaseUrl endpoint, ParseHttpBaseUrl(options.base_url));
  return std::unique_ptr<PeerClient>(std::make_unique<BeastPeerClient>(options, std::move(endpoint)));
}

}  // namespace ferry
