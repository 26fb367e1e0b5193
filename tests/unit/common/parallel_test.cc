#include "common/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace ferry {
namespace {

TEST(ParallelForTest, RunsEveryIndexOnceOnSeveralThreads) {
  std::vector<std::atomic<int>> runs(1000);
  std::mutex mu;
  std::set<std::thread::id> threads;
  Status st = ParallelFor(runs.size(), 4, "test", [&](size_t i) -> Status {
    runs[i]++;
    std::lock_guard<std::mutex> lock(mu);
    threads.insert(std::this_thread::get_id());
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.ToString();
  for (size_t i = 0; i < runs.size(); ++i) EXPECT_EQ(runs[i].load(), 1) << i;
  EXPECT_LE(threads.size(), 4u);
  EXPECT_TRUE(ParallelFor(0, 4, "nothing", [](size_t) { return Internal("never called"); }).ok());
}

TEST(ParallelForTest, TheFirstErrorStopsWhatHasNotStartedAndIsReturned) {
  std::atomic<size_t> started{0};
  Status st = ParallelFor(10000, 2, "test", [&](size_t i) -> Status {
    started++;
    if (i == 3) return DataLoss("piece 3 is bad");
    return Status::Ok();
  });
  EXPECT_EQ(st.code(), Code::kDataLoss);
  EXPECT_NE(st.message().find("piece 3"), std::string::npos);
  EXPECT_LT(started.load(), 10000u) << "the pieces after the error were not started";
}

TEST(ParallelForTest, AnExceptionIsAnErrorNotACrash) {
  Status st = ParallelFor(8, 3, "the job", [](size_t i) -> Status {
    if (i == 5) throw std::runtime_error("boom");
    return Status::Ok();
  });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("the job"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace ferry
