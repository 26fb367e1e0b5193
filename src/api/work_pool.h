// WorkPool: a fixed set of threads running jobs from one bounded queue.
//
// The server runs request handlers on such pools, never on its I/O threads
// (api/server.h, "Threading"): a handler may wait — on the catalog, on a
// peer — and while it waits the I/O threads keep reading, writing and
// forwarding. A full queue refuses the job at once (TrySubmit returns
// false), so a caller answers "busy" instead of waiting behind handlers
// that may themselves be waiting on this process.
//
// Threading: thread-safe. Jobs run on the pool's own threads, in order of
// submission, at most `threads` at once; a job must not wait on a job of
// the same pool. Stop() (and the destructor) runs the jobs already queued,
// then joins; TrySubmit after Stop() returns false.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ferry {

class WorkPool {
 public:
  // `name` appears in log lines. `threads` and `max_queued` are at least 1.
  WorkPool(std::string name, unsigned threads, size_t max_queued);
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `job`; false (and `job` dropped) when `max_queued` jobs are
  // already waiting for a thread, or after Stop().
  bool TrySubmit(std::function<void()> job);

  void Stop();  // idempotent

  const std::string& name() const { return name_; }
  unsigned threads() const { return static_cast<unsigned>(threads_.size()); }
  size_t max_queued() const { return max_queued_; }
  // Jobs waiting for a thread, and jobs running, right now.
  size_t queued() const;
  size_t running() const;

 private:
  void Run();

  const std::string name_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  size_t running_ = 0;                       // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace ferry
