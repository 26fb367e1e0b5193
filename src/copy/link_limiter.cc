#include "copy/link_limiter.h"

#include <algorithm>

namespace ferry {

void LinkLimiter::Charge(uint64_t bytes, Steady::time_point now) {
  if (bytes_per_second_ == 0 || bytes == 0) return;
  const auto cost = std::chrono::duration_cast<Steady::duration>(
      std::chrono::duration<double>(static_cast<double>(bytes) / static_cast<double>(bytes_per_second_)));
  std::lock_guard<std::mutex> lock(mu_);
  ready_ = std::max(ready_, now) + cost;
}

LinkLimiter::Steady::time_point LinkLimiter::ReadyAt() const {
  std::lock_guard<std::mutex> lock(mu_);
  return ready_;
}

}  // namespace ferry
