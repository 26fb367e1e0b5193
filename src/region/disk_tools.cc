#include "region/disk_tools.h"

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "region/subprocess.h"

namespace ferry {
namespace {

constexpr const char* kQemuImg = "qemu-img";
// Fixed so that the seeded image's bytes (and chunk ids) match in every region.
constexpr const char* kSeedUuid = "8d3c6a52-0f1e-4b7a-9c5d-2e4f6a8b0c1d";
constexpr const char* kSeedTime = "1795651200";  // 2026-11-26T00:00:00Z

Status Malformed(const std::string& path, const std::string& why) {
  return InvalidArgument("InvalidImageFormat.Malformed", "disk image " + path + ": " + why);
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

Result<std::string> InspectDiskImage(const std::string& path, const std::string& declared,
                                     const std::atomic<bool>* stop) {
  if (declared == "RAW") return declared;
  std::vector<std::string> argv = {kQemuImg, "info", "--output=json"};
  if (!declared.empty()) {
    std::string driver = QemuDriverForImportFormat(declared);
    if (driver.empty()) return Malformed(path, "unsupported format " + declared);
    argv.insert(argv.end(), {"-f", driver});
  }
  argv.push_back(path);
  ASSIGN_OR_RETURN(ProcessResult run, RunProcess(argv, stop));
  if (run.exit_code != 0) {
    return Malformed(path, "cannot be read as " +
                               (declared.empty() ? std::string("a disk image") : declared) + ": " +
                               DescribeFailure(argv, run));
  }
  nlohmann::json info;
  try {
    info = nlohmann::json::parse(run.stdout_text);
  } catch (const nlohmann::json::exception& e) {
    return Internal("qemu-img info " + path + " printed unparsable JSON: " + e.what());
  }
  std::string driver = info.value("format", "");
  std::string format = ImportFormatForQemuDriver(driver);
  if (format.empty())
    return Malformed(path, "format \"" + driver + "\" is not supported (use RAW, QCOW2, VHD, VMDK)");
  if (info.contains("backing-filename") || info.contains("full-backing-filename")) {
    return Malformed(path, "images with a backing file are not supported");
  }
  const nlohmann::json* data = nullptr;
  if (info.contains("format-specific") && info["format-specific"].is_object() &&
      info["format-specific"].contains("data")) {
    data = &info["format-specific"]["data"];
  }
  if (data != nullptr && data->is_object()) {
    if (data->contains("data-file"))
      return Malformed(path, "images with an external data file are not supported");
    if (data->contains("extents") && (*data)["extents"].is_array()) {
      for (const auto& extent : (*data)["extents"]) {
        std::string file = extent.is_object() ? extent.value("filename", "") : "";
        if (file != path)
          return Malformed(path, "VMDK extents in other files are not supported (" + file + ")");
      }
    }
  }
  return format;
}

Status ConvertDiskImage(const std::string& src, const std::string& src_driver, const std::string& dst,
                        const std::string& dst_driver, const std::atomic<bool>* stop) {
  std::vector<std::string> argv = {kQemuImg, "convert", "-f", src_driver, "-O", dst_driver};
  if (dst_driver == "raw") argv.insert(argv.end(), {"-S", "4k"});
  argv.insert(argv.end(), {src, dst});
  ASSIGN_OR_RETURN(ProcessResult run, RunProcess(argv, stop));
  if (run.exit_code != 0) {
    return InvalidArgument("InvalidImageFormat.Malformed", "converting " + src + " from " + src_driver +
                                                               " to " + dst_driver +
                                                               " failed: " + DescribeFailure(argv, run));
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
