// The peer protocol's request paths and chunk bodies (copy/peer_wire.*).
// Invariants: a parsed path, rebuilt with the Peer*Path builders, parses to
// the same route; a decoded chunk body has the SHA-256 it was asked for and
// re-encodes to a body that decodes to the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/hash.h"
#include "copy/peer_wire.h"
#include "fuzz_util.h"

using ferry::fuzz::Fields;

namespace {

std::string Rebuild(const ferry::PeerRoute& r) {
  using Kind = ferry::PeerRoute::Kind;
  switch (r.kind) {
    case Kind::kRegion: return ferry::PeerRegionPath(r.region_id);
    case Kind::kManifest: return ferry::PeerManifestPath(r.region_id, r.snapshot_id);
    case Kind::kChunk: return ferry::PeerChunkPath(r.region_id, r.chunk_id);
    case Kind::kCopies: return ferry::PeerCopiesPath(r.region_id);
    case Kind::kCopy: return ferry::PeerCopyPath(r.region_id, r.copy_image_id);
    case Kind::kCopyLease:
      return ferry::PeerCopyLeasePath(r.region_id, r.image_id, r.copy_region_id, r.copy_image_id);
    case Kind::kAccessKey: return ferry::PeerAccessKeyPath(r.access_key_id);
    case Kind::kAccount: return ferry::PeerAccountPath(r.account_id);
    case Kind::kNonces: return std::string(ferry::kPeerNoncesPath);
  }
  return "";
}

bool SameRoute(const ferry::PeerRoute& a, const ferry::PeerRoute& b) {
  return a.kind == b.kind && a.region_id == b.region_id && a.snapshot_id == b.snapshot_id &&
         a.chunk_id == b.chunk_id && a.image_id == b.image_id && a.copy_region_id == b.copy_region_id &&
         a.copy_image_id == b.copy_image_id && a.access_key_id == b.access_key_id &&
         a.account_id == b.account_id;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fields fields(data, size);
  const std::string path = fields.Next();
  const std::string body = fields.Next();

  auto route = ferry::ParsePeerPath(path);
  if (route.ok()) {
    std::string rebuilt = Rebuild(*route);
    auto again = ferry::ParsePeerPath(rebuilt);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(SameRoute(*again, *route));
  }

  // A body checked against a wrong id is refused; against the id of what it
  // decodes to (found by decoding with the raw codec's id), accepted.
  ferry::ChunkId zero{};
  auto decoded = ferry::DecodeWireChunk(zero, ferry::fuzz::Bytes(body));
  if (decoded.ok()) FUZZ_CHECK(ferry::Sha256::Of(std::span<const uint8_t>(*decoded)) == zero);

  std::string wire = ferry::EncodeWireChunk(ferry::fuzz::Bytes(body));
  ferry::ChunkId id = ferry::Sha256::Of(std::string_view(body));
  auto back = ferry::DecodeWireChunk(id, ferry::fuzz::Bytes(wire));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(std::string(back->begin(), back->end()) == body);
  return 0;
}
