#include "catalog/pg_pool.h"

namespace ferry {

Result<std::unique_ptr<PgPool>> PgPool::Open(const std::string& uri, size_t max,
                                             std::chrono::milliseconds wait) {
  std::unique_ptr<PgPool> pool(new PgPool(uri, std::max<size_t>(max, 1), wait));
  ASSIGN_OR_RETURN(std::unique_ptr<PgDb> db, PgDb::Connect(uri));
  pool->open_ = 1;
  pool->idle_.push_back(std::move(db));
  return pool;
}

Result<std::unique_ptr<PgDb>> PgPool::Take() {
  std::unique_lock<std::mutex> lock(mu_);
  const bool ready = idle_cv_.wait_for(lock, wait_, [&] { return !idle_.empty() || open_ < max_; });
  if (!ready) {
    const std::string busy = "all " + std::to_string(max_) +
                             " connections to the region's database stayed busy for " +
                             std::to_string(wait_.count()) + " ms";
    if (serving_) PgDb::LogDetails(PgDb::Redacted(uri_) + ": " + busy);
    return Unavailable(busy);
  }
  std::unique_ptr<PgDb> db;
  if (!idle_.empty()) {
    db = std::move(idle_.back());
    idle_.pop_back();
    if (!db->Alive()) {
      // Closed by the server while idle, and so most likely every other.
      open_ -= 1 + idle_.size();
      idle_.clear();
      db.reset();
    }
  }
  if (!db) {
    ++open_;
    lock.unlock();
    Result<std::unique_ptr<PgDb>> connected = PgDb::Connect(uri_);
    if (!connected.ok()) {
      lock.lock();
      --open_;
      idle_cv_.notify_one();
      if (!serving_) return connected.status();
      PgDb::LogDetails(connected.status().message());
      return Unavailable("the region's database cannot be reached");
    }
    db = std::move(connected).value();
  }
  if (serving_) db->KeepDetailsInLog();
  return db;
}

void PgPool::Give(std::unique_ptr<PgDb> db) {
  std::lock_guard<std::mutex> lock(mu_);
  if (db->broken()) {
    // The server went away or cut this node off: the idle connections are
    // most likely dead too, and each would fail one more request.
    open_ -= 1 + idle_.size();
    idle_.clear();
  } else {
    idle_.push_back(std::move(db));
  }
  idle_cv_.notify_one();
}

Result<PgPool::Lease> PgPool::Lend() {
  ASSIGN_OR_RETURN(std::unique_ptr<PgDb> db, Take());
  return Lease(this, std::move(db));
}

}  // namespace ferry
