// The HTTP request and response as the API layer sees them, independent of
// the HTTP library.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/fs_util.h"

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
  // When set, the body is instead `length` bytes of this file from
  // `offset`, sent by sendfile(2) (a peer's chunk object): the bytes go from
  // the page cache to the socket without a copy through this process.
  struct FileBody {
    UniqueFd fd;
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  std::shared_ptr<FileBody> file_body;
};

}  // namespace ferry
