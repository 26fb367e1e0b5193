// The base URL of an HTTP server Ferry talks to: a peer process, the
// process a request is forwarded to, or the endpoint a CLI client calls.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

struct HttpBaseUrl {
  std::string host;         // "127.0.0.1", "example.com", "::1" (no brackets)
  std::string port;         // "8080"; "80" when the URL names none
  std::string host_header;  // the authority as written: "127.0.0.1:8080", "[::1]:8080"
};

// "http://HOST[:PORT]" with an optional trailing "/". IPv6 hosts in
// brackets. kInvalidArgument naming the URL and what is wrong: another
// scheme, a path, query or fragment, no host, a port outside 1-65535.
Result<HttpBaseUrl> ParseHttpBaseUrl(std::string_view url);

// The authority clients reach a listener on "listen_host" at: "HOST:PORT",
// with a wildcard address replaced by loopback ("0.0.0.0" -> "127.0.0.1",
// "::" -> "[::1]") and IPv6 hosts in brackets.
std::string ListenerAuthority(const std::string& listen_host, uint16_t port);

}  // namespace ferry
