// Runs one of scripts/throwaway-*.sh for a test fixture: the command's
// output (stdout and stderr) without its trailing newlines, and whether it
// exited 0.
#pragma once

#include <cstdio>
#include <string>

namespace ferry {

inline bool RunThrowawayScript(const std::string& command, std::string* out) {
  out->clear();
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    *out = "cannot run " + command;
    return false;
  }
  char buf[512];
  while (fgets(buf, sizeof buf, pipe) != nullptr) *out += buf;
  const int rc = pclose(pipe);
  while (!out->empty() && out->back() == '\n') out->pop_back();
  return rc == 0;
}

}  // namespace ferry
