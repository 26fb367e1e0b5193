#include "copy/peer_wire.h"


#include <cstring>
#include <memory>

#include "common/hash.h"
#include "store/chunk_format.h"

namespace ferry {
namespace {

constexpr std::string_view kRegionsSegment = "regions/";
constexpr std::string_view kSnapshotsSegment = "/snapshots/";
constexpr std::string_view kManifestSuffix = "/manifest";
constexpr std::string_view kChunksSegment = "/chunks/";

// A path segment: non-empty, no '/', nothing that needs escaping. Region and
// snapshot ids are [a-z0-9-] in practice; this is the looser safe set.
bool IsPlainSegment(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.';
    if (!ok) return false;
  }
  return s != "." && s != "..";
}

Status NoRoute(std::string_view path) {
  return NotFound("InvalidPeerPath.NotFound",
                  "No peer endpoint at \"" + std::string(path) + "\"; see peer_protocol.md for the routes.");
}

}  // namespace

std::string PeerManifestPath(std::string_view region_id, std::string_view snapshot_id) {
  std::string out(kPeerPathPrefix);
  out.append(kRegionsSegment).append(region_id).append(kSnapshotsSegment).append(snapshot_id);
  out.append(kManifestSuffix);
  return out;
}

std::string PeerChunkPath(std::string_view region_id, const ChunkId& id) {
  std::string out(kPeerPathPrefix);
  out.append(kRegionsSegment).append(region_id).append(kChunksSegment).append(ToHex(id));
  return out;
}

Result<PeerRoute> ParsePeerPath(std::string_view path) {
  if (!path.starts_with(kPeerPathPrefix)) return NoRoute(path);
  std::string_view rest = path.substr(kPeerPathPrefix.size());
  if (!rest.starts_with(kRegionsSegment)) return NoRoute(path);
  rest.remove_prefix(kRegionsSegment.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return NoRoute(path);
  PeerRoute route;
  std::string_view region = rest.substr(0, slash);
  if (!IsPlainSegment(region)) return NoRoute(path);
  route.region_id = std::string(region);
  rest.remove_prefix(slash);
  if (rest.starts_with(kSnapshotsSegment) && rest.ends_with(kManifestSuffix) &&
      rest.size() > kSnapshotsSegment.size() + kManifestSuffix.size()) {
    std::string_view snapshot = rest.substr(kSnapshotsSegment.size(),
                                            rest.size() - kSnapshotsSegment.size() - kManifestSuffix.size());
    if (!IsPlainSegment(snapshot)) return NoRoute(path);
    route.kind = PeerRoute::Kind::kManifest;
    route.snapshot_id = std::string(snapshot);
    return route;
  }
  if (rest.starts_with(kChunksSegment)) {
    std::string_view hex = rest.substr(kChunksSegment.size());
    if (hex.empty() || hex.find('/') != std::string_view::npos) return NoRoute(path);
    if (hex.size() != 64 || !FromHex(hex, &route.chunk_id)) {
      return InvalidArgument("InvalidChunkId.Malformed",
                             "The chunk id \"" + std::string(hex) + "\" is not 64 hex digits (a SHA-256).");
    }
    route.kind = PeerRoute::Kind::kChunk;
    return route;
  }
  return NoRoute(path);
}

std::string EncodeWireChunk(std::span<const uint8_t> plaintext) {
  std::vector<uint8_t> object = EncodeChunkObject(plaintext, /*compress=*/true, kPeerWireZstdLevel);
  return std::string(object.begin(), object.end());
}

Result<std::vector<uint8_t>> DecodeWireChunk(const ChunkId& id, std::span<const uint8_t> body) {
  const std::string what = "chunk " + ToHex(id) + " from the peer";
  Result<std::vector<uint8_t>> plaintext = DecodeChunkObject(body);
  if (!plaintext.ok()) return DataLoss(what + ": " + plaintext.status().message());
  Digest256 actual = Sha256::Of(std::span<const uint8_t>(*plaintext));
  if (actual != id) {
    return DataLoss(what + ": plaintext of " + std::to_string(plaintext->size()) + " bytes hashes to " +
                    ToHex(actual) + ", expected " + ToHex(id));
  }
  return plaintext;
}

}  // namespace ferry
