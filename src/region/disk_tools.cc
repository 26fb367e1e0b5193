#include "region/disk_tools.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "region/subprocess.h"

namespace ferry {
namespace {

constexpr const char* kQemuImg = "qemu-img";
// Fixed so that the seeded image's bytes (and chunk ids) match in every region.
constexpr const char* kSeedUuid = "8d3c6a52-0f1e-4b7a-9c5d-2e4f6a8b0c1d";
constexpr const char* kSeedTime = "1795651200";  // 2026-11-26T00:00:00Z

Status Malformed(const std::string& label, const std::string& why) {
  return InvalidArgument("InvalidImageFormat.Malformed", "disk image " + label + ": " + why);
}

std::string FindMkfs() {
  for (const char* candidate : {"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4", "/usr/bin/mkfs.ext4"}) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return "mkfs.ext4";
}

}  // namespace

std::string QemuDriverForImportFormat(const std::string& f) {
  if (f == "RAW") return "raw";
  if (f == "QCOW2") return "qcow2";
  if (f == "VHD") return "vpc";
  if (f == "VMDK") return "vmdk";
  return "";
}

std::string ImportFormatForQemuDriver(const std::string& d) {
  if (d == "raw") return "RAW";
  if (d == "qcow2") return "QCOW2";
  if (d == "vpc") return "VHD";
  if (d == "vmdk") return "VMDK";
  return "";
}

std::string QemuDriverForExportFormat(const std::string& f) {
  if (f == "raw") return "raw";
  if (f == "qcow2") return "qcow2";
  if (f == "vhd") return "vpc";
  if (f == "vmdk") return "vmdk";
  if (f == "vdi") return "vdi";
  return "";
}

namespace {

constexpr uint64_t kInfoAddressSpace = 1ull << 30;
constexpr uint64_t kInfoCpuSeconds = 30;
constexpr std::chrono::seconds kInfoDeadline{60};
constexpr uint64_t kConvertAddressSpace = 2ull << 30;

uint64_t GiBCeil(uint64_t bytes) { return (bytes + (1ull << 30) - 1) >> 30; }

// The source as a JSON block spec: the image is the inherited descriptor,
// read with an explicit driver; qcow2 also pins its backing file to null so
// that even a header the inspector missed cannot open another file.
std::string SourceSpec(const std::string& driver) {
  nlohmann::json spec = {
      {"driver", driver},
      {"file", {{"driver", "file"}, {"filename", "/proc/self/fd/" + std::to_string(kInheritedFd)}}}};
  if (driver == "qcow2") spec["backing"] = nullptr;
  return "json:" + spec.dump();
}

// The server's own failure, not the image's: the child could not be
// isolated (ProcessOptions::no_network), so qemu-img never ran.
bool IsolationFailed(const ProcessResult& r) {
  return r.exit_code == kIsolationFailedExit && r.stderr_text.starts_with("ferry: cannot give the child");
}

// Why a limited run failed, naming the limit when one was hit.
std::string LimitFailure(const std::vector<std::string>& argv, const ProcessResult& r,
                         const ProcessOptions& o) {
  if (r.deadline_exceeded) {
    return "qemu-img did not finish within " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(o.deadline).count()) +
           " s and was stopped";
  }
  if (r.exit_code == 128 + SIGXCPU || (o.cpu_seconds > 0 && r.exit_code == 128 + SIGKILL)) {
    return "qemu-img exceeded its CPU time limit of " + std::to_string(o.cpu_seconds) + " s";
  }
  if (r.exit_code == 128 + SIGXFSZ ||
      (o.file_size_bytes > 0 && r.stderr_text.find("File too large") != std::string::npos)) {
    return "qemu-img output exceeded the file size limit of " + std::to_string(o.file_size_bytes) + " bytes";
  }
  if (o.address_space_bytes > 0 &&
      (r.exit_code == 128 + SIGABRT || r.stderr_text.find("allocate") != std::string::npos)) {
    return "qemu-img exceeded its memory limit of " + std::to_string(o.address_space_bytes >> 20) + " MiB";
  }
  return DescribeFailure(argv, r);
}

std::string Scrub(std::string msg, const std::string& secret, const std::string& label) {
  if (secret.empty()) return msg;
  for (size_t pos = msg.find(secret); pos != std::string::npos; pos = msg.find(secret, pos + label.size())) {
    msg.replace(pos, secret.size(), label);
  }
  return msg;
}

}  // namespace

Status CheckWithQemuInfo(int fd, ImageFacts* facts_out, const std::string& label,
                         const std::atomic<bool>* stop) {
  const ImageFacts& facts = *facts_out;
  const std::string driver = ImageFormatName(facts.format);
  std::vector<std::string> argv = {kQemuImg, "info", "--output=json", SourceSpec(driver)};
  ProcessOptions opts;
  opts.no_network = true;  // qemu-img reads one descriptor; it has no business on a network
  opts.stop = stop;
  opts.address_space_bytes = kInfoAddressSpace;
  opts.cpu_seconds = kInfoCpuSeconds;
  opts.deadline = kInfoDeadline;
  opts.inherit_fd = fd;
  ASSIGN_OR_RETURN(ProcessResult run, RunProcess(argv, opts));
  if (IsolationFailed(run)) return Internal("qemu-img info of " + label + ": " + run.stderr_text);
  if (run.exit_code != 0 || run.deadline_exceeded) {
    return Malformed(label, "cannot be read as " + driver + ": " + LimitFailure(argv, run, opts));
  }
  nlohmann::json info;
  try {
    info = nlohmann::json::parse(run.stdout_text);
  } catch (const nlohmann::json::exception& e) {
    return Internal("qemu-img info of " + label + " printed unparsable JSON: " + e.what());
  }
  if (!info.is_object()) return Internal("qemu-img info of " + label + " printed no object");
  if (info.value("format", "") != driver)
    return Malformed(label, "qemu-img reads it as \"" + info.value("format", "") + "\", not " + driver);
  uint64_t size = info.value("virtual-size", uint64_t{0});
  bool size_ok = size == facts.virtual_size;
  if (facts.format == ImageFormat::kVpc)
    size_ok = size == facts.vpc_current_size || size == facts.vpc_geometry_size;
  if (!size_ok) {
    return Malformed(label, "qemu-img reports a virtual size of " + std::to_string(size) +
                                " bytes, the header says " + std::to_string(facts.virtual_size));
  }
  facts_out->virtual_size = size;
  if (info.contains("backing-filename") || info.contains("full-backing-filename"))
    return Malformed(label, "images with a backing file are not supported");
  const nlohmann::json* data = nullptr;
  if (info.contains("format-specific") && info["format-specific"].is_object() &&
      info["format-specific"].contains("data")) {
    data = &info["format-specific"]["data"];
  }
  if (data != nullptr && data->is_object() && data->contains("data-file"))
    return Malformed(label, "images with an external data file are not supported");
  if (facts.format == ImageFormat::kVmdk) {
    std::string self = "/proc/self/fd/" + std::to_string(kInheritedFd);
    if (data == nullptr || !data->is_object()) return Malformed(label, "qemu-img shows no VMDK details");
    std::string type = data->value("create-type", "");
    if (type != "monolithicSparse" && type != "streamOptimized")
      return Malformed(label, "VMDK create type \"" + type + "\" is not supported");
    if (!data->contains("extents") || !(*data)["extents"].is_array() || (*data)["extents"].size() != 1)
      return Malformed(label, "VMDK images must have exactly one extent");
    const nlohmann::json& extent = (*data)["extents"][0];
    if (!extent.is_object() || extent.value("filename", "") != self)
      return Malformed(label, "VMDK extents in other files are not supported");
  }
  return Status::Ok();
}

Status ConvertImageFd(int src_fd, const ImageFacts& facts, const std::string& dst,
                      const std::string& dst_driver, const std::string& label,
                      const std::string& failure_reason, const std::atomic<bool>* stop) {
  const std::string src_driver = ImageFormatName(facts.format);
  std::vector<std::string> argv = {kQemuImg, "convert", SourceSpec(src_driver), "-O", dst_driver};
  if (dst_driver == "raw") argv.insert(argv.end(), {"-S", "4k"});
  // A VHD's size is otherwise rounded up to a whole CHS geometry, and the
  // export would not be the size of the disk it holds: keep the exact size
  // in the footer (a dynamic VHD, the default subformat). Fixed options
  // only; nothing a tenant chooses reaches -o.
  if (dst_driver == "vpc") argv.insert(argv.end(), {"-o", "subformat=dynamic,force_size=on"});
  argv.push_back(dst);
  const uint64_t gib = GiBCeil(facts.virtual_size);
  ProcessOptions opts;
  opts.no_network = true;  // qemu-img reads one descriptor; it has no business on a network
  opts.stop = stop;
  opts.env_overrides = {"MALLOC_ARENA_MAX=3"};
  opts.address_space_bytes = kConvertAddressSpace;
  opts.cpu_seconds = 60 + 30 * gib;
  opts.deadline = std::chrono::seconds(600 + 120 * gib);
  // A raw target is exactly the virtual size; other formats add metadata.
  opts.file_size_bytes = dst_driver == "raw" ? std::max<uint64_t>(facts.virtual_size, 1)
                                             : facts.virtual_size + facts.virtual_size / 8 + (64ull << 20);
  opts.inherit_fd = src_fd;
  ASSIGN_OR_RETURN(ProcessResult run, RunProcess(argv, opts));
  if (IsolationFailed(run)) return Internal("qemu-img convert of " + label + ": " + run.stderr_text);
  if (run.exit_code != 0 || run.deadline_exceeded) {
    return InvalidArgument(failure_reason,
                           "converting " + label + " from " + src_driver + " to " + dst_driver +
                               " failed: " + Scrub(LimitFailure(argv, run, opts), dst, "the output"));
  }
  return Status::Ok();
}

Status MakeExt4Image(const std::string& source_dir, const std::string& image_path, uint64_t size_bytes,
                     const std::string& label) {
  std::vector<std::string> argv = {FindMkfs(),
                                   "-q",
                                   "-F",
                                   "-t",
                                   "ext4",
                                   "-d",
                                   source_dir,
                                   "-L",
                                   label,
                                   "-U",
                                   kSeedUuid,
                                   "-E",
                                   std::string("hash_seed=") + kSeedUuid + ",root_owner=0:0",
                                   image_path,
                                   std::to_string(size_bytes / 1024) + "k"};
  ASSIGN_OR_RETURN(ProcessResult run,
                   RunProcess(argv, nullptr, {std::string("E2FSPROGS_FAKE_TIME=") + kSeedTime}));
  if (run.exit_code != 0) return Internal("building " + image_path + ": " + DescribeFailure(argv, run));
  return Status::Ok();
}

}  // namespace ferry
