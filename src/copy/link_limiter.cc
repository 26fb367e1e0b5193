#include "copy/link_limiter.h"

#include <algorithm>

namespace ferry {

namespace {

// The time `bytes` (negative: a refund) take at `bytes_per_second`.
LinkLimiter::Steady::duration Cost(double bytes, uint64_t bytes_per_second) {
  return std::chrono::duration_cast<LinkLimiter::Steady::duration>(
      std::chrono::duration<double>(bytes / static_cast<double>(bytes_per_second)));
}

}  // namespace

LinkLimiter::Steady::time_point LinkLimiter::Reserve(uint64_t bytes, Steady::time_point now) {
  if (bytes_per_second_ == 0) return now;
  std::lock_guard<std::mutex> lock(mu_);
  const Steady::time_point start = std::max(ready_, now);
  ready_ = start + Cost(static_cast<double>(bytes), bytes_per_second_);
  return start;
}

void LinkLimiter::Settle(uint64_t reserved, uint64_t actual) {
  if (bytes_per_second_ == 0 || reserved == actual) return;
  std::lock_guard<std::mutex> lock(mu_);
  // A refund may bring the debt below now; the next Reserve starts from now
  // then, so it is never banked.
  ready_ += Cost(static_cast<double>(actual) - static_cast<double>(reserved), bytes_per_second_);
}

void LinkLimiter::Charge(uint64_t bytes, Steady::time_point now) {
  if (bytes_per_second_ == 0 || bytes == 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  ready_ = std::max(ready_, now) + Cost(static_cast<double>(bytes), bytes_per_second_);
}

LinkLimiter::Steady::time_point LinkLimiter::ReadyAt() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_;
}

}  // namespace ferry
