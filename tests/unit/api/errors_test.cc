#include "api/errors.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(ErrorsTest, DocumentedStatuses) {
  EXPECT_EQ(HttpStatusForCode("InvalidImageId.NotFound"), 404);
  EXPECT_EQ(HttpStatusForCode("InvalidSnapshotId.NotFound"), 404);
  EXPECT_EQ(HttpStatusForCode("InvalidTaskId.NotFound"), 400);
  EXPECT_EQ(HttpStatusForCode("InvalidRegionId.NotFound"), 404);
  EXPECT_EQ(HttpStatusForCode("InvalidAccessKeyId.NotFound"), 404);
  EXPECT_EQ(HttpStatusForCode("SignatureDoesNotMatch"), 400);
  EXPECT_EQ(HttpStatusForCode("OperationDenied.ImageCopying"), 403);
  EXPECT_EQ(HttpStatusForCode("InvalidTaskId.IncorrectTaskStatus"), 403);
  EXPECT_EQ(HttpStatusForCode("InvalidOSSBucket.NotFound"), 400);
  EXPECT_EQ(HttpStatusForCode("InvalidStatus.NotFound"), 404);
  EXPECT_EQ(HttpStatusForCode("InvalidAction.NotFound"), 404);
  EXPECT_EQ(HttpStatusForCode("ServiceUnavailable"), 503);
  // Misspellings are codes of their own.
  EXPECT_EQ(HttpStatusForCode("Forbbiden"), 403);
  EXPECT_EQ(HttpStatusForCode("OperationDeined.EncryptedSnapshot"), 403);
  EXPECT_EQ(HttpStatusForCode("InvalidParamater"), 400);
  EXPECT_EQ(HttpStatusForCode("NoSuchCode"), 500);
}

TEST(ErrorsTest, KnownReasonKeepsItsMessage) {
  EcsError e = ToEcsError(NotFound("InvalidImageId.NotFound", "The specified image m-1 does not exist."));
  EXPECT_EQ(e.http_status, 404);
  EXPECT_EQ(e.code, "InvalidImageId.NotFound");
  EXPECT_EQ(e.message, "The specified image m-1 does not exist.");

  EcsError defaulted = ToEcsError(FailedPrecondition("IncorrectImageStatus", ""));
  EXPECT_EQ(defaulted.http_status, 400);
  EXPECT_EQ(defaulted.message, "The image not available.");
}

TEST(ErrorsTest, UnknownReasonMapsByCode) {
  EcsError internal = ToEcsError(Internal("disk exploded"));
  EXPECT_EQ(internal.http_status, 500);
  EXPECT_EQ(internal.code, "InternalError");
  EXPECT_EQ(internal.message, "disk exploded");

  EXPECT_EQ(ToEcsError(Unavailable("shutting down")).code, "ServiceUnavailable");
  EXPECT_EQ(ToEcsError(Unavailable("shutting down")).http_status, 503);
  EXPECT_EQ(ToEcsError(InvalidArgument("SomeInternalToken", "bad")).code, "InvalidParameter");
  EXPECT_EQ(ToEcsError(PermissionDenied("", "no")).http_status, 403);
  EXPECT_EQ(ToEcsError(NotFound("ChunkMissing", "chunk ab12")).http_status, 404);
}

}  // namespace
}  // namespace ferry
