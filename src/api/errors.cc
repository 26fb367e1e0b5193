#include "api/errors.h"

#include <algorithm>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/log_safe.h"

namespace ferry {
namespace {

// Bounds of an ECS error message a caller gets (ToEcsError).
constexpr size_t kMaxMessageBytes = 1024;
constexpr size_t kMaxStringToSignBytes = 16 << 10;

struct CodeInfo {
  std::string_view code;
  int http_status;
  std::string_view message;  // used when the Status carries no message
};

// Every ECS error code Ferry emits or may emit, spelled exactly as Alibaba
// documents it (typos included: clients match on these strings). Where the
// documentation disagrees on the status, the value the live service is seen
// returning wins (e.g. InvalidAccessKeyId.NotFound is 404, not 400).
constexpr CodeInfo kCodes[] = {
    // Gateway-level (common) codes.
    {"MissingParameter", 400,
     "The input parameter that is mandatory for processing this request is not supplied."},
    {"InvalidParameter", 400, "The specified parameter is not valid."},
    {"InvalidParamater", 400, "The specified parameter is not valid."},
    {"InvalidParamter", 400, "Invalid Parameter."},
    {"InvalidAction.NotFound", 404, "Specified api is not found, please check your url and method."},
    {"InvalidAction", 403, "Specified action is not valid."},
    {"UnsupportedHTTPMethod", 403, "This http method is not supported."},
    {"IncompleteSignature", 400, "The request signature does not conform to Aliyun standards."},
    {"SignatureDoesNotMatch", 400, "Specified signature is not matched with our calculation."},
    {"InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."},
    {"Forbidden.AccessKeyDisabled", 403, "The Access Key is disabled."},
    {"InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."},
    {"InvalidTimeStamp.Format", 400, "Specified time stamp or date value is not well formatted."},
    {"IllegalTimestamp", 400,
     "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied."},
    {"SignatureNonceUsed", 400, "Specified signature nonce was used already."},
    {"Throttling", 400, "Request was denied due to request throttling."},
    {"Throttling.User", 400, "Request was denied due to user flow control."},
    {"Forbidden.RAM", 403,
     "User not authorized to operate on the specified resource, or this API doesn't support RAM."},
    {"Forbidden", 403, "User not authorized to operate on the specified resource."},
    {"Forbbiden", 403, "User not authorized to operate on the specified resource."},
    {"Forbidden.SubUser", 403, "The specified action is not available for you."},
    {"Forbidden.Unauthorized", 403, "A required authorization for the specified action is not supplied."},
    {"Forbidden.RiskControl", 403, "This operation is forbidden by Aliyun RiskControl system."},
    {"Forbidden.NotSupportRAM", 403, "This action does not support accessed by RAM mode."},
    {"InvalidRegionId.NotFound", 404, "The specified RegionId does not exist."},
    {"InvalidImageId.NotFound", 404, "The specified ImageId does not exist."},
    {"InvalidSnapshotId.NotFound", 404, "The specified SnapshotId does not exist."},
    {"InvalidInstanceId.NotFound", 404, "The specified InstanceId does not exist."},
    {"InvalidDiskId.NotFound", 404, "The specified disk does not exist."},
    {"InvalidResourceId.NotFound", 404, "The specified ResourceIds are not found in our records."},
    {"OperationConflict", 409, "Request was denied due to conflict with a previous request."},
    {"InternalError", 500,
     "The request processing has failed due to some unknown error, exception or failure."},
    {"ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server."},
    {"DryRunOperation", 400, "Request validation has been passed with DryRun flag set."},
    {"IdempotentParameterMismatch", 400,
     "The specified parameters are different from before with the same ClientToken."},
    {"IdempotenceParamNotMatch", 400,
     "Request uses a client token in a previous request but is not identical."},
    // Tags (DescribeImages, CreateImage, CopyImage, ImportImage, ...).
    {"InvalidTag.Mismatch", 400, "The specified Tag.n.Key and Tag.n.Value are not match."},
    {"InvalidTagCount", 400, "The specified tags are beyond the permitted range."},
    {"InvalidTagKey.Malformed", 400, "The specified Tag.n.Key is not valid."},
    {"InvalidTagValue.Malformed", 400, "The specified Tag.n.Value is not valid."},
    // CopyImage.
    {"InvalidImageName.Malformed", 400, "The specified image name is wrongly formed."},
    {"InvalidDescription.Malformed", 400, "The specified description is wrongly formed."},
    {"SourceRegion.NotFound", 400, "The source region not found."},
    {"DestinationRegion.NotFound", 400, "The destination region not found."},
    {"IncorrectImageStatus", 400, "The image not available."},
    {"InvalidImageName.Duplicated", 400, "The specified image name is already in use."},
    // Ferry's own (CreateAccount): account names are unique in the cluster.
    {"InvalidAccountName.Duplicated", 400, "The specified account name is already in use."},
    {"InvalidParameter.EncryptedIllegal", 400,
     "The specified parameter Encrypted must be true when kmsKeyId is not empty."},
    {"InvalidEncrypted.NotMatchKmsKeyId", 400,
     "The specified parameter Encrypted must be true when KmsKeyId is not empty."},
    {"InvalidEncrypted.NotMatchEncryptAlgorithm", 400, "The specified parameter Encrypted is not valid."},
    {"InvalidEncryptAlgorithm", 400, "The specified EncryptAlgorithm is not valid."},
    {"OperationDenied.CommunityImage", 400, "Community image does not support copy."},
    {"OperationDenied.ImageCopyConflict", 400,
     "The same image cannot be copied concurrently. Please wait until the last copy is completed before "
     "performing the next operation."},
    {"InvalidParameter.KmsNotEnabled", 400, "The specified operation need enable KMS."},
    {"Account.Arrearage", 400, "Your account has an outstanding payment."},
    {"InvalidAliUid.IsNull", 401, "The aliUid must not be null."},
    {"QuotaExceed.Image", 403, "The Image Quota exceeds."},
    {"QuotaExceed.Snapshot", 403, "The snapshot quota exceeds."},
    {"OperationDenied.ImageCopying", 403, "The image is currently being copied. Please try again later."},
    {"RegionNotSupportCopy", 403, "The region not support copy."},
    {"InvalidSnapshot.TooOld", 403,
     "This operation is denied because the specified snapshot is created before 2013-07-15."},
    {"OperationDenied", 403, "The specified snapshot is not allowed to create image."},
    {"IncorrectDestinationRegion", 403, "The destination region is not equal the target region."},
    {"OperationDeined.EncryptedSnapshot", 403,
     "The image contains encrypted snapshots, which do not support copying."},
    {"OperationDenied.EncryptSnapshotAcrossRegion", 403,
     "The image do not contain encrypted snapshots, which do not support copying to encrypted ones."},
    {"OperationDenied.SameRegionOnly", 403,
     "The image shared from others can not be copied to another region directly."},
    {"OperationDenied.NotPublished", 403,
     "The operation is denied because corresponding marketplace image is not published in destination "
     "region."},
    {"OperationDenied.NotAuthorized", 403,
     "The operation is denied because corresponding marketplace image is not authorized to current user."},
    {"SizeExceed.Image", 403, "The image exceeds the maximum size."},
    {"OperationDenied.NonCompliantDestinationRegion", 403,
     "The copy operation to the destination region is not in compliance with regulations."},
    {"InvalidParameter.KMSKeyId.KMSUnauthorized", 403, "ECS service have no right to access your KMS."},
    {"InvalidParameter.KMSKeyId.CMKNotEnabled", 403,
     "The CMK (Customer Master Key) must be in an active state."},
    {"InvalidParameter.KMSKeyId.CMKUnauthorized", 403, "This operation for kmsKeyId is forbidden by KMS."},
    {"OperationDenied.KmsServiceUnauthorized", 403, "KMS service is not authorized."},
    {"InvalidRegion.NotSupport", 403, "The specified region does not support byok."},
    {"UserNotInTheWhiteList", 403, "The user is not in byok white list."},
    {"InvalidRegionId.NotSupportEncryptAlgorithm", 403,
     "The specified region does not support the algorithm."},
    {"InvalidEncrypted.NotMatchDiskDefaultEncryption", 403,
     "The specified parameter Encrypted is not valid."},
    {"InvalidParameter.DataEncryptedKeyCreateFailed", 403, "Create kms data encrypted key failed."},
    {"InvalidOperation.VhdImageUnsupported", 403, "The operation is not supported for VHD images."},
    {"InvalidOperation.CloudBoxImageCopyUnsupported", 403,
     "The operation is not supported for CloudBox images."},
    {"InvalidParameter.KMSKeyId.NotFound", 404, "The specified KMSKeyId does not exist."},
    {"InvalidResourceGroup.NotFound", 404, "The ResourceGroup provided does not exist in our records."},
    {"InvalidOperation.Conflict", 409,
     "Request was denied due to conflict with a previous request, please try again later."},
    // CancelCopyImage.
    {"ImageCreatedNotFromCopy", 400, "The specified image is not the target image of a copy action."},
    {"CancelNotSupported", 400, "The specified image coping can not be cancelled."},
    // DescribeImages / DescribeImageSupportInstanceTypes.
    {"InvalidImageOwnerAlias.ValueNotSupported", 400,
     "The specified ImageOwnerAlias value is not supported."},
    {"InvalidInstanceType.ValueNotSupported", 400, "The specified InstanceType does not exist."},
    {"InvalidFilterValue.NetworkType", 400, "The specified network type is not valid."},
    {"InvalidOperation.ImageOwnerIdUnsupported", 400, "The specified ImageOwnerId is not supported."},
    {"InvalidImageOwnerAlias.PublicImageUnsupported", 400, "The specified ImageOwnerAlias is not supported."},
    {"CurrentAccount.NotSupportPublicImage", 403, "Public image is not supported for current account."},
    {"InvalidFilterKey.NotFound", 404, "The specified Filter Key is not found."},
    {"InvalidFilterValue", 404, "The specified Filter Value is not valid."},
    {"InvalidUsage", 404, "The specified Usage is not valid."},
    {"InvalidOSType", 404, "The specified OSType is not valid."},
    {"InvalidArchitecture", 404, "The specified Architecture is not valid."},
    // DescribeSnapshots.
    {"InvalidSnapshotIds.Malformed", 403,
     "The amount of specified specified snapshot Ids exceeds the limit."},
    {"InvalidSnapshotCategory.Malformed", 403, "The specified SnapshotCategory is not valid."},
    {"InvalidSourceDiskType", 404, "The specified SourceDiskType is not valid."},
    {"InvalidStatus.NotFound", 404, "The specified Status is not found"},
    {"InvalidSnapshotType.NotFound", 404, "The specified SnapshotType is not found."},
    {"InvalidSnapshotLinkId.NotFound", 404, "The specified SnapshotLinkId is not found."},
    // CreateImage.
    {"InvalidImageVersion.Malformed", 400, "The specified ImageVersion is wrongly formed."},
    // 403 as DeleteInstance, StartInstance, StopInstance and ReplaceSystemDisk
    // document it; 400 in CreateImage and CreateSnapshot (kActionStatuses).
    {"IncorrectInstanceStatus", 403, "The current status of the resource does not support this operation."},
    {"InstanceLockedForSecurity", 400,
     "The specified operation is denied as your instance is locked for security reasons."},
    {"InvalidDevice.Malformed", 400, "The specified device is wrongly formed."},
    {"InvalidSize.ValueNotSupported", 400, "The specified Size is not supported."},
    {"InvalidDevice.InUse", 400, "The specified device is in use."},
    {"InvalidSnapshotId.NotReady", 403, "The specified snapshot has not completed yet."},
    {"IncorrectDiskStatus", 403, "The current disk status does not support this operation."},
    {"InvalidParamter.Conflict", 403, "The specified parameters conflict."},
    {"ImageFamilyQuotaExceed", 400, "The image family quota exceeds."},
    {"ImageQuotaExceed.ImageFamily", 400, "The image family quota exceeds."},
    {"InvalidImageFamily.Malformed", 400, "The specified ImageFamily is wrongly formed."},
    // DeleteImage.
    {"ImageUsingByInstance", 403, "The specified image has been used to create instances."},
    {"ImageUseShared", 403, "The specified image has been shared to others."},
    {"ImageIsImporting", 403, "The specified Image is importing."},
    {"ImageIsExporting", 403, "The specified image is currently being exported."},
    {"ImageIsPublic", 403, "You can not delete public image, please modify it to private."},
    {"ImageIsCreating", 403, "The specified image is being created."},
    // ModifyImageAttribute.
    {"ImageQuotaFull.ImageFamily", 400, "The image family quota is full."},
    {"ImageFamilyQuotaFull", 400, "The image family quota is full."},
    {"InvalidBootMode.NotSupport", 400, "The specified BootMode is not supported."},
    {"InvalidLicenseType.NotSupported", 400, "The specified LicenseType is not supported."},
    {"InvalidParameter.FeaturesImdsSupport", 400, "The specified Features.ImdsSupport is not valid."},
    {"ImageStatus.NotAvailable", 403, "The specified image status is not available."},
    {"ImageStatus.NotDeprecated", 403, "The specified image status is not deprecated."},
    {"OperationDeined.ImageUsingByInstance", 403, "The specified image has been used to create instances."},
    {"InvalidOperation.FeaturesImdsSupportNotMatch", 403, "The Features.ImdsSupport does not match."},
    {"InvalidStatus.ImageIsCreating", 403, "The specified image is being created."},
    // ModifyImageSharePermission / DescribeImageSharePermission.
    {"InvalidAccount.NotFound", 404,
     "The specified parameter \"AddAccount.n\" or \"RemoveAccount.n\" does not exist."},
    {"InvalidAccount.Forbbiden", 404, "The specified Account does not yourself."},
    {"QuotaExceed.ShareImage", 403, "The shared Image Quota exceeds."},
    {"QuotaExceed.ShareImageUser", 403, "The shared Image user Quota exceeds."},
    {"InvalidGroup.Malformed", 400, "The specified Group is wrongly formed."},
    {"InvalidImageId.BidMismatch", 403, "Cannot share the image with users of other sites."},
    {"OperationDenied.InvalidImageStatus", 403,
     "The specified image cannot be shared when it is deprecated."},
    {"InvalidParameter.IsPublic", 403, "The specified parameter IsPublic is not valid."},
    // ImportImage.
    {"InvalidOSSBucket.Malformed", 400, "The specified OSSBucket is wrongly formed."},
    {"InvalidOSSObject.Malformed", 400, "The specified OSSObject is wrongly formed."},
    {"InvalidImageFormat.Malformed", 400, "The specified Format is wrongly formed."},
    {"InvalidOSSBucket.NotFound", 400, "The specified OSSBucket does not exist."},
    {"InvalidOSSObject.NotFound", 400, "The specified OSSObject does not exist."},
    {"ImportImageFailed", 403, "Import image failed."},
    {"NoSetRoletoECSServiceAcount", 403,
     "You have not authorized the ECS service account to access your OSS."},
    {"MissingParameter.DiskDeviceMapping", 403, "The input parameter DiskDeviceMapping is not supplied."},
    {"InvalidOSS.NotAuthorized", 403, "The OSS is not authorized."},
    // ExportImage.
    {"InvalidOSSPrefix.Malformed", 400, "The specified OSSPrefix is wrongly formed."},
    {"ImageNotSupported", 403, "The specified image is not supported."},
    {"ExportImageFailed", 403, "Export image failed."},
    {"InvalidImage.DiskAmountOrSize", 400,
     "The image has more than four data disks or a data disk over 500 GiB."},
    {"ConcurrentQuotaExceed.ExportImage", 403, "The concurrent export image quota exceeds."},
    {"WeeklyQuotaExceed.ExportImage", 403, "The weekly export image quota exceeds."},
    // DescribeTasks / DescribeTaskAttribute / CancelTask.
    {"InvalidTaskId.NotFound", 400, "The specified \"TaskId\" is not found."},
    {"InvalidTaskId.TaskActionNotSupport", 403, "The specified task action not support."},
    {"InvalidTaskId.IncorrectTaskStatus", 403, "The specified task status is not invalid."},
    {"CancelTaskFailed", 403, "Cancel task failed."},
    // DescribeRegions.
    {"Unauthorized.EmptyRegion", 403, "There is no region available for you."},
    {"InvalidAcceptLanguage.NotFound", 404,
     "Only Chinese (zh-CN), English (en-US), and Japanese (ja) are allowed."},
    {"InvalidResourceType.NotFound", 404, "The specified ResourceType is not found."},
    // CreateSnapshot / DeleteSnapshot.
    {"InvalidSnapshotName.Malformed", 400, "The specified snapshot name is wrongly formed."},
    {"IncorrectDiskStatus.CreatingSnapshot", 403, "A previous snapshot creation is in progress."},
    {"IncorrectDiskStatus.NeverAttached", 403, "The specified disk has never been attached to any instance."},
    {"SnapshotCreatedImage", 403, "The snapshot has been used to create user defined image(s)."},
    {"SnapshotCreatedDisk", 403, "The snapshot has been used to create disk(s)."},
    {"Operation.Conflict", 403, "The operation conflicts with another operation on the resource."},
    // Instances (minimal support).
    {"OperationDenied.ImageNotValid", 403, "The specified Image is disabled or is deleted."},
    {"ImageNotSupportInstanceType", 403, "The specified instance type does not support this image."},
    {"InvalidSystemDiskSize.LessThanImageSize", 404,
     "The specified system disk size is less than the image size."},
    {"InvalidSystemDiskSize.MoreThanMaxSize", 404, "The specified system disk size exceeds the maximum."},
    {"InvalidSystemDiskSize.ValueNotSupported", 400, "The specified system disk size is not supported."},
    {"InvalidPasswordParam.Mismatch", 400, "The specified password parameters do not match."},
    {"OperationDenied.NoStock", 403, "The requested resource is sold out in the specified zone."},
    {"ChargeTypeViolation", 403, "The operation is not permitted due to charge type of the instance."},
    {"IncorrectInstanceStatus.Initializing", 403, "The specified instance is initializing."},
    {"InvalidOperation.DeletionProtection", 403, "The instance has deletion protection enabled."},
    {"InvalidInstanceName.Malformed", 400, "The specified parameter InstanceName is not valid."},
    {"InvalidUserData.SizeExceeded", 400, "The specified parameter UserData exceeds the size."},
    {"InvalidUserData.Base64FormatInvalid", 400, "The specified UserData is not valid Base64."},
    {"InvalidSystemDiskCategory.ValueNotSupported", 400,
     "The specified parameter SystemDisk.Category is not valid."},
    {"InvalidZoneId.NotFound", 404, "The specified zone does not exist."},
    {"InvalidDiskType.ValueNotSupported", 400, "The specified DiskType is not valid."},
    // RunInstances / CreateInstance billing (D21 Instances/RunInstances.md;
    // "MissingParamter" is spelt so there).
    {"InvalidInstanceChargeType.NotFound", 404, "The InstanceChargeType does not exist in our records."},
    {"MissingParamter", 400, "The specified parameter \"Period\" is not null."},
    {"InvalidPeriod", 400, "The specified period is not valid."},
    // Per-account quotas (region/quotas.h). ECS documents QuotaExceed.Image,
    // QuotaExceed.Snapshot and ConcurrentQuotaExceed.ExportImage (all 403);
    // the rest follow those families, with the same status.
    {"QuotaExceed.Storage", 403, "The storage quota exceeds."},
    {"ConcurrentQuotaExceed.ImportImage", 403, "The concurrent import image quota exceeds."},
    {"ConcurrentQuotaExceed.CopyImage", 403, "The concurrent copy image quota exceeds."},
    {"ConcurrentQuotaExceed.CreateSnapshot", 403, "The concurrent snapshot creation quota exceeds."},
    {"ConcurrentQuotaExceed.CreateImage", 403, "The concurrent image creation quota exceeds."},
};

// Where one action's documented table gives a code another HTTP status than
// kCodes does (ecs-api.md, the section of each action).
struct ActionStatus {
  std::string_view action;
  std::string_view code;
  int http_status;
};

constexpr ActionStatus kActionStatuses[] = {
    // 4.5 CreateImage: a wrong instance state, and the DiskDeviceMapping
    // rules (no system disk, or more than one) are 400.
    {"CreateImage", "IncorrectInstanceStatus", 400},
    {"CreateImage", "OperationDenied", 400},
    // 4.17 CreateSnapshot.
    {"CreateSnapshot", "IncorrectInstanceStatus", 400},
    {"CreateSnapshot", "IdempotentParameterMismatch", 403},
    {"CreateSnapshot", "InstanceLockedForSecurity", 403},
    // 4.22 ReplaceSystemDisk: an image with data disks is OperationDenied 400.
    {"ReplaceSystemDisk", "OperationDenied", 400},
    {"ReplaceSystemDisk", "InstanceLockedForSecurity", 403},
    // 4.23 DeleteInstance.
    {"DeleteInstance", "InstanceLockedForSecurity", 403},
    // 4.1 CopyImage: a snapshot of the source image that is gone.
    {"CopyImage", "InvalidSnapshotId.NotFound", 400},
    // 4.11-4.15: these actions answer an unknown RegionId with 400.
    {"ImportImage", "InvalidRegionId.NotFound", 400},
    {"ExportImage", "InvalidRegionId.NotFound", 400},
    {"DescribeTasks", "InvalidRegionId.NotFound", 400},
    {"DescribeTaskAttribute", "InvalidRegionId.NotFound", 400},
    {"CancelTask", "InvalidRegionId.NotFound", 400},
};

const std::unordered_map<std::string_view, const CodeInfo*>& CodeIndex() {
  static const auto* index = [] {
    auto* m = new std::unordered_map<std::string_view, const CodeInfo*>();
    for (const CodeInfo& info : kCodes) m->emplace(info.code, &info);
    return m;
  }();
  return *index;
}

const CodeInfo* FindCode(std::string_view code) {
  auto it = CodeIndex().find(code);
  return it == CodeIndex().end() ? nullptr : it->second;
}

// The HTTP status of `info` in `action`.
int StatusIn(const CodeInfo& info, std::string_view action) {
  if (!action.empty()) {
    for (const ActionStatus& a : kActionStatuses) {
      if (a.action == action && a.code == info.code) return a.http_status;
    }
  }
  return info.http_status;
}

// The ECS code for a Status that carries no known reason.
std::string_view CodeForInternal(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return "InvalidParameter";
    case Code::kNotFound:
      return "InvalidResourceId.NotFound";
    case Code::kAlreadyExists:
      return "OperationConflict";
    case Code::kFailedPrecondition:
      return "OperationDenied";
    case Code::kPermissionDenied:
      return "Forbidden";
    case Code::kUnauthenticated:
      return "IncompleteSignature";
    case Code::kAborted:
      return "OperationConflict";
    case Code::kResourceExhausted:
    case Code::kUnavailable:
    case Code::kCancelled:
      return "ServiceUnavailable";
    case Code::kOk:
    case Code::kDataLoss:
    case Code::kInternal:
      return "InternalError";
  }
  return "InternalError";
}

// Where a path quoted in a message ends.
bool IsPathEnd(const std::string& message, size_t i) {
  const char c = message[i];
  if (c == ':') return i + 1 == message.size() || message[i + 1] == ' ';
  return c == ' ' || c == '\t' || c == '\n' || c == '"' || c == '\'' || c == '`' || c == ',' || c == ';' ||
         c == ')';
}

std::mutex& RedactedRootsMutex() {
  static auto* mu = new std::mutex();
  return *mu;
}

// Guarded by RedactedRootsMutex(); longest first.
std::vector<std::string>& RedactedRoots() {
  static auto* roots = new std::vector<std::string>();
  return *roots;
}

}  // namespace

EcsError ToEcsError(const Status& status, std::string_view action) {
  EcsError out;
  const CodeInfo* info = status.reason().empty() ? nullptr : FindCode(status.reason());
  if (info == nullptr) info = FindCode(CodeForInternal(status.code()));
  out.code = std::string(info->code);
  out.http_status = StatusIn(*info, action);
  if (status.message().empty()) {
    out.message = std::string(info->message);
  } else if (out.code == "InternalError") {
    // What failed inside (a rename, an open, a path) is for the log only.
    out.message = std::string(info->message);
    out.withheld = true;
  } else {
    out.message = RedactHostPaths(status.message());
    out.withheld = out.message != status.message();
    // However much of a client's value a handler quoted (Echo caps each
    // one), the message stays short; the server's string to sign, which
    // the old Go SDK compares with its own, gets more room.
    out.message = TruncateUtf8(
        out.message, out.code == "SignatureDoesNotMatch" ? kMaxStringToSignBytes : kMaxMessageBytes);
  }
  return out;
}

void AddRedactedHostPath(const std::string& root) {
  std::string r = root;
  while (r.size() > 1 && r.back() == '/') r.pop_back();
  if (r.size() < 2 || r.front() != '/') return;  // "/" or a relative path would redact too much
  std::lock_guard<std::mutex> lock(RedactedRootsMutex());
  std::vector<std::string>& roots = RedactedRoots();
  if (std::find(roots.begin(), roots.end(), r) != roots.end()) return;
  roots.push_back(std::move(r));
  // Longest first, so /a/b/c wins over /a/b.
  std::sort(roots.begin(), roots.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string RedactHostPaths(const std::string& message) {
  std::vector<std::string> roots;
  {
    std::lock_guard<std::mutex> lock(RedactedRootsMutex());
    roots = RedactedRoots();
  }
  std::string out;
  size_t i = 0;
  while (i < message.size()) {
    size_t matched = 0;
    for (const std::string& r : roots) {
      if (message.compare(i, r.size(), r) != 0) continue;
      const size_t end = i + r.size();
      // The root itself or a path below it, not /srv/ferry2 for /srv/ferry.
      if (end == message.size() || message[end] == '/' || IsPathEnd(message, end)) {
        matched = r.size();
        break;
      }
    }
    if (matched == 0) {
      out.push_back(message[i++]);
      continue;
    }
    i += matched;
    while (i < message.size() && !IsPathEnd(message, i)) ++i;
    out += kRedactedPath;
  }
  return out;
}

int HttpStatusForCode(const std::string& code, std::string_view action) {
  const CodeInfo* info = FindCode(code);
  return info == nullptr ? 500 : StatusIn(*info, action);
}

}  // namespace ferry
