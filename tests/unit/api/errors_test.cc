#include "api/errors.h"

#include <gtest/gtest.h>

#include <cerrno>

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

TEST(ErrorsTest, SomeActionsDocumentAnotherStatusForACode) {
  // ecs-api.md 4.5 and 4.17 give IncorrectInstanceStatus 400; Start, Stop,
  // Reboot, Delete and ReplaceSystemDisk 403.
  for (const char* action : {"CreateImage", "CreateSnapshot"}) {
    EXPECT_EQ(HttpStatusForCode("IncorrectInstanceStatus", action), 400) << action;
    EcsError e =
        ToEcsError(FailedPrecondition("IncorrectInstanceStatus", "instance i-1 is Starting"), action);
    EXPECT_EQ(e.http_status, 400) << action;
    EXPECT_EQ(e.code, "IncorrectInstanceStatus");
  }
  for (const char* action :
       {"StartInstance", "StopInstance", "RebootInstance", "DeleteInstance", "ReplaceSystemDisk", ""}) {
    EXPECT_EQ(HttpStatusForCode("IncorrectInstanceStatus", action), 403) << action;
  }
  EXPECT_EQ(HttpStatusForCode("IdempotentParameterMismatch", "CreateSnapshot"), 403);
  EXPECT_EQ(HttpStatusForCode("IdempotentParameterMismatch", "RunInstances"), 400);
  EXPECT_EQ(HttpStatusForCode("OperationDenied", "CreateImage"), 400);
  EXPECT_EQ(HttpStatusForCode("OperationDenied", "ReplaceSystemDisk"), 400);
  EXPECT_EQ(HttpStatusForCode("OperationDenied", "CopyImage"), 403);
  EXPECT_EQ(HttpStatusForCode("InvalidSnapshotId.NotFound", "CopyImage"), 400);
  EXPECT_EQ(HttpStatusForCode("InvalidSnapshotId.NotFound", "DeleteSnapshot"), 404);
  for (const char* action :
       {"ImportImage", "ExportImage", "DescribeTasks", "DescribeTaskAttribute", "CancelTask"}) {
    EXPECT_EQ(HttpStatusForCode("InvalidRegionId.NotFound", action), 400) << action;
  }
  EXPECT_EQ(HttpStatusForCode("InvalidRegionId.NotFound", "DescribeImages"), 404);
}

TEST(ErrorsTest, EveryRunningTaskQuotaHasItsCode) {
  // CheckCountQuotas names the action: ConcurrentQuotaExceed.<action>, 403,
  // for each action that starts a task (not a 503 for an unknown code).
  for (const char* action : {"ImportImage", "ExportImage", "CopyImage", "CreateSnapshot", "CreateImage"}) {
    EcsError e =
        ToEcsError(ResourceExhausted(std::string("ConcurrentQuotaExceed.") + action, "2 running"), action);
    EXPECT_EQ(e.code, std::string("ConcurrentQuotaExceed.") + action);
    EXPECT_EQ(e.http_status, 403) << action;
  }
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

TEST(ErrorsTest, AMessageStaysShortWhateverAHandlerQuoted) {
  // A site that quotes a client's value whole (Echo caps the ones it wraps).
  const std::string quoted(100000, '[');
  EcsError e = ToEcsError(InvalidArgument("InvalidParameter", "The value \"" + quoted + "\" is not valid."));
  EXPECT_EQ(e.code, "InvalidParameter");
  EXPECT_LE(e.message.size(), 1024u);
  EXPECT_EQ(e.message.rfind("The value \"[[[[", 0), 0u) << e.message.substr(0, 100);
  // The server's string to sign (the old Go SDK compares it) gets more room.
  const std::string prefix =
      "Specified signature is not matched with our calculation. server string to sign is:";
  const std::string to_sign = "POST&%2F&" + std::string(4000, 'A');
  EXPECT_EQ(ToEcsError(InvalidArgument("SignatureDoesNotMatch", prefix + to_sign)).message, prefix + to_sign);
  EXPECT_LE(
      ToEcsError(InvalidArgument("SignatureDoesNotMatch", prefix + std::string(100000, 'A'))).message.size(),
      16u << 10);
}

TEST(ErrorsTest, UnknownReasonMapsByCode) {
  EcsError internal = ToEcsError(Internal("disk exploded"));
  EXPECT_EQ(internal.http_status, 500);
  EXPECT_EQ(internal.code, "InternalError");
  // What failed inside is for the log, not the caller.
  EXPECT_EQ(internal.message,
            "The request processing has failed due to some unknown error, exception or failure.");
  EXPECT_TRUE(internal.withheld);
  EcsError data_loss = ToEcsError(Status(Code::kDataLoss, "", "read /srv/x/chunks/ab: Input/output error"));
  EXPECT_EQ(data_loss.code, "InternalError");
  EXPECT_EQ(data_loss.message.find('/'), std::string::npos) << data_loss.message;

  EXPECT_EQ(ToEcsError(Unavailable("shutting down")).code, "ServiceUnavailable");
  EXPECT_EQ(ToEcsError(Unavailable("shutting down")).http_status, 503);
  EXPECT_EQ(ToEcsError(InvalidArgument("SomeInternalToken", "bad")).code, "InvalidParameter");
  EXPECT_EQ(ToEcsError(PermissionDenied("", "no")).http_status, 403);
  EXPECT_EQ(ToEcsError(NotFound("ChunkMissing", "chunk ab12")).http_status, 404);
}

TEST(ErrorsTest, HostPathsUnderARegisteredRootAreRedacted) {
  AddRedactedHostPath("/srv/ferry-errors-test/");  // trailing '/' is ignored
  AddRedactedHostPath("relative/dir");             // ignored: not absolute
  AddRedactedHostPath("/");                        // ignored: would redact everything
  EXPECT_EQ(RedactHostPaths("mkdir /srv/ferry-errors-test/oss/b/x: File exists"),
            std::string("mkdir ") + kRedactedPath + ": File exists");
  EXPECT_EQ(RedactHostPaths(
                "rename \"/srv/ferry-errors-test/oss/b/.uploads/u-1\" to /srv/ferry-errors-test/oss/b/x"),
            std::string("rename \"") + kRedactedPath + "\" to " + kRedactedPath);
  EXPECT_EQ(RedactHostPaths("at /srv/ferry-errors-test"), std::string("at ") + kRedactedPath);
  // Another directory that merely starts alike, URL paths and relative names stay.
  EXPECT_EQ(RedactHostPaths("open /srv/ferry-errors-test2/x: no"), "open /srv/ferry-errors-test2/x: no");
  EXPECT_EQ(RedactHostPaths("The upload path must be /oss/<bucket>/<object>, got \"/oss/b\"."),
            "The upload path must be /oss/<bucket>/<object>, got \"/oss/b\".");
  EXPECT_EQ(RedactHostPaths("relative/dir/x"), "relative/dir/x");

  EcsError conflict = ToEcsError(ErrnoStatus("mkdir", "/srv/ferry-errors-test/oss/b/x", EEXIST));
  EXPECT_EQ(conflict.code, "OperationConflict");
  EXPECT_EQ(conflict.message, std::string("mkdir ") + kRedactedPath + ": File exists");
  EXPECT_TRUE(conflict.withheld);
  EcsError clean = ToEcsError(NotFound("InvalidImageId.NotFound", "The specified image m-1 does not exist."));
  EXPECT_FALSE(clean.withheld);
}

}  // namespace
}  // namespace ferry
