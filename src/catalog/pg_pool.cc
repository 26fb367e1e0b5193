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
    return Unavailable("all " + std::to_string(max_) + " connections to " + PgDb::Redacted(uri_) +
                       " stayed busy for " + std::to_string(wait_.count()) + " ms");
  }
  if (!idle_.empty()) {
    std::unique_ptr<PgDb> db = std::move(idle_.back());
    idle_.pop_back();
    return db;
  }
  ++open_;
  lock.unlock();
  Result<std::unique_ptr<PgDb>> db = PgDb::Connect(uri_);
  if (!db.ok()) {
    lock.lock();
    --open_;
    idle_cv_.notify_one();
  }
  return db;
}

void PgPool::Give(std::unique_ptr<PgDb> db) {
  std::lock_guard<std::mutex> lock(mu_);
  if (db->broken()) {
    --open_;
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
