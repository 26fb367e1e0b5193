// ParallelFor: the one way Ferry spreads independent pieces of one job
// (parts of an upload, of a read, of a hash) over a few threads.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "common/status.h"

namespace ferry {

// Runs fn(0), ..., fn(count - 1) on up to `threads` threads, the caller's
// among them (fewer when no more can be made: then the caller does it all).
// The first error stops the pieces not yet started and is returned; an
// exception from fn is an error (CatchAll, `label` naming the job).
Status ParallelFor(size_t count, unsigned threads, const std::string& label,
                   const std::function<Status(size_t)>& fn);

}  // namespace ferry
