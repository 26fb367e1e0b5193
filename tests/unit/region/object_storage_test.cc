#include "region/object_storage.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/fs_util.h"
#include "common/ids.h"

namespace ferry {
namespace {

constexpr const char* kRoot = "1000000000000001";
constexpr const char* kAlice = "2000000000000002";
constexpr const char* kBob = "3000000000000003";

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

class ObjectStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/oss-test-" + RandomHex(6);
    ASSERT_TRUE(MakeDirs(dir_).ok());
    oss_ = std::make_unique<ObjectStorage>(dir_, kRoot);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
  std::unique_ptr<ObjectStorage> oss_;
};

TEST_F(ObjectStorageTest, BucketNamesFollowOssRules) {
  EXPECT_TRUE(ObjectStorage::ValidateBucketName("my-bucket-01").ok());
  EXPECT_TRUE(ObjectStorage::ValidateBucketName("abc").ok());
  const std::vector<std::string> bad_names = {"ab", "-abc", "abc-", "ABC", "a_b", "a.b", std::string(64, 'a'),
                                              ""};
  for (const std::string& bad : bad_names) {
    Status st = ObjectStorage::ValidateBucketName(bad);
    EXPECT_EQ(st.reason(), "InvalidOSSBucket.Malformed") << bad;
  }
}

TEST_F(ObjectStorageTest, ObjectNamesRejectEscapesAndReservedNames) {
  EXPECT_TRUE(ObjectStorage::ValidateObjectName("disk.raw").ok());
  EXPECT_TRUE(ObjectStorage::ValidateObjectName("dir/sub/disk.qcow2").ok());
  EXPECT_TRUE(ObjectStorage::ValidateObjectName("a..b").ok());
  EXPECT_TRUE(ObjectStorage::ValidateObjectName("\xE4\xB8\xAD\xE6\x96\x87/disk \xC3\xA9t\xC3\xA9.raw").ok());
  const std::vector<std::string> bad = {"",
                                        "/etc/passwd",
                                        "../x",
                                        "a/../../x",
                                        "a/./b",
                                        "..",
                                        "a//b",
                                        "a/",
                                        ".uploads/x",
                                        ".ferry-owner",
                                        "d/.ferry-owner",
                                        std::string("a\0b", 3),
                                        std::string(1024, 'x'),
                                        // Control characters (they would forge log lines) and
                                        // bytes that are not UTF-8.
                                        "a\nb",
                                        "a\rb",
                                        "a\tb",
                                        "x\x1b[2J",
                                        "del\x7f",
                                        "c1-\xC2\x85",
                                        "bad-\xff",
                                        "overlong-\xC0\xAF"};
  for (const std::string& name : bad) {
    EXPECT_EQ(ObjectStorage::ValidateObjectName(name).reason(), "InvalidOSSObject.Malformed") << name;
  }
}

TEST_F(ObjectStorageTest, BucketsBelongToTheirCreator) {
  ASSERT_TRUE(oss_->EnsureBucket(kAlice, "alice-bucket").ok());
  EXPECT_TRUE(oss_->EnsureBucket(kAlice, "alice-bucket").ok());  // idempotent
  EXPECT_TRUE(oss_->CheckBucket(kAlice, "alice-bucket").ok());
  EXPECT_EQ(oss_->CheckBucket(kBob, "alice-bucket").reason(), "InvalidOSSBucket.NotFound");
  EXPECT_EQ(oss_->EnsureBucket(kBob, "alice-bucket").reason(), "InvalidOSSBucket.NotFound");
  EXPECT_EQ(oss_->CheckBucket(kAlice, "no-such-bucket").reason(), "InvalidOSSBucket.NotFound");
}

TEST_F(ObjectStorageTest, OperatorMadeBucketBelongsToRoot) {
  ASSERT_TRUE(MakeDirs(dir_ + "/by-hand").ok());
  EXPECT_TRUE(oss_->CheckBucket(kRoot, "by-hand").ok());
  EXPECT_EQ(oss_->CheckBucket(kAlice, "by-hand").reason(), "InvalidOSSBucket.NotFound");
}

TEST_F(ObjectStorageTest, PathForReadChecksOwnerAndExistence) {
  ASSERT_TRUE(oss_->EnsureBucket(kAlice, "alice-bucket").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/alice-bucket/disk.raw", std::string("data")).ok());
  Result<std::string> path = oss_->PathForRead(kAlice, "alice-bucket", "disk.raw");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*ReadFileToString(*path), "data");
  EXPECT_EQ(oss_->PathForRead(kBob, "alice-bucket", "disk.raw").status().reason(),
            "InvalidOSSBucket.NotFound");
  EXPECT_EQ(oss_->PathForRead(kAlice, "alice-bucket", "missing.raw").status().reason(),
            "InvalidOSSObject.NotFound");
  EXPECT_EQ(oss_->PathForRead(kAlice, "alice-bucket", "../alice-bucket/disk.raw").status().reason(),
            "InvalidOSSObject.Malformed");
  // The owner file is never readable as an object.
  EXPECT_EQ(oss_->PathForRead(kAlice, "alice-bucket", ".ferry-owner").status().reason(),
            "InvalidOSSObject.Malformed");
}

TEST_F(ObjectStorageTest, SymlinkOutOfTheBucketIsNotReadable) {
  ASSERT_TRUE(oss_->EnsureBucket(kAlice, "alice-bucket").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/secret", std::string("secret")).ok());
  ASSERT_EQ(::symlink((dir_ + "/secret").c_str(), (dir_ + "/alice-bucket/link").c_str()), 0);
  EXPECT_EQ(oss_->PathForRead(kAlice, "alice-bucket", "link").status().reason(), "InvalidOSSObject.NotFound");
}

TEST_F(ObjectStorageTest, UploadPartsOutOfOrderPublishOnComplete) {
  Result<std::unique_ptr<UploadSession>> up = oss_->OpenUpload(kAlice, "up-bucket", "dir/image.raw", "U-1");
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  const uint64_t kGap = 8 << 20;
  ASSERT_TRUE((*up)->Write(kGap, Bytes("second")).ok());
  ASSERT_TRUE((*up)->Write(0, Bytes("first")).ok());
  // Not visible before Complete.
  EXPECT_EQ(oss_->PathForRead(kAlice, "up-bucket", "dir/image.raw").status().reason(),
            "InvalidOSSObject.NotFound");
  const uint64_t size = kGap + 6 + 4096;
  ASSERT_TRUE((*up)->Complete(size).ok());

  Result<std::string> path = oss_->PathForRead(kAlice, "up-bucket", "dir/image.raw");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  Result<std::string> content = ReadFileToString(*path);
  ASSERT_TRUE(content.ok());
  ASSERT_EQ(content->size(), size);
  EXPECT_EQ(content->substr(0, 5), "first");
  EXPECT_EQ(content->substr(kGap, 6), "second");
  EXPECT_EQ(content->substr(5, kGap - 5), std::string(kGap - 5, '\0'));
  EXPECT_EQ(content->substr(kGap + 6), std::string(4096, '\0'));
  struct stat st {};
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, size / 2) << "the gap was not left sparse";
  // The bucket was created for the uploader.
  EXPECT_EQ(oss_->CheckBucket(kBob, "up-bucket").reason(), "InvalidOSSBucket.NotFound");
}

TEST_F(ObjectStorageTest, UploadContinuesWithTheSameUploadId) {
  {
    auto up = oss_->OpenUpload(kAlice, "up-bucket", "obj", "resume-1");
    ASSERT_TRUE(up.ok());
    ASSERT_TRUE((*up)->Write(0, Bytes("abc")).ok());
  }
  auto up = oss_->OpenUpload(kAlice, "up-bucket", "obj", "resume-1");
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE((*up)->Write(3, Bytes("def")).ok());
  ASSERT_TRUE((*up)->Complete(6).ok());
  EXPECT_EQ(*ReadFileToString(*oss_->PathForRead(kAlice, "up-bucket", "obj")), "abcdef");
}

TEST_F(ObjectStorageTest, CompleteRefusesDataBeyondTheDeclaredSize) {
  auto up = oss_->OpenUpload(kAlice, "up-bucket", "obj", "u2");
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE((*up)->Write(0, Bytes("0123456789")).ok());
  EXPECT_FALSE((*up)->Complete(4).ok());
}

TEST_F(ObjectStorageTest, UploadSizesAreBoundedByTheLargestObject) {
  auto up = oss_->OpenUpload(kAlice, "up-bucket", "vast", "u-vast");
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  const std::vector<uint8_t> part = {1, 2, 3};
  // A part ending past 48.8 TiB, then a complete of 4 EiB with no parts: both
  // refused before the file grows.
  Status st = (*up)->Write(ObjectStorage::kMaxObjectBytes - 2, part);
  EXPECT_EQ(st.reason(), "InvalidParameter") << st.ToString();
  EXPECT_NE(st.message().find("48.8 TiB"), std::string::npos) << st.message();
  st = (*up)->Complete(uint64_t{1} << 62);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_EQ(st.reason(), "InvalidParameter");
  EXPECT_NE(st.message().find("4611686018427387904"), std::string::npos) << st.message();
  EXPECT_FALSE(oss_->PathForRead(kAlice, "up-bucket", "vast").ok()) << "nothing published";
  // The largest allowed part end and size pass the check.
  EXPECT_TRUE(ObjectStorage::CheckObjectSize(ObjectStorage::kMaxObjectBytes, "size").ok());
  EXPECT_EQ(ObjectStorage::kMaxObjectBytes, 53687091200000u);
}

TEST_F(ObjectStorageTest, UploadValidatesNamesAndOwnership) {
  EXPECT_EQ(oss_->OpenUpload(kAlice, "up-bucket", "../x", "u3").status().reason(),
            "InvalidOSSObject.Malformed");
  EXPECT_EQ(oss_->OpenUpload(kAlice, "Bad_Bucket", "x", "u3").status().reason(),
            "InvalidOSSBucket.Malformed");
  EXPECT_FALSE(oss_->OpenUpload(kAlice, "up-bucket", "x", "../../u").ok());
  ASSERT_TRUE(oss_->EnsureBucket(kAlice, "alice-only").ok());
  EXPECT_EQ(oss_->OpenUpload(kBob, "alice-only", "x", "u4").status().reason(), "InvalidOSSBucket.NotFound");
}

TEST_F(ObjectStorageTest, AbortDiscardsTheUpload) {
  auto up = oss_->OpenUpload(kAlice, "up-bucket", "obj", "u5");
  ASSERT_TRUE(up.ok());
  ASSERT_TRUE((*up)->Write(0, Bytes("abc")).ok());
  (*up)->Abort();
  EXPECT_EQ(oss_->PathForRead(kAlice, "up-bucket", "obj").status().reason(), "InvalidOSSObject.NotFound");
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/up-bucket/.uploads"));
}

TEST_F(ObjectStorageTest, TempPathThenPublish) {
  ASSERT_TRUE(oss_->EnsureBucket(kAlice, "exports").ok());
  EXPECT_EQ(oss_->TempPathForWrite(kBob, "exports").status().reason(), "InvalidOSSBucket.NotFound");
  Result<std::string> tmp = oss_->TempPathForWrite(kAlice, "exports");
  ASSERT_TRUE(tmp.ok());
  ASSERT_TRUE(WriteFileAtomic(*tmp, std::string("exported")).ok());
  EXPECT_EQ(oss_->Publish(*tmp, "exports", "../escape").reason(), "InvalidOSSObject.Malformed");
  ASSERT_TRUE(oss_->Publish(*tmp, "exports", "p_m-1_t-1.raw").ok());
  EXPECT_EQ(*ReadFileToString(*oss_->PathForRead(kAlice, "exports", "p_m-1_t-1.raw")), "exported");
  EXPECT_FALSE(std::filesystem::exists(*tmp));
}

TEST_F(ObjectStorageTest, APartStillStreamingNeverWritesAPublishedObject) {
  // Two requests of one upload id share the part file: one is streaming a
  // part while the other completes the upload.
  auto streaming = oss_->OpenUpload(kAlice, "up-bucket", "obj", "same-id");
  auto completing = oss_->OpenUpload(kAlice, "up-bucket", "obj", "same-id");
  ASSERT_TRUE(streaming.ok() && completing.ok());
  ASSERT_TRUE((*streaming)->Write(0, Bytes("original")).ok());
  ASSERT_TRUE((*completing)->Complete(8).ok());
  // The rest of the part arrives after the object was published.
  Status late = (*streaming)->Write(0, Bytes("REWRITE!"));
  EXPECT_EQ(late.code(), Code::kFailedPrecondition) << late.ToString();
  EXPECT_NE(late.message().find("start a new upload"), std::string::npos) << late.ToString();
  Result<std::string> path = oss_->PathForRead(kAlice, "up-bucket", "obj");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*ReadFileToString(*path), "original");
  // A new request of the same id starts a new, unpublished file.
  auto again = oss_->OpenUpload(kAlice, "up-bucket", "obj", "same-id");
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Write(0, Bytes("next")).ok());
  EXPECT_EQ(*ReadFileToString(*path), "original");
}

TEST_F(ObjectStorageTest, OpenForReadOpensTheObjectBeneathItsBucketOnly) {
  ASSERT_TRUE(oss_->EnsureBucket(kAlice, "alice-bucket").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/alice-bucket/dir").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/alice-bucket/dir/disk.raw", std::string("bytes")).ok());
  Result<UniqueFd> fd = oss_->OpenForRead(kAlice, "alice-bucket", "dir/disk.raw");
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  char buf[8] = {};
  EXPECT_EQ(::pread(fd->get(), buf, sizeof(buf), 0), 5);
  EXPECT_EQ(std::string(buf), "bytes");
  EXPECT_EQ(oss_->OpenForRead(kBob, "alice-bucket", "dir/disk.raw").status().reason(),
            "InvalidOSSBucket.NotFound");
  EXPECT_EQ(oss_->OpenForRead(kAlice, "alice-bucket", "dir").status().reason(), "InvalidOSSObject.NotFound");
  EXPECT_EQ(oss_->OpenForRead(kAlice, "alice-bucket", "../alice-bucket/dir/disk.raw").status().reason(),
            "InvalidOSSObject.Malformed");
  // A symlink anywhere on the way, even one pointing inside the bucket.
  ASSERT_EQ(::symlink("dir", (dir_ + "/alice-bucket/alias").c_str()), 0);
  ASSERT_EQ(::symlink("dir/disk.raw", (dir_ + "/alice-bucket/link.raw").c_str()), 0);
  EXPECT_EQ(oss_->OpenForRead(kAlice, "alice-bucket", "alias/disk.raw").status().reason(),
            "InvalidOSSObject.NotFound");
  EXPECT_EQ(oss_->OpenForRead(kAlice, "alice-bucket", "link.raw").status().reason(),
            "InvalidOSSObject.NotFound");
  // A bucket that is itself a symlink to another account's bucket.
  ASSERT_TRUE(oss_->EnsureBucket(kBob, "bob-bucket").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/bob-bucket/b.raw", std::string("bob")).ok());
  ASSERT_EQ(::symlink((dir_ + "/bob-bucket").c_str(), (dir_ + "/sneaky-bucket").c_str()), 0);
  EXPECT_EQ(oss_->OpenForRead(kBob, "sneaky-bucket", "b.raw").status().reason(), "InvalidOSSBucket.NotFound");
}

}  // namespace
}  // namespace ferry
