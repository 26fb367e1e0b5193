#include "region/disks/qcow2_header.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

namespace ferry {
namespace {

constexpr size_t kHeaderReadBytes = 64 * 1024;
constexpr size_t kV2HeaderBytes = 72;
constexpr size_t kV3HeaderBytes = 104;

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint64_t Be64(const uint8_t* p) { return (uint64_t{Be32(p)} << 32) | Be32(p + 4); }

Status Bad(const std::string& label, const std::string& why) {
  return DataLoss("qcow2 header of " + label + ": " + why);
}

}  // namespace

Result<Qcow2Header> DecodeQcow2Header(std::span<const uint8_t> b, const std::string& label) {
  if (b.size() < kV2HeaderBytes) return Bad(label, "only " + std::to_string(b.size()) + " bytes");
  if (!(b[0] == 'Q' && b[1] == 'F' && b[2] == 'I' && b[3] == 0xfb)) return Bad(label, "bad magic");
  Qcow2Header h;
  h.version = Be32(&b[4]);
  if (h.version != 2 && h.version != 3) return Bad(label, "version " + std::to_string(h.version));
  const uint64_t backing_offset = Be64(&b[8]);
  const uint32_t backing_size = Be32(&b[16]);
  h.cluster_bits = Be32(&b[20]);
  h.size = Be64(&b[24]);
  h.l1_size = Be32(&b[36]);
  h.l1_table_offset = Be64(&b[40]);
  const uint32_t crypt = Be32(&b[32]);
  if (crypt != 0) return Bad(label, "encrypted (crypt_method " + std::to_string(crypt) + ")");
  if (h.version == 3) {
    if (b.size() < kV3HeaderBytes) return Bad(label, "v3 header cut short");
    h.incompatible_features = Be64(&b[72]);
    const uint64_t known = kQcow2IncompatDirty | kQcow2IncompatCorrupt | kQcow2IncompatDataFile |
                           kQcow2IncompatCompression | kQcow2IncompatExtendedL2;
    if ((h.incompatible_features & ~known) != 0 || (h.incompatible_features & kQcow2IncompatCorrupt) != 0 ||
        (h.incompatible_features & kQcow2IncompatDataFile) != 0) {
      return Bad(
          label, "incompatible features 0x" + [&] {
            char buf[17];
            std::snprintf(buf, sizeof(buf), "%016llx",
                          static_cast<unsigned long long>(h.incompatible_features));
            return std::string(buf);
          }() + " (corrupt, external data file or unknown)");
    }
  }
  if (backing_offset != 0 || backing_size != 0) {
    if (backing_size == 0 || backing_size > kQcow2MaxBackingName)
      return Bad(label, "backing file name of " + std::to_string(backing_size) + " bytes");
    if (backing_offset > b.size() || b.size() - backing_offset < backing_size)
      return Bad(label,
                 "backing file name at offset " + std::to_string(backing_offset) + " outside the header");
    h.backing_name.assign(reinterpret_cast<const char*>(b.data() + backing_offset), backing_size);
  }
  return h;
}

Result<Qcow2Header> ReadQcow2Header(int fd, const std::string& label) {
  std::vector<uint8_t> buf(kHeaderReadBytes);
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", label, errno);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  return DecodeQcow2Header(buf, label);
}

}  // namespace ferry
