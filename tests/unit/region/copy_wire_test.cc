#include "region/copy_wire.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ferry {
namespace {

using Json = nlohmann::json;

// Every field set, each to a value no default has.
CopyTarget FullTarget() {
  CopyTarget t;
  t.image_id = "m-copy0000000000001";
  t.account_id = "1234567890123456";
  t.source_region_id = "cn-hangzhou";
  ImageRecord& i = t.source_image;
  i.image_id = "m-source000000000001";
  i.account_id = "1234567890123456";
  i.name = "web-2024";
  i.description = "Web tier, 中文 description";
  i.status = "Available";
  i.progress = 100;
  i.os_type = "windows";
  i.os_name = "Windows Server 2019";
  i.platform = "Windows Server 2019";
  i.architecture = "arm64";
  i.boot_mode = "UEFI";
  i.image_family = "web";
  i.image_version = "7";
  i.license_type = "BYOL";
  i.resource_group_id = "rg-1";
  i.size_gib = 600;
  i.disks = {DiskMapping{"s-sys", 40, "/dev/xvda", "system", "QCOW2", "bucket-a", "sys.qcow2"},
             DiskMapping{"s-data", 560, "/dev/xvdb", "data", "RAW", "bucket-b", "data.raw"}};
  i.tags = {{"team", "web"}, {"env", ""}};
  i.is_copied = true;
  i.source_region_id = "cn-shanghai";
  i.source_image_id = "m-older";
  i.failure_reason = "none";
  i.creation_time = 1700000123;
  i.remain_time_seconds = 42;
  i.queue_position = 3;
  for (int n = 0; n < 2; ++n) {
    SnapshotRecord s;
    s.snapshot_id = n == 0 ? "s-sys" : "s-data";
    s.account_id = "1234567890123456";
    s.name = "snap-" + std::to_string(n);
    s.description = "disk " + std::to_string(n);
    s.status = "accomplished";
    s.progress = 99;
    s.logical_size = (40ull << 30) + static_cast<uint64_t>(n);
    s.source_disk_size_gib = 40 + static_cast<uint64_t>(n);
    s.source_disk_type = n == 0 ? "system" : "data";
    s.usage = "disk";
    s.encrypted = true;
    s.kms_key_id = "key-" + std::to_string(n);
    s.source_region_id = "cn-shanghai";
    s.source_snapshot_id = "s-older-" + std::to_string(n);
    s.content_digest = std::string(64, static_cast<char>('a' + n));
    if (n == 0) s.manifest = {1, 2, 3, 0, 255};  // the other has none: the field is left out
    s.tags = {{"disk", std::to_string(n)}};
    s.creation_time = 1700000000 + n;
    s.last_modified_time = 1700000500 + n;
    t.source_snapshots.push_back(s);
  }
  t.image_name = "web-2024-copy";
  t.description = "a copy";
  t.tags = {{"copied", "yes"}};
  t.client_token = "token-1";
  t.dry_run = true;
  return t;
}

TEST(CopyWireTest, EveryFieldRoundTripsAManifestOnlyWhereThereIsOne) {
  const CopyTarget in = FullTarget();
  const std::string json = EncodeCopyTarget(in);
  Json parsed = Json::parse(json);
  EXPECT_EQ(parsed["SourceSnapshots"][0]["Manifest"], "AQIDAP8=");
  EXPECT_FALSE(parsed["SourceSnapshots"][1].contains("Manifest")) << json;
  Result<CopyTarget> decoded = DecodeCopyTarget(json);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  const CopyTarget& out = *decoded;

  EXPECT_EQ(out.image_id, in.image_id);
  EXPECT_EQ(out.account_id, in.account_id);
  EXPECT_EQ(out.source_region_id, in.source_region_id);
  EXPECT_EQ(out.image_name, in.image_name);
  EXPECT_EQ(out.description, in.description);
  EXPECT_EQ(out.tags, in.tags);
  EXPECT_EQ(out.client_token, in.client_token);
  EXPECT_EQ(out.dry_run, in.dry_run);

  const ImageRecord& a = in.source_image;
  const ImageRecord& b = out.source_image;
  EXPECT_EQ(b.image_id, a.image_id);
  EXPECT_EQ(b.account_id, a.account_id);
  EXPECT_EQ(b.name, a.name);
  EXPECT_EQ(b.description, a.description);
  EXPECT_EQ(b.status, a.status);
  EXPECT_EQ(b.progress, a.progress);
  EXPECT_EQ(b.os_type, a.os_type);
  EXPECT_EQ(b.os_name, a.os_name);
  EXPECT_EQ(b.platform, a.platform);
  EXPECT_EQ(b.architecture, a.architecture);
  EXPECT_EQ(b.boot_mode, a.boot_mode);
  EXPECT_EQ(b.image_family, a.image_family);
  EXPECT_EQ(b.image_version, a.image_version);
  EXPECT_EQ(b.license_type, a.license_type);
  EXPECT_EQ(b.resource_group_id, a.resource_group_id);
  EXPECT_EQ(b.size_gib, a.size_gib);
  ASSERT_EQ(b.disks.size(), a.disks.size());
  for (size_t n = 0; n < a.disks.size(); ++n) {
    EXPECT_EQ(b.disks[n].snapshot_id, a.disks[n].snapshot_id);
    EXPECT_EQ(b.disks[n].size_gib, a.disks[n].size_gib);
    EXPECT_EQ(b.disks[n].device, a.disks[n].device);
    EXPECT_EQ(b.disks[n].type, a.disks[n].type);
    EXPECT_EQ(b.disks[n].format, a.disks[n].format);
    EXPECT_EQ(b.disks[n].import_bucket, a.disks[n].import_bucket);
    EXPECT_EQ(b.disks[n].import_object, a.disks[n].import_object);
  }
  EXPECT_EQ(b.tags, a.tags);
  EXPECT_EQ(b.is_copied, a.is_copied);
  EXPECT_EQ(b.source_region_id, a.source_region_id);
  EXPECT_EQ(b.source_image_id, a.source_image_id);
  EXPECT_EQ(b.failure_reason, a.failure_reason);
  EXPECT_EQ(b.creation_time, a.creation_time);
  EXPECT_EQ(b.remain_time_seconds, a.remain_time_seconds);
  EXPECT_EQ(b.queue_position, a.queue_position);

  ASSERT_EQ(out.source_snapshots.size(), in.source_snapshots.size());
  for (size_t n = 0; n < in.source_snapshots.size(); ++n) {
    const SnapshotRecord& x = in.source_snapshots[n];
    const SnapshotRecord& y = out.source_snapshots[n];
    EXPECT_EQ(y.snapshot_id, x.snapshot_id);
    EXPECT_EQ(y.account_id, x.account_id);
    EXPECT_EQ(y.name, x.name);
    EXPECT_EQ(y.description, x.description);
    EXPECT_EQ(y.status, x.status);
    EXPECT_EQ(y.progress, x.progress);
    EXPECT_EQ(y.logical_size, x.logical_size);
    EXPECT_EQ(y.source_disk_size_gib, x.source_disk_size_gib);
    EXPECT_EQ(y.source_disk_type, x.source_disk_type);
    EXPECT_EQ(y.usage, x.usage);
    EXPECT_EQ(y.encrypted, x.encrypted);
    EXPECT_EQ(y.kms_key_id, x.kms_key_id);
    EXPECT_EQ(y.source_region_id, x.source_region_id);
    EXPECT_EQ(y.source_snapshot_id, x.source_snapshot_id);
    EXPECT_EQ(y.content_digest, x.content_digest);
    EXPECT_EQ(y.manifest, x.manifest);
    EXPECT_EQ(y.tags, x.tags);
    EXPECT_EQ(y.creation_time, x.creation_time);
    EXPECT_EQ(y.last_modified_time, x.last_modified_time);
  }
  // Stable: decoding and encoding again gives the same bytes.
  EXPECT_EQ(EncodeCopyTarget(out), json);
}

TEST(CopyWireTest, DefaultsAndLargeNumbersRoundTrip) {
  CopyTarget in;
  in.source_image.size_gib = ~0ull;
  in.source_image.creation_time = -5;
  Result<CopyTarget> out = DecodeCopyTarget(EncodeCopyTarget(in));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(out->source_image.size_gib, ~0ull);
  EXPECT_EQ(out->source_image.creation_time, -5);
  EXPECT_EQ(out->source_image.os_type, "linux");
  EXPECT_TRUE(out->source_snapshots.empty());
  EXPECT_FALSE(out->dry_run);
}

// Decodes `mutate(FullTarget())` and expects InvalidParameter naming `field`.
void ExpectRefused(const std::function<void(Json&)>& mutate, const std::string& field) {
  Json j = Json::parse(EncodeCopyTarget(FullTarget()));
  mutate(j);
  Result<CopyTarget> r = DecodeCopyTarget(j.dump());
  ASSERT_FALSE(r.ok()) << field;
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << field;
  EXPECT_EQ(r.status().reason(), "InvalidParameter") << field;
  EXPECT_NE(r.status().message().find("\"" + field + "\""), std::string::npos) << r.status().message();
}

TEST(CopyWireTest, MissingUnknownOrMistypedFieldsAreNamed) {
  // Every top-level field is required.
  for (const char* key : {"ImageId", "AccountId", "SourceRegionId", "SourceImage", "SourceSnapshots",
                          "ImageName", "Description", "Tags", "ClientToken", "DryRun"}) {
    ExpectRefused([key](Json& j) { j.erase(key); }, key);
  }
  ExpectRefused([](Json& j) { j["SourceImage"].erase("BootMode"); }, "SourceImage.BootMode");
  ExpectRefused([](Json& j) { j["SourceImage"]["Disks"][1].erase("SizeGiB"); }, "SourceImage.Disks[1].SizeGiB");
  ExpectRefused([](Json& j) { j["SourceSnapshots"][0].erase("Encrypted"); }, "SourceSnapshots[0].Encrypted");
  ExpectRefused([](Json& j) { j["Tags"][0].erase("Value"); }, "Tags[0].Value");

  ExpectRefused([](Json& j) { j["Encrypted"] = true; }, "Encrypted");
  ExpectRefused([](Json& j) { j["SourceImage"]["Shared"] = false; }, "SourceImage.Shared");
  ExpectRefused([](Json& j) { j["SourceSnapshots"][1]["Manifest"] = "not base64"; }, "SourceSnapshots[1].Manifest");
  ExpectRefused([](Json& j) { j["SourceSnapshots"][0]["Manifest"] = "AQIDAP9="; }, "SourceSnapshots[0].Manifest");
  ExpectRefused([](Json& j) { j["SourceSnapshots"][0]["Manifest"] = 7; }, "SourceSnapshots[0].Manifest");

  ExpectRefused([](Json& j) { j["DryRun"] = "true"; }, "DryRun");
  ExpectRefused([](Json& j) { j["ImageName"] = 7; }, "ImageName");
  ExpectRefused([](Json& j) { j["SourceImage"]["SizeGiB"] = -1; }, "SourceImage.SizeGiB");
  ExpectRefused([](Json& j) { j["SourceImage"]["SizeGiB"] = 1.5; }, "SourceImage.SizeGiB");
  ExpectRefused([](Json& j) { j["SourceImage"]["Progress"] = 1ll << 40; }, "SourceImage.Progress");
  ExpectRefused([](Json& j) { j["SourceImage"]["CreationTime"] = ~0ull; }, "SourceImage.CreationTime");
  ExpectRefused([](Json& j) { j["SourceImage"]["Disks"] = Json::object(); }, "SourceImage.Disks");
  ExpectRefused([](Json& j) { j["SourceSnapshots"][0] = "s-sys"; }, "SourceSnapshots[0]");
  ExpectRefused([](Json& j) { j["SourceImage"] = Json::array(); }, "SourceImage");
}

TEST(CopyWireTest, ABodyThatIsNotAJsonObjectIsRefused) {
  for (const char* body : {"", "not json", "[]", "\"m-1\"", "{\"ImageId\":", "null"}) {
    Result<CopyTarget> r = DecodeCopyTarget(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << body;
    EXPECT_EQ(r.status().reason(), "InvalidParameter") << body;
  }
}

}  // namespace
}  // namespace ferry
