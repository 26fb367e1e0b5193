// The version of this ferry binary: the project version (CMakeLists.txt)
// and the git commit it was built from, embedded at build time by
// cmake/ferry_version.cmake ("unknown" when built outside a git checkout,
// "<commit>-dirty" when tracked files had changes).
#pragma once

#include <string>

namespace ferry::cli {

extern const char* const kFerryVersion;
extern const char* const kFerryCommit;

// "ferry 0.1.0 (commit 0123456789ab)": what --version and `ferry version`
// print.
inline std::string VersionLine() {
  return std::string("ferry ") + kFerryVersion + " (commit " + kFerryCommit + ")";
}

}  // namespace ferry::cli
