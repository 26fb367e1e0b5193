#include "copy/chunk_budget.h"

#include <algorithm>
#include <string>
#include <utility>

#include "store/chunk_format.h"
#include "store/manifest.h"

namespace ferry {

ChunkBudget::Reservation::Reservation(Reservation&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

ChunkBudget::Reservation& ChunkBudget::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    Reset();
    budget_ = std::exchange(other.budget_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void ChunkBudget::Reservation::ShrinkTo(uint64_t bytes) {
  if (budget_ == nullptr || bytes >= bytes_) return;
  budget_->Give(bytes_ - bytes);
  bytes_ = bytes;
}

void ChunkBudget::Reservation::Reset() {
  if (budget_ != nullptr && bytes_ > 0) budget_->Give(bytes_);
  budget_ = nullptr;
  bytes_ = 0;
}

ChunkBudget::StoreTurn::StoreTurn(ChunkBudget& budget) : budget_(budget) {
  std::unique_lock<std::mutex> lock(budget_.mu_);
  budget_.cv_.wait(lock, [this] { return budget_.stores_ < budget_.max_stores_; });
  ++budget_.stores_;
}

ChunkBudget::StoreTurn::~StoreTurn() {
  {
    std::lock_guard<std::mutex> lock(budget_.mu_);
    --budget_.stores_;
  }
  budget_.cv_.notify_all();
}

ChunkBudget::ChunkBudget(uint64_t bytes, unsigned max_stores)
    : capacity_(std::max<uint64_t>(1, bytes)), max_stores_(std::max(1u, max_stores)) {}

Result<ChunkBudget::Reservation> ChunkBudget::Reserve(uint64_t bytes, const std::function<bool()>& stopped) {
  if (bytes == 0) return Reservation();
  std::unique_lock<std::mutex> lock(mu_);
  const uint64_t ticket = next_ticket_++;
  line_.push_back(ticket);
  for (;;) {
    // in_use_ exceeds the capacity only while an oversized reservation
    // runs alone.
    const bool fits = in_use_ == 0 || (in_use_ <= capacity_ && bytes <= capacity_ - in_use_);
    if (line_.front() == ticket && fits) break;
    if (stopped && stopped()) {
      line_.erase(std::find(line_.begin(), line_.end(), ticket));
      // The one behind may be first in line now.
      cv_.notify_all();
      return Cancelled("stopped while waiting for " + std::to_string(bytes) + " bytes of chunk buffers (" +
                       std::to_string(in_use_) + " of " + std::to_string(capacity_) + " in use)");
    }
    cv_.wait_for(lock, kStopPollInterval);
  }
  line_.pop_front();
  in_use_ += bytes;
  peak_ = std::max(peak_, in_use_);
  // The next in line may fit as well.
  if (!line_.empty()) cv_.notify_all();
  return Reservation(this, bytes);
}

uint64_t ChunkBudget::in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

uint64_t ChunkBudget::peak() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

size_t ChunkBudget::waiting() const {
  std::lock_guard<std::mutex> lock(mu_);
  return line_.size();
}

void ChunkBudget::Give(uint64_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_use_ -= bytes;
  }
  cv_.notify_all();
}

BufferPool& ChunkReceiveBuffers() {
  static BufferPool pool(MaxChunkObjectSize(kDefaultChunkSize), 8);
  return pool;
}

}  // namespace ferry
