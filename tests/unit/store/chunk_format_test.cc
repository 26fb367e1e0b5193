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
