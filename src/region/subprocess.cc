#include "region/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "common/fs_util.h"

extern char** environ;

namespace ferry {
namespace {

constexpr size_t kMaxStdout = 4u << 20;
constexpr size_t kMaxStderr = 64u << 10;
constexpr int kPollMillis = 100;

struct SpawnActions {
  posix_spawn_file_actions_t actions;
  SpawnActions() { posix_spawn_file_actions_init(&actions); }
  ~SpawnActions() { posix_spawn_file_actions_destroy(&actions); }
};

// Reads what is available from `fd` into `out` (capped); false at EOF.
bool Drain(int fd, std::string* out, size_t cap) {
  char buf[65536];
  ssize_t n = ::read(fd, buf, sizeof(buf));
  if (n < 0) return errno == EINTR || errno == EAGAIN;
  if (n == 0) return false;
  size_t room = out->size() < cap ? cap - out->size() : 0;
  out->append(buf, std::min(room, static_cast<size_t>(n)));
  return true;
}

int DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const std::atomic<bool>* stop,
                                 const std::vector<std::string>& env_overrides) {
  if (argv.empty()) return Internal("RunProcess: empty argv");
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", argv[0], errno);
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", argv[0], errno);
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

  SpawnActions fa;
  posix_spawn_file_actions_addopen(&fa.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa.actions, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa.actions, err_w.get(), 2);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    bool overridden = false;
    for (const std::string& o : env_overrides) {
      size_t eq = o.find('=');
      if (entry.compare(0, eq + 1, o, 0, eq + 1) == 0) overridden = true;
    }
    if (!overridden) env_storage.push_back(entry);
  }
  for (const std::string& o : env_overrides) env_storage.push_back(o);
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &fa.actions, nullptr, args.data(), envp.data());
  if (rc != 0) return ErrnoStatus("spawn", argv[0], rc);
  out_w = UniqueFd();
  err_w = UniqueFd();

  ProcessResult result;
  bool out_open = true, err_open = true;
  bool killed = false;
  while (out_open || err_open) {
    if (stop != nullptr && stop->load() && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    pollfd fds[2];
    int n = 0;
    if (out_open) fds[n++] = {out_r.get(), POLLIN, 0};
    if (err_open) fds[n++] = {err_r.get(), POLLIN, 0};
    int ready = ::poll(fds, static_cast<nfds_t>(n), kPollMillis);
    if (ready < 0 && errno != EINTR) break;
    for (int i = 0; i < n && ready > 0; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == out_r.get()) {
        out_open = Drain(out_r.get(), &result.stdout_text, kMaxStdout);
      } else {
        err_open = Drain(err_r.get(), &result.stderr_text, kMaxStderr);
      }
    }
  }
  // The child may outlive its pipes (it closed them, or handed them on), so
  // keep honouring `stop` while waiting for it.
  int status = 0;
  while (true) {
    pid_t w = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return ErrnoStatus("waitpid", argv[0], errno);
    if (stop != nullptr && stop->load() && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMillis / 2));
  }
  if (killed) return Cancelled(argv[0] + " was stopped");
  result.exit_code = DecodeWaitStatus(status);
  return result;
}

std::string DescribeFailure(const std::vector<std::string>& argv, const ProcessResult& r) {
  std::string err = r.stderr_text;
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
  std::string s = argv.empty() ? std::string("process") : argv[0];
  s += " exited with status " + std::to_string(r.exit_code);
  if (!err.empty()) s += ": " + err;
  return s;
}

}  // namespace ferry
