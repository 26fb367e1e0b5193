#include "common/http_url.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(HttpUrlTest, HostPortAndHostHeader) {
  Result<HttpBaseUrl> u = ParseHttpBaseUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "8080");
  EXPECT_EQ(u->host_header, "127.0.0.1:8080");

  u = ParseHttpBaseUrl("http://example.com/");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->host_header, "example.com");

  u = ParseHttpBaseUrl("http://[::1]:9000");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, "9000");
  EXPECT_EQ(u->host_header, "[::1]:9000");
}

TEST(HttpUrlTest, MalformedUrlsSayWhatIsWrong) {
  const std::pair<const char*, const char*> cases[] = {
      {"127.0.0.1:8080", "no http:// scheme"},
      {"https://h:1", "only http"},
      {"http://h:1/path", "path"},
      {"http://h:1?x=1", "query"},
      {"http://", "no host"},
      {"http://:80", "no host"},
      {"http://h:", "empty port"},
      {"http://h:0", "bad port"},
      {"http://h:65536", "bad port"},
      {"http://h:8a", "bad port"},
      {"http://[::1", "unclosed"},
      {"http://u@h:1", "user information"},
  };
  for (const auto& [url, why] : cases) {
    Result<HttpBaseUrl> u = ParseHttpBaseUrl(url);
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().code(), Code::kInvalidArgument) << url;
    EXPECT_NE(u.status().message().find(why), std::string::npos) << url << ": " << u.status().message();
    EXPECT_NE(u.status().message().find(url), std::string::npos) << url;
  }
}

}  // namespace
}  // namespace ferry
