// Runs external tools (qemu-img, mkfs.ext4) without a shell: argv goes to
// posix_spawnp as is, so no user-controlled string is ever interpreted.
//
// Threading: RunProcess may be called from any thread concurrently.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "common/status.h"

namespace ferry {

struct ProcessResult {
  int exit_code = 0;        // exit status, or 128 + signal number
  std::string stdout_text;  // at most 4 MiB kept
  std::string stderr_text;  // at most 64 KiB kept
};

// Runs argv[0] (looked up in PATH) with stdin from /dev/null and waits for it.
// `env_overrides` are "NAME=value" entries added to this process's
// environment. When `stop` becomes true the child is killed (SIGKILL) and
// kCancelled is returned. A non-zero exit is not an error here: callers read
// exit_code.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                 const std::atomic<bool>* stop = nullptr,
                                 const std::vector<std::string>& env_overrides = {});

// "qemu-img: Could not open ..." style summary of a failed run, for messages.
std::string DescribeFailure(const std::vector<std::string>& argv, const ProcessResult& r);

}  // namespace ferry
