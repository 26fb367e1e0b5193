// PeerAccountDirectory: makes an AccessKey created in any process of the
// cluster work in every process. It decorates the process's own
// AccountDirectory: every call goes to `local`, except that an AccessKey (or
// an account) `local` does not know is asked of the peers, in order, with
//
//   GET /ferry/peer/v1/access-keys/{access_key_id}
//
// which a peer answers 200 {"AccessKeyId","AccountId","AccountName","IsRoot",
// "Enabled","CreationTime","SealedSecret"} or 404. The secret travels sealed
// with the cluster key (copy/peer_auth.h: SealPeerSecret with the
// AccessKeyId as context); an answer whose seal does not open, or that names
// another key, is not trusted.
//
// Answers are cached: a found key (with its account) for
// `found_ttl_seconds`, a key no peer knows for `missing_ttl_seconds`, so a
// request signed with a bad key does not fan out to every peer each time.
// A key disabled or deleted in its home process therefore keeps working
// elsewhere for up to `found_ttl_seconds`.
//
// Failures: a peer that fails (unreachable, 5xx, refuses our cluster key, or
// sends an untrusted answer) is skipped, logged at most once per
// `log_interval_seconds`, and not asked again for `peer_backoff_seconds`.
// When no peer knows the key and at least one failed, GetAccessKey returns
// kUnavailable with reason "ServiceUnavailable": the key may exist in the
// peer that could not answer, so "not found" would be a lie. Nothing is
// cached then.
//
// GetAccount(account_id) answers from `local`, else from the accounts the
// key lookups cached (the account ids are the same in every process), else
// asks the peers with GET /ferry/peer/v1/accounts/{account_id} (ids of
// digits only; a found account is cached, a miss is not).
//
// Threading: thread-safe (the cache and peer state are guarded by mu_;
// peers are called without holding it). `local`, the peers and `clock` must
// be thread-safe; `local` and `clock` must outlive the directory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/clock.h"
#include "copy/peer_client.h"

namespace ferry {

inline constexpr const char* kPeerAccessKeyPathPrefix = "/ferry/peer/v1/access-keys/";

struct PeerAccountOptions {
  int64_t found_ttl_seconds = 5 * 60;
  int64_t missing_ttl_seconds = 10;
  // Cached keys plus cached misses; beyond it the entries closest to expiry
  // go first.
  size_t max_cached_keys = 10000;
  int64_t peer_backoff_seconds = 5;
  int64_t log_interval_seconds = 60;
};

// The directory for a process whose peers are `peers` (one client per other
// process of the cluster). `cluster_key` opens the sealed secrets.
std::unique_ptr<AccountDirectory> NewPeerAccountDirectory(AccountDirectory& local,
                                                          std::vector<std::unique_ptr<PeerClient>> peers,
                                                          std::string cluster_key, const Clock& clock,
                                                          const PeerAccountOptions& options = {});

}  // namespace ferry
