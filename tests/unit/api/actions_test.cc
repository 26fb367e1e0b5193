#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>

#include "api/action.h"
#include "unit/api/fake_region.h"

namespace ferry {
namespace {

using nlohmann::json;

constexpr const char* kAlice = "1111111111111111";
constexpr const char* kBob = "2222222222222222";

using actiontest::FakeAccounts;
using actiontest::FakeClock;
using actiontest::RunHandler;
using actiontest::FakeRegion;

ImageRecord Image(const std::string& id, const std::string& owner) {
  ImageRecord image;
  image.image_id = id;
  image.account_id = owner;
  image.name = "name-" + id;
  image.status = "Available";
  image.progress = 100;
  image.size_gib = 20;
  image.creation_time = 1573798025;
  DiskMapping disk;
  disk.snapshot_id = "s-of-" + id;
  disk.size_gib = 20;
  image.disks.push_back(disk);
  return image;
}

SnapshotRecord Snapshot(const std::string& id, const std::string& owner) {
  SnapshotRecord s;
  s.snapshot_id = id;
  s.account_id = owner;
  s.status = "accomplished";
  s.progress = 100;
  s.source_disk_size_gib = 20;
  s.logical_size = 20ULL << 30;
  s.creation_time = 1573798025;
  return s;
}

TaskRecord Task(const std::string& id, UnixSeconds created) {
  TaskRecord t;
  t.task_id = id;
  t.account_id = kAlice;
  t.action = "ImportImage";
  t.status = "Processing";
  t.progress = 37;
  t.resource_id = "m-" + id;
  t.params = R"({"OSSBucket":"b","OSSObject":"o.raw"})";
  t.creation_time = created;
  return t;
}

class ActionsTest : public ::testing::Test {
 protected:
  ActionsTest() : hangzhou_("cn-hangzhou"), beijing_("cn-beijing") {
    regions_.ordered = {&hangzhou_, &beijing_};
  }

  Result<json> Call(const std::string& action, std::map<std::string, std::string> values,
                    const std::string& account = kAlice, bool root = false) {
    Params params(std::move(values));
    ActionContext ctx{params, Caller{account}, root, "REQ-1", regions_, accounts_, clock_, "127.0.0.1:18080"};
    return RunHandler(action, ctx);
  }

  struct Failure {
    Code code;
    std::string message;
  };
  // Asserts failure with `reason` and returns the rest for further checks.
  Failure ExpectError(const Result<json>& r, const std::string& reason) {
    EXPECT_FALSE(r.ok()) << (r.ok() ? r.value().dump() : "");
    EXPECT_EQ(r.status().reason(), reason) << r.status().ToString();
    return Failure{r.status().code(), r.status().message()};
  }

  FakeRegion hangzhou_;
  FakeRegion beijing_;
  RegionSet regions_;
  FakeAccounts accounts_;
  FakeClock clock_;
};

TEST_F(ActionsTest, TableHasEveryAction) {
  const ActionTable table = BuiltinActions();
  for (const char* name : {"DescribeRegions", "ImportImage", "DescribeImages", "ModifyImageAttribute",
                           "DeleteImage", "CreateImage", "DescribeSnapshots", "DeleteSnapshot", "ExportImage",
                           "DescribeTasks", "DescribeTaskAttribute", "CancelTask", "CreateAccount", "CopyImage",
                           "CancelCopyImage", "ModifyImageSharePermission", "DescribeImageSharePermission"}) {
    EXPECT_EQ(table.count(name), 1u) << name;
  }
}

TEST_F(ActionsTest, RegionIdIsRequiredAndMustBeServed) {
  Failure st = ExpectError(Call("DescribeImages", {}), "MissingParameter");
  EXPECT_NE(st.message.find("RegionId"), std::string::npos);
  st = ExpectError(Call("DescribeImages", {{"RegionId", "us-west-1"}}), "InvalidRegionId.NotFound");
  EXPECT_EQ(st.code, Code::kNotFound);
  EXPECT_TRUE(hangzhou_.image_queries.empty());
}

TEST_F(ActionsTest, DescribeRegionsByLanguage) {
  Result<json> r = Call("DescribeRegions", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::parse(R"({"Regions":{"Region":[
      {"RegionId":"cn-hangzhou","LocalName":"中文 cn-hangzhou","RegionEndpoint":"127.0.0.1:18080","Status":"available"},
      {"RegionId":"cn-beijing","LocalName":"中文 cn-beijing","RegionEndpoint":"127.0.0.1:18080","Status":"available"}]}})"));

  r = Call("DescribeRegions", {{"AcceptLanguage", "en-US"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["Regions"]["Region"][0]["LocalName"], "English cn-hangzhou");
  r = Call("DescribeRegions", {{"AcceptLanguage", "ja"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["Regions"]["Region"][1]["LocalName"], "English cn-beijing");

  // The current list adds zh-TW, fr, de and ko: Chinese names for zh-TW,
  // English for the others.
  r = Call("DescribeRegions", {{"AcceptLanguage", "fr"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["Regions"]["Region"][0]["LocalName"], "English cn-hangzhou");
  r = Call("DescribeRegions", {{"AcceptLanguage", "zh-TW"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["Regions"]["Region"][0]["LocalName"], "中文 cn-hangzhou");

  ExpectError(Call("DescribeRegions", {{"AcceptLanguage", "es"}}), "InvalidAcceptLanguage.NotFound");
}

TEST_F(ActionsTest, DescribeRegionsListsRegionsOfOtherProcessesAfterLocalOnes) {
  regions_.remote = {{"cn-shanghai", "http://127.0.0.1:9001"}, {"zz-nowhere-1", "http://127.0.0.1:9002"}};
  Result<json> r = Call("DescribeRegions", {{"AcceptLanguage", "en-US"}, {"RegionId", "cn-shanghai"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const json& list = (*r)["Regions"]["Region"];
  ASSERT_EQ(list.size(), 4u) << r->dump();
  EXPECT_EQ(list[0]["RegionId"], "cn-hangzhou");
  EXPECT_EQ(list[1]["RegionId"], "cn-beijing");
  EXPECT_EQ(list[2], json::parse(R"json({"RegionId":"cn-shanghai","LocalName":"China (Shanghai)",
      "RegionEndpoint":"127.0.0.1:9001","Status":"available"})json"));
  // Each region's endpoint is the Ferry process serving it, never another company's host.
  EXPECT_EQ(list[3]["RegionEndpoint"], "127.0.0.1:9002");
  // An id without a well-known name is shown as itself.
  EXPECT_EQ(list[3]["RegionId"], "zz-nowhere-1");
  EXPECT_EQ(list[3]["LocalName"], "zz-nowhere-1");

  r = Call("DescribeRegions", {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["Regions"]["Region"][2]["LocalName"], "华东2（上海）");
}

TEST_F(ActionsTest, ImportImageParsesDisksTagsAndFlags) {
  Result<json> r = Call("ImportImage",
                        {{"RegionId", "cn-hangzhou"},
                         {"DiskDeviceMapping.1.OSSBucket", "bucket"},
                         {"DiskDeviceMapping.1.OSSObject", "sys.qcow2"},
                         {"DiskDeviceMapping.1.Format", "qcow2"},
                         {"DiskDeviceMapping.1.DiskImageSize", "40"},
                         {"DiskDeviceMapping.2.OSSBucket", "bucket"},
                         {"DiskDeviceMapping.2.OSSObject", "data.raw"},
                         {"DiskDeviceMapping.2.DiskImSize", "100"},
                         {"DiskDeviceMapping.2.Device", "/dev/xvdb"},
                         {"ImageName", "my-image"},
                         {"Description", "desc"},
                         {"Architecture", "arm64"},
                         {"OSType", "linux"},
                         {"Platform", "Ubuntu"},
                         {"BootMode", "UEFI"},
                         {"LicenseType", "BYOL"},
                         {"Encrypted", "true"},
                         {"Tag.1.Key", "env"},
                         {"Tag.1.Value", "prod"},
                         {"ClientToken", "tok-1"}},
                        kBob);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::parse(R"({"ImageId":"m-imported","RegionId":"cn-hangzhou","TaskId":"t-import"})"));

  ASSERT_EQ(hangzhou_.imports.size(), 1u);
  const ImportImageRequest& req = hangzhou_.imports[0];
  ASSERT_EQ(req.disks.size(), 2u);
  EXPECT_EQ(req.disks[0].oss_bucket, "bucket");
  EXPECT_EQ(req.disks[0].oss_object, "sys.qcow2");
  EXPECT_EQ(req.disks[0].format, "QCOW2");
  EXPECT_EQ(req.disks[0].disk_image_size_gib, 40u);
  EXPECT_EQ(req.disks[1].oss_object, "data.raw");
  EXPECT_EQ(req.disks[1].format, "");
  EXPECT_EQ(req.disks[1].disk_image_size_gib, 100u);
  EXPECT_EQ(req.image_name, "my-image");
  EXPECT_EQ(req.description, "desc");
  EXPECT_EQ(req.architecture, "arm64");
  EXPECT_EQ(req.os_type, "linux");
  EXPECT_EQ(req.platform, "Ubuntu");
  EXPECT_EQ(req.boot_mode, "UEFI");
  EXPECT_EQ(req.license_type, "BYOL");
  EXPECT_TRUE(req.encrypted);
  EXPECT_EQ(req.tags, (Tags{{"env", "prod"}}));
  EXPECT_EQ(req.client_token, "tok-1");
  EXPECT_FALSE(req.dry_run);
  EXPECT_EQ(hangzhou_.callers.back().account_id, kBob);
  EXPECT_TRUE(beijing_.imports.empty());
}

TEST_F(ActionsTest, ImportImageValidatesDisks) {
  Failure st = ExpectError(Call("ImportImage", {{"RegionId", "cn-hangzhou"}}), "MissingParameter");
  EXPECT_NE(st.message.find("DiskDeviceMapping.1.OSSBucket"), std::string::npos);

  st = ExpectError(Call("ImportImage", {{"RegionId", "cn-hangzhou"}, {"DiskDeviceMapping.1.OSSBucket", "b"}}),
                   "MissingParameter");
  EXPECT_NE(st.message.find("DiskDeviceMapping.1.OSSObject"), std::string::npos);

  // Only a data disk: the system disk is missing.
  ExpectError(Call("ImportImage", {{"RegionId", "cn-hangzhou"},
                                   {"DiskDeviceMapping.2.OSSBucket", "b"},
                                   {"DiskDeviceMapping.2.OSSObject", "o"}}),
              "MissingParameter");

  ExpectError(Call("ImportImage", {{"RegionId", "cn-hangzhou"},
                                   {"DiskDeviceMapping.18.OSSBucket", "b"},
                                   {"DiskDeviceMapping.18.OSSObject", "o"}}),
              "InvalidParameter");
  ExpectError(Call("ImportImage", {{"RegionId", "cn-hangzhou"},
                                   {"DiskDeviceMapping.1.OSSBucket", "b"},
                                   {"DiskDeviceMapping.1.OSSObject", "o"},
                                   {"DiskDeviceMapping.1.Format", "ISO"}}),
              "InvalidImageFormat.Malformed");
  ExpectError(Call("ImportImage", {{"RegionId", "cn-hangzhou"},
                                   {"DiskDeviceMapping.1.OSSBucket", "b"},
                                   {"DiskDeviceMapping.1.OSSObject", "o"},
                                   {"DiskDeviceMapping.1.DiskImageSize", "big"}}),
              "InvalidParameter");
  ExpectError(Call("ImportImage", {{"RegionId", "cn-hangzhou"},
                                   {"DiskDeviceMapping.1.OSSBucket", "b"},
                                   {"DiskDeviceMapping.1.OSSObject", "o"},
                                   {"BootMode", "Legacy"}}),
              "InvalidBootMode.NotSupport");
  EXPECT_TRUE(hangzhou_.imports.empty());
}

TEST_F(ActionsTest, ImportImageDryRunValidatesInTheRegionAndCreatesNothing) {
  std::map<std::string, std::string> params = {{"RegionId", "cn-hangzhou"},
                                               {"DiskDeviceMapping.1.OSSBucket", "b"},
                                               {"DiskDeviceMapping.1.OSSObject", "o"},
                                               {"DryRun", "true"}};
  Failure st = ExpectError(Call("ImportImage", params), "DryRunOperation");
  EXPECT_EQ(st.message, "Request validation has been passed with DryRun flag set.");
  ASSERT_EQ(hangzhou_.imports.size(), 1u);
  EXPECT_TRUE(hangzhou_.imports[0].dry_run);

  // A validation failure found by the region wins over DryRunOperation.
  hangzhou_.next_error = InvalidArgument("InvalidOSSBucket.NotFound", "no bucket b");
  ExpectError(Call("ImportImage", params), "InvalidOSSBucket.NotFound");
}

TEST_F(ActionsTest, DescribeImagesParsesFiltersAndPaging) {
  Result<json> r = Call("DescribeImages", {{"RegionId", "cn-hangzhou"},
                                           {"ImageId", "m-1"},
                                           {"ImageName", "web"},
                                           {"Status", "Creating,Waiting, Available"},
                                           {"ImageOwnerAlias", "self"},
                                           {"SnapshotId", "s-1"},
                                           {"Tag.1.Key", "k"},
                                           {"Tag.1.Value", "v"},
                                           {"PageNumber", "3"},
                                           {"PageSize", "100"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(hangzhou_.image_queries.size(), 1u);
  const DescribeImagesRequest& q = hangzhou_.image_queries[0];
  EXPECT_EQ(q.image_id, "m-1");
  EXPECT_EQ(q.image_name, "web");
  EXPECT_EQ(q.statuses, (std::vector<std::string>{"Creating", "Waiting", "Available"}));
  EXPECT_EQ(q.owner_alias, "self");
  EXPECT_EQ(q.snapshot_id, "s-1");
  EXPECT_EQ(q.tags, (Tags{{"k", "v"}}));
  EXPECT_EQ(q.page_number, 3u);
  EXPECT_EQ(q.page_size, 100u);
  EXPECT_EQ((*r)["PageNumber"], 3);
  EXPECT_EQ((*r)["PageSize"], 100);

  r = Call("DescribeImages", {{"RegionId", "cn-hangzhou"}});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(hangzhou_.image_queries.back().statuses.empty());
  EXPECT_EQ(hangzhou_.image_queries.back().page_number, 1u);
  EXPECT_EQ(hangzhou_.image_queries.back().page_size, 10u);
}

TEST_F(ActionsTest, DescribeImagesFiltersByFamilyOsArchitectureAndCreationTimeAcrossPages) {
  // 150 images one minute apart; every third arm64, every fifth windows.
  const UnixSeconds base = 1448369400;
  for (int i = 0; i < 150; ++i) {
    ImageRecord image;
    image.image_id = "m-" + std::to_string(i);
    image.creation_time = base + 60 * i;
    image.architecture = i % 3 == 0 ? "arm64" : "x86_64";
    image.os_type = i % 5 == 0 ? "windows" : "linux";
    image.image_family = i < 100 ? "old" : "new";
    hangzhou_.images.push_back(image);
  }
  Result<json> r = Call("DescribeImages", {{"RegionId", "cn-hangzhou"},
                                           {"Architecture", "arm64"},
                                           {"Filter.1.Key", "CreationStartTime"},
                                           {"Filter.1.Value", FormatTimeMinutes(base + 60 * 30)},
                                           {"Filter.2.Key", "CreationEndTime"},
                                           {"Filter.2.Value", FormatTimeMinutes(base + 60 * 149)},
                                           {"PageNumber", "2"},
                                           {"PageSize", "20"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // arm64 among 30..149: 30, 33, ..., 147 = 40 images; page 2 is 60..117.
  EXPECT_EQ((*r)["TotalCount"], 40);
  const json& images = (*r)["Images"]["Image"];
  ASSERT_EQ(images.size(), 20u);
  EXPECT_EQ(images[0]["ImageId"], "m-90");
  EXPECT_EQ(images[19]["ImageId"], "m-147");

  r = Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"OSType", "Windows"}, {"ImageFamily", "new"},
                              {"PageSize", "100"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["TotalCount"], 10);  // 100, 105, ..., 145
  for (const json& image : (*r)["Images"]["Image"]) EXPECT_EQ(image["OSType"], "windows");

  // NetworkType is accepted and filters nothing out: no post-filtering.
  const size_t queries = hangzhou_.image_queries.size();
  r = Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"Filter.1.Key", "NetworkType"},
                              {"Filter.1.Value", "vpc"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["TotalCount"], 150);
  EXPECT_EQ(hangzhou_.image_queries.size(), queries + 1);

  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"OSType", "plan9"}}), "InvalidOSType");
  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"Architecture", "sparc"}}),
              "InvalidArchitecture");
  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"Filter.1.Key", "Colour"},
                                      {"Filter.1.Value", "blue"}}),
              "InvalidFilterKey.NotFound");
  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"Filter.1.Key", "CreationStartTime"},
                                      {"Filter.1.Value", "yesterday"}}),
              "InvalidFilterValue");
}

TEST_F(ActionsTest, DescribeImagesRejectsBadParameters) {
  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"PageSize", "101"}}), "InvalidParameter");
  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"PageSize", "0"}}), "InvalidParameter");
  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"PageNumber", "0"}}), "InvalidParameter");
  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"ImageOwnerAlias", "friends"}}),
              "InvalidImageOwnerAlias.ValueNotSupported");
  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"Tag.1.Value", "v"}}),
              "InvalidTag.Mismatch");
  ExpectError(Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"DryRun", "true"}}), "DryRunOperation");
  EXPECT_TRUE(hangzhou_.image_queries.empty());
}

TEST_F(ActionsTest, DescribeImagesShapesAndTypes) {
  hangzhou_.images = {Image("m-mine", kAlice), Image("aliyun_ubuntu", kSystemAccountId),
                      Image("m-bobs", kBob)};
  hangzhou_.images[0].tags = {{"team", "infra"}};
  SnapshotRecord encrypted = Snapshot("s-of-m-mine", kAlice);
  encrypted.encrypted = true;
  hangzhou_.snapshots = {encrypted};

  Result<json> r = Call("DescribeImages", {{"RegionId", "cn-hangzhou"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const json& body = *r;
  EXPECT_EQ(body["RegionId"], "cn-hangzhou");
  ASSERT_TRUE(body["TotalCount"].is_number_integer());
  EXPECT_EQ(body["TotalCount"], 3);
  EXPECT_EQ(body["PageNumber"], 1);
  EXPECT_EQ(body["PageSize"], 10);
  const json& images = body["Images"]["Image"];
  ASSERT_EQ(images.size(), 3u);

  EXPECT_EQ(images[0]["ImageOwnerAlias"], "self");
  EXPECT_EQ(images[0]["ImageOwnerId"].get<int64_t>(), 1111111111111111LL);
  EXPECT_EQ(images[1]["ImageOwnerAlias"], "system");
  EXPECT_EQ(images[1]["ImageOwnerId"].get<int64_t>(), 0);
  EXPECT_EQ(images[1]["IsPublic"], true);
  EXPECT_EQ(images[2]["ImageOwnerAlias"], "others");

  ASSERT_TRUE(images[0]["Size"].is_number_integer());
  EXPECT_EQ(images[0]["Size"], 20);
  EXPECT_EQ(images[0]["Progress"], "100%");
  EXPECT_EQ(images[0]["CreationTime"], "2019-11-15T06:07:05Z");
  const json& disk = images[0]["DiskDeviceMappings"]["DiskDeviceMapping"][0];
  ASSERT_TRUE(disk["Size"].is_string());
  EXPECT_EQ(disk["Size"], "20");
  EXPECT_EQ(disk["Progress"], "100%");
  EXPECT_EQ(disk["Encrypted"], true);
  EXPECT_EQ(images[1]["DiskDeviceMappings"]["DiskDeviceMapping"][0]["Encrypted"], false);
  EXPECT_EQ(images[0]["Tags"], json::parse(R"({"Tag":[{"TagKey":"team","TagValue":"infra"}]})"));
  EXPECT_EQ(images[1]["Tags"], json::parse(R"({"Tag":[]})"));

  // Encrypted comes from the region's listing (DiskMapping::encrypted), not
  // from a DescribeSnapshots of its own.
  EXPECT_TRUE(hangzhou_.snapshot_queries.empty());
}

TEST_F(ActionsTest, DescribeImagesUnknownIdIsAnEmptyWrappedList) {
  hangzhou_.images = {Image("m-mine", kAlice)};
  Result<json> r = Call("DescribeImages", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-nope"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["Images"], json::parse(R"({"Image":[]})"));
  EXPECT_EQ((*r)["TotalCount"], 0);
}

TEST_F(ActionsTest, ModifyImageAttributeKeepsAbsentFields) {
  ExpectError(Call("ModifyImageAttribute", {{"RegionId", "cn-hangzhou"}}), "MissingParameter");

  Result<json> r = Call("ModifyImageAttribute", {{"RegionId", "cn-hangzhou"},
                                                 {"ImageId", "m-1"},
                                                 {"ImageName", "renamed"},
                                                 {"Description", ""},
                                                 {"Status", "Deprecated"},
                                                 {"BootMode", "UEFI-Preferred"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::object());
  ASSERT_EQ(hangzhou_.modifies.size(), 1u);
  const ModifyImageAttributeRequest& m = hangzhou_.modifies[0];
  EXPECT_EQ(m.image_id, "m-1");
  EXPECT_EQ(m.image_name, std::optional<std::string>("renamed"));
  EXPECT_EQ(m.description, std::nullopt);
  EXPECT_EQ(m.status, std::optional<std::string>("Deprecated"));
  EXPECT_EQ(m.image_family, std::nullopt);
  EXPECT_EQ(m.boot_mode, std::optional<std::string>("UEFI-Preferred"));
  EXPECT_EQ(m.license_type, std::nullopt);

  hangzhou_.next_error = FailedPrecondition("ImageStatus.NotAvailable", "image m-1 is Creating");
  ExpectError(Call("ModifyImageAttribute", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}}),
              "ImageStatus.NotAvailable");
}

TEST_F(ActionsTest, DeleteImagePassesForceAndDryRunTouchesNothing) {
  ExpectError(Call("DeleteImage", {{"RegionId", "cn-hangzhou"}}), "MissingParameter");
  ExpectError(Call("DeleteImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"Force", "maybe"}}),
              "InvalidParameter");

  Result<json> r = Call("DeleteImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"Force", "true"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::object());
  ASSERT_EQ(hangzhou_.deleted_images.size(), 1u);
  EXPECT_EQ(hangzhou_.deleted_images[0], std::make_pair(std::string("m-1"), true));

  hangzhou_.images = {Image("m-mine", kAlice), Image("m-bobs", kBob), Image("m-public", kSystemAccountId)};
  ExpectError(Call("DeleteImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-mine"}, {"DryRun", "true"}}),
              "DryRunOperation");
  // Bob's image visible to alice is one bob shared with her: hers to use, not to delete.
  ExpectError(Call("DeleteImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-bobs"}, {"DryRun", "true"}}),
              "Forbidden");
  ExpectError(Call("DeleteImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-public"}, {"DryRun", "true"}}),
              "InvalidImageId.NotFound");
  ExpectError(Call("DeleteImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-none"}, {"DryRun", "true"}}),
              "InvalidImageId.NotFound");
  EXPECT_EQ(hangzhou_.deleted_images.size(), 1u);
  // The dry-run lookup must see images in every status.
  EXPECT_EQ(hangzhou_.image_queries.back().statuses.size(), 6u);
}

TEST_F(ActionsTest, CreateImageSourcesAndPriority) {
  Failure st =
      ExpectError(Call("CreateImage", {{"RegionId", "cn-hangzhou"}, {"ImageName", "x"}}), "MissingParameter");
  EXPECT_EQ(st.message,
            "The input parameter SnapshotId or InstanceId or DiskDeviceMapping that is mandatory for "
            "processing this "
            "request is not supplied.");
  ExpectError(Call("CreateImage", {{"RegionId", "cn-hangzhou"}, {"DiskDeviceMapping.18.SnapshotId", "s-1"}}),
              "InvalidParameter");
  ExpectError(Call("CreateImage", {{"RegionId", "cn-hangzhou"},
                                   {"DiskDeviceMapping.1.SnapshotId", "s-1"},
                                   {"DiskDeviceMapping.1.Size", "forty"}}),
              "InvalidSize.ValueNotSupported");
  EXPECT_TRUE(hangzhou_.creates.empty());
  // Every mapping goes to the region as given (it checks them).
  ASSERT_TRUE(Call("CreateImage", {{"RegionId", "cn-hangzhou"},
                                   {"DiskDeviceMapping.1.SnapshotId", "s-1"},
                                   {"DiskDeviceMapping.1.DiskType", "system"},
                                   {"DiskDeviceMapping.3.SnapshotId", "s-3"},
                                   {"DiskDeviceMapping.3.Size", "60"},
                                   {"DiskDeviceMapping.3.Device", "/dev/xvdc"},
                                   {"DiskDeviceMapping.3.DiskType", "data"}})
                  .ok());
  ASSERT_EQ(hangzhou_.creates.size(), 1u);
  ASSERT_EQ(hangzhou_.creates[0].disk_mappings.size(), 2u);
  const ImageDiskRequest& first = hangzhou_.creates[0].disk_mappings[0];
  const ImageDiskRequest& third = hangzhou_.creates[0].disk_mappings[1];
  EXPECT_EQ(std::tie(first.n, first.snapshot_id, first.size_gib, first.device, first.disk_type),
            std::make_tuple(1, std::string("s-1"), uint64_t{0}, std::string(), std::string("system")));
  EXPECT_EQ(
      std::tie(third.n, third.snapshot_id, third.size_gib, third.device, third.disk_type),
      std::make_tuple(3, std::string("s-3"), uint64_t{60}, std::string("/dev/xvdc"), std::string("data")));
  EXPECT_FALSE(hangzhou_.creates[0].dry_run);
  hangzhou_.creates.clear();
  // InstanceId wins over SnapshotId and DiskDeviceMapping: the region gets
  // the instance only.
  ASSERT_TRUE(Call("CreateImage", {{"RegionId", "cn-hangzhou"},
                                   {"InstanceId", "i-1"},
                                   {"SnapshotId", "s-1"},
                                   {"DiskDeviceMapping.1.SnapshotId", "s-2"}})
                  .ok());
  ASSERT_EQ(hangzhou_.creates.size(), 1u);
  EXPECT_EQ(hangzhou_.creates[0].instance_id, "i-1");
  EXPECT_EQ(hangzhou_.creates[0].snapshot_id, "");
  hangzhou_.creates.clear();

  Result<json> r = Call("CreateImage", {{"RegionId", "cn-hangzhou"},
                                        {"SnapshotId", "s-plain"},
                                        {"DiskDeviceMapping.1.SnapshotId", "s-mapped"},
                                        {"ImageName", "img"},
                                        {"Description", "d"},
                                        {"Platform", "CentOS"},
                                        {"Architecture", "x86_64"},
                                        {"BootMode", "BIOS"},
                                        {"ImageFamily", "fam"},
                                        {"ImageVersion", "3"},
                                        {"Tag.1.Key", "a"},
                                        {"ClientToken", "tok"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::parse(R"({"ImageId":"m-created"})"));
  ASSERT_EQ(hangzhou_.creates.size(), 1u);
  const CreateImageRequest& c = hangzhou_.creates[0];
  ASSERT_EQ(c.disk_mappings.size(), 1u);
  EXPECT_EQ(c.disk_mappings[0].snapshot_id, "s-mapped");  // DiskDeviceMapping wins over SnapshotId
  EXPECT_EQ(c.snapshot_id, "");
  EXPECT_EQ(c.image_name, "img");
  EXPECT_EQ(c.description, "d");
  EXPECT_EQ(c.platform, "CentOS");
  EXPECT_EQ(c.architecture, "x86_64");
  EXPECT_EQ(c.boot_mode, "BIOS");
  EXPECT_EQ(c.image_family, "fam");
  EXPECT_EQ(c.image_version, "3");
  EXPECT_EQ(c.tags, (Tags{{"a", ""}}));
  EXPECT_EQ(c.client_token, "tok");

  r = Call("CreateImage", {{"RegionId", "cn-hangzhou"}, {"SnapshotId", "s-plain"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(hangzhou_.creates.back().snapshot_id, "s-plain");
}

TEST_F(ActionsTest, CreateImageDryRunFromSnapshotsIsTheRegionsToCheck) {
  // The region checks a dry run as it would the real call (every mapping).
  hangzhou_.next_error =
      InvalidArgument("DryRunOperation", "Request validation has been passed with DryRun flag set.");
  ExpectError(Call("CreateImage", {{"RegionId", "cn-hangzhou"}, {"SnapshotId", "s-1"}, {"DryRun", "true"}}),
              "DryRunOperation");
  ASSERT_EQ(hangzhou_.creates.size(), 1u);
  EXPECT_TRUE(hangzhou_.creates[0].dry_run);
  EXPECT_EQ(hangzhou_.creates[0].snapshot_id, "s-1");
}

TEST_F(ActionsTest, DescribeSnapshotsParsesIdsStatusAndPages) {
  hangzhou_.snapshots = {Snapshot("s-1", kAlice), Snapshot("s-2", kAlice), Snapshot("s-3", kAlice)};
  Result<json> r = Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"},
                                              {"SnapshotIds", R"(["s-1","s-3"])"},
                                              {"Status", "accomplished"},
                                              {"SnapshotName", "n"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const DescribeSnapshotsRequest& q = hangzhou_.snapshot_queries.back();
  EXPECT_EQ(q.snapshot_ids, (std::vector<std::string>{"s-1", "s-3"}));
  EXPECT_EQ(q.status, "accomplished");
  EXPECT_EQ(q.snapshot_name, "n");
  EXPECT_EQ(q.page_number, 1u);
  EXPECT_EQ(q.page_size, 10u);
  EXPECT_EQ((*r)["TotalCount"], 2);
  EXPECT_EQ((*r)["NextToken"], "");
  ASSERT_EQ((*r)["Snapshots"]["Snapshot"].size(), 2u);
  const json& s = (*r)["Snapshots"]["Snapshot"][0];
  EXPECT_EQ(s["SnapshotId"], "s-1");
  EXPECT_EQ(s["SourceDiskSize"], "20");
  EXPECT_EQ(s["Available"], true);
  EXPECT_EQ(s["RegionId"], "cn-hangzhou");
  EXPECT_EQ(s["FullSnapshotSizeInBytes"].get<uint64_t>(), 20ULL << 30);
  EXPECT_EQ(s["Tags"], json::parse(R"({"Tag":[]})"));

  r = Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"}, {"Status", "all"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(hangzhou_.snapshot_queries.back().status, "");

  // Token paging: MaxResults=2 gives s-1,s-2 then s-3 from token "2".
  r = Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"}, {"MaxResults", "2"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["NextToken"], "2");
  EXPECT_EQ((*r)["Snapshots"]["Snapshot"].size(), 2u);
  r = Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"}, {"MaxResults", "2"}, {"NextToken", "2"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(hangzhou_.snapshot_queries.back().page_number, 2u);
  EXPECT_EQ(hangzhou_.snapshot_queries.back().page_size, 2u);
  EXPECT_EQ((*r)["NextToken"], "");
  ASSERT_EQ((*r)["Snapshots"]["Snapshot"].size(), 1u);
  EXPECT_EQ((*r)["Snapshots"]["Snapshot"][0]["SnapshotId"], "s-3");
}

TEST_F(ActionsTest, DescribeSnapshotsRejectsBadParameters) {
  std::string many = "[";
  for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + "\"s-" + std::to_string(i) + "\"";
  many += "]";
  ExpectError(Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"}, {"SnapshotIds", many}}),
              "InvalidSnapshotIds.Malformed");
  ExpectError(Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"}, {"SnapshotIds", "s-1"}}),
              "InvalidParameter");
  ExpectError(Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"}, {"Status", "done"}}),
              "InvalidStatus.NotFound");
  ExpectError(
      Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"}, {"MaxResults", "2"}, {"NextToken", "3"}}),
      "InvalidParameter");
  ExpectError(Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"}, {"NextToken", "abc"}}),
              "InvalidParameter");
  ExpectError(Call("DescribeSnapshots", {{"RegionId", "cn-hangzhou"}, {"PageSize", "101"}}),
              "InvalidParameter");
  ExpectError(Call("DescribeSnapshots", {{"SnapshotIds", R"(["s-1"])"}}), "MissingParameter");
  EXPECT_TRUE(hangzhou_.snapshot_queries.empty());
}

// ZoneId and InstanceType filter the records, before the paging; VpcId,
// VSwitchId, SecurityGroupId and Tag.N keep nothing (Ferry's instances have
// none), instead of being ignored.
TEST_F(ActionsTest, DescribeInstancesZoneTypeVpcAndTagFilters) {
  for (int n = 0; n < 150; ++n) {
    InstanceRecord i;
    i.instance_id = "i-" + std::to_string(1000 + n);
    i.account_id = kAlice;
    i.status = "Running";
    i.zone_id = n % 50 == 3 ? "cn-hangzhou-b" : "cn-hangzhou-a";  // i-1003, i-1053, i-1103
    i.instance_type = n == 103 ? "ecs.c7.large" : "ecs.g7.large";
    hangzhou_.instances.push_back(i);
  }
  auto ids = [](const json& body) {
    std::vector<std::string> out;
    for (const json& i : body["Instances"]["Instance"]) out.push_back(i["InstanceId"]);
    return out;
  };
  Result<json> zone = Call("DescribeInstances", {{"RegionId", "cn-hangzhou"}, {"ZoneId", "cn-hangzhou-b"},
                                                 {"PageSize", "2"}});
  ASSERT_TRUE(zone.ok()) << zone.status().ToString();
  EXPECT_EQ((*zone)["TotalCount"], 3);
  EXPECT_EQ(ids(*zone), (std::vector<std::string>{"i-1003", "i-1053"}));
  Result<json> token = Call("DescribeInstances", {{"RegionId", "cn-hangzhou"}, {"ZoneId", "cn-hangzhou-b"},
                                                  {"MaxResults", "2"}, {"NextToken", "2"}});
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(ids(*token), (std::vector<std::string>{"i-1103"}));
  EXPECT_EQ((*token)["NextToken"], "");
  Result<json> both = Call("DescribeInstances", {{"RegionId", "cn-hangzhou"}, {"ZoneId", "cn-hangzhou-b"},
                                                 {"InstanceType", "ecs.c7.large"}});
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(ids(*both), (std::vector<std::string>{"i-1103"}));
  for (const char* name : {"VpcId", "VSwitchId", "SecurityGroupId"}) {
    Result<json> none = Call("DescribeInstances", {{"RegionId", "cn-hangzhou"}, {name, "x-1"}});
    ASSERT_TRUE(none.ok()) << none.status().ToString();
    EXPECT_EQ((*none)["TotalCount"], 0) << name;
    EXPECT_EQ((*none)["Instances"], json({{"Instance", json::array()}})) << name;
  }
  // Tag.N is the region's filter (instances keep their tags).
  ASSERT_TRUE(Call("DescribeInstances", {{"RegionId", "cn-hangzhou"}, {"Tag.1.Key", "team"}, {"Tag.2.Key", "env"},
                                         {"Tag.2.Value", "prod"}})
                  .ok());
  EXPECT_EQ(hangzhou_.instance_queries.back().tags, (Tags{{"team", ""}, {"env", "prod"}}));
  ExpectError(Call("DescribeInstances", {{"RegionId", "cn-hangzhou"}, {"Tag.21.Key", "k"}}), "InvalidTagCount");
  // InstanceChargeType matches the record.
  hangzhou_.instances[7].instance_charge_type = "PrePaid";
  Result<json> prepaid = Call("DescribeInstances", {{"RegionId", "cn-hangzhou"}, {"InstanceChargeType", "PrePaid"}});
  ASSERT_TRUE(prepaid.ok()) << prepaid.status().ToString();
  EXPECT_EQ(ids(*prepaid), (std::vector<std::string>{"i-1007"}));
  Result<json> unfiltered = Call("DescribeInstances", {{"RegionId", "cn-hangzhou"}});
  ASSERT_TRUE(unfiltered.ok()) << unfiltered.status().ToString();
  EXPECT_EQ((*unfiltered)["TotalCount"], 150);
  EXPECT_EQ((*unfiltered)["Instances"]["Instance"].size(), 10u);
}

// Instances without a role are not listed, so DescribeInstanceRamRole
// filters before it pages: TotalCount counts every instance with a role,
// however the instances without one fall across the region's pages.
TEST_F(ActionsTest, DescribeInstanceRamRoleFiltersBeforePaging) {
  for (int n = 0; n < 150; ++n) {
    InstanceRecord i;
    i.instance_id = "i-" + std::to_string(1000 + n);
    i.account_id = kAlice;
    i.status = "Running";
    if (n % 50 == 7) i.ram_role_name = n == 107 ? "other" : "role";  // i-1007, i-1057, i-1107 (other)
    hangzhou_.instances.push_back(i);
  }
  auto ids = [](const json& body) {
    std::vector<std::string> out;
    for (const json& set : body["InstanceRamRoleSets"]["InstanceRamRoleSet"]) out.push_back(set["InstanceId"]);
    return out;
  };
  Result<json> first = Call("DescribeInstanceRamRole", {{"RegionId", "cn-hangzhou"}, {"PageSize", "2"}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ((*first)["TotalCount"], 3);
  EXPECT_TRUE((*first)["TotalCount"].is_number_unsigned());
  EXPECT_EQ(ids(*first), (std::vector<std::string>{"i-1007", "i-1057"}));
  Result<json> second =
      Call("DescribeInstanceRamRole", {{"RegionId", "cn-hangzhou"}, {"PageSize", "2"}, {"PageNumber", "2"}});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ((*second)["TotalCount"], 3);
  EXPECT_EQ(ids(*second), (std::vector<std::string>{"i-1107"}));
  EXPECT_EQ((*second)["InstanceRamRoleSets"]["InstanceRamRoleSet"][0]["RamRoleName"], "other");
  Result<json> named = Call("DescribeInstanceRamRole", {{"RegionId", "cn-hangzhou"}, {"RamRoleName", "role"}});
  ASSERT_TRUE(named.ok()) << named.status().ToString();
  EXPECT_EQ((*named)["TotalCount"], 2);
  Result<json> by_id = Call("DescribeInstanceRamRole",
                            {{"RegionId", "cn-hangzhou"}, {"InstanceIds", R"(["i-1000","i-1107"])"}});
  ASSERT_TRUE(by_id.ok()) << by_id.status().ToString();
  EXPECT_EQ(ids(*by_id), (std::vector<std::string>{"i-1107"}));
  EXPECT_EQ((*by_id)["TotalCount"], 1);
  Result<json> other_account = Call("DescribeInstanceRamRole", {{"RegionId", "cn-hangzhou"}}, kBob);
  ASSERT_TRUE(other_account.ok()) << other_account.status().ToString();
  EXPECT_EQ((*other_account)["TotalCount"], 0);
  EXPECT_EQ((*other_account)["InstanceRamRoleSets"], json({{"InstanceRamRoleSet", json::array()}}));
}

TEST_F(ActionsTest, DeleteSnapshotWithoutRegionIdFindsTheRegion) {
  beijing_.snapshots = {Snapshot("s-bj", kAlice)};
  Result<json> r = Call("DeleteSnapshot", {{"SnapshotId", "s-bj"}, {"Force", "true"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::object());
  EXPECT_TRUE(hangzhou_.deleted_snapshots.empty());
  ASSERT_EQ(beijing_.deleted_snapshots.size(), 1u);
  EXPECT_EQ(beijing_.deleted_snapshots[0], std::make_pair(std::string("s-bj"), true));

  ExpectError(Call("DeleteSnapshot", {{"SnapshotId", "s-nowhere"}}), "InvalidSnapshotId.NotFound");
  ExpectError(Call("DeleteSnapshot", {}), "MissingParameter");

  // An explicit RegionId is used as given; the region decides.
  r = Call("DeleteSnapshot", {{"RegionId", "cn-hangzhou"}, {"SnapshotId", "s-x"}});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(hangzhou_.deleted_snapshots.size(), 1u);
  EXPECT_EQ(hangzhou_.deleted_snapshots[0], std::make_pair(std::string("s-x"), false));
  ExpectError(Call("DeleteSnapshot", {{"RegionId", "xx"}, {"SnapshotId", "s-bj"}}),
              "InvalidRegionId.NotFound");

  ExpectError(Call("DeleteSnapshot", {{"SnapshotId", "s-bj"}, {"DryRun", "true"}}), "DryRunOperation");
  EXPECT_EQ(beijing_.deleted_snapshots.size(), 1u);
}

TEST_F(ActionsTest, ExportImageParsesAndValidates) {
  ExpectError(Call("ExportImage", {{"RegionId", "cn-hangzhou"}, {"OSSBucket", "b"}}), "MissingParameter");
  Failure st =
      ExpectError(Call("ExportImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}}), "MissingParameter");
  EXPECT_NE(st.message.find("OSSBucket"), std::string::npos);
  ExpectError(
      Call(
          "ExportImage",
          {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"OSSBucket", "b"}, {"OSSPrefix", "bad/prefix"}}),
      "InvalidOSSPrefix.Malformed");
  ExpectError(
      Call("ExportImage",
           {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"OSSBucket", "b"}, {"ImageFormat", "iso"}}),
      "InvalidImageFormat.Malformed");
  EXPECT_TRUE(hangzhou_.exports.empty());

  Result<json> r = Call("ExportImage", {{"RegionId", "cn-hangzhou"},
                                        {"ImageId", "m-1"},
                                        {"OSSBucket", "b"},
                                        {"OSSPrefix", "backup1"},
                                        {"ImageFormat", "QCOW2"},
                                        {"RoleName", "AliyunECSImageExportDefaultRole"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::parse(R"({"RegionId":"cn-hangzhou","TaskId":"t-export"})"));
  ASSERT_EQ(hangzhou_.exports.size(), 1u);
  EXPECT_EQ(hangzhou_.exports[0].image_id, "m-1");
  EXPECT_EQ(hangzhou_.exports[0].oss_bucket, "b");
  EXPECT_EQ(hangzhou_.exports[0].oss_prefix, "backup1");
  EXPECT_EQ(hangzhou_.exports[0].image_format, "qcow2");

  r = Call("ExportImage", {{"RegionId", "cn-hangzhou"}, {"ImageId", "m-1"}, {"OSSBucket", "b"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(hangzhou_.exports.back().image_format, "raw");
}

TEST_F(ActionsTest, DescribeTasksParsesFilters) {
  hangzhou_.tasks = {Task("t-1", 1448369400)};
  Result<json> r = Call("DescribeTasks", {{"RegionId", "cn-hangzhou"},
                                          {"TaskIds", "t-1,t-2"},
                                          {"TaskAction", "ImportImage"},
                                          {"TaskStatus", "Processing"},
                                          {"ResourceIds.1", "m-1"},
                                          {"ResourceIds.2", "m-2"},
                                          {"PageNumber", "1"},
                                          {"PageSize", "5"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const DescribeTasksRequest& q = hangzhou_.task_queries.back();
  EXPECT_EQ(q.task_ids, (std::vector<std::string>{"t-1", "t-2"}));
  EXPECT_EQ(q.task_action, "ImportImage");
  EXPECT_EQ(q.task_status, "Processing");
  EXPECT_EQ(q.resource_ids, (std::vector<std::string>{"m-1", "m-2"}));
  EXPECT_EQ(q.page_size, 5u);
  EXPECT_EQ(*r, json::parse(R"({"RegionId":"cn-hangzhou","TotalCount":1,"PageNumber":1,"PageSize":5,
      "TaskSet":{"Task":[{"TaskId":"t-1","TaskAction":"ImportImage","TaskStatus":"Processing",
      "SupportCancel":"true","CreationTime":"2015-11-24T12:50Z","FinishedTime":"","ResourceId":"m-t-1"}]}})"));

  // Unknown statuses are ignored, as ECS does.
  r = Call("DescribeTasks", {{"RegionId", "cn-hangzhou"}, {"TaskStatus", "Whatever"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(hangzhou_.task_queries.back().task_status, "");

  std::string ids;
  for (int i = 0; i < 101; ++i) ids += "t-" + std::to_string(i) + ",";
  ExpectError(Call("DescribeTasks", {{"RegionId", "cn-hangzhou"}, {"TaskIds", ids}}), "InvalidParameter");
  ExpectError(Call("DescribeTasks", {{"RegionId", "cn-hangzhou"}, {"StartTime", "yesterday"}}),
              "InvalidParameter");
}

TEST_F(ActionsTest, DescribeTasksFiltersByCreationTimeAcrossPages) {
  // 150 tasks one minute apart, newest first like the catalog returns them.
  const UnixSeconds base = 1448369400;
  for (int i = 149; i >= 0; --i) hangzhou_.tasks.push_back(Task("t-" + std::to_string(i), base + 60 * i));
  // Tasks 10..129 inclusive: 120 of them.
  Result<json> r = Call("DescribeTasks", {{"RegionId", "cn-hangzhou"},
                                          {"StartTime", FormatTimeMinutes(base + 60 * 10)},
                                          {"EndTime", FormatTimeSeconds(base + 60 * 129)},
                                          {"PageNumber", "2"},
                                          {"PageSize", "100"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["TotalCount"], 120);
  const json& tasks = (*r)["TaskSet"]["Task"];
  ASSERT_EQ(tasks.size(), 20u);
  EXPECT_EQ(tasks[0]["TaskId"], "t-29");
  EXPECT_EQ(tasks[19]["TaskId"], "t-10");
}

TEST_F(ActionsTest, DescribeTaskAttributeAndCancelTask) {
  hangzhou_.tasks = {Task("t-1", 1448369400)};
  ExpectError(Call("DescribeTaskAttribute", {{"RegionId", "cn-hangzhou"}}), "MissingParameter");
  ExpectError(Call("DescribeTaskAttribute", {{"RegionId", "cn-hangzhou"}, {"TaskId", "t-9"}}),
              "InvalidTaskId.NotFound");
  Result<json> r = Call("DescribeTaskAttribute", {{"RegionId", "cn-hangzhou"}, {"TaskId", "t-1"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["TaskId"], "t-1");
  EXPECT_EQ((*r)["RegionId"], "cn-hangzhou");
  EXPECT_EQ((*r)["TaskProcess"], "37%");
  EXPECT_EQ((*r)["SupportCancel"], "true");
  EXPECT_EQ((*r)["OperationProgressSet"]["OperationProgress"][0]["RelatedItemSet"]["RelatedItem"],
            json::parse(R"([{"Name":"OSSBucket","Value":"b"},{"Name":"OSSObject","Value":"o.raw"}])"));

  ExpectError(Call("CancelTask", {{"RegionId", "cn-hangzhou"}}), "MissingParameter");
  r = Call("CancelTask", {{"RegionId", "cn-hangzhou"}, {"TaskId", "t-1"}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, json::object());
  EXPECT_EQ(hangzhou_.cancelled, (std::vector<std::string>{"t-1"}));
}

TEST_F(ActionsTest, CreateAccountIsForRootOnly) {
  Failure st =
      ExpectError(Call("CreateAccount", {{"AccountName", "team"}}, kAlice, /*root=*/false), "Forbidden");
  EXPECT_EQ(st.code, Code::kPermissionDenied);
  EXPECT_TRUE(accounts_.accounts.empty());

  ExpectError(Call("CreateAccount", {}, kAlice, /*root=*/true), "MissingParameter");

  Result<json> r = Call("CreateAccount", {{"AccountName", "team"}}, kAlice, /*root=*/true);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(accounts_.accounts.size(), 1u);
  ASSERT_EQ(accounts_.keys.size(), 1u);
  EXPECT_EQ(accounts_.accounts[0].name, "team");
  EXPECT_FALSE(accounts_.accounts[0].is_root);
  EXPECT_EQ((*r)["AccountId"], accounts_.accounts[0].account_id);
  EXPECT_EQ((*r)["AccessKeyId"], accounts_.keys[0].access_key_id);
  EXPECT_EQ((*r)["AccessKeySecret"], accounts_.keys[0].access_key_secret);
  EXPECT_EQ(accounts_.keys[0].account_id, accounts_.accounts[0].account_id);

  ExpectError(Call("CreateAccount", {{"AccountName", "team"}}, kAlice, /*root=*/true),
              "InvalidAccountName.Duplicated");
}

}  // namespace
}  // namespace ferry
