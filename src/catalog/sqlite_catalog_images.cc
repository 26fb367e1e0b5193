// SqliteCatalog: listing images without sorting them (schema version 8).
//
// A region may hold a million images; DescribeImages pages through the ones
// a caller may see, newest first. Sorting every visible row per request does
// not scale, so a listing is a merge of a few streams that an index already
// delivers in (creation_time DESC, image_id) order:
//
//   - per owner (the caller, `system`) and per status asked for:
//     images_owner_status_order, which also covers the key columns, so
//     stepping past the rows of earlier pages never reads a table row;
//   - the images shared with the caller (its shares, sorted: few);
//   - for a snapshot filter, image_snapshots by snapshot in the same order;
//   - for an image id, the one row.
//
// Only the page's rows are read whole. TotalCount comes from image_counts
// (images per account and status, kept in the same transaction as every
// write of the images table), not from counting rows, unless a filter that
// runs in memory (a name substring, tags) needs every candidate looked at.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog/sqlite_catalog.h"
#include "catalog/sqlite_catalog_sql.h"

namespace ferry {

namespace catalog_sql {

const char* ImageIndexSchemaStep() {
  // Written to run again over its own result (IF NOT EXISTS, counts
  // rebuilt), as the tests that fake an older schema do.
  return R"sql(
CREATE INDEX IF NOT EXISTS images_owner_status_order ON images (account_id, status, creation_time DESC, image_id);
CREATE INDEX IF NOT EXISTS images_owner_order ON images (account_id, creation_time DESC, image_id);
DROP INDEX IF EXISTS images_account_created;
CREATE TABLE IF NOT EXISTS image_counts (
  account_id TEXT NOT NULL,
  status TEXT NOT NULL,
  n INTEGER NOT NULL,
  PRIMARY KEY (account_id, status)
);
DELETE FROM image_counts;
INSERT INTO image_counts (account_id, status, n)
  SELECT account_id, status, COUNT(*) FROM images GROUP BY account_id, status;
CREATE TABLE IF NOT EXISTS image_snapshots (
  snapshot_id TEXT NOT NULL,
  image_id TEXT NOT NULL,
  creation_time INTEGER NOT NULL,
  PRIMARY KEY (snapshot_id, image_id)
);
CREATE INDEX IF NOT EXISTS image_snapshots_order ON image_snapshots (snapshot_id, creation_time DESC, image_id);
CREATE INDEX IF NOT EXISTS image_snapshots_image ON image_snapshots (image_id);
)sql";
}

namespace {

// The distinct snapshot ids of an image's disks.
std::set<std::string> SnapshotIds(const ImageRecord& r) {
  std::set<std::string> ids;
  for (const DiskMapping& d : r.disks) {
    if (!d.snapshot_id.empty()) ids.insert(d.snapshot_id);
  }
  return ids;
}

Status InsertImageSnapshots(SqliteDb& db, const ImageRecord& r) {
  for (const std::string& snapshot_id : SnapshotIds(r)) {
    RETURN_IF_ERROR(Execute(db,
                            "INSERT INTO image_snapshots (snapshot_id, image_id, creation_time) VALUES (?, ?, ?) "
                            "ON CONFLICT (snapshot_id, image_id) DO NOTHING",
                            {snapshot_id, r.image_id, int64_t{r.creation_time}}));
  }
  return Status::Ok();
}

// Migration hook of version 8: image_snapshots from every image's disks.
Status FillImageSnapshots(SqliteDb& db) {
  ASSIGN_OR_RETURN(std::vector<ImageRecord> images, Rows<ImageRecord>(db, ImageSelectSql(), {}, DecodeImageRow));
  for (const ImageRecord& r : images) RETURN_IF_ERROR(InsertImageSnapshots(db, r));
  return Status::Ok();
}

}  // namespace

Result<std::optional<ImageRecord>> IndexedImageRow(SqliteDb& db, const std::string& image_id) {
  ASSIGN_OR_RETURN(SqliteStatement row,
                   db.Prepare("SELECT account_id, status, creation_time FROM images WHERE image_id = ?"));
  RETURN_IF_ERROR(row.BindText(1, image_id));
  ASSIGN_OR_RETURN(bool found, row.Step());
  if (!found) return std::optional<ImageRecord>();
  ImageRecord r;
  r.image_id = image_id;
  r.account_id = row.ColumnText(0);
  r.status = row.ColumnText(1);
  r.creation_time = row.ColumnInt(2);
  ASSIGN_OR_RETURN(SqliteStatement snapshots,
                   db.Prepare("SELECT snapshot_id FROM image_snapshots WHERE image_id = ?"));
  RETURN_IF_ERROR(snapshots.BindText(1, image_id));
  while (true) {
    ASSIGN_OR_RETURN(bool more, snapshots.Step());
    if (!more) break;
    DiskMapping disk;
    disk.snapshot_id = snapshots.ColumnText(0);
    r.disks.push_back(std::move(disk));
  }
  return std::optional<ImageRecord>(std::move(r));
}

Status InReadTransaction(SqliteDb& db, const std::function<Status()>& fn) {
  if (db.in_transaction()) return fn();
  // Prepared (and kept) rather than Exec'd: parsing BEGIN and COMMIT on
  // every call cost a listing more than some of its queries.
  auto run = [&db](const char* sql) -> Status {
    ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
    return stmt.Run();
  };
  RETURN_IF_ERROR(run("BEGIN"));
  Status status = fn();
  (void)run(status.ok() ? "COMMIT" : "ROLLBACK");
  return status;
}

SqliteDb::MigrationHooks ImageIndexMigrationHooks() { return {{8, FillImageSnapshots}}; }

Status UpdateImageIndexes(SqliteDb& db, const std::optional<ImageRecord>& before,
                          const std::optional<ImageRecord>& after) {
  const bool same_count = before && after && before->account_id == after->account_id &&
                          before->status == after->status;
  if (before && !same_count) {
    RETURN_IF_ERROR(
        Execute(db, "UPDATE image_counts SET n = n - 1 WHERE account_id = ? AND status = ?",
                {before->account_id, before->status}));
    RETURN_IF_ERROR(Execute(db, "DELETE FROM image_counts WHERE account_id = ? AND status = ? AND n <= 0",
                            {before->account_id, before->status}));
  }
  if (after && !same_count) {
    RETURN_IF_ERROR(Execute(db,
                            "INSERT INTO image_counts (account_id, status, n) VALUES (?, ?, 1) "
                            "ON CONFLICT (account_id, status) DO UPDATE SET n = image_counts.n + 1",
                            {after->account_id, after->status}));
  }
  const bool same_snapshots = before && after && before->creation_time == after->creation_time &&
                              SnapshotIds(*before) == SnapshotIds(*after);
  if (before && !same_snapshots) {
    RETURN_IF_ERROR(Execute(db, "DELETE FROM image_snapshots WHERE image_id = ?", {before->image_id}));
  }
  if (after && !same_snapshots) RETURN_IF_ERROR(InsertImageSnapshots(db, *after));
  return Status::Ok();
}

}  // namespace catalog_sql

namespace {

using catalog_sql::ImageColumnsSql;
using catalog_sql::Rows;
using catalog_sql::WhereClause;

constexpr const char* kOrder = " ORDER BY creation_time DESC, image_id";

// An image's place in a listing: newest first, ties by id; and its row.
struct ImageKey {
  int64_t creation_time = 0;
  std::string image_id;
  int64_t rowid = 0;
};

bool ComesBefore(const ImageKey& a, const ImageKey& b) {
  if (a.creation_time != b.creation_time) return a.creation_time > b.creation_time;
  return a.image_id < b.image_id;
}

// Deep pages without walking from the first row (issue 12: no OFFSET
// scans). A page at offset N steps through the N index entries before it.
// Each pooled reader connection remembers, per listing shape (its streams'
// SQL and parameters), the key of the row at every kMarkEvery-th position
// and at each page's start that its walks passed; a later walk of the same
// shape starts at the nearest remembered position at or before its offset,
// seeking the streams to that key. The marks are valid while the
// connection's PRAGMA data_version stays the same: it changes when any
// other connection (the writer, another process) commits, and a reader
// never writes (query_only), so every change to the rows drops them all.
constexpr uint64_t kMarkEvery = 128;
// Per connection: a position is a map node with a key of ~22 bytes, about
// 130 bytes in all, so at most ~0.5 MiB; enough for 500,000 rows of a shape.
constexpr size_t kMaxMarks = 4096;

struct ListingMarks;

// One listing shape's remembered positions in a connection's marks: what a
// walk reads its start from and adds the keys it passes to. Empty when the
// connection holds as many positions as it may and the shape is new.
struct ShapePositions {
  ListingMarks* marks = nullptr;
  std::map<uint64_t, ImageKey>* positions = nullptr;

  explicit operator bool() const { return positions != nullptr; }
  void Remember(uint64_t position, const ImageKey& key) const;
};

struct ListingMarks final : SqliteDb::Attachment {
  int64_t data_version = -1;
  size_t count = 0;
  // shape -> position in the listing -> the key of the row at it
  std::unordered_map<std::string, std::map<uint64_t, ImageKey>> shapes;

  // The marks of `db`, emptied if another connection committed since they
  // were made; inside the read transaction.
  static Result<ListingMarks*> Of(SqliteDb& db) {
    std::unique_ptr<SqliteDb::Attachment>& slot = db.attachment();
    if (!slot) slot = std::make_unique<ListingMarks>();
    auto* marks = static_cast<ListingMarks*>(slot.get());
    ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare("PRAGMA data_version"));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) return Internal("PRAGMA data_version of " + db.path() + " returned no row");
    const int64_t version = stmt.ColumnInt(0);
    if (version != marks->data_version) {
      marks->shapes.clear();
      marks->count = 0;
      marks->data_version = version;
    }
    return marks;
  }

  // The positions remembered for `shape`, made empty if new; none for a new
  // shape once the connection holds as many as it may (a shape's text
  // counts as four). Nothing is dropped before the next commit: a full
  // connection still serves what it has.
  ShapePositions Positions(const std::string& shape) {
    if (auto it = shapes.find(shape); it != shapes.end()) return {this, &it->second};
    if (count + 4 > kMaxMarks) return {};
    count += 4;
    return {this, &shapes[shape]};
  }
};

void ShapePositions::Remember(uint64_t position, const ImageKey& key) const {
  if (marks->count < kMaxMarks && positions->emplace(position, key).second) ++marks->count;
}

// A listing's shape: its streams' SQL and parameters, which decide its rows
// and their order.
std::string ShapeOf(const std::vector<std::string>& sqls, const std::vector<std::vector<SqlValue>>& params) {
  std::string shape;
  for (size_t i = 0; i < sqls.size(); ++i) {
    shape += sqls[i];
    for (const SqlValue& v : params[i]) {
      shape += '\x1f';
      if (const auto* text = std::get_if<std::string>(&v)) {
        shape += 's' + std::to_string(text->size()) + ':' + *text;
      } else if (const auto* n = std::get_if<int64_t>(&v)) {
        shape += 'i' + std::to_string(*n);
      } else {
        shape += 'o';  // NULL or a blob: listings bind neither
      }
    }
    shape += '\x1e';
  }
  return shape;
}

// A running statement that yields rows in listing order. Its rows are either
// (image_id, creation_time, rowid) or, when `whole`, every image column.
class ImageStream {
 public:
  static Result<ImageStream> Open(SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& params,
                                  bool whole) {
    ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
    RETURN_IF_ERROR(stmt.BindAll(params));
    ImageStream s(std::move(stmt), whole);
    RETURN_IF_ERROR(s.Advance());
    return s;
  }

  bool done() const { return done_; }
  const ImageKey& key() const { return key_; }
  // The current row into `r`; only for a `whole` stream.
  Status DecodeInto(ImageRecord& r) const { return catalog_sql::DecodeImageRowInto(stmt_, r); }

  Status Advance() {
    ASSIGN_OR_RETURN(bool row, stmt_.Step());
    done_ = !row;
    if (row) {
      // Assigned in place: a deep page steps through thousands of keys.
      key_.image_id.assign(stmt_.ColumnView(0));
      key_.creation_time = stmt_.ColumnInt(whole_ ? catalog_sql::kImageCreationTimeColumn : 1);
      if (!whole_) key_.rowid = stmt_.ColumnInt(2);
    }
    return Status::Ok();
  }

 private:
  ImageStream(SqliteStatement stmt, bool whole) : stmt_(std::move(stmt)), whole_(whole) {}
  SqliteStatement stmt_;
  bool whole_;
  bool done_ = false;
  ImageKey key_;
};

bool HasTag(const Tags& tags, const std::pair<std::string, std::string>& wanted) {
  return std::find(tags.begin(), tags.end(), wanted) != tags.end();
}

// The filters a stream's SQL does not apply, tested on the whole row.
bool MatchesRowFilters(const ImageRecord& r, const ImageQuery& q) {
  if (!q.name_contains.empty() && r.name.find(q.name_contains) == std::string::npos) return false;
  if (!q.name.empty() && r.name != q.name) return false;
  if (!q.statuses.empty() && std::find(q.statuses.begin(), q.statuses.end(), r.status) == q.statuses.end()) {
    return false;
  }
  if (!q.snapshot_id.empty() && std::none_of(r.disks.begin(), r.disks.end(), [&](const DiskMapping& d) {
        return d.snapshot_id == q.snapshot_id;
      })) {
    return false;
  }
  return std::all_of(q.tags.begin(), q.tags.end(), [&](const auto& tag) { return HasTag(r.tags, tag); });
}

Result<uint64_t> SingleInt(SqliteDb& db, const std::string& sql, const std::vector<SqlValue>& params) {
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(sql));
  RETURN_IF_ERROR(stmt.BindAll(params));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? catalog_sql::FromSql(stmt.ColumnInt(0)) : 0;
}

// Who may see what: the owners whose images are visible (deduplicated) and
// whether images shared with the caller are too. No account = everything.
struct Visibility {
  bool everyone = false;
  std::vector<std::string> owners;
  bool shared = false;
  std::string account_id;

  explicit Visibility(const ImageQuery& q) : account_id(q.account_id) {
    if (q.account_id.empty()) {
      everyone = true;
      return;
    }
    if (q.include_self) owners.push_back(q.account_id);
    if (q.include_system && !Owns(kSystemAccountId)) owners.push_back(kSystemAccountId);
    shared = q.include_shared;
  }
  bool none() const { return !everyone && owners.empty() && !shared; }
  bool Owns(const std::string& account) const {
    return std::find(owners.begin(), owners.end(), account) != owners.end();
  }
};

// Merges `streams` in listing order, keeps the rows that pass `keep` (for
// whole rows: it decodes the row into the record it is given and says whether
// the row is kept), and cuts the page [offset, offset + limit). With
// `count_all` it walks every row to count the matches; otherwise it stops at
// the page's end and leaves `total` to the caller.
//
// `start` is the listing position of the streams' first rows (they were
// sought past the rows before it). With `remember`, the keys of the rows at
// every kMarkEvery-th position and at `offset` are added to it.
template <typename Keep>
Result<Page<ImageRecord>> Merge(SqliteDb& db, std::vector<ImageStream>& streams, uint64_t offset,
                                uint64_t limit, bool whole, const Keep& keep, bool count_all,
                                uint64_t start = 0, ShapePositions remember = {}) {
  Page<ImageRecord> page;
  // Records are large: moving them all as the vector grows cost more than
  // the room (a page is at most 100 through the API).
  page.items.reserve(limit != 0 ? std::min<uint64_t>(limit, 1000) : 0);
  std::vector<int64_t> rowids;  // the page's rows, when the streams carry keys only
  // A row is decoded where it will stay: in its place in the page, or, off
  // the page, into one record reused for every such row (records are large:
  // moving each through results and optionals cost more than its decoding).
  ImageRecord off_page;
  uint64_t matched = start;
  while (true) {
    ImageStream* next = nullptr;
    for (ImageStream& s : streams) {
      if (!s.done() && (next == nullptr || ComesBefore(s.key(), next->key()))) next = &s;
    }
    if (next == nullptr) break;
    const bool in_page = matched >= offset && (limit == 0 || matched - offset < limit);
    if (whole) {
      ImageRecord& row = in_page ? page.items.emplace_back() : off_page;
      ASSIGN_OR_RETURN(bool kept, keep(*next, row));
      if (kept) {
        ++matched;
      } else if (in_page) {
        page.items.pop_back();
      }
    } else {
      if (remember && (matched % kMarkEvery == 0 || matched == offset))
        remember.Remember(matched, next->key());
      if (in_page) rowids.push_back(next->key().rowid);
      ++matched;
    }
    if (!count_all && limit != 0 && matched >= offset + limit) break;
    RETURN_IF_ERROR(next->Advance());
  }
  page.total = matched;
  // The page's rows one rowid lookup each (the index entries the streams
  // walked carry it): a statement reused for every row costs less than
  // "image_id IN (...)", for which SQLite builds a temporary b-tree every
  // time, and skips the primary-key index.
  if (rowids.empty()) return page;
  ASSIGN_OR_RETURN(SqliteStatement stmt, db.Prepare(catalog_sql::ImageSelectSql() + " WHERE rowid = ?"));
  for (int64_t rowid : rowids) {
    RETURN_IF_ERROR(stmt.Reset());
    RETURN_IF_ERROR(stmt.BindInt(1, rowid));
    ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) continue;  // cannot happen inside the read transaction
    RETURN_IF_ERROR(catalog_sql::DecodeImageRowInto(stmt, page.items.emplace_back()));
  }
  return page;
}

// ListImages inside one read transaction of `db`, for what `vis` shows;
// `any_share`: whether image_shares holds any row at all; `own_connection`:
// `db` is a pooled reader's, which may keep ListingMarks.
Result<Page<ImageRecord>> ListImagesIn(SqliteDb& db, const ImageQuery& q, Visibility vis, bool any_share,
                                       bool own_connection) {
  // Most callers have no image shared with them: one probe of
  // image_shares_account spares the shared stream and its count (none at
  // all in the region spares the probe too).
  if (vis.shared && !any_share) {
    vis.shared = false;
    if (vis.none()) return Page<ImageRecord>{};
  }
  if (vis.shared) {
    ASSIGN_OR_RETURN(uint64_t any_shared,
                     SingleInt(db, "SELECT EXISTS (SELECT 1 FROM image_shares WHERE account_id = ?)",
                               {vis.account_id}));
    vis.shared = any_shared != 0;
    if (vis.none()) return Page<ImageRecord>{};
  }
  static const std::string columns = ImageColumnsSql();
  auto is_shared = [&](const std::string& image_id) -> Result<bool> {
    ASSIGN_OR_RETURN(uint64_t n,
                     SingleInt(db, "SELECT COUNT(*) FROM image_shares WHERE image_id = ? AND account_id = ?",
                               {image_id, vis.account_id}));
    return n > 0;
  };
  auto visible = [&](const ImageRecord& r) -> Result<bool> {
    if (vis.everyone || vis.Owns(r.account_id)) return true;
    if (!vis.shared) return false;
    return is_shared(r.image_id);
  };

  // By image id, or by snapshot: a stream of candidates whose rows are
  // fetched and tested whole. Both are short.
  if (!q.image_id.empty() || !q.snapshot_id.empty()) {
    std::vector<ImageStream> streams;
    if (!q.image_id.empty()) {
      ASSIGN_OR_RETURN(ImageStream s,
                       ImageStream::Open(db, "SELECT " + columns + " FROM images WHERE image_id = ?",
                                         {q.image_id}, true));
      streams.push_back(std::move(s));
    } else {
      ASSIGN_OR_RETURN(ImageStream s,
                       ImageStream::Open(db,
                                         "SELECT " + ImageColumnsSql("i.") + " FROM image_snapshots s JOIN images i ON "
                                         "i.image_id = s.image_id WHERE s.snapshot_id = ? ORDER BY "
                                         "s.creation_time DESC, s.image_id",
                                         {q.snapshot_id}, true));
      streams.push_back(std::move(s));
    }
    auto keep = [&](const ImageStream& s, ImageRecord& r) -> Result<bool> {
      RETURN_IF_ERROR(s.DecodeInto(r));
      if (!MatchesRowFilters(r, q)) return false;
      return visible(r);
    };
    return Merge(db, streams, q.offset, q.limit, true, keep, q.count_total);
  }

  // Otherwise one stream per owner and status, one for shared images.
  const bool row_filter = !q.name_contains.empty() || !q.tags.empty();
  // The first page reads whole rows straight from its streams, each stream
  // one statement stepping (one row beyond the page at most); a rowid lookup
  // per row would reset a statement, and free its buffers, per row. Deeper
  // pages step through key-only index entries to their offset and then look
  // their rows up.
  const bool whole = row_filter || (q.offset == 0 && q.limit != 0);
  const std::string select = "SELECT " + (whole ? columns : std::string("image_id, creation_time, rowid"));
  auto with_name = [&](WhereClause where) {
    // "name <> ''" lets SQLite use the partial index images_account_name.
    if (!q.name.empty()) where.Add("name = ? AND name <> ''", {q.name});
    return where;
  };
  auto shared_where = [&]() {
    WhereClause where;
    where.Add(catalog_sql::SharedWithAccountSql(), {vis.account_id});
    where.AddIn("status", q.statuses);
    if (!vis.owners.empty()) {
      where.Add("account_id NOT IN (" + WhereClause::Placeholders(vis.owners.size()) + ")",
                WhereClause::Values(vis.owners));
    }
    return with_name(std::move(where));
  };
  std::vector<WhereClause> sources;
  if (vis.everyone) {
    WhereClause where;
    where.AddIn("status", q.statuses);
    sources.push_back(with_name(std::move(where)));
  }
  for (const std::string& owner : vis.owners) {
    if (q.statuses.empty()) {
      WhereClause where;
      where.Add("account_id = ?", {owner});
      sources.push_back(with_name(std::move(where)));
    }
    for (const std::string& status : q.statuses) {
      WhereClause where;
      where.Add("account_id = ?", {owner});
      where.Add("status = ?", {status});
      sources.push_back(with_name(std::move(where)));
    }
  }
  if (vis.shared) sources.push_back(shared_where());
  // By name, an owner's stream holds at most one image (names are unique
  // per account; images_account_name finds it), so it needs no order, and
  // ordering would make SQLite walk the owner's images in order instead.
  // Images shared with the caller may share a name: that stream keeps it.
  // A deep page starts at the nearest position this connection remembers
  // for the listing (ListingMarks), every stream sought to its key.
  ShapePositions remembered;
  uint64_t start = 0;
  std::optional<ImageKey> seek;
  if (!whole && q.name.empty() && own_connection) {
    std::vector<std::string> sqls;
    std::vector<std::vector<SqlValue>> params;
    for (const WhereClause& where : sources) {
      sqls.push_back(where.Sql());
      params.push_back(where.params());
    }
    ASSIGN_OR_RETURN(ListingMarks * marks, ListingMarks::Of(db));
    remembered = marks->Positions(ShapeOf(sqls, params));
    if (remembered) {  // otherwise full: a new shape walks from the first row
      auto at = remembered.positions->upper_bound(q.offset);
      if (at != remembered.positions->begin()) {
        --at;
        start = at->first;
        seek = at->second;
      }
    }
  }
  std::vector<ImageStream> streams;
  for (size_t i = 0; i < sources.size(); ++i) {
    const bool shared_stream = vis.shared && i + 1 == sources.size();
    const std::string order = q.name.empty() || shared_stream || vis.everyone ? kOrder : "";
    WhereClause where = sources[i];
    // The index range from the key's time; its ties before it are stepped.
    if (seek) where.Add("creation_time <= ?", {seek->creation_time});
    ASSIGN_OR_RETURN(ImageStream s,
                     ImageStream::Open(db, select + " FROM images" + where.Sql() + order, where.params(), whole));
    while (seek && !s.done() && ComesBefore(s.key(), *seek)) RETURN_IF_ERROR(s.Advance());
    streams.push_back(std::move(s));
  }
  auto keep = [&](const ImageStream& s, ImageRecord& r) -> Result<bool> {
    RETURN_IF_ERROR(s.DecodeInto(r));
    return MatchesRowFilters(r, q);
  };
  // A name is unique per account, so a listing by name is short: count it
  // by walking it. Otherwise the counts table answers.
  const bool count_by_walking = row_filter || !q.name.empty();
  ASSIGN_OR_RETURN(Page<ImageRecord> page, Merge(db, streams, q.offset, q.limit, whole, keep,
                                                 count_by_walking && q.count_total, start, remembered));
  if (count_by_walking || !q.count_total) return page;

  // One sum per owner: "account_id IN (?, ?)" would have SQLite build a
  // temporary b-tree for the list on every call.
  auto counted = [&](const std::string* owner) -> Result<uint64_t> {
    WhereClause where;
    if (owner != nullptr) where.Add("account_id = ?", {*owner});
    where.AddIn("status", q.statuses);
    return SingleInt(db, "SELECT COALESCE(SUM(n), 0) FROM image_counts" + where.Sql(), where.params());
  };
  uint64_t total = 0;
  if (vis.everyone) {
    ASSIGN_OR_RETURN(total, counted(nullptr));
  }
  for (const std::string& owner : vis.owners) {
    ASSIGN_OR_RETURN(uint64_t n, counted(&owner));
    total += n;
  }
  if (vis.shared) {
    const WhereClause where = shared_where();
    ASSIGN_OR_RETURN(uint64_t shared, SingleInt(db, "SELECT COUNT(*) FROM images" + where.Sql(), where.params()));
    total += shared;
  }
  page.total = total;
  return page;
}

// ImageQuery::fill_view, in the listing's read transaction: one lookup per
// own image (only if any image is shared at all: `any_share`) and per
// distinct snapshot of the page, instead of the read transactions of
// SharedImageIds and DescribeSnapshots (three, and a COUNT).
Status FillView(SqliteDb& db, const ImageQuery& q, std::vector<ImageRecord>& images, bool any_share) {
  if (any_share && !q.account_id.empty()) {
    ASSIGN_OR_RETURN(SqliteStatement shared, db.Prepare("SELECT 1 FROM image_shares WHERE image_id = ? LIMIT 1"));
    for (ImageRecord& image : images) {
      if (image.account_id != q.account_id) continue;
      RETURN_IF_ERROR(shared.Reset());
      RETURN_IF_ERROR(shared.BindText(1, image.image_id));
      ASSIGN_OR_RETURN(image.is_self_shared, shared.Step());
    }
  }
  // Encrypted as DescribeSnapshots would show it to the caller: a snapshot of
  // its own, or one that is a disk of an image shared with it.
  std::map<std::string, bool> encrypted;  // by snapshot id; images made from one snapshot share it
  for (const ImageRecord& image : images) {
    for (const DiskMapping& disk : image.disks) {
      if (!disk.snapshot_id.empty()) encrypted.emplace(disk.snapshot_id, false);
    }
  }
  if (encrypted.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(SqliteStatement snapshot,
                   db.Prepare("SELECT account_id FROM snapshots WHERE snapshot_id = ? AND encrypted <> 0"));
  ASSIGN_OR_RETURN(SqliteStatement via_share,
                   db.Prepare("SELECT EXISTS (SELECT 1 FROM image_snapshots s JOIN image_shares h ON "
                              "h.image_id = s.image_id WHERE s.snapshot_id = ? AND h.account_id = ?)"));
  for (auto& [snapshot_id, visible] : encrypted) {
    RETURN_IF_ERROR(snapshot.Reset());
    RETURN_IF_ERROR(snapshot.BindText(1, snapshot_id));
    ASSIGN_OR_RETURN(bool is_encrypted, snapshot.Step());
    if (!is_encrypted) continue;
    visible = q.account_id.empty() || snapshot.ColumnView(0) == q.account_id;
    if (!visible && any_share) {
      RETURN_IF_ERROR(via_share.Reset());
      RETURN_IF_ERROR(via_share.BindText(1, snapshot_id));
      RETURN_IF_ERROR(via_share.BindText(2, q.account_id));
      ASSIGN_OR_RETURN(bool row, via_share.Step());
      visible = row && via_share.ColumnInt(0) != 0;
    }
  }
  catalog_sql::MarkEncryptedDisks(encrypted, images);
  return Status::Ok();
}

}  // namespace

Result<Page<ImageRecord>> SqliteCatalog::ListImages(const ImageQuery& q) {
  const Visibility vis(q);
  if (vis.none()) return Page<ImageRecord>{};
  ASSIGN_OR_RETURN(ReadLease reader, Reader());
  SqliteDb& db = reader.db();
  // One read transaction, so that the streams, the counts and the page's
  // rows all see the same commit.
  Page<ImageRecord> page;
  RETURN_IF_ERROR(catalog_sql::InReadTransaction(db, [&]() -> Status {
    // One probe for the listing and the view: most regions share nothing.
    uint64_t any_share = 0;
    if (vis.shared || q.fill_view) {
      ASSIGN_OR_RETURN(any_share, SingleInt(db, "SELECT EXISTS (SELECT 1 FROM image_shares)", {}));
    }
    ASSIGN_OR_RETURN(page, ListImagesIn(db, q, vis, any_share != 0, reader.own_connection()));
    if (q.fill_view) RETURN_IF_ERROR(FillView(db, q, page.items, any_share != 0));
    return Status::Ok();
  }));
  return page;
}

}  // namespace ferry
