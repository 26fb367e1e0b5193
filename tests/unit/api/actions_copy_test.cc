#include <gtest/gtest.h>

#include <map>
#include <string>

#include "api/action.h"
#include "api/errors.h"
#include "unit/api/fake_region.h"

namespace ferry {
namespace {

using actiontest::FakeAccounts;
using actiontest::FakeClock;
using actiontest::RunHandler;
using actiontest::FakeRegion;
using nlohmann::json;

constexpr const char* kAlice = "1111111111111111";

class ActionsCopyTest : public ::testing::Test {
 protected:
  ActionsCopyTest() : hangzhou_("cn-hangzhou"), shanghai_("cn-shanghai") {
    regions_.ordered = {&hangzhou_, &shanghai_};
  }

  Result<json> Call(const std::string& action, std::map<std::string, std::string> values) {
    Params params(std::move(values));
    ActionContext ctx{params, Caller{kAlice}, false, "REQ-1", regions_, accounts_, clock_, "127.0.0.1:18080"};
    return RunHandler(action, ctx);
  }

  FakeRegion hangzhou_;
  FakeRegion shanghai_;
  RegionSet regions_;
  FakeAccounts accounts_;
  FakeClock clock_;
};

TEST_F(ActionsCopyTest, CopyImageGoesToTheSourceRegionWithEveryParameter) {
  Result<json> r = Call("CopyImage", {{"RegionId", "cn-hangzhou"},
                                      {"ImageId", "m-source"},
                                      {"DestinationRegionId", "cn-shanghai"},
                                      {"DestinationImageName", "copy-name"},
                                      {"DestinationDescription", "copy description"},
                                      {"Tag.1.Key", "env"},
                                      {"Tag.1.Value", "prod"},
                                      {"ClientToken", "token-1"},
                                      {"Encrypted", "false"},
                                      {"ResourceGroupId", "rg-ignored"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json({{"ImageId", "m-copyof0000000000000"}}));
  ASSERT_EQ(hangzhou_.copy_requests.size(), 1u);
  EXPECT_TRUE(shanghai_.copy_requests.empty());
  const CopyImageRequest& req = hangzhou_.copy_requests[0];
  EXPECT_EQ(req.image_id, "m-source");
  EXPECT_EQ(req.destination_region_id, "cn-shanghai");
  EXPECT_EQ(req.destination_image_name, "copy-name");
  EXPECT_EQ(req.destination_description, "copy description");
  EXPECT_EQ(req.tags, (Tags{{"env", "prod"}}));
  EXPECT_EQ(req.client_token, "token-1");
  EXPECT_FALSE(req.encrypted);
  EXPECT_FALSE(req.dry_run);
  EXPECT_EQ(hangzhou_.callers.back().account_id, kAlice);
}

TEST_F(ActionsCopyTest, CopyImageRequiredParameters) {
  Result<json> r = Call("CopyImage", {{"ImageId", "m-source"}, {"DestinationRegionId", "cn-shanghai"}});
  EXPECT_EQ(r.status().reason(), "MissingParameter");
  r = Call("CopyImage", {{"RegionId", "cn-hangzhou"}, {"DestinationRegionId", "cn-shanghai"}});
  EXPECT_EQ(r.status().reason(), "MissingParameter");
  EXPECT_NE(r.status().message().find("ImageId"), std::string::npos) << r.status().ToString();
  r = Call("CopyImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-source"}});
  EXPECT_EQ(r.status().reason(), "MissingParameter");
  EXPECT_NE(r.status().message().find("DestinationRegionId"), std::string::npos) << r.status().ToString();
  EXPECT_TRUE(hangzhou_.copy_requests.empty());
}

TEST_F(ActionsCopyTest, UnknownSourceRegionIsSourceRegionNotFound400) {
  Result<json> r =
      Call("CopyImage",
           {{"RegionId", "us-west-1"}, {"ImageId", "m-source"}, {"DestinationRegionId", "cn-shanghai"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "SourceRegion.NotFound");
  EXPECT_EQ(ToEcsError(r.status()).http_status, 400);
  EXPECT_NE(r.status().message().find("us-west-1"), std::string::npos);
}

TEST_F(ActionsCopyTest, KmsKeyWithoutEncryptionIsRefused) {
  Result<json> r = Call("CopyImage", {{"RegionId", "cn-hangzhou"},
                                      {"ImageId", "m-source"},
                                      {"DestinationRegionId", "cn-shanghai"},
                                      {"KMSKeyId", "key-1"}});
  EXPECT_EQ(r.status().reason(), "InvalidParameter.EncryptedIllegal");
  EXPECT_EQ(ToEcsError(r.status()).http_status, 400);
  EXPECT_TRUE(hangzhou_.copy_requests.empty());

  r = Call("CopyImage", {{"RegionId", "cn-hangzhou"},
                         {"ImageId", "m-source"},
                         {"DestinationRegionId", "cn-shanghai"},
                         {"Encrypted", "true"},
                         {"KMSKeyId", "key-1"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(hangzhou_.copy_requests.size(), 1u);
  EXPECT_TRUE(hangzhou_.copy_requests[0].encrypted);
  EXPECT_EQ(hangzhou_.copy_requests[0].kms_key_id, "key-1");
}

TEST_F(ActionsCopyTest, DryRunIsValidatedByTheRegion) {
  std::map<std::string, std::string> params = {{"RegionId", "cn-hangzhou"},
                                               {"ImageId", "m-source"},
                                               {"DestinationRegionId", "cn-shanghai"},
                                               {"DryRun", "true"}};
  Result<json> r = Call("CopyImage", params);
  EXPECT_EQ(r.status().reason(), "DryRunOperation");
  ASSERT_EQ(hangzhou_.copy_requests.size(), 1u);
  EXPECT_TRUE(hangzhou_.copy_requests[0].dry_run);

  hangzhou_.next_error = InvalidArgument("DestinationRegion.NotFound", "no such region");
  r = Call("CopyImage", params);
  EXPECT_EQ(r.status().reason(), "DestinationRegion.NotFound");
}

TEST_F(ActionsCopyTest, RegionErrorsPassThroughWithTheirStatus) {
  struct Case {
    Status error;
    int http;
  };
  const Case cases[] = {
      {InvalidArgument("DestinationRegion.NotFound", "cn-nowhere"), 400},
      {NotFound("InvalidImageId.NotFound", "m-x"), 404},
      {PermissionDenied("SizeExceed.Image", "too big"), 403},
      {InvalidArgument("OperationDenied.ImageCopyConflict", "busy"), 400},
      {PermissionDenied("OperationDeined.EncryptedSnapshot", "encrypted"), 403},
  };
  for (const Case& c : cases) {
    hangzhou_.next_error = c.error;
    Result<json> r =
        Call("CopyImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-x"}, {"DestinationRegionId", "cn-x"}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().reason(), c.error.reason());
    EXPECT_EQ(ToEcsError(r.status()).http_status, c.http) << c.error.reason();
  }
}

TEST_F(ActionsCopyTest, CancelCopyImageGoesToTheDestinationRegion) {
  Result<json> r = Call("CancelCopyImage", {{"RegionId", "cn-shanghai"}, {"ImageId", "m-copy"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::object());
  EXPECT_EQ(shanghai_.cancelled_copies, std::vector<std::string>{"m-copy"});
  EXPECT_TRUE(hangzhou_.cancelled_copies.empty());

  shanghai_.next_error = InvalidArgument("IncorrectImageStatus", "The image copy has completed.");
  r = Call("CancelCopyImage", {{"RegionId", "cn-shanghai"}, {"ImageId", "m-copy"}});
  EXPECT_EQ(r.status().reason(), "IncorrectImageStatus");
  EXPECT_EQ(ToEcsError(r.status()).http_status, 400);

  r = Call("CancelCopyImage", {{"RegionId", "us-west-1"}, {"ImageId", "m-copy"}});
  EXPECT_EQ(r.status().reason(), "InvalidRegionId.NotFound");
  EXPECT_EQ(ToEcsError(r.status()).http_status, 404);
  r = Call("CancelCopyImage", {{"RegionId", "cn-shanghai"}});
  EXPECT_EQ(r.status().reason(), "MissingParameter");
}

ImageRecord CopyInProgress(const std::string& status, int progress, int64_t remain, uint64_t queue) {
  ImageRecord image;
  image.image_id = "m-copy";
  image.account_id = kAlice;
  image.name = "copy";
  image.status = status;
  image.progress = progress;
  image.is_copied = true;
  image.source_region_id = "cn-hangzhou";
  image.source_image_id = "m-source";
  image.remain_time_seconds = remain;
  image.queue_position = queue;
  DiskMapping disk;
  disk.snapshot_id = "s-copy";
  disk.size_gib = 20;
  image.disks.push_back(disk);
  return image;
}

TEST_F(ActionsCopyTest, DescribeImagesShowsCopyProgressAndExtensions) {
  shanghai_.images = {CopyInProgress("Creating", 42, 75, 0)};
  Result<json> r =
      Call("DescribeImages", {{"RegionId", "cn-shanghai"},
                              {"ImageId", "m-copy"},
                              {"Status", "Creating,Waiting,Available,UnAvailable,CreateFailed"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const json& image = (*r)["Images"]["Image"][0];
  EXPECT_EQ(image["Status"], "Creating");
  EXPECT_EQ(image["Progress"], "42%");
  EXPECT_EQ(image["IsCopied"], true);
  EXPECT_EQ(image["CopyRemainTime"], 75);
  EXPECT_FALSE(image.contains("CopyQueuePosition"));
  const json& disk = image["DiskDeviceMappings"]["DiskDeviceMapping"][0];
  EXPECT_EQ(disk["Progress"], "42%");
  EXPECT_EQ(disk["RemainTime"], 75);

  shanghai_.images = {CopyInProgress("Waiting", 0, 0, 3)};
  r = Call("DescribeImages", {{"RegionId", "cn-shanghai"}, {"Status", "Waiting"}});
  ASSERT_TRUE(r.ok());
  const json& waiting = (*r)["Images"]["Image"][0];
  EXPECT_EQ(waiting["Status"], "Waiting");
  EXPECT_EQ(waiting["Progress"], "0%");
  EXPECT_EQ(waiting["CopyQueuePosition"], 3);
  EXPECT_FALSE(waiting.contains("CopyRemainTime"));

  // A finished copy looks exactly like any ECS image: no extension keys.
  shanghai_.images = {CopyInProgress("Available", 100, 0, 0)};
  r = Call("DescribeImages", {{"RegionId", "cn-shanghai"}});
  ASSERT_TRUE(r.ok());
  const json& done = (*r)["Images"]["Image"][0];
  EXPECT_EQ(done["Progress"], "100%");
  EXPECT_EQ(done["IsCopied"], true);
  EXPECT_FALSE(done.contains("CopyQueuePosition"));
  EXPECT_FALSE(done.contains("CopyRemainTime"));
  EXPECT_EQ(done["DiskDeviceMappings"]["DiskDeviceMapping"][0]["RemainTime"], 0);
}

TEST_F(ActionsCopyTest, EveryCopyErrorCodeHasItsDocumentedStatus) {
  const std::pair<const char*, int> codes[] = {
      {"SourceRegion.NotFound", 400},
      {"DestinationRegion.NotFound", 400},
      {"InvalidImageName.Malformed", 400},
      {"InvalidDescription.Malformed", 400},
      {"IncorrectImageStatus", 400},
      {"InvalidImageName.Duplicated", 400},
      {"InvalidParameter.EncryptedIllegal", 400},
      {"OperationDenied.ImageCopyConflict", 400},
      {"ImageCreatedNotFromCopy", 400},
      {"InvalidImageId.NotFound", 404},
      {"OperationDenied.ImageCopying", 403},
      {"SizeExceed.Image", 403},
      {"OperationDeined.EncryptedSnapshot", 403},
      {"OperationDenied.SameRegionOnly", 403},
      {"QuotaExceed.Image", 403},
  };
  for (const auto& [code, http] : codes) {
    EXPECT_EQ(HttpStatusForCode(code), http) << code;
  }
}

}  // namespace
}  // namespace ferry
