// Per-account quotas: how many images, snapshots and running tasks an
// account may have in a region, and how many bytes it may store.
//
// Stored bytes are LOGICAL: the data bytes (non-hole chunks) of the
// account's snapshots as if nothing were shared, plus the allocated bytes of
// its objects and upload parts (ObjectStore::AccountStoredBytes). Never the
// deduplicated physical bytes, so a quota answer tells a tenant nothing
// about what other accounts hold.
//
// Errors (documented ECS codes, HTTP 403; src/api/errors.cc):
//   images          QuotaExceed.Image
//   snapshots       QuotaExceed.Snapshot
//   stored bytes    QuotaExceed.Storage (ECS documents no storage quota code;
//                   Ferry follows the QuotaExceed.* family)
//   running tasks   ConcurrentQuotaExceed.<Action> (documented for
//                   ExportImage; the same pattern for ImportImage, CopyImage)
//
// Counts are checked inside the catalog transaction that inserts the new
// records, so concurrent calls cannot both pass the last free slot. Stored
// bytes are measured before it (measuring reads every region sharing the
// object storage, whose catalogs must not be locked inside another's
// transaction), so concurrent calls may pass together and overshoot by at
// most what they add.
//
// Threading: the free functions are pure; QuotaMeter is thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"
#include "objects/object_store.h"

namespace ferry {

// 0 = unlimited, for every field.
struct QuotaLimits {
  uint64_t images = 0;         // per account, per region (every status)
  uint64_t snapshots = 0;      // per account, per region
  uint64_t running_tasks = 0;  // Processing imports, exports and copies per account, per region
  uint64_t stored_bytes = 0;   // per account, per process (ObjectStore::max_account_bytes)
};

struct QuotaUsage {
  uint64_t images = 0;
  uint64_t snapshots = 0;
  uint64_t running_tasks = 0;
  uint64_t stored_bytes = 0;
};

// OK, or the first limit `adding` would take `usage` over (see the table
// above). `action` names the call for ConcurrentQuotaExceed.<action>.
Status CheckQuota(const QuotaLimits& limits, const QuotaUsage& usage, const QuotaUsage& adding,
                  const std::string& account_id, const std::string& action);

// The count quotas only (images, snapshots, running tasks), measured from
// `catalog`: call inside the transaction that inserts the new records.
Status CheckCountQuotas(Catalog& catalog, const QuotaLimits& limits, const std::string& account_id,
                        const QuotaUsage& adding, const std::string& action);

// The stored-bytes quota: QuotaExceed.Storage when the account's stored
// bytes plus `adding` exceed storage.max_account_bytes().
Status CheckStorageQuota(const ObjectStore& storage, const std::string& account_id, uint64_t adding);

// Logical data bytes of an account's snapshots in one catalog. A committed
// snapshot's manifest never changes, so its size is decoded once and cached.
class QuotaMeter {
 public:
  explicit QuotaMeter(Catalog& catalog) : catalog_(catalog) {}
  Result<uint64_t> SnapshotDataBytes(const std::string& account_id);
  // Data bytes of one encoded manifest (0 for an empty or undecodable one).
  static uint64_t ManifestDataBytes(const std::vector<uint8_t>& encoded);

 private:
  Catalog& catalog_;
  std::mutex mu_;
  // account id -> (snapshot id -> data bytes); guarded by mu_
  std::map<std::string, std::map<std::string, uint64_t>> cache_;
};

}  // namespace ferry
