// FsObjectStore: buckets, puts, reads, listings and deletes. Multipart and
// offset uploads are in fs_multipart.cc; staging, expiry and usage in
// fs_lifecycle.cc; the shared helpers in fs_internal.h.
#include "objects/fs_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

#include "common/catch_all.h"
#include "common/ids.h"
#include "common/log_safe.h"
#include "common/parallel.h"
#include "objects/fs_internal.h"

namespace ferry {
namespace fsobj {

Status BucketNotFound(const std::string& bucket) {
  return NotFound(oss_error::kNoSuchBucket, "The specified bucket \"" + Echo(bucket) + "\" does not exist.");
}

Status KeyNotFound(const std::string& bucket, const std::string& key) {
  return NotFound(oss_error::kNoSuchKey, "The specified key \"" + Echo(key) +
                                             "\" does not exist in bucket \"" + Echo(bucket) + "\".");
}

Status UploadNotFound(const std::string& upload_id) {
  return NotFound(oss_error::kNoSuchUpload, "The specified upload \"" + Echo(upload_id) +
                                                "\" does not exist: it was completed, aborted or expired.");
}

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

Result<UniqueFd> OpenDirsBeneath(int dir_fd, const std::string& rel, bool create) {
  UniqueFd cur(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!cur.valid()) return ErrnoStatus("dup", "bucket folder", errno);
  size_t start = 0;
  while (start < rel.size()) {
    size_t slash = rel.find('/', start);
    if (slash == std::string::npos) slash = rel.size();
    std::string part = rel.substr(start, slash - start);
    if (create && ::mkdirat(cur.get(), part.c_str(), 0755) != 0 && errno != EEXIST)
      return ErrnoStatus("mkdir", rel, errno);
    UniqueFd next(::openat(cur.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      if (errno == ENOTDIR || errno == ELOOP) {
        return InvalidArgument(oss_error::kInvalidObjectName,
                               "The folder \"" + Echo(rel.substr(0, slash)) +
                                   "\" of this key is an object (or a link) in this bucket; the file-system "
                                   "store cannot hold a key and keys under it.");
      }
      return ErrnoStatus("open", rel.substr(0, slash), errno);
    }
    cur = std::move(next);
    start = slash + 1;
  }
  return cur;
}

uint64_t AllocatedBytes(const struct stat& st) { return static_cast<uint64_t>(st.st_blocks) * 512; }

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

std::string KeyHash(const std::string& key) { return Sha256Hex(key).substr(0, 32); }

std::string NormalizeEtag(const std::string& etag) {
  std::string_view v(etag);
  while (!v.empty() && v.front() == '"') v.remove_prefix(1);
  while (!v.empty() && v.back() == '"') v.remove_suffix(1);
  std::string out(v);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Result<nlohmann::json> ReadJsonFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("v", 0) != kMetaVersion) return DataLoss("unreadable metadata file " + path);
  return j;
}

Status WriteJsonFile(const std::string& path, const nlohmann::json& j) {
  return WriteFileAtomic(path, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", 0644);
}

nlohmann::json UserMetaJson(const UserMeta& meta) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& entry : meta) j[entry.first] = entry.second;
  return j;
}

UserMeta UserMetaFrom(const nlohmann::json& j) {
  UserMeta meta;
  if (!j.is_object()) return meta;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.value().is_string()) meta[it.key()] = it.value().get<std::string>();
  }
  return meta;
}

void Md5Zeros(Md5& md5, uint64_t count) {
  static const std::vector<uint8_t> kZeros(1 << 20, 0);
  for (uint64_t left = count; left > 0;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeros.size()));
    md5.Update(std::span<const uint8_t>(kZeros.data(), n));
    left -= n;
  }
}

Status PunchHole(int fd, uint64_t offset, uint64_t length, const std::string& label) {
  if (length == 0) return Status::Ok();
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                  static_cast<off_t>(length)) == 0) {
    return Status::Ok();
  }
  return ErrnoStatus("punch a hole in", label, errno);
}

HashingFile::HashingFile(std::string dir_path, std::string name, UniqueFd fd, uint64_t max_bytes,
                         std::string label, uint64_t base, bool owned)
    : path_(dir_path + "/" + name),
      name_(std::move(name)),
      fd_(std::move(fd)),
      max_bytes_(max_bytes),
      label_(std::move(label)),
      base_(base),
      owned_(owned) {}

HashingFile::~HashingFile() {
  if (owned_ && !released_) ::unlink(path_.c_str());
}

Status HashingFile::Write(std::span<const uint8_t> data) {
  RETURN_IF_ERROR(ObjectStore::CheckSize(size_ + data.size(), max_bytes_, "size of " + label_));
  md5_.Update(data);
  crc_ = Crc64Update(crc_, data);
  RETURN_IF_ERROR(PwriteSkippingZeroBlocks(fd_.get(), data, base_ + size_, label_));
  size_ += data.size();
  return Status::Ok();
}

Status HashingFile::WriteZeros(uint64_t count) {
  RETURN_IF_ERROR(ObjectStore::CheckSize(size_ + count, max_bytes_, "size of " + label_));
  Md5Zeros(md5_, count);
  crc_ = Crc64ExtendZeros(crc_, count);
  size_ += count;
  return Status::Ok();
}

Result<Md5Digest> HashingFile::Finish() {
  if (owned_) {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) != 0) return ErrnoStatus("truncate", label_, errno);
    if (::fsync(fd_.get()) != 0) return ErrnoStatus("fsync", label_, errno);
  } else if (::fdatasync(fd_.get()) != 0) {
    return ErrnoStatus("fdatasync", label_, errno);
  }
  return md5_.Finish();
}

Result<std::unique_ptr<HashingFile>> NewUploadFile(const std::string& bucket_path, const std::string& subdir,
                                                   const std::string& prefix, uint64_t max_bytes,
                                                   const std::string& label) {
  std::string dir = bucket_path + "/" + kUploadsDir + (subdir.empty() ? "" : "/" + subdir);
  RETURN_IF_ERROR(MakeDirs(dir));
  std::string name = prefix + RandomHex(8);
  UniqueFd fd(::open((dir + "/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus("create", dir + "/" + name, errno);
  return std::make_unique<HashingFile>(dir, name, std::move(fd), max_bytes, label);
}

}  // namespace fsobj

using namespace fsobj;  // NOLINT: this file is the backend the helpers serve

namespace {

// ObjectInfo from a metadata file, if it describes the file `st` is of.
std::optional<ObjectInfo> InfoFromMeta(const nlohmann::json& j, const std::string& key,
                                       const struct stat& st) {
  try {
    if (j.at("key").get<std::string>() != key || j.at("ino").get<uint64_t>() != st.st_ino ||
        j.at("size").get<uint64_t>() != static_cast<uint64_t>(st.st_size) ||
        j.at("mtime_ns").get<int64_t>() != MtimeNs(st)) {
      return std::nullopt;
    }
    ObjectInfo info;
    info.key = key;
    info.size = static_cast<uint64_t>(st.st_size);
    info.etag = j.at("etag").get<std::string>();
    if (j.contains("crc64")) info.crc64 = j.at("crc64").get<uint64_t>();
    Md5Digest md5{};
    if (j.contains("md5") && FromHex(j.at("md5").get<std::string>(), &md5)) info.content_md5 = md5;
    info.type =
        j.value("type", std::string("Normal")) == "Multipart" ? ObjectType::kMultipart : ObjectType::kNormal;
    info.content_type = j.value("content_type", std::string("application/octet-stream"));
    info.user_meta = UserMetaFrom(j.value("meta", nlohmann::json::object()));
    info.last_modified = j.at("last_modified").get<int64_t>();
    return info;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

// An object without (matching) metadata: see the header.
ObjectInfo LegacyInfo(const std::string& key, const struct stat& st) {
  ObjectInfo info;
  info.key = key;
  info.size = static_cast<uint64_t>(st.st_size);
  std::string identity =
      std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" + std::to_string(MtimeNs(st));
  Digest256 d = Sha256::Of(identity);
  info.etag = "\"" + ToUpperHex(std::span<const uint8_t>(d.data(), 16)) + "\"";
  info.content_type = "application/octet-stream";
  info.last_modified = st.st_mtime;
  return info;
}

std::string ParentOf(const std::string& key) {
  size_t slash = key.rfind('/');
  return slash == std::string::npos ? "" : key.substr(0, slash);
}

std::string LeafOf(const std::string& key) {
  size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

bool IsReservedName(const std::string& name) {
  return name.rfind(".ferry", 0) == 0 || name.rfind(".uploads", 0) == 0;
}

}  // namespace

FsObjectStore::FsObjectStore(std::string root_dir, std::string root_account_id, const Clock& clock)
    : root_(std::move(root_dir)), root_account_id_(std::move(root_account_id)), clock_(clock) {}

FsObjectStore::~FsObjectStore() { StopExpirySweeper(); }

std::mutex& FsObjectStore::KeyLock(const std::string& bucket, const std::string& key) const {
  return key_locks_[std::hash<std::string>()(bucket + '\0' + key) % kLockStripes];
}

std::mutex& FsObjectStore::UploadLock(const std::string& upload_id) const {
  return upload_locks_[std::hash<std::string>()(upload_id) % kLockStripes];
}

std::string FsObjectStore::MetaPath(const std::string& bucket, const std::string& key) const {
  return root_ + "/" + bucket + "/" + kMetaDir + "/" + KeyHash(key);
}

Result<std::string> FsObjectStore::BucketOwner(int dir_fd, const std::string& bucket) const {
  UniqueFd owner_fd(::openat(dir_fd, kOwnerFile, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!owner_fd.valid()) {
    if (errno == ENOENT) return root_account_id_;
    return ErrnoStatus("open", root_ + "/" + bucket + "/" + kOwnerFile, errno);
  }
  char buf[256];
  ssize_t n = ::pread(owner_fd.get(), buf, sizeof(buf), 0);
  if (n < 0) return ErrnoStatus("read", root_ + "/" + bucket + "/" + kOwnerFile, errno);
  std::string owner(buf, static_cast<size_t>(n));
  while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) owner.pop_back();
  return owner;
}

Result<FsObjectStore::Bucket> FsObjectStore::OpenBucket(const std::string& account_id,
                                                        const std::string& bucket) const {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  Bucket b;
  b.name = bucket;
  b.path = root_ + "/" + bucket;
  b.dir = UniqueFd(::open(b.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!b.dir.valid()) return BucketNotFound(bucket);
  // The owner is read through the folder just opened, so the check and
  // what follows concern the same bucket.
  ASSIGN_OR_RETURN(b.owner, BucketOwner(b.dir.get(), bucket));
  if (b.owner != account_id) return BucketNotFound(bucket);
  return b;
}

// ------------------------------------------------------------------ buckets

Status FsObjectStore::CreateBucket(const std::string& account_id, const std::string& bucket) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  const std::string dir = root_ + "/" + bucket;
  auto existing = [&]() -> Status {
    Result<Bucket> b = OpenBucket(account_id, bucket);
    if (b.ok() || b.status().reason() != oss_error::kNoSuchBucket) return b.status();
    return AlreadyExists(
        oss_error::kBucketAlreadyExists,
        "The bucket \"" + bucket + "\" already exists; bucket names are unique across accounts.");
  };
  struct stat st {};
  if (::lstat(dir.c_str(), &st) == 0) return existing();
  RETURN_IF_ERROR(MakeDirs(root_));
  // The bucket appears with its owner file already inside (rename of a
  // prepared folder), so no reader ever sees an ownerless new bucket.
  std::string staging = root_ + "/.ferry-new-bucket-" + RandomHex(8);
  RETURN_IF_ERROR(MakeDirs(staging));
  Status written = WriteFileAtomic(staging + "/" + kOwnerFile, account_id + "\n", 0600);
  if (written.ok() && ::rename(staging.c_str(), dir.c_str()) != 0) {
    int err = errno;
    std::error_code ec;
    std::filesystem::remove_all(staging, ec);
    if (err == EEXIST || err == ENOTEMPTY) return existing();  // lost a race
    return ErrnoStatus("rename", staging, err);
  }
  if (!written.ok()) {
    std::error_code ec;
    std::filesystem::remove_all(staging, ec);
    return written;
  }
  return FsyncDir(root_);
}

Status FsObjectStore::DeleteBucket(const std::string& account_id, const std::string& bucket) {
  // Exclusive: no put, part or initiate adds to the bucket while it is
  // checked and removed (they hold tree_mu_ shared; listings do not).
  std::unique_lock<std::shared_mutex> tree(tree_mu_);
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  ListObjectsRequest one;
  one.max_keys = 1;
  ASSIGN_OR_RETURN(ListObjectsResult objects, ListObjects(account_id, bucket, one));
  ListUploadsRequest one_upload;
  one_upload.max_uploads = 1;
  ASSIGN_OR_RETURN(ListUploadsResult uploads, ListUploads(account_id, bucket, one_upload));
  if (!objects.contents.empty() || !objects.common_prefixes.empty() || !uploads.uploads.empty()) {
    return FailedPrecondition(oss_error::kBucketNotEmpty, "The bucket \"" + bucket +
                                                              "\" holds objects or multipart uploads; delete "
                                                              "them first.");
  }
  // Renamed away first, so the name is free at once and a crash leaves a
  // folder no listing shows.
  const std::string trash = root_ + "/.ferry-deleted-" + RandomHex(8);
  if (::rename(b.path.c_str(), trash.c_str()) != 0) return ErrnoStatus("rename", b.path, errno);
  std::error_code ec;
  std::filesystem::remove_all(trash, ec);
  return FsyncDir(root_);
}

Result<BucketInfo> FsObjectStore::GetBucket(const std::string& account_id, const std::string& bucket) const {
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  BucketInfo info;
  info.name = bucket;
  info.owner_account_id = b.owner;
  struct stat st {};
  if (::fstatat(b.dir.get(), kOwnerFile, &st, AT_SYMLINK_NOFOLLOW) == 0 || ::fstat(b.dir.get(), &st) == 0) {
    info.creation_time = st.st_mtime;
  }
  return info;
}

Result<ListBucketsResult> FsObjectStore::ListBuckets(const std::string& account_id,
                                                     const ListBucketsRequest& request) const {
  if (request.max_keys < 1 || request.max_keys > kMaxListKeys) {
    return InvalidArgument(oss_error::kInvalidArgument, "max-keys must be 1-1000.");
  }
  std::vector<std::string> names;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!ValidateBucketName(name).ok() || name.rfind(request.prefix, 0) != 0 || name <= request.marker)
      continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  ListBucketsResult out;
  for (const std::string& name : names) {
    Result<BucketInfo> info = GetBucket(account_id, name);
    if (!info.ok()) continue;  // not a bucket, or another account's
    if (out.buckets.size() == request.max_keys) {
      out.truncated = true;
      out.next_marker = out.buckets.back().name;
      break;
    }
    out.buckets.push_back(std::move(info).value());
  }
  return out;
}

// ------------------------------------------------------------------ objects

namespace {

class FsPutWriter final : public HashingFileWriter<ObjectPutWriter> {
 public:
  FsPutWriter(FsObjectStore& store, FsObjectStore::Bucket bucket, std::string key, PutOptions options,
              std::unique_ptr<HashingFile> file, UnixSeconds now)
      : HashingFileWriter(std::move(file), "the put of \"" + Echo(key) + "\""),
        store_(store),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        options_(std::move(options)),
        now_(now) {}

  Result<ObjectInfo> Commit() override {
    RETURN_IF_ERROR(Usable());
    std::unique_ptr<HashingFile> file = std::move(file_);
    ASSIGN_OR_RETURN(Md5Digest md5, file->Finish());
    if (options_.expected_md5 && *options_.expected_md5 != md5) {
      return InvalidArgument(oss_error::kInvalidDigest,
                             "The Content-MD5 you specified (" + ToHex(*options_.expected_md5) +
                                 ") does not match the " + std::to_string(file->size()) +
                                 " bytes received (" + ToHex(md5) + "); nothing was stored.");
    }
    ObjectInfo info;
    info.key = key_;
    info.size = file->size();
    info.etag = QuotedMd5Etag(md5);
    info.crc64 = file->crc64();
    info.content_md5 = md5;
    info.content_type = options_.content_type.empty() ? "application/octet-stream" : options_.content_type;
    info.user_meta = options_.user_meta;
    info.last_modified = now_;
    info.type = ObjectType::kNormal;
    std::string temp = std::string(kUploadsDir) + "/" + file->name();
    file->Release();  // Publish removes it on failure
    return store_.Publish(bucket_, temp, file->fd(), key_, std::move(info));
  }

 private:
  FsObjectStore& store_;
  FsObjectStore::Bucket bucket_;
  std::string key_;
  PutOptions options_;
  UnixSeconds now_;
};

}  // namespace

Result<std::unique_ptr<ObjectPutWriter>> FsObjectStore::PutObject(const std::string& account_id,
                                                                  const std::string& bucket,
                                                                  const std::string& key,
                                                                  const PutOptions& options) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(ValidatePutOptions(options));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  ASSIGN_OR_RETURN(std::unique_ptr<HashingFile> file,
                   NewUploadFile(b.path, "", kPutTempPrefix, std::min(options.max_bytes, kMaxObjectBytes),
                                 "object " + bucket + "/" + key));
  return std::unique_ptr<ObjectPutWriter>(
      new FsPutWriter(*this, std::move(b), key, options, std::move(file), clock_.Now()));
}

namespace {

// Hashes what is written to it; holes cost no reads.
class HashSink final : public ObjectWriter {
 public:
  Status Write(std::span<const uint8_t> data) override {
    md5_.Update(data);
    crc_ = Crc64Update(crc_, data);
    size_ += data.size();
    return Status::Ok();
  }
  Status WriteZeros(uint64_t count) override {
    Md5Zeros(md5_, count);
    crc_ = Crc64ExtendZeros(crc_, count);
    size_ += count;
    return Status::Ok();
  }
  uint64_t bytes_written() const override { return size_; }
  Md5Digest md5() { return md5_.Finish(); }
  uint64_t crc64() const { return crc_; }

 private:
  Md5 md5_;
  uint64_t crc_ = 0;
  uint64_t size_ = 0;
};

}  // namespace

// PutFile's metadata when the caller named the MD5: the whole file's.
Status HashWhole(int fd, uint64_t size, const Md5Digest& expected, const std::string& label, ObjectInfo& info) {
  HashSink sink;
  RETURN_IF_ERROR(CopyFileToWriter(fd, size, sink, label));
  const Md5Digest md5 = sink.md5();
  if (expected != md5) {
    return InvalidArgument(oss_error::kInvalidDigest, "The Content-MD5 you specified (" + ToHex(expected) +
                                                          ") does not match " + label + " (" + ToHex(md5) + ").");
  }
  info.etag = QuotedMd5Etag(md5);
  info.content_md5 = md5;
  info.crc64 = sink.crc64();
  info.type = ObjectType::kNormal;
  return Status::Ok();
}

// PutFile's metadata otherwise: the multipart ETag over the PutFileParts
// parts; a hole part is not read (object_store.h). Data parts are hashed on
// kHashThreads threads, since MD5 (about 700 MB/s) is most of an export's CPU.
Status HashInParts(int fd, uint64_t size, const std::string& label, ObjectInfo& info) {
  constexpr unsigned kHashThreads = 2;
  ASSIGN_OR_RETURN(const std::vector<FilePart> parts, PutFileParts(fd, size));
  std::vector<Md5Digest> part_md5s(parts.size());
  std::vector<uint64_t> part_crcs(parts.size(), 0);
  RETURN_IF_ERROR(ParallelFor(parts.size(), kHashThreads, "hash " + label, [&](size_t i) -> Status {
    const FilePart& p = parts[i];
    if (p.hole) {
      part_md5s[i] = Md5OfZeros(p.length);
      return Status::Ok();
    }
    HashSink sink;
    RETURN_IF_ERROR(CopyFileRangeToWriter(fd, p.offset, p.length, sink, label));
    part_md5s[i] = sink.md5();
    part_crcs[i] = sink.crc64();
    // Read once and written no more (PutFile's contract): its pages need
    // not stay in the page cache. Advisory.
    ::posix_fadvise(fd, static_cast<off_t>(p.offset), static_cast<off_t>(p.length), POSIX_FADV_DONTNEED);
    return Status::Ok();
  }));
  uint64_t crc = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    crc = parts[i].hole ? Crc64ExtendZeros(crc, parts[i].length)
                        : Crc64Combine(crc, part_crcs[i], parts[i].length);
  }
  info.etag = MultipartEtag(part_md5s);
  info.crc64 = crc;
  info.type = ObjectType::kMultipart;
  return Status::Ok();
}

Result<ObjectInfo> FsObjectStore::PutFile(const std::string& account_id, const std::string& bucket,
                                          const std::string& key, int fd, const PutOptions& options) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(ValidatePutOptions(options));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  const std::string label = "the file for " + bucket + "/" + key;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", label, errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(oss_error::kInvalidArgument, label + " is not a regular file");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  RETURN_IF_ERROR(CheckSize(size, std::min(options.max_bytes, kMaxObjectBytes), "size of object " + key));
  // A second name for the file in the bucket; another file system (or no
  // /proc) means a copy, as a put.
  RETURN_IF_ERROR(MakeDirs(b.path + "/" + kUploadsDir));
  const std::string temp = std::string(kUploadsDir) + "/" + kPutTempPrefix + RandomHex(8);
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  if (::linkat(AT_FDCWD, proc.c_str(), b.dir.get(), temp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    ASSIGN_OR_RETURN(std::unique_ptr<ObjectPutWriter> writer, PutObject(account_id, bucket, key, options));
    RETURN_IF_ERROR(CopyFileToWriter(fd, size, *writer, label));
    return writer->Commit();
  }
  ObjectInfo info;
  Status st_hash;
  if (options.known_digests) {
    info.etag = options.known_digests->etag;
    info.crc64 = options.known_digests->crc64;
    info.type = ObjectType::kMultipart;
  } else if (options.expected_md5) {
    st_hash = HashWhole(fd, size, *options.expected_md5, label, info);
  } else {
    st_hash = HashInParts(fd, size, label, info);
  }
  if (st_hash.ok() && ::fsync(fd) != 0) st_hash = ErrnoStatus("fsync", label, errno);
  if (!st_hash.ok()) {
    ::unlinkat(b.dir.get(), temp.c_str(), 0);
    return st_hash;
  }
  info.key = key;
  info.size = size;
  info.content_type = options.content_type.empty() ? "application/octet-stream" : options.content_type;
  info.user_meta = options.user_meta;
  info.last_modified = clock_.Now();
  return Publish(b, temp, fd, key, std::move(info));
}

Result<ObjectInfo> FsObjectStore::Publish(const Bucket& bucket, const std::string& temp, int fd,
                                          const std::string& key, ObjectInfo info) {
  auto drop_temp = [&] { ::unlinkat(bucket.dir.get(), temp.c_str(), 0); };
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    drop_temp();
    return ErrnoStatus("stat", bucket.path + "/" + temp, errno);
  }
  nlohmann::json meta = {{"v", kMetaVersion},
                         {"key", key},
                         {"size", info.size},
                         {"etag", info.etag},
                         {"type", ObjectTypeName(info.type)},
                         {"content_type", info.content_type},
                         {"meta", UserMetaJson(info.user_meta)},
                         {"last_modified", info.last_modified},
                         {"ino", static_cast<uint64_t>(st.st_ino)},
                         {"mtime_ns", MtimeNs(st)}};
  if (info.crc64) meta["crc64"] = *info.crc64;
  if (info.content_md5) meta["md5"] = ToHex(*info.content_md5);

  std::shared_lock<std::shared_mutex> tree(tree_mu_);
  std::lock_guard<std::mutex> key_lock(KeyLock(bucket.name, key));
  Status st_meta = MakeDirs(bucket.path + "/" + kMetaDir);
  if (st_meta.ok()) st_meta = WriteJsonFile(MetaPath(bucket.name, key), meta);
  Result<UniqueFd> parent = st_meta.ok() ? OpenDirsBeneath(bucket.dir.get(), ParentOf(key), /*create=*/true)
                                         : Result<UniqueFd>(st_meta);
  if (!parent.ok()) {
    drop_temp();
    return parent.status();
  }
  const std::string leaf = LeafOf(key);
  if (::renameat(bucket.dir.get(), temp.c_str(), parent->get(), leaf.c_str()) != 0) {
    int err = errno;
    drop_temp();
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
      return InvalidArgument(oss_error::kInvalidObjectName,
                             "The key \"" + Echo(key) +
                                 "\" is a folder of other keys in this bucket; the "
                                 "file-system store cannot hold a key and keys under it.");
    }
    return ErrnoStatus("rename", bucket.path + "/" + temp, err);
  }
  // A rename onto another name of the same file (the same file put twice)
  // does nothing: the temp name would stay, counted against the account.
  drop_temp();
  if (::fsync(parent->get()) != 0) return ErrnoStatus("fsync", bucket.path + "/" + ParentOf(key), errno);
  return info;
}

Result<ObjectInfo> FsObjectStore::InfoFor(int fd, const std::string& bucket, const std::string& key) const {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", root_ + "/" + bucket + "/" + key, errno);
  Result<nlohmann::json> meta = ReadJsonFile(MetaPath(bucket, key));
  if (meta.ok()) {
    if (std::optional<ObjectInfo> info = InfoFromMeta(*meta, key, st)) return std::move(*info);
  }
  return LegacyInfo(key, st);
}

Result<OpenObject> FsObjectStore::OpenForRead(const std::string& account_id, const std::string& bucket,
                                              const std::string& key) const {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  // O_NONBLOCK: opening a FIFO planted by hand must not hang the worker.
  UniqueFd fd(OpenBeneath(b.dir.get(), key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return KeyNotFound(bucket, key);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return KeyNotFound(bucket, key);
  int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl >= 0) ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  OpenObject out;
  ASSIGN_OR_RETURN(out.info, InfoFor(fd.get(), bucket, key));
  out.fd = std::move(fd);
  return out;
}

Result<std::string> FsObjectStore::PathForRead(const std::string& account_id, const std::string& bucket,
                                               const std::string& key) const {
  RETURN_IF_ERROR(HeadObject(account_id, bucket, key).status());
  return root_ + "/" + bucket + "/" + key;
}

Result<ObjectInfo> FsObjectStore::HeadObject(const std::string& account_id, const std::string& bucket,
                                             const std::string& key) const {
  ASSIGN_OR_RETURN(OpenObject o, OpenForRead(account_id, bucket, key));
  return std::move(o.info);
}

// Walks the bucket's folders depth first, each folder's entries in byte
// order of their key (a folder sorting as "<name>/"), which yields keys in
// byte order. Subtrees wholly before the marker or outside the prefix are
// never opened, nor is the rest of a common prefix once it is emitted.
// Only the keys returned are stat()ed and have their metadata read.
namespace {

struct Walk {
  const ListObjectsRequest& req;
  ListObjectsResult& out;
  std::string skip_prefix;  // the last common prefix emitted
  std::vector<std::string> keys;
  uint32_t count = 0;

  // False once max_keys items are taken and one more exists.
  bool Take(const std::string& item, bool is_prefix) {
    if (count == req.max_keys) {
      out.truncated = true;
      return false;
    }
    ++count;
    out.next_marker = item;
    if (is_prefix) {
      out.common_prefixes.push_back(item);
    } else {
      keys.push_back(item);
    }
    return true;
  }

  bool Visit(int dir_fd, const std::string& dir_key) {
    UniqueFd own(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
    DIR* d = own.valid() ? ::fdopendir(own.get()) : nullptr;
    if (d == nullptr) return true;
    own.release();
    std::vector<std::pair<std::string, bool>> entries;  // (sort name, is folder)
    while (struct dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == ".." || IsReservedName(name)) continue;
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st {};
        if (::fstatat(::dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
      }
      if (type == DT_DIR) entries.emplace_back(name + "/", true);
      if (type == DT_REG) entries.emplace_back(name, false);
    }
    std::sort(entries.begin(), entries.end());
    bool go_on = true;
    for (const auto& entry : entries) {
      const std::string full = dir_key + entry.first;
      if (!skip_prefix.empty() && full.rfind(skip_prefix, 0) == 0) continue;
      if (entry.second) {
        const bool prefix_ok = full.rfind(req.prefix, 0) == 0 || req.prefix.rfind(full, 0) == 0;
        const bool after_marker = full > req.marker || req.marker.rfind(full, 0) == 0;
        if (!prefix_ok || !after_marker) continue;
        std::string name = entry.first.substr(0, entry.first.size() - 1);
        UniqueFd sub(::openat(::dirfd(d), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (sub.valid() && !Visit(sub.get(), full)) {
          go_on = false;
          break;
        }
        continue;
      }
      if (full.rfind(req.prefix, 0) != 0 || full <= req.marker || !ObjectStore::ValidateKey(full).ok())
        continue;
      if (!req.delimiter.empty()) {
        size_t at = full.find(req.delimiter, req.prefix.size());
        if (at != std::string::npos) {
          std::string common = full.substr(0, at + req.delimiter.size());
          skip_prefix = common;
          // A prefix at or before the marker was returned by an earlier page.
          if (common <= req.marker) continue;
          if (!Take(common, true)) {
            go_on = false;
            break;
          }
          continue;
        }
      }
      if (!Take(full, false)) {
        go_on = false;
        break;
      }
    }
    ::closedir(d);
    return go_on;
  }
};

}  // namespace

Result<ListObjectsResult> FsObjectStore::ListObjects(const std::string& account_id, const std::string& bucket,
                                                     const ListObjectsRequest& request) const {
  if (request.max_keys < 1 || request.max_keys > kMaxListKeys) {
    return InvalidArgument(oss_error::kInvalidArgument, "max-keys must be 1-1000.");
  }
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  ListObjectsResult out;
  Walk walk{request, out, "", {}, 0};
  walk.Visit(b.dir.get(), "");
  if (!out.truncated) out.next_marker.clear();
  for (const std::string& key : walk.keys) {
    UniqueFd fd(OpenBeneath(b.dir.get(), key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    Result<ObjectInfo> info = fd.valid() ? InfoFor(fd.get(), bucket, key) : KeyNotFound(bucket, key);
    if (!info.ok()) {
      // Deleted since the folder was read: an empty object keeps the page's shape.
      ObjectInfo gone;
      gone.key = key;
      info = gone;
    }
    out.contents.push_back(std::move(info).value());
  }
  return out;
}

Status FsObjectStore::RemoveObject(const Bucket& bucket, const std::string& key) {
  {
    std::lock_guard<std::mutex> key_lock(KeyLock(bucket.name, key));
    Result<UniqueFd> parent = OpenDirsBeneath(bucket.dir.get(), ParentOf(key), /*create=*/false);
    if (!parent.ok()) return Status::Ok();  // no folder, no object
    const std::string leaf = LeafOf(key);
    struct stat st {};
    if (::fstatat(parent->get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
      return Status::Ok();
    if (::unlinkat(parent->get(), leaf.c_str(), 0) != 0 && errno != ENOENT)
      return ErrnoStatus("unlink", bucket.path + "/" + key, errno);
    std::string meta = MetaPath(bucket.name, key);
    if (::unlink(meta.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", meta, errno);
  }
  // Folders left empty go, so the name can become a key again.
  std::unique_lock<std::shared_mutex> tree(tree_mu_);
  for (std::string dir = ParentOf(key); !dir.empty(); dir = ParentOf(dir)) {
    if (::unlinkat(bucket.dir.get(), dir.c_str(), AT_REMOVEDIR) != 0) break;
  }
  return Status::Ok();
}

Status FsObjectStore::DeleteObject(const std::string& account_id, const std::string& bucket,
                                   const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  std::lock_guard<std::mutex> lock(staging_mu_);
  RETURN_IF_ERROR(RemoveObject(b, key));
  std::string marker = StagingMarkerPath(bucket, key);
  if (::unlink(marker.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", marker, errno);
  return Status::Ok();
}

}  // namespace ferry
