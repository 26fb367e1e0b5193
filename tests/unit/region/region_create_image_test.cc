// RegionImpl's CreateImage from snapshots (region_create_image.cc): one
// system-disk snapshot or DiskDeviceMapping.N (a system disk and data
// disks), checked as ECS documents, and what the image is good for
// afterwards (DescribeImages, instances, DeleteSnapshot, ReplaceSystemDisk).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

class RegionCreateImageTest : public RegionFixture {
 protected:
  void SetUp() override {
    RegionFixture::SetUp();
    if (HasFatalFailure()) return;
    OpenRegion(Config());
    if (HasFatalFailure()) return;
    // A three-disk import (system, data, data): 1, 2 and 3 MiB of data in
    // 16 MiB disks. Its snapshots are the ones the tests combine.
    ImportImageRequest req;
    for (int i = 1; i <= 3; ++i) {
      const std::string object = "disk" + std::to_string(i) + ".raw";
      ASSERT_NO_FATAL_FAILURE(PutRawDisk("alice-in", object, i, static_cast<uint8_t>(0x40 + i)));
      req.disks.push_back(ImportDisk{"alice-in", object, "RAW", 0});
    }
    req.image_name = "three-disks";
    req.platform = "Ubuntu";
    const ImageRecord imported = Image(ImportAndWait(req));
    ASSERT_EQ(imported.disks.size(), 3u);
    system_ = imported.disks[0].snapshot_id;
    data1_ = imported.disks[1].snapshot_id;
    data2_ = imported.disks[2].snapshot_id;
    ASSERT_NO_FATAL_FAILURE(PutRawDisk("bob-in", "bob.raw", 1, 0x41));
    ImportImageRequest bob;
    bob.disks.push_back(ImportDisk{"bob-in", "bob.raw", "RAW", 0});
    const ImageRecord bobs = Image(ImportAndWait(bob, kBob));
    ASSERT_EQ(bobs.disks.size(), 1u);
    bobs_ = bobs.disks[0].snapshot_id;
  }
  static ImageDiskRequest Mapping(int n, const std::string& snapshot_id, const std::string& type = "",
                                  const std::string& device = "", uint64_t size_gib = 0) {
    ImageDiskRequest m;
    m.n = n;
    m.snapshot_id = snapshot_id;
    m.disk_type = type;
    m.device = device;
    m.size_gib = size_gib;
    return m;
  }
  Result<std::string> Create(std::vector<ImageDiskRequest> mappings, const std::string& name = "",
                             const Caller& c = kAlice) {
    CreateImageRequest req;
    req.disk_mappings = std::move(mappings);
    req.image_name = name;
    return region_->CreateImage(c, req);
  }
  std::string Reason(std::vector<ImageDiskRequest> mappings) {
    return Create(std::move(mappings)).status().reason();
  }

  std::string system_, data1_, data2_, bobs_;
};

TEST_F(RegionCreateImageTest, ASystemDiskAndDataDisksFromSnapshots) {
  // Out of N order on purpose: the image lists its system disk first.
  Result<std::string> id =
      Create({Mapping(2, data1_, "", "", 100), Mapping(1, system_), Mapping(3, data2_, "", "/dev/xvdd")},
             "combined");
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  Result<ImageRecord> image = region_->catalog().GetImage(*id);
  ASSERT_TRUE(image.ok());
  EXPECT_EQ(image->status, "Available");
  EXPECT_EQ(image->platform, "Ubuntu");  // from the image the system snapshot came from
  ASSERT_EQ(image->disks.size(), 3u);
  const std::vector<std::tuple<std::string, std::string, std::string, uint64_t>> want = {
      {system_, "system", "/dev/xvda", 1},
      {data1_, "data", "/dev/xvdb", 100},
      {data2_, "data", "/dev/xvdd", 1}};
  for (size_t i = 0; i < want.size(); ++i) {
    const DiskMapping& d = image->disks[i];
    EXPECT_EQ(std::tie(d.snapshot_id, d.type, d.device, d.size_gib), want[i]) << i;
  }
  EXPECT_EQ(image->size_gib, 1u);

  // DescribeImages lists every mapping; finding by a data disk's snapshot works.
  DescribeImagesRequest q;
  q.snapshot_id = data2_;
  Result<Page<ImageRecord>> listed = region_->DescribeImages(kAlice, q);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->total, 2u);  // the import and the new image

  // An instance of it has the three disks, on the image's devices.
  RunInstancesRequest run;
  run.image_id = *id;
  run.instance_type = "ecs.g6.large";
  run.start = false;
  Result<std::vector<std::string>> ids = region_->RunInstances(kAlice, run);
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return region_->catalog().GetInstance((*ids)[0])->status == "Stopped"; }));
  DescribeDisksRequest dq;
  dq.instance_id = (*ids)[0];
  Result<Page<DiskRecord>> disks = region_->DescribeDisks(kAlice, dq);
  ASSERT_TRUE(disks.ok());
  std::map<std::string, DiskRecord> by_device;
  for (const DiskRecord& d : disks->items) by_device[d.device] = d;
  ASSERT_EQ(by_device.size(), 3u);
  EXPECT_EQ(by_device["/dev/xvda"].type, "system");
  EXPECT_EQ(by_device["/dev/xvdb"].source_snapshot_id, data1_);
  EXPECT_EQ(by_device["/dev/xvdb"].size_gib, 100u);
  EXPECT_EQ(by_device["/dev/xvdd"].source_snapshot_id, data2_);
  EXPECT_EQ(by_device["/dev/xvdd"].type, "data");

  // Its data snapshots are used by an image now.
  EXPECT_EQ(region_->DeleteSnapshot(kAlice, data2_, false).reason(), "SnapshotCreatedImage");
  // ECS 4.22: no system disk from an image with data disks.
  ASSERT_TRUE(WaitFor([&] { return region_->catalog().GetInstance((*ids)[0])->status == "Stopped"; }));
  ReplaceSystemDiskRequest replace;
  replace.instance_id = (*ids)[0];
  replace.image_id = *id;
  Result<std::string> replaced = region_->ReplaceSystemDisk(kAlice, replace);
  ASSERT_FALSE(replaced.ok());
  EXPECT_EQ(replaced.status().reason(), "OperationDenied") << replaced.status().ToString();
}

TEST_F(RegionCreateImageTest, DiskTypeDefaultsToTheSnapshotsAndCanBeGiven) {
  // A data disk's snapshot as the system disk and the other way round
  // (DiskType overrides the snapshot's own).
  Result<std::string> swapped = Create({Mapping(1, data1_, "system"), Mapping(2, system_, "data")});
  ASSERT_TRUE(swapped.ok()) << swapped.status().ToString();
  ImageRecord image = *region_->catalog().GetImage(*swapped);
  EXPECT_EQ(std::make_pair(image.disks[0].snapshot_id, image.disks[0].type),
            std::make_pair(data1_, std::string("system")));
  EXPECT_EQ(std::make_pair(image.disks[1].snapshot_id, image.disks[1].device),
            std::make_pair(system_, std::string("/dev/xvdb")));
  // The /dev/vd family, devices assigned in N order around a given one.
  Result<std::string> vd = Create(
      {Mapping(1, system_, "", "/dev/vda"), Mapping(2, data1_, "", ""), Mapping(3, data2_, "", "/dev/vdb")});
  ASSERT_TRUE(vd.ok()) << vd.status().ToString();
  image = *region_->catalog().GetImage(*vd);
  EXPECT_EQ(image.disks[1].device, "/dev/vdc");
  EXPECT_EQ(image.disks[2].device, "/dev/vdb");
  // One SnapshotId is DiskDeviceMapping.1 as the system disk, whatever the
  // snapshot was (as before DiskDeviceMapping.N).
  CreateImageRequest plain;
  plain.snapshot_id = data2_;
  Result<std::string> single = region_->CreateImage(kAlice, plain);
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_EQ(region_->catalog().GetImage(*single)->disks.at(0).type, "system");
}

TEST_F(RegionCreateImageTest, BadMappingsGetTheDocumentedCodes) {
  // Exactly one system disk (OperationDenied; 400 in CreateImage's table).
  EXPECT_EQ(Reason({Mapping(1, data1_), Mapping(2, data2_)}), "OperationDenied");
  EXPECT_EQ(Reason({Mapping(1, system_), Mapping(2, data1_, "system")}), "OperationDenied");
  EXPECT_EQ(Reason({Mapping(1, system_, "boot")}), "InvalidDiskType.ValueNotSupported");
  // Devices.
  EXPECT_EQ(Reason({Mapping(1, system_, "", "/dev/sda")}), "InvalidDevice.Malformed");
  EXPECT_EQ(Reason({Mapping(1, system_, "", "/dev/xvdb")}), "InvalidDevice.Malformed");
  EXPECT_EQ(Reason({Mapping(1, system_), Mapping(2, data1_, "", "/dev/xvda")}), "InvalidDevice.Malformed");
  EXPECT_EQ(
      Reason({Mapping(1, system_), Mapping(2, data1_, "", "/dev/xvdc"), Mapping(3, data2_, "", "/dev/xvdc")}),
      "InvalidDevice.InUse");
  // Sizes: at least the snapshot's (1 GiB here: any size is), at most 32768.
  EXPECT_EQ(Reason({Mapping(1, system_, "", "", 32769)}), "InvalidSize.ValueNotSupported");
  SnapshotRecord big = *region_->catalog().GetSnapshot(data1_);
  big.snapshot_id = "s-bigsnapshot000000000";
  big.source_disk_size_gib = 50;
  ASSERT_TRUE(region_->catalog().InsertSnapshot(big).ok());
  EXPECT_EQ(Reason({Mapping(1, system_), Mapping(2, big.snapshot_id, "", "", 40)}),
            "InvalidSize.ValueNotSupported");
  EXPECT_TRUE(Create({Mapping(1, system_), Mapping(2, big.snapshot_id, "", "", 50)}).ok());
  // Snapshots: the caller's own, accomplished; Ferry makes no empty disk.
  EXPECT_EQ(Reason({Mapping(1, system_), Mapping(2, "")}), "InvalidParameter");
  EXPECT_EQ(Reason({Mapping(1, system_), Mapping(2, bobs_, "data")}), "InvalidSnapshotId.NotFound");
  EXPECT_EQ(Reason({Mapping(1, "s-doesnotexist000000000")}), "InvalidSnapshotId.NotFound");
  SnapshotRecord progressing = big;
  progressing.snapshot_id = "s-progressing000000000";
  progressing.status = "progressing";
  progressing.manifest.clear();
  ASSERT_TRUE(region_->catalog().InsertSnapshot(progressing).ok());
  EXPECT_EQ(Reason({Mapping(1, system_), Mapping(2, progressing.snapshot_id)}), "InvalidSnapshotId.NotReady");
  // Nothing was made by the refused calls (the import and the one above).
  ImageQuery q;
  q.account_id = kAlice.account_id;
  q.include_system = false;
  EXPECT_EQ(region_->catalog().ListImages(q)->total, 2u);
}

TEST_F(RegionCreateImageTest, DryRunAndClientToken) {
  CreateImageRequest req;
  req.disk_mappings = {Mapping(1, system_), Mapping(2, data1_)};
  req.image_name = "tokened";
  req.dry_run = true;
  EXPECT_EQ(region_->CreateImage(kAlice, req).status().reason(), "DryRunOperation");
  req.disk_mappings[1].device = "/dev/xvda";
  EXPECT_EQ(region_->CreateImage(kAlice, req).status().reason(), "InvalidDevice.Malformed");
  req.disk_mappings[1].device = "";
  req.image_name = "three-disks";  // the import's
  EXPECT_EQ(region_->CreateImage(kAlice, req).status().reason(), "InvalidImageName.Duplicated");
  req.image_name = "tokened";
  req.dry_run = false;
  req.client_token = "mapping-token";
  Result<std::string> first = region_->CreateImage(kAlice, req);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*region_->CreateImage(kAlice, req), *first);
  req.disk_mappings[1].size_gib = 20;
  EXPECT_EQ(region_->CreateImage(kAlice, req).status().reason(), "IdempotentParameterMismatch");
}

// ExportImage of an image with data disks writes every disk (ECS 4.12): the
// system disk as the task's OSSObject, each data disk beside it; more than
// four data disks, or one over 500 GiB, is InvalidImage.DiskAmountOrSize.
TEST_F(RegionCreateImageTest, ExportWritesEveryDiskWithinTheDocumentedLimits) {
  Result<std::string> id = Create({Mapping(1, system_), Mapping(2, data2_), Mapping(3, data1_)});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  Result<std::string> task_id = region_->ExportImage(kAlice, ExportImageRequest{*id, "alice-in", "x", "raw"});
  ASSERT_TRUE(task_id.ok()) << task_id.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return region_->catalog().GetTask(*task_id)->status != "Processing"; }));
  const TaskRecord task = *region_->catalog().GetTask(*task_id);
  ASSERT_EQ(task.status, "Finished") << task.error_code << ": " << task.error_message;
  const std::string stem = "x_" + *id + "_" + *task_id;
  auto bytes = [&](const std::string& object) {
    Result<std::string> path = oss_->PathForRead(kAlice.account_id, "alice-in", object);
    EXPECT_TRUE(path.ok()) << object << ": " << path.status().ToString();
    Result<std::string> text = path.ok() ? ReadFileToString(*path) : Result<std::string>(path.status());
    return text.ok() ? *text : std::string();
  };
  // disk1.raw was the system disk, disk3.raw and disk2.raw the data disks in
  // the order they were given.
  EXPECT_EQ(bytes(stem + ".raw"), bytes("disk1.raw"));
  EXPECT_EQ(bytes(stem + "_data1.raw"), bytes("disk3.raw"));
  EXPECT_EQ(bytes(stem + "_data2.raw"), bytes("disk2.raw"));
  EXPECT_EQ(bytes(stem + ".raw").size(), 16 * kMiB);
  const nlohmann::json params = nlohmann::json::parse(task.params);
  EXPECT_EQ(params["DataDiskOSSObjects"], nlohmann::json::array({stem + "_data1.raw", stem + "_data2.raw"}));

  auto export_reason = [&](const std::string& image_id) {
    return region_->ExportImage(kAlice, ExportImageRequest{image_id, "alice-in", "y", "raw"})
        .status()
        .reason();
  };
  Result<std::string> five = Create({Mapping(1, system_), Mapping(2, data1_), Mapping(3, data2_),
                                     Mapping(4, data1_), Mapping(5, data2_), Mapping(6, data1_)});
  ASSERT_TRUE(five.ok()) << five.status().ToString();
  EXPECT_EQ(export_reason(*five), "InvalidImage.DiskAmountOrSize");
  Result<std::string> large = Create({Mapping(1, system_), Mapping(2, data1_, "", "", 501)});
  ASSERT_TRUE(large.ok()) << large.status().ToString();
  EXPECT_EQ(export_reason(*large), "InvalidImage.DiskAmountOrSize");
  Result<std::string> four = Create({Mapping(1, system_), Mapping(2, data1_), Mapping(3, data2_),
                                     Mapping(4, data1_), Mapping(5, data2_, "", "", 500)});
  ASSERT_TRUE(four.ok()) << four.status().ToString();
  Result<std::string> ok = region_->ExportImage(kAlice, ExportImageRequest{*four, "alice-in", "z", "qcow2"});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_TRUE(WaitFor([&] { return region_->catalog().GetTask(*ok)->status != "Processing"; }));
  EXPECT_EQ(region_->catalog().GetTask(*ok)->status, "Finished")
      << region_->catalog().GetTask(*ok)->error_message;
  for (int i = 1; i <= 4; ++i) {
    EXPECT_TRUE(oss_->PathForRead(kAlice.account_id, "alice-in",
                                  "z_" + *four + "_" + *ok + "_data" + std::to_string(i) + ".qcow2")
                    .ok())
        << i;
  }
}

}  // namespace
}  // namespace ferry
