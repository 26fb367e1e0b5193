#include "region/image_inspector.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

namespace ferry {
namespace {

constexpr uint64_t kSector = 512;

// qcow2 (docs/interop/qcow2.txt), big-endian.
constexpr uint32_t kQcow2HeaderV2Bytes = 72;
constexpr uint32_t kQcow2HeaderV3MinBytes = 104;
constexpr uint64_t kQcow2IncompatDirty = 1ull << 0;
constexpr uint64_t kQcow2IncompatCorrupt = 1ull << 1;
constexpr uint64_t kQcow2IncompatDataFile = 1ull << 2;
constexpr uint64_t kQcow2IncompatCompression = 1ull << 3;
constexpr uint64_t kQcow2AutoclearRawData = 1ull << 1;
constexpr uint32_t kQcow2ExtDataFile = 0x44415441;
constexpr uint32_t kQcow2ExtBackingFormat = 0xe2792aca;
constexpr uint64_t kQcow2MaxL1Bytes = 32ull << 20;       // QCOW_MAX_L1_SIZE
constexpr uint64_t kQcow2MaxRefTableBytes = 8ull << 20;  // QCOW_MAX_REFTABLE_SIZE

// VMDK sparse extent header (little-endian).
constexpr uint64_t kVmdkGdAtEnd = ~0ull;
constexpr uint64_t kVmdkMaxDescriptorBytes = (1ull << 20) - 1;

// VHD footer (big-endian).
constexpr uint32_t kVpcFixed = 2;
constexpr uint32_t kVpcDynamic = 3;
constexpr uint32_t kVpcDifferencing = 4;

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint64_t Be64(const uint8_t* p) { return (uint64_t{Be32(p)} << 32) | Be32(p + 4); }
uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint64_t Le64(const uint8_t* p) { return uint64_t{Le32(p)} | (uint64_t{Le32(p + 4)} << 32); }

Status Unsafe(const std::string& label, const std::string& why) {
  return InvalidArgument("InvalidImageFormat.Malformed", "disk image " + label + ": " + why);
}

// Reads up to `len` bytes at `offset` (short at EOF).
Result<std::vector<uint8_t>> ReadAt(int fd, uint64_t offset, uint64_t len, const std::string& label) {
  std::vector<uint8_t> buf(len);
  uint64_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, buf.data() + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal("reading disk image " + label + " at offset " + std::to_string(offset + got) + ": " +
                      std::strerror(errno));
    }
    if (n == 0) break;
    got += static_cast<uint64_t>(n);
  }
  buf.resize(got);
  return buf;
}

bool StartsWith(const std::vector<uint8_t>& b, const char* magic, size_t n, size_t at = 0) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

// ------------------------------------------------------------------ qcow2

Status CheckQcow2(int fd, uint64_t file_size, const std::vector<uint8_t>& head, const std::string& label,
                  ImageFacts* facts) {
  if (head.size() < kQcow2HeaderV2Bytes) return Unsafe(label, "qcow2 header is truncated");
  const uint8_t* h = head.data();
  uint32_t version = Be32(h + 4);
  if (version != 2 && version != 3)
    return Unsafe(label, "qcow2 version " + std::to_string(version) + " is not supported (2 or 3)");
  if (Be64(h + 8) != 0 || Be32(h + 16) != 0)
    return Unsafe(label, "qcow2 images with a backing file are not supported");
  uint32_t cluster_bits = Be32(h + 20);
  if (cluster_bits < 9 || cluster_bits > 21)
    return Unsafe(label, "qcow2 cluster_bits " + std::to_string(cluster_bits) + " is outside 9..21");
  const uint64_t cluster_size = 1ull << cluster_bits;
  facts->virtual_size = Be64(h + 24);
  if (Be32(h + 32) != 0) return Unsafe(label, "encrypted qcow2 images are not supported");
  uint64_t l1_entries = Be32(h + 36);
  if (l1_entries * 8 > kQcow2MaxL1Bytes)
    return Unsafe(label, "qcow2 L1 table of " + std::to_string(l1_entries) + " entries is too large");
  uint64_t reftable_bytes = uint64_t{Be32(h + 56)} * cluster_size;
  if (reftable_bytes > kQcow2MaxRefTableBytes)
    return Unsafe(label, "qcow2 refcount table of " + std::to_string(reftable_bytes) + " bytes is too large");
  // Each L2 table maps cluster_size / 8 clusters: the L1 table must cover
  // the virtual size, or the header is inconsistent.
  const uint64_t per_l1 = (cluster_size / 8) * cluster_size;
  if (facts->virtual_size / per_l1 + (facts->virtual_size % per_l1 != 0 ? 1 : 0) > l1_entries)
    return Unsafe(label, "qcow2 L1 table of " + std::to_string(l1_entries) + " entries does not cover " +
                             std::to_string(facts->virtual_size) + " bytes");

  uint64_t header_len = kQcow2HeaderV2Bytes;
  if (version == 3) {
    if (head.size() < kQcow2HeaderV3MinBytes) return Unsafe(label, "qcow2 v3 header is truncated");
    uint64_t incompatible = Be64(h + 72);
    if (incompatible & kQcow2IncompatDataFile)
      return Unsafe(label, "qcow2 images with an external data file are not supported");
    uint64_t known = kQcow2IncompatDirty | kQcow2IncompatCorrupt | kQcow2IncompatCompression;
    if (incompatible & ~known)
      return Unsafe(
          label, "qcow2 incompatible feature bits 0x" + [&] {
            char buf[17];
            std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(incompatible & ~known));
            return std::string(buf);
          }() + " are not supported");
    if (Be64(h + 88) & kQcow2AutoclearRawData)
      return Unsafe(label, "qcow2 images with an external data file are not supported (autoclear bit 1)");
    header_len = Be32(h + 100);
    if (header_len < kQcow2HeaderV3MinBytes || header_len % 8 != 0 || header_len >= cluster_size)
      return Unsafe(label, "qcow2 header length " + std::to_string(header_len) + " is invalid");
  }

  // Header extensions run from the end of the header to the end of the
  // first cluster (qemu reads no further), each 8-byte aligned.
  const uint64_t limit = std::min(cluster_size, file_size);
  std::vector<uint8_t> cluster;
  if (head.size() >= limit) {
    cluster.assign(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(limit));
  } else {
    ASSIGN_OR_RETURN(cluster, ReadAt(fd, 0, limit, label));
  }
  uint64_t off = header_len;
  while (off + 8 <= cluster.size()) {
    uint32_t type = Be32(cluster.data() + off);
    uint64_t len = Be32(cluster.data() + off + 4);
    if (type == 0) break;
    if (type == kQcow2ExtDataFile)
      return Unsafe(label, "qcow2 images with an external data file are not supported");
    if (type == kQcow2ExtBackingFormat)
      return Unsafe(label, "qcow2 images with a backing file are not supported (backing format extension)");
    uint64_t next = off + 8 + ((len + 7) & ~7ull);
    if (next > cluster.size()) return Unsafe(label, "qcow2 header extension overruns the first cluster");
    off = next;
  }
  if (off + 8 > cluster.size() && off < cluster.size())
    return Unsafe(label, "qcow2 header extensions are truncated");
  return Status::Ok();
}

// ------------------------------------------------------------------- vmdk

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

Status CheckVmdkDescriptor(const std::string& text, const std::string& label, std::string* create_type) {
  size_t extents = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = Trim(text.substr(start, end - start));
    start = end + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("ddb.", 0) == 0) continue;
    if (line.rfind("RW ", 0) == 0 || line.rfind("RDONLY ", 0) == 0 || line.rfind("NOACCESS ", 0) == 0) {
      if (line.find('/') != std::string::npos || line.find('\\') != std::string::npos)
        return Unsafe(label, "VMDK extent naming another file is not supported");
      ++extents;
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos || eq == 0) return Unsafe(label, "VMDK descriptor has an unexpected line");
    std::string key = Trim(line.substr(0, eq));
    for (char c : key) {
      if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'))
        return Unsafe(label, "VMDK descriptor has an unexpected line");
    }
    if (key == "createType") {
      std::string v = Trim(line.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      *create_type = v;
    }
    if (key == "parentFileNameHint") return Unsafe(label, "VMDK images with a parent file are not supported");
  }
  if (*create_type != "monolithicSparse" && *create_type != "streamOptimized") {
    return Unsafe(label, "VMDK createType \"" + create_type->substr(0, 64) +
                             "\" is not supported (monolithicSparse or streamOptimized)");
  }
  if (extents == 0) return Unsafe(label, "VMDK descriptor has no extent");
  return Status::Ok();
}

Status CheckVmdk(int fd, uint64_t file_size, const std::vector<uint8_t>& head, const std::string& label,
                 ImageFacts* facts) {
  if (head.size() < kSector) return Unsafe(label, "VMDK header is truncated");
  const uint8_t* h = head.data();
  uint32_t version = Le32(h + 4);
  if (version < 1 || version > 3)
    return Unsafe(label, "VMDK version " + std::to_string(version) + " is not supported");
  uint64_t capacity = Le64(h + 12);
  uint64_t grain = Le64(h + 20);
  uint64_t desc_offset = Le64(h + 28);
  uint64_t desc_sectors = Le64(h + 36);
  uint64_t gd_offset = Le64(h + 56);
  if (capacity > (~0ull) / kSector) return Unsafe(label, "VMDK capacity overflows");
  facts->virtual_size = capacity * kSector;
  if (desc_offset != 1) return Unsafe(label, "VMDK descriptor is not at sector 1");
  if (desc_sectors == 0 || desc_sectors > kVmdkMaxDescriptorBytes / kSector)
    return Unsafe(label, "VMDK descriptor size of " + std::to_string(desc_sectors) + " sectors is invalid");
  ASSIGN_OR_RETURN(std::vector<uint8_t> desc, ReadAt(fd, kSector, desc_sectors * kSector, label));
  std::string text(desc.begin(), desc.end());
  text = text.substr(0, text.find('\0'));
  RETURN_IF_ERROR(CheckVmdkDescriptor(text, label, &facts->vmdk_create_type));
  if (gd_offset == kVmdkGdAtEnd) {
    // streamOptimized with the grain directory at the end: footer marker,
    // footer (a copy of the header with the real directory), end marker.
    if (file_size < 3 * kSector) return Unsafe(label, "VMDK footer is missing");
    ASSIGN_OR_RETURN(std::vector<uint8_t> footer, ReadAt(fd, file_size - 2 * kSector, kSector, label));
    if (footer.size() < kSector || !StartsWith(footer, "KDMV", 4))
      return Unsafe(label, "VMDK footer is missing");
    const uint8_t* f = footer.data();
    if (Le32(f + 4) != version || Le64(f + 12) != capacity || Le64(f + 20) != grain ||
        Le64(f + 28) != desc_offset || Le64(f + 36) != desc_sectors) {
      return Unsafe(label, "VMDK footer differs from its header");
    }
  }
  return Status::Ok();
}

// -------------------------------------------------------------------- vpc

Status CheckVpc(const std::vector<uint8_t>& footer, const std::string& label, ImageFacts* facts) {
  const uint8_t* f = footer.data();
  uint32_t type = Be32(f + 60);
  if (type == kVpcDifferencing)
    return Unsafe(label, "differencing VHD images (with a parent) are not supported");
  if (type != kVpcFixed && type != kVpcDynamic)
    return Unsafe(label, "VHD disk type " + std::to_string(type) + " is not supported (fixed or dynamic)");
  facts->vpc_current_size = Be64(f + 48);
  facts->vpc_geometry_size = uint64_t{Be16(f + 56)} * f[58] * f[59] * kSector;
  facts->virtual_size = std::max(facts->vpc_current_size, facts->vpc_geometry_size);
  return Status::Ok();
}

}  // namespace

std::string ImageFormatName(ImageFormat f) {
  switch (f) {
    case ImageFormat::kRaw:
      return "raw";
    case ImageFormat::kQcow2:
      return "qcow2";
    case ImageFormat::kVpc:
      return "vpc";
    case ImageFormat::kVmdk:
      return "vmdk";
    case ImageFormat::kVdi:
      return "vdi";
    case ImageFormat::kQed:
      return "qed";
    case ImageFormat::kVhdx:
      return "vhdx";
    case ImageFormat::kVmdkDescriptor:
      return "vmdk-descriptor";
  }
  return "unknown";
}

Result<ImageFacts> InspectImage(int fd, uint64_t file_size, const std::string& label) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> head, ReadAt(fd, 0, std::min(file_size, kMaxInspectBytes), label));
  std::vector<uint8_t> tail;
  if (file_size >= kSector) {
    ASSIGN_OR_RETURN(tail, ReadAt(fd, file_size - kSector, kSector, label));
  }

  std::vector<ImageFormat> matches;
  if (StartsWith(head, "QFI\xfb", 4)) matches.push_back(ImageFormat::kQcow2);
  if (StartsWith(head, "QED\0", 4)) matches.push_back(ImageFormat::kQed);
  if (StartsWith(head, "KDMV", 4)) matches.push_back(ImageFormat::kVmdk);
  if (StartsWith(head, "# Disk DescriptorFile", 21)) matches.push_back(ImageFormat::kVmdkDescriptor);
  if (StartsWith(head, "vhdxfile", 8)) matches.push_back(ImageFormat::kVhdx);
  if (head.size() >= 0x44 && Le32(head.data() + 0x40) == 0xbeda107f) matches.push_back(ImageFormat::kVdi);
  bool vpc_head = StartsWith(head, "conectix", 8);
  bool vpc_tail = StartsWith(tail, "conectix", 8);
  if (vpc_head || vpc_tail) matches.push_back(ImageFormat::kVpc);

  ImageFacts facts;
  facts.virtual_size = file_size;
  if (matches.empty()) return facts;  // raw
  if (matches.size() > 1) {
    std::string names;
    for (ImageFormat f : matches) names += (names.empty() ? "" : ", ") + ImageFormatName(f);
    return Unsafe(label, "the header matches more than one format (" + names + ")");
  }
  facts.format = matches[0];
  switch (facts.format) {
    case ImageFormat::kQcow2:
      RETURN_IF_ERROR(CheckQcow2(fd, file_size, head, label, &facts));
      break;
    case ImageFormat::kVmdk:
      RETURN_IF_ERROR(CheckVmdk(fd, file_size, head, label, &facts));
      break;
    case ImageFormat::kVpc: {
      // The footer at the end is authoritative (a fixed VHD has only that
      // one); a dynamic VHD also keeps a copy at 0.
      if (!vpc_tail) return Unsafe(label, "VHD footer is missing at the end of the image");
      RETURN_IF_ERROR(CheckVpc(tail, label, &facts));
      break;
    }
    case ImageFormat::kQed:
      return Unsafe(label, "QED images are not supported");
    case ImageFormat::kVhdx:
      return Unsafe(label, "VHDX images are not supported");
    case ImageFormat::kVmdkDescriptor:
      return Unsafe(label,
                    "VMDK descriptor files are not supported (upload a single-file monolithicSparse "
                    "or streamOptimized VMDK)");
    case ImageFormat::kVdi:
      if (head.size() < 0x180) return Unsafe(label, "VDI header is truncated");
      facts.virtual_size = Le64(head.data() + 0x170);
      break;
    case ImageFormat::kRaw:
      break;
  }
  return facts;
}

Status CheckRawDiskSize(uint64_t size, const std::string& label) {
  if (size == 0)
    return Unsafe(label, "the file is empty (0 bytes); a disk image holds whole 512-byte sectors");
  if (size % kSector != 0) {
    return Unsafe(label, "its size, " + std::to_string(size) +
                             " bytes, is not a whole number of 512-byte sectors, so it cannot be a disk");
  }
  return Status::Ok();
}

Result<ImageFacts> CheckImportImage(int fd, uint64_t file_size, const std::string& claimed,
                                    const std::string& label) {
  if (file_size == 0) return CheckRawDiskSize(file_size, label);
  ImageFormat want = ImageFormat::kRaw;
  if (claimed == "QCOW2") {
    want = ImageFormat::kQcow2;
  } else if (claimed == "VHD") {
    want = ImageFormat::kVpc;
  } else if (claimed == "VMDK") {
    want = ImageFormat::kVmdk;
  } else if (!claimed.empty() && claimed != "RAW") {
    return Unsafe(label, "format " + claimed + " is not supported (use RAW, QCOW2, VHD, VMDK)");
  }
  // RAW too is inspected: bytes in another format are not the disk the
  // owner meant (they are still never interpreted as raw: raw is read by
  // Ferry alone).
  ASSIGN_OR_RETURN(ImageFacts facts, InspectImage(fd, file_size, label));
  bool importable = facts.format == ImageFormat::kRaw || facts.format == ImageFormat::kQcow2 ||
                    facts.format == ImageFormat::kVpc || facts.format == ImageFormat::kVmdk;
  if (!importable)
    return Unsafe(label,
                  ImageFormatName(facts.format) + " images are not supported (use RAW, QCOW2, VHD, VMDK)");
  if (!claimed.empty() && facts.format != want) {
    return Unsafe(label, "the image is " + ImageFormatName(facts.format) + ", not " + claimed);
  }
  if (facts.format == ImageFormat::kRaw) {
    RETURN_IF_ERROR(CheckRawDiskSize(file_size, label));
  } else if (facts.virtual_size == 0 || facts.virtual_size % kSector != 0) {
    return Unsafe(label, "its header's virtual size, " + std::to_string(facts.virtual_size) +
                             " bytes, is not a whole, non-zero number of 512-byte sectors");
  }
  if (facts.virtual_size > kMaxImageVirtualSize) {
    return Unsafe(label, "virtual size " + std::to_string(facts.virtual_size) +
                             " bytes exceeds the maximum of " + std::to_string(kMaxImageVirtualSize) +
                             " bytes (32 TiB)");
  }
  return facts;
}

// ------------------------------------------------------------ disk content

namespace {

constexpr uint16_t kExtMagic = 0xef53;
constexpr uint32_t kExtCompatHasJournal = 0x4;
constexpr uint32_t kExtIncompatExt4 = 0x40 | 0x80 | 0x200;  // extents, 64bit, flex_bg
constexpr uint32_t kMaxGptEntries = 128;
constexpr uint32_t kMaxGptEntryBytes = 512;

uint16_t Le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }

bool HasAt(const std::vector<uint8_t>& b, size_t at, const char* magic, size_t n) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

// The file system whose magic starts `b` (the first bytes of a disk or a
// partition), "" when none is recognised.
std::string FileSystemAt(const std::vector<uint8_t>& b) {
  if (b.size() >= 1024 + 0x68 && Le16(b.data() + 1024 + 0x38) == kExtMagic) {
    const uint32_t compat = Le32(b.data() + 1024 + 0x5c);
    const uint32_t incompat = Le32(b.data() + 1024 + 0x60);
    if (incompat & kExtIncompatExt4) return "ext4";
    return compat & kExtCompatHasJournal ? "ext3" : "ext2";
  }
  if (HasAt(b, 0, "XFSB", 4)) return "xfs";
  if (HasAt(b, 0x10040, "_BHRfS_M", 8)) return "btrfs";
  if (HasAt(b, 3, "NTFS    ", 8)) return "ntfs";
  if (HasAt(b, 3, "EXFAT   ", 8)) return "exfat";
  if (HasAt(b, 0x52, "FAT32   ", 8) || HasAt(b, 0x36, "FAT16   ", 8) || HasAt(b, 0x36, "FAT12   ", 8))
    return "vfat";
  if (HasAt(b, 4096 - 10, "SWAPSPACE2", 10) || HasAt(b, 4096 - 10, "SWAP-SPACE", 10)) return "swap";
  if (HasAt(b, 512, "LABELONE", 8) && HasAt(b, 512 + 24, "LVM2 001", 8)) return "LVM2_member";
  if (HasAt(b, 0, "hsqs", 4)) return "squashfs";
  if (HasAt(b, 0x8001, "CD001", 5)) return "iso9660";
  return "";
}

struct Partition {
  uint64_t start_bytes = 0;
};

// GPT entries named by the header in `lba1`; bounded by kMaxGptEntries.
Result<std::vector<Partition>> GptPartitions(int fd, uint64_t size, const std::vector<uint8_t>& lba1,
                                             const std::string& label) {
  std::vector<Partition> out;
  const uint64_t entries_lba = Le64(lba1.data() + 72);
  const uint32_t count = std::min(Le32(lba1.data() + 80), kMaxGptEntries);
  const uint32_t entry_bytes = Le32(lba1.data() + 84);
  if (entry_bytes < 128 || entry_bytes > kMaxGptEntryBytes || entry_bytes % 8 != 0) return out;
  if (entries_lba == 0 || entries_lba > size / kSector) return out;
  ASSIGN_OR_RETURN(std::vector<uint8_t> table,
                   ReadAt(fd, entries_lba * kSector, uint64_t{count} * entry_bytes, label));
  for (uint32_t i = 0; i + 1 <= count && (uint64_t{i} + 1) * entry_bytes <= table.size(); ++i) {
    const uint8_t* e = table.data() + uint64_t{i} * entry_bytes;
    bool used = false;
    for (int k = 0; k < 16; ++k) used = used || e[k] != 0;  // the type GUID
    if (!used) continue;
    const uint64_t first_lba = Le64(e + 32);
    if (first_lba == 0 || first_lba > size / kSector) continue;
    out.push_back({first_lba * kSector});
  }
  return out;
}

}  // namespace

std::string DiskContent::Describe() const {
  std::string systems;
  for (const std::string& fs : file_systems) systems += (systems.empty() ? "" : ", ") + fs;
  if (partition_table.empty()) return systems.empty() ? "unknown" : systems;
  return systems.empty() ? partition_table : partition_table + ": " + systems;
}

Result<DiskContent> DetectDiskContent(int fd, uint64_t size, const std::string& label) {
  DiskContent content;
  ASSIGN_OR_RETURN(std::vector<uint8_t> head, ReadAt(fd, 0, std::min(size, kFileSystemProbeBytes), label));
  // A file system on the whole disk (a FAT or NTFS boot sector also ends in
  // 0x55aa, so this is asked first).
  if (std::string fs = FileSystemAt(head); !fs.empty()) {
    content.file_systems.push_back(fs);
    return content;
  }
  if (head.size() < 2 * kSector || head[510] != 0x55 || head[511] != 0xaa) return content;
  std::vector<Partition> partitions;
  if (HasAt(head, kSector, "EFI PART", 8)) {
    content.partition_table = "gpt";
    std::vector<uint8_t> lba1(head.begin() + kSector, head.begin() + 2 * kSector);
    ASSIGN_OR_RETURN(partitions, GptPartitions(fd, size, lba1, label));
  } else {
    for (int i = 0; i < 4; ++i) {
      const uint8_t* e = head.data() + 446 + 16 * i;
      if (e[0] != 0x00 && e[0] != 0x80) return DiskContent{};  // not a partition table
      const uint8_t type = e[4];
      const uint64_t start = Le32(e + 8);
      if (type == 0 || start == 0) continue;
      if (content.partition_table.empty()) content.partition_table = "mbr";
      // Extended partitions chain further tables; their logical partitions
      // are not followed (bounded reads).
      if (type == 0x05 || type == 0x0f || type == 0x85) continue;
      partitions.push_back({start * kSector});
    }
  }
  for (size_t i = 0; i < partitions.size() && i < kMaxProbedPartitions; ++i) {
    if (partitions[i].start_bytes >= size) continue;
    content.partition_starts.push_back(partitions[i].start_bytes);
    ASSIGN_OR_RETURN(std::vector<uint8_t> part,
                     ReadAt(fd, partitions[i].start_bytes,
                            std::min(kFileSystemProbeBytes, size - partitions[i].start_bytes), label));
    if (std::string fs = FileSystemAt(part); !fs.empty()) content.file_systems.push_back(fs);
  }
  return content;
}

}  // namespace ferry
