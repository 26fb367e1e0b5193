// Sharing custom images (region_sharing.cc) on a real RegionImpl: an owner
// (alice), a recipient (bob) and a stranger (carol) in one region.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>
#include <string>

#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

const Caller kCarol{"4000000000000004"};
const std::vector<std::string> kAllStatuses = {"Creating",    "Waiting",      "Available",
                                               "UnAvailable", "CreateFailed", "Deprecated"};

// Account ids "5000000000000000" + n, known to the directory.
std::string ExtraAccount(int n) {
  std::string s = std::to_string(n);
  return "5" + std::string(15 - s.size(), '0') + s;
}

class RegionSharingTest : public RegionFixture {
 protected:
  void SetUp() override {
    RegionFixture::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(oss_->CreateBucket(kBob.account_id, "bob-out").ok());
    known_ = {kAlice.account_id, kBob.account_id, kCarol.account_id};
    for (int i = 0; i < 60; ++i) known_.insert(ExtraAccount(i));
    RegionConfig c = Config();
    c.chunk_size = 256 << 10;
    c.account_exists = [this](const std::string& id) -> Result<bool> { return known_.count(id) > 0; };
    OpenRegion(c);
  }

  // Imports a 1 MiB raw disk for alice and waits; returns the image id.
  std::string Import(const std::string& name, bool encrypted = false) {
    const std::string object = name + ".raw";
    {
      UniqueFd fd(::open((dir_ + "/oss/alice-in/" + object).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                         0644));
      EXPECT_TRUE(fd.valid());
      const std::string data(1 << 20, 'x');
      EXPECT_TRUE(PwriteFull(fd.get(), reinterpret_cast<const uint8_t*>(data.data()), data.size(), 0, object).ok());
    }
    ImportImageRequest req;
    req.disks.push_back(ImportDisk{"alice-in", object, "RAW", 0});
    req.image_name = name;
    req.encrypted = encrypted;
    return ImportAndWait(req);
  }

  Status Share(const Caller& c, const std::string& image_id, std::vector<std::string> add,
               std::vector<std::string> remove = {}) {
    ModifyImageSharePermissionRequest r;
    r.image_id = image_id;
    r.add_accounts = std::move(add);
    r.remove_accounts = std::move(remove);
    return region_->ModifyImageSharePermission(c, r);
  }

  std::vector<std::string> SharedWith(const std::string& image_id) {
    DescribeImageSharePermissionRequest r;
    r.image_id = image_id;
    r.page_size = 100;
    Result<Page<ImageShareRecord>> page = region_->DescribeImageSharePermission(kAlice, r);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> out;
    if (page.ok())
      for (const ImageShareRecord& s : page->items) out.push_back(s.account_id);
    return out;
  }

  // The ids `c` sees with ImageOwnerAlias `alias` (any status).
  std::vector<std::string> Listed(const Caller& c, const std::string& alias) {
    DescribeImagesRequest q;
    q.owner_alias = alias;
    q.statuses = kAllStatuses;
    q.page_size = 100;
    Result<Page<ImageRecord>> page = region_->DescribeImages(c, q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> out;
    if (page.ok())
      for (const ImageRecord& i : page->items) out.push_back(i.image_id);
    return out;
  }

  std::set<std::string> known_;
};

TEST_F(RegionSharingTest, TheRecipientSeesAndMayUseTheImageUntilItIsUnshared) {
  const std::string id = Import("golden");
  EXPECT_TRUE(Listed(kBob, "").empty());
  EXPECT_EQ(region_->UsableImage(kBob, id).status().reason(), "InvalidImageId.NotFound");

  ASSERT_TRUE(Share(kAlice, id, {kBob.account_id}).ok());
  EXPECT_EQ(SharedWith(id), std::vector<std::string>{kBob.account_id});
  EXPECT_EQ(Listed(kBob, "others"), std::vector<std::string>{id});
  EXPECT_EQ(Listed(kBob, ""), std::vector<std::string>{id});  // the default listing shows shared images
  EXPECT_TRUE(Listed(kBob, "self").empty());
  EXPECT_TRUE(Listed(kAlice, "others").empty());
  EXPECT_TRUE(Listed(kCarol, "").empty());
  Result<ImageRecord> usable = region_->UsableImage(kBob, id);
  ASSERT_TRUE(usable.ok()) << usable.status().ToString();
  EXPECT_EQ(usable->account_id, kAlice.account_id);
  EXPECT_EQ(region_->UsableImage(kCarol, id).status().reason(), "InvalidImageId.NotFound");

  // The owner's listing says it is shared.
  DescribeImagesRequest q;
  q.image_id = id;
  EXPECT_TRUE(region_->DescribeImages(kAlice, q)->items.at(0).is_self_shared);

  // The recipient may read its snapshots' sizes by id, not list them as its own.
  const std::string snapshot = region_->catalog().GetImage(id)->disks.at(0).snapshot_id;
  DescribeSnapshotsRequest by_id;
  by_id.snapshot_ids = {snapshot};
  Result<Page<SnapshotRecord>> snaps = region_->DescribeSnapshots(kBob, by_id);
  ASSERT_TRUE(snaps.ok());
  ASSERT_EQ(snaps->items.size(), 1u);
  EXPECT_EQ(snaps->items[0].logical_size, 1u << 20);
  EXPECT_TRUE(region_->DescribeSnapshots(kBob, DescribeSnapshotsRequest{})->items.empty());
  EXPECT_TRUE(region_->DescribeSnapshots(kCarol, by_id)->items.empty());

  // Revocation is immediate.
  ASSERT_TRUE(Share(kAlice, id, {}, {kBob.account_id}).ok());
  EXPECT_TRUE(Listed(kBob, "").empty());
  EXPECT_EQ(region_->UsableImage(kBob, id).status().reason(), "InvalidImageId.NotFound");
  EXPECT_TRUE(region_->DescribeSnapshots(kBob, by_id)->items.empty());
  EXPECT_FALSE(region_->DescribeImages(kAlice, q)->items.at(0).is_self_shared);
}

TEST_F(RegionSharingTest, DescribeImagesMarksEncryptedDisksAndSharedImages) {
  const std::string secret = Import("secret", /*encrypted=*/true);
  const std::string plain = Import("plain");
  ASSERT_TRUE(Share(kAlice, plain, {kBob.account_id}).ok());
  auto described = [&](const Caller& c, const std::string& id) {
    DescribeImagesRequest q;
    q.image_id = id;
    Result<Page<ImageRecord>> page = region_->DescribeImages(c, q);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() && page->items.size() == 1 ? page->items[0] : ImageRecord{};
  };
  ImageRecord mine = described(kAlice, secret);
  ASSERT_EQ(mine.disks.size(), 1u);
  EXPECT_TRUE(mine.disks[0].encrypted);
  EXPECT_FALSE(mine.is_self_shared);
  mine = described(kAlice, plain);
  ASSERT_EQ(mine.disks.size(), 1u);
  EXPECT_FALSE(mine.disks[0].encrypted);
  EXPECT_TRUE(mine.is_self_shared);
  // The recipient sees the image, never as its own shared one.
  ImageRecord theirs = described(kBob, plain);
  EXPECT_EQ(theirs.image_id, plain);
  EXPECT_FALSE(theirs.is_self_shared);
}

TEST_F(RegionSharingTest, TheRecipientCannotModifyDeleteExportOrReshare) {
  const std::string id = Import("golden");
  ASSERT_TRUE(Share(kAlice, id, {kBob.account_id}).ok());

  ModifyImageAttributeRequest mod;
  mod.image_id = id;
  mod.description = "mine now";
  Status st = region_->ModifyImageAttribute(kBob, mod);
  EXPECT_EQ(st.reason(), "Forbidden");
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_EQ(region_->DeleteImage(kBob, id, false).reason(), "Forbidden");
  EXPECT_EQ(region_->ExportImage(kBob, ExportImageRequest{id, "bob-out", "", "raw"}).status().reason(),
            "Forbidden");
  EXPECT_EQ(Share(kBob, id, {kCarol.account_id}).reason(), "Forbidden");
  DescribeImageSharePermissionRequest describe;
  describe.image_id = id;
  EXPECT_EQ(region_->DescribeImageSharePermission(kBob, describe).status().reason(), "Forbidden");
  // The image is unchanged and still alice's alone to share.
  EXPECT_EQ(region_->catalog().GetImage(id)->description, "");
  EXPECT_EQ(SharedWith(id), std::vector<std::string>{kBob.account_id});
}

TEST_F(RegionSharingTest, AStrangerGetsTheAnswerOfAnImageThatNeverExisted) {
  const std::string id = Import("golden");
  ASSERT_TRUE(Share(kAlice, id, {kBob.account_id}).ok());
  const std::string missing = "m-doesnotexist0000000";
  for (const std::string& image : {id, missing}) {
    SCOPED_TRACE(image);
    Status st = Share(kCarol, image, {kBob.account_id});
    EXPECT_EQ(st.reason(), "InvalidImageId.NotFound");
    EXPECT_EQ(st.code(), Code::kNotFound);
    DescribeImageSharePermissionRequest describe;
    describe.image_id = image;
    EXPECT_EQ(region_->DescribeImageSharePermission(kCarol, describe).status().reason(),
              "InvalidImageId.NotFound");
    ModifyImageAttributeRequest mod;
    mod.image_id = image;
    mod.description = "a description";
    EXPECT_EQ(region_->ModifyImageAttribute(kCarol, mod).reason(), "InvalidImageId.NotFound");
    EXPECT_EQ(region_->DeleteImage(kCarol, image, false).reason(), "InvalidImageId.NotFound");
    EXPECT_EQ(region_->UsableImage(kCarol, image).status().reason(), "InvalidImageId.NotFound");
  }
  // Same messages, apart from the id itself.
  auto message = [&](const std::string& image) {
    std::string m = Share(kCarol, image, {kBob.account_id}).message();
    return m.replace(m.find(image), image.size(), "ID");
  };
  EXPECT_EQ(message(id), message(missing));
}

TEST_F(RegionSharingTest, EveryDocumentedErrorOfModifyImageSharePermission) {
  const std::string id = Import("golden");
  Status st = Share(kAlice, id, {"9999999999999999"});
  EXPECT_EQ(st.reason(), "InvalidAccount.NotFound");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_NE(st.message().find("AddAccount.1"), std::string::npos) << st.message();
  EXPECT_EQ(Share(kAlice, id, {"not-an-account"}).reason(), "InvalidAccount.NotFound");
  EXPECT_EQ(Share(kAlice, id, {}, {"9999999999999999"}).reason(), "InvalidAccount.NotFound");
  st = Share(kAlice, id, {kAlice.account_id});
  EXPECT_EQ(st.reason(), "InvalidAccount.Forbbiden");
  EXPECT_EQ(st.code(), Code::kNotFound);
  EXPECT_EQ(Share(kAlice, "", {kBob.account_id}).reason(), "MissingParameter");
  EXPECT_EQ(Share(kAlice, id, std::vector<std::string>(11, kBob.account_id)).reason(), "InvalidParameter");
  EXPECT_TRUE(SharedWith(id).empty()) << "nothing was shared by a refused call";

  const std::string secret = Import("secret", /*encrypted=*/true);
  st = Share(kAlice, secret, {kBob.account_id});
  EXPECT_EQ(st.reason(), "OperationDeined.EncryptedSnapshot");
  EXPECT_EQ(st.code(), Code::kPermissionDenied);

  ModifyImageAttributeRequest deprecate;
  deprecate.image_id = id;
  deprecate.status = "Deprecated";
  ASSERT_TRUE(region_->ModifyImageAttribute(kAlice, deprecate).ok());
  EXPECT_EQ(Share(kAlice, id, {kBob.account_id}).reason(), "OperationDenied.InvalidImageStatus");
}

TEST_F(RegionSharingTest, FiftyAccountsPerImageTenPerCall) {
  const std::string id = Import("golden");
  for (int batch = 0; batch < 5; ++batch) {
    std::vector<std::string> add;
    for (int i = 0; i < 10; ++i) add.push_back(ExtraAccount(batch * 10 + i));
    ASSERT_TRUE(Share(kAlice, id, add).ok()) << batch;
  }
  EXPECT_EQ(SharedWith(id).size(), 50u);
  Status st = Share(kAlice, id, {ExtraAccount(50)});
  EXPECT_EQ(st.reason(), "QuotaExceed.ShareImageUser");
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  EXPECT_EQ(SharedWith(id).size(), 50u);
  // Sharing again with one already there is no new account; removing one
  // in the same call makes room (removals apply first).
  EXPECT_TRUE(Share(kAlice, id, {ExtraAccount(0)}).ok());
  EXPECT_TRUE(Share(kAlice, id, {ExtraAccount(50)}, {ExtraAccount(0)}).ok());
  std::vector<std::string> now = SharedWith(id);
  EXPECT_EQ(now.size(), 50u);
  EXPECT_EQ(now.back(), ExtraAccount(50));

  DescribeImageSharePermissionRequest page;
  page.image_id = id;
  page.page_number = 5;
  page.page_size = 12;
  Result<Page<ImageShareRecord>> last = region_->DescribeImageSharePermission(kAlice, page);
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(last->total, 50u);
  EXPECT_EQ(last->items.size(), 2u);
}

TEST_F(RegionSharingTest, ASharedImageCannotBeDeletedOrDeprecatedUntilUnshared) {
  const std::string id = Import("golden");
  ASSERT_TRUE(Share(kAlice, id, {kBob.account_id, kCarol.account_id}).ok());
  Status st = region_->DeleteImage(kAlice, id, false);
  EXPECT_EQ(st.reason(), "ImageUseShared");
  EXPECT_EQ(st.code(), Code::kPermissionDenied);
  ModifyImageAttributeRequest deprecate;
  deprecate.image_id = id;
  deprecate.status = "Deprecated";
  EXPECT_EQ(region_->ModifyImageAttribute(kAlice, deprecate).reason(), "ImageUseShared");
  ASSERT_TRUE(Share(kAlice, id, {}, {kBob.account_id}).ok());
  EXPECT_EQ(region_->DeleteImage(kAlice, id, false).reason(), "ImageUseShared");
  ASSERT_TRUE(Share(kAlice, id, {}, {kCarol.account_id}).ok());
  EXPECT_TRUE(region_->DeleteImage(kAlice, id, false).ok());
  EXPECT_EQ(region_->catalog().GetImage(id).status().code(), Code::kNotFound);
}

TEST_F(RegionSharingTest, SharingAgainKeepsTheFirstSharedTime) {
  const std::string id = Import("golden");
  ASSERT_TRUE(Share(kAlice, id, {kBob.account_id}).ok());
  Result<Page<ImageShareRecord>> before = region_->catalog().ListImageShares(id, 0, 0);
  ASSERT_TRUE(before.ok());
  ASSERT_EQ(before->items.size(), 1u);
  EXPECT_GT(before->items[0].shared_time, 0);
  ASSERT_TRUE(region_->catalog().PutImageShare({id, kBob.account_id, before->items[0].shared_time + 100}).ok());
  Result<Page<ImageShareRecord>> after = region_->catalog().ListImageShares(id, 0, 0);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->items.at(0).shared_time, before->items[0].shared_time);
  EXPECT_TRUE(*region_->catalog().IsImageSharedWith(id, kBob.account_id));
  EXPECT_FALSE(*region_->catalog().IsImageSharedWith(id, kCarol.account_id));
}

TEST_F(RegionSharingTest, ARecipientSeesNoneOfWhatOnlyTheOwnerKnows) {
  const std::string id = Import("private-parts");
  ASSERT_TRUE(Share(kAlice, id, {kBob.account_id}).ok());
  // The owner's notes on the snapshot, as CreateSnapshot would keep them.
  const std::string snapshot_id = region_->catalog().GetImage(id)->disks.at(0).snapshot_id;
  SnapshotRecord snap = *region_->catalog().GetSnapshot(snapshot_id);
  snap.name = "alice-notes";
  snap.description = "the payroll disk";
  snap.tags = {{"team", "payroll"}};
  snap.source_disk_id = "d-alicesdisk000000000";
  ASSERT_TRUE(region_->catalog().UpdateSnapshot(snap).ok());

  DescribeImagesRequest images;
  images.image_id = id;
  Result<Page<ImageRecord>> mine = region_->DescribeImages(kAlice, images);
  Result<Page<ImageRecord>> bobs = region_->DescribeImages(kBob, images);
  ASSERT_TRUE(mine.ok() && bobs.ok());
  ASSERT_EQ(mine->items.size(), 1u);
  ASSERT_EQ(bobs->items.size(), 1u);
  EXPECT_EQ(mine->items[0].disks.at(0).import_bucket, "alice-in");
  EXPECT_EQ(mine->items[0].disks.at(0).import_object, "private-parts.raw");
  EXPECT_EQ(bobs->items[0].disks.at(0).import_bucket, "");
  EXPECT_EQ(bobs->items[0].disks.at(0).import_object, "");
  EXPECT_EQ(bobs->items[0].disks.at(0).snapshot_id, snapshot_id);

  DescribeSnapshotsRequest snaps;
  snaps.snapshot_ids = {snapshot_id};
  Result<Page<SnapshotRecord>> own = region_->DescribeSnapshots(kAlice, snaps);
  Result<Page<SnapshotRecord>> shared = region_->DescribeSnapshots(kBob, snaps);
  ASSERT_TRUE(own.ok() && shared.ok());
  ASSERT_EQ(own->items.size(), 1u);
  ASSERT_EQ(shared->items.size(), 1u);
  EXPECT_EQ(own->items[0].description, "the payroll disk");
  const SnapshotRecord& seen = shared->items[0];
  EXPECT_EQ(seen.snapshot_id, snapshot_id);
  EXPECT_EQ(seen.logical_size, own->items[0].logical_size);
  EXPECT_EQ(seen.status, "accomplished");
  EXPECT_EQ(seen.name, "");
  EXPECT_EQ(seen.description, "");
  EXPECT_TRUE(seen.tags.empty());
  EXPECT_EQ(seen.source_disk_id, "");
  // Nor can a name filter tell the owner's name.
  snaps.snapshot_name = "alice-notes";
  Result<Page<SnapshotRecord>> probed = region_->DescribeSnapshots(kBob, snaps);
  ASSERT_TRUE(probed.ok());
  EXPECT_TRUE(probed->items.empty());
  EXPECT_EQ(region_->DescribeSnapshots(kAlice, snaps)->items.size(), 1u);
}

}  // namespace
}  // namespace ferry
