// The HTTP request and response as the API layer sees them, independent of
// the HTTP library.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace ferry {

struct HttpRequest {
  std::string method;  // GET | POST | ...
  std::string target;  // raw request target: "/?a=b"
  // Header names lower-cased; values as received.
  std::map<std::string, std::string> headers;
  std::string body;
  std::string remote_address;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json;charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

}  // namespace ferry
