#include "common/nonce_cache.h"

#include <algorithm>
#include <cstring>

#include "common/hash.h"

namespace ferry {

NonceCache::Digest NonceCache::DigestOf(std::string_view scope, std::string_view nonce) {
  Sha256 hasher;
  hasher.Update(scope);
  hasher.Update(std::string_view("\n"));
  hasher.Update(nonce);
  Digest256 full = hasher.Finish();
  Digest out;
  std::copy_n(full.begin(), kDigestBytes, out.begin());
  return out;
}

uint64_t NonceCache::ScopeOf(std::string_view scope) {
  const Digest256 full = Sha256::Of(scope);
  uint64_t out;
  std::memcpy(&out, full.data(), sizeof(out));
  return out;
}

NonceCache::Outcome NonceCache::CheckAndInsert(const Digest& digest, UnixSeconds now, UnixSeconds expires_at,
                                               uint64_t scope) {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(now);
  if (live_.count(digest) != 0) return Outcome::kReplayed;
  if (live_.size() >= max_entries_) return Outcome::kFull;
  auto share = per_scope_.find(scope);
  if (share != per_scope_.end() && share->second >= max_per_scope_) return Outcome::kScopeFull;
  live_.insert(digest);
  by_expiry_[expires_at].push_back({digest, scope});
  ++per_scope_[scope];
  return Outcome::kAccepted;
}

size_t NonceCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return live_.size();
}

void NonceCache::ExpireLocked(UnixSeconds now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first < now) {
    for (const Expiring& e : by_expiry_.begin()->second) {
      live_.erase(e.digest);
      auto share = per_scope_.find(e.scope);
      if (share != per_scope_.end() && --share->second == 0) per_scope_.erase(share);
    }
    by_expiry_.erase(by_expiry_.begin());
  }
}

}  // namespace ferry
