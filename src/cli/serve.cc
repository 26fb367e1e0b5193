#include "cli/serve.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>
#include <vector>

#include "api/accounts_admin.h"
#include "api/action.h"
#include "api/dispatcher.h"
#include "api/errors.h"
#include "api/peer_accounts.h"
#include "api/peer_nonces.h"
#include "api/server.h"
#include "catalog/pg_account_directory.h"
#include "catalog/pg_db.h"
#include "catalog/pg_nonce_ledger.h"
#include "catalog/sqlite_account_directory.h"
#include "cli/output.h"
#include "cli/profile.h"
#include "common/clock.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/http_url.h"
#include "common/ids.h"
#include "common/log_safe.h"
#include "copy/chunk_source.h"
#include "copy/failover_peer_client.h"
#include "copy/peer_auth.h"
#include "copy/peer_client.h"
#include "copy/peer_wire.h"
#include "objects/fs_object_store.h"
#include "objects/s3_object_store.h"
#include "region/region.h"
#include "region/remote_copy_peer.h"
#include "store/s3_client.h"

namespace ferry::cli {
namespace {

constexpr const char* kRootAccountName = "root";
// The bound on a peer's answer to an account, AccessKey or nonce call: one
// small JSON record (a copy peer's and a chunk source's are their own).
constexpr uint64_t kPeerRecordAnswerBytes = 1u << 20;

std::string AccountsDbPath(const std::string& data) { return data + "/accounts.db"; }
std::string RootCredentialsPath(const std::string& data) { return data + "/root-credentials.json"; }
std::string ClusterKeyPath(const std::string& data) { return data + "/cluster-key"; }
std::string OssDir(const std::string& data) { return data + "/oss"; }
std::string RegionDir(const std::string& data, const std::string& region) { return data + "/regions/" + region; }

void SetUpLogging(const std::string& level) {
  // Every line goes through the escaping sink: no value a client chose can
  // start a line of its own (common/log_safe.h).
  auto logger = std::make_shared<spdlog::logger>(
      "ferry", NewLogSafeSink(std::make_shared<spdlog::sinks::stderr_color_sink_mt>()));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

// An exclusive flock on DATA/ferry.lock: one server (or fsck/gc) per data
// directory. The kernel drops it when the process dies, even on kill -9.
class DataDirLock {
 public:
  static Result<DataDirLock> Acquire(const std::string& data_dir) {
    std::string path = data_dir + "/ferry.lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoStatus("open", path, errno);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno == EWOULDBLOCK)
        return FailedPrecondition("", "data directory " + data_dir +
                                          " is in use by another ferry process (" + path + " is locked)");
      return ErrnoStatus("flock", path, errno);
    }
    DataDirLock lock;
    lock.fd_ = std::move(fd);
    return lock;
  }

 private:
  UniqueFd fd_;
};

// The root account and the AccessKey this process advertises for it.
struct RootIdentity {
  std::string account_id;
  AccessKeyRecord key;
};

Result<AccountRecord> FindRoot(AccountDirectory& accounts) {
  ASSIGN_OR_RETURN(std::vector<AccountRecord> all, accounts.ListAccounts());
  for (const AccountRecord& a : all)
    if (a.is_root) return a;
  return NotFound("", "no root account");
}

// First start: creates the root account and its key (from
// FERRY_ACCESS_KEY_ID/SECRET when both are set), records it in
// root-credentials.json and prints it once. Later starts make sure the
// environment's key exists for root.
// The root account's id in a cluster: derived from the cluster key, so every
// process of the cluster that starts on an empty data directory gives its
// root account the same id, and what root does in one process is root's in
// the others.
// "1" and 15 digits, like an Alibaba account id (and CreateAccount's): below
// 2^53, so ImageOwnerId, a JSON number, survives JSON.parse in the SDKs.
std::string RootAccountIdFor(const std::string& cluster_key) {
  const std::string mac = HmacSha256(cluster_key, "ferry-root-account-v1");
  std::string digits = "1";
  for (unsigned char byte : mac) {
    // Bytes >= 250 are skipped so each digit is uniform (250 = 25 * 10).
    if (byte < 250 && digits.size() < 16) digits += static_cast<char>('0' + byte % 10);
  }
  while (digits.size() < 16) digits += '7';
  return digits;
}

Result<RootIdentity> EnsureRootAccountOnce(AccountDirectory& accounts, const std::string& data_dir,
                                           const std::string& cluster_key, const Clock& clock);
constexpr const char* kRootKeyMissing = "RootAccessKeyMissing";

// Nodes of one region that share a PostgreSQL directory may start at once:
// one creates the root account and its key, the others find it made (or
// half made: the account without its key yet) and look again, bounded.
Result<RootIdentity> EnsureRootAccount(AccountDirectory& accounts, const std::string& data_dir,
                                       const std::string& cluster_key, const Clock& clock) {
  constexpr int kAttempts = 50;
  for (int attempt = 1;; ++attempt) {
    Result<RootIdentity> root = EnsureRootAccountOnce(accounts, data_dir, cluster_key, clock);
    const bool raced = !root.ok() && (root.status().code() == Code::kAlreadyExists ||
                                      root.status().reason() == kRootKeyMissing);
    if (!raced || attempt == kAttempts) return root;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Result<RootIdentity> EnsureRootAccountOnce(AccountDirectory& accounts, const std::string& data_dir,
                                           const std::string& cluster_key, const Clock& clock) {
  std::optional<std::string> env_id = GetEnv("FERRY_ACCESS_KEY_ID");
  std::optional<std::string> env_secret = GetEnv("FERRY_ACCESS_KEY_SECRET");
  const bool env_key = env_id && env_secret;
  if ((env_id.has_value()) != (env_secret.has_value()))
    spdlog::warn("only one of FERRY_ACCESS_KEY_ID and FERRY_ACCESS_KEY_SECRET is set; ignoring it");

  RootIdentity root;
  Result<AccountRecord> existing = FindRoot(accounts);
  if (!existing.ok() && existing.status().code() != Code::kNotFound) return existing.status();

  if (!existing.ok()) {
    AccountRecord account;
    account.account_id = RootAccountIdFor(cluster_key);
    account.name = kRootAccountName;
    account.is_root = true;
    account.creation_time = clock.Now();
    RETURN_IF_ERROR(accounts.CreateAccount(account));
    AccessKeyRecord key;
    key.access_key_id = env_key ? *env_id : "LTAI" + RandomAlnum(20);
    key.access_key_secret = env_key ? *env_secret : RandomAlnum(30);
    key.account_id = account.account_id;
    key.enabled = true;
    key.creation_time = clock.Now();
    RETURN_IF_ERROR(accounts.AddAccessKey(key));

    nlohmann::json creds = {{"AccountId", account.account_id},
                            {"AccessKeyId", key.access_key_id},
                            {"AccessKeySecret", key.access_key_secret}};
    RETURN_IF_ERROR(WriteFileAtomic(RootCredentialsPath(data_dir), creds.dump(2) + "\n", 0600));
    std::cout << creds.dump() << std::endl;
    spdlog::info("created root account account_id={} access_key_id={} credentials={}", account.account_id,
                 key.access_key_id, RootCredentialsPath(data_dir));
    root.account_id = account.account_id;
    root.key = key;
    return root;
  }

  root.account_id = existing->account_id;
  if (root.account_id.size() >= 16 && root.account_id > "9007199254740992") {
    spdlog::warn("the root account id {} is 2^53 or more: SDKs that parse ImageOwnerId as a JSON number (the "
                 "JavaScript ones) round it. Data directories made since this build get ids below 2^53.",
                 root.account_id);
  }
  if (env_key) {
    Result<AccessKeyRecord> key = accounts.GetAccessKey(*env_id);
    if (key.ok()) {
      if (key->account_id != root.account_id)
        return FailedPrecondition("", "FERRY_ACCESS_KEY_ID " + *env_id + " belongs to account " +
                                          key->account_id + ", not to the root account " + root.account_id);
      if (key->access_key_secret != *env_secret)
        return FailedPrecondition("", "FERRY_ACCESS_KEY_SECRET does not match the stored secret of AccessKey " +
                                          *env_id);
      root.key = *key;
      return root;
    }
    if (key.status().code() != Code::kNotFound) return key.status();
    AccessKeyRecord added;
    added.access_key_id = *env_id;
    added.access_key_secret = *env_secret;
    added.account_id = root.account_id;
    added.enabled = true;
    added.creation_time = clock.Now();
    RETURN_IF_ERROR(accounts.AddAccessKey(added));
    spdlog::info("added AccessKey access_key_id={} to root account account_id={}", added.access_key_id,
                 root.account_id);
    root.key = added;
    return root;
  }
  ASSIGN_OR_RETURN(std::vector<AccessKeyRecord> keys, accounts.ListAccessKeys(root.account_id));
  for (const AccessKeyRecord& k : keys) {
    if (k.enabled) {
      root.key = k;
      return root;
    }
  }
  return FailedPrecondition(kRootKeyMissing, "root account " + root.account_id + " has no enabled AccessKey");
}

// The URL clients use: a wildcard listen address is reached on loopback.
std::string EndpointFor(const std::string& host, uint16_t port) {
  return "http://" + ListenerAuthority(host, port);
}

// Leaves a "default" CLI profile so client commands work at once. Another
// server's profile is left alone; one that points at this endpoint or uses
// this root key is ours to refresh.
void WriteDefaultProfile(const std::string& endpoint, const std::string& oss_endpoint, const RootIdentity& root,
                         const std::string& region) {
  const std::string path = ProfilesPath();
  Result<ProfileMap> profiles = LoadProfiles(path);
  if (!profiles.ok()) {
    spdlog::warn("not writing the default CLI profile: {}", profiles.status().ToString());
    return;
  }
  auto it = profiles->find(kDefaultProfile);
  if (it != profiles->end() && it->second.endpoint != endpoint &&
      it->second.access_key_id != root.key.access_key_id) {
    spdlog::info("CLI profile \"default\" in {} points at {}; leaving it", path, it->second.endpoint);
    return;
  }
  (*profiles)[kDefaultProfile] =
      Profile{endpoint, root.key.access_key_id, root.key.access_key_secret, region, oss_endpoint};
  Status st = SaveProfiles(path, *profiles);
  if (!st.ok()) {
    spdlog::warn("not writing the default CLI profile: {}", st.ToString());
    return;
  }
  spdlog::info("CLI profile \"default\" written path={} endpoint={}", path, endpoint);
}

// What the regions' copy hooks need from the process, filled in as it
// starts: the regions open so far, the peers' regions (reached over the peer
// API) and, once the server listens, the endpoint the local regions pull
// from. The hooks may run on any region thread before either is known,
// hence the lock.
class CopyWiring {
 public:
  CopyWiring(std::string cluster_key, AccountDirectory* accounts)
      : cluster_key_(std::move(cluster_key)), accounts_(accounts) {}
  ~CopyWiring() {
    stopping_ = true;
    for (std::thread& t : pings_) {
      if (t.joinable()) t.join();
    }
  }
  CopyWiring(const CopyWiring&) = delete;
  CopyWiring& operator=(const CopyWiring&) = delete;

  Status AddPeer(const PeerSetting& peer) {
    RemoteCopyPeerOptions options;
    options.region_id = peer.region_id;
    options.base_url = peer.base_url;
    options.more_urls = peer.more_urls;
    options.cluster_key = cluster_key_;
    ASSIGN_OR_RETURN(std::unique_ptr<CopyPeer> remote, NewRemoteCopyPeer(options));
    std::lock_guard<std::mutex> lock(mu_);
    peers_.push_back(Peer{peer, std::move(remote)});
    return Status::Ok();
  }
  // Asks every peer region, in the background, until it answers (every
  // second for up to kPingAttempts) and logs the outcome: the operator learns
  // whether the cluster's addresses and key are right, and each peer's first
  // copy finds a connection ready, whichever process started first. Once it
  // answered, the peer's connections are kept ready (every kKeepWarm) until
  // shutdown: a peer closes connections idle for 120 s, and a copy that
  // opened its own would wait a round trip on each over a long link.
  void PingPeers() {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Peer& p : peers_) {
      pings_.emplace_back([this, region = p.setting.region_id, urls = p.setting.urls(),
                           remote = p.remote.get()] {
        std::string url;
        for (const std::string& u : urls) url += (url.empty() ? "" : ",") + u;
        Status st;
        for (int attempt = 0; attempt < kPingAttempts && !stopping_; ++attempt) {
          if (attempt > 0 && !SleepUnlessStopped(stopping_, std::chrono::seconds(1))) return;
          st = remote->Ping();
          if (st.ok()) break;
          // A refused cluster key or an unknown region does not heal by waiting.
          if (st.code() != Code::kUnavailable) break;
        }
        if (!st.ok()) {
          spdlog::warn(
              "peer region not reachable region_id={} url={}: {} (copies to and from it wait and retry)", region,
              url, st.ToString());
          return;
        }
        spdlog::info("peer region reachable region_id={} url={}", region, url);
        do {
          (void)remote->Ping();  // the copy calls' own connection
          for (const std::string& u : urls) WarmChunkClient(region, u);
        } while (SleepUnlessStopped(stopping_, kKeepWarm));
      });
    }
  }

  void AddRegion(Region* region) {
    std::lock_guard<std::mutex> lock(mu_);
    regions_.push_back(region);
  }
  void SetEndpoint(const std::string& endpoint) {
    std::lock_guard<std::mutex> lock(mu_);
    endpoint_ = endpoint;
  }
  // Called once every region has shut down and before they are destroyed,
  // so no hook can hand out a dangling region.
  void Clear() {
    std::vector<std::thread> pings;
    stopping_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      regions_.clear();
      endpoint_.clear();
      pings.swap(pings_);
    }
    for (std::thread& t : pings) t.join();
  }

  CopyPeer* Resolve(const std::string& region_id) {
    std::lock_guard<std::mutex> lock(mu_);
    for (Region* r : regions_)
      if (r->id() == region_id) return r;
    for (const Peer& p : peers_)
      if (p.setting.region_id == region_id) return p.remote.get();
    return nullptr;
  }

  Result<std::unique_ptr<ChunkSource>> Source(const std::string& source_region_id) {
    std::vector<std::string> urls;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!endpoint_.empty()) urls = {endpoint_};
      for (const Peer& p : peers_)
        if (p.setting.region_id == source_region_id) urls = p.setting.urls();
    }
    if (urls.empty()) {
      return Unavailable("cannot read region " + source_region_id +
                         " yet: this process's server is not listening");
    }
    if (urls.size() == 1) {
      ASSIGN_OR_RETURN(std::shared_ptr<PeerClient> client, ChunkClient(urls.front()));
      return NewHttpChunkSource(std::move(client));
    }
    // The source region's nodes: a copy reads from any that answers.
    std::vector<std::shared_ptr<PeerClient>> clients;
    for (const std::string& url : urls) {
      ASSIGN_OR_RETURN(std::shared_ptr<PeerClient> client, ChunkClient(url));
      clients.push_back(std::move(client));
    }
    std::lock_guard<std::mutex> lock(mu_);
    std::shared_ptr<PeerClient>& failover = failover_chunk_clients_[source_region_id];
    if (!failover) failover = NewFailoverPeerClient(std::move(clients));
    return NewHttpChunkSource(failover);
  }

  // Connections per peer for chunk reads: each running copy keeps up to
  // twice `in_flight` fetches going (on a long link: PullOptions). The
  // chunk buffers of every copy into this process come from one budget of
  // `buffer_bytes`; stores take turns, one per core (2 to 8): more would
  // only wait for a core, each holding a chunk-sized scratch buffer.
  // Called once, before any region opens.
  void SetCopyLimits(unsigned max_running_copies, unsigned in_flight, uint64_t buffer_bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    warm_connections_ = 2 * std::max(1u, in_flight);
    chunk_connections_ = std::max(1u, max_running_copies) * warm_connections_;
    const unsigned stores = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
    copy_budget_ = std::make_unique<ChunkBudget>(buffer_bytes, stores);
  }
  // Null until SetCopyLimits.
  ChunkBudget* CopyBudget() {
    std::lock_guard<std::mutex> lock(mu_);
    return copy_budget_.get();
  }

  void SetLinkRateLimits(const std::map<std::string, uint64_t>& limits) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [region, rate] : limits) links_[region] = std::make_unique<LinkLimiter>(rate);
  }
  LinkLimiter* Link(const std::string& source_region_id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = links_.find(source_region_id);
    if (it == links_.end()) it = links_.find("*");
    return it == links_.end() ? nullptr : it->second.get();
  }

  // The directory requests are authenticated against (its peers' accounts
  // too, in a cluster); until it is set, the process's own.
  void SetRequestAccounts(AccountDirectory* accounts) { request_accounts_ = accounts; }

  // Whether `account_id` is an account (image shares name only those).
  Result<bool> AccountExists(const std::string& account_id) {
    AccountDirectory* accounts = request_accounts_.load();
    if (accounts == nullptr) accounts = accounts_;
    if (accounts == nullptr) return false;
    Result<AccountRecord> found = accounts->GetAccount(account_id);
    if (found.ok()) return true;
    if (found.status().code() == Code::kNotFound) return false;
    return found.status();
  }

  bool LargeCopyAllowed(const std::string& account_id, const std::string& image_id) {
    if (accounts_ == nullptr) return false;
    Result<bool> allowed = accounts_->IsLargeCopyAllowed(account_id, image_id);
    if (!allowed.ok()) {
      // Refusing is the safe answer; the operator sees why in the log.
      spdlog::warn("large-copy allowance lookup failed account_id={} image_id={}: {}", account_id, image_id,
                   allowed.status().ToString());
      return false;
    }
    return *allowed;
  }

 private:
  struct Peer {
    PeerSetting setting;
    std::unique_ptr<CopyPeer> remote;
  };

  // Per peer region served by several nodes: the failover over their chunk
  // clients, kept so the node that answered last stays the one asked.
  std::map<std::string, std::shared_ptr<PeerClient>> failover_chunk_clients_;  // guarded by mu_

  // The one chunk-read client of the server at `base_url`, made on first use
  // and kept, so copies reuse connections instead of opening their own.
  Result<std::shared_ptr<PeerClient>> ChunkClient(const std::string& base_url) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = chunk_clients_.find(base_url);
    if (it != chunk_clients_.end()) return it->second;
    HttpChunkSourceOptions options;
    options.base_url = base_url;
    options.cluster_key = cluster_key_;
    options.max_connections = chunk_connections_;
    ASSIGN_OR_RETURN(std::shared_ptr<PeerClient> client, NewChunkPeerClient(options));
    chunk_clients_.emplace(base_url, client);
    return client;
  }

  // Readies one copy's worth of chunk connections to a peer that answered,
  // so the first copy from it starts on open connections (on a long link,
  // each new one costs a round trip before its first byte), and gives the
  // copies the link's round trip.
  void WarmChunkClient(const std::string& region_id, const std::string& base_url) {
    Result<std::shared_ptr<PeerClient>> client = ChunkClient(base_url);
    if (!client.ok()) return;  // the copies meet the same error and report it
    unsigned connections;
    {
      std::lock_guard<std::mutex> lock(mu_);
      connections = warm_connections_;
    }
    (*client)->Warm(PeerRegionPath(region_id), connections, kWarmTimeoutMs);
  }

  const std::string cluster_key_;
  AccountDirectory* const accounts_;  // borrowed; outlives the regions
  std::atomic<AccountDirectory*> request_accounts_{nullptr};  // borrowed; outlives the regions
  std::mutex mu_;
  std::vector<Region*> regions_;  // guarded by mu_
  std::vector<Peer> peers_;       // guarded by mu_; fixed after start-up
  std::vector<std::thread> pings_;  // guarded by mu_; joined by Clear()
  std::atomic<bool> stopping_{false};  // ends the pings
  static constexpr int kPingAttempts = 60;
  // Below half of PeerClient's max_idle_ms, so each idle connection is pinged
  // before it would be dropped, and far below the server's 120 s idle close.
  static constexpr std::chrono::seconds kKeepWarm{30};
  // By source region ("*": any other); fixed after start-up, never erased.
  std::map<std::string, std::unique_ptr<LinkLimiter>> links_;  // guarded by mu_
  // Set once by SetCopyLimits, then only read; outlives the regions (they
  // hold `wiring`).
  std::unique_ptr<ChunkBudget> copy_budget_;  // guarded by mu_
  std::string endpoint_;          // guarded by mu_; "" until listening
  // By base URL; never erased, so a source may hold a client past Clear().
  std::map<std::string, std::shared_ptr<PeerClient>> chunk_clients_;  // guarded by mu_
  unsigned warm_connections_ = 2 * kDefaultRegionCopyInFlight;         // guarded by mu_
  unsigned chunk_connections_ =                                        // guarded by mu_
      RegionConfig{}.max_running_copies * 2 * kDefaultRegionCopyInFlight;
  static constexpr int kWarmTimeoutMs = 2000;
};

struct OpenedRegions {
  std::vector<std::unique_ptr<Region>> owned;
  RegionSet set;

  void ShutdownAll() {
    for (auto& r : owned) {
      spdlog::info("shutting down region region_id={}", r->id());
      r->Shutdown();
    }
  }
};

// glibc gives every thread that allocates an arena of its own, up to 8 per
// core, and each arena keeps the chunk-sized buffers freed in it for reuse
// by its own threads: with dozens of copy, import and handler threads that
// is ~90 MiB held beyond what the copies' budget lets live at once
// (docs/benchmarks.md, "Memory with many copies"). One arena per core (2 to
// 8) keeps that bounded and malloc contention low. An operator's
// MALLOC_ARENA_MAX or GLIBC_TUNABLES wins. Before any thread starts: glibc
// fixes the limit when it first needs a second arena.
void LimitMallocArenas() {
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr || std::getenv("GLIBC_TUNABLES") != nullptr) return;
  const unsigned arenas = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
  if (::mallopt(M_ARENA_MAX, static_cast<int>(arenas)) != 1)
    spdlog::warn("mallopt(M_ARENA_MAX, {}) failed", arenas);
}

// The stored-bytes quota ("auto": half the data directory's file system, so
// no one account can fill the disk) and the sweep of abandoned uploads:
// at start, then every expiry/24 (at least a minute, at most an hour).
void ConfigureStorageLimits(const ServeSettings& settings, ObjectStore& storage, const Clock& clock) {
  uint64_t max_bytes = 0;
  if (settings.quota_stored_mib) {
    max_bytes = *settings.quota_stored_mib << 20;
  } else if (!settings.store.empty()) {
    spdlog::info(
        "quota_stored_mib=auto with an S3 store: no stored-bytes quota (set quota_stored_mib to have one)");
  } else {
    struct statvfs fs {};
    if (::statvfs(settings.data_dir.c_str(), &fs) == 0) {
      max_bytes = static_cast<uint64_t>(fs.f_blocks) * fs.f_frsize / 2;
    } else {
      spdlog::warn(
          "quota_stored_mib=auto: the size of the data file system is unknown; no stored-bytes quota");
    }
  }
  storage.set_max_account_bytes(max_bytes);
  const int64_t expiry_s = static_cast<int64_t>(settings.upload_expiry_hours) * 3600;
  const auto interval = std::chrono::seconds(std::clamp<int64_t>(expiry_s / 24, 60, 3600));
  storage.StartExpirySweeper(clock, expiry_s, interval);
  spdlog::info("quotas: stored_bytes={} per account (0 = unlimited); upload parts expire after {} h",
               max_bytes, settings.upload_expiry_hours);
}

Result<OpenedRegions> OpenRegions(const ServeSettings& settings, ObjectStore& storage, const Clock& clock,
                                  const std::shared_ptr<CopyWiring>& wiring, bool check_only = false) {
  OpenedRegions out;
  for (const std::string& id : settings.regions) {
    RegionConfig config;
    config.region_id = id;
    FillRegionNames(&config);
    config.data_dir = RegionDir(settings.data_dir, id);
    config.catalog_uri = settings.catalog;
    config.store_uri = settings.store;
    config.task_lease_seconds = settings.task_lease_seconds;
    config.object_storage = &storage;
    // Parts kept as chunks of one region's store (part_chunks.h): only when
    // the process serves one region, whose chunks are beside the buckets.
    config.keep_parts_as_chunks = !settings.store.empty() && settings.regions.size() == 1;
    config.task_threads = settings.task_threads;
    config.max_running_copies = settings.max_copies;
    config.copy_rate_limit_bytes_per_second = settings.copy_rate_limit;
    config.copy_in_flight = settings.copy_in_flight;
    config.copy_budget = wiring->CopyBudget();
    config.max_copy_size_gib = settings.max_copy_size_gib;
    config.dedup_scope = settings.dedup_scope == "region" ? DedupScope::kRegion : DedupScope::kAccount;
    config.instance_hook = settings.instance_hook;
    config.quotas.images = settings.quota_images;
    config.quotas.snapshots = settings.quota_snapshots;
    config.quotas.running_tasks = settings.quota_running_tasks;
    config.check_only = check_only;
    // The hooks share `wiring`, so they stay valid however long a region
    // keeps its config.
    config.resolve_peer = [wiring](const std::string& region_id) { return wiring->Resolve(region_id); };
    config.chunk_source = [wiring](const std::string& source_region_id) {
      return wiring->Source(source_region_id);
    };
    config.link_limiter = [wiring](const std::string& source_region_id) {
      return wiring->Link(source_region_id);
    };
    config.large_copy_allowed = [wiring](const std::string& account_id, const std::string& image_id) {
      return wiring->LargeCopyAllowed(account_id, image_id);
    };
    config.account_exists = [wiring](const std::string& account_id) { return wiring->AccountExists(account_id); };
    RETURN_IF_ERROR(MakeDirs(config.data_dir, 0700));
    Result<std::unique_ptr<Region>> region = OpenRegion(config, clock);
    if (!region.ok()) {
      out.ShutdownAll();
      return region.status().WithContext("opening region " + id);
    }
    spdlog::info("region open region_id={} dir={}", id, config.data_dir);
    out.set.ordered.push_back(region->get());
    wiring->AddRegion(region->get());
    out.owned.push_back(std::move(region).value());
  }
  return out;
}

// Everything a data-dir command needs before it can touch a region.
struct DataDir {
  DataDirLock lock;
  std::unique_ptr<AccountDirectory> accounts;
  std::unique_ptr<ObjectStore> storage;
};

// The buckets: in the data directory, or beside the chunks in the S3 store
// the region's nodes share (readers' and writers' temp files in DATA/spool).
Result<std::unique_ptr<ObjectStore>> OpenObjectStore(const ServeSettings& settings,
                                                     const std::string& root_account_id) {
  if (settings.store.empty()) {
    return std::unique_ptr<ObjectStore>(
        std::make_unique<FsObjectStore>(OssDir(settings.data_dir), root_account_id));
  }
  ASSIGN_OR_RETURN(S3Location location, ParseS3Uri(settings.store));
  ASSIGN_OR_RETURN(S3Credentials credentials, S3CredentialsFromEnvironment());
  Result<std::unique_ptr<S3Client>> client = S3Client::Open(location, credentials);
  if (!client.ok()) return client.status().WithContext("object storage");
  const std::string spool = settings.data_dir + "/spool";
  RETURN_IF_ERROR(MakeDirs(spool, 0700));
  return std::unique_ptr<ObjectStore>(
      std::make_unique<S3ObjectStore>(std::shared_ptr<S3Client>(std::move(client).value()), spool));
}

// The accounts: the data directory's SQLite file, or the region's
// PostgreSQL database that the region's nodes share.
Result<std::unique_ptr<AccountDirectory>> OpenAccounts(const ServeSettings& settings) {
  if (!settings.catalog.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<PgAccountDirectory> accounts,
                     PgAccountDirectory::Open(settings.catalog));
    return std::unique_ptr<AccountDirectory>(std::move(accounts));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteAccountDirectory> accounts,
                   SqliteAccountDirectory::Open(AccountsDbPath(settings.data_dir)));
  return std::unique_ptr<AccountDirectory>(std::move(accounts));
}

Result<DataDir> OpenDataDir(const ServeSettings& settings) {
  const std::string& data_dir = settings.data_dir;
  RETURN_IF_ERROR(MakeDirs(data_dir, 0700));
  ASSIGN_OR_RETURN(DataDirLock lock, DataDirLock::Acquire(data_dir));
  RETURN_IF_ERROR(MakeDirs(OssDir(data_dir), 0755));
  RETURN_IF_ERROR(MakeDirs(data_dir + "/regions", 0700));
  ASSIGN_OR_RETURN(std::unique_ptr<AccountDirectory> accounts, OpenAccounts(settings));
  return DataDir{std::move(lock), std::move(accounts), nullptr};
}

}  // namespace

Status RunServe(const ServeSettings& settings) {
  LimitMallocArenas();
  SetUpLogging(settings.log_level);
  if (!settings.config_file.empty()) spdlog::info("config file loaded path={}", settings.config_file);

  // Block the stop signals before any thread starts, so every thread inherits
  // the mask and only sigwait() below ever sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (int err = pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr); err != 0)
    return ErrnoStatus("pthread_sigmask", "SIGTERM/SIGINT", err);
  // A client that hangs up mid-response must not kill the server.
  ::signal(SIGPIPE, SIG_IGN);

  const Clock& clock = SystemClock::Get();
  ASSIGN_OR_RETURN(DataDir data, OpenDataDir(settings));
  // Error messages to API callers never show where the data lives.
  {
    std::error_code ec;
    AddRedactedHostPath(std::filesystem::absolute(settings.data_dir, ec).lexically_normal().string());
    AddRedactedHostPath(std::filesystem::canonical(settings.data_dir, ec).string());
  }
  if (!settings.catalog.empty()) {
    spdlog::info("catalog and accounts in PostgreSQL catalog={}", PgDb::Redacted(settings.catalog));
    if (settings.catalog_on_command_line && PgDb::Redacted(settings.catalog) != settings.catalog) {
      spdlog::warn(
          "--catalog puts the database password on the command line, where every local user sees "
          "it (/proc/PID/cmdline, ps); use PGPASSWORD or ~/.pgpass");
    }
  }
  if (!settings.store.empty()) {
    Result<S3Location> location = ParseS3Uri(settings.store);
    spdlog::info("chunks and buckets in the S3 store {}",
                 location.ok() ? location->ToString() : settings.store);
  }
  if (settings.cluster_key_on_command_line) {
    spdlog::warn("--cluster-key puts the cluster's secret on the command line, where every local user "
                 "sees it (/proc/PID/cmdline, ps); use --cluster-key-file PATH or FERRY_CLUSTER_KEY");
  }
  std::string cluster_key = settings.cluster_key;
  if (cluster_key.empty()) {
    if (!settings.peers.empty()) {
      spdlog::warn("--peer given without a cluster key (--cluster-key-file or FERRY_CLUSTER_KEY): peers accept "
                   "only calls signed with their "
                   "cluster key, so every process of a cluster needs the same one");
    }
    Result<std::string> key = LoadOrCreateClusterKey(ClusterKeyPath(settings.data_dir));
    if (!key.ok()) return key.status().WithContext("loading the cluster key");
    cluster_key = std::move(key).value();
  }
  ASSIGN_OR_RETURN(RootIdentity root,
                   EnsureRootAccount(*data.accounts, settings.data_dir, cluster_key, clock));
  ASSIGN_OR_RETURN(data.storage, OpenObjectStore(settings, root.account_id));

  auto wiring = std::make_shared<CopyWiring>(cluster_key, data.accounts.get());
  wiring->SetLinkRateLimits(settings.link_rate_limits);
  wiring->SetCopyLimits(settings.max_copies, settings.copy_in_flight, settings.copy_buffer_mib << 20);
  for (const PeerSetting& peer : settings.peers) {
    Status added = wiring->AddPeer(peer);
    if (!added.ok()) return added.WithContext("peer " + peer.region_id);
    std::string urls;
    for (const std::string& url : peer.urls()) urls += (urls.empty() ? "" : ",") + url;
    spdlog::info("peer region region_id={} url={}", peer.region_id, urls);
  }
  ASSIGN_OR_RETURN(OpenedRegions regions, OpenRegions(settings, *data.storage, clock, wiring));
  for (const PeerSetting& peer : settings.peers) {
    RemoteRegionInfo remote;
    remote.region_id = peer.region_id;
    remote.base_url = peer.base_url;
    remote.more_urls = peer.more_urls;
    regions.set.remote.push_back(std::move(remote));
  }
  ConfigureStorageLimits(settings, *data.storage, clock);

  // Requests are authenticated against this process's accounts and, for a
  // key it does not hold, its peers'; peers asking us get only our own.
  AccountDirectory* request_accounts = data.accounts.get();
  std::unique_ptr<AccountDirectory> peer_accounts;
  if (!settings.peers.empty()) {
    std::vector<std::unique_ptr<PeerClient>> clients;
    std::set<std::vector<std::string>> servers;
    for (const PeerSetting& peer : settings.peers) {
      if (!servers.insert(peer.urls()).second) continue;  // one process, several regions
      PeerClientOptions options;
      options.cluster_key = cluster_key;
      options.timeout_ms = 5000;
      options.max_connections = 2;
      options.max_response_bytes = kPeerRecordAnswerBytes;
      // One client per server of the peer region, failing over between them.
      std::vector<std::shared_ptr<PeerClient>> per_server;
      for (const std::string& url : peer.urls()) {
        options.base_url = url;
        Result<std::unique_ptr<PeerClient>> client = NewPeerClient(options);
        if (!client.ok()) {
          regions.ShutdownAll();
          return client.status().WithContext("peer " + peer.region_id);
        }
        per_server.push_back(std::move(client).value());
      }
      clients.push_back(NewFailoverPeerClient(std::move(per_server)));
    }
    peer_accounts = NewPeerAccountDirectory(*data.accounts, std::move(clients), cluster_key, clock);
    request_accounts = peer_accounts.get();
  }
  wiring->SetRequestAccounts(request_accounts);

  // Uploads are taken by every process, so their nonces are spent at the
  // cluster owner: a captured upload request is refused everywhere.
  std::unique_ptr<NonceSpender> cluster_nonces;
  if (const RemoteRegionInfo* owner = ClusterOwner(regions.set)) {
    PeerClientOptions options;
    options.cluster_key = cluster_key;
    options.timeout_ms = 5000;
    options.max_connections = 4;
    options.max_response_bytes = kPeerRecordAnswerBytes;
    // Any node of the owner region spends them (they share its ledger).
    std::vector<std::shared_ptr<PeerClient>> per_server;
    std::vector<std::string> urls{owner->base_url};
    urls.insert(urls.end(), owner->more_urls.begin(), owner->more_urls.end());
    for (const std::string& url : urls) {
      options.base_url = url;
      Result<std::unique_ptr<PeerClient>> client = NewPeerClient(options);
      if (!client.ok()) {
        regions.ShutdownAll();
        return client.status().WithContext("cluster owner " + owner->region_id);
      }
      per_server.push_back(std::move(client).value());
    }
    cluster_nonces = NewPeerNonceSpender(NewFailoverPeerClient(std::move(per_server)));
  }

  // Nodes of one region share the database: a SignatureNonce spent on one is
  // refused on all (PgNonceLedger).
  std::unique_ptr<PgNonceLedger> shared_nonces;
  if (!settings.catalog.empty()) {
    Result<std::unique_ptr<PgNonceLedger>> ledger = PgNonceLedger::Open(settings.catalog);
    if (!ledger.ok()) {
      regions.ShutdownAll();
      return ledger.status().WithContext("the region's nonce ledger");
    }
    shared_nonces = std::move(ledger).value();
  }

  ServerConfig server_config;
  server_config.cluster_nonces = cluster_nonces.get();
  server_config.shared_nonces = shared_nonces.get();
  server_config.local_accounts = data.accounts.get();
  server_config.cluster_key = std::move(cluster_key);
  server_config.listen_address = settings.listen_host;
  server_config.port = settings.listen_port;
  server_config.admin_listen_address = settings.admin_listen_host;
  server_config.admin_port = settings.admin_listen_port;
  server_config.threads = settings.threads;
  server_config.oss_listen_address = settings.oss_listen_host;
  server_config.oss_port = settings.oss_listen_port;
  server_config.max_nonces = static_cast<size_t>(settings.max_nonces);
  Result<std::unique_ptr<Server>> server =
      StartServer(server_config, BuiltinActions(), regions.set, *request_accounts, *data.storage, clock);
  if (!server.ok()) {
    regions.ShutdownAll();
    return server.status().WithContext("starting the HTTP server on " + settings.listen_host + ":" +
                                       std::to_string(settings.listen_port));
  }
  const uint16_t port = (*server)->port();
  const std::string endpoint = EndpointFor(settings.listen_host, port);
  spdlog::info("listening endpoint={} port={} data={} regions={}", endpoint, port, settings.data_dir,
               settings.regions.size());
  if ((*server)->admin_port() != 0) {
    spdlog::info("admin listener (/metrics, /healthz) admin_endpoint={}",
                 EndpointFor(settings.admin_listen_host, (*server)->admin_port()));
  }
  spdlog::info("web console: {}/console/ (sign in with an AccessKey pair)", endpoint);
  const std::string oss_endpoint =
      (*server)->oss_port() != 0 ? EndpointFor(settings.oss_listen_host, (*server)->oss_port()) : "";
  if (!oss_endpoint.empty()) {
    spdlog::info("OSS endpoint: {} (path style: {}/<bucket>/<key>; ali-oss: sldEnable)", oss_endpoint, oss_endpoint);
  }
  // Copies pull over the peer protocol even inside one process, so the
  // path tested here is the one a cluster uses.
  wiring->SetEndpoint(endpoint);
  wiring->PingPeers();

  WriteDefaultProfile(endpoint, oss_endpoint, root, settings.regions.front());
  if (!settings.ready_file.empty()) {
    nlohmann::json ready = {{"endpoint", endpoint}, {"port", port}, {"pid", static_cast<int64_t>(::getpid())}};
    if (const uint16_t admin_port = (*server)->admin_port(); admin_port != 0) {
      ready["admin_endpoint"] = EndpointFor(settings.admin_listen_host, admin_port);
      ready["admin_port"] = admin_port;
    }
    if (!oss_endpoint.empty()) {
      ready["oss_endpoint"] = oss_endpoint;
      ready["oss_port"] = (*server)->oss_port();
    }
    Status st = WriteFileAtomic(settings.ready_file, ready.dump() + "\n", 0644);
    if (!st.ok()) {
      (*server)->Stop();
      regions.ShutdownAll();
      return st.WithContext("writing the ready file");
    }
  }

  int signo = 0;
  while (sigwait(&stop_signals, &signo) != 0) {
  }
  spdlog::info("stopping signal={}", signo == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Stop();
  regions.ShutdownAll();
  wiring->Clear();
  spdlog::info("stopped");
  return Status::Ok();
}

Status RunAccountCreate(const ServeSettings& settings, const std::string& name, const std::string& query) {
  const std::string& data_dir = settings.data_dir;
  if (!IsValidAccountName(name))
    return InvalidArgument("Usage", "account name \"" + name +
                                        "\" must be 1-64 characters of [A-Za-z0-9._-], starting with a letter or digit");
  std::error_code ec;
  if (settings.catalog.empty() && !std::filesystem::is_directory(data_dir, ec))
    return InvalidArgument("Usage", "data directory " + data_dir + " does not exist");
  ASSIGN_OR_RETURN(std::unique_ptr<AccountDirectory> accounts, OpenAccounts(settings));
  ASSIGN_OR_RETURN(AccessKeyRecord key, CreateAccountWithKey(*accounts, name, SystemClock::Get()));
  nlohmann::json out = {{"AccountId", key.account_id},
                        {"AccessKeyId", key.access_key_id},
                        {"AccessKeySecret", key.access_key_secret}};
  if (!query.empty()) return PrintQuery(std::cout, out, query);
  std::cout << out.dump(2) << std::endl;
  return Status::Ok();
}

Status RunAllowLargeCopy(const ServeSettings& settings, const std::string& account_id,
                         const std::string& image_id) {
  std::error_code ec;
  if (settings.catalog.empty() && !std::filesystem::is_directory(settings.data_dir, ec))
    return InvalidArgument("Usage", "data directory " + settings.data_dir + " does not exist");
  ASSIGN_OR_RETURN(std::unique_ptr<AccountDirectory> accounts, OpenAccounts(settings));
  RETURN_IF_ERROR(accounts->AllowLargeCopy(account_id, image_id));
  nlohmann::json out = {{"AccountId", account_id}, {"ImageId", image_id.empty() ? "*" : image_id}};
  std::cout << out.dump() << std::endl;
  return Status::Ok();
}

namespace {

// Opens the data directory and its regions for an offline operation;
// `check_only` (fsck) opens them changing nothing (RegionConfig::check_only).
Status WithOfflineRegions(const ServeSettings& settings, const std::function<Status(Region&)>& fn,
                          bool check_only = false) {
  ::signal(SIGPIPE, SIG_IGN);
  ASSIGN_OR_RETURN(DataDir data, OpenDataDir(settings));
  Result<AccountRecord> root = FindRoot(*data.accounts);
  if (!root.ok() && root.status().code() != Code::kNotFound) return root.status();
  ASSIGN_OR_RETURN(data.storage, OpenObjectStore(settings, root.ok() ? root->account_id : ""));
  // An offline command checks the regions that exist; it must not create
  // an empty region the server never served.
  ServeSettings existing = settings;
  existing.regions.clear();
  for (const std::string& id : settings.regions) {
    std::error_code ec;
    if (std::filesystem::is_directory(RegionDir(settings.data_dir, id), ec)) {
      existing.regions.push_back(id);
    } else {
      spdlog::info("skipping region region_id={}: no directory under {}", id, settings.data_dir);
    }
  }
  if (existing.regions.empty())
    return FailedPrecondition("", "none of the regions has a directory under " + settings.data_dir + "/regions");
  // Offline: no server, so copies left unfinished wait for the next `serve`.
  auto wiring = std::make_shared<CopyWiring>("", data.accounts.get());
  ASSIGN_OR_RETURN(OpenedRegions regions,
                   OpenRegions(existing, *data.storage, SystemClock::Get(), wiring, check_only));
  Status result;
  for (Region* r : regions.set.ordered) {
    Status st = fn(*r);
    if (!st.ok() && result.ok()) result = st.WithContext("region " + r->id());
  }
  regions.ShutdownAll();
  wiring->Clear();
  return result;
}

}  // namespace

Status RunFsck(const ServeSettings& settings, bool* problems_found) {
  SetUpLogging(settings.log_level);
  *problems_found = false;
  return WithOfflineRegions(
      settings,
      [&](Region& region) {
        FsckReport report;
        RETURN_IF_ERROR(region.Fsck(&report));
        std::cout << region.id() << ": " << report.manifests_checked << " manifests, "
                  << report.chunks_checked << " chunks checked, " << report.problems.size() << " problems\n"
                  << "  disks: " << report.disks_checked << " overlays, " << report.bases_checked
                  << " base files checked\n";
        for (const std::string& p : report.problems) std::cout << "  " << p << "\n";
        for (const std::string& n : report.notes) std::cout << "  note: " << n << "\n";
        if (!report.problems.empty()) *problems_found = true;
        return Status::Ok();
      },
      /*check_only=*/true);
}

Status RunGc(const ServeSettings& settings) {
  SetUpLogging(settings.log_level);
  return WithOfflineRegions(settings, [&](Region& region) {
    GcStats stats;
    RETURN_IF_ERROR(region.CollectGarbage(&stats));
    std::cout << region.id() << ": " << stats.chunks_scanned << " chunks scanned, " << stats.chunks_referenced
              << " referenced, " << stats.chunks_deleted << " deleted\n";
    return Status::Ok();
  });
}

}  // namespace ferry::cli
