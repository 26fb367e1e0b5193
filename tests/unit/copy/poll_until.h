// PollUntil: for tests that wait for another thread to reach a state. Polls
// `done` until it holds or a generous deadline passes, so a hang shows as a
// failed expectation rather than a stuck test, and no test sleeps for a
// guessed time.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace ferry::testing_util {

inline bool PollUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace ferry::testing_util
