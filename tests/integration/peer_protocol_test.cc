// The peer protocol against the real binary: HttpChunkSource pulls the
// public image's snapshot — manifest and every data chunk — with the
// server's cluster key; a wrong key is refused and an unknown snapshot is
// not found.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/hash.h"
#include "copy/chunk_source.h"
#include "copy/peer_auth.h"
#include "copy/peer_wire.h"
#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

using RawAnswer = HttpAnswer;

// One signed (or, with an empty key, unsigned) GET, without HttpChunkSource,
// to see the HTTP status and error body themselves.
RawAnswer RawGet(const std::string& endpoint, const std::string& target, const std::string& key) {
  return SendHttp(endpoint, "GET", target, key.empty() ? std::map<std::string, std::string>{}
                                                       : PeerSignedHeaders(key, "GET", target));
}

// The system disk snapshot of the seeded public image.
std::string PublicSnapshotId(const std::string& endpoint) {
  EcsClient client = RootClient(endpoint, false);
  json body = CallOk(client, "DescribeImages", {{"RegionId", kRegion}, {"ImageOwnerAlias", "system"}});
  const json& images = body["Images"]["Image"];
  if (!images.is_array() || images.empty()) return "";
  const json& disks = images[0]["DiskDeviceMappings"]["DiskDeviceMapping"];
  if (!disks.is_array() || disks.empty()) return "";
  return disks[0].value("SnapshotId", std::string());
}

class PeerProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = std::make_unique<ScratchDir>("ferry-peer-");
    fs::create_directories(DataDir());
    fs::create_directories(scratch_->path() + "/config");
    server_ = std::make_unique<FerryServer>(DataDir(), scratch_->path() + "/config");
  }
  void TearDown() override {
    if (server_ != nullptr && server_->pid() > 0) {
      EXPECT_EQ(server_->Stop(), 0) << server_->Log();
    }
  }
  std::string DataDir() const { return scratch_->path() + "/data"; }
  std::unique_ptr<ChunkSource> Source(const std::string& key) const {
    HttpChunkSourceOptions options;
    options.base_url = server_->endpoint();
    options.cluster_key = key;
    options.max_connections = 4;
    return NewHttpChunkSource(options);
  }

  std::unique_ptr<ScratchDir> scratch_;
  std::unique_ptr<FerryServer> server_;
};

TEST_F(PeerProtocolTest, PullsThePublicSnapshotWithTheGeneratedClusterKey) {
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;

  const std::string key_path = DataDir() + "/cluster-key";
  ASSERT_TRUE(fs::exists(key_path));
  EXPECT_EQ(fs::status(key_path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  std::string key = ReadAll(key_path);
  while (!key.empty() && key.back() == '\n') key.pop_back();
  ASSERT_EQ(key.size(), 64u) << key;

  const std::string snapshot_id = PublicSnapshotId(server_->endpoint());
  ASSERT_FALSE(snapshot_id.empty());

  auto source = Source(key);
  Result<Manifest> manifest = source->FetchManifest(kRegion, snapshot_id);
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString() << "\n" << server_->Log();
  ASSERT_TRUE(manifest->Validate().ok());
  EXPECT_GT(manifest->logical_size, 0u);

  uint64_t data_chunks = 0, plaintext_bytes = 0, wire_bytes = 0;
  for (size_t i = 0; i < manifest->entries.size(); ++i) {
    const ChunkEntry& entry = manifest->entries[i];
    if (entry.zero) continue;
    uint64_t wire = 0;
    Result<std::vector<uint8_t>> chunk = source->FetchChunk(kRegion, entry.id, &wire);
    ASSERT_TRUE(chunk.ok()) << "entry " << i << ": " << chunk.status().ToString();
    EXPECT_EQ(chunk->size(), entry.length) << "entry " << i;
    EXPECT_EQ(ToHex(Sha256::Of(std::span<const uint8_t>(*chunk))), ToHex(entry.id)) << "entry " << i;
    ++data_chunks;
    plaintext_bytes += chunk->size();
    wire_bytes += wire;
  }
  EXPECT_GT(data_chunks, 0u);
  EXPECT_EQ(plaintext_bytes, manifest->DataBytes());
  // A fresh ext4 disk is mostly zero-filled metadata: zstd must have travelled.
  EXPECT_LT(wire_bytes, plaintext_bytes);

  // A wrong key: 403 through the client and on the wire.
  Result<Manifest> denied = Source("not-this-cluster-key-0000")->FetchManifest(kRegion, snapshot_id);
  EXPECT_EQ(denied.status().code(), Code::kPermissionDenied) << denied.status().ToString();
  const std::string target = PeerManifestPath(kRegion, snapshot_id);
  RawAnswer wrong = RawGet(server_->endpoint(), target, "not-this-cluster-key-0000");
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(wrong.body.value("Code", ""), "Forbidden.PeerSignature");
  EXPECT_FALSE(wrong.body.value("RequestId", "").empty());
  RawAnswer unsigned_get = RawGet(server_->endpoint(), target, "");
  EXPECT_EQ(unsigned_get.status, 403);

  // An unknown snapshot: 404.
  Result<Manifest> unknown = source->FetchManifest(kRegion, "s-doesnotexist0000000");
  EXPECT_EQ(unknown.status().code(), Code::kNotFound) << unknown.status().ToString();
  RawAnswer missing = RawGet(server_->endpoint(), PeerManifestPath(kRegion, "s-doesnotexist0000000"), key);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body.value("Code", ""), "InvalidSnapshotId.NotFound");

  // The key survives a restart.
  ASSERT_EQ(server_->Stop(), 0) << server_->Log();
  ASSERT_TRUE(server_->Start(&error)) << error;
  EXPECT_TRUE(Source(key)->FetchManifest(kRegion, snapshot_id).ok());
}

TEST_F(PeerProtocolTest, AKeyGivenByFlagIsUsedAndNotWrittenToTheDataDirectory) {
  const std::string key = "operator-chosen-cluster-key-0123";
  server_->set_extra_args({"--cluster-key", key});
  std::string error;
  ASSERT_TRUE(server_->Start(&error)) << error;
  EXPECT_FALSE(fs::exists(DataDir() + "/cluster-key"));
  const std::string snapshot_id = PublicSnapshotId(server_->endpoint());
  ASSERT_FALSE(snapshot_id.empty());
  Result<Manifest> manifest = Source(key)->FetchManifest(kRegion, snapshot_id);
  EXPECT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(Source(key + "x")->FetchManifest(kRegion, snapshot_id).status().code(), Code::kPermissionDenied);
}

}  // namespace
}  // namespace ferry::testing
