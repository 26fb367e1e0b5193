#include "common/parallel.h"

#include <atomic>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "common/catch_all.h"

namespace ferry {

Status ParallelFor(size_t count, unsigned threads, const std::string& label,
                   const std::function<Status(size_t)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  Status error;  // guarded by mu
  auto work = [&] {
    for (size_t i = next++; i < count; i = next++) {
      Status st = CatchAll(label, [&] { return fn(i); });
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (error.ok()) error = std::move(st);
        next = count;
        return;
      }
    }
  };
  std::vector<std::thread> helpers;
  for (unsigned t = 1; t < threads && t < count; ++t) {
    try {
      helpers.emplace_back(work);
    } catch (const std::system_error&) {
      break;  // fewer threads do it all
    }
  }
  work();
  for (std::thread& t : helpers) t.join();
  return error;
}

}  // namespace ferry
