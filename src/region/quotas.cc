#include "region/quotas.h"

#include "store/manifest.h"

namespace ferry {
namespace {

bool Over(uint64_t limit, uint64_t used, uint64_t adding) {
  return limit != 0 && adding > 0 && (used >= limit || adding > limit - used);
}

std::string Numbers(uint64_t used, uint64_t adding, uint64_t limit) {
  return std::to_string(used) + " + " + std::to_string(adding) + " > " + std::to_string(limit);
}

}  // namespace

Status CheckQuota(const QuotaLimits& limits, const QuotaUsage& usage, const QuotaUsage& adding,
                  const std::string& account_id, const std::string& action) {
  if (account_id == kSystemAccountId) return Status::Ok();
  if (Over(limits.images, usage.images, adding.images)) {
    return ResourceExhausted("QuotaExceed.Image", "The number of images exceeds the limit (" +
                                                      std::to_string(limits.images) + "): account " +
                                                      account_id + " has " + std::to_string(usage.images) +
                                                      " images in this region and this call adds " +
                                                      std::to_string(adding.images) + ".");
  }
  if (Over(limits.snapshots, usage.snapshots, adding.snapshots)) {
    return ResourceExhausted(
        "QuotaExceed.Snapshot",
        "The snapshot quota exceeds: account " + account_id + " has " + std::to_string(usage.snapshots) +
            " snapshots in this region, this call adds " + std::to_string(adding.snapshots) +
            ", the limit is " + std::to_string(limits.snapshots) + ".");
  }
  if (Over(limits.running_tasks, usage.running_tasks, adding.running_tasks)) {
    return ResourceExhausted("ConcurrentQuotaExceed." + action,
                             "The concurrent task quota exceeds: account " + account_id + " has " +
                                 std::to_string(usage.running_tasks) +
                                 " running tasks in this region, the limit is " +
                                 std::to_string(limits.running_tasks) + ". Retry when one has ended.");
  }
  // Unlike the counts, stored bytes can be over the limit already (the
  // limit was lowered, or concurrent calls overshot): then any call that
  // stores more is refused, even one that adds 0 by estimate.
  if (limits.stored_bytes != 0 && (usage.stored_bytes > limits.stored_bytes ||
                                   adding.stored_bytes > limits.stored_bytes - usage.stored_bytes)) {
    return ResourceExhausted("QuotaExceed.Storage",
                             "The storage quota exceeds: account " + account_id + " stores " +
                                 Numbers(usage.stored_bytes, adding.stored_bytes, limits.stored_bytes) +
                                 " bytes (snapshots' data, objects and upload parts). Delete images, "
                                 "snapshots or objects first.");
  }
  return Status::Ok();
}

Status CheckCountQuotas(Catalog& catalog, const QuotaLimits& limits, const std::string& account_id,
                        const QuotaUsage& adding, const std::string& action) {
  if (account_id == kSystemAccountId) return Status::Ok();
  QuotaUsage usage;
  if (limits.images != 0 && adding.images != 0) {
    ImageQuery q;
    q.account_id = account_id;
    q.include_system = false;
    q.limit = 1;
    ASSIGN_OR_RETURN(Page<ImageRecord> page, catalog.ListImages(q));
    usage.images = page.total;
  }
  if (limits.snapshots != 0 && adding.snapshots != 0) {
    SnapshotQuery q;
    q.account_id = account_id;
    q.limit = 1;
    ASSIGN_OR_RETURN(Page<SnapshotRecord> page, catalog.ListSnapshots(q));
    usage.snapshots = page.total;
  }
  if (limits.running_tasks != 0 && adding.running_tasks != 0) {
    TaskQuery q;
    q.account_id = account_id;
    q.statuses = {"Processing"};
    q.limit = 1;
    ASSIGN_OR_RETURN(Page<TaskRecord> page, catalog.ListTasks(q));
    usage.running_tasks = page.total;
  }
  QuotaLimits counts = limits;
  counts.stored_bytes = 0;
  return CheckQuota(counts, usage, adding, account_id, action);
}

Status CheckStorageQuota(const ObjectStore& storage, const std::string& account_id, uint64_t adding) {
  QuotaLimits limits;
  limits.stored_bytes = storage.max_account_bytes();
  if (limits.stored_bytes == 0 || account_id == kSystemAccountId) return Status::Ok();
  QuotaUsage usage;
  ASSIGN_OR_RETURN(usage.stored_bytes, storage.AccountStoredBytes(account_id));
  QuotaUsage add;
  add.stored_bytes = adding;
  return CheckQuota(limits, usage, add, account_id, "");
}

uint64_t QuotaMeter::ManifestDataBytes(const std::vector<uint8_t>& encoded) {
  if (encoded.empty()) return 0;
  Result<Manifest> m = DecodeManifest(encoded);
  return m.ok() ? m->DataBytes() : 0;
}

Result<uint64_t> QuotaMeter::SnapshotDataBytes(const std::string& account_id) {
  SnapshotQuery q;
  q.account_id = account_id;
  ASSIGN_OR_RETURN(Page<SnapshotRecord> page, catalog_.ListSnapshots(q));
  std::map<std::string, uint64_t> known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    known = cache_[account_id];
  }
  // Rebuilt from the live snapshots, so deleted ones drop out.
  std::map<std::string, uint64_t> fresh;
  uint64_t total = 0;
  for (const SnapshotRecord& s : page.items) {
    if (s.status != "accomplished") continue;  // no data committed yet
    uint64_t bytes = 0;
    if (auto it = known.find(s.snapshot_id); it != known.end()) {
      bytes = it->second;
    } else {
      Result<SnapshotRecord> full = catalog_.GetSnapshot(s.snapshot_id);
      if (!full.ok()) {
        if (full.status().code() == Code::kNotFound) continue;  // deleted meanwhile
        return full.status();
      }
      bytes = ManifestDataBytes(full->manifest);
    }
    fresh[s.snapshot_id] = bytes;
    total += bytes;
  }
  std::lock_guard<std::mutex> lock(mu_);
  cache_[account_id] = std::move(fresh);
  return total;
}

}  // namespace ferry
