#include "integration/ferry_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"

extern char** environ;

namespace ferry::testing {
namespace {

constexpr auto kPollInterval = std::chrono::milliseconds(20);
constexpr auto kReadyDeadline = std::chrono::seconds(60);

// argv/envp prepared before fork(): the child only calls async-signal-safe
// functions between fork and exec.
struct ExecSpec {
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string stdout_path;
  std::string stderr_path;  // may equal stdout_path
  std::string netns_path;   // /run/netns/<name> to run in, or "" for ours
};

std::vector<std::string> ChildEnvironment(const EnvMap& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    if (kv.rfind("FERRY_", 0) == 0 || kv.rfind("HOME=", 0) == 0) continue;
    // A variable the test passes replaces the inherited one (PATH, say):
    // with both, getenv would find the inherited one first.
    if (extra.count(kv.substr(0, kv.find('='))) != 0) continue;
    env.push_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

pid_t Spawn(const ExecSpec& spec) {
  std::vector<char*> argv;
  for (const std::string& a : spec.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const bool same_file = spec.stdout_path == spec.stderr_path;

  pid_t pid = ::fork();
  if (pid != 0) return pid;
  int out = ::open(spec.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  int err = same_file ? out : ::open(spec.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  int in = ::open("/dev/null", O_RDONLY);
  if (out < 0 || err < 0 || in < 0) ::_exit(126);
  if (!spec.netns_path.empty()) {
    int ns = ::open(spec.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(125);
  }
  ::dup2(in, 0);
  ::dup2(out, 1);
  ::dup2(err, 2);
  ::execve(argv[0], argv.data(), envp.data());
  ::_exit(127);
}

// Waits for `pid` up to `timeout`; returns true and the raw wait status
// when it exited.
bool WaitFor(pid_t pid, std::chrono::milliseconds timeout, int* wstatus) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    pid_t r = ::waitpid(pid, wstatus, WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return true;  // already reaped
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

int ExitCodeOf(int wstatus) { return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1; }

}  // namespace

ScratchDir::ScratchDir(const std::string& prefix) {
  path_ = ::testing::TempDir() + prefix + RandomHex(6);
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

uint16_t FreeLoopbackPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.valid()) << "socket: " << std::strerror(errno);
  if (!fd.valid()) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ADD_FAILURE() << "bind/getsockname 127.0.0.1:0: " << std::strerror(errno);
    return 0;
  }
  return ntohs(addr.sin_port);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string FileSha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  Sha256 sha;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    sha.Update(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  return ToHex(sha.Finish());
}

CommandResult RunFerry(const std::vector<std::string>& args, const EnvMap& env, std::chrono::seconds timeout) {
  ScratchDir io("ferry-cmd-");
  ExecSpec spec;
  spec.args.push_back(FERRY_BINARY);
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  EnvMap full = env;
  if (full.count("HOME") == 0) full["HOME"] = io.path();
  spec.env = ChildEnvironment(full);
  spec.stdout_path = io.path() + "/stdout";
  spec.stderr_path = io.path() + "/stderr";

  CommandResult result;
  pid_t pid = Spawn(spec);
  if (pid < 0) {
    result.err = std::string("fork: ") + std::strerror(errno);
    return result;
  }
  int wstatus = 0;
  if (!WaitFor(pid, timeout, &wstatus)) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &wstatus, 0);
    result.exit_code = -1;
  } else {
    result.exit_code = ExitCodeOf(wstatus);
  }
  result.out = ReadAll(spec.stdout_path);
  result.err = ReadAll(spec.stderr_path);
  return result;
}

FerryServer::FerryServer(std::string data_dir, std::string config_dir)
    : data_dir_(std::move(data_dir)), config_dir_(std::move(config_dir)) {
  log_path_ = config_dir_ + "/server.log";
  ready_path_ = config_dir_ + "/ready.json";
}

FerryServer::~FerryServer() {
  if (pid_ > 0) Stop(std::chrono::seconds(10));
}

EnvMap FerryServer::ClientEnv() const { return {{"FERRY_CONFIG_DIR", config_dir_}, {"HOME", config_dir_}}; }

std::string FerryServer::Log() const { return ReadAll(log_path_); }

bool FerryServer::Start(std::string* error) {
  std::error_code ec;
  std::filesystem::remove(ready_path_, ec);
  // Each start gets a fresh log; the previous one stays for post-mortems.
  std::filesystem::rename(log_path_, log_path_ + ".prev", ec);
  ExecSpec spec;
  spec.args = {FERRY_BINARY, "serve", "--listen", listen_, "--admin-listen", admin_listen_, "--oss-listen", "127.0.0.1:0",
               "--data", data_dir_, "--ready-file", ready_path_, "--threads", "4", "--log-level", "info"};
  spec.args.insert(spec.args.end(), extra_args_.begin(), extra_args_.end());
  EnvMap env = {{"FERRY_ACCESS_KEY_ID", kRootKeyId},
                {"FERRY_ACCESS_KEY_SECRET", kRootKeySecret},
                {"FERRY_CONFIG_DIR", config_dir_},
                {"HOME", config_dir_}};
  for (const auto& [k, v] : extra_env_) env[k] = v;
  spec.env = ChildEnvironment(env);
  spec.stdout_path = log_path_;
  spec.stderr_path = log_path_;
  if (!netns_.empty()) spec.netns_path = "/run/netns/" + netns_;
  pid_ = Spawn(spec);
  if (pid_ < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  auto deadline = std::chrono::steady_clock::now() + kReadyDeadline;
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      *error = "ferry serve exited early (status " + std::to_string(ExitCodeOf(wstatus)) + "); log:\n" + Log();
      return false;
    }
    if (std::filesystem::exists(ready_path_, ec)) {
      nlohmann::json ready = nlohmann::json::parse(ReadAll(ready_path_), nullptr, false);
      if (ready.is_object() && ready.contains("endpoint") && ready.contains("pid")) {
        endpoint_ = ready["endpoint"].get<std::string>();
        admin_endpoint_ = ready.value("admin_endpoint", std::string());
        oss_endpoint_ = ready.value("oss_endpoint", std::string());
        if (ready["pid"].get<int64_t>() != pid_) {
          *error = "ready file names pid " + ready["pid"].dump() + ", expected " + std::to_string(pid_);
          return false;
        }
        return true;
      }
    }
    std::this_thread::sleep_for(kPollInterval);
  }
  *error = "no ready file after " + std::to_string(kReadyDeadline.count()) + " s; log:\n" + Log();
  Kill9();
  return false;
}

int FerryServer::Stop(std::chrono::seconds grace) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int wstatus = 0;
  int code = -1;
  if (WaitFor(pid_, grace, &wstatus)) {
    code = ExitCodeOf(wstatus);
  } else {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &wstatus, 0);
  }
  pid_ = -1;
  return code;
}

void FerryServer::Kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int wstatus = 0;
  ::waitpid(pid_, &wstatus, 0);
  pid_ = -1;
}

}  // namespace ferry::testing
