#include "common/status.h"

#include <cstring>

namespace ferry {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kFailedPrecondition: return "FailedPrecondition";
    case Code::kPermissionDenied: return "PermissionDenied";
    case Code::kUnauthenticated: return "Unauthenticated";
    case Code::kResourceExhausted: return "ResourceExhausted";
    case Code::kUnavailable: return "Unavailable";
    case Code::kAborted: return "Aborted";
    case Code::kCancelled: return "Cancelled";
    case Code::kDataLoss: return "DataLoss";
    case Code::kInternal: return "Internal";
  }
  return "Unknown";
}

Code CodeFromName(std::string_view name) {
  for (Code code : {Code::kOk, Code::kInvalidArgument, Code::kNotFound, Code::kAlreadyExists,
                    Code::kFailedPrecondition, Code::kPermissionDenied, Code::kUnauthenticated,
                    Code::kResourceExhausted, Code::kUnavailable, Code::kAborted, Code::kCancelled,
                    Code::kDataLoss, Code::kInternal}) {
    if (name == CodeName(code)) return code;
  }
  return Code::kInternal;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  if (!reason_.empty()) s += "[" + reason_ + "]";
  s += ": " + message_;
  return s;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, reason_, context + ": " + message_);
}

Status ErrnoStatus(const std::string& op, const std::string& what, int err) {
  Code code = Code::kInternal;
  std::string reason;
  switch (err) {
    case ENOENT: code = Code::kNotFound; break;
    case EEXIST: code = Code::kAlreadyExists; break;
    case EACCES:
    case EPERM: code = Code::kPermissionDenied; break;
    case ENOSPC:
    case EDQUOT: code = Code::kResourceExhausted; reason = "DiskFull"; break;
    case EIO: code = Code::kDataLoss; break;
    case EINTR:
    case EAGAIN: code = Code::kUnavailable; break;
    default: break;
  }
  return Status(code, reason, op + " " + what + ": " + std::strerror(err));
}

}  // namespace ferry
