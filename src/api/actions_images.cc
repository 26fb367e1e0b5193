// Image actions: ImportImage, DescribeImages, ModifyImageAttribute,
// DeleteImage, CreateImage, ExportImage.
#include <algorithm>
#include <cctype>
#include <iterator>
#include <limits>
#include <optional>
#include <set>

#include "api/actions_internal.h"
#include "api/views.h"
#include "common/clock.h"

namespace ferry::actions {
namespace {

using nlohmann::json;

// DiskDeviceMapping.N: N = 1..17 (ImportImage: 1 is the system disk, 2..17
// data disks; CreateImage: one system disk and up to 16 data disks).
constexpr int kMaxDiskMappings = 17;

std::string Upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

Status ValidateBootMode(const Params& params) {
  std::optional<std::string> mode = params.Get("BootMode");
  if (!mode || *mode == "BIOS" || *mode == "UEFI" || *mode == "UEFI-Preferred") return Status::Ok();
  return InvalidArgument(
      "InvalidBootMode.NotSupport",
      "The specified BootMode \"" + Echo(*mode) + "\" is not supported; use BIOS, UEFI or UEFI-Preferred.");
}

Result<ImportDisk> ParseImportDisk(const Params& params, int n) {
  const std::string prefix = "DiskDeviceMapping." + std::to_string(n) + ".";
  ImportDisk disk;
  ASSIGN_OR_RETURN(disk.oss_bucket, params.Required(prefix + "OSSBucket"));
  ASSIGN_OR_RETURN(disk.oss_object, params.Required(prefix + "OSSObject"));
  disk.format = Upper(params.GetOr(prefix + "Format", ""));
  if (!disk.format.empty() && disk.format != "RAW" && disk.format != "QCOW2" && disk.format != "VHD" &&
      disk.format != "VMDK") {
    return InvalidArgument("InvalidImageFormat.Malformed",
                           "The specified " + prefix + "Format \"" + Echo(disk.format) +
                               "\" is not valid; use RAW, QCOW2, VHD or VMDK, or leave it empty to detect.");
  }
  // DiskImSize is the deprecated spelling; DiskImageSize wins when both come.
  const std::string size_key =
      params.Has(prefix + "DiskImageSize") ? prefix + "DiskImageSize" : prefix + "DiskImSize";
  ASSIGN_OR_RETURN(int64_t size_gib, params.Int(size_key, 0, 1, 32768));
  disk.disk_image_size_gib = static_cast<uint64_t>(size_gib);
  return disk;
}

// The encrypted snapshots among the disks of `images`, as the region marked
// them (DiskMapping::encrypted), for DiskDeviceMapping.Encrypted.
std::set<std::string> EncryptedSnapshots(const std::vector<ImageRecord>& images) {
  std::set<std::string> encrypted;
  for (const ImageRecord& image : images) {
    for (const DiskMapping& disk : image.disks)
      if (disk.encrypted) encrypted.insert(disk.snapshot_id);
  }
  return encrypted;
}

// DescribeImages filters the region's query has no field for: ImageFamily,
// OSType, Architecture and Filter.N (CreationStartTime/CreationEndTime;
// NetworkType is accepted and matches every image). With any of them set,
// the handler pages after filtering (PageAfterFilter).
struct ImagePostFilter {
  std::string image_family;
  std::string os_type;  // lower case
  std::string architecture;
  CreationFilter created;

  bool active() const {
    return !image_family.empty() || !os_type.empty() || !architecture.empty() || created.active();
  }
  bool Matches(const ImageRecord& image) const {
    if (!image_family.empty() && image.image_family != image_family) return false;
    if (!os_type.empty() && AsciiLower(image.os_type) != os_type) return false;
    if (!architecture.empty() && image.architecture != architecture) return false;
    return created.Matches(image.creation_time);
  }
};

Result<ImagePostFilter> ParseImagePostFilter(const Params& p) {
  ImagePostFilter f;
  f.image_family = p.GetOr("ImageFamily", "");
  f.os_type = AsciiLower(p.GetOr("OSType", ""));
  if (!f.os_type.empty() && f.os_type != "linux" && f.os_type != "windows") {
    return NotFound("InvalidOSType",
                    "The specified OSType \"" + Echo(f.os_type) + "\" is not valid; use linux or windows.");
  }
  f.architecture = p.GetOr("Architecture", "");
  if (!f.architecture.empty() && f.architecture != "i386" && f.architecture != "x86_64" &&
      f.architecture != "arm64") {
    return NotFound("InvalidArchitecture", "The specified Architecture \"" + Echo(f.architecture) +
                                               "\" is not valid; use i386, x86_64 or arm64.");
  }
  ASSIGN_OR_RETURN(f.created, ParseCreationFilter(p, {"NetworkType"}));
  return f;
}

// Mutations apply to the caller's own images only, as the region decides
// for the real request: an image shared with the caller is refused (403),
// another account's image is reported as missing rather than revealed.
Result<ImageRecord> FindOwnImage(Region& region, const Caller& caller, const std::string& image_id) {
  ASSIGN_OR_RETURN(ImageRecord image, FindVisibleImage(region, caller, image_id));
  if (ImageOwnerAlias(image.account_id, caller.account_id) == "others") {
    return PermissionDenied("Forbidden", "User not authorized to operate on the specified resource: image " +
                                             image_id + " is shared with this account by its owner.");
  }
  if (image.account_id != caller.account_id) {
    return NotFound("InvalidImageId.NotFound", "The specified ImageId \"" + Echo(image_id) +
                                                   "\" is not a custom image of this account.");
  }
  return image;
}

}  // namespace

Result<json> ImportImage(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  ImportImageRequest request;
  ASSIGN_OR_RETURN(std::vector<int> indexes, ObjectListIndexes(p, "DiskDeviceMapping", kMaxDiskMappings));
  if (indexes.empty() || indexes.front() != 1) {
    // Reports the first thing a well-formed request must carry.
    RETURN_IF_ERROR(p.Required("DiskDeviceMapping.1.OSSBucket").status());
    RETURN_IF_ERROR(p.Required("DiskDeviceMapping.1.OSSObject").status());
  }
  for (int n : indexes) {
    ASSIGN_OR_RETURN(ImportDisk disk, ParseImportDisk(p, n));
    request.disks.push_back(std::move(disk));
  }
  request.image_name = p.GetOr("ImageName", "");
  request.description = p.GetOr("Description", "");
  request.architecture = p.GetOr("Architecture", "");
  request.os_type = p.GetOr("OSType", "");
  request.platform = p.GetOr("Platform", "");
  RETURN_IF_ERROR(ValidateBootMode(p));
  request.boot_mode = p.GetOr("BootMode", "");
  request.license_type = p.GetOr("LicenseType", "");
  ASSIGN_OR_RETURN(request.encrypted, p.Bool("Encrypted", false));
  ASSIGN_OR_RETURN(request.tags, p.TagList());
  ASSIGN_OR_RETURN(request.client_token, p.ClientToken());
  ASSIGN_OR_RETURN(request.dry_run, p.Bool("DryRun", false));

  // The region validates what only it can know (buckets, objects, names)
  // even for a dry run.
  ASSIGN_OR_RETURN(ImportImageResult result, region->ImportImage(ctx.caller, request));
  if (request.dry_run) return DryRunPassed();
  return json{{"ImageId", result.image_id}, {"RegionId", region->id()}, {"TaskId", result.task_id}};
}

Result<json> DescribeImages(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  DescribeImagesRequest request;
  request.image_id = p.GetOr("ImageId", "");
  request.image_name = p.GetOr("ImageName", "");
  request.statuses = p.CommaList("Status");
  request.owner_alias = p.GetOr("ImageOwnerAlias", "");
  if (!request.owner_alias.empty() && request.owner_alias != "system" && request.owner_alias != "self" &&
      request.owner_alias != "others" && request.owner_alias != "marketplace") {
    return InvalidArgument("InvalidImageOwnerAlias.ValueNotSupported",
                           "The specified ImageOwnerAlias value \"" + Echo(request.owner_alias) +
                               "\" is not supported; use system, self, others or marketplace.");
  }
  request.snapshot_id = p.GetOr("SnapshotId", "");
  ASSIGN_OR_RETURN(request.tags, p.TagList());
  ASSIGN_OR_RETURN(ImagePostFilter filter, ParseImagePostFilter(p));
  ASSIGN_OR_RETURN(Paging paging, PagingParams(p));
  request.page_number = paging.page_number;
  request.page_size = paging.page_size;
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  if (dry_run) return DryRunPassed();

  Page<ImageRecord> page;
  if (filter.active()) {
    auto fetch = [&](uint64_t number, uint64_t size) {
      DescribeImagesRequest all = request;
      all.page_number = number;
      all.page_size = size;
      return region->DescribeImages(ctx.caller, all);
    };
    auto keep = [&](const ImageRecord& image) { return filter.Matches(image); };
    ASSIGN_OR_RETURN(page, PageAfterFilter<ImageRecord>(fetch, keep, paging));
  } else {
    ASSIGN_OR_RETURN(page, region->DescribeImages(ctx.caller, request));
  }
  ImageViewOptions options;
  options.caller_account_id = ctx.caller.account_id;
  options.encrypted_snapshot_ids = EncryptedSnapshots(page.items);
  // Written straight to the body: a tree of 100 images cost more than the
  // rest of the request.
  ctx.rendered_body = DescribeImagesBody(ctx.format, ctx.request_id, region->id(), page, paging.page_number,
                                         paging.page_size, options);
  return json::object();
}

Result<json> ModifyImageAttribute(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  ModifyImageAttributeRequest request;
  ASSIGN_OR_RETURN(request.image_id, p.Required("ImageId"));
  // Absent or empty means "keep", as ECS documents.
  request.image_name = p.Get("ImageName");
  request.description = p.Get("Description");
  request.status = p.Get("Status");
  request.image_family = p.Get("ImageFamily");
  RETURN_IF_ERROR(ValidateBootMode(p));
  request.boot_mode = p.Get("BootMode");
  request.license_type = p.Get("LicenseType");
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  if (dry_run) {
    RETURN_IF_ERROR(FindOwnImage(*region, ctx.caller, request.image_id).status());
    return DryRunPassed();
  }
  RETURN_IF_ERROR(region->ModifyImageAttribute(ctx.caller, request));
  return json::object();
}

Result<json> DeleteImage(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  ASSIGN_OR_RETURN(std::string image_id, p.Required("ImageId"));
  ASSIGN_OR_RETURN(bool force, p.Bool("Force", false));
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  if (dry_run) {
    RETURN_IF_ERROR(FindOwnImage(*region, ctx.caller, image_id).status());
    return DryRunPassed();
  }
  RETURN_IF_ERROR(region->DeleteImage(ctx.caller, image_id, force));
  return json::object();
}

Result<json> CreateImage(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  CreateImageRequest request;
  // ECS's priority: InstanceId, then DiskDeviceMapping, then SnapshotId.
  ASSIGN_OR_RETURN(std::vector<int> indexes, ObjectListIndexes(p, "DiskDeviceMapping", kMaxDiskMappings));
  if (std::optional<std::string> instance_id = p.Get("InstanceId"); instance_id && !instance_id->empty()) {
    request.instance_id = *instance_id;
  } else if (!indexes.empty()) {
    // The region checks the mappings (region_create_image.cc).
    for (int n : indexes) {
      const std::string prefix = "DiskDeviceMapping." + std::to_string(n) + ".";
      ImageDiskRequest disk;
      disk.n = n;
      disk.snapshot_id = p.GetOr(prefix + "SnapshotId", "");
      if (p.Get(prefix + "Size")) {
        Result<int64_t> size = p.Int(prefix + "Size", 0, 1, std::numeric_limits<int32_t>::max());
        if (!size.ok()) {
          return InvalidArgument("InvalidSize.ValueNotSupported",
                                 "The specified parameter " + prefix + "Size beyond the permitted range: \"" +
                                     p.GetOr(prefix + "Size", "") + "\" is not a whole number of GiB.");
        }
        disk.size_gib = static_cast<uint64_t>(*size);
      }
      disk.device = p.GetOr(prefix + "Device", "");
      disk.disk_type = p.GetOr(prefix + "DiskType", "");
      request.disk_mappings.push_back(std::move(disk));
    }
  } else if (std::optional<std::string> snapshot_id = p.Get("SnapshotId")) {
    request.snapshot_id = *snapshot_id;
  } else {
    return InvalidArgument(
        "MissingParameter",
        "The input parameter SnapshotId or InstanceId or DiskDeviceMapping that is mandatory "
        "for processing this request is not supplied.");
  }
  request.image_name = p.GetOr("ImageName", "");
  request.description = p.GetOr("Description", "");
  request.platform = p.GetOr("Platform", "");
  request.architecture = p.GetOr("Architecture", "");
  RETURN_IF_ERROR(ValidateBootMode(p));
  request.boot_mode = p.GetOr("BootMode", "");
  request.image_family = p.GetOr("ImageFamily", "");
  request.image_version = p.GetOr("ImageVersion", "");
  ASSIGN_OR_RETURN(request.tags, p.TagList());
  ASSIGN_OR_RETURN(request.client_token, p.ClientToken());
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  if (dry_run && !request.instance_id.empty()) {
    DescribeInstancesRequest lookup;
    lookup.instance_ids = std::vector<std::string>{request.instance_id};
    ASSIGN_OR_RETURN(Page<InstanceRecord> found, region->DescribeInstances(ctx.caller, lookup));
    if (found.items.empty()) {
      return NotFound("InvalidInstanceId.NotFound", "The specified InstanceId \"" +
                                                        Echo(request.instance_id) +
                                                        "\" does not exist in region " + region->id() + ".");
    }
    return DryRunPassed();
  }
  // From snapshots, the region checks everything the real call would
  // (DryRunOperation when it passes).
  request.dry_run = dry_run;
  ASSIGN_OR_RETURN(std::string image_id, region->CreateImage(ctx.caller, request));
  return json{{"ImageId", image_id}};
}

Result<json> ExportImage(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  ExportImageRequest request;
  ASSIGN_OR_RETURN(request.image_id, p.Required("ImageId"));
  ASSIGN_OR_RETURN(request.oss_bucket, p.Required("OSSBucket"));
  request.oss_prefix = p.GetOr("OSSPrefix", "");
  if (request.oss_prefix.size() > 30 || !std::all_of(request.oss_prefix.begin(), request.oss_prefix.end(),
                                                     [](unsigned char c) { return std::isalnum(c); })) {
    return InvalidArgument("InvalidOSSPrefix.Malformed", "The specified OSSPrefix \"" +
                                                             Echo(request.oss_prefix) +
                                                             "\" is not valid: use 1-30 letters and digits.");
  }
  request.image_format = AsciiLower(p.GetOr("ImageFormat", "raw"));
  const std::string& format = request.image_format;
  if (format != "raw" && format != "qcow2" && format != "vhd" && format != "vmdk" && format != "vdi") {
    return InvalidArgument("InvalidImageFormat.Malformed",
                           "The specified ImageFormat \"" + Echo(format) +
                               "\" is not supported; use raw, qcow2, vhd, vmdk or vdi.");
  }
  // RoleName is accepted and ignored: Ferry's object storage has no RAM roles.
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  if (dry_run) {
    RETURN_IF_ERROR(FindOwnImage(*region, ctx.caller, request.image_id).status());
    return DryRunPassed();
  }
  ASSIGN_OR_RETURN(std::string task_id, region->ExportImage(ctx.caller, request));
  return json{{"RegionId", region->id()}, {"TaskId", task_id}};
}

}  // namespace ferry::actions
