// PgCatalog: a region's Catalog in a PostgreSQL database, shared by every
// node of the region (issue 13). The same records as SqliteCatalog, in the
// tables of PgSchema (pg_schema.cc), read and written through the same column
// lists and row decoders (catalog_rows.h); CatalogContractTest runs one suite
// against both.
//
// Consistency: writes are serialized in the whole region by one advisory
// lock (kPgRegionWriteLock), taken by every write transaction and held to its end,
// as SQLite serializes writers on one file. So a Transact() sees no other
// writer, on this node or another, between its reads and its writes: the
// region's check-then-write steps (a name free, a copy slot free, a token
// unused) hold across nodes exactly as they hold in one process. Reads do not
// take it: one statement sees the last commit; a listing's statements run in
// one REPEATABLE READ snapshot. Every commit is durable when it returns
// (synchronous_commit on, as the server's default).
//
// Threading: thread-safe. Each call takes a connection from a PgPool (at
// most kMaxConnections open; a caller waits up to kConnectionWait for one,
// then gets kUnavailable). Transact() binds its connection to the calling thread:
// calls that thread makes from inside `fn` run in that transaction, a write
// inside a savepoint so that its failure leaves the rest usable (as
// SqliteDb's nested transactions do).
//
// Not kept: image_counts (SqliteCatalog's listing totals; PostgreSQL counts
// the matching rows of the listing's snapshot instead). image_snapshots is
// kept, for the snapshot filter and the listing view.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/pg_db.h"
#include "catalog/pg_pool.h"

namespace ferry {

class PgCatalog final : public Catalog {
 public:
  static constexpr size_t kMaxConnections = 16;
  static constexpr std::chrono::seconds kConnectionWait{30};

  // Connects to `uri` (PgDb::Connect) and brings its schema to PgSchema().
  static Result<std::unique_ptr<PgCatalog>> Open(const std::string& uri);
  ~PgCatalog() override;

  Status Transact(const std::function<Status()>& fn) override;

  Status InsertImage(const ImageRecord& r) override;
  Status UpdateImage(const ImageRecord& r) override;
  Result<ImageRecord> GetImage(const std::string& image_id) override;
  Status DeleteImage(const std::string& image_id) override;
  Result<Page<ImageRecord>> ListImages(const ImageQuery& q) override;

  Status InsertSnapshot(const SnapshotRecord& r) override;
  Status UpdateSnapshot(const SnapshotRecord& r) override;
  Result<SnapshotRecord> GetSnapshot(const std::string& snapshot_id) override;
  Status DeleteSnapshot(const std::string& snapshot_id) override;
  Result<Page<SnapshotRecord>> ListSnapshots(const SnapshotQuery& q) override;
  // In batches in snapshot-id order, as SqliteCatalog: `fn` runs between
  // batches, holding no connection (unless called inside Transact()).
  Status ForEachManifest(
      const std::function<Status(const std::string&, const std::vector<uint8_t>&)>& fn) override;

  Status InsertTask(const TaskRecord& r) override;
  Status UpdateTask(const TaskRecord& r) override;
  Result<TaskRecord> GetTask(const std::string& task_id) override;
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
  Status PutClientToken(const std::string& account_id, const std::string& action, const std::string& token,
                        const TokenRecord& rec) override;
  Status PutCopyLease(const CopyLeaseRecord& rec) override;
  Result<CopyLeaseRecord> GetCopyLease(const std::string& source_image_id) override;
  Status DeleteCopyLease(const std::string& source_image_id, const std::string& copy_image_id) override;

  Status PutImageShare(const ImageShareRecord& r) override;
  Status DeleteImageShare(const std::string& image_id, const std::string& account_id) override;
  Result<Page<ImageShareRecord>> ListImageShares(const std::string& image_id, uint64_t offset,
                                                 uint64_t limit) override;
  Result<bool> IsImageSharedWith(const std::string& image_id, const std::string& account_id) override;
  Result<std::set<std::string>> SharedImageIds(const std::vector<std::string>& image_ids) override;

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
  explicit PgCatalog(std::unique_ptr<PgPool> pool) : pool_(std::move(pool)) {}

  // The transaction Transact() opened on this thread, and how deep its
  // savepoints go.
  struct Bound {
    std::unique_ptr<PgDb> db;
    int depth = 0;
  };
  Bound* BoundHere();

  // A connection for as long as the lease lives: this thread's
  // transaction's, or a pooled one given back at the end (dropped if broken).
  class Lease {
   public:
    Lease(Lease&&) noexcept = default;
    PgDb& db() { return pooled_ ? pooled_->db() : *bound_; }

   private:
    friend class PgCatalog;
    Lease() = default;
    std::optional<PgPool::Lease> pooled_;
    PgDb* bound_ = nullptr;
  };
  Result<Lease> Connection();

  // Runs `fn` in this thread's transaction (in a savepoint), or in a write
  // transaction of its own.
  Status Write(const std::function<Status(PgDb&)>& fn);
  // Runs `fn`'s statements in one snapshot: this thread's transaction, or a
  // read-only REPEATABLE READ one.
  Status ReadSnapshot(const std::function<Status(PgDb&)>& fn);

  Status CheckImageNameFree(PgDb& db, const ImageRecord& r);
  Status WriteImageSnapshots(PgDb& db, const ImageRecord& r);

  std::unique_ptr<PgPool> pool_;
  std::mutex mu_;
  std::unordered_map<std::thread::id, Bound> bound_;  // guarded by mu_ (an entry: by its thread)
};

}  // namespace ferry
