// Beast/Asio implementation of Server. One coroutine per connection, each on
// its own strand; the coroutine hands a request to a work pool (client or
// peer) or to the asynchronous forwarder and awaits the answer without
// holding its I/O thread (server.h, "Threading").
#include "api/server.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "api/console.h"
#include "api/dispatcher.h"
#include "api/metrics.h"
#include "api/oss_endpoint.h"
#include "api/params.h"
#include "api/peer_endpoints.h"
#include "api/render.h"
#include "api/work_pool.h"
#include "common/catch_all.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/http_url.h"
#include "common/ids.h"
#include "common/log_safe.h"
#include "copy/peer_wire.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr uint64_t kMaxRpcBodyBytes = 1u << 20;
constexpr size_t kUploadBufferBytes = 1u << 20;
constexpr auto kIdleTimeout = std::chrono::seconds(120);
constexpr auto kIoTimeout = std::chrono::seconds(60);
// How often the forwarding connections to peers are used, to stay open:
// well inside a peer's kIdleTimeout.
constexpr auto kKeepWarm = std::chrono::seconds(30);
constexpr auto kStopGracePeriod = std::chrono::seconds(30);
constexpr auto kLingerTimeout = std::chrono::seconds(2);
constexpr uint64_t kMaxLingerBytes = 8ull << 20;

const auto kAwait = asio::as_tuple(asio::use_awaitable);

// One sendfile(2) call moves at most this much (Linux moves at most
// 0x7ffff000 bytes per call anyway).
constexpr uint64_t kSendfileMaxBytes = 1ull << 30;

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  beast::tcp_stream stream;
  // Touched only on the connection's strand.
  bool busy = false;
  bool unread_body = false;  // answered before the request body was read
  bool head = false;         // the request being answered is a HEAD: no body goes out
  bool admin = false;        // accepted on the operator's listener (fixed)
  bool oss = false;          // accepted on the OSS listener (fixed)
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
        oss_acceptor_(asio::make_strand(ioc_)),
        dispatcher_(std::move(actions), regions, accounts, clock, metrics_, config.host_id,
                    config.max_clock_skew_seconds, nullptr, config.max_nonces),
        peer_(config.cluster_key, regions, config.local_accounts ? *config.local_accounts : accounts, clock,
              &dispatcher_.authenticator()),
        client_pool_("client", config.client_workers, config.max_queued_requests),
        peer_pool_("peer", config.peer_workers, config.max_queued_requests) {
    for (Region* region : regions.ordered) metrics_.AddRegion(region->id(), &region->metrics());
    if (!config.oss_listen_address.empty()) {
      OssServiceConfig oss;
      oss.endpoint = config.oss_endpoint;
      oss.max_clock_skew_seconds = config.max_clock_skew_seconds;
      oss_ = std::make_unique<OssService>(std::move(oss), accounts, object_storage, clock, &metrics_);
    }
    dispatcher_.authenticator().SetClusterNonces(config.cluster_nonces);
    dispatcher_.authenticator().SetSharedNonces(config.shared_nonces);
    peer_.SetSharedNonces(config.shared_nonces);
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
    // Before the first accept: no request has read it yet.
    dispatcher_.SetHostId(config_.host_id.empty() ? ListenerAuthority(config_.listen_address, port_)
                                                  : config_.host_id);
    if (!config_.admin_listen_address.empty()) {
      ASSIGN_OR_RETURN(admin_port_, OpenListener(admin_acceptor_, config_.admin_listen_address,
                                                 config_.admin_port, "admin"));
    }
    if (oss_) {
      ASSIGN_OR_RETURN(oss_port_, OpenListener(oss_acceptor_, config_.oss_listen_address, config_.oss_port, "OSS"));
      oss_->set_host_id(config_.oss_listen_address + ":" + std::to_string(oss_port_));
    }
    for (Listener kind : {Listener::kTenant, Listener::kAdmin, Listener::kOss}) {
      tcp::acceptor& acceptor = kind == Listener::kAdmin ? admin_acceptor_
                                : kind == Listener::kOss ? oss_acceptor_
                                                         : acceptor_;
      if (!acceptor.is_open()) continue;
      {
        std::lock_guard<std::mutex> lock(conns_mu_);
        ++accept_loops_;
      }
      asio::co_spawn(acceptor.get_executor(), AcceptLoop(acceptor, kind), [this](std::exception_ptr e) {
        if (e) spdlog::error("server: accept loop ended with an exception");
        std::lock_guard<std::mutex> lock(conns_mu_);
        --accept_loops_;
        conns_cv_.notify_all();
      });
    }
    unsigned threads = std::max(1u, config_.threads);
    for (unsigned i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        // sendfile(2) to a socket the client closed raises SIGPIPE (it has
        // no MSG_NOSIGNAL); blocked in the I/O threads, it stays pending
        // there and the call fails with EPIPE instead, whatever the
        // process's disposition.
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
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
    if (oss_port_ != 0) spdlog::info("server: OSS listener on {}:{}", config_.oss_listen_address, oss_port_);
    return Status::Ok();
  }

  uint16_t port() const override { return port_; }
  uint16_t admin_port() const override { return admin_port_; }
  uint16_t oss_port() const override { return oss_port_; }

  // Opens `acceptor` on host:port; returns the bound port.
  static Result<uint16_t> OpenListener(tcp::acceptor& acceptor, const std::string& host, uint16_t port,
                                       const std::string& what) {
    beast::error_code ec;
    auto address = asio::ip::make_address(host, ec);
    if (ec) return InvalidArgument("", what + " listen address \"" + host + "\": " + ec.message());
    tcp::endpoint endpoint(address, port);
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Unavailable("cannot open the " + what + " listener on " + host + ":" + std::to_string(port) + ": " +
                         ec.message());
    }
    return acceptor.local_endpoint().port();
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
    for (tcp::acceptor* acceptor : {&acceptor_, &admin_acceptor_, &oss_acceptor_}) {
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
  enum class Listener { kTenant, kAdmin, kOss };

  asio::awaitable<void> AcceptLoop(tcp::acceptor& acceptor, Listener kind) {
    for (;;) {
      tcp::socket socket(asio::make_strand(ioc_));
      auto [ec] = co_await acceptor.async_accept(socket, kAwait);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        spdlog::warn("server: accept failed: {}", ec.message());
        continue;
      }
      auto conn = std::make_shared<Connection>(std::move(socket));
      conn->admin = kind == Listener::kAdmin;
      conn->oss = kind == Listener::kOss;
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
      header_parser.body_limit(conn->oss ? ObjectStore::kMaxPutBytes : kMaxRpcBodyBytes);
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
        if (std::optional<HttpResponse> answer = ParseErrorAnswer(
                ec, conn->oss ? ObjectStore::kMaxPutBytes : kMaxRpcBodyBytes, conn.get())) {
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
      if (conn->oss) {
        ok = co_await HandleOss(*conn, buffer, header_parser);
      } else if (conn->admin) {
        ok = co_await HandleSimple(*conn, buffer, header_parser, path);
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
                       NewRequestId(), dispatcher_.host_id(), ResponseFormat::kJson);
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
    if (response.file_body) {
      std::shared_ptr<HttpResponse::FileBody> file = std::move(response.file_body);
      co_return co_await WriteFileAnswer(conn, response, file->length, conn.head ? -1 : file->fd.get(),
                                         file->offset, keep_alive);
    }
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

  // Writes `head`'s status and headers with a Content-Length of `length`,
  // then, unless `fd` is -1 (a HEAD), `length` bytes of `fd` from `offset`
  // by sendfile(2): the kernel hands page-cache pages to the socket, nothing
  // is copied through this process. Each wait for room in the socket is
  // bounded by kIoTimeout. Returns false when the connection must be closed
  // (the client went away, the file came up short).
  asio::awaitable<bool> WriteFileAnswer(Connection& conn, const HttpResponse& head, uint64_t length, int fd,
                                        uint64_t offset, bool keep_alive) {
    http::response<http::buffer_body> res{static_cast<http::status>(head.status), 11};
    res.set(http::field::server, "ferry");
    res.set(http::field::content_type, head.content_type);
    for (const auto& [name, value] : head.headers) res.set(name, value);
    res.keep_alive(keep_alive && !Stopping());
    res.content_length(length);
    res.body().data = nullptr;
    res.body().more = true;
    http::response_serializer<http::buffer_body> serializer{res};
    conn.stream.expires_after(kIoTimeout);
    auto [hec, hn] = co_await http::async_write_header(conn.stream, serializer, kAwait);
    if (hec) co_return false;
    if (fd < 0 || length == 0) co_return res.keep_alive();
    tcp::socket& socket = conn.stream.socket();
    beast::error_code ec;
    socket.native_non_blocking(true, ec);
    if (ec) co_return false;
    auto file_offset = static_cast<off_t>(offset);
    uint64_t left = length;
    while (left > 0) {
      const ssize_t sent = ::sendfile(socket.native_handle(), fd, &file_offset,
                                      static_cast<size_t>(std::min<uint64_t>(left, kSendfileMaxBytes)));
      if (sent > 0) {
        left -= static_cast<uint64_t>(sent);
        continue;
      }
      if (sent < 0 && errno == EINTR) continue;
      if (sent == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        // The file shrank under us or the disk failed: the client sees a
        // short body, which it detects by Content-Length.
        if (sent == 0 || (errno != EPIPE && errno != ECONNRESET)) {
          spdlog::error("server: sending a file body failed at offset {}: {}", file_offset,
                        sent == 0 ? "unexpected end of file" : std::strerror(errno));
        }
        co_return false;
      }
      // The socket is full: wait for room, at most kIoTimeout.
      asio::steady_timer timer(conn.stream.get_executor());
      timer.expires_after(kIoTimeout);
      timer.async_wait([&socket](const beast::error_code& timer_ec) {
        if (!timer_ec) {
          beast::error_code ignored;
          socket.cancel(ignored);
        }
      });
      auto [wec] = co_await socket.async_wait(tcp::socket::wait_write, kAwait);
      timer.cancel();
      if (wec) co_return false;
    }
    socket.native_non_blocking(false, ec);
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
    // The region's processes in turn: the next when one cannot be connected
    // to (nothing was sent to it).
    Result<HttpResponse> forwarded = Unavailable("region " + plan.remote->region_id + " has no URL");
    for (const std::string& url : plan.remote->UrlsInTurn()) {
      forwarded = co_await ForwardAsync(url, request);
      if (forwarded.ok() || forwarded.status().reason() != kForwardNotConnected) {
        plan.remote->Answered(url);
        break;
      }
    }
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
  // In OSS format on the OSS listener.
  std::optional<HttpResponse> ParseErrorAnswer(const beast::error_code& ec, uint64_t body_limit,
                                               const Connection* conn = nullptr) {
    Status status;
    int http_status = 400;
    if (ec == http::error::body_limit) {
      status = InvalidArgument(conn && conn->oss ? "EntityTooLarge" : "InvalidParameter",
                               "The request body exceeds the limit of " + std::to_string(body_limit) + " bytes.");
      http_status = conn && conn->oss ? 400 : 413;
    } else if (ec == http::error::header_limit) {
      status = InvalidArgument("InvalidParameter", "The request line and header fields exceed the limit of " +
                                                       std::to_string(kMaxHeaderBytes) + " bytes.");
      http_status = 431;
    } else if (ec.category() != http::make_error_code(http::error::bad_target).category() ||
               ec == http::error::end_of_stream || ec == http::error::partial_message) {
      // end_of_stream and partial_message: the client closed the connection.
      return std::nullopt;
    } else {
      status = InvalidArgument("InvalidParameter", "The request is not valid HTTP/1.1: " + ec.message() + ".");
    }
    if (conn && conn->oss) {
      HttpResponse response = oss_->ErrorResponse(status, conn->head);
      if (status.reason() == "InvalidParameter") response.status = http_status;
      return response;
    }
    return ErrorFor(status, "unknown", http_status);
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

  // One request on the OSS listener (api/oss_endpoint.h): Begin on the
  // client pool, the body streamed into the exchange here, Finish on the
  // pool, the answer written (an object's bytes preaded in pieces).
  asio::awaitable<bool> HandleOss(Connection& conn, beast::flat_buffer& buffer,
                                  http::request_parser<http::empty_body>& header_parser) {
    HttpRequest request = ToHttpRequest(header_parser.get().base(), conn);
    const bool continue_expected = LowerCase(request.headers["expect"]) == "100-continue";
    std::function<std::shared_ptr<OssExchange>()> begin = [this, request = std::move(request)]() mutable {
      return std::shared_ptr<OssExchange>(oss_->Begin(std::move(request)));
    };
    std::optional<std::shared_ptr<OssExchange>> begun = co_await RunOnPool(client_pool_, std::move(begin));
    const bool has_body = header_parser.chunked() || header_parser.content_length().value_or(0) != 0;
    if (!begun) {
      conn.unread_body = has_body;
      co_return co_await WriteResponse(conn, oss_->ErrorResponse(BusyStatus(client_pool_), conn.head), false);
    }
    std::shared_ptr<OssExchange> exchange = std::move(*begun);
    if (exchange->refused()) {
      // Nothing of the body is read: the connection closes after the answer.
      conn.unread_body = has_body;
      co_return co_await WriteOssAnswer(conn, exchange->TakeAnswer(), !has_body && header_parser.keep_alive());
    }
    if (continue_expected && has_body) {
      http::response<http::empty_body> cont{http::status::continue_, 11};
      conn.stream.expires_after(kIoTimeout);
      auto [ec, n] = co_await http::async_write(conn.stream, cont, kAwait);
      if (ec) co_return false;
    }
    // The body, in kUploadBufferBytes pieces straight into the exchange.
    http::request_parser<http::buffer_body> parser{std::move(header_parser)};
    parser.body_limit(ObjectStore::kMaxPutBytes);
    std::vector<uint8_t> chunk(has_body ? kUploadBufferBytes : 0);
    // Beast reads min(64 KiB, the buffer's free capacity) per receive, and
    // the capacity left by the header is small: without room here a body
    // arrives in ~512-byte reads (a syscall, a timer and a wakeup each).
    if (has_body) buffer.reserve(kUploadBufferBytes);
    bool body_complete = true;
    while (!parser.is_done()) {
      parser.get().body().data = chunk.data();
      parser.get().body().size = chunk.size();
      conn.stream.expires_after(kIoTimeout);
      auto [ec, n] = co_await http::async_read(conn.stream, buffer, parser, kAwait);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        if (std::optional<HttpResponse> answer = ParseErrorAnswer(ec, ObjectStore::kMaxPutBytes, &conn)) {
          conn.unread_body = true;
          co_await WriteResponse(conn, std::move(*answer), false);
        }
        co_return false;
      }
      const size_t got = chunk.size() - parser.get().body().size;
      if (got != 0 && !exchange->Consume(std::span<const uint8_t>(chunk.data(), got)).ok()) {
        body_complete = false;  // the rest stays unread: answer, then close
        break;
      }
    }
    chunk = {};
    std::function<OssAnswer()> finish = [exchange] {
      exchange->Finish();
      return exchange->TakeAnswer();
    };
    std::optional<OssAnswer> answer = co_await RunOnPool(client_pool_, std::move(finish));
    const bool keep_alive = body_complete && parser.get().keep_alive();
    conn.unread_body = !body_complete;
    if (!answer) co_return co_await WriteResponse(conn, oss_->ErrorResponse(BusyStatus(client_pool_), conn.head), false);
    co_return co_await WriteOssAnswer(conn, std::move(*answer), keep_alive);
  }

  // Writes an OSS answer: a small body as any answer, a HEAD with the
  // object's Content-Length, or `length` bytes of a file in bounded pieces.
  asio::awaitable<bool> WriteOssAnswer(Connection& conn, OssAnswer answer, bool keep_alive) {
    if (!answer.file.valid() && !answer.head_length) {
      co_return co_await WriteResponse(conn, std::move(answer.response), keep_alive);
    }
    if (!answer.file.valid()) {  // HEAD: the object's length, no body
      co_return co_await WriteFileAnswer(conn, answer.response, *answer.head_length, -1, 0, keep_alive);
    }
    co_return co_await WriteFileAnswer(conn, answer.response, answer.length, answer.file.get(), answer.offset,
                                       keep_alive);
  }

  const ServerConfig config_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  tcp::acceptor admin_acceptor_;  // open only with an admin_listen_address
  tcp::acceptor oss_acceptor_;    // open only with an OSS service
  std::unique_ptr<OssService> oss_;  // null without an OSS listener
  Metrics metrics_;
  Dispatcher dispatcher_;
  PeerEndpoints peer_;  // set up in the constructor, then only read
  std::vector<std::thread> threads_;
  WorkPool client_pool_;  // ECS handlers; stopped by Stop() after the I/O threads
  WorkPool peer_pool_;    // peer-protocol handlers; likewise
  std::thread warm_;      // WarmForwarding at start and every kKeepWarm; joined by Stop()
  uint16_t port_ = 0;
  uint16_t admin_port_ = 0;
  uint16_t oss_port_ = 0;
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
