// Values outside the reference's ranges are refused at the edge with the
// documented code (InvalidParameter where the reference names none) before
// anything is made: RunInstances/CreateInstance Password (8-30, three kinds
// of characters), InternetMaxBandwidthOut (0-100), MinAmount (at most
// Amount), HostName; ReplaceSystemDisk Password (and PasswordInherit);
// CreateSnapshot RetentionDays (1-65536) and InstantAccessRetentionDays
// (1-65535); a ClientToken over 64 characters for every action taking one.
// Values in range still work.
#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMiB = 1 << 20;

class ParameterRangesTest : public SharedServerTest<ParameterRangesTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-ranges-";

 protected:
  static void Refused(EcsClient& client, const std::string& action, std::map<std::string, std::string> params,
                      int http_status, const std::string& code) {
    SCOPED_TRACE(action);
    if (params.count("RegionId") == 0) params["RegionId"] = kRegion;
    Result<EcsResponse> r = client.Call(action, params);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->http_status, http_status) << r->raw_body;
    EXPECT_EQ(r->body.value("Code", ""), code) << r->raw_body;
  }
  static std::string StatusOf(EcsClient& client, const std::string& id) {
    json body = CallOk(client, "DescribeInstances", {{"InstanceIds", json::array({id}).dump()}});
    const json& items = body["Instances"]["Instance"];
    return items.empty() ? "" : items[0].value("Status", std::string());
  }
  static bool WaitStatus(EcsClient& client, const std::string& id, const std::string& want) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      if (StatusOf(client, id) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
};

TEST_F(ParameterRangesTest, OutOfRangeValuesAreRefusedAndInRangeOnesWork) {
  EcsClient root = RootClient(server_->endpoint(), false);
  WriteSparseImage(BucketDir() + "/ranges.raw", 8 * kMiB, {{0, kMiB}}, 3);
  const std::string image = ImportRawImage(root, kRegion, kOperatorBucket, "ranges.raw", "ranges");
  ASSERT_FALSE(image.empty());
  const std::map<std::string, std::string> run = {
      {"ImageId", image}, {"InstanceType", "ecs.g6.large"}, {"SystemDisk.Size", "20"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    std::map<std::string, std::string> p = run;
    for (auto& [k, v] : extra) p[k] = v;
    return p;
  };
  const std::string long_token(65, 't');

  for (const char* action : {"RunInstances", "CreateInstance"}) {
    Refused(root, action, with({{"Password", "Ab1-"}}), 400, "InvalidParameter");
    Refused(root, action, with({{"Password", "Ab1-" + std::string(27, 'x')}}), 400, "InvalidParameter");
    Refused(root, action, with({{"Password", "onlylower123"}}), 400, "InvalidParameter");
    Refused(root, action, with({{"Password", "Spaces are 1 no"}}), 400, "InvalidParameter");
    Refused(root, action, with({{"InternetMaxBandwidthOut", "101"}}), 400, "InvalidParameter");
    Refused(root, action, with({{"InternetMaxBandwidthOut", "-1"}}), 400, "InvalidParameter");
    Refused(root, action, with({{"HostName", "-web"}}), 400, "InvalidParameter");
    Refused(root, action, with({{"HostName", "web..example"}}), 400, "InvalidParameter");
    Refused(root, action, with({{"HostName", std::string(65, 'h')}}), 400, "InvalidParameter");
    Refused(root, action, with({{"ClientToken", long_token}}), 400, "InvalidParameter");
  }
  Refused(root, "RunInstances", with({{"Amount", "2"}, {"MinAmount", "3"}}), 400, "InvalidParameter");
  Refused(root, "RunInstances", with({{"MinAmount", "0"}}), 400, "InvalidParameter");
  // Nothing was launched by any of them.
  EXPECT_EQ(CallOk(root, "DescribeInstances", {}).value("TotalCount", -1), 0);

  // In range: launched.
  json made = CallOk(root, "RunInstances",
                     with({{"Password", "Ferry-2026x"},
                           {"InternetMaxBandwidthOut", "100"},
                           {"Amount", "2"},
                           {"MinAmount", "2"},
                           {"HostName", "web-01.example"},
                           {"ClientToken", std::string(64, 't')}}));
  ASSERT_EQ(made["InstanceIdSets"]["InstanceIdSet"].size(), 2u) << made.dump();
  const std::string id = made["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  ASSERT_TRUE(WaitStatus(root, id, "Running"));
  json listed = CallOk(root, "DescribeInstances", {{"InstanceIds", json::array({id}).dump()}});
  EXPECT_EQ(listed["Instances"]["Instance"][0].value("HostName", ""), "web-01.example");
  const std::string disk =
      CallOk(root, "DescribeDisks", {{"InstanceId", id}})["Disks"]["Disk"][0].value("DiskId", std::string());

  // CreateSnapshot: RetentionDays 1-65536, InstantAccessRetentionDays 1-65535.
  Refused(root, "CreateSnapshot", {{"DiskId", disk}, {"RetentionDays", "0"}}, 400, "InvalidParameter");
  Refused(root, "CreateSnapshot", {{"DiskId", disk}, {"RetentionDays", "65537"}}, 400, "InvalidParameter");
  Refused(root, "CreateSnapshot", {{"DiskId", disk}, {"InstantAccessRetentionDays", "65536"}}, 400,
          "InvalidParameter");
  Refused(root, "CreateSnapshot", {{"DiskId", disk}, {"ClientToken", long_token}}, 400, "InvalidParameter");
  EXPECT_EQ(CallOk(root, "DescribeSnapshots", {{"DiskId", disk}})["Snapshots"]["Snapshot"].size(), 0u);
  json snap = CallOk(root, "CreateSnapshot", {{"DiskId", disk}, {"RetentionDays", "65536"}});
  EXPECT_EQ(snap.value("SnapshotId", "").rfind("s-", 0), 0u) << snap.dump();

  // The other actions that take a ClientToken.
  Refused(root, "CreateImage", {{"InstanceId", id}, {"ClientToken", long_token}}, 400, "InvalidParameter");
  Refused(root, "CopyImage",
          {{"ImageId", image}, {"DestinationRegionId", kRegion}, {"ClientToken", long_token}}, 400,
          "InvalidParameter");
  Refused(root, "ImportImage",
          {{"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
           {"DiskDeviceMapping.1.OSSObject", "ranges.raw"},
           {"ClientToken", long_token}},
          400, "InvalidParameter");

  // ReplaceSystemDisk: the same password rule; Password with
  // PasswordInherit=true is documented as InvalidPasswordParam.Mismatch.
  CallOk(root, "StopInstance", {{"InstanceId", id}});
  ASSERT_TRUE(WaitStatus(root, id, "Stopped"));
  Refused(root, "ReplaceSystemDisk", {{"InstanceId", id}, {"ImageId", image}, {"Password", "short1A"}}, 400,
          "InvalidParameter");
  Refused(root, "ReplaceSystemDisk",
          {{"InstanceId", id}, {"ImageId", image}, {"Password", "Ferry-2026x"}, {"PasswordInherit", "true"}},
          400, "InvalidPasswordParam.Mismatch");
  Refused(root, "ReplaceSystemDisk", {{"InstanceId", id}, {"ImageId", image}, {"ClientToken", long_token}},
          400, "InvalidParameter");
  json replaced = CallOk(root, "ReplaceSystemDisk",
                         {{"InstanceId", id}, {"ImageId", image}, {"Password", "Ferry-2026y"}});
  EXPECT_EQ(replaced.value("DiskId", "").rfind("d-", 0), 0u) << replaced.dump();
}

}  // namespace
}  // namespace ferry::testing
