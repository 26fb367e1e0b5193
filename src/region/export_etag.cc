#include "region/export_etag.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "common/hash.h"
#include "objects/object_store.h"
#include "store/coding.h"

namespace ferry {

std::string ExportObjectEtag(const Manifest& m) {
  static constexpr char kDomain[] = "ferry-export-etag-v1";  // with its NUL
  std::vector<uint8_t> head(kDomain, kDomain + sizeof(kDomain));
  PutFixed64(&head, m.logical_size);
  PutFixed32(&head, m.chunk_size);
  Sha256 sha;
  sha.Update(head);
  sha.Update(m.ContentDigest());
  const Digest256 digest = sha.Finish();
  std::array<uint8_t, 16> first{};
  std::copy_n(digest.begin(), first.size(), first.begin());
  const uint64_t part = PutFilePartBytes(m.logical_size);
  const uint64_t parts = std::max<uint64_t>(1, (m.logical_size + part - 1) / part);
  return OpaqueMultipartEtag(first, parts);
}

}  // namespace ferry
