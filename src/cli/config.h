// Server settings and where they come from. Each setting is resolved with the
// precedence: command-line flag > FERRY_* environment variable > TOML config
// file (--config / FERRY_CONFIG) > embedded default. docs/configuration.md
// lists every setting; keep the two in step.
//
// Threading: plain values and free functions; no shared state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "region/region.h"

namespace ferry::cli {

inline constexpr const char* kDefaultListen = "127.0.0.1:8080";
inline constexpr const char* kDefaultDataDir = "./var";
inline constexpr const char* kDefaultRegions = "cn-hangzhou,cn-shanghai,cn-beijing";
inline constexpr unsigned kDefaultThreads = 4;
inline constexpr unsigned kDefaultTaskThreads = 2;
inline constexpr const char* kDefaultLogLevel = "info";
inline constexpr unsigned kDefaultMaxCopies = 5;
inline constexpr unsigned kDefaultCopyInFlight = kDefaultRegionCopyInFlight;
// Chunk buffers of all copies into a process (docs/configuration.md says why
// this value): 16 chunks of 4 MiB in flight keep a 1 Gbit/s, 50 ms link busy
// and, with the rest of the process, stay well inside 256 MiB.
inline constexpr uint64_t kDefaultCopyBufferMib = 64;
inline constexpr uint64_t kDefaultMaxCopySizeGib = 500;
// Per-account quotas (region/quotas.h) and upload expiry; docs/configuration.md
// says why these values.
inline constexpr uint64_t kDefaultQuotaImages = 1000;
inline constexpr uint64_t kDefaultQuotaSnapshots = 2000;
inline constexpr uint64_t kDefaultQuotaRunningTasks = 100;
inline constexpr uint64_t kDefaultUploadExpiryHours = 24;

// A region served by another process of the cluster (`--peer ID=URL`).
struct PeerSetting {
  std::string region_id;
  std::string base_url;  // http://host:port
  // Further servers (nodes) of the same region, named by more --peer
  // REGION=URL: copies and lookups go to another when one cannot be reached.
  std::vector<std::string> more_urls;

  // base_url, then more_urls.
  std::vector<std::string> urls() const {
    std::vector<std::string> all = {base_url};
    all.insert(all.end(), more_urls.begin(), more_urls.end());
    return all;
  }
};

struct ServeSettings {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  // The operator's listener (/metrics, /healthz). Default 127.0.0.1 on the
  // listen port + 1 (any free port when the listen port is 0 or 65535);
  // "off" opens none (admin_listen_host empty).
  std::string admin_listen_host = "127.0.0.1";
  uint16_t admin_listen_port = 8081;
  // The OSS object endpoint. Default: the listen host on the listen port + 2
  // (any free port when the listen port is 0 or above 65533); "off" opens
  // none (oss_listen_host empty).
  std::string oss_listen_host = "127.0.0.1";
  uint16_t oss_listen_port = 8082;
  std::string data_dir = kDefaultDataDir;
  std::vector<std::string> regions;  // served here
  std::vector<PeerSetting> peers;    // served by other processes
  unsigned threads = kDefaultThreads;
  unsigned task_threads = kDefaultTaskThreads;
  std::string log_level = kDefaultLogLevel;
  std::string ready_file;   // empty = none
  // Peer-protocol secret; empty = DATA/cluster-key (generated on first use).
  // From --cluster-key-file / FERRY_CLUSTER_KEY_FILE / cluster_key_file (a
  // file, mode 0600 or 0640, trimmed) or --cluster-key / FERRY_CLUSTER_KEY /
  // cluster_key (the value itself).
  std::string cluster_key;
  std::string cluster_key_origin;             // where cluster_key came from ("default": nowhere)
  bool cluster_key_on_command_line = false;   // --cluster-key: visible in /proc/PID/cmdline
  // Signature nonces remembered at once (api/auth.h).
  uint64_t max_nonces = 1'000'000;
  std::string config_file;  // the file the settings were read from, if any
  // Copies across regions (per destination region).
  unsigned max_copies = kDefaultMaxCopies;              // running at once; the rest wait
  uint64_t copy_rate_limit = 0;                         // bytes/s per copy; 0 = unlimited
  unsigned copy_in_flight = kDefaultCopyInFlight;       // chunk fetches in flight per copy
  uint64_t copy_buffer_mib = kDefaultCopyBufferMib;     // chunk buffers of all copies at once
  // bytes/s shared by all copies pulling from a region ("*" = from any
  // region without its own entry); absent = unlimited.
  std::map<std::string, uint64_t> link_rate_limits;
  uint64_t max_copy_size_gib = kDefaultMaxCopySizeGib;  // larger needs `admin allow-large-copy`
  // Per-account quotas; 0 = unlimited. quota_stored_mib unset ("auto") =
  // half the size of the data directory's file system, measured at start.
  uint64_t quota_images = kDefaultQuotaImages;
  uint64_t quota_snapshots = kDefaultQuotaSnapshots;
  uint64_t quota_running_tasks = kDefaultQuotaRunningTasks;
  std::optional<uint64_t> quota_stored_mib;
  // Upload parts untouched this long are removed, and so are staging
  // objects no import claimed.
  uint64_t upload_expiry_hours = kDefaultUploadExpiryHours;
  // "account" (default): imports share chunks only within an account;
  // "region": across accounts (ARCHITECTURE.md "Deduplication and tenants").
  std::string dedup_scope = "account";
  // The hypervisor hook (region.h RegionConfig::instance_hook); an absolute
  // path, empty = none.
  std::string instance_hook;
  // The region's catalog and account directory in a PostgreSQL database
  // (postgresql://USER@HOST/DATABASE; the password from PGPASSWORD or
  // ~/.pgpass, as libpq reads them), shared by every node of the region;
  // empty = SQLite files in the data directory. Exactly one region then.
  std::string catalog;
  bool catalog_on_command_line = false;  // --catalog: visible in /proc/PID/cmdline
  // The region's chunks in a bucket of an S3-compatible store
  // (s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT[&region=R]; the keys from
  // AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or ~/.aws/credentials), shared
  // by every node of the region; empty = chunks/ in the data directory.
  // Exactly one region then.
  std::string store;
  // How long a task's lease lasts unrenewed: a task of a node that died is
  // taken over by another node of the region this long after (3-3600 s).
  unsigned task_lease_seconds = 30;
};

// Raw values given on the command line; a missing key means "not given".
// Keys are the TOML key names: listen, admin_listen, oss_listen, data_dir, regions, peers, threads,
// task_threads, log_level, ready_file, cluster_key, cluster_key_file, max_nonces,
// max_copies, link_rate_limits, copy_rate_limit, copy_in_flight, copy_buffer_mib, max_copy_size_gib,
// quota_images, quota_snapshots, quota_running_tasks, quota_stored_mib, upload_expiry_hours,
// dedup_scope, instance_hook, catalog, store, task_lease_seconds, config.
using SettingOverrides = std::map<std::string, std::string>;

// Resolves the settings from `flags`, the environment and the config file.
// Fails (InvalidArgument) naming the setting and its source when a value is
// malformed, or when the config file cannot be read or parsed.
Result<ServeSettings> ResolveServeSettings(const SettingOverrides& flags);

// The trimmed key in `path`: a regular file that others cannot access and
// the group cannot write (mode 0600, 0400, 0640 or 0440), of at least 16
// characters. Errors name the path, never the content.
Result<std::string> ReadClusterKeyFile(const std::string& path);

// "HOST:PORT" (IPv6 as "[::1]:PORT"); port 0 is allowed.
Status ParseListen(const std::string& value, std::string* host, uint16_t* port);

// "a,b,c" -> {"a","b","c"}; blanks dropped, whitespace trimmed.
std::vector<std::string> SplitCommaList(const std::string& value);

// The environment variable, or nullopt when unset or empty.
std::optional<std::string> GetEnv(const char* name);

}  // namespace ferry::cli
