// RemoteCopyPeer end to end: the client of region/remote_copy_peer.h
// against the real Beast server and PeerEndpoints, with a fake region
// behind them.
#include "region/remote_copy_peer.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "api/server.h"
#include "common/ids.h"
#include "objects/fs_object_store.h"
#include "unit/api/api_fakes.h"
#include "unit/api/fake_region.h"

namespace ferry {
namespace {

constexpr const char* kKey = "remote-copy-peer-test-key";
constexpr const char* kDestination = "cn-beijing";

class RemoteCopyPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/ferry-remote-copy-peer-" + RandomHex(8);
    std::filesystem::create_directories(dir_ + "/oss");
    storage_ = std::make_unique<FsObjectStore>(dir_ + "/oss", apitest::kAccountId);
    regions_.ordered.push_back(&beijing_);
    ServerConfig config;
    config.port = 0;
    config.threads = 2;
    config.cluster_key = kKey;
    auto server = StartServer(config, ActionTable{}, regions_, accounts_, *storage_, SystemClock::Get());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    storage_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string BaseUrl() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  std::unique_ptr<CopyPeer> PeerFor(const std::string& region_id, const std::string& key = kKey) {
    RemoteCopyPeerOptions options;
    options.region_id = region_id;
    options.base_url = BaseUrl();
    options.cluster_key = key;
    Result<std::unique_ptr<CopyPeer>> peer = NewRemoteCopyPeer(options);
    EXPECT_TRUE(peer.ok()) << peer.status().ToString();
    return peer.ok() ? std::move(peer).value() : nullptr;
  }

  void FailNextCopyCalls(Status status) {
    std::lock_guard<std::mutex> lock(beijing_.copy_mu);
    beijing_.copy_error = std::move(status);
  }

  std::string dir_;
  actiontest::FakeRegion beijing_{kDestination};
  apitest::FakeAccounts accounts_;
  std::unique_ptr<FsObjectStore> storage_;
  RegionSet regions_;
  std::unique_ptr<Server> server_;
};

CopyTarget SampleTarget() {
  CopyTarget t;
  t.image_id = "m-copy000000000000001";
  t.account_id = apitest::kAccountId;
  t.source_region_id = "cn-hangzhou";
  t.source_image.image_id = "m-source0000000000001";
  t.source_image.name = "web";
  t.source_image.boot_mode = "UEFI";
  t.source_image.disks = {DiskMapping{"s-sys", 40}, DiskMapping{"s-data", 100, "/dev/xvdb", "data"}};
  for (const char* id : {"s-sys", "s-data"}) {
    SnapshotRecord s;
    s.snapshot_id = id;
    s.status = "accomplished";
    s.logical_size = 40ull << 30;
    s.manifest = {9, 9, static_cast<uint8_t>(id[2])};  // travels with the target
    t.source_snapshots.push_back(s);
  }
  t.image_name = "web-copy";
  t.description = "copied";
  t.tags = {{"team", "web"}};
  t.client_token = "token-7";
  return t;
}

TEST_F(RemoteCopyPeerTest, AcceptCopyDeliversTheWholeTargetAndReturnsTheImageId) {
  auto peer = PeerFor(kDestination);
  ASSERT_NE(peer, nullptr);
  const CopyTarget target = SampleTarget();
  Result<std::string> id = peer->AcceptCopy(target);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(*id, target.image_id);

  std::lock_guard<std::mutex> lock(beijing_.copy_mu);
  ASSERT_EQ(beijing_.accepted.size(), 1u);
  const CopyTarget& got = beijing_.accepted[0];
  EXPECT_EQ(got.image_id, target.image_id);
  EXPECT_EQ(got.account_id, target.account_id);
  EXPECT_EQ(got.source_region_id, "cn-hangzhou");
  EXPECT_EQ(got.source_image.boot_mode, "UEFI");
  ASSERT_EQ(got.source_image.disks.size(), 2u);
  EXPECT_EQ(got.source_image.disks[1].device, "/dev/xvdb");
  EXPECT_EQ(got.source_image.disks[1].size_gib, 100u);
  ASSERT_EQ(got.source_snapshots.size(), 2u);
  EXPECT_EQ(got.source_snapshots[1].snapshot_id, "s-data");
  EXPECT_EQ(got.source_snapshots[1].logical_size, 40ull << 30);
  EXPECT_EQ(got.source_snapshots[1].manifest, (std::vector<uint8_t>{9, 9, 'd'}));
  EXPECT_EQ(got.image_name, "web-copy");
  EXPECT_EQ(got.description, "copied");
  EXPECT_EQ(got.tags, target.tags);
  EXPECT_EQ(got.client_token, "token-7");
  EXPECT_FALSE(got.dry_run);
}

TEST_F(RemoteCopyPeerTest, TheDestinationsEcsErrorsArriveUnchanged) {
  auto peer = PeerFor(kDestination);
  ASSERT_NE(peer, nullptr);
  FailNextCopyCalls(AlreadyExists("InvalidImageName.Duplicated", "The image name web-copy is already in use."));
  Result<std::string> duplicated = peer->AcceptCopy(SampleTarget());
  EXPECT_EQ(duplicated.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(duplicated.status().reason(), "InvalidImageName.Duplicated");
  EXPECT_EQ(duplicated.status().message(), "The image name web-copy is already in use.");

  FailNextCopyCalls(InvalidArgument("DryRunOperation", "Request validation has been passed with DryRun flag set."));
  CopyTarget dry = SampleTarget();
  dry.dry_run = true;
  Result<std::string> dry_run = peer->AcceptCopy(dry);
  EXPECT_EQ(dry_run.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(dry_run.status().reason(), "DryRunOperation");
  std::lock_guard<std::mutex> lock(beijing_.copy_mu);
  ASSERT_EQ(beijing_.accepted.size(), 2u);
  EXPECT_TRUE(beijing_.accepted[1].dry_run);
}

TEST_F(RemoteCopyPeerTest, CopyInProgressAsksTheDestination) {
  auto peer = PeerFor(kDestination);
  ASSERT_NE(peer, nullptr);
  {
    std::lock_guard<std::mutex> lock(beijing_.copy_mu);
    beijing_.copies_in_progress.insert("m-running");
  }
  Result<bool> running = peer->CopyInProgress("m-running");
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_TRUE(*running);
  Result<bool> done = peer->CopyInProgress("m-done");
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  EXPECT_FALSE(*done);
  FailNextCopyCalls(Unavailable("cn-beijing is shutting down"));
  EXPECT_EQ(peer->CopyInProgress("m-running").status().code(), Code::kUnavailable);
}

TEST_F(RemoteCopyPeerTest, LeasesAreTakenAndReleasedOnTheSource) {
  // Here the server's region plays the source: the lease lives with the image.
  auto peer = PeerFor(kDestination);
  ASSERT_NE(peer, nullptr);
  const CopyLease lease{"m-source0000000000001", "cn-shanghai", "m-copy000000000000001"};
  ASSERT_TRUE(peer->AcquireCopyLease(lease).ok());
  ASSERT_TRUE(peer->ReleaseCopyLease(lease).ok());
  {
    std::lock_guard<std::mutex> lock(beijing_.copy_mu);
    ASSERT_EQ(beijing_.acquired_leases.size(), 1u);
    EXPECT_EQ(beijing_.acquired_leases[0].source_image_id, lease.source_image_id);
    EXPECT_EQ(beijing_.acquired_leases[0].copy_region_id, lease.copy_region_id);
    EXPECT_EQ(beijing_.acquired_leases[0].copy_image_id, lease.copy_image_id);
    ASSERT_EQ(beijing_.released_leases.size(), 1u);
    EXPECT_EQ(beijing_.released_leases[0].copy_image_id, lease.copy_image_id);
  }
  FailNextCopyCalls(FailedPrecondition("OperationDenied.ImageCopyConflict", "m-source is being copied"));
  Status conflict = peer->AcquireCopyLease(lease);
  EXPECT_EQ(conflict.code(), Code::kFailedPrecondition);
  EXPECT_EQ(conflict.reason(), "OperationDenied.ImageCopyConflict");
  FailNextCopyCalls(NotFound("InvalidImageId.NotFound", "no image m-source"));
  EXPECT_EQ(peer->AcquireCopyLease(lease).reason(), "InvalidImageId.NotFound");
}

TEST_F(RemoteCopyPeerTest, ARegionThePeerDoesNotServeIsNotFound) {
  auto peer = PeerFor("us-west-1");
  ASSERT_NE(peer, nullptr);
  Result<std::string> r = peer->AcceptCopy(SampleTarget());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().reason(), "InvalidRegionId.NotFound");
  EXPECT_NE(r.status().message().find("us-west-1"), std::string::npos);
}

TEST_F(RemoteCopyPeerTest, PingSaysWhetherThePeerServesTheRegionWithOurKey) {
  auto peer = PeerFor(kDestination);
  ASSERT_NE(peer, nullptr);
  EXPECT_TRUE(peer->Ping().ok());
  auto elsewhere = PeerFor("us-west-1");
  ASSERT_NE(elsewhere, nullptr);
  EXPECT_EQ(elsewhere->Ping().reason(), "InvalidRegionId.NotFound");
  auto stranger = PeerFor(kDestination, "not-this-cluster");
  ASSERT_NE(stranger, nullptr);
  EXPECT_EQ(stranger->Ping().code(), Code::kPermissionDenied);
  server_->Stop();
  EXPECT_EQ(peer->Ping().code(), Code::kUnavailable);
}

TEST_F(RemoteCopyPeerTest, AnotherClusterKeyIsRefusedAndNothingHappens) {
  auto peer = PeerFor(kDestination, "not-this-cluster");
  ASSERT_NE(peer, nullptr);
  Result<std::string> r = peer->AcceptCopy(SampleTarget());
  EXPECT_EQ(r.status().code(), Code::kPermissionDenied) << r.status().ToString();
  EXPECT_EQ(r.status().reason(), "Forbidden.PeerSignature");
  EXPECT_EQ(peer->AcquireCopyLease(CopyLease{"m-a", "cn-shanghai", "m-b"}).code(), Code::kPermissionDenied);
  std::lock_guard<std::mutex> lock(beijing_.copy_mu);
  EXPECT_TRUE(beijing_.accepted.empty());
  EXPECT_TRUE(beijing_.acquired_leases.empty());
}

TEST_F(RemoteCopyPeerTest, AStoppedPeerIsUnavailable) {
  auto peer = PeerFor(kDestination);
  ASSERT_NE(peer, nullptr);
  server_->Stop();
  Result<std::string> r = peer->AcceptCopy(SampleTarget());
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_EQ(peer->ReleaseCopyLease(CopyLease{"m-a", "cn-shanghai", "m-b"}).code(), Code::kUnavailable);
}

TEST(NewRemoteCopyPeerTest, RefusesABadUrlOrAMissingRegion) {
  RemoteCopyPeerOptions options;
  options.region_id = kDestination;
  options.base_url = "https://peer.example:8080";
  EXPECT_EQ(NewRemoteCopyPeer(options).status().code(), Code::kInvalidArgument);
  options.base_url = "http://127.0.0.1:8080";
  options.region_id = "";
  EXPECT_EQ(NewRemoteCopyPeer(options).status().code(), Code::kInvalidArgument);
  options.region_id = kDestination;
  EXPECT_TRUE(NewRemoteCopyPeer(options).ok());
}

}  // namespace
}  // namespace ferry
