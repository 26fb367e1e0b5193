// The console's static files: which paths are the console's, the redirect
// of a browser's "/", caching by ETag, the hardening headers, and that an
// SDK's requests to "/" are never taken for a browser.
#include "api/console.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace ferry {
namespace {

HttpRequest Get(const std::string& target, std::map<std::string, std::string> headers = {}) {
  HttpRequest r;
  r.method = "GET";
  r.target = target;
  r.headers = std::move(headers);
  return r;
}

std::string Header(const HttpResponse& r, const std::string& name) {
  auto it = std::find_if(r.headers.begin(), r.headers.end(), [&](const auto& h) { return h.first == name; });
  return it == r.headers.end() ? "" : it->second;
}

TEST(ConsoleTest, EmbedsTheBuiltFiles) {
  std::vector<std::string> paths;
  for (const ConsoleAsset& a : ConsoleAssets()) {
    paths.emplace_back(a.path);
    EXPECT_FALSE(a.body.empty()) << a.path;
    EXPECT_EQ(a.etag.size(), 18u) << a.path;  // 16 hex digits, quoted
  }
  for (const char* want : {"/console/index.html", "/console/app.js", "/console/app.css", "/console/favicon.svg"})
    EXPECT_NE(std::find(paths.begin(), paths.end(), want), paths.end()) << want;
}

TEST(ConsoleTest, PathsAreTheConsolesOnly) {
  EXPECT_TRUE(IsConsolePath("/console"));
  EXPECT_TRUE(IsConsolePath("/console/"));
  EXPECT_TRUE(IsConsolePath("/console/app.js"));
  EXPECT_FALSE(IsConsolePath("/consoles"));
  EXPECT_FALSE(IsConsolePath("/"));
  EXPECT_FALSE(IsConsolePath("/oss/console"));
}

TEST(ConsoleTest, ServesIndexWithHardeningAndRevalidatesByEtag) {
  HttpResponse index = ServeConsole(Get("/console/"));
  ASSERT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_NE(index.body.find("/console/app.js?v="), std::string::npos);
  EXPECT_NE(Header(index, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_NE(Header(index, "Content-Security-Policy").find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(Header(index, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(Header(index, "Cache-Control"), "no-cache");
  const std::string etag = Header(index, "ETag");
  ASSERT_FALSE(etag.empty());
  HttpResponse again = ServeConsole(Get("/console/index.html", {{"if-none-match", etag}}));
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(ServeConsole(Get("/console/app.js?v=anything")).content_type, "text/javascript; charset=utf-8");
}

TEST(ConsoleTest, RedirectsTheBareRootAndRefusesOthers) {
  HttpResponse bare = ServeConsole(Get("/console"));
  EXPECT_EQ(bare.status, 302);
  EXPECT_EQ(Header(bare, "Location"), "/console/");
  EXPECT_EQ(ServeConsole(Get("/console/../etc/passwd")).status, 404);
  EXPECT_EQ(ServeConsole(Get("/console/nope.js")).status, 404);
  HttpRequest post = Get("/console/app.js");
  post.method = "POST";
  EXPECT_EQ(ServeConsole(post).status, 405);
}

TEST(ConsoleTest, OnlyABrowsersPlainGetOfTheRootIsAPageRequest) {
  EXPECT_TRUE(WantsConsole(Get("/", {{"accept", "text/html,application/xhtml+xml"}})));
  // SDK requests: a query, a body, or no HTML in Accept.
  EXPECT_FALSE(WantsConsole(Get("/?Action=DescribeRegions", {{"accept", "text/html"}})));
  EXPECT_FALSE(WantsConsole(Get("/", {{"accept", "application/json"}})));
  EXPECT_FALSE(WantsConsole(Get("/")));
  HttpRequest post = Get("/", {{"accept", "text/html"}});
  post.method = "POST";
  post.body = "Action=DescribeRegions";
  EXPECT_FALSE(WantsConsole(post));
}

}  // namespace
}  // namespace ferry
