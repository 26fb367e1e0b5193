#include "copy/chunk_budget.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "poll_until.h"

namespace ferry {
namespace {

using Reservation = ChunkBudget::Reservation;
using testing_util::PollUntil;

Reservation MustReserve(ChunkBudget& budget, uint64_t bytes) {
  Result<Reservation> r = budget.Reserve(bytes, nullptr);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : Reservation();
}

// Reserve(bytes) on a thread of its own; the result is read after join().
class Waiter {
 public:
  Waiter(ChunkBudget& budget, uint64_t bytes, const std::atomic<bool>* stop = nullptr)
      : thread_([this, &budget, bytes, stop] {
          Result<Reservation> r = budget.Reserve(bytes, [stop] { return stop != nullptr && stop->load(); });
          std::lock_guard<std::mutex> lock(mu_);
          result_.emplace(std::move(r));
        }) {}
  ~Waiter() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() {
    std::lock_guard<std::mutex> lock(mu_);
    return result_.has_value();
  }
  Result<Reservation>& Join() {
    thread_.join();
    return *result_;
  }

 private:
  std::mutex mu_;
  std::optional<Result<Reservation>> result_;  // guarded by mu_
  std::thread thread_;
};

TEST(ChunkBudgetTest, ReservationsWithinTheBudgetAreGrantedAtOnceAndGivenBackWhenDropped) {
  ChunkBudget budget(10, 1);
  {
    Reservation a = MustReserve(budget, 3);
    Reservation b = MustReserve(budget, 7);
    EXPECT_EQ(a.bytes(), 3u);
    EXPECT_EQ(budget.in_use(), 10u);
    Reservation moved = std::move(a);
    EXPECT_EQ(a.bytes(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    EXPECT_EQ(budget.in_use(), 10u) << "a move gives nothing back";
  }
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_EQ(budget.peak(), 10u);
}

TEST(ChunkBudgetTest, ZeroBytesAreGrantedEvenWhenTheBudgetIsFull) {
  ChunkBudget budget(4, 1);
  Reservation all = MustReserve(budget, 4);
  Reservation none = MustReserve(budget, 0);
  EXPECT_EQ(none.bytes(), 0u);
  EXPECT_EQ(budget.in_use(), 4u);
}

TEST(ChunkBudgetTest, AReservationThatDoesNotFitWaitsUntilBytesAreGivenBack) {
  ChunkBudget budget(10, 1);
  Reservation held = MustReserve(budget, 8);
  Waiter waiter(budget, 5);
  ASSERT_TRUE(PollUntil([&] { return budget.waiting() == 1; }));
  EXPECT_FALSE(waiter.done()) << "8 + 5 bytes do not fit in 10";

  held.Reset();
  Result<Reservation>& got = waiter.Join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->bytes(), 5u);
  EXPECT_EQ(budget.in_use(), 5u);
  EXPECT_EQ(budget.waiting(), 0u);
}

TEST(ChunkBudgetTest, ShrinkingAReservationLetsAWaiterIn) {
  ChunkBudget budget(10, 1);
  Reservation held = MustReserve(budget, 10);
  Waiter waiter(budget, 4);
  ASSERT_TRUE(PollUntil([&] { return budget.waiting() == 1; }));

  held.ShrinkTo(6);
  EXPECT_EQ(held.bytes(), 6u);
  ASSERT_TRUE(waiter.Join().ok());
  EXPECT_EQ(budget.in_use(), 10u);
  held.ShrinkTo(9);  // growing is not shrinking: nothing changes
  EXPECT_EQ(held.bytes(), 6u);
}

TEST(ChunkBudgetTest, AReservationLargerThanTheBudgetRunsAloneInsteadOfNever) {
  ChunkBudget budget(10, 1);
  Reservation small = MustReserve(budget, 3);
  Waiter big(budget, 25);
  ASSERT_TRUE(PollUntil([&] { return budget.waiting() == 1; }));
  EXPECT_FALSE(big.done()) << "it waits for the budget to be empty";

  small.Reset();
  Result<Reservation>& got = big.Join();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(budget.in_use(), 25u);

  // While it runs, nothing else does.
  Waiter next(budget, 1);
  ASSERT_TRUE(PollUntil([&] { return budget.waiting() == 1; }));
  EXPECT_FALSE(next.done());
  got->Reset();
  ASSERT_TRUE(next.Join().ok());
  EXPECT_EQ(budget.in_use(), 1u);
}

TEST(ChunkBudgetTest, WaitersAreServedInTheOrderTheyCame) {
  ChunkBudget budget(10, 1);
  Reservation held = MustReserve(budget, 10);
  Reservation a_got, b_got;
  std::thread a([&] { a_got = MustReserve(budget, 8); });
  ASSERT_TRUE(PollUntil([&] { return budget.waiting() == 1; }));
  std::thread b([&] { b_got = MustReserve(budget, 3); });
  ASSERT_TRUE(PollUntil([&] { return budget.waiting() == 2; }));

  // Three bytes free: b would fit, but a came first.
  held.ShrinkTo(7);
  // A newcomer that fits is not served ahead of them either: asked once,
  // it gives up at once.
  Result<Reservation> newcomer = budget.Reserve(1, [] { return true; });
  EXPECT_EQ(newcomer.status().code(), Code::kCancelled) << newcomer.status().ToString();
  EXPECT_EQ(budget.waiting(), 2u);

  // All free: a (8) is served; b (3) no longer fits beside it and waits.
  // Had b gone first, 3 would be in use and a waiting.
  held.Reset();
  ASSERT_TRUE(PollUntil([&] { return budget.waiting() == 1 && budget.in_use() == 8; }));
  a.join();
  a_got.Reset();
  b.join();
  EXPECT_EQ(budget.in_use(), 3u);
}

TEST(ChunkBudgetTest, AStoppedWaiterHoldsNothingAndDoesNotBlockTheLineBehindIt) {
  ChunkBudget budget(10, 1);
  Reservation held = MustReserve(budget, 10);
  std::atomic<bool> stop{false};
  Waiter first(budget, 6, &stop);
  ASSERT_TRUE(PollUntil([&] { return budget.waiting() == 1; }));
  Waiter second(budget, 6);
  ASSERT_TRUE(PollUntil([&] { return budget.waiting() == 2; }));

  stop = true;
  Result<Reservation>& stopped = first.Join();
  EXPECT_EQ(stopped.status().code(), Code::kCancelled) << stopped.status().ToString();
  EXPECT_EQ(budget.in_use(), 10u);
  EXPECT_EQ(budget.waiting(), 1u);

  held.Reset();
  ASSERT_TRUE(second.Join().ok());
  EXPECT_EQ(budget.in_use(), 6u);
}

TEST(ChunkBudgetTest, AlreadyStoppedCallerThatFitsIsStillGranted) {
  // Stopping is for waits; a grant that needs none is not refused.
  ChunkBudget budget(10, 1);
  Result<Reservation> r = budget.Reserve(4, [] { return true; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(budget.in_use(), 4u);
}

TEST(ChunkBudgetTest, ManyThreadsNeverHoldMoreThanTheBudgetAndAllFinish) {
  constexpr uint64_t kCapacity = 16;
  ChunkBudget budget(kCapacity, 3);
  std::atomic<uint64_t> held{0};
  std::atomic<uint64_t> most_held{0};
  std::atomic<unsigned> storing{0};
  std::atomic<unsigned> most_storing{0};
  std::atomic<uint64_t> grants{0};
  auto raise = [](std::atomic<uint64_t>& most, uint64_t v) {
    uint64_t seen = most.load();
    while (v > seen && !most.compare_exchange_weak(seen, v)) {
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 24; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 300; ++i) {
        // Now and then one larger than the whole budget.
        const uint64_t want = i % 97 == 0 ? kCapacity + 5 : 1 + rng() % 6;
        Reservation r = MustReserve(budget, want);
        raise(most_held, held.fetch_add(want) + want);
        if (want <= kCapacity) {
          ASSERT_LE(held.load(), kCapacity);
        }
        {
          ChunkBudget::StoreTurn turn(budget);
          const unsigned now = storing.fetch_add(1) + 1;
          unsigned seen = most_storing.load();
          while (now > seen && !most_storing.compare_exchange_weak(seen, now)) {
          }
          std::this_thread::yield();
          storing.fetch_sub(1);
        }
        const uint64_t keep = r.bytes() / 2;
        held.fetch_sub(r.bytes() - keep);
        r.ShrinkTo(keep);
        held.fetch_sub(keep);
        r.Reset();
        grants.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(grants.load(), 24u * 300u);
  EXPECT_EQ(budget.in_use(), 0u);
  EXPECT_EQ(budget.waiting(), 0u);
  EXPECT_EQ(budget.peak(), kCapacity + 5) << "the oversized ones ran, alone";
  EXPECT_LE(most_storing.load(), 3u);
  EXPECT_GE(most_storing.load(), 1u);
}

TEST(ChunkBudgetTest, StoreTurnsAreLimitedAndAWaitingTurnStartsWhenOneEnds) {
  ChunkBudget budget(10, 2);
  EXPECT_EQ(budget.max_stores(), 2u);
  std::optional<ChunkBudget::StoreTurn> one(std::in_place, budget);
  ChunkBudget::StoreTurn two(budget);
  std::atomic<bool> third_in{false};
  std::thread third([&] {
    ChunkBudget::StoreTurn turn(budget);
    third_in = true;
  });
  // The third cannot be in while two turns are held.
  EXPECT_FALSE(third_in.load());
  one.reset();
  third.join();
  EXPECT_TRUE(third_in.load());
}

TEST(ChunkBudgetTest, ZeroLimitsAreTakenAsOne) {
  ChunkBudget budget(0, 0);
  EXPECT_EQ(budget.capacity(), 1u);
  EXPECT_EQ(budget.max_stores(), 1u);
  Reservation r = MustReserve(budget, 4);  // larger than the budget: alone
  EXPECT_EQ(budget.in_use(), 4u);
}

}  // namespace
}  // namespace ferry
