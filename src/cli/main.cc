// ferry: the server (`ferry serve`), offline admin commands on a data
// directory, and a client for the ECS image API.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string>
#include <tuple>
#include <vector>

#include "cli/commands.h"
#include "cli/config.h"
#include "cli/disk_commands.h"
#include "cli/oss_commands.h"
#include "cli/serve.h"
#include "cli/session.h"
#include "cli/version.h"

namespace ferry::cli {
namespace {

constexpr const char* kJobTimeoutHelp =
    "how long to wait, e.g. 90s, 30m, 6h, 2d (default 6h); the server goes on with the job after it";
constexpr const char* kInstanceTimeoutHelp =
    "how long to wait for the instance, e.g. 30s, 10m (default 5m)";

// Data-dir flags shared by serve, fsck and gc; recorded in `flags` only when
// given, so the environment and the config file can fill the rest.
struct DataDirFlags {
  std::string config, listen, admin_listen, oss_listen, data, regions, threads, task_threads, log_level, ready_file, cluster_key;
  std::string cluster_key_file, max_nonces;
  std::string max_copies, copy_rate_limit, copy_in_flight, copy_buffer_mib, max_copy_size_gib;
  std::string quota_images, quota_snapshots, quota_running_tasks, quota_stored_mib, upload_expiry_hours;
  std::string dedup_scope;
  std::string instance_hook;
  std::string catalog, store, task_lease_seconds;
  std::vector<std::string> region_list, peer_list, link_list;

  void AddTo(CLI::App* cmd, bool server) {
    cmd->add_option("--config", config, "TOML config file (env FERRY_CONFIG)")->type_name("FILE");
    cmd->add_option("--data", data, "data directory (env FERRY_DATA, default ./var)")->type_name("DIR");
    cmd->add_option("--regions", regions, "comma-separated region ids (env FERRY_REGIONS)");
    cmd->add_option("--region", region_list, "a region served here (repeatable; joins --regions)");
    cmd->add_option("--log-level", log_level, "trace|debug|info|warn|error|critical|off (env FERRY_LOG_LEVEL)");
    AddCatalogOption(cmd);
    cmd->add_option(
           "--store", store,
           "s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT[&region=R]: the region's chunks in an "
           "S3-compatible store, shared by the region's nodes; keys from AWS_ACCESS_KEY_ID and "
           "AWS_SECRET_ACCESS_KEY or ~/.aws/credentials (env FERRY_STORE; default: the data directory)")
        ->type_name("URI");
    if (!server) return;
    cmd->add_option("--listen", listen, "HOST:PORT to listen on; port 0 picks one (env FERRY_LISTEN)")
        ->type_name("HOST:PORT");
    cmd->add_option("--admin-listen", admin_listen,
                    "HOST:PORT of the operator's listener for /metrics and /healthz, or \"off\" (env "
                    "FERRY_ADMIN_LISTEN; default 127.0.0.1 on the listen port + 1)")
        ->type_name("HOST:PORT|off");
    cmd->add_option("--oss-listen", oss_listen,
                    "HOST:PORT of the OSS object endpoint, or \"off\" (env FERRY_OSS_LISTEN; default the "
                    "listen host on the listen port + 2)")
        ->type_name("HOST:PORT|off");
    cmd->add_option("--threads", threads, "HTTP I/O threads (env FERRY_THREADS)")->type_name("INT");
    cmd->add_option("--task-threads", task_threads, "concurrent tasks per region (env FERRY_TASK_THREADS)")
        ->type_name("INT");
    cmd->add_option("--ready-file", ready_file,
                    "write {endpoint,port,admin_endpoint,admin_port,pid} here once listening")
        ->type_name("FILE");
    cmd->add_option("--peer", peer_list,
                    "REGION=http://HOST:PORT: a region served by another ferry process of the cluster "
                    "(repeatable; env FERRY_PEERS, comma-separated)")
        ->type_name("REGION=URL");
    cmd->add_option("--cluster-key-file", cluster_key_file,
                    "file holding the peer-protocol secret shared by the cluster, mode 0600 "
                    "(env FERRY_CLUSTER_KEY_FILE; or env FERRY_CLUSTER_KEY; default DATA/cluster-key)")
        ->type_name("FILE");
    cmd->add_option("--cluster-key", cluster_key,
                    "the secret itself: deprecated, other local users see it in /proc/PID/cmdline; "
                    "use --cluster-key-file or FERRY_CLUSTER_KEY");
    cmd->add_option("--max-nonces", max_nonces,
                    "signature nonces remembered at once, ~62 bytes each; when full, signed requests get "
                    "503 until some expire (env FERRY_MAX_NONCES, default 1000000)")
        ->type_name("INT");
    cmd->add_option(
           "--max-copies", max_copies,
           "copies running at once per destination region; the rest wait (env FERRY_MAX_COPIES, default 5)")
        ->type_name("INT");
    cmd->add_option("--copy-rate-limit", copy_rate_limit,
                    "bytes/s per copy, 0 = unlimited (env FERRY_COPY_RATE_LIMIT)")
        ->type_name("BYTES/S");
    cmd->add_option("--copy-in-flight", copy_in_flight,
                    "chunk fetches in flight per copy, 1-64; more hides a longer round trip "
                    "(env FERRY_COPY_IN_FLIGHT, default " +
                        std::to_string(kDefaultCopyInFlight) + ")")
        ->type_name("INT");
    cmd->add_option("--copy-buffer-mib", copy_buffer_mib,
                    "MiB of chunk buffers shared by all copies into this process; a fetch waits for "
                    "room (env FERRY_COPY_BUFFER_MIB, default " +
                        std::to_string(kDefaultCopyBufferMib) + ")")
        ->type_name("MIB");
    cmd->add_option("--link-rate-limit", link_list,
                    "REGION=BYTES_PER_SECOND: cap shared by all copies pulling from REGION (* = any; "
                    "repeatable; env FERRY_LINK_RATE_LIMITS, comma-separated)")
        ->type_name("REGION=BYTES/S");
    cmd->add_option(
           "--max-copy-size-gib", max_copy_size_gib,
           "largest image copied without `admin allow-large-copy` (env FERRY_MAX_COPY_SIZE_GIB, default 500)")
        ->type_name("GIB");
    cmd->add_option(
           "--instance-hook", instance_hook,
           "PROGRAM run as PROGRAM INSTANCE_ID start|stop|delete SYSTEM_DISK_PATH where a hypervisor "
           "would boot, stop or release the instance (env FERRY_INSTANCE_HOOK)")
        ->type_name("PROGRAM");
    cmd->add_option("--task-lease-seconds", task_lease_seconds,
                    "how long a node's hold on a running task lasts unrenewed; a task of a node that died "
                    "is taken over by another node of the region this long after (env "
                    "FERRY_TASK_LEASE_SECONDS, default 30)")
        ->type_name("SECONDS");
    cmd->add_option("--dedup-scope", dedup_scope,
                    "account|region: imports share chunks within an account only, or across accounts "
                    "(env FERRY_DEDUP_SCOPE, default account)")
        ->type_name("account|region");
    cmd->add_option("--quota-images", quota_images,
                    "images per account per region, 0 = unlimited (env FERRY_QUOTA_IMAGES, default 1000)")
        ->type_name("INT");
    cmd->add_option(
           "--quota-snapshots", quota_snapshots,
           "snapshots per account per region, 0 = unlimited (env FERRY_QUOTA_SNAPSHOTS, default 2000)")
        ->type_name("INT");
    cmd->add_option("--quota-running-tasks", quota_running_tasks,
                    "running imports, exports and copies per account per region, 0 = unlimited "
                    "(env FERRY_QUOTA_RUNNING_TASKS, default 100)")
        ->type_name("INT");
    cmd->add_option("--quota-stored-mib", quota_stored_mib,
                    "MiB an account may store (snapshots' data + objects + upload parts), 0 = unlimited, "
                    "auto = half the data file system (env FERRY_QUOTA_STORED_MIB, default auto)")
        ->type_name("MIB|auto");
    cmd->add_option("--upload-expiry-hours", upload_expiry_hours,
                    "hours after which abandoned upload parts are removed (env FERRY_UPLOAD_EXPIRY_HOURS, "
                    "default 24)")
        ->type_name("HOURS");
  }

  // The region's records in PostgreSQL instead of the data directory's
  // SQLite files: every node of the region names the same database.
  void AddCatalogOption(CLI::App* cmd) {
    cmd->add_option(
           "--catalog", catalog,
           "postgresql://USER@HOST/DATABASE: the region's catalog and accounts in PostgreSQL, shared "
           "by the region's nodes; the password from PGPASSWORD or ~/.pgpass (env FERRY_CATALOG; "
           "default: SQLite in the data directory)")
        ->type_name("URI");
  }

  SettingOverrides Overrides(CLI::App* cmd) const {
    SettingOverrides out;
    auto put = [&](const char* flag, const char* key, const std::string& value) {
      if (cmd->get_option_no_throw(flag) != nullptr && cmd->count(flag) > 0) out[key] = value;
    };
    put("--config", "config", config);
    put("--data", "data_dir", data);
    put("--regions", "regions", regions);
    auto join = [](const std::vector<std::string>& items, std::string out) {
      for (const std::string& item : items) out += (out.empty() ? "" : ",") + item;
      return out;
    };
    if (cmd->get_option_no_throw("--region") != nullptr && cmd->count("--region") > 0)
      out["regions"] = join(region_list, out.count("regions") ? out["regions"] : "");
    if (cmd->get_option_no_throw("--peer") != nullptr && cmd->count("--peer") > 0)
      out["peers"] = join(peer_list, "");
    if (cmd->get_option_no_throw("--link-rate-limit") != nullptr && cmd->count("--link-rate-limit") > 0)
      out["link_rate_limits"] = join(link_list, "");
    put("--log-level", "log_level", log_level);
    put("--listen", "listen", listen);
    put("--admin-listen", "admin_listen", admin_listen);
    put("--oss-listen", "oss_listen", oss_listen);
    put("--threads", "threads", threads);
    put("--task-threads", "task_threads", task_threads);
    put("--ready-file", "ready_file", ready_file);
    put("--cluster-key", "cluster_key", cluster_key);
    put("--cluster-key-file", "cluster_key_file", cluster_key_file);
    put("--max-nonces", "max_nonces", max_nonces);
    put("--max-copies", "max_copies", max_copies);
    put("--copy-rate-limit", "copy_rate_limit", copy_rate_limit);
    put("--copy-in-flight", "copy_in_flight", copy_in_flight);
    put("--copy-buffer-mib", "copy_buffer_mib", copy_buffer_mib);
    put("--max-copy-size-gib", "max_copy_size_gib", max_copy_size_gib);
    put("--quota-images", "quota_images", quota_images);
    put("--quota-snapshots", "quota_snapshots", quota_snapshots);
    put("--quota-running-tasks", "quota_running_tasks", quota_running_tasks);
    put("--quota-stored-mib", "quota_stored_mib", quota_stored_mib);
    put("--upload-expiry-hours", "upload_expiry_hours", upload_expiry_hours);
    put("--dedup-scope", "dedup_scope", dedup_scope);
    put("--instance-hook", "instance_hook", instance_hook);
    put("--catalog", "catalog", catalog);
    put("--store", "store", store);
    put("--task-lease-seconds", "task_lease_seconds", task_lease_seconds);
    return out;
  }
};

// Levenshtein distance, for "did you mean".
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string CommandNames(CLI::App* app) {
  std::string names;
  for (CLI::App* sub : app->get_subcommands([](CLI::App*) { return true; }))
    names += (names.empty() ? "" : ", ") + sub->get_name();
  return names;
}

// Walks the words of the command line down the command tree as CLI11 will,
// so that a word where a command is expected but which names none is
// reported by name, with the closest command (CLI11 would only say "A
// subcommand is required"); so is a command that needs a subcommand and got
// none. Options (and the value of those that take one) are skipped.
Status CheckCommandWords(CLI::App& app, const std::vector<std::string>& words) {
  CLI::App* at = &app;
  std::string path = "ferry";
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word == "--") break;
    if (word.size() > 1 && word[0] == '-') {
      if (word.find('=') != std::string::npos) continue;
      const CLI::Option* option = nullptr;
      for (CLI::App* scope = at; scope != nullptr && option == nullptr; scope = scope->get_parent())
        option = scope->get_option_no_throw(word);
      if (option != nullptr && option->get_expected_min() > 0) ++i;  // its value
      continue;
    }
    std::vector<CLI::App*> subs = at->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) break;  // a command's own arguments from here on
    CLI::App* next = nullptr;
    for (CLI::App* sub : subs) {
      if (sub->get_name() == word) next = sub;
    }
    if (next != nullptr) {
      at = next;
      path += " " + word;
      continue;
    }
    std::string best;
    size_t best_distance = 0;
    for (CLI::App* sub : subs) {
      const size_t d = EditDistance(word, sub->get_name());
      if (best.empty() || d < best_distance) {
        best = sub->get_name();
        best_distance = d;
      }
    }
    std::string message = "unknown command \"" + word + "\" for \"" + path + "\"";
    if (!best.empty() && best_distance <= std::max<size_t>(2, best.size() / 2)) {
      message += "; did you mean \"" + path + " " + best + "\"?";
    } else {
      message += "; commands: " + CommandNames(at);
    }
    return Usage(message + " (see `" + path + " --help`)");
  }
  if (at->get_require_subcommand_min() > 0) {
    return Usage("\"" + path + "\" needs a command: " + CommandNames(at) + " (see `" + path + " --help`)");
  }
  return Status::Ok();
}

int Run(int argc, char** argv) {
  CLI::App app{"ferry: a self-hosted regional image service speaking the ECS API"};
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", VersionLine(), "print the version and the git commit it was built from");

  ClientOptions client;
  std::string output = "table";
  app.add_option("--profile", client.profile, "CLI profile (default \"default\")");
  app.add_option("--endpoint", client.endpoint, "server URL, e.g. http://127.0.0.1:8080 (env FERRY_ENDPOINT)")
      ->type_name("URL");
  app.add_option("--access-key-id", client.access_key_id, "AccessKey id (env FERRY_ACCESS_KEY_ID)");
  app.add_option("--access-key-secret", client.access_key_secret, "AccessKey secret (env FERRY_ACCESS_KEY_SECRET)");
  app.add_option("--region", client.region, "region id (env FERRY_REGION)");
  app.add_option("--output,-o", output, "table or json")->check(CLI::IsMember({"table", "json"}));
  app.add_option("--query", client.query,
                 "print only these fields of the result, one value a line, e.g. ImageId, [].InstanceId, "
                 "[0].DiskId (fields as --output json shows them)")
      ->type_name("PATH")
      ->check([](const std::string& path) {
        Status ok = CheckQuery(path);
        return ok.ok() ? std::string() : ok.message();
      });
  app.add_flag("--v3", client.use_v3, "sign with ACS3-HMAC-SHA256 instead of HMAC-SHA1");
  app.add_option(
         "--retry-for", client.retry_for,
         "how long a command that waits (--wait, import, create, start, stop, ...) keeps retrying while "
         "the server is unreachable or answers 5xx, from the start of each outage, e.g. 90s, 30m "
         "(default 10m); it says \"server unreachable, retrying\" once per outage")
      ->type_name("DURATION");

  // The action to run once parsing succeeded; returns the exit code.
  std::function<Status()> action;
  int exit_code_on_success = 0;

  app.add_subcommand("version", "print the version and the git commit it was built from")->callback([&] {
    action = []() -> Status {
      std::cout << VersionLine() << std::endl;
      return Status::Ok();
    };
  });

  // serve
  DataDirFlags serve_flags;
  CLI::App* serve = app.add_subcommand("serve", "run the server");
  serve_flags.AddTo(serve, true);
  serve->callback([&] {
    action = [&]() -> Status {
      Result<ServeSettings> settings = ResolveServeSettings(serve_flags.Overrides(serve));
      if (!settings.ok()) return InvalidArgument(kUsageReason, settings.status().message());
      return RunServe(*settings);
    };
  });

  // account create NAME
  CLI::App* account = app.add_subcommand("account", "accounts")->require_subcommand(1);
  CLI::App* account_create = account->add_subcommand(
      "create",
      "create an account and an AccessKey: through the API with the profile's (root) key, or offline "
      "in a data directory when --data, --config, FERRY_DATA or FERRY_CONFIG names one");
  std::string account_name;
  DataDirFlags account_flags;
  account_create->add_option("NAME", account_name, "account name")->required();
  account_create->add_option("--data", account_flags.data, "data directory, offline (env FERRY_DATA)")
      ->type_name("DIR");
  account_create->add_option("--config", account_flags.config, "TOML config file, offline (env FERRY_CONFIG)")
      ->type_name("FILE");
  account_flags.AddCatalogOption(account_create);
  account_create->callback([&] {
    action = [&]() -> Status {
      const bool offline = account_create->count("--data") > 0 || account_create->count("--config") > 0 ||
                           account_create->count("--catalog") > 0 || std::getenv("FERRY_DATA") != nullptr ||
                           std::getenv("FERRY_CONFIG") != nullptr || std::getenv("FERRY_CATALOG") != nullptr;
      if (!offline) return AccountCreate(client, account_name);
      Result<ServeSettings> settings = ResolveServeSettings(account_flags.Overrides(account_create));
      if (!settings.ok()) return InvalidArgument(kUsageReason, settings.status().message());
      // In a cluster only the owner's data directory holds accounts, so
      // names stay unique (api/dispatcher.h: the process serving the first
      // region). Known only when the config or environment names the peers.
      std::string first_region;
      for (const std::string& r : settings->regions) {
        if (first_region.empty() || r < first_region) first_region = r;
      }
      for (const PeerSetting& p : settings->peers) {
        if (p.region_id < first_region) {
          return InvalidArgument(kUsageReason, "this data directory is not the cluster owner's: accounts are "
                                               "created by the process serving region " + p.region_id + " (" +
                                               p.base_url + "); use the CreateAccount API, or run this there");
        }
      }
      return RunAccountCreate(*settings, account_name, client.query);
    };
  });

  // admin allow-large-copy --account ID [--image ID]
  CLI::App* admin = app.add_subcommand("admin", "offline operator commands")->require_subcommand(1);
  CLI::App* allow_large = admin->add_subcommand(
      "allow-large-copy", "let an account copy images above max_copy_size_gib (ECS's \"ticket\")");
  std::string allow_account, allow_image;
  DataDirFlags allow_flags;
  allow_large->add_option("--account", allow_account, "account id")->required();
  allow_large->add_option("--image", allow_image, "only this image (default: every image of the account)");
  allow_large->add_option("--data", allow_flags.data, "data directory (env FERRY_DATA, default ./var)");
  allow_flags.AddCatalogOption(allow_large);
  allow_large->add_option("--config", allow_flags.config, "TOML config file (env FERRY_CONFIG)");
  allow_large->callback([&] {
    action = [&]() -> Status {
      Result<ServeSettings> settings = ResolveServeSettings(allow_flags.Overrides(allow_large));
      if (!settings.ok()) return InvalidArgument(kUsageReason, settings.status().message());
      return RunAllowLargeCopy(*settings, allow_account, allow_image);
    };
  });

  // fsck, gc
  DataDirFlags fsck_flags;
  CLI::App* fsck = app.add_subcommand("fsck", "verify chunks and manifests (server stopped)");
  fsck_flags.AddTo(fsck, false);
  fsck->callback([&] {
    action = [&]() -> Status {
      Result<ServeSettings> settings = ResolveServeSettings(fsck_flags.Overrides(fsck));
      if (!settings.ok()) return InvalidArgument(kUsageReason, settings.status().message());
      bool problems = false;
      RETURN_IF_ERROR(RunFsck(*settings, &problems));
      if (problems) exit_code_on_success = 1;
      return Status::Ok();
    };
  });
  DataDirFlags gc_flags;
  CLI::App* gc = app.add_subcommand("gc", "delete unreferenced chunks (server stopped)");
  gc_flags.AddTo(gc, false);
  gc->callback([&] {
    action = [&]() -> Status {
      Result<ServeSettings> settings = ResolveServeSettings(gc_flags.Overrides(gc));
      if (!settings.ok()) return InvalidArgument(kUsageReason, settings.status().message());
      return RunGc(*settings);
    };
  });

  // profile set NAME, profile list
  CLI::App* profile = app.add_subcommand("profile", "manage CLI profiles")->require_subcommand(1);
  CLI::App* profile_set = profile->add_subcommand("set", "create or update a profile");
  std::string profile_name;
  ClientOptions profile_values;
  profile_set->add_option("NAME", profile_name, "profile name")->required();
  profile_set->add_option("--endpoint", profile_values.endpoint, "server URL");
  profile_set->add_option("--access-key-id", profile_values.access_key_id, "AccessKey id");
  profile_set->add_option("--access-key-secret", profile_values.access_key_secret, "AccessKey secret");
  profile_set->add_option("--region", profile_values.region, "default region");
  profile_set->callback([&] {
    action = [&] {
      return ProfileSet(profile_name, profile_values.endpoint, profile_values.access_key_id,
                        profile_values.access_key_secret, profile_values.region);
    };
  });
  profile->add_subcommand("list", "list profiles (secrets not shown)")->callback([&] {
    action = [&] { return ProfileList(client); };
  });

  // region list
  CLI::App* region = app.add_subcommand("region", "regions")->require_subcommand(1);
  region->add_subcommand("list", "list the server's regions")->callback([&] {
    action = [&] { return RegionList(client); };
  });

  // image ...
  CLI::App* image = app.add_subcommand("image", "custom images")->require_subcommand(1);
  ImageImportOptions import;
  CLI::App* image_import = image->add_subcommand("import", "upload a disk image file and import it");
  image_import->add_option("FILE", import.file, "disk image file")->required();
  image_import->add_option("--name", import.name, "image name");
  image_import->add_option("--description", import.description, "image description");
  image_import->add_option("--format", import.format, "RAW|QCOW2|VHD|VMDK (default: detect)")
      ->check(CLI::IsMember({"RAW", "QCOW2", "VHD", "VMDK"}, CLI::ignore_case));
  image_import->add_option("--bucket", import.bucket, "upload bucket (default ferry-uploads-<key hash>)");
  image_import->add_option("--object", import.object, "object name (default: the file name)");
  image_import->add_flag("--no-wait", import.no_wait, "return once the import task has started");
  image_import->add_option("--timeout", import.timeout, kJobTimeoutHelp)->type_name("DURATION");
  image_import->add_flag("--keep-upload", import.keep_upload,
                         "keep the uploaded object (default: removed once the import task ends)");
  image_import->callback([&] {
    action = [&] {
      for (char& c : import.format) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return ImageImport(client, import);
    };
  });

  std::string list_status;
  bool list_all = false;
  CLI::App* image_list = image->add_subcommand("list", "list images (yours; --all adds public ones)");
  image_list->add_option("--status", list_status, "comma list of statuses (default: all)");
  image_list->add_flag("--all", list_all, "include public images");
  image_list->callback([&] { action = [&] { return ImageList(client, list_status, list_all); }; });

  std::string image_id, image_name;
  bool force = false;
  CLI::App* image_show = image->add_subcommand("show", "show one image");
  image_show->add_option("ID", image_id, "image id")->required();
  image_show->callback([&] { action = [&] { return ImageShow(client, image_id); }; });

  CLI::App* image_rename = image->add_subcommand("rename", "rename an image");
  image_rename->add_option("ID", image_id, "image id")->required();
  image_rename->add_option("NAME", image_name, "new name")->required();
  image_rename->callback([&] { action = [&] { return ImageRename(client, image_id, image_name); }; });

  CLI::App* image_delete = image->add_subcommand("delete", "delete an image");
  image_delete->add_option("ID", image_id, "image id")->required();
  image_delete->add_flag("--force", force, "delete even if in use");
  image_delete->callback([&] { action = [&] { return ImageDelete(client, image_id, force); }; });

  ImageCreateOptions create_opts;
  CLI::App* image_create = image->add_subcommand(
      "create", "make an image of an instance's disks as they are now (or of a snapshot); waits until Available");
  image_create->add_option("--instance", create_opts.instance_id,
                           "instance id (Running or Stopped; stop it first for a consistent disk)");
  image_create->add_option("--snapshot", create_opts.snapshot_id, "or: a system-disk snapshot id")
      ->excludes("--instance");
  image_create->add_option("--name", create_opts.name, "image name (2-128 characters, starts with a letter)");
  image_create->add_option("--description", create_opts.description, "image description");
  image_create->add_flag("--no-wait", create_opts.no_wait, "return once the request is accepted (image Creating)");
  image_create->add_option("--timeout", create_opts.timeout, kJobTimeoutHelp)->type_name("DURATION");
  image_create->callback([&] { action = [&] { return ImageCreate(client, create_opts); }; });

  std::string share_add, share_remove;
  CLI::App* image_share = image->add_subcommand("share", "share an image with other accounts of this region");
  image_share->add_option("ID", image_id, "image id")->required();
  image_share->add_option("--add", share_add, "account id(s) to share with, comma-separated");
  image_share->add_option("--remove", share_remove, "account id(s) to stop sharing with, comma-separated");
  image_share->callback([&] {
    action = [&] {
      return ImageShare(client, image_id, SplitCommaList(share_add), SplitCommaList(share_remove));
    };
  });

  CLI::App* image_shares = image->add_subcommand("shares", "list the accounts an image is shared with");
  image_shares->add_option("ID", image_id, "image id")->required();
  image_shares->callback([&] { action = [&] { return ImageShares(client, image_id); }; });

  ImageExportOptions export_opts;
  CLI::App* image_export = image->add_subcommand("export", "export an image to a bucket");
  image_export->add_option("ID", export_opts.image_id, "image id")->required();
  image_export->add_option("--bucket", export_opts.bucket, "destination bucket")->required();
  image_export->add_option("--prefix", export_opts.prefix, "object name prefix");
  image_export
      ->add_option("--format", export_opts.format,
                   "raw|qcow2|vhd|vmdk|vdi, any case (default raw); vhd is a dynamic VHD of the disk's "
                   "exact size")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"raw", "qcow2", "vhd", "vmdk", "vdi"}, CLI::ignore_case));
  image_export->add_flag("--wait", export_opts.wait, "wait for the export task to finish");
  image_export->add_option("--timeout", export_opts.timeout, kJobTimeoutHelp)->type_name("DURATION");
  image_export->callback([&] {
    action = [&] {
      for (char& c : export_opts.format) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return ImageExport(client, export_opts);
    };
  });

  ImageCopyOptions copy_opts;
  std::string copy_to;
  CLI::App* image_copy = image->add_subcommand("copy", "copy an image to other regions");
  image_copy->add_option("ID", copy_opts.image_id, "image id in the source region (--region)")->required();
  image_copy->add_option("--to", copy_to, "destination region(s), comma-separated")->required();
  image_copy->add_option("--name", copy_opts.name, "name of the copies");
  image_copy->add_option("--description", copy_opts.description, "description of the copies");
  image_copy->add_flag("--wait", copy_opts.wait, "show progress until every copy is Available");
  image_copy
      ->add_option(
          "--timeout", copy_opts.timeout,
          "how long to wait for the copies (with more than one destination also without --wait: "
          "each starts when the previous is done), e.g. 12h, 3d (default 24h); copies go on after it")
      ->type_name("DURATION");
  image_copy->callback([&] {
    action = [&] {
      copy_opts.destinations = SplitCommaList(copy_to);
      return ImageCopy(client, copy_opts);
    };
  });

  std::string cancel_region;
  CLI::App* image_cancel_copy = image->add_subcommand("cancel-copy", "cancel a copy in progress");
  image_cancel_copy->add_option("REGION", cancel_region, "destination region of the copy")->required();
  image_cancel_copy->add_option("ID", image_id, "image id of the copy")->required();
  image_cancel_copy->callback(
      [&] { action = [&] { return ImageCancelCopy(client, cancel_region, image_id); }; });

  // snapshot list|create|delete
  CLI::App* snapshot =
      app.add_subcommand("snapshot", "snapshots: point-in-time copies of disks; images are made of them")
          ->require_subcommand(1);
  std::string snapshot_disk, snapshot_instance, snapshot_id;
  CLI::App* snapshot_list = snapshot->add_subcommand("list", "list snapshots (imports' and copies' too)");
  snapshot_list->add_option("--disk", snapshot_disk, "only the snapshots of this disk");
  snapshot_list->add_option("--instance", snapshot_instance, "only the snapshots of this instance's disks");
  snapshot_list->callback(
      [&] { action = [&] { return SnapshotList(client, snapshot_disk, snapshot_instance); }; });
  SnapshotCreateOptions snapshot_opts;
  CLI::App* snapshot_create =
      snapshot->add_subcommand("create", "snapshot a disk as it is now; waits until accomplished");
  snapshot_create->add_option("DISK_ID", snapshot_opts.disk_id, "disk id (see `ferry disk list`)")->required();
  snapshot_create->add_option("--name", snapshot_opts.name,
                              "snapshot name (2-128 characters, starts with a letter, not \"auto\")");
  snapshot_create->add_option("--description", snapshot_opts.description, "snapshot description");
  snapshot_create->add_flag("--no-wait", snapshot_opts.no_wait, "return once the request is accepted (progressing)");
  snapshot_create->add_option("--timeout", snapshot_opts.timeout, kJobTimeoutHelp)->type_name("DURATION");
  snapshot_create->callback([&] { action = [&] { return SnapshotCreate(client, snapshot_opts); }; });
  bool snapshot_force = false;
  CLI::App* snapshot_delete = snapshot->add_subcommand(
      "delete", "delete a snapshot (not one an image is made of: delete the image first)");
  snapshot_delete->add_option("ID", snapshot_id, "snapshot id")->required();
  snapshot_delete->add_flag("--force", snapshot_force,
                            "delete it even if disks were made from it (they keep their data)");
  snapshot_delete->callback([&] { action = [&] { return SnapshotDelete(client, snapshot_id, snapshot_force); }; });

  // task ...
  CLI::App* task =
      app.add_subcommand("task", "import, export, copy, image and snapshot tasks")->require_subcommand(1);
  std::string task_id, task_status, task_action;
  CLI::App* task_list = task->add_subcommand("list", "list tasks");
  task_list->add_option("--status", task_status, "Processing|Finished|Failed");
  task_list->add_option("--action", task_action, "ImportImage|ExportImage|CopyImage|CreateImage|CreateSnapshot");
  task_list->callback([&] { action = [&] { return TaskList(client, task_status, task_action); }; });
  CLI::App* task_show = task->add_subcommand("show", "show one task");
  task_show->add_option("ID", task_id, "task id")->required();
  task_show->callback([&] { action = [&] { return TaskShow(client, task_id); }; });
  CLI::App* task_cancel = task->add_subcommand("cancel", "cancel a running task");
  task_cancel->add_option("ID", task_id, "task id")->required();
  task_cancel->callback([&] { action = [&] { return TaskCancel(client, task_id); }; });

  // instance run|list|start|stop|reboot|delete
  CLI::App* instance = app.add_subcommand("instance", "instances (records with real disks)")->require_subcommand(1);
  InstanceRunOptions run_opts;
  CLI::App* instance_run = instance->add_subcommand("run", "create instances from an image and start them");
  instance_run->add_option("--image", run_opts.image_id, "image id")->required();
  instance_run->add_option("--type", run_opts.instance_type, "instance type (default ecs.g6.large)");
  instance_run->add_option("--amount", run_opts.amount, "how many, 1-100")->type_name("INT");
  instance_run->add_option("--name", run_opts.name, "instance name");
  instance_run->add_option("--disk-size", run_opts.disk_size_gib, "system disk GiB (20-500)")
      ->type_name("GIB");
  instance_run->add_option("--user-data", run_opts.user_data, "user data, base64");
  instance_run->add_option("--ram-role", run_opts.ram_role, "RAM role name");
  instance_run->add_option("--client-token", run_opts.client_token, "idempotency token");
  instance_run->add_flag("--stopped", run_opts.stopped, "create only (CreateInstance): left Stopped");
  instance_run->add_flag("--wait", run_opts.wait, "wait until Running (Stopped with --stopped)");
  instance_run->add_option("--timeout", run_opts.timeout, kInstanceTimeoutHelp)->type_name("DURATION");
  instance_run->callback([&] { action = [&] { return InstanceRun(client, run_opts); }; });
  instance->add_subcommand("list", "list instances")->callback([&] {
    action = [&] { return InstanceList(client); };
  });
  InstanceActionOptions action_opts;
  bool instance_no_wait = false;
  for (const auto& [verb, ecs_action, help] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"start", "StartInstance", "start a Stopped instance; returns once it is Running"},
           {"stop", "StopInstance", "stop a Running instance; returns once it is Stopped"},
           {"reboot", "RebootInstance", "restart a Running instance; returns once it is Running again"},
           {"delete", "DeleteInstance", "release an instance and its disks (a Running one needs --force)"}}) {
    CLI::App* sub = instance->add_subcommand(verb, help + " (" + ecs_action + ")");
    sub->add_option("ID", action_opts.instance_id, "instance id")->required();
    if (verb == "delete") {
      sub->add_flag("--force", action_opts.force, "release even if Running");
    } else {
      sub->add_flag("--no-wait", instance_no_wait,
                    "return once the request is accepted, printing the status now (Starting / Stopping)");
      sub->add_option("--timeout", action_opts.timeout, kInstanceTimeoutHelp)->type_name("DURATION");
    }
    sub->callback([&, ecs_action = ecs_action] {
      action = [&, ecs_action] {
        action_opts.action = ecs_action;
        action_opts.wait = !instance_no_wait;
        return InstanceAction(client, action_opts);
      };
    });
  }

  InstanceReplaceDiskOptions replace_opts;
  CLI::App* replace_disk = instance->add_subcommand(
      "replace-disk",
      "give a Stopped instance a new system disk made from an image; the old disk and its data are released "
      "(ReplaceSystemDisk)");
  replace_disk->add_option("ID", replace_opts.instance_id, "instance id (must be Stopped)")->required();
  replace_disk->add_option("--image", replace_opts.image_id, "image id the new disk is made from")->required();
  replace_disk
      ->add_option("--disk-size", replace_opts.disk_size_gib,
                   "new system disk GiB (20-500, at least the image's size)")
      ->type_name("GIB");
  replace_disk->add_option("--client-token", replace_opts.client_token, "idempotency token");
  replace_disk->callback([&] { action = [&] { return InstanceReplaceDisk(client, replace_opts); }; });
  std::string user_data_instance;
  bool user_data_decode = false;
  CLI::App* user_data = instance->add_subcommand(
      "user-data", "show the user data an instance was run with, base64 (DescribeUserData)");
  user_data->add_option("ID", user_data_instance, "instance id")->required();
  user_data->add_flag("--decode", user_data_decode, "print the decoded bytes alone, e.g. the script");
  user_data->callback(
      [&] { action = [&] { return InstanceUserData(client, user_data_instance, user_data_decode); }; });

  // disk list (API); disk path|export (operator, on the data directory)
  CLI::App* disk = app.add_subcommand("disk", "disks")->require_subcommand(1);
  CLI::App* disk_list = disk->add_subcommand("list", "list disks");
  std::string disk_list_instance;
  disk_list->add_option("--instance", disk_list_instance, "only this instance's disks")->type_name("ID");
  disk_list->callback([&] { action = [&] { return DiskList(client, disk_list_instance); }; });
  std::string disk_id, disk_file;
  DataDirFlags disk_path_flags, disk_export_flags;
  CLI::App* disk_path = disk->add_subcommand("path", "print the qcow2 file of a disk (operator)");
  disk_path->add_option("ID", disk_id, "disk id")->required();
  disk_path_flags.AddTo(disk_path, false);
  disk_path->callback([&] {
    action = [&]() -> Status {
      Result<ServeSettings> settings = ResolveServeSettings(disk_path_flags.Overrides(disk_path));
      if (!settings.ok()) return InvalidArgument(kUsageReason, settings.status().message());
      return DiskPathCommand(*settings, disk_id);
    };
  });
  CLI::App* disk_export = disk->add_subcommand("export", "write a disk's bytes to a raw file (operator)");
  disk_export->add_option("ID", disk_id, "disk id")->required();
  disk_export->add_option("FILE", disk_file, "raw file to create (must not exist)")->required();
  disk_export_flags.AddTo(disk_export, false);
  disk_export->callback([&] {
    action = [&]() -> Status {
      Result<ServeSettings> settings = ResolveServeSettings(disk_export_flags.Overrides(disk_export));
      if (!settings.ok()) return InvalidArgument(kUsageReason, settings.status().message());
      return DiskExportCommand(*settings, disk_id, disk_file);
    };
  });

  CLI::App* oss = app.add_subcommand("oss", "object storage over the OSS endpoint (oss://BUCKET/KEY)")
                      ->require_subcommand(1);
  OssCliOptions oss_cli;
  oss_cli.AddTo(oss, client, action);

  const std::vector<std::string> words(argv + (argc > 0 ? 1 : 0), argv + argc);
  bool asks_for_help_or_version = false;
  for (const std::string& w : words) {
    if (w == "--") break;
    if (w == "-h" || w == "--help" || w == "--version") asks_for_help_or_version = true;
  }
  if (!asks_for_help_or_version) {
    if (Status words_ok = CheckCommandWords(app, words); !words_ok.ok()) return ReportFailure(words_ok);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version "fail" with exit code 0 and print themselves;
    // anything else is a usage error in the CLI's one error format.
    if (e.get_exit_code() == 0) return app.exit(e);
    return ReportFailure(Usage(std::string(e.what()) + " (see `ferry --help`)"));
  }
  client.output = output == "json" ? OutputFormat::kJson : OutputFormat::kTable;
  if (!action) {
    std::cerr << app.help() << std::endl;
    return 2;
  }
  Status st = action();
  if (!st.ok()) return ReportFailure(st);
  return exit_code_on_success;
}

}  // namespace
}  // namespace ferry::cli

int main(int argc, char** argv) { return ferry::cli::Run(argc, argv); }
