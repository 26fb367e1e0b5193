#include "api/peer_nonces.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <utility>

#include "copy/peer_wire.h"

namespace ferry {
namespace {

class PeerNonceSpender final : public NonceSpender {
 public:
  explicit PeerNonceSpender(std::unique_ptr<PeerClient> owner) : owner_(std::move(owner)) {}

  Status Spend(const std::string& access_key_id, const std::string& nonce, UnixSeconds timestamp) override {
    const nlohmann::json body = {{"AccessKeyId", access_key_id}, {"Nonce", nonce}, {"Timestamp", timestamp}};
    Result<PeerResponse> answer = owner_->Call("POST", std::string(kPeerNoncesPath), body.dump());
    if (answer.ok()) return Status::Ok();
    // The owner's verdict on the nonce reaches the client as the owner gave it.
    if (answer.status().reason() == "SignatureNonceUsed") return answer.status();
    // Anything else (unreachable, busy, the processes disagree about the
    // cluster key): the nonce was not checked, so the request is not
    // accepted. What went wrong is the operator's to read, not the tenant's.
    // At most once a minute: a flood of uploads must not flood the log.
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now().time_since_epoch()).count();
    int64_t last = last_warning_.load();
    if (now - last >= 60 && last_warning_.compare_exchange_strong(last, now)) {
      spdlog::warn("cannot spend a signature nonce at the cluster owner {}: {}", owner_->base_url(),
                   answer.status().ToString());
    }
    return Status(Code::kUnavailable, "ServiceUnavailable",
                  "The request has failed due to a temporary failure of the server: the process that checks "
                  "signature nonces for the cluster cannot be reached now; try again later.");
  }

 private:
  std::unique_ptr<PeerClient> owner_;
  std::atomic<int64_t> last_warning_{-60};  // steady seconds of the last warning
};

}  // namespace

std::unique_ptr<NonceSpender> NewPeerNonceSpender(std::unique_ptr<PeerClient> cluster_owner) {
  return std::make_unique<PeerNonceSpender>(std::move(cluster_owner));
}

}  // namespace ferry
