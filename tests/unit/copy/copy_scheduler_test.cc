#include "copy/copy_scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ferry {
namespace {

using std::chrono::steady_clock;

// Generous: a deadline only matters when the scheduler is broken.
constexpr std::chrono::seconds kDeadline(20);

// Holds jobs inside `run` until opened, or until their cancel flag is set.
class Gate {
 public:
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }

  // OK once opened; kCancelled once the flag is seen; kInternal if neither
  // happens before the deadline. The flag has no condition variable, so it is
  // polled between short waits.
  Status Wait(const std::atomic<bool>& cancel, const std::string& job_id) {
    const auto deadline = steady_clock::now() + kDeadline;
    std::unique_lock<std::mutex> lock(mu_);
    while (!open_) {
      if (cancel.load()) return Cancelled("copy job " + job_id + " cancelled");
      if (steady_clock::now() > deadline) {
        return Internal("copy job " + job_id + ": gate never opened, cancel never set");
      }
      cv_.wait_for(lock, std::chrono::milliseconds(2));
    }
    return Status::Ok();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

// Records what the scheduler does with the jobs it builds. Declare it (and
// any Gate) before the scheduler so the scheduler's threads are joined first.
class Recorder {
 public:
  // A job that waits on `gate` (if any) and then returns `result`.
  CopyJob Job(const std::string& id, const std::string& account, Gate* gate = nullptr,
              Status result = Status::Ok()) {
    CopyJob job;
    job.job_id = id;
    job.account_id = account;
    job.run = [this, id, gate, result](const std::atomic<bool>& cancel) -> Status {
      const int now = in_run_.fetch_add(1) + 1;
      int seen = max_in_run_.load();
      while (now > seen && !max_in_run_.compare_exchange_weak(seen, now)) {
      }
      Status status = gate != nullptr ? gate->Wait(cancel, id) : Status::Ok();
      in_run_.fetch_sub(1);
      return status.ok() ? result : status;
    };
    job.on_start = [this, id] {
      {
        std::lock_guard<std::mutex> lock(mu_);
        started_.push_back(id);
      }
      cv_.notify_all();
    };
    job.on_done = [this, id](const Status& status) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        done_.emplace(id, status);
        ++done_calls_;
      }
      cv_.notify_all();
    };
    return job;
  }

  bool WaitStarted(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return started_.size() >= n; });
  }
  bool WaitDone(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return done_calls_ >= n; });
  }
  bool WaitDone(const std::string& id) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kDeadline, [&] { return done_.count(id) != 0; });
  }

  std::vector<std::string> started() const {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }
  std::map<std::string, Status> done() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  size_t done_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return done_calls_;
  }
  int max_in_run() const { return max_in_run_.load(); }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> started_;    // guarded by mu_, in on_start order
  std::map<std::string, Status> done_;  // guarded by mu_
  size_t done_calls_ = 0;               // guarded by mu_
  std::atomic<int> in_run_{0};
  std::atomic<int> max_in_run_{0};
};

std::string Id(const std::string& prefix, int i) { return prefix + std::to_string(i); }

TEST(CopySchedulerTest, RunsAtMostMaxRunningAtOnce) {
  Recorder rec;
  Gate gate;
  CopyScheduler scheduler(5);
  for (int i = 1; i <= 7; ++i) {
    ASSERT_TRUE(scheduler.Submit(rec.Job(Id("m-", i), Id("acct-", i % 3), &gate)).ok());
  }
  ASSERT_TRUE(rec.WaitStarted(5));
  EXPECT_EQ(scheduler.running(), 5u);
  EXPECT_EQ(scheduler.waiting(), 2u);
  int running = 0, waiting = 0;
  for (int i = 1; i <= 7; ++i) {
    CopyJobState state = scheduler.State(Id("m-", i));
    running += state == CopyJobState::kRunning;
    waiting += state == CopyJobState::kWaiting;
  }
  EXPECT_EQ(running, 5);
  EXPECT_EQ(waiting, 2);

  gate.Open();
  ASSERT_TRUE(rec.WaitDone(7));
  EXPECT_EQ(rec.started().size(), 7u);
  for (const auto& [id, status] : rec.done()) EXPECT_TRUE(status.ok()) << id;
  EXPECT_LE(rec.max_in_run(), 5);
  EXPECT_EQ(scheduler.running(), 0u);
  EXPECT_EQ(scheduler.waiting(), 0u);
}

// A second limit beyond max_running (the region-wide one): a job refused
// admission stays waiting, first in line, is asked again after the retry
// interval, and starts once admitted; one cancelled meanwhile ends Cancelled
// without starting.
TEST(CopySchedulerTest, AJobRefusedAdmissionWaitsFirstInLineUntilAdmitted) {
  Recorder rec;
  std::atomic<int> slots{0};
  std::atomic<int> asked{0};
  CopyScheduler scheduler(5);
  scheduler.set_admission_retry(std::chrono::milliseconds(5));
  auto admitted_job = [&](const std::string& id, const std::string& account) {
    CopyJob job = rec.Job(id, account);
    job.admit = [&]() -> Result<bool> {
      ++asked;
      int free = slots.load();
      while (free > 0 && !slots.compare_exchange_weak(free, free - 1)) {
      }
      return free > 0;
    };
    return job;
  };
  ASSERT_TRUE(scheduler.Submit(admitted_job("a1", "A")).ok());
  ASSERT_TRUE(scheduler.Submit(admitted_job("b1", "B")).ok());
  const auto deadline = steady_clock::now() + kDeadline;
  while (asked.load() < 10 && steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_GE(asked.load(), 10) << "admission is asked again";
  EXPECT_TRUE(rec.started().empty());
  // Between two askings (the job counts as starting while it is asked).
  auto first_in_line = [&] {
    return scheduler.State("a1") == CopyJobState::kWaiting && scheduler.QueuePosition("a1") == 1u &&
           scheduler.QueuePosition("b1") == 2u;
  };
  bool seen = false;
  for (int i = 0; i < 10000 && !seen; ++i) seen = first_in_line();
  EXPECT_TRUE(seen) << "a1 waits first in line, b1 behind it";

  slots = 1;
  ASSERT_TRUE(rec.WaitStarted(1));
  EXPECT_EQ(rec.started().front(), "a1");
  ASSERT_TRUE(rec.WaitDone("a1"));
  EXPECT_EQ(rec.started().size(), 1u) << "one slot, one start";

  // Cancelled waiting, or while it is asked (then it ends Cancelled at once).
  ASSERT_TRUE(scheduler.Cancel("b1"));
  for (int i = 0; i < 20000 && scheduler.State("b1") != CopyJobState::kUnknown; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(scheduler.State("b1"), CopyJobState::kUnknown);
  slots = 1;
  ASSERT_TRUE(scheduler.Submit(admitted_job("c1", "C")).ok());
  ASSERT_TRUE(rec.WaitDone("c1"));
  EXPECT_EQ(rec.started(), (std::vector<std::string>{"a1", "c1"})) << "the cancelled job never started";
}

TEST(CopySchedulerTest, OneJobOfSecondAccountStartsBeforeFirstAccountsBacklog) {
  Recorder rec;
  Gate first;
  CopyScheduler scheduler(1);
  ASSERT_TRUE(scheduler.Submit(rec.Job("a1", "A", &first)).ok());
  ASSERT_TRUE(rec.WaitStarted(1));
  for (int i = 2; i <= 50; ++i) ASSERT_TRUE(scheduler.Submit(rec.Job(Id("a", i), "A")).ok());
  ASSERT_TRUE(scheduler.Submit(rec.Job("b1", "B")).ok());

  // A was served last (a1 runs), so B is next, then A's backlog in order.
  std::vector<std::string> expected = {"a1", "b1"};
  for (int i = 2; i <= 50; ++i) expected.push_back(Id("a", i));
  EXPECT_EQ(scheduler.QueuePosition("a1"), 0u);
  for (size_t i = 1; i < expected.size(); ++i) {
    EXPECT_EQ(scheduler.QueuePosition(expected[i]), i) << expected[i];
  }

  first.Open();
  ASSERT_TRUE(rec.WaitDone(51));
  EXPECT_EQ(rec.started(), expected);
  EXPECT_EQ(rec.max_in_run(), 1);
}

TEST(CopySchedulerTest, RoundRobinOverAccountsInOrderFirstQueued) {
  Recorder rec;
  CopyScheduler scheduler(0);  // paused: everything queues
  for (const auto& [id, account] : std::vector<std::pair<std::string, std::string>>{
           {"a1", "A"}, {"a2", "A"}, {"a3", "A"}, {"b1", "B"}, {"c1", "C"}, {"b2", "B"}}) {
    ASSERT_TRUE(scheduler.Submit(rec.Job(id, account)).ok());
  }
  EXPECT_EQ(scheduler.waiting(), 6u);
  EXPECT_EQ(scheduler.running(), 0u);
  const std::vector<std::string> expected = {"a1", "b1", "c1", "a2", "b2", "a3"};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(scheduler.State(expected[i]), CopyJobState::kWaiting);
    EXPECT_EQ(scheduler.QueuePosition(expected[i]), i + 1) << expected[i];
  }

  scheduler.set_max_running(1);
  ASSERT_TRUE(rec.WaitDone(6));
  EXPECT_EQ(rec.started(), expected);
}

TEST(CopySchedulerTest, QueuePositionCountsFromAccountAfterLastStarter) {
  Recorder rec;
  Gate gate;
  CopyScheduler scheduler(1);
  // B joins the ring first and starts b1; A and C join after it while paused.
  ASSERT_TRUE(scheduler.Submit(rec.Job("b1", "B", &gate)).ok());
  ASSERT_TRUE(rec.WaitStarted(1));
  scheduler.set_max_running(0);
  ASSERT_TRUE(scheduler.Submit(rec.Job("a1", "A")).ok());
  ASSERT_TRUE(scheduler.Submit(rec.Job("c1", "C")).ok());
  ASSERT_TRUE(scheduler.Submit(rec.Job("b2", "B")).ok());
  ASSERT_TRUE(scheduler.Submit(rec.Job("a2", "A")).ok());
  // Ring B, A, C; B started last, so each lap goes A, C, B.
  const std::vector<std::string> expected = {"a1", "c1", "b2", "a2"};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(scheduler.QueuePosition(expected[i]), i + 1) << expected[i];
  }
  gate.Open();
  ASSERT_TRUE(rec.WaitDone("b1"));
  scheduler.set_max_running(1);
  ASSERT_TRUE(rec.WaitDone(5));
  std::vector<std::string> order = rec.started();
  EXPECT_EQ(std::vector<std::string>(order.begin() + 1, order.end()), expected);
}

TEST(CopySchedulerTest, FifoWithinAnAccount) {
  Recorder rec;
  CopyScheduler scheduler(0);
  std::vector<std::string> expected;
  for (int i = 1; i <= 5; ++i) {
    expected.push_back(Id("m-", i));
    ASSERT_TRUE(scheduler.Submit(rec.Job(expected.back(), "A")).ok());
    EXPECT_EQ(scheduler.QueuePosition(expected.back()), static_cast<uint64_t>(i));
  }
  scheduler.set_max_running(1);
  ASSERT_TRUE(rec.WaitDone(5));
  EXPECT_EQ(rec.started(), expected);
}

TEST(CopySchedulerTest, CancelWaitingRemovesItWithoutRunningIt) {
  Recorder rec;
  Gate gate;
  CopyScheduler scheduler(1);
  ASSERT_TRUE(scheduler.Submit(rec.Job("r1", "A", &gate)).ok());
  ASSERT_TRUE(rec.WaitStarted(1));
  for (const char* id : {"w1", "w2", "w3"}) ASSERT_TRUE(scheduler.Submit(rec.Job(id, "A")).ok());
  EXPECT_EQ(scheduler.QueuePosition("w2"), 2u);
  EXPECT_EQ(scheduler.QueuePosition("w3"), 3u);

  EXPECT_TRUE(scheduler.Cancel("w2"));
  EXPECT_EQ(scheduler.State("w2"), CopyJobState::kUnknown);
  EXPECT_EQ(scheduler.QueuePosition("w2"), 0u);
  EXPECT_EQ(scheduler.QueuePosition("w1"), 1u);
  EXPECT_EQ(scheduler.QueuePosition("w3"), 2u);
  EXPECT_EQ(scheduler.waiting(), 2u);
  EXPECT_FALSE(scheduler.Cancel("w2"));
  EXPECT_FALSE(scheduler.Cancel("never-submitted"));

  gate.Open();
  ASSERT_TRUE(rec.WaitDone("w3"));  // FIFO: w2 would have started before w3
  EXPECT_EQ(rec.started(), (std::vector<std::string>{"r1", "w1", "w3"}));
  EXPECT_EQ(rec.done().count("w2"), 0u);
  EXPECT_EQ(rec.done_calls(), 3u);
}

TEST(CopySchedulerTest, CancelRunningSetsItsFlagAndReportsTheResult) {
  Recorder rec;
  Gate never_opened;
  CopyScheduler scheduler(1);
  ASSERT_TRUE(scheduler.Submit(rec.Job("r1", "A", &never_opened)).ok());
  ASSERT_TRUE(scheduler.Submit(rec.Job("w1", "A")).ok());
  ASSERT_TRUE(rec.WaitStarted(1));
  EXPECT_EQ(scheduler.State("r1"), CopyJobState::kRunning);

  EXPECT_TRUE(scheduler.Cancel("r1"));
  ASSERT_TRUE(rec.WaitDone("r1"));
  EXPECT_EQ(rec.done().at("r1").code(), Code::kCancelled) << rec.done().at("r1").ToString();
  // The freed slot goes to the next job.
  ASSERT_TRUE(rec.WaitDone("w1"));
  EXPECT_TRUE(rec.done().at("w1").ok());
  EXPECT_EQ(scheduler.State("r1"), CopyJobState::kUnknown);
}

TEST(CopySchedulerTest, RejectsDuplicateIdWhileWaitingOrRunning) {
  Recorder rec;
  Gate gate;
  CopyScheduler scheduler(0);
  ASSERT_TRUE(scheduler.Submit(rec.Job("m-1", "A", &gate)).ok());
  EXPECT_EQ(scheduler.Submit(rec.Job("m-1", "B")).code(), Code::kAlreadyExists);
  EXPECT_EQ(scheduler.waiting(), 1u);

  scheduler.set_max_running(1);
  ASSERT_TRUE(rec.WaitStarted(1));
  Status again = scheduler.Submit(rec.Job("m-1", "A"));
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_NE(again.message().find("m-1"), std::string::npos) << again.ToString();
  EXPECT_EQ(scheduler.waiting(), 0u);

  gate.Open();
  ASSERT_TRUE(rec.WaitDone(1));
  // Once finished the id is free again (a resumed copy reuses its image id).
  EXPECT_TRUE(scheduler.Submit(rec.Job("m-1", "A")).ok());
  ASSERT_TRUE(rec.WaitDone(2));
}

TEST(CopySchedulerTest, RejectsJobsWithoutIdOrRun) {
  Recorder rec;
  CopyScheduler scheduler(1);
  EXPECT_EQ(scheduler.Submit(rec.Job("", "A")).code(), Code::kInvalidArgument);
  CopyJob no_run = rec.Job("m-1", "A");
  no_run.run = nullptr;
  EXPECT_EQ(scheduler.Submit(std::move(no_run)).code(), Code::kInvalidArgument);
  EXPECT_EQ(scheduler.waiting() + scheduler.running(), 0u);
}

TEST(CopySchedulerTest, RaisingTheLimitStartsWaitingJobs) {
  Recorder rec;
  Gate gate;
  CopyScheduler scheduler(1);
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(scheduler.Submit(rec.Job(Id("m-", i), "A", &gate)).ok());
  }
  ASSERT_TRUE(rec.WaitStarted(1));
  EXPECT_EQ(scheduler.waiting(), 2u);

  scheduler.set_max_running(3);
  ASSERT_TRUE(rec.WaitStarted(3));
  EXPECT_EQ(scheduler.running(), 3u);
  EXPECT_EQ(scheduler.waiting(), 0u);
  gate.Open();
  ASSERT_TRUE(rec.WaitDone(3));
}

TEST(CopySchedulerTest, LoweringTheLimitOnlyDelaysStarts) {
  Recorder rec;
  Gate first, second;
  CopyScheduler scheduler(2);
  ASSERT_TRUE(scheduler.Submit(rec.Job("r1", "A", &first)).ok());
  ASSERT_TRUE(scheduler.Submit(rec.Job("r2", "B", &second)).ok());
  ASSERT_TRUE(rec.WaitStarted(2));
  ASSERT_TRUE(scheduler.Submit(rec.Job("w1", "C")).ok());

  scheduler.set_max_running(1);
  EXPECT_EQ(scheduler.running(), 2u);
  first.Open();
  ASSERT_TRUE(rec.WaitDone("r1"));
  EXPECT_TRUE(rec.done().at("r1").ok());  // not cancelled by the lower limit
  // One still runs, and the limit is now one.
  EXPECT_EQ(scheduler.State("w1"), CopyJobState::kWaiting);
  EXPECT_EQ(scheduler.running(), 1u);

  second.Open();
  ASSERT_TRUE(rec.WaitDone(3));
  EXPECT_TRUE(rec.done().at("r2").ok());
  EXPECT_TRUE(rec.done().at("w1").ok());
}

TEST(CopySchedulerTest, ShutdownCancelsRunningAndDropsWaiting) {
  Recorder rec;
  Gate never_opened;
  CopyScheduler scheduler(2);
  ASSERT_TRUE(scheduler.Submit(rec.Job("r1", "A", &never_opened)).ok());
  ASSERT_TRUE(scheduler.Submit(rec.Job("r2", "B", &never_opened)).ok());
  ASSERT_TRUE(rec.WaitStarted(2));
  ASSERT_TRUE(scheduler.Submit(rec.Job("w1", "A")).ok());
  ASSERT_TRUE(scheduler.Submit(rec.Job("w2", "C")).ok());

  scheduler.Shutdown();  // returns only once running jobs have finished
  std::map<std::string, Status> done = rec.done();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done.at("r1").code(), Code::kCancelled) << done.at("r1").ToString();
  EXPECT_EQ(done.at("r2").code(), Code::kCancelled) << done.at("r2").ToString();
  EXPECT_EQ(rec.started().size(), 2u);
  EXPECT_EQ(scheduler.running(), 0u);
  EXPECT_EQ(scheduler.waiting(), 0u);
  EXPECT_EQ(scheduler.State("w1"), CopyJobState::kUnknown);
  EXPECT_EQ(scheduler.Submit(rec.Job("m-9", "A")).code(), Code::kUnavailable);
  scheduler.set_max_running(4);  // no restart after shutdown
  EXPECT_EQ(rec.started().size(), 2u);
  scheduler.Shutdown();  // idempotent
}

TEST(CopySchedulerTest, DestructorCancelsRunningJobs) {
  Recorder rec;
  Gate never_opened;
  {
    CopyScheduler scheduler(1);
    ASSERT_TRUE(scheduler.Submit(rec.Job("r1", "A", &never_opened)).ok());
    ASSERT_TRUE(rec.WaitStarted(1));
  }
  ASSERT_EQ(rec.done().count("r1"), 1u);
  EXPECT_EQ(rec.done().at("r1").code(), Code::kCancelled);
}

TEST(CopySchedulerTest, FailureOfAJobReachesOnDone) {
  Recorder rec;
  CopyScheduler scheduler(1);
  const Status failure = DataLoss("chunk 9f86d081 at offset 4194304: digest mismatch");
  ASSERT_TRUE(scheduler.Submit(rec.Job("m-1", "A", nullptr, failure)).ok());
  CopyJob throws = rec.Job("m-2", "A");
  throws.run = [](const std::atomic<bool>&) -> Status { throw std::runtime_error("peer parser exploded"); };
  ASSERT_TRUE(scheduler.Submit(std::move(throws)).ok());

  ASSERT_TRUE(rec.WaitDone(2));
  const Status got = rec.done().at("m-1");
  EXPECT_EQ(got.code(), Code::kDataLoss);
  EXPECT_EQ(got.message(), failure.message());
  const Status thrown = rec.done().at("m-2");
  EXPECT_EQ(thrown.code(), Code::kInternal);
  EXPECT_NE(thrown.message().find("peer parser exploded"), std::string::npos);
  EXPECT_NE(thrown.message().find("m-2"), std::string::npos);
}

TEST(CopySchedulerTest, OutOfMemoryInAJobOrItsCallbacksDoesNotStopTheScheduler) {
  Recorder rec;
  CopyScheduler scheduler(1);
  CopyJob oom = rec.Job("m-1", "A");
  oom.run = [](const std::atomic<bool>&) -> Status { throw std::bad_alloc(); };
  ASSERT_TRUE(scheduler.Submit(std::move(oom)).ok());
  // on_done throwing must not take the worker down either: m-3 still runs.
  CopyJob bad_done = rec.Job("m-2", "A");
  auto record = bad_done.on_done;
  bad_done.on_done = [record](const Status& st) {
    record(st);
    throw std::runtime_error("callback exploded");
  };
  ASSERT_TRUE(scheduler.Submit(std::move(bad_done)).ok());
  ASSERT_TRUE(scheduler.Submit(rec.Job("m-3", "A")).ok());

  ASSERT_TRUE(rec.WaitDone(3));
  const Status oom_status = rec.done().at("m-1");
  EXPECT_EQ(oom_status.code(), Code::kInternal);
  EXPECT_NE(oom_status.message().find("out of memory"), std::string::npos) << oom_status.message();
  EXPECT_TRUE(rec.done().at("m-2").ok());
  EXPECT_TRUE(rec.done().at("m-3").ok());
}

TEST(CopySchedulerTest, CallbacksMayCallBackIntoTheScheduler) {
  Recorder rec;
  CopyScheduler scheduler(1);
  std::atomic<bool> start_saw_running{false};
  std::atomic<bool> done_saw_unknown{false};
  CopyJob job = rec.Job("m-1", "A");
  auto record_start = job.on_start;
  job.on_start = [&, record_start] {
    start_saw_running = scheduler.State("m-1") == CopyJobState::kRunning &&
                        scheduler.QueuePosition("m-1") == 0 && scheduler.running() == 1;
    record_start();
  };
  auto record_done = job.on_done;
  job.on_done = [&, record_done](const Status& status) {
    done_saw_unknown = scheduler.State("m-1") == CopyJobState::kUnknown && !scheduler.Cancel("m-1");
    record_done(status);
  };
  ASSERT_TRUE(scheduler.Submit(std::move(job)).ok());
  ASSERT_TRUE(rec.WaitDone(1));
  EXPECT_TRUE(start_saw_running);
  EXPECT_TRUE(done_saw_unknown);
}

}  // namespace
}  // namespace ferry
