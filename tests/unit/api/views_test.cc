#include "api/views.h"

#include <gtest/gtest.h>

#include "api/errors.h"

namespace ferry {
namespace {

using nlohmann::json;

constexpr UnixSeconds kImageTime = 1573798025;  // 2019-11-15T06:07:05Z
constexpr UnixSeconds kTaskStart = 1448369400;  // 2015-11-24T12:50:00Z
constexpr UnixSeconds kTaskEnd = 1448369760;    // 2015-11-24T12:56:00Z

ImageRecord SampleImage() {
  ImageRecord image;
  image.image_id = "m-bp1g7004ksh0oeuc0001";
  image.account_id = "1234567890123456";
  image.name = "testImageName";
  image.description = "Archive log";
  image.status = "Available";
  image.progress = 100;
  image.os_name = "Ubuntu 22.04 64 bit";
  image.image_version = "2";
  image.size_gib = 60;
  image.creation_time = kImageTime;
  DiskMapping disk;
  disk.snapshot_id = "s-bp17ot2q7x72ggtw0001";
  disk.size_gib = 60;
  disk.format = "QCOW2";
  disk.import_bucket = "bucket";
  disk.import_object = "disk.qcow2";
  image.disks.push_back(disk);
  image.tags = {{"DTS", "Oracle"}};
  return image;
}

TEST(ViewsTest, ProgressIsAPercentString) {
  EXPECT_EQ(ProgressPercent(0), "0%");
  EXPECT_EQ(ProgressPercent(37), "37%");
  EXPECT_EQ(ProgressPercent(100), "100%");
  EXPECT_EQ(ProgressPercent(130), "100%");
  EXPECT_EQ(ProgressPercent(-5), "0%");
}

TEST(ViewsTest, TagsAreWrappedEvenWhenEmpty) {
  EXPECT_EQ(TagsView({}), json::parse(R"({"Tag":[]})"));
  EXPECT_EQ(TagsView({{"k", "v"}, {"empty", ""}}),
            json::parse(R"({"Tag":[{"TagKey":"k","TagValue":"v"},{"TagKey":"empty","TagValue":""}]})"));
}

TEST(ViewsTest, OwnerAliasAndIdFollowTheOwner) {
  EXPECT_EQ(ImageOwnerAlias(kSystemAccountId, "1111111111111111"), "system");
  EXPECT_EQ(ImageOwnerAlias("1111111111111111", "1111111111111111"), "self");
  EXPECT_EQ(ImageOwnerAlias("2222222222222222", "1111111111111111"), "others");
  EXPECT_EQ(ImageOwnerId(kSystemAccountId), 0);
  EXPECT_EQ(ImageOwnerId("1234567890123456"), 1234567890123456LL);
  EXPECT_EQ(ImageOwnerId("12ab"), 0);
}

TEST(ViewsTest, ImageHasDeclaredTypes) {
  ImageViewOptions options;
  options.caller_account_id = "1234567890123456";
  json v = ImageView(SampleImage(), options);

  EXPECT_EQ(v["ImageId"], "m-bp1g7004ksh0oeuc0001");
  EXPECT_EQ(v["ImageName"], "testImageName");
  EXPECT_EQ(v["Status"], "Available");
  EXPECT_EQ(v["Progress"], "100%");
  EXPECT_EQ(v["ImageOwnerAlias"], "self");
  ASSERT_TRUE(v["ImageOwnerId"].is_number_integer());
  EXPECT_EQ(v["ImageOwnerId"].get<int64_t>(), 1234567890123456LL);
  ASSERT_TRUE(v["Size"].is_number_integer());
  EXPECT_EQ(v["Size"].get<int>(), 60);
  EXPECT_EQ(v["IsSelfShared"], "false");
  EXPECT_EQ(v["IsPublic"], false);
  EXPECT_EQ(v["IsCopied"], false);
  EXPECT_EQ(v["IsSubscribed"], false);
  EXPECT_EQ(v["IsSupportCloudinit"], true);
  EXPECT_EQ(v["IsSupportIoOptimized"], true);
  EXPECT_EQ(v["ImageVersion"], "2");
  EXPECT_EQ(v["CreationTime"], "2019-11-15T06:07:05Z");
  EXPECT_EQ(v["OSType"], "linux");
  EXPECT_EQ(v["OSName"], "Ubuntu 22.04 64 bit");
  EXPECT_EQ(v["OSNameEn"], "Ubuntu 22.04 64 bit");
  EXPECT_EQ(v["Usage"], "instance");
  EXPECT_EQ(v["ProductCode"], "");

  const json& disks = v["DiskDeviceMappings"]["DiskDeviceMapping"];
  ASSERT_EQ(disks.size(), 1u);
  EXPECT_EQ(disks[0]["SnapshotId"], "s-bp17ot2q7x72ggtw0001");
  ASSERT_TRUE(disks[0]["Size"].is_string());
  EXPECT_EQ(disks[0]["Size"], "60");
  EXPECT_EQ(disks[0]["Device"], "/dev/xvda");
  EXPECT_EQ(disks[0]["Type"], "system");
  EXPECT_EQ(disks[0]["Format"], "QCOW2");
  EXPECT_EQ(disks[0]["ImportOSSBucket"], "bucket");
  EXPECT_EQ(disks[0]["ImportOSSObject"], "disk.qcow2");
  EXPECT_EQ(disks[0]["Progress"], "100%");
  ASSERT_TRUE(disks[0]["RemainTime"].is_number_integer());
  EXPECT_EQ(disks[0]["Encrypted"], false);
  EXPECT_EQ(v["Tags"], json::parse(R"({"Tag":[{"TagKey":"DTS","TagValue":"Oracle"}]})"));
}

TEST(ViewsTest, PublicImageAndEncryptedDisk) {
  ImageRecord image = SampleImage();
  image.account_id = kSystemAccountId;
  image.tags.clear();
  ImageViewOptions options;
  options.caller_account_id = "1234567890123456";
  options.encrypted_snapshot_ids = {"s-bp17ot2q7x72ggtw0001"};
  json v = ImageView(image, options);
  EXPECT_EQ(v["ImageOwnerAlias"], "system");
  EXPECT_EQ(v["ImageOwnerId"].get<int64_t>(), 0);
  EXPECT_EQ(v["IsPublic"], true);
  EXPECT_EQ(v["DiskDeviceMappings"]["DiskDeviceMapping"][0]["Encrypted"], true);
  EXPECT_EQ(v["Tags"], json::parse(R"({"Tag":[]})"));
}

TEST(ViewsTest, ImageWithoutDisksStillHasTheWrapper) {
  ImageRecord image = SampleImage();
  image.disks.clear();
  image.creation_time = 0;
  image.progress = 37;
  json v = ImageView(image, ImageViewOptions{});
  EXPECT_EQ(v["DiskDeviceMappings"], json::parse(R"({"DiskDeviceMapping":[]})"));
  EXPECT_EQ(v["Progress"], "37%");
  EXPECT_EQ(v["CreationTime"], "");
  EXPECT_EQ(v["ImageOwnerAlias"], "others");
}

TEST(ViewsTest, SnapshotHasDeclaredTypes) {
  SnapshotRecord s;
  s.snapshot_id = "s-bp17ot2q7x72ggtw0001";
  s.account_id = "1234567890123456";
  s.name = "snap";
  s.status = "accomplished";
  s.progress = 100;
  s.logical_size = 42949672960ULL;
  s.source_disk_size_gib = 40;
  s.encrypted = true;
  s.source_region_id = "cn-beijing";
  s.source_snapshot_id = "s-source";
  s.creation_time = kImageTime;
  json v = SnapshotView(s, "cn-hangzhou");

  EXPECT_EQ(v["SnapshotId"], "s-bp17ot2q7x72ggtw0001");
  EXPECT_EQ(v["SnapshotName"], "snap");
  EXPECT_EQ(v["Status"], "accomplished");
  EXPECT_EQ(v["Progress"], "100%");
  ASSERT_TRUE(v["RemainTime"].is_number_integer());
  EXPECT_EQ(v["CreationTime"], "2019-11-15T06:07:05Z");
  // Never modified: the creation time stands in.
  EXPECT_EQ(v["LastModifiedTime"], "2019-11-15T06:07:05Z");
  ASSERT_TRUE(v["SourceDiskSize"].is_string());
  EXPECT_EQ(v["SourceDiskSize"], "40");
  EXPECT_EQ(v["SourceDiskType"], "system");
  EXPECT_EQ(v["SourceDiskId"], "");
  EXPECT_EQ(v["SourceStorageType"], "disk");
  EXPECT_EQ(v["SnapshotType"], "user");
  EXPECT_EQ(v["Usage"], "image");
  EXPECT_EQ(v["Encrypted"], true);
  EXPECT_EQ(v["Available"], true);
  EXPECT_EQ(v["InstantAccess"], false);
  EXPECT_EQ(v["Category"], "standard");
  ASSERT_TRUE(v["RetentionDays"].is_number_integer());
  EXPECT_EQ(v["SourceRegionId"], "cn-beijing");
  EXPECT_EQ(v["SourceSnapshotId"], "s-source");
  EXPECT_EQ(v["RegionId"], "cn-hangzhou");
  ASSERT_TRUE(v["FullSnapshotSizeInBytes"].is_number_integer());
  EXPECT_EQ(v["FullSnapshotSizeInBytes"].get<uint64_t>(), 42949672960ULL);
  EXPECT_EQ(v["Tags"], json::parse(R"({"Tag":[]})"));

  s.status = "progressing";
  s.progress = 12;
  s.last_modified_time = kImageTime + 60;
  v = SnapshotView(s, "cn-hangzhou");
  EXPECT_EQ(v["Available"], false);
  EXPECT_EQ(v["Progress"], "12%");
  EXPECT_EQ(v["LastModifiedTime"], "2019-11-15T06:08:05Z");
}

TaskRecord SampleTask() {
  TaskRecord t;
  t.task_id = "t-bp1hvgwromzv32iq0001";
  t.account_id = "1234567890123456";
  t.action = "ExportImage";
  t.status = "Finished";
  t.progress = 100;
  t.resource_id = "m-bp1i8huqm5u70001";
  t.params = R"({"OSSBucket":"image-temp","OSSObject":"m-1.vhd","ImageFormat":"vhd"})";
  t.creation_time = kTaskStart;
  t.finished_time = kTaskEnd;
  return t;
}

TEST(ViewsTest, TaskUsesMinutesAndStringSupportCancel) {
  json v = TaskView(SampleTask());
  EXPECT_EQ(v, json::parse(R"({
      "TaskId": "t-bp1hvgwromzv32iq0001", "TaskAction": "ExportImage", "TaskStatus": "Finished",
      "SupportCancel": "false", "CreationTime": "2015-11-24T12:50Z", "FinishedTime": "2015-11-24T12:56Z",
      "ResourceId": "m-bp1i8huqm5u70001"})"));

  TaskRecord running = SampleTask();
  running.status = "Processing";
  running.finished_time = 0;
  v = TaskView(running);
  EXPECT_EQ(v["SupportCancel"], "true");
  EXPECT_EQ(v["FinishedTime"], "");

  running.cancel_requested = true;
  EXPECT_EQ(TaskView(running)["SupportCancel"], "false");

  // CancelTask refuses these (InvalidTaskId.TaskActionNotSupport): never "true".
  for (const char* action : {"CreateSnapshot", "CreateImage", "CopyImage"}) {
    TaskRecord other = SampleTask();
    other.action = action;
    other.status = "Processing";
    EXPECT_EQ(TaskView(other)["SupportCancel"], "false") << action;
  }
}

TEST(ViewsTest, TaskAttributeIsFlatWithRelatedItems) {
  json v = TaskAttributeView(SampleTask(), "cn-hangzhou");
  EXPECT_EQ(v["RegionId"], "cn-hangzhou");
  EXPECT_EQ(v["TaskId"], "t-bp1hvgwromzv32iq0001");
  EXPECT_EQ(v["TaskProcess"], "100%");
  EXPECT_EQ(v["SupportCancel"], "false");
  EXPECT_EQ(v["CreationTime"], "2015-11-24T12:50Z");
  EXPECT_EQ(v["FinishedTime"], "2015-11-24T12:56Z");
  EXPECT_EQ(v["TotalCount"], 1);
  EXPECT_EQ(v["SuccessCount"], 1);
  EXPECT_EQ(v["FailedCount"], 0);
  const json& ops = v["OperationProgressSet"]["OperationProgress"];
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(ops[0]["OperationStatus"], "Success");
  EXPECT_EQ(ops[0]["ErrorCode"], "");
  EXPECT_EQ(ops[0]["ErrorMsg"], "");
  json items = ops[0]["RelatedItemSet"]["RelatedItem"];
  EXPECT_EQ(items, json::parse(R"([
      {"Name": "ImageFormat", "Value": "vhd"},
      {"Name": "OSSBucket", "Value": "image-temp"},
      {"Name": "OSSObject", "Value": "m-1.vhd"}])"));
}

TEST(ViewsTest, TaskAttributeFlattensNestedParamsAndReportsFailure) {
  TaskRecord t = SampleTask();
  t.action = "ImportImage";
  t.status = "Failed";
  t.progress = 37;
  t.error_code = "InvalidImageFormat.Malformed";
  t.error_message = "not a qcow2 file";
  t.params = R"({"Disks":[{"OSSBucket":"b","Size":5}],"Encrypted":true})";
  json v = TaskAttributeView(t, "cn-hangzhou");
  EXPECT_EQ(v["TaskProcess"], "37%");
  EXPECT_EQ(v["SuccessCount"], 0);
  EXPECT_EQ(v["FailedCount"], 1);
  const json& op = v["OperationProgressSet"]["OperationProgress"][0];
  EXPECT_EQ(op["OperationStatus"], "Failed");
  EXPECT_EQ(op["ErrorCode"], "InvalidImageFormat.Malformed");
  EXPECT_EQ(op["ErrorMsg"], "not a qcow2 file");

  // A host path left in a stored message is not shown.
  AddRedactedHostPath("/srv/ferry-views-test");
  t.error_message = "open /srv/ferry-views-test/regions/r/tmp/x: No such file or directory";
  json redacted = TaskAttributeView(t, "cn-hangzhou");
  EXPECT_EQ(redacted["OperationProgressSet"]["OperationProgress"][0]["ErrorMsg"],
            std::string("open ") + kRedactedPath + ": No such file or directory");
  EXPECT_EQ(op["RelatedItemSet"]["RelatedItem"], json::parse(R"([
      {"Name": "Disks.1.OSSBucket", "Value": "b"},
      {"Name": "Disks.1.Size", "Value": "5"},
      {"Name": "Encrypted", "Value": "true"}])"));

  t.params = "not json";
  v = TaskAttributeView(t, "cn-hangzhou");
  EXPECT_EQ(v["OperationProgressSet"]["OperationProgress"][0]["RelatedItemSet"],
            json::parse(R"({"RelatedItem":[]})"));
}

TEST(ViewsTest, InstanceShowsItsTagsAndBilling) {
  InstanceRecord i;
  i.instance_id = "i-bp67acfmxazb4p000001";
  i.instance_type = "ecs.g7.large";
  i.creation_time = 1700000000;
  json v = InstanceView(i);
  EXPECT_EQ(v["Tags"], json::parse(R"({"Tag": []})"));
  EXPECT_EQ(v["InstanceChargeType"], "PostPaid");
  EXPECT_EQ(v["ExpiredTime"], "2099-12-31T15:59Z");  // pay-as-you-go: never

  i.tags = {{"team", "infra"}, {"env", ""}};
  i.instance_charge_type = "PrePaid";
  i.expired_time = 1702592000;  // 2023-12-14T22:13:20Z
  v = InstanceView(i);
  EXPECT_EQ(v["Tags"], json::parse(R"({"Tag": [{"TagKey": "team", "TagValue": "infra"},
                                               {"TagKey": "env", "TagValue": ""}]})"));
  EXPECT_EQ(v["InstanceChargeType"], "PrePaid");
  EXPECT_EQ(v["ExpiredTime"], "2023-12-14T22:13Z");
}

TEST(ViewsTest, RegionNamesByLanguage) {
  RegionConfig config;
  config.region_id = "cn-hangzhou";
  config.local_name_en = "China (Hangzhou)";
  config.local_name_zh = "华东1（杭州）";
  EXPECT_EQ(RegionView(config, /*english=*/false, "ferry.example:8080"), json::parse(R"({
      "RegionId": "cn-hangzhou", "LocalName": "华东1（杭州）",
      "RegionEndpoint": "ferry.example:8080", "Status": "available"})"));
  EXPECT_EQ(RegionView(config, /*english=*/true, "h:1")["LocalName"], "China (Hangzhou)");

  config.local_name_zh.clear();
  EXPECT_EQ(RegionView(config, /*english=*/false, "h:1")["LocalName"], "cn-hangzhou");
}

}  // namespace
}  // namespace ferry
