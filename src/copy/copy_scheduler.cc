#include "copy/copy_scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/catch_all.h"

namespace ferry {

// Design. A pool of worker threads, grown to the largest limit ever set and
// never shrunk: a lowered limit only stops idle workers from starting jobs,
// so running copies are never interrupted by it. Every worker waits on
// `work_cv_` for "a job is waiting and fewer than max_running are running",
// takes the next job in fair order, runs it with `mu_` released, and loops.
//
// Fair order. Accounts with waiting or running jobs form a ring ordered by
// when they joined it (`ring_seq`). The next job comes from the first account
// after the one that started a job last (`last_started_seq_`), wrapping, that
// has a waiting job; within an account, FIFO. An account stays in the ring
// while it has a running job, so an account whose only waiting job just
// started still counts as served: a second account that queues next is not
// put behind the first account's later submissions. An account leaves the
// ring when it has nothing waiting or running; if it comes back it joins at
// the end.
//
// Threading. `mu_` guards all scheduler state. Callbacks (`on_start`, `run`,
// `on_done`) run on worker threads with `mu_` released, so they may call any
// method except Shutdown() and the destructor (which join the workers, the
// calling one included). A running job's CopyJob is touched only by its
// worker; other threads touch only its atomic cancel flag. A job leaves the
// scheduler when `run` returns, before `on_done`: inside `on_done` the id is
// kUnknown and may be submitted again. `shutdown_mu_` serialises Shutdown()
// so a second caller returns only after the workers are joined.
struct CopyScheduler::Impl {
  struct Entry {
    explicit Entry(CopyJob j) : job(std::move(j)) {}
    CopyJob job;
    std::atomic<bool> cancel{false};
    bool running = false;  // guarded by mu_
  };

  struct Account {
    std::deque<Entry*> waiting;  // FIFO; entries owned by jobs_
    unsigned running = 0;
    uint64_t ring_seq = 0;
  };

  explicit Impl(unsigned max_running) { SetMaxRunning(max_running); }

  Status Submit(CopyJob job) {
    if (job.job_id.empty()) return InvalidArgument("", "copy job has an empty job id");
    if (!job.run) {
      return InvalidArgument("", "copy job " + job.job_id + " has no run function");
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutting_down_) {
        return Unavailable("copy scheduler is shut down; job " + job.job_id + " not queued");
      }
      auto existing = jobs_.find(job.job_id);
      if (existing != jobs_.end()) {
        return AlreadyExists("", "copy job " + job.job_id + " is already " +
                                     (existing->second->running ? "running" : "waiting"));
      }
      std::string id = job.job_id;
      Account& account = JoinRingLocked(job.account_id);
      auto entry = std::make_unique<Entry>(std::move(job));
      account.waiting.push_back(entry.get());
      jobs_.emplace(std::move(id), std::move(entry));
      ++waiting_;
    }
    work_cv_.notify_one();
    return Status::Ok();
  }

  bool Cancel(const std::string& job_id) {
    std::unique_ptr<Entry> dropped;  // destroyed after unlocking: its functions own caller state
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return false;
    Entry* entry = it->second.get();
    if (entry->running) {
      entry->cancel.store(true);
      // Lets a job block in cancel.wait(false) instead of polling.
      entry->cancel.notify_all();
      return true;
    }
    const std::string account_id = entry->job.account_id;
    Account& account = accounts_.at(account_id);
    for (auto w = account.waiting.begin(); w != account.waiting.end(); ++w) {
      if (*w == entry) {
        account.waiting.erase(w);
        break;
      }
    }
    --waiting_;
    dropped = std::move(it->second);
    jobs_.erase(it);
    MaybeLeaveRingLocked(account_id);
    return true;
  }

  CopyJobState State(const std::string& job_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end()) return CopyJobState::kUnknown;
    return it->second->running ? CopyJobState::kRunning : CopyJobState::kWaiting;
  }

  // Computed rather than simulated: with no new arrivals, the start order
  // visits the ring in "rotated" order (accounts after the last starter, then
  // the rest) once per lap, taking one job per account per lap. The job at
  // index i of its account starts in lap i, after every account's first i
  // jobs and after the accounts ahead of its own in this lap.
  uint64_t QueuePosition(const std::string& job_id) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = jobs_.find(job_id);
    if (it == jobs_.end() || it->second->running) return 0;
    const Entry* entry = it->second.get();
    const Account& own = accounts_.at(entry->job.account_id);
    uint64_t index = 0;
    while (own.waiting[index] != entry) ++index;

    const bool own_is_after_cursor = own.ring_seq > last_started_seq_;
    uint64_t position = 1;
    for (const auto& [seq, account_id] : ring_) {
      const Account& other = accounts_.at(account_id);
      const uint64_t queued = other.waiting.size();
      position += std::min<uint64_t>(queued, index);
      if (seq == own.ring_seq || queued <= index) continue;
      const bool other_is_after_cursor = seq > last_started_seq_;
      const bool ahead =
          other_is_after_cursor == own_is_after_cursor ? seq < own.ring_seq : other_is_after_cursor;
      if (ahead) ++position;
    }
    return position;
  }

  unsigned running() const {
    std::lock_guard<std::mutex> lock(mu_);
    return running_;
  }

  unsigned waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }

  void SetAdmissionRetry(std::chrono::milliseconds interval) {
    std::lock_guard<std::mutex> lock(mu_);
    admission_retry_ = interval;
  }

  void SetMaxRunning(unsigned n) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      max_running_ = n;
      while (!shutting_down_ && workers_.size() < n) {
        workers_.emplace_back([this] { WorkerLoop(); });
      }
    }
    work_cv_.notify_all();
  }

  void Shutdown() {
    std::lock_guard<std::mutex> shutdown_lock(shutdown_mu_);
    std::vector<std::thread> workers;
    std::unordered_map<std::string, std::unique_ptr<Entry>> dropped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      shutting_down_ = true;
      workers.swap(workers_);
      for (auto it = jobs_.begin(); it != jobs_.end();) {
        Entry* entry = it->second.get();
        if (entry->running) {
          entry->cancel.store(true);
          entry->cancel.notify_all();
          ++it;
        } else {
          Account& account = accounts_.at(entry->job.account_id);
          account.waiting.clear();
          dropped.insert(jobs_.extract(it++));
        }
      }
      waiting_ = 0;
      for (auto it = accounts_.begin(); it != accounts_.end();) {
        const std::string account_id = (it++)->first;
        MaybeLeaveRingLocked(account_id);
      }
    }
    work_cv_.notify_all();
    for (std::thread& worker : workers) {
      // Joining itself would throw; Shutdown from a callback is a caller bug.
      assert(worker.get_id() != std::this_thread::get_id());
      worker.join();
    }
  }

 private:
  // Waits until a job may start: one is waiting, fewer than max_running
  // run, no other worker is asking a job's admission, and no refused
  // admission holds the queue. false: shutting down.
  bool WaitForWorkLocked(std::unique_lock<std::mutex>& lock) {
    for (;;) {
      if (shutting_down_) return false;
      if (waiting_ > 0 && running_ < max_running_ && !admitting_) {
        if (std::chrono::steady_clock::now() >= admit_after_) return true;
        work_cv_.wait_until(lock, admit_after_);
        continue;
      }
      work_cv_.wait(lock);
    }
  }

  // Puts a started job back, first in its account's queue and first in the
  // fair order (its admission was refused): `previous_seq` is the
  // last_started_seq_ StartNextLocked replaced.
  void UnstartLocked(Entry* entry, uint64_t previous_seq) {
    last_started_seq_ = previous_seq;
    entry->running = false;
    Account& account = accounts_.at(entry->job.account_id);
    account.waiting.push_front(entry);
    --account.running;
    ++waiting_;
    --running_;
  }

  void WorkerLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (!WaitForWorkLocked(lock)) return;
      const uint64_t previous_seq = last_started_seq_;
      Entry* entry = StartNextLocked();
      const std::string job_id = entry->job.job_id;
      // One admission asked at a time, so a refused job stays first in line.
      if (entry->job.admit) admitting_ = true;
      lock.unlock();

      // A job's exception must not cross into the scheduler (it would end
      // the process on a worker thread): it becomes the job's failure.
      const std::string what = "copy job " + job_id;
      Status status;
      if (entry->job.admit) {
        Result<bool> admitted(false);
        status = CatchAll(what + " admission", [&] {
          admitted = entry->job.admit();
          return admitted.status();
        });
        lock.lock();
        admitting_ = false;
        const bool refused = !status.ok() || !*admitted;
        if (refused && !entry->cancel.load()) {
          if (!status.ok()) spdlog::warn("copy scheduler: {} not admitted: {}", job_id, status.ToString());
          UnstartLocked(entry, previous_seq);
          admit_after_ = std::chrono::steady_clock::now() + admission_retry_;
          work_cv_.notify_all();
          continue;
        }
        lock.unlock();
        work_cv_.notify_all();
        // Cancelled while it was asked: it ends here, as a running job would.
        if (refused) status = Cancelled("copy job " + job_id + " was cancelled while it waited");
      }
      if (status.ok()) {
        status = CatchAll(what, [&] {
          if (entry->job.on_start) entry->job.on_start();
        });
      }
      if (status.ok()) status = CatchAll(what, [&] { return entry->job.run(entry->cancel); });

      lock.lock();
      auto it = jobs_.find(job_id);
      std::unique_ptr<Entry> finished = std::move(it->second);
      jobs_.erase(it);
      --running_;
      --accounts_.at(finished->job.account_id).running;
      MaybeLeaveRingLocked(finished->job.account_id);
      lock.unlock();
      // This worker is busy in on_done; another idle one may take the slot.
      work_cv_.notify_one();

      if (finished->job.on_done) {
        Status done = CatchAll(what + " on completion", [&] { finished->job.on_done(status); });
        if (!done.ok()) spdlog::error("copy scheduler: {}", done.ToString());
      }
      finished.reset();
      lock.lock();
    }
  }

  // Requires waiting_ > 0.
  Entry* StartNextLocked() {
    auto it = ring_.upper_bound(last_started_seq_);
    for (size_t visited = 0; visited < ring_.size(); ++visited, ++it) {
      if (it == ring_.end()) it = ring_.begin();
      Account& account = accounts_.at(it->second);
      if (account.waiting.empty()) continue;
      Entry* entry = account.waiting.front();
      account.waiting.pop_front();
      ++account.running;
      --waiting_;
      ++running_;
      entry->running = true;
      last_started_seq_ = it->first;
      return entry;
    }
    assert(false && "waiting_ > 0 but no account in the ring has a waiting job");
    return nullptr;
  }

  Account& JoinRingLocked(const std::string& account_id) {
    auto [it, inserted] = accounts_.try_emplace(account_id);
    if (inserted) {
      it->second.ring_seq = next_ring_seq_++;
      ring_.emplace(it->second.ring_seq, account_id);
    }
    return it->second;
  }

  void MaybeLeaveRingLocked(const std::string& account_id) {
    auto it = accounts_.find(account_id);
    if (it == accounts_.end()) return;
    if (!it->second.waiting.empty() || it->second.running != 0) return;
    ring_.erase(it->second.ring_seq);
    accounts_.erase(it);
  }

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // signalled when a start may have become possible
  unsigned max_running_ = 0;         // guarded by mu_
  bool shutting_down_ = false;       // guarded by mu_
  unsigned running_ = 0;             // guarded by mu_
  unsigned waiting_ = 0;             // guarded by mu_
  // Every waiting or running job, by id; guarded by mu_.
  std::unordered_map<std::string, std::unique_ptr<Entry>> jobs_;
  // Accounts with waiting or running jobs; guarded by mu_.
  std::unordered_map<std::string, Account> accounts_;
  std::map<uint64_t, std::string> ring_;  // ring_seq -> account id; guarded by mu_
  uint64_t next_ring_seq_ = 1;            // guarded by mu_
  uint64_t last_started_seq_ = 0;         // guarded by mu_
  // A refused admission holds the queue until then (CopyJob::admit).
  std::chrono::milliseconds admission_retry_{1000};      // guarded by mu_
  std::chrono::steady_clock::time_point admit_after_{};  // guarded by mu_
  bool admitting_ = false;                // a worker is asking a job's admission; guarded by mu_
  std::vector<std::thread> workers_;      // guarded by mu_; joined by Shutdown
  std::mutex shutdown_mu_;
};

CopyScheduler::CopyScheduler(unsigned max_running) : impl_(std::make_unique<Impl>(max_running)) {}

CopyScheduler::~CopyScheduler() { Shutdown(); }

Status CopyScheduler::Submit(CopyJob job) { return impl_->Submit(std::move(job)); }

bool CopyScheduler::Cancel(const std::string& job_id) { return impl_->Cancel(job_id); }

CopyJobState CopyScheduler::State(const std::string& job_id) const { return impl_->State(job_id); }

uint64_t CopyScheduler::QueuePosition(const std::string& job_id) const {
  return impl_->QueuePosition(job_id);
}

unsigned CopyScheduler::running() const { return impl_->running(); }

unsigned CopyScheduler::waiting() const { return impl_->waiting(); }

void CopyScheduler::set_max_running(unsigned n) { impl_->SetMaxRunning(n); }
void CopyScheduler::set_admission_retry(std::chrono::milliseconds interval) {
  impl_->SetAdmissionRetry(interval);
}

void CopyScheduler::Shutdown() { impl_->Shutdown(); }

}  // namespace ferry
