#include "store/ingest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "common/catch_all.h"
#include "common/crc64.h"
#include "common/fs_util.h"
#include "common/ids.h"
#include "common/zero.h"

// Threading of the callbacks: `progress` is only ever called on the thread
// that called IngestRawFile/MaterializeRawFile; `pin` is called from worker
// threads but never concurrently with itself.

namespace ferry {
namespace {

// Two workers keep both cores busy with read + decompress + verify; more would
// only add memory (a chunk buffer each).
constexpr unsigned kMaterializeThreads = 2;

bool IsCancelled(const std::atomic<bool>* cancel) {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

std::string ChunkWhere(uint64_t index, uint64_t chunk_size) {
  return "chunk " + std::to_string(index) + " at offset " + std::to_string(index * chunk_size);
}

// Chunk indices (ascending, unique) whose range intersects a data extent.
std::vector<uint64_t> ChunksWithData(const std::vector<Extent>& extents, uint64_t chunk_size) {
  std::vector<uint64_t> chunks;
  for (const Extent& e : extents) {
    if (e.length == 0) continue;
    uint64_t first = e.offset / chunk_size;
    uint64_t last = (e.offset + e.length - 1) / chunk_size;
    if (!chunks.empty() && chunks.back() >= first) first = chunks.back() + 1;
    for (uint64_t c = first; c <= last; ++c) chunks.push_back(c);
  }
  return chunks;
}

// State shared by the reader (the calling thread), the hash workers and the
// put workers. Two stages because a Put ends in an fsync, which waits on the
// disk, not the CPU: with only `threads` workers doing everything, the cores
// would idle through every fsync. Hash workers (opts.threads) zero-test,
// hash, pin and look chunks up; put workers (up to kMaxPutWorkers) compress,
// write and fsync new ones. Chunk buffers (at most max_in_flight) travel
// through both stages and come back to the reader.
class IngestPipeline {
 public:
  struct Task {
    uint64_t index = 0;
    size_t slot = 0;  // position in the list of chunks with data
    uint8_t* buf = nullptr;
    uint32_t length = 0;
    uint64_t extent_bytes = 0;  // bytes of the chunk inside data extents (progress)
    ChunkId id{};               // set by the hash stage
  };

  // `slots` is the number of chunks that will be submitted.
  IngestPipeline(ChunkStore& store, const IngestOptions& opts, size_t slots)
      : store_(store),
        opts_(opts),
        ids_(slots),
        object_digests_(slots),
        is_data_(slots, 0),
        max_buffers_(std::max(1u, opts.max_in_flight)) {}

  // Starts the workers; on failure the pipeline is failed and the workers
  // already started still drain it.
  void Start() {
    unsigned hashers = std::max(1u, opts_.threads);
    unsigned putters = std::min(kMaxPutWorkers, max_buffers_);
    try {
      for (unsigned i = 0; i < hashers; ++i) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++hash_running_;
        }
        threads_.emplace_back([this] { HashWorker(); });
      }
      for (unsigned i = 0; i < putters; ++i) threads_.emplace_back([this] { PutWorker(); });
    } catch (const std::system_error& e) {
      std::lock_guard<std::mutex> lock(mu_);
      if (threads_.size() < hash_running_) hash_running_ = static_cast<unsigned>(threads_.size());
      FailLocked(Internal(std::string("ingest: cannot start worker thread: ") + e.what()));
      if (hash_running_ == 0) closed_ = true;
    }
  }

  void Join() {
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

  // Blocks until a chunk buffer is free (allocating up to max_in_flight) or
  // the pipeline failed; nullptr on failure.
  uint8_t* AcquireBuffer() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (failed_) return nullptr;
      if (!free_.empty()) {
        uint8_t* b = free_.back();
        free_.pop_back();
        return b;
      }
      if (owned_.size() < max_buffers_) {
        owned_.push_back(std::make_unique_for_overwrite<uint8_t[]>(opts_.chunk_size));
        return owned_.back().get();
      }
      done_cv_.wait(lock);
    }
  }

  void ReturnBuffer(uint8_t* b) {
    std::lock_guard<std::mutex> lock(mu_);
    free_.push_back(b);
    done_cv_.notify_all();
  }

  void Submit(const Task& t) {
    std::lock_guard<std::mutex> lock(mu_);
    hash_queue_.push_back(t);
    ++outstanding_;
    hash_cv_.notify_one();
  }

  void Fail(Status st) {
    std::lock_guard<std::mutex> lock(mu_);
    FailLocked(std::move(st));
  }

  // No more Submits: workers exit once their queues are drained.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    hash_cv_.notify_all();
    put_cv_.notify_all();
  }

  // Waits for every submitted task, calling `on_progress(done_bytes)` on
  // this thread whenever tasks complete.
  template <typename Fn>
  void Drain(Fn&& on_progress) {
    std::unique_lock<std::mutex> lock(mu_);
    while (outstanding_ > 0) {
      done_cv_.wait(lock);
      uint64_t done = done_bytes_;
      lock.unlock();
      on_progress(done);
      lock.lock();
    }
  }

  uint64_t done_bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_bytes_;
  }

  Status status() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

  uint64_t zero() const { return zero_; }
  // After Join: whether the chunk submitted in `slot` holds data, and its id.
  bool is_data(size_t slot) const { return is_data_[slot] != 0; }
  const ChunkId& id(size_t slot) const { return ids_[slot]; }
  // Set when this ingest wrote the chunk's object (manifest_format.md).
  const std::optional<Digest256>& object_digest(size_t slot) const { return object_digests_[slot]; }
  uint64_t stored() const { return stored_; }
  uint64_t deduped() const { return deduped_; }

 private:
  static constexpr unsigned kMaxPutWorkers = 4;

  enum class Outcome { kSkipped, kZero, kStored, kDeduped, kNeedsPut };

  void FailLocked(Status st) {
    if (!failed_) {
      failed_ = true;
      error_ = std::move(st);
    }
    hash_cv_.notify_all();
    put_cv_.notify_all();
    done_cv_.notify_all();
  }

  // Under mu_: the task left the pipeline.
  void FinishLocked(const Task& t, Outcome out) {
    switch (out) {
      case Outcome::kZero:
        ++zero_;
        break;
      case Outcome::kStored:
        ++stored_;
        break;
      case Outcome::kDeduped:
        ++deduped_;
        break;
      case Outcome::kSkipped:
      case Outcome::kNeedsPut:
        break;
    }
    done_bytes_ += t.extent_bytes;
    free_.push_back(t.buf);
    --outstanding_;
    done_cv_.notify_all();
  }

  void HashWorker() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      hash_cv_.wait(lock, [&] { return !hash_queue_.empty() || closed_; });
      if (hash_queue_.empty()) break;
      Task t = hash_queue_.front();
      hash_queue_.pop_front();
      bool skip = failed_;
      lock.unlock();

      Outcome out = Outcome::kSkipped;
      Status st;
      if (!skip) {
        if (IsCancelled(opts_.cancel)) {
          st = Cancelled("ingest cancelled before " + ChunkWhere(t.index, opts_.chunk_size));
        } else {
          // A worker thread must not end the process: whatever a chunk
          // throws fails the ingest.
          st = CatchAll("ingest", [&] { return Hash(&t, &out); });
        }
      }

      lock.lock();
      if (!st.ok()) FailLocked(std::move(st));
      if (out == Outcome::kNeedsPut && !failed_) {
        put_queue_.push_back(t);
        put_cv_.notify_one();
      } else {
        FinishLocked(t, out);
      }
    }
    if (--hash_running_ == 0) put_cv_.notify_all();
  }

  void PutWorker() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      put_cv_.wait(lock, [&] { return !put_queue_.empty() || (closed_ && hash_running_ == 0); });
      if (put_queue_.empty()) return;
      Task t = put_queue_.front();
      put_queue_.pop_front();
      bool skip = failed_;
      lock.unlock();

      Outcome out = Outcome::kSkipped;
      Status st;
      if (!skip) st = CatchAll("ingest", [&] { return Put(t, &out); });

      lock.lock();
      if (!st.ok()) FailLocked(std::move(st));
      FinishLocked(t, out);
    }
  }

  Status Hash(Task* t, Outcome* out) {
    if (IsAllZero(t->buf, t->length)) {
      *out = Outcome::kZero;
      return Status::Ok();
    }
    t->id = ComputeChunkId(scope(), std::span<const uint8_t>(t->buf, t->length));
    if (opts_.pin) {
      std::lock_guard<std::mutex> lock(pin_mu_);
      Status pinned = opts_.pin(t->id);
      if (!pinned.ok()) return pinned.WithContext(ChunkWhere(t->index, opts_.chunk_size));
    }
    // Asking first spares an existing chunk the second hash Put would spend
    // verifying it, and the put stage altogether.
    Result<bool> has = store_.Has(t->id);
    if (!has.ok()) {
      return has.status().WithContext(ChunkWhere(t->index, opts_.chunk_size) + " id " + ToHex(t->id));
    }
    if (*has) {
      SetData(*t);
      *out = Outcome::kDeduped;
    } else {
      *out = Outcome::kNeedsPut;
    }
    return Status::Ok();
  }

  Status Put(const Task& t, Outcome* out) {
    bool newly_stored = false;
    Status st = store_.PutHashedWithDigest(scope(), t.id, std::span<const uint8_t>(t.buf, t.length),
                                           &newly_stored, &object_digests_[t.slot]);
    if (!st.ok()) return st.WithContext(ChunkWhere(t.index, opts_.chunk_size) + " id " + ToHex(t.id));
    SetData(t);
    *out = newly_stored ? Outcome::kStored : Outcome::kDeduped;
    return Status::Ok();
  }

  const ChunkScope* scope() const { return opts_.scope ? &*opts_.scope : nullptr; }

  // Each task owns a distinct slot, so no lock is needed.
  void SetData(const Task& t) {
    is_data_[t.slot] = 1;
    ids_[t.slot] = t.id;
  }

  ChunkStore& store_;
  const IngestOptions& opts_;
  std::vector<ChunkId> ids_;      // per slot, set by SetData
  std::vector<std::optional<Digest256>> object_digests_;  // per slot, set by Put
  std::vector<uint8_t> is_data_;  // per slot (not vector<bool>: slots are written concurrently)
  const unsigned max_buffers_;
  std::vector<std::thread> threads_;  // touched by the calling thread only
  std::mutex pin_mu_;                 // serializes opts_.pin

  std::mutex mu_;
  std::condition_variable hash_cv_;  // hash_queue_ grew, or closed/failed
  std::condition_variable put_cv_;   // put_queue_ grew, or the hash stage ended
  std::condition_variable done_cv_;  // a task finished or a buffer came back
  std::deque<Task> hash_queue_;
  std::deque<Task> put_queue_;
  std::vector<std::unique_ptr<uint8_t[]>> owned_;
  std::vector<uint8_t*> free_;
  uint64_t outstanding_ = 0;  // submitted, not finished
  uint64_t done_bytes_ = 0;
  unsigned hash_running_ = 0;
  bool closed_ = false;
  bool failed_ = false;
  Status error_;
  uint64_t zero_ = 0;
  uint64_t stored_ = 0;
  uint64_t deduped_ = 0;
};

// Fills buf with chunk [start, end): data extents are read, the gaps between
// them (holes) are zero-filled without I/O.
Status ReadChunk(int fd, const std::string& path, const std::vector<Extent>& extents, size_t* ext_cursor,
                 uint64_t start, uint64_t end, uint8_t* buf, uint64_t* bytes_read) {
  size_t k = *ext_cursor;
  while (k < extents.size() && extents[k].offset + extents[k].length <= start) ++k;
  *ext_cursor = k;
  uint64_t pos = start;
  for (; k < extents.size() && extents[k].offset < end; ++k) {
    uint64_t s = std::max(start, extents[k].offset);
    uint64_t e = std::min(end, extents[k].offset + extents[k].length);
    if (s >= e) continue;
    if (s > pos) std::memset(buf + (pos - start), 0, s - pos);
    RETURN_IF_ERROR(PreadFull(fd, buf + (s - start), e - s, s, path));
    *bytes_read += e - s;
    pos = e;
  }
  if (pos < end) std::memset(buf + (pos - start), 0, end - pos);
  return Status::Ok();
}

uint64_t ExtentBytesIn(const std::vector<Extent>& extents, size_t from, uint64_t start, uint64_t end) {
  uint64_t n = 0;
  for (size_t k = from; k < extents.size() && extents[k].offset < end; ++k) {
    uint64_t s = std::max(start, extents[k].offset);
    uint64_t e = std::min(end, extents[k].offset + extents[k].length);
    if (s < e) n += e - s;
  }
  return n;
}

// Bounds the dirty pages a materialize makes. Writeback of every chunk
// starts as soon as it is written (SYNC_FILE_RANGE_WRITE); once more than
// `window` chunks are under way the oldest is waited for, so however large
// the image at most the window is dirty (the kernel's dirty limits, shared
// with every other writer on the machine, are never reached) and the final
// fsync finds little left to write. The clean pages stay cached: an export
// reads them back at once to hash them (ObjectStore::PutFile), which drops
// them after. Dropping them here (POSIX_FADV_DONTNEED) made that read come
// from the disk (slower on the export benchmark, docs/benchmarks.md). A
// caller that reads nothing back (a raw export: its CRC-64 is computed as it
// is written) asks for `drop`: each range is dropped once its writeback has
// been waited for, so the export leaves no cache behind.
// Advisory only: a failure here is not an error, the final fsync reports
// real ones. Thread-safe.
class WritebackWindow {
 public:
  WritebackWindow(int fd, size_t window, bool drop)
      : fd_(fd), window_(std::max<size_t>(1, window)), drop_(drop) {}

  // [offset, offset + length) was just written.
  void Written(uint64_t offset, uint64_t length) {
    ::sync_file_range(fd_, static_cast<off_t>(offset), static_cast<off_t>(length), SYNC_FILE_RANGE_WRITE);
    Extent oldest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_.push_back(Extent{offset, length});
      if (pending_.size() <= window_) return;
      oldest = pending_.front();
      pending_.pop_front();
    }
    ::sync_file_range(fd_, static_cast<off_t>(oldest.offset), static_cast<off_t>(oldest.length),
                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
    if (drop_) {
      ::posix_fadvise(fd_, static_cast<off_t>(oldest.offset), static_cast<off_t>(oldest.length),
                      POSIX_FADV_DONTNEED);
    }
  }

 private:
  const int fd_;
  const size_t window_;
  const bool drop_;
  std::mutex mu_;
  std::deque<Extent> pending_;  // guarded by mu_; written, writeback not waited for
};

// Writes the data chunks of a manifest into an open file (sized and sparse
// already) with kMaterializeThreads workers, each reading, decoding and
// verifying a chunk (ChunkStore::Get) and writing its non-zero 4 KiB blocks,
// so decoding one chunk overlaps writing another. Run blocks the calling
// thread, which alone calls opts.progress.
class MaterializeWriter {
 public:
  MaterializeWriter(const Manifest& m, ChunkStore& store, int fd, const std::string& label,
                    const MaterializeOptions& opts)
      : m_(m),
        store_(store),
        fd_(fd),
        label_(label),
        opts_(opts),
        window_(fd, kWritebackChunks, opts.drop_cache) {
    m.ForEachData([&](uint64_t index, const ChunkEntry& e) { chunks_.emplace_back(index, &e); });
    chunk_crcs_.resize(chunks_.size());
  }

  // After a successful Run: the CRC-64 of the whole file, from the chunks'
  // in file order; hole runs extend it without any bytes.
  uint64_t FileCrc64() const {
    uint64_t crc = 0;
    size_t k = 0;  // the next data chunk in chunks_
    for (const ChunkEntry& e : m_.entries) {
      if (e.zero) {
        crc = Crc64ExtendZeros(crc, (e.count - 1) * uint64_t{m_.chunk_size} + e.length);
      } else {
        crc = Crc64Combine(crc, chunk_crcs_[k++], e.length);
      }
    }
    return crc;
  }

  // The first error of any chunk (or kCancelled), after every worker ended.
  Status Run() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ = kMaterializeThreads;
    }
    for (unsigned t = 0; t < kMaterializeThreads; ++t) {
      try {
        threads.emplace_back([this] { GuardedWorker(); });
      } catch (const std::system_error& e) {
        std::lock_guard<std::mutex> lock(mu_);
        RecordLocked(Internal(std::string("materialize: cannot start worker thread: ") + e.what()), 0);
        --running_;
      }
    }
    {
      const uint64_t total = m_.DataBytes();
      std::unique_lock<std::mutex> lock(mu_);
      uint64_t reported = UINT64_MAX;
      while (running_ > 0) {
        cv_.wait(lock);
        if (done_bytes_ != reported && opts_.progress) {
          reported = done_bytes_;
          lock.unlock();
          opts_.progress(reported, total);
          lock.lock();
        }
      }
    }
    for (std::thread& t : threads) t.join();
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  // Chunks whose writeback may be under way at once: 64 MiB of 4 MiB chunks.
  static constexpr size_t kWritebackChunks = 16;

  // Whatever a worker throws fails the materialize, not the process.
  void GuardedWorker() {
    Status thrown = CatchAll("materialize", [this] { return Worker(); });
    std::lock_guard<std::mutex> lock(mu_);
    if (!thrown.ok()) RecordLocked(std::move(thrown), 0);
    --running_;
    cv_.notify_all();
  }

  void Worker() {
    for (;;) {
      if (stop_.load()) return;
      const size_t k = next_.fetch_add(1);
      if (k >= chunks_.size()) return;
      const uint64_t index = chunks_[k].first;
      const ChunkEntry& e = *chunks_[k].second;
      Status st =
          IsCancelled(opts_.cancel)
              ? Cancelled("materialize " + label_ + " cancelled before " + ChunkWhere(index, m_.chunk_size))
              : WriteChunk(index, e, &chunk_crcs_[k]);
      std::lock_guard<std::mutex> lock(mu_);
      RecordLocked(std::move(st), e.length);
      if (!error_.ok()) return;
    }
  }

  Status WriteChunk(uint64_t index, const ChunkEntry& e, uint64_t* crc64) {
    const std::string where = ChunkWhere(index, m_.chunk_size) + " id " + ToHex(e.id);
    // The object digest, where this store vouched for one, verifies fewer
    // bytes (the compressed object) as strongly (ChunkStore::GetWithObjectDigest).
    Result<std::vector<uint8_t>> data =
        e.object_digest ? store_.GetWithObjectDigest(e.id, *e.object_digest) : store_.Get(e.id);
    if (!data.ok()) return data.status().WithContext(where);
    if (data->size() != e.length) {
      return DataLoss(where + ": chunk holds " + std::to_string(data->size()) + " bytes, manifest says " +
                      std::to_string(e.length));
    }
    const uint64_t offset = index * uint64_t{m_.chunk_size};
    RETURN_IF_ERROR(PwriteSkippingZeroBlocks(fd_, *data, offset, label_, crc64).WithContext(where));
    window_.Written(offset, data->size());
    return Status::Ok();
  }

  // Under mu_: a chunk ended with `st`; its bytes count as done if it was written.
  void RecordLocked(Status st, uint64_t bytes) {
    if (!st.ok()) {
      if (error_.ok()) error_ = std::move(st);
      stop_ = true;
    } else {
      done_bytes_ += bytes;
    }
    cv_.notify_all();
  }

  const Manifest& m_;
  ChunkStore& store_;
  const int fd_;
  const std::string& label_;
  const MaterializeOptions& opts_;
  WritebackWindow window_;
  std::vector<std::pair<uint64_t, const ChunkEntry*>> chunks_;  // (chunk index, entry), ascending
  std::vector<uint64_t> chunk_crcs_;  // CRC-64 of chunks_[k], each written by the worker that wrote the chunk
  std::atomic<size_t> next_{0};                                 // the next position in chunks_ to write
  std::atomic<bool> stop_{false};

  std::mutex mu_;
  std::condition_variable cv_;  // a chunk ended or a worker exited
  uint64_t done_bytes_ = 0;     // guarded by mu_
  unsigned running_ = 0;        // guarded by mu_
  Status error_;                // guarded by mu_
};

}  // namespace

Result<std::vector<Extent>> DataExtents(int fd, uint64_t file_size) {
  std::vector<Extent> extents;
  uint64_t off = 0;
  while (off < file_size) {
    off_t data = ::lseek(fd, static_cast<off_t>(off), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break;  // only a hole remains up to EOF
      if (errno == EINVAL || errno == EOPNOTSUPP) {
        // The file system cannot tell holes apart: every byte may be data.
        return std::vector<Extent>{Extent{0, file_size}};
      }
      return ErrnoStatus("lseek(SEEK_DATA)", "fd " + std::to_string(fd) + " offset " + std::to_string(off),
                         errno);
    }
    auto data_start = static_cast<uint64_t>(data);
    if (data_start >= file_size) break;
    off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) {
      return ErrnoStatus("lseek(SEEK_HOLE)",
                         "fd " + std::to_string(fd) + " offset " + std::to_string(data_start), errno);
    }
    uint64_t data_end = std::min(static_cast<uint64_t>(hole), file_size);
    if (data_end <= data_start) break;  // the file shrank under us
    extents.push_back(Extent{data_start, data_end - data_start});
    off = data_end;
  }
  return extents;
}

Result<Manifest> IngestRawFile(const std::string& path, ChunkStore& store, const IngestOptions& opts,
                               IngestStats* stats) {
  if (opts.chunk_size == 0) return InvalidArgument("", "ingest " + path + ": chunk_size is 0");
  UniqueFd owned(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!owned.valid()) return ErrnoStatus("open", path, errno);
  return IngestRawFd(owned.get(), path, store, opts, stats);
}

Result<Manifest> IngestRawFd(int fd, const std::string& path, ChunkStore& store, const IngestOptions& opts,
                             IngestStats* stats) {
  if (opts.chunk_size == 0) return InvalidArgument("", "ingest " + path + ": chunk_size is 0");
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument("", "ingest " + path + ": not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  ASSIGN_OR_RETURN(std::vector<Extent> extents, DataExtents(fd, size));
  uint64_t total = 0;
  for (const Extent& e : extents) total += e.length;
  const std::vector<uint64_t> chunks = ChunksWithData(extents, opts.chunk_size);

  IngestPipeline pipeline(store, opts, chunks.size());
  pipeline.Start();

  uint64_t bytes_read = 0;
  size_t ext_cursor = 0;
  for (size_t slot = 0; slot < chunks.size(); ++slot) {
    const uint64_t index = chunks[slot];
    if (IsCancelled(opts.cancel)) {
      pipeline.Fail(Cancelled("ingest " + path + " cancelled before " + ChunkWhere(index, opts.chunk_size)));
      break;
    }
    uint8_t* buf = pipeline.AcquireBuffer();
    if (buf == nullptr) break;
    uint64_t start = index * opts.chunk_size;
    uint64_t end = std::min(start + opts.chunk_size, size);
    Status rst = ReadChunk(fd, path, extents, &ext_cursor, start, end, buf, &bytes_read);
    if (!rst.ok()) {
      pipeline.ReturnBuffer(buf);
      pipeline.Fail(rst.WithContext("ingest " + path + " " + ChunkWhere(index, opts.chunk_size)));
      break;
    }
    pipeline.Submit({index, slot, buf, static_cast<uint32_t>(end - start),
                     ExtentBytesIn(extents, ext_cursor, start, end)});
    if (opts.progress) opts.progress(pipeline.done_bytes(), total);
  }
  pipeline.Close();
  pipeline.Drain([&](uint64_t done) {
    if (opts.progress) opts.progress(done, total);
  });
  pipeline.Join();

  Status result = pipeline.status();
  if (result.ok() && IsCancelled(opts.cancel)) result = Cancelled("ingest " + path + " cancelled");
  if (!result.ok()) {
    if (result.code() == Code::kCancelled) return result;
    return result.WithContext("ingest " + path);
  }
  RETURN_IF_ERROR(store.Sync().WithContext("ingest " + path + ": sync chunk store"));
  // A block the image holds more than once is written once, by whichever
  // slot got there first; the others found it stored. They name the same
  // object, which this ingest wrote and pinned, so they carry its digest
  // too (chunk_format.md, "Object digest").
  std::map<ChunkId, Digest256> written;
  for (size_t slot = 0; slot < chunks.size(); ++slot) {
    if (pipeline.is_data(slot) && pipeline.object_digest(slot)) {
      written.emplace(pipeline.id(slot), *pipeline.object_digest(slot));
    }
  }
  // Only chunks with data were read; everything between them is a hole run.
  ManifestBuilder builder(size, opts.chunk_size);
  for (size_t slot = 0; slot < chunks.size(); ++slot) {
    builder.AddHolesUntil(chunks[slot]);
    if (pipeline.is_data(slot)) {
      auto it = written.find(pipeline.id(slot));
      builder.AddData(pipeline.id(slot), it == written.end() ? std::optional<Digest256>()
                                                             : std::optional<Digest256>(it->second));
    } else {
      builder.AddHole();
    }
  }
  Manifest m = builder.Finish();
  if (stats != nullptr) {
    const uint64_t chunks_total = Manifest::ChunksFor(size, opts.chunk_size);
    stats->bytes_read = bytes_read;
    stats->chunks_total = chunks_total;
    stats->chunks_zero = chunks_total - chunks.size() + pipeline.zero();
    stats->chunks_stored = pipeline.stored();
    stats->chunks_deduped = pipeline.deduped();
  }
  return m;
}

Status MaterializeRawFile(const Manifest& m, ChunkStore& store, const std::string& path,
                          const MaterializeOptions& opts) {
  RETURN_IF_ERROR(m.Validate().WithContext("materialize " + path));
  std::filesystem::path p(path);
  const std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
  const std::string tmp = path + ".tmp-" + RandomHex(6);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus("create", tmp, errno);
  auto fail = [&](Status st) {
    fd = UniqueFd();
    ::unlink(tmp.c_str());
    return st;
  };
  // Zero chunks and zero 4 KiB blocks are never written, so they stay holes
  // of the truncated file.
  if (::ftruncate(fd.get(), static_cast<off_t>(m.logical_size)) != 0) {
    return fail(ErrnoStatus("truncate", tmp + " to " + std::to_string(m.logical_size), errno));
  }
  MaterializeWriter writer(m, store, fd.get(), tmp, opts);
  Status written = writer.Run();
  if (!written.ok()) {
    if (written.code() == Code::kCancelled) return fail(written);
    return fail(written.WithContext("materialize " + path));
  }
  if (IsCancelled(opts.cancel)) return fail(Cancelled("materialize " + path + " cancelled"));
  if (::fsync(fd.get()) != 0) return fail(ErrnoStatus("fsync", tmp, errno));
  if (opts.drop_cache) ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);  // advisory: the last window
  if (::close(fd.release()) != 0) return fail(ErrnoStatus("close", tmp, errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(ErrnoStatus("rename", tmp + " to " + path, errno));
  RETURN_IF_ERROR(FsyncDir(dir));
  if (opts.crc64 != nullptr) *opts.crc64 = writer.FileCrc64();
  if (opts.progress) opts.progress(m.DataBytes(), m.DataBytes());
  return Status::Ok();
}

}  // namespace ferry
