// The offline store tools and a damaged store, through the real binary:
// `ferry gc` after a delete keeps exactly the chunks still referenced,
// `ferry fsck` names a corrupt or missing chunk and exits 1, both refuse a
// data directory a server holds, a corrupt chunk fails an export and a copy
// cleanly through the API (the server stays up), and a ClientToken sent
// twice over HTTP returns the same resource.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/hash.h"
#include "common/ids.h"
#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kChunk = 4 << 20;
constexpr const char* kOtherRegion = "cn-shanghai";

// Writes a raw image of whole 4 MiB chunks: chunk i holds pseudo-random
// bytes made from seeds[i], or is a hole when seeds[i] is 0. Returns the hex
// ids (SHA-256) of the data chunks, in order.
std::vector<std::string> WriteChunkImage(const std::string& path, const std::vector<uint64_t>& seeds) {
  std::vector<Extent> none;
  WriteSparseImage(path, seeds.size() * kChunk, none, 0);
  std::vector<std::string> ids;
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  std::vector<uint8_t> buf(kChunk);
  for (size_t i = 0; i < seeds.size(); ++i) {
    if (seeds[i] == 0) continue;
    uint64_t state = seeds[i] * 0x9E3779B97F4A7C15ull + 7;
    for (size_t j = 0; j + 8 <= buf.size(); j += 8) {
      state ^= state >> 12;
      state ^= state << 25;
      state ^= state >> 27;
      const uint64_t v = state * 0x2545F4914F6CDD1Dull;
      std::memcpy(&buf[j], &v, 8);
    }
    f.seekp(static_cast<std::streamoff>(i * kChunk));
    f.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    ids.push_back(ToHex(Sha256::Of(buf)));
  }
  EXPECT_TRUE(f.good()) << path;
  return ids;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << path;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x20);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  ASSERT_TRUE(f.good()) << path;
}

class StoreToolsTest : public ::testing::Test {
 protected:
  StoreToolsTest() : scratch_("ferry-tools-") {
    fs::create_directories(BucketDir());
    fs::create_directories(ConfigDir());
  }
  std::string DataDir() const { return scratch_.path() + "/data"; }
  std::string ConfigDir() const { return scratch_.path() + "/config"; }
  std::string BucketDir() const { return DataDir() + "/oss/" + kOperatorBucket; }
  std::string ChunkDir(const std::string& region = kRegion) const {
    return DataDir() + "/regions/" + region + "/chunks";
  }
  std::string ChunkPath(const std::string& hex, const std::string& region = kRegion) const {
    return ChunkDir(region) + "/" + hex.substr(0, 4) + "/" + hex;
  }

  // The chunk ids stored under `region` (files named by a 64-hex id in a
  // prefix directory; temp files are not chunks).
  std::set<std::string> StoredChunks(const std::string& region = kRegion) const {
    std::set<std::string> ids;
    std::error_code ec;
    for (fs::directory_iterator d(ChunkDir(region), ec), end; !ec && d != end; d.increment(ec)) {
      if (d->path().filename() == "tmp" || !d->is_directory()) continue;
      for (const auto& f : fs::directory_iterator(d->path())) {
        const std::string name = f.path().filename();
        if (name.size() == 64) ids.insert(name);
      }
    }
    return ids;
  }

  std::unique_ptr<FerryServer> StartServer() {
    auto server = std::make_unique<FerryServer>(DataDir(), ConfigDir());
    // Region-wide dedup: chunk ids are the plain SHA-256 WriteChunkImage
    // computes (the default, per-account scope, is covered by the region
    // unit tests).
    server->set_extra_args({"--regions", std::string(kRegion) + "," + kOtherRegion, "--dedup-scope", "region"});
    std::string error;
    if (!server->Start(&error)) {
      ADD_FAILURE() << error;
      return nullptr;
    }
    return server;
  }

  CommandResult Fsck() const { return RunFerry({"fsck", "--data", DataDir(), "--regions", kRegion}, {}); }
  CommandResult Gc() const { return RunFerry({"gc", "--data", DataDir(), "--regions", kRegion}, {}); }

  ScratchDir scratch_;
};

TEST_F(StoreToolsTest, GcAfterADeleteKeepsExactlyTheChunksStillReferenced) {
  // keep shares chunk seed 2 with gone; gone's chunks 1 and 3 are its own.
  const std::vector<std::string> gone_ids = WriteChunkImage(BucketDir() + "/gone.raw", {1, 2, 3});
  const std::vector<std::string> keep_ids = WriteChunkImage(BucketDir() + "/keep.raw", {2, 4, 0, 5});
  std::set<std::string> keep_set(keep_ids.begin(), keep_ids.end());
  std::set<std::string> all = keep_set;
  all.insert(gone_ids.begin(), gone_ids.end());
  ASSERT_EQ(all.size(), 5u);
  ASSERT_EQ(keep_set.size(), 3u);
  const std::string keep_sha = FileSha256(BucketDir() + "/keep.raw");

  std::string keep_image;
  {
    std::unique_ptr<FerryServer> server = StartServer();
    ASSERT_NE(server, nullptr);
    EcsClient client = RootClient(server->endpoint(), false);
    // The chunks of the images a fresh data directory starts with.
    const std::set<std::string> baseline = StoredChunks();
    keep_set.insert(baseline.begin(), baseline.end());
    all.insert(baseline.begin(), baseline.end());
    const std::string gone_image = ImportRawImage(client, kRegion, kOperatorBucket, "gone.raw", "gone");
    keep_image = ImportRawImage(client, kRegion, kOperatorBucket, "keep.raw", "keep");
    ASSERT_FALSE(gone_image.empty());
    ASSERT_FALSE(keep_image.empty());
    EXPECT_EQ(StoredChunks(), all);
    CallOk(client, "DeleteImage", {{"RegionId", kRegion}, {"ImageId", gone_image}});
    // Its snapshot too, so nothing references gone's own chunks.
    json snaps = CallOk(client, "DescribeSnapshots", {{"RegionId", kRegion}});
    for (const json& s : snaps["Snapshots"]["Snapshot"]) {
      const std::string id = s.value("SnapshotId", std::string());
      bool used_by_keep = false;
      for (const json& img : DescribeImage(client, keep_image)) {
        for (const json& d : img["DiskDeviceMappings"]["DiskDeviceMapping"]) {
          if (d.value("SnapshotId", std::string()) == id) used_by_keep = true;
        }
      }
      if (!used_by_keep) CallOk(client, "DeleteSnapshot", {{"RegionId", kRegion}, {"SnapshotId", id}});
    }
    EXPECT_EQ(server->Stop(), 0) << server->Log();
  }

  CommandResult gc = Gc();
  ASSERT_EQ(gc.exit_code, 0) << gc.out << gc.err;
  EXPECT_NE(gc.out.find(kRegion), std::string::npos) << gc.out;
  // Exactly keep's chunks remain: the shared one stayed, gone's own went.
  EXPECT_EQ(StoredChunks(), keep_set) << gc.out;
  CommandResult fsck = Fsck();
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  EXPECT_NE(fsck.out.find("0 problems"), std::string::npos) << fsck.out;
  // A second gc finds nothing more to delete.
  CommandResult again = Gc();
  ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find(" 0 deleted"), std::string::npos) << again.out;
  EXPECT_EQ(StoredChunks(), keep_set);

  // And keep still exports to its original bytes.
  std::unique_ptr<FerryServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  EcsClient client = RootClient(server->endpoint(), true);
  EXPECT_EQ(ExportImageSha256(client, kRegion, keep_image, kOperatorBucket, BucketDir(), "aftergc"),
            keep_sha);
  EXPECT_EQ(server->Stop(), 0) << server->Log();
}

TEST_F(StoreToolsTest, FsckNamesACorruptAndAMissingChunkAndExitsOne) {
  const std::vector<std::string> ids = WriteChunkImage(BucketDir() + "/img.raw", {11, 12, 0, 13});
  ASSERT_EQ(ids.size(), 3u);
  {
    std::unique_ptr<FerryServer> server = StartServer();
    ASSERT_NE(server, nullptr);
    EcsClient client = RootClient(server->endpoint(), false);
    ASSERT_FALSE(ImportRawImage(client, kRegion, kOperatorBucket, "img.raw", "img").empty());
    EXPECT_EQ(server->Stop(), 0) << server->Log();
  }
  CommandResult clean = Fsck();
  ASSERT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_NE(clean.out.find(std::to_string(StoredChunks().size()) + " chunks checked, 0 problems"),
            std::string::npos)
      << clean.out;

  // One byte of the payload of the second chunk flipped.
  const std::string corrupt = ids[1];
  FlipByte(ChunkPath(corrupt), fs::file_size(ChunkPath(corrupt)) - 100);
  CommandResult bad = Fsck();
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("1 problems"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("chunk " + corrupt), std::string::npos) << bad.out;
  EXPECT_EQ(bad.out.find(ids[0]), std::string::npos) << "only the corrupt chunk is named: " << bad.out;

  // The third chunk's file removed: the manifest names a missing chunk.
  const std::string missing = ids[2];
  ASSERT_TRUE(fs::remove(ChunkPath(missing)));
  CommandResult worse = Fsck();
  EXPECT_EQ(worse.exit_code, 1) << worse.out << worse.err;
  EXPECT_NE(worse.out.find("chunk " + missing), std::string::npos) << worse.out;
  EXPECT_NE(worse.out.find("is missing"), std::string::npos) << worse.out;
  EXPECT_NE(worse.out.find("chunk " + corrupt), std::string::npos) << worse.out;
}

TEST_F(StoreToolsTest, FsckAndGcRefuseADataDirectoryAServerHolds) {
  WriteChunkImage(BucketDir() + "/held.raw", {21, 22});
  std::unique_ptr<FerryServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  EcsClient client = RootClient(server->endpoint(), false);
  const size_t baseline = StoredChunks().size();
  const std::string image = ImportRawImage(client, kRegion, kOperatorBucket, "held.raw", "held");
  ASSERT_FALSE(image.empty());
  CallOk(client, "DeleteImage", {{"RegionId", kRegion}, {"ImageId", image}});
  const std::set<std::string> before = StoredChunks();
  ASSERT_EQ(before.size(), baseline + 2);

  for (const char* tool : {"fsck", "gc"}) {
    CommandResult refused = RunFerry({tool, "--data", DataDir(), "--regions", kRegion}, {});
    EXPECT_NE(refused.exit_code, 0) << tool << ": " << refused.out << refused.err;
    EXPECT_NE(refused.err.find("in use by another ferry process"), std::string::npos)
        << tool << ": " << refused.err;
  }
  // gc deleted nothing, and the server still answers.
  EXPECT_EQ(StoredChunks(), before);
  CallOk(client, "DescribeRegions", {});
  EXPECT_EQ(server->Stop(), 0) << server->Log();

  // Once the server is gone both run.
  CommandResult fsck = Fsck();
  EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
  CommandResult gc = Gc();
  EXPECT_EQ(gc.exit_code, 0) << gc.out << gc.err;
}

TEST_F(StoreToolsTest, ACorruptChunkFailsAnExportAndACopyCleanlyAndTheServerStaysUp) {
  const std::vector<std::string> ids = WriteChunkImage(BucketDir() + "/rot.raw", {31, 32, 33});
  std::unique_ptr<FerryServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  EcsClient client = RootClient(server->endpoint(), false);
  const std::string image = ImportRawImage(client, kRegion, kOperatorBucket, "rot.raw", "rot");
  ASSERT_FALSE(image.empty());
  FlipByte(ChunkPath(ids[1]), fs::file_size(ChunkPath(ids[1])) - 1);

  // Export: the task fails with an export code naming the chunk; no object
  // (and no temp file) is left in the bucket.
  auto bucket_files = [&] {
    std::set<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(BucketDir())) {
      if (e.is_regular_file()) names.insert(e.path().lexically_relative(BucketDir()));
    }
    return names;
  };
  const std::set<std::string> bucket_before = bucket_files();
  json started = CallOk(client, "ExportImage",
                        {{"RegionId", kRegion},
                         {"ImageId", image},
                         {"OSSBucket", kOperatorBucket},
                         {"OSSPrefix", "rotexport"},
                         {"ImageFormat", "raw"}});
  json task = WaitForTaskIn(client, kRegion, started.value("TaskId", std::string()));
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Failed") << task.dump();
  const json& op = task["OperationProgressSet"]["OperationProgress"][0];
  EXPECT_FALSE(op.value("ErrorCode", std::string()).empty()) << task.dump();
  EXPECT_NE(op.value("ErrorMsg", std::string()).find(ids[1]), std::string::npos) << task.dump();
  EXPECT_EQ(op.value("ErrorMsg", std::string()).find(DataDir()), std::string::npos)
      << "no host path in the message: " << task.dump();
  EXPECT_EQ(bucket_files(), bucket_before);

  // Copy to the other region: the copy ends CreateFailed, it does not spin.
  json copied = CallOk(client, "CopyImage",
                       {{"RegionId", kRegion}, {"ImageId", image}, {"DestinationRegionId", kOtherRegion}});
  const std::string copy_id = copied.value("ImageId", std::string());
  ASSERT_FALSE(copy_id.empty()) << copied.dump();
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  json copy;
  while (Clock::now() < deadline) {
    json images = DescribeImageIn(client, kOtherRegion, copy_id);
    ASSERT_EQ(images.size(), 1u) << images.dump();
    copy = images[0];
    const std::string status = copy.value("Status", std::string());
    if (status != "Waiting" && status != "Creating") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(copy.value("Status", std::string()), "CreateFailed") << copy.dump() << "\n" << server->Log();
  // Nothing the corrupt chunk's bytes became is stored in the destination.
  EXPECT_EQ(StoredChunks(kOtherRegion).count(ids[1]), 0u);

  // The server is up and the rest of the store still serves.
  CallOk(client, "DescribeRegions", {});
  json images = DescribeImageIn(client, kRegion, image);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_EQ(images[0].value("Status", std::string()), "Available");
  EXPECT_EQ(server->Stop(), 0) << server->Log();
}

TEST_F(StoreToolsTest, AClientTokenSentTwiceReturnsTheSameResource) {
  WriteChunkImage(BucketDir() + "/tok.raw", {41, 0, 42});
  std::unique_ptr<FerryServer> server = StartServer();
  ASSERT_NE(server, nullptr);
  EcsClient v1 = RootClient(server->endpoint(), false);
  EcsClient v3 = RootClient(server->endpoint(), true);

  // ImportImage: the second call (V3 this time) returns the first's image
  // and task, and no second image appears.
  const std::map<std::string, std::string> import = {{"RegionId", kRegion},
                                                     {"ImageName", "tok"},
                                                     {"ClientToken", "import-token-1"},
                                                     {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                                                     {"DiskDeviceMapping.1.OSSObject", "tok.raw"},
                                                     {"DiskDeviceMapping.1.Format", "RAW"}};
  json first = CallOk(v1, "ImportImage", import);
  json second = CallOk(v3, "ImportImage", import);
  const std::string image = first.value("ImageId", std::string());
  ASSERT_FALSE(image.empty()) << first.dump();
  EXPECT_EQ(second.value("ImageId", std::string()), image) << second.dump();
  EXPECT_EQ(second.value("TaskId", std::string()), first.value("TaskId", std::string())) << second.dump();
  json task = WaitForTaskIn(v1, kRegion, first.value("TaskId", std::string()));
  ASSERT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
  json own = CallOk(v1, "DescribeImages", {{"RegionId", kRegion}, {"ImageOwnerAlias", "self"}});
  EXPECT_EQ(own.value("TotalCount", -1), 1) << own.dump();

  // The same token with other parameters is refused.
  std::map<std::string, std::string> changed = import;
  changed["ImageName"] = "tok-other";
  Result<EcsResponse> mismatch = v1.Call("ImportImage", changed);
  ASSERT_TRUE(mismatch.ok()) << mismatch.status().ToString();
  EXPECT_EQ(mismatch->http_status, 400) << mismatch->raw_body;
  EXPECT_EQ(mismatch->body.value("Code", std::string()), "IdempotentParameterMismatch") << mismatch->raw_body;

  // CreateImage from the image's snapshot.
  json described = DescribeImage(v1, image);
  ASSERT_EQ(described.size(), 1u);
  const std::string snapshot =
      described[0]["DiskDeviceMappings"]["DiskDeviceMapping"][0].value("SnapshotId", std::string());
  ASSERT_FALSE(snapshot.empty()) << described.dump();
  const std::map<std::string, std::string> create = {{"RegionId", kRegion},
                                                     {"SnapshotId", snapshot},
                                                     {"ImageName", "tok-made"},
                                                     {"ClientToken", "create-1"}};
  json made = CallOk(v1, "CreateImage", create);
  json made_again = CallOk(v3, "CreateImage", create);
  ASSERT_FALSE(made.value("ImageId", std::string()).empty()) << made.dump();
  EXPECT_EQ(made_again.value("ImageId", std::string()), made.value("ImageId", std::string()));

  // CopyImage: one copy, however often the call is retried.
  const std::map<std::string, std::string> copy = {{"RegionId", kRegion},
                                                   {"ImageId", image},
                                                   {"DestinationRegionId", kOtherRegion},
                                                   {"DestinationImageName", "tok-copy"},
                                                   {"ClientToken", "copy-1"}};
  json copied = CallOk(v1, "CopyImage", copy);
  json copied_again = CallOk(v3, "CopyImage", copy);
  const std::string copy_id = copied.value("ImageId", std::string());
  ASSERT_FALSE(copy_id.empty()) << copied.dump();
  EXPECT_EQ(copied_again.value("ImageId", std::string()), copy_id) << copied_again.dump();
  json in_dest =
      CallOk(v1, "DescribeImages",
             {{"RegionId", kOtherRegion}, {"ImageOwnerAlias", "self"}, {"Status", kAllImageStatuses}});
  EXPECT_EQ(in_dest.value("TotalCount", -1), 1) << in_dest.dump();
  EXPECT_EQ(server->Stop(), 0) << server->Log();
}

}  // namespace
}  // namespace ferry::testing
