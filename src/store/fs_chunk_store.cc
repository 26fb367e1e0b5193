#include "store/fs_chunk_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common/fs_util.h"
#include "common/ids.h"
#include "store/chunk_format.h"
#include "store/manifest.h"

namespace ferry {
namespace {

// Enough for two ingests with a few workers each; extra scratch objects are
// freed on release rather than hoarded.
constexpr size_t kMaxPooledScratch = 8;

// O_DIRECT needs buffer, offset and length aligned to the logical block size;
// 4 KiB covers the devices and file systems we run on.
constexpr size_t kDirectIoAlign = 4096;

constexpr size_t RoundUpToDirectIoAlign(size_t n) {
  return (n + kDirectIoAlign - 1) / kDirectIoAlign * kDirectIoAlign;
}

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

bool IsLowerHex(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// writev until every byte of `iov` is written (short writes are legal).
Status WriteVecFull(int fd, struct iovec* iov, int iovcnt, const std::string& what) {
  while (iovcnt > 0) {
    ssize_t n = ::writev(fd, iov, iovcnt);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", what, errno);
    }
    auto left = static_cast<size_t>(n);
    while (iovcnt > 0 && left >= iov->iov_len) {
      left -= iov->iov_len;
      ++iov;
      --iovcnt;
    }
    if (iovcnt > 0) {
      iov->iov_base = static_cast<uint8_t*>(iov->iov_base) + left;
      iov->iov_len -= left;
    }
  }
  return Status::Ok();
}

// Writes header + payload from byte `offset` of their concatenation on, at
// that file offset.
Status WriteObjectFrom(int fd, std::span<const uint8_t> header, std::span<const uint8_t> payload,
                       size_t offset, const std::string& what) {
  if (::lseek(fd, static_cast<off_t>(offset), SEEK_SET) < 0) return ErrnoStatus("seek", what, errno);
  struct iovec iov[2];
  int iovcnt = 0;
  if (offset < header.size()) {
    iov[iovcnt++] = {const_cast<uint8_t*>(header.data() + offset), header.size() - offset};
    offset = 0;
  } else {
    offset -= header.size();
  }
  if (offset < payload.size()) {
    iov[iovcnt++] = {const_cast<uint8_t*>(payload.data() + offset), payload.size() - offset};
  }
  return WriteVecFull(fd, iov, iovcnt, what);
}

// Writes buf[0, n) at offset 0 of an O_DIRECT `fd`; `n` is a multiple of
// kDirectIoAlign. Returns how many bytes were written: all of them, or fewer
// when a short write leaves an unaligned offset or the file system rejects
// the direct write (EINVAL); the caller writes the rest through the page cache.
Result<size_t> WriteDirect(int fd, const uint8_t* buf, size_t n, const std::string& what) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = ::pwrite(fd, buf + done, n - done, static_cast<off_t>(done));
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EINVAL) break;
      return ErrnoStatus("write", what, errno);
    }
    if (w == 0) return Internal("write " + what + ": no progress at offset " + std::to_string(done));
    done += static_cast<size_t>(w);
    if (done % kDirectIoAlign != 0) break;
  }
  return done;
}

// Calls fn(name) for every entry of `dir` but "." and "..". With `missing_ok`,
// a `dir` that is gone or is not a directory has no entries.
template <typename Fn>
Status ForEachEntry(const std::string& dir, bool missing_ok, Fn&& fn) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (missing_ok && (errno == ENOENT || errno == ENOTDIR)) return Status::Ok();
    return ErrnoStatus("opendir", dir, errno);
  }
  Status st;
  while (st.ok()) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) st = ErrnoStatus("readdir", dir, errno);
      break;
    }
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    st = fn(name);
  }
  ::closedir(d);
  return st;
}

// Calls fn(id, path) for every well-formed chunk file under `root`; temp files
// and stray names are skipped, so a half-written or foreign file never
// surfaces as a chunk.
template <typename Fn>
Status WalkChunks(const std::string& root, Fn&& fn) {
  return ForEachEntry(root, /*missing_ok=*/false, [&](const std::string& prefix) -> Status {
    if (prefix.size() != 4 || !IsLowerHex(prefix.data(), 4)) return Status::Ok();
    std::string dir = root + "/" + prefix;
    // Chunks may be deleted concurrently; the walk promises no snapshot.
    return ForEachEntry(dir, /*missing_ok=*/true, [&](const std::string& name) -> Status {
      if (name.size() != 64 || !IsLowerHex(name.data(), 64) || name.compare(0, 4, prefix) != 0) {
        return Status::Ok();
      }
      ChunkId id{};
      if (!FromHex(name, &id)) return Status::Ok();
      return fn(id, dir + "/" + name);
    });
  });
}

}  // namespace

struct FsChunkStore::Scratch {
  ZSTD_CCtx* cctx = nullptr;
  ZSTD_DCtx* dctx = nullptr;
  std::vector<uint8_t> buf;
  // For O_DIRECT writes; in PutStored it first holds the decoded plaintext.
  std::unique_ptr<uint8_t, FreeDeleter> aligned;
  size_t aligned_size = 0;

  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }

  // Makes `aligned` hold at least `n` bytes; false if it cannot be allocated.
  // Never smaller than a default chunk object, so one buffer serves every
  // chunk of a copy.
  bool EnsureAligned(size_t n) {
    if (aligned != nullptr && aligned_size >= n) return true;
    size_t size = RoundUpToDirectIoAlign(std::max(n, kMaxChunkPrefixSize + size_t{kDefaultChunkSize}));
    aligned.reset(static_cast<uint8_t*>(std::aligned_alloc(kDirectIoAlign, size)));
    aligned_size = aligned != nullptr ? size : 0;
    return aligned != nullptr;
  }
};

// FsChunkStore's ChunkWriteBatch: each Put leaves its object in a temp file,
// written and on its way to the disk (sync_file_range), and Commit makes them
// durable one after the other and renames them into place. The first
// fdatasync of a commit waits for the disk; the files written meanwhile have
// mostly reached it by then, so the rest wait far less than one flush each.
// A temp file never has a chunk's name before its fdatasync returned, so a
// crash leaves only temps, which Open removes.
class FsChunkStore::WriteBatch final : public ChunkWriteBatch {
 public:
  explicit WriteBatch(FsChunkStore& store) : store_(store) {}
  ~WriteBatch() override {
    for (StagedObject& staged : staged_) {
      staged.fd = UniqueFd();
      ::unlink(staged.tmp.c_str());
    }
  }

  Status PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored) override {
    return store_.PutStoredInto(this, id, object, newly_stored);
  }
  Status PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object,
                             const Digest256& object_digest, bool* newly_stored) override {
    return store_.PutStoredWithDigestInto(this, id, object, object_digest, newly_stored);
  }

  Status Commit() override {
    std::vector<StagedObject> staged;
    {
      std::lock_guard<std::mutex> lock(mu_);
      staged.swap(staged_);
    }
    Status st;
    for (StagedObject& s : staged) {
      if (st.ok()) {
        st = store_.Publish(s);
      } else {
        s.fd = UniqueFd();
        ::unlink(s.tmp.c_str());
      }
    }
    return st;
  }

  size_t pending() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return staged_.size();
  }

  // Takes a written object; past kMaxStaged objects it commits them all, so
  // a batch holds a bounded number of open files.
  Status Add(StagedObject staged) {
    bool full = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      staged_.push_back(std::move(staged));
      full = staged_.size() >= kMaxStaged;
    }
    return full ? Commit() : Status::Ok();
  }

 private:
  static constexpr size_t kMaxStaged = 64;

  FsChunkStore& store_;
  mutable std::mutex mu_;
  std::vector<StagedObject> staged_;  // guarded by mu_
};

Result<std::unique_ptr<FsChunkStore>> FsChunkStore::Open(const std::string& root_dir, int zstd_level,
                                                         bool remove_temps) {
  if (zstd_level < ZSTD_minCLevel() || zstd_level > ZSTD_maxCLevel()) {
    return InvalidArgument("", "zstd level " + std::to_string(zstd_level) + " outside [" +
                                   std::to_string(ZSTD_minCLevel()) + ", " +
                                   std::to_string(ZSTD_maxCLevel()) + "]");
  }
  std::string root = root_dir;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (root.empty()) return InvalidArgument("", "chunk store root is empty");
  auto store = std::unique_ptr<FsChunkStore>(new FsChunkStore(root, zstd_level));
  RETURN_IF_ERROR(MakeDirs(store->tmp_dir_));
  if (!remove_temps) return store;
  // Leftovers of Puts interrupted by a crash; nothing refers to them.
  RETURN_IF_ERROR(ForEachEntry(store->tmp_dir_, /*missing_ok=*/false, [&](const std::string& name) -> Status {
    std::string path = store->tmp_dir_ + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
    return Status::Ok();
  }));
  return store;
}

FsChunkStore::FsChunkStore(std::string root, int zstd_level)
    : root_(std::move(root)), tmp_dir_(root_ + "/tmp"), zstd_level_(zstd_level) {}

FsChunkStore::~FsChunkStore() = default;

std::string FsChunkStore::DirFor(const ChunkId& id) const {
  return root_ + "/" + ToHex(std::span<const uint8_t>(id.data(), 2));
}

std::string FsChunkStore::ChunkPath(const ChunkId& id) const { return DirFor(id) + "/" + ToHex(id); }

std::unique_ptr<FsChunkStore::Scratch> FsChunkStore::AcquireScratch() {
  {
    std::lock_guard<std::mutex> lock(scratch_mu_);
    if (!scratch_pool_.empty()) {
      auto s = std::move(scratch_pool_.back());
      scratch_pool_.pop_back();
      return s;
    }
  }
  return std::make_unique<Scratch>();
}

void FsChunkStore::ReleaseScratch(std::unique_ptr<Scratch> s) {
  std::lock_guard<std::mutex> lock(scratch_mu_);
  if (scratch_pool_.size() < kMaxPooledScratch) scratch_pool_.push_back(std::move(s));
}

Status FsChunkStore::Put(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                         bool* newly_stored) {
  if (newly_stored != nullptr) *newly_stored = false;
  Digest256 actual = ComputeChunkId(scope, plaintext);
  if (actual != id) {
    return DataLoss("put chunk: " + std::to_string(plaintext.size()) + " bytes" +
                    (scope != nullptr ? " in scope " + ToHex(*scope) : std::string()) + " hash to " +
                    ToHex(actual) + ", expected id " + ToHex(id));
  }
  return PutHashed(scope, id, plaintext, newly_stored);
}

Status FsChunkStore::PutHashed(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                               bool* newly_stored) {
  return PutHashedWithDigest(scope, id, plaintext, newly_stored, nullptr);
}

Status FsChunkStore::PutHashedWithDigest(const ChunkScope* scope, const ChunkId& id,
                                         std::span<const uint8_t> plaintext, bool* newly_stored,
                                         std::optional<Digest256>* object_digest) {
  if (newly_stored != nullptr) *newly_stored = false;
  if (object_digest != nullptr) object_digest->reset();
  const std::string hex = ToHex(id);
  if (plaintext.size() > kMaxChunkPlaintext) {
    return InvalidArgument("", "put chunk " + hex + ": " + std::to_string(plaintext.size()) +
                                   " bytes exceeds the limit " + std::to_string(kMaxChunkPlaintext));
  }
  const std::string dir = DirFor(id);
  const std::string path = dir + "/" + hex;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return Status::Ok();
  if (errno != ENOENT) return ErrnoStatus("stat", path, errno);
  std::unique_ptr<Scratch> scratch = AcquireScratch();
  ChunkHeader header;
  header.plaintext_length = plaintext.size();
  if (scope != nullptr) header.scope = *scope;
  std::span<const uint8_t> payload = plaintext;
  if (!plaintext.empty()) {
    if (scratch->cctx == nullptr) scratch->cctx = ZSTD_createCCtx();
    if (scratch->buf.size() < plaintext.size()) scratch->buf.resize(plaintext.size());
    // With a capacity one byte short of raw, a frame that would not be
    // smaller fails (dstSize_tooSmall) instead of being written, and the
    // chunk is stored raw; so is it when no context could be allocated.
    if (scratch->cctx != nullptr) {
      size_t n = ZSTD_compressCCtx(scratch->cctx, scratch->buf.data(), plaintext.size() - 1, plaintext.data(),
                                   plaintext.size(), zstd_level_);
      if (!ZSTD_isError(n)) {
        header.codec = ChunkCodec::kZstd;
        payload = std::span<const uint8_t>(scratch->buf.data(), n);
      }
    }
  }
  header.stored_length = payload.size();
  const std::vector<uint8_t> prefix = EncodeChunkPrefix(header);
  // Through the page cache: a freshly imported chunk is often read again soon
  // (the next image built on it, a copy to another region).
  Status result = WriteObject(id, dir, path, prefix, payload, /*direct=*/nullptr);
  // From the bytes just encoded from `plaintext`, whose id the caller
  // computed: what the digest vouches for (chunk_format.md).
  if (result.ok() && object_digest != nullptr) *object_digest = ComputeObjectDigest(prefix, payload);
  ReleaseScratch(std::move(scratch));
  if (!result.ok()) return result;
  if (newly_stored != nullptr) *newly_stored = true;
  return Status::Ok();
}

Status FsChunkStore::PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored) {
  return PutStoredInto(nullptr, id, object, newly_stored);
}

Status FsChunkStore::PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object,
                                         const Digest256& object_digest, bool* newly_stored) {
  return PutStoredWithDigestInto(nullptr, id, object, object_digest, newly_stored);
}

Status FsChunkStore::PutStoredInto(WriteBatch* batch, const ChunkId& id, std::span<const uint8_t> object,
                                   bool* newly_stored) {
  if (newly_stored != nullptr) *newly_stored = false;
  const std::string hex = ToHex(id);
  Result<ChunkHeader> header = CheckChunkObject(object);
  if (!header.ok()) return header.status().WithContext("put chunk object " + hex);
  const size_t prefix_size = header->prefix_size();
  std::span<const uint8_t> payload = object.subspan(prefix_size);

  // The name is the checksum, so the object is decoded once here to verify
  // it; after that its bytes are written unchanged. The plaintext goes to
  // the aligned buffer, which then stages the O_DIRECT write: one buffer for
  // both keeps a copy worker's memory at one chunk.
  std::unique_ptr<Scratch> scratch = AcquireScratch();
  std::span<const uint8_t> plaintext = payload;
  Status result;
  if (header->codec == ChunkCodec::kZstd) {
    if (scratch->dctx == nullptr) scratch->dctx = ZSTD_createDCtx();
    uint8_t* dst = nullptr;
    if (scratch->EnsureAligned(header->plaintext_length)) {
      dst = scratch->aligned.get();
    } else {
      if (scratch->buf.size() < header->plaintext_length) scratch->buf.resize(header->plaintext_length);
      dst = scratch->buf.data();
    }
    if (scratch->dctx == nullptr) {
      result = Internal("cannot allocate a zstd decompression context");
    } else {
      size_t n = ZSTD_decompressDCtx(scratch->dctx, dst, header->plaintext_length, payload.data(), payload.size());
      if (ZSTD_isError(n)) {
        result = DataLoss(std::string("zstd payload does not decode: ") + ZSTD_getErrorName(n));
      } else if (n != header->plaintext_length) {
        result = DataLoss("zstd payload decodes to " + std::to_string(n) + " bytes, header says " +
                          std::to_string(header->plaintext_length));
      }
      plaintext = std::span<const uint8_t>(dst, header->plaintext_length);
    }
  }
  if (result.ok()) {
    // The object's own scope: a copy keeps the ids its source computed.
    Digest256 actual = ComputeChunkId(header->scope_ptr(), plaintext);
    if (actual != id) {
      result = DataLoss("plaintext of " + std::to_string(plaintext.size()) + " bytes" +
                        (header->scope ? " in scope " + ToHex(*header->scope) : std::string()) + " hashes to " +
                        ToHex(actual) + ", expected id " + hex);
    }
  }
  if (!result.ok()) {
    ReleaseScratch(std::move(scratch));
    return result.WithContext("put chunk object " + hex);
  }
  result = WriteVerifiedObject(batch, id, object, prefix_size, scratch.get(), newly_stored);
  ReleaseScratch(std::move(scratch));
  return result;
}

Status FsChunkStore::PutStoredWithDigestInto(WriteBatch* batch, const ChunkId& id,
                                             std::span<const uint8_t> object, const Digest256& object_digest,
                                             bool* newly_stored) {
  if (newly_stored != nullptr) *newly_stored = false;
  Result<ChunkHeader> header = CheckChunkObject(object);
  if (!header.ok()) return header.status().WithContext("put chunk object " + ToHex(id));
  // The digest of the bytes as they are: no decoding, no plaintext hash.
  RETURN_IF_ERROR(VerifyObjectDigest(id, object, object_digest).WithContext("put chunk object"));
  std::unique_ptr<Scratch> scratch = AcquireScratch();
  Status result = WriteVerifiedObject(batch, id, object, header->prefix_size(), scratch.get(), newly_stored);
  ReleaseScratch(std::move(scratch));
  return result;
}

Status FsChunkStore::WriteVerifiedObject(WriteBatch* batch, const ChunkId& id,
                                         std::span<const uint8_t> object, size_t prefix_size, Scratch* direct,
                                         bool* newly_stored) {
  const std::string dir = DirFor(id);
  const std::string path = dir + "/" + ToHex(id);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return Status::Ok();
  if (errno != ENOENT) return ErrnoStatus("stat", path, errno);
  ASSIGN_OR_RETURN(StagedObject staged, WriteTemp(id, dir, path, object.first(prefix_size),
                                                  object.subspan(prefix_size), direct, batch != nullptr));
  if (batch != nullptr) {
    RETURN_IF_ERROR(batch->Add(std::move(staged)));
  } else {
    RETURN_IF_ERROR(Publish(staged));
  }
  if (newly_stored != nullptr) *newly_stored = true;
  return Status::Ok();
}

Status FsChunkStore::WriteObject(const ChunkId& id, const std::string& dir, const std::string& path,
                                 std::span<const uint8_t> header, std::span<const uint8_t> payload,
                                 Scratch* direct) {
  ASSIGN_OR_RETURN(StagedObject staged, WriteTemp(id, dir, path, header, payload, direct, /*batched=*/false));
  return Publish(staged);
}

Result<FsChunkStore::StagedObject> FsChunkStore::WriteTemp(const ChunkId& id, const std::string& dir,
                                                           const std::string& path,
                                                           std::span<const uint8_t> header,
                                                           std::span<const uint8_t> payload, Scratch* direct,
                                                           bool batched) {
  const std::string hex = ToHex(id);
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus("mkdir", dir, errno);
  StagedObject staged{id,
                      dir,
                      path,
                      tmp_dir_ + "/" + hex + "." + RandomHex(8),
                      UniqueFd(),
                      /*drop_cache=*/direct != nullptr};
  const std::string& tmp = staged.tmp;
  const size_t total = header.size() + payload.size();
  // Only whole blocks go direct; the tail is written through the page cache
  // rather than padded, since truncating a padded block back makes the
  // kernel read it in again.
  const size_t direct_len = total / kDirectIoAlign * kDirectIoAlign;
  // A batched write goes through the page cache, which takes it at memory
  // speed while the disk works behind (sync_file_range below); an O_DIRECT
  // write would hold its store turn for the device's time. Either way the
  // object leaves no pages behind (Publish drops them once synced).
  bool use_direct = direct != nullptr && !batched && direct_len > 0 && direct->EnsureAligned(direct_len);
  if (int e = Injected(WriteStep::kCreate); e != 0) {
    return ErrnoStatus("create", tmp, e).WithContext("put chunk " + hex);
  }
  // Under a hook the write goes in two halves through the page cache, and
  // the hook is asked between them.
  const bool halves = static_cast<bool>(write_fault_hook_);
  if (halves) use_direct = false;
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  UniqueFd& fd = staged.fd;
  fd = UniqueFd(::open(tmp.c_str(), kFlags | (use_direct ? O_DIRECT : 0), 0644));
  if (!fd.valid() && use_direct && errno == EINVAL) {
    // The file system refuses O_DIRECT. The refused open may already have
    // created the (uniquely named) file, so O_EXCL cannot apply here.
    use_direct = false;
    fd = UniqueFd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  }
  if (!fd.valid()) return ErrnoStatus("create", tmp, errno).WithContext("put chunk " + hex);
  Status result;
  size_t written = 0;
  if (use_direct) {
    uint8_t* buf = direct->aligned.get();
    const size_t from_header = std::min(header.size(), direct_len);
    std::memcpy(buf, header.data(), from_header);
    std::memcpy(buf + from_header, payload.data(), direct_len - from_header);
    Result<size_t> n = WriteDirect(fd.get(), buf, direct_len, tmp);
    if (!n.ok()) {
      result = n.status();
    } else {
      written = *n;
      int flags = ::fcntl(fd.get(), F_GETFL);
      if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_DIRECT) != 0) {
        result = ErrnoStatus("clear O_DIRECT on", tmp, errno);
      }
    }
  }
  if (result.ok() && halves) {
    const size_t half = total / 2;
    const size_t from_header = std::min(header.size(), half);
    result = WriteObjectFrom(fd.get(), header.first(from_header), payload.first(half - from_header), 0, tmp);
    written = half;
    if (int e = result.ok() ? Injected(WriteStep::kWrite) : 0; e != 0) result = ErrnoStatus("write", tmp, e);
  }
  if (result.ok()) result = WriteObjectFrom(fd.get(), header, payload, written, tmp);
  // A batched write is synced with the others of its commit: the disk
  // starts on it now, so less is left to wait for then.
  if (result.ok() && batched) (void)::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  if (!result.ok()) {
    fd = UniqueFd();
    ::unlink(tmp.c_str());
    return result.WithContext("put chunk " + hex);
  }
  return staged;
}

Status FsChunkStore::Publish(StagedObject& staged) {
  const std::string& tmp = staged.tmp;
  Status result;
  if (int e = Injected(WriteStep::kSync); e != 0) result = ErrnoStatus("fdatasync", tmp, e);
  if (result.ok() && ::fdatasync(staged.fd.get()) != 0) result = ErrnoStatus("fdatasync", tmp, errno);
  // Its pages are clean now and can go: the writer asked to bypass the cache.
  if (result.ok() && staged.drop_cache) (void)::posix_fadvise(staged.fd.get(), 0, 0, POSIX_FADV_DONTNEED);
  staged.fd = UniqueFd();
  if (result.ok()) {
    if (int e = Injected(WriteStep::kRename); e != 0)
      result = ErrnoStatus("rename", tmp + " to " + staged.path, e);
  }
  if (result.ok() && ::rename(tmp.c_str(), staged.path.c_str()) != 0) {
    result = ErrnoStatus("rename", tmp + " to " + staged.path, errno);
  }
  if (!result.ok()) {
    ::unlink(tmp.c_str());
    return result.WithContext("put chunk " + ToHex(staged.id));
  }
  std::lock_guard<std::mutex> lock(sync_mu_);
  dirs_to_sync_.insert(staged.dir);
  return Status::Ok();
}

std::unique_ptr<ChunkWriteBatch> FsChunkStore::NewWriteBatch() { return std::make_unique<WriteBatch>(*this); }

Status FsChunkStore::Sync() {
  std::set<std::string> dirs;
  {
    std::lock_guard<std::mutex> lock(sync_mu_);
    dirs.swap(dirs_to_sync_);
  }
  if (dirs.empty()) return Status::Ok();
  Status st;
  // The root holds the entries of prefix directories a Put may have created.
  for (const std::string& dir : dirs) {
    st = FsyncDir(dir);
    if (!st.ok()) break;
  }
  if (st.ok()) st = FsyncDir(root_);
  if (!st.ok()) {
    // Keep them pending so a retried Sync still covers them.
    std::lock_guard<std::mutex> lock(sync_mu_);
    dirs_to_sync_.merge(dirs);
  }
  return st;
}

Status FsChunkStore::ReadObject(const ChunkId& id, std::vector<uint8_t>* out, ChunkHeader* header_out,
                                Digest256* object_digest) {
  const std::string path = ChunkPath(id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return NotFound("", "chunk " + ToHex(id) + " is not in the store (" + path + ")");
    return ErrnoStatus("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  if (file_size < kChunkHeaderSize) {
    return DataLoss("object is " + std::to_string(file_size) + " bytes, shorter than its " +
                    std::to_string(kChunkHeaderSize) + "-byte header");
  }
  // The prefix's length depends on the version it starts with; reading as
  // much as the longest prefix (or the whole file) covers both.
  std::array<uint8_t, kMaxChunkPrefixSize> prefix_bytes{};
  const size_t prefix_read = static_cast<size_t>(std::min<uint64_t>(file_size, kMaxChunkPrefixSize));
  RETURN_IF_ERROR(PreadFull(fd.get(), prefix_bytes.data(), prefix_read, 0, path));
  ASSIGN_OR_RETURN(ChunkHeader header, DecodeChunkHeader(std::span<const uint8_t>(prefix_bytes).first(prefix_read)));
  *header_out = header;
  const size_t prefix_size = header.prefix_size();
  if (header.stored_length != file_size - prefix_size) {
    return DataLoss("object is " + std::to_string(file_size) + " bytes, header says " +
                    std::to_string(prefix_size) + " + " + std::to_string(header.stored_length));
  }
  const std::span<const uint8_t> prefix = std::span<const uint8_t>(prefix_bytes).first(prefix_size);
  out->resize(header.plaintext_length);
  if (header.codec == ChunkCodec::kRaw) {
    RETURN_IF_ERROR(PreadFull(fd.get(), out->data(), header.stored_length, prefix_size, path));
    if (object_digest != nullptr) *object_digest = ComputeObjectDigest(prefix, *out);
    return Status::Ok();
  }
  std::unique_ptr<Scratch> scratch = AcquireScratch();
  Status result;
  if (scratch->dctx == nullptr) scratch->dctx = ZSTD_createDCtx();
  if (scratch->buf.size() < header.stored_length) scratch->buf.resize(header.stored_length);
  result = PreadFull(fd.get(), scratch->buf.data(), header.stored_length, prefix_size, path);
  if (result.ok() && object_digest != nullptr) {
    *object_digest =
        ComputeObjectDigest(prefix, std::span<const uint8_t>(scratch->buf.data(), header.stored_length));
  }
  if (result.ok() && scratch->dctx == nullptr)
    result = Internal("cannot allocate a zstd decompression context");
  if (result.ok()) {
    size_t n = ZSTD_decompressDCtx(scratch->dctx, out->data(), out->size(), scratch->buf.data(),
                                   header.stored_length);
    if (ZSTD_isError(n)) {
      result = DataLoss(std::string("zstd payload does not decode: ") + ZSTD_getErrorName(n));
    } else if (n != header.plaintext_length) {
      result = DataLoss("zstd payload decodes to " + std::to_string(n) + " bytes, header says " +
                        std::to_string(header.plaintext_length));
    }
  }
  ReleaseScratch(std::move(scratch));
  return result;
}

Result<std::vector<uint8_t>> FsChunkStore::Get(const ChunkId& id) {
  std::vector<uint8_t> out;
  ChunkHeader header;
  Status st = ReadObject(id, &out, &header);
  if (!st.ok()) {
    if (st.code() == Code::kNotFound) return st;
    return st.WithContext("get chunk " + ToHex(id));
  }
  RETURN_IF_ERROR(VerifyPlaintext(id, header, out));
  return out;
}

Result<std::vector<uint8_t>> FsChunkStore::GetWithObjectDigest(const ChunkId& id,
                                                               const Digest256& object_digest) {
  std::vector<uint8_t> out;
  ChunkHeader header;
  Digest256 actual{};
  Status st = ReadObject(id, &out, &header, &actual);
  if (!st.ok()) {
    if (st.code() == Code::kNotFound) return st;
    return st.WithContext("get chunk " + ToHex(id));
  }
  if (actual != object_digest) RETURN_IF_ERROR(VerifyPlaintext(id, header, out));
  return out;
}

Status FsChunkStore::VerifyPlaintext(const ChunkId& id, const ChunkHeader& header,
                                     std::span<const uint8_t> plaintext) {
  return VerifyChunkPlaintext(id, header, plaintext, ChunkPath(id));
}

Result<ChunkObjectFile> FsChunkStore::OpenObjectFile(const ChunkId& id) {
  const std::string path = ChunkPath(id);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return NotFound("", "chunk " + ToHex(id) + " is not in the store (" + path + ")");
    return ErrnoStatus("open", path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  const auto file_size = static_cast<uint64_t>(st.st_size);
  const std::string what = "get chunk object " + ToHex(id) + " (" + path + ")";
  // A corrupt file must not make a reader allocate more than any object can be.
  if (file_size > kMaxChunkPrefixSize + kMaxChunkPlaintext) {
    return DataLoss(what + ": " + std::to_string(file_size) + " bytes, more than any chunk object");
  }
  if (file_size < kChunkHeaderSize) {
    return DataLoss(what + ": " + std::to_string(file_size) + " bytes, shorter than the " +
                    std::to_string(kChunkHeaderSize) + "-byte header");
  }
  std::array<uint8_t, kMaxChunkPrefixSize> prefix{};
  const size_t prefix_read = static_cast<size_t>(std::min<uint64_t>(file_size, kMaxChunkPrefixSize));
  RETURN_IF_ERROR(PreadFull(fd.get(), prefix.data(), prefix_read, 0, path));
  Result<ChunkHeader> header = DecodeChunkHeader(std::span<const uint8_t>(prefix).first(prefix_read));
  if (!header.ok()) return header.status().WithContext(what);
  if (header->stored_length != file_size - header->prefix_size()) {
    return DataLoss(what + ": header says " + std::to_string(header->stored_length) +
                    " payload bytes, object has " + std::to_string(file_size - header->prefix_size()));
  }
  return ChunkObjectFile{std::move(fd), file_size};
}

Result<std::optional<ChunkObjectFile>> FsChunkStore::OpenStored(const ChunkId& id) {
  ASSIGN_OR_RETURN(ChunkObjectFile file, OpenObjectFile(id));
  return std::optional<ChunkObjectFile>(std::move(file));
}

Result<std::vector<uint8_t>> FsChunkStore::GetStored(const ChunkId& id) {
  ASSIGN_OR_RETURN(ChunkObjectFile file, OpenObjectFile(id));
  std::vector<uint8_t> object(file.size);
  RETURN_IF_ERROR(PreadFull(file.fd.get(), object.data(), object.size(), 0, ChunkPath(id)));
  return object;
}

Result<bool> FsChunkStore::Has(const ChunkId& id) {
  const std::string path = ChunkPath(id);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) return true;
  if (errno == ENOENT) return false;
  return ErrnoStatus("stat", path, errno);
}

Status FsChunkStore::Delete(const ChunkId& id) {
  const std::string path = ChunkPath(id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
  return Status::Ok();
}

Status FsChunkStore::List(const std::function<void(const ChunkId&)>& fn) {
  return WalkChunks(root_, [&](const ChunkId& id, const std::string&) -> Status {
    fn(id);
    return Status::Ok();
  });
}

Result<ChunkStoreStats> FsChunkStore::Stats() {
  ChunkStoreStats stats;
  Status st = WalkChunks(root_, [&](const ChunkId&, const std::string& path) -> Status {
    struct stat sb {};
    if (::stat(path.c_str(), &sb) != 0) {
      if (errno == ENOENT) return Status::Ok();  // deleted during the walk
      return ErrnoStatus("stat", path, errno);
    }
    ++stats.chunks;
    stats.stored_bytes += static_cast<uint64_t>(sb.st_size);
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return stats;
}

}  // namespace ferry
