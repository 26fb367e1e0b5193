#include "region/disks/disk_layout.h"

#include <vector>

#include "common/hash.h"
#include "common/ids.h"
#include "store/coding.h"

namespace ferry {

bool IsValidDiskId(std::string_view id) { return LooksLikeResourceId(id, "d"); }

bool IsValidBaseKey(std::string_view key) {
  if (key.size() != 64) return false;
  for (char c : key) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string BaseKeyFor(const Manifest& m) {
  static constexpr std::string_view kDomain = "ferry-disk-base-v1";
  std::vector<uint8_t> buf(kDomain.begin(), kDomain.end());
  buf.push_back(0);
  PutFixed64(&buf, m.logical_size);
  PutFixed32(&buf, m.chunk_size);
  const Digest256 content = m.ContentDigest();
  buf.insert(buf.end(), content.begin(), content.end());
  return ToHex(Sha256::Of(std::span<const uint8_t>(buf)));
}

std::string BaseFileName(std::string_view key) { return std::string(key) + kBaseSuffix; }
std::string DiskFileName(std::string_view id) { return std::string(id) + kDiskSuffix; }
std::string LockFileName(std::string_view key) { return std::string(key) + kLockSuffix; }

std::string BackingNameFor(std::string_view key) {
  return std::string("../") + kBasesDir + "/" + BaseFileName(key);
}

std::optional<std::string> BaseKeyFromBackingName(std::string_view name) {
  const std::string prefix = std::string("../") + kBasesDir + "/";
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  return StemOf(name.substr(prefix.size()), kBaseSuffix, &IsValidBaseKey);
}

std::optional<std::string> StemOf(std::string_view file_name, std::string_view suffix,
                                  bool (*valid)(std::string_view)) {
  if (file_name.size() <= suffix.size()) return std::nullopt;
  if (file_name.substr(file_name.size() - suffix.size()) != suffix) return std::nullopt;
  std::string_view stem = file_name.substr(0, file_name.size() - suffix.size());
  if (!valid(stem)) return std::nullopt;
  return std::string(stem);
}

}  // namespace ferry
