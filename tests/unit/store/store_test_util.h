// Helpers shared by the store unit tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/ids.h"

namespace ferry::testing_util {

// A fresh directory under the test temp dir, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() : path_(::testing::TempDir() + "ferry-store-" + RandomHex(8)) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Incompressible bytes, deterministic per seed.
inline std::vector<uint8_t> RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out(n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    for (int b = 0; b < 8; ++b) out[i + b] = static_cast<uint8_t>(v >> (8 * b));
  }
  for (; i < n; ++i) out[i] = static_cast<uint8_t>(rng());
  return out;
}

// Text-like bytes that zstd compresses well.
inline std::vector<uint8_t> CompressibleBytes(size_t n, uint64_t seed) {
  static const char kWords[][8] = {"ferry ", "chunk ", "image ", "store ", "region ", "disk "};
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> out;
  out.reserve(n);
  while (out.size() < n) {
    const char* w = kWords[rng() % 6];
    for (const char* c = w; *c != '\0' && out.size() < n; ++c) out.push_back(static_cast<uint8_t>(*c));
  }
  return out;
}

}  // namespace ferry::testing_util
