#include "region/disks/disk_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/catch_all.h"
#include "common/hash.h"
#include "common/ids.h"
#include "region/disks/disk_layout.h"
#include "region/disks/qcow2_header.h"
#include "region/disks/overlay_snapshot.h"
#include "region/disks/qcow2_map.h"
#include "region/disks/qemu_disk.h"

namespace ferry {
namespace {

// Chunks are read (decompressed, verified) and written by two threads: one
// core each on the build machines.
constexpr unsigned kMaterializeThreads = 2;

// Opens `name` (one path component: no '/') beneath `dir_fd` without
// following a symlink; openat2 where the kernel has it, else openat with
// O_NOFOLLOW, which is the same for a single component.
int OpenBeneath(int dir_fd, const std::string& name, int flags, mode_t mode = 0) {
  assert(name.find('/') == std::string::npos && name != "." && name != "..");
  open_how how{};
  how.flags = static_cast<uint64_t>(flags | O_NOFOLLOW);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, dir_fd, name.c_str(), &how, sizeof(how));
  if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return static_cast<int>(fd);
  return ::openat(dir_fd, name.c_str(), flags | O_NOFOLLOW, mode);
}

int FlockRetry(int fd, int op) {
  int rc;
  do {
    rc = ::flock(fd, op);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

bool IsCancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

Status CheckDiskId(const std::string& id) {
  if (!IsValidDiskId(id))
    return InvalidArgument("InvalidDiskId.Malformed", "\"" + id + "\" is not a disk id");
  return Status::Ok();
}

Status CheckBaseKey(const std::string& key) {
  if (!IsValidBaseKey(key)) return InvalidArgument("", "\"" + key + "\" is not a base key");
  return Status::Ok();
}

Status CheckDiskSize(const std::string& id, uint64_t size, uint64_t base_size) {
  if (size == 0 || size % kDiskSectorBytes != 0 || size > kMaxDiskBytes) {
    return InvalidArgument("", "disk " + id + ": size " + std::to_string(size) +
                                   " bytes is not a positive multiple of 512 up to " +
                                   std::to_string(kMaxDiskBytes));
  }
  if (size < base_size) {
    return InvalidArgument("", "disk " + id + ": size " + std::to_string(size) +
                                   " bytes is smaller than its image (" + std::to_string(base_size) +
                                   " bytes)");
  }
  return Status::Ok();
}

// Writes the non-zero 4 KiB blocks of `data` at `offset` of `fd`; zero blocks
// are skipped, so they stay holes of a freshly truncated file (as qemu-img's
// -S 4k): free space inside a chunk of a file-system image costs nothing.
Status WriteNonZeroBlocks(int fd, const uint8_t* data, uint64_t len, uint64_t offset,
                          const std::string& label) {
  constexpr uint64_t kBlock = 4096;
  static const uint8_t kZeros[kBlock] = {};
  auto zero = [&](uint64_t at) { return std::memcmp(data + at, kZeros, std::min(kBlock, len - at)) == 0; };
  uint64_t at = 0;
  while (at < len) {
    while (at < len && zero(at)) at += kBlock;
    uint64_t end = at;
    while (end < len && !zero(end)) end += kBlock;
    end = std::min(end, len);
    if (end > at) RETURN_IF_ERROR(PwriteFull(fd, data + at, end - at, offset + at, label));
    at = end;
  }
  return Status::Ok();
}

// Reads every data chunk of `m` from `store` (verified by Get) and writes its
// non-zero blocks at its offset of `fd`; holes are not touched.
Status WriteChunks(const Manifest& m, ChunkStore& store, int fd, const std::string& label,
                   const std::atomic<bool>* cancel) {
  std::vector<std::pair<uint64_t, const ChunkEntry*>> data;
  m.ForEachData([&](uint64_t index, const ChunkEntry& e) { data.emplace_back(index, &e); });
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  Status first_error;  // guarded by mu
  auto fail = [&](Status st) {
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.ok()) first_error = std::move(st);
    failed = true;
  };
  auto work = [&]() -> Status {
    while (!failed.load()) {
      const size_t k = next.fetch_add(1);
      if (k >= data.size()) break;
      const uint64_t index = data[k].first;
      const ChunkEntry& e = *data[k].second;
      const uint64_t offset = index * uint64_t{m.chunk_size};
      const std::string where = label + " chunk " + std::to_string(index) + " at offset " +
                                std::to_string(offset) + " id " + ToHex(e.id);
      if (IsCancelled(cancel)) return Cancelled(label + " cancelled before chunk " + std::to_string(index));
      Result<std::vector<uint8_t>> bytes = store.Get(e.id);
      if (!bytes.ok()) return bytes.status().WithContext(where);
      if (bytes->size() != e.length) {
        return DataLoss(where + ": chunk holds " + std::to_string(bytes->size()) + " bytes, manifest says " +
                        std::to_string(e.length));
      }
      RETURN_IF_ERROR(WriteNonZeroBlocks(fd, bytes->data(), bytes->size(), offset, label));
    }
    return Status::Ok();
  };
  auto guarded = [&] {
    Status st = CatchAll("materialize " + label, work);
    if (!st.ok()) fail(std::move(st));
  };
  std::vector<std::thread> helpers;
  for (unsigned i = 1; i < kMaterializeThreads; ++i) {
    try {
      helpers.emplace_back(guarded);
    } catch (const std::system_error&) {
      break;  // the calling thread still does all the work
    }
  }
  guarded();
  for (std::thread& t : helpers) t.join();
  std::lock_guard<std::mutex> lock(mu);
  return first_error;
}

}  // namespace

// An flock on locks/<key>.lock, released when destroyed.
class DiskStore::BaseLock {
 public:
  explicit BaseLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;  // closing it releases the flock
};

// A file in tmp/, exclusively flocked while it lives (so cleanup at Open and
// fsck know a live writer holds it), unlinked when destroyed unless
// published.
struct DiskStore::TempFile {
  TempFile(int dir, std::string n, UniqueFd f) : dir_fd(dir), name(std::move(n)), fd(std::move(f)) {}
  TempFile(TempFile&& o) noexcept : dir_fd(o.dir_fd), name(std::move(o.name)), fd(std::move(o.fd)) {
    o.dir_fd = -1;
  }
  TempFile& operator=(TempFile&&) = delete;
  ~TempFile() {
    if (dir_fd >= 0) ::unlinkat(dir_fd, name.c_str(), 0);  // before fd closes and drops the flock
  }
  void Published() { dir_fd = -1; }

  int dir_fd;
  std::string name;
  UniqueFd fd;
};

struct DiskStore::OpenDisk {
  std::string disk_id;
  UniqueFd fd;
  Qcow2Header header;
  std::optional<std::string> base_key;
};

DiskStore::DiskStore(std::string root, UniqueFd root_fd, UniqueFd bases, UniqueFd disks, UniqueFd tmp,
                     UniqueFd locks)
    : root_(std::move(root)),
      root_fd_(std::move(root_fd)),
      bases_fd_(std::move(bases)),
      disks_fd_(std::move(disks)),
      tmp_fd_(std::move(tmp)),
      locks_fd_(std::move(locks)) {}

DiskStore::~DiskStore() = default;

Result<std::unique_ptr<DiskStore>> DiskStore::Open(const std::string& root, bool check_only) {
  if (!check_only) RETURN_IF_ERROR(MakeDirs(root, 0700));
  std::error_code ec;
  const std::string abs = std::filesystem::canonical(root, ec).string();
  if (ec && check_only && ec == std::errc::no_such_file_or_directory) {
    return NotFound("", "disks root " + root + " does not exist");
  }
  if (ec) return Internal("disks root " + root + ": " + ec.message());
  UniqueFd root_fd(::open(abs.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root_fd.valid()) return ErrnoStatus("open", abs, errno);
  UniqueFd dirs[4];
  const char* names[4] = {kBasesDir, kDisksDir, kTmpDir, kLocksDir};
  for (int i = 0; i < 4; ++i) {
    if (!check_only && ::mkdirat(root_fd.get(), names[i], 0700) != 0 && errno != EEXIST)
      return ErrnoStatus("mkdir", abs + "/" + names[i], errno);
    dirs[i] = UniqueFd(OpenBeneath(root_fd.get(), names[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dirs[i].valid()) return ErrnoStatus("open", abs + "/" + names[i], errno);
  }
  if (!check_only) RETURN_IF_ERROR(FsyncDir(abs));
  std::unique_ptr<DiskStore> store(new DiskStore(abs, std::move(root_fd), std::move(dirs[0]),
                                                 std::move(dirs[1]), std::move(dirs[2]), std::move(dirs[3])));
  if (!check_only) RETURN_IF_ERROR(store->RemoveLeftoverTemps());
  return store;
}

// ---- Locks and temps ----

Result<DiskStore::BaseLock> DiskStore::LockBase(const std::string& key, bool exclusive, bool wait) {
  const std::string name = LockFileName(key);
  for (;;) {
    UniqueFd fd(OpenBeneath(locks_fd_.get(), name, O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoStatus("open", root_ + "/" + kLocksDir + "/" + name, errno);
    if (FlockRetry(fd.get(), (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB)) != 0) {
      if (errno == EWOULDBLOCK) return Unavailable("base " + key + " is in use");
      return ErrnoStatus("flock", root_ + "/" + kLocksDir + "/" + name, errno);
    }
    // GC unlinks a lock file while holding it: a lock taken on an unlinked
    // file guards nothing, so take the one that is there now.
    struct stat held {
    }, now{};
    if (::fstat(fd.get(), &held) != 0) return ErrnoStatus("stat", name, errno);
    if (::fstatat(locks_fd_.get(), name.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
        now.st_ino == held.st_ino && now.st_dev == held.st_dev) {
      return BaseLock(std::move(fd));
    }
  }
}

Result<DiskStore::TempFile> DiskStore::CreateTemp(const std::string& stem) {
  std::string name = stem + "." + RandomHex(8);
  UniqueFd fd(OpenBeneath(tmp_fd_.get(), name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("create", root_ + "/" + kTmpDir + "/" + name, errno);
  TempFile temp(tmp_fd_.get(), name, std::move(fd));
  if (FlockRetry(temp.fd.get(), LOCK_EX | LOCK_NB) != 0) return ErrnoStatus("flock", name, errno);
  return temp;
}

namespace {

// Temps in tmp/ that no live writer holds (their flock is free). Each one
// found is returned with its descriptor still locked.
Result<std::vector<std::string>> FindLeftovers(int tmp_fd, const std::vector<std::string>& names,
                                               std::vector<UniqueFd>* held) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    UniqueFd fd(OpenBeneath(tmp_fd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd.valid()) {
      if (errno == ENOENT) continue;  // its writer finished meanwhile
      out.push_back(name);            // a symlink or worse: nothing Ferry writes
      continue;
    }
    if (FlockRetry(fd.get(), LOCK_EX | LOCK_NB) != 0) continue;  // a writer is alive
    out.push_back(name);
    held->push_back(std::move(fd));
  }
  return out;
}

}  // namespace

Status DiskStore::RemoveLeftoverTemps() {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(tmp_fd_.get()));
  std::vector<UniqueFd> held;
  ASSIGN_OR_RETURN(std::vector<std::string> leftovers, FindLeftovers(tmp_fd_.get(), names, &held));
  for (const std::string& name : leftovers) {
    if (::unlinkat(tmp_fd_.get(), name.c_str(), 0) != 0 && errno != ENOENT)
      return ErrnoStatus("unlink", root_ + "/" + kTmpDir + "/" + name, errno);
  }
  return Status::Ok();
}

Result<std::vector<std::string>> DiskStore::ListDir(int dir_fd) {
  // A descriptor of its own: readdir moves the offset, which dup would share.
  int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", root_, errno);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(fd);
    return ErrnoStatus("opendir", root_, err);
  }
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(std::move(n));
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoStatus("readdir", root_, err);
  std::sort(names.begin(), names.end());
  return names;
}

// ---- Bases ----

Result<BaseInfo> DiskStore::EnsureBase(const Manifest& m, ChunkStore& store,
                                       const std::atomic<bool>* cancel) {
  RETURN_IF_ERROR(m.Validate().WithContext("base for disks"));
  const std::string key = BaseKeyFor(m);
  ASSIGN_OR_RETURN(BaseLock lock, LockBase(key, /*exclusive=*/true, /*wait=*/true));
  return EnsureBaseLocked(key, m, store, cancel);
}

Result<uint64_t> DiskStore::BaseSizeLocked(const std::string& key) {
  const std::string name = BaseFileName(key);
  UniqueFd fd(OpenBeneath(bases_fd_.get(), name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) {
    if (errno == ENOENT) return NotFound("", "base " + key + " does not exist");
    return ErrnoStatus("open", root_ + "/" + kBasesDir + "/" + name, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", name, errno);
  if (!S_ISREG(st.st_mode)) return DataLoss("base " + key + " is not a regular file");
  return static_cast<uint64_t>(st.st_size);
}

Result<BaseInfo> DiskStore::EnsureBaseLocked(const std::string& key, const Manifest& m, ChunkStore& store,
                                             const std::atomic<bool>* cancel) {
  Result<uint64_t> existing = BaseSizeLocked(key);
  if (existing.ok()) {
    // The key covers the size, so another size means the file was damaged.
    if (*existing != m.logical_size) {
      return DataLoss("base " + key + " holds " + std::to_string(*existing) + " bytes, its image " +
                      std::to_string(m.logical_size));
    }
    return BaseInfo{key, m.logical_size, false};
  }
  if (existing.status().code() != Code::kNotFound) return existing.status();

  const std::string label = "base " + key;
  ASSIGN_OR_RETURN(TempFile temp, CreateTemp("base-" + key));
  if (::ftruncate(temp.fd.get(), static_cast<off_t>(m.logical_size)) != 0)
    return ErrnoStatus("truncate", label + " to " + std::to_string(m.logical_size), errno);
  RETURN_IF_ERROR(WriteChunks(m, store, temp.fd.get(), label, cancel));
  if (IsCancelled(cancel)) return Cancelled(label + " cancelled");
  if (::fsync(temp.fd.get()) != 0) return ErrnoStatus("fsync", label, errno);
  if (::fchmod(temp.fd.get(), 0444) != 0) return ErrnoStatus("chmod", label, errno);
  if (::renameat2(tmp_fd_.get(), temp.name.c_str(), bases_fd_.get(), BaseFileName(key).c_str(),
                  RENAME_NOREPLACE) != 0) {
    return ErrnoStatus("rename", label + " into " + kBasesDir, errno);
  }
  temp.Published();
  if (::fsync(bases_fd_.get()) != 0) return ErrnoStatus("fsync", root_ + "/" + kBasesDir, errno);
  return BaseInfo{key, m.logical_size, true};
}

Result<bool> DiskStore::HasBase(const std::string& key) {
  RETURN_IF_ERROR(CheckBaseKey(key));
  Result<uint64_t> size = BaseSizeLocked(key);  // one open: no lock needed to look
  if (size.ok()) return true;
  if (size.status().code() == Code::kNotFound) return false;
  return size.status();
}

Result<std::vector<std::string>> DiskStore::ListBases() {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(bases_fd_.get()));
  std::vector<std::string> keys;
  for (const std::string& n : names) {
    if (auto key = StemOf(n, kBaseSuffix, &IsValidBaseKey)) keys.push_back(*key);
  }
  return keys;
}

// ---- Disks ----

Result<DiskInfo> DiskStore::CreateDiskFromImage(const std::string& disk_id, const Manifest& m,
                                                ChunkStore& store, uint64_t size_bytes,
                                                const std::atomic<bool>* cancel) {
  RETURN_IF_ERROR(CheckDiskId(disk_id));
  RETURN_IF_ERROR(CheckDiskSize(disk_id, size_bytes, m.logical_size));
  RETURN_IF_ERROR(m.Validate().WithContext("image of disk " + disk_id));
  const std::string key = BaseKeyFor(m);
  ASSIGN_OR_RETURN(BaseLock lock, LockBase(key, /*exclusive=*/true, /*wait=*/true));
  ASSIGN_OR_RETURN(BaseInfo base, EnsureBaseLocked(key, m, store, cancel));
  return CreateDiskLocked(disk_id, key, base.size, size_bytes, cancel);
}

Result<DiskInfo> DiskStore::CreateDiskOnBase(const std::string& disk_id, const std::string& base_key,
                                             uint64_t size_bytes, const std::atomic<bool>* cancel) {
  RETURN_IF_ERROR(CheckDiskId(disk_id));
  RETURN_IF_ERROR(CheckBaseKey(base_key));
  ASSIGN_OR_RETURN(BaseLock lock, LockBase(base_key, /*exclusive=*/true, /*wait=*/true));
  ASSIGN_OR_RETURN(uint64_t base_size, BaseSizeLocked(base_key));
  return CreateDiskLocked(disk_id, base_key, base_size, size_bytes, cancel);
}

Result<DiskInfo> DiskStore::CreateEmptyDisk(const std::string& disk_id, uint64_t size_bytes,
                                            const std::atomic<bool>* cancel) {
  RETURN_IF_ERROR(CheckDiskId(disk_id));
  return CreateDiskLocked(disk_id, std::nullopt, 0, size_bytes, cancel);
}

Result<DiskInfo> DiskStore::CreateDiskLocked(const std::string& disk_id,
                                             const std::optional<std::string>& base_key, uint64_t base_size,
                                             uint64_t size_bytes, const std::atomic<bool>* cancel) {
  RETURN_IF_ERROR(CheckDiskSize(disk_id, size_bytes, base_size));
  const std::string name = DiskFileName(disk_id);
  struct stat st {};
  if (::fstatat(disks_fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
    return AlreadyExists("", "disk " + disk_id + " already exists");
  ASSIGN_OR_RETURN(TempFile temp, CreateTemp("disk-" + disk_id));
  const std::string backing = base_key ? BackingNameFor(*base_key) : "";
  if (std::optional<std::vector<uint8_t>> tmpl = FindTemplate(backing, size_bytes)) {
    if (::ftruncate(temp.fd.get(), static_cast<off_t>(tmpl->size())) != 0)
      return ErrnoStatus("truncate", "disk " + disk_id, errno);
    RETURN_IF_ERROR(WriteNonZeroBlocks(temp.fd.get(), tmpl->data(), tmpl->size(), 0, "disk " + disk_id));
  } else {
    if (base_key) {
      RETURN_IF_ERROR(QemuCreateOverlay(temp.fd.get(), backing, size_bytes, disk_id, cancel));
    } else {
      RETURN_IF_ERROR(QemuCreateEmpty(temp.fd.get(), size_bytes, disk_id, cancel));
    }
    KeepTemplate(backing, size_bytes, temp.fd.get());
  }
  if (::fsync(temp.fd.get()) != 0) return ErrnoStatus("fsync", "disk " + disk_id, errno);
  // What qemu-img wrote is checked like any overlay read later.
  ASSIGN_OR_RETURN(Qcow2Header header, ReadQcow2Header(temp.fd.get(), "new disk " + disk_id));
  if (header.size != size_bytes || header.backing_name != backing) {
    return Internal("qemu-img made disk " + disk_id + " of " + std::to_string(header.size) + " bytes on \"" +
                    header.backing_name + "\"");
  }
  if (::renameat2(tmp_fd_.get(), temp.name.c_str(), disks_fd_.get(), name.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) return AlreadyExists("", "disk " + disk_id + " already exists");
    return ErrnoStatus("rename", "disk " + disk_id + " into " + kDisksDir, errno);
  }
  temp.Published();
  if (::fsync(disks_fd_.get()) != 0) return ErrnoStatus("fsync", root_ + "/" + kDisksDir, errno);
  if (::fstat(temp.fd.get(), &st) != 0) return ErrnoStatus("stat", "disk " + disk_id, errno);
  return DiskInfo{disk_id, size_bytes, base_key, static_cast<uint64_t>(st.st_blocks) * 512};
}

std::optional<std::vector<uint8_t>> DiskStore::FindTemplate(const std::string& backing, uint64_t size) {
  std::lock_guard<std::mutex> lock(templates_mu_);
  auto it = templates_.find({backing, size});
  if (it == templates_.end()) return std::nullopt;
  return it->second;
}

void DiskStore::KeepTemplate(const std::string& backing, uint64_t size, int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) > kMaxTemplateBytes) return;
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  if (!PreadFull(fd, bytes.data(), bytes.size(), 0, "overlay template").ok()) return;
  // Only what passes the checks every overlay passes becomes a template.
  Result<Qcow2Header> h = DecodeQcow2Header(bytes, "overlay template");
  if (!h.ok() || h->size != size || h->backing_name != backing) return;
  std::lock_guard<std::mutex> lock(templates_mu_);
  if (templates_.size() >= kMaxTemplates) templates_.clear();
  templates_[{backing, size}] = std::move(bytes);
}

Result<bool> DiskStore::DeleteDisk(const std::string& disk_id) {
  RETURN_IF_ERROR(CheckDiskId(disk_id));
  if (::unlinkat(disks_fd_.get(), DiskFileName(disk_id).c_str(), 0) != 0) {
    if (errno == ENOENT) return false;
    return ErrnoStatus("unlink", "disk " + disk_id, errno);
  }
  if (::fsync(disks_fd_.get()) != 0) return ErrnoStatus("fsync", root_ + "/" + kDisksDir, errno);
  return true;
}

Result<DiskStore::OpenDisk> DiskStore::OpenDiskChecked(const std::string& disk_id) {
  RETURN_IF_ERROR(CheckDiskId(disk_id));
  OpenDisk d;
  d.disk_id = disk_id;
  d.fd = UniqueFd(
      OpenBeneath(disks_fd_.get(), DiskFileName(disk_id), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!d.fd.valid()) {
    if (errno == ENOENT) return NotFound("InvalidDiskId.NotFound", "disk " + disk_id + " does not exist");
    return ErrnoStatus("open", "disk " + disk_id, errno);
  }
  struct stat st {};
  if (::fstat(d.fd.get(), &st) != 0) return ErrnoStatus("stat", "disk " + disk_id, errno);
  if (!S_ISREG(st.st_mode)) return DataLoss("disk " + disk_id + " is not a regular file");
  ASSIGN_OR_RETURN(d.header, ReadQcow2Header(d.fd.get(), "disk " + disk_id));
  if (!d.header.backing_name.empty()) {
    d.base_key = BaseKeyFromBackingName(d.header.backing_name);
    if (!d.base_key) {
      return DataLoss("disk " + disk_id + " names backing file \"" + d.header.backing_name +
                      "\", which is not a base of this store");
    }
  }
  return d;
}

Result<DiskInfo> DiskStore::DescribeDisk(const std::string& disk_id) {
  ASSIGN_OR_RETURN(OpenDisk d, OpenDiskChecked(disk_id));
  struct stat st {};
  if (::fstat(d.fd.get(), &st) != 0) return ErrnoStatus("stat", "disk " + disk_id, errno);
  return DiskInfo{disk_id, d.header.size, d.base_key, static_cast<uint64_t>(st.st_blocks) * 512};
}

Result<std::vector<std::string>> DiskStore::ListDisks() {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(disks_fd_.get()));
  std::vector<std::string> ids;
  for (const std::string& n : names) {
    if (auto id = StemOf(n, kDiskSuffix, &IsValidDiskId)) ids.push_back(*id);
  }
  return ids;
}

Result<std::string> DiskStore::DiskPath(const std::string& disk_id) const {
  RETURN_IF_ERROR(CheckDiskId(disk_id));
  return root_ + "/" + kDisksDir + "/" + DiskFileName(disk_id);
}

// ---- Reading a disk ----

Status DiskStore::ConvertLocked(const OpenDisk& disk, int out_fd, const std::string& out_path,
                                const std::atomic<bool>* cancel) {
  std::string base_path;
  if (disk.base_key) {
    Result<uint64_t> base_size = BaseSizeLocked(*disk.base_key);
    if (!base_size.ok()) {
      return FailedPrecondition("", "disk " + disk.disk_id + " cannot be read: its base " + *disk.base_key +
                                        ": " + base_size.status().message());
    }
    base_path = root_ + "/" + kBasesDir + "/" + BaseFileName(*disk.base_key);
  }
  if (::ftruncate(out_fd, static_cast<off_t>(disk.header.size)) != 0)
    return ErrnoStatus("truncate", "raw view of disk " + disk.disk_id, errno);
  return QemuConvertToRaw(disk.fd.get(), base_path, out_path, disk.header.size, disk.disk_id, cancel);
}

Status DiskStore::ExportRaw(const std::string& disk_id, const std::string& dst_path,
                            const std::atomic<bool>* cancel) {
  ASSIGN_OR_RETURN(OpenDisk disk, OpenDiskChecked(disk_id));
  std::optional<BaseLock> lock;
  if (disk.base_key) {
    ASSIGN_OR_RETURN(BaseLock l, LockBase(*disk.base_key, /*exclusive=*/false, /*wait=*/true));
    lock.emplace(std::move(l));
  }
  std::error_code ec;
  const std::filesystem::path dst = std::filesystem::absolute(dst_path, ec);
  if (ec) return Internal("export of disk " + disk_id + " to " + dst_path + ": " + ec.message());
  const std::string tmp = dst.string() + ".tmp-" + RandomHex(6);
  UniqueFd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus("create", tmp, errno);
  auto fail = [&](Status st) {
    ::unlink(tmp.c_str());
    return st;
  };
  Status st = ConvertLocked(disk, fd.get(), tmp, cancel);
  if (!st.ok()) return fail(st);
  if (::fsync(fd.get()) != 0) return fail(ErrnoStatus("fsync", tmp, errno));
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dst.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) return fail(AlreadyExists("", dst.string() + " already exists"));
    return fail(ErrnoStatus("rename", tmp + " to " + dst.string(), errno));
  }
  return FsyncDir(dst.parent_path().string());
}

Result<Manifest> DiskStore::SnapshotDisk(const std::string& disk_id, ChunkStore& store,
                                         const IngestOptions& opts, IngestStats* stats, const Manifest* base) {
  ASSIGN_OR_RETURN(OpenDisk disk, OpenDiskChecked(disk_id));
  std::optional<BaseLock> lock;
  if (disk.base_key) {
    ASSIGN_OR_RETURN(BaseLock l, LockBase(*disk.base_key, /*exclusive=*/false, /*wait=*/true));
    lock.emplace(std::move(l));
  }
  // A disk with no base is all overlay: its cluster map says everything.
  const Manifest none = Manifest::Empty(0, opts.chunk_size);
  if (!disk.base_key) base = &none;
  if (base != nullptr && (!disk.base_key || *disk.base_key == BaseKeyFor(*base)) &&
      base->chunk_size == opts.chunk_size) {
    Result<Manifest> m = SnapshotChangedLocked(disk, *base, store, opts, stats);
    if (!m.ok() && IsQcow2MapUnsupported(m.status())) {
      spdlog::info("snapshot of disk {} reads the whole disk through qemu-img: {}", disk_id, m.status().message());
    } else {
      return m;
    }
  }
  ASSIGN_OR_RETURN(TempFile view, CreateTemp("snap-" + disk_id));
  RETURN_IF_ERROR(ConvertLocked(disk, view.fd.get(), root_ + "/" + kTmpDir + "/" + view.name, opts.cancel));
  lock.reset();  // the view is ours now; the base may go
  return IngestRawFd(view.fd.get(), "disk " + disk_id, store, opts, stats);
}

// Under the base's shared lock: the base file (checked to be the image's
// size) and a temp for the view, then SnapshotFromClusterMap.
Result<Manifest> DiskStore::SnapshotChangedLocked(const OpenDisk& disk, const Manifest& base, ChunkStore& store,
                                                  const IngestOptions& opts, IngestStats* stats) {
  const std::string label = "disk " + disk.disk_id;
  UniqueFd base_fd;
  if (disk.base_key && base.logical_size > 0) {
    base_fd = UniqueFd(
        OpenBeneath(bases_fd_.get(), BaseFileName(*disk.base_key), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!base_fd.valid()) return ErrnoStatus("open", "base " + *disk.base_key + " of " + label, errno);
    struct stat st {};
    if (::fstat(base_fd.get(), &st) != 0) return ErrnoStatus("stat", "base of " + label, errno);
    if (static_cast<uint64_t>(st.st_size) != base.logical_size)
      return DataLoss("base " + *disk.base_key + " of " + label + " is not the size of its image");
  }
  ASSIGN_OR_RETURN(TempFile view, CreateTemp("snap-" + disk.disk_id));
  OverlaySnapshotSource source{disk.fd.get(), &disk.header, label, base_fd.get(), &base, view.fd.get()};
  return SnapshotFromClusterMap(source, store, opts, stats);
}

// ---- GC and fsck ----

Result<std::vector<std::pair<std::string, std::string>>> DiskStore::OverlayBackings(
    std::vector<std::string>* bad) {
  ASSIGN_OR_RETURN(std::vector<std::string> ids, ListDisks());
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& id : ids) {
    Result<OpenDisk> d = OpenDiskChecked(id);
    if (!d.ok()) {
      if (d.status().code() == Code::kNotFound) continue;  // deleted meanwhile
      bad->push_back(id + ": " + d.status().message());
      continue;
    }
    if (d->base_key) out.emplace_back(id, *d->base_key);
  }
  return out;
}

Result<std::vector<std::string>> DiskStore::RemoveUnusedBases(const std::set<std::string>& keep,
                                                              std::vector<std::string>* busy) {
  ASSIGN_OR_RETURN(std::vector<std::string> keys, ListBases());
  // Lock the candidates first: a disk created on one of them needs its lock,
  // so the overlays scanned below are all the disks that can use them.
  std::vector<std::pair<std::string, BaseLock>> held;
  std::vector<std::string> skipped;
  for (const std::string& key : keys) {
    if (keep.count(key) != 0) continue;
    Result<BaseLock> lock = LockBase(key, /*exclusive=*/true, /*wait=*/false);
    if (!lock.ok()) {
      if (lock.status().code() == Code::kUnavailable) {  // busy: the caller tries again
        skipped.push_back(key);
        continue;
      }
      return lock.status();
    }
    held.emplace_back(key, std::move(*lock));
  }
  std::vector<std::string> bad;
  ASSIGN_OR_RETURN(auto backings, OverlayBackings(&bad));
  if (!bad.empty()) {
    // Which base a damaged overlay needs is unknown, so none may go.
    return FailedPrecondition("", "removing unused bases: " + std::to_string(bad.size()) +
                                      " disk(s) cannot be read, first " + bad.front());
  }
  std::set<std::string> used;
  for (const auto& [id, key] : backings) used.insert(key);
  // A busy base a disk uses stays anyway; one no disk uses needs another try.
  if (busy != nullptr) {
    for (const std::string& key : skipped)
      if (used.count(key) == 0) busy->push_back(key);
  }
  std::vector<std::string> removed;
  for (const auto& [key, lock] : held) {
    if (used.count(key) != 0) continue;
    if (::unlinkat(bases_fd_.get(), BaseFileName(key).c_str(), 0) != 0 && errno != ENOENT)
      return ErrnoStatus("unlink", "base " + key, errno);
    ::unlinkat(locks_fd_.get(), LockFileName(key).c_str(), 0);  // held: LockBase retries on the new one
    removed.push_back(key);
  }
  if (!removed.empty() && ::fsync(bases_fd_.get()) != 0)
    return ErrnoStatus("fsync", root_ + "/" + kBasesDir, errno);
  return removed;
}

Result<DiskFsckReport> DiskStore::Fsck(const std::set<std::string>& known_disks,
                                       const std::set<std::string>& known_bases) {
  DiskFsckReport r;
  ASSIGN_OR_RETURN(std::vector<std::string> disk_names, ListDir(disks_fd_.get()));
  std::set<std::string> present_disks;
  for (const std::string& n : disk_names) {
    if (auto id = StemOf(n, kDiskSuffix, &IsValidDiskId)) {
      present_disks.insert(*id);
    } else {
      r.strays.push_back(std::string(kDisksDir) + "/" + n);
    }
  }
  ASSIGN_OR_RETURN(std::vector<std::string> base_names, ListDir(bases_fd_.get()));
  std::set<std::string> present_bases;
  for (const std::string& n : base_names) {
    if (auto key = StemOf(n, kBaseSuffix, &IsValidBaseKey)) {
      present_bases.insert(*key);
    } else {
      r.strays.push_back(std::string(kBasesDir) + "/" + n);
    }
  }
  std::set<std::string> used_by_known;
  for (const std::string& id : present_disks) {
    if (known_disks.count(id) == 0) r.orphan_disks.push_back(id);
    Result<OpenDisk> d = OpenDiskChecked(id);
    if (!d.ok()) {
      if (d.status().code() != Code::kNotFound) r.bad_disks.push_back(id + ": " + d.status().message());
      continue;
    }
    if (!d->base_key) continue;
    if (known_disks.count(id) != 0) used_by_known.insert(*d->base_key);
    if (present_bases.count(*d->base_key) == 0) r.missing_bases.push_back(id + " -> " + *d->base_key);
  }
  for (const std::string& id : known_disks) {
    if (present_disks.count(id) == 0) r.missing_disks.push_back(id);
  }
  for (const std::string& key : present_bases) {
    if (known_bases.count(key) == 0 && used_by_known.count(key) == 0) r.orphan_bases.push_back(key);
  }
  r.disks_present = present_disks.size();
  r.bases_present = present_bases.size();
  ASSIGN_OR_RETURN(std::vector<std::string> tmp_names, ListDir(tmp_fd_.get()));
  std::vector<UniqueFd> held;
  ASSIGN_OR_RETURN(r.leftover_temps, FindLeftovers(tmp_fd_.get(), tmp_names, &held));
  return r;
}

}  // namespace ferry
