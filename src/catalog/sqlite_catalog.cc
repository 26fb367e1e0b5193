#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_catalog_instances.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <cstdint>
#include <iterator>
#include <limits>
#include <nlohmann/json.hpp>
#include <span>
#include <utility>

#include "catalog/disk_mappings_json.h"
#include "catalog/sqlite_catalog_sql.h"

namespace ferry {

namespace {

using catalog_sql::Columns;
using catalog_sql::DecodeImage;
using catalog_sql::DecodeSnapshot;
using catalog_sql::DecodeTask;
using catalog_sql::Execute;
using catalog_sql::ImageValues;
using catalog_sql::InsertSql;
using catalog_sql::KeyLast;
using catalog_sql::kImageColumns;
using catalog_sql::kSnapshotColumns;
using catalog_sql::kSnapshotColumnsWithoutManifest;
using catalog_sql::kTaskColumns;
using catalog_sql::PageInSql;
using catalog_sql::Rows;
using catalog_sql::SelectSql;
using catalog_sql::SnapshotValues;
using catalog_sql::TaskValues;
using catalog_sql::UpdateSql;
using catalog_sql::WhereClause;

// Schema steps, applied in order by SqliteDb::Migrate; never edit a step that
// has shipped, append a new one. Plain TEXT/INTEGER/BLOB types and no
// SQLite-only syntax, so the same statements serve a PostgreSQL catalog.
const std::vector<std::string> kSchema = {
    // Version 1.
    R"sql(
CREATE TABLE images (
  image_id TEXT NOT NULL PRIMARY KEY,
  account_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  progress INTEGER NOT NULL,
  os_type TEXT NOT NULL,
  os_name TEXT NOT NULL,
  platform TEXT NOT NULL,
  architecture TEXT NOT NULL,
  boot_mode TEXT NOT NULL,
  image_family TEXT NOT NULL,
  image_version TEXT NOT NULL,
  license_type TEXT NOT NULL,
  resource_group_id TEXT NOT NULL,
  size_gib INTEGER NOT NULL,
  disks TEXT NOT NULL,
  tags TEXT NOT NULL,
  is_copied INTEGER NOT NULL,
  source_region_id TEXT NOT NULL,
  source_image_id TEXT NOT NULL,
  failure_reason TEXT NOT NULL,
  creation_time INTEGER NOT NULL
);
CREATE UNIQUE INDEX images_account_name ON images (account_id, name) WHERE name <> '';
CREATE INDEX images_account_created ON images (account_id, creation_time);

CREATE TABLE snapshots (
  snapshot_id TEXT NOT NULL PRIMARY KEY,
  account_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  status TEXT NOT NULL,
  progress INTEGER NOT NULL,
  logical_size INTEGER NOT NULL,
  source_disk_size_gib INTEGER NOT NULL,
  source_disk_type TEXT NOT NULL,
  usage TEXT NOT NULL,
  encrypted INTEGER NOT NULL,
  kms_key_id TEXT NOT NULL,
  source_region_id TEXT NOT NULL,
  source_snapshot_id TEXT NOT NULL,
  content_digest TEXT NOT NULL,
  tags TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  last_modified_time INTEGER NOT NULL,
  manifest BLOB
);
CREATE INDEX snapshots_account_created ON snapshots (account_id, creation_time);

CREATE TABLE tasks (
  task_id TEXT NOT NULL PRIMARY KEY,
  account_id TEXT NOT NULL,
  action TEXT NOT NULL,
  status TEXT NOT NULL,
  progress INTEGER NOT NULL,
  resource_id TEXT NOT NULL,
  params TEXT NOT NULL,
  error_code TEXT NOT NULL,
  error_message TEXT NOT NULL,
  cancel_requested INTEGER NOT NULL,
  creation_time INTEGER NOT NULL,
  finished_time INTEGER NOT NULL
);
CREATE INDEX tasks_account_created ON tasks (account_id, creation_time);
CREATE INDEX tasks_status ON tasks (status);

CREATE TABLE client_tokens (
  account_id TEXT NOT NULL,
  action TEXT NOT NULL,
  token TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  result_id TEXT NOT NULL,
  PRIMARY KEY (account_id, action, token)
);
)sql",
    // Version 2: copy leases (catalog.h CopyLeaseRecord).
    R"sql(
CREATE TABLE copy_leases (
  source_image_id TEXT PRIMARY KEY,
  copy_region_id TEXT NOT NULL,
  copy_image_id TEXT NOT NULL,
  creation_time INTEGER NOT NULL
);
)sql",
    // Version 3: task attempts (catalog.h TaskRecord::attempts), for the
    // quarantine of tasks that stop the server.
    R"sql(
ALTER TABLE tasks ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
)sql",
    // Version 4: image shares (catalog.h ImageShareRecord).
    catalog_sql::ImageSharesSchemaStep(),
    // Version 5: instances and disks (sqlite_catalog_instances.cc).
    kInstancesSchema,
    // Version 6: the disk a snapshot was taken of (CreateSnapshot,
    // CreateImage from an instance).
    R"sql(
ALTER TABLE snapshots ADD COLUMN source_disk_id TEXT NOT NULL DEFAULT '';
)sql",
    // Version 7: instances' tags, billing method and subscription end
    // (sqlite_catalog_instances.h).
    kInstanceTagsAndBillingSchema,
    // Version 8: listing without sorting — indexes in listing order,
    // image_counts, image_snapshots (sqlite_catalog_images.cc).
    catalog_sql::ImageIndexSchemaStep(),
    // Version 9: task leases (catalog.h ClaimTask), for the nodes of a
    // region that share a catalog.
    catalog_sql::kTaskLeaseSchemaStep,
    // Version 10: copy slots (catalog.h TakeCopySlot), the region-wide
    // running-copies limit.
    catalog_sql::kCopySlotSchemaStep,
    // Version 11: chunk pins and GC passes (catalog.h PinChunk), for the
    // nodes of a region that share a chunk store.
    catalog_sql::kChunkPinSchemaStep,
};

// Manifests can be megabytes each; a batch bounds memory and lock hold time.
constexpr int64_t kManifestBatch = 16;

}  // namespace

namespace catalog_sql {

std::string ImageColumnsSql(const std::string& prefix) { return JoinColumns(kImageColumns, prefix); }

Result<ImageRecord> DecodeImageRow(const SqliteStatement& s) { return DecodeImage(s); }
Status DecodeImageRowInto(const SqliteStatement& s, ImageRecord& r) { return DecodeImageInto(s, r); }

}  // namespace catalog_sql

Result<std::unique_ptr<SqliteCatalog>> SqliteCatalog::Open(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<SqliteDb> db, SqliteDb::Open(path));
  RETURN_IF_ERROR(db->Migrate(kSchema, catalog_sql::ImageIndexMigrationHooks()));
  // Commits are synced by MakeDurable(), in groups.
  RETURN_IF_ERROR(db->Exec("PRAGMA synchronous=NORMAL"));
  return std::unique_ptr<SqliteCatalog>(new SqliteCatalog(std::move(db), path));
}

Status SqliteCatalog::Transact(const std::function<Status()>& fn) {
  uint64_t commit = 0;
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    const bool outermost = !db_->in_transaction();
    const std::thread::id outer = transacting_.load();
    transacting_.store(std::this_thread::get_id());
    Status st;
    try {
      st = db_->Transact(fn);
    } catch (...) {
      transacting_.store(outer);
      throw;
    }
    transacting_.store(outer);
    if (!st.ok() || !outermost) return st;
    commit = ++committed_;
  }
  return MakeDurable(commit);
}

Status SqliteCatalog::Write(const std::function<Status()>& fn) {
  uint64_t commit = 0;
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    if (db_->in_transaction()) return fn();
    RETURN_IF_ERROR(fn());
    commit = ++committed_;
  }
  return MakeDurable(commit);
}

Status SqliteCatalog::MakeDurable(uint64_t commit) {
  if (path_.empty() || path_ == ":memory:") return Status::Ok();
  std::unique_lock<std::mutex> lock(sync_mu_);
  while (synced_ < commit) {
    if (syncing_) {
      synced_cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    // Every commit numbered up to here is in the WAL already.
    const uint64_t covered = committed_.load();
    lock.unlock();
    Status st = SyncWal();
    lock.lock();
    syncing_ = false;
    if (st.ok()) synced_ = std::max(synced_, covered);
    synced_cv_.notify_all();
    RETURN_IF_ERROR(st);
  }
  return Status::Ok();
}

Status SqliteCatalog::SyncWal() {
  // A new descriptor each time: fdatasync works on the file, and the WAL
  // SQLite is writing is whatever file has the name now.
  const std::string wal = path_ + "-wal";
  int fd = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    // No WAL: everything was checkpointed into the database file.
    fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) return Internal("catalog: open " + wal + " to sync it: " + std::strerror(errno));
  const int rc = ::fdatasync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Internal("catalog: fdatasync " + wal + ": " + std::strerror(err));
  return Status::Ok();
}

SqliteCatalog::ReadLease::~ReadLease() {
  if (!reader_ || !owner_) return;
  std::lock_guard<std::mutex> lock(owner_->readers_mu_);
  if (owner_->idle_readers_.size() < kMaxIdleReaders) owner_->idle_readers_.push_back(std::move(reader_));
}

Result<SqliteCatalog::ReadLease> SqliteCatalog::Reader() {
  ReadLease lease;
  lease.owner_ = this;
  const bool in_memory = path_.empty() || path_ == ":memory:";
  if (in_memory || transacting_.load() == std::this_thread::get_id()) {
    lease.writer_lock_ = std::unique_lock<std::recursive_mutex>(mu_);
    lease.db_ = db_.get();
    return lease;
  }
  {
    std::lock_guard<std::mutex> lock(readers_mu_);
    if (!idle_readers_.empty()) {
      lease.reader_ = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (!lease.reader_) {
    ASSIGN_OR_RETURN(lease.reader_, SqliteDb::Open(path_));
    RETURN_IF_ERROR(lease.reader_->Exec("PRAGMA query_only = 1"));
    lease.reader_->CountStepsInto(&vm_steps_);
  }
  lease.db_ = lease.reader_.get();
  return lease;
}

// --- images ---

Status SqliteCatalog::CheckImageNameFree(const ImageRecord& r) {
  if (r.name.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(SqliteStatement stmt,
                   // "name <> ''" lets SQLite use the partial index images_account_name
                   // (it cannot tell that a bound name is not empty).
                   db_->Prepare("SELECT image_id FROM images WHERE account_id = ? AND name = ? "
                                "AND name <> '' AND image_id <> ?"));
  RETURN_IF_ERROR(stmt.BindAll({r.account_id, r.name, r.image_id}));
  ASSIGN_OR_RETURN(bool taken, stmt.Step());
  if (!taken) return Status::Ok();
  return AlreadyExists("InvalidImageName.Duplicated", "the image name '" + r.name +
                                                          "' is already used by image " + stmt.ColumnText(0) +
                                                          " of account " + r.account_id);
}

Status SqliteCatalog::InsertImage(const ImageRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, ImageValues(r));
  return Write([&]() -> Status {
    return db_->Transact([&]() -> Status {
      RETURN_IF_ERROR(CheckImageNameFree(r));
      RETURN_IF_ERROR(
          Execute(*db_, InsertSql("images", kImageColumns), values).WithContext("insert image " + r.image_id));
      return catalog_sql::UpdateImageIndexes(*db_, std::nullopt, r);
    });
  });
}

Status SqliteCatalog::UpdateImage(const ImageRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, ImageValues(r));
  return Write([&]() -> Status {
    return db_->Transact([&]() -> Status {
      RETURN_IF_ERROR(CheckImageNameFree(r));
      // Only what keeps image_counts and image_snapshots in step is read of
      // the old row.
      ASSIGN_OR_RETURN(std::optional<ImageRecord> before, catalog_sql::IndexedImageRow(*db_, r.image_id));
      if (!before) return NotFound("InvalidImageId.NotFound", "image " + r.image_id + " does not exist");
      RETURN_IF_ERROR(Execute(*db_, UpdateSql("images", kImageColumns), KeyLast(std::move(values)))
                          .WithContext("update image " + r.image_id));
      return catalog_sql::UpdateImageIndexes(*db_, before, r);
    });
  });
}

Result<ImageRecord> SqliteCatalog::GetImage(const std::string& image_id) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(std::vector<ImageRecord> rows,
                   Rows<ImageRecord>(reader.db(), SelectSql("images", kImageColumns) + " WHERE image_id = ?",
                                     {image_id}, DecodeImage<SqliteStatement>));
  if (rows.empty()) {
    return NotFound("InvalidImageId.NotFound", "image " + image_id + " does not exist");
  }
  return std::move(rows.front());
}

Status SqliteCatalog::DeleteImage(const std::string& image_id) {
  return Write([&]() -> Status {
    return db_->Transact([&]() -> Status {
      ASSIGN_OR_RETURN(std::optional<ImageRecord> before, catalog_sql::IndexedImageRow(*db_, image_id));
      if (!before) return Status::Ok();
      RETURN_IF_ERROR(Execute(*db_, "DELETE FROM images WHERE image_id = ?", {image_id})
                          .WithContext("delete image " + image_id));
      return catalog_sql::UpdateImageIndexes(*db_, before, std::nullopt);
    });
  });
}

// --- snapshots ---

Status SqliteCatalog::InsertSnapshot(const SnapshotRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, SnapshotValues(r));
  return Write([&]() -> Status {
    return Execute(*db_, InsertSql("snapshots", kSnapshotColumns), values)
        .WithContext("insert snapshot " + r.snapshot_id);
  });
}

Status SqliteCatalog::UpdateSnapshot(const SnapshotRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, SnapshotValues(r));
  return Write([&]() -> Status {
    RETURN_IF_ERROR(Execute(*db_, UpdateSql("snapshots", kSnapshotColumns), KeyLast(std::move(values)))
                        .WithContext("update snapshot " + r.snapshot_id));
    if (db_->changes() == 0) {
      return NotFound("InvalidSnapshotId.NotFound", "snapshot " + r.snapshot_id + " does not exist");
    }
    return Status::Ok();
  });
}

Result<SnapshotRecord> SqliteCatalog::GetSnapshot(const std::string& snapshot_id) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(
      std::vector<SnapshotRecord> rows,
      Rows<SnapshotRecord>(reader.db(), SelectSql("snapshots", kSnapshotColumns) + " WHERE snapshot_id = ?",
                           {snapshot_id}, [](const SqliteStatement& s) { return DecodeSnapshot(s, true); }));
  if (rows.empty()) {
    return NotFound("InvalidSnapshotId.NotFound", "snapshot " + snapshot_id + " does not exist");
  }
  return std::move(rows.front());
}

Status SqliteCatalog::DeleteSnapshot(const std::string& snapshot_id) {
  return Write([&]() -> Status {
    return Execute(*db_, "DELETE FROM snapshots WHERE snapshot_id = ?", {snapshot_id})
        .WithContext("delete snapshot " + snapshot_id);
  });
}

Result<Page<SnapshotRecord>> SqliteCatalog::ListSnapshots(const SnapshotQuery& q) {
  const WhereClause where = catalog_sql::SnapshotFilter(q);
  const std::string select =
      SelectSql("snapshots", Columns(kSnapshotColumns).first(kSnapshotColumnsWithoutManifest));
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  return PageInSql<SnapshotRecord>(reader.db(), "snapshots", select, where,
                                   " ORDER BY creation_time DESC, snapshot_id", q.offset, q.limit,
                                   [](const SqliteStatement& s) { return DecodeSnapshot(s, false); });
}

Status SqliteCatalog::ForEachManifest(
    const std::function<Status(const std::string&, const std::vector<uint8_t>&)>& fn) {
  using Entry = std::pair<std::string, std::vector<uint8_t>>;
  std::string after;  // keyset paging: every id sorts after ""
  while (true) {
    std::vector<Entry> batch;
    {
      ASSIGN_OR_RETURN(ReadLease reader, Reader());
      ASSIGN_OR_RETURN(batch,
                       Rows<Entry>(reader.db(),
                                   "SELECT snapshot_id, manifest FROM snapshots WHERE manifest IS NOT "
                                   "NULL AND snapshot_id > ? ORDER BY snapshot_id LIMIT ?",
                                   {after, kManifestBatch}, [](const SqliteStatement& s) -> Result<Entry> {
                                     return Entry(s.ColumnText(0), s.ColumnBlob(1));
                                   }));
    }
    for (const auto& [id, manifest] : batch) {
      // An empty BLOB never gets here through this class, but a row written
      // by another tool could hold one; it is not a committed manifest.
      if (manifest.empty()) continue;
      RETURN_IF_ERROR(fn(id, manifest));
    }
    if (batch.size() < static_cast<size_t>(kManifestBatch)) return Status::Ok();
    after = batch.back().first;
  }
}

// --- tasks ---

Status SqliteCatalog::InsertTask(const TaskRecord& r) {
  return Write([&]() -> Status {
    return Execute(*db_, InsertSql("tasks", kTaskColumns), TaskValues(r))
        .WithContext("insert task " + r.task_id);
  });
}

Status SqliteCatalog::UpdateTask(const TaskRecord& r) {
  return Write([&]() -> Status {
    RETURN_IF_ERROR(Execute(*db_, UpdateSql("tasks", kTaskColumns), KeyLast(TaskValues(r)))
                        .WithContext("update task " + r.task_id));
    if (db_->changes() == 0) {
      return NotFound("InvalidTaskId.NotFound", "task " + r.task_id + " does not exist");
    }
    return Status::Ok();
  });
}

Result<TaskRecord> SqliteCatalog::GetTask(const std::string& task_id) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(std::vector<TaskRecord> rows,
                   Rows<TaskRecord>(reader.db(), SelectSql("tasks", kTaskColumns) + " WHERE task_id = ?",
                                    {task_id}, DecodeTask<SqliteStatement>));
  if (rows.empty()) {
    return NotFound("InvalidTaskId.NotFound", "task " + task_id + " does not exist");
  }
  return std::move(rows.front());
}

Result<Page<TaskRecord>> SqliteCatalog::ListTasks(const TaskQuery& q) {
  const WhereClause where = catalog_sql::TaskFilter(q);
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  return PageInSql<TaskRecord>(reader.db(), "tasks", SelectSql("tasks", kTaskColumns), where,
                               " ORDER BY creation_time DESC, task_id", q.offset, q.limit,
                               DecodeTask<SqliteStatement>);
}

// --- task leases ---

Result<bool> SqliteCatalog::ClaimTask(const std::string& task_id, const std::string& node, UnixSeconds now,
                                      UnixSeconds until) {
  bool claimed = false;
  RETURN_IF_ERROR(Write([&]() -> Status {
    RETURN_IF_ERROR(
        Execute(*db_, catalog_sql::kClaimTaskSql, {node, int64_t{until}, task_id, node, int64_t{now}})
            .WithContext("claim task " + task_id));
    claimed = db_->changes() == 1;
    return Status::Ok();
  }));
  return claimed;
}

Status SqliteCatalog::RenewTaskLeases(const std::string& node, UnixSeconds until) {
  return Write([&]() -> Status {
    return Execute(*db_, catalog_sql::kRenewTaskLeasesSql, {int64_t{until}, node})
        .WithContext("renew the task leases of node " + node);
  });
}

Status SqliteCatalog::ReleaseTaskLeases(const std::string& node) {
  return Write([&]() -> Status {
    return Execute(*db_, catalog_sql::kReleaseTaskLeasesSql, {node})
        .WithContext("release the task leases of node " + node);
  });
}

Result<std::vector<TaskRecord>> SqliteCatalog::ClaimableTasks(const std::string& node, UnixSeconds now) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  return Rows<TaskRecord>(reader.db(), SelectSql("tasks", kTaskColumns) + catalog_sql::kClaimableTasksWhere,
                          {node, int64_t{now}}, DecodeTask<SqliteStatement>);
}

// --- copy slots ---

namespace {
// The one integer `sql` answers (a COUNT).
Result<int64_t> QueryInt64(SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(std::vector<int64_t> rows,
                   Rows<int64_t>(db, sql, params,
                                 [](const SqliteStatement& s) -> Result<int64_t> { return s.ColumnInt(0); }));
  return rows.empty() ? 0 : rows.front();
}
}  // namespace

Result<bool> SqliteCatalog::TakeCopySlot(const std::string& task_id, UnixSeconds now, unsigned max_running) {
  bool taken = false;
  RETURN_IF_ERROR(Write([&]() -> Status {
    RETURN_IF_ERROR(Execute(*db_, catalog_sql::kDropEndedCopySlotsSql, {}));
    ASSIGN_OR_RETURN(int64_t held, QueryInt64(*db_, catalog_sql::kHeldCopySlotSql, {task_id}));
    if (held > 0) {
      taken = true;
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(int64_t live, QueryInt64(*db_, catalog_sql::kLiveCopySlotsSql, {int64_t{now}, task_id}));
    if (live >= static_cast<int64_t>(max_running)) return Status::Ok();
    RETURN_IF_ERROR(Execute(*db_, catalog_sql::kTakeCopySlotSql, {task_id}));
    taken = true;
    return Status::Ok();
  }));
  return taken;
}

Status SqliteCatalog::ReleaseCopySlot(const std::string& task_id) {
  return Write([&]() -> Status {
    return Execute(*db_, catalog_sql::kReleaseCopySlotSql, {task_id})
        .WithContext("release the copy slot of task " + task_id);
  });
}

// --- chunk pins and GC passes (catalog.h PinChunk) ---

Status SqliteCatalog::PinChunk(const std::string& chunk, const std::string& owner, const std::string& node,
                               UnixSeconds until) {
  return Write([&]() -> Status {
    return Execute(*db_, catalog_sql::kPinChunkSql, {chunk, owner, node, int64_t{until}})
        .WithContext("pin chunk " + chunk);
  });
}

Result<int64_t> SqliteCatalog::LiveChunkPins(const std::string& owner, UnixSeconds now) {
  int64_t live = 0;
  RETURN_IF_ERROR(Write([&]() -> Status {
    ASSIGN_OR_RETURN(live, QueryInt64(*db_, catalog_sql::kLiveOwnerPinsSql, {owner, int64_t{now}}));
    return Status::Ok();
  }));
  return live;
}

Status SqliteCatalog::ReleaseChunkPins(const std::string& owner, UnixSeconds now) {
  return Write([&]() -> Status {
    ASSIGN_OR_RETURN(int64_t passes, QueryInt64(*db_, catalog_sql::kLiveGcPassesSql, {int64_t{now}}));
    if (passes == 0) return Execute(*db_, catalog_sql::kDeleteOwnerPinsSql, {owner});
    RETURN_IF_ERROR(Execute(*db_, catalog_sql::kNextPinSeqSql, {}));
    return Execute(*db_, catalog_sql::kStampOwnerPinsSql, {owner});
  });
}

Status SqliteCatalog::RenewChunkPins(const std::string& node, UnixSeconds now, UnixSeconds until) {
  return Write([&]() -> Status {
    return Execute(*db_, catalog_sql::kRenewChunkPinsSql, {int64_t{until}, node, int64_t{now}});
  });
}

Status SqliteCatalog::DropChunkPins(const std::string& node) {
  return Write([&]() -> Status { return Execute(*db_, catalog_sql::kDropNodePinsSql, {node}); });
}

Result<int64_t> SqliteCatalog::BeginGcPass(const std::string& pass, UnixSeconds until) {
  int64_t start = -1;
  RETURN_IF_ERROR(Write([&]() -> Status {
    RETURN_IF_ERROR(Execute(*db_, catalog_sql::kBeginGcPassSql, {pass, int64_t{until}}));
    ASSIGN_OR_RETURN(start, QueryInt64(*db_, catalog_sql::kGcPassStartSql, {pass, int64_t{until}}));
    return Status::Ok();
  }));
  return start;
}

Status SqliteCatalog::DeleteChunkUnlessPinned(const std::string& chunk, const std::string& pass,
                                              UnixSeconds now, UnixSeconds until,
                                              const std::function<Status()>& remove, bool* deleted) {
  *deleted = false;
  return Write([&]() -> Status {
    ASSIGN_OR_RETURN(int64_t start, QueryInt64(*db_, catalog_sql::kGcPassStartSql, {pass, int64_t{now}}));
    if (start < 0) {
      return Aborted("",
                     "garbage collection pass " + pass + " lapsed; the release stamps it needs may be gone");
    }
    RETURN_IF_ERROR(Execute(*db_, catalog_sql::kRenewGcPassSql, {int64_t{until}, pass}));
    ASSIGN_OR_RETURN(int64_t kept,
                     QueryInt64(*db_, catalog_sql::kChunkKeptSql, {chunk, int64_t{now}, start}));
    if (kept > 0) return Status::Ok();
    RETURN_IF_ERROR(remove());
    *deleted = true;
    return Status::Ok();
  });
}

Status SqliteCatalog::EndGcPass(const std::string& pass, UnixSeconds now) {
  return Write([&]() -> Status {
    RETURN_IF_ERROR(Execute(*db_, catalog_sql::kEndGcPassSql, {pass}));
    RETURN_IF_ERROR(Execute(*db_, catalog_sql::kDropLapsedGcPassesSql, {int64_t{now}}));
    RETURN_IF_ERROR(Execute(*db_, catalog_sql::kDropUnneededStampsSql, {}));
    return Execute(*db_, catalog_sql::kDropLapsedPinsSql, {int64_t{now}});
  });
}

// --- client tokens ---

Result<Catalog::TokenRecord> SqliteCatalog::GetClientToken(const std::string& account_id,
                                                           const std::string& action,
                                                           const std::string& token) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(
      std::vector<TokenRecord> rows,
      Rows<TokenRecord>(reader.db(),
                        "SELECT fingerprint, result_id FROM client_tokens WHERE account_id = ? "
                        "AND action = ? AND token = ?",
                        {account_id, action, token}, [](const SqliteStatement& s) -> Result<TokenRecord> {
                          return TokenRecord{s.ColumnText(0), s.ColumnText(1)};
                        }));
  if (rows.empty()) {
    return NotFound("", "no client token '" + token + "' for " + action + " of account " + account_id);
  }
  return std::move(rows.front());
}

Status SqliteCatalog::PutClientToken(const std::string& account_id, const std::string& action,
                                     const std::string& token, const TokenRecord& rec) {
  return Write([&]() -> Status {
    return Execute(*db_, catalog_sql::kPutClientTokenSql,
                   {account_id, action, token, rec.fingerprint, rec.result_id})
        .WithContext("store client token '" + token + "' for " + action);
  });
}

Status SqliteCatalog::PutCopyLease(const CopyLeaseRecord& rec) {
  return Write([&]() -> Status {
    return Execute(*db_, catalog_sql::kPutCopyLeaseSql,
                   {rec.source_image_id, rec.copy_region_id, rec.copy_image_id, rec.creation_time})
        .WithContext("store the copy lease of " + rec.source_image_id);
  });
}

Result<Catalog::CopyLeaseRecord> SqliteCatalog::GetCopyLease(const std::string& source_image_id) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(std::vector<CopyLeaseRecord> rows,
                   Rows<CopyLeaseRecord>(
                       reader.db(), catalog_sql::kGetCopyLeaseSql, {source_image_id},
                       [](const SqliteStatement& s) -> Result<CopyLeaseRecord> {
                         return CopyLeaseRecord{s.ColumnText(0), s.ColumnText(1), s.ColumnText(2),
                                                s.ColumnInt(3)};
                       }));
  if (rows.empty()) return NotFound("", "no copy lease on image " + source_image_id);
  return std::move(rows.front());
}

Status SqliteCatalog::DeleteCopyLease(const std::string& source_image_id, const std::string& copy_image_id) {
  return Write([&]() -> Status {
    return Execute(*db_, "DELETE FROM copy_leases WHERE source_image_id = ? AND copy_image_id = ?",
                   {source_image_id, copy_image_id})
        .WithContext("remove the copy lease of " + source_image_id);
  });
}

}  // namespace ferry
