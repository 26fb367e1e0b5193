#include "api/response_writer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "api/errors.h"
#include "api/render.h"
#include "api/views.h"
#include "common/clock.h"

namespace ferry {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------
// The DescribeImages view as it was built before ResponseWriter: an
// nlohmann::json tree rendered by RenderSuccess. Kept here, frozen, as the
// reference the writer must match byte for byte.

std::string LegacySecondsOrEmpty(UnixSeconds t) { return t == 0 ? "" : FormatTimeSeconds(t); }
int64_t LegacyRemainTime(int64_t seconds) {
  return std::clamp<int64_t>(seconds, 0, std::numeric_limits<int32_t>::max());
}

json LegacyTagsView(const Tags& tags) {
  json list = json::array();
  for (const auto& [key, value] : tags) list.push_back(json{{"TagKey", key}, {"TagValue", value}});
  return json{{"Tag", std::move(list)}};
}

json LegacyDiskMappingView(const DiskMapping& disk, const ImageRecord& image, const ImageViewOptions& options) {
  json view{
      {"SnapshotId", disk.snapshot_id},
      {"Size", std::to_string(disk.size_gib)},
      {"Device", disk.device},
      {"Type", disk.type},
      {"Format", disk.format},
      {"ImportOSSBucket", disk.import_bucket},
      {"ImportOSSObject", disk.import_object},
      {"Progress", ProgressPercent(image.progress)},
      {"RemainTime", LegacyRemainTime(image.remain_time_seconds)},
      {"Encrypted", options.encrypted_snapshot_ids.count(disk.snapshot_id) != 0},
  };
  if (!disk.detected_format.empty()) view["DetectedFormat"] = disk.detected_format;
  if (!disk.detected_content.empty()) view["DetectedContent"] = disk.detected_content;
  return view;
}

json LegacyImageView(const ImageRecord& image, const ImageViewOptions& options) {
  json disks = json::array();
  for (const DiskMapping& disk : image.disks) disks.push_back(LegacyDiskMappingView(disk, image, options));
  const bool is_public = image.account_id == kSystemAccountId;
  json view{
      {"ImageId", image.image_id},
      {"ImageName", image.name},
      {"ImageFamily", image.image_family},
      {"ImageVersion", image.image_version},
      {"Description", image.description},
      {"Status", image.status},
      {"Progress", ProgressPercent(image.progress)},
      {"ImageOwnerAlias", ImageOwnerAlias(image.account_id, options.caller_account_id)},
      {"ImageOwnerId", ImageOwnerId(image.account_id)},
      {"IsCopied", image.is_copied},
      {"IsSelfShared", image.is_self_shared ? "true" : "false"},
      {"IsSubscribed", false},
      {"IsPublic", is_public},
      {"IsSupportCloudinit", true},
      {"IsSupportIoOptimized", true},
      {"Size", image.size_gib},
      {"CreationTime", LegacySecondsOrEmpty(image.creation_time)},
      {"OSType", image.os_type},
      {"OSName", image.os_name},
      {"OSNameEn", image.os_name},
      {"Platform", image.platform},
      {"Architecture", image.architecture},
      {"BootMode", image.boot_mode},
      {"ProductCode", ""},
      {"ResourceGroupId", image.resource_group_id},
      {"Usage", "instance"},
      {"LicenseType", image.license_type},
      {"DiskDeviceMappings", json{{"DiskDeviceMapping", std::move(disks)}}},
      {"Tags", LegacyTagsView(image.tags)},
  };
  if (image.queue_position != 0) view["CopyQueuePosition"] = image.queue_position;
  if (image.remain_time_seconds > 0) view["CopyRemainTime"] = LegacyRemainTime(image.remain_time_seconds);
  if (image.status == "Creating" && image.is_copied &&
      (image.copy_wire_bytes > 0 || image.copy_data_bytes > 0)) {
    view["CopyWireBytes"] = image.copy_wire_bytes;
    view["CopyDataBytes"] = image.copy_data_bytes;
  }
  if (image.status == "CreateFailed" && !image.failure_reason.empty())
    view["CreateFailedReason"] = RedactHostPaths(image.failure_reason);
  return view;
}

std::string LegacyDescribeImagesBody(ResponseFormat format, const std::string& request_id,
                                     const std::string& region_id, const Page<ImageRecord>& page,
                                     uint64_t page_number, uint64_t page_size, const ImageViewOptions& options) {
  json images = json::array();
  for (const ImageRecord& image : page.items) images.push_back(LegacyImageView(image, options));
  json body{
      {"RegionId", region_id},
      {"TotalCount", page.total},
      {"PageNumber", page_number},
      {"PageSize", page_size},
      {"Images", json{{"Image", std::move(images)}}},
  };
  return RenderSuccess(std::move(body), request_id, "DescribeImages", format).body;
}

// ---------------------------------------------------------------------------

constexpr const char* kCaller = "1234567890123456";

DiskMapping Disk(const std::string& snapshot_id, const std::string& device) {
  DiskMapping disk;
  disk.snapshot_id = snapshot_id;
  disk.size_gib = 40;
  disk.device = device;
  disk.type = "system";
  disk.format = "QCOW2";
  disk.import_bucket = "bucket-<1>";
  disk.import_object = "dir/disk \"one\".qcow2";
  return disk;
}

// Every field set, and text that needs escaping in both formats.
std::vector<ImageRecord> Images() {
  std::vector<ImageRecord> out;
  ImageRecord full;
  full.image_id = "m-full0000000000000001";
  full.account_id = kCaller;
  full.name = "name with \"quotes\", \\backslash\\, <tags> & 'apostrophes'";
  full.description = "tab\there, newline\nthere, cr\r, bell\x07, nul-free control \x01\x1f, del \x7f";
  full.status = "Available";
  full.progress = 100;
  full.os_type = "linux";
  full.os_name = "Ubuntu 22.04 64 bit 镜像 — ünïcödé 🚀";
  full.platform = "Ubuntu";
  full.architecture = "x86_64";
  full.boot_mode = "UEFI";
  full.image_family = "family/ä";
  full.image_version = "2";
  full.license_type = "BYOL";
  full.resource_group_id = "rg-1";
  full.size_gib = 60;
  full.creation_time = 1573798025;
  full.is_self_shared = true;
  DiskMapping system = Disk("s-encrypted000000000001", "/dev/xvda");
  system.detected_format = "qcow2";
  system.detected_content = "gpt: ext4 \"root\"";
  full.disks.push_back(system);
  DiskMapping data = Disk("s-plain0000000000000002", "/dev/xvdb");
  data.type = "data";
  data.size_gib = std::numeric_limits<uint64_t>::max();
  full.disks.push_back(data);
  full.tags = {{"DTS", "Oracle"}, {"empty", ""}, {"ключ", "значение <&>"}, {"q\"k", "v\\"}};
  out.push_back(full);

  ImageRecord copying = full;
  copying.image_id = "m-copy0000000000000002";
  copying.status = "Creating";
  copying.is_copied = true;
  copying.progress = 37;
  copying.queue_position = 3;
  copying.remain_time_seconds = std::numeric_limits<int64_t>::max();
  copying.copy_wire_bytes = 123456789;
  copying.copy_data_bytes = 987654321;
  copying.source_region_id = "cn-hangzhou";
  copying.source_image_id = "m-source";
  out.push_back(copying);

  ImageRecord waiting = copying;
  waiting.image_id = "m-wait0000000000000003";
  waiting.status = "Waiting";
  waiting.copy_wire_bytes = 0;
  waiting.copy_data_bytes = 0;
  waiting.remain_time_seconds = 0;
  out.push_back(waiting);

  ImageRecord failed = full;
  failed.image_id = "m-fail0000000000000004";
  failed.status = "CreateFailed";
  failed.progress = -5;
  failed.failure_reason =
      "InvalidImageFormat.Malformed: disk image /var/lib/ferry/oss/bucket/x.raw: the file is \"empty\" <&>";
  failed.tags = {};
  failed.disks = {};
  out.push_back(failed);

  ImageRecord invalid_utf8 = full;
  invalid_utf8.image_id = "m-utf80000000000000005";
  invalid_utf8.account_id = "2222222222222222";  // another owner's: "others"
  invalid_utf8.name = std::string("bad \xff\xfe bytes \xc3 and \xe2\x82 cut");
  invalid_utf8.description = std::string("\xed\xa0\x80 surrogate, overlong \xc0\xaf");
  invalid_utf8.is_self_shared = false;
  out.push_back(invalid_utf8);

  ImageRecord system_image;
  system_image.image_id = "ubuntu_22_04_x64_20G_alibase_20240101.vhd";
  system_image.account_id = kSystemAccountId;
  system_image.status = "Available";
  system_image.creation_time = 0;
  out.push_back(system_image);
  return out;
}

ImageViewOptions Options() {
  ImageViewOptions options;
  options.caller_account_id = kCaller;
  options.encrypted_snapshot_ids = {"s-encrypted000000000001"};
  return options;
}

TEST(ResponseWriterTest, DescribeImagesMatchesTheJsonTreeByteForByte) {
  Page<ImageRecord> page;
  page.items = Images();
  page.total = 10'001;
  for (ResponseFormat format : {ResponseFormat::kJson, ResponseFormat::kXml}) {
    SCOPED_TRACE(format == ResponseFormat::kJson ? "JSON" : "XML");
    const std::string expected =
        LegacyDescribeImagesBody(format, "REQ-\"1\"<&>", "cn-hangzhou", page, 2, 100, Options());
    const std::string written = DescribeImagesBody(format, "REQ-\"1\"<&>", "cn-hangzhou", page, 2, 100, Options());
    EXPECT_EQ(written, expected);
    // Each image alone too, so a difference names the image.
    for (const ImageRecord& image : page.items) {
      Page<ImageRecord> one;
      one.items = {image};
      one.total = 1;
      EXPECT_EQ(DescribeImagesBody(format, "r", "cn-hangzhou", one, 1, 10, Options()),
                LegacyDescribeImagesBody(format, "r", "cn-hangzhou", one, 1, 10, Options()))
          << image.image_id;
    }
  }
}

TEST(ResponseWriterTest, EmptyPageMatchesTheJsonTree) {
  for (ResponseFormat format : {ResponseFormat::kJson, ResponseFormat::kXml}) {
    EXPECT_EQ(DescribeImagesBody(format, "REQ", "r", Page<ImageRecord>{}, 1, 10, ImageViewOptions{}),
              LegacyDescribeImagesBody(format, "REQ", "r", Page<ImageRecord>{}, 1, 10, ImageViewOptions{}));
  }
}

TEST(ResponseWriterTest, ImageViewIsTheWrittenImage) {
  for (const ImageRecord& image : Images()) {
    // The tree compares as a value: invalid UTF-8 is replaced in both.
    EXPECT_EQ(ImageView(image, Options()).dump(-1, ' ', false, json::error_handler_t::replace),
              LegacyImageView(image, Options()).dump(-1, ' ', false, json::error_handler_t::replace))
        << image.image_id;
  }
}

// RequestId goes where nlohmann::json's order puts it: before the first key
// that sorts after it, or last.
TEST(ResponseWriterTest, RequestIdTakesItsSortedPlace) {
  ResponseWriter first(ResponseFormat::kJson, "A", "id");
  first.String("Zebra", "z");
  EXPECT_EQ(std::move(first).Finish(), R"({"RequestId":"id","Zebra":"z"})");

  ResponseWriter last(ResponseFormat::kJson, "A", "id");
  last.Int("Apple", -1);
  last.Bool("Re", false);
  EXPECT_EQ(std::move(last).Finish(), R"({"Apple":-1,"Re":false,"RequestId":"id"})");

  ResponseWriter nested(ResponseFormat::kJson, "A", "id");
  nested.BeginObject("B");
  nested.String("Z", "inner");  // not the top level: no RequestId here
  nested.EndObject();
  nested.BeginList("L");
  nested.EndList();
  EXPECT_EQ(std::move(nested).Finish(), R"({"B":{"Z":"inner"},"L":[],"RequestId":"id"})");

  ResponseWriter xml(ResponseFormat::kXml, "Act", "i<d");
  xml.BeginList("Item");
  xml.BeginItem();
  xml.Uint("N", 18446744073709551615u);
  xml.EndItem();
  xml.BeginItem();
  xml.EndItem();
  xml.EndList();
  xml.BeginObject("Empty");
  xml.EndObject();
  EXPECT_EQ(std::move(xml).Finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ActResponse><RequestId>i&lt;d</RequestId>"
            "<Item><N>18446744073709551615</N></Item><Item></Item><Empty></Empty></ActResponse>");
}

}  // namespace
}  // namespace ferry
