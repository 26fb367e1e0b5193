// The seed page end to end, with real bytes (issue 9): account A imports an
// image in cn-hangzhou and copies it to cn-beijing, then shares the copy
// with account B there; B starts an instance from it, writes to the
// instance's system disk as its VM would (qemu-io on the disk file the
// operator's hypervisor would open), makes a custom image of the instance,
// copies that to cn-shanghai and exports it. The exported disk holds B's
// bytes where B wrote them and A's bytes everywhere else; the instance's
// user data and RAM role travel nowhere.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

struct Account {
  std::string id, key_id, secret;
};

class SeedJourneyTest : public SharedServerTest<SeedJourneyTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-journey-";

 protected:
  static Account Create(const std::string& name) {
    EcsClient root = RootClient(server_->endpoint(), false);
    json made = CallOk(root, "CreateAccount", {{"AccountName", name}});
    return {made.value("AccountId", ""), made.value("AccessKeyId", ""), made.value("AccessKeySecret", "")};
  }
  static EcsClient As(const Account& a) { return ClientFor(server_->endpoint(), a.key_id, a.secret, false); }
  // A bucket of `owner`'s, as an upload by that account would make it.
  static std::string MakeBucket(const Account& owner, const std::string& name) {
    fs::create_directories(DataDir() + "/oss/" + name);
    std::ofstream(DataDir() + "/oss/" + name + "/.ferry-owner") << owner.id << "\n";
    return name;
  }
  // Polls DescribeImages in `region` until the image leaves Waiting/Creating.
  static std::string WaitImage(EcsClient& client, const std::string& region, const std::string& image_id) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(180);
    std::string status;
    while (std::chrono::steady_clock::now() < deadline) {
      json images = DescribeImageIn(client, region, image_id);
      status = images.size() == 1 ? images[0].value("Status", "") : "";
      if (status != "Waiting" && status != "Creating" && !status.empty()) return status;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return status;
  }
  static std::string WaitInstance(EcsClient& client, const std::string& region, const std::string& id,
                                  const std::string& want) {
    std::string status;
    for (int i = 0; i < 600 && status != want; ++i) {
      json body = CallOk(client, "DescribeInstances",
                         {{"RegionId", region}, {"InstanceIds", json::array({id}).dump()}});
      const json& items = body["Instances"]["Instance"];
      status = items.empty() ? "" : items[0].value("Status", "");
      if (status != want) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return status;
  }
};

TEST_F(SeedJourneyTest, CopyShareRunWriteImageCopyExportKeepsEveryonesBytes) {
  const Account a = Create("journey-a");
  const Account b = Create("journey-b");
  EcsClient as_a = As(a);
  EcsClient as_b = As(b);

  // A's disk: 32 MiB, data in its first 8 MiB and at 16 MiB, holes elsewhere.
  const std::string a_bucket = MakeBucket(a, "journey-a-bucket");
  const std::string source = DataDir() + "/oss/" + a_bucket + "/disk.raw";
  WriteSparseImage(source, 32 * kMiB, {{0, 8 * kMiB}, {16 * kMiB, 2 * kMiB}}, 41);
  const std::string imported = ImportRawImage(as_a, "cn-hangzhou", a_bucket, "disk.raw", "journey");
  ASSERT_FALSE(imported.empty());

  // A copies it to cn-beijing and shares the copy with B there.
  json copy = CallOk(as_a, "CopyImage", {{"RegionId", "cn-hangzhou"},
                                         {"ImageId", imported},
                                         {"DestinationRegionId", "cn-beijing"},
                                         {"DestinationImageName", "journey-beijing"}});
  const std::string beijing_image = copy.value("ImageId", "");
  ASSERT_FALSE(beijing_image.empty()) << copy.dump();
  ASSERT_EQ(WaitImage(as_a, "cn-beijing", beijing_image), "Available");
  CallOk(as_a, "ModifyImageSharePermission",
         {{"RegionId", "cn-beijing"}, {"ImageId", beijing_image}, {"AddAccount.1", b.id}});
  json seen = CallOk(as_b, "DescribeImages", {{"RegionId", "cn-beijing"}, {"ImageOwnerAlias", "others"}});
  ASSERT_EQ(seen["Images"]["Image"].size(), 1u) << seen.dump();

  // B starts an instance from the shared copy, with user data and a role.
  json run = CallOk(as_b, "RunInstances", {{"RegionId", "cn-beijing"},
                                           {"ImageId", beijing_image},
                                           {"InstanceType", "ecs.g7.large"},
                                           {"SystemDisk.Size", "20"},
                                           {"UserData", "IyEvYmluL3NoCmVjaG8gc2VjcmV0"},
                                           {"RamRoleName", "JourneyRole"}});
  ASSERT_EQ(run["InstanceIdSets"]["InstanceIdSet"].size(), 1u) << run.dump();
  const std::string instance = run["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  ASSERT_EQ(WaitInstance(as_b, "cn-beijing", instance, "Running"), "Running");

  // B's VM writes: into A's data, and into a hole.
  json disks = CallOk(as_b, "DescribeDisks", {{"RegionId", "cn-beijing"}, {"InstanceId", instance}});
  ASSERT_EQ(disks["Disks"]["Disk"].size(), 1u) << disks.dump();
  const std::string disk_id = disks["Disks"]["Disk"][0].value("DiskId", "");
  CommandResult path = RunFerry({"disk", "path", disk_id, "--data", DataDir(), "--region", "cn-beijing"}, {});
  ASSERT_EQ(path.exit_code, 0) << path.err;
  const std::string qcow2 = path.out.substr(0, path.out.find('\n'));
  ASSERT_EQ(RunQemuIo(qcow2, "write -P 0xab " + std::to_string(3 * kMiB) + " 65536"), 0);
  ASSERT_EQ(RunQemuIo(qcow2, "write -P 0xcd " + std::to_string(24 * kMiB) + " 4096"), 0);

  // B makes an image of the stopped instance, copies it to cn-shanghai.
  CallOk(as_b, "StopInstance", {{"RegionId", "cn-beijing"}, {"InstanceId", instance}});
  ASSERT_EQ(WaitInstance(as_b, "cn-beijing", instance, "Stopped"), "Stopped");
  json made = CallOk(as_b, "CreateImage",
                     {{"RegionId", "cn-beijing"}, {"InstanceId", instance}, {"ImageName", "journey-b"}});
  const std::string b_image = made.value("ImageId", "");
  ASSERT_FALSE(b_image.empty()) << made.dump();
  ASSERT_EQ(WaitImage(as_b, "cn-beijing", b_image), "Available");
  json b_copy = CallOk(as_b, "CopyImage", {{"RegionId", "cn-beijing"},
                                           {"ImageId", b_image},
                                           {"DestinationRegionId", "cn-shanghai"},
                                           {"DestinationImageName", "journey-shanghai"}});
  const std::string shanghai_image = b_copy.value("ImageId", "");
  ASSERT_FALSE(shanghai_image.empty()) << b_copy.dump();
  ASSERT_EQ(WaitImage(as_b, "cn-shanghai", shanghai_image), "Available");

  // Neither the user data nor the role is part of the image or its copy.
  for (const auto& [region, id] : {std::pair{"cn-beijing", b_image}, std::pair{"cn-shanghai", shanghai_image}}) {
    const std::string image = DescribeImageIn(as_b, region, id).dump();
    EXPECT_EQ(image.find("IyEvYmluL3NoCmVjaG8gc2VjcmV0"), std::string::npos) << image;
    EXPECT_EQ(image.find("JourneyRole"), std::string::npos) << image;
  }
  // A does not see B's image.
  EXPECT_TRUE(DescribeImageIn(as_a, "cn-shanghai", shanghai_image).empty());

  // B exports the cn-shanghai copy.
  const std::string b_bucket = MakeBucket(b, "journey-b-bucket");
  json exported = CallOk(as_b, "ExportImage", {{"RegionId", "cn-shanghai"},
                                               {"ImageId", shanghai_image},
                                               {"OSSBucket", b_bucket},
                                               {"ImageFormat", "raw"}});
  json task = WaitForTaskIn(as_b, "cn-shanghai", exported.value("TaskId", ""));
  ASSERT_EQ(task.value("TaskStatus", ""), "Finished") << task.dump();
  const std::string out = DataDir() + "/oss/" + b_bucket + "/" + RelatedItem(task, "OSSObject");
  ASSERT_TRUE(fs::exists(out)) << out;
  EXPECT_EQ(fs::file_size(out), 20ull << 30);

  // B's bytes where B wrote them...
  EXPECT_EQ(ReadRange(out, 3 * kMiB, 65536), std::string(65536, '\xab'));
  EXPECT_EQ(ReadRange(out, 24 * kMiB, 4096), std::string(4096, '\xcd'));
  // ...and A's everywhere else, holes included.
  EXPECT_EQ(ReadRange(out, 0, 3 * kMiB), ReadRange(source, 0, 3 * kMiB));
  EXPECT_EQ(ReadRange(out, 3 * kMiB + 65536, 5 * kMiB - 65536), ReadRange(source, 3 * kMiB + 65536, 5 * kMiB - 65536));
  EXPECT_EQ(ReadRange(out, 8 * kMiB, 16 * kMiB), ReadRange(source, 8 * kMiB, 16 * kMiB));
  EXPECT_EQ(ReadRange(out, 24 * kMiB + 4096, 8 * kMiB - 4096), ReadRange(source, 24 * kMiB + 4096, 8 * kMiB - 4096));
  EXPECT_EQ(ReadRange(out, 32 * kMiB, kMiB), std::string(kMiB, '\0'));
  EXPECT_EQ(ReadRange(out, (20ull << 30) - kMiB, kMiB), std::string(kMiB, '\0'));
}

// The seed's workaround for an image that cannot be copied: a public image
// is refused by CopyImage; an instance made from it, then a custom image of
// the instance, copies fine, and neither user data nor role travels.
TEST_F(SeedJourneyTest, APublicImageIsCopiedThroughAnInstanceAndAnImageOfIt) {
  const Account c = Create("journey-c");
  EcsClient as_c = As(c);
  json publics = CallOk(as_c, "DescribeImages", {{"RegionId", "cn-hangzhou"}, {"ImageOwnerAlias", "system"}});
  ASSERT_FALSE(publics["Images"]["Image"].empty()) << publics.dump();
  const std::string public_image = publics["Images"]["Image"][0].value("ImageId", "");

  Result<EcsResponse> refused = as_c.Call("CopyImage", {{"RegionId", "cn-hangzhou"},
                                                        {"ImageId", public_image},
                                                        {"DestinationRegionId", "cn-shanghai"}});
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->http_status, 404) << refused->raw_body;
  EXPECT_EQ(refused->body.value("Code", ""), "InvalidImageId.NotFound") << refused->raw_body;

  json run = CallOk(as_c, "RunInstances", {{"RegionId", "cn-hangzhou"},
                                           {"ImageId", public_image},
                                           {"InstanceType", "ecs.g7.large"},
                                           {"UserData", "ZWNobyB3b3JrYXJvdW5k"},
                                           {"RamRoleName", "WorkaroundRole"}});
  const std::string instance = run["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  ASSERT_EQ(WaitInstance(as_c, "cn-hangzhou", instance, "Running"), "Running");
  CallOk(as_c, "StopInstance", {{"RegionId", "cn-hangzhou"}, {"InstanceId", instance}});
  ASSERT_EQ(WaitInstance(as_c, "cn-hangzhou", instance, "Stopped"), "Stopped");
  json made = CallOk(as_c, "CreateImage",
                     {{"RegionId", "cn-hangzhou"}, {"InstanceId", instance}, {"ImageName", "from-public"}});
  const std::string custom = made.value("ImageId", "");
  ASSERT_FALSE(custom.empty()) << made.dump();
  ASSERT_EQ(WaitImage(as_c, "cn-hangzhou", custom), "Available");
  json copy = CallOk(as_c, "CopyImage", {{"RegionId", "cn-hangzhou"},
                                         {"ImageId", custom},
                                         {"DestinationRegionId", "cn-shanghai"}});
  const std::string copied = copy.value("ImageId", "");
  ASSERT_FALSE(copied.empty()) << copy.dump();
  ASSERT_EQ(WaitImage(as_c, "cn-shanghai", copied), "Available");
  for (const auto& [region, id] : {std::pair{"cn-hangzhou", custom}, std::pair{"cn-shanghai", copied}}) {
    const std::string image = DescribeImageIn(as_c, region, id).dump();
    EXPECT_EQ(image.find("ZWNobyB3b3JrYXJvdW5k"), std::string::npos) << image;
    EXPECT_EQ(image.find("WorkaroundRole"), std::string::npos) << image;
  }
  // An instance of the copy has neither either.
  json again = CallOk(as_c, "RunInstances", {{"RegionId", "cn-shanghai"},
                                             {"ImageId", copied},
                                             {"InstanceType", "ecs.g7.large"}});
  const std::string second = again["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  json user_data = CallOk(as_c, "DescribeUserData", {{"RegionId", "cn-shanghai"}, {"InstanceId", second}});
  EXPECT_EQ(user_data.value("UserData", ""), "") << user_data.dump();
}

}  // namespace
}  // namespace ferry::testing
