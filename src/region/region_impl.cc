// RegionImpl: opening, the helpers the per-family files share
// (region_internal.h), and the peer reads. The request handlers live in one
// file per resource family: region_images.cc, region_snapshots.cc,
// region_copy.cc, region_tasks.cc (with the task workers, GC and fsck).
#include "region/region_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "catalog/pg_catalog.h"
#include "catalog/sqlite_catalog.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"
#include "region/part_chunks.h"
#include "region/region_internal.h"
#include "store/fs_chunk_store.h"
#include "store/s3_chunk_store.h"

namespace ferry {

Status ImageNotFound(const std::string& image_id) {
  return NotFound("InvalidImageId.NotFound",
                  "The specified ImageId \"" + Echo(image_id) + "\" does not exist.");
}

Status SnapshotNotFound(const std::string& snapshot_id) {
  return NotFound("InvalidSnapshotId.NotFound",
                  "The specified snapshot \"" + Echo(snapshot_id) + "\" is not found.");
}

Status MissingParameter(const std::string& name) {
  return InvalidArgument(
      "MissingParameter",
      "The input parameter \"" + name + "\" that is mandatory for processing this request is not supplied.");
}

Status DryRunPassed() {
  return InvalidArgument("DryRunOperation", "Request validation has been passed with DryRun flag set.");
}

Status ValidatePage(uint64_t page_number, uint64_t page_size) {
  if (page_number < 1) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"PageNumber\" must be at least 1.");
  }
  if (page_size < 1 || page_size > 100) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"PageSize\" must be 1 to 100, got " +
                                                   std::to_string(page_size) + ".");
  }
  return Status::Ok();
}

std::string Fingerprint(const nlohmann::json& params) { return Sha256Hex(params.dump()); }

nlohmann::json TagsJson(const Tags& tags) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [k, v] : tags) j.push_back({k, v});
  return j;
}

// Looks up a ClientToken: the remembered result id when the token was used
// with the same parameters, nullopt when unknown.
Result<std::optional<std::string>> CheckClientToken(Catalog& catalog, const std::string& account,
                                                    const std::string& action, const std::string& token,
                                                    const std::string& fingerprint) {
  if (token.empty()) return std::optional<std::string>();
  Result<Catalog::TokenRecord> rec = catalog.GetClientToken(account, action, token);
  if (!rec.ok()) {
    if (rec.status().code() == Code::kNotFound) return std::optional<std::string>();
    return rec.status();
  }
  if (rec->fingerprint != fingerprint) {
    return InvalidArgument(
        "IdempotentParameterMismatch",
        "The ClientToken \"" + Echo(token) + "\" was used before with different parameters.");
  }
  return std::optional<std::string>(rec->result_id);
}

// This node's name in task leases: RegionConfig::node_id, or the one kept in
// the region's directory (made on first open; one data directory per node).
Result<std::string> NodeIdOf(const RegionConfig& config) {
  if (!config.node_id.empty()) return config.node_id;
  const std::string path = config.data_dir + "/node-id";
  std::error_code ec;
  Result<std::string> kept = std::filesystem::exists(path, ec) ? ReadFileToString(path) : NotFound("", path);
  if (kept.ok()) {
    std::string id = kept->substr(0, 80);
    while (!id.empty() && (id.back() == '\n' || id.back() == ' ')) id.pop_back();
    const bool valid = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char ch) {
      return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-';
    });
    if (!valid) return DataLoss(path + " does not hold a node id (1-64 of [a-z0-9-])");
    return id;
  }
  if (kept.status().code() != Code::kNotFound) return kept.status();
  const std::string id = "node-" + RandomHex(12);
  RETURN_IF_ERROR(WriteFileAtomic(path, id + "\n", 0600));
  return id;
}

Result<std::unique_ptr<Region>> OpenRegion(const RegionConfig& config, const Clock& clock) {
  ASSIGN_OR_RETURN(std::unique_ptr<RegionImpl> region, RegionImpl::Open(config, clock));
  return std::unique_ptr<Region>(std::move(region));
}

RegionImpl::RegionImpl(const RegionConfig& config, const Clock& clock, RegionHooks hooks,
                       std::unique_ptr<Catalog> catalog, std::unique_ptr<ChunkStore> store)
    : config_(config),
      clock_(clock),
      hooks_(std::move(hooks)),
      oss_(*config.object_storage),
      tmp_dir_(config.data_dir + "/tmp"),
      catalog_(std::move(catalog)),
      store_(std::move(store)),
      copies_(std::make_unique<CopyScheduler>(std::max(1u, config.max_running_copies))) {}

RegionImpl::~RegionImpl() {
  if (part_chunks_) oss_.SetPartChunks(nullptr);
  Shutdown();
  if (usage_source_id_ != 0) oss_.RemoveUsageSource(usage_source_id_);
}

namespace {

// The region's chunks: in the S3 store config.store_uri names, or in the
// data directory.
Result<std::unique_ptr<ChunkStore>> OpenChunkStore(const RegionConfig& config, bool check_only) {
  if (config.store_uri.empty()) {
    ASSIGN_OR_RETURN(std::unique_ptr<FsChunkStore> store,
                     FsChunkStore::Open(config.data_dir + "/chunks", 1, /*remove_temps=*/!check_only));
    return std::unique_ptr<ChunkStore>(std::move(store));
  }
  ASSIGN_OR_RETURN(S3Location location, ParseS3Uri(config.store_uri));
  ASSIGN_OR_RETURN(S3Credentials credentials, S3CredentialsFromEnvironment());
  Result<std::unique_ptr<S3ChunkStore>> store = S3ChunkStore::Open(location, credentials, 1);
  if (!store.ok()) return store.status().WithContext("region " + config.region_id + ": chunk store");
  return std::unique_ptr<ChunkStore>(std::move(store).value());
}

}  // namespace

Result<std::unique_ptr<RegionImpl>> RegionImpl::Open(const RegionConfig& config, const Clock& clock,
                                                     RegionHooks hooks) {
  if (config.object_storage == nullptr) {
    return InvalidArgument("", "region " + config.region_id + ": RegionConfig.object_storage is required");
  }
  if (config.chunk_size == 0) return InvalidArgument("", "region " + config.region_id + ": chunk_size is 0");
  const bool check_only = config.check_only;
  if (!check_only) {
    RETURN_IF_ERROR(MakeDirs(config.data_dir));
    // Scratch files of an interrupted run are useless: their tasks restart.
    std::string tmp = config.data_dir + "/tmp";
    std::error_code ec;
    std::filesystem::remove_all(tmp, ec);
    RETURN_IF_ERROR(MakeDirs(tmp));
  }
  std::unique_ptr<Catalog> catalog;
  if (config.catalog_uri.empty()) {
    ASSIGN_OR_RETURN(catalog, SqliteCatalog::Open(config.data_dir + "/catalog.db"));
  } else {
    ASSIGN_OR_RETURN(catalog, PgCatalog::Open(config.catalog_uri));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<ChunkStore> store, OpenChunkStore(config, check_only));
  std::unique_ptr<RegionImpl> region(
      new RegionImpl(config, clock, std::move(hooks), std::move(catalog), std::move(store)));
  if (check_only) {
    // What is there, as it is: a region that never had disks has none.
    Result<std::unique_ptr<DiskStore>> disks =
        DiskStore::Open(config.data_dir + "/disks", /*check_only=*/true);
    if (disks.ok()) {
      region->disks_ = std::move(disks).value();
    } else if (disks.status().code() != Code::kNotFound) {
      return disks.status();
    }
    return region;
  }
  ASSIGN_OR_RETURN(region->node_id_, NodeIdOf(config));
  // A catalog other nodes share: so, probably, the chunk store. Pins in the
  // catalog let every node's GC run (gc_with_nodes.md).
  if (!config.catalog_uri.empty()) {
    RETURN_IF_ERROR(region->pins_.ShareThrough(region->catalog_.get(), region->node_id_, &region->clock_,
                                               config.task_lease_seconds));
  }
  if (config.seed_public_image) {
    Status st = region->SeedPublicImage();
    if (!st.ok()) spdlog::warn("region {}: public image not seeded: {}", config.region_id, st.ToString());
  }
  ASSIGN_OR_RETURN(region->disks_, DiskStore::Open(config.data_dir + "/disks"));
  region->instance_runner_ = std::make_unique<DelayedRunner>();
  RegionImpl* r = region.get();
  if (config.keep_parts_as_chunks && !config.check_only) {
    region->part_chunks_ = std::make_shared<RegionPartChunks>(
        *region->store_, region->pins_, region->gc_mu_,
        [r](const std::string& account) { return r->ScopeFor(account); }, kDefaultChunkSize);
    region->oss_.SetPartChunks(region->part_chunks_);
  }
  region->usage_source_id_ = region->oss_.AddUsageSource(
      [r](const std::string& account) { return r->quota_meter_.SnapshotDataBytes(account); });
  region->StartThreads();
  RETURN_IF_ERROR(region->ResumeTasks());
  region->ReleaseEndedStaging();
  if (Status st = region->ResumeInstances(); !st.ok()) {
    spdlog::error("region {}: instances not resumed: {}", config.region_id, st.ToString());
  }
  return region;
}

Result<bool> RegionImpl::NameTaken(const std::string& account_id, const std::string& name,
                                   const std::string& except_id) {
  if (name.empty()) return false;
  ImageQuery q;
  q.account_id = account_id;
  q.include_system = false;
  q.name = name;
  q.count_total = false;
  ASSIGN_OR_RETURN(Page<ImageRecord> page, catalog_->ListImages(q));
  for (const ImageRecord& img : page.items) {
    if (img.name == name && img.image_id != except_id && img.account_id == account_id) return true;
  }
  return false;
}

Result<bool> RegionImpl::HasProcessingTask(const std::string& image_id, const std::string& action) {
  TaskQuery q;
  q.resource_ids = {image_id};
  q.action = action;
  q.statuses = {"Processing"};
  ASSIGN_OR_RETURN(Page<TaskRecord> page, catalog_->ListTasks(q));
  return page.total > 0 || !page.items.empty();
}

// ----------------------------------------------------------------- Peer reads

Result<std::vector<uint8_t>> RegionImpl::PeerReadManifest(const std::string& snapshot_id) {
  Result<SnapshotRecord> snap = catalog_->GetSnapshot(snapshot_id);
  if (!snap.ok()) {
    if (snap.status().code() == Code::kNotFound) return SnapshotNotFound(snapshot_id);
    return snap.status();
  }
  // A snapshot still being written has no manifest a peer may rely on.
  if (snap->status != "accomplished" || snap->manifest.empty()) {
    return NotFound("InvalidSnapshotId.NotFound", "The specified snapshot \"" + Echo(snapshot_id) +
                                                      "\" is not committed yet (status " + snap->status +
                                                      ").");
  }
  return std::move(snap->manifest);
}

Result<std::vector<uint8_t>> RegionImpl::PeerReadChunk(const ChunkId& id) { return store_->Get(id); }

Result<std::vector<uint8_t>> RegionImpl::PeerReadChunkStored(const ChunkId& id) {
  return store_->GetStored(id);
}

Result<std::optional<ChunkObjectFile>> RegionImpl::PeerOpenChunkStored(const ChunkId& id) {
  return store_->OpenStored(id);
}

}  // namespace ferry
