// FsChunkStore: a ChunkStore in a local directory, one file per chunk.
//
// Layout: <root>/<first 4 hex of id>/<64 hex id>, each file a chunk object as
// specified in chunk_format.md (a fixed header, then the raw or zstd payload).
// Writes go to <root>/tmp/ first and are renamed into place, so a chunk name
// never refers to a partial object. <root>/tmp is emptied by Open, so one
// process at a time may own a root.
//
// Threading: thread-safe. I/O runs without any store-wide lock; only the
// bookkeeping of directories awaiting fsync and the pool of compression
// scratch buffers take a short mutex. Concurrent Puts of the same id are safe:
// both write identical bytes and rename(2) replaces atomically.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "store/chunk_format.h"
#include "store/chunk_store.h"

namespace ferry {

class FsChunkStore final : public ChunkStore {
 public:
  // Creates `root_dir` (and root/tmp) if needed and removes leftover temp
  // files. `zstd_level` applies to new chunks; kInvalidArgument if zstd does
  // not support it. With `remove_temps` false (a check: `ferry fsck`) the
  // temps stay where they are.
  static Result<std::unique_ptr<FsChunkStore>> Open(const std::string& root_dir, int zstd_level = 1,
                                                    bool remove_temps = true);

  ~FsChunkStore() override;
  FsChunkStore(const FsChunkStore&) = delete;
  FsChunkStore& operator=(const FsChunkStore&) = delete;

  using ChunkStore::Put;
  using ChunkStore::PutHashed;
  // Verifies the id, then stores the chunk zstd-compressed if that is smaller
  // than raw, as a version 1 object when unscoped and version 2 (carrying
  // the scope) when scoped. Concurrent Puts of one absent id may both report
  // newly_stored.
  Status Put(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
             bool* newly_stored = nullptr) override;
  Status PutHashed(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                   bool* newly_stored = nullptr) override;
  // `object_digest` may be null (PutHashed).
  Status PutHashedWithDigest(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                             bool* newly_stored, std::optional<Digest256>* object_digest) override;
  Status Sync() override;
  Result<std::vector<uint8_t>> Get(const ChunkId& id) override;
  Result<std::vector<uint8_t>> GetWithObjectDigest(const ChunkId& id,
                                                   const Digest256& object_digest) override;
  // The object file's bytes, header and size checked.
  Result<std::vector<uint8_t>> GetStored(const ChunkId& id) override;
  Result<std::optional<ChunkObjectFile>> OpenStored(const ChunkId& id) override;
  // Verifies the object, then writes its bytes as they are (no
  // recompression), through the same temp + fdatasync + rename as Put. The
  // whole 4 KiB blocks bypass the page cache (O_DIRECT where the file system
  // allows it): a copy streams far more chunks than are read back soon.
  Status PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored = nullptr) override;
  // Checks the header and the object digest, then writes the bytes as
  // PutStored does, never decoding them: a copy's receiving end when the
  // manifest is authenticated (chunk_format.md, "Object digest").
  Status PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object, const Digest256& object_digest,
                             bool* newly_stored = nullptr) override;
  // Chunks written by the batch's Puts go to disk together at its Commit:
  // written through the page cache, the disk started on each at once, and
  // each dropped from the cache once synced.
  std::unique_ptr<ChunkWriteBatch> NewWriteBatch() override;
  Result<bool> Has(const ChunkId& id) override;
  Status Delete(const ChunkId& id) override;
  Status List(const std::function<void(const ChunkId&)>& fn) override;
  // Walks the whole store; stored_bytes counts object files (header included).
  Result<ChunkStoreStats> Stats() override;

  // The file holding `id` (which may not exist). For tools and tests.
  std::string ChunkPath(const ChunkId& id) const;
  const std::string& root() const { return root_; }

  // Fault injection for tests. Each chunk write asks the hook at each of its
  // steps: before creating the temp file, half-way through writing it (half
  // of the object is in the file, as when a disk fills up), before fdatasync
  // and before rename. A non-zero errno fails that step as if its system
  // call had; the hook may also end the process, to leave a write cut off.
  // A hooked write goes through the page cache (never O_DIRECT).
  // Set it before the store is shared between threads; an empty hook (the
  // default) injects nothing and costs one test per write.
  enum class WriteStep { kCreate, kWrite, kSync, kRename };
  using WriteFaultHook = std::function<int(WriteStep)>;
  void SetWriteFaultHookForTesting(WriteFaultHook hook) { write_fault_hook_ = std::move(hook); }

 private:
  struct Scratch;
  class WriteBatch;

  // A chunk object written to its temp file, not yet synced or named.
  struct StagedObject {
    ChunkId id{};
    std::string dir;          // the directory of its name
    std::string path;         // its name
    std::string tmp;          // the temp file holding it
    UniqueFd fd;              // open on `tmp`
    bool drop_cache = false;  // leave none of it in the page cache
  };

  FsChunkStore(std::string root, int zstd_level);

  std::unique_ptr<Scratch> AcquireScratch();
  void ReleaseScratch(std::unique_ptr<Scratch> s);
  std::string DirFor(const ChunkId& id) const;
  // `id`'s object file, open, its header and size checked (OpenStored).
  Result<ChunkObjectFile> OpenObjectFile(const ChunkId& id);
  // The plaintext of `id`'s object into *out and its header (with the scope
  // a version 2 object carries) into *header; the id is not verified here.
  // With `object_digest`, also the object's ComputeObjectDigest, taken over
  // the bytes read before they are decoded.
  Status ReadObject(const ChunkId& id, std::vector<uint8_t>* out, ChunkHeader* header,
                    Digest256* object_digest = nullptr);
  // kDataLoss unless `plaintext` (read from `id`'s object with `header`) hashes to `id`.
  Status VerifyPlaintext(const ChunkId& id, const ChunkHeader& header, std::span<const uint8_t> plaintext);
  // Writes header (the whole prefix: header, and scope for version 2) +
  // payload as the object of `id` (whose directory `dir`
  // may not exist yet) via a temp file, fdatasync and rename. With `direct`,
  // the object's whole 4 KiB blocks are staged in its aligned buffer and
  // written with O_DIRECT, bypassing the page cache; the tail is written
  // normally. Null `direct` writes everything through the page cache.
  Status WriteObject(const ChunkId& id, const std::string& dir, const std::string& path,
                     std::span<const uint8_t> header, std::span<const uint8_t> payload, Scratch* direct);
  // WriteObject in two steps: the temp file written (the fault hook's
  // kCreate and kWrite steps), then fdatasync and rename (kSync, kRename).
  // `batched`: the write is synced later, with others (WriteBatch).
  Result<StagedObject> WriteTemp(const ChunkId& id, const std::string& dir, const std::string& path,
                                 std::span<const uint8_t> header, std::span<const uint8_t> payload,
                                 Scratch* direct, bool batched);
  Status Publish(StagedObject& staged);
  // PutStored and PutStoredWithDigest, into `batch` (null: durable at once).
  Status PutStoredInto(WriteBatch* batch, const ChunkId& id, std::span<const uint8_t> object,
                       bool* newly_stored);
  Status PutStoredWithDigestInto(WriteBatch* batch, const ChunkId& id, std::span<const uint8_t> object,
                                 const Digest256& object_digest, bool* newly_stored);
  // The tail of PutStored and PutStoredWithDigest, once `object` is verified:
  // writes it unchanged (O_DIRECT staged in `direct`) unless `id` exists,
  // and hands it to `batch` or makes it durable at once (null `batch`).
  Status WriteVerifiedObject(WriteBatch* batch, const ChunkId& id, std::span<const uint8_t> object,
                             size_t prefix_size, Scratch* direct, bool* newly_stored);
  int Injected(WriteStep step) const { return write_fault_hook_ ? write_fault_hook_(step) : 0; }

  const std::string root_;
  const std::string tmp_dir_;
  const int zstd_level_;
  WriteFaultHook write_fault_hook_;  // set before sharing; read-only after

  std::mutex sync_mu_;
  std::set<std::string> dirs_to_sync_;  // guarded by sync_mu_

  std::mutex scratch_mu_;
  std::vector<std::unique_ptr<Scratch>> scratch_pool_;  // guarded by scratch_mu_
};

}  // namespace ferry
