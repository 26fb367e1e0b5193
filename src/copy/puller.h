// PullSnapshot: copy one snapshot's content from a ChunkSource into the local
// ChunkStore and return its manifest, moving only what is missing.
//
// Protocol (destination side): fetch the source manifest; for every data
// entry whose chunk the local store lacks (ChunkStore::Has), fetch it —
// `in_flight` fetches at once, pipelined — verify it, and store it as it
// came; zero entries never travel. A chunk is verified by the object digest
// its entry carries when the manifest is authenticated (given by the caller,
// PullOptions::manifest: SHA-256 of the object, no decoding), else by
// decoding it and hashing its plaintext against its id (PutStored). Chunks
// are stored into a ChunkWriteBatch, committed in groups as the pull goes
// (one disk flush serves many). Commit the rest, sync the store, then return
// the manifest: the caller commits it last, so nothing half-written is ever
// visible. A restarted pull repeats the Has checks and so resumes from the
// chunks already there.
//
// Faults: a kUnavailable from the source is retried with exponential backoff
// (initial_backoff doubling up to max_backoff, with jitter) for as long as
// `retry_for` allows since the last success; kDataLoss is retried up to
// `corrupt_retries` times per chunk; anything else (kNotFound: the source is
// gone; kResourceExhausted: disk full) ends the pull with that Status.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "common/status.h"
#include "copy/chunk_budget.h"
#include "copy/chunk_source.h"
#include "copy/link_limiter.h"
#include "store/chunk_store.h"
#include "store/manifest.h"

namespace ferry {

struct PullProgress {
  uint64_t chunks_total = 0;       // data chunks in the manifest
  uint64_t chunks_done = 0;        // present locally (fetched or already there)
  uint64_t chunks_fetched = 0;     // crossed the network
  uint64_t bytes_total = 0;        // plaintext bytes of data chunks
  uint64_t bytes_done = 0;
  uint64_t wire_bytes = 0;         // bytes received for fetched chunks
  double bytes_per_second = 0;     // recent transfer rate
};

struct PullOptions {
  unsigned in_flight = 8;
  // On a link whose round trip (ChunkSource::RoundTrip) is at least
  // `long_round_trip`, this many fetches are in flight instead, when it is
  // more: fetches that start together end together, and each time they all
  // ask again a long link idles for a round trip; more of them keep it busy
  // meanwhile. On a short link they would only add work. 0 = in_flight.
  unsigned in_flight_long_link = 0;
  std::chrono::milliseconds long_round_trip{10};
  // Bytes per second of wire traffic for this pull; 0 = unlimited.
  uint64_t rate_limit_bytes_per_second = 0;
  // The cap of the link this pull shares with other pulls; null = none.
  LinkLimiter* link_limiter = nullptr;
  std::chrono::milliseconds initial_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::milliseconds retry_for{std::chrono::minutes(30)};
  unsigned corrupt_retries = 3;
  // At most this many fetched chunks are verified and written at once. Each
  // needs a chunk-sized buffer to decode into, and a few cores keep up with
  // the link: more fetches in flight then cost the link's round trips, not
  // memory for stores that would only wait for a core.
  unsigned max_concurrent_stores = 4;
  // The chunk buffers this pull shares with every other copy of the process
  // (chunk_budget.h): each fetch first reserves room for the largest object
  // it may receive, and stores take turns from it instead of from
  // max_concurrent_stores. Null = this pull's own limits only.
  ChunkBudget* budget = nullptr;
  // Called (from any thread, never two at once) before a chunk is Put, so
  // the caller can pin it against garbage collection until its manifest
  // commits. Also called for chunks already present, for the same reason.
  // An error (the pin was not taken) fails the pull with it.
  std::function<Status(const ChunkId&)> pin;
  // Called at most every ~100 ms and once at the end, on the calling thread.
  std::function<void(const PullProgress&)> progress;
  // When it becomes true the pull returns kCancelled at the next chunk.
  const std::atomic<bool>* cancel = nullptr;
  // Sleeps; a test seam so backoff needs no wall-clock waiting.
  std::function<void(std::chrono::milliseconds)> sleep;
  // The snapshot's manifest when the caller has it already (the source sent
  // it with the copy): the pull starts fetching chunks at once instead of
  // asking for it first. It is validated like a fetched one; the caller
  // checks its content digest against the source's, as for a fetched one.
  // It must have come over an authenticated channel (the source's signed
  // AcceptCopy carries it): its object digests (manifest_format.md, version
  // 3) are trusted to verify chunks without decoding them. The object
  // digests of a fetched manifest are ignored, since that response is not
  // authenticated; its chunks are decoded and hashed.
  const Manifest* manifest = nullptr;
  // A manifest (fetched or given) of more bytes than this is refused
  // (InvalidParameter) before any chunk is fetched; 0 = no limit.
  uint64_t max_logical_size = 0;
};

struct PullResult {
  // The source's manifest, keeping an entry's object digest only where this
  // store now holds the very object it names (stored by this pull after
  // checking that digest); other entries carry none, as this store's object
  // for them may be encoded differently.
  Manifest manifest;
  PullProgress stats;
};

Result<PullResult> PullSnapshot(ChunkSource& source, const std::string& source_region_id,
                                const std::string& snapshot_id, ChunkStore& dest, const PullOptions& options);

}  // namespace ferry
