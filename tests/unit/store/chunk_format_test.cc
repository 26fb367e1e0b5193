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
  b[4] = 2;
  expect_loss(b, "version 2");
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

}  // namespace
}  // namespace ferry
