// ChunkSource: where a copy pulls from — the source region's snapshot
// manifests and chunks. The destination region drives the copy (it pulls);
// the source only answers reads. HttpChunkSource speaks the peer protocol of
// peer_protocol.md to another region's server (or, in the one-process
// default, to this process's own server: the same protocol either way).
//
// Errors: kUnavailable for failures worth retrying (connection refused, reset,
// timeout, 5xx), kNotFound when the source says the snapshot or chunk is gone,
// kDataLoss when received bytes fail verification, others as they come.
//
// Threading: implementations are thread-safe; a puller calls FetchChunkObject
// from several threads at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/chunk_format.h"
#include "store/chunk_store.h"
#include "store/manifest.h"

namespace ferry {

class ChunkSource {
 public:
  virtual ~ChunkSource() = default;

  // Readies up to `connections` connections to `region_id`'s server at once
  // (best effort; errors are left for the fetches to meet). On a link with a
  // long round trip each new connection's first request costs that trip;
  // paying it on all of them together, while the manifest is fetched, saves
  // it on every connection the fetches would otherwise open one by one.
  virtual void Warm(const std::string& /*region_id*/, unsigned /*connections*/) {}
  // The shortest round trip seen to `region_id`'s server (PeerClient::
  // min_round_trip); zero when none was seen or there is no network between.
  virtual std::chrono::microseconds RoundTrip(const std::string& /*region_id*/) { return {}; }
  // The committed manifest of `snapshot_id` in `region_id`, decoded and
  // validated (DecodeManifest checks its checksum).
  virtual Result<Manifest> FetchManifest(const std::string& region_id, const std::string& snapshot_id) = 0;

  // The plaintext of chunk `id` from `region_id`'s store, verified against
  // `id` before it is returned (kDataLoss otherwise). *wire_bytes (if not
  // null) receives the bytes that crossed the network for it.
  virtual Result<std::vector<uint8_t>> FetchChunk(const std::string& region_id, const ChunkId& id,
                                                  uint64_t* wire_bytes) = 0;

  // Chunk `id` as a chunk object (store/chunk_format.md), for
  // ChunkStore::PutStored. Only the header and the object's size are
  // checked (kDataLoss); the payload is NOT verified against `id`: the
  // caller's PutStored does that, and must. *wire_bytes as for FetchChunk.
  // `length` is the plaintext length the manifest gives the chunk: a source
  // reading from the network refuses an answer larger than such a chunk's
  // object can be (MaxChunkObjectSize) before reading it, so a peer cannot
  // make the caller hold more than the chunk it asked for.
  // The default encodes FetchChunk's plaintext as a raw unscoped (version 1)
  // object, which fails PutStored for a scoped chunk: a source serving
  // scoped chunks (every real one) overrides it to pass the object on.
  virtual Result<std::vector<uint8_t>> FetchChunkObject(const std::string& region_id, const ChunkId& id,
                                                        uint64_t /*length*/, uint64_t* wire_bytes) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> plaintext, FetchChunk(region_id, id, wire_bytes));
    return EncodeChunkObject(plaintext, /*compress=*/false);
  }
};

class PeerClient;

struct HttpChunkSourceOptions {
  std::string base_url;     // "http://127.0.0.1:8080" — the source region's server
  std::string cluster_key;  // shared secret of the cluster (peer_protocol.md)
  int timeout_ms = 30000;
  unsigned max_connections = 8;  // kept-alive connections reused across calls
};

// A PeerClient fit for chunk reads (responses as large as a chunk object).
// Sources made over one client share its connections: a process keeps one
// per peer, so a copy finds the connections that earlier ones (or Warm)
// left ready. kInvalidArgument for a bad base_url.
Result<std::shared_ptr<PeerClient>> NewChunkPeerClient(const HttpChunkSourceOptions& options);

std::unique_ptr<ChunkSource> NewHttpChunkSource(std::shared_ptr<PeerClient> client);
// A source over a client of its own; a bad base_url fails every call.
std::unique_ptr<ChunkSource> NewHttpChunkSource(const HttpChunkSourceOptions& options);

}  // namespace ferry
