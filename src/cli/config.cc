#include "cli/config.h"

#include <sys/stat.h>
#include <toml++/toml.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <sstream>

#include "catalog/pg_db.h"
#include "common/fs_util.h"
#include "common/http_url.h"
#include "store/s3_client.h"

namespace ferry::cli {
namespace {

std::string PgUriForMessages(const std::string& uri) { return PgDb::Redacted(uri); }

struct SettingSource {
  const char* key;  // TOML key and SettingOverrides key
  const char* env;  // environment variable
};

constexpr SettingSource kSettings[] = {
    {"listen", "FERRY_LISTEN"},
    {"admin_listen", "FERRY_ADMIN_LISTEN"},
    {"oss_listen", "FERRY_OSS_LISTEN"},
    {"data_dir", "FERRY_DATA"},
    {"regions", "FERRY_REGIONS"},
    {"peers", "FERRY_PEERS"},
    {"threads", "FERRY_THREADS"},
    {"task_threads", "FERRY_TASK_THREADS"},
    {"log_level", "FERRY_LOG_LEVEL"},
    {"ready_file", "FERRY_READY_FILE"},
    {"cluster_key", "FERRY_CLUSTER_KEY"},
    {"cluster_key_file", "FERRY_CLUSTER_KEY_FILE"},
    {"max_nonces", "FERRY_MAX_NONCES"},
    {"max_copies", "FERRY_MAX_COPIES"},
    {"copy_rate_limit", "FERRY_COPY_RATE_LIMIT"},
    {"copy_in_flight", "FERRY_COPY_IN_FLIGHT"},
    {"copy_buffer_mib", "FERRY_COPY_BUFFER_MIB"},
    {"link_rate_limits", "FERRY_LINK_RATE_LIMITS"},
    {"max_copy_size_gib", "FERRY_MAX_COPY_SIZE_GIB"},
    {"quota_images", "FERRY_QUOTA_IMAGES"},
    {"quota_snapshots", "FERRY_QUOTA_SNAPSHOTS"},
    {"quota_running_tasks", "FERRY_QUOTA_RUNNING_TASKS"},
    {"quota_stored_mib", "FERRY_QUOTA_STORED_MIB"},
    {"upload_expiry_hours", "FERRY_UPLOAD_EXPIRY_HOURS"},
    {"dedup_scope", "FERRY_DEDUP_SCOPE"},
    {"instance_hook", "FERRY_INSTANCE_HOOK"},
    {"catalog", "FERRY_CATALOG"},
    {"store", "FERRY_STORE"},
    {"task_lease_seconds", "FERRY_TASK_LEASE_SECONDS"},
};

// A resolved raw value and a description of where it came from, so errors
// can tell the operator which knob to turn.
struct RawValue {
  std::string value;
  std::string origin;
};

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

Result<std::map<std::string, RawValue>> ReadConfigFile(const std::string& path) {
  std::map<std::string, RawValue> out;
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "config file " << path << ": " << e.description() << " at line " << e.source().begin.line
        << ", column " << e.source().begin.column;
    return InvalidArgument("", msg.str());
  } catch (const std::exception& e) {
    return InvalidArgument("", "config file " + path + ": " + e.what());
  }
  for (const auto& [key, node] : table) {
    std::string k(key.str());
    bool known = false;
    for (const SettingSource& s : kSettings) known = known || k == s.key;
    if (!known) return InvalidArgument("", "config file " + path + ": unknown key \"" + k + "\"");
    std::string origin = "config file " + path + " key " + k;
    if (auto s = node.value<std::string>(); s && node.is_string()) {
      out[k] = {*s, origin};
    } else if (auto i = node.value<int64_t>(); i && node.is_integer()) {
      out[k] = {std::to_string(*i), origin};
    } else if (const toml::array* arr = node.as_array()) {
      std::string joined;
      for (const toml::node& item : *arr) {
        auto v = item.value<std::string>();
        if (!v || !item.is_string())
          return InvalidArgument("", origin + ": array items must be strings");
        if (!joined.empty()) joined += ",";
        joined += *v;
      }
      out[k] = {joined, origin};
    } else {
      return InvalidArgument("", origin + ": expected a string, an integer or an array of strings");
    }
  }
  return out;
}

Result<unsigned> ParseCount(const RawValue& raw, unsigned min, unsigned max) {
  const std::string v = Trim(raw.value);
  char* end = nullptr;
  errno = 0;
  unsigned long n = std::strtoul(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || v[0] == '-' || n < min || n > max) {
    return InvalidArgument("", raw.origin + ": \"" + raw.value + "\" is not an integer in [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<unsigned>(n);
}

Result<uint64_t> ParseU64(const RawValue& raw, uint64_t min, uint64_t max) {
  const std::string v = Trim(raw.value);
  char* end = nullptr;
  errno = 0;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0 || v[0] == '-' || n < min || n > max) {
    return InvalidArgument("", raw.origin + ": \"" + raw.value + "\" is not an integer in [" +
                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<uint64_t>(n);
}

bool IsValidRegionId(const std::string& id) {
  if (id.empty()) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> GetEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

std::vector<std::string> SplitCommaList(const std::string& value) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(value);
  while (std::getline(in, item, ',')) {
    item = Trim(item);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Status ParseListen(const std::string& value, std::string* host, uint16_t* port) {
  size_t colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size())
    return InvalidArgument("", "listen address \"" + value + "\" is not HOST:PORT");
  std::string h = value.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  const std::string p = value.substr(colon + 1);
  char* end = nullptr;
  errno = 0;
  unsigned long n = std::strtoul(p.c_str(), &end, 10);
  if (*end != '\0' || errno != 0 || p[0] == '-' || n > 65535)
    return InvalidArgument("", "listen address \"" + value + "\": port \"" + p + "\" is not in [0, 65535]");
  *host = h;
  *port = static_cast<uint16_t>(n);
  return Status::Ok();
}

Result<std::string> ReadClusterKeyFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    return InvalidArgument("", "cluster key file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) return InvalidArgument("", "cluster key file " + path + " is not a regular file");
  // Readable by the group is allowed (a service group sharing the secret);
  // anything for others, or a group that may rewrite it, is not.
  if ((st.st_mode & 0027) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return InvalidArgument("", "cluster key file " + path + " has mode " + mode +
                                   ": others may read it or the group may write it; chmod 600 it");
  }
  Result<std::string> content = ReadFileToString(path);
  if (!content.ok()) return InvalidArgument("", "cluster key file " + path + ": " + content.status().message());
  std::string key = Trim(*content);
  if (key.size() < 16) {
    return InvalidArgument("", "cluster key file " + path + ": a cluster key must have at least 16 characters");
  }
  return key;
}

Result<ServeSettings> ResolveServeSettings(const SettingOverrides& flags) {
  std::map<std::string, RawValue> raw = {
      {"listen", {kDefaultListen, "default"}},
      {"admin_listen", {"", "default"}},
      {"oss_listen", {"", "default"}},
      {"data_dir", {kDefaultDataDir, "default"}},
      {"regions", {kDefaultRegions, "default"}},
      {"peers", {"", "default"}},
      {"threads", {std::to_string(kDefaultThreads), "default"}},
      {"task_threads", {std::to_string(kDefaultTaskThreads), "default"}},
      {"log_level", {kDefaultLogLevel, "default"}},
      {"ready_file", {"", "default"}},
      {"cluster_key", {"", "default"}},
      {"cluster_key_file", {"", "default"}},
      {"max_nonces", {"1000000", "default"}},
      {"max_copies", {std::to_string(kDefaultMaxCopies), "default"}},
      {"copy_rate_limit", {"0", "default"}},
      {"copy_in_flight", {std::to_string(kDefaultCopyInFlight), "default"}},
      {"copy_buffer_mib", {std::to_string(kDefaultCopyBufferMib), "default"}},
      {"link_rate_limits", {"", "default"}},
      {"max_copy_size_gib", {std::to_string(kDefaultMaxCopySizeGib), "default"}},
      {"quota_images", {std::to_string(kDefaultQuotaImages), "default"}},
      {"quota_snapshots", {std::to_string(kDefaultQuotaSnapshots), "default"}},
      {"quota_running_tasks", {std::to_string(kDefaultQuotaRunningTasks), "default"}},
      {"quota_stored_mib", {"auto", "default"}},
      {"upload_expiry_hours", {std::to_string(kDefaultUploadExpiryHours), "default"}},
      {"dedup_scope", {"account", "default"}},
      {"instance_hook", {"", "default"}},
      {"catalog", {"", "default"}},
      {"store", {"", "default"}},
      {"task_lease_seconds", {"30", "default"}},
  };

  ServeSettings s;
  if (auto it = flags.find("config"); it != flags.end() && !it->second.empty()) {
    s.config_file = it->second;
  } else if (auto env = GetEnv("FERRY_CONFIG")) {
    s.config_file = *env;
  }
  if (!s.config_file.empty()) {
    ASSIGN_OR_RETURN(auto from_file, ReadConfigFile(s.config_file));
    for (auto& [k, v] : from_file) raw[k] = std::move(v);
  }
  for (const SettingSource& src : kSettings) {
    if (auto env = GetEnv(src.env)) raw[src.key] = {*env, std::string("environment variable ") + src.env};
  }
  for (const auto& [k, v] : flags) {
    if (k == "config") continue;
    raw[k] = {v, "flag for " + k};
  }

  Status st = ParseListen(Trim(raw["listen"].value), &s.listen_host, &s.listen_port);
  if (!st.ok()) return InvalidArgument("", raw["listen"].origin + ": " + st.message());

  const std::string admin_listen = Trim(raw["admin_listen"].value);
  if (admin_listen == "off") {
    s.admin_listen_host.clear();
    s.admin_listen_port = 0;
  } else if (admin_listen.empty()) {
    s.admin_listen_host = "127.0.0.1";
    s.admin_listen_port = s.listen_port == 0 || s.listen_port == 65535 ? 0 : s.listen_port + 1;
  } else {
    st = ParseListen(admin_listen, &s.admin_listen_host, &s.admin_listen_port);
    if (!st.ok())
      return InvalidArgument("", raw["admin_listen"].origin + ": " + st.message() + " (or \"off\")");
  }

  // The OSS endpoint: the listen host, on the listen port + 2 by default.
  const std::string oss_listen = Trim(raw["oss_listen"].value);
  if (oss_listen == "off") {
    s.oss_listen_host.clear();
    s.oss_listen_port = 0;
  } else if (oss_listen.empty()) {
    s.oss_listen_host = s.listen_host;
    s.oss_listen_port = s.listen_port == 0 || s.listen_port >= 65534 ? 0 : s.listen_port + 2;
  } else {
    st = ParseListen(oss_listen, &s.oss_listen_host, &s.oss_listen_port);
    if (!st.ok()) return InvalidArgument("", raw["oss_listen"].origin + ": " + st.message() + " (or \"off\")");
  }

  s.data_dir = Trim(raw["data_dir"].value);
  if (s.data_dir.empty()) return InvalidArgument("", raw["data_dir"].origin + ": the data directory is empty");

  s.regions = SplitCommaList(raw["regions"].value);
  if (s.regions.empty()) return InvalidArgument("", raw["regions"].origin + ": no regions given");
  for (size_t i = 0; i < s.regions.size(); ++i) {
    if (!IsValidRegionId(s.regions[i]))
      return InvalidArgument("", raw["regions"].origin + ": region id \"" + s.regions[i] +
                                     "\" may only hold a-z, 0-9 and '-'");
    for (size_t j = 0; j < i; ++j) {
      if (s.regions[j] == s.regions[i])
        return InvalidArgument("", raw["regions"].origin + ": region \"" + s.regions[i] + "\" is listed twice");
    }
  }

  for (const std::string& item : SplitCommaList(raw["peers"].value)) {
    const std::string& origin = raw["peers"].origin;
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      return InvalidArgument("", origin + ": peer \"" + item + "\" is not REGION=http://HOST:PORT");
    PeerSetting peer{Trim(item.substr(0, eq)), Trim(item.substr(eq + 1))};
    if (!IsValidRegionId(peer.region_id))
      return InvalidArgument("", origin + ": region id \"" + peer.region_id + "\" may only hold a-z, 0-9 and '-'");
    Result<HttpBaseUrl> url = ParseHttpBaseUrl(peer.base_url);
    if (!url.ok()) return InvalidArgument("", origin + ": peer " + peer.region_id + ": " + url.status().message());
    for (const std::string& local : s.regions) {
      if (local == peer.region_id)
        return InvalidArgument("", origin + ": region \"" + peer.region_id +
                                       "\" is served here and cannot also be a peer's");
    }
    // The same region again names another of its servers (nodes).
    PeerSetting* known = nullptr;
    for (PeerSetting& other : s.peers) {
      if (other.region_id == peer.region_id) known = &other;
    }
    if (known == nullptr) {
      s.peers.push_back(std::move(peer));
      continue;
    }
    for (const std::string& url : known->urls()) {
      if (url == peer.base_url)
        return InvalidArgument("", origin + ": peer " + peer.region_id + " at " + url + " is listed twice");
    }
    known->more_urls.push_back(peer.base_url);
  }

  ASSIGN_OR_RETURN(s.threads, ParseCount(raw["threads"], 1, 256));
  ASSIGN_OR_RETURN(s.task_threads, ParseCount(raw["task_threads"], 1, 64));
  ASSIGN_OR_RETURN(s.max_copies, ParseCount(raw["max_copies"], 1, 256));
  ASSIGN_OR_RETURN(s.copy_rate_limit, ParseU64(raw["copy_rate_limit"], 0, UINT64_MAX));
  ASSIGN_OR_RETURN(s.copy_in_flight, ParseCount(raw["copy_in_flight"], 1, 64));
  // Below one 4 MiB chunk every fetch runs alone; 1 TiB is far past any use.
  ASSIGN_OR_RETURN(s.copy_buffer_mib, ParseU64(raw["copy_buffer_mib"], 4, uint64_t{1} << 20));
  for (const std::string& item : SplitCommaList(raw["link_rate_limits"].value)) {
    const RawValue& origin = raw["link_rate_limits"];
    size_t eq = item.find('=');
    const std::string region = eq == std::string::npos ? "" : Trim(item.substr(0, eq));
    if (region.empty() || (region != "*" && !IsValidRegionId(region)))
      return InvalidArgument("", origin.origin + ": link rate limit \"" + item + "\" is not REGION=BYTES_PER_SECOND");
    ASSIGN_OR_RETURN(uint64_t rate, ParseU64(RawValue{Trim(item.substr(eq + 1)), origin.origin}, 1, UINT64_MAX));
    if (!s.link_rate_limits.emplace(region, rate).second)
      return InvalidArgument("", origin.origin + ": link rate limit for \"" + region + "\" is given twice");
  }
  // 32 TiB: the largest ECS disk, times the 17 disks an image may hold.
  ASSIGN_OR_RETURN(s.max_copy_size_gib, ParseU64(raw["max_copy_size_gib"], 1, 17 * 32768));
  ASSIGN_OR_RETURN(s.quota_images, ParseU64(raw["quota_images"], 0, UINT32_MAX));
  ASSIGN_OR_RETURN(s.quota_snapshots, ParseU64(raw["quota_snapshots"], 0, UINT32_MAX));
  ASSIGN_OR_RETURN(s.quota_running_tasks, ParseU64(raw["quota_running_tasks"], 0, UINT32_MAX));
  if (Trim(raw["quota_stored_mib"].value) != "auto") {
    // 2^44 MiB = 16 EiB, the most a uint64_t byte count holds.
    ASSIGN_OR_RETURN(s.quota_stored_mib, ParseU64(raw["quota_stored_mib"], 0, (1ull << 44) - 1));
  }
  ASSIGN_OR_RETURN(s.upload_expiry_hours, ParseU64(raw["upload_expiry_hours"], 1, 24 * 366));
  s.dedup_scope = Trim(raw["dedup_scope"].value);
  if (s.dedup_scope != "account" && s.dedup_scope != "region") {
    return InvalidArgument("", raw["dedup_scope"].origin + ": \"" + s.dedup_scope +
                                   "\" is not a dedup scope (account or region)");
  }

  s.log_level = Trim(raw["log_level"].value);
  static const char* kLevels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
  bool level_ok = false;
  for (const char* l : kLevels) level_ok = level_ok || s.log_level == l;
  if (!level_ok)
    return InvalidArgument("", raw["log_level"].origin + ": \"" + s.log_level +
                                   "\" is not one of trace, debug, info, warn, error, critical, off");

  s.ready_file = Trim(raw["ready_file"].value);
  s.instance_hook = Trim(raw["instance_hook"].value);
  if (!s.instance_hook.empty() && s.instance_hook[0] != '/') {
    return InvalidArgument("", raw["instance_hook"].origin + ": \"" + s.instance_hook +
                                   "\" is not an absolute path to a program");
  }
  ASSIGN_OR_RETURN(s.max_nonces, ParseU64(raw["max_nonces"], 1000, 100'000'000));
  ASSIGN_OR_RETURN(s.task_lease_seconds, ParseCount(raw["task_lease_seconds"], 3, 3600));
  s.catalog = Trim(raw["catalog"].value);
  if (!s.catalog.empty()) {
    if (!s.catalog.starts_with("postgresql://") && !s.catalog.starts_with("postgres://")) {
      return InvalidArgument("", raw["catalog"].origin + ": \"" + PgUriForMessages(s.catalog) +
                                     "\" is not a PostgreSQL URI (postgresql://USER@HOST/DATABASE)");
    }
    // One database holds one region's records: the nodes of a region share
    // it, another region has its own.
    if (s.regions.size() != 1) {
      return InvalidArgument("", raw["catalog"].origin + ": a PostgreSQL catalog holds one region, and " +
                                     std::to_string(s.regions.size()) +
                                     " regions are served here; run one process per region (--region)");
    }
    s.catalog_on_command_line = raw["catalog"].origin == "flag for catalog";
  }
  s.store = Trim(raw["store"].value);
  if (!s.store.empty()) {
    Result<S3Location> location = ParseS3Uri(s.store);
    if (!location.ok()) return InvalidArgument("", raw["store"].origin + ": " + location.status().message());
    // The chunks of one region: the nodes of a region share the bucket (or
    // its prefix), another region has its own.
    if (s.regions.size() != 1) {
      return InvalidArgument("", raw["store"].origin + ": an S3 store holds one region's chunks, and " +
                                     std::to_string(s.regions.size()) +
                                     " regions are served here; run one process per region (--region)");
    }
  }

  const RawValue& key_file = raw["cluster_key_file"];
  const std::string key_file_path = Trim(key_file.value);
  if (!key_file_path.empty() && raw["cluster_key"].origin != "default") {
    return InvalidArgument("", raw["cluster_key"].origin + " and " + key_file.origin +
                                   " both set the cluster key; keep one");
  }
  if (!key_file_path.empty()) {
    ASSIGN_OR_RETURN(s.cluster_key, ReadClusterKeyFile(key_file_path));
    s.cluster_key_origin = key_file.origin;
  } else {
    s.cluster_key = Trim(raw["cluster_key"].value);
    s.cluster_key_origin = raw["cluster_key"].origin;
  }
  s.cluster_key_on_command_line = s.cluster_key_origin == "flag for cluster_key";
  if (s.cluster_key_origin != "default" && s.cluster_key.size() < 16)
    return InvalidArgument("", s.cluster_key_origin + ": a cluster key must have at least 16 characters");
  return s;
}

}  // namespace ferry::cli
