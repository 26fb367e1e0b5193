#include "common/crc64.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ferry {
namespace {

TEST(Crc64Test, KnownValues) {
  // CRC-64/XZ check value, as OSS computes x-oss-hash-crc64ecma.
  EXPECT_EQ(Crc64("123456789"), 11051210869376104954ull);
  EXPECT_EQ(Crc64(""), 0u);
  EXPECT_EQ(Crc64("a"), 0x330284772E652B05ull);
  EXPECT_EQ(Crc64(std::string(1, '\0')), 0x1FADA17364673F59ull);
}

TEST(Crc64Test, SlicedAndBytewiseAgreeAtEveryLengthAndSplit) {
  std::mt19937_64 rng(42);
  std::string data(300, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  for (size_t n = 0; n <= data.size(); ++n) {
    const std::string prefix = data.substr(0, n);
    uint64_t bytewise = 0;
    for (char c : prefix)
      bytewise = Crc64Update(bytewise, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&c), 1));
    ASSERT_EQ(Crc64(prefix), bytewise) << n;
  }
}

TEST(Crc64Test, CombineEqualsTheCrcOfTheConcatenation) {
  std::mt19937_64 rng(7);
  for (size_t a_len : {0, 1, 7, 8, 100, 4096}) {
    for (size_t b_len : {0, 1, 9, 1000, 65537}) {
      std::string a(a_len, '\0'), b(b_len, '\0');
      for (char& c : a) c = static_cast<char>(rng());
      for (char& c : b) c = static_cast<char>(rng());
      EXPECT_EQ(Crc64Combine(Crc64(a), Crc64(b), b.size()), Crc64(a + b)) << a_len << "+" << b_len;
    }
  }
  // Three parts, folded left as a multipart completion does.
  const std::string p1(150000, 'x'), p2(102400, '\0'), p3 = "the end";
  uint64_t crc = Crc64Combine(Crc64Combine(Crc64(p1), Crc64(p2), p2.size()), Crc64(p3), p3.size());
  EXPECT_EQ(crc, Crc64(p1 + p2 + p3));
}

TEST(Crc64Test, ExtendingWithZerosEqualsHashingThem) {
  for (uint64_t zeros : {uint64_t{0}, uint64_t{1}, uint64_t{4096}, uint64_t{1000003}}) {
    const std::string head = "head bytes";
    EXPECT_EQ(Crc64ExtendZeros(Crc64(head), zeros), Crc64(head + std::string(zeros, '\0'))) << zeros;
  }
  // A 1 TiB hole costs a few matrix products, not a terabyte of hashing;
  // two half holes make the whole one.
  const uint64_t half = uint64_t{1} << 39;
  EXPECT_EQ(Crc64ExtendZeros(Crc64ExtendZeros(Crc64("x"), half), half),
            Crc64ExtendZeros(Crc64("x"), 2 * half));
  EXPECT_NE(Crc64ExtendZeros(Crc64("x"), half), Crc64ExtendZeros(Crc64("x"), 2 * half));
}

// The folding implementation against the table on random data, lengths,
// alignments and starting CRCs: every length up to a few strides (where
// the short-input, lane and tail paths meet) and random ones up to 1 MiB.
TEST(Crc64Test, CarrylessMultiplyAgreesWithTheTable) {
  if (!crc64_internal::ClmulAvailable()) GTEST_SKIP() << "this CPU has no PCLMULQDQ";
  std::mt19937_64 rng(2026);
  std::vector<uint8_t> data((1 << 20) + 64);
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  auto check = [&](size_t offset, size_t length, uint64_t start) {
    const std::span<const uint8_t> s(data.data() + offset, length);
    ASSERT_EQ(crc64_internal::UpdateClmul(start, s), crc64_internal::UpdateTable(start, s))
        << "offset " << offset << " length " << length << " start " << start;
  };
  for (size_t length = 0; length <= 600; ++length) check(length % 16, length, rng());
  for (int i = 0; i < 300; ++i) {
    const size_t length = rng() % (1 << 20);
    check(rng() % 64, length, i % 3 == 0 ? 0 : rng());
  }
  // All ones and all zeros (every bit of the folds set, none set).
  std::vector<uint8_t> ones(10000, 0xff), zeros(10000, 0);
  EXPECT_EQ(crc64_internal::UpdateClmul(0, ones), crc64_internal::UpdateTable(0, ones));
  EXPECT_EQ(crc64_internal::UpdateClmul(0, zeros), crc64_internal::UpdateTable(0, zeros));
  EXPECT_EQ(Crc64Update(0, zeros), Crc64ExtendZeros(0, zeros.size()));
}

}  // namespace
}  // namespace ferry
