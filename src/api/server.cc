// Beast/Asio implementation of Server. One coroutine per connection, each on
// its own strand; the coroutine hands a request to a work pool (client or
// peer) or to the asynchronous forwarder and awaits the answer without
// holding its I/O thread (server.h, "Threading").
#include "api/server.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api/console.h"
#include "api/dispatcher.h"
#include "api/metrics.h"
#include "api/params.h"
#include "api/peer_endpoints.h"
#include "api/render.h"
#include "api/work_pool.h"
#include "common/catch_all.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/log_safe.h"
#include "copy/peer_wire.h"
#include "region/object_errors.h"
#include "region/quotas.h"

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
  bool head = false;         // the request being answered is a HEAD: no body goes out
  bool admin = false;        // accepted on the operator's listener (fixed)
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
              AccountDirectory& accounts, ObjectStore& object_storage, const Clock& clock)
      : config_(config),
        acceptor_(asio::make_strand(ioc_)),
        admin_acceptor_(asio::make_strand(ioc_)),
        dispatcher_(std::move(actions), regions, accounts, clock, metrics_, config.host_id,
                    config.max_clock_skew_seconds, nullptr, config.max_nonces),
        peer_(config.cluster_key, regions, config.local_accounts ? *config.local_accounts : accounts, clock,
              &dispatcher_.authenticator()),
        object_storage_(object_storage),
        client_pool_("client", config.client_workers, config.max_queued_requests),
        peer_pool_("peer", config.peer_workers, config.max_queued_requests) {
    for (Region* region : regions.ordered) metrics_.AddRegion(region->id(), &region->metrics());
    dispatcher_.authenticator().SetClusterNonces(config.cluster_nonces);
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
    if (!config_.admin_listen_address.empty()) RETURN_IF_ERROR(OpenAdminListener());
    for (bool admin : {false, true}) {
      tcp::acceptor& acceptor = admin ? admin_acceptor_ : acceptor_;
      if (!acceptor.is_open()) continue;
      {
        std::lock_guard<std::mutex> lock(conns_mu_);
        ++accept_loops_;
      }
      asio::co_spawn(acceptor.get_executor(), AcceptLoop(acceptor, admin), [this](std::exception_ptr e) {
        if (e) spdlog::error("server: accept loop ended with an exception");
        std::lock_guard<std::mutex> lock(conns_mu_);
        --accept_loops_;
        conns_cv_.notify_all();
      });
    }
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
    spdlog::info("server: listening on {}:{} with {} I/O threads, {} client and {} peer handler threads",
                 config_.listen_address, port_, threads, client_pool_.threads(), peer_pool_.threads());
    if (admin_port_ != 0) {
      spdlog::info("server: admin listener (/metrics, /healthz) on {}:{}", config_.admin_listen_address,
                   admin_port_);
    }
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }
  uint16_t admin_port() const override { return admin_port_; }

  Status OpenAdminListener() {
    beast::error_code ec;
    auto address = asio::ip::make_address(config_.admin_listen_address, ec);
    if (ec) {
      return InvalidArgument(
          "", "admin listen address \"" + config_.admin_listen_address + "\": " + ec.message());
    }
    tcp::endpoint endpoint(address, config_.admin_port);
    admin_acceptor_.open(endpoint.protocol(), ec);
    if (!ec) admin_acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) admin_acceptor_.bind(endpoint, ec);
    if (!ec) admin_acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot open the admin listener on " + config_.admin_listen_address + ":" +
                         std::to_string(config_.admin_port) + ": " + ec.message());
    }
    admin_port_ = admin_acceptor_.local_endpoint().port();
    return Status::Ok();
  }


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
    for (tcp::acceptor* acceptor : {&acceptor_, &admin_acceptor_}) {
      asio::post(acceptor->get_executor(), [acceptor] {
        beast::error_code ignored;
        acceptor->close(ignored);
      });
    }
    {
      std::unique_lock<std::mutex> lock(conns_mu_);
      bool drained =
          conns_cv_.wait_for(lock, kStopGracePeriod, [this] { return conns_.empty() && accept_loops_ == 0; });
      if (!drained) spdlog::warn("server: {} connections still busy after the grace period", conns_.size());
    }
    ioc_.stop();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    if (warm_.joinable()) warm_.join();
    client_pool_.Stop();
    peer_pool_.Stop();
    spdlog::info("server: stopped");
  }

 private:
  asio::awaitable<void> AcceptLoop(tcp::acceptor& acceptor, bool admin) {
    for (;;) {
      tcp::socket socket(asio::make_strand(ioc_));
      auto [ec] = co_await acceptor.async_accept(socket, kAwait);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        spdlog::warn("server: accept failed: {}", ec.message());
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket));
      conn->admin = admin;
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
      header_parser.header_limit(kMaxHeaderBytes);
      conn->stream.expires_after(kIdleTimeout);
      auto [ec, n] = co_await http::async_read_header(conn->stream, buffer, header_parser, kAwait);
      conn->busy = true;
      if (ec) {
        // The method is known once the header is; before, only the bytes can tell.
        conn->head = header_parser.is_header_done()
                         ? header_parser.get().method() == http::verb::head
                         : std::string_view(static_cast<const char*>(buffer.data().data()), buffer.size())
                               .starts_with("HEAD ");
        if (std::optional<HttpResponse> answer = ParseErrorAnswer(ec, kMaxUploadPartBytes)) {
          conn->unread_body = true;
          co_await WriteResponse(*conn, std::move(*answer), false);
        }
        break;
      }
      const auto& header = header_parser.get();
      conn->head = header.method() == http::verb::head;
      if (!IsPrintableAscii(header.target())) {
        // Beast refuses control characters; bytes above 0x7e are refused
        // here: a target is ASCII, anything else is percent-encoded.
        conn->unread_body = true;
        co_await WriteResponse(
            *conn,
            ErrorFor(InvalidArgument("InvalidParameter",
                                     "The request target holds a byte that is not printable "
                                     "ASCII; percent-encode it."),
                     "unknown", 400),
            false);
        break;
      }
      std::string path = TargetPath(header.target());
      bool keep_alive = header.keep_alive();
      bool ok = true;
      if (conn->admin) {
        ok = co_await HandleSimple(*conn, buffer, header_parser, path);
      } else if (path.starts_with(kOssPrefix)) {
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

  // 404 for a path the listener does not serve; not counted in the metrics.
  HttpResponse UncountedNotFound(const std::string& path) const {
    return RenderError(ToEcsError(NotFound("InvalidAction.NotFound",
                                           "Specified api is not found, please check your url and method. No "
                                           "route for \"" +
                                               Echo(path) + "\" on this listener.")),
                       NewRequestId(), config_.host_id, ResponseFormat::kJson);
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
    if (conn.head) {
      // The one place a HEAD is answered: the GET answer's status and
      // headers, Content-Length included, and no body (RFC 9110, 9.3.2).
      http::response_serializer<http::string_body> serializer{res};
      auto [ec, n] = co_await http::async_write_header(conn.stream, serializer, kAwait);
      co_return !ec && res.keep_alive();
    }
    auto [ec, n] = co_await http::async_write(conn.stream, res, kAwait);
    co_return !ec && res.keep_alive();
  }

  // Runs `work` on `pool`; the awaiting coroutine resumes on its own strand
  // with the answer, or with nullopt at once when the pool's queue is full.
  // The I/O thread is free meanwhile. (Not a coroutine itself, and called
  // with named arguments only: GCC 12 destroys lambda temporaries inside a
  // co_await expression twice.)
  template <class T>
  static asio::awaitable<std::optional<T>> RunOnPool(WorkPool& pool, std::function<T()> work) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(std::optional<T>)>(
        [&pool](auto handler, std::function<T()> work) {
          auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
          auto resume = [waiting](std::optional<T> answer) {
            auto resume_on = asio::get_associated_executor(*waiting);
            asio::post(resume_on,
                       [waiting, answer = std::move(answer)]() mutable { std::move(*waiting)(std::move(answer)); });
          };
          bool queued = pool.TrySubmit([resume, work = std::move(work)] { resume(work()); });
          if (!queued) resume(std::nullopt);
        },
        asio::use_awaitable, std::move(work));
  }

  // Forwards `request` to `base_url` without holding a thread while the
  // owner works on it; the awaiting coroutine resumes on its own strand.
  asio::awaitable<Result<HttpResponse>> ForwardAsync(const std::string& base_url, const HttpRequest& request) {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void(Result<HttpResponse>)>(
        [this, base_url, request](auto handler) {
          auto waiting = std::make_shared<decltype(handler)>(std::move(handler));
          dispatcher_.forwarder().ForwardAsync(base_url, request, 0, [waiting](Result<HttpResponse> answer) {
            auto resume_on = asio::get_associated_executor(*waiting);
            asio::post(resume_on,
                       [waiting, answer = std::move(answer)]() mutable { std::move(*waiting)(std::move(answer)); });
          });
        },
        asio::use_awaitable);
  }

  asio::awaitable<HttpResponse> Forward(const Dispatcher::ForwardPlan& plan, const HttpRequest& request) {
    if (plan.refusal) co_return dispatcher_.FinishForward(plan, request, *plan.refusal);
    const std::string& base_url = plan.remote->base_url;
    Result<HttpResponse> forwarded = co_await ForwardAsync(base_url, request);
    co_return dispatcher_.FinishForward(plan, request, std::move(forwarded));
  }

  // The answer when `pool` is full: ECS format for clients, the peer error
  // format for peers.
  static Status BusyStatus(const WorkPool& pool) {
    spdlog::warn("server: {} pool busy ({} threads, {} requests queued): request refused", pool.name(),
                 pool.threads(), pool.max_queued());
    return Unavailable("The request has failed due to a temporary failure of the server: " +
                       std::to_string(pool.max_queued()) + " " + pool.name() +
                       " requests are waiting already. Try again later.");
  }
  HttpResponse Busy(const WorkPool& pool, bool peer) {
    Status busy = BusyStatus(pool);
    HttpResponse response =
        peer ? PeerEndpoints::ErrorResponse(busy, NewRequestId()) : ErrorFor(busy, "unknown");
    response.headers.emplace_back("x-acs-retry-after", "1");
    return response;
  }

  // The answer to a request the parser refused, or nullopt when there is
  // nobody to answer (the client closed, went quiet, or the socket failed).
  std::optional<HttpResponse> ParseErrorAnswer(const beast::error_code& ec, uint64_t body_limit) {
    if (ec == http::error::body_limit) {
      return ErrorFor(InvalidArgument("InvalidParameter", "The request body exceeds the limit of " +
                                                              std::to_string(body_limit) + " bytes."),
                      "unknown", 413);
    }
    if (ec == http::error::header_limit) {
      return ErrorFor(
          InvalidArgument("InvalidParameter", "The request line and header fields exceed the limit of " +
                                                  std::to_string(kMaxHeaderBytes) + " bytes."),
          "unknown", 431);
    }
    // end_of_stream and partial_message: the client closed the connection.
    if (ec.category() != http::make_error_code(http::error::bad_target).category() ||
        ec == http::error::end_of_stream || ec == http::error::partial_message) {
      return std::nullopt;
    }
    return ErrorFor(
        InvalidArgument("InvalidParameter", "The request is not valid HTTP/1.1: " + ec.message() + "."),
        "unknown", 400);
  }

  static bool IsPrintableAscii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
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
      if (std::optional<HttpResponse> answer = ParseErrorAnswer(ec, kMaxRpcBodyBytes)) {
        conn.unread_body = true;
        co_await WriteResponse(conn, std::move(*answer), false);
      }
      co_return false;
    }
    auto& message = parser.get();
    bool keep_alive = message.keep_alive();
    HttpResponse response;
    if (conn.admin && path == "/metrics") {
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = metrics_.RenderPrometheus();
    } else if (conn.admin && path == "/healthz") {
      response.content_type = "text/plain; charset=utf-8";
      response.body = "ok\n";
    } else if (conn.admin) {
      response = UncountedNotFound(path);
    } else if (path == "/metrics" || path == "/healthz") {
      // Not counted: peers warm their forwarding connections with
      // GET /healthz, where only the kept connection matters.
      response = UncountedNotFound(path);
    } else if (path.starts_with(kPeerPathPrefix)) {
      HttpRequest request = ToHttpRequest(message.base(), conn);
      request.body = std::move(message.body());  // signed, and a copy's target
      std::function<HttpResponse()> work = [this, route = std::string(path), request = std::move(request)] {
        return Guarded(route, [&] { return peer_.Handle(request); });
      };
      std::optional<HttpResponse> answer = co_await RunOnPool(peer_pool_, std::move(work));
      response = answer ? std::move(*answer) : Busy(peer_pool_, /*peer=*/true);
    } else if (IsConsolePath(path)) {
      response = ServeConsole(ToHttpRequest(message.base(), conn));
    } else if ((path == "/" || path.empty()) && message.method() == http::verb::get && message.body().empty() &&
               message.target().find('?') == std::string_view::npos &&
               WantsConsole(ToHttpRequest(message.base(), conn))) {
      // Only a bare GET / is converted to be looked at: API requests carry a
      // query or a body and skip the copy.
      response = ServeConsole(ToHttpRequest(message.base(), conn));
    } else if (path == "/" || path.empty()) {
      HttpRequest request = ToHttpRequest(message.base(), conn);
      request.body = std::move(message.body());
      // Read once: the plan and the handler both need the parameters.
      Dispatcher::RequestHead head = Dispatcher::ReadHead(request);
      if (std::optional<Dispatcher::ForwardPlan> plan = dispatcher_.PlanForward(request, head)) {
        response = co_await Forward(*plan, request);
      } else {
        std::function<HttpResponse()> work = [this, route = std::string(path), request = std::move(request),
                                              head = std::move(head)] {
          return Guarded(route, [&] { return dispatcher_.Handle(request, head); });
        };
        std::optional<HttpResponse> answer = co_await RunOnPool(client_pool_, std::move(work));
        response = answer ? std::move(*answer) : Busy(client_pool_, /*peer=*/false);
      }
    } else {
      response =
          ErrorFor(NotFound("InvalidAction.NotFound",
                            "Specified api is not found, please check your url and method. No route for \"" +
                                Echo(path) + "\"."),
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
    if (request.method == "DELETE")
      co_return co_await HandleOssDelete(conn, header_parser, request, request_id);
    const bool is_put = request.method == "PUT";
    const std::string action = is_put ? "OssPutPart" : "OssCompleteUpload";
    const std::string path = TargetPath(request.target);
    auto elapsed = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    auto fail = [&](const Status& status) {
      HttpResponse response = dispatcher_.ErrorResponse(status, request_id, action, elapsed());
      spdlog::info("request_id={} action={} target={} status={} error={}", request_id, action,
                   LogSafe(request.target), response.status, LogSafe(status.ToString()));
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
      http::request_parser<http::buffer_body> parser{std::move(header_parser)};
      parser.body_limit(kMaxUploadPartBytes);
      if (st.ok() && is_put && !parser.content_length()) {
        st = InvalidArgument("MissingParameter",
                             "The input parameter \"Content-Length\" that is mandatory for "
                             "processing this request is not supplied.");
      }
      std::unique_ptr<OffsetUpload> session;
      if (st.ok()) {
        auto query =
            ParseFormUrlEncoded(request.target.substr(std::min(request.target.size(), path.size() + 1)));
        if (!query.ok()) {
          st = query.status();
        } else {
          // On the client pool: the key may be another process's to look
          // up, the nonce the cluster owner's to spend, and the quota and
          // the upload's files are disk work.
          const uint64_t part_bytes = is_put ? *parser.content_length() : 0;
          std::function<Result<AuthResult>()> open = [&, part_bytes]() -> Result<AuthResult> {
            ASSIGN_OR_RETURN(AuthResult who,
                             dispatcher_.authenticator().AuthenticateV3WithoutBody(request, path, *query));
            // Parts count against the account's stored bytes while they exist.
            if (is_put) RETURN_IF_ERROR(CheckStorageQuota(object_storage_, who.caller.account_id, part_bytes));
            Result<std::unique_ptr<OffsetUpload>> upload =
                object_storage_.OpenOffsetUpload(who.caller.account_id, bucket, object, upload_id);
            if (!upload.ok()) return EcsObjectStatus(upload.status());
            session = std::move(upload).value();
            return who;
          };
          std::optional<Result<AuthResult>> opened = co_await RunOnPool(client_pool_, std::move(open));
          auth = opened ? std::move(*opened) : Result<AuthResult>(BusyStatus(client_pool_));
          if (!auth.ok()) st = auth.status();
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
          if (std::optional<HttpResponse> answer = ParseErrorAnswer(ec, kMaxUploadPartBytes)) {
            conn.unread_body = true;
            co_await WriteResponse(conn, std::move(*answer), false);
          }
          co_return false;
        }
        size_t got = chunk.size() - parser.get().body().size;
        if (got == 0) continue;
        hasher.Update(std::span<const uint8_t>(chunk.data(), got));
        if (write_status.ok()) {
          if (is_put) {
            write_status = EcsObjectStatus(
                session->Write(offset + received, std::span<const uint8_t>(chunk.data(), got)));
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
      if (write_status.ok() && !is_put) write_status = EcsObjectStatus(session->Complete(size).status());
      if (write_status.ok() && !is_put) {
        write_status = EcsObjectStatus(object_storage_.SetStaging(auth->caller.account_id, bucket, object,
                                                                  UploadIsStaging(request.target)));
      }
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
          request_id, action, bucket, LogSafe(object), upload_id, offset, is_put ? received : size,
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
                                 Echo(path) + "\".");
    }
    *bucket = UrlDecode(rest.substr(0, slash), false);
    *object = UrlDecode(rest.substr(slash + 1), false);
    RETURN_IF_ERROR(EcsObjectStatus(ObjectStore::ValidateBucketName(*bucket)));
    RETURN_IF_ERROR(EcsObjectStatus(ObjectStore::ValidateKey(*object)));
    size_t q = request.target.find('?');
    ASSIGN_OR_RETURN(auto query_map,
                     ParseFormUrlEncoded(q == std::string::npos ? "" : request.target.substr(q + 1)));
    Params query(std::move(query_map));
    ASSIGN_OR_RETURN(*upload_id, query.Required("uploadId"));
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    if (request.method == "PUT") {
      ASSIGN_OR_RETURN(int64_t off, query.Int("offset", 0, 0, kMax));
      *offset = static_cast<uint64_t>(off);
      RETURN_IF_ERROR(EcsObjectStatus(ObjectStore::CheckSize(*offset, ObjectStore::kMaxObjectBytes, "offset")));
    } else {
      ASSIGN_OR_RETURN(std::string complete, query.Required("complete"));
      if (complete != "1" && complete != "true") {
        return InvalidArgument("InvalidParameter", "The specified parameter \"complete\" is not valid.");
      }
      RETURN_IF_ERROR(query.Required("size").status());
      ASSIGN_OR_RETURN(int64_t s, query.Int("size", 0, 0, kMax));
      *size = static_cast<uint64_t>(s);
      RETURN_IF_ERROR(EcsObjectStatus(ObjectStore::CheckSize(*size, ObjectStore::kMaxObjectBytes, "size")));
    }
    return Status::Ok();
  }

  // `staging=1` on the complete request: the object is the CLI's staging
  // copy, deleted when the import that reads it ends (ObjectStore staging).
  static bool UploadIsStaging(const std::string& target) {
    size_t q = target.find('?');
    auto query = ParseFormUrlEncoded(q == std::string::npos ? "" : target.substr(q + 1));
    if (!query.ok()) return false;
    auto it = query->find("staging");
    return it != query->end() && (it->second == "1" || it->second == "true");
  }

  // DELETE /oss/<bucket>/<object>?uploadId=U aborts that upload (its part
  // file goes); DELETE /oss/<bucket>/<object> deletes the object. No body.
  asio::awaitable<bool> HandleOssDelete(Connection& conn,
                                        http::request_parser<http::empty_body>& header_parser,
                                        const HttpRequest& request, const std::string& request_id) {
    const auto start = std::chrono::steady_clock::now();
    const std::string path = TargetPath(request.target);
    size_t q = request.target.find('?');
    auto query = ParseFormUrlEncoded(q == std::string::npos ? "" : request.target.substr(q + 1));
    const bool abort = query.ok() && query->count("uploadId") != 0;
    const std::string action = abort ? "OssAbortUpload" : "OssDeleteObject";
    std::string_view rest = std::string_view(path).substr(std::string_view(kOssPrefix).size());
    size_t slash = rest.find('/');
    std::string bucket, object;
    Status st = query.ok() ? Status::Ok() : query.status();
    if (st.ok() && (slash == std::string_view::npos || slash + 1 >= rest.size())) {
      st = InvalidArgument("InvalidOSSObject.Malformed", "The path must be /oss/<bucket>/<object>.");
    }
    if (st.ok()) {
      bucket = UrlDecode(rest.substr(0, slash), false);
      object = UrlDecode(rest.substr(slash + 1), false);
      if (header_parser.content_length().value_or(0) != 0 || header_parser.chunked()) {
        st = InvalidArgument("InvalidParameter", "A DELETE request must have an empty body.");
      }
    }
    Result<AuthResult> auth = Status(Code::kInternal, "", "unset");
    if (st.ok()) {
      // On the client pool, like every call that may wait on a peer (the
      // key's lookup, the nonce's spending) or the disk.
      std::function<Result<AuthResult>()> remove = [&]() -> Result<AuthResult> {
        ASSIGN_OR_RETURN(AuthResult who, dispatcher_.authenticator().AuthenticateV3WithoutBody(request, path, *query));
        // This route answers a missing object InvalidOSSObject.NotFound
        // (the OSS wire's DeleteObject does not).
        if (!abort) RETURN_IF_ERROR(EcsObjectStatus(object_storage_.HeadObject(who.caller.account_id, bucket, object).status()));
        RETURN_IF_ERROR(EcsObjectStatus(
            abort ? object_storage_.AbortOffsetUpload(who.caller.account_id, bucket, object, query->at("uploadId"))
                  : object_storage_.DeleteObject(who.caller.account_id, bucket, object)));
        return who;
      };
      std::optional<Result<AuthResult>> removed = co_await RunOnPool(client_pool_, std::move(remove));
      auth = removed ? std::move(*removed) : Result<AuthResult>(BusyStatus(client_pool_));
      if (!auth.ok()) st = auth.status();
    }
    const double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool keep_alive = header_parser.get().keep_alive();
    if (!st.ok()) {
      HttpResponse response = dispatcher_.ErrorResponse(st, request_id, action, latency);
      spdlog::info("request_id={} action={} target={} status={} error={}", request_id, action, request.target,
                   response.status, st.ToString());
      if (header_parser.content_length().value_or(0) != 0 || header_parser.chunked()) {
        conn.unread_body = true;
        co_return co_await WriteResponse(conn, std::move(response), false);
      }
      co_return co_await WriteResponse(conn, std::move(response), keep_alive);
    }
    nlohmann::json body = {{"Bucket", bucket}, {"Object", object}};
    if (abort) body["UploadId"] = query->at("uploadId");
    HttpResponse response = RenderSuccess(body, request_id, action, ResponseFormat::kJson);
    metrics_.RecordRequest(action, "Success", latency);
    spdlog::info("request_id={} action={} bucket={} object={} account={} latency_ms={:.3f}", request_id,
                 action, bucket, object, auth->caller.account_id, latency * 1000);
    co_return co_await WriteResponse(conn, response, keep_alive);
  }

  const ServerConfig config_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  tcp::acceptor admin_acceptor_;  // open only with an admin_listen_address
  Metrics metrics_;
  Dispatcher dispatcher_;
  const PeerEndpoints peer_;
  ObjectStore& object_storage_;
  std::vector<std::thread> threads_;
  WorkPool client_pool_;  // ECS handlers; stopped by Stop() after the I/O threads
  WorkPool peer_pool_;    // peer-protocol handlers; likewise
  std::thread warm_;      // WarmForwarding at start and every kKeepWarm; joined by Stop()
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
  std::atomic<bool> stopped_{false};

  std::mutex conns_mu_;
  std::condition_variable conns_cv_;
  bool stopping_ = false;                                  // guarded by conns_mu_
  int accept_loops_ = 0;                                   // guarded by conns_mu_
  uint64_t next_conn_id_ = 1;                              // guarded by conns_mu_
  std::map<uint64_t, std::shared_ptr<Connection>> conns_;  // guarded by conns_mu_
};

}  // namespace

Result<std::unique_ptr<Server>> StartServer(const ServerConfig& config, ActionTable actions,
                                            const RegionSet& regions, AccountDirectory& accounts,
                                            ObjectStore& object_storage, const Clock& clock) {
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
