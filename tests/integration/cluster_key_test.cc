// The cluster key never needs the command line (issue 8, item 5): it comes
// from a file (--cluster-key-file, checked for its mode) or the environment
// (FERRY_CLUSTER_KEY); --cluster-key on argv still works but warns. Peers
// whose keys differ refuse each other's calls.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "copy/peer_auth.h"
#include "copy/peer_wire.h"
#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kFileKey = "key-from-a-file-0123456789abcdef";

// A signed GET of the region endpoint; the HTTP status and the error code.
std::pair<int, std::string> PeerPing(const std::string& endpoint, const std::string& key) {
  const std::string target = PeerRegionPath(kRegion);
  HttpAnswer answer = SendHttp(endpoint, "GET", target, PeerSignedHeaders(key, "GET", target));
  return {answer.status, answer.Code()};
}

class ClusterKeyTest : public ::testing::Test {
 protected:
  ClusterKeyTest() : scratch_("ferry-cluster-key-") {
    fs::create_directories(DataDir());
    fs::create_directories(scratch_.path() + "/config");
  }
  std::string DataDir() const { return scratch_.path() + "/data"; }
  std::string WriteKeyFile(const std::string& content, fs::perms mode) {
    const std::string path = scratch_.path() + "/cluster.key";
    std::ofstream(path, std::ios::trunc) << content;
    fs::permissions(path, mode, fs::perm_options::replace);
    return path;
  }

  ScratchDir scratch_;
};

TEST_F(ClusterKeyTest, ServerUsesTheKeyFromItsFileAndRefusesAnotherKey) {
  const std::string path =
      WriteKeyFile(std::string("  ") + kFileKey + "\n\n", fs::perms::owner_read | fs::perms::owner_write);
  FerryServer server(DataDir(), scratch_.path() + "/config");
  server.set_extra_args({"--region", kRegion, "--cluster-key-file", path});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  // Trimmed: the file's key signs; any other key is refused.
  EXPECT_EQ(PeerPing(server.endpoint(), kFileKey), std::make_pair(200, std::string()));
  EXPECT_EQ(PeerPing(server.endpoint(), "another-key-0123456789abcdef"),
            std::make_pair(403, std::string("Forbidden.PeerSignature")));
  EXPECT_FALSE(fs::exists(DataDir() + "/cluster-key")) << "no generated key when one is configured";
  EXPECT_EQ(server.Log().find("puts the cluster's secret on the command line"), std::string::npos);
  EXPECT_EQ(server.Log().find(kFileKey), std::string::npos) << "the key is never logged:\n" << server.Log();
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

TEST_F(ClusterKeyTest, KeyFromTheEnvironmentWorksAndOnTheCommandLineWarns) {
  FerryServer server(DataDir(), scratch_.path() + "/config");
  server.set_extra_args({"--region", kRegion});
  server.set_extra_env({{"FERRY_CLUSTER_KEY", kFileKey}});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  EXPECT_EQ(PeerPing(server.endpoint(), kFileKey).first, 200);
  EXPECT_EQ(server.Log().find("on the command line"), std::string::npos) << server.Log();
  EXPECT_EQ(server.Stop(), 0) << server.Log();

  FerryServer argv(DataDir(), scratch_.path() + "/config");
  argv.set_extra_args({"--region", kRegion, "--cluster-key", kFileKey});
  ASSERT_TRUE(argv.Start(&error)) << error;
  EXPECT_EQ(PeerPing(argv.endpoint(), kFileKey).first, 200);
  EXPECT_NE(argv.Log().find("--cluster-key puts the cluster's secret on the command line"), std::string::npos)
      << argv.Log();
  EXPECT_EQ(argv.Stop(), 0) << argv.Log();
}

TEST_F(ClusterKeyTest, UnsafeMissingShortOrDoubleKeySettingsAreUsageErrors) {
  const std::string open_file = WriteKeyFile(kFileKey, fs::perms::owner_read | fs::perms::owner_write |
                                                           fs::perms::group_read | fs::perms::others_read);
  CommandResult world_readable =
      RunFerry({"serve", "--data", DataDir(), "--listen", "127.0.0.1:0", "--cluster-key-file", open_file}, {});
  EXPECT_EQ(world_readable.exit_code, 2);
  EXPECT_NE(world_readable.err.find("has mode 0644"), std::string::npos) << world_readable.err;
  EXPECT_NE(world_readable.err.find("chmod 600"), std::string::npos) << world_readable.err;
  EXPECT_EQ(world_readable.err.find(kFileKey), std::string::npos) << "the key is never printed";

  const std::string short_file = WriteKeyFile("short\n", fs::perms::owner_read | fs::perms::owner_write);
  CommandResult too_short =
      RunFerry({"serve", "--data", DataDir(), "--listen", "127.0.0.1:0", "--cluster-key-file", short_file}, {});
  EXPECT_EQ(too_short.exit_code, 2);
  EXPECT_NE(too_short.err.find("at least 16 characters"), std::string::npos) << too_short.err;

  CommandResult missing = RunFerry({"serve", "--data", DataDir(), "--listen", "127.0.0.1:0",
                                    "--cluster-key-file", scratch_.path() + "/nope"},
                                   {});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nope"), std::string::npos) << missing.err;

  const std::string good = WriteKeyFile(kFileKey, fs::perms::owner_read | fs::perms::owner_write);
  CommandResult both = RunFerry({"serve", "--data", DataDir(), "--listen", "127.0.0.1:0", "--cluster-key-file",
                                 good},
                                {{"FERRY_CLUSTER_KEY", "another-key-0123456789abcdef"}});
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("both set the cluster key"), std::string::npos) << both.err;
}

// Two processes whose key files differ: B cannot look up a key A holds (the
// peer call is refused), so the account A created cannot use B's region;
// with the same key it can (cluster_replay_test).
TEST(ClusterKeyMismatchTest, PeersWithDifferentKeysRefuseEachOthersCalls) {
  FerryCluster cluster("ferry-key-mismatch-", {{"cn-hangzhou"}, {"cn-shanghai"}});
  cluster.set_cluster_key(1, "a-different-cluster-key-0123456789");
  std::string error;
  ASSERT_TRUE(cluster.StartAll(&error)) << error;
  EcsClient root = RootClient(cluster.endpoint(0), false);
  json alice = CallOk(root, "CreateAccount", {{"AccountName", "alice"}});
  const std::string key_id = alice.value("AccessKeyId", "");
  ASSERT_FALSE(key_id.empty()) << alice.dump();
  EcsClient at_b = ClientFor(cluster.endpoint(1), key_id, alice.value("AccessKeySecret", ""), false);
  Result<EcsResponse> refused = at_b.Call("DescribeImages", {{"RegionId", "cn-shanghai"}});
  ASSERT_TRUE(refused.ok()) << refused.status().ToString();
  EXPECT_EQ(refused->http_status, 503) << refused->raw_body;
  EXPECT_EQ(refused->body.value("Code", ""), "ServiceUnavailable") << refused->raw_body;
  EXPECT_NE(cluster.server(1).Log().find("Forbidden.PeerSignature"), std::string::npos) << cluster.Logs();
}

}  // namespace
}  // namespace ferry::testing
