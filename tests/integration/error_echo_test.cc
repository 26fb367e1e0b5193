// A bad value is quoted back in its error short, whatever its size: a
// 100 KB parameter of many actions (ids, names, enumerations, numbers, JSON
// lists, parameter names) gets its documented error with a message of at
// most a few hundred bytes that still names the start of the value and its
// length.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;

constexpr size_t kHuge = 100000;
// The longest message any of these may come back with: the sentence, 64
// bytes of the value and its length.
constexpr size_t kMaxMessage = 400;

class ErrorEchoTest : public SharedServerTest<ErrorEchoTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-error-echo-";
};

struct Case {
  std::string action;
  std::map<std::string, std::string> params;
  int http_status;
  std::string code;
  std::string echoed;  // what the message must start quoting ("" = not checked)
};

TEST_F(ErrorEchoTest, AHugeBadValueComesBackShort) {
  const std::string brackets(kHuge, '[');
  const std::string nines(kHuge, '9');
  const std::string letters(kHuge, 'x');
  const std::string image = "m-" + std::string(kHuge, 'a');
  const std::vector<Case> cases = {
      {"DescribeInstances", {{"InstanceIds", brackets}}, 400, "InvalidParameter", "[[[["},
      {"DescribeSnapshots", {{"SnapshotIds", brackets}}, 400, "InvalidParameter", "[[[["},
      {"RunInstances",
       {{"ImageId", "m-x"}, {"InstanceType", "ecs.g6.large"}, {"Amount", nines}},
       400,
       "InvalidParameter",
       "9999"},
      {"DescribeImages", {{"PageSize", letters}}, 400, "InvalidParameter", "xxxx"},
      {"DescribeImages", {{"DryRun", letters}}, 400, "InvalidParameter", "xxxx"},
      {"DescribeImages",
       {{"ImageOwnerAlias", letters}},
       400,
       "InvalidImageOwnerAlias.ValueNotSupported",
       "xxxx"},
      {"DescribeImages", {{"Status", letters}}, 400, "InvalidParameter", "xxxx"},
      {"DescribeSnapshots", {{"Status", letters}}, 404, "InvalidStatus.NotFound", "xxxx"},
      {"DeleteImage", {{"ImageId", image}}, 404, "InvalidImageId.NotFound", "m-aaaa"},
      {"ModifyImageAttribute",
       {{"ImageId", image}, {"ImageName", "a" + letters}},
       400,
       "InvalidImageName.Malformed",
       "axxx"},
      {"CopyImage",
       {{"ImageId", image}, {"DestinationRegionId", letters}},
       400,
       "DestinationRegion.NotFound",
       "xxxx"},
      {"DeleteInstance", {{"InstanceId", "i-" + letters}}, 404, "InvalidInstanceId.NotFound", "i-xxx"},
      {"DescribeTaskAttribute", {{"TaskId", "t-" + letters}}, 400, "InvalidTaskId.NotFound", "t-xxx"},
      {"CreateSnapshot", {{"DiskId", "d-" + letters}}, 404, "InvalidDiskId.NotFound", "d-xxx"},
      {"RunInstances",
       {{"ImageId", "m-x"}, {"InstanceType", "ecs." + letters + ".large"}},
       400,
       "InvalidInstanceType.ValueNotSupported",
       "ecs.xxx"},
      {"ImportImage",
       {{"DiskDeviceMapping.1.OSSBucket", "operator-images"},
        {"DiskDeviceMapping.1.OSSObject", "disk.raw"},
        {"DiskDeviceMapping.1.Format", letters}},
       400,
       "InvalidImageFormat.Malformed",
       "XXXX"},
      // A parameter's name is the client's too.
      {"DescribeImages", {{"Tag." + nines + ".Key", "k"}}, 400, "InvalidParameter", "Tag.9999"},
  };
  // Signature V1 sends the parameters in a form body; V3's query would
  // meet the 8 KiB request-line limit first.
  EcsClient client = RootClient(server_->endpoint(), false);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.action + " " + c.params.rbegin()->first.substr(0, 40));
    std::map<std::string, std::string> params = c.params;
    params.emplace("RegionId", kRegion);
    Result<EcsResponse> r = client.Call(c.action, params);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->http_status, c.http_status) << r->raw_body.substr(0, 500);
    EXPECT_EQ(r->body.value("Code", ""), c.code) << r->raw_body.substr(0, 500);
    const std::string message = r->body.value("Message", "");
    EXPECT_FALSE(message.empty());
    EXPECT_LE(message.size(), kMaxMessage) << message.substr(0, 500);
    EXPECT_LE(r->raw_body.size(), 1000u) << r->raw_body.substr(0, 500);
    if (!c.echoed.empty()) {
      EXPECT_NE(message.find(c.echoed), std::string::npos) << message;
    }
  }
}

}  // namespace
}  // namespace ferry::testing
