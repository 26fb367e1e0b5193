#include "region/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/fs_util.h"

extern char** environ;

namespace ferry {
namespace {

constexpr size_t kMaxStdout = 4u << 20;
constexpr size_t kMaxStderr = 64u << 10;
constexpr int kPollMillis = 100;

constexpr rlim_t kCpuGraceSeconds = 5;

// PATH lookup done before fork (execvp may allocate). Falls back to the name
// as given, which execve then fails on.
std::string ResolveProgram(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return name;
}

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
  ProcessOptions options;
  options.stop = stop;
  options.env_overrides = env_overrides;
  return RunProcess(argv, options);
}

Result<ProcessResult> RunProcess(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty()) return Internal("RunProcess: empty argv");
  const std::atomic<bool>* stop = options.stop;
  const std::string program = ResolveProgram(argv[0]);
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", argv[0], errno);
  UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", argv[0], errno);
  UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);
  UniqueFd dev_null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null.valid()) return ErrnoStatus("open", "/dev/null", errno);

  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry(*e);
    bool overridden = false;
    for (const std::string& o : options.env_overrides) {
      size_t eq = o.find('=');
      if (entry.compare(0, eq + 1, o, 0, eq + 1) == 0) overridden = true;
    }
    if (!overridden) env_storage.push_back(entry);
  }
  for (const std::string& o : options.env_overrides) env_storage.push_back(o);
  std::vector<char*> envp;
  for (std::string& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  // Everything the child needs is prepared above: between fork and exec
  // only async-signal-safe calls are allowed (other threads may hold locks).
  struct Limit {
    int resource;
    rlimit value;
  };
  Limit limits[3];
  int n_limits = 0;
  if (options.address_space_bytes > 0) {
    limits[n_limits++] = {RLIMIT_AS, {options.address_space_bytes, options.address_space_bytes}};
  }
  if (options.cpu_seconds > 0) {
    limits[n_limits++] = {RLIMIT_CPU, {options.cpu_seconds, options.cpu_seconds + kCpuGraceSeconds}};
  }
  if (options.file_size_bytes > 0) {
    limits[n_limits++] = {RLIMIT_FSIZE, {options.file_size_bytes, options.file_size_bytes}};
  }
  const int in_fd = dev_null.get(), out_fd = out_w.get(), err_fd = err_w.get();
  const int inherit = options.inherit_fd;
  const bool no_network = options.no_network;
  sigset_t empty_mask;
  sigemptyset(&empty_mask);

  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork", argv[0], errno);
  if (pid == 0) {
    // dup2 clears FD_CLOEXEC on the new descriptor.
    if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) ::_exit(127);
    if (inherit >= 0) {
      if (inherit == kInheritedFd) {
        if (::fcntl(kInheritedFd, F_SETFD, 0) < 0) ::_exit(127);
      } else if (::dup2(inherit, kInheritedFd) < 0) {
        ::_exit(127);
      }
    }
    // Descriptors are O_CLOEXEC by convention; closing the rest here makes
    // the child's view independent of that convention (where the kernel has
    // close_range; otherwise O_CLOEXEC still applies).
    ::syscall(SYS_close_range, static_cast<unsigned>(inherit >= 0 ? kInheritedFd + 1 : kInheritedFd), ~0u,
              0u);
    for (int i = 0; i < n_limits; ++i) {
      if (::setrlimit(limits[i].resource, &limits[i].value) != 0) ::_exit(127);
    }
    if (no_network) {
      if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
          (::unshare(CLONE_NEWNET) != 0 && ::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)) {
        static const char kMessage[] = "ferry: cannot give the child a network namespace of its own\n";
        (void)!::write(2, kMessage, sizeof(kMessage) - 1);
        ::_exit(kIsolationFailedExit);
      }
    }
    // The child dies with this process: after a kill -9 of the server no
    // qemu-img keeps converting a disk for nobody (into a temp the restarted
    // server unlinks, while it runs the same task again). The signal goes
    // when the forking thread ends, and that thread waits for the child. Set
    // after unshare (a change of credentials could clear it); a parent gone
    // before that is caught by getppid.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(127);
    ::sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
    ::execve(program.c_str(), args.data(), envp.data());
    ::_exit(127);
  }
  out_w = UniqueFd();
  err_w = UniqueFd();
  dev_null = UniqueFd();

  const bool has_deadline = options.deadline.count() > 0;
  const auto deadline = std::chrono::steady_clock::now() + options.deadline;
  ProcessResult result;
  bool killed = false;
  // Kills the child once, for a stop request or the deadline.
  auto check_kill = [&]() {
    if (killed) return;
    if (stop != nullptr && stop->load()) {
      ::kill(pid, SIGKILL);
      killed = true;
    } else if (has_deadline && std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      killed = true;
      result.deadline_exceeded = true;
    }
  };
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    check_kill();
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
  // keep honouring `stop` and the deadline while waiting for it. A pidfd
  // becomes readable the moment the child exits (a child that just closed
  // its pipes is usually not waitable yet); without one (kernels before
  // 5.3), poll every kPollMillis / 2.
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  int status = 0;
  while (true) {
    pid_t w = ::waitpid(pid, &status, killed ? 0 : WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return ErrnoStatus("waitpid", argv[0], errno);
    if (w == 0) {
      check_kill();
      if (killed) continue;
      if (pidfd.valid()) {
        pollfd exited = {pidfd.get(), POLLIN, 0};
        ::poll(&exited, 1, kPollMillis);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollMillis / 2));
      }
    }
  }
  if (killed && !result.deadline_exceeded) return Cancelled(argv[0] + " was stopped");
  result.exit_code = DecodeWaitStatus(status);
  if (result.exit_code == 127 && result.stderr_text.empty() && ::access(program.c_str(), X_OK) != 0) {
    return ErrnoStatus("spawn", argv[0], ENOENT);
  }
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
