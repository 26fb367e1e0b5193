#include "catalog/pg_db.h"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <regex>
#include <utility>

namespace ferry {

namespace {

// Taken by every Migrate transaction, so that nodes starting at once apply
// each step once ("Ferry" in ASCII).
constexpr int64_t kMigrationLock = 0x4665727279;

// At most one line a second, however many requests fail at once (a database
// that went away fails every one of them).
void LogDetailsRateLimited(const std::string& text) {
  static std::atomic<int64_t> next{0};
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
  int64_t due = next.load();
  if (now < due || !next.compare_exchange_strong(due, now + 1)) return;
  spdlog::warn("catalog database: {}", text);
}

// libpq's messages end with a newline.
std::string Trimmed(const char* message) {
  std::string text = message != nullptr ? message : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

Code CodeForSqlState(std::string_view state) {
  if (state == "23505") return Code::kAlreadyExists;                // unique_violation
  if (state.starts_with("23")) return Code::kFailedPrecondition;    // other integrity constraints
  if (state == "40001" || state == "40P01") return Code::kAborted;  // serialization, deadlock
  if (state.starts_with("08") || state.starts_with("57P")) return Code::kUnavailable;  // connection, shutdown
  if (state.starts_with("53")) return Code::kResourceExhausted;  // disk full, out of memory
  return Code::kInternal;
}

}  // namespace

// ------------------------------------------------------------------ PgRows

PgRows::PgRows(pg_result* result) : result_(result), rows_(PQntuples(result)), columns_(PQnfields(result)) {
  const char* touched = PQcmdTuples(result);
  if (touched != nullptr && *touched != '\0') {
    std::from_chars(touched, touched + std::char_traits<char>::length(touched), affected_);
  }
}

PgRows::PgRows(PgRows&& other) noexcept
    : result_(std::exchange(other.result_, nullptr)),
      rows_(std::exchange(other.rows_, 0)),
      columns_(std::exchange(other.columns_, 0)),
      affected_(std::exchange(other.affected_, 0)) {}

PgRows& PgRows::operator=(PgRows&& other) noexcept {
  if (this != &other) {
    if (result_ != nullptr) PQclear(result_);
    result_ = std::exchange(other.result_, nullptr);
    rows_ = std::exchange(other.rows_, 0);
    columns_ = std::exchange(other.columns_, 0);
    affected_ = std::exchange(other.affected_, 0);
  }
  return *this;
}

PgRows::~PgRows() {
  if (result_ != nullptr) PQclear(result_);
}

bool PgRows::IsNull(int row, int column) const { return PQgetisnull(result_, row, column) != 0; }

std::string_view PgRows::Text(int row, int column) const {
  return std::string_view(PQgetvalue(result_, row, column),
                          static_cast<size_t>(PQgetlength(result_, row, column)));
}

Result<int64_t> PgRows::Int(int row, int column) const {
  const std::string_view text = Text(row, column);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return DataLoss("column " + std::string(PQfname(result_, column)) + " holds \"" + std::string(text) +
                    "\", not an integer");
  }
  return value;
}

Result<std::vector<uint8_t>> PgRows::Bytes(int row, int column) const {
  size_t length = 0;
  unsigned char* bytes =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(result_, row, column)), &length);
  if (bytes == nullptr) {
    return DataLoss("column " + std::string(PQfname(result_, column)) + " is not readable as BYTEA");
  }
  std::vector<uint8_t> out(bytes, bytes + length);
  PQfreemem(bytes);
  return out;
}

int64_t PgRow::ColumnInt(int column) const {
  Result<int64_t> value = rows_.Int(row_, column);
  return value.ok() ? *value : 0;
}

std::vector<uint8_t> PgRow::ColumnBlob(int column) const {
  if (rows_.IsNull(row_, column)) return {};
  Result<std::vector<uint8_t>> bytes = rows_.Bytes(row_, column);
  return bytes.ok() ? std::move(bytes).value() : std::vector<uint8_t>();
}

// -------------------------------------------------------------------- PgDb

Result<std::unique_ptr<PgDb>> PgDb::Connect(const std::string& uri) {
  pg_conn* conn = PQconnectdb(uri.c_str());
  if (conn == nullptr) return ResourceExhausted("", "libpq could not allocate a connection");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = Trimmed(PQerrorMessage(conn));
    PQfinish(conn);
    return Unavailable("cannot connect to PostgreSQL at " + Redacted(uri) + ": " + message);
  }
  // Notices ("relation already exists, skipping") are not errors; libpq would
  // print each on stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  std::string where =
      "PostgreSQL database " + std::string(PQdb(conn)) + " on " + PQhost(conn) + ":" + PQport(conn);
  return std::unique_ptr<PgDb>(new PgDb(conn, std::move(where)));
}

PgDb::~PgDb() { PQfinish(conn_); }

std::string PgDb::Redacted(const std::string& uri) {
  static const std::regex userinfo(R"(^(postgres(?:ql)?://[^:/@?]*:)[^@/?]*@)");
  static const std::regex keyword(R"((password\s*=\s*)('[^']*'|[^&\s]*))");
  return std::regex_replace(std::regex_replace(uri, userinfo, "$1***@"), keyword, "$1***");
}

std::string PgDb::Numbered(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 1;
  char quote = 0;  // inside '...' or "..."
  for (char c : sql) {
    if (quote != 0) {
      if (c == quote) quote = 0;  // a doubled quote closes and reopens: the same
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '?') {
      out += '$';
      out += std::to_string(next++);
    } else {
      out += c;
    }
  }
  return out;
}

void PgDb::LogDetails(const std::string& text) { LogDetailsRateLimited(text); }

bool PgDb::Alive() {
  if (PQstatus(conn_) != CONNECTION_OK) return false;
  // An idle connection is owed nothing: anything to read (a termination
  // notice, the end of the stream) means the server is closing it.
  pollfd pending{PQsocket(conn_), POLLIN, 0};
  return ::poll(&pending, 1, 0) == 0;
}

bool PgDb::broken() const { return PQstatus(conn_) == CONNECTION_BAD; }

Status PgDb::ErrorOf(pg_result* result, std::string_view what) const {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = Trimmed(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) message = Trimmed(PQerrorMessage(conn_));
  Code code = state != nullptr ? CodeForSqlState(state) : Code::kInternal;
  if (PQstatus(conn_) == CONNECTION_BAD) code = Code::kUnavailable;
  std::string text = std::string(what) + " on " + where_ + ": " + message;
  if (state != nullptr) text += " (SQLSTATE " + std::string(state) + ")";
  if (details_in_log_) {
    LogDetails(text);
    text = code == Code::kUnavailable ? "the region's database cannot be reached"
                                      : "the region's database refused a statement";
    if (state != nullptr) text += " (SQLSTATE " + std::string(state) + ")";
  }
  return Status(code, "", std::move(text));
}

Status PgDb::Exec(const std::string& sql) {
  pg_result* result = PQexec(conn_, sql.c_str());
  const ExecStatusType st = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    PQclear(result);
    return Status::Ok();
  }
  Status error = ErrorOf(result, "a statement failed");
  if (result != nullptr) PQclear(result);
  return error;
}

Result<PgRows> PgDb::Query(const std::string& sql, const std::vector<SqlValue>& params) {
  std::vector<std::string> texts(params.size());
  std::vector<const char*> values(params.size(), nullptr);
  std::vector<int> lengths(params.size(), 0);
  std::vector<int> formats(params.size(), 0);
  for (size_t i = 0; i < params.size(); ++i) {
    if (const auto* n = std::get_if<int64_t>(&params[i])) {
      texts[i] = std::to_string(*n);
      values[i] = texts[i].c_str();
    } else if (const auto* s = std::get_if<std::string>(&params[i])) {
      values[i] = s->c_str();  // text: no embedded NUL (PostgreSQL text cannot hold one)
    } else if (const auto* b = std::get_if<std::vector<uint8_t>>(&params[i])) {
      static const char kEmpty = 0;
      values[i] = b->empty() ? &kEmpty : reinterpret_cast<const char*>(b->data());
      lengths[i] = static_cast<int>(b->size());
      formats[i] = 1;  // binary: the bytes as they are
    }
  }
  pg_result* result = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                                   values.data(), lengths.data(), formats.data(), 0);
  const ExecStatusType st = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return PgRows(result);
  Status error = ErrorOf(result, "a statement failed");
  if (result != nullptr) PQclear(result);
  return error;
}

Status PgDb::Transact(const std::function<Status()>& fn) {
  RETURN_IF_ERROR(Exec("BEGIN"));
  Status st = fn();
  if (st.ok()) return Exec("COMMIT");
  // The statement's own error says what went wrong; a failed rollback only
  // means the connection is gone, which the next call reports.
  (void)Exec("ROLLBACK");
  return st;
}

Result<int64_t> PgDb::SchemaVersion() {
  ASSIGN_OR_RETURN(PgRows exists, Query("SELECT to_regclass('ferry_schema') IS NOT NULL"));
  if (exists.Text(0, 0) != "t") return int64_t{0};
  ASSIGN_OR_RETURN(PgRows rows, Query("SELECT version FROM ferry_schema"));
  if (rows.empty()) return int64_t{0};
  return rows.Int(0, 0);
}

Status PgDb::Migrate(const std::vector<std::string>& steps) {
  const int64_t target = static_cast<int64_t>(steps.size());
  while (true) {
    bool done = false;
    RETURN_IF_ERROR(Transact([&]() -> Status {
      // Held to the transaction's end: another node's migration waits here,
      // then reads the version this one committed.
      RETURN_IF_ERROR(Query("SELECT pg_advisory_xact_lock($1)", {kMigrationLock}).status());
      RETURN_IF_ERROR(Exec("CREATE TABLE IF NOT EXISTS ferry_schema (version BIGINT NOT NULL)"));
      ASSIGN_OR_RETURN(PgRows rows, Query("SELECT version FROM ferry_schema"));
      int64_t version = 0;
      if (rows.empty()) {
        RETURN_IF_ERROR(Exec("INSERT INTO ferry_schema (version) VALUES (0)"));
      } else {
        ASSIGN_OR_RETURN(version, rows.Int(0, 0));
      }
      if (version > target) {
        return FailedPrecondition("", where_ + " has schema version " + std::to_string(version) +
                                          ", newer than this program supports (" + std::to_string(target) +
                                          ")");
      }
      if (version == target) {
        done = true;
        return Status::Ok();
      }
      RETURN_IF_ERROR(Exec(steps[static_cast<size_t>(version)])
                          .WithContext("schema migration to version " + std::to_string(version + 1)));
      return Query("UPDATE ferry_schema SET version = $1", {version + 1}).status();
    }));
    if (done) return Status::Ok();
  }
}

}  // namespace ferry
