// Progress on stderr: percent, bytes, rate and ETA, meaning what they say.
//
// On a terminal a ProgressBar redraws one line in place (at most ~10 times
// a second). Otherwise (logs, CI, pipes) it prints a plain line when the
// progress crosses a 10% step or kPlainEvery has passed with progress,
// never before kMinRateWindow has passed (so a rate is a real one, never
// "0 B/s"), and Finish prints one summary line: what moved, in how long, at
// what average rate.
//
// Bytes: `done`/`total` are the bytes that move (an upload of a sparse file
// moves only its data); a disk size given with set_disk_size is shown beside
// them, never mixed in ("48.0 MiB / 64.0 MiB data of a 1.0 GiB disk").
//
// Threading: one thread at a time; a ProgressBar is not shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace ferry::cli {

// A rate measured over less than this is not shown.
inline constexpr std::chrono::milliseconds kMinRateWindow{1000};
// Plain (non-terminal) output prints at least this often while progressing.
inline constexpr std::chrono::seconds kPlainEvery{10};

class ProgressBar {
 public:
  // `total` in bytes; 0 when unknown (then bytes and rate, or the percentage
  // given to UpdatePercent, are shown).
  ProgressBar(std::string label, uint64_t total, std::FILE* out = stderr);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // The size of the disk the moving bytes belong to, shown beside them
  // when it differs from the total (a sparse file's data is less).
  void set_disk_size(uint64_t bytes) { disk_size_ = bytes; }
  // Reports `done` bytes so far. Cheap to call often.
  void Update(uint64_t done);
  // Same, when the total is learnt along the way (e.g. a sparse file's data
  // bytes).
  void Update(uint64_t done, uint64_t total);
  // Reports progress as a percentage of `total` (task progress from the server).
  void UpdatePercent(int percent);
  // Draws the final state and ends the line (plain output: the summary).
  // Idempotent.
  void Finish(const std::string& outcome = "done");

 private:
  void Draw(bool final_draw);
  std::string Sizes() const;

  std::string label_;
  uint64_t total_;
  uint64_t disk_size_ = 0;
  std::FILE* out_;
  bool tty_;
  bool finished_ = false;
  uint64_t done_ = 0;
  int percent_only_ = -1;       // progress known only as a percentage
  int last_step_printed_ = 0;   // plain mode: last 10% step printed
  uint64_t last_done_printed_ = 0;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

// Several server-side copies at once (one per destination region), one
// line each: label, bar, percent, the rates, ETA and state. A copy's
// progress comes in two kinds of bytes, shown apart: bytes on the wire
// (received over the network, what a link cap limits) and data bytes (of
// the disks, in place so far: chunks already held and zeros never cross
// the wire, so this rate may far exceed the link's). On a terminal the
// block is redrawn in place; otherwise a line is printed when a row
// changes state or crosses a 10% step.
//
// Threading: one thread at a time; not shared.
class ProgressBoard {
 public:
  explicit ProgressBoard(std::vector<std::string> labels, std::FILE* out = stderr);
  ~ProgressBoard();
  ProgressBoard(const ProgressBoard&) = delete;
  ProgressBoard& operator=(const ProgressBoard&) = delete;

  // What the server says of one copy: `percent` done of `total_bytes`
  // (0 = unknown size), in `state` (e.g. "Waiting", "Creating").
  // `remain_seconds` > 0 is the server's ETA. `wire_bytes` and `data_bytes`
  // are the server's byte counts so far (CopyWireBytes, CopyDataBytes; 0
  // when it gives none: the data rate is then estimated from the percent).
  struct Report {
    int percent = 0;
    uint64_t total_bytes = 0;
    std::string state;
    int64_t remain_seconds = 0;
    uint64_t wire_bytes = 0;
    uint64_t data_bytes = 0;
  };
  void Update(size_t i, const Report& report);
  // Redraws every row (terminal) after a round of updates.
  void Draw();
  // Final draw; ends the block. Idempotent.
  void Finish();

 private:
  struct Row {
    std::string label;
    Report last;
    double wire_rate = 0;  // bytes/s, since the first report while watching
    double data_rate = 0;
    bool data_measured = false;  // data_rate from CopyDataBytes, not estimated
    Report first;
    bool seen = false;
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

// "1.5 s", "2m03s": a short elapsed time for summaries.
std::string FormatElapsed(double seconds);

}  // namespace ferry::cli
