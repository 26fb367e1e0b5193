// The one place where internal failures become ECS errors.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace ferry {

struct EcsError {
  int http_status = 500;
  std::string code;     // e.g. "InvalidImageId.NotFound"
  std::string message;  // e.g. "The specified ImageId does not exist."
  // Part of the Status's message was kept from the caller (an internal
  // error's detail, a host path): whoever renders this logs the Status with
  // the RequestId, so the operator can find what the caller was not shown.
  bool withheld = false;
};

// Maps a non-OK Status to the ECS error: a Status whose reason is a known ECS
// code gets that code's HTTP status; its message is used as the ECS message
// when it is set. A Status without a reason maps by Code (kInternal ->
// InternalError 500, kUnavailable -> ServiceUnavailable 503, ...).
//
// `action` is the ECS action the request named ("" when none is known): a
// few codes have, in one action's documented error table, another HTTP
// status than the one they have everywhere else (IncorrectInstanceStatus is
// 403 for StartInstance, 400 for CreateImage and CreateSnapshot). Those
// exceptions are listed by (action, code) next to the code table.
//
// What a caller may see: an InternalError (kInternal, kDataLoss) always
// carries the table's generic message, never the Status's; every other
// message has each host path under a registered root replaced by
// kRedactedPath. Every ECS error body is made here, so no handler can leak
// the server's file layout.
EcsError ToEcsError(const Status& status, std::string_view action = {});

inline constexpr const char* kRedactedPath = "[server path]";

// Registers a host directory (the data directory; add it as given and as
// resolved) whose paths no message to a caller may show. Process-wide and
// additive: the paths are the process's. Thread-safe.
void AddRedactedHostPath(const std::string& root);

// `message` with every path under a registered root replaced by
// kRedactedPath (the path runs to the next blank, quote, ',', ';', ')' or
// ": ").
std::string RedactHostPaths(const std::string& message);

// HTTP status of a documented ECS error code (500 if unknown), in `action`
// when it is given.
int HttpStatusForCode(const std::string& code, std::string_view action = {});

}  // namespace ferry
