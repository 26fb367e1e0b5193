// Beast/Asio implementation of Server. One coroutine per connection, each on
// its own strand; handlers run synchronously on the I/O threads (they are
// short; long work runs as region tasks).
#include "api/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api/dispatcher.h"
#include "api/metrics.h"
#include "api/params.h"
#include "api/peer_endpoints.h"
#include "api/render.h"
#include "common/catch_all.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/ids.h"
#include "copy/peer_wire.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr uint64_t kMaxRpcBodyBytes = 1u << 20;
constexpr uint64_t kMaxUploadPartBytes = 256ull << 20;
constexpr size_t kUploadBufferBytes = 1u << 20;
constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr auto kIoTimeout = std::chrono::seconds(60);
// How often the forwarding connections to peers are used, to stay open:
// well inside a peer's kIdleTimeout.
constexpr auto kKeepWarm = std::chrono::seconds(30);
constexpr auto kStopGracePeriod = std::chrono::seconds(30);
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr uint64_t kMaxLingerBytes = 8ull << 20;
constexpr const char* kOssPrefix = "/oss/";

const auto kAwait = asio::as_tuple(asio::use_awaitable);

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  // Touched only on the connection's strand.
  bool busy = false;
  bool unread_body = false;  // answered before the request body was read
};

std::string LowerCase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

template <class Fields>
HttpRequest ToHttpRequest(const http::request_header<Fields>& header, const Connection& conn) {
  HttpRequest request;
  request.method = std::string(header.method_string());
  request.target = std::string(header.target());
  for (const auto& field : header) {
    std::string name = LowerCase(field.name_string());
    auto [it, inserted] = request.headers.emplace(name, std::string(field.value()));
    if (!inserted) it->second += "," + std::string(field.value());
  }
  beast::error_code ec;
  auto endpoint = conn.stream.socket().remote_endpoint(ec);
  if (!ec) request.remote_address = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  return request;
}

std::string TargetPath(std::string_view target) { return std::string(target.substr(0, target.find('?'))); }

class BeastServer final : public Server {
 public:
  BeastServer(const ServerConfig& config, ActionTable actions, const RegionSet& regions,
              AccountDirectory& accounts, ObjectStorage& object_storage, const Clock& clock)
      : config_(config),
        acceptor_(asio::make_strand(ioc_)),
        dispatcher_(std::move(actions), regions, accounts, clock, metrics_, config.host_id,
                    config.max_clock_skew_seconds),
        peer_(config.cluster_key, regions, config.local_accounts ? *config.local_accounts : accounts, clock),
        object_storage_(object_storage) {
    for (Region* region : regions.ordered) metrics_.AddRegion(region->id(), &region->metrics());
  }

  ~BeastServer() override { Stop(); }

  Status Start() {
    beast::error_code ec;
    auto address = asio::ip::make_address(config_.listen_address, ec);
    if (ec) return InvalidArgument("", "listen address \"" + config_.listen_address + "\": " + ec.message());
    tcp::endpoint endpoint(address, config_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot listen on " + config_.listen_address + ":" + std::to_string(config_.port) +
                         ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    accepting_ = true;
    asio::co_spawn(acceptor_.get_executor(), AcceptLoop(), [this](std::exception_ptr e) {
      if (e) spdlog::error("server: accept loop ended with an exception");
      std::lock_guard<std::mutex> lock(conns_mu_);
      accepting_ = false;
      conns_cv_.notify_all();
    });
    unsigned threads = std::max(1u, config_.threads);
    for (unsigned i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        // A handler that throws out of run() must not end the process.
        for (;;) {
          Status st = CatchAll("server thread", [this] { ioc_.run(); });
          if (st.ok()) break;
          spdlog::error("server: {}", st.ToString());
        }
      });
    }
    // Every kKeepWarm until Stop: a peer closes connections idle for
    // kIdleTimeout, and a forward on a new one waits a round trip more.
    warm_ = std::thread([this] {  // nothing to do without peers
      do {
        dispatcher_.WarmForwarding();
      } while (SleepUnlessStopped(stopped_, kKeepWarm));
    });
    spdlog::info("server: listening on {}:{} with {} I/O threads", config_.listen_address, port_, threads);
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }


  void Stop() override {
    if (stopped_.exchange(true)) return;
    {
      std::lock_guard<std::mutex> lock(conns_mu_);
      stopping_ = true;
      for (auto& [id, conn] : conns_) {
        asio::post(conn->stream.get_executor(), [conn = conn] {
          // An idle keep-alive connection has nothing in flight: close it.
          // A busy one finishes its response and then sees stopping_.
          if (!conn->busy) {
            beast::error_code ignored;
            conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
            conn->stream.socket().close(ignored);
          }
        });
      }
    }
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    {
      std::unique_lock<std::mutex> lock(conns_mu_);
      bool drained =
          conns_cv_.wait_for(lock, kStopGracePeriod, [this] { return conns_.empty() && !accepting_; });
      if (!drained) spdlog::warn("server: {} connections still busy after the grace period", conns_.size());
    }
    ioc_.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    if (warm_.joinable()) warm_.join();
    spdlog::info("server: stopped");
  }

 private:
  asio::awaitable<void> AcceptLoop() {
    for (;;) {
      tcp::socket socket(asio::make_strand(ioc_));
      auto [ec] = co_await acceptor_.async_accept(socket, kAwait);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
        spdlog::warn("server: accept failed: {}", ec.message());
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket));
      uint64_t id = 0;
      {
        std::lock_guard<std::mutex> lock(conns_mu_);
        if (stopping_) co_return;
        id = next_conn_id_++;
        conns_.emplace(id, conn);
      }
      asio::co_spawn(conn->stream.get_executor(), Session(conn), [this, id](std::exception_ptr e) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("server: connection ended with an exception: {}", ex.what());
          } catch (...) {
            spdlog::error("server: connection ended with an unknown exception");
          }
        }
        std::lock_guard<std::mutex> lock(conns_mu_);
        conns_.erase(id);
        conns_cv_.notify_all();
      });
    }
  }

  bool Stopping() {
    std::lock_guard<std::mutex> lock(conns_mu_);
    return stopping_;
  }

  asio::awaitable<void> Session(std::shared_ptr<Connection> conn) {
    beast::flat_buffer buffer;
    for (;;) {
      if (Stopping()) break;
      conn->busy = false;
      http::request_parser<http::empty_body> header_parser;
      // The header parser checks Content-Length against this limit; the
      // per-route limits are applied once the target is known.
      header_parser.body_limit(kMaxUploadPartBytes);
      conn->stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read_header(conn->stream, buffer, header_parser, kAwait);
      conn->busy = true;
      if (ec) {
        if (ec == http::error::body_limit) {
          conn->unread_body = true;
          co_await WriteResponse(
              *conn,
              ErrorFor(InvalidArgument("InvalidParameter",
                                       "The request body is larger "
                                       "than " +
                                           std::to_string(kMaxUploadPartBytes) + " bytes."),
                       "unknown", 413),
              false);
        }
        break;
      }
      const auto& header = header_parser.get();
      std::string path = TargetPath(header.target());
      bool keep_alive = header.keep_alive();
      bool ok = true;
      if (path.starts_with(kOssPrefix)) {
        ok = co_await HandleUpload(*conn, buffer, header_parser);
      } else {
        ok = co_await HandleSimple(*conn, buffer, header_parser, path);
      }
      if (!ok || !keep_alive) break;
    }
    if (conn->unread_body) {
      co_await LingeringClose(*conn);
    } else {
      beast::error_code ignored;
      conn->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      conn->stream.socket().close(ignored);
    }
  }

  // Closing a socket with unread request bytes makes the kernel send a
  // reset, which can destroy the error response the client has not read
  // yet. So: stop sending, then discard what the client still sends (bounded
  // in bytes and time) until it closes its side.
  asio::awaitable<void> LingeringClose(Connection& conn) {
    beast::error_code ec;
    conn.stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    std::vector<char> sink(64 << 10);
    uint64_t drained = 0;
    while (drained < kMaxLingerBytes) {
      conn.stream.expires_after(kLingerTimeout);
      auto [rec, n] = co_await conn.stream.async_read_some(asio::buffer(sink), kAwait);
      if (rec) break;
      drained += n;
    }
    conn.stream.socket().close(ec);
  }

  HttpResponse ErrorFor(const Status& status, const std::string& action, int http_status_override = 0) {
    HttpResponse response = dispatcher_.ErrorResponse(status, NewRequestId(), action, 0);
    if (http_status_override != 0) response.status = http_status_override;
    return response;
  }

  // Runs a handler; an exception from it (std::bad_alloc included) becomes a
  // 500 InternalError with the generic, path-free ECS message, and the log
  // keeps the detail.
  template <typename Fn>
  HttpResponse Guarded(const std::string& route, Fn&& handle) {
    HttpResponse response;
    Status st = CatchAll("request to " + route, [&] { response = handle(); });
    if (st.ok()) return response;
    spdlog::error("server: {}", st.ToString());
    return ErrorFor(Internal(""), "unknown");
  }

  // Returns false when the connection must be closed.
  // Takes the response by value so a large body (a peer chunk) is moved,
  // not copied, into the message.
  asio::awaitable<bool> WriteResponse(Connection& conn, HttpResponse response, bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(response.status), 11};
    res.set(http::field::server, "ferry");
    res.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) res.set(name, value);
    res.body() = std::move(response.body);
    res.keep_alive(keep_alive && !Stopping());
    res.prepare_payload();
    conn.stream.expires_after(kIoTimeout);
    auto [ec, n] = co_await http::async_write(conn.stream, res, kAwait);
    co_return !ec && res.keep_alive();
  }

  // "/", "/metrics", "/healthz": small bodies read whole.
  asio::awaitable<bool> HandleSimple(Connection& conn, beast::flat_buffer& buffer,
                                     http::request_parser<http::empty_body>& header_parser,
                                     const std::string& path) {
    http::request_parser<http::string_body> parser{std::move(header_parser)};
    parser.body_limit(kMaxRpcBodyBytes);
    const auto& header = parser.get();
    if (header.has_content_length() && parser.content_length() &&
        *parser.content_length() > kMaxRpcBodyBytes) {
      conn.unread_body = true;
      co_return co_await WriteResponse(
          conn,
          ErrorFor(InvalidArgument("InvalidParameter", "The request body of " +
                                                           std::to_string(*parser.content_length()) +
                                                           " bytes exceeds the limit of " +
                                                           std::to_string(kMaxRpcBodyBytes) + " bytes."),
                   "unknown", 413),
          false);
    }
    conn.stream.expires_after(kIoTimeout);
    auto [ec, n] = co_await http::async_read(conn.stream, buffer, parser, kAwait);
    if (ec) {
      if (ec == http::error::body_limit) {
        conn.unread_body = true;
        co_await WriteResponse(
            conn,
            ErrorFor(InvalidArgument("InvalidParameter", "The request body exceeds the limit of " +
                                                             std::to_string(kMaxRpcBodyBytes) + " bytes."),
                     "unknown", 413),
            false);
      }
      co_return false;
    }
    auto& message = parser.get();
    bool keep_alive = message.keep_alive();
    HttpResponse response;
    if (path == "/metrics") {
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = metrics_.RenderPrometheus();
    } else if (path == "/healthz") {
      response.content_type = "text/plain; charset=utf-8";
      response.body = "ok\n";
    } else if (path.starts_with(kPeerPathPrefix)) {
      HttpRequest request = ToHttpRequest(message.base(), conn);
      request.body = std::move(message.body());  // signed, and a copy's target
      response = Guarded(path, [&] { return peer_.Handle(request); });
    } else if (path == "/" || path.empty()) {
      HttpRequest request = ToHttpRequest(message.base(), conn);
      request.body = std::move(message.body());
      response = Guarded(path, [&] { return dispatcher_.Handle(request); });
    } else {
      response =
          ErrorFor(NotFound("InvalidAction.NotFound",
                            "Specified api is not found, please check your url and method. No route for \"" +
                                path + "\"."),
                   "unknown");
    }
    co_return co_await WriteResponse(conn, std::move(response), keep_alive);
  }

  // PUT /oss/<bucket>/<object>?uploadId=U&offset=O and
  // POST /oss/<bucket>/<object>?uploadId=U&complete=1&size=S.
  asio::awaitable<bool> HandleUpload(Connection& conn, beast::flat_buffer& buffer,
                                     http::request_parser<http::empty_body>& header_parser) {
    const auto start = std::chrono::steady_clock::now();
    const std::string request_id = NewRequestId();
    HttpRequest request = ToHttpRequest(header_parser.get().base(), conn);
    const bool is_put = request.method == "PUT";
    const std::string action = is_put ? "OssPutPart" : "OssCompleteUpload";
    const std::string path = TargetPath(request.target);
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    auto fail = [&](const Status& status) {
      HttpResponse response = dispatcher_.ErrorResponse(status, request_id, action, elapsed());
      spdlog::info("request_id={} action={} target={} status={} error={}", request_id, action, request.target,
                   response.status, status.ToString());
      return response;
    };

    // Everything but the body is checked before a byte of it is read, so a
    // rejected upload costs nothing but the connection.
    std::string bucket, object;
    uint64_t offset = 0, size = 0;
    std::string upload_id;
    Result<AuthResult> auth = Status(Code::kInternal, "", "unset");
    {
      Status st = ParseUploadTarget(request, path, &bucket, &object, &upload_id, &offset, &size);
      if (st.ok() && !is_put && request.method != "POST") {
        st = PermissionDenied("UnsupportedHTTPMethod",
                              "Uploads accept PUT (a part) and POST (complete), not " + request.method + ".");
      }
      if (st.ok()) {
        auto query =
            ParseFormUrlEncoded(request.target.substr(std::min(request.target.size(), path.size() + 1)));
        if (!query.ok()) {
          st = query.status();
        } else {
          auth = dispatcher_.authenticator().AuthenticateV3WithoutBody(request, path, *query);
          if (!auth.ok()) st = auth.status();
        }
      }
      http::request_parser<http::buffer_body> parser{std::move(header_parser)};
      parser.body_limit(kMaxUploadPartBytes);
      if (st.ok() && is_put && !parser.content_length()) {
        st = InvalidArgument("MissingParameter",
                             "The input parameter \"Content-Length\" that is mandatory for "
                             "processing this request is not supplied.");
      }
      std::unique_ptr<UploadSession> session;
      if (st.ok()) {
        auto opened = object_storage_.OpenUpload(auth->caller.account_id, bucket, object, upload_id);
        if (opened.ok()) {
          session = std::move(opened).value();
        } else {
          st = opened.status();
        }
      }
      if (!st.ok()) {
        conn.unread_body = true;
        co_return co_await WriteResponse(conn, fail(st), false);
      }

      if (request.headers.count("expect") != 0 && LowerCase(request.headers["expect"]) == "100-continue") {
        http::response<http::empty_body> cont{http::status::continue_, 11};
        conn.stream.expires_after(kIoTimeout);
        auto [ec, n] = co_await http::async_write(conn.stream, cont, kAwait);
        if (ec) co_return false;
      }

      // Stream the body to the upload in kUploadBufferBytes pieces, hashing
      // as it goes; the whole part never sits in memory.
      std::vector<uint8_t> chunk(kUploadBufferBytes);
      Sha256 hasher;
      uint64_t received = 0;
      Status write_status;
      while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        conn.stream.expires_after(kIoTimeout);
        auto [ec, n] = co_await http::async_read(conn.stream, buffer, parser, kAwait);
        if (ec == http::error::need_buffer) ec = {};
        if (ec) {
          spdlog::warn("request_id={} action={} body read failed after {} bytes: {}", request_id, action,
                       received, ec.message());
          co_return false;
        }
        size_t got = chunk.size() - parser.get().body().size;
        if (got == 0) continue;
        hasher.Update(std::span<const uint8_t>(chunk.data(), got));
        if (write_status.ok()) {
          if (is_put) {
            write_status = session->Write(offset + received, std::span<const uint8_t>(chunk.data(), got));
          } else {
            write_status =
                InvalidArgument("InvalidParameter", "The complete request must have an empty body.");
          }
        }
        received += got;
      }
      bool keep_alive = parser.get().keep_alive();
      std::string actual = ToHex(hasher.Finish());
      std::string claimed = LowerCase(request.headers["x-acs-content-sha256"]);
      if (write_status.ok() && actual != claimed) {
        // The bytes already written at this offset are overwritten when the
        // client resends the part; Complete() must only follow good parts.
        write_status = InvalidArgument(
            "InvalidParameter",
            "The specified parameter \"x-acs-content-sha256\" is not valid. The part at offset " +
                std::to_string(offset) + " (" + std::to_string(received) + " bytes) hashes to " + actual +
                " but the header says " + claimed + ". Resend the part.");
      }
      if (write_status.ok() && !is_put) write_status = session->Complete(size);
      if (!write_status.ok()) co_return co_await WriteResponse(conn, fail(write_status), keep_alive);

      nlohmann::json body = {{"Bucket", bucket}, {"Object", object}, {"UploadId", upload_id}};
      if (is_put) {
        body["Offset"] = offset;
        body["Size"] = received;
        body["ContentSha256"] = actual;
      } else {
        body["Size"] = size;
      }
      HttpResponse response = RenderSuccess(body, request_id, action, ResponseFormat::kJson);
      double latency = elapsed();
      metrics_.RecordRequest(action, "Success", latency);
      spdlog::info(
          "request_id={} action={} bucket={} object={} upload_id={} offset={} bytes={} account={} "
          "latency_ms={:.3f}",
          request_id, action, bucket, object, upload_id, offset, is_put ? received : size,
          auth->caller.account_id, latency * 1000);
      co_return co_await WriteResponse(conn, response, keep_alive);
    }
  }

  static Status ParseUploadTarget(const HttpRequest& request, const std::string& path, std::string* bucket,
                                  std::string* object, std::string* upload_id, uint64_t* offset,
                                  uint64_t* size) {
    std::string_view rest = std::string_view(path).substr(std::string_view(kOssPrefix).size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos || slash + 1 >= rest.size()) {
      return InvalidArgument("InvalidOSSObject.Malformed",
                             "The specified OSSObject is wrongly formed. The upload path must be "
                             "/oss/<bucket>/<object>, got \"" +
                                 path + "\".");
    }
    *bucket = UrlDecode(rest.substr(0, slash), false);
    *object = UrlDecode(rest.substr(slash + 1), false);
    RETURN_IF_ERROR(ObjectStorage::ValidateBucketName(*bucket));
    RETURN_IF_ERROR(ObjectStorage::ValidateObjectName(*object));
    size_t q = request.target.find('?');
    ASSIGN_OR_RETURN(auto query_map,
                     ParseFormUrlEncoded(q == std::string::npos ? "" : request.target.substr(q + 1)));
    Params query(std::move(query_map));
    ASSIGN_OR_RETURN(*upload_id, query.Required("uploadId"));
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    if (request.method == "PUT") {
      ASSIGN_OR_RETURN(int64_t off, query.Int("offset", 0, 0, kMax));
      *offset = static_cast<uint64_t>(off);
      RETURN_IF_ERROR(ObjectStorage::CheckObjectSize(*offset, "offset"));
    } else {
      ASSIGN_OR_RETURN(std::string complete, query.Required("complete"));
      if (complete != "1" && complete != "true") {
        return InvalidArgument("InvalidParameter", "The specified parameter \"complete\" is not valid.");
      }
      RETURN_IF_ERROR(query.Required("size").status());
      ASSIGN_OR_RETURN(int64_t s, query.Int("size", 0, 0, kMax));
      *size = static_cast<uint64_t>(s);
      RETURN_IF_ERROR(ObjectStorage::CheckObjectSize(*size, "size"));
    }
    return Status::Ok();
  }

  const ServerConfig config_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  Metrics metrics_;
  Dispatcher dispatcher_;
  const PeerEndpoints peer_;
  ObjectStorage& object_storage_;
  std::vector<std::thread> threads_;
  std::thread warm_;  // WarmForwarding at start and every kKeepWarm; joined by Stop()
  uint16_t port_ = 0;
  std::atomic<bool> stopped_{false};

  std::mutex conns_mu_;
  std::condition_variable conns_cv_;
  bool stopping_ = false;                                  // guarded by conns_mu_
  bool accepting_ = false;                                 // guarded by conns_mu_
  uint64_t next_conn_id_ = 1;                              // guarded by conns_mu_
  std::map<uint64_t, std::shared_ptr<Connection>> conns_;  // guarded by conns_mu_
};

}  // namespace

Result<std::unique_ptr<Server>> StartServer(const ServerConfig& config, ActionTable actions,
                                            const RegionSet& regions, AccountDirectory& accounts,
                                            ObjectStorage& object_storage, const Clock& clock) {
  try {
    auto server =
        std::make_unique<BeastServer>(config, std::move(actions), regions, accounts, object_storage, clock);
    RETURN_IF_ERROR(server->Start());
    return std::unique_ptr<Server>(std::move(server));
  } catch (const std::exception& e) {
    return Internal(std::string("starting the server: ") + e.what());
  }
}

}  // namespace ferry
