#include "store/manifest.h"

#include <gtest/gtest.h>

#include "store/coding.h"
#include "store/manifest_format.h"

namespace ferry {
namespace {

// logical_size 10, chunk_size 4: data "abcd", a hole, data "ef" (short last).
Manifest SmallManifest() {
  ManifestBuilder b(10, 4);
  b.AddData(Sha256::Of(std::string_view("abcd")));
  b.AddHole();
  b.AddData(Sha256::Of(std::string_view("ef")));
  return b.Finish();
}

void ExpectSameManifest(const Manifest& a, const Manifest& b) {
  EXPECT_EQ(a.logical_size, b.logical_size);
  EXPECT_EQ(a.chunk_size, b.chunk_size);
  ASSERT_EQ(a.entries.size(), b.entries.size());
  for (size_t i = 0; i < a.entries.size(); ++i) {
    EXPECT_EQ(a.entries[i].zero, b.entries[i].zero) << i;
    EXPECT_EQ(a.entries[i].id, b.entries[i].id) << i;
    EXPECT_EQ(a.entries[i].length, b.entries[i].length) << i;
    EXPECT_EQ(a.entries[i].count, b.entries[i].count) << i;
    EXPECT_EQ(a.entries[i].object_digest, b.entries[i].object_digest) << i;
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

std::vector<uint8_t> HexBytes(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// The version 1 encoding (what builds before version 2 wrote): one entry per
// chunk. Returns the entries section in *entries_section when asked.
std::vector<uint8_t> EncodeV1(const Manifest& m, std::vector<uint8_t>* entries_section = nullptr) {
  std::vector<uint8_t> entries;
  uint64_t count = 0;
  for (const ChunkEntry& e : m.entries) {
    for (uint64_t k = 0; k < e.count; ++k, ++count) {
      entries.push_back(e.zero ? kEntryKindZero : kEntryKindData);
      if (!e.zero) entries.insert(entries.end(), e.id.begin(), e.id.end());
      PutFixed32(&entries, e.zero && k + 1 < e.count ? m.chunk_size : e.length);
    }
  }
  std::vector<uint8_t> out(kManifestMagic.begin(), kManifestMagic.end());
  PutFixed32(&out, 1);
  PutFixed64(&out, m.logical_size);
  PutFixed32(&out, m.chunk_size);
  PutFixed64(&out, count);
  out.insert(out.end(), entries.begin(), entries.end());
  Digest256 sum = Sha256::Of(out);
  out.insert(out.end(), sum.begin(), sum.end());
  if (entries_section != nullptr) *entries_section = std::move(entries);
  return out;
}

// What builds before format version 2 wrote for SmallManifest().
constexpr char kSmallManifestV1Hex[] =
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
// The content digest version 1 builds recorded for it.
constexpr char kSmallManifestV1Digest[] = "2f4363dbd87117f93d6eadc4fc01a3bdf3ddcf9f9193c899013e0b64fa52fa22";

constexpr char kSmallManifestHex[] =
    // header: magic "FRMF", version 2, logical_size 10, chunk_size 4, 3 entries
    "46524d46"
    "02000000"
    "0a00000000000000"
    "04000000"
    "0300000000000000"
    // entry 0: data, SHA-256("abcd"), length 4
    "01"
    "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
    "04000000"
    // entry 1: a run of 1 hole, last length 4
    "02"
    "0100000000000000"
    "04000000"
    // entry 2: data, SHA-256("ef"), length 2
    "01"
    "4ca669ac3713d1f4aea07dae8dcc0d1c9867d27ea82a3ba4e6158a42206f959b"
    "02000000"
    // trailer: SHA-256 of all the bytes above
    "66316d0b762105e57905087fe44250fd839130b81e195628b5599871c846f862";

// SmallManifest() with an object digest on its first data entry only:
// SHA-256("object abcd") stands for the digest of a stored object.
Manifest SmallManifestWithDigest() {
  ManifestBuilder b(10, 4);
  b.AddData(Sha256::Of(std::string_view("abcd")), Sha256::Of(std::string_view("object abcd")));
  b.AddHole();
  b.AddData(Sha256::Of(std::string_view("ef")));
  return b.Finish();
}

constexpr char kSmallManifestV3Hex[] =
    // header: magic "FRMF", version 3, logical_size 10, chunk_size 4, 3 entries
    "46524d46"
    "03000000"
    "0a00000000000000"
    "04000000"
    "0300000000000000"
    // entry 0: data with object digest, SHA-256("abcd"), length 4,
    // SHA-256("object abcd")
    "03"
    "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589"
    "04000000"
    "db010533e2e9f4a88f710a9eeaf9586b3a19323738a85aa77e747c2ab700eaaf"
    // entry 1: a run of 1 hole, last length 4
    "02"
    "0100000000000000"
    "04000000"
    // entry 2: data without one, SHA-256("ef"), length 2
    "01"
    "4ca669ac3713d1f4aea07dae8dcc0d1c9867d27ea82a3ba4e6158a42206f959b"
    "02000000"
    // trailer: SHA-256 of all the bytes above
    "e4c46897bfa706ccf6143c74197b132a46748f3f342557678ad6aeabecd499d0";

// logical_size 4 EiB, chunk_size 4 MiB, every one of its 2^40 chunks a hole.
constexpr char kVastEmptyHex[] =
    "46524d46"
    "02000000"
    "0000000000000040"
    "00004000"
    "0100000000000000"
    // one run of 2^40 holes, last length 4 MiB
    "02"
    "0000000000010000"
    "00004000"
    "7675b7d7c36114f70fcd945401ce2b1fef8f029a9ff2a59b60d7b7ec7eb3da6e";

TEST(ManifestTest, GoldenBytes) {
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifest());
  EXPECT_EQ(ToHex(bytes), kSmallManifestHex);
  EXPECT_EQ(bytes.size(),
            kManifestHeaderSize + 2 * kDataEntrySize + kHoleRunEntrySize + kManifestTrailerSize);
}

TEST(ManifestTest, GoldenBytesVersion3WithObjectDigests) {
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifestWithDigest());
  EXPECT_EQ(ToHex(bytes), kSmallManifestV3Hex);
  EXPECT_EQ(bytes.size(), kManifestHeaderSize + kDataDigestEntrySize + kHoleRunEntrySize + kDataEntrySize +
                              kManifestTrailerSize);
  auto back = DecodeManifest(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameManifest(*back, SmallManifestWithDigest());
  ASSERT_TRUE(back->entries[0].object_digest.has_value());
  EXPECT_FALSE(back->entries[2].object_digest.has_value());
  // Object digests are how one store holds the chunks, not what the image
  // is: the content digest ignores them.
  EXPECT_EQ(back->ContentDigest(), SmallManifest().ContentDigest());
  EXPECT_TRUE(back->HasContentDigest(kSmallManifestV1Digest));
}

TEST(ManifestTest, WithoutObjectDigestsVersion2IsWritten) {
  // So that builds reading versions 1 and 2 only still read it.
  Manifest m = SmallManifestWithDigest();
  m.entries[0].object_digest.reset();
  EXPECT_EQ(ToHex(EncodeManifest(m)), kSmallManifestHex);
}

TEST(ManifestTest, Version3EntriesAreRefusedInVersion2AndChecked) {
  // A data-with-digest entry inside a version 2 manifest is an unknown kind.
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifestWithDigest());
  bytes[4] = 2;
  auto r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_NE(r.status().message().find("unknown kind 3"), std::string::npos) << r.status().message();
  // Every truncation and every flipped byte of a version 3 manifest fails.
  const std::vector<uint8_t> good = EncodeManifest(SmallManifestWithDigest());
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeManifest(std::span<const uint8_t>(good).first(n)).ok()) << "truncated to " << n;
  }
  for (size_t i = 0; i < good.size(); ++i) {
    std::vector<uint8_t> flipped = good;
    flipped[i] ^= 0x01;
    EXPECT_FALSE(DecodeManifest(flipped).ok()) << "byte " << i;
  }
  // A hole carries no object digest.
  Manifest m = SmallManifestWithDigest();
  m.entries[1].object_digest = Sha256::Of(std::string_view("x"));
  EXPECT_EQ(m.Validate().code(), Code::kInvalidArgument);
}

TEST(ManifestTest, GoldenBytesOfAVastEmptyDisk) {
  Manifest m = Manifest::Empty(uint64_t{1} << 62);
  ASSERT_EQ(m.entries.size(), 1u);
  std::vector<uint8_t> bytes = EncodeManifest(m);
  EXPECT_EQ(ToHex(bytes), kVastEmptyHex);
  auto back = DecodeManifest(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSameManifest(*back, m);
  EXPECT_EQ(back->ChunkCount(), uint64_t{1} << 40);
  EXPECT_EQ(back->DataBytes(), 0u);
  // Not the digest of the empty string, and computed from one entry.
  EXPECT_EQ(back->ContentDigest(), m.ContentDigest());
  EXPECT_NE(m.ContentDigest(), Manifest::Empty(uint64_t{1} << 61).ContentDigest());
  // Too many chunks for the version 1 digest: only the canonical one matches.
  EXPECT_TRUE(m.HasContentDigest(ToHex(m.ContentDigest())));
  EXPECT_FALSE(m.HasContentDigest(ToHex(Sha256::Of(std::string_view("")))));
}

TEST(ManifestTest, GoldenContentDigest) {
  // SHA-256 over the canonical entries section (bytes 28..114 of the encoding).
  EXPECT_EQ(ToHex(SmallManifest().ContentDigest()),
            "c0dd5e5be922e78b6f30b3cba296d0499460a241b82dd7083fe6579573a5d0ad");
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifest());
  std::span<const uint8_t> entries(bytes.data() + kManifestHeaderSize,
                                   bytes.size() - kManifestHeaderSize - kManifestTrailerSize);
  EXPECT_EQ(SmallManifest().ContentDigest(), Sha256::Of(entries));
  EXPECT_EQ(ToHex(Manifest::Empty(0).ContentDigest()), ToHex(Sha256::Of(std::string_view(""))));
}

TEST(ManifestTest, Version1StillDecodesToTheSameContent) {
  std::vector<uint8_t> v1 = HexBytes(kSmallManifestV1Hex);
  EXPECT_EQ(ToHex(EncodeV1(SmallManifest())), kSmallManifestV1Hex);
  auto m = DecodeManifest(v1);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  ExpectSameManifest(*m, SmallManifest());
  EXPECT_EQ(m->ContentDigest(), SmallManifest().ContentDigest());
  // Digests recorded by version 1 builds are still recognised.
  EXPECT_TRUE(m->HasContentDigest(kSmallManifestV1Digest));
  EXPECT_TRUE(m->HasContentDigest(ToHex(m->ContentDigest())));
  EXPECT_FALSE(m->HasContentDigest(ToHex(Sha256::Of(std::string_view("other")))));
  // Re-encoding writes version 2.
  EXPECT_EQ(ToHex(EncodeManifest(*m)), kSmallManifestHex);
}

TEST(ManifestTest, DigestIsTheSameWhateverVersionOrSplitEncodedIt) {
  // 1 GiB + a bit, data in every 7th chunk: v1 holes come back as runs.
  Manifest per_chunk = Manifest::OneEntryPerChunk((1ull << 30) + 12345);
  ManifestBuilder b(per_chunk.logical_size, per_chunk.chunk_size);
  for (size_t i = 0; i < per_chunk.entries.size(); i += 7) {
    ChunkId id = Sha256::Of(std::string_view(std::to_string(i)));
    per_chunk.entries[i].zero = false;
    per_chunk.entries[i].id = id;
    b.AddHolesUntil(i);
    b.AddData(id);
  }
  Manifest runs = b.Finish();
  ASSERT_TRUE(per_chunk.Validate().ok());
  ASSERT_TRUE(runs.Validate().ok());
  EXPECT_LT(runs.entries.size(), per_chunk.entries.size());
  EXPECT_EQ(per_chunk.ContentDigest(), runs.ContentDigest());
  EXPECT_EQ(EncodeManifest(per_chunk), EncodeManifest(runs));

  std::vector<uint8_t> v1_entries;
  auto from_v1 = DecodeManifest(EncodeV1(per_chunk, &v1_entries));
  auto from_v2 = DecodeManifest(EncodeManifest(per_chunk));
  ASSERT_TRUE(from_v1.ok()) << from_v1.status().ToString();
  ASSERT_TRUE(from_v2.ok()) << from_v2.status().ToString();
  ExpectSameManifest(*from_v1, runs);
  ExpectSameManifest(*from_v2, runs);
  EXPECT_EQ(from_v1->ContentDigest(), from_v2->ContentDigest());
  EXPECT_EQ(from_v1->entries.back().length, 12345u);
  EXPECT_TRUE(from_v2->HasContentDigest(ToHex(Sha256::Of(v1_entries))));

  // An image without holes has the same digest in both definitions.
  ManifestBuilder full(8, 4);
  full.AddData(Sha256::Of(std::string_view("a")));
  full.AddData(Sha256::Of(std::string_view("b")));
  Manifest f = full.Finish();
  std::vector<uint8_t> f_v1_entries;
  EncodeV1(f, &f_v1_entries);
  EXPECT_EQ(f.ContentDigest(), Sha256::Of(f_v1_entries));
}

TEST(ManifestTest, EmptyAndDataBytes) {
  Manifest m = Manifest::Empty(10, 4);
  ASSERT_EQ(m.entries.size(), 1u);
  EXPECT_EQ(m.entries[0].count, 3u);
  EXPECT_EQ(m.entries[0].length, 2u);
  EXPECT_EQ(m.DataBytes(), 0u);
  EXPECT_TRUE(m.Validate().ok());
  EXPECT_EQ(SmallManifest().DataBytes(), 6u);
  EXPECT_TRUE(Manifest::Empty(0).entries.empty());
  EXPECT_EQ(Manifest::Empty(8, 4).entries[0].count, 2u);
  EXPECT_EQ(Manifest::Empty(8, 4).entries[0].length, 4u);
  EXPECT_EQ(Manifest::OneEntryPerChunk(10, 4).entries.size(), 3u);
  EXPECT_EQ(Manifest::OneEntryPerChunk(10, 4).ContentDigest(), m.ContentDigest());
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
  for (const std::vector<uint8_t>& good : {EncodeManifest(SmallManifest()), EncodeV1(SmallManifest())}) {
    for (size_t n = 0; n < good.size(); ++n) {
      auto r = DecodeManifest(std::span<const uint8_t>(good).first(n));
      EXPECT_EQ(r.status().code(), Code::kDataLoss) << "truncated to " << n;
    }
    std::vector<uint8_t> longer = good;
    longer.push_back(0);
    EXPECT_EQ(DecodeManifest(longer).status().code(), Code::kDataLoss);
  }
}

TEST(ManifestTest, WrongMagicAndVersionAreRejected) {
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifest());
  bytes[0] = 'X';
  auto r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_NE(r.status().message().find("magic 58524d46"), std::string::npos) << r.status().message();

  bytes = EncodeManifest(SmallManifest());
  bytes[4] = 4;
  r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("version 4"), std::string::npos) << r.status().message();
}

TEST(ManifestTest, HeaderCountThatCannotFitIsRefusedBeforeAllocating) {
  // 2^60 entries announced in a few dozen bytes: refused from the sizes
  // alone (allocating for it would throw or exhaust memory).
  for (const std::vector<uint8_t>& good : {EncodeManifest(SmallManifest()), EncodeV1(SmallManifest())}) {
    std::vector<uint8_t> bytes = good;
    EncodeFixed64(&bytes[20], uint64_t{1} << 60);
    auto r = DecodeManifest(Reseal(bytes));
    EXPECT_EQ(r.status().code(), Code::kDataLoss);
    EXPECT_NE(r.status().message().find("cannot fit"), std::string::npos) << r.status().message();
  }
  // One 13-byte run too many for version 2, where 5 bytes would do for 1.
  std::vector<uint8_t> bytes = EncodeManifest(SmallManifest());
  EncodeFixed64(&bytes[20], 7);  // 87 bytes of entries hold at most 6 runs
  EXPECT_NE(DecodeManifest(Reseal(bytes)).status().message().find("cannot fit"), std::string::npos);
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
  bytes[20] = 4;  // entry count larger than the entries present
  EXPECT_EQ(DecodeManifest(Reseal(bytes)).status().code(), Code::kDataLoss);

  bytes = EncodeManifest(SmallManifest());
  bytes[kManifestHeaderSize] = 9;  // unknown kind
  r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_NE(r.status().message().find("unknown kind 9"), std::string::npos) << r.status().message();

  // Kinds belong to their version: no single holes in 2, no runs in 1.
  bytes = EncodeManifest(Manifest::Empty(8, 4));
  bytes[kManifestHeaderSize] = kEntryKindZero;
  EXPECT_NE(DecodeManifest(Reseal(bytes)).status().message().find("unknown kind 0"), std::string::npos);
  bytes = EncodeV1(Manifest::Empty(8, 4));
  bytes[kManifestHeaderSize] = kEntryKindHoleRun;
  EXPECT_EQ(DecodeManifest(Reseal(bytes)).status().code(), Code::kDataLoss);

  // A run that overflows the image, a run of no chunk.
  bytes = EncodeManifest(Manifest::Empty(8, 4));
  bytes[kManifestHeaderSize + 1] = 3;
  r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("past the 2 chunks"), std::string::npos) << r.status().message();
  bytes[kManifestHeaderSize + 1] = 0;
  r = DecodeManifest(Reseal(bytes));
  EXPECT_NE(r.status().message().find("covers no chunk"), std::string::npos) << r.status().message();

  // Two runs in a row are not how version 2 stores holes.
  Manifest split;
  split.logical_size = 8;
  split.chunk_size = 4;
  split.entries = {ChunkEntry{true, {}, 4, 1}, ChunkEntry{true, {}, 4, 1}};
  ASSERT_TRUE(split.Validate().ok());
  std::vector<uint8_t> two_runs(kManifestMagic.begin(), kManifestMagic.end());
  PutFixed32(&two_runs, 2);
  PutFixed64(&two_runs, 8);
  PutFixed32(&two_runs, 4);
  PutFixed64(&two_runs, 2);
  for (int k = 0; k < 2; ++k) {
    two_runs.push_back(kEntryKindHoleRun);
    PutFixed64(&two_runs, 1);
    PutFixed32(&two_runs, 4);
  }
  two_runs.resize(two_runs.size() + kManifestTrailerSize);
  r = DecodeManifest(Reseal(two_runs));
  EXPECT_EQ(r.status().code(), Code::kDataLoss);
  EXPECT_NE(r.status().message().find("right after another"), std::string::npos) << r.status().message();

  // A short hole in the middle of a version 1 image.
  bytes = EncodeV1(Manifest::Empty(12, 4));
  bytes[kManifestHeaderSize + 1] = 3;
  r = DecodeManifest(Reseal(bytes));
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_NE(r.status().message().find("entry 0 has length 3, expected 4"), std::string::npos)
      << r.status().message();
}

TEST(ManifestTest, ValidateChecksStructure) {
  EXPECT_TRUE(SmallManifest().Validate().ok());

  Manifest m = SmallManifest();
  m.entries.pop_back();
  Status st = m.Validate();
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("entries cover 2 chunks, expected 3"), std::string::npos) << st.message();

  m = SmallManifest();
  m.entries[1].id[5] = 1;  // a hole with an id
  EXPECT_EQ(m.Validate().code(), Code::kInvalidArgument);

  m = SmallManifest();
  m.entries[0].length = 3;
  EXPECT_EQ(m.Validate().code(), Code::kInvalidArgument);

  m = SmallManifest();
  m.entries[0].count = 2;  // a data entry covers one chunk
  EXPECT_NE(m.Validate().message().find("data entry 0 covers 2 chunks"), std::string::npos);

  m = Manifest::Empty(uint64_t{1} << 62);
  m.entries[0].count = UINT64_MAX;  // no overflow past the image
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
