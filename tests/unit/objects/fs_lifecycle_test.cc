// FsObjectStore giving resources back: aborts, the expiry sweep, staging
// objects and per-account usage.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/fs_util.h"
#include "common/ids.h"
#include "objects/fs_object_store.h"

namespace ferry {
namespace {

constexpr const char* kRoot = "1000000000000001";
constexpr const char* kAlice = "2000000000000002";
constexpr const char* kBob = "3000000000000003";
constexpr int64_t kDay = 24 * 3600;

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Sets a file's mtime to `t` (ages it without a fake file system clock).
void SetMtime(const std::string& path, UnixSeconds t) {
  struct timeval tv[2] = {{t, 0}, {t, 0}};
  ASSERT_EQ(::utimes(path.c_str(), tv), 0) << path;
}

class FsObjectStoreLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/oss-life-" + RandomHex(6);
    ASSERT_TRUE(MakeDirs(dir_).ok());
    oss_ = std::make_unique<FsObjectStore>(dir_, kRoot);
  }
  void TearDown() override {
    oss_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Leaves an incomplete multipart upload of `object` whose part 1 holds
  // `data`; returns the path of its folder. Makes the bucket if needed.
  std::string StartUpload(const std::string& account, const std::string& bucket, const std::string& object,
                          const std::string& data, std::string* upload_id = nullptr) {
    Status made = oss_->CreateBucket(account, bucket);
    EXPECT_TRUE(made.ok() || made.reason() == "BucketAlreadyExists") << made.ToString();
    Result<std::string> id = oss_->InitiateMultipart(account, bucket, object, {});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return "";
    auto part = oss_->UploadPart(account, bucket, object, *id, 1, std::nullopt);
    EXPECT_TRUE(part.ok()) << part.status().ToString();
    if (!part.ok()) return "";
    EXPECT_TRUE((*part)->Write(Bytes(data)).ok());
    EXPECT_TRUE((*part)->Commit().ok());
    if (upload_id != nullptr) *upload_id = *id;
    return dir_ + "/" + bucket + "/.uploads/mp-" + *id;
  }

  // Ages an upload's folder and everything in it to `t`.
  void AgeUpload(const std::string& path, UnixSeconds t) {
    for (const auto& e : std::filesystem::directory_iterator(path)) SetMtime(e.path().string(), t);
    SetMtime(path, t);
  }

  void PutObject(const std::string& account, const std::string& bucket, const std::string& object,
                 const std::string& data) {
    Status made = oss_->CreateBucket(account, bucket);
    ASSERT_TRUE(made.ok() || made.reason() == "BucketAlreadyExists") << made.ToString();
    auto put = oss_->PutObject(account, bucket, object, {});
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    ASSERT_TRUE((*put)->Write(Bytes(data)).ok());
    ASSERT_TRUE((*put)->Commit().ok());
  }

  std::string dir_;
  std::unique_ptr<FsObjectStore> oss_;
};

TEST_F(FsObjectStoreLifecycleTest, AnAbandonedUploadIsSweptOnceOlderThanTheExpiry) {
  const UnixSeconds now = ::time(nullptr);
  std::string old_upload = StartUpload(kAlice, "alice-b", "old.raw", std::string(8192, 'x'));
  std::string new_upload = StartUpload(kAlice, "alice-b", "new.raw", std::string(8192, 'y'));
  AgeUpload(old_upload, now - kDay - 60);

  SweepStats stats = oss_->SweepExpired(now, kDay);
  EXPECT_EQ(stats.uploads_removed, 1u);
  EXPECT_GE(stats.bytes_freed, 8192u);
  EXPECT_FALSE(Exists(old_upload));
  EXPECT_TRUE(Exists(new_upload));  // written to within the day: still in use

  // The same upload a day later is abandoned too.
  EXPECT_EQ(oss_->SweepExpired(now + kDay + 60, kDay).uploads_removed, 1u);
  EXPECT_FALSE(Exists(new_upload));
}

TEST_F(FsObjectStoreLifecycleTest, TheSweeperThreadSweepsAtStart) {
  std::string upload = StartUpload(kAlice, "alice-b", "old.raw", "abc");
  AgeUpload(upload, ::time(nullptr) - 2 * kDay);
  oss_->StartExpirySweeper(SystemClock::Get(), kDay, std::chrono::seconds(3600));
  EXPECT_FALSE(Exists(upload));
  oss_.reset();  // the destructor stops the thread without waiting an hour
}

TEST_F(FsObjectStoreLifecycleTest, AbortRemovesTheUploadsPartsOnlyForItsOwner) {
  std::string id;
  std::string upload = StartUpload(kAlice, "alice-b", "disk.raw", "abc", &id);
  Status other = oss_->AbortMultipart(kBob, "alice-b", "disk.raw", id);
  EXPECT_EQ(other.reason(), "NoSuchBucket");
  EXPECT_TRUE(Exists(upload));
  ASSERT_TRUE(oss_->AbortMultipart(kAlice, "alice-b", "disk.raw", id).ok());
  EXPECT_FALSE(Exists(upload));
  EXPECT_EQ(oss_->AbortMultipart(kAlice, "alice-b", "disk.raw", id).reason(), "NoSuchUpload");
  EXPECT_EQ(oss_->AbortMultipart(kAlice, "alice-b", "disk.raw", "../x").reason(), "NoSuchUpload");
}

TEST_F(FsObjectStoreLifecycleTest, AStagingObjectGoesWithTheLastClaimOnIt) {
  PutObject(kAlice, "alice-b", "disk.raw", "data");
  const std::string path = dir_ + "/alice-b/disk.raw";
  ASSERT_TRUE(oss_->SetStaging(kAlice, "alice-b", "disk.raw", true).ok());
  EXPECT_TRUE(oss_->IsStaging("alice-b", "disk.raw"));
  ASSERT_TRUE(oss_->ClaimStaging(kAlice, "alice-b", "disk.raw", "t-1").ok());
  ASSERT_TRUE(oss_->ClaimStaging(kAlice, "alice-b", "disk.raw", "t-2").ok());
  EXPECT_EQ(oss_->ListStagingClaims().size(), 2u);

  ASSERT_TRUE(oss_->ReleaseStaging("alice-b", "disk.raw", "t-unknown").ok());
  ASSERT_TRUE(oss_->ReleaseStaging("alice-b", "disk.raw", "t-1").ok());
  EXPECT_TRUE(Exists(path));  // t-2 still reads it
  ASSERT_TRUE(oss_->ReleaseStaging("alice-b", "disk.raw", "t-2").ok());
  EXPECT_FALSE(Exists(path));
  EXPECT_FALSE(oss_->IsStaging("alice-b", "disk.raw"));
  EXPECT_TRUE(oss_->ListStagingClaims().empty());
}

TEST_F(FsObjectStoreLifecycleTest, AKeptObjectIsNeverDeletedByAClaim) {
  PutObject(kAlice, "alice-b", "keep.raw", "data");
  ASSERT_TRUE(oss_->ClaimStaging(kAlice, "alice-b", "keep.raw", "t-1").ok());
  ASSERT_TRUE(oss_->ReleaseStaging("alice-b", "keep.raw", "t-1").ok());
  EXPECT_TRUE(Exists(dir_ + "/alice-b/keep.raw"));
  // Unmarking (a re-upload without staging) drops the marker and its claims.
  ASSERT_TRUE(oss_->SetStaging(kAlice, "alice-b", "keep.raw", true).ok());
  ASSERT_TRUE(oss_->ClaimStaging(kAlice, "alice-b", "keep.raw", "t-2").ok());
  ASSERT_TRUE(oss_->SetStaging(kAlice, "alice-b", "keep.raw", false).ok());
  ASSERT_TRUE(oss_->ReleaseStaging("alice-b", "keep.raw", "t-2").ok());
  EXPECT_TRUE(Exists(dir_ + "/alice-b/keep.raw"));
}

TEST_F(FsObjectStoreLifecycleTest, AnUnclaimedStagingObjectExpiresAClaimedOneDoesNot) {
  const UnixSeconds now = ::time(nullptr);
  PutObject(kAlice, "alice-b", "orphan.raw", "data");
  PutObject(kAlice, "alice-b", "claimed.raw", "data");
  PutObject(kAlice, "alice-b", "plain.raw", "data");
  ASSERT_TRUE(oss_->SetStaging(kAlice, "alice-b", "orphan.raw", true).ok());
  ASSERT_TRUE(oss_->SetStaging(kAlice, "alice-b", "claimed.raw", true).ok());
  ASSERT_TRUE(oss_->ClaimStaging(kAlice, "alice-b", "claimed.raw", "t-1").ok());
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/alice-b/.ferry-staging")) {
    SetMtime(e.path().string(), now - 2 * kDay);
  }
  SetMtime(dir_ + "/alice-b/plain.raw", now - 30 * kDay);

  SweepStats stats = oss_->SweepExpired(now, kDay);
  EXPECT_EQ(stats.staging_removed, 1u);
  EXPECT_FALSE(Exists(dir_ + "/alice-b/orphan.raw"));
  EXPECT_TRUE(Exists(dir_ + "/alice-b/claimed.raw"));  // its import still reads it
  EXPECT_TRUE(Exists(dir_ + "/alice-b/plain.raw"));    // an ordinary object never expires
}

TEST_F(FsObjectStoreLifecycleTest, UsageCountsAnAccountsObjectsAndPartsOnly) {
  const std::string data(64 * 1024, 'a');
  PutObject(kAlice, "alice-b", "disk.raw", data);
  Result<uint64_t> after_object = oss_->AccountObjectBytes(kAlice);
  ASSERT_TRUE(after_object.ok());
  EXPECT_GE(*after_object, data.size());

  StartUpload(kAlice, "alice-b", "part.raw", data);
  Result<uint64_t> after_part = oss_->AccountObjectBytes(kAlice);
  ASSERT_TRUE(after_part.ok());
  EXPECT_GE(*after_part, *after_object + data.size());

  // Bob's bytes are his own; Alice's usage does not move.
  PutObject(kBob, "bob-b", "disk.raw", data + data);
  EXPECT_EQ(*oss_->AccountObjectBytes(kAlice), *after_part);
  EXPECT_GE(*oss_->AccountObjectBytes(kBob), 2 * data.size());

  // Usage sources (regions' snapshots) add to the stored bytes.
  uint64_t id = oss_->AddUsageSource([](const std::string& account) -> Result<uint64_t> {
    return account == kAlice ? uint64_t{1000} : uint64_t{0};
  });
  EXPECT_EQ(*oss_->AccountStoredBytes(kAlice), *after_part + 1000);
  oss_->RemoveUsageSource(id);
  EXPECT_EQ(*oss_->AccountStoredBytes(kAlice), *after_part);

  ASSERT_TRUE(oss_->DeleteObject(kAlice, "alice-b", "disk.raw").ok());
  EXPECT_LT(*oss_->AccountObjectBytes(kAlice), *after_part);
  EXPECT_EQ(oss_->DeleteObject(kBob, "alice-b", "part.raw").reason(), "NoSuchBucket");
}

}  // namespace
}  // namespace ferry
