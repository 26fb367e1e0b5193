#include "copy/peer_wire.h"

#include <zstd.h>

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

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One context per thread: a context holds megabytes of tables, and the
// server encodes on its I/O threads, the client decodes on its callers'.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

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
  // One allocation: the raw form is the upper bound, and a zstd frame is
  // kept only if it fits in one byte less.
  std::string out(kChunkHeaderSize + plaintext.size(), '\0');
  ChunkHeader header;
  header.plaintext_length = plaintext.size();
  size_t n = 0;
  if (plaintext.size() > 1) {
    n = ZSTD_compressCCtx(ThreadCCtx(), out.data() + kChunkHeaderSize, plaintext.size() - 1, plaintext.data(),
                          plaintext.size(), kPeerWireZstdLevel);
  }
  if (plaintext.size() > 1 && !ZSTD_isError(n)) {
    header.codec = ChunkCodec::kZstd;
    header.stored_length = n;
    out.resize(kChunkHeaderSize + n);
  } else {
    header.codec = ChunkCodec::kRaw;
    header.stored_length = plaintext.size();
    if (!plaintext.empty()) std::memcpy(out.data() + kChunkHeaderSize, plaintext.data(), plaintext.size());
  }
  ChunkHeaderBytes bytes = EncodeChunkHeader(header);
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

Result<std::vector<uint8_t>> DecodeWireChunk(const ChunkId& id, std::span<const uint8_t> body) {
  const std::string what = "chunk " + ToHex(id) + " from the peer";
  if (body.size() < kChunkHeaderSize) {
    return DataLoss(what + ": body of " + std::to_string(body.size()) + " bytes is shorter than the " +
                    std::to_string(kChunkHeaderSize) + "-byte header");
  }
  Result<ChunkHeader> header = DecodeChunkHeader(body.first(kChunkHeaderSize));
  if (!header.ok()) return DataLoss(what + ": " + header.status().message());
  const uint64_t payload_size = body.size() - kChunkHeaderSize;
  if (header->stored_length != payload_size) {
    return DataLoss(what + ": header says " + std::to_string(header->stored_length) +
                    " payload bytes, body has " + std::to_string(payload_size));
  }
  std::span<const uint8_t> payload = body.subspan(kChunkHeaderSize);
  std::vector<uint8_t> plaintext;
  if (header->codec == ChunkCodec::kRaw) {
    plaintext.assign(payload.begin(), payload.end());
  } else {
    plaintext.resize(header->plaintext_length);
    size_t n =
        ZSTD_decompressDCtx(ThreadDCtx(), plaintext.data(), plaintext.size(), payload.data(), payload.size());
    if (ZSTD_isError(n)) return DataLoss(what + ": zstd payload does not decode: " + ZSTD_getErrorName(n));
    if (n != header->plaintext_length) {
      return DataLoss(what + ": zstd payload decodes to " + std::to_string(n) + " bytes, header says " +
                      std::to_string(header->plaintext_length));
    }
  }
  Digest256 actual = Sha256::Of(std::span<const uint8_t>(plaintext));
  if (actual != id) {
    return DataLoss(what + ": plaintext of " + std::to_string(plaintext.size()) + " bytes hashes to " +
                    ToHex(actual) + ", expected " + ToHex(id));
  }
  return plaintext;
}

}  // namespace ferry
