// EcsClient: a small synchronous client for Ferry's (and ECS's) RPC API that
// signs requests exactly as the official SDKs do — HMAC-SHA1 v1 (parameters
// in a form body, like pop-core) or ACS3-HMAC-SHA256 (parameters in the query,
// action/version in x-acs-* headers, like @alicloud/ecs20140526).
//
// Threading: one request at a time per client object.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace ferry {

struct ClientConfig {
  std::string endpoint;  // "http://127.0.0.1:8080"
  std::string access_key_id;
  std::string access_key_secret;
  bool use_v3 = false;  // ACS3-HMAC-SHA256 instead of HMAC-SHA1
  int timeout_ms = 10000;
};

struct EcsResponse {
  int http_status = 0;
  nlohmann::json body;  // parsed JSON body
  std::string raw_body;
};

// Adds to `headers` the host, x-acs-date, x-acs-signature-nonce (fresh),
// x-acs-content-sha256 and Authorization of an ACS3-HMAC-SHA256 request, as
// EcsClient sends them; for callers that send the request themselves.
void SignV3(const ClientConfig& config, const std::string& host_header, const std::string& method,
            const std::string& path, const std::map<std::string, std::string>& query,
            const std::string& payload_hash, std::map<std::string, std::string>* headers);

class EcsClient {
 public:
  explicit EcsClient(ClientConfig config);
  // Sends `action` with `params` (RegionId etc.). Returns the response for
  // any HTTP status; a non-OK Status only for transport failures or a
  // non-JSON body. Use CallOrError to turn ECS errors into a Status.
  Result<EcsResponse> Call(const std::string& action, const std::map<std::string, std::string>& params);
  // Like Call, but an ECS error response becomes a Status with reason = Code
  // and message = "Code: Message (RequestId)".
  Result<nlohmann::json> CallOrError(const std::string& action,
                                     const std::map<std::string, std::string>& params);
  // Plain GET of a path (e.g. "/metrics"); a non-2xx answer is an error.
  Result<std::string> Get(const std::string& path);

 private:
  ClientConfig config_;
};

}  // namespace ferry
