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
  // Fixed-width fields only: "yyyy-MM-ddTHH:mm" then ":ss", optionally
  // ".f" to ".fffffffff" (older SDKs send milliseconds), then "Z".
  auto digits = [&s](size_t at, size_t n, int* out) {
    if (at + n > s.size()) return false;
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
  };
  int y, mo, d, h, mi, sec = 0;
  if (!digits(0, 4, &y) || s.size() < 17 || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' ||
      !digits(8, 2, &d) || s[10] != 'T' || !digits(11, 2, &h) || s[13] != ':' || !digits(14, 2, &mi)) {
    return std::nullopt;
  }
  size_t at = 16;
  if (s[at] == ':') {
    if (!digits(at + 1, 2, &sec)) return std::nullopt;
    at += 3;
    if (at < s.size() && s[at] == '.') {
      size_t frac = 0;
      while (at + 1 + frac < s.size() && s[at + 1 + frac] >= '0' && s[at + 1 + frac] <= '9') ++frac;
      if (frac == 0 || frac > 9) return std::nullopt;
      at += 1 + frac;  // the fraction is dropped: signatures are checked to the second
    }
  }
  if (at + 1 != s.size() || s[at] != 'Z') return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  std::tm tm{};
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
