// Records and rows, for both catalogs (SqliteCatalog, PgCatalog): the column
// lists, the values bound to write a record, and decoders that read a row of
// either engine. A Row is anything with ColumnView/ColumnText/ColumnInt/
// ColumnBlob by column index (SqliteStatement, PgRow), so one decoder serves
// both and the two catalogs cannot read a column differently.
//
// Integers: SQLite's and PostgreSQL's are signed 64-bit; unsigned sizes are
// stored by their bit pattern so that every uint64_t value round-trips.
// Tags are JSON text, [[key, value], ...]; disk mappings too
// (disk_mappings_json.h); a snapshot's manifest is a BLOB/BYTEA, NULL until
// committed.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/disk_mappings_json.h"
#include "catalog/sqlite_db.h"  // SqlValue
#include "common/status.h"

namespace ferry::catalog_sql {

inline int64_t ToSql(uint64_t v) { return static_cast<int64_t>(v); }
inline uint64_t FromSql(int64_t v) { return static_cast<uint64_t>(v); }
inline int64_t ClampToSql(uint64_t v) {
  constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(std::min(v, kMax));
}

// Builds " WHERE a = ? AND b IN (?, ?)" with its parameters ('?' marks; a
// PostgreSQL caller numbers them, PgDb::Numbered).
class WhereClause {
 public:
  void Add(const std::string& condition, std::vector<SqlValue> params) {
    conditions_.push_back(condition);
    for (auto& p : params) params_.push_back(std::move(p));
  }
  void AddEquals(const char* column, const std::string& value) {
    if (!value.empty()) Add(std::string(column) + " = ?", {value});
  }
  void AddIn(const char* column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    Add(std::string(column) + " IN (" + Placeholders(values.size()) + ")", Values(values));
  }
  // "?, ?, ?" for `n` parameters.
  static std::string Placeholders(size_t n) {
    std::string marks;
    for (size_t i = 0; i < n; ++i) marks += i ? ", ?" : "?";
    return marks;
  }
  static std::vector<SqlValue> Values(const std::vector<std::string>& values) {
    return std::vector<SqlValue>(values.begin(), values.end());
  }
  std::string Sql() const {
    std::string out;
    for (size_t i = 0; i < conditions_.size(); ++i) {
      out += i ? " AND " : " WHERE ";
      out += conditions_[i];
    }
    return out;
  }
  const std::vector<SqlValue>& params() const { return params_; }
  // Adds every condition of `other`, with its parameters.
  void Append(const WhereClause& other) {
    conditions_.insert(conditions_.end(), other.conditions_.begin(), other.conditions_.end());
    params_.insert(params_.end(), other.params_.begin(), other.params_.end());
  }

 private:
  std::vector<std::string> conditions_;
  std::vector<SqlValue> params_;
};

// Pages a list that was filtered in memory.
template <typename T>
Page<T> Slice(std::vector<T> all, uint64_t offset, uint64_t limit) {
  Page<T> page;
  page.total = all.size();
  if (offset >= all.size()) return page;
  uint64_t end = limit == 0 ? all.size() : std::min<uint64_t>(all.size(), offset + limit);
  page.items.assign(std::make_move_iterator(all.begin() + static_cast<ptrdiff_t>(offset)),
                    std::make_move_iterator(all.begin() + static_cast<ptrdiff_t>(end)));
  return page;
}

// `owner` names the record in errors (a string that is not UTF-8 cannot be
// stored; unreadable stored tags are kDataLoss).
Result<std::string> EncodeTags(const Tags& tags, const std::string& owner);
Result<Tags> DecodeTags(const std::string& text, const std::string& owner);

// --- column lists: the first column is the key ---

using Columns = std::span<const char* const>;

inline constexpr const char* kImageColumns[] = {
    "image_id",        "account_id",     "name",          "description",  "status",
    "progress",        "os_type",        "os_name",       "platform",     "architecture",
    "boot_mode",       "image_family",   "image_version", "license_type", "resource_group_id",
    "size_gib",        "disks",          "tags",          "is_copied",    "source_region_id",
    "source_image_id", "failure_reason", "creation_time"};
inline constexpr int kImageCreationTimeColumn = 22;
static_assert(std::string_view(kImageColumns[kImageCreationTimeColumn]) == "creation_time");

// manifest is last so that listings can select every column but it.
inline constexpr const char* kSnapshotColumns[] = {"snapshot_id",
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
inline constexpr size_t kSnapshotColumnsWithoutManifest = std::size(kSnapshotColumns) - 1;

inline constexpr const char* kTaskColumns[] = {
    "task_id",       "account_id",    "action",     "status",        "progress",
    "resource_id",   "params",        "error_code", "error_message", "cancel_requested",
    "creation_time", "finished_time", "attempts"};

inline constexpr const char* kInstanceColumns[] = {
    "instance_id", "account_id",           "region_id",     "name",       "description",
    "host_name",   "instance_type",        "zone_id",       "status",     "image_id",
    "user_data",   "ram_role_name",        "creation_time", "start_time", "auto_start",
    "tags",        "instance_charge_type", "expired_time"};

inline constexpr const char* kDiskColumns[] = {
    "disk_id",  "account_id", "instance_id", "image_id", "source_snapshot_id", "base_key", "size_gib",
    "category", "status",     "disk_type",   "device",   "creation_time"};

std::string JoinColumns(Columns cols, const std::string& prefix = "");
std::string SelectSql(const char* table, Columns cols);
std::string InsertSql(const char* table, Columns cols);
// "UPDATE t SET c1 = ?, ... WHERE c0 = ?"; bind with KeyLast(values).
std::string UpdateSql(const char* table, Columns cols);
std::vector<SqlValue> KeyLast(std::vector<SqlValue> values);

// Statements both engines run as they are: a client token or a copy lease
// replaced whole, a share kept with its first time.
inline constexpr const char* kPutClientTokenSql =
    "INSERT INTO client_tokens (account_id, action, token, fingerprint, result_id) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, action, token) DO UPDATE SET "
    "fingerprint = excluded.fingerprint, result_id = excluded.result_id";
inline constexpr const char* kPutCopyLeaseSql =
    "INSERT INTO copy_leases (source_image_id, copy_region_id, copy_image_id, creation_time) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (source_image_id) DO UPDATE SET "
    "copy_region_id = excluded.copy_region_id, copy_image_id = excluded.copy_image_id, "
    "creation_time = excluded.creation_time";
inline constexpr const char* kGetCopyLeaseSql =
    "SELECT source_image_id, copy_region_id, copy_image_id, creation_time FROM copy_leases "
    "WHERE source_image_id = ?";
// Task leases (catalog.h ClaimTask...). Claim binds: node, until, task_id,
// node, now.
inline constexpr const char* kClaimTaskSql =
    "UPDATE tasks SET lease_owner = ?, lease_expires = ? WHERE task_id = ? AND status = 'Processing' AND "
    "(lease_owner = '' OR lease_owner = ? OR lease_expires < ?)";
inline constexpr const char* kRenewTaskLeasesSql =  // until, node
    "UPDATE tasks SET lease_expires = ? WHERE lease_owner = ? AND status = 'Processing'";
inline constexpr const char* kReleaseTaskLeasesSql =  // node
    "UPDATE tasks SET lease_owner = '', lease_expires = 0 WHERE lease_owner = ?";
// Selects kTaskColumns after "SELECT "; binds node, now.
inline constexpr const char* kClaimableTasksWhere =
    " WHERE status = 'Processing' AND (lease_owner = '' OR lease_owner = ? OR lease_expires < ?) "
    "ORDER BY creation_time, task_id";
// Copy slots (catalog.h TakeCopySlot), in one write transaction: drop the
// slots of tasks that ended, see whether the task holds one, count the live
// others (binds: now, task_id), take one (binds: task_id).
inline constexpr const char* kDropEndedCopySlotsSql =
    "DELETE FROM copy_slots WHERE task_id IN (SELECT task_id FROM tasks WHERE status <> 'Processing')";
inline constexpr const char* kHeldCopySlotSql = "SELECT COUNT(*) FROM copy_slots WHERE task_id = ?";
inline constexpr const char* kLiveCopySlotsSql =
    "SELECT COUNT(*) FROM copy_slots s JOIN tasks t ON t.task_id = s.task_id "
    "WHERE t.status = 'Processing' AND t.lease_expires >= ? AND s.task_id <> ?";
inline constexpr const char* kTakeCopySlotSql = "INSERT INTO copy_slots (task_id) VALUES (?)";
inline constexpr const char* kReleaseCopySlotSql = "DELETE FROM copy_slots WHERE task_id = ?";
// Schema step (SQLite 10, PostgreSQL 6) for the copy slots.
inline constexpr const char* kCopySlotSchemaStep = "CREATE TABLE copy_slots (task_id TEXT PRIMARY KEY);";
// Schema step (SQLite 9, PostgreSQL 5) for the lease columns.
inline constexpr const char* kTaskLeaseSchemaStep = R"sql(
ALTER TABLE tasks ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE tasks ADD COLUMN lease_expires BIGINT NOT NULL DEFAULT 0;
CREATE INDEX tasks_lease_owner ON tasks (lease_owner);
)sql";
// Chunk pins and GC passes (catalog.h PinChunk; src/region/gc_with_nodes.md).
// Schema step (SQLite 11, PostgreSQL 7).
inline constexpr const char* kChunkPinSchemaStep = R"sql(
CREATE TABLE chunk_pins (
  chunk_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  node TEXT NOT NULL,
  expires BIGINT NOT NULL,
  released_seq BIGINT,
  PRIMARY KEY (chunk_id, owner)
);
CREATE INDEX chunk_pins_owner ON chunk_pins (owner);
CREATE INDEX chunk_pins_node ON chunk_pins (node);
CREATE TABLE gc_passes (
  pass TEXT NOT NULL PRIMARY KEY,
  start_seq BIGINT NOT NULL,
  expires BIGINT NOT NULL
);
CREATE TABLE pin_seq (
  id BIGINT NOT NULL PRIMARY KEY,
  seq BIGINT NOT NULL
);
INSERT INTO pin_seq (id, seq) VALUES (0, 0);
)sql";
inline constexpr const char* kPinChunkSql =  // chunk, owner, node, until
    "INSERT INTO chunk_pins (chunk_id, owner, node, expires, released_seq) VALUES (?, ?, ?, ?, NULL) "
    "ON CONFLICT (chunk_id, owner) DO NOTHING";
inline constexpr const char* kLiveOwnerPinsSql =  // owner, now
    "SELECT COUNT(*) FROM chunk_pins WHERE owner = ? AND released_seq IS NULL AND expires >= ?";
inline constexpr const char* kLiveGcPassesSql =  // now
    "SELECT COUNT(*) FROM gc_passes WHERE expires >= ?";
inline constexpr const char* kDeleteOwnerPinsSql = "DELETE FROM chunk_pins WHERE owner = ?";
inline constexpr const char* kNextPinSeqSql = "UPDATE pin_seq SET seq = seq + 1 WHERE id = 0";
inline constexpr const char* kStampOwnerPinsSql =  // owner
    "UPDATE chunk_pins SET released_seq = (SELECT seq FROM pin_seq WHERE id = 0) "
    "WHERE owner = ? AND released_seq IS NULL";
inline constexpr const char* kRenewChunkPinsSql =  // until, node, now
    "UPDATE chunk_pins SET expires = ? WHERE node = ? AND released_seq IS NULL AND expires >= ?";
inline constexpr const char* kDropNodePinsSql =  // node
    "DELETE FROM chunk_pins WHERE node = ? AND released_seq IS NULL";
inline constexpr const char* kBeginGcPassSql =  // pass, until
    "INSERT INTO gc_passes (pass, start_seq, expires) SELECT ?, seq, ? FROM pin_seq WHERE id = 0";
inline constexpr const char* kGcPassStartSql =  // pass, now; -1 when the pass is not live
    "SELECT COALESCE(MAX(start_seq), -1) FROM gc_passes WHERE pass = ? AND expires >= ?";
inline constexpr const char* kRenewGcPassSql =  // until, pass
    "UPDATE gc_passes SET expires = ? WHERE pass = ?";
inline constexpr const char* kChunkKeptSql =  // chunk, now, start_seq
    "SELECT COUNT(*) FROM chunk_pins WHERE chunk_id = ? AND "
    "((released_seq IS NULL AND expires >= ?) OR released_seq > ?)";
inline constexpr const char* kEndGcPassSql = "DELETE FROM gc_passes WHERE pass = ?";
inline constexpr const char* kDropLapsedGcPassesSql = "DELETE FROM gc_passes WHERE expires < ?";  // now
inline constexpr const char* kDropUnneededStampsSql =  // every stamp no live pass needs
    "DELETE FROM chunk_pins WHERE released_seq IS NOT NULL AND released_seq <= "
    "COALESCE((SELECT MIN(start_seq) FROM gc_passes), (SELECT seq FROM pin_seq WHERE id = 0))";
inline constexpr const char* kDropLapsedPinsSql =  // now
    "DELETE FROM chunk_pins WHERE released_seq IS NULL AND expires < ?";
inline constexpr const char* kPutImageShareSql =
    "INSERT INTO image_shares (image_id, account_id, shared_time) VALUES (?, ?, ?) "
    "ON CONFLICT (image_id, account_id) DO NOTHING";

// --- records -> values, in their table's column order ---

Result<std::vector<SqlValue>> ImageValues(const ImageRecord& r);
// An uncommitted snapshot's manifest is NULL, so that ForEachManifest can
// skip it in SQL.
Result<std::vector<SqlValue>> SnapshotValues(const SnapshotRecord& r);
std::vector<SqlValue> TaskValues(const TaskRecord& r);
Result<std::vector<SqlValue>> InstanceValues(const InstanceRecord& r);
std::vector<SqlValue> DiskValues(const DiskRecord& r);

// --- rows -> records ---

// Every field of `r` from the row, the ones not persisted reset: `r` may
// be a record used before, whose strings keep their room.
template <typename Row>
Status DecodeImageInto(const Row& s, ImageRecord& r) {
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
  ASSIGN_OR_RETURN(r.disks, DecodeDiskMappings(s.ColumnView(16), r.image_id));
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

template <typename Row>
Result<ImageRecord> DecodeImage(const Row& s) {
  ImageRecord r;
  RETURN_IF_ERROR(DecodeImageInto(s, r));
  return r;
}

template <typename Row>
Result<SnapshotRecord> DecodeSnapshot(const Row& s, bool with_manifest) {
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

template <typename Row>
Result<TaskRecord> DecodeTask(const Row& s) {
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

template <typename Row>
Result<InstanceRecord> DecodeInstance(const Row& s) {
  InstanceRecord r;
  r.instance_id = s.ColumnText(0);
  r.account_id = s.ColumnText(1);
  r.region_id = s.ColumnText(2);
  r.name = s.ColumnText(3);
  r.description = s.ColumnText(4);
  r.host_name = s.ColumnText(5);
  r.instance_type = s.ColumnText(6);
  r.zone_id = s.ColumnText(7);
  r.status = s.ColumnText(8);
  r.image_id = s.ColumnText(9);
  r.user_data = s.ColumnText(10);
  r.ram_role_name = s.ColumnText(11);
  r.creation_time = s.ColumnInt(12);
  r.start_time = s.ColumnInt(13);
  r.auto_start = s.ColumnInt(14) != 0;
  ASSIGN_OR_RETURN(r.tags, DecodeTags(s.ColumnText(15), "instance " + r.instance_id));
  r.instance_charge_type = s.ColumnText(16);
  r.expired_time = s.ColumnInt(17);
  return r;
}

template <typename Row>
Result<DiskRecord> DecodeDisk(const Row& s) {
  DiskRecord r;
  r.disk_id = s.ColumnText(0);
  r.account_id = s.ColumnText(1);
  r.instance_id = s.ColumnText(2);
  r.image_id = s.ColumnText(3);
  r.source_snapshot_id = s.ColumnText(4);
  r.base_key = s.ColumnText(5);
  r.size_gib = FromSql(s.ColumnInt(6));
  r.category = s.ColumnText(7);
  r.status = s.ColumnText(8);
  r.type = s.ColumnText(9);
  r.device = s.ColumnText(10);
  r.creation_time = s.ColumnInt(11);
  return r;
}

// Columns image_id, account_id, shared_time.
template <typename Row>
Result<ImageShareRecord> DecodeShare(const Row& s) {
  return ImageShareRecord{s.ColumnText(0), s.ColumnText(1), s.ColumnInt(2)};
}

// --- the filters of a query that both catalogs apply in SQL ---

WhereClause SnapshotFilter(const SnapshotQuery& q);
WhereClause TaskFilter(const TaskQuery& q);
// Call only with instance_ids unset or not empty (empty matches nothing).
WhereClause InstanceFilter(const InstanceQuery& q);
WhereClause DiskFilter(const DiskQuery& q);

// ImageQuery::fill_view's last step: each disk of `images` is marked
// encrypted when `encrypted` (by snapshot id) says so.
void MarkEncryptedDisks(const std::map<std::string, bool>& encrypted, std::vector<ImageRecord>& images);

// --- filters both catalogs apply in memory ---

// '*' matches any run of characters; everything else matches itself
// (DescribeInstances' InstanceName).
bool WildcardMatch(const std::string& pattern, const std::string& text);
// Every tag of `wanted` is on the instance: the same key, and the same value
// unless the wanted one is empty.
bool HasInstanceTags(const InstanceRecord& r, const Tags& wanted);
// Instances that pass the query's name pattern and tags.
void FilterInstancesInMemory(const InstanceQuery& q, std::vector<InstanceRecord>& all);

}  // namespace ferry::catalog_sql
