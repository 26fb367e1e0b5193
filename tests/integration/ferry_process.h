// Test harness for the real `ferry` binary: start a server on a free port,
// wait for its ready file, stop it (SIGTERM, then SIGKILL after a bounded
// wait) or kill -9 it; run one-shot commands and capture their output.
//
// Children get a hermetic environment: the test process's environment minus
// every FERRY_* variable, HOME pointing at a scratch directory, plus the
// variables the test passes (which replace inherited ones of the same name).
//
// Threading: a FerryServer is used by one test thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ferry::testing {

using EnvMap = std::map<std::string, std::string>;

// Root AccessKey the harness gives every server it starts.
inline constexpr const char* kRootKeyId = "LTAIintegrationRootKey01";
inline constexpr const char* kRootKeySecret = "integrationRootSecret0123456789";

// ::testing::TempDir() + prefix + random suffix, created; removed by the
// ScratchDir destructor.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

// Runs FERRY_BINARY with `args` and waits up to `timeout`.
CommandResult RunFerry(const std::vector<std::string>& args, const EnvMap& env,
                       std::chrono::seconds timeout = std::chrono::seconds(120));

class FerryServer {
 public:
  // `data_dir` and `config_dir` must exist. The server runs with
  // FERRY_ACCESS_KEY_ID/SECRET = kRootKeyId/kRootKeySecret and
  // FERRY_CONFIG_DIR = config_dir.
  FerryServer(std::string data_dir, std::string config_dir);
  ~FerryServer();  // kills and reaps the child if it still runs
  FerryServer(const FerryServer&) = delete;
  FerryServer& operator=(const FerryServer&) = delete;

  // Address for --listen on the next Start(); "127.0.0.1:0" (any free
  // port) unless set. A cluster's processes need their ports before start.
  void set_listen(std::string address) { listen_ = std::move(address); }
  // Value of --admin-listen on the next Start(); "127.0.0.1:0" unless set
  // (the default, listen port + 1, could be another process's port).
  void set_admin_listen(std::string address) { admin_listen_ = std::move(address); }
  // Extra command-line arguments and environment for the next Start().
  void set_extra_args(std::vector<std::string> args) { extra_args_ = std::move(args); }
  void set_extra_env(EnvMap env) { extra_env_ = std::move(env); }
  // Network namespace (a name under /run/netns, as `ip netns` makes them)
  // the server runs in from the next Start(); "" (default) for the test's.
  void set_netns(std::string name) { netns_ = std::move(name); }

  // Starts the server and waits (bounded) for its ready file. On failure
  // returns a description including the server's log.
  bool Start(std::string* error);
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit code, or
  // -1 if the process had to be killed or died by a signal.
  int Stop(std::chrono::seconds grace = std::chrono::seconds(30));
  // SIGKILL and reap.
  void Kill9();

  const std::string& endpoint() const { return endpoint_; }
  // The admin listener (/metrics, /healthz); "" with --admin-listen off.
  const std::string& admin_endpoint() const { return admin_endpoint_; }
  // The OSS object endpoint (--oss-listen 127.0.0.1:0).
  const std::string& oss_endpoint() const { return oss_endpoint_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& config_dir() const { return config_dir_; }
  EnvMap ClientEnv() const;  // FERRY_CONFIG_DIR for CLI children
  std::string Log() const;   // the server's stdout + stderr so far

 private:
  std::string data_dir_;
  std::string config_dir_;
  std::string log_path_;
  std::string ready_path_;
  std::string endpoint_;
  std::string admin_endpoint_;
  std::string oss_endpoint_;
  std::string listen_ = "127.0.0.1:0";
  std::string admin_listen_ = "127.0.0.1:0";
  std::vector<std::string> extra_args_;
  EnvMap extra_env_;
  std::string netns_;
  pid_t pid_ = -1;
};

// A loopback TCP port that was free a moment ago: bound to 127.0.0.1:0,
// read back and closed. Another process may take it before the caller binds
// it; the caller's start then fails loudly rather than silently.
uint16_t FreeLoopbackPort();

// Reads a whole file; "" when missing.
std::string ReadAll(const std::string& path);
// Hex SHA-256 of a file's contents.
std::string FileSha256(const std::string& path);

}  // namespace ferry::testing
