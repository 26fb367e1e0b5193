// The image inspector against one crafted image per door (untrusted-images.md
// section 1), built here with qemu-img create or by writing header bytes, and
// the resource-limited qemu-img runs behind it.
#include "region/image_inspector.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/fs_util.h"
#include "common/ids.h"
#include "region/disk_tools.h"
#include "region/subprocess.h"

namespace ferry {
namespace {

constexpr uint64_t kMiB = 1ull << 20;

class ImageInspectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/inspector-test-" + RandomHex(6);
    ASSERT_TRUE(MakeDirs(dir_).ok());
    secret_ = dir_ + "/host-secret.txt";
    ASSERT_TRUE(WriteFileAtomic(secret_, std::string(4096, 'S')).ok());
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string Path(const std::string& name) { return dir_ + "/" + name; }

  void QemuImg(std::vector<std::string> args) {
    args.insert(args.begin(), "qemu-img");
    Result<ProcessResult> r = RunProcess(args);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->exit_code, 0) << DescribeFailure(args, *r);
  }

  std::string Create(const std::string& name, const std::string& format, const std::string& size,
                     std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"create", "-q", "-f", format};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(Path(name));
    args.push_back(size);
    QemuImg(args);
    return Path(name);
  }

  static void Patch(const std::string& path, uint64_t offset, const std::string& bytes) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(
        PwriteFull(fd.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), offset, path)
            .ok());
  }
  static std::string Be32(uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  }
  static std::string Be64(uint64_t v) {
    return Be32(static_cast<uint32_t>(v >> 32)) + Be32(static_cast<uint32_t>(v));
  }

  // Inspects `path` for import as `claimed`.
  Result<ImageFacts> Check(const std::string& path, const std::string& claimed) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus("open", path, errno);
    struct stat st {};
    ::fstat(fd.get(), &st);
    return CheckImportImage(fd.get(), static_cast<uint64_t>(st.st_size), claimed, "OSS object b/x");
  }

  // Expects a refusal naming `why`, and no host path in the message.
  void ExpectRefused(const std::string& path, const std::string& claimed, const std::string& why) {
    Result<ImageFacts> r = Check(path, claimed);
    ASSERT_FALSE(r.ok()) << path << " was accepted as " << ImageFormatName(r->format);
    EXPECT_EQ(r.status().reason(), "InvalidImageFormat.Malformed");
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("OSS object b/x"), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find(dir_), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().find("/etc"), std::string::npos) << r.status().message();
  }

  std::string dir_;
  std::string secret_;
};

// ------------------------------------------------------------ accepted

TEST_F(ImageInspectorTest, AcceptsPlainImagesOfEachFormatWithTheirVirtualSize) {
  struct Case {
    std::string name, format, claim;
    std::vector<std::string> opts;
    ImageFormat want;
  };
  std::vector<Case> cases = {
      {"a.qcow2", "qcow2", "QCOW2", {}, ImageFormat::kQcow2},
      {"v2.qcow2", "qcow2", "QCOW2", {"-o", "compat=0.10"}, ImageFormat::kQcow2},
      {"s.vmdk", "vmdk", "VMDK", {}, ImageFormat::kVmdk},
      {"so.vmdk", "vmdk", "VMDK", {"-o", "subformat=streamOptimized"}, ImageFormat::kVmdk},
      {"d.vhd", "vpc", "VHD", {}, ImageFormat::kVpc},
      {"f.vhd", "vpc", "VHD", {"-o", "subformat=fixed"}, ImageFormat::kVpc},
  };
  for (const Case& c : cases) {
    std::string path = Create(c.name, c.format, "64M", c.opts);
    for (const std::string& claim : {c.claim, std::string()}) {
      Result<ImageFacts> r = Check(path, claim);
      ASSERT_TRUE(r.ok()) << c.name << ": " << r.status().ToString();
      EXPECT_EQ(r->format, c.want) << c.name;
      EXPECT_GE(r->virtual_size, 64 * kMiB) << c.name;
      EXPECT_LT(r->virtual_size, 65 * kMiB) << c.name;
    }
    // qemu-img agrees, reading through the descriptor under its limits.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    Result<ImageFacts> facts = Check(path, c.claim);
    ASSERT_TRUE(facts.ok());
    Status info = CheckWithQemuInfo(fd.get(), &*facts, "OSS object b/x", nullptr);
    EXPECT_TRUE(info.ok()) << c.name << ": " << info.ToString();
  }
}

TEST_F(ImageInspectorTest, RawIsWhateverIsNotAnotherFormat) {
  std::string path = Path("disk.raw");
  ASSERT_TRUE(WriteFileAtomic(path, std::string(3 * kMiB, 'r')).ok());
  Result<ImageFacts> r = Check(path, "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->format, ImageFormat::kRaw);
  EXPECT_EQ(r->virtual_size, 3 * kMiB);
  ASSERT_TRUE(Check(path, "RAW").ok());
}

TEST_F(ImageInspectorTest, AnotherFormatClaimedAsRawIsRefused) {
  // A qcow2 (or VHD, VMDK) file is not the raw disk its owner meant: the
  // claim does not match the bytes. (Raw bytes are never given to qemu-img
  // either way.)
  ExpectRefused(Create("a.qcow2", "qcow2", "64M"), "RAW", "the image is qcow2, not RAW");
  ExpectRefused(Create("a.vmdk", "vmdk", "64M"), "RAW", "the image is vmdk, not RAW");
  ExpectRefused(Create("a.vhd", "vpc", "64M"), "RAW", "the image is vpc, not RAW");
  // One that names a host file is refused as well, for that.
  ExpectRefused(Create("b.qcow2", "qcow2", "64M", {"-u", "-b", secret_, "-F", "raw"}), "RAW", "backing file");
}

TEST_F(ImageInspectorTest, WhatCannotBeADiskIsRefused) {
  struct Case {
    std::string name;
    uint64_t size;
    std::string why;
  };
  for (const Case& c : std::vector<Case>{
           {"empty.raw", 0, "the file is empty (0 bytes); a disk image holds whole 512-byte sectors"},
           {"text.raw", 6,
            "its size, 6 bytes, is not a whole number of 512-byte sectors, so it cannot be a disk"},
           {"odd.raw", kMiB + 1, "its size, 1048577 bytes, is not a whole number of 512-byte sectors"}}) {
    ASSERT_TRUE(WriteFileAtomic(Path(c.name), std::string(c.size, 'x')).ok());
    for (const std::string claim : {"", "RAW"}) ExpectRefused(Path(c.name), claim, c.why);
    ExpectRefused(Path(c.name), "QCOW2", c.size == 0 ? c.why : "the image is raw, not QCOW2");
  }
  // The same size rule, alone (what the CLI checks before uploading).
  EXPECT_TRUE(CheckRawDiskSize(512, "f").ok());
  EXPECT_EQ(CheckRawDiskSize(0, "f").reason(), "InvalidImageFormat.Malformed");
  EXPECT_EQ(
      CheckRawDiskSize(513, "f").message(),
      "disk image f: its size, 513 bytes, is not a whole number of 512-byte sectors, so it cannot be a disk");
  // A container whose header gives a size of partial sectors.
  std::string q = Create("partial.qcow2", "qcow2", "1M");
  Patch(q, 24, Be64(kMiB - 24));
  ExpectRefused(q, "QCOW2",
                "virtual size, 1048552 bytes, is not a whole, non-zero number of 512-byte sectors");
  Patch(q, 24, Be64(0));
  ExpectRefused(q, "", "virtual size, 0 bytes");
}

// Disk content: hand-built partition tables and file-system magic numbers.
class DiskContentTest : public ImageInspectorTest {
 protected:
  // Writes `bytes` (sparse elsewhere) into a `size`-byte file and describes it.
  std::string Describe(uint64_t size, const std::vector<std::pair<uint64_t, std::string>>& bytes) {
    const std::string path = Path("content-" + RandomHex(4) + ".raw");
    EXPECT_TRUE(WriteFileAtomic(path, "").ok());
    std::filesystem::resize_file(path, size);
    for (const auto& [at, b] : bytes) Patch(path, at, b);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    Result<DiskContent> content = DetectDiskContent(fd.get(), size, "OSS object b/x");
    EXPECT_TRUE(content.ok()) << content.status().ToString();
    return content.ok() ? content->Describe() : "";
  }
  static std::string Le32(uint32_t v) {
    return std::string{static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
                       static_cast<char>(v >> 24)};
  }
  static std::string Le64(uint64_t v) {
    return Le32(static_cast<uint32_t>(v)) + Le32(static_cast<uint32_t>(v >> 32));
  }
  // An MBR partition entry.
  static std::string MbrEntry(uint8_t type, uint32_t start_lba, uint32_t sectors) {
    return std::string{'\0', '\0', '\0', '\0', static_cast<char>(type), '\0', '\0', '\0'} + Le32(start_lba) +
           Le32(sectors);
  }
};

TEST_F(DiskContentTest, FindsPartitionTablesAndFileSystemsByTheirMagic) {
  const uint64_t size = 16 * kMiB;
  EXPECT_EQ(Describe(size, {}), "unknown");
  EXPECT_EQ(Describe(size, {{0, "XFSB"}}), "xfs");
  // ext4 on the whole disk: the superblock at 1024, magic at +0x38,
  // incompatible features (extents) at +0x60.
  EXPECT_EQ(Describe(size, {{1024 + 0x38, "\x53\xef"}, {1024 + 0x60, Le32(0x40)}}), "ext4");
  EXPECT_EQ(Describe(size, {{1024 + 0x38, "\x53\xef"}, {1024 + 0x5c, Le32(0x4)}}), "ext3");

  // MBR: ext4 at 1 MiB, NTFS at 4 MiB, an extended partition (not
  // followed), a partition with nothing recognisable.
  const std::string sig = "\x55\xaa";
  EXPECT_EQ(Describe(size, {{446, MbrEntry(0x83, 2048, 4096) + MbrEntry(0x07, 8192, 4096) +
                                      MbrEntry(0x05, 16384, 4096) + MbrEntry(0x83, 24576, 100)},
                            {510, sig},
                            {kMiB + 1024 + 0x38, "\x53\xef"},
                            {kMiB + 1024 + 0x60, Le32(0x40)},
                            {4 * kMiB + 3, "NTFS    "}}),
            "mbr: ext4, ntfs");
  // A boot flag other than 0x00/0x80 is not a partition table.
  std::string bad = MbrEntry(0x83, 2048, 4096);
  bad[0] = 0x12;
  EXPECT_EQ(Describe(size, {{446, bad}, {510, sig}}), "unknown");

  // GPT: protective MBR, header at LBA 1, 4 entries of 128 bytes at LBA 2:
  // an EFI system partition (FAT32) at 1 MiB, swap at 2 MiB, LVM at 3 MiB.
  std::string header = "EFI PART";
  header.resize(92, '\0');
  header.replace(72, 8, Le64(2));
  header.replace(80, 4, Le32(4));
  header.replace(84, 4, Le32(128));
  auto entry = [&](uint64_t first_lba) {
    std::string e(128, '\0');
    e[0] = 0x28;  // any non-zero type GUID
    e.replace(32, 8, Le64(first_lba));
    return e;
  };
  const std::string gpt = Describe(size, {{446, MbrEntry(0xee, 1, 32767)},
                                          {510, sig},
                                          {512, header},
                                          {1024, entry(2048) + entry(4096) + entry(6144)},
                                          {kMiB + 0x52, "FAT32   "},
                                          {2 * kMiB + 4096 - 10, "SWAPSPACE2"},
                                          {3 * kMiB + 512, "LABELONE"},
                                          {3 * kMiB + 512 + 24, "LVM2 001"}});
  EXPECT_EQ(gpt, "gpt: vfat, swap, LVM2_member");
}

TEST_F(DiskContentTest, HostileTablesAreReadWithinBounds) {
  const uint64_t size = 4 * kMiB;
  const std::string sig = "\x55\xaa";
  // A GPT claiming a billion entries far beyond the disk, and one whose
  // partitions start past its end: nothing is read out of bounds, and the
  // table is still reported.
  std::string header = "EFI PART";
  header.resize(92, '\0');
  header.replace(72, 8, Le64(2));
  header.replace(80, 4, Le32(1000000000));
  header.replace(84, 4, Le32(128));
  std::string entries;
  for (int i = 0; i < 200; ++i) {
    std::string e(128, '\0');
    e[0] = 1;
    e.replace(32, 8, Le64(i % 2 == 0 ? (1ull << 60) : 2048));
    entries += e;
  }
  EXPECT_EQ(Describe(size, {{510, sig}, {512, header}, {1024, entries}}), "gpt");
  header.replace(72, 8, Le64(1ull << 62));  // entries past the end
  EXPECT_EQ(Describe(size, {{510, sig}, {512, header}}), "gpt");
  header.replace(72, 8, Le64(2));
  header.replace(84, 4, Le32(1u << 31));  // an absurd entry size
  EXPECT_EQ(Describe(size, {{510, sig}, {512, header}}), "gpt");
  // A tiny file: shorter than a sector.
  EXPECT_EQ(Describe(100, {}), "unknown");
}

TEST_F(DiskContentTest, ARealExt4FileSystem) {
  const std::string path = Path("real-ext4.raw");
  ASSERT_TRUE(WriteFileAtomic(path, "").ok());
  std::filesystem::resize_file(path, 32 * kMiB);
  std::vector<std::string> args = {"mkfs.ext4", "-qF", path};
  Result<ProcessResult> r = RunProcess(args);
  ASSERT_TRUE(r.ok() && r->exit_code == 0) << (r.ok() ? DescribeFailure(args, *r) : r.status().ToString());
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  Result<DiskContent> content = DetectDiskContent(fd.get(), 32 * kMiB, "x");
  ASSERT_TRUE(content.ok());
  EXPECT_EQ(content->Describe(), "ext4");
}

// ------------------------------------------------------------- refused

TEST_F(ImageInspectorTest, RawClaimedAsAnotherFormatIsRefused) {
  std::string path = Path("disk.raw");
  ASSERT_TRUE(WriteFileAtomic(path, std::string(kMiB, 'r')).ok());
  ExpectRefused(path, "QCOW2", "the image is raw, not QCOW2");
  ExpectRefused(path, "VMDK", "the image is raw, not VMDK");
  ExpectRefused(path, "VHD", "the image is raw, not VHD");
  ExpectRefused(path, "ISO", "format ISO is not supported");
  std::string qcow = Create("a.qcow2", "qcow2", "1M");
  ExpectRefused(qcow, "VHD", "the image is qcow2, not VHD");
}

TEST_F(ImageInspectorTest, Qcow2WithABackingFileIsRefused) {
  std::string plain = Create("plain.qcow2", "qcow2", "1M", {"-u", "-b", secret_, "-F", "raw"});
  ExpectRefused(plain, "QCOW2", "backing file");
  ExpectRefused(plain, "", "backing file");
  std::string json =
      Create("json.qcow2", "qcow2", "1M",
             {"-u", "-b", R"(json:{"driver":"raw","file":{"driver":"file","filename":"/etc/passwd"}})", "-F",
              "raw"});
  ExpectRefused(json, "QCOW2", "backing file");
  std::string nbd = Create("nbd.qcow2", "qcow2", "1M", {"-u", "-b", "nbd://127.0.0.1:1/x", "-F", "raw"});
  ExpectRefused(nbd, "QCOW2", "backing file");
  // A length without an offset (or the reverse) is refused too.
  std::string len_only = Create("len.qcow2", "qcow2", "1M");
  Patch(len_only, 16, Be32(11));
  ExpectRefused(len_only, "QCOW2", "backing file");
  // The backing format extension alone (offset and length cleared).
  Patch(plain, 8, Be64(0) + Be32(0));
  ExpectRefused(plain, "QCOW2", "backing");
}

TEST_F(ImageInspectorTest, Qcow2WithAnExternalDataFileIsRefused) {
  std::string path = Create("df.qcow2", "qcow2", "1M", {"-o", "data_file=" + Path("df.raw")});
  ExpectRefused(path, "QCOW2", "external data file");
  // Without the incompatible bit, the extension naming the file still is.
  Patch(path, 72, Be64(0));
  ExpectRefused(path, "QCOW2", "external data file");
  // The raw-external-data autoclear bit alone.
  std::string ac = Create("ac.qcow2", "qcow2", "1M");
  Patch(ac, 88, Be64(2));
  ExpectRefused(ac, "QCOW2", "autoclear bit 1");
}

TEST_F(ImageInspectorTest, Qcow2WithUnknownIncompatibleBitsIsRefused) {
  for (uint64_t bits : {1ull << 4, 1ull << 5, 1ull << 63}) {
    std::string path = Create("u.qcow2", "qcow2", "1M");
    Patch(path, 72, Be64(bits));
    ExpectRefused(path, "QCOW2", "incompatible feature bits");
  }
  // The dirty bit is known and harmless for reading.
  std::string dirty = Create("dirty.qcow2", "qcow2", "1M");
  Patch(dirty, 72, Be64(1));
  EXPECT_TRUE(Check(dirty, "QCOW2").ok());
}

TEST_F(ImageInspectorTest, EncryptedAndUnknownVersionQcow2AreRefused) {
  // A real LUKS image. qemu-img times its key derivation with the thread's
  // CPU clock and now and then measures nothing ("Unable to get accurate
  // CPU usage", about one run in four here): a few tries.
  const std::string enc = Path("enc.qcow2");
  std::string last_error;
  for (int attempt = 0; attempt < 8 && !std::filesystem::exists(enc); ++attempt) {
    std::vector<std::string> args = {"qemu-img", "create", "-q", "-f", "qcow2", "--object", "secret,id=sec0,data=abc",
                                     "-o", "encrypt.format=luks,encrypt.key-secret=sec0", enc, "1M"};
    Result<ProcessResult> r = RunProcess(args);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    if (r->exit_code != 0) {
      last_error = DescribeFailure(args, *r);
      std::filesystem::remove(enc);
    }
  }
  ASSERT_TRUE(std::filesystem::exists(enc)) << last_error;
  ExpectRefused(enc, "QCOW2", "encrypted");
  // LUKS named in the header of an otherwise plain image (crypt_method 2).
  std::string luks = Create("luks.qcow2", "qcow2", "1M");
  Patch(luks, 32, Be32(2));
  ExpectRefused(luks, "QCOW2", "encrypted");
  std::string aes = Create("aes.qcow2", "qcow2", "1M");
  Patch(aes, 32, Be32(1));
  ExpectRefused(aes, "QCOW2", "encrypted");
  std::string v4 = Create("v4.qcow2", "qcow2", "1M");
  Patch(v4, 4, Be32(4));
  ExpectRefused(v4, "QCOW2", "version 4");
}

TEST_F(ImageInspectorTest, Qcow2HeaderBombIsRefusedBeforeQemuImgRuns) {
  std::string l1 = Create("l1.qcow2", "qcow2", "1M");
  Patch(l1, 36, Be32(0xffffffff));
  ExpectRefused(l1, "QCOW2", "L1 table");
  std::string cb = Create("cb.qcow2", "qcow2", "1M");
  Patch(cb, 20, Be32(40));
  ExpectRefused(cb, "QCOW2", "cluster_bits");
  std::string rt = Create("rt.qcow2", "qcow2", "1M");
  Patch(rt, 56, Be32(0x7fffffff));
  ExpectRefused(rt, "QCOW2", "refcount table");
  // A virtual size the L1 table cannot cover, and one over Ferry's maximum.
  std::string vs = Create("vs.qcow2", "qcow2", "1M");
  Patch(vs, 24, Be64(1ull << 62));
  ExpectRefused(vs, "QCOW2", "does not cover");
  std::string big = Create("big.qcow2", "qcow2", "64T");
  ExpectRefused(big, "QCOW2", "exceeds the maximum");
}

TEST_F(ImageInspectorTest, QemuImgInfoOnAHeaderBombEndsUnderItsLimits) {
  // Even when handed a bomb the inspector would refuse, qemu-img info runs
  // under its limits and ends with a clear refusal (here qemu's own).
  std::string l1 = Create("l1.qcow2", "qcow2", "1M");
  Patch(l1, 36, Be32(0x10000000));
  UniqueFd fd(::open(l1.c_str(), O_RDONLY | O_CLOEXEC));
  ImageFacts facts;
  facts.format = ImageFormat::kQcow2;
  facts.virtual_size = kMiB;
  Status st = CheckWithQemuInfo(fd.get(), &facts, "OSS object b/x", nullptr);
  EXPECT_EQ(st.reason(), "InvalidImageFormat.Malformed") << st.ToString();
  EXPECT_EQ(st.message().find(dir_), std::string::npos) << st.message();
}

TEST_F(ImageInspectorTest, VmdkDescriptorFilesAndExtentsNamingOtherFilesAreRefused) {
  // A text descriptor whose FLAT extent is a host file.
  std::string text = Path("text.vmdk");
  ASSERT_TRUE(WriteFileAtomic(text,
                              "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
                              "createType=\"monolithicFlat\"\nRW 8 FLAT \"/etc/passwd\" 0\n")
                  .ok());
  ExpectRefused(text, "VMDK", "descriptor files are not supported");
  ExpectRefused(text, "", "descriptor files are not supported");
  // What qemu-img makes for multi-file VMDKs.
  ExpectRefused(Create("mf.vmdk", "vmdk", "1M", {"-o", "subformat=monolithicFlat"}), "VMDK",
                "descriptor files are not supported");
  ExpectRefused(Create("tg.vmdk", "vmdk", "1M", {"-o", "subformat=twoGbMaxExtentSparse"}), "VMDK",
                "descriptor files are not supported");

  // A sparse (KDMV) file whose embedded descriptor names a host file.
  std::string sparse = Create("s.vmdk", "vmdk", "1M");
  std::string desc =
      "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\n"
      "RW 2048 SPARSE \"s.vmdk\"\nRW 2048 FLAT \"/etc/passwd\" 0\n";
  desc.resize(1024, '\0');
  Patch(sparse, 512, desc);
  ExpectRefused(sparse, "VMDK", "extent naming another file");
  std::string rel = Create("rel.vmdk", "vmdk", "1M");
  std::string rel_desc =
      "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicSparse\"\nRW 2048 FLAT \"../x\" 0\n";
  rel_desc.resize(1024, '\0');
  Patch(rel, 512, rel_desc);
  ExpectRefused(rel, "VMDK", "extent naming another file");
  // A create type other than the two single-file ones, and a parent.
  std::string flat = Create("ft.vmdk", "vmdk", "1M");
  std::string flat_desc =
      "# Disk DescriptorFile\nversion=1\ncreateType=\"twoGbMaxExtentSparse\"\nRW 2048 SPARSE \"a\"\n";
  flat_desc.resize(1024, '\0');
  Patch(flat, 512, flat_desc);
  ExpectRefused(flat, "VMDK", "createType \"twoGbMaxExtentSparse\" is not supported");
  std::string parent = Create("p.vmdk", "vmdk", "1M");
  std::string parent_desc =
      "# Disk DescriptorFile\nversion=1\ncreateType=\"monolithicSparse\"\nparentFileNameHint=\"x\"\n"
      "RW 2048 SPARSE \"p.vmdk\"\n";
  parent_desc.resize(1024, '\0');
  Patch(parent, 512, parent_desc);
  ExpectRefused(parent, "VMDK", "parent file");
  // A descriptor moved away from sector 1.
  std::string moved = Create("m.vmdk", "vmdk", "1M");
  Patch(moved, 28, std::string("\x02\0\0\0\0\0\0\0", 8));
  ExpectRefused(moved, "VMDK", "not at sector 1");
}

TEST_F(ImageInspectorTest, DifferencingVhdIsRefused) {
  for (const std::string sub : {"fixed", "dynamic"}) {
    std::string path = Create(sub + ".vhd", "vpc", "1M", {"-o", "subformat=" + sub});
    uint64_t size = std::filesystem::file_size(path);
    Patch(path, size - 512 + 60, Be32(4));
    if (sub == "dynamic") Patch(path, 60, Be32(4));
    ExpectRefused(path, "VHD", "differencing VHD");
  }
}

TEST_F(ImageInspectorTest, QedVhdxAndAmbiguousImagesAreRefused) {
  std::string qed = Create("q.qed", "qed", "1M");
  ExpectRefused(qed, "", "QED images are not supported");
  ExpectRefused(qed, "QCOW2", "QED images are not supported");
  std::string vhdx = Create("x.vhdx", "vhdx", "4M");
  ExpectRefused(vhdx, "", "VHDX images are not supported");
  // A qcow2 header with a VHD footer at the end.
  std::string both = Create("both.qcow2", "qcow2", "1M");
  uint64_t size = std::filesystem::file_size(both);
  std::string footer = "conectix";
  footer.resize(512, '\0');
  Patch(both, size, footer);
  ExpectRefused(both, "QCOW2", "more than one format");
}

// ------------------------------------------------- limited qemu-img runs

TEST(SubprocessLimitsTest, OnlyTheGivenDescriptorIsInheritedAsFd3) {
  std::string path = ::testing::TempDir() + "/inherit-" + RandomHex(6);
  ASSERT_TRUE(WriteFileAtomic(path, "inherited bytes").ok());
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  UniqueFd other(::fcntl(fd.get(), F_DUPFD, 50));  // not even O_CLOEXEC
  ::unlink(path.c_str());                          // the child can only reach it through fd 3
  ProcessOptions opts;
  opts.inherit_fd = fd.get();
  Result<ProcessResult> r = RunProcess({"sh", "-c", "cat /proc/self/fd/3; echo; ls /proc/self/fd"}, opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->exit_code, 0) << r->stderr_text;
  EXPECT_EQ(r->stdout_text.rfind("inherited bytes\n", 0), 0u) << r->stdout_text;
  // 0-2, 3, and the descriptor ls opens for /proc/self/fd itself.
  std::string listing = r->stdout_text.substr(std::strlen("inherited bytes\n"));
  listing = "\n" + listing;
  EXPECT_EQ(listing.find("\n" + std::to_string(other.get()) + "\n"), std::string::npos) << listing;
  EXPECT_NE(listing.find("\n3\n"), std::string::npos) << listing;
}

TEST(SubprocessLimitsTest, LimitsAreAppliedInTheChild) {
  ProcessOptions opts;
  opts.address_space_bytes = 256ull << 20;
  opts.cpu_seconds = 7;
  opts.file_size_bytes = 12345 * 512;
  Result<ProcessResult> r = RunProcess({"sh", "-c", "ulimit -v; ulimit -t; ulimit -f"}, opts);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->stdout_text, "262144\n7\n12345\n");
}

TEST(SubprocessLimitsTest, CpuAndFileSizeLimitsKillAndTheDeadlineStops) {
  ProcessOptions cpu;
  cpu.cpu_seconds = 1;
  Result<ProcessResult> spin = RunProcess({"sh", "-c", "while :; do :; done"}, cpu);
  ASSERT_TRUE(spin.ok());
  EXPECT_TRUE(spin->exit_code == 128 + SIGXCPU || spin->exit_code == 128 + SIGKILL) << spin->exit_code;

  std::string out = ::testing::TempDir() + "/fsize-" + RandomHex(6);
  ProcessOptions fsize;
  fsize.file_size_bytes = 4096;
  Result<ProcessResult> big = RunProcess({"sh", "-c", "head -c 65536 /dev/zero > " + out}, fsize);
  ASSERT_TRUE(big.ok());
  EXPECT_NE(big->exit_code, 0);
  EXPECT_LE(std::filesystem::file_size(out), 4096u);
  ::unlink(out.c_str());

  ProcessOptions wall;
  wall.deadline = std::chrono::milliseconds(200);
  Result<ProcessResult> slow = RunProcess({"sleep", "30"}, wall);
  ASSERT_TRUE(slow.ok()) << slow.status().ToString();
  EXPECT_TRUE(slow->deadline_exceeded);
  EXPECT_EQ(slow->exit_code, 128 + SIGKILL);
}

// A child does not outlive the process that ran it: when that process is
// killed (kill -9 of the server during a snapshot), the qemu-img it ran goes
// too, instead of converting a disk for nobody into a temp the restarted
// server has already unlinked. With and without network isolation.
TEST(SubprocessLimitsTest, AChildDiesWithTheProcessThatRanIt) {
  for (bool no_network : {false, true}) {
    const std::string pid_file = ::testing::TempDir() + "/child-pid-" + RandomHex(6);
    const pid_t runner = ::fork();
    ASSERT_GE(runner, 0);
    if (runner == 0) {
      ProcessOptions opts;
      opts.no_network = no_network;
      (void)RunProcess(
          {"sh", "-c",
           "echo $$ > " + pid_file + ".tmp && mv " + pid_file + ".tmp " + pid_file + " && exec sleep 60"},
          opts);
      ::_exit(0);
    }
    pid_t child = -1;
    for (int i = 0; i < 1000 && child < 0; ++i) {
      Result<std::string> text = ReadFileToString(pid_file);
      if (text.ok() && !text->empty()) {
        child = static_cast<pid_t>(std::stol(*text));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    ::kill(runner, SIGKILL);
    ::waitpid(runner, nullptr, 0);
    ::unlink(pid_file.c_str());
    ASSERT_GT(child, 0) << "the child never wrote its pid";
    // Gone, or a zombie nobody has reaped yet.
    auto alive = [child] {
      std::ifstream in("/proc/" + std::to_string(child) + "/stat");
      std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      const size_t paren = stat.rfind(')');
      return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
    };
    for (int i = 0; i < 500 && alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(alive()) << "child " << child << " outlived its runner (no_network " << no_network << ")";
    if (alive()) ::kill(child, SIGKILL);
  }
}

// qemu-img runs with no network: a connection to a port that listens on
// this host's loopback fails from inside, and succeeds without isolation.
TEST(SubprocessLimitsTest, AChildWithoutNetworkReachesNothing) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string connect =
      "exec 5<>/dev/tcp/127.0.0.1/" + std::to_string(ntohs(addr.sin_port)) + " && echo connected";

  Result<ProcessResult> open = RunProcess({"bash", "-c", connect}, ProcessOptions{});
  ASSERT_TRUE(open.ok()) << open.status().ToString();
  EXPECT_EQ(open->stdout_text, "connected\n") << open->stderr_text;

  ProcessOptions isolated;
  isolated.no_network = true;
  Result<ProcessResult> closed = RunProcess({"bash", "-c", connect}, isolated);
  ASSERT_TRUE(closed.ok()) << closed.status().ToString();
  EXPECT_NE(closed->exit_code, 0);
  EXPECT_NE(closed->exit_code, kIsolationFailedExit) << closed->stderr_text;
  EXPECT_EQ(closed->stdout_text, "") << closed->stderr_text;
  // Only a loopback, and it is down.
  Result<ProcessResult> links = RunProcess({"cat", "/proc/self/net/dev"}, isolated);
  ASSERT_TRUE(links.ok()) << links.status().ToString();
  EXPECT_EQ(links->stdout_text.find("eth"), std::string::npos) << links->stdout_text;
  EXPECT_NE(links->stdout_text.find("lo:"), std::string::npos) << links->stdout_text;
}

TEST_F(ImageInspectorTest, ConvertThroughTheDescriptorReadsTheInodeNotThePath) {
  // After the name is replaced by a qcow2 naming a host file, the convert
  // still reads the inode that was opened (and inspected).
  std::string path = Create("a.qcow2", "qcow2", "1M");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd.valid());
  Result<ImageFacts> facts = Check(path, "QCOW2");
  ASSERT_TRUE(facts.ok());
  std::string evil = Create("evil.qcow2", "qcow2", "1M", {"-u", "-b", secret_, "-F", "raw"});
  ASSERT_EQ(::rename(evil.c_str(), path.c_str()), 0);
  std::string out = Path("out.raw");
  Status st =
      ConvertImageFd(fd.get(), *facts, out, "raw", "OSS object b/x", "InvalidImageFormat.Malformed", nullptr);
  ASSERT_TRUE(st.ok()) << st.ToString();
  Result<std::string> bytes = ReadFileToString(out);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, std::string(kMiB, '\0'));
}

TEST_F(ImageInspectorTest, ConvertPinsTheQcow2BackingFileToNull) {
  // Belt and braces: a qcow2 with a backing file that somehow reached
  // conversion still reads nothing from the host file.
  std::string path = Create("b.qcow2", "qcow2", "1M", {"-u", "-b", secret_, "-F", "raw"});
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ImageFacts facts;
  facts.format = ImageFormat::kQcow2;
  facts.virtual_size = kMiB;
  std::string out = Path("out.raw");
  Status st =
      ConvertImageFd(fd.get(), facts, out, "raw", "OSS object b/x", "InvalidImageFormat.Malformed", nullptr);
  if (st.ok()) {
    Result<std::string> bytes = ReadFileToString(out);
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(bytes->find('S'), std::string::npos) << "host file bytes were read";
  }
  // And qemu-img info, the second opinion, sees the backing file.
  Status info = CheckWithQemuInfo(fd.get(), &facts, "OSS object b/x", nullptr);
  EXPECT_NE(info.message().find("backing file"), std::string::npos) << info.ToString();
}

TEST_F(ImageInspectorTest, ConvertOutputBeyondTheVirtualSizeIsStoppedByItsFileSizeLimit) {
  // The output's RLIMIT_FSIZE is the header's virtual size: a run that would
  // write more (here: facts understate the size) fails at once and clearly.
  std::string path = Create("a.qcow2", "qcow2", "4M");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ImageFacts facts;
  facts.format = ImageFormat::kQcow2;
  facts.virtual_size = 64 * 1024;
  Status st = ConvertImageFd(fd.get(), facts, Path("out.raw"), "raw", "OSS object b/x",
                             "InvalidImageFormat.Malformed", nullptr);
  EXPECT_EQ(st.reason(), "InvalidImageFormat.Malformed") << st.ToString();
  EXPECT_NE(st.message().find("OSS object b/x"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("file size limit of 65536 bytes"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find(dir_), std::string::npos) << st.message();
  EXPECT_LE(std::filesystem::file_size(Path("out.raw")), 64u * 1024);
}

// Headers written byte by byte (no qemu-img): the offsets of the spec in
// image_inspector.h.
TEST_F(ImageInspectorTest, HandBuiltHeadersFollowTheDocumentedOffsets) {
  std::string q(65536, '\0');
  auto put = [&](size_t at, const std::string& bytes) { q.replace(at, bytes.size(), bytes); };
  put(0, "QFI\xfb");
  put(4, Be32(3));        // version
  put(20, Be32(16));      // cluster_bits
  put(24, Be64(kMiB));    // size
  put(36, Be32(1));       // l1_size
  put(100, Be32(104));    // header_length
  std::string path = Path("hand.qcow2");
  ASSERT_TRUE(WriteFileAtomic(path, q).ok());
  Result<ImageFacts> r = Check(path, "");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->format, ImageFormat::kQcow2);
  EXPECT_EQ(r->virtual_size, kMiB);
  // An extension 0x44415441 (data file name) after the header.
  put(104, Be32(0x44415441) + Be32(4) + "/etc");
  ASSERT_TRUE(WriteFileAtomic(path, q).ok());
  ExpectRefused(path, "QCOW2", "external data file");

  // A fixed VHD: 1 MiB of data and a footer of disk type 4 at the end.
  std::string v(kMiB + 512, '\0');
  std::string footer = "conectix";
  footer.resize(512, '\0');
  footer.replace(48, 8, Be64(kMiB));
  footer.replace(60, 4, Be32(4));
  v.replace(kMiB, 512, footer);
  std::string vhd = Path("hand.vhd");
  ASSERT_TRUE(WriteFileAtomic(vhd, v).ok());
  ExpectRefused(vhd, "", "differencing VHD");
  footer.replace(60, 4, Be32(2));
  v.replace(kMiB, 512, footer);
  ASSERT_TRUE(WriteFileAtomic(vhd, v).ok());
  r = Check(vhd, "VHD");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->format, ImageFormat::kVpc);
  EXPECT_EQ(r->vpc_current_size, kMiB);
}

}  // namespace
}  // namespace ferry
