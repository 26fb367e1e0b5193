#include "copy/peer_wire.h"

#include <cstring>
#include <memory>
#include <vector>

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

std::string PeerRegionPath(std::string_view region_id) {
  std::string out(kPeerPathPrefix);
  out.append(kRegionsSegment).append(region_id);
  return out;
}

std::string PeerCopiesPath(std::string_view region_id) {
  std::string out(kPeerPathPrefix);
  out.append(kRegionsSegment).append(region_id).append("/copies");
  return out;
}

std::string PeerCopyPath(std::string_view region_id, std::string_view copy_image_id) {
  return PeerCopiesPath(region_id).append("/").append(copy_image_id);
}

std::string PeerCopyLeasePath(std::string_view source_region_id, std::string_view source_image_id,
                              std::string_view copy_region_id, std::string_view copy_image_id) {
  std::string out(kPeerPathPrefix);
  out.append(kRegionsSegment).append(source_region_id).append("/images/").append(source_image_id);
  out.append("/copy-leases/").append(copy_region_id).append("/").append(copy_image_id);
  return out;
}

std::string PeerAccessKeyPath(std::string_view access_key_id) {
  std::string out(kPeerPathPrefix);
  out.append("access-keys/").append(access_key_id);
  return out;
}

std::string PeerAccountPath(std::string_view account_id) {
  std::string out(kPeerPathPrefix);
  out.append("accounts/").append(account_id);
  return out;
}

Result<PeerRoute> ParsePeerPath(std::string_view path) {
  if (!path.starts_with(kPeerPathPrefix)) return NoRoute(path);
  std::vector<std::string_view> segments;
  for (std::string_view rest = path.substr(kPeerPathPrefix.size());;) {
    size_t slash = rest.find('/');
    segments.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  const size_t n = segments.size();
  PeerRoute route;
  if (n == 1 && segments[0] == "nonces") {
    route.kind = PeerRoute::Kind::kNonces;
    return route;
  }
  if (n == 2 && segments[0] == "accounts") {
    if (!IsPlainSegment(segments[1])) return NoRoute(path);
    route.kind = PeerRoute::Kind::kAccount;
    route.account_id = std::string(segments[1]);
    return route;
  }
  if (n == 2 && segments[0] == "access-keys") {
    if (!IsPlainSegment(segments[1])) return NoRoute(path);
    route.kind = PeerRoute::Kind::kAccessKey;
    route.access_key_id = std::string(segments[1]);
    return route;
  }
  if (n < 2 || segments[0] != "regions" || !IsPlainSegment(segments[1])) return NoRoute(path);
  route.region_id = std::string(segments[1]);
  if (n == 2) {
    route.kind = PeerRoute::Kind::kRegion;
    return route;
  }
  const std::string_view what = segments[2];
  if (what == "chunks" && n == 4) {
    // Checked before the segment rule: a bad id deserves its own answer.
    std::string_view hex = segments[3];
    if (hex.empty()) return NoRoute(path);
    if (hex.size() != 64 || !FromHex(hex, &route.chunk_id)) {
      return InvalidArgument("InvalidChunkId.Malformed",
                             "The chunk id \"" + std::string(hex) + "\" is not 64 hex digits (a SHA-256).");
    }
    route.kind = PeerRoute::Kind::kChunk;
    return route;
  }
  for (size_t i = 3; i < n; ++i) {
    if (!IsPlainSegment(segments[i])) return NoRoute(path);
  }
  if (what == "snapshots" && n == 5 && segments[4] == "manifest") {
    route.kind = PeerRoute::Kind::kManifest;
    route.snapshot_id = std::string(segments[3]);
    return route;
  }
  if (what == "copies" && n == 3) {
    route.kind = PeerRoute::Kind::kCopies;
    return route;
  }
  if (what == "copies" && n == 4) {
    route.kind = PeerRoute::Kind::kCopy;
    route.copy_image_id = std::string(segments[3]);
    return route;
  }
  if (what == "images" && n == 7 && segments[4] == "copy-leases") {
    route.kind = PeerRoute::Kind::kCopyLease;
    route.image_id = std::string(segments[3]);
    route.copy_region_id = std::string(segments[5]);
    route.copy_image_id = std::string(segments[6]);
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
  // Verified with the scope the object carries (chunk_id.h).
  Result<std::vector<uint8_t>> plaintext = DecodeVerifiedChunkObject(id, body);
  if (!plaintext.ok()) return DataLoss(what + ": " + plaintext.status().message());
  return plaintext;
}

}  // namespace ferry
