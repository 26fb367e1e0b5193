// The web console's static files (console/, built and embedded at build
// time by console/embed.cmake), served on the tenants' listener:
//
//   GET /console, /console/        index.html
//   GET /console/app.js, app.css   the bundle and its style sheet
//   GET /  from a browser          302 to /console/ (an API request always
//                                  carries a query or a body)
//
// The console holds no secrets and has no routes of its own: every call it
// makes is a normal signed ECS request to "/". Responses carry a strict
// Content-Security-Policy (scripts, styles and fetches from this origin
// only, no framing), nosniff and no-referrer; files are revalidated by ETag.
//
// Thread-safe: pure functions over constant data.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "api/http_types.h"

namespace ferry {

struct ConsoleAsset {
  std::string_view path;          // "/console/app.js"
  std::string_view media_type;    // "text/javascript" (all are UTF-8)
  std::string_view body;
  std::string_view etag;          // quoted, as sent in ETag
};

// Defined by the generated console_assets.cc.
std::span<const ConsoleAsset> ConsoleAssets();

// Whether `path` (the target without its query) is the console's.
bool IsConsolePath(std::string_view path);

// Whether a request for "/" is a browser asking for a page: GET, no query,
// no body, and an Accept header naming text/html.
bool WantsConsole(const HttpRequest& request);

// The answer to a request for a console path (or the redirect for "/").
HttpResponse ServeConsole(const HttpRequest& request);

}  // namespace ferry
