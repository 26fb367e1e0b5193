#include "region/disks/qcow2_map.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "region/disks/disk_layout.h"

namespace ferry {
namespace {

// L1 and standard L2 entries (qcow2.txt): bits 9-55 are a host offset;
// bit 63 is "copied" (refcount 1) and means nothing to a reader.
constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ULL;
constexpr uint64_t kCopied = 1ULL << 63;
constexpr uint64_t kCompressed = 1ULL << 62;
constexpr uint64_t kZeroFlag = 1ULL;  // v3 only
constexpr uint32_t kMinClusterBits = 9;
constexpr uint32_t kMaxClusterBits = 21;

uint64_t Be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

// Reads exactly out.size() bytes at `offset`; short reads past the end of
// the file fill zeros when `zero_past_end`, else are kDataLoss.
Status PreadAll(int fd, uint64_t offset, std::span<uint8_t> out, bool zero_past_end, const std::string& what) {
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(fd, out.data() + got, out.size() - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", what, errno);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < out.size()) {
    if (!zero_past_end) return DataLoss(what + ": the file ends at byte " + std::to_string(offset + got));
    std::memset(out.data() + got, 0, out.size() - got);
  }
  return Status::Ok();
}

Status Unsupported(const std::string& message) {
  return FailedPrecondition(kQcow2MapUnsupported, message);
}

}  // namespace

Result<Qcow2Map> Qcow2Map::Open(int fd, const Qcow2Header& h, const std::string& label) {
  auto bad = [&](const std::string& why) { return DataLoss("qcow2 cluster map of " + label + ": " + why); };
  if ((h.incompatible_features & kQcow2IncompatExtendedL2) != 0)
    return Unsupported("qcow2 cluster map of " + label + ": extended L2 entries");
  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits)
    return bad("cluster_bits " + std::to_string(h.cluster_bits));
  // Bounds the walk: at most kMaxDiskBytes / cluster size entries.
  if (h.size > kMaxDiskBytes) return bad("virtual size " + std::to_string(h.size) + " bytes");
  struct stat st {};
  if (::fstat(fd, &st) != 0) return ErrnoStatus("stat", label, errno);
  Qcow2Map m;
  m.fd_ = fd;
  m.label_ = label;
  m.version_ = h.version;
  m.cluster_bits_ = h.cluster_bits;
  m.size_ = h.size;
  m.file_size_ = static_cast<uint64_t>(st.st_size);
  const uint64_t per_l2 = m.cluster_size() / 8;
  const uint64_t needed = (m.clusters() + per_l2 - 1) / per_l2;
  if (needed > kMaxL1Entries)
    return Unsupported("qcow2 cluster map of " + label + ": " + std::to_string(needed) + " L1 entries");
  if (h.l1_size < needed)
    return bad("l1_size " + std::to_string(h.l1_size) + " is below the " + std::to_string(needed) +
               " entries a disk of " + std::to_string(h.size) + " bytes needs");
  if (needed == 0) return m;
  if (h.l1_table_offset % m.cluster_size() != 0 || h.l1_table_offset >= m.file_size_ ||
      m.file_size_ - h.l1_table_offset < needed * 8) {
    return bad("L1 table at " + std::to_string(h.l1_table_offset) + " is not inside the file");
  }
  std::vector<uint8_t> raw(needed * 8);
  RETURN_IF_ERROR(PreadAll(fd, h.l1_table_offset, raw, false, "L1 table of " + label));
  m.l1_.resize(needed);
  for (uint64_t i = 0; i < needed; ++i) {
    const uint64_t e = Be64(&raw[i * 8]);
    if ((e & ~(kOffsetMask | kCopied)) != 0) return bad("L1 entry " + std::to_string(i) + " has reserved bits set");
    const uint64_t off = e & kOffsetMask;
    if (off != 0 && (off % m.cluster_size() != 0 || off >= m.file_size_ ||
                     m.file_size_ - off < m.cluster_size())) {
      return bad("L2 table " + std::to_string(i) + " at " + std::to_string(off) + " is not inside the file");
    }
    m.l1_[i] = off;
  }
  return m;
}

Status Qcow2Map::LoadL2(uint64_t l1_index) {
  if (l2_index_ == l1_index) return Status::Ok();
  const uint64_t per_l2 = cluster_size() / 8;
  l2_index_ = ~uint64_t{0};
  l2_.assign(per_l2, 0);
  if (l1_[l1_index] != 0) {
    std::vector<uint8_t> raw(cluster_size());
    RETURN_IF_ERROR(PreadAll(fd_, l1_[l1_index], raw, false,
                             "L2 table " + std::to_string(l1_index) + " of " + label_));
    for (uint64_t j = 0; j < per_l2; ++j) l2_[j] = Be64(&raw[j * 8]);
  }
  l2_index_ = l1_index;
  return Status::Ok();
}

Result<Qcow2Map::Cluster> Qcow2Map::Decode(uint64_t index, uint64_t e) const {
  auto bad = [&](const std::string& why) {
    return DataLoss("qcow2 cluster map of " + label_ + ": guest cluster " + std::to_string(index) + " " + why);
  };
  if ((e & kCompressed) != 0)
    return Unsupported("qcow2 cluster map of " + label_ + ": compressed cluster " + std::to_string(index));
  const uint64_t reserved = ~(kOffsetMask | kCopied | (version_ >= 3 ? kZeroFlag : 0));
  if ((e & reserved) != 0) return bad("has reserved bits set");
  const uint64_t off = e & kOffsetMask;
  if ((e & kZeroFlag) != 0) return Cluster{Kind::kZero, 0};
  if (off == 0) return Cluster{Kind::kBacking, 0};
  if (off % cluster_size() != 0 || off >= file_size_) return bad("points at " + std::to_string(off) + ", outside the file");
  return Cluster{Kind::kData, off};
}

Result<Qcow2Map::Cluster> Qcow2Map::Lookup(uint64_t index) {
  if (index >= clusters()) return Internal("guest cluster " + std::to_string(index) + " is past the disk's end");
  const uint64_t per_l2 = cluster_size() / 8;
  RETURN_IF_ERROR(LoadL2(index / per_l2));
  return Decode(index, l2_[index % per_l2]);
}

Status Qcow2Map::ForEachHeld(const std::function<Status(uint64_t, const Cluster&)>& fn) {
  const uint64_t per_l2 = cluster_size() / 8;
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    if (l1_[i] == 0) continue;
    RETURN_IF_ERROR(LoadL2(i));
    const uint64_t first = i * per_l2;
    const uint64_t end = std::min(first + per_l2, clusters());
    for (uint64_t index = first; index < end; ++index) {
      const uint64_t e = l2_[index - first];
      if (e == 0) continue;
      ASSIGN_OR_RETURN(Cluster c, Decode(index, e));
      if (c.kind != Kind::kBacking) RETURN_IF_ERROR(fn(index, c));
    }
  }
  return Status::Ok();
}

Status Qcow2Map::ReadGuest(uint64_t offset, std::span<uint8_t> out, int backing_fd, uint64_t backing_size) {
  if (offset > size_ || size_ - offset < out.size())
    return Internal("read of " + std::to_string(out.size()) + " bytes at " + std::to_string(offset) +
                    " past the end of " + label_);
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t pos = offset + done;
    const uint64_t in_cluster = pos & (cluster_size() - 1);
    const size_t n = static_cast<size_t>(std::min<uint64_t>(cluster_size() - in_cluster, out.size() - done));
    std::span<uint8_t> piece = out.subspan(done, n);
    ASSIGN_OR_RETURN(Cluster c, Lookup(pos >> cluster_bits_));
    switch (c.kind) {
      case Kind::kData:
        RETURN_IF_ERROR(PreadAll(fd_, c.host_offset + in_cluster, piece, true, label_));
        break;
      case Kind::kZero:
        std::memset(piece.data(), 0, n);
        break;
      case Kind::kBacking:
        if (backing_fd < 0 || pos >= backing_size) {
          std::memset(piece.data(), 0, n);
        } else {
          const size_t from_base = static_cast<size_t>(std::min<uint64_t>(n, backing_size - pos));
          RETURN_IF_ERROR(PreadAll(backing_fd, pos, piece.first(from_base), true, "base of " + label_));
          std::memset(piece.data() + from_base, 0, n - from_base);
        }
        break;
    }
    done += n;
  }
  return Status::Ok();
}

}  // namespace ferry
