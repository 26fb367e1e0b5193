// RegionImpl: CreateImage from snapshots — one system-disk snapshot
// (SnapshotId), or a system disk and data disks (DiskDeviceMapping.N) — and
// the checks every CreateImage makes of the new image's attributes. From an
// instance: region_disk_snapshots.cc.
//
// DiskDeviceMapping.N (ECS 4.5, D21 Images/CreateImage.md), N = 1..17:
//   SnapshotId  the caller's own snapshot, accomplished (else
//               InvalidSnapshotId.NotFound 404 / InvalidSnapshotId.NotReady
//               403). Ferry makes no empty data disk: a mapping without one
//               is refused (InvalidParameter).
//   DiskType    system | data; by default the type of the disk the snapshot
//               was taken of. Exactly one system disk (OperationDenied, 400
//               in CreateImage's table, either way).
//   Device      /dev/xvda (or /dev/vda) for the system disk, /dev/xvdb to
//               /dev/xvdz for data disks (InvalidDevice.Malformed), each once
//               (InvalidDevice.InUse); by default the system disk's is the
//               first and data disks take the next free ones in N order.
//   Size        GiB, at least the snapshot's and at most 32768
//               (InvalidSize.ValueNotSupported); by default the snapshot's.
// The image lists the system disk first, then the data disks in N order; it
// is Available at once (the snapshots hold its data), its Size is the system
// disk's, and its snapshots cannot be deleted while it exists.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/ids.h"
#include "region/names.h"
#include "region/region_impl.h"
#include "region/region_internal.h"

namespace ferry {
namespace {

constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t kMaxDiskGiB = 32768;

std::string MappingName(const ImageDiskRequest& m) { return "DiskDeviceMapping." + std::to_string(m.n); }

// The size of a disk made from `snap`, in GiB.
uint64_t SnapshotGiB(const SnapshotRecord& snap) {
  return std::max({uint64_t{1}, (snap.logical_size + kGiB - 1) / kGiB, snap.source_disk_size_gib});
}

// "/dev/xvdc" -> ("/dev/xvd", 'c'); nullopt unless /dev/xvd[a-z] or /dev/vd[a-z].
std::optional<std::pair<std::string, char>> ParseDevice(const std::string& device) {
  for (const char* family : {"/dev/xvd", "/dev/vd"}) {
    const std::string f = family;
    if (device.size() == f.size() + 1 && device.compare(0, f.size(), f) == 0 && device.back() >= 'a' &&
        device.back() <= 'z') {
      return std::make_pair(f, device.back());
    }
  }
  return std::nullopt;
}

// The checks of DiskDeviceMapping.N that need no catalog: the type's and the
// device's spelling, one system disk at most among the explicit types.
Status CheckMappingShapes(const std::vector<ImageDiskRequest>& mappings) {
  for (const ImageDiskRequest& m : mappings) {
    if (m.snapshot_id.empty()) {
      return InvalidArgument("InvalidParameter", "The specified parameter \"" + MappingName(m) +
                                                     ".SnapshotId\" is empty: Ferry makes image disks from "
                                                     "snapshots only, not empty data disks.");
    }
    if (!m.disk_type.empty() && m.disk_type != "system" && m.disk_type != "data") {
      return InvalidArgument("InvalidDiskType.ValueNotSupported", "The specified " + MappingName(m) +
                                                                      ".DiskType \"" + Echo(m.disk_type) +
                                                                      "\" is not valid: use system or data.");
    }
    if (!m.device.empty() && !ParseDevice(m.device)) {
      return InvalidArgument("InvalidDevice.Malformed",
                             "The specified " + MappingName(m) + ".Device \"" + Echo(m.device) +
                                 "\" is wrongly formed: use /dev/xvda to /dev/xvdz "
                                 "(or /dev/vda to /dev/vdz).");
    }
    if (m.size_gib > kMaxDiskGiB) {
      return InvalidArgument("InvalidSize.ValueNotSupported",
                             "The specified parameter " + MappingName(m) +
                                 ".Size beyond the permitted range: " + std::to_string(m.size_gib) +
                                 " GiB > " + std::to_string(kMaxDiskGiB) + " GiB.");
    }
  }
  return Status::Ok();
}

Status NoSystemDisk() {
  return FailedPrecondition(
      "OperationDenied",
      "The specified parameter DiskDeviceMapping.n.SnapshotId does not contain system disk "
      "snapshot.");
}

Status TwoSystemDisks(const ImageDiskRequest& a, const ImageDiskRequest& b) {
  return FailedPrecondition(
      "OperationDenied",
      "The specified parameter DiskDeviceMapping.n.SnapshotId contains two or more system "
      "disk snapshots: " +
          MappingName(a) + " and " + MappingName(b) + ".");
}

}  // namespace

Status ValidateNewImageAttributes(const CreateImageRequest& r) {
  if (!r.image_name.empty()) RETURN_IF_ERROR(ValidateImageName(r.image_name));
  RETURN_IF_ERROR(ValidateDescription(r.description));
  if (!r.image_family.empty())
    RETURN_IF_ERROR(ValidateImageName(r.image_family, "InvalidImageFamily.Malformed"));
  if (!r.platform.empty()) RETURN_IF_ERROR(ValidatePlatform(r.platform));
  if (!r.architecture.empty()) RETURN_IF_ERROR(ValidateArchitecture(r.architecture));
  if (!r.boot_mode.empty()) RETURN_IF_ERROR(ValidateBootMode(r.boot_mode));
  RETURN_IF_ERROR(ValidateTags(r.tags));
  if (r.image_version.size() > 40) {
    return InvalidArgument("InvalidImageVersion.Malformed",
                           "The specified ImageVersion is longer than 40 characters.");
  }
  return Status::Ok();
}

ImageRecord NewImageRecord(const std::string& account, const CreateImageRequest& r, const ImageRecord* os_from,
                           UnixSeconds now) {
  ImageRecord image;
  if (os_from != nullptr) {
    image.os_type = os_from->os_type;
    image.os_name = os_from->os_name;
    image.platform = os_from->platform;
    image.architecture = os_from->architecture;
    image.boot_mode = os_from->boot_mode;
  }
  image.account_id = account;
  image.name = r.image_name;
  image.description = r.description;
  if (!r.platform.empty()) image.platform = r.platform;
  if (image.os_name.empty()) image.os_name = image.platform;
  if (!r.architecture.empty()) image.architecture = r.architecture;
  if (!r.boot_mode.empty()) image.boot_mode = r.boot_mode;
  image.image_family = r.image_family;
  image.image_version = r.image_version;
  image.tags = r.tags;
  image.creation_time = now;
  return image;
}

std::string CreateImageFingerprint(const std::string& source_name, const std::string& source_id,
                                   const CreateImageRequest& r) {
  return Fingerprint({{source_name, source_id},
                      {"ImageName", r.image_name},
                      {"Description", r.description},
                      {"Platform", r.platform},
                      {"Architecture", r.architecture},
                      {"BootMode", r.boot_mode},
                      {"ImageFamily", r.image_family},
                      {"ImageVersion", r.image_version},
                      {"Tags", TagsJson(r.tags)}});
}

Result<std::vector<DiskMapping>> RegionImpl::ImageDisksFromSnapshots(
    const Caller& c, const std::vector<ImageDiskRequest>& mappings) {
  struct Resolved {
    const ImageDiskRequest* request;
    SnapshotRecord snapshot;
    std::string type;
  };
  std::vector<Resolved> disks;
  for (const ImageDiskRequest& m : mappings) {
    Result<SnapshotRecord> snap = catalog_->GetSnapshot(m.snapshot_id);
    if (!snap.ok()) {
      if (snap.status().code() == Code::kNotFound) return SnapshotNotFound(m.snapshot_id);
      return snap.status();
    }
    if (snap->account_id != c.account_id) return SnapshotNotFound(m.snapshot_id);
    if (snap->status != "accomplished" || snap->manifest.empty()) {
      return FailedPrecondition("InvalidSnapshotId.NotReady",
                                "The current status of the " + MappingName(m) + ".SnapshotId \"" +
                                    m.snapshot_id + "\" does not support this operation: it is " +
                                    snap->status + ".");
    }
    const std::string type = m.disk_type.empty() ? snap->source_disk_type : m.disk_type;
    disks.push_back(Resolved{&m, std::move(snap).value(), type == "system" ? "system" : "data"});
  }
  // Exactly one system disk, first.
  const Resolved* system = nullptr;
  for (const Resolved& d : disks) {
    if (d.type != "system") continue;
    if (system != nullptr) return TwoSystemDisks(*system->request, *d.request);
    system = &d;
  }
  if (system == nullptr) return NoSystemDisk();
  std::stable_partition(disks.begin(), disks.end(), [](const Resolved& d) { return d.type == "system"; });

  // Devices: the system disk's is the first of its family, data disks take
  // b..z; the ones given first, then the next free ones in N order.
  std::string family = "/dev/xvd";
  if (const auto parsed = ParseDevice(disks[0].request->device)) {
    if (parsed->second != 'a') {
      return InvalidArgument("InvalidDevice.Malformed", "The specified " + MappingName(*disks[0].request) +
                                                            ".Device \"" + disks[0].request->device +
                                                            "\" is not the system disk's: use " +
                                                            parsed->first + "a.");
    }
    family = parsed->first;
  }
  std::set<char> used = {'a'};
  for (size_t i = 1; i < disks.size(); ++i) {
    const ImageDiskRequest& m = *disks[i].request;
    const auto parsed = ParseDevice(m.device);
    if (!parsed) continue;
    if (parsed->second == 'a') {
      return InvalidArgument("InvalidDevice.Malformed", "The specified " + MappingName(m) + ".Device \"" +
                                                            m.device +
                                                            "\" is the system disk's: data disks are " +
                                                            family + "b to " + family + "z.");
    }
    if (!used.insert(parsed->second).second) {
      return InvalidArgument("InvalidDevice.InUse",
                             "The specified " + MappingName(m) + ".Device \"" + Echo(m.device) + "\" is in use.");
    }
  }
  std::vector<DiskMapping> out;
  for (size_t i = 0; i < disks.size(); ++i) {
    const Resolved& d = disks[i];
    const ImageDiskRequest& m = *d.request;
    const uint64_t snapshot_gib = SnapshotGiB(d.snapshot);
    if (m.size_gib != 0 && m.size_gib < snapshot_gib) {
      return InvalidArgument("InvalidSize.ValueNotSupported",
                             "The specified parameter " + MappingName(m) +
                                 ".Size beyond the permitted range: " + std::to_string(m.size_gib) +
                                 " GiB is less than the size of snapshot " + m.snapshot_id + " (" +
                                 std::to_string(snapshot_gib) + " GiB).");
    }
    DiskMapping mapping;
    mapping.snapshot_id = d.snapshot.snapshot_id;
    mapping.size_gib = m.size_gib != 0 ? m.size_gib : snapshot_gib;
    mapping.type = d.type;
    if (i == 0) {
      mapping.device = family + "a";
    } else if (!m.device.empty()) {
      mapping.device = m.device;
    } else {
      char next = 'b';
      while (used.count(next) != 0) ++next;
      if (next > 'z') {
        return InvalidArgument("InvalidDevice.InUse", "No device is free for " + MappingName(m) +
                                                          ": data disks are " + family + "b to " + family +
                                                          "z.");
      }
      used.insert(next);
      mapping.device = family + next;
    }
    out.push_back(std::move(mapping));
  }
  return out;
}

Result<std::string> RegionImpl::CreateImage(const Caller& c, const CreateImageRequest& r) {
  if (!r.instance_id.empty()) return CreateImageFromInstance(c, r);  // region_disk_snapshots.cc
  // SnapshotId is DiskDeviceMapping.1 with that snapshot as the system disk.
  std::vector<ImageDiskRequest> mappings = r.disk_mappings;
  if (mappings.empty() && !r.snapshot_id.empty()) {
    ImageDiskRequest system;
    system.snapshot_id = r.snapshot_id;
    system.disk_type = "system";
    system.n = 1;
    mappings.push_back(system);
  }
  if (mappings.empty()) {
    return InvalidArgument(
        "MissingParameter",
        "The input parameter SnapshotId or InstanceId or DiskDeviceMapping that is mandatory for "
        "processing this request is not supplied.");
  }
  RETURN_IF_ERROR(ValidateNewImageAttributes(r));
  RETURN_IF_ERROR(CheckMappingShapes(mappings));
  std::string fingerprint;
  if (r.disk_mappings.empty()) {
    fingerprint = CreateImageFingerprint("SnapshotId", r.snapshot_id, r);
  } else {
    nlohmann::json given = nlohmann::json::array();
    for (const ImageDiskRequest& m : r.disk_mappings) {
      given.push_back({{"N", m.n},
                       {"SnapshotId", m.snapshot_id},
                       {"Size", m.size_gib},
                       {"Device", m.device},
                       {"DiskType", m.disk_type}});
    }
    fingerprint = CreateImageFingerprint("DiskDeviceMapping", given.dump(), r);
  }
  std::string image_id;
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    if (!r.dry_run) {
      ASSIGN_OR_RETURN(std::optional<std::string> previous,
                       CheckClientToken(*catalog_, c.account_id, "CreateImage", r.client_token, fingerprint));
      if (previous) {
        image_id = *previous;
        return Status::Ok();
      }
    }
    ASSIGN_OR_RETURN(std::vector<DiskMapping> disks, ImageDisksFromSnapshots(c, mappings));
    ASSIGN_OR_RETURN(bool taken, NameTaken(c.account_id, r.image_name, ""));
    if (taken) {
      return AlreadyExists("InvalidImageName.Duplicated",
                           "The image name \"" + Echo(r.image_name) + "\" is already in use.");
    }
    if (r.dry_run) return DryRunPassed();
    RETURN_IF_ERROR(
        CheckCountQuotas(*catalog_, config_.quotas, c.account_id, QuotaUsage{1, 0, 0, 0}, "CreateImage"));
    // Attributes the caller leaves out come from an image already made from
    // the system disk's snapshot (typically the import that produced it).
    ImageQuery q;
    q.snapshot_id = disks[0].snapshot_id;
    q.limit = 1;
    q.count_total = false;
    ASSIGN_OR_RETURN(Page<ImageRecord> users, catalog_->ListImages(q));
    ImageRecord image =
        NewImageRecord(c.account_id, r, users.items.empty() ? nullptr : &users.items[0], clock_.Now());
    image.image_id = NewResourceId("m");
    image.status = "Available";
    image.progress = 100;
    image.size_gib = disks[0].size_gib;
    image.disks = std::move(disks);
    RETURN_IF_ERROR(catalog_->InsertImage(image));
    if (!r.client_token.empty()) {
      RETURN_IF_ERROR(catalog_->PutClientToken(c.account_id, "CreateImage", r.client_token,
                                               {fingerprint, image.image_id}));
    }
    image_id = image.image_id;
    return Status::Ok();
  }));
  return image_id;
}

}  // namespace ferry
