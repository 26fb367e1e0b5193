// SqliteCatalog: a region's Catalog in one SQLite file (catalog.db).
//
// Schema (see kSchema in sqlite_catalog.cc): tables images, snapshots,
// tasks, client_tokens (version 1), copy_leases (2), tasks.attempts (3),
// image_shares (4, its SQL in sqlite_catalog_shares.cc), instances and disks
// (5), snapshots.source_disk_id (6), instances' tags and billing (7, both in
// sqlite_catalog_instances.h). Tags and disk mappings are JSON text
// columns; a snapshot's encoded manifest is a BLOB, NULL until committed.
// Image names are unique per account among non-empty names (a partial unique
// index backs the explicit check made under the write lock).
//
// Threading: thread-safe. One connection, guarded by `mu_`, a recursive mutex
// so that calls made from inside Transact()'s `fn` on the same thread join
// the transaction; other threads wait until the transaction ends.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "catalog/catalog.h"
#include "catalog/sqlite_db.h"

namespace ferry {

class SqliteCatalog final : public Catalog {
 public:
  // Opens or creates the catalog at `path` and migrates its schema.
  static Result<std::unique_ptr<SqliteCatalog>> Open(const std::string& path);

  Status Transact(const std::function<Status()>& fn) override;

  Status InsertImage(const ImageRecord& r) override;
  Status UpdateImage(const ImageRecord& r) override;
  Result<ImageRecord> GetImage(const std::string& image_id) override;
  Status DeleteImage(const std::string& image_id) override;
  // Tags in the query match an image when the image carries the exact
  // (key, value) pair. name_contains is a case-sensitive substring.
  Result<Page<ImageRecord>> ListImages(const ImageQuery& q) override;

  Status InsertSnapshot(const SnapshotRecord& r) override;
  Status UpdateSnapshot(const SnapshotRecord& r) override;
  Result<SnapshotRecord> GetSnapshot(const std::string& snapshot_id) override;
  Status DeleteSnapshot(const std::string& snapshot_id) override;               // OK if absent
  Result<Page<SnapshotRecord>> ListSnapshots(const SnapshotQuery& q) override;  // newest first
  // Reads manifests in batches in snapshot-id order and calls `fn` between
  // batches without holding the lock, so a long walk does not stall the
  // region. Snapshots committed or deleted during the walk may or may not be
  // visited; call it inside Transact() for a consistent view. Stops at the
  // first error from `fn` and returns it.
  Status ForEachManifest(
      const std::function<Status(const std::string&, const std::vector<uint8_t>&)>& fn) override;

  Status InsertTask(const TaskRecord& r) override;
  Status UpdateTask(const TaskRecord& r) override;
  Result<TaskRecord> GetTask(const std::string& task_id) override;
  // `status` and `statuses` both apply when both are set.
  Result<Page<TaskRecord>> ListTasks(const TaskQuery& q) override;

  Result<TokenRecord> GetClientToken(const std::string& account_id, const std::string& action,
                                     const std::string& token) override;
  // Replaces an existing record for the same key.
  Status PutClientToken(const std::string& account_id, const std::string& action, const std::string& token,
                        const TokenRecord& rec) override;
  Status PutCopyLease(const CopyLeaseRecord& rec) override;
  Result<CopyLeaseRecord> GetCopyLease(const std::string& source_image_id) override;
  Status DeleteCopyLease(const std::string& source_image_id, const std::string& copy_image_id) override;

  // Image shares (sqlite_catalog_shares.cc).
  Status PutImageShare(const ImageShareRecord& r) override;
  Status DeleteImageShare(const std::string& image_id, const std::string& account_id) override;
  Result<Page<ImageShareRecord>> ListImageShares(const std::string& image_id, uint64_t offset,
                                                 uint64_t limit) override;
  Result<bool> IsImageSharedWith(const std::string& image_id, const std::string& account_id) override;
  // Instances and disks: sqlite_catalog_instances.cc (schema version 5).
  Status InsertInstance(const InstanceRecord& r) override;
  Status UpdateInstance(const InstanceRecord& r) override;
  Result<InstanceRecord> GetInstance(const std::string& instance_id) override;
  Status DeleteInstance(const std::string& instance_id) override;
  Result<Page<InstanceRecord>> ListInstances(const InstanceQuery& q) override;
  Status InsertDisk(const DiskRecord& r) override;
  Status UpdateDisk(const DiskRecord& r) override;
  Result<DiskRecord> GetDisk(const std::string& disk_id) override;
  Status DeleteDisk(const std::string& disk_id) override;
  Result<Page<DiskRecord>> ListDisks(const DiskQuery& q) override;

 private:
  explicit SqliteCatalog(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  Status CheckImageNameFree(const ImageRecord& r);

  // Serializes every use of db_ and spans a whole Transact(); recursive so
  // that `fn` can call back into the catalog.
  std::recursive_mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
};

}  // namespace ferry
