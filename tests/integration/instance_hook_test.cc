// The operator's hypervisor hook (`ferry serve --instance-hook PROGRAM`):
// a small script stands in for the hypervisor. It records every call
// (instance id, action, system disk path) and refuses a start while a marker
// file exists; a refused start leaves the instance Stopped.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMiB = 1 << 20;

std::string StatusOf(EcsClient& client, const std::string& id) {
  json body = CallOk(client, "DescribeInstances", {{"InstanceIds", json::array({id}).dump()}});
  const json& items = body["Instances"]["Instance"];
  return items.empty() ? "" : items[0].value("Status", std::string());
}

// Polls until the instance leaves its transitional state; its status then.
std::string Settled(EcsClient& client, const std::string& id) {
  std::string status;
  for (int i = 0; i < 300; ++i) {
    status = StatusOf(client, id);
    if (status != "Pending" && status != "Starting" && status != "Stopping") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return status;
}

// A scratch directory, and in it a `ferry serve` whose instance hook is a
// shell script the test writes (paths in it name files under Path()), with an
// 8 MiB image imported.
class InstanceHookTest : public ::testing::Test {
 protected:
  const std::string& Path() const { return scratch_.path(); }

  // Writes `hook` (the lines after #!/bin/sh) as the hypervisor script,
  // starts the server with it and imports "<image_name>.raw" (1 MiB of data
  // from `seed`) as image_id_.
  void StartServer(const std::string& hook, const std::string& image_name, uint64_t seed) {
    fs::create_directories(data_ + "/oss/" + kOperatorBucket);
    fs::create_directories(config_);
    const std::string script = Path() + "/hypervisor.sh";
    {
      std::ofstream out(script);
      out << "#!/bin/sh\n" << hook;
    }
    ASSERT_EQ(::chmod(script.c_str(), 0755), 0);
    server_.set_extra_args({"--regions", kRegion, "--instance-hook", script});
    std::string error;
    ASSERT_TRUE(server_.Start(&error)) << error;
    root_.emplace(RootClient(server_.endpoint(), false));
    const std::string object = image_name + ".raw";
    WriteSparseImage(data_ + "/oss/" + kOperatorBucket + "/" + object, 8 * kMiB, {{0, kMiB}}, seed);
    image_id_ = ImportRawImage(*root_, kRegion, kOperatorBucket, object, image_name);
    ASSERT_FALSE(image_id_.empty());
  }

  // The id of the instance's (one) disk.
  std::string DiskOf(const std::string& instance_id) {
    json disks = CallOk(*root_, "DescribeDisks", {{"InstanceId", instance_id}});
    return disks["Disks"]["Disk"][0].value("DiskId", "");
  }

  ScratchDir scratch_{"ferry-instance-hook-"};
  const std::string data_ = Path() + "/data";
  const std::string config_ = Path() + "/config";
  FerryServer server_{data_, config_};
  std::optional<EcsClient> root_;  // from StartServer
  std::string image_id_;
};

TEST_F(InstanceHookTest, TheHookSeesStartStopAndDeleteAndARefusedStartLeavesTheInstanceStopped) {
  const std::string calls = Path() + "/calls.log";
  const std::string refuse = Path() + "/refuse-start";
  ASSERT_NO_FATAL_FAILURE(StartServer("echo \"$1 $2 $3\" >> '" + calls + "'\n" +
                                          "if [ \"$2\" = start ] && [ -e '" + refuse + "' ]; then exit 3; fi\n" +
                                          "exit 0\n",
                                      "hook", 3));
  EcsClient& root = *root_;

  json run = CallOk(root, "RunInstances", {{"ImageId", image_id_}, {"InstanceType", "ecs.g7.large"}});
  const std::string id = run["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  ASSERT_EQ(Settled(root, id), "Running");
  const std::string disk_id = DiskOf(id);
  CommandResult path = RunFerry({"disk", "path", disk_id, "--data", data_, "--region", kRegion}, {});
  ASSERT_EQ(path.exit_code, 0) << path.err;
  const std::string qcow2 = path.out.substr(0, path.out.find('\n'));

  CallOk(root, "StopInstance", {{"InstanceId", id}});
  ASSERT_EQ(Settled(root, id), "Stopped");
  // The hypervisor refuses to boot it: it stays Stopped.
  std::ofstream(refuse).put('x');
  CallOk(root, "StartInstance", {{"InstanceId", id}});
  EXPECT_EQ(Settled(root, id), "Stopped");
  fs::remove(refuse);
  CallOk(root, "StartInstance", {{"InstanceId", id}});
  EXPECT_EQ(Settled(root, id), "Running");
  CallOk(root, "DeleteInstance", {{"InstanceId", id}, {"Force", "true"}});

  std::ifstream in(calls);
  std::stringstream got;
  got << in.rdbuf();
  const std::string expected = id + " start " + qcow2 + "\n" + id + " stop " + qcow2 + "\n" + id + " start " +
                               qcow2 + "\n" + id + " start " + qcow2 + "\n" + id + " delete " + qcow2 + "\n";
  EXPECT_EQ(got.str(), expected);
  EXPECT_NE(server_.Log().find("instance hook"), std::string::npos) << "the refused start is logged";
  EXPECT_EQ(server_.Stop(), 0) << server_.Log();
}

// The polls a CLI wait can make within `elapsed` at most: one at once, then
// one after each pause of cli/wait.h's schedule (200 ms, each next 1.5
// times the last, at most 2 s for instances). A sleep never ends early, so
// a slow machine makes fewer polls, never more.
int64_t MaxPollsWithin(std::chrono::milliseconds elapsed) {
  int64_t polls = 1;
  int64_t at = 0;
  for (int64_t pause = 200;; pause = std::min<int64_t>(static_cast<int64_t>(static_cast<double>(pause) * 1.5), 2000)) {
    at += pause;
    if (at > elapsed.count()) return polls;
    ++polls;
  }
}

// `ferry instance start` / `reboot` when the hypervisor refuses the start:
// the instance goes Starting -> Stopped, and the CLI fails at once (not at
// its 5-minute bound) saying so and pointing at the hook; while it waited
// (the hook takes 3 s to refuse) its polls backed off: the server counted
// no more DescribeInstances requests than the back-off schedule allows in
// the time the command took, where a fixed 100 ms poll makes ~10 a second.
TEST_F(InstanceHookTest, CliStartAndRebootFailAtOnceWhenTheHookRefusesAndPollLess) {
  const std::string refuse = Path() + "/refuse-start";
  ASSERT_NO_FATAL_FAILURE(StartServer(
      "if [ \"$2\" = start ] && [ -e '" + refuse + "' ]; then sleep 3; echo 'no capacity' >&2; exit 3; fi\n" +
          "exit 0\n",
      "hook-cli", 5));
  EcsClient& root = *root_;
  EcsClient admin = RootClient(server_.admin_endpoint(), false);
  auto describe_requests = [&] {
    Result<std::string> metrics = admin.Get("/metrics");
    EXPECT_TRUE(metrics.ok()) << metrics.status().ToString();
    return metrics.ok() ? ApiRequests(*metrics, "DescribeInstances") : -1;
  };
  CommandResult run = RunFerry({"instance", "run", "--image", image_id_, "--wait", "--output", "json"},
                               server_.ClientEnv(), std::chrono::seconds(60));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const json rows = json::parse(run.out, nullptr, false);
  ASSERT_TRUE(rows.is_array() && rows.size() == 1) << run.out;
  const std::string id = rows[0].value("InstanceId", std::string());
  ASSERT_EQ(RunFerry({"instance", "stop", id}, server_.ClientEnv(), std::chrono::seconds(60)).exit_code, 0);

  std::ofstream(refuse).put('x');
  for (const std::string verb : {"start", "reboot"}) {
    if (verb == "reboot") {
      fs::remove(refuse);
      CommandResult started = RunFerry({"instance", "start", id}, server_.ClientEnv(), std::chrono::seconds(60));
      ASSERT_EQ(started.exit_code, 0) << started.err;
      std::ofstream(refuse).put('x');
    }
    const int64_t before = describe_requests();
    const auto t0 = std::chrono::steady_clock::now();
    // Bounded far below the old 5 minutes: a CLI still waiting is killed
    // (exit_code -1).
    CommandResult refused = RunFerry({"instance", verb, id}, server_.ClientEnv(), std::chrono::seconds(60));
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    const int64_t polls = describe_requests() - before;
    EXPECT_EQ(refused.exit_code, 1) << verb << ": " << refused.out << refused.err;
    EXPECT_NE(refused.err.find("is Stopped after " + std::string(verb == "start" ? "Start" : "Reboot") +
                               "Instance was accepted (seen: Starting -> Stopped)"),
              std::string::npos)
        << refused.err;
    EXPECT_NE(refused.err.find("instance hook"), std::string::npos) << refused.err;
    EXPECT_EQ(refused.err.find("after 5m"), std::string::npos) << refused.err;
    EXPECT_GE(polls, 2) << verb;  // it saw Starting, then Stopped
    EXPECT_LE(polls, MaxPollsWithin(took)) << verb << ": " << polls << " polls in " << took.count() << " ms";
    EXPECT_EQ(StatusOf(root, id), "Stopped");
  }
  EXPECT_NE(server_.Log().find("no capacity"), std::string::npos) << "the hook's reason is in the server's log";
  CallOk(root, "DeleteInstance", {{"InstanceId", id}, {"Force", "true"}});
  EXPECT_EQ(server_.Stop(), 0) << server_.Log();
}

// A hypervisor slow to boot keeps the instance Starting: IncorrectInstanceStatus
// then has the HTTP status each action's documented table gives it, 400 for
// CreateSnapshot and CreateImage (ecs-api.md 4.5, 4.17), 403 for the state
// changes (4.22, 4.23 and Start/Stop/Reboot).
TEST_F(InstanceHookTest, IncorrectInstanceStatusIs400ForSnapshotsAnd403ForStateChanges) {
  const std::string hold = Path() + "/hold-start";
  // Holds a start while the marker exists (at most 30 s).
  ASSERT_NO_FATAL_FAILURE(StartServer("i=0\n"
                                      "while [ \"$2\" = start ] && [ -e '" +
                                          hold + "' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n" +
                                          "exit 0\n",
                                      "held", 4));
  EcsClient& root = *root_;
  json created = CallOk(root, "CreateInstance", {{"ImageId", image_id_}, {"InstanceType", "ecs.g7.large"}});
  const std::string id = created.value("InstanceId", "");
  ASSERT_EQ(Settled(root, id), "Stopped");
  const std::string disk_id = DiskOf(id);

  std::ofstream(hold).put('x');
  CallOk(root, "StartInstance", {{"InstanceId", id}});
  ASSERT_EQ(StatusOf(root, id), "Starting");
  auto expect = [&](const std::string& action, std::map<std::string, std::string> params, int http) {
    params["RegionId"] = kRegion;
    Result<EcsResponse> r = root.Call(action, params);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->http_status, http) << action << " " << r->raw_body;
    EXPECT_EQ(r->body.value("Code", ""), "IncorrectInstanceStatus") << action << " " << r->raw_body;
  };
  expect("CreateSnapshot", {{"DiskId", disk_id}}, 400);
  expect("CreateImage", {{"InstanceId", id}, {"ImageName", "held-image"}}, 400);
  expect("StartInstance", {{"InstanceId", id}}, 403);
  expect("StopInstance", {{"InstanceId", id}}, 403);
  expect("RebootInstance", {{"InstanceId", id}}, 403);
  expect("DeleteInstance", {{"InstanceId", id}}, 403);
  expect("ReplaceSystemDisk", {{"InstanceId", id}, {"ImageId", image_id_}}, 403);
  EXPECT_EQ(StatusOf(root, id), "Starting") << "the checks ran while the start was held";
  fs::remove(hold);
  EXPECT_EQ(Settled(root, id), "Running");
  CallOk(root, "DeleteInstance", {{"InstanceId", id}, {"Force", "true"}});
  EXPECT_EQ(server_.Stop(), 0) << server_.Log();
}

TEST_F(InstanceHookTest, ARelativeHookPathIsAUsageError) {
  CommandResult bad = RunFerry({"serve", "--data", Path(), "--instance-hook", "hypervisor.sh"}, {});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("is not an absolute path to a program"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ferry::testing
