#include "common/fs_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "common/crc64.h"
#include "common/ids.h"
#include "common/zero.h"

namespace ferry {

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.release();
  }
  return *this;
}

Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("open", dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync", dir, errno);
  return Status::Ok();
}

Status PwriteFull(int fd, const uint8_t* buf, uint64_t len, uint64_t offset, const std::string& what) {
  while (len > 0) {
    ssize_t n = ::pwrite(fd, buf, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", what, errno);
    }
    buf += n;
    len -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status PwriteSkippingZeroBlocks(int fd, std::span<const uint8_t> data, uint64_t offset,
                                const std::string& label, uint64_t* crc64) {
  constexpr uint64_t kBlock = 4096;
  size_t run = 0;    // start of the bytes not yet written or skipped
  size_t zeros = 0;  // zero bytes skipped before `run`, not yet in *crc64
  auto write_run = [&](size_t end) -> Status {
    if (end == run) return Status::Ok();
    const std::span<const uint8_t> bytes = data.subspan(run, end - run);
    RETURN_IF_ERROR(PwriteFull(fd, bytes.data(), bytes.size(), offset + run, label));
    if (crc64 != nullptr) *crc64 = Crc64Update(Crc64ExtendZeros(*crc64, zeros), bytes);
    zeros = 0;
    return Status::Ok();
  };
  size_t i = 0;
  while (i < data.size()) {
    const size_t block_end =
        std::min<size_t>(data.size(), i + static_cast<size_t>(kBlock - (offset + i) % kBlock));
    if (block_end - i == kBlock && IsAllZero(data.data() + i, kBlock)) {
      RETURN_IF_ERROR(write_run(i));
      zeros += kBlock;
      run = block_end;
    }
    i = block_end;
  }
  RETURN_IF_ERROR(write_run(data.size()));
  if (crc64 != nullptr) *crc64 = Crc64ExtendZeros(*crc64, zeros);
  return Status::Ok();
}

Status PreadFull(int fd, uint8_t* buf, uint64_t len, uint64_t offset, const std::string& what) {
  while (len > 0) {
    ssize_t n = ::pread(fd, buf, len, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", what, errno);
    }
    if (n == 0) {
      return DataLoss("read " + what + ": unexpected end of file at offset " + std::to_string(offset) +
                      " (" + std::to_string(len) + " bytes missing)");
    }
    buf += n;
    len -= static_cast<uint64_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status WriteFileAtomic(const std::string& path, std::span<const uint8_t> data, int mode) {
  std::filesystem::path p(path);
  std::string dir = p.parent_path().empty() ? "." : p.parent_path().string();
  std::string tmp = path + ".tmp-" + RandomHex(6);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd.valid()) return ErrnoStatus("create", tmp, errno);
  Status st = PwriteFull(fd.get(), data.data(), data.size(), 0, tmp);
  if (st.ok() && ::fsync(fd.get()) != 0) st = ErrnoStatus("fsync", tmp, errno);
  if (st.ok() && ::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) st = ErrnoStatus("chmod", tmp, errno);
  fd = UniqueFd();
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) st = ErrnoStatus("rename", tmp, errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return FsyncDir(dir);
}

Status WriteFileAtomic(const std::string& path, const std::string& data, int mode) {
  return WriteFileAtomic(
      path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()), mode);
}

Result<std::string> ReadFileToString(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus("open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus("stat", path, errno);
  std::string out(static_cast<size_t>(st.st_size), '\0');
  RETURN_IF_ERROR(PreadFull(fd.get(), reinterpret_cast<uint8_t*>(out.data()), out.size(), 0, path));
  return out;
}

Status MakeDirs(const std::string& path, int mode) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) return ErrnoStatus("mkdir", path, ec.value());
  (void)mode;
  return Status::Ok();
}

}  // namespace ferry
