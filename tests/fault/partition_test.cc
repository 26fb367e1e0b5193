// Fault suite: a 30 s network partition between two `ferry serve` processes,
// each in a network namespace the test makes (joined by a veth pair). A
// serves cn-hangzhou, B cn-shanghai; B pulls three copies from A at a
// limited rate, and once the first is mid-way every packet on the link is dropped silently
// for 30 s (a tbf qdisc whose bucket no packet fits: the kernel here has no
// netem and no drop action). Once the link is back every copy must resume
// and end Available with the source's bytes; none may end CreateFailed.
//
// All test traffic comes from inside namespace A (the test's client thread
// enters it), to addresses that exist only inside the namespaces. Needs root
// and `ip`/`tc`; skipped otherwise.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/fs_util.h"
#include "common/ids.h"
#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kSource = "cn-hangzhou";
constexpr const char* kDest = "cn-shanghai";
constexpr const char* kAddrA = "10.99.7.1";
constexpr const char* kAddrB = "10.99.7.2";
constexpr int kPort = 18080;  // inside the test's own namespaces
constexpr uint64_t kMiB = 1 << 20;
constexpr int kCopies = 3;
constexpr uint64_t kImageBytes = 32 * kMiB;
// 8 MiB/s per copy: each copy needs ~4 s of link time, so the first is
// mid-way when the partition starts and the others are running or queued.
constexpr const char* kCopyRate = "8388608";
constexpr auto kPartition = seconds(30);

// Runs a shell command (ip / tc); true when it exits 0.
bool Sh(const std::string& command) {
  const std::string quiet = command + " >/dev/null 2>&1";
  return std::system(quiet.c_str()) == 0;
}

// A command's standard output.
std::string ShOut(const std::string& command) {
  std::string out;
  FILE* p = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

class PartitionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "network namespaces need root";
    const std::string tag = RandomHex(3);
    ns_a_ = "ferry-fa-" + tag;
    ns_b_ = "ferry-fb-" + tag;
    veth_a_ = "ffa" + tag;
    veth_b_ = "ffb" + tag;
    if (!Sh("ip netns add " + ns_a_)) GTEST_SKIP() << "ip netns add is not available here";
    made_a_ = true;
    ASSERT_TRUE(Sh("ip netns add " + ns_b_));
    made_b_ = true;
    ASSERT_TRUE(Sh("ip link add " + veth_a_ + " type veth peer name " + veth_b_));
    ASSERT_TRUE(Sh("ip link set " + veth_a_ + " netns " + ns_a_));
    ASSERT_TRUE(Sh("ip link set " + veth_b_ + " netns " + ns_b_));
    ASSERT_TRUE(Sh("ip -n " + ns_a_ + " addr add " + kAddrA + "/24 dev " + veth_a_));
    ASSERT_TRUE(Sh("ip -n " + ns_b_ + " addr add " + kAddrB + "/24 dev " + veth_b_));
    for (const auto& [ns, dev] : {std::pair{ns_a_, veth_a_}, std::pair{ns_b_, veth_b_}}) {
      ASSERT_TRUE(Sh("ip -n " + ns + " link set lo up"));
      ASSERT_TRUE(Sh("ip -n " + ns + " link set " + dev + " up"));
    }

    scratch_ = std::make_unique<ScratchDir>("ferry-fault-partition-");
    const std::string key = "cluster-" + RandomHex(16);
    const std::string ends[2] = {std::string("http://") + kAddrA + ":" + std::to_string(kPort),
                                 std::string("http://") + kAddrB + ":" + std::to_string(kPort)};
    const std::string ns[2] = {ns_a_, ns_b_};
    const std::string addr[2] = {kAddrA, kAddrB};
    const std::string region[2] = {kSource, kDest};
    for (int i = 0; i < 2; ++i) {
      const std::string base = scratch_->path() + "/p" + std::to_string(i);
      fs::create_directories(base + "/data/oss/" + kOperatorBucket);
      fs::create_directories(base + "/config");
      auto server = std::make_unique<FerryServer>(base + "/data", base + "/config");
      server->set_netns(ns[i]);
      server->set_listen(addr[i] + ":" + std::to_string(kPort));
      std::vector<std::string> args = {"--region", region[i], "--peer", region[1 - i] + "=" + ends[1 - i]};
      if (i == 1) {
        args.push_back("--copy-rate-limit");
        args.push_back(kCopyRate);
      }
      server->set_extra_args(args);
      server->set_extra_env({{"FERRY_CLUSTER_KEY", key}});
      servers_[i] = std::move(server);
    }
    for (int i = 0; i < 2; ++i) {
      std::string error;
      ASSERT_TRUE(servers_[i]->Start(&error)) << error;
      ASSERT_EQ(servers_[i]->endpoint(), ends[i]);
    }
  }

  void TearDown() override {
    for (auto& server : servers_) {
      if (server != nullptr) server->Stop(seconds(10));
      server.reset();
    }
    // Deleting a namespace takes its end of the veth pair, and the pair.
    if (made_a_) Sh("ip netns del " + ns_a_);
    if (made_b_) Sh("ip netns del " + ns_b_);
    scratch_.reset();
  }

  // Every packet leaving either end of the link is dropped (or, healed, none).
  void Partition(bool on) {
    for (const auto& [ns, dev] : {std::pair{ns_a_, veth_a_}, std::pair{ns_b_, veth_b_}}) {
      const std::string cmd =
          on ? "tc -n " + ns + " qdisc replace dev " + dev + " root tbf rate 8bit burst 1 limit 1"
             : "tc -n " + ns + " qdisc del dev " + dev + " root";
      ASSERT_TRUE(Sh(cmd)) << cmd;
    }
  }

  // Packets the partition's qdisc on `dev` in `ns` dropped so far.
  static uint64_t Dropped(const std::string& ns, const std::string& dev) {
    const std::string out = ShOut("tc -n " + ns + " -s qdisc show dev " + dev);
    const size_t at = out.find("dropped ");
    return at == std::string::npos ? 0 : std::strtoull(out.c_str() + at + 8, nullptr, 10);
  }

  // Runs `body` on a thread inside namespace A, so its connections start
  // there; returns once it is done.
  void InNamespaceA(const std::function<void()>& body) {
    std::thread t([&] {
      UniqueFd ns(::open(("/run/netns/" + ns_a_).c_str(), O_RDONLY | O_CLOEXEC));
      ASSERT_TRUE(ns.valid());
      ASSERT_EQ(::setns(ns.get(), CLONE_NEWNET), 0);
      body();
    });
    t.join();
  }

  std::string BucketDir(int i) const { return servers_[i]->data_dir() + "/oss/" + kOperatorBucket; }

  std::string ns_a_, ns_b_, veth_a_, veth_b_;
  bool made_a_ = false, made_b_ = false;
  std::unique_ptr<ScratchDir> scratch_;
  std::unique_ptr<FerryServer> servers_[2];
};

int ProgressPercent(const json& image) {
  const std::string p = image.value("Progress", std::string());
  if (p.size() < 2 || p.back() != '%') return -1;
  return std::atoi(p.c_str());
}

TEST_F(PartitionTest, CopiesResumeAfterAThirtySecondPartitionAndNoneFails) {
  InNamespaceA([&] {
    EcsClient a = RootClient(servers_[0]->endpoint(), false);
    EcsClient b = RootClient(servers_[1]->endpoint(), true);
    std::vector<std::string> sources, shas, copies;
    for (int i = 0; i < kCopies; ++i) {
      const std::string object = "part" + std::to_string(i) + ".raw";
      WriteSparseImage(BucketDir(0) + "/" + object, kImageBytes, {{0, kImageBytes}}, 60 + i);
      shas.push_back(FileSha256(BucketDir(0) + "/" + object));
      sources.push_back(ImportRawImage(a, kSource, kOperatorBucket, object, "part" + std::to_string(i)));
      ASSERT_FALSE(sources.back().empty()) << servers_[0]->Log();
    }
    for (int i = 0; i < kCopies; ++i) {
      json started = CallOk(a, "CopyImage",
                            {{"RegionId", kSource}, {"ImageId", sources[i]}, {"DestinationRegionId", kDest}});
      copies.push_back(started.value("ImageId", std::string()));
      ASSERT_FALSE(copies.back().empty()) << started.dump();
    }
    // Partition once the first copy has started pulling (the others run
    // beside it or wait their turn in the destination's queue).
    const auto started_by = Clock::now() + seconds(60);
    json first;
    while (Clock::now() < started_by) {
      json images = DescribeImageIn(b, kDest, copies[0]);
      ASSERT_EQ(images.size(), 1u) << images.dump();
      first = images[0];
      if (first.value("Status", std::string()) == "Creating" && ProgressPercent(first) > 0) break;
      ASSERT_NE(first.value("Status", std::string()), "CreateFailed") << first.dump();
      std::this_thread::sleep_for(milliseconds(50));
    }
    ASSERT_LT(ProgressPercent(first), 100) << "the copy ended before the partition: " << first.dump();
    RecordProperty("progress_at_partition", first.value("Progress", std::string()));
    Partition(true);
    // The fault itself lasts a fixed time; nothing is waited for here.
    std::this_thread::sleep_for(kPartition);
    // Both sides kept trying, and the link let nothing through.
    const uint64_t dropped_a = Dropped(ns_a_, veth_a_);
    const uint64_t dropped_b = Dropped(ns_b_, veth_b_);
    RecordProperty("dropped_packets",
                   std::to_string(dropped_a) + " from A, " + std::to_string(dropped_b) + " from B");
    EXPECT_GT(dropped_a, 0u);
    EXPECT_GT(dropped_b, 0u);
    Partition(false);

    const auto deadline = Clock::now() + seconds(240);
    for (int i = 0; i < kCopies; ++i) {
      json image;
      while (Clock::now() < deadline) {
        Result<EcsResponse> resp = b.Call(
            "DescribeImages", {{"RegionId", kDest}, {"ImageId", copies[i]}, {"Status", kAllImageStatuses}});
        // Right after the partition the client's pooled connection may be
        // gone; a transport error is retried until the deadline.
        if (resp.ok() && resp->http_status == 200) {
          const json& list = resp->body["Images"]["Image"];
          ASSERT_EQ(list.size(), 1u) << resp->raw_body;
          image = list[0];
          const std::string status = image.value("Status", std::string());
          if (status != "Creating" && status != "Waiting") break;
        }
        std::this_thread::sleep_for(milliseconds(250));
      }
      ASSERT_EQ(image.value("Status", std::string()), "Available")
          << "copy " << copies[i] << ": " << image.dump() << "\n---- A:\n"
          << servers_[0]->Log() << "\n---- B:\n"
          << servers_[1]->Log();
      EXPECT_EQ(
          ExportImageSha256(b, kDest, copies[i], kOperatorBucket, BucketDir(1), "part" + std::to_string(i)),
          shas[i]);
    }
  });
}

}  // namespace
}  // namespace ferry::testing
