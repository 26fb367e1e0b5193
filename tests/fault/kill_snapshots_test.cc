// Fault suite: kill -9 during CreateSnapshot and during CreateImage from an
// instance (issue 9). One `ferry serve` with one Running instance of an
// imported image; before each round the "guest" writes 64 MiB of fresh
// pseudo-random bytes into its system disk (qemu-io on the overlay, as its
// VM would), so every snapshot has new chunks to store. The server's
// qemu-img reads disks at kConvertRate (a wrapper adds `-r`), as it would a
// large disk, so a read lasts seconds.
//
// The task reads the disk into a raw view, tmp/snap-<disk>.* in the disks
// folder, then stores the view's chunks, then commits. The view is written
// from the overlay's cluster map (only the chunks the guest changed) unless
// the overlay holds a layout left to qemu-img convert, such as a compressed
// cluster. The first rounds take the cluster-map path; then the guest writes
// a compressed cluster in every round, and the snapshot reads the whole
// disk through the slowed qemu-img convert, which gives the targeted kills
// their phases. Both paths share the view temp, the ingest and the commit.
// The test kills the server
//   - mid-read: as soon as the view appears;
//   - mid-ingest: once the convert has ended and the view is still there;
//   - at a random moment (seeded), up to twice an undisturbed run's time.
// That the view is still there after a kill proves the kill landed before
// the commit (the view is unlinked before it).
// One kill must end done after the restart (the task runs again); three
// kills of one task's runs must end cleanly failed (quarantined: the task
// Failed with an error code, the snapshot failed, the image CreateFailed). A
// task is never left Processing (bounded wait). A done snapshot or image
// exports to the bytes the disk held when it was taken. After a kill no
// process the server started outlives it; after a restart no temp of the
// killed run is left; at the end no task is Processing, the disks folder
// holds exactly the instance's overlay and its base, `ferry fsck` is clean
// and `ferry gc` leaves exactly the chunks the catalog references.
//
// Seeded: FERRY_FAULT_SEED replays a run (its seed is printed).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kImageBytes = 24 * kMiB;
// The guest writes within the first kSpan bytes of its 20 GiB disk; exports
// are compared over that span (and checked to be zero far beyond it).
constexpr uint64_t kSpan = 192 * kMiB;
constexpr uint64_t kGuestWriteBytes = 64 * kMiB;
constexpr uint64_t kDiskBytes = 20ull << 30;
// Bytes per second the server's qemu-img convert may write.
constexpr uint64_t kConvertRate = 48 * kMiB;
// A restarted task must end within this long.
constexpr auto kSettleDeadline = seconds(180);
// The task's raw view must appear within this long of the request/restart.
constexpr auto kViewDeadline = seconds(60);

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : " ") + x;
  return s;
}

// Processes other than this test whose command line mentions `needle`.
std::vector<std::string> ProcessesMentioning(const std::string& needle) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(::getpid()))
      continue;
    std::string cmdline = ReadAll(e.path().string() + "/cmdline");
    for (char& c : cmdline) c = c == '\0' ? ' ' : c;
    if (cmdline.find(needle) != std::string::npos) out.push_back(pid + ": " + cmdline.substr(0, 200));
  }
  return out;
}

enum class Kill { kNone, kMidRead, kMidIngest, kRandom, kThrice };
const char* KillName(Kill k) {
  switch (k) {
    case Kill::kNone:
      return "no kill";
    case Kill::kMidRead:
      return "one kill mid-read";
    case Kill::kMidIngest:
      return "one kill mid-ingest";
    case Kill::kRandom:
      return "one kill at a random moment";
    case Kill::kThrice:
      return "kills mid-read, mid-ingest, mid-read";
  }
  return "?";
}

// The first `name` in PATH that is a file.
std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path == nullptr ? "/usr/bin" : path;
  for (size_t start = 0; start <= dirs.size();) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (fs::is_regular_file(candidate)) return candidate;
    start = end + 1;
  }
  return "";
}

class KillSnapshotsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    seed_ = EnvOr("FERRY_FAULT_SEED", std::random_device{}());
    std::cout << "[ fault    ] seed " << seed_ << " (replay with FERRY_FAULT_SEED=" << seed_ << ")"
              << std::endl;
    RecordProperty("seed", std::to_string(seed_));
    rng_.seed(seed_);
    cluster_ = std::make_unique<FerryCluster>("ferry-fault-snapshots-",
                                              std::vector<std::vector<std::string>>{{kRegion}});
    // qemu-img as the server finds it: converts at kConvertRate.
    const std::string qemu_img = FindInPath("qemu-img");
    ASSERT_FALSE(qemu_img.empty());
    {
      std::ofstream wrapper(tools_.path() + "/qemu-img");
      wrapper << "#!/bin/sh\n"
              << "if [ \"$1\" = convert ]; then shift; exec '" << qemu_img << "' convert -r " << kConvertRate
              << " \"$@\"; fi\n"
              << "exec '" << qemu_img << "' \"$@\"\n";
    }
    fs::permissions(tools_.path() + "/qemu-img", fs::perms::owner_all);
    const char* search = std::getenv("PATH");
    cluster_->server(0).set_extra_env(
        {{"PATH", tools_.path() + ":" + (search == nullptr ? "/usr/bin:/bin" : search)}});
    std::string error;
    ASSERT_TRUE(cluster_->StartAll(&error)) << error;
    disk_root_ = cluster_->DataDir(0) + "/regions/" + kRegion + "/disks";

    const std::string source = cluster_->BucketDir(0) + "/image.raw";
    WriteSparseImage(source, kImageBytes, {{0, 8 * kMiB}, {12 * kMiB, 12 * kMiB - 4096}}, seed_);
    EcsClient root = Client();
    const std::string image_id =
        ImportRawImage(root, kRegion, kOperatorBucket, "image.raw", "fault-snapshots");
    ASSERT_FALSE(image_id.empty());
    expected_.assign(kSpan, '\0');
    const std::string image_bytes = ReadAll(source);
    expected_.replace(0, image_bytes.size(), image_bytes);

    json run = CallOk(root, "RunInstances",
                      {{"ImageId", image_id}, {"InstanceType", "ecs.g7.large"}, {"SystemDisk.Size", "20"}});
    ASSERT_EQ(run["InstanceIdSets"]["InstanceIdSet"].size(), 1u) << run.dump();
    instance_id_ = run["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
    const auto deadline = Clock::now() + seconds(60);
    std::string status;
    while (Clock::now() < deadline && status != "Running") {
      json listed = CallOk(root, "DescribeInstances", {{"InstanceIds", json::array({instance_id_}).dump()}});
      status = listed["Instances"]["Instance"].empty()
                   ? ""
                   : listed["Instances"]["Instance"][0].value("Status", "");
      if (status != "Running") std::this_thread::sleep_for(milliseconds(50));
    }
    ASSERT_EQ(status, "Running");
    json disks = CallOk(root, "DescribeDisks", {{"InstanceId", instance_id_}});
    ASSERT_EQ(disks["Disks"]["Disk"].size(), 1u) << disks.dump();
    disk_id_ = disks["Disks"]["Disk"][0].value("DiskId", "");
    CommandResult path =
        RunFerry({"disk", "path", disk_id_, "--data", cluster_->DataDir(0), "--region", kRegion}, {});
    ASSERT_EQ(path.exit_code, 0) << path.err;
    qcow2_ = path.out.substr(0, path.out.find('\n'));
  }

  EcsClient Client() { return RootClient(cluster_->endpoint(0), false); }

  // The guest writes kGuestWriteBytes of fresh pseudo-random bytes at a
  // random 512-aligned offset, and 4 KiB more elsewhere; the model follows.
  // With `compressed`, also one compressed cluster (qemu-io write -c): a
  // layout the cluster map leaves to qemu-img convert.
  void GuestWrites(int round, bool compressed) {
    ScratchDir scratch("ferry-fault-snapshots-guest-");
    if (compressed) {
      // qemu writes a compressed cluster only where none is allocated: past
      // kSpan, a fresh cluster each round (exports compare kSpan only).
      constexpr uint64_t kCluster = 65536;
      const uint64_t offset = kSpan + static_cast<uint64_t>(round) * kCluster;
      ASSERT_EQ(RunQemuIo(qcow2_, "write -q -c -P 0x5c " + std::to_string(offset) + " " + std::to_string(kCluster)),
                0);
    }
    for (uint64_t length : {kGuestWriteBytes, uint64_t{4096}}) {
      const uint64_t offset = (rng_() % (kSpan - length)) & ~uint64_t{511};
      const std::string src = scratch.path() + "/src";
      WriteSparseImage(src, length, {{0, length}}, seed_ * 1000 + static_cast<uint64_t>(round) * 2 + length);
      const std::string bytes = ReadAll(src);
      ASSERT_EQ(bytes.size(), length);
      ASSERT_EQ(RunQemuIo(qcow2_,
                          "write -q -s " + src + " " + std::to_string(offset) + " " + std::to_string(length)),
                0);
      expected_.replace(offset, length, bytes);
    }
  }

  std::vector<std::string> SnapshotViews() {
    std::vector<std::string> out;
    for (const std::string& n : Names(disk_root_ + "/tmp"))
      if (n.rfind("snap-", 0) == 0) out.push_back(n);
    return out;
  }

  // Processes of the server's (a qemu-img reading a disk: its command line
  // names the data dir).
  std::vector<std::string> ServerChildren() { return ProcessesMentioning(cluster_->DataDir(0)); }
  bool Converting() {
    for (const std::string& p : ServerChildren())
      if (p.find("qemu-img convert") != std::string::npos) return true;
    return false;
  }

  // Kills the server and checks that nothing it started outlives it (a
  // convert left running would go on for seconds at kConvertRate).
  void KillServer() {
    cluster_->server(0).Kill9();
    const auto deadline = Clock::now() + seconds(1);
    std::vector<std::string> left = ServerChildren();
    while (!left.empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
      left = ServerChildren();
    }
    EXPECT_TRUE(left.empty()) << "still running a second after the server was killed:\n" << Join(left);
  }

  // Restarts the server and checks that no temp of the killed one is left
  // (the resumed task may already have made a new one).
  void Restart(const std::string& why) {
    const std::vector<std::string> before = Names(disk_root_ + "/tmp");
    std::string error;
    ASSERT_TRUE(cluster_->Start(0, &error)) << "restart after " << why << ": " << error;
    for (const std::string& name : Names(disk_root_ + "/tmp")) {
      EXPECT_EQ(std::count(before.begin(), before.end(), name), 0) << "left after restart: " << name;
    }
  }

  // Waits for the task to reach `phase` (kMidRead: the view exists;
  // kMidIngest: the view exists and the convert that filled it has ended)
  // and kills the server there; true if the kill provably landed before the
  // task's commit.
  bool KillMidTask(Kill phase, const std::string& why) {
    const auto deadline = Clock::now() + kViewDeadline;
    bool reached = false;
    bool converted = false;  // a convert was seen, with the view there
    while (!reached && Clock::now() < deadline) {
      const bool view = !SnapshotViews().empty();
      if (phase == Kill::kMidRead) {
        reached = view;
      } else if (view && Converting()) {
        converted = true;
      } else if (view && converted) {
        reached = true;
      } else if (!view && converted) {
        break;  // the ingest ended before the test saw it
      }
      if (!reached) std::this_thread::sleep_for(milliseconds(1));
    }
    if (!reached) {
      ADD_FAILURE() << why << ": the task never reached " << KillName(phase) << "\n" << cluster_->Logs();
      return false;
    }
    KillServer();
    const bool landed = !SnapshotViews().empty();
    Restart(why);
    return landed;
  }

  // Kills the server `delay` after now; true if the kill landed mid-read or
  // mid-ingest (the view was still there).
  bool KillAfter(milliseconds delay, const std::string& why) {
    // The random point of the kill: deliberately a fixed wait, not a poll.
    std::this_thread::sleep_for(delay);
    KillServer();
    const bool landed = !SnapshotViews().empty();
    Restart(why);
    return landed;
  }

  // The task of `action` on `resource_id`.
  std::string TaskOf(const std::string& action, const std::string& resource_id) {
    EcsClient client = Client();
    json tasks = CallOk(client, "DescribeTasks", {{"TaskAction", action}, {"ResourceIds.1", resource_id}});
    const json& list = tasks["TaskSet"]["Task"];
    EXPECT_EQ(list.size(), 1u) << tasks.dump();
    return list.empty() ? "" : list[0].value("TaskId", "");
  }

  // Polls the task until it is no longer Processing (bounded); its last view.
  json SettleTask(const std::string& task_id) {
    EcsClient client = Client();
    json task = WaitForTask(client, task_id, kSettleDeadline);
    EXPECT_NE(task.value("TaskStatus", ""), "Processing")
        << "task " << task_id << " still Processing after " << kSettleDeadline.count() << " s\n"
        << cluster_->Logs();
    return task;
  }

  static std::string ErrorCodeOf(const json& task) {
    if (!task.contains("OperationProgressSet")) return "";
    return task["OperationProgressSet"]["OperationProgress"][0].value("ErrorCode", "");
  }

  json Snapshot(const std::string& snapshot_id) {
    EcsClient client = Client();
    json listed = CallOk(client, "DescribeSnapshots", {{"SnapshotIds", json::array({snapshot_id}).dump()}});
    const json& list = listed["Snapshots"]["Snapshot"];
    EXPECT_EQ(list.size(), 1u) << listed.dump();
    return list.empty() ? json::object() : list[0];
  }

  std::string ImageStatus(const std::string& image_id) {
    EcsClient client = Client();
    json images = DescribeImageIn(client, kRegion, image_id);
    return images.size() == 1 ? images[0].value("Status", "") : "";
  }

  // Exports the image as RAW; its bytes must be `expected` over kSpan and
  // zero far beyond, in a file of the disk's size.
  void ExpectImageHolds(const std::string& image_id, const std::string& expected, const std::string& what) {
    EcsClient client = Client();
    json started = CallOk(client, "ExportImage",
                          {{"ImageId", image_id},
                           {"OSSBucket", kOperatorBucket},
                           {"OSSPrefix", "verify"},
                           {"ImageFormat", "raw"}});
    json task = WaitForTask(client, started.value("TaskId", ""), seconds(180));
    ASSERT_EQ(task.value("TaskStatus", ""), "Finished") << what << ": " << task.dump();
    const std::string out = cluster_->BucketDir(0) + "/" + RelatedItem(task, "OSSObject");
    EXPECT_EQ(fs::file_size(out), kDiskBytes) << what;
    EXPECT_TRUE(ReadRange(out, 0, kSpan) == expected) << what << " does not hold the disk's bytes";
    EXPECT_EQ(ReadRange(out, 10ull << 30, 4096), std::string(4096, '\0')) << what;
    fs::remove(out);
  }

  // The end: no task Processing, the disks folder holds the instance's
  // overlay and its base and no temp, fsck is clean and gc leaves exactly
  // the referenced chunks.
  void ExpectCleanEnd() {
    EcsClient client = Client();
    for (const char* action : {"CreateSnapshot", "CreateImage"}) {
      json processing =
          CallOk(client, "DescribeTasks", {{"TaskAction", action}, {"TaskStatus", "Processing"}});
      EXPECT_EQ(processing.value("TotalCount", -1), 0) << processing.dump();
    }
    json progressing = CallOk(client, "DescribeSnapshots", {{"Status", "progressing"}});
    EXPECT_EQ(progressing["Snapshots"]["Snapshot"].size(), 0u) << progressing.dump();
    json creating = CallOk(client, "DescribeImages", {{"Status", "Creating"}});
    EXPECT_EQ(creating["Images"]["Image"].size(), 0u) << creating.dump();

    ASSERT_EQ(cluster_->server(0).Stop(), 0) << cluster_->server(0).Log();
    EXPECT_EQ(Join(Names(disk_root_ + "/disks")), disk_id_ + ".qcow2");
    EXPECT_EQ(Names(disk_root_ + "/bases").size(), 1u) << Join(Names(disk_root_ + "/bases"));
    EXPECT_TRUE(Names(disk_root_ + "/tmp").empty()) << Join(Names(disk_root_ + "/tmp"));
    const std::string data = cluster_->DataDir(0);
    const std::string chunks_tmp = data + "/regions/" + kRegion + "/chunks/tmp";
    EXPECT_TRUE(Names(chunks_tmp).empty()) << Join(Names(chunks_tmp));
    CommandResult fsck = RunFerry({"fsck", "--data", data, "--regions", kRegion}, {});
    EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
    EXPECT_NE(fsck.out.find(" 0 problems"), std::string::npos) << fsck.out;
    // gc twice: the second pass finds nothing left to delete, and every
    // chunk left is referenced (the killed runs' chunks are collectable).
    CommandResult gc = RunFerry({"gc", "--data", data, "--regions", kRegion}, {});
    ASSERT_EQ(gc.exit_code, 0) << gc.out << gc.err;
    CommandResult again = RunFerry({"gc", "--data", data, "--regions", kRegion}, {});
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
    std::smatch m;
    static const std::regex kLine(R"((\d+) chunks scanned, (\d+) referenced, (\d+) deleted)");
    ASSERT_TRUE(std::regex_search(again.out, m, kLine)) << again.out;
    EXPECT_EQ(m[1].str(), m[2].str()) << "unreferenced chunks after gc: " << again.out;
    EXPECT_EQ(m[3].str(), "0") << again.out;
    CommandResult after = RunFerry({"fsck", "--data", data, "--regions", kRegion}, {});
    EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
  }

  // The kills of one round, after the request that started `what`.
  // Returns how many kills provably landed mid-task.
  int KillAsPlanned(Kill kill, milliseconds undisturbed, const std::string& what) {
    switch (kill) {
      case Kill::kNone:
        return 0;
      case Kill::kMidRead:
      case Kill::kMidIngest:
        return KillMidTask(kill, what) ? 1 : 0;
      case Kill::kRandom: {
        const auto delay = milliseconds(rng_() % static_cast<uint64_t>(2 * undisturbed.count() + 1));
        const bool landed = KillAfter(delay, what);
        std::cout << "[ fault    ] " << what << ": killed " << delay.count() << " ms after the request, "
                  << (landed ? "mid-task" : "outside the read and ingest") << std::endl;
        return landed ? 1 : 0;
      }
      case Kill::kThrice: {
        int landed = 0;
        for (Kill phase : {Kill::kMidRead, Kill::kMidIngest, Kill::kMidRead}) {
          if (HasFailure()) break;
          landed += KillMidTask(phase, what + ", " + KillName(phase)) ? 1 : 0;
        }
        return landed;
      }
    }
    return 0;
  }

  ScratchDir tools_{"ferry-fault-snapshots-tools-"};  // the qemu-img wrapper
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  std::unique_ptr<FerryCluster> cluster_;
  std::string disk_root_;
  std::string instance_id_;
  std::string disk_id_;
  std::string qcow2_;
  std::string expected_;  // the disk's first kSpan bytes, as the guest left them
};

// The rounds each test plays, on each read path: an undisturbed one first
// (it times the task for the random kills), then kills. Mid-ingest and three
// kills need the slow path's phases.
struct Round {
  Kill kill;
  bool convert;  // the guest writes a compressed cluster: qemu-img reads the disk
};
const std::vector<Round> kRounds = {
    {Kill::kNone, false},     {Kill::kMidRead, false}, {Kill::kRandom, false}, {Kill::kNone, true},
    {Kill::kMidRead, true},   {Kill::kMidIngest, true}, {Kill::kRandom, true},  {Kill::kThrice, true},
    {Kill::kRandom, true},
};

TEST_F(KillSnapshotsTest, KillsDuringCreateSnapshotEndAccomplishedOrCleanlyFailed) {
  milliseconds undisturbed(0);
  std::vector<std::string> accomplished;
  for (size_t round = 0; round < kRounds.size() && !HasFailure(); ++round) {
    const Kill kill = kRounds[round].kill;
    GuestWrites(static_cast<int>(round), kRounds[round].convert);
    ASSERT_FALSE(HasFailure());
    const std::string expected = expected_;
    const std::string what = "CreateSnapshot round " + std::to_string(round) + " (" + KillName(kill) +
                             (kRounds[round].convert ? ", qemu-img" : ", cluster map") + ")";
    EcsClient client = Client();
    const auto started = Clock::now();
    json made = CallOk(client, "CreateSnapshot",
                       {{"DiskId", disk_id_}, {"SnapshotName", "fault-" + std::to_string(round)}});
    const std::string snapshot_id = made.value("SnapshotId", "");
    ASSERT_EQ(snapshot_id.rfind("s-", 0), 0u) << made.dump();
    const std::string task_id = TaskOf("CreateSnapshot", snapshot_id);
    ASSERT_FALSE(task_id.empty());
    const int landed = KillAsPlanned(kill, undisturbed, what);
    ASSERT_FALSE(HasFailure()) << what;

    json task = SettleTask(task_id);
    if (kill == Kill::kNone) undisturbed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    const json snap = Snapshot(snapshot_id);
    const std::string status = snap.value("Status", "");
    std::cout << "[ fault    ] " << what << ": " << landed << " kill(s) landed mid-task; task "
              << task.value("TaskStatus", "") << (ErrorCodeOf(task).empty() ? "" : " " + ErrorCodeOf(task))
              << ", snapshot " << status << std::endl;
    if (kill == Kill::kThrice) {
      // Three runs died under it: quarantined, failed cleanly.
      EXPECT_EQ(landed, 3) << what;
      EXPECT_EQ(task.value("TaskStatus", ""), "Failed") << what << ": " << task.dump();
      EXPECT_FALSE(ErrorCodeOf(task).empty()) << task.dump();
      EXPECT_EQ(status, "failed") << what << ": " << snap.dump();
      // A failed snapshot does not hold the disk: the next one is taken.
      EcsClient again = Client();
      CallOk(again, "DeleteSnapshot", {{"SnapshotId", snapshot_id}});
      continue;
    }
    if (kill == Kill::kMidRead || kill == Kill::kMidIngest) {
      EXPECT_EQ(landed, 1) << what;
    }
    // One kill or none: the task runs again and ends done.
    EXPECT_EQ(task.value("TaskStatus", ""), "Finished") << what << ": " << task.dump();
    EXPECT_EQ(status, "accomplished") << what << ": " << snap.dump();
    EXPECT_EQ(snap.value("Progress", ""), "100%") << snap.dump();
    EXPECT_EQ(snap.value("SourceDiskId", ""), disk_id_) << snap.dump();
    // The snapshot holds the disk as it was: an image of it exports so.
    json image =
        CallOk(client, "CreateImage", {{"SnapshotId", snapshot_id}, {"ImageName", "of-" + snapshot_id}});
    const std::string image_id = image.value("ImageId", "");
    const auto deadline = Clock::now() + seconds(60);
    while (ImageStatus(image_id) == "Creating" && Clock::now() < deadline)
      std::this_thread::sleep_for(milliseconds(50));
    ASSERT_EQ(ImageStatus(image_id), "Available") << what;
    ExpectImageHolds(image_id, expected, what);
    CallOk(client, "DeleteImage", {{"ImageId", image_id}});
    accomplished.push_back(snapshot_id);
  }
  // Each accomplished snapshot is still listed so; nothing progressing.
  for (const std::string& id : accomplished)
    EXPECT_EQ(Snapshot(id).value("Status", ""), "accomplished") << id;
  ExpectCleanEnd();
}

TEST_F(KillSnapshotsTest, KillsDuringCreateImageFromAnInstanceEndAvailableOrCreateFailed) {
  milliseconds undisturbed(0);
  for (size_t round = 0; round < kRounds.size() && !HasFailure(); ++round) {
    const Kill kill = kRounds[round].kill;
    GuestWrites(static_cast<int>(round), kRounds[round].convert);
    ASSERT_FALSE(HasFailure());
    const std::string expected = expected_;
    const std::string what = "CreateImage round " + std::to_string(round) + " (" + KillName(kill) +
                             (kRounds[round].convert ? ", qemu-img" : ", cluster map") + ")";
    EcsClient client = Client();
    const auto started = Clock::now();
    json made = CallOk(client, "CreateImage",
                       {{"InstanceId", instance_id_}, {"ImageName", "fault-" + std::to_string(round)}});
    const std::string image_id = made.value("ImageId", "");
    ASSERT_EQ(image_id.rfind("m-", 0), 0u) << made.dump();
    const std::string task_id = TaskOf("CreateImage", image_id);
    ASSERT_FALSE(task_id.empty());
    const int landed = KillAsPlanned(kill, undisturbed, what);
    ASSERT_FALSE(HasFailure()) << what;

    json task = SettleTask(task_id);
    if (kill == Kill::kNone) undisturbed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);
    EcsClient after = Client();
    json images = DescribeImageIn(after, kRegion, image_id);
    ASSERT_EQ(images.size(), 1u) << images.dump();
    const json image = images[0];
    const std::string status = image.value("Status", "");
    const json mappings = image["DiskDeviceMappings"]["DiskDeviceMapping"];
    ASSERT_EQ(mappings.size(), 1u) << image.dump();
    const std::string snapshot_id = mappings[0].value("SnapshotId", "");
    const json snap = Snapshot(snapshot_id);
    std::cout << "[ fault    ] " << what << ": " << landed << " kill(s) landed mid-task; task "
              << task.value("TaskStatus", "") << (ErrorCodeOf(task).empty() ? "" : " " + ErrorCodeOf(task))
              << ", image " << status << ", snapshot " << snap.value("Status", "") << std::endl;
    if (kill == Kill::kThrice) {
      EXPECT_EQ(landed, 3) << what;
      EXPECT_EQ(task.value("TaskStatus", ""), "Failed") << what << ": " << task.dump();
      EXPECT_FALSE(ErrorCodeOf(task).empty()) << task.dump();
      EXPECT_EQ(status, "CreateFailed") << what << ": " << image.dump();
      EXPECT_EQ(snap.value("Status", ""), "failed") << what << ": " << snap.dump();
      // A failed image can be deleted, and with it goes its name.
      CallOk(after, "DeleteImage", {{"ImageId", image_id}});
      EXPECT_EQ(DescribeImageIn(after, kRegion, image_id).size(), 0u);
      continue;
    }
    if (kill == Kill::kMidRead || kill == Kill::kMidIngest) {
      EXPECT_EQ(landed, 1) << what;
    }
    EXPECT_EQ(task.value("TaskStatus", ""), "Finished") << what << ": " << task.dump();
    EXPECT_EQ(status, "Available") << what << ": " << image.dump();
    EXPECT_EQ(snap.value("Status", ""), "accomplished") << what << ": " << snap.dump();
    EXPECT_EQ(snap.value("SourceDiskId", ""), disk_id_) << snap.dump();
    EXPECT_EQ(snap.value("Usage", ""), "image") << snap.dump();
    ExpectImageHolds(image_id, expected, what);
  }
  ExpectCleanEnd();
}

}  // namespace
}  // namespace ferry::testing
