#include "copy/peer_wire.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "common/hash.h"
#include "store/chunk_format.h"

namespace ferry {
namespace {

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

ChunkId IdOf(const std::vector<uint8_t>& v) { return Sha256::Of(std::span<const uint8_t>(v)); }

TEST(PeerWireTest, PathsRoundTripThroughTheParser) {
  EXPECT_EQ(PeerManifestPath("cn-hangzhou", "s-abc"),
            "/ferry/peer/v1/regions/cn-hangzhou/snapshots/s-abc/manifest");
  Result<PeerRoute> manifest = ParsePeerPath(PeerManifestPath("cn-hangzhou", "s-abc"));
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->kind, PeerRoute::Kind::kManifest);
  EXPECT_EQ(manifest->region_id, "cn-hangzhou");
  EXPECT_EQ(manifest->snapshot_id, "s-abc");

  ChunkId id = Sha256::Of(std::string_view("hello"));
  EXPECT_EQ(PeerChunkPath("cn-beijing", id), "/ferry/peer/v1/regions/cn-beijing/chunks/" + ToHex(id));
  Result<PeerRoute> chunk = ParsePeerPath(PeerChunkPath("cn-beijing", id));
  ASSERT_TRUE(chunk.ok()) << chunk.status().ToString();
  EXPECT_EQ(chunk->kind, PeerRoute::Kind::kChunk);
  EXPECT_EQ(chunk->region_id, "cn-beijing");
  EXPECT_EQ(chunk->chunk_id, id);
}

TEST(PeerWireTest, CopyAndAccessKeyPathsRoundTripThroughTheParser) {
  EXPECT_EQ(PeerRegionPath("cn-beijing"), "/ferry/peer/v1/regions/cn-beijing");
  Result<PeerRoute> region = ParsePeerPath(PeerRegionPath("cn-beijing"));
  ASSERT_TRUE(region.ok()) << region.status().ToString();
  EXPECT_EQ(region->kind, PeerRoute::Kind::kRegion);
  EXPECT_EQ(region->region_id, "cn-beijing");

  EXPECT_EQ(PeerCopiesPath("cn-beijing"), "/ferry/peer/v1/regions/cn-beijing/copies");
  Result<PeerRoute> copies = ParsePeerPath(PeerCopiesPath("cn-beijing"));
  ASSERT_TRUE(copies.ok()) << copies.status().ToString();
  EXPECT_EQ(copies->kind, PeerRoute::Kind::kCopies);
  EXPECT_EQ(copies->region_id, "cn-beijing");

  EXPECT_EQ(PeerCopyPath("cn-beijing", "m-copy1"), "/ferry/peer/v1/regions/cn-beijing/copies/m-copy1");
  Result<PeerRoute> copy = ParsePeerPath(PeerCopyPath("cn-beijing", "m-copy1"));
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(copy->kind, PeerRoute::Kind::kCopy);
  EXPECT_EQ(copy->region_id, "cn-beijing");
  EXPECT_EQ(copy->copy_image_id, "m-copy1");

  const std::string lease = PeerCopyLeasePath("cn-hangzhou", "m-source", "cn-beijing", "m-copy1");
  EXPECT_EQ(lease, "/ferry/peer/v1/regions/cn-hangzhou/images/m-source/copy-leases/cn-beijing/m-copy1");
  Result<PeerRoute> leased = ParsePeerPath(lease);
  ASSERT_TRUE(leased.ok()) << leased.status().ToString();
  EXPECT_EQ(leased->kind, PeerRoute::Kind::kCopyLease);
  EXPECT_EQ(leased->region_id, "cn-hangzhou");
  EXPECT_EQ(leased->image_id, "m-source");
  EXPECT_EQ(leased->copy_region_id, "cn-beijing");
  EXPECT_EQ(leased->copy_image_id, "m-copy1");

  EXPECT_EQ(PeerAccessKeyPath("LTAI5tKey"), "/ferry/peer/v1/access-keys/LTAI5tKey");
  Result<PeerRoute> key = ParsePeerPath(PeerAccessKeyPath("LTAI5tKey"));
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->kind, PeerRoute::Kind::kAccessKey);
  EXPECT_EQ(key->access_key_id, "LTAI5tKey");
  EXPECT_EQ(key->region_id, "");

  Result<PeerRoute> account = ParsePeerPath(PeerAccountPath("1234567890123456"));
  ASSERT_TRUE(account.ok()) << account.status().ToString();
  EXPECT_EQ(account->kind, PeerRoute::Kind::kAccount);
  EXPECT_EQ(account->account_id, "1234567890123456");

  Result<PeerRoute> nonces = ParsePeerPath(kPeerNoncesPath);
  ASSERT_TRUE(nonces.ok()) << nonces.status().ToString();
  EXPECT_EQ(nonces->kind, PeerRoute::Kind::kNonces);
}

TEST(PeerWireTest, ParserRejectsUnknownPathsAndMalformedIds) {
  for (const char* path :
       {"/ferry/peer/v1/", "/ferry/peer/v1/regions/cn-hangzhou/", "/ferry/peer/v1/regions/..",
        "/ferry/peer/v1/regions/cn-hangzhou/snapshots//manifest",
        "/ferry/peer/v1/regions/cn-hangzhou/snapshots/manifest",
        "/ferry/peer/v1/regions/cn-hangzhou/snapshots/s-1/manifest/x",
        "/ferry/peer/v1/regions/../snapshots/s-1/manifest", "/ferry/peer/v2/regions/a/chunks/b",
        "/ferry/peer/v1/regions/cn-hangzhou/chunks/", "/ferry/peer/v1/regions/cn-hangzhou/copies/",
        "/ferry/peer/v1/regions/cn-hangzhou/copies/m-1/x", "/ferry/peer/v1/regions/cn-hangzhou/copies/m%201",
        "/ferry/peer/v1/regions/cn-hangzhou/images/m-1/copy-leases/cn-beijing",
        "/ferry/peer/v1/regions/cn-hangzhou/images/m-1/copy-leases/cn-beijing/..",
        "/ferry/peer/v1/regions/cn-hangzhou/images/m-1/leases/cn-beijing/m-2", "/ferry/peer/v1/access-keys",
        "/ferry/peer/v1/access-keys/", "/ferry/peer/v1/access-keys/a/b", "/ferry/peer/v1/regions",
        "/ferry/peer/v1/nonces/", "/ferry/peer/v1/nonces/x", "/ferry/peer/v1/accounts",
        "/ferry/peer/v1/accounts/", "/ferry/peer/v1/accounts/1/2"}) {
    Result<PeerRoute> r = ParsePeerPath(path);
    ASSERT_FALSE(r.ok()) << path;
    EXPECT_EQ(r.status().reason(), "InvalidPeerPath.NotFound") << path;
  }
  for (const std::string& bad : {std::string(63, 'a'), std::string(65, 'a'), std::string(64, 'g')}) {
    Result<PeerRoute> r = ParsePeerPath("/ferry/peer/v1/regions/cn-hangzhou/chunks/" + bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().reason(), "InvalidChunkId.Malformed") << bad;
  }
}

TEST(PeerWireTest, CompressibleChunkTravelsAsZstdAndDecodesToTheSameBytes) {
  std::vector<uint8_t> plain(4u << 20);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i % 7);
  std::string wire = EncodeWireChunk(plain);
  ASSERT_GE(wire.size(), kChunkHeaderSize);
  Result<ChunkHeader> header = DecodeChunkHeader(AsBytes(wire).first(kChunkHeaderSize));
  ASSERT_TRUE(header.ok()) << header.status().ToString();
  EXPECT_EQ(header->codec, ChunkCodec::kZstd);
  EXPECT_EQ(header->plaintext_length, plain.size());
  EXPECT_EQ(header->stored_length, wire.size() - kChunkHeaderSize);
  EXPECT_LT(wire.size(), plain.size() / 10);
  Result<std::vector<uint8_t>> back = DecodeWireChunk(IdOf(plain), AsBytes(wire));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, plain);
}

TEST(PeerWireTest, IncompressibleChunkTravelsRawWithGoldenHeader) {
  std::vector<uint8_t> plain = RandomBytes(1000, 1);
  std::string wire = EncodeWireChunk(plain);
  ASSERT_EQ(wire.size(), kChunkHeaderSize + plain.size());
  EXPECT_EQ(ToHex(std::string_view(wire).substr(0, kChunkHeaderSize)),
            "4652434b"            // magic "FRCK"
            "01"                  // version
            "00"                  // codec raw
            "0000"                // reserved
            "e803000000000000"    // plaintext_length 1000
            "e803000000000000");  // stored_length 1000
  EXPECT_EQ(0, std::memcmp(wire.data() + kChunkHeaderSize, plain.data(), plain.size()));
  Result<std::vector<uint8_t>> back = DecodeWireChunk(IdOf(plain), AsBytes(wire));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, plain);
}

TEST(PeerWireTest, DecodeRejectsEveryKindOfBadBody) {
  std::vector<uint8_t> plain(64 << 10, 'x');
  const ChunkId id = IdOf(plain);
  const std::string good = EncodeWireChunk(plain);

  auto expect_data_loss = [&](const std::string& body, const std::string& evidence) {
    Result<std::vector<uint8_t>> r = DecodeWireChunk(id, AsBytes(body));
    ASSERT_FALSE(r.ok()) << evidence;
    EXPECT_EQ(r.status().code(), Code::kDataLoss) << r.status().ToString();
    EXPECT_NE(r.status().message().find(ToHex(id)), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find(evidence), std::string::npos) << r.status().message();
  };
  expect_data_loss(good.substr(0, 10), "shorter than the 24-byte header");
  expect_data_loss(good.substr(0, good.size() - 1), "payload bytes");
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  expect_data_loss(bad_magic, "");
  std::string flipped = good;
  flipped[kChunkHeaderSize + 3] ^= 0x55;
  expect_data_loss(flipped, "");
  // Another chunk's valid body: decodes fine, but to the wrong digest.
  std::vector<uint8_t> other(64 << 10, 'y');
  expect_data_loss(EncodeWireChunk(other), "expected " + ToHex(id));
}

}  // namespace
}  // namespace ferry
