// RegionImpl: disks — DescribeDisks, the overlay files behind disk records
// (DiskStore, disks/disks.md), base-file collection, the disk part of fsck,
// and what an open does after a crash (ResumeInstances).
//
// Which base files stay is the catalog's answer: every base key a disk
// record names. DiskStore::RemoveUnusedBases also keeps any base an overlay
// on disk still uses, so a record lost in a crash never strands a disk.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "region/region_impl.h"
#include "region/region_internal.h"
#include "store/manifest.h"

namespace ferry {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr size_t kMaxDiskIds = 100;

Result<std::vector<DiskRecord>> AllDisks(Catalog& catalog) {
  ASSIGN_OR_RETURN(Page<DiskRecord> page, catalog.ListDisks(DiskQuery{}));
  return std::move(page.items);
}

}  // namespace

Result<Page<DiskRecord>> RegionImpl::DescribeDisks(const Caller& c, const DescribeDisksRequest& r) {
  RETURN_IF_ERROR(ValidatePage(r.page_number, r.page_size));
  if (r.disk_ids && r.disk_ids->size() > kMaxDiskIds) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"DiskIds\" holds " +
                                                   std::to_string(r.disk_ids->size()) + " ids, more than 100.");
  }
  DiskQuery q;
  q.account_id = c.account_id;
  q.disk_ids = r.disk_ids;
  q.instance_id = r.instance_id;
  if (r.disk_type == "system" || r.disk_type == "data") {
    q.disk_type = r.disk_type;
  } else if (!r.disk_type.empty() && r.disk_type != "all") {
    return InvalidArgument(
        "InvalidDiskType.ValueNotSupported",
        "The specified DiskType \"" + Echo(r.disk_type) + "\" is not supported (all, system, data).");
  }
  q.offset = (r.page_number - 1) * r.page_size;
  q.limit = r.page_size;
  return catalog_->ListDisks(q);
}

Status RegionImpl::CreateDiskFile(const DiskRecord& disk) {
  const uint64_t bytes = disk.size_gib * kGiB;
  Result<DiskInfo> made = Status::Ok();
  std::optional<Manifest> manifest;
  if (!disk.source_snapshot_id.empty()) {
    Result<SnapshotRecord> snap = catalog_->GetSnapshot(disk.source_snapshot_id);
    if (snap.ok() && !snap->manifest.empty()) {
      ASSIGN_OR_RETURN(Manifest m, DecodeManifest(snap->manifest));
      manifest = std::move(m);
    }
  }
  if (manifest) {
    made = disks_->CreateDiskFromImage(disk.disk_id, *manifest, *store_, bytes);
  } else if (!disk.base_key.empty()) {
    // The snapshot is gone (its image deleted, then it): its base may still
    // be there for the other disks made from it.
    made = disks_->CreateDiskOnBase(disk.disk_id, disk.base_key, bytes);
  } else {
    made = disks_->CreateEmptyDisk(disk.disk_id, bytes);
  }
  // A disk created before a crash is whole (overlays are renamed into place).
  if (!made.ok() && made.status().code() != Code::kAlreadyExists) {
    return made.status().WithContext("disk " + disk.disk_id);
  }
  return Status::Ok();
}

Status RegionImpl::RemoveUnusedBases() {
  ASSIGN_OR_RETURN(std::vector<DiskRecord> all, AllDisks(*catalog_));
  std::set<std::string> keep;
  for (const DiskRecord& d : all)
    if (!d.base_key.empty()) keep.insert(d.base_key);
  std::vector<std::string> busy;
  ASSIGN_OR_RETURN(std::vector<std::string> removed, disks_->RemoveUnusedBases(keep, &busy));
  for (const std::string& key : removed) spdlog::info("region {}: base file {} removed", config_.region_id, key);
  if (!busy.empty()) {
    spdlog::info("region {}: {} unused base file(s) in use by a reader, first {}; trying again later",
                 config_.region_id, busy.size(), busy.front());
    RetryBasesLater();
  } else {
    std::lock_guard<std::mutex> lock(base_retry_mu_);
    base_retry_delay_ = std::chrono::milliseconds(0);
  }
  return Status::Ok();
}

void RegionImpl::RetryBasesLater() {
  std::chrono::milliseconds delay;
  {
    std::lock_guard<std::mutex> lock(base_retry_mu_);
    if (base_retry_pending_) return;  // one retry queued is enough
    base_retry_pending_ = true;
    base_retry_delay_ =
        base_retry_delay_.count() == 0 ? kBaseRetryFirst : std::min(base_retry_delay_ * 2, kBaseRetryMax);
    delay = base_retry_delay_;
  }
  instance_runner_->Post(delay, [this] {
    {
      std::lock_guard<std::mutex> lock(base_retry_mu_);
      base_retry_pending_ = false;
    }
    if (Status st = RemoveUnusedBases(); !st.ok()) {
      spdlog::warn("region {}: base files not collected: {}", config_.region_id, st.ToString());
    }
  });
}

void RegionImpl::BasesMayBeFree() {
  {
    std::lock_guard<std::mutex> lock(base_retry_mu_);
    if (!base_retry_pending_) return;
  }
  instance_runner_->Post(std::chrono::milliseconds(0), [this] {
    if (Status st = RemoveUnusedBases(); !st.ok()) {
      spdlog::warn("region {}: base files not collected: {}", config_.region_id, st.ToString());
    }
  });
}

Status RegionImpl::ResumeInstances() {
  ASSIGN_OR_RETURN(std::vector<DiskRecord> all, AllDisks(*catalog_));
  ASSIGN_OR_RETURN(Page<InstanceRecord> instances, catalog_->ListInstances(InstanceQuery{}));
  std::map<std::string, InstanceRecord> by_id;
  for (const InstanceRecord& i : instances.items) by_id[i.instance_id] = i;
  // A disk left Creating by an instance that is not Pending was an
  // interrupted ReplaceSystemDisk: it goes, the old system disk stays.
  std::set<std::string> known;
  for (const DiskRecord& d : all) {
    auto it = by_id.find(d.instance_id);
    if (d.status == "Creating" && (it == by_id.end() || it->second.status != "Pending")) {
      RETURN_IF_ERROR(catalog_->DeleteDisk(d.disk_id));
      (void)disks_->DeleteDisk(d.disk_id);
      spdlog::warn("region {}: unfinished disk {} released", config_.region_id, d.disk_id);
      continue;
    }
    known.insert(d.disk_id);
  }
  // Overlays no record names: their records were deleted (or never
  // committed) before a crash.
  ASSIGN_OR_RETURN(std::vector<std::string> files, disks_->ListDisks());
  for (const std::string& id : files) {
    if (known.count(id) != 0) continue;
    RETURN_IF_ERROR(disks_->DeleteDisk(id).status());
    spdlog::warn("region {}: orphan overlay of disk {} removed", config_.region_id, id);
  }
  RETURN_IF_ERROR(RemoveUnusedBases());
  for (const InstanceRecord& i : instances.items) {
    if (i.status == "Pending") {
      const std::vector<std::string> ids = {i.instance_id};
      const bool start = i.auto_start;
      instance_runner_->Post(std::chrono::milliseconds(0), [this, ids, start] { CreateInstanceDisks(ids, start); });
    } else if (i.status == "Starting") {
      PostTransition(i.instance_id, "Starting", "Running");
    } else if (i.status == "Stopping") {
      PostTransition(i.instance_id, "Stopping", "Stopped");
    }
  }
  return Status::Ok();
}

Status RegionImpl::FsckDisks(FsckReport* report) {
  ASSIGN_OR_RETURN(std::vector<DiskRecord> all, AllDisks(*catalog_));
  std::set<std::string> known, bases, creating;
  for (const DiskRecord& d : all) {
    known.insert(d.disk_id);
    if (!d.base_key.empty()) bases.insert(d.base_key);
    if (d.status == "Creating") creating.insert(d.disk_id);
  }
  if (disks_ == nullptr) {  // opened for a check, and there is no disks folder
    if (!all.empty())
      report->problems.push_back("disks: no disks folder, yet the catalog knows " +
                                 std::to_string(all.size()) + " disk(s)");
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(DiskFsckReport r, disks_->Fsck(known, bases));
  report->disks_checked = r.disks_present;
  report->bases_checked = r.bases_present;
  auto add = [&](const std::vector<std::string>& items, const std::string& what) {
    for (const std::string& item : items) report->problems.push_back("disks: " + what + " " + item);
  };
  add(r.orphan_disks, "overlay the catalog does not know:");
  std::vector<std::string> missing;
  size_t not_yet = 0;
  for (const std::string& id : r.missing_disks) {
    if (creating.count(id) == 0) {
      missing.push_back(id);
    } else {
      ++not_yet;  // a Pending instance's: the server creates it when it starts
    }
  }
  if (not_yet != 0) {
    report->notes.push_back("disks: " + std::to_string(not_yet) +
                            " disk(s) of Pending instances not created yet (the server creates them when "
                            "it starts)");
  }
  add(missing, "disk with no overlay:");
  add(r.orphan_bases, "base file no disk needs:");
  add(r.missing_bases, "disk whose base file is missing:");
  add(r.bad_disks, "bad overlay:");
  // A crash's leftovers, harmless: the server removes them when it starts.
  for (const std::string& t : r.leftover_temps)
    report->notes.push_back("disks: leftover temp " + t + " (removed when the server starts)");
  add(r.strays, "stray file:");
  return Status::Ok();
}

}  // namespace ferry
