// Shared by the libFuzzer targets of tests/fuzz: an invariant check that
// aborts (libFuzzer then saves the input as a crash artifact) and a cursor
// that splits one fuzz input into several fields.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

// An invariant every input must keep; failing it is a finding like a crash.
#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

namespace ferry::fuzz {

// Fields separated by a NUL byte: the seeds stay readable text files and
// the fuzzer can grow or shrink any field.
class Fields {
 public:
  Fields(const uint8_t* data, size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}
  // The next field (the rest of the input when there is no NUL left).
  std::string Next() {
    size_t nul = rest_.find('\0');
    std::string out(rest_.substr(0, nul));
    rest_ = nul == std::string_view::npos ? std::string_view() : rest_.substr(nul + 1);
    return out;
  }
  bool empty() const { return rest_.empty(); }

 private:
  std::string_view rest_;
};

inline std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace ferry::fuzz
