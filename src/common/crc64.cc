#include "common/crc64.h"

#include <array>
#include <cstring>

namespace ferry {
namespace {

constexpr uint64_t kPoly = 0xC96C5795D7870F42ull;  // reflected

using Tables = std::array<std::array<uint64_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (uint64_t i = 0; i < 256; ++i) {
    uint64_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPoly : c >> 1;
    t[0][i] = c;
  }
  for (size_t s = 1; s < 8; ++s) {
    for (size_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
}

constexpr Tables kTables = MakeTables();

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // compilers fold this into one load
  return v;
}

// GF(2) 64x64 matrix (column i = image of bit i) times a vector.
uint64_t Gf2Times(const uint64_t* mat, uint64_t vec) {
  uint64_t sum = 0;
  for (; vec != 0; vec >>= 1, ++mat) {
    if (vec & 1) sum ^= *mat;
  }
  return sum;
}

void Gf2Square(uint64_t* square, const uint64_t* mat) {
  for (int n = 0; n < 64; ++n) square[n] = Gf2Times(mat, mat[n]);
}

// The operators for 2^k zero bytes, k = 0..63, each the square of the one
// before: built once, so that shifting by any count costs one matrix-vector
// product per set bit instead of squaring matrices on every call (a sparse
// export's CRC extends over tens of thousands of holes).
using Gf2Matrix = std::array<uint64_t, 64>;
const std::array<Gf2Matrix, 64>& ZeroByteOperators() {
  static const std::array<Gf2Matrix, 64> ops = [] {
    std::array<Gf2Matrix, 64> out{};
    Gf2Matrix one_bit{}, two_bits{}, four_bits{};
    one_bit[0] = kPoly;  // the operator for one zero bit
    uint64_t row = 1;
    for (int n = 1; n < 64; ++n, row <<= 1) one_bit[n] = row;
    Gf2Square(two_bits.data(), one_bit.data());
    Gf2Square(four_bits.data(), two_bits.data());
    Gf2Square(out[0].data(), four_bits.data());  // one zero byte
    for (size_t k = 1; k < out.size(); ++k) Gf2Square(out[k].data(), out[k - 1].data());
    return out;
  }();
  return ops;
}

// Multiplies a raw register by x^(8 * bytes) modulo the polynomial: what
// feeding `bytes` zero bytes does to it (zlib's crc32_combine scheme).
uint64_t ShiftByZeroBytes(uint64_t reg, uint64_t bytes) {
  const std::array<Gf2Matrix, 64>& ops = ZeroByteOperators();
  for (size_t k = 0; bytes != 0; ++k, bytes >>= 1) {
    if (bytes & 1) reg = Gf2Times(ops[k].data(), reg);
  }
  return reg;
}

}  // namespace

uint64_t Crc64Update(uint64_t crc, std::span<const uint8_t> data) {
  uint64_t c = ~crc;
  const uint8_t* p = data.data();
  size_t n = data.size();
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w = LoadLe64(p) ^ c;
    c = kTables[7][w & 0xff] ^ kTables[6][(w >> 8) & 0xff] ^ kTables[5][(w >> 16) & 0xff] ^
        kTables[4][(w >> 24) & 0xff] ^ kTables[3][(w >> 32) & 0xff] ^ kTables[2][(w >> 40) & 0xff] ^
        kTables[1][(w >> 48) & 0xff] ^ kTables[0][w >> 56];
  }
  for (; n > 0; --n, ++p) c = kTables[0][(c ^ *p) & 0xff] ^ (c >> 8);
  return ~c;
}

uint64_t Crc64(std::string_view data) {
  return Crc64(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

// The all-ones initial value and final xor cancel out (they are equal), so
// crc(A ‖ B) = x^(8|B|) * crc(A) + crc(B).
uint64_t Crc64Combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b) {
  return ShiftByZeroBytes(crc_a, len_b) ^ crc_b;
}

uint64_t Crc64ExtendZeros(uint64_t crc, uint64_t zeros) { return ~ShiftByZeroBytes(~crc, zeros); }

}  // namespace ferry
