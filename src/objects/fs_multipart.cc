// FsObjectStore: multipart uploads (layout in fs_object_store.h) and the
// CLI's offset uploads.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/ids.h"
#include "common/log_safe.h"
#include "objects/fs_internal.h"

namespace ferry {

using namespace fsobj;  // NOLINT: this file is the backend the helpers serve

namespace {

constexpr char kUploadRecord[] = "upload";

std::string PartName(uint32_t part_number) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%05u", part_number);
  return buf;
}

bool ValidUploadId(const std::string& id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::string UploadDir(const std::string& bucket_path, const std::string& upload_id) {
  return bucket_path + "/" + kUploadsDir + "/" + kMultipartPrefix + upload_id;
}

struct UploadRecord {
  std::string key;
  UnixSeconds initiated = 0;
  std::string content_type;
  UserMeta meta;
};

// The upload `upload_id` of `key` (NoSuchUpload if absent or another key's).
Result<UploadRecord> ReadUpload(const std::string& bucket_path, const std::string& key,
                                const std::string& upload_id) {
  if (!ValidUploadId(upload_id)) return UploadNotFound(upload_id);
  Result<nlohmann::json> j = ReadJsonFile(UploadDir(bucket_path, upload_id) + "/" + kUploadRecord);
  if (!j.ok()) return UploadNotFound(upload_id);
  UploadRecord r;
  r.key = j->value("key", std::string());
  r.initiated = j->value("initiated", int64_t{0});
  r.content_type = j->value("content_type", std::string());
  r.meta = UserMetaFrom(j->value("meta", nlohmann::json::object()));
  if (!key.empty() && r.key != key) return UploadNotFound(upload_id);
  return r;
}

// A stored part: its metadata, if it matches the part file's inode.
std::optional<PartInfo> ReadPart(const std::string& dir, uint32_t part_number, Md5Digest* md5_out = nullptr) {
  const std::string name = PartName(part_number);
  Result<nlohmann::json> j = ReadJsonFile(dir + "/" + name + ".meta");
  struct stat st {};
  if (!j.ok() || ::lstat((dir + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  try {
    if (j->at("ino").get<uint64_t>() != st.st_ino || j->at("mtime_ns").get<int64_t>() != MtimeNs(st) ||
        j->at("size").get<uint64_t>() != static_cast<uint64_t>(st.st_size)) {
      return std::nullopt;
    }
    Md5Digest md5{};
    if (!FromHex(j->at("md5").get<std::string>(), &md5)) return std::nullopt;
    if (md5_out != nullptr) *md5_out = md5;
    PartInfo p;
    p.part_number = part_number;
    p.size = static_cast<uint64_t>(st.st_size);
    p.etag = QuotedMd5Etag(md5);
    p.crc64 = j->at("crc64").get<uint64_t>();
    p.last_modified = j->at("last_modified").get<int64_t>();
    return p;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

class FsPartWriter final : public HashingFileWriter<PartWriter> {
 public:
  FsPartWriter(FsObjectStore& store, std::string dir, std::string upload_id, uint32_t part_number,
               std::optional<Md5Digest> expected, std::unique_ptr<HashingFile> file, UnixSeconds now)
      : HashingFileWriter(std::move(file), "part " + std::to_string(part_number)),
        store_(store),
        dir_(std::move(dir)),
        upload_id_(std::move(upload_id)),
        part_number_(part_number),
        expected_(expected),
        now_(now) {}

  Result<PartInfo> Commit() override {
    RETURN_IF_ERROR(Usable());
    std::unique_ptr<HashingFile> file = std::move(file_);
    ASSIGN_OR_RETURN(Md5Digest md5, file->Finish());
    if (expected_ && *expected_ != md5) {
      return InvalidArgument(oss_error::kInvalidDigest, "The Content-MD5 you specified does not match the " +
                                                            std::to_string(file->size()) + " bytes of part " +
                                                            std::to_string(part_number_) + ".");
    }
    struct stat st {};
    if (::fstat(file->fd(), &st) != 0) return ErrnoStatus("stat", file->path(), errno);
    PartInfo info;
    info.part_number = part_number_;
    info.size = file->size();
    info.etag = QuotedMd5Etag(md5);
    info.crc64 = file->crc64();
    info.last_modified = now_;
    nlohmann::json meta = {{"v", kMetaVersion},      {"size", info.size},
                           {"md5", ToHex(md5)},      {"crc64", info.crc64},
                           {"last_modified", now_},  {"ino", static_cast<uint64_t>(st.st_ino)},
                           {"mtime_ns", MtimeNs(st)}};
    // Under the upload's lock: a complete or abort either sees this part
    // whole (metadata and bytes) or not at all.
    std::lock_guard<std::mutex> lock(store_.UploadLock(upload_id_));
    struct stat rec {};
    if (::lstat((dir_ + "/" + kUploadRecord).c_str(), &rec) != 0) return UploadNotFound(upload_id_);
    const std::string name = PartName(part_number_);
    RETURN_IF_ERROR(WriteJsonFile(dir_ + "/" + name + ".meta", meta));
    if (::rename(file->path().c_str(), (dir_ + "/" + name).c_str()) != 0)
      return ErrnoStatus("rename", file->path(), errno);
    file->Release();
    RETURN_IF_ERROR(FsyncDir(dir_));
    return info;
  }

 private:
  FsObjectStore& store_;
  std::string dir_;
  std::string upload_id_;
  uint32_t part_number_;
  std::optional<Md5Digest> expected_;
  UnixSeconds now_;
};

// Copies `len` bytes of `src` to `dst` at `dst_off`, data extents only
// (holes stay holes), with copy_file_range where the kernel can.
Status CopyExtents(int src, uint64_t len, int dst, uint64_t dst_off, const std::string& label) {
  uint64_t pos = 0;
  std::vector<uint8_t> buf;
  while (pos < len) {
    off_t data = ::lseek(src, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) return Status::Ok();  // only a hole is left
      data = static_cast<off_t>(pos);
    }
    pos = static_cast<uint64_t>(data);
    if (pos >= len) return Status::Ok();
    off_t hole = ::lseek(src, data, SEEK_HOLE);
    uint64_t end = hole > data ? std::min<uint64_t>(static_cast<uint64_t>(hole), len) : len;
    while (pos < end) {
      loff_t in = static_cast<loff_t>(pos), out = static_cast<loff_t>(dst_off + pos);
      ssize_t n = ::copy_file_range(src, &in, dst, &out, end - pos, 0);
      if (n > 0) {
        pos += static_cast<uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      // No copy_file_range here (or a short source): copy through memory.
      if (buf.empty()) buf.resize(1 << 20);
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(end - pos, buf.size()));
      RETURN_IF_ERROR(PreadFull(src, buf.data(), chunk, pos, label));
      RETURN_IF_ERROR(PwriteFull(dst, buf.data(), chunk, dst_off + pos, label));
      pos += chunk;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> FsObjectStore::InitiateMultipart(const std::string& account_id, const std::string& bucket,
                                                     const std::string& key, const PutOptions& options) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(ValidatePutOptions(options));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  std::string upload_id = RandomHex(16);
  for (char& c : upload_id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  nlohmann::json record = {{"v", kMetaVersion},
                           {"key", key},
                           {"initiated", clock_.Now()},
                           {"content_type", options.content_type},
                           {"meta", UserMetaJson(options.user_meta)}};
  std::shared_lock<std::shared_mutex> tree(tree_mu_);
  const std::string dir = UploadDir(b.path, upload_id);
  RETURN_IF_ERROR(MakeDirs(dir));
  RETURN_IF_ERROR(WriteJsonFile(dir + "/" + kUploadRecord, record));
  return upload_id;
}

Result<std::unique_ptr<PartWriter>> FsObjectStore::UploadPart(
    const std::string& account_id, const std::string& bucket, const std::string& key,
    const std::string& upload_id, uint32_t part_number, std::optional<Md5Digest> expected_md5) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (part_number < 1 || part_number > kMaxPartNumber) {
    return InvalidArgument(oss_error::kInvalidArgument, "The part number " + std::to_string(part_number) +
                                                            " is out of range: use 1-10000.");
  }
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  RETURN_IF_ERROR(ReadUpload(b.path, key, upload_id).status());
  ASSIGN_OR_RETURN(
      std::unique_ptr<HashingFile> file,
      NewUploadFile(b.path, std::string(kMultipartPrefix) + upload_id, ".tmp-" + PartName(part_number) + "-",
                    kMaxPutBytes, "part " + std::to_string(part_number) + " of upload " + upload_id));
  return std::unique_ptr<PartWriter>(new FsPartWriter(*this, UploadDir(b.path, upload_id), upload_id,
                                                      part_number, expected_md5, std::move(file),
                                                      clock_.Now()));
}

Result<ListPartsResult> FsObjectStore::ListParts(const std::string& account_id, const std::string& bucket,
                                                 const std::string& key, const std::string& upload_id,
                                                 const ListPartsRequest& request) const {
  if (request.max_parts < 1 || request.max_parts > kMaxListKeys) {
    return InvalidArgument(oss_error::kInvalidArgument, "max-parts must be 1-1000.");
  }
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  RETURN_IF_ERROR(ReadUpload(b.path, key, upload_id).status());
  const std::string dir = UploadDir(b.path, upload_id);
  std::vector<uint32_t> numbers;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.size() != 5 || name.find_first_not_of("0123456789") != std::string::npos) continue;
    uint32_t n = static_cast<uint32_t>(std::stoul(name));
    if (n > request.part_number_marker) numbers.push_back(n);
  }
  std::sort(numbers.begin(), numbers.end());
  ListPartsResult out;
  for (uint32_t n : numbers) {
    std::optional<PartInfo> part = ReadPart(dir, n);
    if (!part) continue;
    if (out.parts.size() == request.max_parts) {
      out.truncated = true;
      break;
    }
    out.parts.push_back(*part);
    out.next_part_number_marker = n;
  }
  return out;
}

Result<ListUploadsResult> FsObjectStore::ListUploads(const std::string& account_id, const std::string& bucket,
                                                     const ListUploadsRequest& request) const {
  if (request.max_uploads < 1 || request.max_uploads > kMaxListKeys) {
    return InvalidArgument(oss_error::kInvalidArgument, "max-uploads must be 1-1000.");
  }
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  std::vector<MultipartUpload> all;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(b.path + "/" + kUploadsDir, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(kMultipartPrefix, 0) != 0) continue;
    std::string id = name.substr(std::strlen(kMultipartPrefix));
    Result<UploadRecord> r = ReadUpload(b.path, "", id);
    if (!r.ok() || r->key.rfind(request.prefix, 0) != 0) continue;
    const bool after =
        r->key > request.key_marker ||
        (r->key == request.key_marker && !request.upload_id_marker.empty() && id > request.upload_id_marker);
    if (!request.key_marker.empty() && !after) continue;
    all.push_back({r->key, id, r->initiated});
  }
  std::sort(all.begin(), all.end(), [](const MultipartUpload& a, const MultipartUpload& c) {
    return a.key != c.key ? a.key < c.key : a.upload_id < c.upload_id;
  });
  ListUploadsResult out;
  uint32_t count = 0;
  for (const MultipartUpload& u : all) {
    std::string common;
    if (!request.delimiter.empty()) {
      size_t at = u.key.find(request.delimiter, request.prefix.size());
      if (at != std::string::npos) common = u.key.substr(0, at + request.delimiter.size());
    }
    if (!common.empty() && !out.common_prefixes.empty() && out.common_prefixes.back() == common) continue;
    if (count == request.max_uploads) {
      out.truncated = true;
      break;
    }
    ++count;
    if (!common.empty()) {
      out.common_prefixes.push_back(common);
      out.next_key_marker = common;
      out.next_upload_id_marker.clear();
    } else {
      out.uploads.push_back(u);
      out.next_key_marker = u.key;
      out.next_upload_id_marker = u.upload_id;
    }
  }
  if (!out.truncated) {
    out.next_key_marker.clear();
    out.next_upload_id_marker.clear();
  }
  return out;
}

Result<ObjectInfo> FsObjectStore::CompleteMultipart(const std::string& account_id, const std::string& bucket,
                                                    const std::string& key, const std::string& upload_id,
                                                    const std::vector<CompletePart>& parts) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  std::unique_lock<std::mutex> lock(UploadLock(upload_id));
  ASSIGN_OR_RETURN(UploadRecord record, ReadUpload(b.path, key, upload_id));
  if (parts.empty()) {
    return InvalidArgument(oss_error::kInvalidArgument, "CompleteMultipartUpload needs at least one part.");
  }
  const std::string dir = UploadDir(b.path, upload_id);
  std::vector<Md5Digest> md5s;
  std::vector<PartInfo> stored;
  uint64_t total = 0;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].part_number <= parts[i - 1].part_number) {
      return InvalidArgument(oss_error::kInvalidPartOrder,
                             "The parts must be listed in ascending order without repeats: part " +
                                 std::to_string(parts[i].part_number) + " follows part " +
                                 std::to_string(parts[i - 1].part_number) + ".");
    }
  }
  for (size_t i = 0; i < parts.size(); ++i) {
    const CompletePart& p = parts[i];
    Md5Digest md5{};
    std::optional<PartInfo> part = p.part_number >= 1 && p.part_number <= kMaxPartNumber
                                       ? ReadPart(dir, p.part_number, &md5)
                                       : std::nullopt;
    if (!part || NormalizeEtag(part->etag) != NormalizeEtag(p.etag)) {
      return InvalidArgument(
          oss_error::kInvalidPart,
          "Part " + std::to_string(p.part_number) + " with ETag " + Echo(p.etag) +
              (part ? " does not match the stored part (ETag " + part->etag + ")." : " was not uploaded."));
    }
    if (i + 1 < parts.size() && part->size < kMinPartBytes) {
      return InvalidArgument(
          oss_error::kEntityTooSmall,
          "Part " + std::to_string(p.part_number) + " holds " + std::to_string(part->size) +
              " bytes; every part but the last must hold at least " + std::to_string(kMinPartBytes) + ".");
    }
    total += part->size;
    md5s.push_back(md5);
    stored.push_back(*part);
  }
  RETURN_IF_ERROR(CheckSize(total, kMaxObjectBytes, "size of the completed object"));

  ASSIGN_OR_RETURN(
      std::unique_ptr<HashingFile> out,
      NewUploadFile(b.path, "", kPutTempPrefix, kMaxObjectBytes, "object " + bucket + "/" + key));
  uint64_t offset = 0, crc = 0;
  for (const PartInfo& part : stored) {
    const std::string path = dir + "/" + PartName(part.part_number);
    UniqueFd src(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!src.valid()) return ErrnoStatus("open", path, errno);
    RETURN_IF_ERROR(CopyExtents(src.get(), part.size, out->fd(), offset, path));
    crc = Crc64Combine(crc, part.crc64, part.size);
    offset += part.size;
  }
  if (::ftruncate(out->fd(), static_cast<off_t>(total)) != 0)
    return ErrnoStatus("truncate", out->path(), errno);
  if (::fsync(out->fd()) != 0) return ErrnoStatus("fsync", out->path(), errno);

  ObjectInfo info;
  info.key = key;
  info.size = total;
  info.etag = MultipartEtag(md5s);
  info.crc64 = crc;
  info.content_type = record.content_type.empty() ? "application/octet-stream" : record.content_type;
  info.user_meta = record.meta;
  info.last_modified = clock_.Now();
  info.type = ObjectType::kMultipart;
  const std::string temp = std::string(kUploadsDir) + "/" + out->name();
  out->Release();  // Publish removes it on failure
  ASSIGN_OR_RETURN(info, Publish(b, temp, out->fd(), key, std::move(info)));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return info;
}

Status FsObjectStore::AbortMultipart(const std::string& account_id, const std::string& bucket,
                                     const std::string& key, const std::string& upload_id) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  std::lock_guard<std::mutex> lock(UploadLock(upload_id));
  RETURN_IF_ERROR(ReadUpload(b.path, key, upload_id).status());
  std::error_code ec;
  std::filesystem::remove_all(UploadDir(b.path, upload_id), ec);
  if (ec) return ErrnoStatus("remove", UploadDir(b.path, upload_id), ec.value());
  return Status::Ok();
}

// ------------------------------------------------------------ offset uploads

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

// Parts of one upload id share the data file, and a part may still be
// streaming when another request completes the upload. So that no byte
// lands in a published object, a part writes under a shared flock and only
// while its descriptor is still the one named path_; Complete takes the lock
// exclusively and renames the file away before publishing.
class FsOffsetUpload final : public OffsetUpload {
 public:
  FsOffsetUpload(FsObjectStore& store, FsObjectStore::Bucket bucket, std::string key, std::string name,
                 UniqueFd fd, UnixSeconds now)
      : store_(store),
        bucket_(std::move(bucket)),
        key_(std::move(key)),
        name_(std::move(name)),
        path_(bucket_.path + "/" + kUploadsDir + "/" + name_),
        fd_(std::move(fd)),
        now_(now) {}

  Status Write(uint64_t offset, std::span<const uint8_t> data) override {
    if (!fd_.valid()) return FailedPrecondition("", "upload of " + key_ + " is already closed");
    if (offset > static_cast<uint64_t>(INT64_MAX) - data.size()) {
      return InvalidArgument("InvalidParameter", "upload offset " + std::to_string(offset) + " + " +
                                                     std::to_string(data.size()) + " bytes overflows");
    }
    RETURN_IF_ERROR(
        ObjectStore::CheckSize(offset + data.size(), ObjectStore::kMaxObjectBytes, "offset + part length"));
    FileLock lock(fd_.get(), LOCK_SH);
    RETURN_IF_ERROR(CheckStillPending());
    return PwriteFull(fd_.get(), data.data(), data.size(), offset, path_);
  }

  Result<ObjectInfo> Complete(uint64_t size) override {
    if (!fd_.valid()) return FailedPrecondition("", "upload of " + key_ + " is already closed");
    RETURN_IF_ERROR(ObjectStore::CheckSize(size, ObjectStore::kMaxObjectBytes, "size"));
    FileLock lock(fd_.get(), LOCK_EX);
    RETURN_IF_ERROR(CheckStillPending());
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) return ErrnoStatus("stat", path_, errno);
    if (static_cast<uint64_t>(st.st_size) > size) {
      return InvalidArgument("InvalidParameter",
                             "upload of " + key_ + " holds " + std::to_string(st.st_size) +
                                 " bytes, more than the declared size " + std::to_string(size));
    }
    // Extending with ftruncate keeps any unwritten tail sparse.
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) return ErrnoStatus("truncate", path_, errno);
    // Claimed under the exclusive lock: parts that start writing after this
    // find path_ gone (or a new file) and refuse.
    const std::string claimed_name = name_ + ".completing-" + RandomHex(6);
    const std::string claimed = bucket_.path + "/" + kUploadsDir + "/" + claimed_name;
    if (::rename(path_.c_str(), claimed.c_str()) != 0) return ErrnoStatus("rename", path_, errno);
    lock.Release();
    UniqueFd fd = std::move(fd_);
    HashSink sink;
    Status hashed = CopyFileToWriter(fd.get(), size, sink, path_);
    if (hashed.ok() && ::fsync(fd.get()) != 0) hashed = ErrnoStatus("fsync", claimed, errno);
    if (!hashed.ok()) {
      ::rename(claimed.c_str(), path_.c_str());
      return hashed;
    }
    ObjectInfo info;
    info.key = key_;
    info.size = size;
    Md5Digest md5 = sink.md5();
    info.etag = QuotedMd5Etag(md5);
    info.content_md5 = md5;
    info.crc64 = sink.crc64();
    info.content_type = "application/octet-stream";
    info.last_modified = now_;
    return store_.Publish(bucket_, std::string(kUploadsDir) + "/" + claimed_name, fd.get(), key_,
                          std::move(info));
  }

 private:
  Status CheckStillPending() const {
    struct stat mine {
    }, named{};
    if (::fstat(fd_.get(), &mine) != 0 || ::lstat(path_.c_str(), &named) != 0 ||
        mine.st_ino != named.st_ino || mine.st_dev != named.st_dev) {
      return FailedPrecondition("InvalidParameter", "upload of " + key_ +
                                                        " was completed or aborted by another request; "
                                                        "start a new upload");
    }
    return Status::Ok();
  }

  FsObjectStore& store_;
  FsObjectStore::Bucket bucket_;
  std::string key_;
  std::string name_;
  std::string path_;
  UniqueFd fd_;
  UnixSeconds now_;
};

Status CheckOffsetUploadId(const std::string& upload_id) {
  bool ok = !upload_id.empty() && upload_id.size() <= 64;
  for (char c : upload_id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
  }
  if (ok) return Status::Ok();
  return InvalidArgument(
      "InvalidParameter",
      "upload id \"" + Echo(upload_id) + "\" is malformed: use 1-64 characters of A-Z, a-z, 0-9, '-'");
}

// Keyed by the key too, so one upload id reused for two keys cannot mix them.
std::string OffsetUploadName(const std::string& key, const std::string& upload_id) {
  return upload_id + "-" + Sha256Hex(key).substr(0, 16);
}

}  // namespace

Result<std::unique_ptr<OffsetUpload>> FsObjectStore::OpenOffsetUpload(const std::string& account_id,
                                                                      const std::string& bucket,
                                                                      const std::string& key,
                                                                      const std::string& upload_id) {
  RETURN_IF_ERROR(CheckOffsetUploadId(upload_id));
  RETURN_IF_ERROR(ValidateKey(key));
  // Made on first use, as the CLI expects; another account's bucket is
  // then NoSuchBucket from OpenBucket, as for any other call.
  Status created = CreateBucket(account_id, bucket);
  if (!created.ok() && created.reason() != oss_error::kBucketAlreadyExists) return created;
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  const std::string uploads = b.path + "/" + kUploadsDir;
  RETURN_IF_ERROR(MakeDirs(uploads));
  const std::string name = OffsetUploadName(key, upload_id);
  UniqueFd fd(::open((uploads + "/" + name).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return ErrnoStatus("open", uploads + "/" + name, errno);
  return std::unique_ptr<OffsetUpload>(
      new FsOffsetUpload(*this, std::move(b), key, name, std::move(fd), clock_.Now()));
}

Status FsObjectStore::AbortOffsetUpload(const std::string& account_id, const std::string& bucket,
                                        const std::string& key, const std::string& upload_id) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  RETURN_IF_ERROR(CheckOffsetUploadId(upload_id));
  std::string path = b.path + "/" + kUploadsDir + "/" + OffsetUploadName(key, upload_id);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", path, errno);
  return Status::Ok();
}

}  // namespace ferry
