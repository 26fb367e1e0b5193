#include "cli/disk_commands.h"

#include <filesystem>
#include <iostream>
#include <memory>

#include "region/disks/disk_layout.h"
#include "region/disks/disk_store.h"

namespace ferry::cli {
namespace {

// The DiskStore of the region holding `disk_id`, searching the regions of
// `settings` (all region folders when none is configured).
Result<std::unique_ptr<DiskStore>> StoreOf(const ServeSettings& settings, const std::string& disk_id) {
  if (!IsValidDiskId(disk_id)) {
    return InvalidArgument("InvalidDiskId.NotFound", "\"" + disk_id + "\" is not a disk id (d- and 20 characters)");
  }
  std::vector<std::string> regions = settings.regions;
  std::error_code ec;
  const std::string root = settings.data_dir + "/regions";
  if (regions.empty()) {
    for (const auto& e : std::filesystem::directory_iterator(root, ec)) regions.push_back(e.path().filename());
  }
  for (const std::string& region : regions) {
    const std::string dir = root + "/" + region + "/disks";
    if (!std::filesystem::is_directory(dir + "/disks", ec)) continue;
    ASSIGN_OR_RETURN(std::unique_ptr<DiskStore> store, DiskStore::Open(dir));
    if (store->DescribeDisk(disk_id).ok()) return store;
  }
  return NotFound("InvalidDiskId.NotFound", "disk " + disk_id + " is in none of the regions under " + root);
}

}  // namespace

Status DiskPathCommand(const ServeSettings& settings, const std::string& disk_id) {
  ASSIGN_OR_RETURN(std::unique_ptr<DiskStore> store, StoreOf(settings, disk_id));
  ASSIGN_OR_RETURN(std::string path, store->DiskPath(disk_id));
  std::cout << path << "\n";
  return Status::Ok();
}

Status DiskExportCommand(const ServeSettings& settings, const std::string& disk_id, const std::string& file) {
  ASSIGN_OR_RETURN(std::unique_ptr<DiskStore> store, StoreOf(settings, disk_id));
  const std::string target = std::filesystem::absolute(file).string();
  RETURN_IF_ERROR(store->ExportRaw(disk_id, target));
  std::cout << target << "\n";
  return Status::Ok();
}

}  // namespace ferry::cli
