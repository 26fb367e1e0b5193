// HttpChunkSource: the peer-protocol reads (peer_protocol.md) over a
// PeerClient, which owns the connections, deadlines, retries and the
// mapping of peer errors to Status.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/hash.h"
#include "copy/chunk_source.h"
#include "copy/peer_client.h"
#include "copy/peer_wire.h"
#include "store/chunk_format.h"

namespace ferry {
namespace {

// A chunk body is at most the header plus its (bounded) plaintext; a
// manifest is far smaller.
constexpr uint64_t kMaxResponseBytes = kMaxChunkPlaintext + kChunkHeaderSize;

class HttpChunkSource final : public ChunkSource {
 public:
  HttpChunkSource(std::string base_url, Result<std::shared_ptr<PeerClient>> client)
      : base_url_(std::move(base_url)) {
    if (client.ok() && *client != nullptr) {
      client_ = std::move(client).value();
    } else {
      config_error_ = client.ok() ? InvalidArgument("", "chunk source without a peer client") : client.status();
    }
  }

  // A pull waits for its Warm (it joins the callers), so a peer that accepts
  // connections but does not answer (it is stopping) must not hold the pull,
  // or a shutdown, for the full deadline.
  static constexpr int kWarmTimeoutMs = 2000;

  void Warm(const std::string& region_id, unsigned connections) override {
    if (client_ != nullptr) client_->Warm(PeerRegionPath(region_id), connections, kWarmTimeoutMs);
  }

  std::chrono::microseconds RoundTrip(const std::string& /*region_id*/) override {
    return client_ != nullptr ? client_->min_round_trip() : std::chrono::microseconds{0};
  }

  Result<Manifest> FetchManifest(const std::string& region_id, const std::string& snapshot_id) override {
    ASSIGN_OR_RETURN(std::vector<uint8_t> body, Get(PeerManifestPath(region_id, snapshot_id), nullptr, 0));
    Result<Manifest> manifest = DecodeManifest(body);
    if (!manifest.ok()) {
      return DataLoss("manifest of snapshot " + snapshot_id + " in region " + region_id + " from peer " +
                      base_url_ + " (" + std::to_string(body.size()) + " bytes): " + manifest.status().message());
    }
    return manifest;
  }

  Result<std::vector<uint8_t>> FetchChunk(const std::string& region_id, const ChunkId& id,
                                          uint64_t* wire_bytes) override {
    ASSIGN_OR_RETURN(std::vector<uint8_t> body, Get(PeerChunkPath(region_id, id), wire_bytes, 0));
    return DecodeWireChunk(id, body);
  }

  Result<std::vector<uint8_t>> FetchChunkObject(const std::string& region_id, const ChunkId& id,
                                                uint64_t length, uint64_t* wire_bytes) override {
    ASSIGN_OR_RETURN(std::vector<uint8_t> body,
                     Get(PeerChunkPath(region_id, id), wire_bytes, MaxChunkObjectSize(length)));
    Result<ChunkHeader> header = CheckChunkObject(body);
    if (!header.ok()) {
      return DataLoss("chunk " + ToHex(id) + " from peer " + base_url_ + ": " + header.status().message());
    }
    return body;
  }

 private:
  // `max_bytes` > 0 bounds the answer below the client's own limit.
  Result<std::vector<uint8_t>> Get(const std::string& target, uint64_t* wire_bytes, uint64_t max_bytes) {
    if (!config_error_.ok()) return config_error_;
    ASSIGN_OR_RETURN(PeerResponse response, client_->Call("GET", target, "", 0, max_bytes));
    if (wire_bytes != nullptr) *wire_bytes = response.body.size();
    return std::move(response.body);
  }

  const std::string base_url_;
  std::shared_ptr<PeerClient> client_;  // null when config_error_ is set
  Status config_error_;
};

}  // namespace

Result<std::shared_ptr<PeerClient>> NewChunkPeerClient(const HttpChunkSourceOptions& options) {
  PeerClientOptions client_options;
  client_options.base_url = options.base_url;
  client_options.cluster_key = options.cluster_key;
  client_options.timeout_ms = options.timeout_ms;
  client_options.max_connections = options.max_connections;
  client_options.max_response_bytes = kMaxResponseBytes;
  ASSIGN_OR_RETURN(std::unique_ptr<PeerClient> client, NewPeerClient(client_options));
  return std::shared_ptr<PeerClient>(std::move(client));
}

std::unique_ptr<ChunkSource> NewHttpChunkSource(std::shared_ptr<PeerClient> client) {
  std::string base_url = client != nullptr ? client->base_url() : std::string();
  return std::make_unique<HttpChunkSource>(std::move(base_url), std::move(client));
}

std::unique_ptr<ChunkSource> NewHttpChunkSource(const HttpChunkSourceOptions& options) {
  return std::make_unique<HttpChunkSource>(options.base_url, NewChunkPeerClient(options));
}

}  // namespace ferry
