#include "api/client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <filesystem>

#include "api/server.h"
#include "common/ids.h"
#include "unit/api/api_fakes.h"

namespace ferry {
namespace {

TEST(ClientTest, RejectsUnsupportedEndpoints) {
  EcsClient client(ClientConfig{"https://127.0.0.1:1", "id", "secret"});
  auto r = client.Call("DescribeRegions", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("https://127.0.0.1:1"), std::string::npos);
}

TEST(ClientTest, ConnectionRefusedIsUnavailable) {
  uint16_t port = 0;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }
  ClientConfig config{"http://127.0.0.1:" + std::to_string(port), "id", "secret"};
  config.timeout_ms = 2000;
  EcsClient client(config);
  auto r = client.Call("DescribeRegions", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace ferry
