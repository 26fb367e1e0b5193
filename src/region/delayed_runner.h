// DelayedRunner: runs posted closures on one thread of its own, each no
// earlier than its due time, in due-time order. Instances use it for their
// state transitions (Starting -> Running after a short while).
//
// Threading: Post and Stop are thread-safe. Stop drops the jobs not yet
// started, waits for a running one and joins; Post after Stop does nothing.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace ferry {

class DelayedRunner final {
 public:
  DelayedRunner();
  ~DelayedRunner();
  DelayedRunner(const DelayedRunner&) = delete;
  DelayedRunner& operator=(const DelayedRunner&) = delete;

  void Post(std::chrono::milliseconds delay, std::function<void()> fn);
  void Stop();

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> jobs_;  // guarded by mu_
  bool stopping_ = false;                                                           // guarded by mu_
  std::thread thread_;
};

}  // namespace ferry
