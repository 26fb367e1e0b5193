// RegionImpl: the image requests — ImportImage, DescribeImages,
// ModifyImageAttribute, DeleteImage, ExportImage. CreateImage is in
// region_create_image.cc (from snapshots) and region_disk_snapshots.cc (from
// an instance).
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "common/ids.h"
#include "region/names.h"
#include "region/region_impl.h"
#include "region/region_internal.h"

namespace ferry {
namespace {

constexpr size_t kMaxImportDisks = 17;
// ExportImage (ECS 4.12, InvalidImage.DiskAmountOrSize beyond these).
constexpr size_t kMaxExportDataDisks = 4;
constexpr uint64_t kMaxExportDataDiskGiB = 500;

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

// ---------------------------------------------------------------- ImportImage

Result<ImportImageResult> RegionImpl::ImportImage(const Caller& c, const ImportImageRequest& r) {
  if (r.disks.empty()) return MissingParameter("DiskDeviceMapping.1.OSSBucket");
  if (r.disks.size() > kMaxImportDisks) {
    return InvalidArgument("InvalidParameter", "At most " + std::to_string(kMaxImportDisks) +
                                                   " DiskDeviceMapping entries are allowed, got " +
                                                   std::to_string(r.disks.size()) + ".");
  }
  std::vector<ImportDisk> disks = r.disks;
  for (size_t i = 0; i < disks.size(); ++i) {
    std::string n = "DiskDeviceMapping." + std::to_string(i + 1);
    if (disks[i].oss_bucket.empty()) return MissingParameter(n + ".OSSBucket");
    if (disks[i].oss_object.empty()) return MissingParameter(n + ".OSSObject");
    RETURN_IF_ERROR(EcsObjectStatus(ObjectStore::ValidateBucketName(disks[i].oss_bucket)));
    RETURN_IF_ERROR(EcsObjectStatus(ObjectStore::ValidateKey(disks[i].oss_object)));
    disks[i].format = Upper(disks[i].format);
    const std::string& f = disks[i].format;
    if (!(f.empty() || f == "RAW" || f == "QCOW2" || f == "VHD" || f == "VMDK")) {
      return InvalidArgument("InvalidImageFormat.Malformed",
                             "The specified format \"" + Echo(disks[i].format) + "\" of " + n +
                                 " is not supported (RAW, QCOW2, VHD, VMDK).");
    }
    if (disks[i].disk_image_size_gib > 32768) {
      return InvalidArgument("InvalidParameter", "The specified " + n + ".DiskImageSize " +
                                                     std::to_string(disks[i].disk_image_size_gib) +
                                                     " GiB is beyond the permitted range.");
    }
  }
  if (!r.image_name.empty()) RETURN_IF_ERROR(ValidateImageName(r.image_name));
  RETURN_IF_ERROR(ValidateDescription(r.description));
  std::string architecture = r.architecture.empty() ? "x86_64" : r.architecture;
  std::string os_type = r.os_type.empty() ? "linux" : Lower(r.os_type);
  std::string platform = r.platform.empty() ? "Others Linux" : r.platform;
  std::string boot_mode = r.boot_mode.empty() ? "BIOS" : r.boot_mode;
  RETURN_IF_ERROR(ValidateArchitecture(architecture));
  RETURN_IF_ERROR(ValidateOsType(os_type));
  RETURN_IF_ERROR(ValidatePlatform(platform));
  RETURN_IF_ERROR(ValidateBootMode(boot_mode));
  RETURN_IF_ERROR(ValidateLicenseType(r.license_type));
  RETURN_IF_ERROR(ValidateTags(r.tags));
  for (const ImportDisk& d : disks) {
    Result<ObjectInfo> object = oss_.HeadObject(c.account_id, d.oss_bucket, d.oss_object);
    if (!object.ok()) return EcsObjectStatus(object.status());
    // An object larger than the largest disk cannot be one (a raw image's
    // virtual size is its size); other formats are bounded by the task once
    // their virtual size is known.
    if (object->size > kMaxDiskBytes) {
      return InvalidArgument("InvalidParameter", "The OSS object " + d.oss_bucket + "/" + d.oss_object +
                                                     " holds " + std::to_string(object->size) +
                                                     " bytes, more than the largest disk image (" +
                                                     std::to_string(kMaxDiskBytes) + " bytes, 32768 GiB).");
    }
  }

  nlohmann::json disks_json = nlohmann::json::array();
  for (const ImportDisk& d : disks) {
    disks_json.push_back({{"OSSBucket", d.oss_bucket},
                          {"OSSObject", d.oss_object},
                          {"Format", d.format},
                          {"DiskImageSize", d.disk_image_size_gib}});
  }
  std::string fingerprint = Fingerprint({{"Disks", disks_json},
                                         {"ImageName", r.image_name},
                                         {"Description", r.description},
                                         {"Architecture", architecture},
                                         {"OSType", os_type},
                                         {"Platform", platform},
                                         {"BootMode", boot_mode},
                                         {"LicenseType", r.license_type},
                                         {"Encrypted", r.encrypted},
                                         {"Tags", TagsJson(r.tags)}});

  if (r.dry_run) {
    ASSIGN_OR_RETURN(bool taken, NameTaken(c.account_id, r.image_name, ""));
    if (taken) {
      return AlreadyExists("InvalidImageName.Duplicated",
                           "The image name \"" + Echo(r.image_name) + "\" is already in use.");
    }
    return DryRunPassed();
  }
  if (stopping()) return Unavailable("region " + config_.region_id + " is shutting down");
  // The snapshots will hold about the sources' data again.
  ASSIGN_OR_RETURN(uint64_t source_bytes, ImportSourceBytes(c, disks));
  RETURN_IF_ERROR(CheckStorageQuota(oss_, c.account_id, source_bytes));

  const UnixSeconds now = clock_.Now();
  ImageRecord image;
  image.image_id = NewResourceId("m");
  image.account_id = c.account_id;
  image.name = r.image_name;
  image.description = r.description;
  image.status = "Creating";
  image.progress = 0;
  image.os_type = os_type;
  image.os_name = platform;
  image.platform = platform;
  image.architecture = architecture;
  image.boot_mode = boot_mode;
  image.license_type = r.license_type;
  image.tags = r.tags;
  image.creation_time = now;
  std::vector<SnapshotRecord> snapshots;
  for (size_t i = 0; i < disks.size(); ++i) {
    SnapshotRecord s;
    s.snapshot_id = NewResourceId("s");
    s.account_id = c.account_id;
    s.description = "Created for importing image " + image.image_id;
    s.status = "progressing";
    s.source_disk_size_gib = disks[i].disk_image_size_gib;
    s.source_disk_type = i == 0 ? "system" : "data";
    s.usage = "image";
    s.encrypted = r.encrypted;
    s.source_region_id = config_.region_id;
    s.creation_time = now;
    s.last_modified_time = now;
    snapshots.push_back(s);
    DiskMapping m;
    m.snapshot_id = s.snapshot_id;
    m.size_gib = disks[i].disk_image_size_gib;
    m.device = std::string("/dev/xvd") + static_cast<char>('a' + i);
    m.type = s.source_disk_type;
    m.format = disks[i].format;
    m.import_bucket = disks[i].oss_bucket;
    m.import_object = disks[i].oss_object;
    image.disks.push_back(m);
    disks_json[i]["SnapshotId"] = s.snapshot_id;
  }
  TaskRecord task;
  task.task_id = NewResourceId("t");
  task.account_id = c.account_id;
  task.action = "ImportImage";
  task.status = "Processing";
  task.resource_id = image.image_id;
  task.params = nlohmann::json{
      {"OSSBucket", disks[0].oss_bucket},
      {"OSSObject", disks[0].oss_object},
      {"ImageFormat", disks[0].format},
      {"Disks",
       disks_json}}.dump();
  task.creation_time = now;

  ImportImageResult result{image.image_id, task.task_id};
  bool replayed = false;
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    ASSIGN_OR_RETURN(std::optional<std::string> previous,
                     CheckClientToken(*catalog_, c.account_id, "ImportImage", r.client_token, fingerprint));
    if (previous) {
      size_t slash = previous->find('/');
      result = ImportImageResult{previous->substr(0, slash),
                                 slash == std::string::npos ? "" : previous->substr(slash + 1)};
      replayed = true;
      return Status::Ok();
    }
    RETURN_IF_ERROR(CheckCountQuotas(*catalog_, config_.quotas, c.account_id,
                                     QuotaUsage{1, snapshots.size(), 1, 0}, "ImportImage"));
    for (const SnapshotRecord& s : snapshots) RETURN_IF_ERROR(catalog_->InsertSnapshot(s));
    RETURN_IF_ERROR(catalog_->InsertImage(image));
    RETURN_IF_ERROR(catalog_->InsertTask(task));
    if (!r.client_token.empty()) {
      RETURN_IF_ERROR(catalog_->PutClientToken(c.account_id, "ImportImage", r.client_token,
                                               {fingerprint, image.image_id + "/" + task.task_id}));
    }
    return Status::Ok();
  }));
  if (!replayed) {
    // Staging objects (the CLI's uploads) are deleted when this task ends.
    for (const ImportDisk& d : disks) {
      Status claimed = oss_.ClaimStaging(c.account_id, d.oss_bucket, d.oss_object, task.task_id);
      if (!claimed.ok()) {
        spdlog::warn("region {}: staging object {}/{} not claimed by task {}: {}", config_.region_id,
                     d.oss_bucket, d.oss_object, task.task_id, claimed.ToString());
      }
    }
    Enqueue(task.task_id);
  }
  return result;
}

// ------------------------------------------------------------- DescribeImages

Result<Page<ImageRecord>> RegionImpl::DescribeImages(const Caller& c, const DescribeImagesRequest& r) {
  RETURN_IF_ERROR(ValidatePage(r.page_number, r.page_size));
  ImageQuery q;
  q.account_id = c.account_id;
  if (r.owner_alias.empty()) {
    q.include_system = q.include_self = q.include_shared = true;
  } else if (r.owner_alias == "system") {
    q.include_system = true;
    q.include_self = false;
  } else if (r.owner_alias == "self") {
    q.include_system = false;
    q.include_self = true;
  } else if (r.owner_alias == "others") {
    q.include_system = q.include_self = false;
    q.include_shared = true;  // no community images here
  } else if (r.owner_alias == "marketplace") {
    return Page<ImageRecord>{};  // no marketplace
  } else {
    return InvalidArgument(
        "InvalidImageOwnerAlias.ValueNotSupported",
        "The specified ImageOwnerAlias value \"" + Echo(r.owner_alias) + "\" is not supported.");
  }
  q.statuses = r.statuses.empty() ? std::vector<std::string>{"Available"} : r.statuses;
  for (const std::string& s : q.statuses) {
    if (!IsImageStatus(s)) {
      return InvalidArgument("InvalidParameter",
                             "The specified parameter \"Status\" has an unknown value \"" + Echo(s) +
                                 "\" (Creating, Waiting, Available, UnAvailable, "
                                 "CreateFailed, Deprecated).");
    }
  }
  q.image_id = r.image_id;
  q.name_contains = r.image_name;
  q.snapshot_id = r.snapshot_id;
  q.tags = r.tags;
  q.offset = (r.page_number - 1) * r.page_size;
  q.limit = r.page_size;
  q.fill_view = true;
  ASSIGN_OR_RETURN(Page<ImageRecord> page, catalog_->ListImages(q));
  FillCopyProgress(page.items);
  HideOwnerPrivate(c, page.items);
  return page;
}

// ------------------------------------------------------- ModifyImageAttribute

Status RegionImpl::ModifyImageAttribute(const Caller& c, const ModifyImageAttributeRequest& r) {
  if (r.image_id.empty()) return MissingParameter("ImageId");
  auto given = [](const std::optional<std::string>& v) { return v.has_value() && !v->empty(); };
  if (given(r.image_name)) RETURN_IF_ERROR(ValidateImageName(*r.image_name));
  if (given(r.description)) RETURN_IF_ERROR(ValidateDescription(*r.description));
  if (given(r.image_family))
    RETURN_IF_ERROR(ValidateImageName(*r.image_family, "InvalidImageFamily.Malformed"));
  if (given(r.boot_mode) && !ValidateBootMode(*r.boot_mode).ok()) {
    return InvalidArgument("InvalidBootMode.NotSupport",
                           "The specified BootMode \"" + Echo(*r.boot_mode) +
                               "\" is not supported (BIOS, UEFI, UEFI-Preferred).");
  }
  if (given(r.license_type) && !ValidateLicenseType(*r.license_type).ok()) {
    return InvalidArgument("InvalidLicenseType.NotSupported",
                           "The specified LicenseType \"" + Echo(*r.license_type) + "\" is not supported.");
  }
  if (given(r.status) && *r.status != "Deprecated" && *r.status != "Available") {
    return InvalidArgument("InvalidParameter",
                           "The specified parameter \"Status\" must be Deprecated or Available, got \"" +
                               Echo(*r.status) + "\".");
  }
  return catalog_->Transact([&]() -> Status {
    Result<ImageRecord> got = catalog_->GetImage(r.image_id);
    if (!got.ok()) {
      if (got.status().code() == Code::kNotFound) return ImageNotFound(r.image_id);
      return got.status();
    }
    ImageRecord image = std::move(got).value();
    RETURN_IF_ERROR(CheckOwner(c, image));
    if (image.status == "Creating" || image.status == "Waiting") {
      return FailedPrecondition(
          "InvalidStatus.ImageIsCreating",
          "The operation cannot be performed because the image is creating. Please wait until "
          "the creation is complete and try again.");
    }
    if (given(r.image_name) && *r.image_name != image.name) {
      ASSIGN_OR_RETURN(bool taken, NameTaken(c.account_id, *r.image_name, image.image_id));
      if (taken) {
        return AlreadyExists("InvalidImageName.Duplicated",
                             "The image name \"" + Echo(*r.image_name) + "\" is already in use.");
      }
      image.name = *r.image_name;
    }
    if (given(r.description)) image.description = *r.description;
    if (given(r.image_family)) image.image_family = *r.image_family;
    if (given(r.boot_mode)) image.boot_mode = *r.boot_mode;
    if (given(r.license_type)) image.license_type = *r.license_type;
    if (given(r.status)) {
      if (*r.status == "Deprecated" && image.status != "Available" && image.status != "Deprecated") {
        return FailedPrecondition("ImageStatus.NotAvailable", "The specified image status is not available.");
      }
      if (*r.status == "Deprecated" && image.status != "Deprecated") {
        ASSIGN_OR_RETURN(bool shared, HasShares(image.image_id));
        if (shared) {
          return PermissionDenied("ImageUseShared",
                                  "The specified image has been shared to others, please remove shared "
                                  "accounts first.");
        }
      }
      if (*r.status == "Available" && image.status != "Deprecated" && image.status != "Available") {
        return FailedPrecondition("ImageStatus.NotDeprecated",
                                  "The specified image status is not deprecated.");
      }
      image.status = *r.status;
    }
    return catalog_->UpdateImage(image);
  });
}

// ---------------------------------------------------------------- DeleteImage

Status RegionImpl::DeleteImage(const Caller& c, const std::string& image_id, bool force) {
  if (image_id.empty()) return MissingParameter("ImageId");
  // Held to the end, so no copy of the image can start (take its lease)
  // between the lease check and the deletion.
  std::lock_guard<std::mutex> copy_lock(copy_mu_);
  ASSIGN_OR_RETURN(const bool source_of_copy, SourceOfLiveCopyLocked(image_id));
  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    Result<ImageRecord> got = catalog_->GetImage(image_id);
    if (!got.ok()) {
      if (got.status().code() == Code::kNotFound) return ImageNotFound(image_id);
      return got.status();
    }
    const ImageRecord& image = *got;
    RETURN_IF_ERROR(CheckOwner(c, image));
    if (image.is_copied && (image.status == "Creating" || image.status == "Waiting")) {
      return FailedPrecondition("OperationDenied.ImageCopying",
                                "The image is being copied. Please use the CancelCopyImage API.");
    }
    // The source of a running copy: deleting it would fail the copy.
    if (source_of_copy) {
      return FailedPrecondition(
          "OperationDenied.ImageCopying",
          "The image \"" + Echo(image_id) + "\" is currently being copied. Please try again later.");
    }
    ASSIGN_OR_RETURN(bool shared, HasShares(image_id));
    if (shared) {
      return PermissionDenied("ImageUseShared",
                              "The specified image has been shared to others. You can use the "
                              "DescribeImageSharePermission API to query the users who have been shared.");
    }
    ASSIGN_OR_RETURN(bool importing, HasProcessingTask(image_id, "ImportImage"));
    if (importing) return FailedPrecondition("ImageIsImporting", "The specified Image is importing.");
    ASSIGN_OR_RETURN(bool exporting, HasProcessingTask(image_id, "ExportImage"));
    if (exporting) {
      return FailedPrecondition(
          "ImageIsExporting",
          "The specified image is currently being exported. You can use the DescribeTasks API "
          "to check the status of related tasks and cancel them if needed.");
    }
    if (image.status == "Creating" || image.status == "Waiting") {
      return FailedPrecondition("ImageIsCreating", "The specified image is being created.");
    }
    // Instances of any account count (a recipient's, made while the image
    // was shared), and the message names none of them. With Force the
    // instances keep their disks: a base file stays while a disk needs it.
    if (!force) {
      InstanceQuery users;
      users.image_id = image_id;
      users.limit = 1;
      ASSIGN_OR_RETURN(Page<InstanceRecord> used, catalog_->ListInstances(users));
      if (used.total > 0 || !used.items.empty()) {
        return PermissionDenied("ImageUsingByInstance",
                                "The specified image has been used to create instances. You can use the "
                                "DescribeInstances API to query these instances, or you can use the force "
                                "parameter to proceed.");
      }
    }
    return catalog_->DeleteImage(image_id);
  }));
  RequestGc();
  return Status::Ok();
}

// ---------------------------------------------------------------- ExportImage

Result<std::string> RegionImpl::ExportImage(const Caller& c, const ExportImageRequest& r) {
  if (r.image_id.empty()) return MissingParameter("ImageId");
  if (r.oss_bucket.empty()) return MissingParameter("OSSBucket");
  bool prefix_ok = r.oss_prefix.size() <= 30;
  for (char ch : r.oss_prefix) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) prefix_ok = false;
  }
  if (!prefix_ok) {
    return InvalidArgument("InvalidOSSPrefix.Malformed", "The specified OSSPrefix \"" + Echo(r.oss_prefix) +
                                                             "\" must be 1 to 30 letters or digits.");
  }
  std::string format = r.image_format.empty() ? "raw" : Lower(r.image_format);
  if (format != "raw" && format != "qcow2" && format != "vhd" && format != "vmdk" && format != "vdi") {
    return InvalidArgument("InvalidImageFormat.Malformed", "The specified ImageFormat \"" +
                                                               Echo(r.image_format) +
                                                               "\" is not supported (raw, qcow2, vhd, "
                                                               "vmdk, vdi).");
  }
  RETURN_IF_ERROR(EcsObjectStatus(oss_.GetBucket(c.account_id, r.oss_bucket).status()));
  if (stopping()) return Unavailable("region " + config_.region_id + " is shutting down");
  if (Result<ImageRecord> to_export = catalog_->GetImage(r.image_id);
      to_export.ok() && to_export->account_id == c.account_id) {
    // The exported file stores about the image's data again, in the bucket.
    RETURN_IF_ERROR(CheckStorageQuota(oss_, c.account_id, ImageDataBytes(*to_export)));
  }

  TaskRecord task;
  task.task_id = NewResourceId("t");
  task.account_id = c.account_id;
  task.action = "ExportImage";
  task.status = "Processing";
  task.resource_id = r.image_id;
  task.creation_time = clock_.Now();
  const std::string stem = (r.oss_prefix.empty() ? "" : r.oss_prefix + "_") + r.image_id + "_" + task.task_id;

  RETURN_IF_ERROR(catalog_->Transact([&]() -> Status {
    Result<ImageRecord> got = catalog_->GetImage(r.image_id);
    if (!got.ok()) {
      if (got.status().code() == Code::kNotFound) return ImageNotFound(r.image_id);
      return got.status();
    }
    const ImageRecord& image = *got;
    if (image.account_id == kSystemAccountId && c.account_id != kSystemAccountId) {
      return InvalidArgument("ImageNotSupported",
                             "The specified image \"" + Echo(r.image_id) +
                                 "\" is a public image; only custom images can be exported.");
    }
    RETURN_IF_ERROR(CheckOwner(c, image));
    if (image.status != "Available" || image.disks.empty()) {
      return InvalidArgument("IncorrectImageStatus",
                             "The specified Image is not available (status " + image.status + ").");
    }
    // ECS 4.12: at most four data disks, none over 500 GiB.
    if (image.disks.size() - 1 > kMaxExportDataDisks) {
      return InvalidArgument("InvalidImage.DiskAmountOrSize",
                             "The image \"" + Echo(r.image_id) + "\" has " +
                                 std::to_string(image.disks.size() - 1) +
                                 " data disks; an image with more than four cannot be exported.");
    }
    for (size_t i = 1; i < image.disks.size(); ++i) {
      if (image.disks[i].size_gib > kMaxExportDataDiskGiB) {
        return InvalidArgument("InvalidImage.DiskAmountOrSize",
                               "The data disk " + image.disks[i].device + " of image \"" + Echo(r.image_id) +
                                   "\" is " + std::to_string(image.disks[i].size_gib) +
                                   " GiB; an image with a data disk over 500 GiB cannot be exported.");
      }
    }
    for (const DiskMapping& d : image.disks) {
      ASSIGN_OR_RETURN(SnapshotRecord snap, catalog_->GetSnapshot(d.snapshot_id));
      if (snap.encrypted) {
        return InvalidArgument("ImageNotSupported",
                               "The specified image \"" + Echo(r.image_id) +
                                   "\" contains encrypted snapshots and cannot be exported.");
      }
    }
    // The system disk is OSSObject; each data disk an object of its own
    // beside it, <stem>_data<N>.<format> in the image's disk order.
    nlohmann::json params{
        {"OSSBucket", r.oss_bucket}, {"OSSObject", stem + "." + format}, {"ImageFormat", format}};
    if (image.disks.size() > 1) {
      nlohmann::json data_objects = nlohmann::json::array();
      for (size_t i = 1; i < image.disks.size(); ++i)
        data_objects.push_back(stem + "_data" + std::to_string(i) + "." + format);
      params["DataDiskOSSObjects"] = std::move(data_objects);
    }
    task.params = params.dump();
    ASSIGN_OR_RETURN(bool exporting, HasProcessingTask(r.image_id, "ExportImage"));
    if (exporting) {
      return FailedPrecondition("ImageIsExporting", "The specified image \"" + Echo(r.image_id) +
                                                        "\" is currently being exported.");
    }
    RETURN_IF_ERROR(
        CheckCountQuotas(*catalog_, config_.quotas, c.account_id, QuotaUsage{0, 0, 1, 0}, "ExportImage"));
    return catalog_->InsertTask(task);
  }));
  Enqueue(task.task_id);
  return task.task_id;
}

}  // namespace ferry
