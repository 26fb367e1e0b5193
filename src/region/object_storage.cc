#include "region/object_storage.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/file.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <shared_mutex>
#include <vector>

#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/log_safe.h"

namespace ferry {
namespace {

constexpr const char* kOwnerFile = ".ferry-owner";
constexpr const char* kUploadsDir = ".uploads";

Status BucketNotFound(const std::string& bucket) {
  return NotFound("InvalidOSSBucket.NotFound",
                  "The specified OSS bucket \"" + Echo(bucket) + "\" does not exist.");
}

Status ObjectNotFound(const std::string& bucket, const std::string& object) {
  return NotFound("InvalidOSSObject.NotFound", "The specified OSS object \"" + Echo(object) +
                                                   "\" does not exist in bucket \"" + Echo(bucket) + "\".");
}

bool IsReservedSegment(const std::string& segment) {
  return segment.rfind(".ferry", 0) == 0 || segment.rfind(".uploads", 0) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string ParentDir(const std::string& path) {
  std::filesystem::path p(path);
  return p.parent_path().empty() ? "." : p.parent_path().string();
}

// Resolves symlinks so an operator-made bucket holding a link that points
// outside it cannot be used to read arbitrary host files.
Result<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return ErrnoStatus("realpath", path, errno);
  return std::string(buf);
}

class FileUploadSession final : public UploadSession {
 public:
  FileUploadSession(UniqueFd fd, std::string data_path, std::string object, ObjectStorage* storage,
                    std::string bucket)
      : fd_(std::move(fd)),
        data_path_(std::move(data_path)),
        object_(std::move(object)),
        storage_(storage),
        bucket_(std::move(bucket)) {}

  ~FileUploadSession() override = default;

  // Parts of one upload id share the data file, and a part may still be
  // streaming when another request completes the upload. So that no byte
  // lands in a published object, a part writes under a shared flock and
  // only while its descriptor is still the one named data_path_; Complete
  // takes the lock exclusively and renames the file away before publishing.
  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    if (!fd_.valid()) return FailedPrecondition("", "upload of " + object_ + " is already closed");
    if (offset > static_cast<uint64_t>(INT64_MAX) - data.size()) {
      return InvalidArgument("InvalidParameter", "upload offset " + std::to_string(offset) + " + " +
                                                     std::to_string(data.size()) + " bytes overflows");
    }
    RETURN_IF_ERROR(ObjectStorage::CheckObjectSize(offset + data.size(), "offset + part length"));
    FileLock lock(fd_.get(), LOCK_SH);
    RETURN_IF_ERROR(CheckStillPending());
    return PwriteFull(fd_.get(), data.data(), data.size(), offset, data_path_);
  }

  Status Complete(uint64_t size) override {
    if (!fd_.valid()) return FailedPrecondition("", "upload of " + object_ + " is already closed");
    RETURN_IF_ERROR(ObjectStorage::CheckObjectSize(size, "size"));
    FileLock lock(fd_.get(), LOCK_EX);
    RETURN_IF_ERROR(CheckStillPending());
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) return ErrnoStatus("stat", data_path_, errno);
    if (static_cast<uint64_t>(st.st_size) > size) {
      return InvalidArgument("InvalidParameter",
                             "upload of " + object_ + " holds " + std::to_string(st.st_size) +
                                 " bytes, more than the declared size " + std::to_string(size));
    }
    // Extending with ftruncate keeps any unwritten tail sparse.
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0)
      return ErrnoStatus("truncate", data_path_, errno);
    // Claimed under the exclusive lock: parts that start writing after this
    // find data_path_ gone (or a new file) and refuse.
    const std::string claimed = data_path_ + ".completing-" + RandomHex(6);
    if (::rename(data_path_.c_str(), claimed.c_str()) != 0) return ErrnoStatus("rename", data_path_, errno);
    lock.Release();
    fd_ = UniqueFd();
    Status published = storage_->Publish(claimed, bucket_, object_);
    if (!published.ok()) ::rename(claimed.c_str(), data_path_.c_str());
    return published;
  }

  void Abort() override {
    if (fd_.valid() && CheckStillPending().ok()) ::unlink(data_path_.c_str());
    fd_ = UniqueFd();
  }

 private:
  // RAII flock on a descriptor.
  class FileLock {
   public:
    FileLock(int fd, int op) : fd_(fd) {
      while (::flock(fd_, op) != 0 && errno == EINTR) {
      }
    }
    ~FileLock() { Release(); }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    void Release() {
      if (fd_ >= 0) ::flock(fd_, LOCK_UN);
      fd_ = -1;
    }

   private:
    int fd_;
  };

  // The descriptor is still the pending data file (not completed meanwhile).
  Status CheckStillPending() const {
    struct stat mine {
    }, named{};
    if (::fstat(fd_.get(), &mine) != 0) return ErrnoStatus("stat", data_path_, errno);
    if (::lstat(data_path_.c_str(), &named) != 0 || mine.st_ino != named.st_ino ||
        mine.st_dev != named.st_dev) {
      return FailedPrecondition("InvalidParameter", "upload of " + object_ +
                                                        " was completed or aborted by another request; "
                                                        "start a new upload");
    }
    return Status::Ok();
  }

  UniqueFd fd_;
  std::string data_path_;
  std::string object_;
  ObjectStorage* storage_;
  std::string bucket_;
};

}  // namespace

ObjectStorage::ObjectStorage(std::string root_dir, std::string root_account_id)
    : root_(std::move(root_dir)), root_account_id_(std::move(root_account_id)) {}

Status ObjectStorage::CheckObjectSize(uint64_t bytes, const std::string& what) {
  if (bytes <= kMaxObjectBytes) return Status::Ok();
  return InvalidArgument("InvalidParameter", "The specified " + what + " " + std::to_string(bytes) +
                                                 " exceeds the maximum object size of " +
                                                 std::to_string(kMaxObjectBytes) + " bytes (48.8 TiB).");
}

Status ObjectStorage::ValidateBucketName(const std::string& bucket) {
  bool ok = bucket.size() >= 3 && bucket.size() <= 63 && bucket.front() != '-' && bucket.back() != '-';
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
  }
  if (!ok) {
    return InvalidArgument(
        "InvalidOSSBucket.Malformed",
        "The specified OSS bucket \"" + Echo(bucket) +
            "\" is malformed: use 3-63 characters of a-z, 0-9 and '-', not starting or ending "
            "with '-'.");
  }
  return Status::Ok();
}

Status ObjectStorage::ValidateObjectName(const std::string& object) {
  auto malformed = [&](const std::string& why) {
    return InvalidArgument("InvalidOSSObject.Malformed",
                           "The specified OSS object \"" + Echo(object) + "\" is malformed: " + why + ".");
  };
  if (object.empty() || object.size() > 1023) return malformed("the name must be 1-1023 bytes");
  if (object.front() == '/') return malformed("the name must not start with '/'");
  // Control characters would forge log lines and break listings; OSS names are UTF-8.
  if (!IsPrintableUtf8(object)) return malformed("the name must be UTF-8 without control characters");
  size_t start = 0;
  while (start <= object.size()) {
    size_t end = object.find('/', start);
    if (end == std::string::npos) end = object.size();
    std::string segment = object.substr(start, end - start);
    if (segment.empty()) return malformed("the name must not contain an empty path segment");
    if (segment == "." || segment == "..")
      return malformed("the name must not contain a '.' or '..' segment");
    if (IsReservedSegment(segment))
      return malformed("names starting with \".ferry\" or \".uploads\" are reserved");
    start = end + 1;
  }
  return Status::Ok();
}

Status ObjectStorage::CheckBucket(const std::string& account_id, const std::string& bucket) const {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  std::string dir = root_ + "/" + bucket;
  if (!IsDirectory(dir)) return BucketNotFound(bucket);
  std::string owner = root_account_id_;
  Result<std::string> recorded = ReadFileToString(dir + "/" + kOwnerFile);
  if (recorded.ok()) {
    owner = *recorded;
    while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
  } else if (recorded.status().code() != Code::kNotFound) {
    return recorded.status();
  }
  if (owner != account_id) return BucketNotFound(bucket);
  return Status::Ok();
}

Result<std::string> ObjectStorage::PathForRead(const std::string& account_id, const std::string& bucket,
                                               const std::string& object) const {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateObjectName(object));
  RETURN_IF_ERROR(CheckBucket(account_id, bucket));
  std::string bucket_dir = root_ + "/" + bucket;
  std::string path = bucket_dir + "/" + object;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return ObjectNotFound(bucket, object);
  ASSIGN_OR_RETURN(std::string real_bucket, RealPath(bucket_dir));
  ASSIGN_OR_RETURN(std::string real_path, RealPath(path));
  if (real_path.rfind(real_bucket + "/", 0) != 0) return ObjectNotFound(bucket, object);
  return path;
}

namespace {

// Opens `rel` (no ".." segments: validated object names) beneath `dir_fd`
// with no symlink on the way.
int OpenBeneath(int dir_fd, const std::string& rel, int flags) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, dir_fd, rel.c_str(), &how, sizeof(how));
  if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(fd);
  // No openat2 (old kernel, or filtered by seccomp): walk the components,
  // each opened with O_NOFOLLOW relative to the previous one.
  UniqueFd cur(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!cur.valid()) return -1;
  size_t start = 0;
  while (true) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) return ::openat(cur.get(), rel.c_str() + start, flags | O_NOFOLLOW);
    std::string part = rel.substr(start, slash - start);
    UniqueFd next(::openat(cur.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) return -1;
    cur = std::move(next);
    start = slash + 1;
  }
}

}  // namespace

Result<UniqueFd> ObjectStorage::OpenForRead(const std::string& account_id, const std::string& bucket,
                                            const std::string& object) const {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateObjectName(object));
  std::string bucket_dir = root_ + "/" + bucket;
  UniqueFd dir(::open(bucket_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.valid()) return BucketNotFound(bucket);
  // The owner is read through the folder just opened, so the check and the
  // object open below concern the same bucket.
  std::string owner = root_account_id_;
  UniqueFd owner_fd(::openat(dir.get(), kOwnerFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (owner_fd.valid()) {
    char buf[256];
    ssize_t n = ::pread(owner_fd.get(), buf, sizeof(buf), 0);
    if (n < 0) return ErrnoStatus("read", bucket_dir + "/" + kOwnerFile, errno);
    owner.assign(buf, static_cast<size_t>(n));
    while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
  } else if (errno != ENOENT) {
    return ErrnoStatus("open", bucket_dir + "/" + kOwnerFile, errno);
  }
  if (owner != account_id) return BucketNotFound(bucket);
  // O_NONBLOCK: opening a FIFO planted by hand must not hang the worker.
  UniqueFd fd(OpenBeneath(dir.get(), object, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return ObjectNotFound(bucket, object);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return ObjectNotFound(bucket, object);
  int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl >= 0) ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

Status ObjectStorage::EnsureBucket(const std::string& account_id, const std::string& bucket) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  std::string dir = root_ + "/" + bucket;
  if (IsDirectory(dir)) return CheckBucket(account_id, bucket);
  RETURN_IF_ERROR(MakeDirs(root_));
  // The bucket appears with its owner file already inside (rename of a
  // prepared folder), so no reader ever sees an ownerless new bucket.
  std::string staging = root_ + "/.ferry-new-bucket-" + RandomHex(8);
  RETURN_IF_ERROR(MakeDirs(staging));
  Status st = WriteFileAtomic(staging + "/" + kOwnerFile, account_id + "\n", 0600);
  if (st.ok() && ::rename(staging.c_str(), dir.c_str()) != 0) {
    int err = errno;
    std::error_code ec;
    std::filesystem::remove_all(staging, ec);
    if (err == EEXIST || err == ENOTEMPTY) return CheckBucket(account_id, bucket);  // lost a race
    return ErrnoStatus("rename", staging, err);
  }
  if (!st.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(staging, ec);
    return st;
  }
  return FsyncDir(root_);
}

Result<std::unique_ptr<UploadSession>> ObjectStorage::OpenUpload(const std::string& account_id,
                                                                 const std::string& bucket,
                                                                 const std::string& object,
                                                                 const std::string& upload_id) {
  bool id_ok = !upload_id.empty() && upload_id.size() <= 64;
  for (char c : upload_id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      id_ok = false;
  }
  if (!id_ok) {
    return InvalidArgument(
        "InvalidParameter",
        "upload id \"" + Echo(upload_id) + "\" is malformed: use 1-64 characters of A-Z, a-z, 0-9, '-'");
  }
  RETURN_IF_ERROR(ValidateObjectName(object));
  RETURN_IF_ERROR(EnsureBucket(account_id, bucket));
  std::string bucket_dir = root_ + "/" + bucket;
  std::string uploads = bucket_dir + "/" + kUploadsDir;
  RETURN_IF_ERROR(MakeDirs(uploads));
  // Keyed by object too, so one upload id reused for two objects cannot mix them.
  std::string data_path = uploads + "/" + upload_id + "-" + Sha256Hex(object).substr(0, 16);
  UniqueFd fd(::open(data_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus("open", data_path, errno);
  return std::unique_ptr<UploadSession>(
      new FileUploadSession(std::move(fd), data_path, object, this, bucket));
}

Result<std::string> ObjectStorage::TempPathForWrite(const std::string& account_id,
                                                    const std::string& bucket) {
  RETURN_IF_ERROR(CheckBucket(account_id, bucket));
  std::string uploads = root_ + "/" + bucket + "/" + kUploadsDir;
  RETURN_IF_ERROR(MakeDirs(uploads));
  std::string path = uploads + "/.ferry-export-" + RandomHex(8);
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("create", path, errno);
  return path;
}

Status ObjectStorage::Publish(const std::string& temp_path, const std::string& bucket,
                              const std::string& object) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateObjectName(object));
  std::string final_path = root_ + "/" + bucket + "/" + object;
  {
    UniqueFd fd(::open(temp_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus("open", temp_path, errno);
    if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync", temp_path, errno);
  }
  std::string parent = ParentDir(final_path);
  RETURN_IF_ERROR(MakeDirs(parent));
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) return ErrnoStatus("rename", temp_path, errno);
  return FsyncDir(parent);
}

}  // namespace ferry

// ---------------------------------------------------------------------------
// Giving resources back: aborts, deletes, staging objects, expiry, usage.

namespace ferry {
namespace {

constexpr const char* kStagingDir = ".ferry-staging";

uint64_t AllocatedBytes(const struct stat& st) { return static_cast<uint64_t>(st.st_blocks) * 512; }

// Bucket folders under `root`: real directories (not links) with a valid
// bucket name, so the staging folders of new buckets are left alone.
std::vector<std::string> BucketNames(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!ObjectStorage::ValidateBucketName(name).ok()) continue;
    if (IsDirectory(root + "/" + name)) out.push_back(name);
  }
  return out;
}

// Marker file: the object name, then one claiming task id per line.
struct StagingMarker {
  std::string object;
  std::vector<std::string> claims;
};

std::optional<StagingMarker> ReadMarker(const std::string& path) {
  Result<std::string> text = ReadFileToString(path);
  if (!text.ok()) return std::nullopt;
  StagingMarker m;
  size_t start = 0;
  bool first = true;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(start, end - start);
    if (first) {
      m.object = line;
      first = false;
    } else if (!line.empty()) {
      m.claims.push_back(line);
    }
    start = end + 1;
  }
  if (first) return std::nullopt;
  return m;
}

Status WriteMarker(const std::string& path, const StagingMarker& m) {
  std::string text = m.object + "\n";
  for (const std::string& c : m.claims) text += c + "\n";
  return WriteFileAtomic(path, text, 0600);
}

}  // namespace

ObjectStorage::~ObjectStorage() {
  {
    std::lock_guard<std::mutex> lock(sweeper_mu_);
    sweeper_stop_ = true;
  }
  sweeper_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

std::string ObjectStorage::StagingMarkerPath(const std::string& bucket, const std::string& object) const {
  return root_ + "/" + bucket + "/" + kStagingDir + "/" + Sha256Hex(object).substr(0, 32);
}

Status ObjectStorage::AbortUpload(const std::string& account_id, const std::string& bucket,
                                  const std::string& object, const std::string& upload_id) {
  RETURN_IF_ERROR(ValidateObjectName(object));
  RETURN_IF_ERROR(CheckBucket(account_id, bucket));
  bool id_ok = !upload_id.empty() && upload_id.size() <= 64;
  for (char c : upload_id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      id_ok = false;
  }
  if (!id_ok) {
    return InvalidArgument("InvalidParameter", "upload id \"" + Echo(upload_id) + "\" is malformed");
  }
  std::string path =
      root_ + "/" + bucket + "/" + kUploadsDir + "/" + upload_id + "-" + Sha256Hex(object).substr(0, 16);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
  return Status::Ok();
}

Status ObjectStorage::DeleteObject(const std::string& account_id, const std::string& bucket,
                                   const std::string& object) {
  RETURN_IF_ERROR(PathForRead(account_id, bucket, object).status());
  std::lock_guard<std::mutex> lock(staging_mu_);
  std::string path = root_ + "/" + bucket + "/" + object;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
  std::string marker = StagingMarkerPath(bucket, object);
  if (::unlink(marker.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", marker, errno);
  return Status::Ok();
}

Status ObjectStorage::SetStaging(const std::string& account_id, const std::string& bucket,
                                 const std::string& object, bool staging) {
  RETURN_IF_ERROR(PathForRead(account_id, bucket, object).status());
  std::lock_guard<std::mutex> lock(staging_mu_);
  std::string marker = StagingMarkerPath(bucket, object);
  if (!staging) {
    if (::unlink(marker.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", marker, errno);
    return Status::Ok();
  }
  RETURN_IF_ERROR(MakeDirs(root_ + "/" + bucket + "/" + kStagingDir));
  // A re-upload of a staging object keeps the claims of imports still
  // reading the name.
  StagingMarker m;
  if (std::optional<StagingMarker> old = ReadMarker(marker); old && old->object == object) m = *old;
  m.object = object;
  return WriteMarker(marker, m);
}

Status ObjectStorage::ClaimStaging(const std::string& account_id, const std::string& bucket,
                                   const std::string& object, const std::string& task_id) {
  RETURN_IF_ERROR(CheckBucket(account_id, bucket));
  std::lock_guard<std::mutex> lock(staging_mu_);
  std::string marker = StagingMarkerPath(bucket, object);
  std::optional<StagingMarker> m = ReadMarker(marker);
  if (!m || m->object != object) return Status::Ok();
  for (const std::string& c : m->claims) {
    if (c == task_id) return Status::Ok();
  }
  m->claims.push_back(task_id);
  return WriteMarker(marker, *m);
}

bool ObjectStorage::IsStaging(const std::string& bucket, const std::string& object) const {
  if (!ValidateBucketName(bucket).ok() || !ValidateObjectName(object).ok()) return false;
  std::lock_guard<std::mutex> lock(staging_mu_);
  std::optional<StagingMarker> m = ReadMarker(StagingMarkerPath(bucket, object));
  return m && m->object == object;
}

Status ObjectStorage::ReleaseStaging(const std::string& bucket, const std::string& object,
                                     const std::string& task_id) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateObjectName(object));
  std::lock_guard<std::mutex> lock(staging_mu_);
  std::string marker = StagingMarkerPath(bucket, object);
  std::optional<StagingMarker> m = ReadMarker(marker);
  if (!m || m->object != object) return Status::Ok();
  auto it = std::find(m->claims.begin(), m->claims.end(), task_id);
  if (it == m->claims.end()) return Status::Ok();
  m->claims.erase(it);
  if (!m->claims.empty()) return WriteMarker(marker, *m);
  std::string path = root_ + "/" + bucket + "/" + object;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
  if (::unlink(marker.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", marker, errno);
  return Status::Ok();
}

std::vector<ObjectStorage::StagingClaim> ObjectStorage::ListStagingClaims() const {
  std::vector<StagingClaim> out;
  std::lock_guard<std::mutex> lock(staging_mu_);
  for (const std::string& bucket : BucketNames(root_)) {
    std::error_code ec;
    std::string dir = root_ + "/" + bucket + "/" + kStagingDir;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::optional<StagingMarker> m = ReadMarker(it->path().string());
      if (!m) continue;
      for (const std::string& c : m->claims) out.push_back({bucket, m->object, c});
    }
  }
  return out;
}

ObjectStorage::SweepStats ObjectStorage::SweepExpired(UnixSeconds now, int64_t max_age_seconds) {
  SweepStats stats;
  const int64_t cutoff = now - max_age_seconds;
  for (const std::string& bucket : BucketNames(root_)) {
    std::error_code ec;
    std::string uploads = root_ + "/" + bucket + "/" + kUploadsDir;
    for (std::filesystem::directory_iterator it(uploads, ec), end; !ec && it != end; it.increment(ec)) {
      std::string path = it->path().string();
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      if (st.st_mtime >= cutoff) continue;
      if (::unlink(path.c_str()) == 0) {
        stats.parts_removed++;
        stats.bytes_freed += AllocatedBytes(st);
      }
    }
    std::lock_guard<std::mutex> lock(staging_mu_);
    std::string staging = root_ + "/" + bucket + "/" + kStagingDir;
    for (std::filesystem::directory_iterator it(staging, ec), end; !ec && it != end; it.increment(ec)) {
      std::string marker = it->path().string();
      struct stat st {};
      if (::lstat(marker.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime >= cutoff) continue;
      std::optional<StagingMarker> m = ReadMarker(marker);
      if (m && !m->claims.empty()) continue;  // an import still reads it
      if (m && ValidateObjectName(m->object).ok()) {
        std::string path = root_ + "/" + bucket + "/" + m->object;
        struct stat ost {};
        if (::lstat(path.c_str(), &ost) == 0 && S_ISREG(ost.st_mode) && ::unlink(path.c_str()) == 0) {
          stats.staging_removed++;
          stats.bytes_freed += AllocatedBytes(ost);
        }
      }
      ::unlink(marker.c_str());
    }
  }
  return stats;
}

void ObjectStorage::StartExpirySweeper(const Clock& clock, int64_t max_age_seconds,
                                       std::chrono::seconds interval) {
  auto sweep = [this, &clock, max_age_seconds] {
    SweepStats s = SweepExpired(clock.Now(), max_age_seconds);
    if (s.parts_removed + s.staging_removed > 0) {
      spdlog::info(
          "object storage: removed {} abandoned upload parts and {} unclaimed staging objects ({} bytes)",
          s.parts_removed, s.staging_removed, s.bytes_freed);
    }
  };
  sweep();
  sweeper_ = std::thread([this, sweep, interval] {
    std::unique_lock<std::mutex> lock(sweeper_mu_);
    while (!sweeper_cv_.wait_for(lock, interval, [this] { return sweeper_stop_; })) {
      lock.unlock();
      sweep();
      lock.lock();
    }
  });
}

uint64_t ObjectStorage::AddUsageSource(UsageSource source) {
  std::unique_lock<std::shared_mutex> lock(sources_mu_);
  uint64_t id = next_source_id_++;
  sources_.emplace(id, std::move(source));
  return id;
}

void ObjectStorage::RemoveUsageSource(uint64_t id) {
  std::unique_lock<std::shared_mutex> lock(sources_mu_);
  sources_.erase(id);
}

Result<uint64_t> ObjectStorage::AccountObjectBytes(const std::string& account_id) const {
  uint64_t total = 0;
  for (const std::string& bucket : BucketNames(root_)) {
    if (!CheckBucket(account_id, bucket).ok()) continue;
    std::error_code ec;
    std::filesystem::recursive_directory_iterator it(root_ + "/" + bucket, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (it.depth() == 0 && (name == kOwnerFile || name == kStagingDir)) {
        if (name == kStagingDir) it.disable_recursion_pending();
        continue;
      }
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      total += AllocatedBytes(st);
    }
  }
  return total;
}

Result<uint64_t> ObjectStorage::AccountStoredBytes(const std::string& account_id) const {
  ASSIGN_OR_RETURN(uint64_t total, AccountObjectBytes(account_id));
  // Held (shared) while the sources run, so a region removing its source
  // on close waits for calls into it to end.
  std::shared_lock<std::shared_mutex> lock(sources_mu_);
  for (const auto& [id, source] : sources_) {
    ASSIGN_OR_RETURN(uint64_t bytes, source(account_id));
    total += bytes;
  }
  return total;
}

}  // namespace ferry
