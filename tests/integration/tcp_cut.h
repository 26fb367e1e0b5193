// TcpCut: a TCP relay on 127.0.0.1 in front of a server, which a test can
// cut (every open connection closed, new ones closed at once) and mend, to
// make that server "down" for the processes that reach it through the relay
// and nobody else. For fault injection only.
//
// Threading: Cut/Mend from the test's thread; one thread accepts, one per
// open connection relays; all are joined by the destructor.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <list>
#include <mutex>
#include <string>
#include <thread>

namespace ferry::testing {

class TcpCut {
 public:
  // Relays to 127.0.0.1:target_port from a port of its own.
  explicit TcpCut(int target_port) : target_port_(target_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(0);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listener_, 64) != 0) {
      return;
    }
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~TcpCut() {
    stopping_ = true;
    Cut();
    ::shutdown(listener_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    ::close(listener_);
    std::lock_guard<std::mutex> lock(mu_);
    for (Pipe& p : pipes_) {
      if (p.thread.joinable()) p.thread.join();
      ::close(p.client);
      ::close(p.server);
    }
  }
  TcpCut(const TcpCut&) = delete;
  TcpCut& operator=(const TcpCut&) = delete;

  int port() const { return port_; }

  // Closes every relayed connection; until Mend, new ones are closed as soon
  // as they are accepted.
  void Cut() {
    cut_ = true;
    std::lock_guard<std::mutex> lock(mu_);
    for (Pipe& p : pipes_) {
      ::shutdown(p.client, SHUT_RDWR);
      ::shutdown(p.server, SHUT_RDWR);
    }
  }
  void Mend() { cut_ = false; }

 private:
  struct Pipe {
    int client = -1;
    int server = -1;
    std::thread thread;
  };

  static sockaddr_in Loopback(int port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    return addr;
  }

  void Accept() {
    while (!stopping_) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      if (cut_ || stopping_) {
        ::close(client);
        continue;
      }
      const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr = Loopback(target_port_);
      if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(server);
        ::close(client);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      pipes_.emplace_back();
      Pipe& p = pipes_.back();
      p.client = client;
      p.server = server;
      p.thread = std::thread([client, server] { Relay(client, server); });
    }
  }

  // Copies both ways until either side closes; closes neither (the owner
  // does, once the thread is joined, so a Cut never meets a reused fd).
  static void Relay(int a, int b) {
    char buf[64 * 1024];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    while (true) {
      if (::poll(fds, 2, 1000) < 0) return;
      for (int i = 0; i < 2; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
          ::shutdown(a, SHUT_RDWR);
          ::shutdown(b, SHUT_RDWR);
          return;
        }
        for (ssize_t off = 0; off < n;) {
          const ssize_t w = ::send(fds[1 - i].fd, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0) {
            ::shutdown(a, SHUT_RDWR);
            ::shutdown(b, SHUT_RDWR);
            return;
          }
          off += w;
        }
      }
    }
  }

  const int target_port_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> cut_{false};
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex mu_;
  std::list<Pipe> pipes_;  // guarded by mu_; closed in the destructor
};

}  // namespace ferry::testing
