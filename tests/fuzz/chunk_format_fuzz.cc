// The chunk-object decoder (store/chunk_format.*): header, size check and
// the raw or zstd payload.
// Invariants: a decoded object has exactly plaintext_length bytes, and
// re-encoding that plaintext (raw and compressed) decodes back to it.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_util.h"
#include "store/chunk_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  if (size >= ferry::kChunkHeaderSize) {
    auto header = ferry::DecodeChunkHeader(input.first(ferry::kChunkHeaderSize));
    if (header.ok()) {
      FUZZ_CHECK(header->plaintext_length <= ferry::kMaxChunkPlaintext);
      ferry::ChunkHeaderBytes encoded = ferry::EncodeChunkHeader(*header);
      auto again = ferry::DecodeChunkHeader(encoded);
      FUZZ_CHECK(again.ok());
      FUZZ_CHECK(again->codec == header->codec && again->plaintext_length == header->plaintext_length &&
                 again->stored_length == header->stored_length);
    }
  }
  auto checked = ferry::CheckChunkObject(input);
  auto plaintext = ferry::DecodeChunkObject(input);
  if (plaintext.ok()) {
    FUZZ_CHECK(checked.ok());
    FUZZ_CHECK(plaintext->size() == checked->plaintext_length);
    for (bool compress : {false, true}) {
      std::vector<uint8_t> object = ferry::EncodeChunkObject(*plaintext, compress);
      auto back = ferry::DecodeChunkObject(object);
      FUZZ_CHECK(back.ok());
      FUZZ_CHECK(*back == *plaintext);
    }
  }
  return 0;
}
