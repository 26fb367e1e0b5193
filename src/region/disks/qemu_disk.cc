#include "region/disks/qemu_disk.h"

#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "region/subprocess.h"

namespace ferry {
namespace {

constexpr const char* kQemuImg = "qemu-img";
constexpr uint64_t kCreateAddressSpace = 1ull << 30;
constexpr uint64_t kCreateCpuSeconds = 30;
constexpr std::chrono::seconds kCreateDeadline{60};
constexpr uint64_t kConvertAddressSpace = 2ull << 30;

uint64_t GiBCeil(uint64_t bytes) { return (bytes + (1ull << 30) - 1) >> 30; }

std::string InheritedFdPath() { return "/proc/self/fd/" + std::to_string(kInheritedFd); }

Status RunQemuImg(const std::vector<std::string>& argv, const ProcessOptions& opts, const std::string& what) {
  ASSIGN_OR_RETURN(ProcessResult run, RunProcess(argv, opts));
  if (run.deadline_exceeded) {
    return Internal(what + ": qemu-img did not finish within " +
                    std::to_string(std::chrono::duration_cast<std::chrono::seconds>(opts.deadline).count()) +
                    " s and was stopped");
  }
  if (run.exit_code == 128 + SIGXFSZ) {
    return Internal(what + ": qemu-img output exceeded " + std::to_string(opts.file_size_bytes) + " bytes");
  }
  if (run.exit_code == 128 + SIGXCPU) {
    return Internal(what + ": qemu-img exceeded its CPU limit of " + std::to_string(opts.cpu_seconds) + " s");
  }
  if (run.exit_code != 0) return Internal(what + ": " + DescribeFailure(argv, run));
  return Status::Ok();
}

ProcessOptions CreateOptions(int fd, const std::atomic<bool>* stop) {
  ProcessOptions opts;
  opts.no_network = true;  // qemu-img works on local files only
  opts.stop = stop;
  opts.address_space_bytes = kCreateAddressSpace;
  opts.cpu_seconds = kCreateCpuSeconds;
  opts.deadline = kCreateDeadline;
  // qcow2 metadata of an empty image: header, refcount table and block, L1.
  opts.file_size_bytes = 64ull << 20;
  opts.inherit_fd = fd;
  return opts;
}

}  // namespace

Status QemuCreateOverlay(int fd, const std::string& backing_name, uint64_t size, const std::string& label,
                         const std::atomic<bool>* stop) {
  std::vector<std::string> argv = {
      kQemuImg, "create", "-q", "-f",         "qcow2",           "-u",
      "-F",     "raw",    "-b", backing_name, InheritedFdPath(), std::to_string(size)};
  return RunQemuImg(argv, CreateOptions(fd, stop), "creating overlay " + label);
}

Status QemuCreateEmpty(int fd, uint64_t size, const std::string& label, const std::atomic<bool>* stop) {
  std::vector<std::string> argv = {
      kQemuImg, "create", "-q", "-f", "qcow2", InheritedFdPath(), std::to_string(size)};
  return RunQemuImg(argv, CreateOptions(fd, stop), "creating disk " + label);
}

Status QemuConvertToRaw(int overlay_fd, const std::string& base_path, const std::string& out_path,
                        uint64_t size, const std::string& label, const std::atomic<bool>* stop) {
  if (out_path.empty() || out_path[0] != '/' || (!base_path.empty() && base_path[0] != '/')) {
    // A relative name could be parsed for a protocol (json:, nbd://).
    return Internal("reading disk " + label + ": paths given to qemu-img must be absolute");
  }
  nlohmann::json spec = {{"driver", "qcow2"},
                         {"file", {{"driver", "file"}, {"filename", InheritedFdPath()}}}};
  if (base_path.empty()) {
    spec["backing"] = nullptr;
  } else {
    spec["backing"] = {{"driver", "raw"}, {"file", {{"driver", "file"}, {"filename", base_path}}}};
  }
  // -n --target-is-zero: the caller made the target, empty and sized, beneath
  // its root; qemu-img only writes the data into it.
  std::vector<std::string> argv = {
      kQemuImg, "convert", "-n",    "--target-is-zero", "json:" + spec.dump(), "-O", "raw",
      "-S",     "4k",      out_path};
  const uint64_t gib = GiBCeil(size);
  ProcessOptions opts;
  opts.no_network = true;  // qemu-img works on local files only
  opts.stop = stop;
  opts.env_overrides = {"MALLOC_ARENA_MAX=3"};
  opts.address_space_bytes = kConvertAddressSpace;
  opts.cpu_seconds = 60 + 30 * gib;
  opts.deadline = std::chrono::seconds(600 + 120 * gib);
  opts.file_size_bytes = std::max<uint64_t>(size, 1);
  opts.inherit_fd = overlay_fd;
  return RunQemuImg(argv, opts, "reading disk " + label);
}

}  // namespace ferry
