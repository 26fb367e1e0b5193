// Time: a Clock seam (so tests can move time) and the ECS time formats.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// Seconds since the Unix epoch, UTC.
using UnixSeconds = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixSeconds Now() const = 0;
  // Monotonic, for rates and deadlines.
  virtual std::chrono::steady_clock::time_point Steady() const = 0;
};

class SystemClock final : public Clock {
 public:
  UnixSeconds Now() const override;
  std::chrono::steady_clock::time_point Steady() const override;
  static const SystemClock& Get();
};

// A moment's UTC calendar fields, on the proleptic Gregorian calendar
// (Howard Hinnant's civil_from_days): any year, no C library call.
struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second, weekday;  // month and day from 1; weekday 0 = Sunday
};
Civil CivilFromSeconds(UnixSeconds t);

// "2019-11-15T06:07:05Z" (images, snapshots, signatures).
std::string FormatTimeSeconds(UnixSeconds t);
// The same text written into `out`, for a caller that renders many: no
// allocation, and no C library call (gmtime_r takes the time zone lock,
// shared by every thread, on each call).
using TimeText = std::array<char, 32>;
std::string_view FormatTimeSecondsTo(UnixSeconds t, TimeText& out);
// "2015-11-24T12:50Z" (tasks, filters).
std::string FormatTimeMinutes(UnixSeconds t);
// Parses "yyyy-MM-ddTHH:mm:ssZ", "yyyy-MM-ddTHH:mm:ss.fffZ" (1 to 9 digits of
// fraction, dropped) or "yyyy-MM-ddTHH:mmZ".
std::optional<UnixSeconds> ParseTime(std::string_view s);

// Sleeps `d` on the steady clock, waking at least every `slice` to look at
// `stop`, so a shutdown or cancel is not held up by a long wait. False if
// `stop` was set before or during the sleep.
bool SleepUnlessStopped(const std::atomic<bool>& stop, std::chrono::milliseconds d,
                        std::chrono::milliseconds slice = std::chrono::milliseconds(100));

}  // namespace ferry
