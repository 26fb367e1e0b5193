#include "region/remote_copy_peer.h"

#include <nlohmann/json.hpp>
#include <utility>

#include "copy/failover_peer_client.h"
#include "copy/peer_client.h"
#include "copy/peer_wire.h"
#include "region/copy_wire.h"

namespace ferry {
namespace {

using Json = nlohmann::json;

class RemoteCopyPeer final : public CopyPeer {
 public:
  RemoteCopyPeer(std::string region_id, std::unique_ptr<PeerClient> client)
      : region_id_(std::move(region_id)), client_(std::move(client)) {}

  Result<std::string> AcceptCopy(const CopyTarget& t) override {
    const std::string target = PeerCopiesPath(region_id_);
    ASSIGN_OR_RETURN(Json answer, CallForObject("POST", target, EncodeCopyTarget(t)));
    auto id = answer.find("ImageId");
    if (id == answer.end() || !id->is_string() || id->get<std::string>().empty()) {
      return Malformed("POST", target, "no \"ImageId\" string", answer);
    }
    return id->get<std::string>();
  }

  Result<bool> CopyInProgress(const std::string& copy_image_id) override {
    const std::string target = PeerCopyPath(region_id_, copy_image_id);
    ASSIGN_OR_RETURN(Json answer, CallForObject("GET", target, ""));
    auto in_progress = answer.find("InProgress");
    if (in_progress == answer.end() || !in_progress->is_boolean()) {
      return Malformed("GET", target, "no \"InProgress\" boolean", answer);
    }
    return in_progress->get<bool>();
  }

  // Short: `ferry serve` waits for its start-up pings when it stops.
  Status Ping() override {
    return CallForObject("GET", PeerRegionPath(region_id_), "", kPingTimeoutMs).status();
  }

  Status AcquireCopyLease(const CopyLease& lease) override { return LeaseCall("PUT", lease); }
  Status ReleaseCopyLease(const CopyLease& lease) override { return LeaseCall("DELETE", lease); }

 private:
  Status LeaseCall(const char* method, const CopyLease& lease) {
    const std::string target =
        PeerCopyLeasePath(region_id_, lease.source_image_id, lease.copy_region_id, lease.copy_image_id);
    return CallForObject(method, target, "").status();
  }

  // The call's answer, which must be a JSON object.
  static constexpr int kPingTimeoutMs = 2000;

  Result<Json> CallForObject(const std::string& method, const std::string& target, const std::string& body,
                             int timeout_ms = 0) {
    ASSIGN_OR_RETURN(PeerResponse response, client_->Call(method, target, body, timeout_ms));
    Json answer = Json::parse(response.body.begin(), response.body.end(), nullptr, /*allow_exceptions=*/false);
    if (!answer.is_object()) {
      return Internal("peer " + client_->base_url() + " " + method + " " + target + " answered HTTP " +
                      std::to_string(response.status) + " with " + std::to_string(response.body.size()) +
                      " bytes that are not a JSON object");
    }
    return answer;
  }

  Status Malformed(const std::string& method, const std::string& target, const std::string& what,
                   const Json& answer) const {
    return Internal("peer " + client_->base_url() + " " + method + " " + target + " answered " +
                    answer.dump(-1, ' ', false, Json::error_handler_t::replace) + ": " + what);
  }

  const std::string region_id_;
  const std::unique_ptr<PeerClient> client_;
};

}  // namespace

Result<std::unique_ptr<CopyPeer>> NewRemoteCopyPeer(const RemoteCopyPeerOptions& options) {
  if (options.region_id.empty()) {
    return InvalidArgument("", "remote copy peer at \"" + options.base_url + "\" needs a region id");
  }
  PeerClientOptions client_options;
  client_options.base_url = options.base_url;
  client_options.cluster_key = options.cluster_key;
  client_options.timeout_ms = options.timeout_ms;
  // Copy calls are small and rare: a couple of connections are plenty.
  client_options.max_connections = 2;
  client_options.max_response_bytes = 1u << 20;
  ASSIGN_OR_RETURN(std::unique_ptr<PeerClient> client, NewPeerClient(client_options));
  if (!options.more_urls.empty()) {
    std::vector<std::shared_ptr<PeerClient>> servers;
    servers.push_back(std::move(client));
    for (const std::string& url : options.more_urls) {
      client_options.base_url = url;
      ASSIGN_OR_RETURN(std::unique_ptr<PeerClient> more, NewPeerClient(client_options));
      servers.push_back(std::move(more));
    }
    // New copies go to the region's nodes in turn: each pulls its share.
    client = NewFailoverPeerClient(
        std::move(servers),
        [copies = PeerCopiesPath(options.region_id)](const std::string& method, const std::string& target) {
          return method == "POST" && target == copies;
        });
  }
  return std::unique_ptr<CopyPeer>(std::make_unique<RemoteCopyPeer>(options.region_id, std::move(client)));
}

}  // namespace ferry
