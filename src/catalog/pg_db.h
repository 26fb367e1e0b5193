// PgDb: one connection to a PostgreSQL server (libpq), for a region's
// catalog shared by several nodes (issue 13). The counterpart of SqliteDb:
// statements with `$1`-style parameters bound from SqlValue, whole results,
// transactions, and versioned schema migrations that are safe when several
// nodes start at once.
//
// Errors: a server that cannot be reached or a connection that broke is
// kUnavailable (the caller may retry on a new connection); a unique or
// primary-key violation kAlreadyExists, another constraint
// kFailedPrecondition; a serialization failure or deadlock kAborted (the
// transaction may be retried whole); anything else kInternal, with the
// server's SQLSTATE and message.
//
// Threading: a connection is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/sqlite_db.h"  // SqlValue
#include "common/status.h"

struct pg_conn;
struct pg_result;

namespace ferry {

// The rows of one statement, every value as text (NULL is nullopt); BYTEA
// columns arrive decoded (raw bytes).
class PgRows {
 public:
  PgRows() = default;
  PgRows(PgRows&&) noexcept;
  PgRows& operator=(PgRows&&) noexcept;
  ~PgRows();

  int size() const { return rows_; }
  bool empty() const { return rows_ == 0; }
  int columns() const { return columns_; }
  bool IsNull(int row, int column) const;
  std::string_view Text(int row, int column) const;  // "" for NULL
  // The value as a signed 64-bit integer; kDataLoss if it is not one.
  Result<int64_t> Int(int row, int column) const;
  // A BYTEA column's bytes (the server sends them hex-encoded).
  Result<std::vector<uint8_t>> Bytes(int row, int column) const;
  // Rows a statement such as INSERT or UPDATE touched.
  uint64_t affected() const { return affected_; }

 private:
  friend class PgDb;
  explicit PgRows(pg_result* result);
  pg_result* result_ = nullptr;
  int rows_ = 0;
  int columns_ = 0;
  uint64_t affected_ = 0;
};

// One row of PgRows, read the way the catalogs' decoders read a
// SqliteStatement (catalog_rows.h): ColumnView, ColumnText, ColumnInt,
// ColumnBlob. The catalog's integer columns are BIGINT, so the server only
// ever sends integers for them; ColumnInt reads anything else as 0.
class PgRow {
 public:
  PgRow(const PgRows& rows, int row) : rows_(rows), row_(row) {}
  std::string_view ColumnView(int column) const { return rows_.Text(row_, column); }
  std::string ColumnText(int column) const { return std::string(ColumnView(column)); }
  int64_t ColumnInt(int column) const;
  // An empty vector for NULL (or, never from the server, unreadable hex).
  std::vector<uint8_t> ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const { return rows_.IsNull(row_, column); }

 private:
  const PgRows& rows_;
  int row_;
};

class PgDb {
 public:
  // Connects to `uri` (a libpq connection string or postgresql:// URI).
  // kUnavailable, naming the server but never the password, if it cannot.
  static Result<std::unique_ptr<PgDb>> Connect(const std::string& uri);
  ~PgDb();
  PgDb(const PgDb&) = delete;
  PgDb& operator=(const PgDb&) = delete;

  // Runs `sql`, which may hold several statements, with no parameters.
  Status Exec(const std::string& sql);
  // Runs one statement with `$1`, `$2`, ... bound to `params` in order
  // (strings as text, integers as decimal text, blobs as BYTEA).
  Result<PgRows> Query(const std::string& sql, const std::vector<SqlValue>& params = {});

  // Runs `fn` in a transaction: committed if it returns OK, rolled back
  // otherwise (its status is returned). Not nested.
  Status Transact(const std::function<Status()>& fn);

  // Brings the schema to version steps.size(): each step not yet applied
  // runs in order, in one transaction with its version. Several nodes
  // migrating at once take turns on a transaction-scoped advisory lock, so
  // each step runs exactly once; the version lives in ferry_schema. A
  // database newer than `steps` is kFailedPrecondition.
  Status Migrate(const std::vector<std::string>& steps);
  // The schema version Migrate reached (0 for a new database).
  Result<int64_t> SchemaVersion();

  // `uri` with any password replaced by "***", for logs and messages.
  static std::string Redacted(const std::string& uri);

  // `sql` with its '?' parameter marks (the catalogs' portable SQL) numbered
  // $1, $2, ... in order; a '?' inside a quoted literal or name stays.
  static std::string Numbered(std::string_view sql);

  // The connection broke (the server went away, or closed it): nothing more
  // will succeed on it; a pool drops it.
  bool broken() const;
  // Whether an idle connection is still usable, without a round trip: false
  // when the server sent anything while it sat idle (it is closing it: a
  // restart, an operator's pg_terminate_backend) or it broke.
  bool Alive();

  // From now on an error's details (the server, the database, the SQL, the
  // server's message) go to the log, rate-limited, and the Status says only
  // what failed in general terms, with its code and SQLSTATE: a node's
  // connections serve requests whose errors reach clients, who are not told
  // where the region keeps its records. Errors at start-up keep their
  // details, for the operator.
  void KeepDetailsInLog() { details_in_log_ = true; }
  // Logs what a client is not told (at most one line a second).
  static void LogDetails(const std::string& text);

 private:
  PgDb(pg_conn* conn, std::string where) : conn_(conn), where_(std::move(where)) {}
  Status ErrorOf(pg_result* result, std::string_view what) const;

  pg_conn* conn_;
  std::string where_;  // the server, for messages (no password)
  bool details_in_log_ = false;
};

}  // namespace ferry
