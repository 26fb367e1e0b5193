#include "store/chunk_format.h"

#include <algorithm>
#include <string>

#include "common/hash.h"
#include "store/coding.h"

namespace ferry {

ChunkHeaderBytes EncodeChunkHeader(const ChunkHeader& h) {
  ChunkHeaderBytes out{};
  std::copy(kChunkMagic.begin(), kChunkMagic.end(), out.begin());
  out[4] = kChunkFormatVersion;
  out[5] = static_cast<uint8_t>(h.codec);
  EncodeFixed16(&out[6], 0);
  EncodeFixed64(&out[8], h.plaintext_length);
  EncodeFixed64(&out[16], h.stored_length);
  return out;
}

Result<ChunkHeader> DecodeChunkHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < kChunkHeaderSize) {
    return DataLoss("chunk header truncated: " + std::to_string(bytes.size()) + " bytes, need " +
                    std::to_string(kChunkHeaderSize));
  }
  if (!std::equal(kChunkMagic.begin(), kChunkMagic.end(), bytes.begin())) {
    return DataLoss("chunk header: bad magic " + ToHex(bytes.first(4)) + ", expected " +
                    ToHex(std::span<const uint8_t>(kChunkMagic)));
  }
  if (bytes[4] != kChunkFormatVersion) {
    return DataLoss("chunk header: unsupported version " + std::to_string(bytes[4]) + ", expected " +
                    std::to_string(kChunkFormatVersion));
  }
  uint8_t codec = bytes[5];
  if (codec != static_cast<uint8_t>(ChunkCodec::kRaw) && codec != static_cast<uint8_t>(ChunkCodec::kZstd)) {
    return DataLoss("chunk header: unknown codec " + std::to_string(codec));
  }
  uint16_t reserved = DecodeFixed16(&bytes[6]);
  if (reserved != 0) {
    return DataLoss("chunk header: reserved field is " + std::to_string(reserved) + ", expected 0");
  }
  ChunkHeader h;
  h.codec = static_cast<ChunkCodec>(codec);
  h.plaintext_length = DecodeFixed64(&bytes[8]);
  h.stored_length = DecodeFixed64(&bytes[16]);
  if (h.plaintext_length > kMaxChunkPlaintext) {
    return DataLoss("chunk header: plaintext length " + std::to_string(h.plaintext_length) +
                    " exceeds the limit " + std::to_string(kMaxChunkPlaintext));
  }
  if (h.codec == ChunkCodec::kRaw && h.stored_length != h.plaintext_length) {
    return DataLoss("chunk header: raw payload of " + std::to_string(h.stored_length) +
                    " bytes for plaintext of " + std::to_string(h.plaintext_length));
  }
  return h;
}

}  // namespace ferry
