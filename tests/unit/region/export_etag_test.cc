#include "region/export_etag.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>

#include "objects/object_store.h"

namespace ferry {
namespace {

constexpr uint32_t kChunk = 4u << 20;

ChunkId IdOf(uint8_t b) {
  ChunkId id{};
  id.fill(b);
  return id;
}

// A manifest of `size` bytes whose data chunks are at `data` (ids from the
// bytes given), the rest holes.
Manifest Build(uint64_t size, const std::vector<std::pair<uint64_t, uint8_t>>& data,
               uint32_t chunk = kChunk) {
  ManifestBuilder b(size, chunk);
  for (const auto& d : data) {
    b.AddHolesUntil(d.first);
    b.AddData(IdOf(d.second));
  }
  return b.Finish();
}

TEST(ExportEtagTest, IsMultipartShapedWithAtMostTenThousandParts) {
  const std::regex shape("^\"[0-9A-F]{32}-[1-9][0-9]*\"$");
  const uint64_t gib = uint64_t{1} << 30;
  for (uint64_t size : {uint64_t{1}, uint64_t{kChunk} + 5, 600 * gib, 32768 * gib}) {
    const std::string etag = ExportObjectEtag(Build(size, {{0, 1}}));
    EXPECT_TRUE(std::regex_match(etag, shape)) << etag;
    const uint64_t parts = std::stoull(etag.substr(34, etag.size() - 35));
    EXPECT_GE(parts, 1u);
    EXPECT_LE(parts, ObjectStore::kMaxPartNumber);
    EXPECT_EQ(parts, (size + PutFilePartBytes(size) - 1) / PutFilePartBytes(size)) << size;
  }
  // 600 GiB: as if sent in 62 MiB parts (the fewest whole MiB that make at most 10,000).
  EXPECT_TRUE(ExportObjectEtag(Build(600 * gib, {})).ends_with("-9910\""))
      << ExportObjectEtag(Build(600 * gib, {}));
}

TEST(ExportEtagTest, SameContentSameEtagWhateverTheEncoding) {
  const uint64_t size = 10 * uint64_t{kChunk} + 123;
  const Manifest a = Build(size, {{2, 7}, {3, 8}, {10, 9}});
  const Manifest b = Build(size, {{2, 7}, {3, 8}, {10, 9}});
  EXPECT_EQ(ExportObjectEtag(a), ExportObjectEtag(b));
  // Holes split into more entries, object digests known or not: same bytes.
  Manifest split = Manifest::OneEntryPerChunk(size);
  split.entries[2] = a.entries[1];
  split.entries[3] = a.entries[2];
  split.entries[10] = a.entries[4];
  split.entries[3].object_digest = Digest256{};
  ASSERT_TRUE(split.Validate().ok()) << split.Validate().ToString();
  EXPECT_EQ(ExportObjectEtag(split), ExportObjectEtag(a));
}

TEST(ExportEtagTest, DifferentContentDifferentEtag) {
  const uint64_t size = 10 * uint64_t{kChunk} + 123;
  std::set<std::string> seen;
  const std::vector<Manifest> variants = {
      Build(size, {{2, 7}, {3, 8}}),
      Build(size, {{2, 7}, {3, 9}}),        // another chunk's bytes
      Build(size, {{2, 7}, {4, 8}}),        // the same chunk elsewhere
      Build(size, {{2, 8}, {3, 7}}),        // the two chunks swapped
      Build(size, {{2, 7}}),                // a chunk fewer (a hole)
      Build(size + 1, {{2, 7}, {3, 8}}),    // one zero byte more
      Build(size - 123, {{2, 7}, {3, 8}}),  // the last chunk shorter
      Build(size, {}),                      // all zeros
      Build(size + kChunk, {}),             // more zeros
  };
  for (size_t i = 0; i < variants.size(); ++i) {
    EXPECT_TRUE(seen.insert(ExportObjectEtag(variants[i])).second) << "variant " << i;
  }
}

}  // namespace
}  // namespace ferry
