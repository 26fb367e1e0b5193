// PgPool: the connections to one PostgreSQL database that a node's
// catalog and nonce ledger take turns on. At most `max` are open; a caller
// waits up to `wait` for one, then gets kUnavailable. A connection handed
// back broken (PgDb::broken: the server went away or closed it) is dropped
// with every idle one (likely dead as well), so the next Take() connects
// anew: a restarted or failed-over server is reached again without
// restarting the node, and not one request per dead connection fails.
//
// Threading: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "catalog/pg_db.h"
#include "common/status.h"

namespace ferry {

class PgPool {
 public:
  // Connects once (so that a wrong URI fails here) and keeps the connection.
  static Result<std::unique_ptr<PgPool>> Open(const std::string& uri, size_t max,
                                              std::chrono::milliseconds wait = std::chrono::seconds(30));

  Result<std::unique_ptr<PgDb>> Take();
  void Give(std::unique_ptr<PgDb> db);

  // A connection for as long as it lives, given back at its end.
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgDb> db) : pool_(pool), db_(std::move(db)) {}
    Lease(Lease&&) noexcept = default;
    ~Lease() {
      if (db_) pool_->Give(std::move(db_));
    }
    PgDb& db() { return *db_; }
    PgDb* operator->() { return db_.get(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgDb> db_;
  };
  Result<Lease> Lend();

  const std::string& uri() const { return uri_; }

  // From now on the connections handed out keep their errors' details in
  // the log (PgDb::KeepDetailsInLog), and so does Take(): call it once the
  // node is set up, before it serves requests.
  void ServeCallers() { serving_ = true; }

 private:
  PgPool(std::string uri, size_t max, std::chrono::milliseconds wait)
      : uri_(std::move(uri)), max_(max), wait_(wait) {}

  const std::string uri_;
  const size_t max_;
  const std::chrono::milliseconds wait_;
  std::mutex mu_;
  std::condition_variable idle_cv_;
  std::vector<std::unique_ptr<PgDb>> idle_;  // guarded by mu_
  size_t open_ = 0;                          // open, idle or not; guarded by mu_
  std::atomic<bool> serving_{false};
};

}  // namespace ferry
