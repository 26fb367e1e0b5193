#include "api/peer_endpoints.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <random>

#include "api/peer_nonces.h"
#include "api/server.h"
#include "common/ids.h"
#include "copy/chunk_source.h"
#include "copy/peer_auth.h"
#include "copy/peer_client.h"
#include "copy/peer_wire.h"
#include "objects/fs_object_store.h"
#include "region/copy_wire.h"
#include "store/fs_chunk_store.h"
#include "store/manifest.h"
#include "unit/api/api_fakes.h"
#include "unit/api/fake_region.h"

namespace ferry {
namespace {

constexpr const char* kKey = "peer-endpoints-test-key";
constexpr const char* kRegion = "cn-hangzhou";
constexpr const char* kCopyRegion = "cn-beijing";
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
  Result<bool> CopyInProgress(const std::string&) override { return Unused(); }
  Status CancelCopyImage(const Caller&, const std::string&) override { return Unused(); }
  Status AcquireCopyLease(const CopyLease&) override { return Unused(); }
  Status ReleaseCopyLease(const CopyLease&) override { return Unused(); }
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
  Status ModifyImageSharePermission(const Caller&, const ModifyImageSharePermissionRequest&) override {
    return Unused();
  }
  Result<Page<ImageShareRecord>> DescribeImageSharePermission(const Caller&,
                                                              const DescribeImageSharePermissionRequest&) override {
    return Unused();
  }
  Result<ImageRecord> UsableImage(const Caller&, const std::string&) override { return Unused(); }
  Status CollectGarbage(GcStats*) override { return Unused(); }
  Status Fsck(FsckReport*) override { return Unused(); }
  RegionMetrics& metrics() override { return metrics_; }
  void Shutdown() override {}

  std::map<std::string, std::vector<uint8_t>> manifests;
  Result<std::optional<ChunkObjectFile>> PeerOpenChunkStored(const ChunkId& id) override {
    if (files == nullptr) return std::optional<ChunkObjectFile>();
    return files->OpenStored(id);
  }

  std::map<std::string, std::vector<uint8_t>> chunks;
  bool corrupt = false;
  FsChunkStore* files = nullptr;  // when set, chunk objects are served from its files

 private:
  RegionConfig config_;
  RegionMetrics metrics_;
};

class PeerEndpointsTest : public ::testing::Test {
 protected:
  PeerEndpointsTest() : clock_(kNow), region_(kRegion), beijing_(kCopyRegion) {
    regions_.ordered.push_back(&region_);
    regions_.ordered.push_back(&beijing_);
    EXPECT_TRUE(accounts_.CreateAccount(AccountRecord{apitest::kAccountId, "alice", true, 1700000000}).ok());
    EXPECT_TRUE(
        accounts_.AddAccessKey(AccessKeyRecord{"LTAI5tAliceKey", "alice-secret", apitest::kAccountId, true, 1700000100})
            .ok());
    EXPECT_TRUE(
        accounts_.AddAccessKey(AccessKeyRecord{"LTAI5tOrphanKey", "orphan-secret", "9999999999999999", false, 1}).ok());
    chunk_.assign(256 << 10, 0);
    for (size_t i = 0; i < chunk_.size(); ++i) chunk_[i] = static_cast<uint8_t>(i / 1000);
    chunk_id_ = Sha256::Of(std::span<const uint8_t>(chunk_));
    region_.chunks[ToHex(chunk_id_)] = chunk_;
    manifest_ = Manifest::OneEntryPerChunk(2 * (256 << 10), 256 << 10);
    manifest_.entries[1] = ChunkEntry{false, chunk_id_, 256 << 10};
    region_.manifests["s-committed"] = EncodeManifest(manifest_);
  }

  HttpRequest Signed(const std::string& target, const std::string& key = kKey, UnixSeconds at = kNow,
                     const std::string& method = "GET", const std::string& body = "") {
    HttpRequest r;
    r.method = method;
    r.target = target;
    r.body = body;
    const std::string date = FormatTimeSeconds(at);
    const std::string nonce = NewPeerNonce();
    r.headers[kPeerDateHeader] = date;
    r.headers[kPeerNonceHeader] = nonce;
    r.headers[kPeerSignatureHeader] = SignPeerRequest(key, method, target, date, nonce, body);
    return r;
  }
  HttpRequest Call(const std::string& method, const std::string& target, const std::string& body = "") {
    return Signed(target, kKey, kNow, method, body);
  }
  nlohmann::json JsonOf(const HttpResponse& response) {
    EXPECT_EQ(response.status, 200) << response.body;
    EXPECT_EQ(response.content_type, "application/json;charset=utf-8");
    return nlohmann::json::parse(response.body, nullptr, false);
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
    EXPECT_FALSE(body.value("Status", "").empty());
    return body;
  }

  // This fixture's regions behind a real server on loopback.
  Result<std::unique_ptr<Server>> ServePeers(FsObjectStore& storage) {
    ServerConfig config;
    config.port = 0;
    config.threads = 2;
    config.cluster_key = kKey;
    return StartServer(config, ActionTable{}, regions_, accounts_, storage, SystemClock::Get());
  }
  static std::string BaseUrl(const Server& server) {
    return "http://127.0.0.1:" + std::to_string(server.port());
  }
  // A chunk source's options for reading from `server` with the cluster key.
  static HttpChunkSourceOptions SourceOptions(const Server& server) {
    HttpChunkSourceOptions options;
    options.base_url = BaseUrl(server);
    options.cluster_key = kKey;
    return options;
  }

  apitest::FakeClock clock_;
  PeerFakeRegion region_;
  actiontest::FakeRegion beijing_;
  apitest::FakeAccounts accounts_;
  RegionSet regions_;
  std::vector<uint8_t> chunk_;
  ChunkId chunk_id_{};
  Manifest manifest_;
};

TEST_F(PeerEndpointsTest, ServesTheCommittedManifestByteForByte) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  HttpResponse r = peer.Handle(Signed(PeerManifestPath(kRegion, "s-committed")));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/octet-stream");
  const std::vector<uint8_t>& expected = region_.manifests["s-committed"];
  EXPECT_EQ(r.body, std::string(expected.begin(), expected.end()));
}

TEST_F(PeerEndpointsTest, ServesChunksCompressedAndDecodable) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
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
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  const std::string target = PeerManifestPath(kRegion, "s-committed");
  ExpectError(peer.Handle(Signed(target, "not-the-cluster-key")), 403, "Forbidden.PeerSignature");
  HttpRequest unsigned_request = Signed(target);
  unsigned_request.headers.erase(kPeerSignatureHeader);
  ExpectError(peer.Handle(unsigned_request), 403, "Forbidden.PeerSignature");
  HttpRequest undated = Signed(target);
  undated.headers.erase(kPeerDateHeader);
  ExpectError(peer.Handle(undated), 403, "Forbidden.PeerDate");
  ExpectError(peer.Handle(Signed(target, kKey, kNow - 16 * 60)), 403, "Forbidden.PeerDate");
  ExpectError(peer.Handle(Signed(target, kKey, kNow + 14 * 60)), 403, "Forbidden.PeerDate");
  ExpectError(peer.Handle(Signed(target, kKey, kNow - 6 * 60)), 403, "Forbidden.PeerDate");
  EXPECT_EQ(peer.Handle(Signed(target, kKey, kNow - 4 * 60)).status, 200);
  // A captured request is served once; replayed verbatim it is refused.
  const HttpRequest captured = Signed(target);
  EXPECT_EQ(peer.Handle(captured).status, 200);
  for (int i = 0; i < 2; ++i) ExpectError(peer.Handle(captured), 403, "Forbidden.PeerNonceUsed");
  HttpRequest no_nonce = Signed(target);
  no_nonce.headers.erase(kPeerNonceHeader);
  ExpectError(peer.Handle(no_nonce), 403, "Forbidden.PeerNonce");
  // A signature for one path does not open another.
  HttpRequest moved = Signed(target);
  moved.target = PeerChunkPath(kRegion, chunk_id_);
  ExpectError(peer.Handle(moved), 403, "Forbidden.PeerSignature");

  PeerEndpoints closed("", regions_, accounts_, clock_);
  ExpectError(closed.Handle(Signed(target, "")), 403, "Forbidden.PeerSignature");
}

TEST_F(PeerEndpointsTest, AuthenticationComesBeforeRouting) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  // Unknown snapshot, bad route: an outsider sees 403, not 404.
  ExpectError(peer.Handle(Signed(PeerManifestPath(kRegion, "s-unknown"), "wrong-key")), 403,
              "Forbidden.PeerSignature");
  ExpectError(peer.Handle(Signed("/ferry/peer/v1/nothing", "wrong-key")), 403, "Forbidden.PeerSignature");
}

TEST_F(PeerEndpointsTest, NotFoundAndMalformedRequests) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
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
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  region_.corrupt = true;
  ExpectError(peer.Handle(Signed(PeerChunkPath(kRegion, chunk_id_))), 500, "InvalidChunk.Corrupted");
}

CopyTarget SampleTarget() {
  CopyTarget t;
  t.image_id = "m-copy000000000000001";
  t.account_id = apitest::kAccountId;
  t.source_region_id = kRegion;
  t.source_image.image_id = "m-source0000000000001";
  t.source_image.disks.push_back(DiskMapping{"s-sys", 40});
  SnapshotRecord snapshot;
  snapshot.snapshot_id = "s-sys";
  t.source_snapshots.push_back(snapshot);
  t.image_name = "web-copy";
  t.tags = {{"team", "web"}};
  return t;
}

TEST_F(PeerEndpointsTest, AcceptsACopyAndAnswersItsNewImageId) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  const CopyTarget target = SampleTarget();
  nlohmann::json answer = JsonOf(peer.Handle(Call("POST", PeerCopiesPath(kCopyRegion), EncodeCopyTarget(target))));
  EXPECT_EQ(answer, nlohmann::json({{"ImageId", target.image_id}}));
  std::lock_guard<std::mutex> lock(beijing_.copy_mu);
  ASSERT_EQ(beijing_.accepted.size(), 1u);
  EXPECT_EQ(beijing_.accepted[0].image_name, "web-copy");
  EXPECT_EQ(beijing_.accepted[0].source_image.image_id, target.source_image.image_id);
  EXPECT_EQ(beijing_.accepted[0].tags, target.tags);
  ASSERT_EQ(beijing_.accepted[0].source_snapshots.size(), 1u);
}

TEST_F(PeerEndpointsTest, ACopyRefusedByTheRegionKeepsItsReasonAndNamesItsCode) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  const std::string body = EncodeCopyTarget(SampleTarget());
  beijing_.copy_error = AlreadyExists("InvalidImageName.Duplicated", "The name web-copy is taken.");
  nlohmann::json error =
      ExpectError(peer.Handle(Call("POST", PeerCopiesPath(kCopyRegion), body)), 409, "InvalidImageName.Duplicated");
  EXPECT_EQ(error.value("Status", ""), "AlreadyExists");
  EXPECT_EQ(error.value("Message", ""), "The name web-copy is taken.");
  beijing_.copy_error = InvalidArgument("DryRunOperation", "Request validation has been passed with DryRun flag set.");
  error = ExpectError(peer.Handle(Call("POST", PeerCopiesPath(kCopyRegion), body)), 400, "DryRunOperation");
  EXPECT_EQ(error.value("Status", ""), "InvalidArgument");
}

TEST_F(PeerEndpointsTest, AMalformedCopyTargetIsRefusedBeforeTheRegionSeesIt) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  nlohmann::json target = nlohmann::json::parse(EncodeCopyTarget(SampleTarget()));
  target.erase("ImageName");
  nlohmann::json error = ExpectError(peer.Handle(Call("POST", PeerCopiesPath(kCopyRegion), target.dump())), 400,
                                     "InvalidParameter");
  EXPECT_NE(error.value("Message", "").find("ImageName"), std::string::npos);
  ExpectError(peer.Handle(Call("POST", PeerCopiesPath(kCopyRegion), "")), 400, "InvalidParameter");
  std::lock_guard<std::mutex> lock(beijing_.copy_mu);
  EXPECT_TRUE(beijing_.accepted.empty());
}

TEST_F(PeerEndpointsTest, TheSignatureCoversTheBody) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  HttpRequest request = Call("POST", PeerCopiesPath(kCopyRegion), EncodeCopyTarget(SampleTarget()));
  CopyTarget other = SampleTarget();
  other.image_name = "someone-elses";
  request.body = EncodeCopyTarget(other);
  nlohmann::json error = ExpectError(peer.Handle(request), 403, "Forbidden.PeerSignature");
  EXPECT_EQ(error.value("Status", ""), "PermissionDenied");
  std::lock_guard<std::mutex> lock(beijing_.copy_mu);
  EXPECT_TRUE(beijing_.accepted.empty());
}

TEST_F(PeerEndpointsTest, AnswersWhetherACopyIsInProgress) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  beijing_.copies_in_progress.insert("m-running");
  EXPECT_EQ(JsonOf(peer.Handle(Call("GET", PeerCopyPath(kCopyRegion, "m-running")))),
            nlohmann::json({{"ImageId", "m-running"}, {"InProgress", true}}));
  EXPECT_EQ(JsonOf(peer.Handle(Call("GET", PeerCopyPath(kCopyRegion, "m-finished")))),
            nlohmann::json({{"ImageId", "m-finished"}, {"InProgress", false}}));
  beijing_.copy_error = Unavailable("region cn-beijing is shutting down");
  nlohmann::json error =
      ExpectError(peer.Handle(Call("GET", PeerCopyPath(kCopyRegion, "m-running"))), 503, "ServiceUnavailable");
  EXPECT_EQ(error.value("Status", ""), "Unavailable");
}

TEST_F(PeerEndpointsTest, TakesAndReleasesCopyLeases) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  const std::string path = PeerCopyLeasePath(kCopyRegion, "m-source", "cn-shanghai", "m-copy");
  EXPECT_EQ(JsonOf(peer.Handle(Call("PUT", path))), nlohmann::json::object());
  EXPECT_EQ(JsonOf(peer.Handle(Call("DELETE", path))), nlohmann::json::object());
  {
    std::lock_guard<std::mutex> lock(beijing_.copy_mu);
    ASSERT_EQ(beijing_.acquired_leases.size(), 1u);
    EXPECT_EQ(beijing_.acquired_leases[0].source_image_id, "m-source");
    EXPECT_EQ(beijing_.acquired_leases[0].copy_region_id, "cn-shanghai");
    EXPECT_EQ(beijing_.acquired_leases[0].copy_image_id, "m-copy");
    ASSERT_EQ(beijing_.released_leases.size(), 1u);
    EXPECT_EQ(beijing_.released_leases[0].copy_image_id, "m-copy");
  }
  beijing_.copy_error = FailedPrecondition("OperationDenied.ImageCopyConflict", "m-source is being copied");
  nlohmann::json error = ExpectError(peer.Handle(Call("PUT", path)), 409, "OperationDenied.ImageCopyConflict");
  EXPECT_EQ(error.value("Status", ""), "FailedPrecondition");
}

TEST_F(PeerEndpointsTest, EachRouteAnswersOnlyItsMethods) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  const std::string lease = PeerCopyLeasePath(kCopyRegion, "m-source", "cn-shanghai", "m-copy");
  ExpectError(peer.Handle(Call("GET", PeerCopiesPath(kCopyRegion))), 400, "UnsupportedHTTPMethod");
  ExpectError(peer.Handle(Call("POST", lease, "{}")), 400, "UnsupportedHTTPMethod");
  ExpectError(peer.Handle(Call("GET", lease)), 400, "UnsupportedHTTPMethod");
  ExpectError(peer.Handle(Call("DELETE", PeerCopyPath(kCopyRegion, "m-copy"))), 400, "UnsupportedHTTPMethod");
  ExpectError(peer.Handle(Call("PUT", PeerAccessKeyPath("LTAI5tAliceKey"))), 400, "UnsupportedHTTPMethod");
  ExpectError(peer.Handle(Call("PATCH", PeerCopiesPath(kCopyRegion))), 400, "UnsupportedHTTPMethod");
  ExpectError(peer.Handle(Call("HEAD", PeerManifestPath(kRegion, "s-committed"))), 400, "UnsupportedHTTPMethod");
  // ... but only once the caller is authenticated.
  ExpectError(peer.Handle(Signed(PeerCopiesPath(kCopyRegion), "wrong-key", kNow, "PATCH")), 403,
              "Forbidden.PeerSignature");
  ExpectError(peer.Handle(Call("PUT", PeerCopyLeasePath("us-west-1", "m-source", "cn-shanghai", "m-copy"))), 404,
              "InvalidRegionId.NotFound");
  std::lock_guard<std::mutex> lock(beijing_.copy_mu);
  EXPECT_TRUE(beijing_.acquired_leases.empty());
  EXPECT_TRUE(beijing_.released_leases.empty());
}

TEST_F(PeerEndpointsTest, AnswersAnAccessKeyWithItsSecretSealed) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  nlohmann::json key = JsonOf(peer.Handle(Call("GET", PeerAccessKeyPath("LTAI5tAliceKey"))));
  EXPECT_EQ(key.value("AccessKeyId", ""), "LTAI5tAliceKey");
  EXPECT_EQ(key.value("AccountId", ""), apitest::kAccountId);
  EXPECT_EQ(key.value("AccountName", ""), "alice");
  EXPECT_EQ(key.value("IsRoot", false), true);
  EXPECT_EQ(key.value("Enabled", false), true);
  EXPECT_EQ(key.value("CreationTime", 0), 1700000100);
  EXPECT_EQ(key.size(), 7u);
  const std::string sealed = key.value("SealedSecret", "");
  EXPECT_EQ(sealed.find("alice-secret"), std::string::npos);
  Result<std::string> secret = OpenPeerSecret(kKey, "LTAI5tAliceKey", sealed);
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_EQ(*secret, "alice-secret");
  // Sealed for this key only.
  EXPECT_FALSE(OpenPeerSecret(kKey, "LTAI5tOtherKey", sealed).ok());
}

TEST_F(PeerEndpointsTest, AnUnknownAccessKeyIsNotFoundAndOutsidersLearnNothing) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  nlohmann::json error =
      ExpectError(peer.Handle(Call("GET", PeerAccessKeyPath("LTAI5tNobody"))), 404, "InvalidAccessKeyId.NotFound");
  EXPECT_NE(error.value("Message", "").find("LTAI5tNobody"), std::string::npos);
  EXPECT_EQ(error.value("Status", ""), "NotFound");
  ExpectError(peer.Handle(Signed(PeerAccessKeyPath("LTAI5tAliceKey"), "wrong-key")), 403,
              "Forbidden.PeerSignature");
  // A key whose account the directory lacks is a broken directory: 500.
  error = ExpectError(peer.Handle(Call("GET", PeerAccessKeyPath("LTAI5tOrphanKey"))), 500, "InternalError");
  EXPECT_NE(error.value("Message", "").find("9999999999999999"), std::string::npos);
}

// The whole path: the Beast server routes /ferry/peer/v1/ to the endpoints
// and HttpChunkSource reads through it.
TEST_F(PeerEndpointsTest, HttpChunkSourceReadsThroughTheServer) {
  const std::string dir = ::testing::TempDir() + "/ferry-peer-endpoints-" + RandomHex(8);
  std::filesystem::create_directories(dir + "/oss");
  {
    FsObjectStore storage(dir + "/oss", apitest::kAccountId);
    auto server = ServePeers(storage);
    ASSERT_TRUE(server.ok()) << server.status().ToString();

    HttpChunkSourceOptions options = SourceOptions(**server);
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

// POST nonces spends an upload's nonce in this process's Authenticator: once.
TEST_F(PeerEndpointsTest, SpendsANonceOnceAndChecksWhatItIsSent) {
  Authenticator authenticator(accounts_, clock_, 15 * 60);
  PeerEndpoints peer(kKey, regions_, accounts_, clock_, &authenticator);
  const std::string path(kPeerNoncesPath);
  auto spend = [&](const nlohmann::json& body) { return peer.Handle(Call("POST", path, body.dump())); };
  const nlohmann::json fresh = {{"AccessKeyId", "LTAI5tAliceKey"}, {"Nonce", "n-1"}, {"Timestamp", kNow}};
  EXPECT_EQ(JsonOf(spend(fresh)), nlohmann::json::object());
  EXPECT_EQ(authenticator.nonces_in_use(), 1u);
  nlohmann::json used = ExpectError(spend(fresh), 400, "SignatureNonceUsed");
  EXPECT_EQ(used.value("Status", ""), "InvalidArgument");
  // The same nonce of another key is another nonce.
  JsonOf(spend({{"AccessKeyId", "LTAI5tOtherKey"}, {"Nonce", "n-1"}, {"Timestamp", kNow}}));

  // Malformed bodies, and a date the caller should never have let through
  // (it would keep the nonce here as long as it says).
  for (const std::string& bad : {std::string("not json"), std::string("[]"), std::string("{}"),
                                 nlohmann::json{{"AccessKeyId", "k"}, {"Nonce", 7}, {"Timestamp", kNow}}.dump(),
                                 nlohmann::json{{"AccessKeyId", "k"}, {"Nonce", ""}, {"Timestamp", kNow}}.dump(),
                                 nlohmann::json{{"AccessKeyId", "k"}, {"Nonce", "n"}, {"Timestamp", "now"}}.dump(),
                                 std::string(PeerEndpoints::kMaxPeerNonceBody + 1, ' ')}) {
    ExpectError(peer.Handle(Call("POST", path, bad)), 400, "InvalidParameter");
  }
  ExpectError(spend({{"AccessKeyId", "k"}, {"Nonce", "n-2"}, {"Timestamp", kNow + 24 * 3600}}), 400,
              "InvalidTimeStamp.Expired");
  EXPECT_EQ(authenticator.nonces_in_use(), 2u);
  ExpectError(peer.Handle(Call("GET", path)), 400, "UnsupportedHTTPMethod");
  ExpectError(peer.Handle(Signed(path, "wrong-key", kNow, "POST", fresh.dump())), 403, "Forbidden.PeerSignature");
  // A process built without an authenticator spends nothing for peers.
  PeerEndpoints closed(kKey, regions_, accounts_, clock_);
  ExpectError(closed.Handle(Call("POST", path, fresh.dump())), 404, "InvalidPeerPath.NotFound");
}

// The spender a non-owner process uses, through a real server: fresh, used,
// and an owner that cannot be reached (fails closed).
TEST_F(PeerEndpointsTest, PeerNonceSpenderSpendsAtTheOwnerAndFailsClosed) {
  const std::string dir = ::testing::TempDir() + "/ferry-peer-nonces-" + RandomHex(8);
  std::filesystem::create_directories(dir + "/oss");
  {
    FsObjectStore storage(dir + "/oss", apitest::kAccountId);
    auto server = ServePeers(storage);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    PeerClientOptions options;
    options.base_url = BaseUrl(**server);
    options.cluster_key = kKey;
    auto client = NewPeerClient(options);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    std::unique_ptr<NonceSpender> spender = NewPeerNonceSpender(std::move(client).value());
    const UnixSeconds now = SystemClock::Get().Now();
    EXPECT_TRUE(spender->Spend("LTAI5tAliceKey", "upload-nonce", now).ok());
    Status again = spender->Spend("LTAI5tAliceKey", "upload-nonce", now);
    EXPECT_EQ(again.reason(), "SignatureNonceUsed") << again.ToString();
    EXPECT_EQ(again.code(), Code::kInvalidArgument) << again.ToString();
    (*server)->Stop();

    // Stopped: the nonce cannot be checked, so it is not accepted.
    Status unreachable = spender->Spend("LTAI5tAliceKey", "another-nonce", now);
    EXPECT_EQ(unreachable.code(), Code::kUnavailable) << unreachable.ToString();
    EXPECT_EQ(unreachable.reason(), "ServiceUnavailable");
    EXPECT_EQ(unreachable.message().find("127.0.0.1"), std::string::npos) << unreachable.message();
  }
  std::filesystem::remove_all(dir);
}

TEST_F(PeerEndpointsTest, AnswersAnAccountWithoutSecrets) {
  PeerEndpoints peer(kKey, regions_, accounts_, clock_);
  nlohmann::json account = JsonOf(peer.Handle(Call("GET", PeerAccountPath(apitest::kAccountId))));
  EXPECT_EQ(account, (nlohmann::json{{"AccountId", apitest::kAccountId}, {"AccountName", "alice"},
                                     {"IsRoot", true}, {"CreationTime", 1700000000}}));
  ExpectError(peer.Handle(Call("GET", PeerAccountPath("1212121212121212"))), 404, "InvalidAccount.NotFound");
  ExpectError(peer.Handle(Signed(PeerAccountPath(apitest::kAccountId), "wrong-key")), 403,
              "Forbidden.PeerSignature");
  ExpectError(peer.Handle(Call("PUT", PeerAccountPath(apitest::kAccountId))), 400, "UnsupportedHTTPMethod");
}

// Chunk objects a store keeps as files go out of those files (sendfile):
// the answer carries no copy of the bytes, and through the server a chunk
// larger than the socket's buffer (the wait-for-room path) arrives whole.
TEST_F(PeerEndpointsTest, ChunkObjectsGoOutOfTheStoresFilesWhole) {
  const std::string dir = ::testing::TempDir() + "/ferry-peer-files-" + RandomHex(8);
  std::filesystem::create_directories(dir + "/oss");
  {
    auto store = FsChunkStore::Open(dir + "/chunks");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::vector<uint8_t> big(6 << 20);  // incompressible: a 6 MiB object
    std::mt19937_64 random(7);
    for (auto& b : big) b = static_cast<uint8_t>(random());
    const ChunkId big_id = Sha256::Of(std::span<const uint8_t>(big));
    ASSERT_TRUE((*store)->Put(big_id, big).ok());
    region_.files = store->get();

    PeerEndpoints peer(kKey, regions_, accounts_, clock_);
    HttpResponse direct = peer.Handle(Signed(PeerChunkPath(kRegion, big_id)));
    ASSERT_EQ(direct.status, 200) << direct.body;
    EXPECT_TRUE(direct.body.empty());
    ASSERT_NE(direct.file_body, nullptr);
    EXPECT_EQ(direct.file_body->length, (*(*store)->GetStored(big_id)).size());
    HttpResponse absent =
        peer.Handle(Signed(PeerChunkPath(kRegion, Sha256::Of(std::span<const uint8_t>(big).first(9)))));
    EXPECT_EQ(absent.status, 404);
    EXPECT_NE(absent.body.find("InvalidChunkId.NotFound"), std::string::npos) << absent.body;

    FsObjectStore storage(dir + "/oss", apitest::kAccountId);
    auto server = ServePeers(storage);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    HttpChunkSourceOptions options = SourceOptions(**server);
    auto source = NewHttpChunkSource(options);
    for (int i = 0; i < 3; ++i) {  // the kept-alive connection stays usable after each
      uint64_t wire = 0;
      Result<std::vector<uint8_t>> chunk = source->FetchChunk(kRegion, big_id, &wire);
      ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
      EXPECT_TRUE(*chunk == big);
      EXPECT_EQ(wire, direct.file_body->length);
    }
    (*server)->Stop();
    region_.files = nullptr;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ferry
