#include "api/peer_accounts.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/log_safe.h"
#include "copy/peer_auth.h"
#include "copy/peer_wire.h"

namespace ferry {
namespace {

using nlohmann::json;
using SteadyTime = std::chrono::steady_clock::time_point;

// Ids that could name a key somewhere. Anything else is answered "not found"
// without asking, and never becomes part of a peer's URL path.
bool IsPlausibleKeyId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Status Untrusted(const std::string& peer, const std::string& id, const std::string& what) {
  return DataLoss("peer " + peer + " answered the lookup of AccessKey " + id + " with " + what);
}

struct PeerKey {
  AccessKeyRecord key;
  AccountRecord account;
};

// Checks every field before reading it, so a malformed answer is an error
// value rather than a json exception.
Result<PeerKey> ParseAnswer(const std::string& peer, const std::string& id, const std::string& cluster_key,
                            const PeerResponse& response) {
  json body = json::parse(response.body.begin(), response.body.end(), nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object())
    return Untrusted(peer, id, "a body that is not a JSON object");
  for (const char* name : {"AccessKeyId", "AccountId", "AccountName", "SealedSecret"}) {
    if (!body.contains(name) || !body[name].is_string()) {
      return Untrusted(peer, id, std::string("no string field \"") + name + "\"");
    }
  }
  for (const char* name : {"IsRoot", "Enabled"}) {
    if (!body.contains(name) || !body[name].is_boolean()) {
      return Untrusted(peer, id, std::string("no boolean field \"") + name + "\"");
    }
  }
  if (!body.contains("CreationTime") || !body["CreationTime"].is_number_integer()) {
    return Untrusted(peer, id, "no integer field \"CreationTime\"");
  }
  if (body["AccessKeyId"].get<std::string>() != id) {
    return Untrusted(peer, id, "the record of AccessKey \"" + body["AccessKeyId"].get<std::string>() + "\"");
  }
  if (body["AccountId"].get<std::string>().empty()) return Untrusted(peer, id, "an empty AccountId");

  Result<std::string> secret = OpenPeerSecret(cluster_key, id, body["SealedSecret"].get<std::string>());
  if (!secret.ok()) {
    return Untrusted(
        peer, id,
        "a sealed secret that does not open with this cluster's key (" + secret.status().ToString() + ")");
  }
  PeerKey out;
  out.key.access_key_id = id;
  out.key.access_key_secret = std::move(*secret);
  out.key.account_id = body["AccountId"].get<std::string>();
  out.key.enabled = body["Enabled"].get<bool>();
  out.key.creation_time = body["CreationTime"].get<int64_t>();
  out.account.account_id = out.key.account_id;
  out.account.name = body["AccountName"].get<std::string>();
  out.account.is_root = body["IsRoot"].get<bool>();
  // The peer sends the key's creation time only; the account's stays 0.
  return out;
}

// Account ids are digits (CreateAccount, the root account, the system one).
bool IsPlausibleAccountId(std::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<AccountRecord> ParseAccountAnswer(const std::string& peer, const std::string& id,
                                         const PeerResponse& response) {
  json body = json::parse(response.body.begin(), response.body.end(), nullptr, /*allow_exceptions=*/false);
  auto untrusted = [&](const std::string& what) {
    return DataLoss("peer " + peer + " answered the lookup of account " + id + " with " + what);
  };
  if (body.is_discarded() || !body.is_object()) return untrusted("a body that is not a JSON object");
  if (!body.contains("AccountId") || !body["AccountId"].is_string() || body["AccountId"].get<std::string>() != id)
    return untrusted("another account's record");
  if (!body.contains("AccountName") || !body["AccountName"].is_string()) return untrusted("no AccountName");
  if (!body.contains("IsRoot") || !body["IsRoot"].is_boolean()) return untrusted("no IsRoot");
  if (!body.contains("CreationTime") || !body["CreationTime"].is_number_integer())
    return untrusted("no CreationTime");
  AccountRecord account;
  account.account_id = id;
  account.name = body["AccountName"].get<std::string>();
  account.is_root = body["IsRoot"].get<bool>();
  account.creation_time = body["CreationTime"].get<int64_t>();
  return account;
}

class PeerAccountDirectory final : public AccountDirectory {
 public:
  PeerAccountDirectory(AccountDirectory& local, std::vector<std::unique_ptr<PeerClient>> peers,
                       std::string cluster_key, const Clock& clock, const PeerAccountOptions& options)
      : local_(local), cluster_key_(std::move(cluster_key)), clock_(clock), options_(options) {
    for (auto& client : peers) peers_.push_back(Peer{std::move(client), {}, {}, false});
  }

  Status CreateAccount(const AccountRecord& a) override { return local_.CreateAccount(a); }
  Result<AccountRecord> FindAccountByName(const std::string& name) override {
    return local_.FindAccountByName(name);
  }
  Result<std::vector<AccountRecord>> ListAccounts() override { return local_.ListAccounts(); }
  Status AddAccessKey(const AccessKeyRecord& k) override { return local_.AddAccessKey(k); }
  Status SetAccessKeyEnabled(const std::string& access_key_id, bool enabled) override {
    return local_.SetAccessKeyEnabled(access_key_id, enabled);
  }
  Status DeleteAccessKey(const std::string& access_key_id) override {
    return local_.DeleteAccessKey(access_key_id);
  }
  Result<std::vector<AccessKeyRecord>> ListAccessKeys(const std::string& account_id) override {
    return local_.ListAccessKeys(account_id);
  }
  Status AllowLargeCopy(const std::string& account_id, const std::string& image_id) override {
    return local_.AllowLargeCopy(account_id, image_id);
  }
  Result<bool> IsLargeCopyAllowed(const std::string& account_id, const std::string& image_id) override {
    return local_.IsLargeCopyAllowed(account_id, image_id);
  }

  Result<AccountRecord> GetAccount(const std::string& account_id) override {
    Result<AccountRecord> local = local_.GetAccount(account_id);
    if (local.ok() || local.status().code() != Code::kNotFound) return local;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = accounts_.find(account_id);
      if (it != accounts_.end()) {
        if (it->second.expires > clock_.Steady()) return it->second.account;
        accounts_.erase(it);
      }
    }
    // An account made in another process (CreateAccount runs in the
    // cluster owner) whose keys were never used here: ask. Misses are not
    // cached, so a client's made-up ids take no memory here.
    if (peers_.empty() || !IsPlausibleAccountId(account_id)) return local;
    return AskPeersForAccount(account_id, local.status());
  }

  Result<AccessKeyRecord> GetAccessKey(const std::string& access_key_id) override {
    Result<AccessKeyRecord> local = local_.GetAccessKey(access_key_id);
    if (local.ok() || local.status().code() != Code::kNotFound) return local;
    if (peers_.empty() || !IsPlausibleKeyId(access_key_id)) return local;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const CachedKey* cached = FindKeyLocked(access_key_id, clock_.Steady());
      if (cached != nullptr) {
        if (!cached->found) return local;
        // The caller asks for the key's account next; it must not have been
        // evicted on its own.
        AccessKeyRecord key = cached->key;
        CacheAccountLocked(cached->account);
        return key;
      }
    }
    return AskPeers(access_key_id, local.status());
  }

 private:
  struct Peer {
    std::unique_ptr<PeerClient> client;
    SteadyTime skip_until;
    SteadyTime last_logged;
    bool logged_once;
  };

  struct CachedKey {
    bool found = false;  // false: no peer knew the key
    AccessKeyRecord key;
    AccountRecord account;
    SteadyTime expires;
  };

  struct CachedAccount {
    AccountRecord account;
    SteadyTime expires;
  };

  Result<AccessKeyRecord> AskPeers(const std::string& id, const Status& local_miss) {
    size_t failed = 0;
    for (size_t i = 0; i < peers_.size(); ++i) {
      Peer& peer = peers_[i];
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (clock_.Steady() < peer.skip_until) {
          ++failed;
          continue;
        }
      }
      const std::string& url = peer.client->base_url();
      Result<PeerKey> answer = [&]() -> Result<PeerKey> {
        ASSIGN_OR_RETURN(PeerResponse response, peer.client->Call("GET", kPeerAccessKeyPathPrefix + id));
        return ParseAnswer(url, id, cluster_key_, response);
      }();
      if (answer.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        CacheLocked(id, CachedKey{true, answer->key, answer->account, {}}, options_.found_ttl_seconds);
        CacheAccountLocked(answer->account);
        return answer->key;
      }
      // Only the peer's own "I do not hold it" is an answer; anything else
      // (including a 403 because our cluster keys differ) leaves it unknown.
      if (answer.status().code() == Code::kNotFound) continue;
      ++failed;
      NotePeerFailure(peer, "AccessKey " + id, answer.status());
    }
    if (failed > 0) {
      return Status(Code::kUnavailable, "ServiceUnavailable",
                    "AccessKey " + id + " is not held by this Ferry process and " + std::to_string(failed) +
                        " of the " + std::to_string(peers_.size()) +
                        " other processes of the cluster could not be asked; try again later.");
    }
    std::lock_guard<std::mutex> lock(mu_);
    CacheLocked(id, CachedKey{false, {}, {}, {}}, options_.missing_ttl_seconds);
    return local_miss;
  }

  Result<AccountRecord> AskPeersForAccount(const std::string& account_id, const Status& local_miss) {
    size_t failed = 0;
    for (Peer& peer : peers_) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (clock_.Steady() < peer.skip_until) {
          ++failed;
          continue;
        }
      }
      const std::string& url = peer.client->base_url();
      Result<AccountRecord> answer = [&]() -> Result<AccountRecord> {
        ASSIGN_OR_RETURN(PeerResponse response, peer.client->Call("GET", PeerAccountPath(account_id)));
        return ParseAccountAnswer(url, account_id, response);
      }();
      if (answer.ok()) {
        std::lock_guard<std::mutex> lock(mu_);
        CacheAccountLocked(*answer);
        return answer;
      }
      if (answer.status().code() == Code::kNotFound) continue;
      ++failed;
      NotePeerFailure(peer, "account " + account_id, answer.status());
    }
    if (failed > 0) {
      return Status(Code::kUnavailable, "ServiceUnavailable",
                    "Account " + account_id + " is not known to this Ferry process and " + std::to_string(failed) +
                        " of the " + std::to_string(peers_.size()) +
                        " other processes of the cluster could not be asked; try again later.");
    }
    return local_miss;
  }

  void NotePeerFailure(Peer& peer, const std::string& id, const Status& status) {
    std::lock_guard<std::mutex> lock(mu_);
    SteadyTime now = clock_.Steady();
    peer.skip_until = now + std::chrono::seconds(options_.peer_backoff_seconds);
    if (peer.logged_once && now - peer.last_logged < std::chrono::seconds(options_.log_interval_seconds))
      return;
    peer.logged_once = true;
    peer.last_logged = now;
    spdlog::warn(
        "peer accounts: cannot look up {} in peer {} (skipping it for {} s; logged at most "
        "once a minute per peer): {}",
        LogSafe(id), peer.client->base_url(), options_.peer_backoff_seconds, LogSafe(status.ToString()));
  }

  // The live entry for `id`, dropping it when it has expired.
  const CachedKey* FindKeyLocked(const std::string& id, SteadyTime now) {
    auto it = keys_.find(id);
    if (it == keys_.end()) return nullptr;
    if (it->second.expires <= now) {
      keys_by_expiry_.erase({it->second.expires, id});
      keys_.erase(it);
      return nullptr;
    }
    return &it->second;
  }

  void CacheLocked(const std::string& id, CachedKey entry, int64_t ttl_seconds) {
    SteadyTime now = clock_.Steady();
    entry.expires = now + std::chrono::seconds(ttl_seconds);
    auto old = keys_.find(id);
    if (old != keys_.end()) {
      keys_by_expiry_.erase({old->second.expires, id});
      keys_.erase(old);
    }
    while (!keys_by_expiry_.empty() &&
           (keys_by_expiry_.begin()->first <= now || keys_.size() >= options_.max_cached_keys)) {
      keys_.erase(keys_by_expiry_.begin()->second);
      keys_by_expiry_.erase(keys_by_expiry_.begin());
    }
    if (options_.max_cached_keys == 0) return;
    keys_by_expiry_.emplace(entry.expires, id);
    keys_.emplace(id, std::move(entry));
  }

  void CacheAccountLocked(const AccountRecord& account) {
    SteadyTime now = clock_.Steady();
    if (accounts_.count(account.account_id) == 0 && accounts_.size() >= options_.max_cached_keys) {
      // Rare (more accounts than cached keys): a linear sweep is fine.
      for (auto it = accounts_.begin(); it != accounts_.end();) {
        it = it->second.expires <= now ? accounts_.erase(it) : std::next(it);
      }
      if (accounts_.size() >= options_.max_cached_keys && !accounts_.empty()) {
        auto oldest = accounts_.begin();
        for (auto it = accounts_.begin(); it != accounts_.end(); ++it) {
          if (it->second.expires < oldest->second.expires) oldest = it;
        }
        accounts_.erase(oldest);
      }
      if (options_.max_cached_keys == 0) return;
    }
    accounts_[account.account_id] =
        CachedAccount{account, now + std::chrono::seconds(options_.found_ttl_seconds)};
  }

  AccountDirectory& local_;
  const std::string cluster_key_;
  const Clock& clock_;
  const PeerAccountOptions options_;

  std::mutex mu_;
  // The vector itself is fixed after construction; each Peer's timestamps
  // are guarded by mu_.
  std::vector<Peer> peers_;
  std::unordered_map<std::string, CachedKey> keys_;              // guarded by mu_
  std::set<std::pair<SteadyTime, std::string>> keys_by_expiry_;  // guarded by mu_
  std::unordered_map<std::string, CachedAccount> accounts_;      // guarded by mu_
};

}  // namespace

std::unique_ptr<AccountDirectory> NewPeerAccountDirectory(AccountDirectory& local,
                                                          std::vector<std::unique_ptr<PeerClient>> peers,
                                                          std::string cluster_key, const Clock& clock,
                                                          const PeerAccountOptions& options) {
  return std::make_unique<PeerAccountDirectory>(local, std::move(peers), std::move(cluster_key), clock,
                                                options);
}

}  // namespace ferry
