#include "api/console.h"

namespace ferry {
namespace {

constexpr std::string_view kPrefix = "/console";
constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

std::string_view PathOf(const std::string& target) {
  std::string_view t(target);
  return t.substr(0, t.find('?'));
}

void Harden(HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", kCsp);
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
}

HttpResponse Plain(int status, std::string text) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(text);
  Harden(r);
  return r;
}

}  // namespace

bool IsConsolePath(std::string_view path) {
  return path == kPrefix || (path.starts_with(kPrefix) && path[kPrefix.size()] == '/');
}

bool WantsConsole(const HttpRequest& request) {
  if (request.method != "GET" || !request.body.empty()) return false;
  if (request.target.find('?') != std::string::npos) return false;
  auto accept = request.headers.find("accept");
  return accept != request.headers.end() && accept->second.find("text/html") != std::string::npos;
}

HttpResponse ServeConsole(const HttpRequest& request) {
  std::string_view path = PathOf(request.target);
  if (path == "/" || path.empty() || path == kPrefix) {
    HttpResponse r = Plain(302, "See /console/\n");
    r.headers.emplace_back("Location", "/console/");
    return r;
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = Plain(405, "The console's files are read with GET.\n");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  if (path == "/console/") path = "/console/index.html";
  for (const ConsoleAsset& a : ConsoleAssets()) {
    if (a.path != path) continue;
    HttpResponse r;
    r.content_type = std::string(a.media_type) + "; charset=utf-8";
    r.headers.emplace_back("ETag", std::string(a.etag));
    r.headers.emplace_back("Cache-Control", "no-cache");
    Harden(r);
    auto match = request.headers.find("if-none-match");
    if (match != request.headers.end() && match->second == a.etag) {
      r.status = 304;
      return r;
    }
    if (request.method == "GET") r.body = std::string(a.body);
    return r;
  }
  return Plain(404, "No such console file: " + std::string(path) + "\n");
}

}  // namespace ferry
