// CopyScheduler: the queue of a destination region's copies. At most
// `max_running` copies run at once; the rest wait (ECS status Waiting) and are
// started fairly across accounts: round-robin over accounts with waiting
// jobs, FIFO within an account, so one account's fifty copies do not starve
// another's one.
//
// A job is a function run on one of the scheduler's own threads; it receives
// a cancel flag it must poll. Cancelling a waiting job removes it without
// running it; cancelling a running job sets its flag.
//
// Threading: thread-safe. Callbacks run on scheduler threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace ferry {

struct CopyJob {
  std::string job_id;      // the destination image id
  std::string account_id;  // for fairness
  // Runs the copy. Must return promptly with kCancelled once *cancel is true.
  std::function<Status(const std::atomic<bool>& cancel)> run;
  // Asked when the job is next to start, if set: a second limit beyond
  // max_running (the region-wide one of the nodes sharing a catalog). false
  // or an error leaves the job waiting, first in its account's queue, and no
  // job starts until the scheduler's admission retry interval has passed.
  std::function<Result<bool>()> admit;
  // Called when the job starts running (Waiting -> Creating).
  std::function<void()> on_start;
  // Called once with the final Status (OK, kCancelled, or the failure).
  // Not called for a job cancelled while waiting.
  std::function<void(const Status&)> on_done;
};

enum class CopyJobState { kUnknown, kWaiting, kRunning };

class CopyScheduler {
 public:
  explicit CopyScheduler(unsigned max_running);
  ~CopyScheduler();  // Shutdown()
  CopyScheduler(const CopyScheduler&) = delete;
  CopyScheduler& operator=(const CopyScheduler&) = delete;

  // kAlreadyExists if a job with that id is queued or running; kUnavailable
  // after Shutdown.
  Status Submit(CopyJob job);
  // true if the job was waiting (removed) or running (flag set).
  bool Cancel(const std::string& job_id);
  CopyJobState State(const std::string& job_id) const;
  // 1-based position among waiting jobs in start order, 0 if not waiting.
  uint64_t QueuePosition(const std::string& job_id) const;
  unsigned running() const;
  unsigned waiting() const;
  void set_max_running(unsigned n);
  // How long a job's refused admission (CopyJob::admit) holds the queue
  // before it is asked again (default 1 s).
  void set_admission_retry(std::chrono::milliseconds interval);

  // Stops starting jobs, sets every running job's cancel flag, waits for
  // them, and drops waiting jobs (they are not run; their owners resume them
  // on the next start).
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry
