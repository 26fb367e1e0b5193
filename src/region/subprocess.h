// Runs external tools (qemu-img, mkfs.ext4) without a shell: argv goes to
// execve as is, so no user-controlled string is ever interpreted.
//
// Threading: RunProcess may be called from any thread concurrently.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ferry {

struct ProcessResult {
  int exit_code = 0;        // exit status, or 128 + signal number
  std::string stdout_text;  // at most 4 MiB kept
  std::string stderr_text;  // at most 64 KiB kept
  bool deadline_exceeded = false;  // killed (SIGKILL) at ProcessOptions::deadline
};

// The descriptor number an inherited fd gets in the child (so the child can
// name it as /proc/self/fd/3).
inline constexpr int kInheritedFd = 3;

// Limits and plumbing for one child. Resource limits are set in the child
// between fork and exec (only async-signal-safe calls there); 0 = no limit.
struct ProcessOptions {
  const std::atomic<bool>* stop = nullptr;
  std::vector<std::string> env_overrides;  // "NAME=value"
  uint64_t address_space_bytes = 0;        // RLIMIT_AS
  uint64_t cpu_seconds = 0;                // RLIMIT_CPU (SIGXCPU, then SIGKILL 5 s later)
  uint64_t file_size_bytes = 0;            // RLIMIT_FSIZE (SIGXFSZ / EFBIG)
  std::chrono::milliseconds deadline{0};   // wall clock; then SIGKILL
  // Given to the child as kInheritedFd; every other descriptor above 2 is
  // closed in the child (close_range), so this is the only one it sees
  // besides stdin (/dev/null), stdout and stderr.
  int inherit_fd = -1;
  // Runs the child in a network namespace of its own (only a loopback that
  // is down: no connection goes anywhere) and with no_new_privs, so a tool
  // tricked into opening a URL (nbd://, http://) reaches nothing. Uses
  // unshare(CLONE_NEWNET) as root, else a user namespace as well. Fails
  // closed: when neither can be made the child exits 126 with a message on
  // stderr, and nothing runs unisolated.
  bool no_network = false;
};

// The exit code of a child that could not be isolated (ProcessOptions::no_network).
inline constexpr int kIsolationFailedExit = 126;

// Runs argv[0] (looked up in PATH) with stdin from /dev/null and waits for it.
// `env_overrides` are "NAME=value" entries added to this process's
// environment. When `stop` becomes true the child is killed (SIGKILL) and
// kCancelled is returned. If this process dies first (kill -9), the child is
// killed too (PR_SET_PDEATHSIG). A non-zero exit is not an error here:
// callers read exit_code.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const std::atomic<bool>* stop = nullptr,
                                 const std::vector<std::string>& env_overrides = {});

// Same, with limits: argv[0] is looked up in PATH before forking.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options);

// "qemu-img: Could not open ..." style summary of a failed run, for messages.
std::string DescribeFailure(const std::vector<std::string>& argv, const ProcessResult& r);

}  // namespace ferry
