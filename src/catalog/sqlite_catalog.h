// SqliteCatalog: a region's Catalog in one SQLite file (catalog.db).
//
// Schema (see kSchema in sqlite_catalog.cc): tables images, snapshots,
// tasks, client_tokens (version 1), copy_leases (2), tasks.attempts (3),
// image_shares (4, its SQL in sqlite_catalog_shares.cc), instances and disks
// (5), snapshots.source_disk_id (6), instances' tags and billing (7, both in
// sqlite_catalog_instances.h), image_counts and image_snapshots with the
// listing indexes (8, sqlite_catalog_images.cc), tasks' leases (9,
// catalog_rows.h). Tags and disk mappings are
// JSON text columns (the mappings' format and decoder: disk_mappings_json.h);
// a snapshot's encoded manifest is a BLOB, NULL until committed.
// Image names are unique per account among non-empty names (a partial unique
// index backs the explicit check made under the write lock).
//
// Threading: thread-safe. Writes use one connection, guarded by `mu_`, a
// recursive mutex so that calls made from inside Transact()'s `fn` on the
// same thread join the transaction; other writers wait until it ends. Reads
// use connections of their own (WAL: a reader sees the last commit and never
// waits behind a writer), except on the thread inside Transact(), which reads
// through the writer's connection and so sees its own uncommitted writes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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
  // (key, value) pair. name_contains is a case-sensitive substring. Merges
  // index-ordered streams and takes TotalCount from image_counts; see
  // sqlite_catalog_images.cc.
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

  Result<bool> ClaimTask(const std::string& task_id, const std::string& node, UnixSeconds now,
                         UnixSeconds until) override;
  Status RenewTaskLeases(const std::string& node, UnixSeconds until) override;
  Status ReleaseTaskLeases(const std::string& node) override;
  Result<std::vector<TaskRecord>> ClaimableTasks(const std::string& node, UnixSeconds now) override;
  Result<bool> TakeCopySlot(const std::string& task_id, UnixSeconds now, unsigned max_running) override;
  Status ReleaseCopySlot(const std::string& task_id) override;
  Status PinChunk(const std::string& chunk, const std::string& owner, const std::string& node,
                  UnixSeconds until) override;
  Result<int64_t> LiveChunkPins(const std::string& owner, UnixSeconds now) override;
  Status ReleaseChunkPins(const std::string& owner, UnixSeconds now) override;
  Status RenewChunkPins(const std::string& node, UnixSeconds now, UnixSeconds until) override;
  Status DropChunkPins(const std::string& node) override;
  Result<int64_t> BeginGcPass(const std::string& pass, UnixSeconds until) override;
  Status DeleteChunkUnlessPinned(const std::string& chunk, const std::string& pass, UnixSeconds now,
                                 UnixSeconds until, const std::function<Status()>& remove,
                                 bool* deleted) override;
  Status EndGcPass(const std::string& pass, UnixSeconds now) override;

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
  Result<std::set<std::string>> SharedImageIds(const std::vector<std::string>& image_ids) override;

  // SQLite virtual-machine steps of every statement run so far, on every
  // connection (SqliteDb::CountStepsInto), for tests.
  uint64_t vm_steps() const { return vm_steps_.load(); }
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
  SqliteCatalog(std::unique_ptr<SqliteDb> db, std::string path) : db_(std::move(db)), path_(std::move(path)) {
    db_->CountStepsInto(&vm_steps_);
  }

  // A connection to read through, for as long as the lease lives: the
  // writer's (under mu_) on the thread inside Transact() or for an
  // in-memory catalog, else one of the idle read connections (opened on
  // demand; at most kMaxIdleReaders are kept).
  class ReadLease {
   public:
    ReadLease(ReadLease&& other) noexcept = default;
    ~ReadLease();
    SqliteDb& db() { return *db_; }
    // A pooled reader's own connection (query_only: it never commits), not
    // the writer's borrowed.
    bool own_connection() const { return reader_ != nullptr; }

   private:
    friend class SqliteCatalog;
    ReadLease() = default;
    SqliteCatalog* owner_ = nullptr;
    std::unique_lock<std::recursive_mutex> writer_lock_;  // held when reading through the writer
    std::unique_ptr<SqliteDb> reader_;                    // else the pooled connection, returned on destruction
    SqliteDb* db_ = nullptr;
  };
  static constexpr size_t kMaxIdleReaders = 8;
  Result<ReadLease> Reader();

  // Runs the write `fn` on the writer's connection: inside the caller's
  // transaction if this thread is in Transact() (which then makes the whole
  // durable), else as a commit of its own made durable before returning.
  Status Write(const std::function<Status()>& fn);
  // Group commit. The writer's connection commits without syncing
  // (synchronous=NORMAL), so commits made one after another do not each
  // wait for the disk; every commit gets a sequence number, and a caller is
  // answered only once the WAL has been fdatasync'ed past its commit. One
  // sync covers every commit made before it started, so concurrent writers
  // share it, and no lock of the catalog is held while it runs: writers keep
  // committing behind it. (A reader on another connection may see a commit a
  // moment before it is synced; a kill -9 loses nothing either way, since
  // the WAL is in the page cache.)
  Status MakeDurable(uint64_t commit);
  Status SyncWal();

  Status CheckImageNameFree(const ImageRecord& r);

  // Serializes every use of db_ and spans a whole Transact(); recursive so
  // that `fn` can call back into the catalog.
  std::recursive_mutex mu_;
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
  // The thread inside Transact(), if any (its reads go through db_).
  std::atomic<std::thread::id> transacting_{};
  const std::string path_;
  std::atomic<uint64_t> vm_steps_{0};
  std::atomic<uint64_t> committed_{0};  // commits made; advanced under mu_
  std::mutex sync_mu_;
  std::condition_variable synced_cv_;
  uint64_t synced_ = 0;   // commits known durable; guarded by sync_mu_
  bool syncing_ = false;  // a thread is in SyncWal(); guarded by sync_mu_
  std::mutex readers_mu_;
  std::vector<std::unique_ptr<SqliteDb>> idle_readers_;  // guarded by readers_mu_
};

}  // namespace ferry
