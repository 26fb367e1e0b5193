#include "copy/failover_peer_client.h"

#include <atomic>

namespace ferry {
namespace {

class FailoverPeerClient final : public PeerClient {
 public:
  FailoverPeerClient(std::vector<std::shared_ptr<PeerClient>> clients, SpreadCalls spread)
      : clients_(std::move(clients)), spread_(std::move(spread)) {}

  Result<PeerResponse> Call(const std::string& method, const std::string& target, const std::string& body,
                            int timeout_ms, uint64_t max_response_bytes) override {
    const bool spread = spread_ && spread_(method, target);
    const size_t first = spread ? next_spread_.fetch_add(1) % clients_.size() : current_.load();
    Result<PeerResponse> answer = Unavailable("no peer server");
    for (size_t i = 0; i < clients_.size(); ++i) {
      const size_t at = (first + i) % clients_.size();
      answer = clients_[at]->Call(method, target, body, timeout_ms, max_response_bytes);
      if (answer.ok() || answer.status().code() != Code::kUnavailable) {
        if (!spread) current_.store(at);
        return answer;
      }
    }
    return answer;
  }

  void Warm(const std::string& target, unsigned connections, int timeout_ms) override {
    clients_[current_.load()]->Warm(target, connections, timeout_ms);
  }

  std::chrono::microseconds min_round_trip() const override {
    return clients_[current_.load()]->min_round_trip();
  }

  const std::string& base_url() const override { return clients_[current_.load()]->base_url(); }

 private:
  const std::vector<std::shared_ptr<PeerClient>> clients_;
  const SpreadCalls spread_;
  std::atomic<size_t> current_{0};
  std::atomic<size_t> next_spread_{0};
};

}  // namespace

std::unique_ptr<PeerClient> NewFailoverPeerClient(std::vector<std::shared_ptr<PeerClient>> clients,
                                                  SpreadCalls spread) {
  return std::make_unique<FailoverPeerClient>(std::move(clients), std::move(spread));
}

}  // namespace ferry
