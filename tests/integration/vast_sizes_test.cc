// Issue 8 §2: a 4 EiB sparse object ("complete" with that size and no parts)
// and its import used to allocate one manifest entry per 4 MiB and kill the
// server with std::bad_alloc, at every restart. Now the sizes are refused at
// the edge with InvalidParameter and the server goes on answering.
//
// Needs a file system that holds 4 EiB sparse files: the server's data and
// the uploaded file live under /dev/shm (tmpfs); skipped where it cannot.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "common/fs_util.h"
#include "common/ids.h"
#include "integration/ferry_process.h"
#include "api/oss_client.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

constexpr const char* kRegion = "cn-hangzhou";
constexpr uint64_t kFourEiB = uint64_t{1} << 62;

// A sparse file of `size` bytes; false if the file system refuses it.
bool MakeSparse(const std::string& path, uint64_t size) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  return fd.valid() && ::ftruncate(fd.get(), static_cast<off_t>(size)) == 0;
}

class VastSizesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = "/dev/shm/ferry-vast-" + RandomHex(6);
    std::error_code ec;
    std::filesystem::create_directories(root_ + "/data/oss/" + kOperatorBucket, ec);
    std::filesystem::create_directories(root_ + "/config", ec);
    if (ec || !MakeSparse(root_ + "/probe", kFourEiB)) {
      GTEST_SKIP() << "no tmpfs at /dev/shm that holds a 4 EiB sparse file";
    }
    std::filesystem::remove(root_ + "/probe", ec);
    server_ = std::make_unique<FerryServer>(root_ + "/data", root_ + "/config");
    std::string error;
    ASSERT_TRUE(server_->Start(&error)) << error;
  }
  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(), 0) << server_->Log();
    }
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  void ExpectServerAnswers(EcsClient& client) {
    nlohmann::json regions = CallOk(client, "DescribeRegions", {});
    EXPECT_FALSE(regions.dump().empty());
    EcsClient admin = RootClient(server_->admin_endpoint(), /*use_v3=*/false);
    Result<std::string> health = admin.Get("/healthz");
    ASSERT_TRUE(health.ok()) << health.status().ToString() << "\n" << server_->Log();
  }

  std::string root_;
  std::unique_ptr<FerryServer> server_;
};

TEST_F(VastSizesTest, AFourExbibyteUploadAndImportAreRefusedAndTheServerStaysUp) {
  EcsClient client = RootClient(server_->endpoint(), /*use_v3=*/true);

  // The upload: a 4 EiB file of holes is refused by the client before a
  // byte is sent, and a PUT announcing 4 EiB by the server before its body.
  const std::string local = root_ + "/vast.raw";
  ASSERT_TRUE(MakeSparse(local, kFourEiB));
  OssClientConfig oss_config;
  oss_config.endpoint = server_->oss_endpoint();
  oss_config.access_key_id = kRootKeyId;
  oss_config.access_key_secret = kRootKeySecret;
  OssClient oss(oss_config);
  ASSERT_TRUE(oss.CreateBucket(kOperatorBucket).ok());
  Status up = oss.UploadFile(local, kOperatorBucket, "vast.raw", "", nullptr);
  EXPECT_EQ(up.reason(), "EntityTooLarge") << up.ToString();
  EXPECT_NE(up.message().find("4611686018427387904"), std::string::npos) << up.message();
  std::map<std::string, std::string> headers = {{"content-length", std::to_string(kFourEiB)},
                                                {"expect", "100-continue"}};
  HttpAnswer announced = SendHttp(server_->oss_endpoint(), "PUT", std::string("/") + kOperatorBucket + "/vast.raw",
                                  headers);
  EXPECT_EQ(announced.status, 400) << announced.body.dump();
  EXPECT_NE(announced.body.dump().find("EntityTooLarge"), std::string::npos) << announced.body.dump();
  EXPECT_FALSE(std::filesystem::exists(root_ + "/data/oss/" + kOperatorBucket + "/vast.raw"));
  ExpectServerAnswers(client);

  // The same object placed by the operator: ImportImage refuses it at once,
  // with the code and no host path, whether the format is given or detected.
  ASSERT_TRUE(MakeSparse(root_ + "/data/oss/" + kOperatorBucket + "/vast.raw", kFourEiB));
  for (const char* format : {"RAW", ""}) {
    SCOPED_TRACE(std::string("format \"") + format + "\"");
    std::map<std::string, std::string> params = {{"RegionId", kRegion},
                                                 {"ImageName", "vast"},
                                                 {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                                                 {"DiskDeviceMapping.1.OSSObject", "vast.raw"}};
    if (*format != '\0') params["DiskDeviceMapping.1.Format"] = format;
    Result<EcsResponse> resp = client.Call("ImportImage", params);
    ASSERT_TRUE(resp.ok()) << resp.status().ToString() << "\n" << server_->Log();
    EXPECT_EQ(resp->http_status, 400) << resp->raw_body;
    EXPECT_EQ(resp->body.value("Code", std::string()), "InvalidParameter") << resp->raw_body;
    const std::string message = resp->body.value("Message", std::string());
    EXPECT_NE(message.find("32768 GiB"), std::string::npos) << message;
    EXPECT_EQ(message.find(root_), std::string::npos) << "no host path: " << message;
  }
  ExpectServerAnswers(client);

  // Nothing was queued, so a restart has nothing to crash on.
  ASSERT_EQ(server_->Stop(), 0) << server_->Log();
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  EcsClient again = RootClient(server_->endpoint(), /*use_v3=*/true);
  ExpectServerAnswers(again);
}

}  // namespace
}  // namespace ferry::testing
