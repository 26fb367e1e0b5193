// DeleteImage of an image instances use (ECS 4.6): 403 ImageUsingByInstance
// without Force, whoever's the instances are (a recipient's, launched while
// the image was shared, count for its owner too, and the answer names none
// of them); with Force the image goes and the instances' disks keep reading
// the base file.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;
constexpr const char* kInUseMessage =
    "The specified image has been used to create instances. You can use the DescribeInstances API to query "
    "these instances, or you can use the force parameter to proceed.";

class ImageInUseTest : public SharedServerTest<ImageInUseTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-image-in-use-";

 protected:
  static std::string RegionDisks() { return DataDir() + "/regions/" + std::string(kRegion) + "/disks"; }
  static size_t CountFiles(const std::string& sub) {
    size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(RegionDisks() + "/" + sub, ec)) {
      (void)e;
      ++n;
    }
    return n;
  }
  static std::string Import(EcsClient& client, const std::string& name) {
    WriteSparseImage(BucketDir() + "/" + name + ".raw", 8 * kMiB, {{0, 4 * kMiB}}, name.size());
    return ImportRawImage(client, kRegion, kOperatorBucket, name + ".raw", name);
  }
  static std::string StatusOf(EcsClient& client, const std::string& id) {
    json body = CallOk(client, "DescribeInstances", {{"InstanceIds", json::array({id}).dump()}});
    const json& items = body["Instances"]["Instance"];
    return items.empty() ? "" : items[0].value("Status", std::string());
  }
  // RunInstances of one instance of `image_id`, waited for until Running.
  static std::string RunOne(EcsClient& client, const std::string& image_id) {
    json run = CallOk(client, "RunInstances",
                      {{"ImageId", image_id}, {"InstanceType", "ecs.g6.large"}, {"SystemDisk.Size", "20"}});
    if (run["InstanceIdSets"]["InstanceIdSet"].size() != 1) return "";
    const std::string id = run["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline && StatusOf(client, id) != "Running") {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(StatusOf(client, id), "Running");
    return id;
  }
  static Result<EcsResponse> Call(EcsClient& client, const std::string& action,
                                  std::map<std::string, std::string> params) {
    params.emplace("RegionId", kRegion);
    return client.Call(action, params);
  }
  // A hex dump of the system disk's first 64 KiB (the image's data) as its
  // VM would read them: qemu-io on the overlay `ferry disk path` names.
  static std::string DiskHead(EcsClient& client, const std::string& instance_id) {
    json disks = CallOk(client, "DescribeDisks", {{"InstanceId", instance_id}});
    if (disks["Disks"]["Disk"].size() != 1) return "";
    const std::string disk_id = disks["Disks"]["Disk"][0].value("DiskId", std::string());
    CommandResult path = RunFerry({"disk", "path", disk_id, "--data", DataDir(), "--region", kRegion}, {});
    EXPECT_EQ(path.exit_code, 0) << path.err;
    const std::string qcow2 = path.out.substr(0, path.out.find('\n'));
    const std::string command = "qemu-io -r -f qcow2 -c 'read -v 0 65536' '" + qcow2 + "' 2>&1";
    std::string out;
    if (FILE* p = ::popen(command.c_str(), "r")) {
      char buf[4096];
      for (size_t n; (n = ::fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
      EXPECT_EQ(::pclose(p), 0) << out;
    }
    // The dump, without qemu-io's timing line.
    const size_t timing = out.find("read 65536/65536 bytes");
    EXPECT_NE(timing, std::string::npos) << out;
    return out.substr(0, timing);
  }
};

TEST_F(ImageInUseTest, DeleteImageNeedsForceWhileAnInstanceUsesItAndTheDiskOutlivesIt) {
  EcsClient root = RootClient(server_->endpoint(), false);
  const std::string image_id = Import(root, "in-use-own");
  ASSERT_FALSE(image_id.empty());
  const std::string instance = RunOne(root, image_id);
  ASSERT_FALSE(instance.empty());
  const std::string before = DiskHead(root, instance);
  ASSERT_GT(before.size(), 4096u) << before;

  for (bool v3 : {false, true}) {
    EcsClient client = RootClient(server_->endpoint(), v3);
    Result<EcsResponse> refused = Call(client, "DeleteImage", {{"ImageId", image_id}});
    ASSERT_TRUE(refused.ok()) << refused.status().ToString();
    EXPECT_EQ(refused->http_status, 403) << refused->raw_body;
    EXPECT_EQ(refused->body.value("Code", ""), "ImageUsingByInstance") << refused->raw_body;
    EXPECT_EQ(refused->body.value("Message", ""), kInUseMessage) << refused->raw_body;
    refused = Call(client, "DeleteImage", {{"ImageId", image_id}, {"Force", "false"}});
    ASSERT_TRUE(refused.ok());
    EXPECT_EQ(refused->body.value("Code", ""), "ImageUsingByInstance") << refused->raw_body;
  }
  ASSERT_EQ(DescribeImage(root, image_id).size(), 1u);

  CallOk(root, "DeleteImage", {{"ImageId", image_id}, {"Force", "true"}});
  EXPECT_TRUE(DescribeImage(root, image_id).empty());
  EXPECT_EQ(StatusOf(root, instance), "Running");
  EXPECT_EQ(CountFiles("bases"), 1u);
  EXPECT_EQ(DiskHead(root, instance), before);
  CallOk(root, "StopInstance", {{"InstanceId", instance}});
  CallOk(root, "DeleteInstance", {{"InstanceId", instance}, {"Force", "true"}});
  EXPECT_EQ(CountFiles("bases"), 0u);

  // Once no instance uses an image, no Force is needed.
  const std::string unused = Import(root, "in-use-gone");
  const std::string gone = RunOne(root, unused);
  CallOk(root, "DeleteInstance", {{"InstanceId", gone}, {"Force", "true"}});
  CallOk(root, "DeleteImage", {{"ImageId", unused}});
}

TEST_F(ImageInUseTest, ARecipientsInstanceKeepsTheOwnersImageWithoutNamingTheRecipient) {
  EcsClient root = RootClient(server_->endpoint(), false);
  json made = CallOk(root, "CreateAccount", {{"AccountName", "in-use-recipient"}});
  const std::string bob_id = made.value("AccountId", "");
  EcsClient bob =
      ClientFor(server_->endpoint(), made.value("AccessKeyId", ""), made.value("AccessKeySecret", ""), false);
  const std::string image_id = Import(root, "in-use-shared");
  ASSERT_FALSE(image_id.empty());
  CallOk(root, "ModifyImageSharePermission", {{"ImageId", image_id}, {"AddAccount.1", bob_id}});
  const std::string bobs = RunOne(bob, image_id);
  ASSERT_FALSE(bobs.empty());
  const std::string before = DiskHead(bob, bobs);

  // Shared: that comes first, Force or not.
  for (const char* force : {"false", "true"}) {
    Result<EcsResponse> r = Call(root, "DeleteImage", {{"ImageId", image_id}, {"Force", force}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->body.value("Code", ""), "ImageUseShared") << r->raw_body;
  }
  CallOk(root, "ModifyImageSharePermission", {{"ImageId", image_id}, {"RemoveAccount.1", bob_id}});
  // The owner has no instance of it; bob's counts, and is not named.
  EXPECT_EQ(CallOk(root, "DescribeInstances", {{"ImageId", image_id}}).value("TotalCount", -1), 0);
  Result<EcsResponse> refused = Call(root, "DeleteImage", {{"ImageId", image_id}});
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->http_status, 403) << refused->raw_body;
  EXPECT_EQ(refused->body.value("Code", ""), "ImageUsingByInstance") << refused->raw_body;
  EXPECT_EQ(refused->raw_body.find(bob_id), std::string::npos) << refused->raw_body;
  EXPECT_EQ(refused->raw_body.find(bobs), std::string::npos) << refused->raw_body;

  CallOk(root, "DeleteImage", {{"ImageId", image_id}, {"Force", "true"}});
  EXPECT_TRUE(DescribeImage(root, image_id).empty());
  EXPECT_EQ(StatusOf(bob, bobs), "Running");
  EXPECT_EQ(DiskHead(bob, bobs), before);
  CallOk(bob, "DeleteInstance", {{"InstanceId", bobs}, {"Force", "true"}});
}

}  // namespace
}  // namespace ferry::testing
