// The ObjectStore contract: every backend runs these cases (typed tests;
// add a backend to `Backends` below). What is specific to the file-system
// backend (its layout, legacy files, symlinks planted on disk, offset
// uploads) is in fs_object_store_test.cc.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crc64.h"
#include "common/hash.h"
#include "common/ids.h"
#include "objects/fs_object_store.h"
#include "objects/s3_object_store.h"
#include "store/chunk_id.h"
#include "store/fs_chunk_store.h"
#include "store/s3_client.h"
#include "unit/store/throwaway_ceph.h"

namespace ferry {
namespace {

constexpr const char* kRoot = "1000000000000001";
constexpr const char* kAlice = "2000000000000002";
constexpr const char* kBob = "3000000000000003";
constexpr UnixSeconds kT0 = 1765000000;

class TestClock final : public Clock {
 public:
  UnixSeconds Now() const override { return now.load(); }
  std::chrono::steady_clock::time_point Steady() const override { return std::chrono::steady_clock::now(); }
  std::atomic<UnixSeconds> now{kT0};
};

std::span<const uint8_t> Bytes(const std::string& s) {
  return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// What a client may send as an ETag in CompleteMultipartUpload.
std::string NormalizeForTest(const std::string& etag) {
  std::string out;
  for (char c : etag) {
    if (c != '"') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

struct FsBackend {
  // OSS's longest key.
  static size_t LongestKey(const std::string& /*dir*/) { return 1023; }
  static constexpr bool kCopiesOut = false;  // readers get the object's own file
  static std::unique_ptr<ObjectStore> Open(const std::string& dir, const Clock& clock) {
    return std::make_unique<FsObjectStore>(dir, kRoot, clock);
  }
};

// The region's S3 store on a throwaway Ceph (one cluster and one bucket
// for the process; each test's store under a prefix of its own, named after
// its folder, so that a Reopen finds the same objects).
struct S3Backend {
  static constexpr bool kCopiesOut = true;  // readers get a copy of what they asked for
  // Ceph's gateway takes keys of 1024 bytes at most, the store's prefix
  // ("<test>/oss/o/alice-b/") included.
  static size_t LongestKey(const std::string& dir) {
    return 1024 - (std::filesystem::path(dir).filename().string() + "/oss/o/alice-b/").size();
  }
  static std::unique_ptr<ObjectStore> Open(const std::string& dir, const Clock& clock) {
    std::unique_ptr<S3Client> client = Client(dir);
    if (!client) return nullptr;
    return std::make_unique<S3ObjectStore>(std::shared_ptr<S3Client>(std::move(client)), dir, clock);
  }
  // A client of the store's own location, to look at (and break) its keys.
  static std::unique_ptr<S3Client> Client(const std::string& dir) {
    static ThrowawayCeph ceph;
    static const S3Location bucket = ceph.NewBucket();
    S3Location loc = bucket;
    loc.prefix = std::filesystem::path(dir).filename().string() + "/";
    Result<std::unique_ptr<S3Client>> client = S3Client::Open(loc, ceph.credentials());
    if (!client.ok()) {
      ADD_FAILURE() << client.status().ToString();
      return nullptr;
    }
    return std::move(*client);
  }
};

// What a region gives an S3 store to keep parts of up to 4 MiB as chunks
// (PartChunks, src/region/part_chunks.h), over a chunk store in the test's
// folder. The region's pins and garbage collection are its own tests'
// (tests/integration/part_chunks_test.cc); here every contract holds with
// parts kept so.
class FolderPartChunks final : public PartChunks {
 public:
  explicit FolderPartChunks(std::unique_ptr<FsChunkStore> store) : store_(std::move(store)) {}
  uint64_t max_part_bytes() const override { return uint64_t{4} << 20; }
  Result<Digest256> Keep(const std::string& account_id, std::span<const uint8_t> bytes,
                         const std::function<Status(const Digest256&)>& root) override {
    const ChunkScope scope = AccountChunkScope(account_id);
    const ChunkId id = ComputeChunkId(&scope, bytes);
    RETURN_IF_ERROR(store_->Put(&scope, id, bytes));
    RETURN_IF_ERROR(root(id));
    return id;
  }
  Result<std::vector<uint8_t>> Read(const Digest256& id) override { return store_->Get(id); }

 private:
  std::unique_ptr<FsChunkStore> store_;
};

struct S3ChunkPartsBackend : S3Backend {
  static std::unique_ptr<ObjectStore> Open(const std::string& dir, const Clock& clock) {
    std::unique_ptr<ObjectStore> store = S3Backend::Open(dir, clock);
    Result<std::unique_ptr<FsChunkStore>> chunks = FsChunkStore::Open(dir + "/part-chunks");
    if (!store || !chunks.ok()) {
      ADD_FAILURE() << (chunks.ok() ? "no S3 store" : chunks.status().ToString());
      return nullptr;
    }
    store->SetPartChunks(std::make_shared<FolderPartChunks>(std::move(*chunks)));
    return store;
  }
};

template <typename Backend>
class ObjectStoreContract : public ::testing::Test {
 protected:
  void SetUp() override {
    // tmpfs where there is one: the suite commits thousands of objects, and
    // each commit's fsyncs cost a disk flush elsewhere.
    const bool shm = ::access("/dev/shm", W_OK) == 0;
    dir_ = (shm ? std::string("/dev/shm") : ::testing::TempDir()) + "/objects-contract-" + RandomHex(6);
    std::filesystem::create_directories(dir_);
    store_ = Backend::Open(dir_, clock_);
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->CreateBucket(kAlice, "alice-b").ok());
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Reopen() {
    store_.reset();
    store_ = Backend::Open(dir_, clock_);
  }

  Result<ObjectInfo> Put(const std::string& key, const std::string& data, PutOptions options = {},
                         const std::string& account = kAlice, const std::string& bucket = "alice-b") {
    ASSIGN_OR_RETURN(std::unique_ptr<ObjectPutWriter> w, store_->PutObject(account, bucket, key, options));
    // In pieces, as a streaming body arrives.
    for (size_t at = 0; at < data.size(); at += 7) {
      RETURN_IF_ERROR(w->Write(Bytes(data.substr(at, 7))));
    }
    return w->Commit();
  }

  Result<std::string> Get(const std::string& key, const std::string& account = kAlice,
                          const std::string& bucket = "alice-b") {
    ASSIGN_OR_RETURN(OpenObject o, store_->OpenForRead(account, bucket, key));
    std::string out(o.info.size, '\0');
    if (!out.empty())
      RETURN_IF_ERROR(PreadFull(o.fd.get(), reinterpret_cast<uint8_t*>(out.data()), out.size(), 0, key));
    return out;
  }

  std::vector<std::string> Keys(const ListObjectsResult& r) {
    std::vector<std::string> keys;
    for (const ObjectInfo& o : r.contents) keys.push_back(o.key);
    return keys;
  }

  // Parts 1..n; each declares its size (as a Content-Length does) unless
  // `declare` is false.
  Result<std::string> UploadWithParts(const std::string& key, const std::vector<std::string>& parts,
                                      std::vector<CompletePart>* listed, PutOptions options = {},
                                      bool declare = true) {
    ASSIGN_OR_RETURN(std::string id, store_->InitiateMultipart(kAlice, "alice-b", key, options));
    for (size_t i = 0; i < parts.size(); ++i) {
      ASSIGN_OR_RETURN(std::unique_ptr<PartWriter> w,
                       store_->UploadPart(kAlice, "alice-b", key, id, static_cast<uint32_t>(i + 1), std::nullopt,
                                          declare ? std::optional<uint64_t>(parts[i].size()) : std::nullopt));
      RETURN_IF_ERROR(w->Write(Bytes(parts[i])));
      ASSIGN_OR_RETURN(PartInfo p, w->Commit());
      listed->push_back({p.part_number, p.etag});
    }
    return id;
  }

  TestClock clock_;
  std::string dir_;
  std::unique_ptr<ObjectStore> store_;
};

using Backends = ::testing::Types<FsBackend, S3Backend, S3ChunkPartsBackend>;
TYPED_TEST_SUITE(ObjectStoreContract, Backends);

// ------------------------------------------------------------------ buckets

TYPED_TEST(ObjectStoreContract, BucketsBelongToTheirCreator) {
  auto& s = *this->store_;
  EXPECT_TRUE(s.CreateBucket(kAlice, "alice-b").ok()) << "creating your own bucket again is fine";
  EXPECT_EQ(s.CreateBucket(kBob, "alice-b").reason(), "BucketAlreadyExists");
  Result<BucketInfo> info = s.GetBucket(kAlice, "alice-b");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->owner_account_id, kAlice);
  EXPECT_GT(info->creation_time, 0);
  // Another account's bucket looks like no bucket at all.
  EXPECT_EQ(s.GetBucket(kBob, "alice-b").status().reason(), "NoSuchBucket");
  EXPECT_EQ(s.GetBucket(kAlice, "nope-bucket").status().reason(), "NoSuchBucket");
  for (const std::string& bad :
       std::vector<std::string>{"ab", "-ab", "ab-", "Upper", "a_b", "a.b", std::string(64, 'a')}) {
    EXPECT_EQ(s.CreateBucket(kAlice, bad).reason(), "InvalidBucketName") << bad;
  }
}

TYPED_TEST(ObjectStoreContract, ListBucketsShowsTheAccountsOwnInPages) {
  auto& s = *this->store_;
  for (const char* b : {"alice-c", "alice-a", "other-x"}) ASSERT_TRUE(s.CreateBucket(kAlice, b).ok());
  ASSERT_TRUE(s.CreateBucket(kBob, "bob-b").ok());
  ListBucketsRequest all;
  Result<ListBucketsResult> r = s.ListBuckets(kAlice, all);
  ASSERT_TRUE(r.ok());
  std::vector<std::string> names;
  for (const BucketInfo& b : r->buckets) names.push_back(b.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alice-a", "alice-b", "alice-c", "other-x"}));
  EXPECT_FALSE(r->truncated);

  ListBucketsRequest page;
  page.prefix = "alice-";
  page.max_keys = 2;
  r = s.ListBuckets(kAlice, page);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->buckets.size(), 2u);
  EXPECT_EQ(r->buckets[1].name, "alice-b");
  EXPECT_TRUE(r->truncated);
  EXPECT_EQ(r->next_marker, "alice-b");
  page.marker = r->next_marker;
  r = s.ListBuckets(kAlice, page);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->buckets.size(), 1u);
  EXPECT_EQ(r->buckets[0].name, "alice-c");
  EXPECT_FALSE(r->truncated);

  r = s.ListBuckets(kBob, all);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->buckets.size(), 1u);
  EXPECT_EQ(r->buckets[0].name, "bob-b");
  page.max_keys = 0;
  EXPECT_EQ(s.ListBuckets(kAlice, page).status().reason(), "InvalidArgument");
}

TYPED_TEST(ObjectStoreContract, DeleteBucketRefusesObjectsAndOpenUploads) {
  auto& s = *this->store_;
  ASSERT_TRUE(this->Put("dir/x", "data").ok());
  EXPECT_EQ(s.DeleteBucket(kAlice, "alice-b").reason(), "BucketNotEmpty");
  EXPECT_EQ(s.DeleteBucket(kBob, "alice-b").reason(), "NoSuchBucket");
  ASSERT_TRUE(s.DeleteObject(kAlice, "alice-b", "dir/x").ok());
  Result<std::string> id = s.InitiateMultipart(kAlice, "alice-b", "big", {});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(s.DeleteBucket(kAlice, "alice-b").reason(), "BucketNotEmpty");
  ASSERT_TRUE(s.AbortMultipart(kAlice, "alice-b", "big", *id).ok());
  ASSERT_TRUE(s.DeleteBucket(kAlice, "alice-b").ok());
  EXPECT_EQ(s.GetBucket(kAlice, "alice-b").status().reason(), "NoSuchBucket");
  // The name is free again, for anyone.
  EXPECT_TRUE(s.CreateBucket(kBob, "alice-b").ok());
}

// ------------------------------------------------------------------ objects

TYPED_TEST(ObjectStoreContract, PutStoresBytesAndMetadata) {
  const std::string data = "the quick brown fox jumps over the lazy dog, twice: the quick brown fox";
  PutOptions options;
  options.content_type = "application/x-raw-disk-image";
  options.user_meta = {{"origin", "ferry"}, {"disk-id", "d-1"}};
  options.expected_md5 = Md5::Of(std::string_view(data));
  Result<ObjectInfo> put = this->Put("images/disk.raw", data, options);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  const std::string etag = "\"" + ToUpperHex(Md5::Of(std::string_view(data))) + "\"";
  EXPECT_EQ(put->etag, etag);

  Result<ObjectInfo> head = this->store_->HeadObject(kAlice, "alice-b", "images/disk.raw");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->key, "images/disk.raw");
  EXPECT_EQ(head->size, data.size());
  EXPECT_EQ(head->etag, etag);
  EXPECT_EQ(head->crc64, Crc64(data));
  EXPECT_EQ(head->content_md5, Md5::Of(std::string_view(data)));
  EXPECT_EQ(head->content_type, "application/x-raw-disk-image");
  EXPECT_EQ(head->user_meta, options.user_meta);
  EXPECT_EQ(head->last_modified, kT0);
  EXPECT_EQ(head->type, ObjectType::kNormal);
  EXPECT_EQ(*this->Get("images/disk.raw"), data);

  // Defaults, and an empty object.
  ASSERT_TRUE(this->Put("empty", "").ok());
  head = this->store_->HeadObject(kAlice, "alice-b", "empty");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, 0u);
  EXPECT_EQ(head->content_type, "application/octet-stream");
  EXPECT_EQ(head->etag, "\"D41D8CD98F00B204E9800998ECF8427E\"");
  EXPECT_EQ(head->crc64, 0u);
}

TYPED_TEST(ObjectStoreContract, MetadataSurvivesReopen) {
  PutOptions options;
  options.content_type = "text/plain";
  options.user_meta = {{"a", "1"}};
  ASSERT_TRUE(this->Put("k", "payload", options).ok());
  std::vector<CompletePart> listed;
  Result<std::string> id = this->UploadWithParts("mp", {std::string(102400, 'a'), "tail"}, &listed);
  ASSERT_TRUE(id.ok());
  this->Reopen();
  Result<ObjectInfo> head = this->store_->HeadObject(kAlice, "alice-b", "k");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->content_type, "text/plain");
  EXPECT_EQ(head->user_meta, options.user_meta);
  EXPECT_EQ(head->crc64, Crc64("payload"));
  // An upload survives too, and completes after the reopen.
  Result<ObjectInfo> done = this->store_->CompleteMultipart(kAlice, "alice-b", "mp", *id, listed);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  this->Reopen();
  head = this->store_->HeadObject(kAlice, "alice-b", "mp");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->type, ObjectType::kMultipart);
  EXPECT_EQ(head->etag, done->etag);
}

TYPED_TEST(ObjectStoreContract, NothingIsVisibleBeforeCommit) {
  auto& s = *this->store_;
  {
    Result<std::unique_ptr<ObjectPutWriter>> w = s.PutObject(kAlice, "alice-b", "pending", {});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(Bytes("half")).ok());
    EXPECT_EQ(s.HeadObject(kAlice, "alice-b", "pending").status().reason(), "NoSuchKey");
    Result<ListObjectsResult> list = s.ListObjects(kAlice, "alice-b", {});
    ASSERT_TRUE(list.ok());
    EXPECT_TRUE(list->contents.empty());
  }  // abandoned: discarded
  EXPECT_EQ(s.HeadObject(kAlice, "alice-b", "pending").status().reason(), "NoSuchKey");
  Result<uint64_t> bytes = s.AccountObjectBytes(kAlice);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, 0u) << "an abandoned writer leaves nothing behind";
}

TYPED_TEST(ObjectStoreContract, AWrongContentMd5PublishesNothing) {
  ASSERT_TRUE(this->Put("k", "old bytes").ok());
  PutOptions options;
  options.expected_md5 = Md5::Of(std::string_view("something else"));
  Result<ObjectInfo> put = this->Put("k", "new bytes", options);
  EXPECT_EQ(put.status().reason(), "InvalidDigest");
  EXPECT_EQ(*this->Get("k"), "old bytes");
}

TYPED_TEST(ObjectStoreContract, ReplaceIsAtomicAndAnOpenReaderKeepsItsBytes) {
  ASSERT_TRUE(this->Put("k", "version one").ok());
  Result<OpenObject> reader = this->store_->OpenForRead(kAlice, "alice-b", "k");
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(this->Put("k", "version two, longer").ok());
  std::string old(reader->info.size, '\0');
  ASSERT_TRUE(PreadFull(reader->fd.get(), reinterpret_cast<uint8_t*>(old.data()), old.size(), 0, "k").ok());
  EXPECT_EQ(old, "version one");
  EXPECT_EQ(reader->info.crc64, Crc64("version one"));
  EXPECT_EQ(*this->Get("k"), "version two, longer");
}

TYPED_TEST(ObjectStoreContract, TwoWritersToOneKeyTheLastCommitWins) {
  auto& s = *this->store_;
  Result<std::unique_ptr<ObjectPutWriter>> a = s.PutObject(kAlice, "alice-b", "k", {});
  Result<std::unique_ptr<ObjectPutWriter>> b = s.PutObject(kAlice, "alice-b", "k", {});
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Write(Bytes("from a")).ok());
  ASSERT_TRUE((*b)->Write(Bytes("from b, which commits last")).ok());
  ASSERT_TRUE((*a)->Commit().ok());
  ASSERT_TRUE((*b)->Commit().ok());
  EXPECT_EQ(*this->Get("k"), "from b, which commits last");
  Result<ObjectInfo> head = s.HeadObject(kAlice, "alice-b", "k");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->crc64, Crc64("from b, which commits last")) << "metadata follows the last commit";
}

TYPED_TEST(ObjectStoreContract, ConcurrentWritersNeverShowAReaderAMixedObject) {
  auto& s = *this->store_;
  std::atomic<int> running{3};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 30; ++i) {
        std::string data(1000 + 97 * w + i, static_cast<char>('a' + w));
        Result<std::unique_ptr<ObjectPutWriter>> put = s.PutObject(kAlice, "alice-b", "hot", {});
        ASSERT_TRUE(put.ok());
        ASSERT_TRUE((*put)->Write(Bytes(data)).ok());
        ASSERT_TRUE((*put)->Commit().ok());
      }
      --running;
    });
  }
  int checked = 0;
  while (running > 0) {
    Result<OpenObject> o = s.OpenForRead(kAlice, "alice-b", "hot");
    if (!o.ok()) continue;
    std::string got(o->info.size, '\0');
    ASSERT_TRUE(PreadFull(o->fd.get(), reinterpret_cast<uint8_t*>(got.data()), got.size(), 0, "hot").ok());
    // Whole: one writer's bytes, and the metadata that describes them (or
    // none, never another writer's).
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got, std::string(got.size(), got[0]));
    if (o->info.crc64) {
      EXPECT_EQ(*o->info.crc64, Crc64(got));
    }
    ++checked;
  }
  for (std::thread& t : writers) t.join();
  Result<ObjectInfo> head = s.HeadObject(kAlice, "alice-b", "hot");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  std::string last = *this->Get("hot");
  EXPECT_EQ(head->crc64, Crc64(last)) << "after the writers, the metadata is the last commit's";
  (void)checked;  // how many reads overlapped the writers depends on scheduling
}

TYPED_TEST(ObjectStoreContract, LimitsAreCheckedWhileWriting) {
  PutOptions small;
  small.max_bytes = 10;
  Result<ObjectInfo> put = this->Put("k", "eleven byte", small);
  EXPECT_EQ(put.status().reason(), "EntityTooLarge");
  EXPECT_EQ(this->store_->HeadObject(kAlice, "alice-b", "k").status().reason(), "NoSuchKey");
  PutOptions meta;
  meta.user_meta["big"] = std::string(ObjectStore::kMaxUserMetaBytes, 'x');
  EXPECT_EQ(this->Put("k", "x", meta).status().reason(), "InvalidArgument");
  PutOptions bad_name;
  bad_name.user_meta["Bad Name"] = "x";
  EXPECT_EQ(this->Put("k", "x", bad_name).status().reason(), "InvalidArgument");
  PutOptions control;
  control.user_meta["ok"] = "line\nbreak";
  EXPECT_EQ(this->Put("k", "x", control).status().reason(), "InvalidArgument");
}

TYPED_TEST(ObjectStoreContract, HostileKeysAreRefusedEverywhere) {
  auto& s = *this->store_;
  const std::vector<std::string> bad = {"",
                                        "..",
                                        "../alice-b/k",
                                        "a/../b",
                                        "a//b",
                                        "./a",
                                        "/abs",
                                        "\\win",
                                        "ctl\x01",
                                        "new\nline",
                                        "del\x7f",
                                        ".ferry-owner",
                                        ".ferry-meta/x",
                                        ".uploads/x",
                                        "d/.ferry-x",
                                        "bad\xff",
                                        std::string(1024, 'k')};
  for (const std::string& key : bad) {
    EXPECT_EQ(s.PutObject(kAlice, "alice-b", key, {}).status().reason(), "InvalidObjectName") << key;
    EXPECT_EQ(s.HeadObject(kAlice, "alice-b", key).status().reason(), "InvalidObjectName") << key;
    EXPECT_EQ(s.DeleteObject(kAlice, "alice-b", key).reason(), "InvalidObjectName") << key;
    EXPECT_EQ(s.InitiateMultipart(kAlice, "alice-b", key, {}).status().reason(), "InvalidObjectName") << key;
  }
  const std::string longest = (std::string(255, 'k') + "/" + std::string(255, 'k') + "/" +
                               std::string(255, 'k') + "/" + std::string(255, 'k'))
                                  .substr(0, TypeParam::LongestKey(this->dir_));
  EXPECT_TRUE(this->Put(longest, "longest").ok());
  if (longest.size() < 1023) {
    // A backend with a shorter limit refuses longer keys as OSS would.
    EXPECT_EQ(this->Put(longest + "k", "x").status().reason(), "InvalidObjectName");
    EXPECT_EQ(s.HeadObject(kAlice, "alice-b", longest + "k").status().reason(), "NoSuchKey");
  }
  EXPECT_EQ(this->Put(std::string(256, 'k'), "x").status().reason(), "InvalidObjectName")
      << "a file name's limit";
  EXPECT_TRUE(this->Put("a..b/\xE4\xB8\xAD\xE6\x96\x87 \xC3\xA9t\xC3\xA9.raw", "utf-8").ok());
}

TYPED_TEST(ObjectStoreContract, AnotherAccountCanNeitherReadNorWrite) {
  auto& s = *this->store_;
  ASSERT_TRUE(this->Put("secret", "alice's").ok());
  EXPECT_EQ(s.HeadObject(kBob, "alice-b", "secret").status().reason(), "NoSuchBucket");
  EXPECT_EQ(s.OpenForRead(kBob, "alice-b", "secret").status().reason(), "NoSuchBucket");
  EXPECT_EQ(s.PutObject(kBob, "alice-b", "planted", {}).status().reason(), "NoSuchBucket");
  EXPECT_EQ(s.DeleteObject(kBob, "alice-b", "secret").reason(), "NoSuchBucket");
  EXPECT_EQ(s.ListObjects(kBob, "alice-b", {}).status().reason(), "NoSuchBucket");
  EXPECT_EQ(s.InitiateMultipart(kBob, "alice-b", "x", {}).status().reason(), "NoSuchBucket");
  EXPECT_EQ(s.ListUploads(kBob, "alice-b", {}).status().reason(), "NoSuchBucket");
  Result<std::string> id = s.InitiateMultipart(kAlice, "alice-b", "x", {});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(s.UploadPart(kBob, "alice-b", "x", *id, 1, std::nullopt).status().reason(), "NoSuchBucket");
  EXPECT_EQ(s.AbortMultipart(kBob, "alice-b", "x", *id).reason(), "NoSuchBucket");
  EXPECT_EQ(s.SetStaging(kBob, "alice-b", "secret", true).reason(), "NoSuchBucket");
  EXPECT_EQ(*this->Get("secret"), "alice's");
}

TYPED_TEST(ObjectStoreContract, DeleteIsQuietForMissingKeys) {
  auto& s = *this->store_;
  ASSERT_TRUE(this->Put("a/b/c", "x").ok());
  ASSERT_TRUE(this->Put("d", "y").ok());
  EXPECT_TRUE(s.DeleteObject(kAlice, "alice-b", "never-was").ok());
  ASSERT_TRUE(s.DeleteObject(kAlice, "alice-b", "a/b/c").ok());
  EXPECT_EQ(s.HeadObject(kAlice, "alice-b", "a/b/c").status().reason(), "NoSuchKey");
  // The folders it needed are gone: "a" can be a key now.
  EXPECT_TRUE(this->Put("a", "z").ok());
  ASSERT_TRUE(s.DeleteObjects(kAlice, "alice-b", {"a", "d", "missing"}).ok());
  Result<ListObjectsResult> list = s.ListObjects(kAlice, "alice-b", {});
  ASSERT_TRUE(list.ok());
  EXPECT_TRUE(list->contents.empty());
  EXPECT_EQ(s.DeleteObject(kAlice, "nope-bucket", "k").reason(), "NoSuchBucket");
}

// ------------------------------------------------------------------ listing

TYPED_TEST(ObjectStoreContract, ListingFollowsPrefixDelimiterAndMarker) {
  auto& s = *this->store_;
  const std::vector<std::string> keys = {
      "a-1",           "a/b/c",     "a/b/d", "a/x", "a0", "b", "photos/2026/01/x.jpg", "photos/2026/02/y.jpg",
      "photos/readme", "z\xC3\xA9", "zz"};
  for (const std::string& k : keys) ASSERT_TRUE(this->Put(k, "v:" + k).ok()) << k;

  Result<ListObjectsResult> all = s.ListObjects(kAlice, "alice-b", {});
  ASSERT_TRUE(all.ok());
  // UTF-8 byte order: '-' < '/' < '0', and "zz" < "z\xC3\xA9" (0x7A < 0xC3).
  EXPECT_EQ(this->Keys(*all),
            (std::vector<std::string>{"a-1", "a/b/c", "a/b/d", "a/x", "a0", "b", "photos/2026/01/x.jpg",
                                      "photos/2026/02/y.jpg", "photos/readme", "zz", "z\xC3\xA9"}));
  EXPECT_FALSE(all->truncated);
  EXPECT_EQ(all->contents[0].size, 5u);
  EXPECT_EQ(all->contents[0].etag, QuotedMd5Etag(Md5::Of(std::string_view("v:a-1"))));

  ListObjectsRequest r;
  r.delimiter = "/";
  Result<ListObjectsResult> top = s.ListObjects(kAlice, "alice-b", r);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(this->Keys(*top), (std::vector<std::string>{"a-1", "a0", "b", "zz", "z\xC3\xA9"}));
  EXPECT_EQ(top->common_prefixes, (std::vector<std::string>{"a/", "photos/"}));

  r.prefix = "photos/";
  Result<ListObjectsResult> photos = s.ListObjects(kAlice, "alice-b", r);
  ASSERT_TRUE(photos.ok());
  EXPECT_EQ(this->Keys(*photos), (std::vector<std::string>{"photos/readme"}));
  EXPECT_EQ(photos->common_prefixes, (std::vector<std::string>{"photos/2026/"}));

  // A prefix that is not a folder boundary.
  r.prefix = "a";
  Result<ListObjectsResult> a = s.ListObjects(kAlice, "alice-b", r);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(this->Keys(*a), (std::vector<std::string>{"a-1", "a0"}));
  EXPECT_EQ(a->common_prefixes, (std::vector<std::string>{"a/"}));

  // Common prefixes count toward max-keys; the next marker is the last
  // item returned, a prefix included, and that prefix is not repeated.
  ListObjectsRequest paged;
  paged.delimiter = "/";
  paged.max_keys = 2;
  Result<ListObjectsResult> p1 = s.ListObjects(kAlice, "alice-b", paged);
  ASSERT_TRUE(p1.ok());
  EXPECT_EQ(this->Keys(*p1), (std::vector<std::string>{"a-1"}));
  EXPECT_EQ(p1->common_prefixes, (std::vector<std::string>{"a/"}));
  EXPECT_TRUE(p1->truncated);
  EXPECT_EQ(p1->next_marker, "a/");
  paged.marker = p1->next_marker;
  Result<ListObjectsResult> p2 = s.ListObjects(kAlice, "alice-b", paged);
  ASSERT_TRUE(p2.ok());
  EXPECT_EQ(this->Keys(*p2), (std::vector<std::string>{"a0", "b"}));
  EXPECT_TRUE(p2->common_prefixes.empty());
  EXPECT_EQ(p2->next_marker, "b");

  // A marker inside a folder, a marker that is no key, another delimiter.
  ListObjectsRequest m;
  m.marker = "a/b/c";
  Result<ListObjectsResult> after = s.ListObjects(kAlice, "alice-b", m);
  ASSERT_TRUE(after.ok());
  ASSERT_GE(after->contents.size(), 2u);
  EXPECT_EQ(after->contents[0].key, "a/b/d");
  m.marker = "photos/2026/01/zzz";
  after = s.ListObjects(kAlice, "alice-b", m);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->contents[0].key, "photos/2026/02/y.jpg");
  ListObjectsRequest dash;
  dash.delimiter = "-";
  Result<ListObjectsResult> d = s.ListObjects(kAlice, "alice-b", dash);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->common_prefixes, (std::vector<std::string>{"a-"}));
  EXPECT_EQ(d->contents.size(), keys.size() - 1);

  ListObjectsRequest bad;
  bad.max_keys = 0;
  EXPECT_EQ(s.ListObjects(kAlice, "alice-b", bad).status().reason(), "InvalidArgument");
  bad.max_keys = 1001;
  EXPECT_EQ(s.ListObjects(kAlice, "alice-b", bad).status().reason(), "InvalidArgument");
  EXPECT_EQ(s.ListObjects(kAlice, "nope-bucket", {}).status().reason(), "NoSuchBucket");
}

TYPED_TEST(ObjectStoreContract, PagingThroughTwoThousandFiveHundredKeys) {
  auto& s = *this->store_;
  std::vector<std::string> expected;
  for (int i = 0; i < 2500; ++i) {
    // Half flat, half in ten folders, so pages cross folder boundaries.
    std::string key = (i % 2 == 0) ? "k" + std::to_string(i)
                                   : "d" + std::to_string((i / 2) % 10) + "/k" + std::to_string(i);
    ASSERT_TRUE(this->Put(key, "").ok());
    expected.push_back(key);
  }
  std::sort(expected.begin(), expected.end());
  std::vector<std::string> seen;
  ListObjectsRequest r;
  r.max_keys = 1000;
  int pages = 0;
  while (true) {
    Result<ListObjectsResult> page = s.ListObjects(kAlice, "alice-b", r);
    ASSERT_TRUE(page.ok());
    ++pages;
    for (const ObjectInfo& o : page->contents) seen.push_back(o.key);
    if (!page->truncated) break;
    ASSERT_EQ(page->contents.size(), 1000u);
    r.marker = page->next_marker;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, expected);

  // With a delimiter: the ten folders are ten prefixes among the keys.
  ListObjectsRequest grouped;
  grouped.delimiter = "/";
  grouped.max_keys = 1000;
  size_t keys = 0, prefixes = 0;
  while (true) {
    Result<ListObjectsResult> page = s.ListObjects(kAlice, "alice-b", grouped);
    ASSERT_TRUE(page.ok());
    keys += page->contents.size();
    prefixes += page->common_prefixes.size();
    if (!page->truncated) break;
    grouped.marker = page->next_marker;
  }
  EXPECT_EQ(keys, 1250u);
  EXPECT_EQ(prefixes, 10u);
}

// A ranged read holds the range's bytes at their offsets; a backend that
// copies objects out fetches no others (a 16 MiB download of a 1 GiB
// object must not move the gigabyte).
TYPED_TEST(ObjectStoreContract, ARangeReadHoldsItsBytesAtTheirOffsets) {
  std::string data(4 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  ASSERT_TRUE(this->Put("big", data).ok());
  const uint64_t offset = (1 << 20) + 4096, length = 64 * 1024;
  Result<OpenObject> part = this->store_->OpenRangeForRead(
      kAlice, "alice-b", "big", [&](const ObjectInfo& info) -> Result<ObjectStore::ByteRange> {
        EXPECT_EQ(info.size, data.size());
        return ObjectStore::ByteRange{offset, length};
      });
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(part->info.size, data.size());
  std::string got(length, '\0');
  ASSERT_TRUE(PreadFull(part->fd.get(), reinterpret_cast<uint8_t*>(got.data()), length, offset, "big").ok());
  EXPECT_TRUE(got == data.substr(offset, length));
  if (TypeParam::kCopiesOut) {
    struct stat st {};
    ASSERT_EQ(::fstat(part->fd.get(), &st), 0);
    EXPECT_LE(static_cast<uint64_t>(st.st_blocks) * 512, length + 8192) << "only the range was fetched";
  }
  // The picker's error is the read's.
  Result<OpenObject> refused = this->store_->OpenRangeForRead(
      kAlice, "alice-b", "big", [](const ObjectInfo&) -> Result<ObjectStore::ByteRange> {
        return InvalidArgument("InvalidRange", "no");
      });
  EXPECT_EQ(refused.status().reason(), "InvalidRange");
  EXPECT_EQ(*this->store_->ObjectStoredBytes(kAlice, "alice-b", "big") >= data.size() - 4096, true);
}

// ---------------------------------------------------------------- multipart

// Bytes that differ from part to part and offset to offset.
std::string Pattern(size_t n, int seed) {
  std::string d(n, '\0');
  for (size_t i = 0; i < n; ++i) d[i] = static_cast<char>('a' + (i * 13 + i / 4096 + seed) % 26);
  return d;
}

TYPED_TEST(ObjectStoreContract, AMultipartObjectIsReadWholeAndInRangesAcrossItsParts) {
  auto& s = *this->store_;
  const std::string p1 = Pattern(200000, 1), p3 = Pattern(150000, 2), p4 = Pattern(1000, 3);
  const uint64_t zeros = 300000;
  Result<std::string> id = s.InitiateMultipart(kAlice, "alice-b", "parted", {});
  ASSERT_TRUE(id.ok());
  std::vector<CompletePart> listed;
  auto upload = [&](uint32_t n, const std::string& data) {
    Result<std::unique_ptr<PartWriter>> w = s.UploadPart(kAlice, "alice-b", "parted", *id, n, std::nullopt);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(Bytes(data)).ok());
    Result<PartInfo> p = (*w)->Commit();
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    listed.push_back({n, p->etag});
  };
  upload(1, p1);
  Result<PartInfo> zero = s.UploadZeroPart(kAlice, "alice-b", "parted", *id, 2, zeros, std::nullopt);
  ASSERT_TRUE(zero.ok()) << zero.status().ToString();
  listed.push_back({2, zero->etag});
  upload(3, p3);
  upload(4, p4);
  Result<ObjectInfo> done = s.CompleteMultipart(kAlice, "alice-b", "parted", *id, listed);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  const std::string whole = p1 + std::string(zeros, '\0') + p3 + p4;
  EXPECT_EQ(done->size, whole.size());
  EXPECT_EQ(done->crc64, Crc64Update(0, Bytes(whole)));
  Result<std::string> got = this->Get("parted");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(*got == whole) << "the whole object";
  EXPECT_EQ(s.HeadObject(kAlice, "alice-b", "parted")->size, whole.size());
  // Ranges inside one part, across a part of zeros, across the last parts.
  for (const std::pair<uint64_t, uint64_t>& range :
       std::vector<std::pair<uint64_t, uint64_t>>{{10, 20},
                                                  {199990, 20},
                                                  {199990, 300020},
                                                  {250000, 10},
                                                  {350000, 100000},
                                                  {649990, 1010},
                                                  {0, whole.size()}}) {
    const uint64_t offset = range.first, length = range.second;
    Result<OpenObject> r = s.OpenRangeForRead(kAlice, "alice-b", "parted",
                                              [&](const ObjectInfo&) -> Result<ObjectStore::ByteRange> {
                                                return ObjectStore::ByteRange{offset, length};
                                              });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::string bytes(length, '\0');
    ASSERT_TRUE(PreadFull(r->fd.get(), reinterpret_cast<uint8_t*>(bytes.data()), length, offset, "r").ok());
    EXPECT_TRUE(bytes == whole.substr(offset, length)) << offset << "+" << length;
  }
  // The zeros take no room.
  Result<uint64_t> stored = s.ObjectStoredBytes(kAlice, "alice-b", "parted");
  ASSERT_TRUE(stored.ok());
  EXPECT_LE(*stored, whole.size() - 250000);
}

TYPED_TEST(ObjectStoreContract, ReplacingOrDeletingAPartedObjectGivesItsBytesBack) {
  auto& s = *this->store_;
  const uint64_t before = *s.AccountObjectBytes(kAlice);
  auto complete = [&](const std::string& key) {
    std::vector<CompletePart> listed;
    Result<std::string> id = this->UploadWithParts(key, {Pattern(200000, 4), Pattern(150000, 5)}, &listed);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    ASSERT_TRUE(s.CompleteMultipart(kAlice, "alice-b", key, *id, listed).ok());
  };
  complete("mp");
  EXPECT_GE(*s.AccountObjectBytes(kAlice), before + 350000);
  ASSERT_TRUE(this->Put("mp", "small").ok());
  EXPECT_LT(*s.AccountObjectBytes(kAlice), before + 100000) << "a put over it frees its parts";
  EXPECT_EQ(*this->Get("mp"), "small");
  complete("mp");
  complete("mp");  // one completed over another
  EXPECT_LT(*s.AccountObjectBytes(kAlice), before + 2 * 350000);
  ASSERT_TRUE(s.DeleteObject(kAlice, "alice-b", "mp").ok());
  EXPECT_EQ(*s.AccountObjectBytes(kAlice), before) << "deleting it frees its parts";

  // A large file with holes (an export), replaced and deleted.
  const std::string path = this->dir_ + "/export.raw";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  ASSERT_TRUE(fd.valid());
  const std::string data = Pattern(3 << 20, 6);
  ASSERT_TRUE(
      PwriteFull(fd.get(), reinterpret_cast<const uint8_t*>(data.data()), data.size(), 20 << 20, path).ok());
  ASSERT_EQ(::ftruncate(fd.get(), 40 << 20), 0);
  Result<ObjectInfo> put = s.PutFile(kAlice, "alice-b", "export.raw", fd.get(), {});
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  Result<std::string> back = this->Get("export.raw");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  std::string expected(40 << 20, '\0');
  expected.replace(20 << 20, data.size(), data);
  EXPECT_TRUE(*back == expected);
  EXPECT_LT(*s.ObjectStoredBytes(kAlice, "alice-b", "export.raw"), uint64_t{20} << 20)
      << "holes are not stored";
  Result<ObjectInfo> again = s.PutFile(kAlice, "alice-b", "export.raw", fd.get(), {});
  ASSERT_TRUE(again.ok());
  EXPECT_LT(*s.AccountObjectBytes(kAlice), before + (uint64_t{20} << 20)) << "the first one's parts went";
  ASSERT_TRUE(s.DeleteObject(kAlice, "alice-b", "export.raw").ok());
  EXPECT_EQ(*s.AccountObjectBytes(kAlice), before);
}

TYPED_TEST(ObjectStoreContract, MultipartAssemblesPartsWithCombinedChecksums) {
  auto& s = *this->store_;
  PutOptions options;
  options.content_type = "application/x-qcow2";
  options.user_meta = {{"k", "v"}};
  Result<std::string> id = s.InitiateMultipart(kAlice, "alice-b", "disk.qcow2", options);
  ASSERT_TRUE(id.ok());
  const std::string p1(150000, 'x'), p2(102400, '\0'), p3 = "the end";
  // Out of order, and part 2 first sent wrong, then re-sent.
  auto upload = [&](uint32_t n, const std::string& data) -> Result<PartInfo> {
    ASSIGN_OR_RETURN(std::unique_ptr<PartWriter> w,
                     s.UploadPart(kAlice, "alice-b", "disk.qcow2", *id, n, std::nullopt));
    RETURN_IF_ERROR(w->Write(Bytes(data)));
    return w->Commit();
  };
  Result<PartInfo> r3 = upload(3, p3);
  Result<PartInfo> r2 = upload(2, std::string(102400, 'w'));
  Result<PartInfo> r1 = upload(1, p1);
  ASSERT_TRUE(r1.ok() && r2.ok() && r3.ok());
  r2 = upload(2, p2);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->etag, QuotedMd5Etag(Md5::Of(std::string_view(p2))));
  EXPECT_EQ(r2->crc64, Crc64(p2));
  EXPECT_EQ(r2->size, p2.size());

  Result<ListPartsResult> parts = s.ListParts(kAlice, "alice-b", "disk.qcow2", *id, {});
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->parts.size(), 3u);
  EXPECT_EQ(parts->parts[1].etag, r2->etag) << "the re-sent part replaced the first";
  // Objects are not visible before completion.
  EXPECT_EQ(s.HeadObject(kAlice, "alice-b", "disk.qcow2").status().reason(), "NoSuchKey");

  std::vector<CompletePart> list = {{1, r1->etag}, {2, r2->etag}, {3, r3->etag}};
  // ETags compare without quotes and case.
  list[2].etag = NormalizeForTest(r3->etag);
  Result<ObjectInfo> done = s.CompleteMultipart(kAlice, "alice-b", "disk.qcow2", *id, list);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  const std::string all = p1 + p2 + p3;
  EXPECT_EQ(done->size, all.size());
  EXPECT_EQ(done->crc64, Crc64(all));
  EXPECT_EQ(done->etag, MultipartEtag({Md5::Of(std::string_view(p1)), Md5::Of(std::string_view(p2)),
                                       Md5::Of(std::string_view(p3))}));
  EXPECT_NE(done->etag.find("-3\""), std::string::npos) << done->etag;
  EXPECT_EQ(done->type, ObjectType::kMultipart);
  EXPECT_FALSE(done->content_md5.has_value());
  Result<ObjectInfo> head = s.HeadObject(kAlice, "alice-b", "disk.qcow2");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->content_type, "application/x-qcow2");
  EXPECT_EQ(head->user_meta, options.user_meta);
  EXPECT_EQ(head->etag, done->etag);
  EXPECT_EQ(*this->Get("disk.qcow2"), all);
  // The upload is gone.
  EXPECT_EQ(s.ListParts(kAlice, "alice-b", "disk.qcow2", *id, {}).status().reason(), "NoSuchUpload");
  EXPECT_EQ(s.CompleteMultipart(kAlice, "alice-b", "disk.qcow2", *id, list).status().reason(),
            "NoSuchUpload");
}

TYPED_TEST(ObjectStoreContract, CompleteChecksThePartList) {
  auto& s = *this->store_;
  std::vector<CompletePart> listed;
  const std::string big(102400, 'b');
  Result<std::string> id = this->UploadWithParts("k", {big, "small", big, "last"}, &listed);
  ASSERT_TRUE(id.ok());
  auto complete = [&](std::vector<CompletePart> parts) {
    return s.CompleteMultipart(kAlice, "alice-b", "k", *id, parts).status().reason();
  };
  EXPECT_EQ(complete({listed[1], listed[0]}), "InvalidPartOrder");
  EXPECT_EQ(complete({listed[0], listed[0]}), "InvalidPartOrder");
  EXPECT_EQ(complete({listed[0], {2, listed[0].etag}}), "InvalidPart") << "wrong ETag";
  EXPECT_EQ(complete({listed[0], {9, listed[0].etag}}), "InvalidPart") << "never uploaded";
  EXPECT_EQ(complete({listed[0], listed[1], listed[2]}), "EntityTooSmall") << "a small part not last";
  EXPECT_EQ(complete({}), "InvalidArgument");
  EXPECT_EQ(s.CompleteMultipart(kAlice, "alice-b", "k", "0123456789ABCDEF0123456789ABCDEF", listed)
                .status()
                .reason(),
            "NoSuchUpload");
  EXPECT_EQ(s.CompleteMultipart(kAlice, "alice-b", "other-key", *id, listed).status().reason(),
            "NoSuchUpload");
  // Unlisted parts (2 and 4) are dropped; a small last part is fine.
  Result<ObjectInfo> done = s.CompleteMultipart(kAlice, "alice-b", "k", *id, {listed[0], listed[2]});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(*this->Get("k"), big + big);
  EXPECT_EQ(done->crc64, Crc64(big + big));
}

TYPED_TEST(ObjectStoreContract, PutFilePublishesASparseFileWithItsDigests) {
  auto& s = *this->store_;
  const std::string path = this->dir_ + "/export.raw";
  const std::string head = "disk head", tail = "disk tail";
  const uint64_t kPart = PutFilePartBytes(0);
  ASSERT_EQ(kPart, uint64_t{8} << 20);
  // Three parts: data, a hole, data at the very end (a short last part).
  const uint64_t kSize = 2 * kPart + (4 << 20);
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(kSize)), 0);
    ASSERT_EQ(::pwrite(fd.get(), head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
    ASSERT_EQ(::pwrite(fd.get(), tail.data(), tail.size(), static_cast<off_t>(kSize - tail.size())),
              static_cast<ssize_t>(tail.size()));
  }
  const std::string all = head + std::string(kSize - head.size() - tail.size(), '\0') + tail;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  PutOptions options;
  options.content_type = "application/x-raw-disk-image";
  Result<ObjectInfo> put = s.PutFile(kAlice, "alice-b", "exports/disk.raw", fd.get(), options);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->size, kSize);
  // The multipart ETag over PutFileParts, computed here from the bytes: the
  // MiB holding the head, the 18 MiB hole as 16 + 2 MiB, the MiB holding the tail.
  Result<std::vector<FilePart>> layout = PutFileParts(fd.get(), kSize);
  ASSERT_TRUE(layout.ok()) << layout.status().ToString();
  const std::vector<uint64_t> want_mib = {1, 16, 2, 1};
  ASSERT_EQ(layout->size(), want_mib.size());
  std::vector<Md5Digest> parts;
  uint64_t at = 0;
  for (size_t i = 0; i < layout->size(); ++i) {
    const FilePart& p = (*layout)[i];
    EXPECT_EQ(p.offset, at) << i;
    EXPECT_EQ(p.length, want_mib[i] << 20) << i;
    EXPECT_EQ(p.hole, i == 1 || i == 2) << i;
    parts.push_back(Md5::Of(std::string_view(all).substr(p.offset, p.length)));
    at += p.length;
  }
  EXPECT_EQ(put->etag, MultipartEtag(parts));
  EXPECT_TRUE(put->etag.ends_with("-4\"")) << put->etag;
  EXPECT_EQ(put->crc64, Crc64(all));
  Result<ObjectInfo> head_info = s.HeadObject(kAlice, "alice-b", "exports/disk.raw");
  ASSERT_TRUE(head_info.ok());
  EXPECT_EQ(head_info->etag, put->etag);
  EXPECT_EQ(head_info->content_type, "application/x-raw-disk-image");
  EXPECT_EQ(*this->Get("exports/disk.raw"), all);
  // With the MD5 named, the whole file's MD5 is checked and is the ETag.
  const std::string again = this->dir_ + "/again.raw";
  ASSERT_EQ(std::system(("cp --sparse=always " + path + " " + again).c_str()), 0);
  UniqueFd again_fd(::open(again.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(again_fd.valid());
  PutOptions wrong;
  wrong.expected_md5 = Md5::Of(std::string_view("something else"));
  EXPECT_EQ(s.PutFile(kAlice, "alice-b", "named", again_fd.get(), wrong).status().reason(), "InvalidDigest");
  PutOptions named;
  named.expected_md5 = Md5::Of(std::string_view(all));
  Result<ObjectInfo> plain = s.PutFile(kAlice, "alice-b", "named", again_fd.get(), named);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ(plain->etag, QuotedMd5Etag(*named.expected_md5));
  // Refused like a put: another account's bucket, a size over the limit.
  EXPECT_EQ(s.PutFile(kBob, "alice-b", "x", fd.get(), {}).status().reason(), "NoSuchBucket");
  PutOptions small;
  small.max_bytes = 1024;
  EXPECT_EQ(s.PutFile(kAlice, "alice-b", "x", fd.get(), small).status().reason(), "EntityTooLarge");
  EXPECT_EQ(s.HeadObject(kAlice, "alice-b", "x").status().reason(), "NoSuchKey");
}

// With known digests (an export that computed them as it wrote the file)
// PutFile reads nothing: the object has exactly that ETag and CRC-64, is
// Multipart and claims no Content-MD5; a put of the same bytes by a client
// keeps its MD5 ETag and Content-MD5.
TYPED_TEST(ObjectStoreContract, PutFileWithKnownDigestsTakesThem) {
  auto& s = *this->store_;
  const std::string path = this->dir_ + "/known.raw";
  const std::string data = "exported bytes";
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd.valid());
    ASSERT_EQ(::pwrite(fd.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  std::array<uint8_t, 16> opaque{};
  opaque.fill(0xab);
  PutOptions options;
  options.known_digests = KnownFileDigests{OpaqueMultipartEtag(opaque, 3), Crc64(data)};
  EXPECT_EQ(options.known_digests->etag, "\"ABABABABABABABABABABABABABABABAB-3\"");
  Result<ObjectInfo> put = s.PutFile(kAlice, "alice-b", "exports/known.raw", fd.get(), options);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  Result<ObjectInfo> head = s.HeadObject(kAlice, "alice-b", "exports/known.raw");
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  for (const ObjectInfo* info : {&*put, &*head}) {
    EXPECT_EQ(info->etag, options.known_digests->etag);
    EXPECT_EQ(info->crc64, Crc64(data));
    EXPECT_EQ(info->type, ObjectType::kMultipart);
    EXPECT_FALSE(info->content_md5.has_value());
    EXPECT_EQ(info->size, data.size());
  }
  EXPECT_EQ(*this->Get("exports/known.raw"), data);
  // A client's put of the same bytes: the MD5 ETag and Content-MD5, as before.
  Result<std::unique_ptr<ObjectPutWriter>> writer = s.PutObject(kAlice, "alice-b", "uploaded", PutOptions{});
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(
      (*writer)
          ->Write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()))
          .ok());
  Result<ObjectInfo> uploaded = (*writer)->Commit();
  ASSERT_TRUE(uploaded.ok());
  EXPECT_EQ(uploaded->etag, QuotedMd5Etag(Md5::Of(std::string_view(data))));
  EXPECT_EQ(uploaded->content_md5, Md5::Of(std::string_view(data)));
  EXPECT_EQ(uploaded->type, ObjectType::kNormal);
  // Refused: an ETag that is not multipart-shaped (it becomes a header), and
  // known digests together with a Content-MD5 to check.
  for (const std::string bad :
       {"", "\"AB\"", "ABABABABABABABABABABABABABABABAB-3", "\"abababababababababababababababab-3\"",
        "\"ABABABABABABABABABABABABABABABAB-3\r\nX: y\""}) {
    PutOptions wrong;
    wrong.known_digests = KnownFileDigests{bad, 0};
    EXPECT_EQ(s.PutFile(kAlice, "alice-b", "bad", fd.get(), wrong).status().reason(), "InvalidArgument")
        << bad;
  }
  PutOptions both = options;
  both.expected_md5 = Md5::Of(std::string_view(data));
  EXPECT_EQ(s.PutFile(kAlice, "alice-b", "bad", fd.get(), both).status().reason(), "InvalidArgument");
  EXPECT_EQ(s.HeadObject(kAlice, "alice-b", "bad").status().reason(), "NoSuchKey");
}

// At most 10,000 parts, each a whole number of MiB, never under 8 MiB.
TEST(PutFilePartBytesTest, KeepsToTenThousandWholeMiBParts) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  EXPECT_EQ(PutFilePartBytes(1), 8 * kMiB);
  EXPECT_EQ(PutFilePartBytes(80000 * kMiB), 8 * kMiB);
  EXPECT_EQ(PutFilePartBytes(80000 * kMiB + 1), 9 * kMiB);
  for (uint64_t size : {uint64_t{600} << 30, uint64_t{48} << 40, (uint64_t{1} << 40) + 12345}) {
    const uint64_t part = PutFilePartBytes(size);
    EXPECT_EQ(part % kMiB, 0u) << size;
    EXPECT_LE((size + part - 1) / part, 10000u) << size;
    EXPECT_GT((size + part - kMiB - 1) / (part - kMiB), 10000u) << "the smallest such size, " << size;
  }
}

// A 600 GiB file holding a 6 MiB run and 4 KiB every 2 GiB, as ext4 lays
// out its metadata: each scattered 4 KiB costs one MiB of hashing, the
// holes between are a few remembered sizes, and the parts cover the file.
TEST(PutFilePartsTest, ScatteredDataCostsItsOwnMiBsNotWholePartsOfZeros) {
  constexpr uint64_t kMiB = uint64_t{1} << 20, kGiB = kMiB << 10, kSize = 600 * kGiB;
  const std::string path = ::testing::TempDir() + "put-file-parts-" + RandomHex(6);
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid());
  ::unlink(path.c_str());
  ASSERT_EQ(::ftruncate(fd.get(), static_cast<off_t>(kSize)), 0);
  const std::vector<uint8_t> run(6 * kMiB, 0x5a), block(4096, 0xa5);
  ASSERT_TRUE(PwriteFull(fd.get(), run.data(), run.size(), kMiB / 2, path).ok());
  for (uint64_t at = 2 * kGiB + 12345; at < kSize; at += 2 * kGiB) {
    ASSERT_TRUE(PwriteFull(fd.get(), block.data(), block.size(), at, path).ok());
  }
  Result<std::vector<FilePart>> parts = PutFileParts(fd.get(), kSize);
  ASSERT_TRUE(parts.ok()) << parts.status().ToString();
  EXPECT_LE(parts->size(), 10000u);
  uint64_t at = 0, data_bytes = 0;
  std::set<uint64_t> hole_sizes;
  for (const FilePart& p : *parts) {
    ASSERT_EQ(p.offset, at);
    ASSERT_GT(p.length, 0u);
    at += p.length;
    if (!p.hole) {
      data_bytes += p.length;
      continue;
    }
    hole_sizes.insert(p.length);
    const off_t data = ::lseek(fd.get(), static_cast<off_t>(p.offset), SEEK_DATA);
    EXPECT_TRUE(data < 0 || static_cast<uint64_t>(data) >= p.offset + p.length)
        << "hole part at " << p.offset;
  }
  EXPECT_EQ(at, kSize);
  // The run in 7 MiB (it straddles MiB edges), each 4 KiB in 1 MiB (two where
  // it straddles one), where 62 MiB parts would hash 299 x 62 MiB.
  EXPECT_GE(data_bytes, 7 * kMiB + 299 * kMiB);
  EXPECT_LE(data_bytes, 7 * kMiB + 2 * 299 * kMiB);
  EXPECT_LE(hole_sizes.size(), 9u);  // 128 MiB and its halves down to 1 MiB
  for (uint64_t size : hole_sizes) EXPECT_EQ(size & (size - 1), 0u) << size;

  // A file with data everywhere: the same PutFilePartBytes parts as ever.
  Result<std::vector<FilePart>> dense = PutFileParts(fd.get(), 6 * kMiB);
  ASSERT_TRUE(dense.ok());
  ASSERT_EQ(dense->size(), 1u);
  EXPECT_FALSE(dense->front().hole);
}

TYPED_TEST(ObjectStoreContract, TheObjectIsTheSameWhetherPartSizesAreDeclaredOrNot) {
  auto& s = *this->store_;
  const std::string a(200 << 10, 'a'), b = std::string(100 << 10, 'b') + std::string(100 << 10, '\0');
  const std::string c = "tail";
  for (bool declare : {true, false}) {
    std::vector<CompletePart> listed;
    const std::string key = declare ? "declared" : "streamed";
    Result<std::string> id = this->UploadWithParts(key, {a, b, c}, &listed, {}, declare);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    Result<ObjectInfo> done = s.CompleteMultipart(kAlice, "alice-b", key, *id, listed);
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    EXPECT_EQ(*this->Get(key), a + b + c) << key;
    EXPECT_EQ(done->crc64, Crc64(a + b + c)) << key;
    EXPECT_EQ(done->etag, MultipartEtag({Md5::Of(std::string_view(a)), Md5::Of(std::string_view(b)),
                                         Md5::Of(std::string_view(c))}))
        << key;
    EXPECT_EQ(done->size, a.size() + b.size() + c.size());
  }
}

TYPED_TEST(ObjectStoreContract, PartsOfIrregularSizesStillComplete) {
  auto& s = *this->store_;
  // Larger and smaller parts than the first, and a part number skipped.
  const std::string p1(150 << 10, '1'), p2(300 << 10, '2'), p3(120 << 10, '3'), p5(7, '5');
  std::vector<CompletePart> listed;
  Result<std::string> id = this->UploadWithParts("k", {p1, p2, p3, "unused", p5}, &listed);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  Result<ObjectInfo> done = s.CompleteMultipart(kAlice, "alice-b", "k", *id, {listed[0], listed[1], listed[2], listed[4]});
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_EQ(*this->Get("k"), p1 + p2 + p3 + p5);
  EXPECT_EQ(done->crc64, Crc64(p1 + p2 + p3 + p5));
}

TYPED_TEST(ObjectStoreContract, ADeclaredPartSizeIsHeldToTheBytes) {
  auto& s = *this->store_;
  Result<std::string> id = s.InitiateMultipart(kAlice, "alice-b", "k", {});
  ASSERT_TRUE(id.ok());
  {
    auto w = s.UploadPart(kAlice, "alice-b", "k", *id, 1, std::nullopt, uint64_t{4});
    ASSERT_TRUE(w.ok());
    EXPECT_EQ((*w)->Write(Bytes("12345")).reason(), "EntityTooLarge");
  }
  {
    auto w = s.UploadPart(kAlice, "alice-b", "k", *id, 1, std::nullopt, uint64_t{200 << 10});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(Bytes("short")).ok());
    EXPECT_EQ((*w)->Commit().status().reason(), "InvalidArgument");
  }
  EXPECT_EQ(s.UploadPart(kAlice, "alice-b", "k", *id, 1, std::nullopt, ObjectStore::kMaxPutBytes + 1)
                .status()
                .reason(),
            "EntityTooLarge");
  Result<ListPartsResult> parts = s.ListParts(kAlice, "alice-b", "k", *id, {});
  ASSERT_TRUE(parts.ok());
  EXPECT_TRUE(parts->parts.empty());
}

TYPED_TEST(ObjectStoreContract, ZeroPartsAreStoredAsTheirZeros) {
  auto& s = *this->store_;
  const uint64_t kPart = 256 << 10;
  const std::string zeros(kPart, '\0'), data(kPart, 'd');
  Result<std::string> id = s.InitiateMultipart(kAlice, "alice-b", "disk.raw", {});
  ASSERT_TRUE(id.ok());
  // A zero part before any other (the part size is not known yet), one
  // between data parts, and a short zero last part.
  Result<PartInfo> z3 = s.UploadZeroPart(kAlice, "alice-b", "disk.raw", *id, 3, kPart, std::nullopt);
  ASSERT_TRUE(z3.ok()) << z3.status().ToString();
  EXPECT_EQ(z3->etag, QuotedMd5Etag(Md5::Of(std::string_view(zeros))));
  EXPECT_EQ(z3->crc64, Crc64(zeros));
  EXPECT_EQ(z3->size, kPart);
  std::vector<CompletePart> listed;
  for (uint32_t n : {1u, 2u}) {
    auto w = s.UploadPart(kAlice, "alice-b", "disk.raw", *id, n, std::nullopt, kPart);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(Bytes(data)).ok());
    Result<PartInfo> p = (*w)->Commit();
    ASSERT_TRUE(p.ok());
    listed.push_back({n, p->etag});
  }
  Result<PartInfo> z4 = s.UploadZeroPart(kAlice, "alice-b", "disk.raw", *id, 4, kPart,
                                         Md5::Of(std::string_view(zeros)));
  ASSERT_TRUE(z4.ok()) << z4.status().ToString();
  Result<PartInfo> z5 = s.UploadZeroPart(kAlice, "alice-b", "disk.raw", *id, 5, 1000, std::nullopt);
  ASSERT_TRUE(z5.ok()) << z5.status().ToString();
  listed.push_back({3, z3->etag});
  listed.push_back({4, z4->etag});
  listed.push_back({5, z5->etag});
  Result<ObjectInfo> done = s.CompleteMultipart(kAlice, "alice-b", "disk.raw", *id, listed);
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  const std::string all = data + data + zeros + zeros + std::string(1000, '\0');
  EXPECT_EQ(*this->Get("disk.raw"), all);
  EXPECT_EQ(done->crc64, Crc64(all));
  const Md5Digest d = Md5::Of(std::string_view(data)), z = Md5::Of(std::string_view(zeros));
  EXPECT_EQ(done->etag, MultipartEtag({d, d, z, z, Md5::Of(std::string_view(std::string(1000, '\0')))}));

  Result<std::string> id2 = s.InitiateMultipart(kAlice, "alice-b", "k", {});
  ASSERT_TRUE(id2.ok());
  EXPECT_EQ(s.UploadZeroPart(kAlice, "alice-b", "k", *id2, 1, 0, std::nullopt).status().reason(),
            "InvalidArgument");
  EXPECT_EQ(
      s.UploadZeroPart(kAlice, "alice-b", "k", *id2, 1, ObjectStore::kMaxPutBytes + 1, std::nullopt).status().reason(),
      "EntityTooLarge");
  EXPECT_EQ(s.UploadZeroPart(kAlice, "alice-b", "k", *id2, 1, 10, Md5::Of(std::string_view("x"))).status().reason(),
            "InvalidDigest");
  EXPECT_EQ(s.UploadZeroPart(kAlice, "alice-b", "k", *id2, 0, 10, std::nullopt).status().reason(),
            "InvalidArgument");
  EXPECT_EQ(s.UploadZeroPart(kAlice, "alice-b", "other", *id2, 1, 10, std::nullopt).status().reason(),
            "NoSuchUpload");
}

TYPED_TEST(ObjectStoreContract, PartsAreCheckedAndUploadsListed) {
  auto& s = *this->store_;
  Result<std::string> id = s.InitiateMultipart(kAlice, "alice-b", "k", {});
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->size(), 32u);
  EXPECT_EQ(s.UploadPart(kAlice, "alice-b", "k", *id, 0, std::nullopt).status().reason(), "InvalidArgument");
  EXPECT_EQ(s.UploadPart(kAlice, "alice-b", "k", *id, 10001, std::nullopt).status().reason(),
            "InvalidArgument");
  EXPECT_EQ(s.UploadPart(kAlice, "alice-b", "other", *id, 1, std::nullopt).status().reason(), "NoSuchUpload");
  EXPECT_EQ(s.UploadPart(kAlice, "alice-b", "k", "../../x", 1, std::nullopt).status().reason(),
            "NoSuchUpload");
  {
    Result<std::unique_ptr<PartWriter>> w =
        s.UploadPart(kAlice, "alice-b", "k", *id, 1, Md5::Of(std::string_view("expected")));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(Bytes("received")).ok());
    EXPECT_EQ((*w)->Commit().status().reason(), "InvalidDigest");
  }
  for (uint32_t n = 1; n <= 5; ++n) {
    Result<std::unique_ptr<PartWriter>> w = s.UploadPart(kAlice, "alice-b", "k", *id, n, std::nullopt);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Write(Bytes("part" + std::to_string(n))).ok());
    ASSERT_TRUE((*w)->Commit().ok());
  }
  ListPartsRequest pr;
  pr.max_parts = 2;
  pr.part_number_marker = 1;
  Result<ListPartsResult> parts = s.ListParts(kAlice, "alice-b", "k", *id, pr);
  ASSERT_TRUE(parts.ok());
  ASSERT_EQ(parts->parts.size(), 2u);
  EXPECT_EQ(parts->parts[0].part_number, 2u);
  EXPECT_TRUE(parts->truncated);
  EXPECT_EQ(parts->next_part_number_marker, 3u);

  Result<std::string> id2 = s.InitiateMultipart(kAlice, "alice-b", "k", {});
  Result<std::string> id3 = s.InitiateMultipart(kAlice, "alice-b", "dir/a", {});
  Result<std::string> id4 = s.InitiateMultipart(kAlice, "alice-b", "dir/b", {});
  ASSERT_TRUE(id2.ok() && id3.ok() && id4.ok());
  Result<ListUploadsResult> ups = s.ListUploads(kAlice, "alice-b", {});
  ASSERT_TRUE(ups.ok());
  ASSERT_EQ(ups->uploads.size(), 4u);
  EXPECT_EQ(ups->uploads[0].key, "dir/a");
  EXPECT_EQ(ups->uploads[2].key, "k");
  EXPECT_LT(ups->uploads[2].upload_id, ups->uploads[3].upload_id);
  EXPECT_EQ(ups->uploads[0].initiated, kT0);

  ListUploadsRequest ur;
  ur.delimiter = "/";
  ups = s.ListUploads(kAlice, "alice-b", ur);
  ASSERT_TRUE(ups.ok());
  EXPECT_EQ(ups->common_prefixes, (std::vector<std::string>{"dir/"}));
  EXPECT_EQ(ups->uploads.size(), 2u);

  ListUploadsRequest page;
  page.max_uploads = 3;
  ups = s.ListUploads(kAlice, "alice-b", page);
  ASSERT_TRUE(ups.ok());
  EXPECT_TRUE(ups->truncated);
  page.key_marker = ups->next_key_marker;
  page.upload_id_marker = ups->next_upload_id_marker;
  ups = s.ListUploads(kAlice, "alice-b", page);
  ASSERT_TRUE(ups.ok());
  ASSERT_EQ(ups->uploads.size(), 1u);
  EXPECT_EQ(ups->uploads[0].key, "k");
  EXPECT_FALSE(ups->truncated);
  ListUploadsRequest prefixed;
  prefixed.prefix = "dir/";
  ups = s.ListUploads(kAlice, "alice-b", prefixed);
  ASSERT_TRUE(ups.ok());
  EXPECT_EQ(ups->uploads.size(), 2u);

  ASSERT_TRUE(s.AbortMultipart(kAlice, "alice-b", "k", *id).ok());
  EXPECT_EQ(s.AbortMultipart(kAlice, "alice-b", "k", *id).reason(), "NoSuchUpload");
  EXPECT_EQ(s.UploadPart(kAlice, "alice-b", "k", *id, 1, std::nullopt).status().reason(), "NoSuchUpload");
}

// -------------------------------------------------------- staging and usage

TYPED_TEST(ObjectStoreContract, AStagingObjectGoesWithItsLastClaim) {
  auto& s = *this->store_;
  ASSERT_TRUE(this->Put("disk.raw", "data").ok());
  EXPECT_EQ(s.SetStaging(kAlice, "alice-b", "missing", true).reason(), "NoSuchKey");
  ASSERT_TRUE(s.SetStaging(kAlice, "alice-b", "disk.raw", true).ok());
  ASSERT_TRUE(s.ClaimStaging(kAlice, "alice-b", "disk.raw", "t-1").ok());
  EXPECT_TRUE(s.IsStaging("alice-b", "disk.raw"));
  ASSERT_EQ(s.ListStagingClaims().size(), 1u);
  EXPECT_EQ(s.ListStagingClaims()[0].task_id, "t-1");
  ASSERT_TRUE(s.ReleaseStaging("alice-b", "disk.raw", "t-1").ok());
  EXPECT_EQ(s.HeadObject(kAlice, "alice-b", "disk.raw").status().reason(), "NoSuchKey");
}

TYPED_TEST(ObjectStoreContract, UsageCountsObjectsAndUploads) {
  auto& s = *this->store_;
  const std::string data(64 * 1024, 'u');
  ASSERT_TRUE(this->Put("k", data).ok());
  Result<uint64_t> one = s.AccountObjectBytes(kAlice);
  ASSERT_TRUE(one.ok());
  EXPECT_GE(*one, data.size());
  std::vector<CompletePart> listed;
  ASSERT_TRUE(this->UploadWithParts("mp", {data}, &listed).ok());
  EXPECT_GE(*s.AccountObjectBytes(kAlice), *one + data.size()) << "parts count while they exist";
  EXPECT_EQ(*s.AccountObjectBytes(kBob), 0u);
  uint64_t id = s.AddUsageSource([](const std::string& account) -> Result<uint64_t> {
    return account == kAlice ? uint64_t{7} : uint64_t{0};
  });
  EXPECT_EQ(*s.AccountStoredBytes(kAlice), *s.AccountObjectBytes(kAlice) + 7);
  s.RemoveUsageSource(id);
  EXPECT_EQ(*s.AccountStoredBytes(kAlice), *s.AccountObjectBytes(kAlice));
}

// The sweep frees the parts that no object names (a manifest that never
// came, an object replaced by another node at the same moment), and never
// those of an object that names them.
TEST(S3ObjectStoreSweepTest, PartsNoObjectNamesAreFreedOthersNever) {
  TestClock clock;
  const std::string dir = (::access("/dev/shm", W_OK) == 0 ? std::string("/dev/shm") : ::testing::TempDir()) +
                          "/s3-sweep-" + RandomHex(6);
  std::filesystem::create_directories(dir);
  std::unique_ptr<ObjectStore> store = S3Backend::Open(dir, clock);
  std::unique_ptr<S3Client> raw = S3Backend::Client(dir);
  ASSERT_TRUE(store && raw);
  ASSERT_TRUE(store->CreateBucket(kAlice, "alice-b").ok());
  auto complete = [&](const std::string& key, const std::string& data) {
    Result<std::string> id = store->InitiateMultipart(kAlice, "alice-b", key, {});
    ASSERT_TRUE(id.ok());
    Result<std::unique_ptr<PartWriter>> w = store->UploadPart(kAlice, "alice-b", key, *id, 1, std::nullopt);
    ASSERT_TRUE(w.ok() && (*w)->Write(Bytes(data)).ok());
    Result<PartInfo> p = (*w)->Commit();
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(store->CompleteMultipart(kAlice, "alice-b", key, *id, {{1, p->etag}}).ok());
  };
  const std::string kept = Pattern(300000, 7);
  complete("kept", kept);
  complete("lost", Pattern(300000, 8));
  // "lost" goes as if another node had put over it without seeing it.
  ASSERT_TRUE(raw->Delete("oss/o/alice-b/lost").ok());
  // A writer that died after its parts, before its manifest.
  const std::string dead = "0123456789ABCDEF0123456789ABCDEF";
  ASSERT_TRUE(raw->Put("oss/d/alice-b/" + dead, Bytes(R"({"key":"never"})")).ok());
  ASSERT_TRUE(raw->Put("oss/p/alice-b/" + dead + "/00001", Bytes(Pattern(1000, 9))).ok());
  auto part_ids = [&] {
    std::set<std::string> ids;
    EXPECT_TRUE(raw->List("oss/p/alice-b/",
                          [&](const S3ObjectInfo& o) {
                            const std::string rest = o.key.substr(std::string("oss/p/alice-b/").size());
                            ids.insert(rest.substr(0, rest.find('/')));
                          })
                    .ok());
    return ids;
  };
  ASSERT_EQ(part_ids().size(), 3u);
  // Not yet: named less than the expiry ago.
  const UnixSeconds now = static_cast<UnixSeconds>(std::time(nullptr));
  store->SweepExpired(now, 3600);
  EXPECT_EQ(part_ids().size(), 3u) << "parts named less than the expiry ago stay";
  SweepStats swept = store->SweepExpired(now + 7200, 3600);
  EXPECT_EQ(part_ids().size(), 1u) << "only the parts of 'kept' stay";
  EXPECT_GE(swept.bytes_freed, 300000u);
  Result<OpenObject> read = store->OpenForRead(kAlice, "alice-b", "kept");
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  std::string bytes(kept.size(), '\0');
  ASSERT_TRUE(
      PreadFull(read->fd.get(), reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), 0, "kept").ok());
  EXPECT_TRUE(bytes == kept);
  store.reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry
