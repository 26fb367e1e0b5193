// A progress bar on stderr: percent, bytes, rate and ETA. On a terminal it
// redraws one line in place; otherwise (logs, CI, pipes) it prints a plain
// line at every 10% step so the output stays readable.
//
// Threading: one thread at a time; a ProgressBar is not shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ferry::cli {

class ProgressBar {
 public:
  // `total` in bytes; 0 when unknown (then bytes and rate, or the percentage
  // given to UpdatePercent, are shown).
  ProgressBar(std::string label, uint64_t total, std::FILE* out = stderr);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Reports `done` bytes so far. Cheap to call often: a terminal redraw is
  // limited to ~10 per second.
  void Update(uint64_t done);
  // Same, when the total is learnt along the way (e.g. a sparse file's data
  // bytes).
  void Update(uint64_t done, uint64_t total);
  // Reports progress as a percentage of `total` (task progress from the server).
  void UpdatePercent(int percent);
  // Draws the final state and ends the line. Idempotent.
  void Finish(const std::string& outcome = "done");

 private:
  void Draw(bool final_draw);

  std::string label_;
  uint64_t total_;
  std::FILE* out_;
  bool tty_;
  bool finished_ = false;
  uint64_t done_ = 0;
  int percent_only_ = -1;       // progress known only as a percentage
  int last_step_printed_ = -1;  // plain mode: last 10% step printed
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Several server-side jobs at once (one copy per destination region), one
// line each: label, bar, percent, estimated rate, ETA and state. On a
// terminal the block is redrawn in place; otherwise a line is printed when a
// row changes state or crosses a 10% step.
//
// Threading: one thread at a time; not shared.
class ProgressBoard {
 public:
  explicit ProgressBoard(std::vector<std::string> labels, std::FILE* out = stderr);
  ~ProgressBoard();
  ProgressBoard(const ProgressBoard&) = delete;
  ProgressBoard& operator=(const ProgressBoard&) = delete;

  // Row `i`: `percent` done of `total_bytes` (0 = unknown size), in `state`
  // (e.g. "Waiting", "Creating"). `remain_seconds` > 0 is the server's ETA;
  // otherwise it is estimated from the progress seen so far.
  void Update(size_t i, int percent, uint64_t total_bytes, const std::string& state, int64_t remain_seconds);
  // Redraws every row (terminal) after a round of updates.
  void Draw();
  // Final draw; ends the block. Idempotent.
  void Finish();

 private:
  struct Row {
    std::string label;
    std::string state;
    int percent = 0;
    uint64_t total = 0;
    int64_t remain = 0;
    double rate = 0;  // bytes/s, from the first progress seen
    int first_percent = -1;
    std::chrono::steady_clock::time_point first_seen;
    int last_step_printed = -1;
    std::string last_state_printed;
  };
  std::string Line(const Row& row) const;

  std::vector<Row> rows_;
  std::FILE* out_;
  bool tty_;
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace ferry::cli
