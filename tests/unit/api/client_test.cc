#include "objects/fs_object_store.h"
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

class ClientUploadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/ferry-client-test-" + RandomHex(8);
    std::filesystem::create_directories(dir_ + "/oss");
    storage_ = std::make_unique<FsObjectStore>(dir_ + "/oss", apitest::kAccountId);
    ServerConfig config;
    config.port = 0;
    config.threads = 1;
    auto server = StartServer(config, ActionTable{}, regions_, accounts_, *storage_, SystemClock::Get());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  void TearDown() override {
    if (server_) server_->Stop();
    std::filesystem::remove_all(dir_);
  }
  EcsClient Client() {
    return EcsClient(ClientConfig{"http://127.0.0.1:" + std::to_string(server_->port()), apitest::kKeyId,
                                  apitest::kSecret, true});
  }

  std::string dir_;
  apitest::FakeAccounts accounts_;
  RegionSet regions_;
  std::unique_ptr<FsObjectStore> storage_;
  std::unique_ptr<Server> server_;
};

TEST_F(ClientUploadTest, LargeExtentIsSplitIntoParts) {
  const std::string local = dir_ + "/big.raw";
  const uint64_t kData = EcsClient::kMaxUploadPartBytes + (1 << 20);
  {
    int fd = open(local.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    std::string block(1 << 20, '\0');
    for (uint64_t off = 0; off < kData; off += block.size()) {
      for (size_t i = 0; i < block.size(); i += 4096) block[i] = static_cast<char>(off >> 20);
      ASSERT_EQ(pwrite(fd, block.data(), block.size(), static_cast<off_t>(off)),
                static_cast<ssize_t>(block.size()));
    }
    close(fd);
  }
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  Status st = Client().UploadFile("bkt", "big.raw", local,
                                  [&](uint64_t sent, uint64_t total) { calls.emplace_back(sent, total); });
  ASSERT_TRUE(st.ok()) << st.ToString();
  // Start, one 64 MiB part, then the 1 MiB remainder.
  std::vector<std::pair<uint64_t, uint64_t>> expected = {
      {0, kData}, {EcsClient::kMaxUploadPartBytes, kData}, {kData, kData}};
  EXPECT_EQ(calls, expected);

  auto path = storage_->PathForRead(apitest::kAccountId, "bkt", "big.raw");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(std::filesystem::file_size(*path), kData);
  int fd = open(path->c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char c = 0;
  ASSERT_EQ(pread(fd, &c, 1, static_cast<off_t>(kData - (1 << 20))), 1);
  EXPECT_EQ(c, static_cast<char>((kData - (1 << 20)) >> 20));
  close(fd);
}

TEST_F(ClientUploadTest, MissingFileAndBadBucket) {
  Status missing = Client().UploadFile("bkt", "x", dir_ + "/does-not-exist", nullptr);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("does-not-exist"), std::string::npos);

  const std::string local = dir_ + "/small";
  {
    int fd = open(local.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_EQ(write(fd, "abc", 3), 3);
    close(fd);
  }
  Status bad = Client().UploadFile("BAD_BUCKET", "x", local, nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.reason(), "InvalidOSSBucket.Malformed");
}

}  // namespace
}  // namespace ferry
