// FsObjectStore: multipart uploads (layout in fs_object_store.h).
//
// Where a part's bytes go. An upload has a part size P, fixed by the first
// part that declares (Content-Length) at least kMinPartBytes. A part whose
// declared size is at most P is written in place: at offset (N-1)*P of the
// upload's data file, where it lies in the object if all parts but the
// last have size P, as both ali-oss and the Ferry CLI make them. Other
// parts (no declared size, larger than P, a second writer of one part
// number) go to a file of their own. Completion then publishes the data
// file itself (a hard link renamed into place) after copying in the few
// parts that live elsewhere; only uploads whose listed parts do not tile
// the object that way are copied whole into a new file.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <shared_mutex>

#include "common/ids.h"
#include "common/log_safe.h"
#include "objects/fs_internal.h"

namespace ferry {

using namespace fsobj;  // NOLINT: this file is the backend the helpers serve

struct FsObjectStore::UploadState {
  // Held shared by each in-place write, exclusively to close the data file
  // to them (completion, abort): no byte lands in a published object.
  std::shared_mutex io_mu;
  bool closed = false;  // guarded by io_mu
  // Part numbers being written in place now; guarded by the store's
  // UploadLock(upload id).
  std::set<uint32_t> writing;
};

std::shared_ptr<FsObjectStore::UploadState> FsObjectStore::StateOf(const std::string& upload_id) {
  std::lock_guard<std::mutex> lock(states_mu_);
  std::shared_ptr<UploadState>& state = upload_states_[upload_id];
  if (!state) state = std::make_shared<UploadState>();
  return state;
}

void FsObjectStore::ForgetUpload(const std::string& upload_id) {
  std::lock_guard<std::mutex> lock(states_mu_);
  upload_states_.erase(upload_id);
}

namespace {

constexpr char kUploadRecord[] = "upload";
constexpr char kDataFile[] = "data";

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
  uint64_t part_size = 0;  // P; 0 until a part fixes it
};

Status WriteUploadRecord(const std::string& dir, const UploadRecord& r) {
  nlohmann::json record = {{"v", kMetaVersion},
                           {"key", r.key},
                           {"initiated", r.initiated},
                           {"content_type", r.content_type},
                           {"meta", UserMetaJson(r.meta)}};
  if (r.part_size != 0) record["part_size"] = r.part_size;
  return WriteJsonFile(dir + "/" + kUploadRecord, record);
}

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
  r.part_size = j->value("part_size", uint64_t{0});
  if (!key.empty() && r.key != key) return UploadNotFound(upload_id);
  return r;
}

// A stored part: its metadata, and where its bytes are.
struct StoredPart {
  PartInfo info;
  Md5Digest md5{};
  bool in_place = false;  // in the data file at `offset`, else in the file <NNNNN>
  uint64_t offset = 0;
};

// Part metadata, <NNNNN>.meta: {"v":1,"size","md5","crc64","last_modified"}
// and either "offset","data_ino" (in place: the data file's inode) or
// "ino","mtime_ns" (the part's own file). A record that does not match the
// file it names (a crash between writing the two) is no part.
std::optional<StoredPart> ReadPart(const std::string& dir, uint32_t part_number) {
  const std::string name = PartName(part_number);
  Result<nlohmann::json> j = ReadJsonFile(dir + "/" + name + ".meta");
  if (!j.ok()) return std::nullopt;
  try {
    StoredPart p;
    p.in_place = j->contains("offset");
    struct stat st {};
    if (::lstat((dir + "/" + (p.in_place ? std::string(kDataFile) : name)).c_str(), &st) != 0 ||
        !S_ISREG(st.st_mode)) {
      return std::nullopt;
    }
    p.info.size = j->at("size").get<uint64_t>();
    if (p.in_place) {
      p.offset = j->at("offset").get<uint64_t>();
      // A data file cut short (a completion that failed to publish) no
      // longer holds the part.
      if (j->at("data_ino").get<uint64_t>() != st.st_ino ||
          static_cast<uint64_t>(st.st_size) < p.offset + p.info.size) {
        return std::nullopt;
      }
    } else if (j->at("ino").get<uint64_t>() != st.st_ino || j->at("mtime_ns").get<int64_t>() != MtimeNs(st) ||
               p.info.size != static_cast<uint64_t>(st.st_size)) {
      return std::nullopt;
    }
    if (!FromHex(j->at("md5").get<std::string>(), &p.md5)) return std::nullopt;
    p.info.part_number = part_number;
    p.info.etag = QuotedMd5Etag(p.md5);
    p.info.crc64 = j->at("crc64").get<uint64_t>();
    p.info.last_modified = j->at("last_modified").get<int64_t>();
    return p;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

Status CheckPartNumber(uint32_t part_number) {
  if (part_number >= 1 && part_number <= ObjectStore::kMaxPartNumber) return Status::Ok();
  return InvalidArgument(oss_error::kInvalidArgument,
                         "The part number " + std::to_string(part_number) + " is out of range: use 1-10000.");
}

// Where a new part of `size` bytes (if known) is written: its offset in the
// data file, or nullopt for a file of its own. Fixes the upload's part size
// if this part is the first to say. Call under the upload's lock.
Result<std::optional<uint64_t>> PlacePart(const std::string& dir, UploadRecord& record, uint32_t part_number,
                                          std::optional<uint64_t> size, FsObjectStore::UploadState& state) {
  if (!size || *size == 0 || *size > ObjectStore::kMaxPutBytes) return std::optional<uint64_t>();
  if (record.part_size == 0) {
    if (*size < ObjectStore::kMinPartBytes) return std::optional<uint64_t>();
    record.part_size = *size;
    RETURN_IF_ERROR(WriteUploadRecord(dir, record));
  }
  if (*size > record.part_size || state.writing.count(part_number) != 0 || ReadPart(dir, part_number)) {
    return std::optional<uint64_t>();
  }
  return std::optional<uint64_t>((uint64_t{part_number} - 1) * record.part_size);
}

// Writes the metadata of a part (replacing any earlier part of that
// number), and drops what the earlier part left behind: its own file, or
// its bytes in the data file. Call under the upload's lock.
Status RecordPart(const std::string& dir, const StoredPart& part, const nlohmann::json& location) {
  const std::string name = PartName(part.info.part_number);
  std::optional<StoredPart> earlier = ReadPart(dir, part.info.part_number);
  nlohmann::json meta = {{"v", kMetaVersion},
                         {"size", part.info.size},
                         {"md5", ToHex(part.md5)},
                         {"crc64", part.info.crc64},
                         {"last_modified", part.info.last_modified}};
  meta.update(location);
  RETURN_IF_ERROR(WriteJsonFile(dir + "/" + name + ".meta", meta));
  if (part.in_place) ::unlink((dir + "/" + name).c_str());
  if (earlier && earlier->in_place && !(part.in_place && earlier->offset == part.offset)) {
    UniqueFd data(::open((dir + "/" + kDataFile).c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
    if (data.valid()) (void)PunchHole(data.get(), earlier->offset, earlier->info.size, "upload data");
  }
  return FsyncDir(dir);
}

nlohmann::json InPlaceLocation(uint64_t offset, int data_fd, const std::string& label) {
  struct stat st {};
  if (::fstat(data_fd, &st) != 0) return nullptr;
  (void)label;
  return {{"offset", offset}, {"data_ino", static_cast<uint64_t>(st.st_ino)}};
}

// Makes `fd` at least `end` bytes long without shrinking it under a
// concurrent writer: one zero byte at end - 1 (in the caller's own range).
Status ExtendTo(int fd, uint64_t end, const std::string& label) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", label, errno);
  if (end == 0 || static_cast<uint64_t>(st.st_size) >= end) return Status::Ok();
  const uint8_t zero = 0;
  return PwriteFull(fd, &zero, 1, end - 1, label);
}

UniqueFd OpenDataFile(const std::string& dir) {
  return UniqueFd(::open((dir + "/" + kDataFile).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644));
}

class FsPartWriter final : public HashingFileWriter<PartWriter> {
 public:
  // `state` is set for a part written in place (at `offset` of the data
  // file), whose number it holds in state->writing until destroyed.
  FsPartWriter(FsObjectStore& store, std::string dir, std::string upload_id, uint32_t part_number,
               std::optional<Md5Digest> expected, std::optional<uint64_t> size,
               std::unique_ptr<HashingFile> file, UnixSeconds now,
               std::shared_ptr<FsObjectStore::UploadState> state, uint64_t offset)
      : HashingFileWriter(std::move(file), "part " + std::to_string(part_number)),
        store_(store),
        dir_(std::move(dir)),
        upload_id_(std::move(upload_id)),
        part_number_(part_number),
        expected_(expected),
        size_(size),
        now_(now),
        state_(std::move(state)),
        offset_(offset) {}

  ~FsPartWriter() override {
    if (!state_) return;
    std::lock_guard<std::mutex> lock(store_.UploadLock(upload_id_));
    state_->writing.erase(part_number_);
  }

  Status Write(std::span<const uint8_t> data) override {
    if (!state_) return HashingFileWriter::Write(data);
    std::shared_lock<std::shared_mutex> io(state_->io_mu);
    RETURN_IF_ERROR(CheckOpen());
    return HashingFileWriter::Write(data);
  }

  Result<PartInfo> Commit() override {
    RETURN_IF_ERROR(Usable());
    std::unique_ptr<HashingFile> file = std::move(file_);
    if (size_ && file->size() != *size_) {
      return InvalidArgument(oss_error::kInvalidArgument,
                             "Part " + std::to_string(part_number_) + " declared " + std::to_string(*size_) +
                                 " bytes but " + std::to_string(file->size()) + " arrived.");
    }
    if (state_) RETURN_IF_ERROR(ExtendTo(file->fd(), offset_ + file->size(), file->path()));
    ASSIGN_OR_RETURN(Md5Digest md5, file->Finish());
    if (expected_ && *expected_ != md5) {
      return InvalidArgument(oss_error::kInvalidDigest, "The Content-MD5 you specified does not match the " +
                                                            std::to_string(file->size()) + " bytes of part " +
                                                            std::to_string(part_number_) + ".");
    }
    StoredPart part;
    part.md5 = md5;
    part.info.part_number = part_number_;
    part.info.size = file->size();
    part.info.etag = QuotedMd5Etag(md5);
    part.info.crc64 = file->crc64();
    part.info.last_modified = now_;
    part.in_place = state_ != nullptr;
    part.offset = offset_;
    nlohmann::json location;
    if (part.in_place) {
      location = InPlaceLocation(offset_, file->fd(), file->path());
      if (location.is_null()) return ErrnoStatus("stat", file->path(), errno);
    } else {
      struct stat st {};
      if (::fstat(file->fd(), &st) != 0) return ErrnoStatus("stat", file->path(), errno);
      location = {{"ino", static_cast<uint64_t>(st.st_ino)}, {"mtime_ns", MtimeNs(st)}};
    }
    // Under the upload's lock: a complete or abort either sees this part
    // whole (metadata and bytes) or not at all.
    std::lock_guard<std::mutex> lock(store_.UploadLock(upload_id_));
    struct stat rec {};
    if (::lstat((dir_ + "/" + kUploadRecord).c_str(), &rec) != 0) return UploadNotFound(upload_id_);
    if (part.in_place) {
      std::shared_lock<std::shared_mutex> io(state_->io_mu);
      RETURN_IF_ERROR(CheckOpen());
    } else {
      if (::rename(file->path().c_str(), (dir_ + "/" + PartName(part_number_)).c_str()) != 0)
        return ErrnoStatus("rename", file->path(), errno);
      file->Release();
    }
    RETURN_IF_ERROR(RecordPart(dir_, part, location));
    return part.info;
  }

 private:
  Status CheckOpen() const {
    if (!state_->closed) return Status::Ok();
    return UploadNotFound(upload_id_);
  }

  FsObjectStore& store_;
  std::string dir_;
  std::string upload_id_;
  uint32_t part_number_;
  std::optional<Md5Digest> expected_;
  std::optional<uint64_t> size_;
  UnixSeconds now_;
  std::shared_ptr<FsObjectStore::UploadState> state_;
  uint64_t offset_;
};

// Copies `len` bytes of `src` from `src_off` to `dst` at `dst_off`, data
// extents only (holes stay holes: `dst`'s range must be one), with
// copy_file_range where the kernel can.
Status CopyExtents(int src, uint64_t src_off, uint64_t len, int dst, uint64_t dst_off, const std::string& label) {
  const uint64_t end_all = src_off + len;
  uint64_t pos = src_off;
  std::vector<uint8_t> buf;
  while (pos < end_all) {
    off_t data = ::lseek(src, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) return Status::Ok();  // only a hole is left
      data = static_cast<off_t>(pos);
    }
    pos = static_cast<uint64_t>(data);
    if (pos >= end_all) return Status::Ok();
    off_t hole = ::lseek(src, data, SEEK_HOLE);
    uint64_t end = hole > data ? std::min<uint64_t>(static_cast<uint64_t>(hole), end_all) : end_all;
    while (pos < end) {
      loff_t in = static_cast<loff_t>(pos), out = static_cast<loff_t>(dst_off + (pos - src_off));
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
      RETURN_IF_ERROR(PwriteFull(dst, buf.data(), chunk, dst_off + (pos - src_off), label));
      pos += chunk;
    }
  }
  return Status::Ok();
}

// The data file, with the parts that live elsewhere copied to their offsets
// and cut to the object's size, linked under a put-temp name.
Result<std::string> AssembleInPlace(const FsObjectStore::Bucket& b, const std::string& dir,
                                                   const std::vector<StoredPart>& parts, uint64_t part_size,
                                                   uint64_t total) {
  const std::string data_path = dir + "/" + kDataFile;
  UniqueFd data = OpenDataFile(dir);
  if (!data.valid()) return ErrnoStatus("open", data_path, errno);
  for (const StoredPart& part : parts) {
    if (part.in_place) continue;
    const uint64_t offset = (uint64_t{part.info.part_number} - 1) * part_size;
    const std::string path = dir + "/" + PartName(part.info.part_number);
    UniqueFd src(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!src.valid()) return ErrnoStatus("open", path, errno);
    RETURN_IF_ERROR(PunchHole(data.get(), offset, part.info.size, data_path));
    RETURN_IF_ERROR(CopyExtents(src.get(), 0, part.info.size, data.get(), offset, path));
  }
  if (::ftruncate(data.get(), static_cast<off_t>(total)) != 0) return ErrnoStatus("truncate", data_path, errno);
  if (::fsync(data.get()) != 0) return ErrnoStatus("fsync", data_path, errno);
  // A second name, so a failed publish leaves the upload whole.
  const std::string temp = std::string(kUploadsDir) + "/" + kPutTempPrefix + RandomHex(8);
  if (::linkat(AT_FDCWD, data_path.c_str(), b.dir.get(), temp.c_str(), 0) != 0)
    return ErrnoStatus("link", data_path, errno);
  return temp;
}

// A new file holding the parts one after another.
Result<std::string> AssembleByCopy(const FsObjectStore::Bucket& b, const std::string& dir,
                                                  const std::vector<StoredPart>& parts, uint64_t total,
                                                  const std::string& label) {
  ASSIGN_OR_RETURN(std::unique_ptr<HashingFile> out, NewUploadFile(b.path, "", kPutTempPrefix, total, label));
  UniqueFd data(::open((dir + "/" + kDataFile).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  uint64_t offset = 0;
  for (const StoredPart& part : parts) {
    const std::string path = dir + "/" + (part.in_place ? std::string(kDataFile) : PartName(part.info.part_number));
    UniqueFd own;
    if (!part.in_place) own = UniqueFd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    const int src = part.in_place ? data.get() : own.get();
    if (src < 0) return ErrnoStatus("open", path, errno);
    RETURN_IF_ERROR(CopyExtents(src, part.in_place ? part.offset : 0, part.info.size, out->fd(), offset, path));
    offset += part.info.size;
  }
  if (::ftruncate(out->fd(), static_cast<off_t>(total)) != 0) return ErrnoStatus("truncate", out->path(), errno);
  if (::fsync(out->fd()) != 0) return ErrnoStatus("fsync", out->path(), errno);
  out->Release();
  return std::string(kUploadsDir) + "/" + out->name();
}

}  // namespace

Result<std::string> FsObjectStore::InitiateMultipart(const std::string& account_id, const std::string& bucket,
                                                     const std::string& key, const PutOptions& options) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(ValidatePutOptions(options));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  std::string upload_id = RandomHex(16);
  for (char& c : upload_id) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  UploadRecord record;
  record.key = key;
  record.initiated = clock_.Now();
  record.content_type = options.content_type;
  record.meta = options.user_meta;
  std::shared_lock<std::shared_mutex> tree(tree_mu_);
  const std::string dir = UploadDir(b.path, upload_id);
  RETURN_IF_ERROR(MakeDirs(dir));
  RETURN_IF_ERROR(WriteUploadRecord(dir, record));
  return upload_id;
}

Result<std::unique_ptr<PartWriter>> FsObjectStore::UploadPart(const std::string& account_id,
                                                               const std::string& bucket, const std::string& key,
                                                               const std::string& upload_id, uint32_t part_number,
                                                               std::optional<Md5Digest> expected_md5,
                                                               std::optional<uint64_t> size) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(CheckPartNumber(part_number));
  if (size) RETURN_IF_ERROR(CheckSize(*size, kMaxPutBytes, "size of part " + std::to_string(part_number)));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  const std::string dir = UploadDir(b.path, upload_id);
  const std::string label = "part " + std::to_string(part_number) + " of upload " + upload_id;
  std::shared_ptr<UploadState> state;
  uint64_t offset = 0;
  bool in_place = false;
  UniqueFd data;
  {
    std::lock_guard<std::mutex> lock(UploadLock(upload_id));
    ASSIGN_OR_RETURN(UploadRecord record, ReadUpload(b.path, key, upload_id));
    state = StateOf(upload_id);
    ASSIGN_OR_RETURN(std::optional<uint64_t> place, PlacePart(dir, record, part_number, size, *state));
    if (place) {
      data = OpenDataFile(dir);
      // A part that failed here earlier may have left bytes in its range.
      in_place = data.valid() && PunchHole(data.get(), *place, *size, label).ok();
      if (in_place) {
        offset = *place;
        state->writing.insert(part_number);
      }
    }
  }
  const uint64_t max_bytes = size.value_or(kMaxPutBytes);
  if (in_place) {
    auto file = std::make_unique<HashingFile>(dir, kDataFile, std::move(data), max_bytes, label, offset,
                                              /*owned=*/false);
    return std::unique_ptr<PartWriter>(new FsPartWriter(*this, dir, upload_id, part_number, expected_md5, size,
                                                        std::move(file), clock_.Now(), std::move(state), offset));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<HashingFile> file,
                   NewUploadFile(b.path, std::string(kMultipartPrefix) + upload_id,
                                 ".tmp-" + PartName(part_number) + "-", max_bytes, label));
  return std::unique_ptr<PartWriter>(new FsPartWriter(*this, dir, upload_id, part_number, expected_md5, size,
                                                      std::move(file), clock_.Now(), nullptr, 0));
}

Result<PartInfo> FsObjectStore::UploadZeroPart(const std::string& account_id, const std::string& bucket,
                                               const std::string& key, const std::string& upload_id,
                                               uint32_t part_number, uint64_t size,
                                               std::optional<Md5Digest> expected_md5) {
  RETURN_IF_ERROR(ValidateKey(key));
  RETURN_IF_ERROR(CheckPartNumber(part_number));
  if (size == 0) {
    return InvalidArgument(oss_error::kInvalidArgument,
                           "A zero part holds at least one byte; send an empty part as an ordinary UploadPart.");
  }
  RETURN_IF_ERROR(CheckSize(size, kMaxPutBytes, "size of part " + std::to_string(part_number)));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  StoredPart part;
  part.md5 = Md5OfZeros(size);
  if (expected_md5 && *expected_md5 != part.md5) {
    return InvalidArgument(oss_error::kInvalidDigest, "The Content-MD5 you specified is not that of the " +
                                                          std::to_string(size) + " zero bytes of part " +
                                                          std::to_string(part_number) + ".");
  }
  part.info.part_number = part_number;
  part.info.size = size;
  part.info.etag = QuotedMd5Etag(part.md5);
  part.info.crc64 = Crc64ExtendZeros(0, size);
  part.info.last_modified = clock_.Now();
  const std::string dir = UploadDir(b.path, upload_id);
  const std::string label = "part " + std::to_string(part_number) + " of upload " + upload_id;
  std::lock_guard<std::mutex> lock(UploadLock(upload_id));
  ASSIGN_OR_RETURN(UploadRecord record, ReadUpload(b.path, key, upload_id));
  std::shared_ptr<UploadState> state = StateOf(upload_id);
  ASSIGN_OR_RETURN(std::optional<uint64_t> offset, PlacePart(dir, record, part_number, size, *state));
  nlohmann::json location;
  if (offset) {
    UniqueFd data = OpenDataFile(dir);
    std::shared_lock<std::shared_mutex> io(state->io_mu);
    if (state->closed) return UploadNotFound(upload_id);
    if (data.valid() && PunchHole(data.get(), *offset, size, label).ok() &&
        ExtendTo(data.get(), *offset + size, label).ok() && ::fdatasync(data.get()) == 0) {
      part.in_place = true;
      part.offset = *offset;
      location = InPlaceLocation(*offset, data.get(), label);
      if (location.is_null()) return ErrnoStatus("stat", dir + "/" + kDataFile, errno);
      RETURN_IF_ERROR(RecordPart(dir, part, location));
      return part.info;
    }
  }
  // A sparse file of its own.
  ASSIGN_OR_RETURN(std::unique_ptr<HashingFile> file,
                   NewUploadFile(b.path, std::string(kMultipartPrefix) + upload_id,
                                 ".tmp-" + PartName(part_number) + "-", size, label));
  RETURN_IF_ERROR(file->WriteZeros(size));
  RETURN_IF_ERROR(file->Finish().status());
  struct stat st {};
  if (::fstat(file->fd(), &st) != 0) return ErrnoStatus("stat", file->path(), errno);
  if (::rename(file->path().c_str(), (dir + "/" + PartName(part_number)).c_str()) != 0)
    return ErrnoStatus("rename", file->path(), errno);
  file->Release();
  RETURN_IF_ERROR(RecordPart(dir, part, {{"ino", static_cast<uint64_t>(st.st_ino)}, {"mtime_ns", MtimeNs(st)}}));
  return part.info;
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
    // Every stored part has its record, <NNNNN>.meta.
    if (name.size() != 10 || !name.ends_with(".meta") ||
        name.find_first_not_of("0123456789") != 5) {
      continue;
    }
    uint32_t n = static_cast<uint32_t>(std::stoul(name.substr(0, 5)));
    if (n > request.part_number_marker) numbers.push_back(n);
  }
  std::sort(numbers.begin(), numbers.end());
  ListPartsResult out;
  for (uint32_t n : numbers) {
    std::optional<StoredPart> part = ReadPart(dir, n);
    if (!part) continue;
    if (out.parts.size() == request.max_parts) {
      out.truncated = true;
      break;
    }
    out.parts.push_back(part->info);
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
    if (r.ok()) all.push_back({r->key, id, r->initiated});
  }
  return PageOfUploads(std::move(all), request);
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
  std::vector<StoredPart> stored;
  uint64_t total = 0;
  for (size_t i = 1; i < parts.size(); ++i) {
    if (parts[i].part_number <= parts[i - 1].part_number) {
      return InvalidArgument(oss_error::kInvalidPartOrder,
                             "The parts must be listed in ascending order without repeats: part " +
                                 std::to_string(parts[i].part_number) + " follows part " +
                                 std::to_string(parts[i - 1].part_number) + ".");
    }
  }
  // In place when every listed part sits where the object has it.
  bool tiled = record.part_size != 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const CompletePart& p = parts[i];
    std::optional<StoredPart> part = p.part_number >= 1 && p.part_number <= kMaxPartNumber
                                         ? ReadPart(dir, p.part_number)
                                         : std::nullopt;
    if (!part || NormalizeEtag(part->info.etag) != NormalizeEtag(p.etag)) {
      return InvalidArgument(oss_error::kInvalidPart,
                             "Part " + std::to_string(p.part_number) + " with ETag " + Echo(p.etag) +
                                 (part ? " does not match the stored part (ETag " + part->info.etag + ")."
                                       : " was not uploaded."));
    }
    const uint64_t size = part->info.size;
    if (i + 1 < parts.size() && size < kMinPartBytes) {
      return InvalidArgument(
          oss_error::kEntityTooSmall,
          "Part " + std::to_string(p.part_number) + " holds " + std::to_string(size) +
              " bytes; every part but the last must hold at least " + std::to_string(kMinPartBytes) + ".");
    }
    tiled = tiled && p.part_number == i + 1 &&
            (i + 1 < parts.size() ? size == record.part_size : size <= record.part_size);
    total += size;
    md5s.push_back(part->md5);
    stored.push_back(*part);
  }
  RETURN_IF_ERROR(CheckSize(total, kMaxObjectBytes, "size of the completed object"));

  // From here on, no part writes into the data file.
  std::shared_ptr<UploadState> state = StateOf(upload_id);
  {
    std::unique_lock<std::shared_mutex> io(state->io_mu);
    state->closed = true;
  }
  auto reopen = [&] {
    std::unique_lock<std::shared_mutex> io(state->io_mu);
    state->closed = false;
  };
  Result<std::string> temp = tiled ? AssembleInPlace(b, dir, stored, record.part_size, total)
                                   : AssembleByCopy(b, dir, stored, total, "object " + bucket + "/" + key);
  if (!temp.ok()) {
    reopen();
    return temp.status();
  }
  UniqueFd fd(::openat(b.dir.get(), temp->c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    Status st = ErrnoStatus("open", b.path + "/" + *temp, errno);
    ::unlinkat(b.dir.get(), temp->c_str(), 0);
    reopen();
    return st;
  }
  uint64_t crc = 0;
  for (const StoredPart& part : stored) crc = Crc64Combine(crc, part.info.crc64, part.info.size);
  ObjectInfo info;
  info.key = key;
  info.size = total;
  info.etag = MultipartEtag(md5s);
  info.crc64 = crc;
  info.content_type = record.content_type.empty() ? "application/octet-stream" : record.content_type;
  info.user_meta = record.meta;
  info.last_modified = clock_.Now();
  info.type = ObjectType::kMultipart;
  Result<ObjectInfo> published = Publish(b, *temp, fd.get(), key, std::move(info));
  if (!published.ok()) {
    reopen();
    return published.status();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  ForgetUpload(upload_id);
  return published;
}

Status FsObjectStore::AbortMultipart(const std::string& account_id, const std::string& bucket,
                                     const std::string& key, const std::string& upload_id) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(Bucket b, OpenBucket(account_id, bucket));
  std::lock_guard<std::mutex> lock(UploadLock(upload_id));
  RETURN_IF_ERROR(ReadUpload(b.path, key, upload_id).status());
  std::shared_ptr<UploadState> state = StateOf(upload_id);
  {
    std::unique_lock<std::shared_mutex> io(state->io_mu);
    state->closed = true;
  }
  std::error_code ec;
  std::filesystem::remove_all(UploadDir(b.path, upload_id), ec);
  ForgetUpload(upload_id);
  if (ec) return ErrnoStatus("remove", UploadDir(b.path, upload_id), ec.value());
  return Status::Ok();
}

}  // namespace ferry
