// Helpers FsObjectStore's files share (fs_object_store.cc, fs_multipart.cc,
// fs_lifecycle.cc). Not part of the objects layer's interface.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>

#include "common/crc64.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "objects/fs_object_store.h"

namespace ferry {

struct FsObjectStore::Bucket {
  std::string name;
  std::string path;  // <root>/<name>
  UniqueFd dir;
  std::string owner;
};

namespace fsobj {

inline constexpr char kOwnerFile[] = ".ferry-owner";
inline constexpr char kMetaDir[] = ".ferry-meta";
inline constexpr char kStagingDir[] = ".ferry-staging";
inline constexpr char kUploadsDir[] = ".uploads";
inline constexpr char kPutTempPrefix[] = ".ferry-put-";
inline constexpr char kMultipartPrefix[] = "mp-";
inline constexpr int kMetaVersion = 1;

Status BucketNotFound(const std::string& bucket);
Status KeyNotFound(const std::string& bucket, const std::string& key);
Status UploadNotFound(const std::string& upload_id);

// Opens `rel` (a validated key: no "..") beneath `dir_fd` with no symlink on
// the way; -1 with errno on failure.
int OpenBeneath(int dir_fd, const std::string& rel, int flags);
// Opens (making what is missing) the folder `rel` beneath `dir_fd`, one
// component at a time with O_NOFOLLOW. `rel` empty: a dup of dir_fd.
Result<UniqueFd> OpenDirsBeneath(int dir_fd, const std::string& rel, bool create);

uint64_t AllocatedBytes(const struct stat& st);
int64_t MtimeNs(const struct stat& st);
// First 32 hex characters of SHA-256(key): metadata and marker file names.
std::string KeyHash(const std::string& key);
// Feeds `count` zero bytes to `md5` (holes must hash as zeros).
void Md5Zeros(Md5& md5, uint64_t count);
// "\"" stripped from both ends, upper-cased: ETags compare this way.
std::string NormalizeEtag(const std::string& etag);

Result<nlohmann::json> ReadJsonFile(const std::string& path);
Status WriteJsonFile(const std::string& path, const nlohmann::json& j);
nlohmann::json UserMetaJson(const UserMeta& meta);
UserMeta UserMetaFrom(const nlohmann::json& j);

// Makes [offset, offset + length) of `fd` a hole (the file's size stays).
Status PunchHole(int fd, uint64_t offset, uint64_t length, const std::string& label);

// A file under <bucket>/.uploads, written sequentially from `base` while
// its MD5 and CRC-64 are computed. All-zero 4 KiB blocks and WriteZeros
// leave holes, so the range written must be a hole to begin with (a new
// file, or a punched range). An owned file is private: removed on
// destruction unless released, and sized by Finish. A shared one (a
// multipart upload's data file, parts at their offsets) is neither.
class HashingFile {
 public:
  HashingFile(std::string dir_path, std::string name, UniqueFd fd, uint64_t max_bytes, std::string label,
              uint64_t base = 0, bool owned = true);
  ~HashingFile();
  HashingFile(const HashingFile&) = delete;
  HashingFile& operator=(const HashingFile&) = delete;

  Status Write(std::span<const uint8_t> data);
  Status WriteZeros(uint64_t count);
  uint64_t size() const { return size_; }
  // Owned: sets the size (holes at the end) and fsyncs; shared: fdatasyncs.
  // Returns the MD5.
  Result<Md5Digest> Finish();
  uint64_t crc64() const { return crc_; }
  int fd() const { return fd_.get(); }
  const std::string& name() const { return name_; }
  const std::string& path() const { return path_; }
  // The file now belongs to someone else (renamed away).
  void Release() { released_ = true; }

 private:
  std::string path_;  // dir_path/name
  std::string name_;
  UniqueFd fd_;
  uint64_t max_bytes_;
  std::string label_;
  Md5 md5_;
  uint64_t crc_ = 0;
  uint64_t size_ = 0;
  uint64_t base_;
  bool owned_;
  bool released_ = false;
};

// The Write/WriteZeros half of a writer backed by a HashingFile (or another
// File with Write, WriteZeros and size: S3ObjectStore's spool); Base is
// ObjectPutWriter or PartWriter, whose Commit takes file_ (after which
// writing is refused).
template <typename Base, typename File = HashingFile>
class HashingFileWriter : public Base {
 public:
  Status Write(std::span<const uint8_t> data) override {
    RETURN_IF_ERROR(Usable());
    return file_->Write(data);
  }
  Status WriteZeros(uint64_t count) override {
    RETURN_IF_ERROR(Usable());
    return file_->WriteZeros(count);
  }
  uint64_t bytes_written() const override { return file_ ? file_->size() : 0; }

 protected:
  HashingFileWriter(std::unique_ptr<File> file, std::string what)
      : file_(std::move(file)), what_(std::move(what)) {}
  Status Usable() const {
    if (file_) return Status::Ok();
    return FailedPrecondition("", what_ + " was already committed");
  }

  std::unique_ptr<File> file_;
  std::string what_;
};

// Creates <bucket>/.uploads/<prefix><random> (0644, O_EXCL) for writing.
Result<std::unique_ptr<HashingFile>> NewUploadFile(const std::string& bucket_path, const std::string& subdir,
                                                   const std::string& prefix, uint64_t max_bytes,
                                                   const std::string& label);

}  // namespace fsobj

// PutFile's digests of the file open as `fd` (fs_object_store.cc; the S3
// backend's PutFile takes them too): with a Content-MD5, the whole file's
// MD5, checked against `expected` (a Normal object's ETag); otherwise the
// multipart ETag over the PutFileParts parts, holes not read. Both fill
// info's etag, crc64 and type (and content_md5 for the first).
Status HashWhole(int fd, uint64_t size, const Md5Digest& expected, const std::string& label,
                 ObjectInfo& info);
Status HashInParts(int fd, uint64_t size, const std::string& label, ObjectInfo& info);

}  // namespace ferry
