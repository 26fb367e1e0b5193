// IngestGate: pauses a region's ingests (imports, disk snapshots) at their
// first pinned chunk while armed, through RegionHooks::after_chunk_pinned,
// so a test can act while a task is surely Processing.
//
// Threading: thread-safe; Hook() runs on the ingest threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "store/chunk_id.h"

namespace ferry {

class IngestGate {
 public:
  // Holds every ingest that pins a chunk from now on, until Open().
  void Arm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    open_ = false;
    arrived_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      open_ = true;
      armed_ = false;
    }
    cv_.notify_all();
  }
  // Waits (up to 30 s) for an ingest to block; `id`: the chunk it holds.
  bool WaitArrived(ChunkId* id = nullptr) {
    std::unique_lock<std::mutex> lock(mu_);
    bool ok = cv_.wait_for(lock, std::chrono::seconds(30), [this] { return arrived_; });
    if (ok && id != nullptr) *id = chunk_;
    return ok;
  }
  // For RegionHooks::after_chunk_pinned.
  void Hook(const std::string& /*task_id*/, const ChunkId& id) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!armed_) return;
    if (!arrived_) chunk_ = id;
    arrived_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;    // guarded by mu_
  bool open_ = false;     // guarded by mu_
  bool arrived_ = false;  // guarded by mu_
  ChunkId chunk_{};       // guarded by mu_
};

}  // namespace ferry
