// Two `ferry serve` processes under concurrent CopyImage load (issue 8 §8):
// process A serves cn-hangzhou (the source), process B cn-shanghai (the
// destination). A CopyImage sent to B is forwarded to A, whose handler then
// calls B's AcceptCopy peer endpoint: with handlers on the I/O threads, a
// batch of such calls at B left every thread of both processes waiting on
// the other. Each batch here must be acknowledged in full, every copy must
// end Available, and each call must make exactly one image. And a call whose
// answer was lost is safe to repeat: the same ClientToken gets the same
// ImageId, through either process, even while the first call still runs.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
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
constexpr size_t kBatch = 50;
constexpr auto kCopiesDeadline = seconds(180);

// A client that waits as long as a forwarded request may take, so a slow
// answer is seen as slow, not as lost.
EcsClient PatientRoot(const std::string& endpoint) {
  ClientConfig config;
  config.endpoint = endpoint;
  config.access_key_id = kRootKeyId;
  config.access_key_secret = kRootKeySecret;
  config.timeout_ms = 90000;
  return EcsClient(config);
}

class TwoProcessLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<FerryCluster>("ferry-2p-load-",
                                              std::vector<std::vector<std::string>>{{kSource}, {kDest}});
    std::string error;
    ASSERT_TRUE(cluster_->StartAll(&error)) << error;
  }

  // Imports `n` one-MiB images into kSource, 5 at a time; their ids.
  std::vector<std::string> ImportSources(size_t n) {
    std::vector<std::string> ids(n);
    constexpr size_t kParallel = 5;
    std::vector<std::thread> workers;
    for (size_t w = 0; w < kParallel; ++w) {
      workers.emplace_back([&, w] {
        EcsClient a = PatientRoot(cluster_->endpoint(kA));
        for (size_t i = w; i < n; i += kParallel) {
          const std::string object = "src-" + std::to_string(i) + ".raw";
          WriteSparseImage(cluster_->BucketDir(kA) + "/" + object, kMiB, {{0, kMiB}}, 1000 + i);
          ids[i] = ImportRawImage(a, kSource, kOperatorBucket, object, "source-" + std::to_string(i));
        }
      });
    }
    for (std::thread& t : workers) t.join();
    return ids;
  }

  // Every image id in kDest, in every status, page by page.
  static std::set<std::string> DestImageIds(EcsClient& client) {
    std::set<std::string> ids;
    for (int page = 1; page < 100; ++page) {
      json body = CallOk(client, "DescribeImages",
                         {{"RegionId", kDest},
                          {"Status", kAllImageStatuses},
                          {"PageSize", "100"},
                          {"PageNumber", std::to_string(page)}});
      const json& images = body["Images"]["Image"];
      for (const json& image : images) ids.insert(image.value("ImageId", std::string()));
      if (images.size() < 100) break;
    }
    return ids;
  }

  struct Answer {
    int http_status = 0;
    std::string image_id;
    std::string raw;
  };

  // CopyImage of `source_id` (kSource -> kDest) named `name`, sent to
  // process `via`, with `token` as ClientToken unless empty.
  Answer CopyVia(size_t via, const std::string& source_id, const std::string& name, const std::string& token) {
    EcsClient client = PatientRoot(cluster_->endpoint(via));
    std::map<std::string, std::string> params = {{"RegionId", kSource},
                                                 {"ImageId", source_id},
                                                 {"DestinationRegionId", kDest},
                                                 {"DestinationImageName", name}};
    if (!token.empty()) params["ClientToken"] = token;
    Result<EcsResponse> resp = client.Call("CopyImage", params);
    if (!resp.ok()) return {0, "", resp.status().ToString()};
    return {resp->http_status, resp->body.value("ImageId", std::string()), resp->raw_body};
  }

  // Sends one CopyImage per source at once, all to process `via`; expects
  // every one acknowledged with its own new image, every copy Available,
  // and exactly kBatch new images in kDest.
  void CopyBatchThrough(size_t via, const std::vector<std::string>& sources, const std::string& tag) {
    EcsClient b = PatientRoot(cluster_->endpoint(kB));
    const std::set<std::string> before = DestImageIds(b);

    std::vector<Answer> answers(sources.size());
    std::vector<std::thread> callers;
    for (size_t i = 0; i < sources.size(); ++i) {
      callers.emplace_back([&, i] {
        answers[i] = CopyVia(via, sources[i], tag + "-" + std::to_string(i), tag + "-token-" + std::to_string(i));
      });
    }
    for (std::thread& t : callers) t.join();

    std::set<std::string> copies;
    for (size_t i = 0; i < answers.size(); ++i) {
      EXPECT_EQ(answers[i].http_status, 200) << tag << " call " << i << ": " << answers[i].raw;
      EXPECT_FALSE(answers[i].image_id.empty()) << tag << " call " << i << ": " << answers[i].raw;
      if (!answers[i].image_id.empty()) copies.insert(answers[i].image_id);
    }
    ASSERT_EQ(copies.size(), sources.size()) << tag << ": distinct ImageIds\n" << cluster_->Logs();

    // Every acknowledged copy ends Available.
    const auto deadline = Clock::now() + kCopiesDeadline;
    std::set<std::string> pending = copies;
    std::string last;
    while (!pending.empty() && Clock::now() < deadline) {
      for (auto it = pending.begin(); it != pending.end();) {
        json images = DescribeImageIn(b, kDest, *it);
        ASSERT_EQ(images.size(), 1u) << tag << ": copy " << *it << " not listed: " << images.dump();
        const std::string status = images[0].value("Status", std::string());
        ASSERT_TRUE(status == "Waiting" || status == "Creating" || status == "Available")
            << tag << ": copy " << *it << ": " << images[0].dump() << "\n"
            << cluster_->Logs();
        last = images[0].dump();
        it = status == "Available" ? pending.erase(it) : std::next(it);
      }
      if (!pending.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    ASSERT_TRUE(pending.empty()) << tag << ": " << pending.size() << " copies not Available after "
                                 << kCopiesDeadline.count() << " s, e.g. " << last;

    // Exactly one new image per call: none lost, none made twice.
    const std::set<std::string> after = DestImageIds(b);
    std::set<std::string> added;
    for (const std::string& id : after) {
      if (before.count(id) == 0) added.insert(id);
    }
    EXPECT_EQ(added, copies) << tag;
  }

  std::unique_ptr<FerryCluster> cluster_;
};

TEST_F(TwoProcessLoadTest, FiftyConcurrentCopiesThroughEachEndpointAreAllAcknowledgedAndMadeOnce) {
  // Distinct sources: a source image has one copy at a time (ECS's
  // OperationDenied.ImageCopyConflict), and a batch is sent all at once.
  const std::vector<std::string> sources = ImportSources(kBatch);
  for (const std::string& id : sources) ASSERT_FALSE(id.empty());

  // Through the destination's endpoint: B forwards each call to A, and A's
  // CopyImage calls B's AcceptCopy back.
  CopyBatchThrough(kB, sources, "via-dest");
  // Through the source's endpoint.
  CopyBatchThrough(kA, sources, "via-source");
}

TEST_F(TwoProcessLoadTest, ClientTokenMakesCopyImageSafeToRepeat) {
  const std::vector<std::string> sources = ImportSources(2);
  ASSERT_FALSE(sources[0].empty());
  ASSERT_FALSE(sources[1].empty());
  EcsClient b = PatientRoot(cluster_->endpoint(kB));
  const std::set<std::string> before = DestImageIds(b);

  // The same call, ten times at once, through both processes: the repeats
  // arrive while the first one is still in flight.
  std::vector<Answer> answers(10);
  std::vector<std::thread> callers;
  for (size_t i = 0; i < answers.size(); ++i) {
    callers.emplace_back([&, i] { answers[i] = CopyVia(i % 2 == 0 ? kB : kA, sources[0], "once", "token-once"); });
  }
  for (std::thread& t : callers) t.join();
  const std::string copy_id = answers[0].image_id;
  ASSERT_FALSE(copy_id.empty()) << answers[0].raw;
  for (const Answer& answer : answers) {
    EXPECT_EQ(answer.http_status, 200) << answer.raw;
    EXPECT_EQ(answer.image_id, copy_id) << answer.raw;
  }

  // Once more after the fact (the caller never saw an answer), through the
  // destination, which forwards it.
  Answer again = CopyVia(kB, sources[0], "once", "token-once");
  EXPECT_EQ(again.http_status, 200) << again.raw;
  EXPECT_EQ(again.image_id, copy_id) << again.raw;

  // One image made.
  std::set<std::string> added;
  for (const std::string& id : DestImageIds(b)) {
    if (before.count(id) == 0) added.insert(id);
  }
  EXPECT_EQ(added, std::set<std::string>{copy_id});

  // The token with other parameters (another name, or another image) is
  // refused, through either process, and makes nothing.
  for (size_t via : {kA, kB}) {
    Answer other_name = CopyVia(via, sources[0], "other-name", "token-once");
    EXPECT_EQ(other_name.http_status, 400) << other_name.raw;
    EXPECT_NE(other_name.raw.find("IdempotentParameterMismatch"), std::string::npos) << other_name.raw;
    Answer other_image = CopyVia(via, sources[1], "once", "token-once");
    EXPECT_EQ(other_image.http_status, 400) << other_image.raw;
    EXPECT_NE(other_image.raw.find("IdempotentParameterMismatch"), std::string::npos) << other_image.raw;
  }
  added.clear();
  for (const std::string& id : DestImageIds(b)) {
    if (before.count(id) == 0) added.insert(id);
  }
  EXPECT_EQ(added, std::set<std::string>{copy_id});
}

}  // namespace
}  // namespace ferry::testing
