#include "catalog/sqlite_db.h"

#include <sqlite3.h>

#include <exception>
#include <mutex>
#include <utility>

namespace ferry {
namespace {

// Statement text in error messages is cut here: enough to recognise the
// statement without flooding a log line.
constexpr size_t kMaxSqlInMessage = 120;

std::string ShortSql(const char* sql) {
  std::string s = sql ? sql : "";
  if (s.size() > kMaxSqlInMessage) s = s.substr(0, kMaxSqlInMessage) + "...";
  return s;
}

Code CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
        return Code::kAlreadyExists;
      }
      return Code::kFailedPrecondition;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Code::kUnavailable;
    case SQLITE_FULL:
      return Code::kResourceExhausted;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Code::kDataLoss;
    default:
      return Code::kInternal;
  }
}

}  // namespace

// --- SqliteStatement ---

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

SqliteStatement& SqliteStatement::operator=(SqliteStatement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) db_->Release(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

SqliteStatement::~SqliteStatement() {
  if (stmt_ != nullptr) db_->Release(stmt_);
}

Status SqliteStatement::BindText(int index, std::string_view value) {
  int rc = sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) return db_->Error(rc, "bind #" + std::to_string(index));
  return Status::Ok();
}

Status SqliteStatement::BindInt(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) return db_->Error(rc, "bind #" + std::to_string(index));
  return Status::Ok();
}

Status SqliteStatement::BindBlob(int index, const std::vector<uint8_t>& value) {
  // A zero-length blob bound from a null pointer would read back as NULL;
  // bind an explicit empty blob instead so "" and NULL stay distinct.
  int rc = value.empty() ? sqlite3_bind_zeroblob(stmt_, index, 0)
                         : sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) return db_->Error(rc, "bind #" + std::to_string(index));
  return Status::Ok();
}

Status SqliteStatement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) return db_->Error(rc, "bind #" + std::to_string(index));
  return Status::Ok();
}

Status SqliteStatement::Bind(int index, const SqlValue& value) {
  if (std::holds_alternative<int64_t>(value)) return BindInt(index, std::get<int64_t>(value));
  if (std::holds_alternative<std::string>(value)) {
    return BindText(index, std::get<std::string>(value));
  }
  if (std::holds_alternative<std::vector<uint8_t>>(value)) {
    return BindBlob(index, std::get<std::vector<uint8_t>>(value));
  }
  return BindNull(index);
}

Status SqliteStatement::BindAll(const std::vector<SqlValue>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    RETURN_IF_ERROR(Bind(static_cast<int>(i + 1), values[i]));
  }
  return Status::Ok();
}

Result<bool> SqliteStatement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc, "step [" + ShortSql(sqlite3_sql(stmt_)) + "]");
}

Status SqliteStatement::Run() {
  while (true) {
    ASSIGN_OR_RETURN(bool row, Step());
    if (!row) return Status::Ok();
  }
}

Status SqliteStatement::Reset() {
  // sqlite3_reset repeats the error of the last step; that error was already
  // reported by Step(), so only the clearing matters here.
  sqlite3_reset(stmt_);
  int rc = sqlite3_clear_bindings(stmt_);
  if (rc != SQLITE_OK) return db_->Error(rc, "clear bindings");
  return Status::Ok();
}

std::string SqliteStatement::ColumnText(int col) const { return std::string(ColumnView(col)); }

std::string_view SqliteStatement::ColumnView(int col) const {
  const unsigned char* text = sqlite3_column_text(stmt_, col);
  if (!text) return {};
  int len = sqlite3_column_bytes(stmt_, col);
  return std::string_view(reinterpret_cast<const char*>(text), static_cast<size_t>(len));
}

int64_t SqliteStatement::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }

std::vector<uint8_t> SqliteStatement::ColumnBlob(int col) const {
  const void* data = sqlite3_column_blob(stmt_, col);
  int len = sqlite3_column_bytes(stmt_, col);
  if (!data || len <= 0) return {};
  const auto* bytes = static_cast<const uint8_t*>(data);
  return std::vector<uint8_t>(bytes, bytes + len);
}

bool SqliteStatement::ColumnIsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

// --- SqliteDb ---

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  // No statistics of SQLite's allocations: they take a process-wide mutex on
  // every malloc and free. Only possible before SQLite initializes itself;
  // refused (and harmless) after.
  static std::once_flag no_memstatus;
  std::call_once(no_memstatus, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* raw = nullptr;
  // NOMUTEX: a connection is used by one thread at a time (the contract in
  // sqlite_db.h, kept by its owners' locks and leases), so SQLite's own
  // per-connection mutex, taken by every sqlite3_column_* call, buys nothing.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  // sqlite3_open_v2 hands back a handle even on failure; it must be closed.
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw, path));
  if (rc != SQLITE_OK) {
    if (!raw) return Internal("sqlite open " + path + ": out of memory");
    return db->Error(rc, "open");
  }
  sqlite3_extended_result_codes(raw, 1);
  RETURN_IF_ERROR(db->ApplyPragmas());
  return db;
}

Status SqliteDb::ApplyPragmas() {
  int rc = sqlite3_busy_timeout(db_, kBusyTimeoutMs);
  if (rc != SQLITE_OK) return Error(rc, "set busy timeout");

  // journal_mode answers with the mode actually in force; a file that cannot
  // use WAL (e.g. on a file system without shared memory) must not silently
  // fall back to a mode with different durability and concurrency.
  ASSIGN_OR_RETURN(SqliteStatement wal, Prepare("PRAGMA journal_mode=WAL"));
  ASSIGN_OR_RETURN(bool has_row, wal.Step());
  std::string mode = has_row ? wal.ColumnText(0) : "";
  bool in_memory = path_ == ":memory:" || path_.empty();
  if (mode != "wal" && !(in_memory && mode == "memory")) {
    return Internal("sqlite " + path_ + ": journal_mode is '" + mode + "', expected 'wal'");
  }
  return Exec("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmts] : idle_) {
    for (sqlite3_stmt* stmt : stmts) sqlite3_finalize(stmt);
  }
  sqlite3_close_v2(db_);
}

void SqliteDb::Release(sqlite3_stmt* stmt) {
  if (step_counter_ != nullptr) {
    step_counter_->fetch_add(static_cast<uint64_t>(sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 1)));
  }
  // A reset ends the statement's read of the database; its result code
  // repeats an error the statement already reported.
  (void)sqlite3_reset(stmt);
  (void)sqlite3_clear_bindings(stmt);
  const char* sql = sqlite3_sql(stmt);
  if (sql == nullptr || idle_count_ >= kMaxIdleStatements) {
    sqlite3_finalize(stmt);
    return;
  }
  idle_[sql].push_back(stmt);
  ++idle_count_;
}

Status SqliteDb::Error(int rc, std::string_view op) const {
  const char* msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  return Status(
      CodeFor(rc), "",
      "sqlite " + std::string(op) + " on " + path_ + ": " + msg + " (code " + std::to_string(rc) + ")");
}

Status SqliteDb::Exec(const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return Status(CodeFor(rc), "",
                "sqlite exec [" + ShortSql(sql.c_str()) + "] on " + path_ + ": " + msg + " (code " +
                    std::to_string(rc) + ")");
}

Result<SqliteStatement> SqliteDb::Prepare(const std::string& sql) {
  if (auto it = idle_.find(sql); it != idle_.end() && !it->second.empty()) {
    sqlite3_stmt* stmt = it->second.back();
    it->second.pop_back();
    --idle_count_;
    return SqliteStatement(this, stmt);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return Error(rc, "prepare [" + ShortSql(sql.c_str()) + "]");
  }
  return SqliteStatement(this, stmt);
}

int64_t SqliteDb::changes() const { return sqlite3_changes64(db_); }

Status SqliteDb::Migrate(const std::vector<std::string>& steps, const MigrationHooks& hooks) {
  const int64_t target = static_cast<int64_t>(steps.size());
  while (true) {
    bool done = false;
    Status st = Transact([&]() -> Status {
      // Read inside the write transaction: another process may have migrated
      // while we waited for the lock.
      int64_t version = 0;
      {
        // Finished before the step runs: DROP refuses while a statement is active.
        ASSIGN_OR_RETURN(SqliteStatement q, Prepare("PRAGMA user_version"));
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (row) version = q.ColumnInt(0);
      }
      if (version > target) {
        return FailedPrecondition("", "database " + path_ + " has schema version " + std::to_string(version) +
                                          ", newer than this program supports (" + std::to_string(target) +
                                          ")");
      }
      if (version == target) {
        done = true;
        return Status::Ok();
      }
      RETURN_IF_ERROR(Exec(steps[static_cast<size_t>(version)])
                          .WithContext("schema migration to version " + std::to_string(version + 1)));
      if (auto hook = hooks.find(version + 1); hook != hooks.end()) {
        RETURN_IF_ERROR(hook->second(*this).WithContext("schema migration to version " +
                                                         std::to_string(version + 1)));
      }
      // PRAGMA takes no parameters; the value is our own integer.
      return Exec("PRAGMA user_version = " + std::to_string(version + 1));
    });
    RETURN_IF_ERROR(st);
    if (done) return Status::Ok();
  }
}

Status SqliteDb::Transact(const std::function<Status()>& fn) {
  const bool outer = depth_ == 0;
  // Savepoint names only need to be unique among the open nesting levels.
  const std::string savepoint = "ferry_sp_" + std::to_string(depth_);
  RETURN_IF_ERROR(Exec(outer ? "BEGIN IMMEDIATE" : "SAVEPOINT " + savepoint));
  ++depth_;

  auto rollback = [&]() {
    // A failed rollback leaves nothing better to report than fn's own error;
    // for the outer level SQLite has already rolled back if the transaction
    // was aborted by an I/O error.
    if (outer) {
      (void)Exec("ROLLBACK");
    } else {
      (void)Exec("ROLLBACK TO " + savepoint);
      (void)Exec("RELEASE " + savepoint);
    }
  };

  Status st;
  try {
    st = fn();
  } catch (...) {
    --depth_;
    rollback();
    throw;
  }
  --depth_;
  if (!st.ok()) {
    rollback();
    return st;
  }
  // Some errors (I/O, disk full) make SQLite roll the whole transaction back
  // on its own; if fn swallowed one, what follows ran outside any transaction
  // and must not be reported as committed atomically.
  if (sqlite3_get_autocommit(db_)) {
    return Aborted("", "transaction on " + path_ + " was rolled back by SQLite after an earlier error");
  }
  Status end = Exec(outer ? "COMMIT" : "RELEASE " + savepoint);
  if (!end.ok()) {
    rollback();
    return end;
  }
  return Status::Ok();
}

}  // namespace ferry
