#include "common/clock.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <thread>

namespace ferry {

UnixSeconds SystemClock::Now() const {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::chrono::steady_clock::time_point SystemClock::Steady() const {
  return std::chrono::steady_clock::now();
}

const SystemClock& SystemClock::Get() {
  static const SystemClock kClock;
  return kClock;
}

static std::string Format(UnixSeconds t, const char* fmt) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), fmt, &tm);
  return buf;
}

std::string FormatTimeSeconds(UnixSeconds t) { return Format(t, "%Y-%m-%dT%H:%M:%SZ"); }
std::string FormatTimeMinutes(UnixSeconds t) { return Format(t, "%Y-%m-%dT%H:%MZ"); }

std::optional<UnixSeconds> ParseTime(std::string_view s) {
  std::tm tm{};
  int y, mo, d, h, mi, sec = 0;
  char z = 0;
  std::string str(s);
  int n = 0;
  if (str.size() == 20 &&
      std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &y, &mo, &d, &h, &mi, &sec, &z, &n) == 7 &&
      z == 'Z' && n == 20) {
  } else if (str.size() == 17 &&
             std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d%c%n", &y, &mo, &d, &h, &mi, &z, &n) == 6 &&
             z == 'Z' && n == 17) {
    sec = 0;
  } else {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  return static_cast<UnixSeconds>(timegm(&tm));
}

bool SleepUnlessStopped(const std::atomic<bool>& stop, std::chrono::milliseconds d,
                        std::chrono::milliseconds slice) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!stop) {
    const auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return true;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(slice, left));
  }
  return false;
}

}  // namespace ferry
