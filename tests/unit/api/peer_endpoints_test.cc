#include "api/peer_endpoints.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "api/server.h"
#include "common/ids.h"
#include "copy/chunk_source.h"
#include "copy/peer_auth.h"
#include "copy/peer_wire.h"
#include "store/manifest.h"
#include "unit/api/api_fakes.h"

namespace ferry {
namespace {

constexpr const char* kKey = "peer-endpoints-test-key";
constexpr const char* kRegion = "cn-hangzhou";
constexpr UnixSeconds kNow = 1790000000;

Status Unused() { return Internal("not used by peer tests"); }

// Answers only the two peer reads, from canned manifests and chunks.
class PeerFakeRegion final : public Region {
 public:
  explicit PeerFakeRegion(const std::string& id) { config_.region_id = id; }

  const RegionConfig& config() const override { return config_; }
  Result<std::vector<uint8_t>> PeerReadManifest(const std::string& snapshot_id) override {
    auto it = manifests.find(snapshot_id);
    if (it == manifests.end())
      return NotFound("InvalidSnapshotId.NotFound",
                      "The specified snapshot \"" + snapshot_id + "\" is not found.");
    return it->second;
  }
  Result<std::vector<uint8_t>> PeerReadChunk(const ChunkId& id) override {
    if (corrupt) return DataLoss("chunk " + ToHex(id) + " hashes to something else");
    auto it = chunks.find(ToHex(id));
    if (it == chunks.end()) return NotFound("", "chunk " + ToHex(id) + " is absent");
    return it->second;
  }

  Result<ImportImageResult> ImportImage(const Caller&, const ImportImageRequest&) override {
    return Unused();
  }
  Result<std::string> CopyImage(const Caller&, const CopyImageRequest&) override { return Unused(); }
  Result<std::string> AcceptCopy(const CopyTarget&) override { return Unused(); }
  Status CancelCopyImage(const Caller&, const std::string&) override { return Unused(); }
  Status AcquireCopyLease(const std::string&, const std::string&) override { return Unused(); }
  void ReleaseCopyLease(const std::string&, const std::string&) override {}
  Result<Page<ImageRecord>> DescribeImages(const Caller&, const DescribeImagesRequest&) override {
    return Unused();
  }
  Status ModifyImageAttribute(const Caller&, const ModifyImageAttributeRequest&) override { return Unused(); }
  Status DeleteImage(const Caller&, const std::string&, bool) override { return Unused(); }
  Result<std::string> CreateImage(const Caller&, const CreateImageRequest&) override { return Unused(); }
  Result<Page<SnapshotRecord>> DescribeSnapshots(const Caller&, const DescribeSnapshotsRequest&) override {
    return Unused();
  }
  Status DeleteSnapshot(const Caller&, const std::string&, bool) override { return Unused(); }
  Result<std::string> ExportImage(const Caller&, const ExportImageRequest&) override { return Unused(); }
  Result<Page<TaskRecord>> DescribeTasks(const Caller&, const DescribeTasksRequest&) override {
    return Unused();
  }
  Result<TaskRecord> DescribeTaskAttribute(const Caller&, const std::string&) override { return Unused(); }
  Status CancelTask(const Caller&, const std::string&) override { return Unused(); }
  Status CollectGarbage(GcStats*) override { return Unused(); }
  Status Fsck(FsckReport*) override { return Unused(); }
  RegionMetrics& metrics() override { return metrics_; }
  void Shutdown() override {}

  std::map<std::string, std::vector<uint8_t>> manifests;
  std::map<std::string, std::vector<uint8_t>> chunks;
  bool corrupt = false;

 private:
  RegionConfig config_;
  RegionMetrics metrics_;
};

class PeerEndpointsTest : public ::testing::Test {
 protected:
  PeerEndpointsTest() : clock_(kNow), region_(kRegion) {
    regions_.ordered.push_back(&region_);
    chunk_.assign(256 << 10, 0);
    for (size_t i = 0; i < chunk_.size(); ++i) chunk_[i] = static_cast<uint8_t>(i / 1000);
    chunk_id_ = Sha256::Of(std::span<const uint8_t>(chunk_));
    region_.chunks[ToHex(chunk_id_)] = chunk_;
    manifest_ = Manifest::Empty(2 * (256 << 10), 256 << 10);
    manifest_.entries[1] = ChunkEntry{false, chunk_id_, 256 << 10};
    region_.manifests["s-committed"] = EncodeManifest(manifest_);
  }

  HttpRequest Signed(const std::string& target, const std::string& key = kKey, UnixSeconds at = kNow,
                     const std::string& method = "GET") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    const std::string date = FormatTimeSeconds(at);
    r.headers[kPeerDateHeader] = date;
    r.headers[kPeerSignatureHeader] = SignPeerRequest(key, method, target, date);
    return r;
  }

  // Asserts a JSON error with `code` and returns its body.
  nlohmann::json ExpectError(const HttpResponse& response, int status, const std::string& code) {
    EXPECT_EQ(response.status, status) << response.body;
    nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
    EXPECT_TRUE(body.is_object()) << response.body;
    if (!body.is_object()) return body;
    EXPECT_EQ(body.value("Code", ""), code) << response.body;
    EXPECT_FALSE(body.value("RequestId", "").empty());
    EXPECT_FALSE(body.value("Message", "").empty());
    return body;
  }

  apitest::FakeClock clock_;
  PeerFakeRegion region_;
  RegionSet regions_;
  std::vector<uint8_t> chunk_;
  ChunkId chunk_id_{};
  Manifest manifest_;
};

TEST_F(PeerEndpointsTest, ServesTheCommittedManifestByteForByte) {
  PeerEndpoints peer(kKey, regions_, clock_);
  HttpResponse r = peer.Handle(Signed(PeerManifestPath(kRegion, "s-committed")));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/octet-stream");
  const std::vector<uint8_t>& expected = region_.manifests["s-committed"];
  EXPECT_EQ(r.body, std::string(expected.begin(), expected.end()));
}

TEST_F(PeerEndpointsTest, ServesChunksCompressedAndDecodable) {
  PeerEndpoints peer(kKey, regions_, clock_);
  HttpResponse r = peer.Handle(Signed(PeerChunkPath(kRegion, chunk_id_)));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, kPeerChunkContentType);
  EXPECT_LT(r.body.size(), chunk_.size() / 4);
  auto decoded = DecodeWireChunk(
      chunk_id_, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(r.body.data()), r.body.size()));
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, chunk_);
}

TEST_F(PeerEndpointsTest, RefusesWrongKeyMissingSignatureStaleDateAndClosedApi) {
  PeerEndpoints peer(kKey, regions_, clock_);
  const std::string target = PeerManifestPath(kRegion, "s-committed");
  ExpectError(peer.Handle(Signed(target, "not-the-cluster-key")), 403, "Forbidden.PeerSignature");
  HttpRequest unsigned_request = Signed(target);
  unsigned_request.headers.erase(kPeerSignatureHeader);
  ExpectError(peer.Handle(unsigned_request), 403, "Forbidden.PeerSignature");
  HttpRequest undated = Signed(target);
  undated.headers.erase(kPeerDateHeader);
  ExpectError(peer.Handle(undated), 403, "Forbidden.PeerDate");
  ExpectError(peer.Handle(Signed(target, kKey, kNow - 16 * 60)), 403, "Forbidden.PeerDate");
  EXPECT_EQ(peer.Handle(Signed(target, kKey, kNow - 14 * 60)).status, 200);
  // A signature for one path does not open another.
  HttpRequest moved = Signed(target);
  moved.target = PeerChunkPath(kRegion, chunk_id_);
  ExpectError(peer.Handle(moved), 403, "Forbidden.PeerSignature");

  PeerEndpoints closed("", regions_, clock_);
  ExpectError(closed.Handle(Signed(target, "")), 403, "Forbidden.PeerSignature");
}

TEST_F(PeerEndpointsTest, AuthenticationComesBeforeRouting) {
  PeerEndpoints peer(kKey, regions_, clock_);
  // Unknown snapshot, bad route: an outsider sees 403, not 404.
  ExpectError(peer.Handle(Signed(PeerManifestPath(kRegion, "s-unknown"), "wrong-key")), 403,
              "Forbidden.PeerSignature");
  ExpectError(peer.Handle(Signed("/ferry/peer/v1/nothing", "wrong-key")), 403, "Forbidden.PeerSignature");
}

TEST_F(PeerEndpointsTest, NotFoundAndMalformedRequests) {
  PeerEndpoints peer(kKey, regions_, clock_);
  auto body = ExpectError(peer.Handle(Signed(PeerManifestPath(kRegion, "s-unknown"))), 404,
                          "InvalidSnapshotId.NotFound");
  EXPECT_NE(body.value("Message", "").find("s-unknown"), std::string::npos);
  ExpectError(peer.Handle(Signed(PeerManifestPath("us-west-1", "s-committed"))), 404,
              "InvalidRegionId.NotFound");
  ChunkId absent = Sha256::Of(std::string_view("absent"));
  body = ExpectError(peer.Handle(Signed(PeerChunkPath(kRegion, absent))), 404, "InvalidChunkId.NotFound");
  EXPECT_NE(body.value("Message", "").find(ToHex(absent)), std::string::npos);
  ExpectError(peer.Handle(Signed("/ferry/peer/v1/regions/cn-hangzhou/chunks/xyz")), 400,
              "InvalidChunkId.Malformed");
  ExpectError(peer.Handle(Signed("/ferry/peer/v1/regions/cn-hangzhou/other")), 404,
              "InvalidPeerPath.NotFound");
  ExpectError(peer.Handle(Signed(PeerManifestPath(kRegion, "s-committed") + "?x=1")), 400,
              "InvalidParameter");
  ExpectError(peer.Handle(Signed(PeerManifestPath(kRegion, "s-committed"), kKey, kNow, "DELETE")), 400,
              "UnsupportedHTTPMethod");
}

TEST_F(PeerEndpointsTest, ASourceSideCorruptChunkIsReportedAsCorrupted) {
  PeerEndpoints peer(kKey, regions_, clock_);
  region_.corrupt = true;
  ExpectError(peer.Handle(Signed(PeerChunkPath(kRegion, chunk_id_))), 500, "InvalidChunk.Corrupted");
}

// The whole path: the Beast server routes /ferry/peer/v1/ to the endpoints
// and HttpChunkSource reads through it.
TEST_F(PeerEndpointsTest, HttpChunkSourceReadsThroughTheServer) {
  const std::string dir = ::testing::TempDir() + "/ferry-peer-endpoints-" + RandomHex(8);
  std::filesystem::create_directories(dir + "/oss");
  {
    apitest::FakeAccounts accounts;
    ObjectStorage storage(dir + "/oss", apitest::kAccountId);
    ServerConfig config;
    config.port = 0;
    config.threads = 2;
    config.cluster_key = kKey;
    auto server = StartServer(config, ActionTable{}, regions_, accounts, storage, SystemClock::Get());
    ASSERT_TRUE(server.ok()) << server.status().ToString();

    HttpChunkSourceOptions options;
    options.base_url = "http://127.0.0.1:" + std::to_string((*server)->port());
    options.cluster_key = kKey;
    auto source = NewHttpChunkSource(options);
    Result<Manifest> manifest = source->FetchManifest(kRegion, "s-committed");
    ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
    EXPECT_EQ(EncodeManifest(*manifest), EncodeManifest(manifest_));
    uint64_t wire = 0;
    Result<std::vector<uint8_t>> chunk = source->FetchChunk(kRegion, chunk_id_, &wire);
    ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
    EXPECT_EQ(*chunk, chunk_);
    EXPECT_GT(wire, 0u);
    EXPECT_LT(wire, chunk_.size());
    EXPECT_EQ(source->FetchManifest(kRegion, "s-unknown").status().code(), Code::kNotFound);

    options.cluster_key = "a-different-cluster";
    EXPECT_EQ(NewHttpChunkSource(options)->FetchManifest(kRegion, "s-committed").status().code(),
              Code::kPermissionDenied);
    (*server)->Stop();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry
