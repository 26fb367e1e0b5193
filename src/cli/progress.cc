#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>

#include "cli/output.h"

namespace ferry::cli {
namespace {

constexpr int kBarWidth = 30;

std::string FormatDuration(double seconds) {
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

}  // namespace

ProgressBar::ProgressBar(std::string label, uint64_t total, std::FILE* out)
    : label_(std::move(label)),
      total_(total),
      out_(out),
      tty_(::isatty(::fileno(out)) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - std::chrono::seconds(1)) {}

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

void ProgressBar::Finish(const std::string& outcome) {
  if (finished_) return;
  Draw(true);
  if (tty_) {
    std::fprintf(out_, " %s\n", outcome.c_str());
  } else {
    std::fprintf(out_, "%s: %s\n", label_.c_str(), outcome.c_str());
  }
  std::fflush(out_);
  finished_ = true;
}

void ProgressBar::Draw(bool final_draw) {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double rate = elapsed > 0.05 ? static_cast<double>(done_) / elapsed : 0.0;
  int percent = total_ > 0 ? static_cast<int>(static_cast<double>(done_) * 100.0 / static_cast<double>(total_))
                           : percent_only_;

  if (!tty_) {
    // Plain mode: one line per 10% step (and the final line from Finish).
    int step = percent >= 0 ? percent / 10 : -1;
    if (final_draw || step <= last_step_printed_) return;
    last_step_printed_ = step;
  } else if (!final_draw && now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;

  std::string line = label_ + " ";
  if (percent >= 0) {
    int filled = percent * kBarWidth / 100;
    if (tty_) line += "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%3d%%", percent);
    line += pct;
  }
  if (total_ > 0) {
    line += "  " + HumanBytes(static_cast<double>(done_)) + " / " + HumanBytes(static_cast<double>(total_));
    line += "  " + HumanBytes(rate) + "/s";
    if (rate > 0) line += "  ETA " + FormatDuration(static_cast<double>(total_ - done_) / rate);
  } else if (percent > 0) {
    line += "  ETA " + FormatDuration(elapsed * (100 - percent) / percent);
  } else if (percent < 0) {
    line += HumanBytes(static_cast<double>(done_)) + "  " + HumanBytes(rate) + "/s";
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

void ProgressBoard::Update(size_t i, int percent, uint64_t total_bytes, const std::string& state,
                           int64_t remain_seconds) {
  if (i >= rows_.size()) return;
  Row& row = rows_[i];
  const auto now = std::chrono::steady_clock::now();
  row.percent = std::clamp(percent, 0, 100);
  row.total = total_bytes;
  row.state = state;
  row.remain = remain_seconds;
  // The rate counts only progress made while watching: a copy found at 60%
  // did not move 60% in the first poll interval.
  if (row.first_percent < 0 || (state != "Creating" && row.percent == 0)) {
    row.first_percent = row.percent;
    row.first_seen = now;
  }
  const double elapsed = std::chrono::duration<double>(now - row.first_seen).count();
  if (total_bytes > 0 && elapsed > 0.2 && row.percent > row.first_percent) {
    row.rate = static_cast<double>(total_bytes) * (row.percent - row.first_percent) / 100.0 / elapsed;
  }
}

std::string ProgressBoard::Line(const Row& row) const {
  std::string line = row.label + " ";
  const int filled = row.percent * kBarWidth / 100;
  if (tty_) line += "[" + std::string(filled, '#') + std::string(kBarWidth - filled, '.') + "] ";
  char pct[16];
  std::snprintf(pct, sizeof(pct), "%3d%%", row.percent);
  line += pct;
  if (row.rate > 0) line += "  " + HumanBytes(row.rate) + "/s";
  double eta = -1;
  if (row.remain > 0) {
    eta = static_cast<double>(row.remain);
  } else if (row.rate > 0 && row.total > 0) {
    eta = static_cast<double>(row.total) * (100 - row.percent) / 100.0 / row.rate;
  }
  if (eta >= 0 && row.percent < 100) line += "  ETA " + FormatDuration(eta);
  if (!row.state.empty()) line += "  " + row.state;
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
      const int step = row.percent / 10;
      if (step <= row.last_step_printed && row.state == row.last_state_printed) continue;
      row.last_step_printed = step;
      row.last_state_printed = row.state;
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
