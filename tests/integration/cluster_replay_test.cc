// Replay and identity across the processes of a cluster (issue 8, item 5):
// a signed request accepted by any process is refused by every other one,
// because exactly one process (the region's, or the cluster owner's for
// CreateAccount and other region-less requests) authenticates it; account
// names are unique in the cluster.
#include <gtest/gtest.h>

#include <chrono>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "api/params.h"
#include "api/signature.h"
#include "api/client.h"
#include "common/clock.h"
#include "common/hash.h"
#include "common/ids.h"
#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;

HttpAnswer Send(const std::string& endpoint, const std::string& target) {
  return SendHttp(endpoint, "GET", target);
}

class ClusterReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Process 0 serves cn-hangzhou, the cluster's first region: the owner of
    // CreateAccount. Process 1 serves cn-shanghai.
    cluster_ = std::make_unique<FerryCluster>("ferry-replay-", std::vector<std::vector<std::string>>{
                                                                   {"cn-hangzhou"}, {"cn-shanghai"}});
    std::string error;
    ASSERT_TRUE(cluster_->StartAll(&error)) << error;
  }
  const std::string& A() const { return cluster_->endpoint(0); }
  const std::string& B() const { return cluster_->endpoint(1); }

  std::unique_ptr<FerryCluster> cluster_;
};

TEST_F(ClusterReplayTest, CreateAccountReplayedToTheOtherProcessIsRefusedAndNamesAreUnique) {
  // Sent to A, replayed verbatim to B (and to A).
  const std::string create_alice =
      RootSignedV1Target({{"Action", "CreateAccount"}, {"AccountName", "alice"}});
  HttpAnswer created = Send(A(), create_alice);
  ASSERT_EQ(created.status, 200) << created.body.dump() << cluster_->Logs();
  const std::string alice_key = created.body.value("AccessKeyId", "");
  const std::string alice_secret = created.body.value("AccessKeySecret", "");
  ASSERT_FALSE(alice_key.empty()) << created.body.dump();
  for (const std::string& endpoint : {B(), A()}) {
    HttpAnswer replay = Send(endpoint, create_alice);
    EXPECT_EQ(replay.status, 400) << endpoint << ": " << replay.body.dump();
    EXPECT_EQ(replay.body.value("Code", ""), "SignatureNonceUsed") << endpoint << ": " << replay.body.dump();
    EXPECT_FALSE(replay.body.contains("AccessKeySecret")) << replay.body.dump();
  }

  // Sent to B (which forwards it to the owner), replayed to A.
  const std::string create_bob = RootSignedV1Target({{"Action", "CreateAccount"}, {"AccountName", "bob"}});
  HttpAnswer bob = Send(B(), create_bob);
  ASSERT_EQ(bob.status, 200) << bob.body.dump() << cluster_->Logs();
  HttpAnswer bob_replay = Send(A(), create_bob);
  EXPECT_EQ(bob_replay.body.value("Code", ""), "SignatureNonceUsed") << bob_replay.body.dump();

  // A name is taken in the whole cluster, whichever process is asked.
  for (const std::string& endpoint : {A(), B()}) {
    HttpAnswer duplicate =
        Send(endpoint, RootSignedV1Target({{"Action", "CreateAccount"}, {"AccountName", "alice"}}));
    EXPECT_EQ(duplicate.status, 400) << endpoint << ": " << duplicate.body.dump();
    EXPECT_EQ(duplicate.body.value("Code", ""), "InvalidAccountName.Duplicated") << duplicate.body.dump();
    EXPECT_NE(duplicate.body.value("Message", "").find("\"alice\""), std::string::npos) << duplicate.body.dump();
  }

  // The one alice works in both processes' regions (B looks her key up in A).
  for (const auto& [endpoint, region] : {std::pair{A(), "cn-hangzhou"}, std::pair{B(), "cn-shanghai"}}) {
    EcsClient client = ClientFor(endpoint, alice_key, alice_secret, false);
    Result<json> images = client.CallOrError("DescribeImages", {{"RegionId", region}});
    EXPECT_TRUE(images.ok()) << region << ": " << images.status().ToString();
  }
}

TEST_F(ClusterReplayTest, RegionRequestReplayedToTheOtherProcessIsRefused) {
  // Each region's request sent once to each process, then replayed to the
  // other: the region's process authenticated it the first time either way.
  for (const char* region : {"cn-hangzhou", "cn-shanghai"}) {
    for (bool a_first : {true, false}) {
      const std::string target = RootSignedV1Target({{"Action", "DescribeImages"}, {"RegionId", region}});
      const std::string& first = a_first ? A() : B();
      const std::string& second = a_first ? B() : A();
      HttpAnswer ok = Send(first, target);
      ASSERT_EQ(ok.status, 200) << region << " via " << first << ": " << ok.body.dump();
      HttpAnswer replay = Send(second, target);
      EXPECT_EQ(replay.status, 400) << region << " replayed to " << second << ": " << replay.body.dump();
      EXPECT_EQ(replay.body.value("Code", ""), "SignatureNonceUsed") << replay.body.dump();
    }
  }
  // Region-less requests (and DescribeRegions) have one owner too.
  const std::string regions = RootSignedV1Target({{"Action", "DescribeRegions"}});
  HttpAnswer listed = Send(B(), regions);
  ASSERT_EQ(listed.status, 200) << listed.body.dump();
  EXPECT_EQ(listed.body["Regions"]["Region"].size(), 2u) << listed.body.dump();
  EXPECT_EQ(Send(A(), regions).body.value("Code", ""), "SignatureNonceUsed");
}

// An account made in the owner process is known to the other one before it
// ever signs a request there: sharing an image of the other process's region
// with it works (the account is looked up over the peer API).
TEST_F(ClusterReplayTest, ShareInTheOtherProcessWithAnAccountMadeInTheOwner) {
  EcsClient root_a = RootClient(A(), false);
  json alice = CallOk(root_a, "CreateAccount", {{"AccountName", "sharing-alice"}});
  const std::string alice_id = alice.value("AccountId", "");
  ASSERT_FALSE(alice_id.empty()) << alice.dump();

  WriteSparseImage(cluster_->BucketDir(1) + "/shared.raw", 4 << 20, {{0, 1 << 20}}, 5);
  EcsClient root_b = RootClient(B(), false);
  const std::string image_id = ImportRawImage(root_b, "cn-shanghai", kOperatorBucket, "shared.raw", "shared");
  ASSERT_FALSE(image_id.empty()) << cluster_->Logs();
  CallOk(root_b, "ModifyImageSharePermission",
         {{"RegionId", "cn-shanghai"}, {"ImageId", image_id}, {"AddAccount.1", alice_id}});
  json shares = CallOk(root_b, "DescribeImageSharePermission", {{"RegionId", "cn-shanghai"}, {"ImageId", image_id}});
  ASSERT_EQ(shares["Accounts"]["Account"].size(), 1u) << shares.dump();
  EXPECT_EQ(shares["Accounts"]["Account"][0].value("AliyunId", ""), alice_id);

  // Alice sees it through either endpoint; an unknown account is still refused.
  for (const std::string& endpoint : {A(), B()}) {
    EcsClient as_alice = ClientFor(endpoint, alice.value("AccessKeyId", ""), alice.value("AccessKeySecret", ""), false);
    json seen = CallOk(as_alice, "DescribeImages", {{"RegionId", "cn-shanghai"}, {"ImageOwnerAlias", "others"}});
    ASSERT_EQ(seen["Images"]["Image"].size(), 1u) << endpoint << ": " << seen.dump();
    EXPECT_EQ(seen["Images"]["Image"][0].value("ImageId", ""), image_id);
  }
  Result<EcsResponse> nobody = root_b.Call("ModifyImageSharePermission", {{"RegionId", "cn-shanghai"},
                                                                        {"ImageId", image_id},
                                                                        {"AddAccount.1", "1999999999999999"}});
  ASSERT_TRUE(nobody.ok()) << nobody.status().ToString();
  EXPECT_EQ(nobody->http_status, 404) << nobody->raw_body;
  EXPECT_EQ(nobody->body.value("Code", ""), "InvalidAccount.NotFound") << nobody->raw_body;
}

}  // namespace
}  // namespace ferry::testing
