// Sharing over real HTTP between accounts of one `ferry serve`: the owner
// (root), a recipient (bob) and a stranger (carol), each with its own
// AccessKey made by CreateAccount. Every documented error with its HTTP
// status, what the recipient may and may not do, and revocation.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMiB = 1 << 20;

struct Account {
  std::string id;
  std::string key_id;
  std::string secret;
};

class SharingTest : public SharedServerTest<SharingTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-sharing-";

 protected:
  static Account Create(const std::string& name) {
    EcsClient root = RootClient(server_->endpoint(), false);
    json made = CallOk(root, "CreateAccount", {{"AccountName", name}});
    return Account{made.value("AccountId", ""), made.value("AccessKeyId", ""), made.value("AccessKeySecret", "")};
  }
  // A bucket of `owner`'s, as an upload by that account would make it.
  static std::string MakeBucket(const Account& owner, const std::string& name) {
    std::filesystem::create_directories(DataDir() + "/oss/" + name);
    std::ofstream(DataDir() + "/oss/" + name + "/.ferry-owner") << owner.id << "\n";
    return name;
  }
  static EcsClient As(const Account& a, bool v3 = false) {
    return ClientFor(server_->endpoint(), a.key_id, a.secret, v3);
  }
  // Imports a small raw disk as root; returns the image id.
  static std::string Import(const std::string& name, bool encrypted = false) {
    const std::string object = name + ".raw";
    WriteSparseImage(BucketDir() + "/" + object, 4 * kMiB, {{0, kMiB}}, name.size());
    EcsClient root = RootClient(server_->endpoint(), false);
    json started = CallOk(root, "ImportImage",
                          {{"ImageName", name},
                           {"Encrypted", encrypted ? "true" : "false"},
                           {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                           {"DiskDeviceMapping.1.OSSObject", object},
                           {"DiskDeviceMapping.1.Format", "RAW"}});
    json task = WaitForTask(root, started.value("TaskId", ""));
    EXPECT_EQ(task.value("TaskStatus", ""), "Finished") << task.dump();
    return started.value("ImageId", "");
  }
  // Calls and expects the ECS error `code` with `http_status`; returns the body.
  static json Refused(EcsClient& client, const std::string& action, std::map<std::string, std::string> params,
                      int http_status, const std::string& code) {
    params.emplace("RegionId", kRegion);
    Result<EcsResponse> r = client.Call(action, params);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return json();
    EXPECT_EQ(r->http_status, http_status) << action << ": " << r->raw_body;
    EXPECT_EQ(r->body.value("Code", ""), code) << action << ": " << r->raw_body;
    return r->body;
  }
  static std::vector<std::string> ListedIds(EcsClient& client, const std::string& alias) {
    std::map<std::string, std::string> params{{"Status", kAllImageStatuses}, {"PageSize", "100"}};
    if (!alias.empty()) params["ImageOwnerAlias"] = alias;
    json body = CallOk(client, "DescribeImages", params);
    std::vector<std::string> ids;
    for (const json& i : body["Images"]["Image"]) ids.push_back(i.value("ImageId", ""));
    return ids;
  }
};

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST_F(SharingTest, ARecipientSeesAndUsesTheImageButCannotChangeItAndLosesItAtOnce) {
  const Account bob = Create("bob");
  const std::string bobs_bucket = MakeBucket(bob, "bob-out");
  const std::string image = Import("shared-golden");
  EcsClient root = RootClient(server_->endpoint(), false);
  for (bool v3 : {false, true}) {
    SCOPED_TRACE(v3 ? "v3" : "v1");
    EcsClient as_bob = As(bob, v3);
    EXPECT_FALSE(Contains(ListedIds(as_bob, ""), image));

    CallOk(root, "ModifyImageSharePermission", {{"ImageId", image}, {"AddAccount.1", bob.id}});
    json shares = CallOk(root, "DescribeImageSharePermission", {{"ImageId", image}});
    EXPECT_EQ(shares.value("TotalCount", 0), 1);
    ASSERT_EQ(shares["Accounts"]["Account"].size(), 1u) << shares.dump();
    EXPECT_EQ(shares["Accounts"]["Account"][0]["AliyunId"], bob.id);  // a string
    EXPECT_FALSE(shares["Accounts"]["Account"][0].value("SharedTime", "").empty());
    EXPECT_EQ(shares["ShareGroups"], json::parse(R"({"ShareGroup":[]})"));
    EXPECT_EQ(DescribeImage(root, image).at(0).value("IsSelfShared", ""), "true");

    EXPECT_TRUE(Contains(ListedIds(as_bob, "others"), image));
    EXPECT_TRUE(Contains(ListedIds(as_bob, ""), image));
    EXPECT_FALSE(Contains(ListedIds(as_bob, "self"), image));
    json seen = DescribeImage(as_bob, image);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].value("ImageOwnerAlias", ""), "others");
    // Where the owner imported it from is the owner's to know.
    const json owners_mapping =
        DescribeImage(root, image).at(0)["DiskDeviceMappings"]["DiskDeviceMapping"][0];
    EXPECT_EQ(owners_mapping.value("ImportOSSBucket", ""), kOperatorBucket);
    EXPECT_EQ(owners_mapping.value("ImportOSSObject", ""), "shared-golden.raw");
    const json mapping = seen[0]["DiskDeviceMappings"]["DiskDeviceMapping"][0];
    EXPECT_EQ(mapping.value("ImportOSSBucket", "-"), "") << mapping.dump();
    EXPECT_EQ(mapping.value("ImportOSSObject", "-"), "") << mapping.dump();
    const std::string snapshot = seen[0]["DiskDeviceMappings"]["DiskDeviceMapping"][0].value("SnapshotId", "");
    json snaps = CallOk(as_bob, "DescribeSnapshots", {{"SnapshotIds", "[\"" + snapshot + "\"]"}});
    ASSERT_EQ(snaps["Snapshots"]["Snapshot"].size(), 1u) << snaps.dump();
    EXPECT_EQ(snaps["Snapshots"]["Snapshot"][0].value("Description", "-"), "") << snaps.dump();
    EXPECT_EQ(snaps["Snapshots"]["Snapshot"][0].value("SourceDiskSize", ""), "1");  // GiB
    EXPECT_EQ(snaps["Snapshots"]["Snapshot"][0].value("FullSnapshotSizeInBytes", 0), 4 * kMiB);

    // Not bob's to change, delete, share, export or take to another region.
    Refused(as_bob, "ModifyImageAttribute", {{"ImageId", image}, {"Description", "mine now"}}, 403, "Forbidden");
    Refused(as_bob, "DeleteImage", {{"ImageId", image}}, 403, "Forbidden");
    Refused(as_bob, "ModifyImageSharePermission", {{"ImageId", image}, {"AddAccount.1", bob.id}}, 403,
            "Forbidden");
    Refused(as_bob, "DescribeImageSharePermission", {{"ImageId", image}}, 403, "Forbidden");
    Refused(as_bob, "ExportImage", {{"ImageId", image}, {"OSSBucket", bobs_bucket}}, 403, "Forbidden");
    Refused(as_bob, "CopyImage", {{"ImageId", image}, {"DestinationRegionId", "cn-shanghai"}}, 403,
            "OperationDenied.SameRegionOnly");
    EXPECT_EQ(DescribeImage(root, image).at(0).value("Description", ""), "");

    // A shared image stays until it is unshared.
    Refused(root, "DeleteImage", {{"ImageId", image}}, 403, "ImageUseShared");

    CallOk(root, "ModifyImageSharePermission", {{"ImageId", image}, {"RemoveAccount.1", bob.id}});
    EXPECT_FALSE(Contains(ListedIds(as_bob, ""), image));
    EXPECT_TRUE(DescribeImage(as_bob, image).empty());
    snaps = CallOk(as_bob, "DescribeSnapshots", {{"SnapshotIds", "[\"" + snapshot + "\"]"}});
    EXPECT_TRUE(snaps["Snapshots"]["Snapshot"].empty()) << snaps.dump();
    Refused(as_bob, "DeleteImage", {{"ImageId", image}}, 404, "InvalidImageId.NotFound");
  }
  CallOk(root, "DeleteImage", {{"ImageId", image}});
}

TEST_F(SharingTest, EveryDocumentedErrorWithItsHttpStatus) {
  const std::string image = Import("errors-golden");
  EcsClient root = RootClient(server_->endpoint(), false);
  json creds = CallOk(root, "DescribeImages", {{"ImageId", image}});
  const std::string root_id = std::to_string(creds["Images"]["Image"][0].value("ImageOwnerId", int64_t{0}));

  Refused(root, "ModifyImageSharePermission", {{"AddAccount.1", "1"}}, 400, "MissingParameter");
  Refused(root, "DescribeImageSharePermission", {}, 400, "MissingParameter");
  Refused(root, "ModifyImageSharePermission", {{"ImageId", image}, {"AddAccount.1", "9999999999999999"}}, 404,
          "InvalidAccount.NotFound");
  Refused(root, "ModifyImageSharePermission", {{"ImageId", image}, {"AddAccount.1", root_id}}, 404,
          "InvalidAccount.Forbbiden");
  Refused(root, "ModifyImageSharePermission", {{"ImageId", "m-doesnotexist0000000"}, {"AddAccount.1", "1"}}, 404,
          "InvalidImageId.NotFound");
  Refused(root, "DescribeImageSharePermission", {{"ImageId", "m-doesnotexist0000000"}}, 404,
          "InvalidImageId.NotFound");

  const std::string secret = Import("errors-secret", /*encrypted=*/true);
  const Account someone = Create("errors-someone");
  Refused(root, "ModifyImageSharePermission", {{"ImageId", secret}, {"AddAccount.1", someone.id}}, 403,
          "OperationDeined.EncryptedSnapshot");

  // 50 accounts per image, 10 per call; the 51st is refused.
  std::vector<Account> many;
  for (int i = 0; i < 51; ++i) many.push_back(Create("quota-" + std::to_string(i)));
  for (int batch = 0; batch < 5; ++batch) {
    std::map<std::string, std::string> add{{"ImageId", image}};
    for (int i = 0; i < 10; ++i) add["AddAccount." + std::to_string(i + 1)] = many[batch * 10 + i].id;
    CallOk(root, "ModifyImageSharePermission", add);
  }
  Refused(root, "ModifyImageSharePermission", {{"ImageId", image}, {"AddAccount.1", many[50].id}}, 403,
          "QuotaExceed.ShareImageUser");
  json page = CallOk(root, "DescribeImageSharePermission", {{"ImageId", image}, {"PageNumber", "3"}, {"PageSize", "20"}});
  EXPECT_EQ(page.value("TotalCount", 0), 50);
  EXPECT_EQ(page["Accounts"]["Account"].size(), 10u);
}

TEST_F(SharingTest, AStrangerGetsTheSameAnswerAsForAnImageThatNeverExisted) {
  const Account carol = Create("carol");
  const std::string carols_bucket = MakeBucket(carol, "carol-out");
  const Account dave = Create("dave");
  const std::string image = Import("stranger-golden");
  EcsClient root = RootClient(server_->endpoint(), false);
  CallOk(root, "ModifyImageSharePermission", {{"ImageId", image}, {"AddAccount.1", dave.id}});
  EcsClient as_carol = As(carol);
  const std::string missing = "m-doesnotexist0000001";
  struct Probe {
    std::string action;
    std::map<std::string, std::string> params;
  };
  for (const Probe& probe : std::vector<Probe>{
           {"ModifyImageSharePermission", {{"AddAccount.1", dave.id}}},
           {"DescribeImageSharePermission", {}},
           {"ModifyImageAttribute", {{"Description", "hello there"}}},
           {"DeleteImage", {}},
           {"ExportImage", {{"OSSBucket", carols_bucket}}},
       }) {
    SCOPED_TRACE(probe.action);
    std::map<std::string, std::string> real = probe.params, fake = probe.params;
    real["ImageId"] = image;
    fake["ImageId"] = missing;
    json a = Refused(as_carol, probe.action, real, 404, "InvalidImageId.NotFound");
    json b = Refused(as_carol, probe.action, fake, 404, "InvalidImageId.NotFound");
    std::string ma = a.value("Message", ""), mb = b.value("Message", "");
    if (ma.find(image) != std::string::npos) ma.replace(ma.find(image), image.size(), "ID");
    if (mb.find(missing) != std::string::npos) mb.replace(mb.find(missing), missing.size(), "ID");
    EXPECT_EQ(ma, mb);
  }
  EXPECT_TRUE(DescribeImage(as_carol, image).empty());
}

TEST_F(SharingTest, TheCliSharesListsAndUnshares) {
  const Account erin = Create("erin");
  const Account frank = Create("frank");
  const std::string image = Import("cli-golden");
  CommandResult shared = RunFerry({"image", "share", image, "--add", erin.id + "," + frank.id, "--output", "json"},
                                  server_->ClientEnv());
  ASSERT_EQ(shared.exit_code, 0) << shared.err;
  json rows = json::parse(shared.out);
  ASSERT_EQ(rows.size(), 2u) << shared.out;
  CommandResult listed = RunFerry({"image", "shares", image, "--output", "json"}, server_->ClientEnv());
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(json::parse(listed.out), rows);

  CommandResult removed =
      RunFerry({"image", "share", image, "--remove", erin.id, "--output", "json"}, server_->ClientEnv());
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  rows = json::parse(removed.out);
  ASSERT_EQ(rows.size(), 1u) << removed.out;
  EXPECT_EQ(rows[0].value("AccountId", ""), frank.id);
  EcsClient as_erin = As(erin);
  EXPECT_TRUE(DescribeImage(as_erin, image).empty());

  CommandResult refused =
      RunFerry({"image", "share", image, "--add", "9999999999999999"}, server_->ClientEnv());
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("InvalidAccount.NotFound"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace ferry::testing
