#include "catalog/pg_catalog.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "catalog/catalog_rows.h"
#include "catalog/pg_schema.h"

namespace ferry {

namespace {

using catalog_sql::ClampToSql;
using catalog_sql::Columns;
using catalog_sql::FromSql;
using catalog_sql::SelectSql;
using catalog_sql::WhereClause;

// Identifiers sort byte by byte, as SQLite sorts them, whatever the
// database's collation.
constexpr const char* kC = " COLLATE \"C\"";

Status Run(PgDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  return db.Query(PgDb::Numbered(sql), params).status();
}

Result<uint64_t> Affected(PgDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(PgRows rows, db.Query(PgDb::Numbered(sql), params));
  return rows.affected();
}

// Runs `sql` and decodes every row with `decode` (a catalog_rows.h decoder).
template <typename T, typename Decode>
Result<std::vector<T>> Select(PgDb& db, const std::string& sql, const std::vector<SqlValue>& params,
                              Decode decode) {
  ASSIGN_OR_RETURN(PgRows rows, db.Query(PgDb::Numbered(sql), params));
  std::vector<T> out;
  out.reserve(static_cast<size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    ASSIGN_OR_RETURN(T item, decode(PgRow(rows, i)));
    out.push_back(std::move(item));
  }
  return out;
}

// The one integer `sql` answers (a COUNT).
Result<int64_t> CountOf(PgDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(PgRows rows, db.Query(PgDb::Numbered(sql), params));
  return rows.Int(0, 0);
}

Result<uint64_t> Count(PgDb& db, const std::string& from, const WhereClause& where) {
  ASSIGN_OR_RETURN(PgRows rows,
                   db.Query(PgDb::Numbered("SELECT COUNT(*) FROM " + from + where.Sql()), where.params()));
  ASSIGN_OR_RETURN(int64_t n, rows.Int(0, 0));
  return FromSql(n);
}

// `select` + `where` + `order`, the page [offset, offset + limit) of it.
template <typename T, typename Decode>
Result<std::vector<T>> PageRows(PgDb& db, const std::string& select, const WhereClause& where,
                                const std::string& order, uint64_t offset, uint64_t limit, Decode decode) {
  std::string sql = select + where.Sql() + order;
  std::vector<SqlValue> params = where.params();
  if (limit != 0) {
    sql += " LIMIT ?";
    params.emplace_back(ClampToSql(limit));
  }
  sql += " OFFSET ?";
  params.emplace_back(ClampToSql(offset));
  return Select<T>(db, sql, params, decode);
}

// `a`'s conditions and then `b`'s.
WhereClause Joined(const WhereClause& a, const WhereClause& b) {
  WhereClause out = a;
  out.Append(b);
  return out;
}

// Rows any of `branches` selects, passing `filters`.
WhereClause Visible(const std::vector<WhereClause>& branches, const WhereClause& filters) {
  std::string any;
  std::vector<SqlValue> params;
  for (const WhereClause& branch : branches) {
    std::string conditions = branch.Sql();
    if (conditions.empty()) return filters;  // a branch without conditions selects every row
    conditions = conditions.substr(std::string(" WHERE ").size());
    any += (any.empty() ? "(" : " OR (") + conditions + ")";
    params.insert(params.end(), branch.params().begin(), branch.params().end());
  }
  WhereClause out;
  out.Add("(" + any + ")", std::move(params));
  out.Append(filters);
  return out;
}

}  // namespace

// ------------------------------------------------------------ connections

Result<std::unique_ptr<PgCatalog>> PgCatalog::Open(const std::string& uri) {
  ASSIGN_OR_RETURN(std::unique_ptr<PgPool> pool,
                   PgPool::Open(uri, kMaxConnections,
                                std::chrono::duration_cast<std::chrono::milliseconds>(kConnectionWait)));
  {
    ASSIGN_OR_RETURN(PgPool::Lease lease, pool->Lend());
    RETURN_IF_ERROR(lease->Migrate(PgSchema()));
  }
  pool->ServeCallers();
  return std::unique_ptr<PgCatalog>(new PgCatalog(std::move(pool)));
}

PgCatalog::~PgCatalog() = default;

PgCatalog::Bound* PgCatalog::BoundHere() {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = bound_.find(std::this_thread::get_id());
  return it == bound_.end() ? nullptr : &it->second;
}

Result<PgCatalog::Lease> PgCatalog::Connection() {
  Lease lease;
  if (Bound* bound = BoundHere()) {
    lease.bound_ = bound->db.get();
    return lease;
  }
  ASSIGN_OR_RETURN(PgPool::Lease pooled, pool_->Lend());
  lease.pooled_.emplace(std::move(pooled));
  return lease;
}

Status PgCatalog::Transact(const std::function<Status()>& fn) {
  if (Bound* bound = BoundHere()) {
    // Joins the outer transaction; a savepoint undoes only this part.
    PgDb& db = *bound->db;
    const std::string savepoint = "ferry_" + std::to_string(++bound->depth);
    struct Depth {
      Bound* b;
      ~Depth() { --b->depth; }
    } depth{bound};
    RETURN_IF_ERROR(db.Exec("SAVEPOINT " + savepoint));
    Status st;
    try {
      st = fn();
    } catch (...) {
      (void)db.Exec("ROLLBACK TO SAVEPOINT " + savepoint);
      throw;
    }
    if (st.ok()) return db.Exec("RELEASE SAVEPOINT " + savepoint);
    (void)db.Exec("ROLLBACK TO SAVEPOINT " + savepoint);
    (void)db.Exec("RELEASE SAVEPOINT " + savepoint);
    return st;
  }
  ASSIGN_OR_RETURN(std::unique_ptr<PgDb> taken, pool_->Take());
  PgDb* db = taken.get();
  {
    std::lock_guard<std::mutex> lock(mu_);
    bound_[std::this_thread::get_id()].db = std::move(taken);
  }
  // Unbinds and gives the connection back however the transaction ends.
  struct Unbind {
    PgCatalog* self;
    ~Unbind() {
      std::unique_ptr<PgDb> db;
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        auto it = self->bound_.find(std::this_thread::get_id());
        db = std::move(it->second.db);
        self->bound_.erase(it);
      }
      self->pool_->Give(std::move(db));
    }
  } unbind{this};
  RETURN_IF_ERROR(db->Exec("BEGIN"));
  Status st = db->Query("SELECT pg_advisory_xact_lock($1)", {kPgRegionWriteLock}).status();
  if (st.ok()) {
    try {
      st = fn();
    } catch (...) {
      (void)db->Exec("ROLLBACK");
      throw;
    }
  }
  if (st.ok()) return db->Exec("COMMIT");
  // The failure says what went wrong; a failed rollback means the
  // connection is gone, and Give() drops it.
  (void)db->Exec("ROLLBACK");
  return st;
}

Status PgCatalog::Write(const std::function<Status(PgDb&)>& fn) {
  return Transact([&]() -> Status { return fn(*BoundHere()->db); });
}

Status PgCatalog::ReadSnapshot(const std::function<Status(PgDb&)>& fn) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  PgDb& db = lease.db();
  if (!lease.pooled_) return fn(db);  // inside this thread's transaction
  RETURN_IF_ERROR(db.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  Status st = fn(db);
  if (st.ok()) return db.Exec("COMMIT");
  (void)db.Exec("ROLLBACK");
  return st;
}

// ------------------------------------------------------------------ images

Status PgCatalog::CheckImageNameFree(PgDb& db, const ImageRecord& r) {
  if (r.name.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(PgRows rows, db.Query("SELECT image_id FROM images WHERE account_id = $1 AND name = $2 "
                                         "AND name <> '' AND image_id <> $3",
                                         {r.account_id, r.name, r.image_id}));
  if (rows.empty()) return Status::Ok();
  return AlreadyExists("InvalidImageName.Duplicated",
                       "the image name '" + r.name + "' is already used by image " +
                           std::string(rows.Text(0, 0)) + " of account " + r.account_id);
}

// image_snapshots: one row per distinct snapshot of the image's disks.
Status PgCatalog::WriteImageSnapshots(PgDb& db, const ImageRecord& r) {
  RETURN_IF_ERROR(Run(db, "DELETE FROM image_snapshots WHERE image_id = ?", {r.image_id}));
  std::set<std::string> ids;
  for (const DiskMapping& d : r.disks) {
    if (!d.snapshot_id.empty()) ids.insert(d.snapshot_id);
  }
  for (const std::string& snapshot_id : ids) {
    RETURN_IF_ERROR(Run(db,
                        "INSERT INTO image_snapshots (snapshot_id, image_id, creation_time) VALUES (?, ?, ?)",
                        {snapshot_id, r.image_id, int64_t{r.creation_time}}));
  }
  return Status::Ok();
}

Status PgCatalog::InsertImage(const ImageRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, catalog_sql::ImageValues(r));
  return Write([&](PgDb& db) -> Status {
    RETURN_IF_ERROR(CheckImageNameFree(db, r));
    RETURN_IF_ERROR(Run(db, catalog_sql::InsertSql("images", catalog_sql::kImageColumns), values)
                        .WithContext("insert image " + r.image_id));
    return WriteImageSnapshots(db, r);
  });
}

Status PgCatalog::UpdateImage(const ImageRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, catalog_sql::ImageValues(r));
  return Write([&](PgDb& db) -> Status {
    RETURN_IF_ERROR(CheckImageNameFree(db, r));
    ASSIGN_OR_RETURN(uint64_t n, Affected(db, catalog_sql::UpdateSql("images", catalog_sql::kImageColumns),
                                          catalog_sql::KeyLast(std::move(values))));
    if (n == 0) return NotFound("InvalidImageId.NotFound", "image " + r.image_id + " does not exist");
    return WriteImageSnapshots(db, r);
  });
}

Result<ImageRecord> PgCatalog::GetImage(const std::string& image_id) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(
      std::vector<ImageRecord> rows,
      Select<ImageRecord>(lease.db(), SelectSql("images", catalog_sql::kImageColumns) + " WHERE image_id = ?",
                          {image_id}, catalog_sql::DecodeImage<PgRow>));
  if (rows.empty()) return NotFound("InvalidImageId.NotFound", "image " + image_id + " does not exist");
  return std::move(rows.front());
}

Status PgCatalog::DeleteImage(const std::string& image_id) {
  return Write([&](PgDb& db) -> Status {
    RETURN_IF_ERROR(
        Run(db, "DELETE FROM images WHERE image_id = ?", {image_id}).WithContext("delete image " + image_id));
    return Run(db, "DELETE FROM image_snapshots WHERE image_id = ?", {image_id});
  });
}

namespace {

// ImageQuery::fill_view (catalog.h), in the listing's snapshot.
Status FillView(PgDb& db, const ImageQuery& q, std::vector<ImageRecord>& images) {
  std::vector<std::string> own;
  for (const ImageRecord& image : images) {
    if (!q.account_id.empty() && image.account_id == q.account_id) own.push_back(image.image_id);
  }
  if (!own.empty()) {
    ASSIGN_OR_RETURN(
        PgRows rows,
        db.Query(PgDb::Numbered("SELECT DISTINCT image_id FROM image_shares WHERE image_id IN (" +
                                WhereClause::Placeholders(own.size()) + ")"),
                 WhereClause::Values(own)));
    std::set<std::string, std::less<>> shared;
    for (int i = 0; i < rows.size(); ++i) shared.emplace(rows.Text(i, 0));
    for (ImageRecord& image : images) {
      image.is_self_shared = image.account_id == q.account_id && shared.contains(image.image_id);
    }
  }
  // Encrypted as DescribeSnapshots would show it to the caller: a snapshot of
  // its own, or one that is a disk of an image shared with it.
  std::map<std::string, bool> encrypted;
  for (const ImageRecord& image : images) {
    for (const DiskMapping& disk : image.disks) {
      if (!disk.snapshot_id.empty()) encrypted.emplace(disk.snapshot_id, false);
    }
  }
  if (encrypted.empty()) return Status::Ok();
  std::vector<std::string> ids;
  for (const auto& [id, unused] : encrypted) ids.push_back(id);
  ASSIGN_OR_RETURN(
      PgRows rows,
      db.Query(PgDb::Numbered("SELECT snapshot_id, account_id FROM snapshots WHERE encrypted <> 0 AND "
                              "snapshot_id IN (" +
                              WhereClause::Placeholders(ids.size()) + ")"),
               WhereClause::Values(ids)));
  std::vector<std::string> others;  // encrypted, of another account
  for (int i = 0; i < rows.size(); ++i) {
    const std::string id(rows.Text(i, 0));
    if (q.account_id.empty() || rows.Text(i, 1) == q.account_id) {
      encrypted[id] = true;
    } else {
      others.push_back(id);
    }
  }
  if (!others.empty()) {
    std::vector<SqlValue> params{q.account_id};
    for (const std::string& id : others) params.emplace_back(id);
    ASSIGN_OR_RETURN(
        PgRows via_share,
        db.Query(PgDb::Numbered("SELECT DISTINCT s.snapshot_id FROM image_snapshots s JOIN image_shares h "
                                "ON h.image_id = s.image_id WHERE h.account_id = ? AND s.snapshot_id IN (" +
                                WhereClause::Placeholders(others.size()) + ")"),
                 params));
    for (int i = 0; i < via_share.size(); ++i) encrypted[std::string(via_share.Text(i, 0))] = true;
  }
  catalog_sql::MarkEncryptedDisks(encrypted, images);
  return Status::Ok();
}

}  // namespace

Result<Page<ImageRecord>> PgCatalog::ListImages(const ImageQuery& q) {
  // The filters every visible image must pass.
  WhereClause filters;
  filters.AddEquals("image_id", q.image_id);
  filters.AddEquals("name", q.name);
  if (!q.name_contains.empty()) filters.Add("strpos(name, ?) > 0", {q.name_contains});
  if (!q.snapshot_id.empty()) {
    filters.Add("image_id IN (SELECT image_id FROM image_snapshots WHERE snapshot_id = ?)", {q.snapshot_id});
  }
  filters.AddIn("status", q.statuses);
  for (const auto& [key, value] : q.tags) {
    filters.Add("EXISTS (SELECT 1 FROM jsonb_array_elements(tags::jsonb) t WHERE t->>0 = ? AND t->>1 = ?)",
                {key, value});
  }
  // Which images the caller sees, one branch per source: its own, the
  // system's, those shared with it. Each branch is an index-ordered scan
  // (images_owner_order, by image_id in byte order; shares are few), so a page reads the rows before
  // it in order instead of sorting every visible row.
  std::vector<WhereClause> branches;
  if (!q.account_id.empty()) {
    std::vector<std::string> owners;
    if (q.include_self) owners.push_back(q.account_id);
    const bool system_is_self = q.include_self && q.account_id == kSystemAccountId;
    if (q.include_system && !system_is_self) owners.push_back(kSystemAccountId);
    for (const std::string& owner : owners) {
      WhereClause branch;
      branch.Add("account_id = ?", {owner});
      branches.push_back(std::move(branch));
    }
    if (q.include_shared) {
      WhereClause branch;
      branch.Add("image_id IN (SELECT image_id FROM image_shares WHERE account_id = ?)", {q.account_id});
      if (!owners.empty()) {
        branch.Add("account_id NOT IN (" + WhereClause::Placeholders(owners.size()) + ")",
                   WhereClause::Values(owners));
      }
      branches.push_back(std::move(branch));
    }
    if (branches.empty()) return Page<ImageRecord>{};
  } else {
    branches.emplace_back();
  }
  const std::string order = std::string(" ORDER BY creation_time DESC, image_id") + kC;
  const std::string select = SelectSql("images", catalog_sql::kImageColumns);
  // One source, every row wanted, or one image asked for by id: one query.
  const bool merge = branches.size() > 1 && q.limit != 0 && q.image_id.empty();
  const WhereClause where = branches.size() == 1 ? Joined(branches[0], filters) : Visible(branches, filters);
  Page<ImageRecord> page;
  RETURN_IF_ERROR(ReadSnapshot([&](PgDb& db) -> Status {
    if (q.count_total && !merge) {
      ASSIGN_OR_RETURN(page.total, Count(db, "images", where));
    } else if (q.count_total) {
      page.total = 0;  // the branches are disjoint
      for (const WhereClause& branch : branches) {
        ASSIGN_OR_RETURN(uint64_t n, Count(db, "images", Joined(branch, filters)));
        page.total += n;
      }
    }
    if (!merge) {
      ASSIGN_OR_RETURN(page.items, PageRows<ImageRecord>(db, select, where, order, q.offset, q.limit,
                                                         catalog_sql::DecodeImage<PgRow>));
    } else {
      // The first offset + limit rows of each source, merged.
      const int64_t first = ClampToSql(q.offset + q.limit);
      std::string sql = "SELECT * FROM (";
      std::vector<SqlValue> params;
      for (size_t i = 0; i < branches.size(); ++i) {
        const WhereClause where = Joined(branches[i], filters);
        sql += std::string(i ? " UNION ALL " : "") + "(" + select + where.Sql() + order + " LIMIT ?)";
        params.insert(params.end(), where.params().begin(), where.params().end());
        params.emplace_back(first);
      }
      sql += ") v" + order + " LIMIT ? OFFSET ?";
      params.emplace_back(ClampToSql(q.limit));
      params.emplace_back(ClampToSql(q.offset));
      ASSIGN_OR_RETURN(page.items, Select<ImageRecord>(db, sql, params, catalog_sql::DecodeImage<PgRow>));
    }
    if (q.fill_view) RETURN_IF_ERROR(FillView(db, q, page.items));
    return Status::Ok();
  }));
  return page;
}

// --------------------------------------------------------------- snapshots

Status PgCatalog::InsertSnapshot(const SnapshotRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, catalog_sql::SnapshotValues(r));
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::InsertSql("snapshots", catalog_sql::kSnapshotColumns), values)
        .WithContext("insert snapshot " + r.snapshot_id);
  });
}

Status PgCatalog::UpdateSnapshot(const SnapshotRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, catalog_sql::SnapshotValues(r));
  return Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(uint64_t n,
                     Affected(db, catalog_sql::UpdateSql("snapshots", catalog_sql::kSnapshotColumns),
                              catalog_sql::KeyLast(std::move(values))));
    if (n == 0)
      return NotFound("InvalidSnapshotId.NotFound", "snapshot " + r.snapshot_id + " does not exist");
    return Status::Ok();
  });
}

Result<SnapshotRecord> PgCatalog::GetSnapshot(const std::string& snapshot_id) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(
      std::vector<SnapshotRecord> rows,
      Select<SnapshotRecord>(
          lease.db(), SelectSql("snapshots", catalog_sql::kSnapshotColumns) + " WHERE snapshot_id = ?",
          {snapshot_id}, [](const PgRow& row) { return catalog_sql::DecodeSnapshot(row, true); }));
  if (rows.empty())
    return NotFound("InvalidSnapshotId.NotFound", "snapshot " + snapshot_id + " does not exist");
  return std::move(rows.front());
}

Status PgCatalog::DeleteSnapshot(const std::string& snapshot_id) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, "DELETE FROM snapshots WHERE snapshot_id = ?", {snapshot_id})
        .WithContext("delete snapshot " + snapshot_id);
  });
}

Result<Page<SnapshotRecord>> PgCatalog::ListSnapshots(const SnapshotQuery& q) {
  const WhereClause where = catalog_sql::SnapshotFilter(q);
  const std::string select =
      SelectSql("snapshots",
                Columns(catalog_sql::kSnapshotColumns).first(catalog_sql::kSnapshotColumnsWithoutManifest));
  Page<SnapshotRecord> page;
  RETURN_IF_ERROR(ReadSnapshot([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(page.total, Count(db, "snapshots", where));
    ASSIGN_OR_RETURN(
        page.items,
        PageRows<SnapshotRecord>(
            db, select, where, std::string(" ORDER BY creation_time DESC, snapshot_id") + kC, q.offset,
            q.limit, [](const PgRow& row) { return catalog_sql::DecodeSnapshot(row, false); }));
    return Status::Ok();
  }));
  return page;
}

Status PgCatalog::ForEachManifest(
    const std::function<Status(const std::string&, const std::vector<uint8_t>&)>& fn) {
  using Entry = std::pair<std::string, std::vector<uint8_t>>;
  // Manifests can be megabytes each: a batch bounds memory.
  constexpr int64_t kBatch = 16;
  std::string after;  // keyset paging: every id sorts after ""
  while (true) {
    std::vector<Entry> batch;
    {
      ASSIGN_OR_RETURN(Lease lease, Connection());
      ASSIGN_OR_RETURN(
          batch, Select<Entry>(lease.db(),
                               std::string("SELECT snapshot_id, manifest FROM snapshots WHERE manifest IS "
                                           "NOT NULL AND snapshot_id") +
                                   kC + " > ? ORDER BY snapshot_id" + kC + " LIMIT ?",
                               {after, kBatch}, [](const PgRow& row) -> Result<Entry> {
                                 return Entry(row.ColumnText(0), row.ColumnBlob(1));
                               }));
    }
    for (const auto& [id, manifest] : batch) {
      if (manifest.empty()) continue;  // not a committed manifest
      RETURN_IF_ERROR(fn(id, manifest));
    }
    if (batch.size() < static_cast<size_t>(kBatch)) return Status::Ok();
    after = batch.back().first;
  }
}

// ------------------------------------------------------------------- tasks

Status PgCatalog::InsertTask(const TaskRecord& r) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::InsertSql("tasks", catalog_sql::kTaskColumns), catalog_sql::TaskValues(r))
        .WithContext("insert task " + r.task_id);
  });
}

Status PgCatalog::UpdateTask(const TaskRecord& r) {
  return Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(uint64_t n, Affected(db, catalog_sql::UpdateSql("tasks", catalog_sql::kTaskColumns),
                                          catalog_sql::KeyLast(catalog_sql::TaskValues(r))));
    if (n == 0) return NotFound("InvalidTaskId.NotFound", "task " + r.task_id + " does not exist");
    return Status::Ok();
  });
}

Result<TaskRecord> PgCatalog::GetTask(const std::string& task_id) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(
      std::vector<TaskRecord> rows,
      Select<TaskRecord>(lease.db(), SelectSql("tasks", catalog_sql::kTaskColumns) + " WHERE task_id = ?",
                         {task_id}, catalog_sql::DecodeTask<PgRow>));
  if (rows.empty()) return NotFound("InvalidTaskId.NotFound", "task " + task_id + " does not exist");
  return std::move(rows.front());
}

Result<Page<TaskRecord>> PgCatalog::ListTasks(const TaskQuery& q) {
  const WhereClause where = catalog_sql::TaskFilter(q);
  Page<TaskRecord> page;
  RETURN_IF_ERROR(ReadSnapshot([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(page.total, Count(db, "tasks", where));
    ASSIGN_OR_RETURN(page.items,
                     PageRows<TaskRecord>(db, SelectSql("tasks", catalog_sql::kTaskColumns), where,
                                          std::string(" ORDER BY creation_time DESC, task_id") + kC, q.offset,
                                          q.limit, catalog_sql::DecodeTask<PgRow>));
    return Status::Ok();
  }));
  return page;
}

// ------------------------------------------------------------ task leases

Result<bool> PgCatalog::ClaimTask(const std::string& task_id, const std::string& node, UnixSeconds now,
                                  UnixSeconds until) {
  bool claimed = false;
  RETURN_IF_ERROR(Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(uint64_t n, Affected(db, catalog_sql::kClaimTaskSql,
                                          {node, int64_t{until}, task_id, node, int64_t{now}}));
    claimed = n == 1;
    return Status::Ok();
  }));
  return claimed;
}

Status PgCatalog::RenewTaskLeases(const std::string& node, UnixSeconds until) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::kRenewTaskLeasesSql, {int64_t{until}, node})
        .WithContext("renew the task leases of node " + node);
  });
}

Status PgCatalog::ReleaseTaskLeases(const std::string& node) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::kReleaseTaskLeasesSql, {node})
        .WithContext("release the task leases of node " + node);
  });
}

Result<std::vector<TaskRecord>> PgCatalog::ClaimableTasks(const std::string& node, UnixSeconds now) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  std::string where = catalog_sql::kClaimableTasksWhere;
  where.replace(where.rfind("task_id"), 7, std::string("task_id") + kC);
  return Select<TaskRecord>(lease.db(), SelectSql("tasks", catalog_sql::kTaskColumns) + where,
                            {node, int64_t{now}}, catalog_sql::DecodeTask<PgRow>);
}

// ------------------------------------------------------------ copy slots

Result<bool> PgCatalog::TakeCopySlot(const std::string& task_id, UnixSeconds now, unsigned max_running) {
  bool taken = false;
  RETURN_IF_ERROR(Write([&](PgDb& db) -> Status {
    RETURN_IF_ERROR(Run(db, catalog_sql::kDropEndedCopySlotsSql, {}));
    ASSIGN_OR_RETURN(int64_t held, CountOf(db, catalog_sql::kHeldCopySlotSql, {task_id}));
    if (held > 0) {
      taken = true;
      return Status::Ok();
    }
    ASSIGN_OR_RETURN(int64_t live, CountOf(db, catalog_sql::kLiveCopySlotsSql, {int64_t{now}, task_id}));
    if (live >= static_cast<int64_t>(max_running)) return Status::Ok();
    RETURN_IF_ERROR(Run(db, catalog_sql::kTakeCopySlotSql, {task_id}));
    taken = true;
    return Status::Ok();
  }));
  return taken;
}

Status PgCatalog::ReleaseCopySlot(const std::string& task_id) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::kReleaseCopySlotSql, {task_id})
        .WithContext("release the copy slot of task " + task_id);
  });
}

// --- chunk pins and GC passes (catalog.h PinChunk) ---

Status PgCatalog::PinChunk(const std::string& chunk, const std::string& owner, const std::string& node,
                           UnixSeconds until) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::kPinChunkSql, {chunk, owner, node, int64_t{until}})
        .WithContext("pin chunk " + chunk);
  });
}

Result<int64_t> PgCatalog::LiveChunkPins(const std::string& owner, UnixSeconds now) {
  int64_t live = 0;
  RETURN_IF_ERROR(Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(live, CountOf(db, catalog_sql::kLiveOwnerPinsSql, {owner, int64_t{now}}));
    return Status::Ok();
  }));
  return live;
}

Status PgCatalog::ReleaseChunkPins(const std::string& owner, UnixSeconds now) {
  return Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(int64_t passes, CountOf(db, catalog_sql::kLiveGcPassesSql, {int64_t{now}}));
    if (passes == 0) return Run(db, catalog_sql::kDeleteOwnerPinsSql, {owner});
    RETURN_IF_ERROR(Run(db, catalog_sql::kNextPinSeqSql, {}));
    return Run(db, catalog_sql::kStampOwnerPinsSql, {owner});
  });
}

Status PgCatalog::RenewChunkPins(const std::string& node, UnixSeconds now, UnixSeconds until) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::kRenewChunkPinsSql, {int64_t{until}, node, int64_t{now}});
  });
}

Status PgCatalog::DropChunkPins(const std::string& node) {
  return Write([&](PgDb& db) -> Status { return Run(db, catalog_sql::kDropNodePinsSql, {node}); });
}

Result<int64_t> PgCatalog::BeginGcPass(const std::string& pass, UnixSeconds until) {
  int64_t start = -1;
  RETURN_IF_ERROR(Write([&](PgDb& db) -> Status {
    RETURN_IF_ERROR(Run(db, catalog_sql::kBeginGcPassSql, {pass, int64_t{until}}));
    ASSIGN_OR_RETURN(start, CountOf(db, catalog_sql::kGcPassStartSql, {pass, int64_t{until}}));
    return Status::Ok();
  }));
  return start;
}

Status PgCatalog::DeleteChunkUnlessPinned(const std::string& chunk, const std::string& pass, UnixSeconds now,
                                          UnixSeconds until, const std::function<Status()>& remove,
                                          bool* deleted) {
  *deleted = false;
  return Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(int64_t start, CountOf(db, catalog_sql::kGcPassStartSql, {pass, int64_t{now}}));
    if (start < 0) {
      return Aborted("",
                     "garbage collection pass " + pass + " lapsed; the release stamps it needs may be gone");
    }
    RETURN_IF_ERROR(Run(db, catalog_sql::kRenewGcPassSql, {int64_t{until}, pass}));
    ASSIGN_OR_RETURN(int64_t kept, CountOf(db, catalog_sql::kChunkKeptSql, {chunk, int64_t{now}, start}));
    if (kept > 0) return Status::Ok();
    RETURN_IF_ERROR(remove());
    *deleted = true;
    return Status::Ok();
  });
}

Status PgCatalog::EndGcPass(const std::string& pass, UnixSeconds now) {
  return Write([&](PgDb& db) -> Status {
    RETURN_IF_ERROR(Run(db, catalog_sql::kEndGcPassSql, {pass}));
    RETURN_IF_ERROR(Run(db, catalog_sql::kDropLapsedGcPassesSql, {int64_t{now}}));
    RETURN_IF_ERROR(Run(db, catalog_sql::kDropUnneededStampsSql, {}));
    return Run(db, catalog_sql::kDropLapsedPinsSql, {int64_t{now}});
  });
}

// ------------------------------------------------- client tokens, leases

Result<Catalog::TokenRecord> PgCatalog::GetClientToken(const std::string& account_id,
                                                       const std::string& action, const std::string& token) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(PgRows rows, lease.db().Query("SELECT fingerprint, result_id FROM client_tokens WHERE "
                                                 "account_id = $1 AND action = $2 AND token = $3",
                                                 {account_id, action, token}));
  if (rows.empty()) {
    return NotFound("", "no client token '" + token + "' for " + action + " of account " + account_id);
  }
  return TokenRecord{std::string(rows.Text(0, 0)), std::string(rows.Text(0, 1))};
}

Status PgCatalog::PutClientToken(const std::string& account_id, const std::string& action,
                                 const std::string& token, const TokenRecord& rec) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::kPutClientTokenSql,
               {account_id, action, token, rec.fingerprint, rec.result_id})
        .WithContext("store client token '" + token + "' for " + action);
  });
}

Status PgCatalog::PutCopyLease(const CopyLeaseRecord& rec) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::kPutCopyLeaseSql,
               {rec.source_image_id, rec.copy_region_id, rec.copy_image_id, rec.creation_time})
        .WithContext("store the copy lease of " + rec.source_image_id);
  });
}

Result<Catalog::CopyLeaseRecord> PgCatalog::GetCopyLease(const std::string& source_image_id) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(PgRows rows,
                   lease.db().Query(PgDb::Numbered(catalog_sql::kGetCopyLeaseSql), {source_image_id}));
  if (rows.empty()) return NotFound("", "no copy lease on image " + source_image_id);
  const PgRow row(rows, 0);
  return CopyLeaseRecord{row.ColumnText(0), row.ColumnText(1), row.ColumnText(2), row.ColumnInt(3)};
}

Status PgCatalog::DeleteCopyLease(const std::string& source_image_id, const std::string& copy_image_id) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, "DELETE FROM copy_leases WHERE source_image_id = ? AND copy_image_id = ?",
               {source_image_id, copy_image_id})
        .WithContext("remove the copy lease of " + source_image_id);
  });
}

// ------------------------------------------------------------------ shares

Status PgCatalog::PutImageShare(const ImageShareRecord& r) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::kPutImageShareSql, {r.image_id, r.account_id, r.shared_time})
        .WithContext("share image " + r.image_id + " with account " + r.account_id);
  });
}

Status PgCatalog::DeleteImageShare(const std::string& image_id, const std::string& account_id) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, "DELETE FROM image_shares WHERE image_id = ? AND account_id = ?", {image_id, account_id})
        .WithContext("unshare image " + image_id + " from account " + account_id);
  });
}

Result<Page<ImageShareRecord>> PgCatalog::ListImageShares(const std::string& image_id, uint64_t offset,
                                                          uint64_t limit) {
  WhereClause where;
  where.Add("image_id = ?", {image_id});
  Page<ImageShareRecord> page;
  RETURN_IF_ERROR(ReadSnapshot([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(page.total, Count(db, "image_shares", where));
    ASSIGN_OR_RETURN(page.items, PageRows<ImageShareRecord>(
                                     db, "SELECT image_id, account_id, shared_time FROM image_shares", where,
                                     std::string(" ORDER BY shared_time, account_id") + kC, offset, limit,
                                     catalog_sql::DecodeShare<PgRow>));
    return Status::Ok();
  }));
  return page;
}

Result<bool> PgCatalog::IsImageSharedWith(const std::string& image_id, const std::string& account_id) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(PgRows rows,
                   lease.db().Query("SELECT 1 FROM image_shares WHERE image_id = $1 AND account_id = $2",
                                    {image_id, account_id}));
  return !rows.empty();
}

Result<std::set<std::string>> PgCatalog::SharedImageIds(const std::vector<std::string>& image_ids) {
  std::set<std::string> shared;
  if (image_ids.empty()) return shared;
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(PgRows rows,
                   lease.db().Query(PgDb::Numbered("SELECT DISTINCT image_id FROM image_shares WHERE "
                                                   "image_id IN (" +
                                                   WhereClause::Placeholders(image_ids.size()) + ")"),
                                    WhereClause::Values(image_ids)));
  for (int i = 0; i < rows.size(); ++i) shared.emplace(rows.Text(i, 0));
  return shared;
}

// ------------------------------------------------------- instances, disks

Status PgCatalog::InsertInstance(const InstanceRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, catalog_sql::InstanceValues(r));
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::InsertSql("instances", catalog_sql::kInstanceColumns), values)
        .WithContext("insert instance " + r.instance_id);
  });
}

Status PgCatalog::UpdateInstance(const InstanceRecord& r) {
  ASSIGN_OR_RETURN(std::vector<SqlValue> values, catalog_sql::InstanceValues(r));
  return Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(uint64_t n,
                     Affected(db, catalog_sql::UpdateSql("instances", catalog_sql::kInstanceColumns),
                              catalog_sql::KeyLast(std::move(values))));
    if (n == 0)
      return NotFound("InvalidInstanceId.NotFound", "instance " + r.instance_id + " does not exist");
    return Status::Ok();
  });
}

Result<InstanceRecord> PgCatalog::GetInstance(const std::string& instance_id) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(
      std::vector<InstanceRecord> rows,
      Select<InstanceRecord>(lease.db(),
                             SelectSql("instances", catalog_sql::kInstanceColumns) + " WHERE instance_id = ?",
                             {instance_id}, catalog_sql::DecodeInstance<PgRow>));
  if (rows.empty())
    return NotFound("InvalidInstanceId.NotFound", "instance " + instance_id + " does not exist");
  return std::move(rows.front());
}

Status PgCatalog::DeleteInstance(const std::string& instance_id) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, "DELETE FROM instances WHERE instance_id = ?", {instance_id})
        .WithContext("delete instance " + instance_id);
  });
}

Result<Page<InstanceRecord>> PgCatalog::ListInstances(const InstanceQuery& q) {
  if (q.instance_ids && q.instance_ids->empty()) return Page<InstanceRecord>{};
  const WhereClause where = catalog_sql::InstanceFilter(q);
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(std::vector<InstanceRecord> all,
                   Select<InstanceRecord>(lease.db(),
                                          SelectSql("instances", catalog_sql::kInstanceColumns) +
                                              where.Sql() + " ORDER BY creation_time DESC, instance_id" + kC,
                                          where.params(), catalog_sql::DecodeInstance<PgRow>));
  catalog_sql::FilterInstancesInMemory(q, all);
  return catalog_sql::Slice(std::move(all), q.offset, q.limit);
}

Status PgCatalog::InsertDisk(const DiskRecord& r) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, catalog_sql::InsertSql("disks", catalog_sql::kDiskColumns), catalog_sql::DiskValues(r))
        .WithContext("insert disk " + r.disk_id);
  });
}

Status PgCatalog::UpdateDisk(const DiskRecord& r) {
  return Write([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(uint64_t n, Affected(db, catalog_sql::UpdateSql("disks", catalog_sql::kDiskColumns),
                                          catalog_sql::KeyLast(catalog_sql::DiskValues(r))));
    if (n == 0) return NotFound("InvalidDiskId.NotFound", "disk " + r.disk_id + " does not exist");
    return Status::Ok();
  });
}

Result<DiskRecord> PgCatalog::GetDisk(const std::string& disk_id) {
  ASSIGN_OR_RETURN(Lease lease, Connection());
  ASSIGN_OR_RETURN(
      std::vector<DiskRecord> rows,
      Select<DiskRecord>(lease.db(), SelectSql("disks", catalog_sql::kDiskColumns) + " WHERE disk_id = ?",
                         {disk_id}, catalog_sql::DecodeDisk<PgRow>));
  if (rows.empty()) return NotFound("InvalidDiskId.NotFound", "disk " + disk_id + " does not exist");
  return std::move(rows.front());
}

Status PgCatalog::DeleteDisk(const std::string& disk_id) {
  return Write([&](PgDb& db) -> Status {
    return Run(db, "DELETE FROM disks WHERE disk_id = ?", {disk_id}).WithContext("delete disk " + disk_id);
  });
}

Result<Page<DiskRecord>> PgCatalog::ListDisks(const DiskQuery& q) {
  if (q.disk_ids && q.disk_ids->empty()) return Page<DiskRecord>{};
  const WhereClause where = catalog_sql::DiskFilter(q);
  Page<DiskRecord> page;
  RETURN_IF_ERROR(ReadSnapshot([&](PgDb& db) -> Status {
    ASSIGN_OR_RETURN(page.total, Count(db, "disks", where));
    ASSIGN_OR_RETURN(page.items,
                     PageRows<DiskRecord>(db, SelectSql("disks", catalog_sql::kDiskColumns), where,
                                          std::string(" ORDER BY creation_time DESC, disk_id") + kC, q.offset,
                                          q.limit, catalog_sql::DecodeDisk<PgRow>));
    return Status::Ok();
  }));
  return page;
}

}  // namespace ferry
