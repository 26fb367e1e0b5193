// Private to RegionImpl's source files (region_impl.cc and the per-family
// region_*.cc): the ECS errors and request checks they share. Defined in
// region_impl.cc.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "catalog/catalog.h"
#include "common/log_safe.h"  // Echo: client values quoted in errors
#include "common/status.h"
#include "region/region.h"

namespace ferry {

// InvalidImageId.NotFound (404). Also the answer for another account's
// image: a stranger cannot tell it from one that never existed.
Status ImageNotFound(const std::string& image_id);
// InvalidSnapshotId.NotFound (404), likewise for another account's.
Status SnapshotNotFound(const std::string& snapshot_id);
// MissingParameter (400) naming `name`.
Status MissingParameter(const std::string& name);
// The DryRunOperation "error" ECS answers once a DryRun request validated.
Status DryRunPassed();
// PageNumber >= 1, PageSize 1..100; InvalidParameter otherwise.
Status ValidatePage(uint64_t page_number, uint64_t page_size);

// ClientToken support: a request's parameters as a digest, and the lookup
// of a token: the remembered result id when the token was used with the same
// parameters, nullopt when unknown, IdempotentParameterMismatch when it was
// used with others.
std::string Fingerprint(const nlohmann::json& params);

// CreateImage's checks of the new image's attributes (name, description,
// family, platform, architecture, boot mode, tags, version), whatever the
// source, and the fingerprint its ClientToken is checked against, with the
// source as `source_name` (SnapshotId, InstanceId) = `source_id`.
Status ValidateNewImageAttributes(const CreateImageRequest& r);
std::string CreateImageFingerprint(const std::string& source_name, const std::string& source_id,
                                   const CreateImageRequest& r);
// The record of a new image `r` asks for, of `account`, made `now`: the OS
// attributes the caller leaves out come from `os_from` (an image of the
// same disk content, when there is one); id, status, disks and size are the
// caller's to set.
ImageRecord NewImageRecord(const std::string& account, const CreateImageRequest& r, const ImageRecord* os_from,
                           UnixSeconds now);
nlohmann::json TagsJson(const Tags& tags);
Result<std::optional<std::string>> CheckClientToken(Catalog& catalog, const std::string& account,
                                                    const std::string& action, const std::string& token,
                                                    const std::string& fingerprint);

// `st` with every occurrence of `path` in its message replaced by `label`:
// task errors are shown to API callers, who are told the object, not host
// paths (region_tasks.cc).
Status RedactPath(const Status& st, const std::string& path, const std::string& label);

}  // namespace ferry
