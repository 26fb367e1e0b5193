// LinkLimiter: one bandwidth cap shared by every pull over one link (the
// copies a process pulls from one source region), next to each pull's own
// per-copy cap (PullOptions::rate_limit_bytes_per_second).
//
// A token bucket without burst, kept as the time its debt is paid off:
// received bytes push that time out by bytes/rate, and no fetch over the
// link starts before it. Idle time is not banked, so a link that was quiet
// does not get a burst above its rate.
//
// Threading: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace ferry {

class LinkLimiter {
 public:
  using Steady = std::chrono::steady_clock;

  explicit LinkLimiter(uint64_t bytes_per_second) : bytes_per_second_(bytes_per_second) {}

  uint64_t bytes_per_second() const { return bytes_per_second_; }

  // Records `bytes` received over the link at `now`.
  void Charge(uint64_t bytes, Steady::time_point now);
  // The earliest time the next fetch over the link may start.
  Steady::time_point ReadyAt() const;

 private:
  const uint64_t bytes_per_second_;
  mutable std::mutex mu_;
  Steady::time_point ready_{};  // guarded by mu_
};

}  // namespace ferry
