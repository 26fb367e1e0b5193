#include "store/chunk_id.h"

namespace ferry {

ChunkScope AccountChunkScope(std::string_view account_id) {
  static constexpr std::string_view kDomain = "ferry-dedup-scope-v1";
  static constexpr uint8_t kSeparator = 0;
  Sha256 h;
  h.Update(kDomain);
  h.Update(std::span<const uint8_t>(&kSeparator, 1));
  h.Update(account_id);
  return h.Finish();
}

ChunkId ComputeChunkId(const ChunkScope* scope, std::span<const uint8_t> plaintext) {
  if (scope == nullptr) return Sha256::Of(plaintext);
  Sha256 h;
  h.Update(std::span<const uint8_t>(*scope));
  h.Update(plaintext);
  return h.Finish();
}

}  // namespace ferry
