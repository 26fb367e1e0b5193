// Names and layout of a disks root (disks.md): every file name under it is
// built here, from a validated disk id or base key only, never from a string
// a tenant chose.
//
// Thread-safe: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/manifest.h"

namespace ferry {

// Sub-directories of a disks root.
inline constexpr char kBasesDir[] = "bases";
inline constexpr char kDisksDir[] = "disks";
inline constexpr char kTmpDir[] = "tmp";
inline constexpr char kLocksDir[] = "locks";

inline constexpr char kBaseSuffix[] = ".raw";
inline constexpr char kDiskSuffix[] = ".qcow2";
inline constexpr char kLockSuffix[] = ".lock";

// Disks are at most 64 TiB (ECS allows 32 TiB) and a whole number of
// 512-byte sectors, as qcow2 requires.
inline constexpr uint64_t kMaxDiskBytes = uint64_t{64} << 40;
inline constexpr uint64_t kDiskSectorBytes = 512;

// "d-" + 20 characters from [a-z0-9], as ECS disk ids.
bool IsValidDiskId(std::string_view id);
// 64 lower-case hex digits.
bool IsValidBaseKey(std::string_view key);

// The key of the base file holding the image `m` describes:
// hex(SHA-256("ferry-disk-base-v1" || 0x00 || le64 logical_size ||
// le32 chunk_size || m.ContentDigest())). Equal manifests share one base.
std::string BaseKeyFor(const Manifest& m);

// File names inside their directories.
std::string BaseFileName(std::string_view key);  // <key>.raw
std::string DiskFileName(std::string_view id);   // <id>.qcow2
std::string LockFileName(std::string_view key);  // <key>.lock

// The backing file name an overlay records: "../bases/<key>.raw", relative
// to the overlay's own directory, so a root can move and a hypervisor
// opening disks/<id>.qcow2 finds its base. Temporary overlays live in tmp/,
// a sibling of disks/, so the same name holds there.
std::string BackingNameFor(std::string_view key);
// The inverse: the key when `name` is exactly such a name, else nullopt.
std::optional<std::string> BaseKeyFromBackingName(std::string_view name);

// "<stem>" for "<stem><suffix>" when stem is valid by `valid`, else nullopt.
std::optional<std::string> StemOf(std::string_view file_name, std::string_view suffix,
                                  bool (*valid)(std::string_view));

}  // namespace ferry
