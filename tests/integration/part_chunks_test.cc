// Multipart parts kept as chunks (src/region/part_chunks.h): a region whose
// object storage and chunk store are buckets of one Ceph RADOS Gateway, as
// `ferry serve --store s3://...` runs them. A part of one chunk is stored
// once, as a chunk; the object reads back byte for byte; an import of it
// takes the chunks as they are; garbage collection keeps them while a part
// names them, and frees them with their object.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "integration/region_services.h"
#include "objects/s3_object_store.h"
#include "store/ingest.h"
#include "unit/region/region_fixture.h"

namespace ferry {
namespace {

constexpr uint64_t kChunk = kDefaultChunkSize;

class PartChunksTest : public RegionFixture {
 protected:
  static void SetUpTestSuite() { RegionServices::Start(); }
  static void TearDownTestSuite() { RegionServices::Stop(); }

  void SetUp() override {
    RegionFixture::SetUp();
    ASSERT_FALSE(RegionServices::ceph().endpoint().empty());
    ASSERT_EQ(::setenv("AWS_SHARED_CREDENTIALS_FILE", RegionServices::ceph().credentials_file().c_str(), 1),
              0);
    const S3Location objects = RegionServices::ceph().NewBucket("objects");
    Result<std::unique_ptr<S3Client>> client = S3Client::Open(objects, RegionServices::ceph().credentials());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    ASSERT_TRUE(MakeDirs(dir_ + "/spool").ok());
    s3_oss_ = std::make_unique<S3ObjectStore>(std::shared_ptr<S3Client>(std::move(*client)), dir_ + "/spool");
    ASSERT_TRUE(s3_oss_->CreateBucket(kAlice.account_id, "alice-up").ok());

    RegionConfig c = Config();
    c.object_storage = s3_oss_.get();
    c.store_uri = ThrowawayCeph::UriOf(RegionServices::ceph().NewBucket("cn-hangzhou"));
    c.keep_parts_as_chunks = true;
    RegionHooks hooks;
    hooks.after_chunk_pinned = [this](const std::string&, const ChunkId&) { ingest_pins_++; };
    auto r = RegionImpl::Open(c, SystemClock::Get(), std::move(hooks));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    region_ = std::move(r).value();
    ASSERT_NE(region_->part_chunks(), nullptr);
  }
  void TearDown() override {
    region_.reset();  // before the object store it gave its chunks to
    s3_oss_.reset();
    RegionFixture::TearDown();
  }

  // Uploads `content` to alice-up/`key` in parts of `part` bytes.
  void Upload(const std::string& key, const std::string& content, uint64_t part) {
    Result<std::string> id = s3_oss_->InitiateMultipart(kAlice.account_id, "alice-up", key, {});
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    std::vector<CompletePart> done;
    for (uint64_t at = 0, n = 1; at < content.size(); at += part, ++n) {
      const std::string_view piece = std::string_view(content).substr(at, part);
      Result<std::unique_ptr<PartWriter>> w = s3_oss_->UploadPart(kAlice.account_id, "alice-up", key, *id,
                                                                  static_cast<uint32_t>(n), std::nullopt);
      ASSERT_TRUE(w.ok()) << w.status().ToString();
      ASSERT_TRUE((*w)->Write(std::span(reinterpret_cast<const uint8_t*>(piece.data()), piece.size())).ok());
      Result<PartInfo> info = (*w)->Commit();
      ASSERT_TRUE(info.ok()) << info.status().ToString();
      done.push_back({static_cast<uint32_t>(n), info->etag});
    }
    ASSERT_TRUE(s3_oss_->CompleteMultipart(kAlice.account_id, "alice-up", key, *id, done).ok());
  }

  std::set<Digest256> Roots() {
    std::set<Digest256> roots;
    EXPECT_TRUE(s3_oss_->ForEachChunkRoot([&](const Digest256& id) { roots.insert(id); }).ok());
    return roots;
  }

  // The object as a reader gets it.
  std::string ReadBack(const std::string& key) {
    Result<OpenObject> o = s3_oss_->OpenForRead(kAlice.account_id, "alice-up", key);
    EXPECT_TRUE(o.ok()) << o.status().ToString();
    if (!o.ok()) return "";
    std::string bytes(o->info.size, '\0');
    EXPECT_TRUE(PreadFull(o->fd.get(), reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), 0, key).ok());
    return bytes;
  }

  // The disk the image's snapshot holds, materialized from its manifest.
  std::string DiskOf(const std::string& image_id, Manifest* manifest) {
    Result<Manifest> m = DecodeManifest(Snapshot(Image(image_id).disks.at(0).snapshot_id).manifest);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return "";
    *manifest = *m;
    const std::string path = dir_ + "/materialized.raw";
    EXPECT_TRUE(MaterializeRawFile(*m, region_->chunk_store(), path, {}).ok());
    Result<std::string> bytes = ReadFileToString(path);
    EXPECT_TRUE(bytes.ok()) << bytes.status().ToString();
    return bytes.ok() ? *bytes : "";
  }

  ImportImageRequest Request(const std::string& key, const std::string& name) {
    ImportImageRequest req;
    req.disks.push_back(ImportDisk{"alice-up", key, "RAW", 0});
    req.image_name = name;
    return req;
  }

  std::unique_ptr<S3ObjectStore> s3_oss_;
  std::atomic<int> ingest_pins_{0};
};

// A disk of data, a zero chunk, data, and a short last part: three parts
// are chunks, the zero part only a length.
std::string Disk(uint32_t seed) {
  return Pattern(kChunk, seed) + std::string(kChunk, '\0') + Pattern(kChunk, seed + 1) +
         Pattern(kChunk / 4, seed + 2);
}

TEST_F(PartChunksTest, AnObjectOfChunkPartsReadsBackAndIsImportedFromItsChunks) {
  const std::string disk = Disk(71);
  Upload("disk.raw", disk, kChunk);
  const std::set<Digest256> roots = Roots();
  EXPECT_EQ(roots.size(), 3u);
  EXPECT_TRUE(ReadBack("disk.raw") == disk) << "the object does not read back as uploaded";
  Result<uint64_t> stored = s3_oss_->AccountObjectBytes(kAlice.account_id);
  ASSERT_TRUE(stored.ok());
  EXPECT_GE(*stored, 2 * kChunk + kChunk / 4) << "parts kept as chunks must count against the account";

  const std::string image = ImportAndWait(Request("disk.raw", "from-parts"));
  ASSERT_FALSE(image.empty());
  EXPECT_EQ(ingest_pins_.load(), 0) << "the import read the object instead of taking its chunks";
  Manifest m;
  EXPECT_TRUE(DiskOf(image, &m) == disk) << "the image's disk is not the object";
  std::set<Digest256> in_manifest;
  m.ForEachData([&](uint64_t, const ChunkEntry& e) { in_manifest.insert(e.id); });
  EXPECT_EQ(in_manifest, roots);
  EXPECT_EQ(Image(image).disks.at(0).detected_format, "raw");
}

TEST_F(PartChunksTest, AnObjectOfOtherPartsIsReadAndIngestedAsAny) {
  // Parts of 3 MiB are chunks, but not on chunk boundaries.
  const std::string disk = Disk(81);
  Upload("odd.raw", disk, 3 * kMiB);
  EXPECT_TRUE(ReadBack("odd.raw") == disk);
  const std::string image = ImportAndWait(Request("odd.raw", "ingested"));
  ASSERT_FALSE(image.empty());
  EXPECT_GT(ingest_pins_.load(), 0);
  Manifest m;
  EXPECT_TRUE(DiskOf(image, &m) == disk);
}

TEST_F(PartChunksTest, GarbageCollectionKeepsTheChunksOfPartsUntilTheirObjectGoes) {
  const std::string disk = Disk(91);
  Upload("kept.raw", disk, kChunk);
  GcStats stats;
  ASSERT_TRUE(region_->CollectGarbage(&stats).ok());
  EXPECT_EQ(stats.chunks_deleted, 0u);
  EXPECT_TRUE(ReadBack("kept.raw") == disk);
  FsckReport report;
  ASSERT_TRUE(region_->Fsck(&report).ok());
  EXPECT_TRUE(report.problems.empty()) << report.problems.size() << " problems";
  // A chunk that goes while a part names it is a problem fsck tells.
  const Digest256 named = *Roots().begin();
  ASSERT_TRUE(region_->chunk_store().Delete(named).ok());
  ASSERT_TRUE(region_->Fsck(&report).ok());
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_NE(report.problems[0].find(ToHex(named)), std::string::npos) << report.problems[0];
  ASSERT_TRUE(s3_oss_->DeleteObject(kAlice.account_id, "alice-up", "kept.raw").ok());
  EXPECT_TRUE(Roots().empty());
  ASSERT_TRUE(region_->CollectGarbage(&stats).ok());
  EXPECT_EQ(stats.chunks_deleted, 2u);  // the third was deleted by hand above
}

// A GC pass that runs after a part's chunk is stored and before its root
// is written finds the chunk unreferenced: the pin keeps it.
TEST_F(PartChunksTest, AGcBetweenAChunkAndItsRootKeepsTheChunk) {
  const std::string bytes = Pattern(kChunk, 101);
  GcStats stats;
  Status gc;
  Result<Digest256> id = region_->part_chunks()->Keep(
      kAlice.account_id, std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
      [&](const Digest256&) {
        gc = region_->CollectGarbage(&stats);
        return Status::Ok();
      });
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(gc.ok()) << gc.ToString();
  EXPECT_EQ(stats.chunks_scanned, 1u);
  EXPECT_EQ(stats.chunks_deleted, 0u);
  Result<bool> there = region_->chunk_store().Has(*id);
  ASSERT_TRUE(there.ok());
  EXPECT_TRUE(*there) << "GC deleted a chunk whose root was about to be written";
}

}  // namespace
}  // namespace ferry
