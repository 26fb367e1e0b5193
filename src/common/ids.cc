#include "common/ids.h"

#include <openssl/rand.h>

#include <cstdint>
#include <vector>

#include "common/hash.h"

namespace ferry {
namespace {

std::vector<uint8_t> RandomBytes(size_t n) {
  std::vector<uint8_t> b(n);
  RAND_bytes(b.data(), static_cast<int>(n));
  return b;
}

std::string RandomFrom(std::string_view alphabet, size_t n) {
  std::string out;
  out.reserve(n);
  // Rejection sampling keeps the distribution uniform.
  const unsigned limit = 256 - (256 % alphabet.size());
  while (out.size() < n) {
    for (uint8_t byte : RandomBytes(n)) {
      if (byte >= limit) continue;
      out.push_back(alphabet[byte % alphabet.size()]);
      if (out.size() == n) break;
    }
  }
  return out;
}

}  // namespace

std::string NewResourceId(std::string_view prefix) {
  return std::string(prefix) + "-" + RandomFrom("abcdefghijklmnopqrstuvwxyz0123456789", 20);
}

std::string NewRequestId() {
  std::vector<uint8_t> b = RandomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  std::string hex = ToHex(std::span<const uint8_t>(b));
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

std::string RandomHex(size_t n) { return ToHex(std::span<const uint8_t>(RandomBytes(n))); }

std::string RandomAlnum(size_t n) {
  return RandomFrom("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", n);
}

std::string RandomDigits(size_t n) {
  if (n == 0) return "";
  return RandomFrom("123456789", 1) + RandomFrom("0123456789", n - 1);
}

bool LooksLikeResourceId(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 21) return false;
  if (id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '-') return false;
  for (char c : id.substr(prefix.size() + 1)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

}  // namespace ferry
