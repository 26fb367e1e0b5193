#include "store/manifest.h"

#include <gtest/gtest.h>

#include "store/manifest_format.h"

namespace ferry {
namespace {

// logical_size 10, chunk_size 4: data "abcd", a hole, data "ef" (short last).
Manifest SmallManifest() {
  Manifest m = Manifest::Empty(10, 4);
  m.entries[0].zero = false;
  m.entries[0].id = Sha256::Of(std::string_view("abcd"));
  m.entries[2].zero = false;
  m.entries[2].id = Sha256::Of(std::string_view("ef"));
  return m;
}

void ExpectSameManifest(const Manifest& a, const Manifest& b) {
  EXPECT_EQ(a.logical_size, b.logical_size);
  EXPECT_EQ(a.chunk_size, b.chunk_size);
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    EXPECT_EQ(a.entries[i].zero, b.entries[i].zero) << i;
    EXPECT_EQ(a.entries[i].id, b.entries[i].id) << i;
    EXPECT_EQ(a.entries[i].length, b.entries[i].length) << i;
  }
}

// Re-seals a modified encoding with a valid trailing checksum, to reach the
// checks that run after the checksum.
std::vector<uint8_t> Reseal(std::vector<uint8_t> bytes) {
  bytes.resize(bytes.size() - kManifestTrailerSize);
  Digest256 sum = Sha256::Of(bytes);
  bytes.insert(bytes.end(), sum.begin(), sum.end());
  return bytes;
}

constexpr char kSmallManifestHex[] =
    // header: magic "FRMF", version 1, logical_size 10, chunk_size 4, 3 entries
    "46524d46"
    "01000000"
    "0a00000000000000"
    "04000000"
    "0300000000000000"
    // entry 0: data, SHA-256("abcd"), length 4
    "01"
    "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
    "04000000"
    // entry 1: zero, length 4
    "00"
    "04000000"
    // entry 2: data, SHA-256("ef"), length 2
    "01"
    "4ca669ac3713d1f4aea07dae8dcc0d1c9867d27ea82a3ba4e6158a42206f959b"
    "02000000"
    // trailer: SHA-256 of all the bytes above
    "74579c187107d8d3c4df9cb97107c3651645ff79afcf27ed08aa89ce0bdcd70d";

TEST(ManifestTest, GoldenBytes) {
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifest());
  EXPECT_EQ(ToHex(bytes), kSmallManifestHex);
  EXPECT_EQ(bytes.size(), kManifestHeaderSize + 2 * kDataEntrySize + kZeroEntrySize + kManifestTrailerSize);
}

TEST(ManifestTest, GoldenContentDigest) {
  // SHA-256 over the entries section only (bytes 28..107 of the encoding).
  EXPECT_EQ(ToHex(SmallManifest().ContentDigest()),
            "2f4363dbd87117f93d6eadc4fc01a3bdf3ddcf9f9193c899013e0b64fa52fa22");
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifest());
  std::span<const uint8_t> entries(bytes.data() + kManifestHeaderSize,
                                   bytes.size() - kManifestHeaderSize - kManifestTrailerSize);
  EXPECT_EQ(SmallManifest().ContentDigest(), Sha256::Of(entries));
  EXPECT_EQ(ToHex(Manifest::Empty(0).ContentDigest()), ToHex(Sha256::Of(std::string_view(""))));
}

TEST(ManifestTest, RoundTrip) {
  Manifest m = Manifest::Empty((1ull << 30) + 12345);
  for (size_t i = 0; i < m.entries.size(); i += 7) {
    m.entries[i].zero = false;
    m.entries[i].id = Sha256::Of(std::string_view(std::to_string(i)));
  }
  ASSERT_TRUE(m.Validate().ok());
  auto back = DecodeManifest(EncodeManifest(m));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameManifest(*back, m);
  EXPECT_EQ(back->ContentDigest(), m.ContentDigest());
  EXPECT_EQ(back->entries.back().length, 12345u);

  auto small = DecodeManifest(EncodeManifest(SmallManifest()));
  ASSERT_TRUE(small.ok());
  ExpectSameManifest(*small, SmallManifest());
}

TEST(ManifestTest, EmptyAndDataBytes) {
  Manifest m = Manifest::Empty(10, 4);
  ASSERT_EQ(m.entries.size(), 3u);
  EXPECT_EQ(m.entries[2].length, 2u);
  EXPECT_EQ(m.DataBytes(), 0u);
  EXPECT_TRUE(m.Validate().ok());
  EXPECT_EQ(SmallManifest().DataBytes(), 6u);
  EXPECT_TRUE(Manifest::Empty(0).entries.empty());
  EXPECT_EQ(Manifest::Empty(8, 4).entries.size(), 2u);
}

TEST(ManifestTest, EveryFlippedByteIsRejected) {
  const std::vector<uint8_t> good = EncodeManifest(SmallManifest());
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x01;
    auto r = DecodeManifest(bad);
    EXPECT_FALSE(r.ok()) << "flipped byte " << i << " was accepted";
  }
  std::vector<uint8_t> bad = good;
  bad[60] ^= 0x01;  // inside entry 0's id
  auto r = DecodeManifest(bad);
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_NE(r.status().message().find("checksum mismatch"), std::string::npos) << r.status().message();
}

TEST(ManifestTest, EveryTruncationIsRejected) {
  const std::vector<uint8_t> good = EncodeManifest(SmallManifest());
  for (size_t n = 0; n < good.size(); ++n) {
    auto r = DecodeManifest(std::span<const uint8_t>(good).first(n));
    EXPECT_EQ(r.status().code(), Code::kDataLoss) << "truncated to " << n;
  }
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_EQ(DecodeManifest(longer).status().code(), Code::kDataLoss);
}

TEST(ManifestTest, WrongMagicAndVersionAreRejected) {
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifest());
  bytes[0] = 'X';
  auto r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_NE(r.status().message().find("magic 58524d46"), std::string::npos) << r.status().message();

  bytes = EncodeManifest(SmallManifest());
  bytes[4] = 2;
  r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("version 2"), std::string::npos) << r.status().message();
}

TEST(ManifestTest, SealedButInconsistentContentIsRejected) {
  // A valid checksum does not excuse a wrong structure.
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifest());
  bytes[8] = 11;  // logical_size 11 makes the last entry's length wrong
  auto r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("entry 2 has length 2, expected 3"), std::string::npos)
      << r.status().message();

  bytes = EncodeManifest(SmallManifest());
  bytes[20] = 200;  // entry count larger than the entries present
  EXPECT_EQ(DecodeManifest(Reseal(bytes)).status().code(), Code::kDataLoss);

  bytes = EncodeManifest(SmallManifest());
  bytes[kManifestHeaderSize] = 9;  // unknown kind
  r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_NE(r.status().message().find("unknown kind 9"), std::string::npos) << r.status().message();
}

TEST(ManifestTest, ValidateChecksStructure) {
  EXPECT_TRUE(SmallManifest().Validate().ok());

  Manifest m = SmallManifest();
  m.entries.pop_back();
  Status st = m.Validate();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("2 entries, expected 3"), std::string::npos) << st.message();

  m = SmallManifest();
  m.entries[1].id[5] = 1;  // a hole with an id
  EXPECT_EQ(m.Validate().code(), Code::kInvalidArgument);

  m = SmallManifest();
  m.entries[0].length = 3;
  EXPECT_EQ(m.Validate().code(), Code::kInvalidArgument);

  m = SmallManifest();
  m.chunk_size = 0;
  EXPECT_EQ(m.Validate().code(), Code::kInvalidArgument);
}

TEST(ManifestTest, ContentDigestIdentifiesContent) {
  const Digest256 base = SmallManifest().ContentDigest();
  EXPECT_EQ(SmallManifest().ContentDigest(), base);

  Manifest other_id = SmallManifest();
  other_id.entries[2].id = Sha256::Of(std::string_view("eg"));
  EXPECT_NE(other_id.ContentDigest(), base);

  // A hole at the end of a differently sized image is different content.
  Manifest a = Manifest::Empty(4 * 3 + 1, 4);
  Manifest b = Manifest::Empty(4 * 3 + 2, 4);
  EXPECT_NE(a.ContentDigest(), b.ContentDigest());

  Manifest hole_vs_data = SmallManifest();
  hole_vs_data.entries[0].zero = true;
  hole_vs_data.entries[0].id = {};
  EXPECT_NE(hole_vs_data.ContentDigest(), base);
}

}  // namespace
}  // namespace ferry
