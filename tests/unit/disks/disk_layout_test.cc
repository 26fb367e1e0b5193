#include "region/disks/disk_layout.h"

#include <gtest/gtest.h>

#include "common/hash.h"
#include "common/ids.h"
#include "region/disks/qcow2_header.h"

namespace ferry {
namespace {

TEST(DiskLayoutTest, DiskIdsAreEcsShapedOnly) {
  EXPECT_TRUE(IsValidDiskId(NewResourceId("d")));
  EXPECT_TRUE(IsValidDiskId("d-bp1h46wfpjsjastc0001"));
  EXPECT_FALSE(IsValidDiskId("d-bp1h46wfpjsjastc000"));    // 19 characters
  EXPECT_FALSE(IsValidDiskId("d-BP1H46WFPJSJASTC0001"));   // upper case
  EXPECT_FALSE(IsValidDiskId("m-bp1h46wfpjsjastc0001"));   // an image id
  EXPECT_FALSE(IsValidDiskId("d-bp1h46wfpjsjas/../001"));  // a path
  EXPECT_FALSE(IsValidDiskId(""));
}

TEST(DiskLayoutTest, BaseKeysAreLowerHex64) {
  const std::string key(64, 'a');
  EXPECT_TRUE(IsValidBaseKey(key));
  EXPECT_FALSE(IsValidBaseKey(std::string(63, 'a')));
  EXPECT_FALSE(IsValidBaseKey(std::string(64, 'A')));
  EXPECT_FALSE(IsValidBaseKey(std::string(62, 'a') + ".."));
}

TEST(DiskLayoutTest, BaseKeyCoversSizeAndContent) {
  Manifest a = Manifest::Empty(8 << 20);
  Manifest b = Manifest::Empty(12 << 20);
  Manifest c = a;
  EXPECT_EQ(BaseKeyFor(a), BaseKeyFor(c));
  EXPECT_NE(BaseKeyFor(a), BaseKeyFor(b));
  EXPECT_TRUE(IsValidBaseKey(BaseKeyFor(a)));
  // The derivation is part of the on-disk layout (disks.md), spelled out here.
  std::string spec("ferry-disk-base-v1", 18);
  spec.push_back('\0');
  const char size_le[8] = {0, 0, static_cast<char>(0x80), 0, 0, 0, 0, 0};  // 8 MiB
  const char chunk_le[4] = {0, 0, 0x40, 0};                                // 4 MiB
  spec.append(size_le, 8).append(chunk_le, 4);
  const Digest256 content = a.ContentDigest();
  spec.append(reinterpret_cast<const char*>(content.data()), content.size());
  EXPECT_EQ(BaseKeyFor(a), ToHex(Sha256::Of(std::string_view(spec))));
}

TEST(DiskLayoutTest, BackingNameRoundTripsAndRejectsOthers) {
  const std::string key(64, 'b');
  EXPECT_EQ(BackingNameFor(key), "../bases/" + key + ".raw");
  EXPECT_EQ(BaseKeyFromBackingName(BackingNameFor(key)), key);
  EXPECT_FALSE(BaseKeyFromBackingName("/etc/passwd"));
  EXPECT_FALSE(BaseKeyFromBackingName("../bases/" + key));
  EXPECT_FALSE(BaseKeyFromBackingName("../bases/" + key + ".raw/x"));
  EXPECT_FALSE(BaseKeyFromBackingName("json:{\"file\":\"../bases/" + key + ".raw\"}"));
  EXPECT_FALSE(BaseKeyFromBackingName("../../bases/" + key + ".raw"));
}

// A qcow2 v3 header as qemu-img writes it, with the fields the layer reads.
std::vector<uint8_t> Header(uint32_t version, uint64_t incompat, uint32_t crypt, const std::string& backing) {
  std::vector<uint8_t> b(512, 0);
  auto be32 = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  };
  auto be64 = [&](size_t at, uint64_t v) {
    be32(at, static_cast<uint32_t>(v >> 32));
    be32(at + 4, static_cast<uint32_t>(v));
  };
  b[0] = 'Q';
  b[1] = 'F';
  b[2] = 'I';
  b[3] = 0xfb;
  be32(4, version);
  if (!backing.empty()) {
    be64(8, 200);
    be32(16, static_cast<uint32_t>(backing.size()));
    std::copy(backing.begin(), backing.end(), b.begin() + 200);
  }
  be32(20, 16);          // cluster_bits
  be64(24, 1ull << 30);  // size
  be32(32, crypt);
  be64(72, incompat);
  be32(100, 112);  // header_length
  return b;
}

TEST(DiskQcow2HeaderTest, DecodesSizeAndBackingName) {
  auto h = DecodeQcow2Header(Header(3, 0, 0, "../bases/x.raw"), "t");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->version, 3u);
  EXPECT_EQ(h->size, 1ull << 30);
  EXPECT_EQ(h->backing_name, "../bases/x.raw");
  auto none = DecodeQcow2Header(Header(3, kQcow2IncompatDirty, 0, ""), "t");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->backing_name.empty());
}

TEST(DiskQcow2HeaderTest, RejectsWhatCouldReadOtherFiles) {
  EXPECT_EQ(DecodeQcow2Header(Header(3, kQcow2IncompatDataFile, 0, ""), "t").status().code(),
            Code::kDataLoss);
  EXPECT_EQ(DecodeQcow2Header(Header(3, kQcow2IncompatCorrupt, 0, ""), "t").status().code(), Code::kDataLoss);
  EXPECT_EQ(DecodeQcow2Header(Header(3, 1u << 5, 0, ""), "t").status().code(), Code::kDataLoss);
  EXPECT_EQ(DecodeQcow2Header(Header(3, 0, 1, ""), "t").status().code(), Code::kDataLoss);
  EXPECT_EQ(DecodeQcow2Header(Header(4, 0, 0, ""), "t").status().code(), Code::kDataLoss);
  std::vector<uint8_t> bad_magic = Header(3, 0, 0, "");
  bad_magic[3] = 0;
  EXPECT_EQ(DecodeQcow2Header(bad_magic, "t").status().code(), Code::kDataLoss);
  std::vector<uint8_t> cut = Header(3, 0, 0, "../bases/x.raw");
  cut.resize(205);  // the name runs past the bytes read
  EXPECT_EQ(DecodeQcow2Header(cut, "t").status().code(), Code::kDataLoss);
}

}  // namespace
}  // namespace ferry
