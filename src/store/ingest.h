// Ingest: turn a disk image (a raw file, read by extent) into chunks in a
// ChunkStore and a Manifest; Materialize: the reverse, writing a sparse raw
// file from a Manifest.
//
// Ingest reads only the data extents of the source (SEEK_DATA/SEEK_HOLE), so
// a 600 GiB image holding 1 GiB of data costs ~1 GiB of I/O. Each 4 MiB chunk
// is zero-tested (all-zero chunks become holes), hashed, and stored only if
// the store does not have it; hashing and compression run on a small pool of
// worker threads with a bounded number of chunks in flight, so memory is
// bounded whatever the image size.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/chunk_store.h"
#include "store/manifest.h"

namespace ferry {

// A byte range of the source that may hold data.
struct Extent {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// Data extents of a raw file via SEEK_DATA/SEEK_HOLE (the whole file if the
// file system does not support them).
Result<std::vector<Extent>> DataExtents(int fd, uint64_t file_size);

struct IngestOptions {
  uint32_t chunk_size = kDefaultChunkSize;
  unsigned threads = 2;        // hash/compress workers
  unsigned max_in_flight = 8;  // chunks buffered at once (memory bound)
  // Called with (bytes_done, bytes_total) as extents are processed; total is
  // the sum of data extents.
  std::function<void(uint64_t, uint64_t)> progress;
  // Polled between chunks; when it becomes true Ingest returns kCancelled.
  const std::atomic<bool>* cancel = nullptr;
  // Called for every data chunk id before it is put into the store, so the
  // caller can pin it against garbage collection until its manifest commits.
  // An error (the pin was not taken) stops the ingest with it.
  std::function<Status(const ChunkId&)> pin;
  // The dedup scope of the chunks (chunk_id.h): ids are
  // ComputeChunkId(scope, plaintext), so the image dedups only against
  // chunks of the same scope. Unset: unscoped, SHA-256(plaintext).
  std::optional<ChunkScope> scope;
};

struct IngestStats {
  uint64_t bytes_read = 0;
  uint64_t chunks_total = 0;
  uint64_t chunks_zero = 0;
  uint64_t chunks_stored = 0;  // newly written
  uint64_t chunks_deduped = 0;
};

// Reads `path` (a raw image) and returns its manifest.
Result<Manifest> IngestRawFile(const std::string& path, ChunkStore& store, const IngestOptions& opts,
                               IngestStats* stats = nullptr);
// Same, reading through `fd` (pread only, so the caller's file offset and
// descriptor stay as they were); `label` names the source in messages.
Result<Manifest> IngestRawFd(int fd, const std::string& label, ChunkStore& store, const IngestOptions& opts,
                             IngestStats* stats = nullptr);

struct MaterializeOptions {
  std::function<void(uint64_t, uint64_t)> progress;  // (bytes_done, data_bytes)
  const std::atomic<bool>* cancel = nullptr;
  // When set, receives the CRC-64 (common/crc64.h) of the whole file on
  // success, computed by the workers from each decoded chunk while it is in
  // memory (zero blocks and hole chunks by Crc64ExtendZeros, the pieces
  // joined by Crc64Combine in file order): nothing is read back.
  uint64_t* crc64 = nullptr;
  // Drop the file's pages from the page cache as their writeback completes
  // (POSIX_FADV_DONTNEED), for a caller that will not read the file back.
  bool drop_cache = false;
};

// Writes the image described by `m` to `path` as a sparse raw file (holes
// for zero chunks and for the all-zero 4 KiB blocks of data chunks),
// atomically (temp + fsync + rename). Every chunk read is verified against
// its id, or against the object digest the manifest carries for it
// (ChunkStore::GetWithObjectDigest: fewer bytes to hash, as strong). At most
// ~64 MiB of the file is dirty in the page cache at once (writeback is
// started per chunk and waited for behind a window); the
// clean pages are left for the caller to read, or dropped (drop_cache).
Status MaterializeRawFile(const Manifest& m, ChunkStore& store, const std::string& path,
                          const MaterializeOptions& opts);

}  // namespace ferry
