#include "region/object_errors.h"

#include <string_view>

#include "objects/object_store.h"

namespace ferry {

Status EcsObjectStatus(const Status& status) {
  if (status.ok()) return status;
  const std::string& r = status.reason();
  auto as = [&](Code code, const char* ecs) { return Status(code, ecs, status.message()); };
  if (r == oss_error::kNoSuchBucket) return as(Code::kNotFound, "InvalidOSSBucket.NotFound");
  if (r == oss_error::kBucketAlreadyExists) {
    return as(Code::kNotFound, "InvalidOSSBucket.NotFound");
  }
  if (r == oss_error::kNoSuchKey) return as(Code::kNotFound, "InvalidOSSObject.NotFound");
  if (r == oss_error::kInvalidBucketName) return as(Code::kInvalidArgument, "InvalidOSSBucket.Malformed");
  if (r == oss_error::kInvalidObjectName) return as(Code::kInvalidArgument, "InvalidOSSObject.Malformed");
  for (std::string_view request_error :
       {oss_error::kEntityTooLarge, oss_error::kEntityTooSmall, oss_error::kInvalidArgument,
        oss_error::kInvalidDigest, oss_error::kNoSuchUpload, oss_error::kInvalidPart,
        oss_error::kInvalidPartOrder, oss_error::kBucketNotEmpty}) {
    if (r == request_error) return as(status.code(), "InvalidParameter");
  }
  return status;
}

}  // namespace ferry
