// FsObjectStore giving resources back: staging objects, the expiry sweep of
// abandoned uploads, and what an account stores.
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "objects/fs_internal.h"

namespace ferry {

using namespace fsobj;  // NOLINT: this file is the backend the helpers serve

namespace {

// Bucket folders under `root`: real directories (not links) with a valid
// bucket name, so the staging folders of new buckets are left alone.
std::vector<std::string> BucketNames(const std::string& root) {
  std::vector<std::string> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!ObjectStore::ValidateBucketName(name).ok()) continue;
    struct stat st {};
    if (::lstat((root + "/" + name).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) out.push_back(name);
  }
  return out;
}

// Marker file: the key, then one claiming task id per line.
struct StagingMarker {
  std::string key;
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
      m.key = line;
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
  std::string text = m.key + "\n";
  for (const std::string& c : m.claims) text += c + "\n";
  return WriteFileAtomic(path, text, 0600);
}

// The newest mtime of `path` and, for a folder, of what it holds.
int64_t NewestMtime(const std::string& path, const struct stat& st) {
  int64_t newest = st.st_mtime;
  if (!S_ISDIR(st.st_mode)) return newest;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat sub {};
    if (::lstat(it->path().c_str(), &sub) == 0) newest = std::max<int64_t>(newest, sub.st_mtime);
  }
  return newest;
}

uint64_t TreeAllocatedBytes(const std::string& path) {
  uint64_t total = 0;
  std::error_code ec;
  for (std::filesystem::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += AllocatedBytes(st);
  }
  return total;
}

}  // namespace

std::string FsObjectStore::StagingMarkerPath(const std::string& bucket, const std::string& key) const {
  return root_ + "/" + bucket + "/" + kStagingDir + "/" + KeyHash(key);
}

Status FsObjectStore::SetStaging(const std::string& account_id, const std::string& bucket,
                                 const std::string& key, bool staging) {
  RETURN_IF_ERROR(HeadObject(account_id, bucket, key).status());
  std::lock_guard<std::mutex> lock(staging_mu_);
  std::string marker = StagingMarkerPath(bucket, key);
  if (!staging) {
    if (::unlink(marker.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", marker, errno);
    return Status::Ok();
  }
  RETURN_IF_ERROR(MakeDirs(root_ + "/" + bucket + "/" + kStagingDir));
  // A re-upload of a staging object keeps the claims of imports still
  // reading the name.
  StagingMarker m;
  if (std::optional<StagingMarker> old = ReadMarker(marker); old && old->key == key) m = *old;
  m.key = key;
  return WriteMarker(marker, m);
}

Status FsObjectStore::ClaimStaging(const std::string& account_id, const std::string& bucket,
                                   const std::string& key, const std::string& task_id) {
  RETURN_IF_ERROR(OpenBucket(account_id, bucket).status());
  std::lock_guard<std::mutex> lock(staging_mu_);
  std::string marker = StagingMarkerPath(bucket, key);
  std::optional<StagingMarker> m = ReadMarker(marker);
  if (!m || m->key != key) return Status::Ok();
  if (std::find(m->claims.begin(), m->claims.end(), task_id) != m->claims.end()) return Status::Ok();
  m->claims.push_back(task_id);
  return WriteMarker(marker, *m);
}

bool FsObjectStore::IsStaging(const std::string& bucket, const std::string& key) const {
  if (!ValidateBucketName(bucket).ok() || !ValidateKey(key).ok()) return false;
  std::lock_guard<std::mutex> lock(staging_mu_);
  std::optional<StagingMarker> m = ReadMarker(StagingMarkerPath(bucket, key));
  return m && m->key == key;
}

Status FsObjectStore::ReleaseStaging(const std::string& bucket, const std::string& key,
                                     const std::string& task_id) {
  RETURN_IF_ERROR(ValidateBucketName(bucket));
  RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard<std::mutex> lock(staging_mu_);
  std::string marker = StagingMarkerPath(bucket, key);
  std::optional<StagingMarker> m = ReadMarker(marker);
  if (!m || m->key != key) return Status::Ok();
  auto it = std::find(m->claims.begin(), m->claims.end(), task_id);
  if (it == m->claims.end()) return Status::Ok();
  m->claims.erase(it);
  if (!m->claims.empty()) return WriteMarker(marker, *m);
  // The bucket's owner is whoever it is: the claim is the authority here.
  Bucket b;
  b.name = bucket;
  b.path = root_ + "/" + bucket;
  b.dir = UniqueFd(::open(b.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (b.dir.valid()) RETURN_IF_ERROR(RemoveObject(b, key));
  if (::unlink(marker.c_str()) != 0 && errno != ENOENT) return ErrnoStatus("unlink", marker, errno);
  return Status::Ok();
}

std::vector<StagingClaim> FsObjectStore::ListStagingClaims() const {
  std::vector<StagingClaim> out;
  std::lock_guard<std::mutex> lock(staging_mu_);
  for (const std::string& bucket : BucketNames(root_)) {
    std::error_code ec;
    std::string dir = root_ + "/" + bucket + "/" + kStagingDir;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      std::optional<StagingMarker> m = ReadMarker(it->path().string());
      if (!m) continue;
      for (const std::string& c : m->claims) out.push_back({bucket, m->key, c});
    }
  }
  return out;
}

SweepStats FsObjectStore::SweepExpired(UnixSeconds now, int64_t max_age_seconds) {
  SweepStats stats;
  const int64_t cutoff = now - max_age_seconds;
  for (const std::string& bucket : BucketNames(root_)) {
    std::error_code ec;
    const std::string uploads = root_ + "/" + bucket + "/" + kUploadsDir;
    for (std::filesystem::directory_iterator it(uploads, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string path = it->path().string();
      const std::string name = it->path().filename().string();
      struct stat st {};
      if (::lstat(path.c_str(), &st) != 0) continue;
      if (S_ISREG(st.st_mode)) {
        if (st.st_mtime >= cutoff) continue;
        if (::unlink(path.c_str()) == 0) {
          stats.uploads_removed++;
          stats.bytes_freed += AllocatedBytes(st);
        }
      } else if (S_ISDIR(st.st_mode) && name.rfind(kMultipartPrefix, 0) == 0) {
        // Untouched by any part for the whole expiry: abandoned.
        const std::string upload_id = name.substr(std::strlen(kMultipartPrefix));
        std::lock_guard<std::mutex> lock(UploadLock(upload_id));
        if (NewestMtime(path, st) >= cutoff) continue;
        ForgetUpload(upload_id);
        uint64_t bytes = TreeAllocatedBytes(path);
        std::error_code rm;
        std::filesystem::remove_all(path, rm);
        if (!rm) {
          stats.uploads_removed++;
          stats.bytes_freed += bytes;
        }
      }
    }
    std::lock_guard<std::mutex> lock(staging_mu_);
    const std::string staging = root_ + "/" + bucket + "/" + kStagingDir;
    for (std::filesystem::directory_iterator it(staging, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string marker = it->path().string();
      struct stat st {};
      if (::lstat(marker.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_mtime >= cutoff) continue;
      std::optional<StagingMarker> m = ReadMarker(marker);
      if (m && !m->claims.empty()) continue;  // an import still reads it
      if (m && ValidateKey(m->key).ok()) {
        Bucket b;
        b.name = bucket;
        b.path = root_ + "/" + bucket;
        b.dir = UniqueFd(::open(b.path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        UniqueFd object(b.dir.valid() ? OpenBeneath(b.dir.get(), m->key,
                                                    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
                                      : -1);
        struct stat ost {};
        if (object.valid() && ::fstat(object.get(), &ost) == 0 && S_ISREG(ost.st_mode) &&
            RemoveObject(b, m->key).ok()) {
          stats.staging_removed++;
          stats.bytes_freed += AllocatedBytes(ost);
        }
      }
      ::unlink(marker.c_str());
    }
  }
  return stats;
}

Result<uint64_t> FsObjectStore::AccountObjectBytes(const std::string& account_id) const {
  uint64_t total = 0;
  for (const std::string& bucket : BucketNames(root_)) {
    if (!OpenBucket(account_id, bucket).ok()) continue;
    std::error_code ec;
    std::filesystem::recursive_directory_iterator it(root_ + "/" + bucket, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (it.depth() == 0 && (name == kOwnerFile || name == kStagingDir || name == kMetaDir)) {
        if (name != kOwnerFile) it.disable_recursion_pending();
        continue;
      }
      struct stat st {};
      if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      total += AllocatedBytes(st);
    }
  }
  return total;
}

}  // namespace ferry
