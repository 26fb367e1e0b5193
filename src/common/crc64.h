// CRC-64/XZ (the "ECMA" CRC OSS reports as x-oss-hash-crc64ecma): polynomial
// 0x42F0E1EBA9EA3693 (0xC96C5795D7870F42 reflected), reflected input and
// output, initial value and final xor all ones. Crc64("123456789") is
// 11051210869376104954 (0x995DC9BBDF1939FA).
//
// Values are always finished CRCs, as zlib's crc32() does it: the CRC of
// nothing is 0, and Crc64Update(Crc64Update(0, a), b) == Crc64 of a ‖ b.
// Carry-less multiplication (PCLMULQDQ folding, crc64.cc) where the CPU has
// it, about 5-10 GB/s per core; otherwise table-driven, slicing-by-8 (about
// 1.5 GB/s). Both give the same values. Thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace ferry {

// The CRC of `data` appended to the data whose CRC is `crc`.
uint64_t Crc64Update(uint64_t crc, std::span<const uint8_t> data);
inline uint64_t Crc64(std::span<const uint8_t> data) { return Crc64Update(0, data); }
uint64_t Crc64(std::string_view data);

// The CRC of A ‖ B from crc(A), crc(B) and B's length, in O(log len_b)
// (zlib's crc32_combine, for 64 bits): how a multipart object's CRC is made
// from its parts' without reading them again.
uint64_t Crc64Combine(uint64_t crc_a, uint64_t crc_b, uint64_t len_b);

// The CRC of A followed by `zeros` zero bytes, from crc(A), in O(log zeros):
// holes of a sparse file cost nothing to checksum.
uint64_t Crc64ExtendZeros(uint64_t crc, uint64_t zeros);

// The two implementations behind Crc64Update, for tests and benchmarks.
namespace crc64_internal {
bool ClmulAvailable();  // this CPU has PCLMULQDQ and SSE4.1
uint64_t UpdateTable(uint64_t crc, std::span<const uint8_t> data);
// The table's result where ClmulAvailable() is false.
uint64_t UpdateClmul(uint64_t crc, std::span<const uint8_t> data);
}  // namespace crc64_internal

}  // namespace ferry
