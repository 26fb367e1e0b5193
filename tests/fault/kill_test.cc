// Fault suite: kill -9 at random points of imports, exports and copies
// between two `ferry serve` processes (A serves cn-hangzhou, B cn-shanghai).
// Each round starts operations, waits a random moment, kills one process
// and restarts it. Afterwards every operation must have ended Available /
// Finished or cleanly Failed (an error code), every image must export to the
// bytes it was made from, `ferry fsck` must be clean and `ferry gc` must
// leave exactly the chunks the catalog references.
//
// The run is seeded: FERRY_FAULT_SEED picks the seed (else a random one),
// and the seed is printed so a failure can be replayed. FERRY_FAULT_KILLS
// changes the number of kills (default 50).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
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

constexpr const char* kSource = "cn-hangzhou";
constexpr const char* kDest = "cn-shanghai";
constexpr size_t kA = 0;
constexpr size_t kB = 1;
constexpr uint64_t kMiB = 1 << 20;
constexpr int kDefaultKills = 50;
// Copies B pulls run at 16 MiB/s, so a copy of a 24-40 MiB image is in
// flight for about two seconds.
constexpr const char* kCopyRate = "16777216";
// A random moment between starting operations and the kill.
constexpr int kMaxDelayMs = 700;
constexpr auto kSettleDeadline = seconds(300);

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

enum class Kind { kImport, kExport, kCopy };
const char* KindName(Kind k) {
  return k == Kind::kImport ? "import" : k == Kind::kExport ? "export" : "copy";
}

struct Op {
  Kind kind;
  size_t process;            // the process whose region holds the task / image
  std::string region;        // that region
  std::string task_id;       // import, export
  std::string image_id;      // import: the new image; export: the exported one; copy: the copy
  std::string expected_sha;  // SHA-256 of the bytes the image must hold
  int round = 0;
  // Filled in when the operation has ended.
  std::string outcome;  // Finished, Available, Failed, CreateFailed
  std::string error_code;
};

struct Image {
  size_t process;
  std::string region;
  std::string id;
  std::string sha;
};

class KillNineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<FerryCluster>("ferry-fault-kill-",
                                              std::vector<std::vector<std::string>>{{kSource}, {kDest}});
    cluster_->set_extra_args(kB, {"--copy-rate-limit", kCopyRate});
    std::string error;
    ASSERT_TRUE(cluster_->StartAll(&error)) << error;
  }

  EcsClient Client(size_t i) { return RootClient(cluster_->endpoint(i), false); }

  // Sends `action` to process i; the answer, or null when the call did not
  // get an HTTP answer. A 5xx other than 503 fails the test.
  json Call(size_t i, const std::string& action, const std::map<std::string, std::string>& params,
            std::string* refused_code) {
    EcsClient client = Client(i);
    Result<EcsResponse> resp = client.Call(action, params);
    if (!resp.ok()) {
      ADD_FAILURE() << action << " to process " << i << ": " << resp.status().ToString();
      return json();
    }
    if (resp->http_status == 200) return resp->body;
    *refused_code = resp->body.value("Code", std::string());
    EXPECT_FALSE(refused_code->empty()) << action << ": " << resp->raw_body;
    EXPECT_TRUE(resp->http_status < 500 || resp->http_status == 503)
        << action << " to process " << i << ": " << resp->raw_body << "\n"
        << cluster_->Logs();
    return json();
  }

  std::string ImageStatus(const Image& image) {
    EcsClient client = Client(image.process);
    json images = DescribeImageIn(client, image.region, image.id);
    return images.size() == 1 ? images[0].value("Status", std::string()) : "";
  }

  // An image of `pool` that is Available now, or null.
  const Image* PickAvailable(const std::vector<Image>& pool, std::mt19937_64& rng) {
    for (int tries = 0; tries < 3 && !pool.empty(); ++tries) {
      const Image& candidate = pool[rng() % pool.size()];
      if (ImageStatus(candidate) == "Available") return &candidate;
    }
    return nullptr;
  }

  // Exports `image` as RAW into the operator bucket of its process; the
  // task id ("" when refused).
  std::string StartExport(const Image& image, const std::string& prefix) {
    std::string refused;
    json started = Call(image.process, "ExportImage",
                        {{"RegionId", image.region},
                         {"ImageId", image.id},
                         {"OSSBucket", kOperatorBucket},
                         {"OSSPrefix", prefix},
                         {"ImageFormat", "raw"}},
                        &refused);
    return started.is_object() ? started.value("TaskId", std::string()) : "";
  }

  // After a finished export: the exported file's SHA-256; the file is
  // removed to keep the disk small.
  std::string ExportedSha(size_t process, const json& task) {
    const std::string object = RelatedItem(task, "OSSObject");
    if (object.empty()) return "";
    const std::string path = cluster_->BucketDir(process) + "/" + object;
    std::string sha = FileSha256(path);
    std::error_code ec;
    fs::remove(path, ec);
    return sha;
  }

  // Waits for the task of `op` to end; records its outcome.
  void SettleTask(Op& op, Clock::time_point deadline) {
    EcsClient client = Client(op.process);
    json task;
    while (Clock::now() < deadline) {
      task = CallOk(client, "DescribeTaskAttribute", {{"RegionId", op.region}, {"TaskId", op.task_id}});
      if (task.value("TaskStatus", std::string()) != "Processing") break;
      std::this_thread::sleep_for(milliseconds(200));
    }
    op.outcome = task.value("TaskStatus", std::string());
    if (task.contains("OperationProgressSet")) {
      op.error_code = task["OperationProgressSet"]["OperationProgress"][0].value("ErrorCode", std::string());
    }
    if (op.kind == Kind::kExport && op.outcome == "Finished") {
      EXPECT_EQ(ExportedSha(op.process, task), op.expected_sha)
          << "export of " << op.image_id << " (round " << op.round << ")";
    }
  }

  void SettleCopy(Op& op, Clock::time_point deadline) {
    EcsClient client = Client(kB);
    json image;
    while (Clock::now() < deadline) {
      json images = DescribeImageIn(client, kDest, op.image_id);
      if (images.size() != 1) break;
      image = images[0];
      const std::string status = image.value("Status", std::string());
      if (status != "Waiting" && status != "Creating") break;
      std::this_thread::sleep_for(milliseconds(200));
    }
    op.outcome = image.is_object() ? image.value("Status", std::string()) : "gone";
  }

  // Operations running right now: tasks Processing in either region and
  // copies still Waiting or Creating in B.
  int InFlight() {
    int n = 0;
    for (size_t i : {kA, kB}) {
      EcsClient client = Client(i);
      const std::string region = i == kA ? kSource : kDest;
      json tasks = CallOk(client, "DescribeTasks", {{"RegionId", region}, {"TaskStatus", "Processing"}});
      n += tasks.value("TotalCount", 0);
    }
    EcsClient b = Client(kB);
    json copying = CallOk(b, "DescribeImages", {{"RegionId", kDest}, {"Status", "Waiting,Creating"}});
    n += copying.value("TotalCount", 0);
    return n;
  }

  std::unique_ptr<FerryCluster> cluster_;
};

// Parses "<region>: S chunks scanned, R referenced, D deleted".
bool ParseGc(const std::string& out, uint64_t* scanned, uint64_t* referenced, uint64_t* deleted) {
  std::smatch m;
  static const std::regex kLine(R"((\d+) chunks scanned, (\d+) referenced, (\d+) deleted)");
  if (!std::regex_search(out, m, kLine)) return false;
  *scanned = std::stoull(m[1]);
  *referenced = std::stoull(m[2]);
  *deleted = std::stoull(m[3]);
  return true;
}

uint64_t CountChunkFiles(const std::string& chunk_dir) {
  uint64_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator d(chunk_dir, ec), end; !ec && d != end; d.increment(ec)) {
    if (d->path().filename() == "tmp" || !d->is_directory()) continue;
    for (const auto& f : fs::directory_iterator(d->path())) {
      if (f.path().filename().string().size() == 64) ++n;
    }
  }
  return n;
}

TEST_F(KillNineTest, FiftyKillsDuringImportsExportsAndCopiesLoseNothing) {
  const uint64_t seed = EnvOr("FERRY_FAULT_SEED", std::random_device{}());
  const int kills = static_cast<int>(EnvOr("FERRY_FAULT_KILLS", kDefaultKills));
  std::cout << "[ fault    ] kill -9 suite: seed " << seed << ", " << kills
            << " kills (replay with FERRY_FAULT_SEED=" << seed << ")" << std::endl;
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);

  // Each import gets an object of its own, so no import or copy finds its
  // chunks already stored and every one does its full work: 6 to 10 chunks
  // of data with a hole and an unaligned tail.
  auto make_object = [&](const std::string& name, uint64_t data_seed) {
    const uint64_t chunks = 6 + rng() % 5;
    const uint64_t size = (chunks + 1) * 4 * kMiB + 1024 * (data_seed % 4);
    const std::string path = cluster_->BucketDir(kA) + "/" + name;
    WriteSparseImage(path, size, {{0, 2 * 4 * kMiB}, {3 * 4 * kMiB, size - 3 * 4 * kMiB}}, data_seed);
    return FileSha256(path);
  };

  std::vector<Op> ops;
  std::vector<Image> sources;  // imports in A
  std::vector<Image> copies;   // copies in B
  int refused = 0;
  int kills_of[2] = {0, 0};
  int kills_in_flight = 0;  // kills while some operation ran
  int interrupted = 0;      // operations running at a kill, summed over kills
  for (int round = 0; round < kills && !HasFatalFailure(); ++round) {
    const int starts = 1 + static_cast<int>(rng() % 2);
    for (int s = 0; s < starts; ++s) {
      Kind kind = static_cast<Kind>(rng() % 3);
      const Image* picked = nullptr;
      if (kind == Kind::kExport) {
        picked = PickAvailable(rng() % 2 == 0 || copies.empty() ? sources : copies, rng);
      } else if (kind == Kind::kCopy) {
        picked = PickAvailable(sources, rng);
      }
      if (kind != Kind::kImport && picked == nullptr) kind = Kind::kImport;
      std::string code;
      Op op{kind, kA, kSource, "", "", "", round, "", ""};
      if (kind == Kind::kImport) {
        const std::string object = "r" + std::to_string(round) + "-" + std::to_string(s) + ".raw";
        const std::string sha = make_object(object, seed * 1000 + static_cast<uint64_t>(round * 10 + s));
        json started = Call(kA, "ImportImage",
                            {{"RegionId", kSource},
                             {"ImageName", "r" + std::to_string(round) + "-" + std::to_string(s)},
                             {"DiskDeviceMapping.1.OSSBucket", kOperatorBucket},
                             {"DiskDeviceMapping.1.OSSObject", object},
                             {"DiskDeviceMapping.1.Format", "RAW"}},
                            &code);
        if (!started.is_object()) {
          ++refused;
          continue;
        }
        op.task_id = started.value("TaskId", std::string());
        op.image_id = started.value("ImageId", std::string());
        op.expected_sha = sha;
        sources.push_back({kA, kSource, op.image_id, op.expected_sha});
      } else if (kind == Kind::kExport) {
        op.process = picked->process;
        op.region = picked->region;
        op.image_id = picked->id;
        op.expected_sha = picked->sha;
        op.task_id = StartExport(*picked, "r" + std::to_string(round) + "x" + std::to_string(s));
        if (op.task_id.empty()) {
          ++refused;
          continue;
        }
      } else {
        json started = Call(kA, "CopyImage",
                            {{"RegionId", kSource},
                             {"ImageId", picked->id},
                             {"DestinationRegionId", kDest},
                             {"DestinationImageName", "c" + std::to_string(round) + "-" + std::to_string(s)}},
                            &code);
        if (!started.is_object()) {
          ++refused;  // e.g. a copy of that image already runs
          continue;
        }
        op.process = kB;
        op.region = kDest;
        op.image_id = started.value("ImageId", std::string());
        op.expected_sha = picked->sha;
        copies.push_back({kB, kDest, op.image_id, op.expected_sha});
      }
      ops.push_back(op);
    }

    const int delay_ms = static_cast<int>(rng() % kMaxDelayMs);
    const size_t victim = rng() % 2;
    // The random point of the kill: deliberately a fixed wait, not a poll.
    std::this_thread::sleep_for(milliseconds(delay_ms));
    const int in_flight = InFlight();
    interrupted += in_flight;
    if (in_flight > 0) ++kills_in_flight;
    cluster_->server(victim).Kill9();
    ++kills_of[victim];
    std::string error;
    ASSERT_TRUE(cluster_->Start(victim, &error)) << "restart after kill " << round + 1 << ": " << error;
    std::cout << "[ fault    ] kill " << round + 1 << "/" << kills << ": process "
              << (victim == kA ? "A" : "B") << " " << delay_ms << " ms after starting " << starts
              << " operation(s), " << in_flight << " running; " << ops.size() << " started so far"
              << std::endl;
  }

  // Every operation ends, and ends well or cleanly.
  const auto deadline = Clock::now() + kSettleDeadline;
  std::map<std::string, int> outcomes;
  for (Op& op : ops) {
    if (op.kind == Kind::kCopy) {
      SettleCopy(op, deadline);
    } else {
      SettleTask(op, deadline);
    }
    outcomes[std::string(KindName(op.kind)) + " " + op.outcome]++;
    const bool ok = op.outcome == "Finished" || op.outcome == "Available";
    const bool clean_failure =
        (op.outcome == "Failed" && !op.error_code.empty()) || op.outcome == "CreateFailed";
    EXPECT_TRUE(ok || clean_failure) << KindName(op.kind) << " of " << op.image_id << " (round " << op.round
                                     << ") ended " << op.outcome << " " << op.error_code;
  }
  ASSERT_FALSE(HasFailure()) << cluster_->Logs();

  // Every Available image holds the bytes it was made from.
  int verified = 0;
  for (const std::vector<Image>* pool : {&sources, &copies}) {
    for (const Image& image : *pool) {
      const std::string status = ImageStatus(image);
      if (status != "Available") {
        EXPECT_TRUE(status == "CreateFailed") << image.id << " is " << status;
        continue;
      }
      EcsClient client = Client(image.process);
      json started = CallOk(client, "ExportImage",
                            {{"RegionId", image.region},
                             {"ImageId", image.id},
                             {"OSSBucket", kOperatorBucket},
                             {"OSSPrefix", "verify"},
                             {"ImageFormat", "raw"}});
      json task = WaitForTaskIn(client, image.region, started.value("TaskId", std::string()), seconds(120));
      ASSERT_EQ(task.value("TaskStatus", std::string()), "Finished") << task.dump();
      EXPECT_EQ(ExportedSha(image.process, task), image.sha) << image.id << " in " << image.region;
      ++verified;
    }
  }

  std::string summary = "kills A " + std::to_string(kills_of[kA]) + ", B " + std::to_string(kills_of[kB]) +
                        ", " + std::to_string(kills_in_flight) + " with work running (" +
                        std::to_string(interrupted) + " operations running at a kill)" + "; operations " +
                        std::to_string(ops.size()) + " (refused " + std::to_string(refused) +
                        "); images verified " + std::to_string(verified) + ";";
  for (const auto& [what, n] : outcomes) summary += " " + what + " " + std::to_string(n) + ",";
  std::cout << "[ fault    ] " << summary << std::endl;
  RecordProperty("summary", summary);

  // Offline: fsck clean, and gc leaves exactly the referenced chunks.
  for (size_t i : {kA, kB}) {
    const std::string region = i == kA ? kSource : kDest;
    EXPECT_EQ(cluster_->server(i).Stop(), 0) << cluster_->server(i).Log();
    const std::string data = cluster_->DataDir(i);
    CommandResult fsck = RunFerry({"fsck", "--data", data, "--regions", region}, {});
    EXPECT_EQ(fsck.exit_code, 0) << fsck.out << fsck.err;
    EXPECT_NE(fsck.out.find(" 0 problems"), std::string::npos) << fsck.out;
    CommandResult gc = RunFerry({"gc", "--data", data, "--regions", region}, {});
    ASSERT_EQ(gc.exit_code, 0) << gc.out << gc.err;
    CommandResult again = RunFerry({"gc", "--data", data, "--regions", region}, {});
    ASSERT_EQ(again.exit_code, 0) << again.out << again.err;
    uint64_t scanned = 0, referenced = 0, deleted = 0;
    ASSERT_TRUE(ParseGc(again.out, &scanned, &referenced, &deleted)) << again.out;
    EXPECT_EQ(deleted, 0u) << again.out;
    EXPECT_EQ(scanned, referenced) << "unreferenced chunks after gc: " << again.out;
    const std::string chunk_dir = data + "/regions/" + region + "/chunks";
    EXPECT_EQ(CountChunkFiles(chunk_dir), referenced) << again.out;
    // fsck after gc: nothing referenced went missing.
    CommandResult after = RunFerry({"fsck", "--data", data, "--regions", region}, {});
    EXPECT_EQ(after.exit_code, 0) << after.out << after.err;
  }
}

}  // namespace
}  // namespace ferry::testing
