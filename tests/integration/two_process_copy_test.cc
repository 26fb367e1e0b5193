// Cross-region copies between two `ferry serve` processes of one cluster:
// process A serves cn-hangzhou (the source), process B cn-shanghai (the
// destination), each naming the other as its peer. Beside the plain copy:
// kill -9 of either side mid-copy, the source stopped for 30 s, and a cancel,
// each checked by exporting both images and comparing their digests.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/ferry_process.h"
#include "integration/helpers.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr const char* kSource = "cn-hangzhou";
constexpr const char* kDest = "cn-shanghai";
constexpr size_t kA = 0;  // serves kSource
constexpr size_t kB = 1;  // serves kDest
constexpr uint64_t kMiB = 1 << 20;
// A slow copy: 30 chunks of incompressible data pulled at 10 MiB/s take
// about 12 s, time enough to crash one side while it runs.
constexpr uint64_t kChunkBytes = 4 * kMiB;
constexpr uint64_t kSlowChunks = 30;
constexpr const char* kSlowRate = "10485760";
// Slower still (about 20 s): long enough after a restart for the CLI, whose
// polls are up to 5 s apart by then, to see the copy progress twice.
constexpr const char* kSlowerRate = "6291456";
constexpr auto kCopyDeadline = seconds(120);
constexpr auto kOutage = seconds(30);

int ProgressPercent(const json& image) {
  const std::string p = image.value("Progress", std::string());
  if (p.empty() || p.back() != '%') return -1;
  try {
    return std::stoi(p.substr(0, p.size() - 1));
  } catch (const std::exception&) {
    return -1;
  }
}

class TwoProcessCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<FerryCluster>("ferry-2p-copy-",
                                              std::vector<std::vector<std::string>>{{kSource}, {kDest}});
  }

  // Starts both processes; `slow` limits each copy B pulls to `rate`.
  void StartCluster(bool slow, const char* rate = kSlowRate) {
    if (slow) cluster_->set_extra_args(kB, {"--copy-rate-limit", rate});
    std::string error;
    ASSERT_TRUE(cluster_->StartAll(&error)) << error;
  }

  void Restart(size_t i) {
    std::string error;
    ASSERT_TRUE(cluster_->Start(i, &error)) << error;
  }

  EcsClient Root(size_t i) { return RootClient(cluster_->endpoint(i), false); }

  // Imports into kSource a raw image whose data are `chunks` chunks of
  // pseudo-random bytes; the image id.
  std::string ImportSource(EcsClient& a, const std::string& object, uint64_t chunks, uint64_t seed) {
    const uint64_t size = chunks * kChunkBytes;
    WriteSparseImage(cluster_->BucketDir(kA) + "/" + object, size, {{0, size}}, seed);
    return ImportRawImage(a, kSource, kOperatorBucket, object, "source-" + object);
  }

  // CopyImage kSource -> kDest sent to `client`; the new image id.
  static std::string Copy(EcsClient& client, const std::string& source_id, const std::string& name) {
    json started = CallOk(client, "CopyImage",
                          {{"RegionId", kSource},
                           {"ImageId", source_id},
                           {"DestinationRegionId", kDest},
                           {"DestinationImageName", name},
                           {"Encrypted", "false"}});
    const std::string copy_id = started.value("ImageId", std::string());
    EXPECT_FALSE(copy_id.empty()) << started.dump();
    EXPECT_NE(copy_id, source_id);
    return copy_id;
  }

  // Polls the copy in kDest until it is Creating with a Progress of at least
  // `min_percent`; the image entry, or null (and a failure) otherwise.
  json WaitForProgress(EcsClient& b, const std::string& copy_id, int min_percent) {
    const auto deadline = Clock::now() + kCopyDeadline;
    json image;
    while (Clock::now() < deadline) {
      json images = DescribeImageIn(b, kDest, copy_id);
      if (images.size() != 1) {
        ADD_FAILURE() << "copy " << copy_id << " not listed in " << kDest << ": " << images.dump();
        return json();
      }
      image = images[0];
      const std::string status = image.value("Status", std::string());
      if (status != "Waiting" && status != "Creating") {
        ADD_FAILURE() << "copy " << copy_id << " ended before reaching " << min_percent
                      << "%: " << image.dump() << "\n"
                      << cluster_->Logs();
        return json();
      }
      if (status == "Creating" && ProgressPercent(image) >= min_percent) return image;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ADD_FAILURE() << "copy " << copy_id << " below " << min_percent << "% after " << kCopyDeadline.count()
                  << " s: " << image.dump();
    return json();
  }

  // Polls the copy the way Terraform does (DescribeImages in the target
  // region, every status) until it leaves Waiting/Creating; the last entry.
  static json WaitForCopyEnd(EcsClient& b, const std::string& copy_id) {
    const auto deadline = Clock::now() + kCopyDeadline;
    json image;
    while (Clock::now() < deadline) {
      json images = DescribeImageIn(b, kDest, copy_id);
      if (images.size() != 1) return json();
      image = images[0];
      const std::string status = image.value("Status", std::string());
      if (status != "Waiting" && status != "Creating") return image;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return image;
  }

  // Exports the source (in A) and the copy (in B); expects equal digests,
  // both equal to the imported file's.
  void ExpectSameBytes(const std::string& source_id, const std::string& copy_id, const std::string& object) {
    const std::string original = FileSha256(cluster_->BucketDir(kA) + "/" + object);
    EcsClient a = Root(kA);
    EcsClient b = Root(kB);
    const std::string source_sha =
        ExportImageSha256(a, kSource, source_id, kOperatorBucket, cluster_->BucketDir(kA), "exportsrc");
    const std::string copy_sha =
        ExportImageSha256(b, kDest, copy_id, kOperatorBucket, cluster_->BucketDir(kB), "exportcopy");
    EXPECT_EQ(source_sha, original);
    EXPECT_EQ(copy_sha, source_sha) << "copy " << copy_id << " differs from source " << source_id;
  }

  // DeleteImage of the source in A; the raw answer.
  static Result<EcsResponse> DeleteSource(EcsClient& a, const std::string& source_id) {
    return a.Call("DeleteImage", {{"RegionId", kSource}, {"ImageId", source_id}});
  }

  static void ExpectSourceLocked(EcsClient& a, const std::string& source_id, const std::string& when) {
    Result<EcsResponse> refused = DeleteSource(a, source_id);
    ASSERT_TRUE(refused.ok()) << when << ": " << refused.status().ToString();
    EXPECT_EQ(refused->http_status, 403) << when << ": " << refused->raw_body;
    EXPECT_EQ(refused->body.value("Code", std::string()), "OperationDenied.ImageCopying")
        << when << ": " << refused->raw_body;
  }

  // Polls DeleteImage of the source until it succeeds: the copy's lease is
  // released when the destination's job ends, just after the copy's state
  // changed. Fails after 30 s.
  void DeleteSourceOnceReleased(EcsClient& a, const std::string& source_id) {
    const auto deadline = Clock::now() + seconds(30);
    std::string last;
    while (Clock::now() < deadline) {
      Result<EcsResponse> resp = DeleteSource(a, source_id);
      ASSERT_TRUE(resp.ok()) << resp.status().ToString();
      if (resp->http_status == 200) {
        EXPECT_TRUE(DescribeImageIn(a, kSource, source_id).empty());
        return;
      }
      last = resp->raw_body;
      EXPECT_EQ(resp->body.value("Code", std::string()), "OperationDenied.ImageCopying") << last;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ADD_FAILURE() << "source " << source_id << " still not deletable after 30 s: " << last << "\n"
                  << cluster_->Logs();
  }

  std::unique_ptr<FerryCluster> cluster_;
};

std::set<std::string> RegionIds(EcsClient& client) {
  json body = CallOk(client, "DescribeRegions", {});
  std::set<std::string> ids;
  for (const json& r : body["Regions"]["Region"]) ids.insert(r.value("RegionId", std::string()));
  return ids;
}

// `ferry account create` on one process's data dir; {id, key id, secret}.
struct Tenant {
  std::string account_id, key_id, secret;
};
Tenant CreateTenant(const std::string& data_dir, const std::string& name) {
  CommandResult created = RunFerry({"account", "create", name, "--data", data_dir}, {});
  EXPECT_EQ(created.exit_code, 0) << created.err;
  const size_t open = created.out.find('{');
  json out = json::parse(open == std::string::npos ? std::string() : created.out.substr(open), nullptr, false);
  if (!out.is_object()) {
    ADD_FAILURE() << "account create printed no JSON: " << created.out;
    return {};
  }
  return {out.value("AccountId", ""), out.value("AccessKeyId", ""), out.value("AccessKeySecret", "")};
}

TEST_F(TwoProcessCopyTest, CopyBetweenProcessesIsByteIdenticalAndVisibleFromBoth) {
  StartCluster(/*slow=*/false);
  EcsClient a = Root(kA);
  EcsClient b = Root(kB);

  const std::set<std::string> both = {kSource, kDest};
  for (size_t i : {kA, kB}) {
    EcsClient client = Root(i);
    std::set<std::string> ids = RegionIds(client);
    for (const std::string& region : both) {
      EXPECT_EQ(ids.count(region), 1u) << "process " << i << " does not list " << region;
    }
  }

  // Holes and an unaligned size, like the one-process copy tests.
  const uint64_t size = 18 * kMiB + 4608;
  WriteSparseImage(cluster_->BucketDir(kA) + "/plain.raw", size,
                   {{0, kMiB}, {6 * kMiB, 5 * kMiB / 2}, {size - 32 * 1024, 32 * 1024}}, 31);
  const std::string source_id = ImportRawImage(a, kSource, kOperatorBucket, "plain.raw", "plain");
  ASSERT_FALSE(source_id.empty());
  const std::string copy_id = Copy(a, source_id, "plain-copy");
  ASSERT_FALSE(copy_id.empty());

  json image = WaitForCopyEnd(b, copy_id);
  ASSERT_EQ(image.value("Status", std::string()), "Available") << image.dump() << "\n" << cluster_->Logs();
  EXPECT_EQ(image.value("Progress", std::string()), "100%");
  EXPECT_EQ(image.value("ImageName", std::string()), "plain-copy");
  EXPECT_EQ(image.value("IsCopied", false), true);

  // A answers for B's region by forwarding: the same image.
  json forwarded = DescribeImageIn(a, kDest, copy_id);
  ASSERT_EQ(forwarded.size(), 1u) << forwarded.dump();
  EXPECT_EQ(forwarded[0].value("ImageId", std::string()), copy_id);
  EXPECT_EQ(forwarded[0].value("Status", std::string()), "Available");
  EXPECT_EQ(forwarded[0]["DiskDeviceMappings"], image["DiskDeviceMappings"]);
  // The copy exists in B's region only, the source in A's only.
  EXPECT_TRUE(DescribeImageIn(b, kSource, copy_id).empty());
  EXPECT_TRUE(DescribeImageIn(b, kDest, source_id).empty());

  ExpectSameBytes(source_id, copy_id, "plain.raw");

  // B pulled every data chunk of the source from A: chunks 0, 1 and 2 (the
  // run at 6 MiB straddles the 8 MiB boundary) and 4 (the tail).
  Result<std::string> metrics = RootClient(cluster_->server(kB).admin_endpoint(), false).Get("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  EXPECT_EQ(MetricValue(*metrics, "ferry_region_copy_chunks_fetched_total", kDest), 4) << *metrics;

  // Accounts made offline on one process's data dir work against the other.
  const Tenant tenant = CreateTenant(cluster_->DataDir(kA), "tenant-a");
  const Tenant other = CreateTenant(cluster_->DataDir(kB), "tenant-b");
  ASSERT_FALSE(tenant.key_id.empty());
  ASSERT_FALSE(other.key_id.empty());
  ASSERT_NE(tenant.account_id, other.account_id);

  // tenant-a (known to A only) uploads to B and imports in B's region...
  ScratchDir files("ferry-2p-tenant-");
  const std::string file = files.path() + "/tenant.raw";
  WriteSparseImage(file, 10 * kMiB, {{kMiB, 5 * kMiB}}, 32);
  CommandResult imported = RunFerry({"--endpoint", cluster_->endpoint(kB), "--access-key-id", tenant.key_id,
                                     "--access-key-secret", tenant.secret, "--region", kDest, "--output",
                                     "json", "image", "import", file, "--name", "tenant-source"},
                                    {{"FERRY_OSS_ENDPOINT", cluster_->server(kB).oss_endpoint()}});
  ASSERT_EQ(imported.exit_code, 0) << imported.out << "\n" << imported.err << "\n" << cluster_->Logs();
  json imported_row = json::parse(imported.out, nullptr, false);
  ASSERT_TRUE(imported_row.is_object()) << imported.out;
  EXPECT_EQ(imported_row.value("TaskStatus", std::string()), "Finished") << imported.out;
  const std::string tenant_source = imported_row.value("ImageId", std::string());
  ASSERT_FALSE(tenant_source.empty()) << imported.out;

  // ...and copies it from B's region to A's, asking B.
  EcsClient tenant_b = ClientFor(cluster_->endpoint(kB), tenant.key_id, tenant.secret, false);
  json copied = CallOk(tenant_b, "CopyImage",
                       {{"RegionId", kDest}, {"ImageId", tenant_source}, {"DestinationRegionId", kSource}});
  const std::string tenant_copy = copied.value("ImageId", std::string());
  ASSERT_FALSE(tenant_copy.empty()) << copied.dump() << "\n" << cluster_->Logs();
  EcsClient tenant_a = ClientFor(cluster_->endpoint(kA), tenant.key_id, tenant.secret, true);
  const auto deadline = Clock::now() + kCopyDeadline;
  json tenant_image;
  while (Clock::now() < deadline) {
    json images = DescribeImageIn(tenant_a, kSource, tenant_copy);
    ASSERT_EQ(images.size(), 1u) << images.dump();
    tenant_image = images[0];
    const std::string status = tenant_image.value("Status", std::string());
    if (status != "Waiting" && status != "Creating") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(tenant_image.value("Status", std::string()), "Available") << tenant_image.dump() << "\n"
                                                                      << cluster_->Logs();
  EXPECT_EQ(tenant_image.value("ImageOwnerAlias", std::string()), "self") << tenant_image.dump();
  EXPECT_EQ(tenant_image.value("IsCopied", false), true);

  // tenant-b (known to B only) sees neither image, from either process,
  // nor the root's copy.
  for (size_t i : {kA, kB}) {
    EcsClient stranger = ClientFor(cluster_->endpoint(i), other.key_id, other.secret, false);
    EXPECT_TRUE(DescribeImageIn(stranger, kDest, tenant_source).empty()) << "via process " << i;
    EXPECT_TRUE(DescribeImageIn(stranger, kSource, tenant_copy).empty()) << "via process " << i;
    EXPECT_TRUE(DescribeImageIn(stranger, kDest, copy_id).empty()) << "via process " << i;
    Result<EcsResponse> refused = stranger.Call(
        "CopyImage", {{"RegionId", kSource}, {"ImageId", tenant_copy}, {"DestinationRegionId", kDest}});
    ASSERT_TRUE(refused.ok()) << refused.status().ToString();
    EXPECT_EQ(refused->http_status, 404) << refused->raw_body;
    EXPECT_EQ(refused->body.value("Code", std::string()), "InvalidImageId.NotFound") << refused->raw_body;
  }
}

// The source region on several servers (issue 13): B names two for it, the
// first of which does not answer; the copy's calls and chunk reads, and the
// account lookups of B's requests, go to the one that does.
TEST_F(TwoProcessCopyTest, ADestinationPullsFromTheSourceServerThatAnswers) {
  // Nothing listens on port 1: each call to it is refused at once.
  cluster_->set_leading_args(kB, {"--peer", std::string(kSource) + "=http://127.0.0.1:1"});
  StartCluster(false);
  EcsClient a = Root(kA);
  EcsClient b = Root(kB);
  const std::string source_id = ImportSource(a, "two-servers.raw", 6, 31);
  const std::string copy_id = Copy(a, source_id, "from-the-second-server");
  json image = WaitForCopyEnd(b, copy_id);
  ASSERT_EQ(image.value("Status", std::string()), "Available") << image.dump() << "\n" << cluster_->Logs();
  ExpectSameBytes(source_id, copy_id, "two-servers.raw");
  // A request for the source region sent to the destination is forwarded to
  // the source server that answers, too (twice: the second goes straight
  // to the server that answered the first).
  for (int i = 0; i < 2; ++i) {
    json described = CallOk(b, "DescribeImages", {{"RegionId", kSource}, {"ImageId", source_id}});
    EXPECT_NE(described.dump().find(source_id), std::string::npos) << described.dump();
  }
}

TEST_F(TwoProcessCopyTest, DestinationKilledMidCopyResumesWithOnlyTheMissingChunks) {
  StartCluster(/*slow=*/true);
  EcsClient a = Root(kA);
  const std::string source_id = ImportSource(a, "dest-kill.raw", kSlowChunks, 41);
  ASSERT_FALSE(source_id.empty());
  const std::string copy_id = Copy(a, source_id, "dest-kill-copy");
  ASSERT_FALSE(copy_id.empty());

  int percent_at_kill = 0;
  {
    EcsClient b = Root(kB);
    json image = WaitForProgress(b, copy_id, 20);
    ASSERT_FALSE(image.is_null());
    percent_at_kill = ProgressPercent(image);
    ASSERT_LT(percent_at_kill, 100) << image.dump();
  }
  cluster_->server(kB).Kill9();
  Restart(kB);

  EcsClient b = Root(kB);
  json image = WaitForCopyEnd(b, copy_id);
  ASSERT_EQ(image.value("Status", std::string()), "Available") << image.dump() << "\n" << cluster_->Logs();
  EXPECT_EQ(image.value("Progress", std::string()), "100%");

  // The restarted process fetched only what the killed one had not stored:
  // at most the chunks the progress seen before the kill had not covered.
  Result<std::string> metrics = RootClient(cluster_->server(kB).admin_endpoint(), false).Get("/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  const int64_t fetched = MetricValue(*metrics, "ferry_region_copy_chunks_fetched_total", kDest);
  const int64_t stored_before = static_cast<int64_t>(kSlowChunks) * percent_at_kill / 100;
  RecordProperty("percent_at_kill", percent_at_kill);
  RecordProperty("chunks_fetched_after_restart", static_cast<int>(fetched));
  EXPECT_GT(fetched, 0) << *metrics;
  EXPECT_LE(fetched, static_cast<int64_t>(kSlowChunks) - stored_before)
      << "progress was " << percent_at_kill << "% at the kill\n"
      << *metrics;

  ExpectSameBytes(source_id, copy_id, "dest-kill.raw");
}

TEST_F(TwoProcessCopyTest, SourceKilledMidCopyResumesAndKeepsItsLease) {
  StartCluster(/*slow=*/true);
  EcsClient a = Root(kA);
  EcsClient b = Root(kB);
  const std::string source_id = ImportSource(a, "src-kill.raw", kSlowChunks, 42);
  ASSERT_FALSE(source_id.empty());
  const std::string copy_id = Copy(a, source_id, "src-kill-copy");
  ASSERT_FALSE(copy_id.empty());

  ASSERT_FALSE(WaitForProgress(b, copy_id, 10).is_null());
  ExpectSourceLocked(a, source_id, "before the kill");
  cluster_->server(kA).Kill9();

  // The destination keeps waiting for its source.
  json images = DescribeImageIn(b, kDest, copy_id);
  ASSERT_EQ(images.size(), 1u) << images.dump();
  EXPECT_EQ(images[0].value("Status", std::string()), "Creating") << images.dump();

  Restart(kA);
  a = Root(kA);
  // The lease survived the crash: the source still cannot be deleted while
  // the copy runs (about 10 s of it remain at the rate limit).
  images = DescribeImageIn(b, kDest, copy_id);
  ASSERT_EQ(images.size(), 1u);
  ASSERT_EQ(images[0].value("Status", std::string()), "Creating") << images.dump();
  ExpectSourceLocked(a, source_id, "after the restart");

  json image = WaitForCopyEnd(b, copy_id);
  ASSERT_EQ(image.value("Status", std::string()), "Available") << image.dump() << "\n" << cluster_->Logs();
  EXPECT_EQ(image.value("Progress", std::string()), "100%");
  ExpectSameBytes(source_id, copy_id, "src-kill.raw");
  // Once the copy is done its lease goes, and the source can be deleted.
  DeleteSourceOnceReleased(a, source_id);
}

TEST_F(TwoProcessCopyTest, SourceStoppedForThirtySecondsThenRestartedDelaysTheCopyOnly) {
  StartCluster(/*slow=*/true);
  EcsClient a = Root(kA);
  EcsClient b = Root(kB);
  const std::string source_id = ImportSource(a, "outage.raw", kSlowChunks, 43);
  ASSERT_FALSE(source_id.empty());
  const std::string copy_id = Copy(a, source_id, "outage-copy");
  ASSERT_FALSE(copy_id.empty());
  ASSERT_FALSE(WaitForProgress(b, copy_id, 10).is_null());

  EXPECT_EQ(cluster_->server(kA).Stop(), 0) << cluster_->server(kA).Log();
  // Throughout the outage the copy stays Creating, never CreateFailed.
  const auto outage_end = Clock::now() + kOutage;
  int polls = 0;
  while (Clock::now() < outage_end) {
    json images = DescribeImageIn(b, kDest, copy_id);
    ASSERT_EQ(images.size(), 1u) << images.dump();
    ASSERT_EQ(images[0].value("Status", std::string()), "Creating")
        << "after " << polls << " polls of the outage: " << images.dump() << "\n"
        << cluster_->Logs();
    ++polls;
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  Restart(kA);

  json image = WaitForCopyEnd(b, copy_id);
  ASSERT_EQ(image.value("Status", std::string()), "Available") << image.dump() << "\n" << cluster_->Logs();
  ExpectSameBytes(source_id, copy_id, "outage.raw");
}

// The lines of `log` (one process's) containing every one of `parts`.
std::vector<std::string> LogLines(const std::string& log, const std::vector<std::string>& parts) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    const std::string line = log.substr(start, end - start);
    bool all = true;
    for (const std::string& p : parts) all = all && line.find(p) != std::string::npos;
    if (all) out.push_back(line);
    start = end + 1;
  }
  return out;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// What a new user saw: `ferry image copy --wait` against the source process,
// which is killed -9 mid-copy and restarted. The wait says the server is
// unreachable (once), retries, and completes with the copy; the operator's
// logs have one line when each job starts and one when it ends, the
// destination warns that its source stopped answering (with the retry
// plan), and no per-chunk line is logged at info.
TEST_F(TwoProcessCopyTest, CliCopyWaitRidesOutAKilledSourceAndTheLogsTellTheStory) {
  StartCluster(/*slow=*/true, kSlowerRate);
  EcsClient a = Root(kA);
  EcsClient b = Root(kB);
  const std::string source_id = ImportSource(a, "cli-outage.raw", kSlowChunks, 44);
  ASSERT_FALSE(source_id.empty());

  EnvMap env = cluster_->server(kA).ClientEnv();
  env["FERRY_ENDPOINT"] = cluster_->endpoint(kA);
  env["FERRY_ACCESS_KEY_ID"] = kRootKeyId;
  env["FERRY_ACCESS_KEY_SECRET"] = kRootKeySecret;
  env["FERRY_REGION"] = kSource;
  CommandResult copied;
  std::thread cli([&] {
    copied = RunFerry({"image", "copy", source_id, "--to", kDest, "--name", "cli-outage-copy", "--wait",
                       "--retry-for", "2m", "--output", "json"},
                      env, seconds(240));
  });
  // The copy, once the destination lists it.
  std::string copy_id;
  for (const auto deadline = Clock::now() + seconds(60); copy_id.empty() && Clock::now() < deadline;) {
    json body = CallOk(b, "DescribeImages",
                       {{"RegionId", kDest},
                        {"ImageOwnerAlias", "self"},
                        {"Status", "Creating,Waiting,Available,CreateFailed"}});
    for (const json& image : body["Images"]["Image"]) {
      if (image.value("ImageName", std::string()) == "cli-outage-copy") copy_id = image.value("ImageId", "");
    }
    if (copy_id.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (copy_id.empty()) {
    cli.join();
    FAIL() << "the CLI's copy never appeared in " << kDest << ": " << copied.err << "\n" << cluster_->Logs();
  }
  json in_progress = WaitForProgress(b, copy_id, 10);
  if (in_progress.is_null()) {
    cli.join();
    FAIL() << copied.err;
  }
  cluster_->server(kA).Kill9();
  // The destination notices and says what it will do, once.
  const auto noticed_by = Clock::now() + seconds(60);
  while (LogLines(cluster_->server(kB).Log(), {"stopped answering"}).empty() && Clock::now() < noticed_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::string b_log_outage = cluster_->server(kB).Log();
  std::vector<std::string> warned = LogLines(
      b_log_outage,
      {" warning ", "region cn-hangzhou stopped answering", "retrying with backoff", "giving up after"});
  EXPECT_EQ(warned.size(), 1u) << b_log_outage;
  std::this_thread::sleep_for(seconds(3));  // the CLI's polls meet a dead server meanwhile
  Restart(kA);
  cli.join();

  ASSERT_EQ(copied.exit_code, 0) << copied.out << "\n" << copied.err << "\n" << cluster_->Logs();
  json rows = json::parse(copied.out, nullptr, false);
  ASSERT_TRUE(rows.is_array() && rows.size() == 1) << copied.out;
  EXPECT_EQ(rows[0].value("ImageId", std::string()), copy_id);
  EXPECT_EQ(rows[0].value("Status", std::string()), "Available") << copied.out;
  EXPECT_EQ(Count(copied.err, "server unreachable, retrying"), 1u) << copied.err;
  EXPECT_NE(copied.err.find("(--retry-for)"), std::string::npos) << copied.err;
  EXPECT_NE(copied.err.find("server reachable again"), std::string::npos) << copied.err;
  // Progress shows the bytes on the wire and the data bytes apart.
  EXPECT_NE(copied.err.find("wire "), std::string::npos) << copied.err;
  EXPECT_NE(copied.err.find("data "), std::string::npos) << copied.err;
  EXPECT_EQ(copied.err.find(" 0 B/s"), std::string::npos) << copied.err;

  const std::string b_log = cluster_->server(kB).Log();
  EXPECT_EQ(LogLines(b_log, {" info ", "region cn-shanghai: copy started", copy_id}).size(), 1u) << b_log;
  std::vector<std::string> ended = LogLines(b_log, {" info ", "region cn-shanghai: copy finished", copy_id});
  ASSERT_EQ(ended.size(), 1u) << b_log;
  for (const char* field : {" bytes=", " chunks=", " wire_bytes=", " duration_s=", " rate_mib_s="})
    EXPECT_NE(ended[0].find(field), std::string::npos) << field << " in " << ended[0];
  EXPECT_EQ(ended[0].find(" bytes=0 "), std::string::npos) << ended[0];
  EXPECT_EQ(LogLines(b_log, {" info ", "region cn-hangzhou answers again"}).size(), 1u) << b_log;
  // The source's log (before the kill): its import's start and end.
  const std::string a_log =
      ReadAll(cluster_->server(kA).config_dir() + "/server.log.prev") + cluster_->server(kA).Log();
  EXPECT_EQ(LogLines(a_log, {" info ", "region cn-hangzhou: import started", source_id}).size(), 1u) << a_log;
  std::vector<std::string> imported =
      LogLines(a_log, {" info ", "region cn-hangzhou: import finished", source_id});
  ASSERT_EQ(imported.size(), 1u) << a_log;
  EXPECT_NE(imported[0].find(" bytes=" + std::to_string(kSlowChunks * kChunkBytes) + " "), std::string::npos)
      << imported[0];
  EXPECT_NE(imported[0].find(" chunks=" + std::to_string(kSlowChunks) + " "), std::string::npos)
      << imported[0];
  // Chunk transfers and keep-warm pings are debug lines, not the operator's.
  EXPECT_TRUE(LogLines(a_log, {" info ", "action=PeerGET", "status=200"}).empty()) << a_log;
  EXPECT_TRUE(LogLines(b_log, {" info ", "action=PeerGET", "status=200"}).empty()) << b_log;
}

TEST_F(TwoProcessCopyTest, CancelInTheDestinationProcessRemovesTheCopyAndFreesTheSource) {
  StartCluster(/*slow=*/true);
  EcsClient a = Root(kA);
  EcsClient b = Root(kB);
  const std::string source_id = ImportSource(a, "cancel.raw", kSlowChunks, 44);
  ASSERT_FALSE(source_id.empty());
  const std::string copy_id = Copy(a, source_id, "cancel-copy");
  ASSERT_FALSE(copy_id.empty());
  json image = WaitForProgress(b, copy_id, 10);
  ASSERT_FALSE(image.is_null());
  const json& disks = image["DiskDeviceMappings"]["DiskDeviceMapping"];
  ASSERT_EQ(disks.size(), 1u) << image.dump();
  const std::string snapshot_id = disks[0].value("SnapshotId", std::string());
  ASSERT_FALSE(snapshot_id.empty()) << image.dump();
  ExpectSourceLocked(a, source_id, "while the copy runs");

  CallOk(b, "CancelCopyImage", {{"RegionId", kDest}, {"ImageId", copy_id}});

  // Gone from B's region, asked directly and through A.
  for (size_t i : {kB, kA}) {
    EcsClient client = Root(i);
    EXPECT_TRUE(DescribeImageIn(client, kDest, copy_id).empty()) << "via process " << i;
    json snapshots = CallOk(client, "DescribeSnapshots",
                            {{"RegionId", kDest}, {"SnapshotIds", "[\"" + snapshot_id + "\"]"}});
    EXPECT_TRUE(snapshots["Snapshots"]["Snapshot"].empty()) << "via process " << i << ": " << snapshots.dump();
  }
  DeleteSourceOnceReleased(a, source_id);
}

}  // namespace
}  // namespace ferry::testing
