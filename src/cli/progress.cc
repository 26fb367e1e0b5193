#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>

#include "cli/output.h"

namespace ferry::cli {
namespace {

constexpr int kBarWidth = 30;
constexpr std::chrono::milliseconds kTerminalRedraw{100};

std::string FormatEta(double seconds) {
  if (seconds < 0 || seconds > 359999) return "--:--";
  auto s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%02ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

std::string Bar(int percent) {
  const int filled = std::clamp(percent, 0, 100) * kBarWidth / 100;
  return "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
}

std::string Percent(int percent) {
  char pct[16];
  std::snprintf(pct, sizeof(pct), "%3d%%", percent);
  return pct;
}

double Seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

std::string FormatElapsed(double seconds) {
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof(buf), "%.1f s", seconds);
  } else if (seconds < 3600) {
    auto s = static_cast<long>(seconds + 0.5);
    std::snprintf(buf, sizeof(buf), "%ldm%02lds", s / 60, s % 60);
  } else {
    auto m = static_cast<long>(seconds / 60 + 0.5);
    std::snprintf(buf, sizeof(buf), "%ldh%02ldm", m / 60, m % 60);
  }
  return buf;
}

ProgressBar::ProgressBar(std::string label, uint64_t total, std::FILE* out)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      tty_(::isatty(::fileno(out)) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

ProgressBar::~ProgressBar() {
  // A bar abandoned on an error path still ends its line, so the error
  // message that follows starts on a fresh one.
  if (!finished_ && tty_) std::fputc('\n', out_);
}

void ProgressBar::Update(uint64_t done) {
  done_ = total_ > 0 ? std::min(done, total_) : done;
  Draw(false);
}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  total_ = total;
  Update(done);
}

void ProgressBar::UpdatePercent(int percent) {
  percent = std::clamp(percent, 0, 100);
  if (total_ > 0) {
    done_ = total_ / 100 * static_cast<uint64_t>(percent) + total_ % 100 * static_cast<uint64_t>(percent) / 100;
  } else {
    percent_only_ = percent;
  }
  Draw(false);
}

std::string ProgressBar::Sizes() const {
  if (total_ == 0) return HumanBytes(static_cast<double>(done_));
  std::string out = HumanBytes(static_cast<double>(done_)) + " / " + HumanBytes(static_cast<double>(total_));
  if (disk_size_ != 0 && disk_size_ != total_)
    out += " data of a " + HumanBytes(static_cast<double>(disk_size_)) + " disk";
  return out;
}

void ProgressBar::Finish(const std::string& outcome) {
  if (finished_) return;
  finished_ = true;
  if (tty_) {
    Draw(true);
    std::fprintf(out_, " %s\n", outcome.c_str());
  } else {
    // The summary: what moved, in how long, at what average rate.
    const double elapsed = Seconds(std::chrono::steady_clock::now() - start_);
    std::string line = label_ + ": " + outcome;
    if (done_ > 0) {
      line += ", " + (total_ > 0 && done_ == total_ ? HumanBytes(static_cast<double>(done_)) : Sizes());
      if (total_ > 0 && done_ == total_ && disk_size_ != 0 && disk_size_ != total_)
        line += " data of a " + HumanBytes(static_cast<double>(disk_size_)) + " disk";
      line += " in " + FormatElapsed(elapsed);
      if (elapsed > 0) line += ", " + HumanBytes(static_cast<double>(done_) / elapsed) + "/s";
    } else {
      line += " after " + FormatElapsed(elapsed);
    }
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressBar::Draw(bool final_draw) {
  const auto now = std::chrono::steady_clock::now();
  const double elapsed = Seconds(now - start_);
  const bool rate_known = now - start_ >= kMinRateWindow && done_ > 0;
  const double rate = rate_known ? static_cast<double>(done_) / elapsed : 0.0;
  const int percent = total_ > 0
                          ? static_cast<int>(static_cast<double>(done_) * 100.0 / static_cast<double>(total_))
                          : percent_only_;

  if (!tty_) {
    // Plain mode: a line per 10% step, or every kPlainEvery while moving;
    // nothing in the first kMinRateWindow (no rate yet); Finish summarises.
    if (final_draw || now - start_ < kMinRateWindow) return;
    const uint64_t progress = percent >= 0 && total_ == 0 ? static_cast<uint64_t>(percent) : done_;
    const bool stepped = percent >= 0 && percent / 10 > last_step_printed_;
    const bool periodic = now - last_draw_ >= kPlainEvery && progress > last_done_printed_;
    if (!stepped && !periodic) return;
    if (percent >= 0) last_step_printed_ = std::max(last_step_printed_, percent / 10);
    last_done_printed_ = progress;
  } else if (!final_draw && now - last_draw_ < kTerminalRedraw) {
    return;
  }
  last_draw_ = now;

  std::string line = label_ + " ";
  if (percent >= 0) line += (tty_ ? Bar(percent) : "") + Percent(percent);
  if (total_ > 0 || percent < 0) line += "  " + Sizes();
  if (rate > 0) line += "  " + HumanBytes(rate) + "/s";
  if (total_ > 0 && rate > 0) {
    line += "  ETA " + FormatEta(static_cast<double>(total_ - done_) / rate);
  } else if (total_ == 0 && percent > 0 && elapsed >= 1.0) {
    line += "  ETA " + FormatEta(elapsed * (100 - percent) / percent);
  }
  if (tty_) {
    std::fprintf(out_, "\r\033[K%s", line.c_str());
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

ProgressBoard::ProgressBoard(std::vector<std::string> labels, std::FILE* out)
    : out_(out), tty_(::isatty(::fileno(out)) == 1) {
  for (std::string& label : labels) {
    Row row;
    row.label = std::move(label);
    rows_.push_back(std::move(row));
  }
}

ProgressBoard::~ProgressBoard() { Finish(); }

void ProgressBoard::Update(size_t i, const Report& report) {
  if (i >= rows_.size()) return;
  Row& row = rows_[i];
  const auto now = std::chrono::steady_clock::now();
  Report r = report;
  r.percent = std::clamp(r.percent, 0, 100);
  // Rates count only progress made while watching (a copy found at 60% did
  // not move 60% in the first poll interval); a copy that starts over (it
  // resumed in a restarted server, whose counts begin again) is measured
  // anew.
  if (!row.seen || (r.state != "Creating" && r.percent == 0) || r.wire_bytes < row.first.wire_bytes ||
      r.data_bytes < row.first.data_bytes) {
    row.first = r;
    row.first_seen = now;
    row.seen = true;
  }
  const double elapsed = Seconds(now - row.first_seen);
  if (now - row.first_seen >= kMinRateWindow) {
    if (r.wire_bytes > row.first.wire_bytes)
      row.wire_rate = static_cast<double>(r.wire_bytes - row.first.wire_bytes) / elapsed;
    if (r.data_bytes > row.first.data_bytes) {
      row.data_rate = static_cast<double>(r.data_bytes - row.first.data_bytes) / elapsed;
      row.data_measured = true;
    } else if (!row.data_measured && r.total_bytes > 0 && r.percent > row.first.percent) {
      row.data_rate = static_cast<double>(r.total_bytes) * (r.percent - row.first.percent) / 100.0 / elapsed;
    }
  }
  row.last = r;
}

std::string ProgressBoard::Line(const Row& row) const {
  const Report& r = row.last;
  std::string line = row.label + " " + (tty_ ? Bar(r.percent) : "") + Percent(r.percent);
  std::string rates;
  if (row.wire_rate > 0) rates += "wire " + HumanBytes(row.wire_rate) + "/s";
  if (row.data_rate > 0) {
    rates += (rates.empty() ? "" : ", ") + std::string("data ") + (row.data_measured ? "" : "~") +
             HumanBytes(row.data_rate) + "/s";
  }
  if (!rates.empty()) line += "  " + rates;
  double eta = -1;
  if (r.remain_seconds > 0) {
    eta = static_cast<double>(r.remain_seconds);
  } else if (row.data_rate > 0 && r.total_bytes > 0) {
    eta = static_cast<double>(r.total_bytes) * (100 - r.percent) / 100.0 / row.data_rate;
  }
  if (eta >= 0 && r.percent < 100) line += "  ETA " + FormatEta(eta);
  if (!r.state.empty()) line += "  " + r.state;
  return line;
}

void ProgressBoard::Draw() {
  if (finished_) return;
  if (tty_) {
    // Back to the block's first line, then rewrite every row.
    if (drawn_) std::fprintf(out_, "\033[%zuA", rows_.size());
    for (const Row& row : rows_) std::fprintf(out_, "\r\033[K%s\n", Line(row).c_str());
    drawn_ = true;
  } else {
    for (Row& row : rows_) {
      const int step = row.last.percent / 10;
      if (step <= row.last_step_printed && row.last.state == row.last_state_printed) continue;
      row.last_step_printed = step;
      row.last_state_printed = row.last.state;
      std::fprintf(out_, "%s\n", Line(row).c_str());
    }
  }
  std::fflush(out_);
}

void ProgressBoard::Finish() {
  if (finished_) return;
  Draw();
  finished_ = true;
}

}  // namespace ferry::cli
