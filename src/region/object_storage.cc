#include "region/object_storage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>

#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"
#include "common/log_safe.h"

namespace ferry {
namespace {

constexpr const char* kOwnerFile = ".ferry-owner";
constexpr const char* kUploadsDir = ".uploads";

Status BucketNotFound(const std::string& bucket) {
  return NotFound("InvalidOSSBucket.NotFound", "The specified OSS bucket \"" + bucket + "\" does not exist.");
}

Status ObjectNotFound(const std::string& bucket, const std::string& object) {
  return NotFound("InvalidOSSObject.NotFound",
                  "The specified OSS object \"" + object + "\" does not exist in bucket \"" + bucket + "\".");
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

  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    if (!fd_.valid()) return FailedPrecondition("", "upload of " + object_ + " is already closed");
    if (offset > static_cast<uint64_t>(INT64_MAX) - data.size()) {
      return InvalidArgument("InvalidParameter", "upload offset " + std::to_string(offset) + " + " +
                                                     std::to_string(data.size()) + " bytes overflows");
    }
    return PwriteFull(fd_.get(), data.data(), data.size(), offset, data_path_);
  }

  Status Complete(uint64_t size) override {
    if (!fd_.valid()) return FailedPrecondition("", "upload of " + object_ + " is already closed");
    if (size > static_cast<uint64_t>(INT64_MAX)) {
      return InvalidArgument("InvalidParameter", "object size " + std::to_string(size) + " is too large");
    }
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
    fd_ = UniqueFd();
    return storage_->Publish(data_path_, bucket_, object_);
  }

  void Abort() override {
    fd_ = UniqueFd();
    ::unlink(data_path_.c_str());
  }

 private:
  UniqueFd fd_;
  std::string data_path_;
  std::string object_;
  ObjectStorage* storage_;
  std::string bucket_;
};

}  // namespace

ObjectStorage::ObjectStorage(std::string root_dir, std::string root_account_id)
    : root_(std::move(root_dir)), root_account_id_(std::move(root_account_id)) {}

Status ObjectStorage::ValidateBucketName(const std::string& bucket) {
  bool ok = bucket.size() >= 3 && bucket.size() <= 63 && bucket.front() != '-' && bucket.back() != '-';
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
  }
  if (!ok) {
    return InvalidArgument(
        "InvalidOSSBucket.Malformed",
        "The specified OSS bucket \"" + bucket +
            "\" is malformed: use 3-63 characters of a-z, 0-9 and '-', not starting or ending "
            "with '-'.");
  }
  return Status::Ok();
}

Status ObjectStorage::ValidateObjectName(const std::string& object) {
  auto malformed = [&](const std::string& why) {
    return InvalidArgument("InvalidOSSObject.Malformed",
                           "The specified OSS object \"" + object + "\" is malformed: " + why + ".");
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
        "upload id \"" + upload_id + "\" is malformed: use 1-64 characters of A-Z, a-z, 0-9, '-'");
  }
  RETURN_IF_ERROR(ValidateObjectName(object));
  RETURN_IF_ERROR(EnsureBucket(account_id, bucket));
  std::string bucket_dir = root_ + "/" + bucket;
  std::string uploads = bucket_dir + "/" + kUploadsDir;
  RETURN_IF_ERROR(MakeDirs(uploads));
  // Keyed by object too, so one upload id reused for two objects cannot mix them.
  std::string data_path = uploads + "/" + upload_id + "-" + Sha256Hex(object).substr(0, 16);
  UniqueFd fd(::open(data_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus("open", data_path, errno);
  return std::unique_ptr<UploadSession>(
      new FileUploadSession(std::move(fd), data_path, object, this, bucket));
}

Result<std::string> ObjectStorage::TempPathForWrite(const std::string& account_id,
                                                    const std::string& bucket) {
  RETURN_IF_ERROR(CheckBucket(account_id, bucket));
  std::string uploads = root_ + "/" + bucket + "/" + kUploadsDir;
  RETURN_IF_ERROR(MakeDirs(uploads));
  return uploads + "/export-" + RandomHex(8);
}

Status ObjectStorage::Publish(const std::string& temp_path, const std::string& bucket,
                              const std::string& object) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateObjectName(object));
  std::string final_path = root_ + "/" + bucket + "/" + object;
  {
    UniqueFd fd(::open(temp_path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus("open", temp_path, errno);
    if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync", temp_path, errno);
  }
  std::string parent = ParentDir(final_path);
  RETURN_IF_ERROR(MakeDirs(parent));
  if (::rename(temp_path.c_str(), final_path.c_str()) != 0) return ErrnoStatus("rename", temp_path, errno);
  return FsyncDir(parent);
}

}  // namespace ferry
