#include "objects/fs_object_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/crc64.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"

namespace ferry {
namespace {

constexpr const char* kRoot = "1000000000000001";
constexpr const char* kAlice = "2000000000000002";
constexpr const char* kBob = "3000000000000003";

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

class FsObjectStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/oss-test-" + RandomHex(6);
    ASSERT_TRUE(MakeDirs(dir_).ok());
    oss_ = std::make_unique<FsObjectStore>(dir_, kRoot);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string dir_;
  std::unique_ptr<FsObjectStore> oss_;
};

TEST_F(FsObjectStoreTest, BucketNamesFollowOssRules) {
  EXPECT_TRUE(FsObjectStore::ValidateBucketName("my-bucket-01").ok());
  EXPECT_TRUE(FsObjectStore::ValidateBucketName("abc").ok());
  const std::vector<std::string> bad_names = {"ab", "-abc", "abc-", "ABC", "a_b", "a.b", std::string(64, 'a'),
                                              ""};
  for (const std::string& bad : bad_names) {
    Status st = FsObjectStore::ValidateBucketName(bad);
    EXPECT_EQ(st.reason(), "InvalidBucketName") << bad;
  }
}

TEST_F(FsObjectStoreTest, ObjectNamesRejectEscapesAndReservedNames) {
  EXPECT_TRUE(ObjectStore::ValidateKey("disk.raw").ok());
  EXPECT_TRUE(ObjectStore::ValidateKey("dir/sub/disk.qcow2").ok());
  EXPECT_TRUE(ObjectStore::ValidateKey("a..b").ok());
  EXPECT_TRUE(ObjectStore::ValidateKey("\xE4\xB8\xAD\xE6\x96\x87/disk \xC3\xA9t\xC3\xA9.raw").ok());
  const std::vector<std::string> bad = {
      "", "/etc/passwd", "../x", "a/../../x", "a/./b", "..", "a//b", "a/", ".uploads/x", ".ferry-owner",
      "d/.ferry-owner", std::string("a\0b", 3), std::string(1024, 'x'),
      // Control characters (they would forge log lines) and
      // bytes that are not UTF-8.
      "a\nb", "a\rb", "a\tb", "x\x1b[2J", "del\x7f", "c1-\xC2\x85", "bad-\xff", "overlong-\xC0\xAF"};
  for (const std::string& name : bad) {
    EXPECT_EQ(ObjectStore::ValidateKey(name).reason(), "InvalidObjectName") << name;
  }
}

TEST_F(FsObjectStoreTest, BucketsBelongToTheirCreator) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  EXPECT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());  // idempotent
  EXPECT_TRUE(oss_->GetBucket(kAlice, "alice-bucket").status().ok());
  EXPECT_EQ(oss_->GetBucket(kBob, "alice-bucket").status().reason(), "NoSuchBucket");
  // Creating a taken name must say so; every other call hides the bucket.
  EXPECT_EQ(oss_->CreateBucket(kBob, "alice-bucket").reason(), "BucketAlreadyExists");
  EXPECT_EQ(oss_->GetBucket(kAlice, "no-such-bucket").status().reason(), "NoSuchBucket");
}

TEST_F(FsObjectStoreTest, OperatorMadeBucketBelongsToRoot) {
  ASSERT_TRUE(MakeDirs(dir_ + "/by-hand").ok());
  EXPECT_TRUE(oss_->GetBucket(kRoot, "by-hand").status().ok());
  EXPECT_EQ(oss_->GetBucket(kAlice, "by-hand").status().reason(), "NoSuchBucket");
}

TEST_F(FsObjectStoreTest, PathForReadChecksOwnerAndExistence) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/alice-bucket/disk.raw", std::string("data")).ok());
  Result<std::string> path = oss_->PathForRead(kAlice, "alice-bucket", "disk.raw");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*ReadFileToString(*path), "data");
  EXPECT_EQ(oss_->PathForRead(kBob, "alice-bucket", "disk.raw").status().reason(), "NoSuchBucket");
  EXPECT_EQ(oss_->PathForRead(kAlice, "alice-bucket", "missing.raw").status().reason(), "NoSuchKey");
  EXPECT_EQ(oss_->PathForRead(kAlice, "alice-bucket", "../alice-bucket/disk.raw").status().reason(),
            "InvalidObjectName");
  // The owner file is never readable as an object.
  EXPECT_EQ(oss_->PathForRead(kAlice, "alice-bucket", ".ferry-owner").status().reason(), "InvalidObjectName");
}

TEST_F(FsObjectStoreTest, SymlinkOutOfTheBucketIsNotReadable) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/secret", std::string("secret")).ok());
  ASSERT_EQ(::symlink((dir_ + "/secret").c_str(), (dir_ + "/alice-bucket/link").c_str()), 0);
  EXPECT_EQ(oss_->PathForRead(kAlice, "alice-bucket", "link").status().reason(), "NoSuchKey");
}

// Uploads part `n` of `bytes` (its size declared when `declare`), returning
// what Complete lists.
CompletePart Part(FsObjectStore& oss, const std::string& bucket, const std::string& key, const std::string& id,
                  uint32_t n, const std::string& bytes, bool declare = true) {
  auto w = oss.UploadPart(kAlice, bucket, key, id, n, std::nullopt,
                          declare ? std::optional<uint64_t>(bytes.size()) : std::nullopt);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  if (!w.ok()) return {n, ""};
  EXPECT_TRUE((*w)->Write(Bytes(bytes)).ok());
  Result<PartInfo> p = (*w)->Commit();
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return {n, p.ok() ? p->etag : ""};
}

uint64_t Inode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_ino) : 0;
}

TEST_F(FsObjectStoreTest, PartsOfOneSizeLandInPlaceAndCompletePublishesThatFile) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "up-bucket").ok());
  Result<std::string> id = oss_->InitiateMultipart(kAlice, "up-bucket", "dir/image.raw", {});
  ASSERT_TRUE(id.ok());
  const uint64_t kPart = 1 << 20;
  std::string second(kPart, '\0'), first(kPart, '\0');
  second.replace(0, 6, "second");
  first.replace(0, 5, "first");
  const std::string last = "last" + std::string(4096, '\0');
  // Out of order, the short last part first (before the part size is known:
  // a file of its own, copied in at completion), then parts 2 and 1.
  std::vector<CompletePart> parts(3);
  parts[2] = Part(*oss_, "up-bucket", "dir/image.raw", *id, 3, last);
  parts[1] = Part(*oss_, "up-bucket", "dir/image.raw", *id, 2, second);
  parts[0] = Part(*oss_, "up-bucket", "dir/image.raw", *id, 1, first);
  // Not visible before Complete.
  EXPECT_EQ(oss_->PathForRead(kAlice, "up-bucket", "dir/image.raw").status().reason(), "NoSuchKey");
  const uint64_t data_ino = Inode(dir_ + "/up-bucket/.uploads/mp-" + *id + "/data");
  ASSERT_NE(data_ino, 0u);
  Result<ObjectInfo> done = oss_->CompleteMultipart(kAlice, "up-bucket", "dir/image.raw", *id, parts);
  ASSERT_TRUE(done.ok()) << done.status().ToString();

  Result<std::string> path = oss_->PathForRead(kAlice, "up-bucket", "dir/image.raw");
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(Inode(*path), data_ino) << "the object is the upload's data file, not a copy";
  Result<std::string> content = ReadFileToString(*path);
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(*content, first + second + last);
  struct stat st {};
  ASSERT_EQ(::stat(path->c_str(), &st), 0);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, kPart / 2) << "the zeros were not left sparse";
  EXPECT_EQ(done->crc64, Crc64(*content));
  EXPECT_EQ(done->etag, MultipartEtag({Md5::Of(std::string_view(first)), Md5::Of(std::string_view(second)),
                                       Md5::Of(std::string_view(last))}));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/up-bucket/.uploads/mp-" + *id));
}

TEST_F(FsObjectStoreTest, ARewrittenPartReplacesTheOneInPlace) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "up-bucket").ok());
  Result<std::string> id = oss_->InitiateMultipart(kAlice, "up-bucket", "obj", {});
  ASSERT_TRUE(id.ok());
  const std::string a(200 << 10, 'a'), b(200 << 10, 'b'), c(200 << 10, 'c');
  Part(*oss_, "up-bucket", "obj", *id, 1, a);
  CompletePart p2 = Part(*oss_, "up-bucket", "obj", *id, 2, b);
  CompletePart p1 = Part(*oss_, "up-bucket", "obj", *id, 1, c);  // goes to a file of its own
  Result<ListPartsResult> listed = oss_->ListParts(kAlice, "up-bucket", "obj", *id, {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->parts.size(), 2u);
  EXPECT_EQ(listed->parts[0].etag, p1.etag);
  ASSERT_TRUE(oss_->CompleteMultipart(kAlice, "up-bucket", "obj", *id, {p1, p2}).ok());
  EXPECT_EQ(*ReadFileToString(*oss_->PathForRead(kAlice, "up-bucket", "obj")), c + b);
}

TEST_F(FsObjectStoreTest, PartsAckedBeforeARestartAreListedAndCompleteAfterIt) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "up-bucket").ok());
  Result<std::string> id = oss_->InitiateMultipart(kAlice, "up-bucket", "obj", {});
  ASSERT_TRUE(id.ok());
  const std::string a(128 << 10, 'a'), b(128 << 10, 'b'), c(1000, 'c');
  CompletePart p1 = Part(*oss_, "up-bucket", "obj", *id, 1, a);
  {
    // Part 2 is cut off mid-body when the server goes away.
    auto w = oss_->UploadPart(kAlice, "up-bucket", "obj", *id, 2, std::nullopt, b.size());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(Bytes(b.substr(0, 5000))).ok());
  }
  oss_ = std::make_unique<FsObjectStore>(dir_, kRoot);  // a new process on the same files
  Result<ListPartsResult> listed = oss_->ListParts(kAlice, "up-bucket", "obj", *id, {});
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->parts.size(), 1u);
  EXPECT_EQ(listed->parts[0].part_number, 1u);
  CompletePart p2 = Part(*oss_, "up-bucket", "obj", *id, 2, b);
  CompletePart p3 = Part(*oss_, "up-bucket", "obj", *id, 3, c);
  ASSERT_TRUE(oss_->CompleteMultipart(kAlice, "up-bucket", "obj", *id, {p1, p2, p3}).ok());
  EXPECT_EQ(*ReadFileToString(*oss_->PathForRead(kAlice, "up-bucket", "obj")), a + b + c);
}

TEST_F(FsObjectStoreTest, APartStillStreamingNeverWritesAPublishedObject) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "up-bucket").ok());
  Result<std::string> id = oss_->InitiateMultipart(kAlice, "up-bucket", "obj", {});
  ASSERT_TRUE(id.ok());
  const std::string a(128 << 10, 'a');
  CompletePart p1 = Part(*oss_, "up-bucket", "obj", *id, 1, a);
  // Part 2 is streaming into the data file while another request completes
  // the upload with part 1 alone.
  auto streaming = oss_->UploadPart(kAlice, "up-bucket", "obj", *id, 2, std::nullopt, a.size());
  ASSERT_TRUE(streaming.ok());
  ASSERT_TRUE((*streaming)->Write(Bytes(std::string(4096, 'x'))).ok());
  ASSERT_TRUE(oss_->CompleteMultipart(kAlice, "up-bucket", "obj", *id, {p1}).ok());
  Status late = (*streaming)->Write(Bytes(std::string(4096, 'y')));
  EXPECT_EQ(late.reason(), "NoSuchUpload") << late.ToString();
  EXPECT_FALSE((*streaming)->Commit().ok());
  Result<std::string> path = oss_->PathForRead(kAlice, "up-bucket", "obj");
  ASSERT_TRUE(path.ok());
  EXPECT_EQ(*ReadFileToString(*path), a);
  Result<ObjectInfo> info = oss_->HeadObject(kAlice, "up-bucket", "obj");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->crc64, Crc64(a));
}

TEST_F(FsObjectStoreTest, OpenForReadOpensTheObjectBeneathItsBucketOnly) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/alice-bucket/dir").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/alice-bucket/dir/disk.raw", std::string("bytes")).ok());
  Result<OpenObject> fd = oss_->OpenForRead(kAlice, "alice-bucket", "dir/disk.raw");
  ASSERT_TRUE(fd.ok()) << fd.status().ToString();
  char buf[8] = {};
  EXPECT_EQ(::pread(fd->fd.get(), buf, sizeof(buf), 0), 5);
  EXPECT_EQ(std::string(buf), "bytes");
  EXPECT_EQ(oss_->OpenForRead(kBob, "alice-bucket", "dir/disk.raw").status().reason(), "NoSuchBucket");
  EXPECT_EQ(oss_->OpenForRead(kAlice, "alice-bucket", "dir").status().reason(), "NoSuchKey");
  EXPECT_EQ(oss_->OpenForRead(kAlice, "alice-bucket", "../alice-bucket/dir/disk.raw").status().reason(),
            "InvalidObjectName");
  // A symlink anywhere on the way, even one pointing inside the bucket.
  ASSERT_EQ(::symlink("dir", (dir_ + "/alice-bucket/alias").c_str()), 0);
  ASSERT_EQ(::symlink("dir/disk.raw", (dir_ + "/alice-bucket/link.raw").c_str()), 0);
  EXPECT_EQ(oss_->OpenForRead(kAlice, "alice-bucket", "alias/disk.raw").status().reason(), "NoSuchKey");
  EXPECT_EQ(oss_->OpenForRead(kAlice, "alice-bucket", "link.raw").status().reason(), "NoSuchKey");
  // A bucket that is itself a symlink to another account's bucket.
  ASSERT_TRUE(oss_->CreateBucket(kBob, "bob-bucket").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/bob-bucket/b.raw", std::string("bob")).ok());
  ASSERT_EQ(::symlink((dir_ + "/bob-bucket").c_str(), (dir_ + "/sneaky-bucket").c_str()), 0);
  EXPECT_EQ(oss_->OpenForRead(kBob, "sneaky-bucket", "b.raw").status().reason(), "NoSuchBucket");
}

// ------------------------------------------------- metadata on disk, legacy

Result<ObjectInfo> PutBytes(ObjectStore& store, const std::string& account, const std::string& bucket,
                            const std::string& key, const std::string& data) {
  ASSIGN_OR_RETURN(std::unique_ptr<ObjectPutWriter> w, store.PutObject(account, bucket, key, {}));
  RETURN_IF_ERROR(w->Write(Bytes(data)));
  return w->Commit();
}

TEST_F(FsObjectStoreTest, AFileWithoutMetadataIsReadableWithAStableOpaqueEtag) {
  // A data directory from before metadata files, or a file the operator
  // copied in by hand.
  ASSERT_TRUE(MakeDirs(dir_ + "/by-hand/dir").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/by-hand/dir/old.raw", std::string("old bytes")).ok());
  Result<ObjectInfo> head = oss_->HeadObject(kRoot, "by-hand", "dir/old.raw");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->size, 9u);
  EXPECT_FALSE(head->crc64.has_value()) << "unknown, so not reported";
  EXPECT_FALSE(head->content_md5.has_value());
  EXPECT_EQ(head->content_type, "application/octet-stream");
  EXPECT_EQ(head->etag.size(), 34u);
  Result<ListObjectsResult> list = oss_->ListObjects(kRoot, "by-hand", {});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->contents.size(), 1u);
  EXPECT_EQ(list->contents[0].etag, head->etag) << "listing and HEAD agree";
  EXPECT_EQ(oss_->HeadObject(kRoot, "by-hand", "dir/old.raw")->etag, head->etag);
}

TEST_F(FsObjectStoreTest, MetadataThatNoLongerDescribesTheFileIsIgnored) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  ASSERT_TRUE(PutBytes(*oss_, kAlice, "alice-bucket", "k", "through the store").ok());
  Result<ObjectInfo> before = oss_->HeadObject(kAlice, "alice-bucket", "k");
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(before->crc64.has_value());
  // The operator replaces the bytes by hand: the old ETag and CRC would lie.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/alice-bucket/k", std::string("edited by hand")).ok());
  Result<ObjectInfo> after = oss_->HeadObject(kAlice, "alice-bucket", "k");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size, 14u);
  EXPECT_FALSE(after->crc64.has_value());
  EXPECT_NE(after->etag, before->etag);
}

TEST_F(FsObjectStoreTest, SymlinksPlantedInABucketAreNeverFollowedForWriting) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  ASSERT_TRUE(MakeDirs(dir_ + "/outside").ok());
  ASSERT_EQ(::symlink((dir_ + "/outside").c_str(), (dir_ + "/alice-bucket/escape").c_str()), 0);
  Result<ObjectInfo> put = PutBytes(*oss_, kAlice, "alice-bucket", "escape/x", "data");
  EXPECT_EQ(put.status().reason(), "InvalidObjectName") << put.status().ToString();
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/outside"));
  // Deleting through the link removes nothing outside either.
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/outside/victim", std::string("v")).ok());
  EXPECT_TRUE(oss_->DeleteObject(kAlice, "alice-bucket", "escape/victim").ok());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/outside/victim"));
  // Listings skip links, FIFOs and reserved names.
  ASSERT_EQ(::mkfifo((dir_ + "/alice-bucket/fifo").c_str(), 0600), 0);
  ASSERT_TRUE(PutBytes(*oss_, kAlice, "alice-bucket", "real", "r").ok());
  Result<ListObjectsResult> list = oss_->ListObjects(kAlice, "alice-bucket", {});
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->contents.size(), 1u);
  EXPECT_EQ(list->contents[0].key, "real");
  EXPECT_EQ(oss_->HeadObject(kAlice, "alice-bucket", "fifo").status().reason(), "NoSuchKey");
}

TEST_F(FsObjectStoreTest, AKeyAndKeysUnderItCannotBothExist) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  ASSERT_TRUE(PutBytes(*oss_, kAlice, "alice-bucket", "a/b", "x").ok());
  EXPECT_EQ(PutBytes(*oss_, kAlice, "alice-bucket", "a", "y").status().reason(), "InvalidObjectName");
  ASSERT_TRUE(PutBytes(*oss_, kAlice, "alice-bucket", "f", "z").ok());
  EXPECT_EQ(PutBytes(*oss_, kAlice, "alice-bucket", "f/g", "w").status().reason(), "InvalidObjectName");
  EXPECT_EQ(*ReadFileToString(dir_ + "/alice-bucket/f"), "z");
  // Nothing was left behind by the refused puts.
  EXPECT_TRUE(std::filesystem::is_empty(dir_ + "/alice-bucket/.uploads"));
}

TEST_F(FsObjectStoreTest, ZerosStayHolesThroughPutAndMultipart) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  const std::string zeros(8 << 20, '\0');
  Result<std::string> id = oss_->InitiateMultipart(kAlice, "alice-bucket", "sparse", {});
  ASSERT_TRUE(id.ok());
  std::vector<CompletePart> parts;
  for (uint32_t n = 1; n <= 2; ++n) {
    auto w = oss_->UploadPart(kAlice, "alice-bucket", "sparse", *id, n, std::nullopt);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(Bytes(n == 1 ? zeros : "data at the end")).ok());
    Result<PartInfo> p = (*w)->Commit();
    ASSERT_TRUE(p.ok());
    parts.push_back({n, p->etag});
  }
  ASSERT_TRUE(oss_->CompleteMultipart(kAlice, "alice-bucket", "sparse", *id, parts).ok());
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/alice-bucket/sparse").c_str(), &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), zeros.size() + 15);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{1} << 20)
      << "the zero part was not kept sparse";
  Result<ObjectInfo> head = oss_->HeadObject(kAlice, "alice-bucket", "sparse");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->crc64, Crc64(zeros + "data at the end"));
}

TEST_F(FsObjectStoreTest, PutObjectWritesAlignedZeroBlocksAsHoles) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  // Data, 1 MiB of zeros starting mid-block, data: the aligned zero blocks
  // become holes, the partial ones are written.
  const std::string bytes = std::string(1000, 'd') + std::string(1 << 20, '\0') + std::string(1000, 'e');
  ASSERT_TRUE(PutBytes(*oss_, kAlice, "alice-bucket", "mixed", bytes).ok());
  const std::string path = dir_ + "/alice-bucket/mixed";
  EXPECT_EQ(*ReadFileToString(path), bytes);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{16} << 10);
}

TEST_F(FsObjectStoreTest, PutFileTakesTheFileItselfHolesAndAll) {
  ASSERT_TRUE(oss_->CreateBucket(kAlice, "alice-bucket").ok());
  const std::string path = dir_ + "/scratch.raw";
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::ftruncate(fd.get(), 64 << 20), 0);
    ASSERT_EQ(::pwrite(fd.get(), "data", 4, 32 << 20), 4);
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(oss_->PutFile(kAlice, "alice-bucket", "disk.raw", fd.get(), {}).ok());
  ASSERT_EQ(::unlink(path.c_str()), 0);  // the scratch name goes; the object stays
  struct stat st {};
  ASSERT_EQ(::stat((dir_ + "/alice-bucket/disk.raw").c_str(), &st), 0);
  struct stat scratch {};
  ASSERT_EQ(::fstat(fd.get(), &scratch), 0);
  EXPECT_EQ(st.st_ino, scratch.st_ino) << "published without a copy";
  EXPECT_EQ(st.st_size, 64 << 20);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, uint64_t{1} << 20);
  Result<ObjectInfo> info = oss_->HeadObject(kAlice, "alice-bucket", "disk.raw");
  ASSERT_TRUE(info.ok());
  // Its metadata matches the published inode (else it would read as a file
  // placed by hand, without a CRC-64), and only its one data part was read.
  EXPECT_TRUE(info->crc64.has_value());
  EXPECT_TRUE(info->etag.ends_with("-8\"")) << info->etag;
}

}  // namespace
}  // namespace ferry
