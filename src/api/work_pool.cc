#include "api/work_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>

namespace ferry {

WorkPool::WorkPool(std::string name, unsigned threads, size_t max_queued)
    : name_(std::move(name)), max_queued_(std::max<size_t>(1, max_queued)) {
  const unsigned n = std::max(1u, threads);
  threads_.reserve(n);
  for (unsigned i = 0; i < n; ++i) threads_.emplace_back([this] { Run(); });
}

WorkPool::~WorkPool() { Stop(); }

bool WorkPool::TrySubmit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return true;
}

void WorkPool::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

size_t WorkPool::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

size_t WorkPool::running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return running_;
}

void WorkPool::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      job = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    // A job's exception must not end the thread (and the process): the
    // server's jobs catch their own, this is the last line.
    try {
      job();
    } catch (const std::exception& e) {
      spdlog::error("work pool {}: a job threw: {}", name_, e.what());
    } catch (...) {
      spdlog::error("work pool {}: a job threw a non-standard exception", name_);
    }
    std::lock_guard<std::mutex> lock(mu_);
    --running_;
  }
}

}  // namespace ferry
