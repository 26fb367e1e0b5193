#include "api/oss_errors.h"

#include "api/errors.h"
#include "common/log_safe.h"

namespace ferry {
namespace {

constexpr size_t kMaxMessageBytes = 1024;

struct OssCodeInfo {
  std::string_view code;
  int http_status;
  std::string_view message;  // when the Status carries none
  std::string_view ec;       // documented EC, "" when none is known
};

// Every OSS error code the object endpoint emits, spelled as OSS spells it
// (clients match on these strings: ali-oss sets err.code and err.status).
constexpr OssCodeInfo kOssCodes[] = {
    {"AccessDenied", 403, "Access denied.", ""},
    {"SignatureDoesNotMatch", 403,
     "The request signature we calculated does not match the signature you provided. Check your key and "
     "signing method.",
     "0002-00000040"},
    {"InvalidAccessKeyId", 403, "The OSS Access Key Id you provided does not exist in our records.", ""},
    {"RequestTimeTooSkewed", 403,
     "The difference between the request time and the current time is too large.", ""},
    {"NoSuchBucket", 404, "The specified bucket does not exist.", ""},
    {"NoSuchKey", 404, "The specified key does not exist.", "0026-00000001"},
    {"NoSuchUpload", 404,
     "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted "
     "or completed.",
     ""},
    {"BucketAlreadyExists", 409,
     "The requested bucket name is not available. The bucket namespace is shared by all users of the system. "
     "Please select a different name and try again.",
     ""},
    {"BucketNotEmpty", 409, "The bucket you tried to delete is not empty.", ""},
    {"InvalidArgument", 400, "Invalid Argument.", ""},
    {"InvalidRequest", 400, "Invalid Request.", ""},
    {"InvalidBucketName", 400, "The specified bucket is not valid.", ""},
    {"TooManyBuckets", 400, "You have attempted to create more buckets than allowed.", ""},
    {"InvalidObjectName", 400, "The specified object is not valid.", ""},
    {"KeyTooLong", 400, "Your key is too long.", ""},
    {"InvalidPart", 400,
     "One or more of the specified parts could not be found or the specified entity tag might not have "
     "matched the part's entity tag.",
     ""},
    {"InvalidPartOrder", 400,
     "The list of parts was not in ascending order. Parts list must specified in order by part number.", ""},
    {"EntityTooSmall", 400, "Your proposed upload smaller than the minimum allowed size.", ""},
    {"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size.", ""},
    {"InvalidDigest", 400, "The Content-MD5 you specified is not valid.", ""},
    {"IncompleteBody", 400,
     "You did not provide the number of bytes specified by the Content-Length HTTP header.", ""},
    {"MalformedXML", 400,
     "The XML you provided was not well-formed or did not validate against our published schema.", ""},
    {"MethodNotAllowed", 405, "The specified method is not allowed against this resource.", ""},
    {"MissingContentLength", 411, "You must provide the Content-Length HTTP header.", ""},
    {"PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold.", ""},
    {"NotModified", 304, "Not Modified.", ""},
    {"InvalidRange", 416, "The requested range cannot be satisfied.", ""},
    {"InternalError", 500, "We encountered an internal error. Please try again.", ""},
    {"NotImplemented", 501, "A header you provided implies functionality that is not implemented.", ""},
    {"ServiceUnavailable", 503, "The service is unavailable. Please try again later.", ""},
    {"InsufficientStorage", 507, "The server has no room to store the request's data.", ""},
};

const OssCodeInfo* FindOssCode(std::string_view code) {
  for (const OssCodeInfo& info : kOssCodes) {
    if (info.code == code) return &info;
  }
  return nullptr;
}

std::string_view OssCodeForInternal(Code code) {
  switch (code) {
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kNotFound:
      return "NoSuchKey";
    case Code::kAlreadyExists:
      return "BucketAlreadyExists";
    case Code::kFailedPrecondition:
      return "PreconditionFailed";
    case Code::kPermissionDenied:
    case Code::kUnauthenticated:
      return "AccessDenied";
    case Code::kResourceExhausted:
      return "InsufficientStorage";
    case Code::kUnavailable:
    case Code::kAborted:
    case Code::kCancelled:
      return "ServiceUnavailable";
    case Code::kOk:
    case Code::kDataLoss:
    case Code::kInternal:
      break;
  }
  return "InternalError";
}

}  // namespace

OssError ToOssError(const Status& status) {
  OssError out;
  const OssCodeInfo* info = status.reason().empty() ? nullptr : FindOssCode(status.reason());
  if (info == nullptr) info = FindOssCode(OssCodeForInternal(status.code()));
  out.code = std::string(info->code);
  out.http_status = info->http_status;
  out.ec = std::string(info->ec);
  if (status.message().empty()) {
    out.message = std::string(info->message);
  } else if (out.code == "InternalError") {
    // What failed inside (a rename, an open, a path) is for the log only.
    out.message = std::string(info->message);
    out.withheld = true;
  } else {
    out.message = RedactHostPaths(status.message());
    out.withheld = out.message != status.message();
    out.message = TruncateUtf8(out.message, kMaxMessageBytes);
  }
  return out;
}

int OssHttpStatusForCode(std::string_view code) {
  const OssCodeInfo* info = FindOssCode(code);
  return info == nullptr ? 500 : info->http_status;
}

bool IsOssErrorCode(std::string_view code) { return FindOssCode(code) != nullptr; }

}  // namespace ferry
