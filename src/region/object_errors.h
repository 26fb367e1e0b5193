// The one place object-store failures (objects/object_store.h: OSS codes such
// as NoSuchBucket) become the ECS codes ImportImage, ExportImage and the
// CLI's upload route answer with (InvalidOSSBucket.NotFound, ...). The OSS
// wire uses the store's codes as they are.
#pragma once

#include "common/status.h"

namespace ferry {

// NoSuchBucket (and BucketAlreadyExists: another account's bucket is not
// revealed) -> InvalidOSSBucket.NotFound; NoSuchKey ->
// InvalidOSSObject.NotFound; InvalidBucketName -> InvalidOSSBucket.Malformed;
// InvalidObjectName -> InvalidOSSObject.Malformed; the other request errors
// (EntityTooLarge, InvalidArgument, InvalidDigest, NoSuchUpload, ...) ->
// InvalidParameter. The message and any other status pass unchanged.
Status EcsObjectStatus(const Status& status);

}  // namespace ferry
