// HttpChunkSource: the peer-protocol client (peer_protocol.md).
//
// Each pooled connection owns its io_context, and a call runs that context
// on the calling thread: the API is synchronous, yet every step is an async
// Beast operation so tcp_stream's deadlines apply (blocking socket calls in
// Asio cannot time out).
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "common/hash.h"
#include "copy/chunk_source.h"
#include "copy/peer_auth.h"
#include "copy/peer_wire.h"
#include "store/chunk_format.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// A chunk body is at most the header plus its (bounded) plaintext; a
// manifest is far smaller.
constexpr uint64_t kMaxResponseBytes = kMaxChunkPlaintext + kChunkHeaderSize;
// Source-side corruption: the one error code that maps to kDataLoss.
constexpr const char* kChunkCorruptedCode = "InvalidChunk.Corrupted";

struct Endpoint {
  std::string host;
  std::string port;
  std::string host_header;  // "host:port" as the Host header carries it
};

Result<Endpoint> ParseBaseUrl(const std::string& base_url) {
  auto parsed = boost::urls::parse_uri(base_url);
  if (!parsed) {
    return InvalidArgument("", "peer base URL \"" + base_url + "\": " + parsed.error().message());
  }
  if (parsed->scheme() != "http") {
    return InvalidArgument("", "peer base URL \"" + base_url + "\": only http:// is supported");
  }
  Endpoint out;
  out.host = std::string(parsed->host_address());
  if (out.host.empty()) return InvalidArgument("", "peer base URL \"" + base_url + "\" has no host");
  out.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  std::string_view path = parsed->encoded_path();
  if (!path.empty() && path != "/") {
    return InvalidArgument("", "peer base URL \"" + base_url + "\" must not have a path");
  }
  out.host_header = std::string(parsed->encoded_host_and_port());
  return out;
}

struct Connection {
  asio::io_context ioc;
  beast::tcp_stream stream{ioc};
  beast::flat_buffer buffer;
  bool connected = false;
};

struct Response {
  int status = 0;
  std::vector<uint8_t> body;
  bool keep_alive = false;
};

// A transport failure: kUnavailable, plus whether it was a deadline.
struct TransportError {
  Status status;
  bool timed_out = false;
};

class HttpChunkSource final : public ChunkSource {
 public:
  explicit HttpChunkSource(const HttpChunkSourceOptions& options)
      : options_(options), max_connections_(std::max(1u, options.max_connections)) {
    Result<Endpoint> endpoint = ParseBaseUrl(options.base_url);
    if (endpoint.ok()) {
      endpoint_ = *endpoint;
    } else {
      config_error_ = endpoint.status();
    }
  }

  Result<Manifest> FetchManifest(const std::string& region_id, const std::string& snapshot_id) override {
    const std::string target = PeerManifestPath(region_id, snapshot_id);
    ASSIGN_OR_RETURN(std::vector<uint8_t> body, Get(target, nullptr));
    Result<Manifest> manifest = DecodeManifest(body);
    if (!manifest.ok()) {
      return DataLoss("manifest of snapshot " + snapshot_id + " in region " + region_id + " from peer " +
                      endpoint_.host_header + " (" + std::to_string(body.size()) +
                      " bytes): " + manifest.status().message());
    }
    return manifest;
  }

  Result<std::vector<uint8_t>> FetchChunk(const std::string& region_id, const ChunkId& id,
                                          uint64_t* wire_bytes) override {
    ASSIGN_OR_RETURN(std::vector<uint8_t> body, Get(PeerChunkPath(region_id, id), wire_bytes));
    return DecodeWireChunk(id, body);
  }

  Result<std::vector<uint8_t>> FetchChunkObject(const std::string& region_id, const ChunkId& id,
                                                uint64_t* wire_bytes) override {
    ASSIGN_OR_RETURN(std::vector<uint8_t> body, Get(PeerChunkPath(region_id, id), wire_bytes));
    Result<ChunkHeader> header = CheckChunkObject(body);
    if (!header.ok()) {
      return DataLoss("chunk " + ToHex(id) + " from peer " + endpoint_.host_header + ": " +
                      header.status().message());
    }
    return body;
  }

 private:
  Result<std::vector<uint8_t>> Get(const std::string& target, uint64_t* wire_bytes) {
    if (!config_error_.ok()) return config_error_;
    try {
      // A kept-alive connection the peer has closed since its last use fails
      // on first use; that costs one reconnect, not a failed fetch. GET is
      // idempotent, so repeating it is safe.
      for (int attempt = 0;; ++attempt) {
        std::unique_ptr<Connection> conn = Acquire();
        const bool reused = conn->connected;
        Response response;
        std::optional<TransportError> error = Exchange(*conn, target, &response);
        if (error) {
          Release(std::move(conn), false);
          if (reused && attempt == 0 && !error->timed_out) {
            DropIdle();  // a peer restart makes every idle connection stale
            continue;
          }
          return error->status;
        }
        Release(std::move(conn), response.keep_alive);
        if (response.status != 200) return ErrorFromResponse(target, response);
        if (wire_bytes != nullptr) *wire_bytes = response.body.size();
        return std::move(response.body);
      }
    } catch (const std::exception& e) {
      return Internal("peer GET " + endpoint_.host_header + target + ": " + e.what());
    }
  }

  // Runs one async operation on the connection's context to completion.
  template <class Start>
  beast::error_code Run(Connection& conn, Start start) {
    beast::error_code result = asio::error::operation_aborted;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    conn.ioc.restart();
    conn.ioc.run();
    return result;
  }

  std::optional<TransportError> Exchange(Connection& conn, const std::string& target, Response* out) {
    const auto timeout = std::chrono::milliseconds(std::max(1, options_.timeout_ms));
    auto fail = [&](const std::string& step, const beast::error_code& ec) {
      conn.connected = false;
      beast::error_code ignored;
      conn.stream.socket().close(ignored);
      return TransportError{
          Unavailable(step + " peer " + endpoint_.host_header + " (GET " + target + "): " + ec.message()),
          ec == beast::error::timeout};
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
      conn.buffer.clear();
      conn.connected = true;
    }

    const std::string date = FormatTimeSeconds(SystemClock::Get().Now());
    http::request<http::empty_body> request{http::verb::get, target, 11};
    request.set(http::field::host, endpoint_.host_header);
    request.set(http::field::user_agent, "ferry-peer/1");
    request.set(kPeerDateHeader, date);
    request.set(kPeerSignatureHeader, SignPeerRequest(options_.cluster_key, "GET", target, date));
    request.keep_alive(true);
    conn.stream.expires_after(timeout);
    beast::error_code ec = Run(conn, [&](auto handler) { http::async_write(conn.stream, request, handler); });
    if (ec) return fail("sending to", ec);

    http::response_parser<http::vector_body<uint8_t>> parser;
    parser.body_limit(kMaxResponseBytes);
    conn.stream.expires_after(timeout);
    ec = Run(conn, [&](auto handler) { http::async_read(conn.stream, conn.buffer, parser, handler); });
    if (ec) return fail("reading the response from", ec);
    out->status = static_cast<int>(parser.get().result_int());
    out->keep_alive = parser.get().keep_alive();
    out->body = std::move(parser.get().body());
    return std::nullopt;
  }

  Status ErrorFromResponse(const std::string& target, const Response& response) const {
    std::string code, message, request_id;
    nlohmann::json body = nlohmann::json::parse(response.body.begin(), response.body.end(), nullptr, false);
    if (body.is_object()) {
      code = body.value("Code", "");
      message = body.value("Message", "");
      request_id = body.value("RequestId", "");
    }
    std::string text =
        "peer " + endpoint_.host_header + " GET " + target + ": HTTP " + std::to_string(response.status);
    if (!code.empty()) text += " " + code;
    if (!message.empty()) text += ": " + message;
    if (!request_id.empty()) text += " (RequestId " + request_id + ")";
    if (code == kChunkCorruptedCode) return Status(Code::kDataLoss, code, text);
    switch (response.status) {
      case 403:
        return PermissionDenied(code, text);
      case 404:
        return NotFound(code, text);
      case 400:
        return InvalidArgument(code, text);
      default:
        break;
    }
    if (response.status >= 500) return Status(Code::kUnavailable, code, text);
    return Status(Code::kInternal, code, text);
  }

  std::unique_ptr<Connection> Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
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
        idle_.push_back(std::move(conn));
      } else {
        --open_;
      }
    }
    cv_.notify_one();
    // A connection not kept is destroyed here, outside the lock.
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

  const HttpChunkSourceOptions options_;
  const unsigned max_connections_;
  Endpoint endpoint_;
  Status config_error_;

  std::mutex mu_;
  std::condition_variable cv_;                     // idle_ or open_ changed
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_
  unsigned open_ = 0;                              // idle + in use; guarded by mu_
};

}  // namespace

std::unique_ptr<ChunkSource> NewHttpChunkSource(const HttpChunkSourceOptions& options) {
  return std::make_unique<HttpChunkSource>(options);
}

}  // namespace ferry
