// RegionImpl's instances and disks (region_instances.cc, region_disks.cc)
// against the real catalog, chunk store and DiskStore in a scratch
// directory, with qemu-img as installed on the machine.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

class RegionInstancesTest : public RegionFixture {
 protected:
  void SetUp() override { SetUpWithBaseImage("", SlowerInstances); }
  // Instances take 50 ms per transition.
  static void SlowerInstances(RegionConfig& c) { c.instance_transition_ms = 50; }
  // Reopens the region.
  void Open() {
    RegionConfig c = Config();
    SlowerInstances(c);
    OpenRegion(c);
  }
  std::vector<std::string> Files(const std::string& sub) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_ + "/region/disks/" + sub))
      out.push_back(e.path().filename().string());
    return out;
  }
  std::string ReadRange(const std::string& path, uint64_t offset, size_t length) {
    std::string out(length, '\0');
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(fd.valid());
    EXPECT_EQ(::pread(fd.get(), out.data(), length, static_cast<off_t>(offset)), static_cast<ssize_t>(length));
    return out;
  }
};

TEST_F(RegionInstancesTest, RunInstancesMakesOneBaseAndOneOverlayPerInstance) {
  RunInstancesRequest r = Run(3);
  r.user_data = "IyEvYmluL3NoCmVjaG8gaGk=";
  r.ram_role_name = "EcsRole";
  std::vector<std::string> ids = RunAndWait(r);
  ASSERT_EQ(ids.size(), 3u);
  for (const std::string& id : ids) EXPECT_TRUE(LooksLikeResourceId(id, "i")) << id;
  EXPECT_EQ(Files("bases").size(), 1u);
  EXPECT_EQ(Files("disks").size(), 3u);

  DiskRecord d = SystemDisk(ids[0]);
  EXPECT_TRUE(LooksLikeResourceId(d.disk_id, "d"));
  EXPECT_EQ(d.image_id, image_id_);
  EXPECT_EQ(d.source_snapshot_id, region_->catalog().GetImage(image_id_)->disks[0].snapshot_id);
  EXPECT_EQ(d.size_gib, 20u);
  EXPECT_EQ(d.status, "In_use");
  EXPECT_EQ(d.category, "cloud_essd");
  Result<InstanceRecord> inst = region_->catalog().GetInstance(ids[0]);
  EXPECT_EQ(inst->user_data, r.user_data);
  EXPECT_EQ(inst->ram_role_name, "EcsRole");
  EXPECT_NE(inst->start_time, 0);

  // The overlay reads as the image over its base.
  const std::string out = dir_ + "/export.raw";
  ASSERT_TRUE(region_->disk_store().ExportRaw(d.disk_id, out).ok());
  EXPECT_EQ(ReadRange(out, 0, 4096), std::string(4096, '\x5a'));
  EXPECT_EQ(ReadRange(out, 2 * kMiB, 4096), std::string(4096, '\0'));

  // Filters and paging.
  DescribeInstancesRequest q;
  q.page_size = 2;
  EXPECT_EQ(region_->DescribeInstances(kAlice, q)->items.size(), 2u);
  EXPECT_EQ(region_->DescribeInstances(kAlice, q)->total, 3u);
  q.status = "Stopped";
  EXPECT_EQ(region_->DescribeInstances(kAlice, q)->total, 0u);
  q.status = "Bogus";
  EXPECT_EQ(region_->DescribeInstances(kAlice, q).status().reason(), "InvalidParameter");
}

TEST_F(RegionInstancesTest, StatesFollowTheDocumentedTransitions) {
  RunInstancesRequest create = Run(1);
  create.start = false;
  std::string id = RunAndWait(create).at(0);  // CreateInstance: Stopped
  EXPECT_EQ(region_->StopInstance(kAlice, id, false).reason(), "IncorrectInstanceStatus");
  EXPECT_EQ(region_->StartInstance(kAlice, id, true).reason(), "DryRunOperation");
  EXPECT_EQ(StatusOf(id), "Stopped");
  ASSERT_TRUE(region_->StartInstance(kAlice, id, false).ok());
  EXPECT_EQ(StatusOf(id), "Starting");
  ASSERT_TRUE(WaitStatus(id, "Running"));
  ASSERT_TRUE(region_->RebootInstance(kAlice, id, false).ok());
  EXPECT_EQ(StatusOf(id), "Starting");
  ASSERT_TRUE(WaitStatus(id, "Running"));
  EXPECT_EQ(region_->DeleteInstance(kAlice, id, false, false).reason(), "IncorrectInstanceStatus");
  ASSERT_TRUE(region_->StopInstance(kAlice, id, false).ok());
  EXPECT_EQ(StatusOf(id), "Stopping");
  ASSERT_TRUE(WaitStatus(id, "Stopped"));
  EXPECT_EQ(region_->StartInstance(kBob, id, false).reason(), "InvalidInstanceId.NotFound");
  ASSERT_TRUE(region_->DeleteInstance(kAlice, id, false, false).ok());
  EXPECT_EQ(StatusOf(id), "");
}

TEST_F(RegionInstancesTest, DeletingTheLastInstanceOfAnImageFreesItsBase) {
  std::vector<std::string> ids = RunAndWait(Run(2));
  // The image goes while instances use it only with Force; their disks
  // keep working.
  Status in_use = region_->DeleteImage(kAlice, image_id_, false);
  EXPECT_EQ(in_use.reason(), "ImageUsingByInstance") << in_use.ToString();
  EXPECT_EQ(in_use.code(), Code::kPermissionDenied);
  ASSERT_TRUE(region_->DeleteImage(kAlice, image_id_, true).ok());
  ASSERT_TRUE(region_->DeleteInstance(kAlice, ids[0], true, false).ok());
  EXPECT_EQ(Files("bases").size(), 1u);
  EXPECT_EQ(Files("disks").size(), 1u);
  GcStats gc;
  ASSERT_TRUE(region_->CollectGarbage(&gc).ok());
  EXPECT_EQ(Files("bases").size(), 1u);  // a disk still needs it
  const std::string out = dir_ + "/after.raw";
  ASSERT_TRUE(region_->disk_store().ExportRaw(SystemDisk(ids[1]).disk_id, out).ok());
  EXPECT_EQ(ReadRange(out, 0, 4096), std::string(4096, '\x5a'));
  ASSERT_TRUE(region_->DeleteInstance(kAlice, ids[1], true, false).ok());
  EXPECT_TRUE(Files("bases").empty());
  EXPECT_TRUE(Files("disks").empty());
  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  EXPECT_TRUE(report.problems.empty()) << report.problems[0];
}

TEST_F(RegionInstancesTest, BadInputGetsTheDocumentedCodes) {
  auto code = [&](RunInstancesRequest r) { return region_->RunInstances(kAlice, r).status().reason(); };
  RunInstancesRequest r = Run(1);
  r.image_id = "";
  EXPECT_EQ(code(r), "MissingParameter");
  r = Run(1);
  r.instance_type = "";
  EXPECT_EQ(code(r), "MissingParameter");
  r = Run(1);
  r.instance_type = "m5.large";
  EXPECT_EQ(code(r), "InvalidInstanceType.ValueNotSupported");
  r = Run(101);
  EXPECT_EQ(code(r), "InvalidParameter");
  r = Run(1);
  r.image_id = "m-doesnotexist00000000";
  EXPECT_EQ(code(r), "InvalidImageId.NotFound");
  r = Run(1);
  r.system_disk_size_gib = 501;
  EXPECT_EQ(code(r), "InvalidSystemDiskSize.MoreThanMaxSize");
  r.system_disk_size_gib = 10;
  EXPECT_EQ(code(r), "InvalidSystemDiskSize.ValueNotSupported");
  r = Run(1);
  r.user_data = "not base64!";
  EXPECT_EQ(code(r), "InvalidUserData.Base64FormatInvalid");
  r.user_data = std::string(32 * 1024 + 4, 'A');
  EXPECT_EQ(code(r), "InvalidUserData.SizeExceeded");
  r = Run(1);
  r.instance_name = "1bad";
  EXPECT_EQ(code(r), "InvalidInstanceName.Malformed");
  r = Run(1);
  r.dry_run = true;
  EXPECT_EQ(code(r), "DryRunOperation");
  EXPECT_EQ(region_->DescribeInstances(kAlice, {})->total, 0u);  // a dry run creates nothing
  // Another account's image is as missing as one that never existed.
  EXPECT_EQ(region_->RunInstances(kBob, Run(1)).status().reason(), "InvalidImageId.NotFound");
  // A Deprecated image cannot be shared or copied but still launches
  // instances (ecs-api.md, image statuses).
  ASSERT_TRUE(region_->ModifyImageAttribute(kAlice, {image_id_, {}, {}, std::string("Deprecated")}).ok());
  EXPECT_TRUE(region_->RunInstances(kAlice, Run(1)).ok());
}

// Tag.N given at launch are the instance's (DescribeInstances lists and
// filters by them); InstanceChargeType PrePaid is kept with the end of its
// Period; bad values get the documented codes, and nothing is launched.
TEST_F(RegionInstancesTest, TagsAndChargeTypeAreKeptAndChecked) {
  RunInstancesRequest r = Run(2);
  r.start = false;
  r.tags = {{"team", "infra"}, {"env", ""}};
  const std::vector<std::string> tagged = RunAndWait(r);
  ASSERT_EQ(tagged.size(), 2u);
  RunInstancesRequest other = Run(1);
  other.start = false;
  other.tags = {{"team", "web"}};
  other.instance_charge_type = "PrePaid";
  other.period = 1;
  const std::vector<std::string> prepaid = RunAndWait(other);
  ASSERT_EQ(prepaid.size(), 1u);

  Result<InstanceRecord> got = region_->catalog().GetInstance(tagged[0]);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->tags, r.tags);
  EXPECT_EQ(got->instance_charge_type, "PostPaid");
  EXPECT_EQ(got->expired_time, 0);
  Result<InstanceRecord> sub = region_->catalog().GetInstance(prepaid[0]);
  ASSERT_TRUE(sub.ok());
  EXPECT_EQ(sub->instance_charge_type, "PrePaid");
  // One calendar month after its creation (28 to 31 days).
  EXPECT_GE(sub->expired_time - sub->creation_time, 28 * 86400);
  EXPECT_LE(sub->expired_time - sub->creation_time, 31 * 86400);

  auto listed = [&](Tags tags) {
    DescribeInstancesRequest q;
    q.tags = std::move(tags);
    Result<Page<InstanceRecord>> page = region_->DescribeInstances(kAlice, q);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->total : 0u;
  };
  EXPECT_EQ(listed({{"team", ""}}), 3u);
  EXPECT_EQ(listed({{"team", "infra"}}), 2u);
  EXPECT_EQ(listed({{"team", "web"}}), 1u);
  EXPECT_EQ(listed({{"team", "infra"}, {"env", ""}}), 2u);
  EXPECT_EQ(listed({{"owner", ""}}), 0u);

  auto code = [&](RunInstancesRequest bad) { return region_->RunInstances(kAlice, bad).status().reason(); };
  RunInstancesRequest bad = Run(1);
  for (int i = 0; i < 21; ++i) bad.tags.push_back({"k" + std::to_string(i), "v"});
  EXPECT_EQ(code(bad), "InvalidTagCount");
  bad = Run(1);
  bad.tags = {{"aliyun-reserved", "v"}};
  EXPECT_EQ(code(bad), "InvalidTagKey.Malformed");
  bad.tags = {{"k", "acs:reserved"}};
  EXPECT_EQ(code(bad), "InvalidTagValue.Malformed");
  bad = Run(1);
  bad.instance_charge_type = "Spot";
  EXPECT_EQ(code(bad), "InvalidInstanceChargeType.NotFound");
  bad.instance_charge_type = "PrePaid";
  EXPECT_EQ(code(bad), "MissingParamter");  // no Period
  bad.period = 10;
  EXPECT_EQ(code(bad), "InvalidPeriod");
  bad.period = 2;
  bad.period_unit = "Week";
  bad.dry_run = true;
  EXPECT_EQ(code(bad), "DryRunOperation");
  bad.period = 5;
  EXPECT_EQ(code(bad), "InvalidPeriod");
  bad.period_unit = "Year";
  bad.period = 1;
  EXPECT_EQ(code(bad), "InvalidPeriod");
  // PostPaid ignores Period, as ECS documents.
  RunInstancesRequest ignored = Run(1);
  ignored.period = 999;
  ignored.dry_run = true;
  EXPECT_EQ(code(ignored), "DryRunOperation");
  EXPECT_EQ(region_->DescribeInstances(kAlice, {})->total, 3u);

  // A ClientToken covers the tags: the same tags replay, others do not.
  RunInstancesRequest once = Run(1);
  once.client_token = "tagged-token";
  once.tags = {{"a", "1"}};
  Result<std::vector<std::string>> first = region_->RunInstances(kAlice, once);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*region_->RunInstances(kAlice, once), *first);
  once.tags = {{"a", "2"}};
  EXPECT_EQ(code(once), "IdempotentParameterMismatch");
}

TEST_F(RegionInstancesTest, ClientTokenReturnsTheSameInstances) {
  RunInstancesRequest r = Run(2);
  r.client_token = "token-1";
  Result<std::vector<std::string>> first = region_->RunInstances(kAlice, r);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Result<std::vector<std::string>> again = region_->RunInstances(kAlice, r);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
  EXPECT_EQ(region_->DescribeInstances(kAlice, {})->total, 2u);
  r.amount = 3;
  EXPECT_EQ(region_->RunInstances(kAlice, r).status().reason(), "IdempotentParameterMismatch");
}

TEST_F(RegionInstancesTest, ReplaceSystemDiskNeedsStoppedAndReleasesTheOldDisk) {
  std::string id = RunAndWait(Run(1)).at(0);
  const std::string old_disk = SystemDisk(id).disk_id;
  ReplaceSystemDiskRequest r{id, image_id_, 30, ""};
  EXPECT_EQ(region_->ReplaceSystemDisk(kAlice, r).status().reason(), "IncorrectInstanceStatus");
  ASSERT_TRUE(region_->StopInstance(kAlice, id, false).ok());
  ASSERT_TRUE(WaitStatus(id, "Stopped"));
  r.system_disk_size_gib = 501;
  EXPECT_EQ(region_->ReplaceSystemDisk(kAlice, r).status().reason(), "InvalidSystemDiskSize.MoreThanMaxSize");
  r.system_disk_size_gib = 30;
  Result<std::string> fresh = region_->ReplaceSystemDisk(kAlice, r);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_NE(*fresh, old_disk);
  DiskRecord now = SystemDisk(id);
  EXPECT_EQ(now.disk_id, *fresh);
  EXPECT_EQ(now.size_gib, 30u);
  EXPECT_EQ(region_->catalog().GetDisk(old_disk).status().code(), Code::kNotFound);
  EXPECT_EQ(Files("disks"), std::vector<std::string>{*fresh + ".qcow2"});
}

TEST_F(RegionInstancesTest, AnOpenAfterACrashFinishesPendingInstancesAndRemovesOrphans) {
  // What a kill -9 between the records and the overlays leaves: a Pending
  // instance whose disk has no file, and an overlay no record names.
  std::string done = RunAndWait(Run(1)).at(0);
  DiskRecord template_disk = SystemDisk(done);
  InstanceRecord pending = *region_->catalog().GetInstance(done);
  pending.instance_id = NewResourceId("i");
  pending.status = "Pending";
  ASSERT_TRUE(region_->catalog().InsertInstance(pending).ok());
  DiskRecord disk = template_disk;
  disk.disk_id = NewResourceId("d");
  disk.instance_id = pending.instance_id;
  disk.status = "Creating";
  ASSERT_TRUE(region_->catalog().InsertDisk(disk).ok());
  const std::string orphan = NewResourceId("d");
  ASSERT_TRUE(region_->disk_store().CreateDiskOnBase(orphan, template_disk.base_key, 20ull << 30).ok());

  Open();
  ASSERT_TRUE(WaitStatus(pending.instance_id, "Running"));
  std::vector<std::string> files = Files("disks");
  std::sort(files.begin(), files.end());
  std::vector<std::string> want = {template_disk.disk_id + ".qcow2", disk.disk_id + ".qcow2"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(files, want);
  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  EXPECT_TRUE(report.problems.empty()) << report.problems[0];
}

TEST_F(RegionInstancesTest, FsckReportsAnOverlayTheCatalogDoesNotKnow) {
  std::string id = RunAndWait(Run(1)).at(0);
  ASSERT_TRUE(region_->disk_store().CreateDiskOnBase(NewResourceId("d"), SystemDisk(id).base_key, 20ull << 30).ok());
  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find("overlay the catalog does not know"), std::string::npos);
}

}  // namespace
}  // namespace ferry
