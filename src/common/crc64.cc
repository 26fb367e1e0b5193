#include "common/crc64.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

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

// The raw register (no initial value or final xor) after feeding `n` bytes:
// slicing-by-8.
uint64_t TableFeed(uint64_t c, const uint8_t* p, size_t n) {
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w = LoadLe64(p) ^ c;
    c = kTables[7][w & 0xff] ^ kTables[6][(w >> 8) & 0xff] ^ kTables[5][(w >> 16) & 0xff] ^
        kTables[4][(w >> 24) & 0xff] ^ kTables[3][(w >> 32) & 0xff] ^ kTables[2][(w >> 40) & 0xff] ^
        kTables[1][(w >> 48) & 0xff] ^ kTables[0][w >> 56];
  }
  for (; n > 0; --n, ++p) c = kTables[0][(c ^ *p) & 0xff] ^ (c >> 8);
  return c;
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

#if defined(__x86_64__)

// ---- Carry-less multiplication (PCLMULQDQ folding), derived from the math.
//
// Reflected representation: in a 64-bit register bit i is the coefficient
// of x^(63-i); in 16 message bytes loaded little-endian into a 128-bit lane,
// bit i is the coefficient of x^(127-i) (the first byte's low bit is the
// highest power, as the CRC reads it). The table loop keeps the raw register
// R = M * x^64 mod P for the message M fed so far; starting from a register
// c is the same as starting from 0 with c xored into the first 8 bytes.
//
// Folding: a lane X (degree < 128) followed by D more bytes stands for
// X * x^(8D). Split X = H * x^64 + L (H: the low quadword, the earlier 8
// bytes; L: the high one); then X * x^(8D) = H * x^(8D+64) + L * x^(8D),
// congruent mod P to H * (x^(8D+64) mod P) + L * (x^(8D) mod P), which has
// degree < 128, so it replaces X and is xored into the lane D bytes on.
// PCLMULQDQ of reflected 64-bit a (for A) and b (for B) sets bit k from the
// a_i b_j with i + j = k: the coefficient of x^(126-k) of A*B. Read as a
// reflected 128-bit lane that is A*B*x, one power too many, so the
// constants are x^(8D+63) mod P and x^(8D-1) mod P.
//
// At the end one lane X is left, and X ‖ tail is congruent (mod P, once
// multiplied by x^64) to everything fed, so the table loop finishes from a
// zero register: 16 bytes plus the tail.

// x^n mod P, reflected: multiplying by x is a right shift, and x^64 folds
// back in as the polynomial.
constexpr uint64_t XPowModP(unsigned n) {
  uint64_t v = uint64_t{1} << 63;  // x^0
  for (unsigned i = 0; i < n; ++i) v = (v & 1) ? (v >> 1) ^ kPoly : v >> 1;
  return v;
}

constexpr size_t kLanes = 4;
constexpr size_t kLaneBytes = 16;
constexpr size_t kStride = kLanes * kLaneBytes;  // bytes folded per round
// (low quadword constant, high quadword constant) for folding D bytes on.
constexpr uint64_t kFoldStrideLo = XPowModP(8 * kStride + 63);
constexpr uint64_t kFoldStrideHi = XPowModP(8 * kStride - 1);
constexpr uint64_t kFoldLaneLo = XPowModP(8 * kLaneBytes + 63);
constexpr uint64_t kFoldLaneHi = XPowModP(8 * kLaneBytes - 1);

__attribute__((target("pclmul,sse4.1"))) inline __m128i Fold(__m128i x, __m128i k, __m128i next) {
  const __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);  // H * (low constant)
  const __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);  // L * (high constant)
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

__attribute__((target("pclmul,sse4.1"))) uint64_t ClmulFeed(uint64_t c, const uint8_t* p, size_t n) {
  if (n < 2 * kStride) return TableFeed(c, p, n);
  const __m128i k_stride =
      _mm_set_epi64x(static_cast<long long>(kFoldStrideHi), static_cast<long long>(kFoldStrideLo));
  const __m128i k_lane =
      _mm_set_epi64x(static_cast<long long>(kFoldLaneHi), static_cast<long long>(kFoldLaneLo));
  __m128i lane[kLanes];
  for (size_t i = 0; i < kLanes; ++i)
    lane[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i * kLaneBytes));
  lane[0] = _mm_xor_si128(lane[0], _mm_cvtsi64_si128(static_cast<long long>(c)));
  p += kStride;
  n -= kStride;
  for (; n >= kStride; p += kStride, n -= kStride) {
    for (size_t i = 0; i < kLanes; ++i) {
      lane[i] =
          Fold(lane[i], k_stride, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i * kLaneBytes)));
    }
  }
  __m128i x = lane[0];
  for (size_t i = 1; i < kLanes; ++i) x = Fold(x, k_lane, lane[i]);
  for (; n >= kLaneBytes; p += kLaneBytes, n -= kLaneBytes) {
    x = Fold(x, k_lane, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  alignas(16) uint8_t last[kLaneBytes];
  _mm_store_si128(reinterpret_cast<__m128i*>(last), x);
  return TableFeed(TableFeed(0, last, kLaneBytes), p, n);
}

bool CpuHasClmul() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & bit_PCLMUL) != 0 && (ecx & bit_SSE4_1) != 0;
}

#else

uint64_t ClmulFeed(uint64_t c, const uint8_t* p, size_t n) { return TableFeed(c, p, n); }
bool CpuHasClmul() { return false; }

#endif

const bool kUseClmul = CpuHasClmul();

}  // namespace

namespace crc64_internal {

bool ClmulAvailable() { return kUseClmul; }

uint64_t UpdateTable(uint64_t crc, std::span<const uint8_t> data) {
  return ~TableFeed(~crc, data.data(), data.size());
}

uint64_t UpdateClmul(uint64_t crc, std::span<const uint8_t> data) {
  if (!kUseClmul) return UpdateTable(crc, data);
  return ~ClmulFeed(~crc, data.data(), data.size());
}

}  // namespace crc64_internal

uint64_t Crc64Update(uint64_t crc, std::span<const uint8_t> data) {
  return kUseClmul ? crc64_internal::UpdateClmul(crc, data) : crc64_internal::UpdateTable(crc, data);
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
