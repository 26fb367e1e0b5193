// The operator's hypervisor hook (`ferry serve --instance-hook PROGRAM`):
// a small script stands in for the hypervisor. It records every call
// (instance id, action, system disk path) and refuses a start while a marker
// file exists; a refused start leaves the instance Stopped.
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
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

TEST(InstanceHookTest, TheHookSeesStartStopAndDeleteAndARefusedStartLeavesTheInstanceStopped) {
  ScratchDir scratch("ferry-instance-hook-");
  const std::string data = scratch.path() + "/data";
  const std::string config = scratch.path() + "/config";
  fs::create_directories(data + "/oss/" + kOperatorBucket);
  fs::create_directories(config);
  const std::string calls = scratch.path() + "/calls.log";
  const std::string refuse = scratch.path() + "/refuse-start";
  const std::string hook = scratch.path() + "/hypervisor.sh";
  {
    std::ofstream out(hook);
    out << "#!/bin/sh\n"
        << "echo \"$1 $2 $3\" >> '" << calls << "'\n"
        << "if [ \"$2\" = start ] && [ -e '" << refuse << "' ]; then exit 3; fi\n"
        << "exit 0\n";
  }
  ::chmod(hook.c_str(), 0755);

  FerryServer server(data, config);
  server.set_extra_args({"--regions", kRegion, "--instance-hook", hook});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  EcsClient root = RootClient(server.endpoint(), false);
  WriteSparseImage(data + "/oss/" + kOperatorBucket + "/hook.raw", 8 * kMiB, {{0, kMiB}}, 3);
  const std::string image_id = ImportRawImage(root, kRegion, kOperatorBucket, "hook.raw", "hook");
  ASSERT_FALSE(image_id.empty());

  json run = CallOk(root, "RunInstances", {{"ImageId", image_id}, {"InstanceType", "ecs.g7.large"}});
  const std::string id = run["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  ASSERT_EQ(Settled(root, id), "Running");
  json disks = CallOk(root, "DescribeDisks", {{"InstanceId", id}});
  const std::string disk_id = disks["Disks"]["Disk"][0].value("DiskId", "");
  CommandResult path = RunFerry({"disk", "path", disk_id, "--data", data, "--region", kRegion}, {});
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
  EXPECT_NE(server.Log().find("instance hook"), std::string::npos) << "the refused start is logged";
  EXPECT_EQ(server.Stop(), 0) << server.Log();
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
TEST(InstanceHookTest, CliStartAndRebootFailAtOnceWhenTheHookRefusesAndPollLess) {
  ScratchDir scratch("ferry-instance-hook-cli-");
  const std::string data = scratch.path() + "/data";
  const std::string config = scratch.path() + "/config";
  fs::create_directories(data + "/oss/" + kOperatorBucket);
  fs::create_directories(config);
  const std::string refuse = scratch.path() + "/refuse-start";
  const std::string hook = scratch.path() + "/hypervisor.sh";
  {
    std::ofstream out(hook);
    out << "#!/bin/sh\n"
        << "if [ \"$2\" = start ] && [ -e '" << refuse << "' ]; then sleep 3; echo 'no capacity' >&2; exit 3; fi\n"
        << "exit 0\n";
  }
  ::chmod(hook.c_str(), 0755);
  FerryServer server(data, config);
  server.set_extra_args({"--regions", kRegion, "--instance-hook", hook});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  EcsClient root = RootClient(server.endpoint(), false);
  EcsClient admin = RootClient(server.admin_endpoint(), false);
  auto describe_requests = [&] {
    Result<std::string> metrics = admin.Get("/metrics");
    EXPECT_TRUE(metrics.ok()) << metrics.status().ToString();
    return metrics.ok() ? ApiRequests(*metrics, "DescribeInstances") : -1;
  };
  WriteSparseImage(data + "/oss/" + kOperatorBucket + "/hook.raw", 8 * kMiB, {{0, kMiB}}, 5);
  const std::string image_id = ImportRawImage(root, kRegion, kOperatorBucket, "hook.raw", "hook-cli");
  ASSERT_FALSE(image_id.empty());
  CommandResult run = RunFerry({"instance", "run", "--image", image_id, "--wait", "--output", "json"},
                               server.ClientEnv(), std::chrono::seconds(60));
  ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  const json rows = json::parse(run.out, nullptr, false);
  ASSERT_TRUE(rows.is_array() && rows.size() == 1) << run.out;
  const std::string id = rows[0].value("InstanceId", std::string());
  ASSERT_EQ(RunFerry({"instance", "stop", id}, server.ClientEnv(), std::chrono::seconds(60)).exit_code, 0);

  std::ofstream(refuse).put('x');
  for (const std::string verb : {"start", "reboot"}) {
    if (verb == "reboot") {
      fs::remove(refuse);
      CommandResult started = RunFerry({"instance", "start", id}, server.ClientEnv(), std::chrono::seconds(60));
      ASSERT_EQ(started.exit_code, 0) << started.err;
      std::ofstream(refuse).put('x');
    }
    const int64_t before = describe_requests();
    const auto t0 = std::chrono::steady_clock::now();
    // Bounded far below the old 5 minutes: a CLI still waiting is killed
    // (exit_code -1).
    CommandResult refused = RunFerry({"instance", verb, id}, server.ClientEnv(), std::chrono::seconds(60));
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
  EXPECT_NE(server.Log().find("no capacity"), std::string::npos) << "the hook's reason is in the server's log";
  CallOk(root, "DeleteInstance", {{"InstanceId", id}, {"Force", "true"}});
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

// A hypervisor slow to boot keeps the instance Starting: IncorrectInstanceStatus
// then has the HTTP status each action's documented table gives it, 400 for
// CreateSnapshot and CreateImage (ecs-api.md 4.5, 4.17), 403 for the state
// changes (4.22, 4.23 and Start/Stop/Reboot).
TEST(InstanceHookTest, IncorrectInstanceStatusIs400ForSnapshotsAnd403ForStateChanges) {
  ScratchDir scratch("ferry-instance-hook-held-");
  const std::string data = scratch.path() + "/data";
  const std::string config = scratch.path() + "/config";
  fs::create_directories(data + "/oss/" + kOperatorBucket);
  fs::create_directories(config);
  const std::string hold = scratch.path() + "/hold-start";
  const std::string hook = scratch.path() + "/hypervisor.sh";
  {
    std::ofstream out(hook);
    // Holds a start while the marker exists (at most 30 s).
    out << "#!/bin/sh\n"
        << "i=0\n"
        << "while [ \"$2\" = start ] && [ -e '" << hold
        << "' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done\n"
        << "exit 0\n";
  }
  ::chmod(hook.c_str(), 0755);
  FerryServer server(data, config);
  server.set_extra_args({"--regions", kRegion, "--instance-hook", hook});
  std::string error;
  ASSERT_TRUE(server.Start(&error)) << error;
  EcsClient root = RootClient(server.endpoint(), false);
  WriteSparseImage(data + "/oss/" + kOperatorBucket + "/held.raw", 8 * kMiB, {{0, kMiB}}, 4);
  const std::string image_id = ImportRawImage(root, kRegion, kOperatorBucket, "held.raw", "held");
  ASSERT_FALSE(image_id.empty());
  json created = CallOk(root, "CreateInstance", {{"ImageId", image_id}, {"InstanceType", "ecs.g7.large"}});
  const std::string id = created.value("InstanceId", "");
  ASSERT_EQ(Settled(root, id), "Stopped");
  json disks = CallOk(root, "DescribeDisks", {{"InstanceId", id}});
  const std::string disk_id = disks["Disks"]["Disk"][0].value("DiskId", "");

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
  expect("ReplaceSystemDisk", {{"InstanceId", id}, {"ImageId", image_id}}, 403);
  EXPECT_EQ(StatusOf(root, id), "Starting") << "the checks ran while the start was held";
  fs::remove(hold);
  EXPECT_EQ(Settled(root, id), "Running");
  CallOk(root, "DeleteInstance", {{"InstanceId", id}, {"Force", "true"}});
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

TEST(InstanceHookTest, ARelativeHookPathIsAUsageError) {
  ScratchDir scratch("ferry-instance-hook-bad-");
  CommandResult bad = RunFerry({"serve", "--data", scratch.path(), "--instance-hook", "hypervisor.sh"}, {});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_NE(bad.err.find("is not an absolute path to a program"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace ferry::testing
