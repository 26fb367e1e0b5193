// ChunkBudget: the memory every copy of a process may hold in chunk
// buffers, shared by all of them, so a process's memory is set by its
// configuration and not by how many copies run or wait.
//
// Two limits, both process-wide:
//  - bytes: a fetch reserves room for the chunk object it is about to
//    receive (Reserve) before asking for it, and holds it until the chunk is
//    stored or dropped. A fetch that does not fit waits, holding nothing
//    else, until earlier ones give bytes back.
//  - stores: at most `max_stores` received chunks are verified and written at
//    once (StoreTurn); each needs a chunk-sized scratch buffer in the store,
//    and a few cores keep up with any number of copies.
//
// Order: reservations are granted first come, first served, so a large one
// is not passed over forever by smaller ones. A reservation larger than the
// whole budget is granted when it is first in line and nothing else is
// held: it proceeds alone instead of never. A holder of a StoreTurn never
// waits for bytes, so waiting for a turn while holding bytes cannot
// deadlock.
//
// Threading: thread-safe; the budget must outlive every Reservation and
// StoreTurn taken from it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "common/buffer_pool.h"
#include "common/status.h"

namespace ferry {

class ChunkBudget {
 public:
  // Bytes of a reservation, given back when it is destroyed or Reset.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept;
    Reservation& operator=(Reservation&& other) noexcept;
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { Reset(); }

    uint64_t bytes() const { return bytes_; }
    // Gives back all but `bytes` (no-op unless it holds more): a fetch
    // reserves the largest object it may receive and keeps what came.
    void ShrinkTo(uint64_t bytes);
    void Reset();

   private:
    friend class ChunkBudget;
    Reservation(ChunkBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    ChunkBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  // One of the `max_stores` store turns, given back when destroyed.
  class StoreTurn {
   public:
    explicit StoreTurn(ChunkBudget& budget);  // waits for a turn
    StoreTurn(const StoreTurn&) = delete;
    StoreTurn& operator=(const StoreTurn&) = delete;
    ~StoreTurn();

   private:
    ChunkBudget& budget_;
  };

  // `bytes` >= 1 and `max_stores` >= 1 (0 is taken as 1).
  ChunkBudget(uint64_t bytes, unsigned max_stores);
  ChunkBudget(const ChunkBudget&) = delete;
  ChunkBudget& operator=(const ChunkBudget&) = delete;

  // Waits until `bytes` can be held (see Order above). `stopped` (may be
  // empty) is asked before each wait and every kStopPollInterval while
  // waiting, with the budget's lock held (it must not call the budget):
  // when it returns true the wait ends with kCancelled and nothing held.
  // `bytes` 0 is granted at once.
  Result<Reservation> Reserve(uint64_t bytes, const std::function<bool()>& stopped);

  uint64_t capacity() const { return capacity_; }
  unsigned max_stores() const { return max_stores_; }
  uint64_t in_use() const;
  // The most bytes ever held at once.
  uint64_t peak() const;
  // Reserve calls waiting now.
  size_t waiting() const;

  // How often a waiting Reserve asks `stopped`: cancelling a copy is a flag
  // that nobody signals here.
  static constexpr auto kStopPollInterval = std::chrono::milliseconds(50);

 private:
  void Give(uint64_t bytes);

  const uint64_t capacity_;
  const unsigned max_stores_;
  mutable std::mutex mu_;
  std::condition_variable cv_;  // bytes given back, a store turn freed, the line moved
  uint64_t in_use_ = 0;         // guarded by mu_
  uint64_t peak_ = 0;           // guarded by mu_
  std::deque<uint64_t> line_;   // tickets of waiting Reserve calls, oldest first; guarded by mu_
  uint64_t next_ticket_ = 0;    // guarded by mu_
  unsigned stores_ = 0;         // store turns held; guarded by mu_
};

// The process's pool of buffers for chunk objects received from peers
// (common/buffer_pool.h): eight buffers, each the largest object of a
// default-size (4 MiB) chunk, what one copy keeps in flight. A fetch takes
// its buffer here (PeerClient) and the pull gives it back once the chunk is
// stored; the pull reserves the buffer's capacity (CapacityFor) in its
// ChunkBudget, not just the object's size.
BufferPool& ChunkReceiveBuffers();

}  // namespace ferry
