// SqliteDb: a small RAII wrapper over one SQLite connection. Every call
// returns a Status; SQLite result codes never leak past this file.
//
// Connections are opened for durability and for sharing a file between
// processes: WAL journal, synchronous=FULL (a COMMIT that returned survives
// power loss), foreign keys enforced, and a 5 s busy timeout so a second
// process holding the write lock briefly makes us wait instead of fail.
//
// Error mapping: a UNIQUE/PRIMARY KEY violation is kAlreadyExists, other
// constraint failures kFailedPrecondition, SQLITE_BUSY/LOCKED kUnavailable
// (retry later), SQLITE_FULL kResourceExhausted, SQLITE_CORRUPT/NOTADB
// kDataLoss, anything else kInternal. Reasons are left empty: callers that
// know what the failure means to a user set one.
//
// Prepared statements are kept for reuse: a statement handed back (its
// SqliteStatement destroyed) is reset and kept, at most kMaxIdleStatements
// per connection, and Prepare() of the same SQL text takes it again.
//
// Threading: a SqliteDb and its statements must be used by one thread at a
// time; the owner serializes access (SqliteCatalog with its mutex). Statements
// must not outlive the SqliteDb that prepared them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace ferry {

// A value bound to a `?` parameter. nullptr_t binds SQL NULL.
using SqlValue = std::variant<std::nullptr_t, int64_t, std::string, std::vector<uint8_t>>;

class SqliteDb;

class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameter indexes start at 1, as in SQL text order.
  Status BindText(int index, std::string_view value);
  Status BindInt(int index, int64_t value);
  Status BindBlob(int index, const std::vector<uint8_t>& value);
  Status BindNull(int index);
  Status Bind(int index, const SqlValue& value);
  // Binds values[i] to parameter i + 1.
  Status BindAll(const std::vector<SqlValue>& values);

  // Runs the statement one step: true when a row is ready to read, false when
  // the statement has finished.
  Result<bool> Step();
  // Steps until done, for statements that return no rows.
  Status Run();
  // Makes the statement runnable again, clearing all bindings.
  Status Reset();

  // Column indexes start at 0. NULL reads as "" / 0 / empty.
  std::string ColumnText(int col) const;
  // The text without a copy: valid until the next Step, Reset or column
  // call of another type on this column.
  std::string_view ColumnView(int col) const;
  int64_t ColumnInt(int col) const;
  std::vector<uint8_t> ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;

 private:
  friend class SqliteDb;
  SqliteStatement(SqliteDb* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  SqliteDb* db_;        // borrowed: for error messages
  sqlite3_stmt* stmt_;  // owned
};

class SqliteDb {
 public:
  static constexpr int kBusyTimeoutMs = 5000;

  // Opens (creating if needed) the database at `path` with the pragmas above.
  // ":memory:" opens a private in-memory database (no WAL), for tests.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);

  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  // Runs one or more `;`-separated statements without parameters.
  Status Exec(const std::string& sql);
  Result<SqliteStatement> Prepare(const std::string& sql);

  // Brings the schema up to date: `steps[i]` takes the schema from version i
  // to version i + 1 (PRAGMA user_version). Each step runs in its own
  // transaction, so a crash leaves the schema at a whole version; another
  // process migrating at the same time is serialized by the write lock.
  // A database newer than `steps.size()` is kFailedPrecondition.
  // `hooks[v]`, if present, runs after the SQL of the step to version v, in
  // the same transaction: for what SQL alone cannot do portably (filling a
  // new table from a JSON column).
  using MigrationHooks = std::map<int64_t, std::function<Status(SqliteDb&)>>;
  Status Migrate(const std::vector<std::string>& steps, const MigrationHooks& hooks = {});

  // Runs `fn` in a transaction (BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when
  // fn fails). A call made from inside `fn` joins the outer transaction as a
  // savepoint: its failure undoes only its own writes, and the outer
  // transaction decides whether to commit. An exception from `fn` rolls back
  // and propagates.
  Status Transact(const std::function<Status()>& fn);
  bool in_transaction() const { return depth_ > 0; }

  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t changes() const;
  // Adds the virtual-machine steps of every statement handed back from now
  // on to *counter: the work a query did, which tests compare across table
  // sizes to catch a lookup that scans (an index SQLite cannot use).
  void CountStepsInto(std::atomic<uint64_t>* counter) { step_counter_ = counter; }
  const std::string& path() const { return path_; }

  // One slot for what a user of this connection keeps with it (a cache that
  // is valid for this connection's PRAGMA data_version), dropped with it.
  struct Attachment {
    virtual ~Attachment() = default;
  };
  std::unique_ptr<Attachment>& attachment() { return attachment_; }

 private:
  friend class SqliteStatement;
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  // A Status for SQLite result `rc` of `op`, with the connection's message.
  Status Error(int rc, std::string_view op) const;
  // Takes back a statement from its SqliteStatement: reset, kept for reuse.
  void Release(sqlite3_stmt* stmt);
  Status ApplyPragmas();

  static constexpr size_t kMaxIdleStatements = 128;

  sqlite3* db_;  // owned
  std::string path_;
  std::unique_ptr<Attachment> attachment_;
  std::unordered_map<std::string, std::vector<sqlite3_stmt*>> idle_;  // owned; by SQL text
  size_t idle_count_ = 0;
  std::atomic<uint64_t>* step_counter_ = nullptr;
  int depth_ = 0;  // nesting of Transact calls
};

}  // namespace ferry
