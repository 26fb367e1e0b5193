#include "common/http_url.h"

#include <algorithm>

namespace ferry {
namespace {

Status BadUrl(std::string_view url, const std::string& why) {
  return InvalidArgument("", "URL \"" + std::string(url) + "\" " + why + " (expected http://HOST[:PORT])");
}

}  // namespace

Result<HttpBaseUrl> ParseHttpBaseUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    return BadUrl(url, url.find("://") == std::string_view::npos ? "has no http:// scheme"
                                                                 : "is not http:// (only http is supported)");
  }
  std::string_view authority = url.substr(kScheme.size());
  if (authority.ends_with('/')) authority.remove_suffix(1);
  if (authority.find_first_of("/?#") != std::string_view::npos) return BadUrl(url, "has a path, query or fragment");
  if (authority.find('@') != std::string_view::npos) return BadUrl(url, "has user information");

  HttpBaseUrl out;
  out.host_header = std::string(authority);
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return BadUrl(url, "has an unclosed IPv6 address");
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after[0] != ':') return BadUrl(url, "has junk after the IPv6 address");
    if (!after.empty()) port = after.substr(1);
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return BadUrl(url, "has no host");
  if (port.empty()) {
    if (authority.ends_with(':')) return BadUrl(url, "has an empty port");
    out.port = "80";
    return out;
  }
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535) {
    return BadUrl(url, "has a bad port");
  }
  out.port = std::string(port);
  return out;
}

std::string ListenerAuthority(const std::string& listen_host, uint16_t port) {
  std::string h = listen_host;
  if (h == "0.0.0.0" || h.empty()) h = "127.0.0.1";
  if (h == "::") h = "::1";
  if (h.find(':') != std::string::npos) h = "[" + h + "]";
  return h + ":" + std::to_string(port);
}

}  // namespace ferry
