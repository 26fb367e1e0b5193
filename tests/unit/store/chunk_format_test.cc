#include "store/chunk_format.h"

#include <gtest/gtest.h>

#include "common/hash.h"

namespace ferry {
namespace {

TEST(ChunkFormatTest, GoldenHeaderBytes) {
  ChunkHeader h;
  h.codec = ChunkCodec::kZstd;
  h.plaintext_length = 4u << 20;  // 0x400000
  h.stored_length = 0x0102030405ull;
  ChunkHeaderBytes bytes = EncodeChunkHeader(h);
  EXPECT_EQ(ToHex(std::span<const uint8_t>(bytes)),
            "4652434b"            // magic "FRCK"
            "01"                  // version
            "01"                  // codec zstd
            "0000"                // reserved
            "0000400000000000"    // plaintext_length
            "0504030201000000");  // stored_length
}

TEST(ChunkFormatTest, RoundTrip) {
  ChunkHeader h;
  h.codec = ChunkCodec::kRaw;
  h.plaintext_length = 12345;
  h.stored_length = 12345;
  auto back = DecodeChunkHeader(EncodeChunkHeader(h));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->codec, ChunkCodec::kRaw);
  EXPECT_EQ(back->plaintext_length, 12345u);
  EXPECT_EQ(back->stored_length, 12345u);
}

TEST(ChunkFormatTest, RejectsMalformedHeaders) {
  ChunkHeader h;
  h.codec = ChunkCodec::kZstd;
  h.plaintext_length = 100;
  h.stored_length = 40;
  const ChunkHeaderBytes good = EncodeChunkHeader(h);
  ASSERT_TRUE(DecodeChunkHeader(good).ok());

  auto expect_loss = [](ChunkHeaderBytes b, const std::string& needle) {
    auto r = DecodeChunkHeader(b);
    EXPECT_EQ(r.status().code(), Code::kDataLoss);
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  ChunkHeaderBytes b = good;
  b[0] = 'X';
  expect_loss(b, "magic");
  b = good;
  b[4] = 3;
  expect_loss(b, "version 3");
  b = good;
  b[4] = 2;  // version 2 without the 32 scope bytes that must follow
  expect_loss(b, "version 2 truncated");
  b = good;
  b[5] = 7;
  expect_loss(b, "codec 7");
  b = good;
  b[7] = 1;
  expect_loss(b, "reserved");
  b = good;
  b[5] = 0;  // raw, but stored != plaintext
  expect_loss(b, "raw payload of 40 bytes");
  b = good;
  b[15] = 0x10;  // absurd plaintext length
  expect_loss(b, "exceeds");
  EXPECT_EQ(DecodeChunkHeader(std::span<const uint8_t>(good).first(10)).status().code(), Code::kDataLoss);
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

TEST(ChunkObjectTest, EncodeDecodeRoundTripsRawAndZstd) {
  std::vector<uint8_t> plaintext(100000, 'a');
  for (uint8_t i = 0; i < 200; ++i) plaintext[i * 7] = i;
  std::vector<uint8_t> zstd = EncodeChunkObject(plaintext, /*compress=*/true);
  std::vector<uint8_t> raw = EncodeChunkObject(plaintext, /*compress=*/false);
  EXPECT_LT(zstd.size(), plaintext.size() / 10);
  EXPECT_EQ(raw.size(), kChunkHeaderSize + plaintext.size());
  auto zstd_header = CheckChunkObject(zstd);
  ASSERT_TRUE(zstd_header.ok());
  EXPECT_EQ(zstd_header->codec, ChunkCodec::kZstd);
  EXPECT_EQ(zstd_header->plaintext_length, plaintext.size());
  for (const auto& object : {zstd, raw}) {
    auto decoded = DecodeChunkObject(object);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, plaintext);
  }
  std::vector<uint8_t> truncated(zstd.begin(), zstd.end() - 1);
  EXPECT_EQ(CheckChunkObject(truncated).status().code(), Code::kDataLoss);
  std::vector<uint8_t> garbled = zstd;
  garbled[kChunkHeaderSize] ^= 0xff;  // the zstd frame magic
  EXPECT_EQ(DecodeChunkObject(garbled).status().code(), Code::kDataLoss);
}

// Found by tests/fuzz/chunk_format_fuzz: a zstd object whose header claims
// a large plaintext is refused before that much is allocated, whether its
// payload is empty or a frame declaring another length.
TEST(ChunkObjectTest, ZstdFrameMustDeclareTheHeaderLength) {
  std::vector<uint8_t> plaintext(100000, 'a');
  std::vector<uint8_t> zstd = EncodeChunkObject(plaintext, /*compress=*/true);
  ASSERT_EQ(CheckChunkObject(zstd)->codec, ChunkCodec::kZstd);
  ChunkHeader header{ChunkCodec::kZstd, 740u << 20, zstd.size() - kChunkHeaderSize};
  ChunkHeaderBytes bytes = EncodeChunkHeader(header);
  std::copy(bytes.begin(), bytes.end(), zstd.begin());
  auto claimed = DecodeChunkObject(zstd);
  ASSERT_EQ(claimed.status().code(), Code::kDataLoss);
  EXPECT_NE(claimed.status().message().find("declares 100000 bytes, header says 775946240"), std::string::npos)
      << claimed.status().ToString();

  ChunkHeaderBytes empty = EncodeChunkHeader(ChunkHeader{ChunkCodec::kZstd, 740u << 20, 0});
  auto no_frame = DecodeChunkObject(empty);
  ASSERT_EQ(no_frame.status().code(), Code::kDataLoss);
  EXPECT_NE(no_frame.status().message().find("no content size"), std::string::npos);
}

}  // namespace
}  // namespace ferry

namespace ferry {
namespace {

ChunkScope TestScope() {
  ChunkScope scope;
  for (size_t i = 0; i < scope.size(); ++i) scope[i] = static_cast<uint8_t>(0xa0 + i);
  return scope;
}

TEST(ChunkFormatTest, GoldenScopedPrefixBytes) {
  ChunkHeader h;
  h.codec = ChunkCodec::kZstd;
  h.plaintext_length = 4u << 20;
  h.stored_length = 0x0102030405ull;
  h.scope = TestScope();
  EXPECT_EQ(h.prefix_size(), 56u);
  std::vector<uint8_t> prefix = EncodeChunkPrefix(h);
  EXPECT_EQ(ToHex(std::span<const uint8_t>(prefix)),
            "4652434b"            // magic "FRCK"
            "02"                  // version 2: scoped
            "01"                  // codec zstd
            "0000"                // reserved
            "0000400000000000"    // plaintext_length
            "0504030201000000"    // stored_length
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");  // scope
  auto back = DecodeChunkHeader(prefix);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_TRUE(back->scope.has_value());
  EXPECT_EQ(*back->scope, TestScope());
  EXPECT_EQ(back->stored_length, 0x0102030405ull);
}

TEST(ChunkFormatTest, GoldenScopedRawObject) {
  const std::string text = "abc";
  const ChunkScope scope = TestScope();
  std::vector<uint8_t> object =
      EncodeChunkObject(&scope, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), 3),
                        /*compress=*/false);
  EXPECT_EQ(ToHex(std::span<const uint8_t>(object)),
            "4652434b0200000003000000000000000300000000000000"
            "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
            "616263");
}

TEST(ChunkFormatTest, UnscopedObjectsStayVersion1) {
  std::vector<uint8_t> plaintext(1000, 'x');
  std::vector<uint8_t> v1 = EncodeChunkObject(plaintext, /*compress=*/false);
  EXPECT_EQ(v1[4], 1);
  EXPECT_EQ(v1.size(), kChunkHeaderSize + plaintext.size());
  EXPECT_EQ(EncodeChunkObject(nullptr, plaintext, /*compress=*/false), v1);
  ChunkHeader header;
  auto decoded = DecodeChunkObject(v1, &header);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(*decoded, plaintext);
  EXPECT_FALSE(header.scope.has_value());
  EXPECT_EQ(header.prefix_size(), kChunkHeaderSize);
}

TEST(ChunkFormatTest, ScopedObjectsRoundTripAndVerifyWithTheirScope) {
  std::vector<uint8_t> plaintext(100000, 'a');
  for (uint8_t i = 0; i < 200; ++i) plaintext[i * 7] = i;
  const ChunkScope scope = TestScope();
  const ChunkId scoped_id = ComputeChunkId(&scope, plaintext);
  for (bool compress : {false, true}) {
    std::vector<uint8_t> object = EncodeChunkObject(&scope, plaintext, compress);
    EXPECT_EQ(object[4], 2);
    auto header = CheckChunkObject(object);
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    EXPECT_EQ(header->codec, compress ? ChunkCodec::kZstd : ChunkCodec::kRaw);
    ASSERT_TRUE(header->scope.has_value());
    EXPECT_EQ(*header->scope, scope);
    EXPECT_EQ(object.size(), 56 + header->stored_length);
    auto verified = DecodeVerifiedChunkObject(scoped_id, object);
    ASSERT_TRUE(verified.ok()) << verified.status().ToString();
    EXPECT_EQ(*verified, plaintext);
    // The unscoped id of the same bytes is not this object's id.
    auto wrong = DecodeVerifiedChunkObject(Sha256::Of(std::span<const uint8_t>(plaintext)), object);
    EXPECT_EQ(wrong.status().code(), Code::kDataLoss);
    EXPECT_NE(wrong.status().message().find(ToHex(scoped_id)), std::string::npos) << wrong.status().message();
    // A scoped object cut inside its scope is corrupt, not a version 1 object.
    std::vector<uint8_t> cut(object.begin(), object.begin() + 40);
    EXPECT_EQ(CheckChunkObject(cut).status().code(), Code::kDataLoss);
  }
}

TEST(ChunkIdTest, ScopedIdIsSha256OfScopeThenPlaintext) {
  const std::string text = "the same block";
  std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  EXPECT_EQ(ComputeChunkId(nullptr, bytes), Sha256::Of(bytes));
  const ChunkScope a = AccountChunkScope("1234567890");
  const ChunkScope b = AccountChunkScope("1234567891");
  EXPECT_NE(a, b);
  EXPECT_EQ(a, AccountChunkScope("1234567890"));  // deterministic
  EXPECT_EQ(a, Sha256::Of(std::string_view("ferry-dedup-scope-v1\0" "1234567890", 31)));
  std::string joined(a.begin(), a.end());
  joined += text;
  EXPECT_EQ(ComputeChunkId(&a, bytes), Sha256::Of(std::string_view(joined)));
  EXPECT_NE(ComputeChunkId(&a, bytes), ComputeChunkId(&b, bytes));
  EXPECT_NE(ComputeChunkId(&a, bytes), ComputeChunkId(nullptr, bytes));
}

}  // namespace
}  // namespace ferry
