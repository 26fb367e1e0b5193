// The byte forms of the peer protocol (peer_protocol.md): request paths and
// the chunk body. A chunk travels as a chunk object (store/chunk_format.md):
// the 24-byte header naming the codec and the plaintext length, then the raw
// or zstd payload — zstd only when it is strictly smaller.
//
// Thread-safe: pure functions and constants.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "store/chunk_store.h"

namespace ferry {

inline constexpr std::string_view kPeerPathPrefix = "/ferry/peer/v1/";
inline constexpr const char* kPeerChunkContentType = "application/vnd.ferry.chunk";
inline constexpr const char* kPeerManifestContentType = "application/octet-stream";
// zstd level of chunks encoded for the wire: cheap, and what the store uses.
inline constexpr int kPeerWireZstdLevel = 1;

std::string PeerManifestPath(std::string_view region_id, std::string_view snapshot_id);
std::string PeerChunkPath(std::string_view region_id, const ChunkId& id);
// The copy calls between regions (CopyPeer) and the AccessKey lookup.
std::string PeerCopiesPath(std::string_view region_id);
std::string PeerCopyPath(std::string_view region_id, std::string_view copy_image_id);
std::string PeerCopyLeasePath(std::string_view source_region_id, std::string_view source_image_id,
                              std::string_view copy_region_id, std::string_view copy_image_id);
std::string PeerAccessKeyPath(std::string_view access_key_id);
std::string PeerAccountPath(std::string_view account_id);
// POST: spend an account request's signature nonce (api/peer_nonces.h).
inline constexpr std::string_view kPeerNoncesPath = "/ferry/peer/v1/nonces";
std::string PeerRegionPath(std::string_view region_id);

// A parsed peer request path. Which methods a route answers is the
// server's business (peer_protocol.md).
struct PeerRoute {
  enum class Kind {
    kRegion,     // GET    regions/{region}
    kManifest,   // GET    regions/{region}/snapshots/{snapshot_id}/manifest
    kChunk,      // GET    regions/{region}/chunks/{chunk_id}
    kCopies,     // POST   regions/{region}/copies
    kCopy,       // GET    regions/{region}/copies/{copy_image_id}
    kCopyLease,  // PUT|DELETE regions/{region}/images/{image_id}/copy-leases/{copy_region_id}/{copy_image_id}
    kAccessKey,  // GET    access-keys/{access_key_id}
    kAccount,    // GET    accounts/{account_id}
    kNonces,     // POST   nonces
  };
  Kind kind = Kind::kManifest;
  std::string region_id;       // all but kAccessKey, kAccount and kNonces
  std::string snapshot_id;     // kManifest
  ChunkId chunk_id{};          // kChunk
  std::string image_id;        // kCopyLease: the source image
  std::string copy_region_id;  // kCopyLease
  std::string copy_image_id;   // kCopy, kCopyLease
  std::string access_key_id;   // kAccessKey
  std::string account_id;      // kAccount
};

// kNotFound (reason "InvalidPeerPath.NotFound") for a path that names no
// endpoint (an empty or unsafe segment included); kInvalidArgument (reason
// "InvalidChunkId.Malformed") for a chunk id that is not 64 hex digits.
Result<PeerRoute> ParsePeerPath(std::string_view path);

// The wire body of `plaintext`, appended to nothing: header + payload.
std::string EncodeWireChunk(std::span<const uint8_t> plaintext);

// Decodes a wire body (a chunk object, version 1 or 2) and verifies
// ComputeChunkId(the object's scope, plaintext) == id. kDataLoss
// naming the chunk and the offending numbers otherwise.
Result<std::vector<uint8_t>> DecodeWireChunk(const ChunkId& id, std::span<const uint8_t> body);

}  // namespace ferry
