// ChunkStore: the region's content-addressed store of immutable chunks.
//
// A chunk is identified by the SHA-256 of its plaintext, or of its dedup scope
// and plaintext for a scoped chunk (chunk_id.h: ComputeChunkId). The store is
// object-storage shaped — put / get / has / list / delete of immutable objects —
// so an S3-compatible implementation can follow FsChunkStore.
//
// Threading: implementations are thread-safe; any method may be called from
// any thread concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/fs_util.h"
#include "common/hash.h"
#include "common/status.h"
#include "store/chunk_id.h"

namespace ferry {

// A stored chunk object as an open file: the object is its `size` bytes
// from offset 0 (chunk_format.md), for sending with sendfile(2).
struct ChunkObjectFile {
  UniqueFd fd;
  uint64_t size = 0;
};

// Chunk objects stored together and made durable together
// (ChunkStore::NewWriteBatch): each Put writes its chunk without waiting for
// the disk, and Commit waits for all of them at once, so a copy's chunks are
// not stored one disk flush after another. A chunk Put into a batch is not in
// the store (Has is false, a crash leaves no trace of it) until a Commit
// returns OK; then it is as a ChunkStore::PutStored that returned OK.
// Destroying a batch drops what it did not commit.
//
// Threading: thread-safe; Commit may run while other threads Put (it
// commits what was Put before it began).
class ChunkWriteBatch {
 public:
  virtual ~ChunkWriteBatch() = default;
  // As ChunkStore::PutStored and PutStoredWithDigest, verified the same way
  // before they return; *newly_stored: the store did not hold the chunk when
  // it was written.
  virtual Status PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored) = 0;
  virtual Status PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object,
                                     const Digest256& object_digest, bool* newly_stored) = 0;
  // Makes every chunk Put before the call durable and gives it its name; the
  // directory entries are made durable by the store's Sync, as for Put. On
  // failure the chunks of this commit are dropped.
  virtual Status Commit() = 0;
  // Chunks Put and not yet committed.
  virtual size_t pending() const = 0;
};

struct ChunkStoreStats {
  uint64_t chunks = 0;        // objects present
  uint64_t stored_bytes = 0;  // bytes on disk (after compression)
};

class ChunkStore {
 public:
  virtual ~ChunkStore() = default;

  // Stores `plaintext` under `id` in dedup scope `scope` (null: unscoped).
  // Verifies ComputeChunkId(scope, plaintext) == id first (kDataLoss on
  // mismatch); the stored object records the scope, so readers verify it
  // without being told. Idempotent: if the chunk exists, nothing is
  // written. Durable when it returns OK (temp + fsync + rename).
  // Sets *newly_stored (if non-null) to whether bytes were written.
  virtual Status Put(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                     bool* newly_stored = nullptr) = 0;
  // An unscoped chunk.
  Status Put(const ChunkId& id, std::span<const uint8_t> plaintext, bool* newly_stored = nullptr) {
    return Put(nullptr, id, plaintext, newly_stored);
  }

  // Like Put, for a caller that computed `id` as ComputeChunkId(scope,
  // plaintext) itself, from these very bytes in this process (ingest does):
  // the store skips hashing them a second time. Bytes from a disk or a peer
  // go through Put.
  virtual Status PutHashed(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                           bool* newly_stored = nullptr) {
    return Put(scope, id, plaintext, newly_stored);
  }
  Status PutHashed(const ChunkId& id, std::span<const uint8_t> plaintext, bool* newly_stored = nullptr) {
    return PutHashed(nullptr, id, plaintext, newly_stored);
  }
  // PutHashed, and when this call wrote the object, sets *object_digest to
  // its ComputeObjectDigest (chunk_format.md, "Object digest"), computed from
  // the bytes written, for a manifest to carry. Left empty when the chunk was
  // there already (nothing this call saw vouches for those bytes) or the
  // store keeps no chunk objects (the default).
  virtual Status PutHashedWithDigest(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                                     bool* newly_stored, std::optional<Digest256>* object_digest) {
    object_digest->reset();
    return PutHashed(scope, id, plaintext, newly_stored);
  }

  // Makes every Put that returned OK durable against power loss, including
  // the directory entries (Put itself fsyncs the file before its rename, so
  // a chunk is never half-visible; Sync batches the directory fsyncs). Call
  // before committing a manifest that references new chunks.
  virtual Status Sync() = 0;

  // Returns the plaintext, verified against `id` with the scope the chunk
  // was stored under (kDataLoss on corruption, kNotFound if absent).
  virtual Result<std::vector<uint8_t>> Get(const ChunkId& id) = 0;

  // Get, for a reader holding the chunk's object digest from a committed
  // manifest of this store (ChunkEntry::object_digest; an export): the
  // object read is verified by SHA-256 over its stored bytes (compressed:
  // usually far fewer than the plaintext) instead of over the plaintext,
  // then decoded to exactly the plaintext length its header gives. A match
  // proves the object is the one the digest was taken of, which decodes to
  // `id`'s plaintext (chunk_format.md, "Object digest": this store computed
  // the digest from the bytes it wrote of a plaintext whose id was computed
  // in the same process, or checked the object against it on arrival in a
  // manifest authenticated with the cluster key), short of a SHA-256 second
  // preimage. An object that does not match (encoded otherwise since) is
  // verified against `id` as Get does, so no bytes are returned unverified.
  // The default is Get.
  virtual Result<std::vector<uint8_t>> GetWithObjectDigest(const ChunkId& id,
                                                           const Digest256& object_digest) {
    (void)object_digest;
    return Get(id);
  }

  // The chunk as a chunk object (chunk_format.md: header, then the raw or
  // zstd payload), for handing to another store as it is. The header and the
  // object's size are checked (kDataLoss), the payload is not: whoever
  // stores the object verifies it (PutStored). kNotFound if absent.
  // The default encodes Get's plaintext as a raw unscoped object, and is
  // kInternal for a scoped chunk (a store holding scoped chunks overrides it).
  virtual Result<std::vector<uint8_t>> GetStored(const ChunkId& id);

  // The chunk object GetStored would return, as an open file, with the same
  // checks (header and size; kNotFound, kDataLoss) and nothing read into
  // memory: a peer sends it with sendfile. nullopt when this store keeps no
  // such file (the default): use GetStored.
  virtual Result<std::optional<ChunkObjectFile>> OpenStored(const ChunkId& id);

  // Stores a chunk object as GetStored returns it: decodes it, verifies
  // ComputeChunkId(the object's scope, plaintext) == id (kDataLoss naming
  // both digests, nothing stored) and stores the chunk in that scope, with
  // Put's idempotence and durability. A store
  // whose format is the object's keeps the bytes as they are, sparing a
  // recompression. The default decodes and calls PutHashed.
  virtual Status PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored = nullptr);

  // Stores a chunk object whose object digest (chunk_format.md) an
  // authenticated manifest gave as `object_digest`: checks the header and
  // that ComputeObjectDigest(object) == object_digest (kDataLoss naming both,
  // nothing stored), and keeps the bytes as they are, without decoding or
  // hashing the plaintext. The manifest's author computed the digest over an
  // object it had verified to decode to `id`'s plaintext, so a match proves
  // the same of this object, short of a SHA-256 second preimage. A digest
  // from an unauthenticated source proves nothing: use PutStored. The
  // default checks the digest, then does PutStored's work too.
  virtual Status PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object,
                                     const Digest256& object_digest, bool* newly_stored = nullptr);

  // A batch of PutStored writes committed together (ChunkWriteBatch). The
  // default writes each chunk at once through this store's PutStored, so
  // Commit has nothing left to do.
  virtual std::unique_ptr<ChunkWriteBatch> NewWriteBatch();

  virtual Result<bool> Has(const ChunkId& id) = 0;

  // Removes the chunk; OK if absent.
  virtual Status Delete(const ChunkId& id) = 0;

  // Calls `fn` for every stored chunk id, in no particular order. Chunks put
  // or deleted concurrently may or may not be seen.
  virtual Status List(const std::function<void(const ChunkId&)>& fn) = 0;

  virtual Result<ChunkStoreStats> Stats() = 0;
};

}  // namespace ferry
