// The TOML config loader (cli/config.*): ResolveServeSettings on a config
// file holding the input, as `ferry serve --config FILE` reads it.
// Invariants: no exception escapes (toml++ throws; the loader must turn it
// into a Status); accepted settings are within their documented bounds.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli/config.h"
#include "fuzz_util.h"

namespace {

const std::string& ConfigPath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/ferry-config-fuzz-" +
           std::to_string(getpid()) + ".toml";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Settings come from the file alone, not from the fuzzing shell.
  for (const char* name : {"FERRY_LISTEN", "FERRY_DATA", "FERRY_REGIONS", "FERRY_PEERS", "FERRY_THREADS",
                           "FERRY_TASK_THREADS", "FERRY_LOG_LEVEL", "FERRY_READY_FILE", "FERRY_CLUSTER_KEY",
                           "FERRY_MAX_COPIES", "FERRY_COPY_RATE_LIMIT", "FERRY_COPY_IN_FLIGHT",
                           "FERRY_LINK_RATE_LIMITS", "FERRY_MAX_COPY_SIZE_GIB", "FERRY_CONFIG"}) {
    unsetenv(name);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = ConfigPath();
  FILE* f = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(f != nullptr);
  FUZZ_CHECK(std::fwrite(data, 1, size, f) == size);
  std::fclose(f);
  auto settings = ferry::cli::ResolveServeSettings({{"config", path}});
  // Gone after each input: libFuzzer ends a run without running atexit
  // handlers, and /tmp would keep one file per run.
  ::unlink(path.c_str());
  if (settings.ok()) {
    FUZZ_CHECK(settings->threads >= 1 && settings->threads <= 256);
    FUZZ_CHECK(settings->task_threads >= 1 && settings->task_threads <= 64);
    FUZZ_CHECK(settings->max_copies >= 1 && settings->max_copies <= 256);
    FUZZ_CHECK(settings->copy_in_flight >= 1 && settings->copy_in_flight <= 64);
    FUZZ_CHECK(settings->copy_buffer_mib >= 4 && settings->copy_buffer_mib <= (uint64_t{1} << 20));
    FUZZ_CHECK(settings->max_copy_size_gib >= 1 && settings->max_copy_size_gib <= 17 * 32768);
    FUZZ_CHECK(!settings->data_dir.empty());
    for (const auto& [region, rate] : settings->link_rate_limits) FUZZ_CHECK(!region.empty() && rate >= 1);
    FUZZ_CHECK(!settings->regions.empty());
    for (const auto& region : settings->regions) FUZZ_CHECK(!region.empty());
    for (const auto& peer : settings->peers) FUZZ_CHECK(!peer.region_id.empty() && !peer.base_url.empty());
  } else {
    FUZZ_CHECK(!settings.status().message().empty());
  }
  return 0;
}
