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
// Threading: a SqliteDb and its statements must be used by one thread at a
// time; the owner serializes access (SqliteCatalog with its mutex). Statements
// must not outlive the SqliteDb that prepared them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
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
  Status Migrate(const std::vector<std::string>& steps);

  // Runs `fn` in a transaction (BEGIN IMMEDIATE ... COMMIT, or ROLLBACK when
  // fn fails). A call made from inside `fn` joins the outer transaction as a
  // savepoint: its failure undoes only its own writes, and the outer
  // transaction decides whether to commit. An exception from `fn` rolls back
  // and propagates.
  Status Transact(const std::function<Status()>& fn);
  bool in_transaction() const { return depth_ > 0; }

  // Rows changed by the last INSERT/UPDATE/DELETE.
  int64_t changes() const;
  const std::string& path() const { return path_; }

 private:
  friend class SqliteStatement;
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}

  // A Status for SQLite result `rc` of `op`, with the connection's message.
  Status Error(int rc, std::string_view op) const;
  Status ApplyPragmas();

  sqlite3* db_;  // owned
  std::string path_;
  int depth_ = 0;  // nesting of Transact calls
};

}  // namespace ferry
