#include "common/clock.h"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <thread>
#include <utility>

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

Civil CivilFromSeconds(UnixSeconds t) {
  int64_t days = t / 86400;
  int64_t secs = t % 86400;
  if (secs < 0) {
    secs += 86400;
    days -= 1;
  }
  // Days counted in eras of 400 years from 0000-03-01, so that a leap day
  // ends a year.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);                // 0..146096
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // 0..399
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // 0..365, from March 1st
  const unsigned mp = (5 * doy + 2) / 153;                                     // 0..11, March = 0
  Civil c;
  c.day = doy - (153 * mp + 2) / 5 + 1;
  c.month = mp < 10 ? mp + 3 : mp - 9;
  c.year = static_cast<int64_t>(yoe) + era * 400 + (c.month <= 2);
  c.hour = static_cast<unsigned>(secs / 3600);
  c.minute = static_cast<unsigned>(secs / 60 % 60);
  c.second = static_cast<unsigned>(secs % 60);
  c.weekday = static_cast<unsigned>((days % 7 + 11) % 7);  // 1970-01-01 was a Thursday
  return c;
}

std::string_view FormatTimeSecondsTo(UnixSeconds t, TimeText& out) {
  // Years 1000 to 9999 from CivilFromSeconds; anything else through the C
  // library, which prints those years with fewer or more than four digits.
  constexpr int64_t kMin = -30610224000;  // 1000-01-01T00:00:00Z
  constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
  if (t < kMin || t > kMax) {
    const std::string text = Format(t, "%Y-%m-%dT%H:%M:%SZ");
    const size_t n = std::min(text.size(), out.size());
    std::copy_n(text.data(), n, out.data());
    return std::string_view(out.data(), n);
  }
  const Civil c = CivilFromSeconds(t);
  char* p = out.data();
  auto put = [&p](int64_t value, int digits) {
    for (int i = digits - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    p += digits;
  };
  const std::pair<int64_t, char> fields[] = {{c.year, '-'}, {c.month, '-'},  {c.day, 'T'},
                                             {c.hour, ':'}, {c.minute, ':'}, {c.second, 'Z'}};
  for (const auto& [value, after] : fields) {
    put(value, p == out.data() ? 4 : 2);
    *p++ = after;
  }
  return std::string_view(out.data(), static_cast<size_t>(p - out.data()));
}

std::string FormatTimeSeconds(UnixSeconds t) {
  TimeText text;
  return std::string(FormatTimeSecondsTo(t, text));
}
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
