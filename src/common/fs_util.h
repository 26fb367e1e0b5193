// File-system helpers with the durability rules of the project:
// whatever is reported as written survives kill -9 (temp file, fsync, rename,
// fsync of the directory).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/status.h"

namespace ferry {

// Writes `data` to `path` atomically: `path.tmp-<random>`, fsync, rename,
// fsync(parent dir). `mode` applies to the new file.
Status WriteFileAtomic(const std::string& path, std::span<const uint8_t> data, int mode = 0644);
Status WriteFileAtomic(const std::string& path, const std::string& data, int mode = 0644);

Result<std::string> ReadFileToString(const std::string& path);

// mkdir -p.
Status MakeDirs(const std::string& path, int mode = 0755);
Status FsyncDir(const std::string& dir);

// Reads exactly `len` bytes at `offset` (pread loop); a short file is an error.
Status PreadFull(int fd, uint8_t* buf, uint64_t len, uint64_t offset, const std::string& what);
Status PwriteFull(int fd, const uint8_t* buf, uint64_t len, uint64_t offset, const std::string& what);
// Writes `data` at `offset` of `fd`, leaving every all-zero 4 KiB block
// (aligned in the file) unwritten: a hole where the range was one. With
// `crc64`, extends *crc64 (common/crc64.h) over `data` as it goes: the bytes
// written are hashed while they are in the cache, the zero blocks skipped
// cost a Crc64ExtendZeros per run.
Status PwriteSkippingZeroBlocks(int fd, std::span<const uint8_t> data, uint64_t offset,
                                const std::string& label, uint64_t* crc64 = nullptr);

// An owned file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_ = -1;
};

}  // namespace ferry
