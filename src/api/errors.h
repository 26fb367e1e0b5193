// The one place where internal failures become ECS errors.
#pragma once

#include <string>

#include "common/status.h"

namespace ferry {

struct EcsError {
  int http_status = 500;
  std::string code;     // e.g. "InvalidImageId.NotFound"
  std::string message;  // e.g. "The specified ImageId does not exist."
};

// Maps a non-OK Status to the ECS error: a Status whose reason is a known ECS
// code gets that code's HTTP status; its message is used as the ECS message
// when it is set. A Status without a reason maps by Code (kInternal ->
// InternalError 500, kUnavailable -> ServiceUnavailable 503, ...).
EcsError ToEcsError(const Status& status);

// HTTP status of a documented ECS error code (500 if unknown).
int HttpStatusForCode(const std::string& code);

}  // namespace ferry
