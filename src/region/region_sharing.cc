// RegionImpl: sharing custom images with other accounts of the cluster in
// this region (ModifyImageSharePermission, DescribeImageSharePermission),
// who may do what with an image (owner, recipient, stranger), and
// UsableImage.
//
// A share is a catalog row (image, recipient account, time). Nothing is
// copied: the recipient reads the owner's image and snapshots. Requests that
// change or read out an image (modify, delete, export, share, copy) stay the
// owner's; a recipient is refused with 403, and anyone else gets the 404 an
// image that never existed gets, so probing ids reveals nothing.
#include <algorithm>
#include <cctype>
#include <set>

#include "region/region_impl.h"
#include "region/region_internal.h"

namespace ferry {
namespace {

enum class ImageAccess { kOwner, kRecipient, kNone };

Status RecipientDenied(const std::string& image_id) {
  return PermissionDenied("Forbidden",
                          "User not authorized to operate on the specified resource: image " + image_id +
                              " is shared with this account; only its owner may modify, delete, export or "
                              "share it.");
}

Status AccountNotFound(const std::string& param, const std::string& account_id) {
  return NotFound("InvalidAccount.NotFound",
                  "The specified parameter \"" + param + "\" (" + Echo(account_id) + ") does not exist.");
}

Result<ImageAccess> AccessOf(Catalog& catalog, const Caller& c, const ImageRecord& image) {
  if (image.account_id == c.account_id) return ImageAccess::kOwner;
  if (image.account_id == kSystemAccountId) return ImageAccess::kNone;
  ASSIGN_OR_RETURN(bool shared, catalog.IsImageSharedWith(image.image_id, c.account_id));
  return shared ? ImageAccess::kRecipient : ImageAccess::kNone;
}

bool IsAccountId(const std::string& s) {
  return !s.empty() && s.size() <= 32 &&
         std::all_of(s.begin(), s.end(), [](unsigned char ch) { return std::isdigit(ch); });
}

}  // namespace

// ------------------------------------------------------------------- access

Status RegionImpl::CheckOwner(const Caller& c, const ImageRecord& image) {
  ASSIGN_OR_RETURN(ImageAccess access, AccessOf(*catalog_, c, image));
  if (access == ImageAccess::kOwner) return Status::Ok();
  if (access == ImageAccess::kRecipient) return RecipientDenied(image.image_id);
  return ImageNotFound(image.image_id);
}

Status RegionImpl::CheckCopySource(const Caller& c, const ImageRecord& image) {
  ASSIGN_OR_RETURN(ImageAccess access, AccessOf(*catalog_, c, image));
  if (access == ImageAccess::kOwner) return Status::Ok();
  if (access == ImageAccess::kRecipient) {
    return PermissionDenied("OperationDenied.SameRegionOnly",
                            "The image " + image.image_id + " shared from others can not be copied to another "
                            "region directly.");
  }
  return ImageNotFound(image.image_id);
}

Result<bool> RegionImpl::HasShares(const std::string& image_id) {
  ASSIGN_OR_RETURN(std::set<std::string> shared, catalog_->SharedImageIds({image_id}));
  return !shared.empty();
}

void RegionImpl::HideOwnerPrivate(const Caller& c, std::vector<ImageRecord>& images) {
  for (ImageRecord& image : images) {
    if (image.account_id == c.account_id) continue;
    // Where the owner imported it from: its bucket and object names, and
    // what the inspector found in the owner's file.
    for (DiskMapping& d : image.disks) {
      d.import_bucket.clear();
      d.import_object.clear();
      d.detected_format.clear();
      d.detected_content.clear();
    }
  }
}

void RegionImpl::HideOwnerPrivate(const Caller& c, std::vector<SnapshotRecord>& snapshots) {
  for (SnapshotRecord& s : snapshots) {
    if (s.account_id == c.account_id) continue;
    // A recipient looks a shared image's snapshot up for its size and state;
    // what the owner wrote on it and where it came from stay the owner's.
    s.name.clear();
    s.description.clear();
    s.tags.clear();
    s.kms_key_id.clear();
    s.source_disk_id.clear();
    s.source_snapshot_id.clear();
    s.source_region_id.clear();
  }
}

Result<std::vector<std::string>> RegionImpl::SharedSnapshotIds(const Caller& c,
                                                               const std::vector<std::string>& wanted) {
  if (wanted.empty()) return std::vector<std::string>();
  ImageQuery q;
  q.account_id = c.account_id;
  q.include_system = q.include_self = false;
  q.include_shared = true;
  ASSIGN_OR_RETURN(Page<ImageRecord> shared, catalog_->ListImages(q));
  const std::set<std::string> asked(wanted.begin(), wanted.end());
  std::vector<std::string> out;
  for (const ImageRecord& image : shared.items) {
    for (const DiskMapping& d : image.disks) {
      if (asked.count(d.snapshot_id) != 0) out.push_back(d.snapshot_id);
    }
  }
  return out;
}

// Own images, public ones, and images shared with the caller; anything
// else is not found, as if it did not exist.
Status RegionImpl::CheckImageUsable(const Caller& c, const ImageRecord& image) {
  if (image.account_id == kSystemAccountId) return Status::Ok();
  ASSIGN_OR_RETURN(ImageAccess access, AccessOf(*catalog_, c, image));
  if (access == ImageAccess::kNone) return ImageNotFound(image.image_id);
  return Status::Ok();
}

Result<ImageRecord> RegionImpl::UsableImage(const Caller& c, const std::string& image_id) {
  if (image_id.empty()) return MissingParameter("ImageId");
  Result<ImageRecord> image = catalog_->GetImage(image_id);
  if (!image.ok()) {
    if (image.status().code() == Code::kNotFound) return ImageNotFound(image_id);
    return image.status();
  }
  RETURN_IF_ERROR(CheckImageUsable(c, *image));
  if (image->status == "Creating" || image->status == "Waiting") {
    return InvalidArgument(
        "IncorrectImageStatus",
        "The image \"" + Echo(image_id) + "\" is not available yet (status " + image->status + ").");
  }
  // Deprecated images can still launch instances (ECS ModifyImageAttribute).
  if ((image->status != "Available" && image->status != "Deprecated") || image->disks.empty()) {
    return PermissionDenied("OperationDenied.ImageNotValid", "The specified Image \"" + Echo(image_id) +
                                                                 "\" is disabled or is deleted (status " +
                                                                 image->status + ").");
  }
  return image;
}

// ------------------------------------------------ ModifyImageSharePermission

Status RegionImpl::ModifyImageSharePermission(const Caller& c, const ModifyImageSharePermissionRequest& r) {
  if (r.image_id.empty()) return MissingParameter("ImageId");
  if (r.add_accounts.size() > kMaxShareAccountsPerCall || r.remove_accounts.size() > kMaxShareAccountsPerCall) {
    return InvalidArgument("InvalidParameter", "At most " + std::to_string(kMaxShareAccountsPerCall) +
                                                   " AddAccount.N and " +
                                                   std::to_string(kMaxShareAccountsPerCall) +
                                                   " RemoveAccount.N are allowed per call, got " +
                                                   std::to_string(r.add_accounts.size()) + " and " +
                                                   std::to_string(r.remove_accounts.size()) + ".");
  }
  // Whose image it is comes first: a stranger learns nothing else.
  Result<ImageRecord> got = catalog_->GetImage(r.image_id);
  if (!got.ok()) {
    if (got.status().code() == Code::kNotFound) return ImageNotFound(r.image_id);
    return got.status();
  }
  const ImageRecord image = std::move(got).value();
  RETURN_IF_ERROR(CheckOwner(c, image));

  // Accounts are checked outside the catalog transaction: the directory may
  // ask another process of the cluster.
  auto check_account = [&](const std::string& param, const std::string& account_id,
                           bool shared_now) -> Status {
    if (account_id == c.account_id) {
      return NotFound("InvalidAccount.Forbbiden", "The specified Account does not yourself: " + param + " (" +
                                                      account_id + ") is the image's owner.");
    }
    if (shared_now) return Status::Ok();
    if (!IsAccountId(account_id) || !config_.account_exists) return AccountNotFound(param, account_id);
    ASSIGN_OR_RETURN(bool exists, config_.account_exists(account_id));
    return exists ? Status::Ok() : AccountNotFound(param, account_id);
  };
  for (size_t i = 0; i < r.remove_accounts.size(); ++i) {
    ASSIGN_OR_RETURN(bool shared_now, catalog_->IsImageSharedWith(r.image_id, r.remove_accounts[i]));
    RETURN_IF_ERROR(check_account("RemoveAccount." + std::to_string(i + 1), r.remove_accounts[i], shared_now));
  }
  for (size_t i = 0; i < r.add_accounts.size(); ++i) {
    RETURN_IF_ERROR(check_account("AddAccount." + std::to_string(i + 1), r.add_accounts[i], false));
  }
  if (!r.add_accounts.empty()) {
    if (image.status == "Deprecated") {
      return PermissionDenied("OperationDenied.InvalidImageStatus",
                              "The specified image " + r.image_id + " cannot be shared when it is deprecated.");
    }
    if (image.status != "Available") {
      return InvalidArgument("IncorrectImageStatus",
                             "The image not available: " + r.image_id + " is " + image.status + ".");
    }
    for (const DiskMapping& d : image.disks) {
      Result<SnapshotRecord> snap = catalog_->GetSnapshot(d.snapshot_id);
      if (snap.ok() && snap->encrypted) {
        return PermissionDenied("OperationDeined.EncryptedSnapshot",
                                "The image contains encrypted snapshots, which do not support share (snapshot " +
                                    d.snapshot_id + ").");
      }
    }
  }

  const UnixSeconds now = clock_.Now();
  return catalog_->Transact([&]() -> Status {
    // The image may have been deleted, or the shares changed, meanwhile.
    Result<ImageRecord> current = catalog_->GetImage(r.image_id);
    if (!current.ok()) {
      if (current.status().code() == Code::kNotFound) return ImageNotFound(r.image_id);
      return current.status();
    }
    RETURN_IF_ERROR(CheckOwner(c, *current));
    ASSIGN_OR_RETURN(Page<ImageShareRecord> shares, catalog_->ListImageShares(r.image_id, 0, 0));
    std::set<std::string> accounts;
    for (const ImageShareRecord& s : shares.items) accounts.insert(s.account_id);
    for (const std::string& a : r.remove_accounts) accounts.erase(a);
    for (const std::string& a : r.add_accounts) accounts.insert(a);
    if (accounts.size() > kMaxShareAccountsPerImage) {
      return PermissionDenied("QuotaExceed.ShareImageUser",
                              "The shared Image user Quota exceeds: image " + r.image_id + " would be shared with " +
                                  std::to_string(accounts.size()) + " accounts, at most " +
                                  std::to_string(kMaxShareAccountsPerImage) + " are allowed.");
    }
    if (r.dry_run) return DryRunPassed();
    for (const std::string& a : r.remove_accounts) RETURN_IF_ERROR(catalog_->DeleteImageShare(r.image_id, a));
    for (const std::string& a : r.add_accounts) {
      RETURN_IF_ERROR(catalog_->PutImageShare(ImageShareRecord{r.image_id, a, now}));
    }
    return Status::Ok();
  });
}

// ---------------------------------------------- DescribeImageSharePermission

Result<Page<ImageShareRecord>> RegionImpl::DescribeImageSharePermission(
    const Caller& c, const DescribeImageSharePermissionRequest& r) {
  if (r.image_id.empty()) return MissingParameter("ImageId");
  RETURN_IF_ERROR(ValidatePage(r.page_number, r.page_size));
  Result<ImageRecord> image = catalog_->GetImage(r.image_id);
  if (!image.ok()) {
    if (image.status().code() == Code::kNotFound) return ImageNotFound(r.image_id);
    return image.status();
  }
  RETURN_IF_ERROR(CheckOwner(c, *image));
  return catalog_->ListImageShares(r.image_id, (r.page_number - 1) * r.page_size, r.page_size);
}

}  // namespace ferry
