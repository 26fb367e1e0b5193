// The copy wire decoder (region/copy_wire.*): the JSON body of a remote
// AcceptCopy.
// Invariant: decode(encode(decode(x))) encodes to the same JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "region/copy_wire.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view json(reinterpret_cast<const char*>(data), size);
  auto decoded = ferry::DecodeCopyTarget(json);
  if (!decoded.ok()) {
    FUZZ_CHECK(!decoded.status().message().empty());
    return 0;
  }
  std::string encoded = ferry::EncodeCopyTarget(*decoded);
  auto again = ferry::DecodeCopyTarget(encoded);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(ferry::EncodeCopyTarget(*again) == encoded);
  return 0;
}
