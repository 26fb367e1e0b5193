// The manifest decoder (store/manifest.*), through its public API only:
// DecodeManifest of the input as it is, and of the input with its trailing
// checksum recomputed (so the fuzzer gets past the SHA-256 and into the
// entries).
// Invariants: a decoded manifest re-encodes, and decode(encode(m)) has the
// same sizes, content digest and encoding; DataBytes never exceeds the
// logical size of a manifest that validates.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/hash.h"
#include "fuzz_util.h"
#include "store/manifest.h"

namespace {

constexpr size_t kChecksumSize = 32;

void CheckDecoded(std::span<const uint8_t> bytes) {
  auto decoded = ferry::DecodeManifest(bytes);
  if (!decoded.ok()) return;
  const bool valid = decoded->Validate().ok();
  if (valid) FUZZ_CHECK(decoded->DataBytes() <= decoded->logical_size);
  std::vector<uint8_t> encoded = ferry::EncodeManifest(*decoded);
  auto again = ferry::DecodeManifest(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->logical_size == decoded->logical_size);
  FUZZ_CHECK(again->chunk_size == decoded->chunk_size);
  FUZZ_CHECK(again->DataBytes() == decoded->DataBytes());
  FUZZ_CHECK(again->ContentDigest() == decoded->ContentDigest());
  FUZZ_CHECK(again->Validate().ok() == valid);
  FUZZ_CHECK(ferry::EncodeManifest(*again) == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  CheckDecoded(input);
  if (size >= kChecksumSize) {
    std::vector<uint8_t> fixed(data, data + size - kChecksumSize);
    ferry::Digest256 sum = ferry::Sha256::Of(std::span<const uint8_t>(fixed));
    fixed.insert(fixed.end(), sum.begin(), sum.end());
    CheckDecoded(fixed);
  }
  return 0;
}
