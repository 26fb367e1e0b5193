// CatchAll: the one guard at the entry points of threads that run request
// handlers and tasks, so that no exception ends the process.
// Thread-safe: a pure function of its argument.
#pragma once

#include <exception>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "common/status.h"

namespace ferry {

// Runs fn() (returning Status or void) and turns any exception that escapes
// it into a kInternal Status naming `what`: std::bad_alloc as "out of
// memory", another std::exception with its what(). Code below the entry
// points still reports failures as values; this is the net under it.
template <typename Fn>
Status CatchAll(std::string_view what, Fn&& fn) {
  try {
    if constexpr (std::is_void_v<std::invoke_result_t<Fn>>) {
      std::forward<Fn>(fn)();
      return Status::Ok();
    } else {
      return std::forward<Fn>(fn)();
    }
  } catch (const std::bad_alloc&) {
    return Internal(std::string(what) + ": out of memory");
  } catch (const std::exception& e) {
    return Internal(std::string(what) + ": unexpected exception: " + e.what());
  } catch (...) {
    return Internal(std::string(what) + ": unexpected non-standard exception");
  }
}

}  // namespace ferry
