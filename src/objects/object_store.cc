#include "objects/object_store.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <vector>

#include "common/log_safe.h"

namespace ferry {

const char* ObjectTypeName(ObjectType type) {
  return type == ObjectType::kMultipart ? "Multipart" : "Normal";
}

ObjectStore::~ObjectStore() { StopExpirySweeper(); }

void ObjectStore::StartExpirySweeper(const Clock& clock, int64_t max_age_seconds,
                                     std::chrono::seconds interval) {
  auto sweep = [this, &clock, max_age_seconds] {
    SweepStats s = SweepExpired(clock.Now(), max_age_seconds);
    if (s.uploads_removed + s.staging_removed > 0) {
      spdlog::info("object storage: removed {} abandoned uploads and {} unclaimed staging objects ({} bytes)",
                   s.uploads_removed, s.staging_removed, s.bytes_freed);
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

void ObjectStore::StopExpirySweeper() {
  {
    std::lock_guard<std::mutex> lock(sweeper_mu_);
    sweeper_stop_ = true;
  }
  sweeper_cv_.notify_all();
  if (sweeper_.joinable()) sweeper_.join();
}

Status ObjectWriter::WriteZeros(uint64_t count) {
  static const std::vector<uint8_t> kZeros(1 << 20, 0);
  while (count > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(count, kZeros.size()));
    RETURN_IF_ERROR(Write(std::span<const uint8_t>(kZeros.data(), n)));
    count -= n;
  }
  return Status::Ok();
}

Status ObjectStore::ValidateBucketName(const std::string& bucket) {
  bool ok = bucket.size() >= 3 && bucket.size() <= 63 && bucket.front() != '-' && bucket.back() != '-';
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
  }
  if (ok) return Status::Ok();
  return InvalidArgument(oss_error::kInvalidBucketName,
                         "The specified bucket \"" + Echo(bucket) +
                             "\" is not valid: use 3-63 characters of a-z, 0-9 and '-', not starting or "
                             "ending with '-'.");
}

Status ObjectStore::ValidateKey(const std::string& key) {
  auto malformed = [&](const std::string& why) {
    return InvalidArgument(oss_error::kInvalidObjectName,
                           "The specified object \"" + Echo(key) + "\" is not valid: " + why + ".");
  };
  if (key.empty() || key.size() > 1023) return malformed("the name must be 1-1023 bytes");
  if (key.front() == '/' || key.front() == '\\') return malformed("the name must not start with '/' or '\\'");
  // Control characters would forge log lines and break listings.
  if (!IsPrintableUtf8(key)) return malformed("the name must be UTF-8 without control characters");
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string::npos) end = key.size();
    std::string_view segment(key.data() + start, end - start);
    if (segment.empty()) return malformed("the name must not contain an empty path segment");
    if (segment.size() > 255)
      return malformed("each '/'-separated part of the name must be at most 255 bytes");
    if (segment == "." || segment == "..")
      return malformed("the name must not contain a '.' or '..' segment");
    if (segment.starts_with(".ferry") || segment.starts_with(".uploads"))
      return malformed("names starting with \".ferry\" or \".uploads\" are reserved");
    start = end + 1;
  }
  return Status::Ok();
}

Status ObjectStore::CheckSize(uint64_t bytes, uint64_t limit, const std::string& what) {
  if (bytes <= limit) return Status::Ok();
  if (limit == kMaxObjectBytes) {
    return InvalidArgument(oss_error::kEntityTooLarge, "The specified " + what + " " + std::to_string(bytes) +
                                                           " exceeds the maximum object size of " +
                                                           std::to_string(limit) + " bytes (48.8 TiB).");
  }
  return InvalidArgument(oss_error::kEntityTooLarge, "The " + what + " " + std::to_string(bytes) +
                                                         " exceeds the limit of " + std::to_string(limit) +
                                                         " bytes.");
}

Status ObjectStore::ValidatePutOptions(const PutOptions& options) {
  if (options.content_type.size() > 256 || !IsPrintableUtf8(options.content_type)) {
    return InvalidArgument(oss_error::kInvalidArgument,
                           "The Content-Type \"" + Echo(options.content_type) +
                               "\" is not valid: at most 256 printable characters.");
  }
  size_t total = 0;
  for (const auto& [name, value] : options.user_meta) {
    total += name.size() + value.size();
    bool name_ok = !name.empty();
    for (char c : name) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
        name_ok = false;
    }
    if (!name_ok || !IsPrintableUtf8(value)) {
      return InvalidArgument(oss_error::kInvalidArgument,
                             "The user metadata x-oss-meta-" + Echo(name) +
                                 " is not valid: names are a-z, 0-9, '-', '_', '.'; values printable.");
    }
  }
  if (total > kMaxUserMetaBytes) {
    return InvalidArgument(oss_error::kInvalidArgument, "The user metadata holds " + std::to_string(total) +
                                                            " bytes, more than the " +
                                                            std::to_string(kMaxUserMetaBytes) + " allowed.");
  }
  if (options.known_digests) {
    if (options.expected_md5) {
      return InvalidArgument(oss_error::kInvalidArgument,
                             "A Content-MD5 cannot be checked against known digests.");
    }
    // "<32 upper hex>-<parts>" in quotes; it becomes a header.
    const std::string& etag = options.known_digests->etag;
    bool ok = etag.size() >= 36 && etag.size() <= 44 && etag.front() == '"' && etag.back() == '"' &&
              etag[33] == '-';
    for (size_t i = 1; ok && i + 1 < etag.size(); ++i) {
      const char c = etag[i];
      ok = i == 33 || (c >= '0' && c <= '9') || (i < 33 && c >= 'A' && c <= 'F');
    }
    if (!ok)
      return InvalidArgument(oss_error::kInvalidArgument,
                             "The ETag " + Echo(etag) + " is not multipart-shaped.");
  }
  return Status::Ok();
}

Status ObjectStore::DeleteObjects(const std::string& account_id, const std::string& bucket,
                                  const std::vector<std::string>& keys) {
  for (const std::string& key : keys) RETURN_IF_ERROR(DeleteObject(account_id, bucket, key));
  return Status::Ok();
}

uint64_t ObjectStore::AddUsageSource(UsageSource source) {
  std::unique_lock<std::shared_mutex> lock(sources_mu_);
  uint64_t id = next_source_id_++;
  sources_.emplace(id, std::move(source));
  return id;
}

void ObjectStore::RemoveUsageSource(uint64_t id) {
  std::unique_lock<std::shared_mutex> lock(sources_mu_);
  sources_.erase(id);
}

Result<uint64_t> ObjectStore::AccountStoredBytes(const std::string& account_id) const {
  ASSIGN_OR_RETURN(uint64_t total, AccountObjectBytes(account_id));
  // Held (shared) while the sources run, so a region removing its source
  // on close waits for calls into it to end.
  std::shared_lock<std::shared_mutex> lock(sources_mu_);
  for (const auto& entry : sources_) {
    ASSIGN_OR_RETURN(uint64_t bytes, entry.second(account_id));
    total += bytes;
  }
  return total;
}

Result<OpenObject> ObjectStore::OpenRangeForRead(const std::string& account_id, const std::string& bucket,
                                                 const std::string& key, const RangePicker& pick) const {
  ASSIGN_OR_RETURN(OpenObject object, OpenForRead(account_id, bucket, key));
  RETURN_IF_ERROR(pick(object.info).status());
  return object;
}

Result<uint64_t> ObjectStore::ObjectStoredBytes(const std::string& account_id, const std::string& bucket,
                                                const std::string& key) const {
  ASSIGN_OR_RETURN(OpenObject object, OpenForRead(account_id, bucket, key));
  struct stat st {};
  if (::fstat(object.fd.get(), &st) != 0) return ErrnoStatus("stat", bucket + "/" + key, errno);
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

ListUploadsResult PageOfUploads(std::vector<MultipartUpload> uploads, const ListUploadsRequest& request) {
  std::erase_if(uploads, [&](const MultipartUpload& u) {
    if (!u.key.starts_with(request.prefix)) return true;
    const bool after =
        u.key > request.key_marker || (u.key == request.key_marker && !request.upload_id_marker.empty() &&
                                       u.upload_id > request.upload_id_marker);
    return !request.key_marker.empty() && !after;
  });
  std::sort(uploads.begin(), uploads.end(), [](const MultipartUpload& a, const MultipartUpload& c) {
    return a.key != c.key ? a.key < c.key : a.upload_id < c.upload_id;
  });
  ListUploadsResult out;
  uint32_t count = 0;
  for (const MultipartUpload& u : uploads) {
    std::string common;
    if (!request.delimiter.empty()) {
      const size_t at = u.key.find(request.delimiter, request.prefix.size());
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

Status CopyFileToWriter(int fd, uint64_t length, ObjectWriter& writer, const std::string& label) {
  return CopyFileRangeToWriter(fd, 0, length, writer, label);
}

Status CopyFileRangeToWriter(int fd, uint64_t offset, uint64_t count, ObjectWriter& writer,
                             const std::string& label) {
  std::vector<uint8_t> buf(static_cast<size_t>(std::min<uint64_t>(count, 1 << 20)));
  const uint64_t length = offset + count;
  uint64_t pos = offset;
  while (pos < length) {
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    uint64_t data_at = length;
    if (data >= 0) {
      data_at = std::min<uint64_t>(static_cast<uint64_t>(data), length);
    } else if (errno != ENXIO) {
      data_at = pos;  // no SEEK_DATA here: read everything
    }
    if (data_at > pos) {
      RETURN_IF_ERROR(writer.WriteZeros(data_at - pos));
      pos = data_at;
      continue;
    }
    off_t hole = ::lseek(fd, static_cast<off_t>(pos), SEEK_HOLE);
    uint64_t end = hole >= 0 ? std::min<uint64_t>(static_cast<uint64_t>(hole), length) : length;
    if (end <= pos) end = length;
    while (pos < end) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(end - pos, buf.size()));
      RETURN_IF_ERROR(PreadFull(fd, buf.data(), n, pos, label));
      RETURN_IF_ERROR(writer.Write(std::span<const uint8_t>(buf.data(), n)));
      pos += n;
    }
  }
  return Status::Ok();
}

Md5Digest Md5OfZeros(uint64_t count) {
  static std::mutex mu;
  static std::map<uint64_t, Md5Digest> recent;  // guarded by mu; at most kRemembered
  constexpr size_t kRemembered = 32;            // PutFileParts uses about a dozen hole sizes
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = recent.find(count); it != recent.end()) return it->second;
  }
  static const std::vector<uint8_t> kZeros(1 << 20, 0);
  Md5 md5;
  for (uint64_t left = count; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kZeros.size()));
    md5.Update(std::span<const uint8_t>(kZeros.data(), n));
    left -= n;
  }
  const Md5Digest digest = md5.Finish();
  std::lock_guard<std::mutex> lock(mu);
  if (recent.size() >= kRemembered) recent.erase(recent.begin());
  recent.emplace(count, digest);
  return digest;
}

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kMaxParts = 10000;

// [start, end) ranges of the file that may hold data, ascending; the whole
// file when the file system cannot tell holes apart.
Result<std::vector<std::pair<uint64_t, uint64_t>>> DataRanges(int fd, uint64_t size) {
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (uint64_t pos = 0; pos < size;) {
    const off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0 && errno == ENXIO) break;
    if (data < 0) {
      if (errno == EINVAL || errno == EOPNOTSUPP)
        return std::vector<std::pair<uint64_t, uint64_t>>{{0, size}};
      return ErrnoStatus("lseek(SEEK_DATA)", "fd " + std::to_string(fd), errno);
    }
    const off_t hole = ::lseek(fd, data, SEEK_HOLE);
    if (hole < 0) return ErrnoStatus("lseek(SEEK_HOLE)", "fd " + std::to_string(fd), errno);
    const uint64_t start = static_cast<uint64_t>(data);
    const uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(hole), size);
    if (start >= end) break;  // the file shrank under us
    ranges.emplace_back(start, end);
    pos = end;
  }
  return ranges;
}

// Hole parts covering [pos, end): parts of `big` (a power-of-two number of
// MiB) while they fit, then halves down to 1 MiB, then any rest under a MiB
// (only ever at the end of the file).
void AddHoleParts(uint64_t pos, uint64_t end, uint64_t big, std::vector<FilePart>& parts) {
  for (; end - pos >= big; pos += big) parts.push_back({pos, big, true});
  for (uint64_t piece = big / 2; piece >= kMiB; piece /= 2) {
    if (end - pos < piece) continue;
    parts.push_back({pos, piece, true});
    pos += piece;
  }
  if (end > pos) parts.push_back({pos, end - pos, true});
}

// The layout of PutFileParts for one grain; may exceed kMaxParts.
std::vector<FilePart> LayoutParts(const std::vector<std::pair<uint64_t, uint64_t>>& ranges, uint64_t size,
                                  uint64_t grain, uint64_t big, uint64_t max_data) {
  std::vector<FilePart> parts;
  uint64_t pos = 0;  // everything before is in parts
  size_t k = 0;
  while (k < ranges.size() && parts.size() <= kMaxParts) {
    const uint64_t start = std::max(pos, ranges[k].first / grain * grain);
    uint64_t end = std::min(size, (ranges[k].second + grain - 1) / grain * grain);
    // Ranges meeting in the same grain make one run of data.
    for (++k; k < ranges.size() && ranges[k].first / grain * grain <= end; ++k) {
      end = std::max(end, std::min(size, (ranges[k].second + grain - 1) / grain * grain));
    }
    if (start > pos) AddHoleParts(pos, start, big, parts);
    for (uint64_t at = start; at < end; at += max_data)
      parts.push_back({at, std::min(max_data, end - at), false});
    pos = end;
  }
  if (pos < size) AddHoleParts(pos, size, big, parts);
  return parts;
}

}  // namespace

uint64_t PutFilePartBytes(uint64_t size) {
  const uint64_t spread = (size + kMaxParts - 1) / kMaxParts;
  return std::max<uint64_t>(8 * kMiB, (spread + kMiB - 1) / kMiB * kMiB);
}

Result<std::vector<FilePart>> PutFileParts(int fd, uint64_t size) {
  if (size == 0) return std::vector<FilePart>{FilePart{0, 0, true}};
  ASSIGN_OR_RETURN(auto ranges, DataRanges(fd, size));
  const uint64_t uniform = PutFilePartBytes(size);
  // Hole parts of up to twice the uniform size leave room under kMaxParts
  // for the data parts and the smaller hole parts between them.
  uint64_t big = kMiB;
  while (big < 2 * uniform) big *= 2;
  const bool sparse = !(ranges.size() == 1 && ranges[0].first == 0 && ranges[0].second == size);
  if (sparse && big <= 1024 * kMiB) {
    for (uint64_t grain = kMiB; grain < uniform; grain *= 2) {
      std::vector<FilePart> parts = LayoutParts(ranges, size, grain, big, uniform);
      if (parts.size() <= kMaxParts) return parts;
    }
  }
  std::vector<FilePart> parts;
  size_t k = 0;
  for (uint64_t at = 0; at < size; at += uniform) {
    const uint64_t end = std::min(size, at + uniform);
    while (k < ranges.size() && ranges[k].second <= at) ++k;
    parts.push_back({at, end - at, k == ranges.size() || ranges[k].first >= end});
  }
  return parts;
}

std::string MultipartEtag(const std::vector<Md5Digest>& part_md5s) {
  Md5 md5;
  for (const Md5Digest& d : part_md5s) md5.Update(d);
  return OpaqueMultipartEtag(md5.Finish(), part_md5s.size());
}

std::string OpaqueMultipartEtag(const std::array<uint8_t, 16>& digest, uint64_t parts) {
  return "\"" + ToUpperHex(digest) + "-" + std::to_string(parts) + "\"";
}

}  // namespace ferry
