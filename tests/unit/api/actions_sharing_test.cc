// ModifyImageSharePermission and DescribeImageSharePermission at the edge:
// parameter parsing and the response shape (the rules are the region's).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "api/action.h"
#include "api/errors.h"
#include "api/views.h"
#include "unit/api/fake_region.h"

namespace ferry {
namespace {

using actiontest::FakeAccounts;
using actiontest::FakeClock;
using actiontest::RunHandler;
using actiontest::FakeRegion;
using nlohmann::json;

constexpr const char* kAlice = "1111111111111111";

class ActionsSharingTest : public ::testing::Test {
 protected:
  ActionsSharingTest() : hangzhou_("cn-hangzhou") { regions_.ordered = {&hangzhou_}; }

  Result<json> Call(const std::string& action, std::map<std::string, std::string> values) {
    Params params(std::move(values));
    ActionContext ctx{params, Caller{kAlice}, false, "REQ-1", regions_, accounts_, clock_, "127.0.0.1:18080"};
    return RunHandler(action, ctx);
  }

  FakeRegion hangzhou_;
  RegionSet regions_;
  FakeAccounts accounts_;
  FakeClock clock_;
};

TEST_F(ActionsSharingTest, AccountListsAreReadInOrderAndBeyondTenIgnored) {
  std::map<std::string, std::string> params{{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"},
                                            {"RemoveAccount.2", "22"}, {"RemoveAccount.1", "21"}};
  for (int n = 1; n <= 12; ++n) params["AddAccount." + std::to_string(n)] = std::to_string(100 + n);
  Result<json> r = Call("ModifyImageSharePermission", params);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::object());
  ASSERT_EQ(hangzhou_.share_changes.size(), 1u);
  const ModifyImageSharePermissionRequest& got = hangzhou_.share_changes[0];
  EXPECT_EQ(got.image_id, "m-1");
  ASSERT_EQ(got.add_accounts.size(), 10u);
  EXPECT_EQ(got.add_accounts.front(), "101");
  EXPECT_EQ(got.add_accounts.back(), "110");  // AddAccount.10 sorts after .1 numerically, not as text
  EXPECT_EQ(got.remove_accounts, (std::vector<std::string>{"21", "22"}));
  EXPECT_FALSE(got.dry_run);
}

TEST_F(ActionsSharingTest, ModifyValidatesItsParameters) {
  Result<json> r = Call("ModifyImageSharePermission", {{"RegionId", "cn-hangzhou"}});
  EXPECT_EQ(r.status().reason(), "MissingParameter");
  r = Call("ModifyImageSharePermission", {{"ImageId", "m-1"}});
  EXPECT_EQ(r.status().reason(), "MissingParameter");
  r = Call("ModifyImageSharePermission", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"AddAccount.x", "1"}});
  EXPECT_EQ(r.status().reason(), "InvalidParameter");
  r = Call("ModifyImageSharePermission", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"IsPublic", "true"}});
  EXPECT_EQ(r.status().reason(), "InvalidParameter.IsPublic");
  EXPECT_EQ(ToEcsError(r.status()).http_status, 403);
  EXPECT_TRUE(hangzhou_.share_changes.empty());
  r = Call("ModifyImageSharePermission",
           {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"AddAccount.1", "7"}, {"DryRun", "true"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(hangzhou_.share_changes.size(), 1u);
  EXPECT_TRUE(hangzhou_.share_changes[0].dry_run);
}

TEST_F(ActionsSharingTest, DescribeRendersAccountsAsStringsWithEmptyShareGroups) {
  hangzhou_.shares = {{"m-1", "2222222222222222", 1672574700}, {"m-1", "3333333333333333", 1672574760}};
  Result<json> r = Call("DescribeImageSharePermission",
                        {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"PageNumber", "2"}, {"PageSize", "1"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["RegionId"], "cn-hangzhou");
  EXPECT_EQ((*r)["ImageId"], "m-1");
  EXPECT_EQ((*r)["TotalCount"], 2);
  EXPECT_EQ((*r)["PageNumber"], 2);
  EXPECT_EQ((*r)["PageSize"], 1);
  EXPECT_EQ((*r)["ShareGroups"], json::parse(R"({"ShareGroup":[]})"));
  const json& accounts = (*r)["Accounts"]["Account"];
  ASSERT_EQ(accounts.size(), 1u);
  EXPECT_TRUE(accounts[0]["AliyunId"].is_string());
  EXPECT_EQ(accounts[0]["AliyunId"], "3333333333333333");
  EXPECT_EQ(accounts[0]["SharedTime"], "2023-01-01T12:06:00Z");
  ASSERT_EQ(hangzhou_.share_queries.size(), 1u);
  EXPECT_EQ(hangzhou_.share_queries[0].page_number, 2u);

  r = Call("DescribeImageSharePermission", {{"RegionId", "cn-hangzhou"}});
  EXPECT_EQ(r.status().reason(), "MissingParameter");
  r = Call("DescribeImageSharePermission", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"PageSize", "101"}});
  EXPECT_EQ(r.status().reason(), "InvalidParameter");
}

TEST_F(ActionsSharingTest, RegionErrorsKeepTheirDocumentedStatuses) {
  const std::map<std::string, int> documented = {
      {"InvalidAccount.NotFound", 404},    {"InvalidAccount.Forbbiden", 404},
      {"QuotaExceed.ShareImageUser", 403}, {"OperationDeined.EncryptedSnapshot", 403},
      {"InvalidImageId.NotFound", 404},    {"ImageUseShared", 403},
      {"OperationDenied.SameRegionOnly", 403}};
  for (const auto& [code, status] : documented) {
    hangzhou_.next_error = NotFound(code, "from the region");
    Result<json> r = Call("ModifyImageSharePermission",
                          {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"AddAccount.1", "7"}});
    EcsError e = ToEcsError(r.status());
    EXPECT_EQ(e.code, code);
    EXPECT_EQ(e.http_status, status) << code;
  }
}

TEST(ImageViewSharingTest, IsSelfSharedIsTheStringTheModelDeclares) {
  ImageRecord image;
  image.image_id = "m-1";
  image.account_id = kAlice;
  ImageViewOptions options;
  options.caller_account_id = kAlice;
  EXPECT_EQ(ImageView(image, options)["IsSelfShared"], "false");
  image.is_self_shared = true;
  EXPECT_EQ(ImageView(image, options)["IsSelfShared"], "true");
  options.caller_account_id = "2222222222222222";
  EXPECT_EQ(ImageView(image, options)["ImageOwnerAlias"], "others");
}

}  // namespace
}  // namespace ferry
