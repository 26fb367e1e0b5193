// FakePeerServer: a scripted HTTP/1.1 server on 127.0.0.1 (port 0) for the
// peer-client tests. Each connection is served on its own thread; the
// handler's Reply can answer, drop, stall, cut a response short or close a
// kept-alive connection on cue.
//
// Threading: the handler runs on connection threads, concurrently; the
// counters are thread-safe.
#pragma once

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ferry::peertest {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct Reply {
  int status = 200;
  std::string body;
  bool close_after = false;  // close the socket after answering, without saying so
  bool drop = false;         // close without answering
  bool stall = false;        // never answer until the server is destroyed
  bool partial = false;      // send the status line and part of the body, then close
  bool chunked = false;      // Transfer-Encoding: chunked instead of Content-Length
  std::string content_type;  // "" = octet-stream for 200, JSON otherwise
  // With Content-Length: the headers and body go out in pieces, cut after
  // each of these body offsets (ascending), `pause_ms` apart; with
  // `stall_in_body`, nothing more is sent after the first cut until the
  // server is destroyed.
  std::vector<size_t> cut_body_at;
  int pause_ms = 0;
  bool stall_in_body = false;
};
using Handler = std::function<Reply(const http::request<http::string_body>&)>;

// A peer error body as peers before the "Status" field wrote it.
inline std::string ErrorBody(const std::string& code) {
  return nlohmann::json{{"RequestId", "REQ-1"}, {"Code", code}, {"Message", "scripted " + code}}.dump();
}

class FakePeerServer {
 public:
  explicit FakePeerServer(Handler handler) : handler_(std::move(handler)), acceptor_(ioc_) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.bind(endpoint);
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~FakePeerServer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    cv_.notify_all();
    // Wake the blocking accept.
    asio::io_context ioc;
    tcp::socket poke(ioc);
    beast::error_code ignored;
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ignored);
    accept_thread_.join();
    for (std::thread& t : conn_threads_) t.join();
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int accepted() {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  int requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  int max_open() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_open_;
  }

 private:
  void AcceptLoop() {
    for (;;) {
      tcp::socket socket(ioc_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      if (ec) continue;
      ++accepted_;
      open_fds_.insert(socket.native_handle());
      max_open_ = std::max<int>(max_open_, static_cast<int>(open_fds_.size()));
      conn_threads_.emplace_back([this, s = std::move(socket)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      beast::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) break;
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++requests_;
      }
      Reply reply = handler_(request);
      if (reply.stall) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_; });
        break;
      }
      if (reply.drop) break;
      if (reply.partial) {
        const std::string cut = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part";
        asio::write(socket, asio::buffer(cut), ec);
        break;
      }
      http::response<http::string_body> response{static_cast<http::status>(reply.status), 11};
      std::string content_type = reply.content_type;
      if (content_type.empty()) content_type = reply.status == 200 ? "application/octet-stream" : "application/json";
      response.set(http::field::content_type, content_type);
      response.body() = reply.body;
      response.keep_alive(true);
      if (reply.chunked) {
        response.chunked(true);
      } else {
        response.prepare_payload();
      }
      if (!reply.cut_body_at.empty()) {
        if (!WriteInPieces(socket, response, reply)) break;
        continue;
      }
      http::write(socket, response, ec);
      if (ec || reply.close_after) break;
    }
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.erase(socket.native_handle());
    beast::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }

  // Writes `response` (Content-Length) cut as reply.cut_body_at says;
  // false when the connection is to end (stalled, or a write failed).
  bool WriteInPieces(tcp::socket& socket, http::response<http::string_body>& response, const Reply& reply) {
    http::response_serializer<http::string_body> serializer(response);
    beast::error_code ec;
    http::write_header(socket, serializer, ec);
    if (ec) return false;
    const std::string& body = reply.body;
    size_t sent = 0;
    for (size_t cut : reply.cut_body_at) {
      cut = std::min(cut, body.size());
      asio::write(socket, asio::buffer(body.data() + sent, cut - sent), ec);
      if (ec) return false;
      sent = cut;
      if (reply.stall_in_body) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_; });
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(reply.pause_ms));
    }
    asio::write(socket, asio::buffer(body.data() + sent, body.size() - sent), ec);
    return !ec;
  }

  Handler handler_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;

  std::mutex mu_;
  std::condition_variable cv_;             // stopping_
  bool stopping_ = false;                  // guarded by mu_
  int accepted_ = 0;                       // guarded by mu_
  int requests_ = 0;                       // guarded by mu_
  int max_open_ = 0;                       // guarded by mu_
  std::set<int> open_fds_;                 // guarded by mu_
  std::vector<std::thread> conn_threads_;  // guarded by mu_ (joined after accept_thread_)
};

}  // namespace ferry::peertest
