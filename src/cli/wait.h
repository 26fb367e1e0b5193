// Waiting for the server. Every wait of the CLI follows the same three rules:
//
//  1. It polls at once, then pauses kFirstPause (200 ms) and each next pause
//     kPauseGrowth (1.5) times the last, up to a cap: kInstancePauseCap (2 s)
//     for instances, which settle within seconds, kJobPauseCap (5 s) for
//     imports, exports, image creation, snapshots and copies, which may take
//     hours. An instance that settles after half a second is seen within a
//     second (polls at 0, 0.2, 0.5, 0.95 s, ...); a job of an hour costs ~720
//     requests, where a fixed 0.5 s poll made 7,200.
//  2. It fails at once when the resource reaches a state from which the one
//     awaited can no longer come (an instance Stopped while waiting for
//     Running, a task Failed, an image CreateFailed, a snapshot failed or
//     gone), naming the states it saw and what to look at next.
//  3. It ends at a deadline (--timeout; kInstanceTimeout, kJobTimeout or
//     kCopyTimeout by default) with an error whose reason is kWaitTimeoutReason
//     and which says that the server goes on with the job. Giving up waiting
//     never cancels anything.
//
// Threading: one thread; every wait blocks the calling thread.
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/session.h"
#include "common/status.h"

namespace ferry::cli {

using Millis = std::chrono::milliseconds;

inline constexpr Millis kFirstPause{200};
inline constexpr double kPauseGrowth = 1.5;
inline constexpr Millis kInstancePauseCap{2000};
inline constexpr Millis kJobPauseCap{5000};

// Default bounds of a wait. Instances change state within seconds (plus
// what the operator's hook takes, at most 60 s). Imports, exports, image
// creation and snapshots read or write each byte once; 6 h covers ~2 TiB at
// 100 MB/s. Copies cross a link that may be slow or capped
// (--link-rate-limit) and run one destination after another; 24 h covers
// ~500 GiB (the size needing no allowance) at 6 MB/s. Larger or slower: pass
// --timeout.
inline constexpr Millis kInstanceTimeout = std::chrono::minutes(5);
inline constexpr Millis kJobTimeout = std::chrono::hours(6);
inline constexpr Millis kCopyTimeout = std::chrono::hours(24);

// How long a wait keeps retrying while the server cannot be reached or
// answers 5xx (Session::Poll), counted from the start of each outage:
// --retry-for, default 10 minutes, long enough for a server restart or a
// kill -9 and restart; the job goes on at the server meanwhile.
inline constexpr Millis kDefaultRetryFor = std::chrono::minutes(10);
inline constexpr Millis kRetryFirstPause{500};
inline constexpr Millis kRetryPauseCap{5000};

// The reason of the Status a wait returns at its deadline.
inline constexpr const char* kWaitTimeoutReason = "WaitTimeout";

// The pauses between the polls of one wait, and its deadline.
class Poller {
 public:
  Poller(Millis timeout, Millis pause_cap);

  // Sleeps before the next poll: the next pause, but never past the
  // deadline, so the last poll is made at it. False, without sleeping, once
  // the deadline has passed.
  bool Pause();
  Millis timeout() const { return timeout_; }

 private:
  Millis timeout_;
  Millis pause_cap_;
  Millis next_pause_ = kFirstPause;
  std::chrono::steady_clock::time_point deadline_;
};

// A duration flag's value: "90s", "10m", "6h", "2d", or a number of
// seconds; more than zero. A usage error naming `flag` otherwise.
Result<Millis> ParseDuration(const std::string& flag, const std::string& text);
// The value of duration flag `flag`, or `fallback` when it was not given ("").
Result<Millis> DurationOr(const std::string& flag, const std::string& text, Millis fallback);
// The same for --timeout.
Result<Millis> ParseTimeout(const std::string& text);
Result<Millis> TimeoutOr(const std::string& flag, Millis fallback);
// "45s", "5m", "1h30m", "2d": the largest units that are exact.
std::string FormatDuration(Millis duration);

// Polls DescribeTaskAttribute until the task leaves Processing, drawing a
// progress bar labelled `label` (over `total_bytes`, 0 = unknown). A task
// that ends in anything but Finished is an error whose reason is "Task" +
// its status and whose message carries the task's ErrorCode and ErrorMsg.
Result<nlohmann::json> WaitForTask(Session& session, const std::string& task_id, const std::string& label,
                                   uint64_t total_bytes, Millis timeout);

// Polls DescribeInstances until every instance of `ids` (at most 100) is
// `want` (Running or Stopped), after `action` (e.g. "StartInstance") was
// accepted for them. An instance on its way there is Pending or Starting
// (for Running) or Pending or Stopping (for Stopped); any other status, or
// its release, fails the wait for it at once. The others are still waited
// for; `statuses` gets every instance's last status seen. The error, if
// any, has one line per instance that did not get there.
Status WaitForInstances(Session& session, const std::vector<std::string>& ids, const std::string& want,
                        const std::string& action, Millis timeout,
                        std::map<std::string, std::string>* statuses);

// What an image's Status means to a wait for it to become Available.
enum class ImageProgress { kOnTheWay, kAvailable, kFailed };
ImageProgress ClassifyImageStatus(const std::string& status);

// Polls DescribeImages until the new image `image_id` (made by
// `task_action`: CreateImage here) is Available, drawing a progress bar.
// CreateFailed, any other status or the image's disappearance fails at
// once; the error carries the reason of the task that made it, if one is
// found. Returns the image's last DescribeImages entry.
Result<nlohmann::json> WaitForImage(Session& session, const std::string& image_id,
                                    const std::string& task_action, Millis timeout);

// Polls DescribeSnapshots until the snapshot is accomplished; failed or
// gone fails at once (with the reason of its CreateSnapshot task, if
// found). Returns the snapshot's last DescribeSnapshots entry.
Result<nlohmann::json> WaitForSnapshot(Session& session, const std::string& snapshot_id, Millis timeout);

}  // namespace ferry::cli
