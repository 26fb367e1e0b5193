// Constants of the manifest byte format (manifest_format.md, next to this
// file). Encode/decode live in manifest.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ferry {

inline constexpr std::array<uint8_t, 4> kManifestMagic = {'F', 'R', 'M', 'F'};
// Version 2 adds runs of holes; version 1 (one entry per chunk) still decodes.
inline constexpr uint32_t kManifestFormatVersion = 2;
inline constexpr uint32_t kManifestFormatVersion1 = 1;
// magic[4] version u32 logical_size u64 chunk_size u32 entry_count u64
inline constexpr size_t kManifestHeaderSize = 28;
inline constexpr size_t kManifestTrailerSize = 32;  // SHA-256 of all preceding bytes

inline constexpr uint8_t kEntryKindZero = 0;            // version 1 only
inline constexpr uint8_t kEntryKindData = 1;            // versions 1 and 2
inline constexpr uint8_t kEntryKindHoleRun = 2;         // version 2 only
inline constexpr size_t kZeroEntrySize = 1 + 4;         // kind, length u32
inline constexpr size_t kDataEntrySize = 1 + 32 + 4;    // kind, id, length u32
inline constexpr size_t kHoleRunEntrySize = 1 + 8 + 4;  // kind, count u64, last length u32

}  // namespace ferry
