// The one place where internal failures become OSS errors (the object
// endpoint's wire, beside api/errors.h for the ECS wire): each OSS error code
// with its HTTP status and default message (oss-api.md section 5).
//
// Thread-safe: pure functions over constant tables.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

// What a SignatureDoesNotMatch error body carries beside Code and Message,
// so a client can compare the server's string to sign with its own.
struct OssSignatureMismatch {
  std::string access_key_id;       // <OSSAccessKeyId>
  std::string signature_provided;  // <SignatureProvided>
  std::string string_to_sign;      // <StringToSign>
};

struct OssError {
  int http_status = 500;
  std::string code;                              // "NoSuchKey"
  std::string message;                           // "The specified key does not exist."
  std::string ec;                                // <EC> when the code has a documented one, else ""
  std::optional<OssSignatureMismatch> mismatch;  // SignatureDoesNotMatch only
  // Part of the Status's message was kept from the caller (see EcsError).
  bool withheld = false;
};

// Maps a non-OK Status to its OSS error: a reason that is an OSS code keeps
// it (with the Status's message, host paths redacted, when one is set);
// anything else maps by Code (kNotFound -> NoSuchKey, kInternal ->
// InternalError with the generic message, ...).
OssError ToOssError(const Status& status);

// HTTP status of an OSS error code (500 when unknown).
int OssHttpStatusForCode(std::string_view code);

// True when `code` is in the OSS table.
bool IsOssErrorCode(std::string_view code);

}  // namespace ferry
