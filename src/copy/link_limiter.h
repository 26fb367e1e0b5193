// LinkLimiter: a bandwidth cap. One is shared by every pull over one link
// (the copies a process pulls from one source region); each pull also paces
// itself with one of its own (PullOptions::rate_limit_bytes_per_second).
//
// A token bucket without burst, kept as the time its debt is paid off. A
// fetch reserves its expected bytes before it starts (Reserve: it gets the
// time it may start, and the debt grows by bytes/rate), then settles the
// difference once it knows what really came (Settle). Charging only on
// receipt would let every fetch in flight start at once: a pull with 16
// fetches in flight of 4 MiB chunks would send 64 MiB at full speed before
// the cap first bit, at its start and again after every resume. Idle time
// is not banked, so a link that was quiet does not get a burst above its
// rate.
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

  // Books `bytes` expected over the link for a fetch wanting to start at
  // `now`; the time it may start (>= now).
  Steady::time_point Reserve(uint64_t bytes, Steady::time_point now);
  // Corrects a reservation once the fetch is over: `actual` bytes came
  // where `reserved` were booked (fewer when it failed or compressed well).
  void Settle(uint64_t reserved, uint64_t actual);
  // Records `bytes` received over the link at `now` without a reservation.
  void Charge(uint64_t bytes, Steady::time_point now);
  // The earliest time the next fetch over the link may start.
  Steady::time_point ReadyAt() const;

 private:
  const uint64_t bytes_per_second_;
  mutable std::mutex mu_;
  Steady::time_point ready_{};  // guarded by mu_
};

}  // namespace ferry
