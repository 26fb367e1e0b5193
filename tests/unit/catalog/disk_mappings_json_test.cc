#include "catalog/disk_mappings_json.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace ferry::catalog_sql {
namespace {

void ExpectSameDisks(const std::vector<DiskMapping>& a, const std::vector<DiskMapping>& b, const std::string& text) {
  ASSERT_EQ(a.size(), b.size()) << text;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].snapshot_id, b[i].snapshot_id) << text;
    EXPECT_EQ(a[i].size_gib, b[i].size_gib) << text;
    EXPECT_EQ(a[i].device, b[i].device) << text;
    EXPECT_EQ(a[i].type, b[i].type) << text;
    EXPECT_EQ(a[i].format, b[i].format) << text;
    EXPECT_EQ(a[i].import_bucket, b[i].import_bucket) << text;
    EXPECT_EQ(a[i].import_object, b[i].import_object) << text;
    EXPECT_EQ(a[i].detected_format, b[i].detected_format) << text;
    EXPECT_EQ(a[i].detected_content, b[i].detected_content) << text;
  }
}

// The decoder and the general parser agree on `text`: the same mappings, or
// both refuse it as kDataLoss.
void ExpectDecodersAgree(const std::string& text) {
  Result<std::vector<DiskMapping>> fast = DecodeDiskMappings(text, "m-x");
  Result<std::vector<DiskMapping>> parsed = DecodeDiskMappingsWithParser(text, "m-x");
  ASSERT_EQ(fast.ok(), parsed.ok()) << text;
  if (!fast.ok()) {
    EXPECT_EQ(fast.status().code(), Code::kDataLoss) << text;
    EXPECT_EQ(fast.status().ToString(), parsed.status().ToString()) << text;
    return;
  }
  ExpectSameDisks(*fast, *parsed, text);
}

DiskMapping ImportedDisk() {
  DiskMapping d;
  d.snapshot_id = "s-sys";
  d.size_gib = 40;
  d.format = "QCOW2";
  d.import_bucket = "bucket";
  d.import_object = "dir/disk.qcow2";
  d.detected_format = "qcow2";
  d.detected_content = "gpt: ext4, vfat";
  return d;
}

TEST(DiskMappingsJsonTest, EncodesTheSameBytesAsEver) {
  DiskMapping data;
  data.snapshot_id = "s-data";
  data.size_gib = 100;
  data.device = "/dev/xvdb";
  data.type = "data";
  Result<std::string> text = EncodeDiskMappings({ImportedDisk(), data}, "m-x");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(*text,
            R"([{"detected_content":"gpt: ext4, vfat","detected_format":"qcow2","device":"/dev/xvda",)"
            R"("format":"QCOW2","import_bucket":"bucket","import_object":"dir/disk.qcow2","size_gib":40,)"
            R"("snapshot_id":"s-sys","type":"system"},{"detected_content":"","detected_format":"",)"
            R"("device":"/dev/xvdb","format":"","import_bucket":"","import_object":"","size_gib":100,)"
            R"("snapshot_id":"s-data","type":"data"}])");
  Result<std::vector<DiskMapping>> back = DecodeDiskMappings(*text, "m-x");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameDisks(*back, {ImportedDisk(), data}, *text);
}

TEST(DiskMappingsJsonTest, RoundTripsStringsThatNeedEscapesAndEveryNumber) {
  DiskMapping odd = ImportedDisk();
  odd.import_object = "dir/\"quoted\" back\\slash\ttab\x01 ctl";
  odd.detected_content = "gpt: ext4 \xc3\xa9t\xc3\xa9 \xe2\x82\xac";  // non-ASCII UTF-8
  odd.size_gib = std::numeric_limits<uint64_t>::max();
  DiskMapping zero;
  zero.snapshot_id = "";
  zero.size_gib = 0;
  for (const std::vector<DiskMapping>& disks :
       {std::vector<DiskMapping>{}, std::vector<DiskMapping>{odd}, std::vector<DiskMapping>{zero, odd}}) {
    Result<std::string> text = EncodeDiskMappings(disks, "m-x");
    ASSERT_TRUE(text.ok()) << text.status().ToString();
    Result<std::vector<DiskMapping>> back = DecodeDiskMappings(*text, "m-x");
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    ExpectSameDisks(*back, disks, *text);
    ExpectDecodersAgree(*text);
  }
}

TEST(DiskMappingsJsonTest, RefusesStringsThatAreNotUtf8) {
  DiskMapping bad = ImportedDisk();
  bad.import_object = "\xff\xfe";
  Result<std::string> text = EncodeDiskMappings({bad}, "m-x");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), Code::kInvalidArgument);
  EXPECT_NE(text.status().message().find("disk mappings of image m-x cannot be stored"), std::string::npos)
      << text.status().ToString();
}

TEST(DiskMappingsJsonTest, AgreesWithTheParserOnTextInAnyShape) {
  const std::string rest =
      R"("device":"/dev/xvda","format":"RAW","import_bucket":"b","import_object":"o","size_gib":40,)"
      R"("snapshot_id":"s-1","type":"system"})";
  const std::vector<std::string> texts = {
      "[]",
      "[" "{" + rest + "]",                                                      // before detected_* existed
      R"([{"detected_content":"x","detected_format":"raw",)" + rest + "]",     // the encoder's shape
      R"([{"detected_format":"raw",)" + rest + "," + "{" + rest + "]",           // one detected_* only, two disks
      R"([{"detected_content":"caf\u00e9",)" + rest + "]",                     // an escape
      "[{\"detected_content\":\"caf\xc3\xa9\"," + rest + "]",                   // non-ASCII
      "[{\"detected_content\":\"\xff\"," + rest + "]",                          // not UTF-8
      "[ {" + rest + " ]",                                                       // whitespace
      R"([{"type":"system","device":"/dev/xvda","format":"RAW","import_bucket":"b","import_object":"o",)"
      R"("size_gib":40,"snapshot_id":"s-1"}])",                                  // members out of order
      R"([{"extra":1,)" + rest + "]",                                           // a member it does not know
      R"([{"device":"/dev/xvda","format":"RAW","import_bucket":"b","import_object":"o","size_gib":40,)"
      R"("type":"system"}])",                                                    // snapshot_id missing
      R"([{"device":"/dev/xvda","format":"RAW","import_bucket":"b","import_object":"o","size_gib":"40",)"
      R"("snapshot_id":"s-1","type":"system"}])",                                // size as a string
      R"([{"device":"/dev/xvda","format":"RAW","import_bucket":"b","import_object":"o","size_gib":-40,)"
      R"("snapshot_id":"s-1","type":"system"}])",                                // negative
      R"([{"device":"/dev/xvda","format":"RAW","import_bucket":"b","import_object":"o","size_gib":040,)"
      R"("snapshot_id":"s-1","type":"system"}])",                                // leading zero
      R"([{"device":"/dev/xvda","format":"RAW","import_bucket":"b","import_object":"o",)"
      R"("size_gib":18446744073709551615,"snapshot_id":"s-1","type":"system"}])",  // 2^64 - 1: 20 digits
      R"([{"device":"/dev/xvda","format":"RAW","import_bucket":"b","import_object":"o",)"
      R"("size_gib":9999999999999999999,"snapshot_id":"s-1","type":"system"}])",   // 19 digits
      R"([{"device":"/dev/xvda","format":"RAW","import_bucket":"b","import_object":"o","size_gib":4e1,)"
      R"("snapshot_id":"s-1","type":"system"}])",                                // exponent
      R"([{"device":7,"format":"RAW","import_bucket":"b","import_object":"o","size_gib":40,)"
      R"("snapshot_id":"s-1","type":"system"}])",                                // a number for a string
      "[{" + rest + "] trailing",
      "[{" + rest,                                                               // truncated
      "[{" + rest + ",]",
      "",
      "{}",
      "null",
      "[{}]",
  };
  for (const std::string& text : texts) ExpectDecodersAgree(text);
}

}  // namespace
}  // namespace ferry::catalog_sql
