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

namespace catalog_sql {

Result<std::string> EncodeTags(const Tags& tags, const std::string& owner) {
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& [key, value] : tags) arr.push_back(nlohmann::json::array({key, value}));
  try {
    return arr.dump();
  } catch (const nlohmann::json::exception& e) {
    // dump() rejects strings that are not valid UTF-8.
    return InvalidArgument("", "tags of " + owner + " cannot be stored: " + e.what());
  }
}

Result<Tags> DecodeTags(const std::string& text, const std::string& owner) {
  if (text == "[]") return Tags();  // most rows: no parser for them
  try {
    Tags tags;
    for (const auto& pair : nlohmann::json::parse(text)) {
      tags.emplace_back(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
    }
    return tags;
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("stored tags of " + owner + " are unreadable: " + e.what());
  }
}

}  // namespace catalog_sql

namespace {

using catalog_sql::DecodeTags;
using catalog_sql::EncodeTags;
using catalog_sql::Execute;
using catalog_sql::FromSql;
using catalog_sql::PageInSql;
using catalog_sql::Rows;
using catalog_sql::Slice;
using catalog_sql::ToSql;
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
};

// Column lists, in the order the Values/Decode functions below use. The
// first column is the key.
constexpr const char* kImageColumns[] = {
    "image_id",        "account_id",     "name",          "description",  "status",
    "progress",        "os_type",        "os_name",       "platform",     "architecture",
    "boot_mode",       "image_family",   "image_version", "license_type", "resource_group_id",
    "size_gib",        "disks",          "tags",          "is_copied",    "source_region_id",
    "source_image_id", "failure_reason", "creation_time"};

// manifest is last so that listings can select every column but it.
constexpr const char* kSnapshotColumns[] = {"snapshot_id",
                                            "account_id",
                                            "name",
                                            "description",
                                            "status",
                                            "progress",
                                            "logical_size",
                                            "source_disk_size_gib",
                                            "source_disk_type",
                                            "usage",
                                            "encrypted",
                                            "kms_key_id",
                                            "source_region_id",
                                            "source_snapshot_id",
                                            "content_digest",
                                            "tags",
                                            "creation_time",
                                            "last_modified_time",
                                            "source_disk_id",
                                            "manifest"};
constexpr size_t kSnapshotColumnsWithoutManifest = std::size(kSnapshotColumns) - 1;

constexpr const char* kTaskColumns[] = {"task_id",       "account_id",       "action",        "status",
                                        "progress",      "resource_id",      "params",        "error_code",
                                        "error_message", "cancel_requested", "creation_time", "finished_time",
                                        "attempts"};

// Manifests can be megabytes each; a batch bounds memory and lock hold time.
constexpr int64_t kManifestBatch = 16;

using Columns = std::span<const char* const>;

std::string JoinColumns(Columns cols) {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i) {
    if (i) out += ", ";
    out += cols[i];
  }
  return out;
}

std::string SelectSql(const char* table, Columns cols) {
  return "SELECT " + JoinColumns(cols) + " FROM " + table;
}

std::string InsertSql(const char* table, Columns cols) {
  std::string marks;
  for (size_t i = 0; i < cols.size(); ++i) marks += i ? ", ?" : "?";
  return "INSERT INTO " + std::string(table) + " (" + JoinColumns(cols) + ") VALUES (" + marks + ")";
}

// "UPDATE t SET c1 = ?, ... WHERE c0 = ?"; bind with KeyLast(values).
std::string UpdateSql(const char* table, Columns cols) {
  std::string sets;
  for (size_t i = 1; i < cols.size(); ++i) {
    if (i > 1) sets += ", ";
    sets += std::string(cols[i]) + " = ?";
  }
  return "UPDATE " + std::string(table) + " SET " + sets + " WHERE " + cols[0] + " = ?";
}

std::vector<SqlValue> KeyLast(std::vector<SqlValue> values) {
  std::rotate(values.begin(), values.begin() + 1, values.end());
  return values;
}

// --- rows <-> records ---

Result<std::vector<SqlValue>> ImageValues(const ImageRecord& r) {
  const std::string owner = "image " + r.image_id;
  ASSIGN_OR_RETURN(std::string disks, catalog_sql::EncodeDiskMappings(r.disks, r.image_id));
  ASSIGN_OR_RETURN(std::string tags, EncodeTags(r.tags, owner));
  return std::vector<SqlValue>{r.image_id,
                               r.account_id,
                               r.name,
                               r.description,
                               r.status,
                               int64_t{r.progress},
                               r.os_type,
                               r.os_name,
                               r.platform,
                               r.architecture,
                               r.boot_mode,
                               r.image_family,
                               r.image_version,
                               r.license_type,
                               r.resource_group_id,
                               ToSql(r.size_gib),
                               disks,
                               tags,
                               int64_t{r.is_copied},
                               r.source_region_id,
                               r.source_image_id,
                               r.failure_reason,
                               int64_t{r.creation_time}};
}

// Every field of `r` from the row, the ones not persisted reset: `r` may
// be a record used before, whose strings keep their room.
Status DecodeImageInto(const SqliteStatement& s, ImageRecord& r) {
  r.image_id.assign(s.ColumnView(0));
  r.account_id.assign(s.ColumnView(1));
  r.name.assign(s.ColumnView(2));
  r.description.assign(s.ColumnView(3));
  r.status.assign(s.ColumnView(4));
  r.progress = static_cast<int>(s.ColumnInt(5));
  r.os_type.assign(s.ColumnView(6));
  r.os_name.assign(s.ColumnView(7));
  r.platform.assign(s.ColumnView(8));
  r.architecture.assign(s.ColumnView(9));
  r.boot_mode.assign(s.ColumnView(10));
  r.image_family.assign(s.ColumnView(11));
  r.image_version.assign(s.ColumnView(12));
  r.license_type.assign(s.ColumnView(13));
  r.resource_group_id.assign(s.ColumnView(14));
  r.size_gib = FromSql(s.ColumnInt(15));
  ASSIGN_OR_RETURN(r.disks, catalog_sql::DecodeDiskMappings(s.ColumnView(16), r.image_id));
  // Most images have no tags: no parser, and no error text made, for them.
  r.tags.clear();
  if (const std::string_view tags = s.ColumnView(17); tags != "[]") {
    ASSIGN_OR_RETURN(r.tags, DecodeTags(std::string(tags), "image " + r.image_id));
  }
  r.is_copied = s.ColumnInt(18) != 0;
  r.source_region_id.assign(s.ColumnView(19));
  r.source_image_id.assign(s.ColumnView(20));
  r.failure_reason.assign(s.ColumnView(21));
  r.creation_time = s.ColumnInt(22);
  r.remain_time_seconds = 0;
  r.queue_position = 0;
  r.copy_wire_bytes = 0;
  r.copy_data_bytes = 0;
  r.is_self_shared = false;
  return Status::Ok();
}

Result<ImageRecord> DecodeImage(const SqliteStatement& s) {
  ImageRecord r;
  RETURN_IF_ERROR(DecodeImageInto(s, r));
  return r;
}

Result<std::vector<SqlValue>> SnapshotValues(const SnapshotRecord& r) {
  ASSIGN_OR_RETURN(std::string tags, EncodeTags(r.tags, "snapshot " + r.snapshot_id));
  // An uncommitted snapshot has no manifest: NULL, so that ForEachManifest
  // can skip it in SQL.
  SqlValue manifest = r.manifest.empty() ? SqlValue(nullptr) : SqlValue(r.manifest);
  return std::vector<SqlValue>{r.snapshot_id,
                               r.account_id,
                               r.name,
                               r.description,
                               r.status,
                               int64_t{r.progress},
                               ToSql(r.logical_size),
                               ToSql(r.source_disk_size_gib),
                               r.source_disk_type,
                               r.usage,
                               int64_t{r.encrypted},
                               r.kms_key_id,
                               r.source_region_id,
                               r.source_snapshot_id,
                               r.content_digest,
                               tags,
                               int64_t{r.creation_time},
                               int64_t{r.last_modified_time},
                               r.source_disk_id,
                               std::move(manifest)};
}

Result<SnapshotRecord> DecodeSnapshot(const SqliteStatement& s, bool with_manifest) {
  SnapshotRecord r;
  r.snapshot_id = s.ColumnText(0);
  r.account_id = s.ColumnText(1);
  r.name = s.ColumnText(2);
  r.description = s.ColumnText(3);
  r.status = s.ColumnText(4);
  r.progress = static_cast<int>(s.ColumnInt(5));
  r.logical_size = FromSql(s.ColumnInt(6));
  r.source_disk_size_gib = FromSql(s.ColumnInt(7));
  r.source_disk_type = s.ColumnText(8);
  r.usage = s.ColumnText(9);
  r.encrypted = s.ColumnInt(10) != 0;
  r.kms_key_id = s.ColumnText(11);
  r.source_region_id = s.ColumnText(12);
  r.source_snapshot_id = s.ColumnText(13);
  r.content_digest = s.ColumnText(14);
  ASSIGN_OR_RETURN(r.tags, DecodeTags(s.ColumnText(15), "snapshot " + r.snapshot_id));
  r.creation_time = s.ColumnInt(16);
  r.last_modified_time = s.ColumnInt(17);
  r.source_disk_id = s.ColumnText(18);
  if (with_manifest) r.manifest = s.ColumnBlob(19);
  return r;
}

std::vector<SqlValue> TaskValues(const TaskRecord& r) {
  return std::vector<SqlValue>{r.task_id,
                               r.account_id,
                               r.action,
                               r.status,
                               int64_t{r.progress},
                               r.resource_id,
                               r.params,
                               r.error_code,
                               r.error_message,
                               int64_t{r.cancel_requested},
                               int64_t{r.creation_time},
                               int64_t{r.finished_time},
                               int64_t{r.attempts}};
}

Result<TaskRecord> DecodeTask(const SqliteStatement& s) {
  TaskRecord r;
  r.task_id = s.ColumnText(0);
  r.account_id = s.ColumnText(1);
  r.action = s.ColumnText(2);
  r.status = s.ColumnText(3);
  r.progress = static_cast<int>(s.ColumnInt(4));
  r.resource_id = s.ColumnText(5);
  r.params = s.ColumnText(6);
  r.error_code = s.ColumnText(7);
  r.error_message = s.ColumnText(8);
  r.cancel_requested = s.ColumnInt(9) != 0;
  r.creation_time = s.ColumnInt(10);
  r.finished_time = s.ColumnInt(11);
  r.attempts = static_cast<int>(s.ColumnInt(12));
  return r;
}

}  // namespace

namespace catalog_sql {

std::string ImageColumnsSql(const std::string& prefix) {
  std::string out;
  for (const char* column : kImageColumns) {
    if (!out.empty()) out += ", ";
    out += prefix + column;
  }
  return out;
}

Result<ImageRecord> DecodeImageRow(const SqliteStatement& s) { return DecodeImage(s); }
Status DecodeImageRowInto(const SqliteStatement& s, ImageRecord& r) { return DecodeImageInto(s, r); }

static_assert(std::string_view(kImageColumns[kImageCreationTimeColumn]) == "creation_time");

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
                                     {image_id}, DecodeImage));
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
  WhereClause where;
  if (!q.account_id.empty() && !q.also_snapshot_ids.empty()) {
    std::vector<SqlValue> params{q.account_id};
    for (const std::string& id : q.also_snapshot_ids) params.emplace_back(id);
    where.Add("(account_id = ? OR snapshot_id IN (" + WhereClause::Placeholders(q.also_snapshot_ids.size()) + "))",
              std::move(params));
  } else {
    where.AddEquals("account_id", q.account_id);
  }
  where.AddIn("snapshot_id", q.snapshot_ids);
  where.AddEquals("status", q.status);
  where.AddEquals("name", q.name);
  where.AddEquals("source_disk_id", q.source_disk_id);
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
  ASSIGN_OR_RETURN(
      std::vector<TaskRecord> rows,
      Rows<TaskRecord>(reader.db(), SelectSql("tasks", kTaskColumns) + " WHERE task_id = ?", {task_id}, DecodeTask));
  if (rows.empty()) {
    return NotFound("InvalidTaskId.NotFound", "task " + task_id + " does not exist");
  }
  return std::move(rows.front());
}

Result<Page<TaskRecord>> SqliteCatalog::ListTasks(const TaskQuery& q) {
  WhereClause where;
  where.AddEquals("account_id", q.account_id);
  where.AddIn("task_id", q.task_ids);
  where.AddEquals("action", q.action);
  where.AddIn("action", q.actions);
  where.AddEquals("status", q.status);
  where.AddIn("resource_id", q.resource_ids);
  where.AddIn("status", q.statuses);
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  return PageInSql<TaskRecord>(reader.db(), "tasks", SelectSql("tasks", kTaskColumns), where,
                               " ORDER BY creation_time DESC, task_id", q.offset, q.limit, DecodeTask);
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
    return Execute(*db_,
                   "INSERT INTO client_tokens (account_id, action, token, fingerprint, result_id) "
                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, action, token) DO UPDATE SET "
                   "fingerprint = excluded.fingerprint, result_id = excluded.result_id",
                   {account_id, action, token, rec.fingerprint, rec.result_id})
        .WithContext("store client token '" + token + "' for " + action);
  });
}

Status SqliteCatalog::PutCopyLease(const CopyLeaseRecord& rec) {
  return Write([&]() -> Status {
    return Execute(*db_,
                   "INSERT INTO copy_leases (source_image_id, copy_region_id, copy_image_id, creation_time) "
                   "VALUES (?, ?, ?, ?) ON CONFLICT (source_image_id) DO UPDATE SET "
                   "copy_region_id = excluded.copy_region_id, copy_image_id = excluded.copy_image_id, "
                   "creation_time = excluded.creation_time",
                   {rec.source_image_id, rec.copy_region_id, rec.copy_image_id, rec.creation_time})
        .WithContext("store the copy lease of " + rec.source_image_id);
  });
}

Result<Catalog::CopyLeaseRecord> SqliteCatalog::GetCopyLease(const std::string& source_image_id) {
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  ASSIGN_OR_RETURN(std::vector<CopyLeaseRecord> rows,
                   Rows<CopyLeaseRecord>(
                       reader.db(),
                       "SELECT source_image_id, copy_region_id, copy_image_id, creation_time FROM copy_leases "
                       "WHERE source_image_id = ?",
                       {source_image_id}, [](const SqliteStatement& s) -> Result<CopyLeaseRecord> {
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
