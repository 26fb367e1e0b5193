// Constants of the manifest byte format (manifest_format.md, next to this
// file). Encode/decode live in manifest.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ferry {

inline constexpr std::array<uint8_t, 4> kManifestMagic = {'F', 'R', 'M', 'F'};
// Version 3 adds data entries carrying their object's digest; version 2 added
// runs of holes. A manifest without object digests is still written as
// version 2, so builds that read only 1 and 2 read it. Versions 1 (one entry
// per chunk) and 2 still decode.
inline constexpr uint32_t kManifestFormatVersion = 3;
inline constexpr uint32_t kManifestFormatVersion2 = 2;
inline constexpr uint32_t kManifestFormatVersion1 = 1;
// magic[4] version u32 logical_size u64 chunk_size u32 entry_count u64
inline constexpr size_t kManifestHeaderSize = 28;
inline constexpr size_t kManifestTrailerSize = 32;  // SHA-256 of all preceding bytes

inline constexpr uint8_t kEntryKindZero = 0;            // version 1 only
inline constexpr uint8_t kEntryKindData = 1;            // versions 1 and 2
inline constexpr uint8_t kEntryKindHoleRun = 2;         // versions 2 and 3
inline constexpr uint8_t kEntryKindDataDigest = 3;      // version 3 only
inline constexpr size_t kZeroEntrySize = 1 + 4;         // kind, length u32
inline constexpr size_t kDataEntrySize = 1 + 32 + 4;    // kind, id, length u32
inline constexpr size_t kHoleRunEntrySize = 1 + 8 + 4;  // kind, count u64, last length u32
// kind, id, length u32, object digest (SHA-256 of the stored chunk object)
inline constexpr size_t kDataDigestEntrySize = 1 + 32 + 4 + 32;

}  // namespace ferry
