#include "store/chunk_format.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

#include "common/hash.h"
#include "store/coding.h"

namespace ferry {
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};

// One context per thread: a context holds megabytes of tables, and callers
// encode and decode from many threads at once.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}

}  // namespace

ChunkHeaderBytes EncodeChunkHeader(const ChunkHeader& h) {
  ChunkHeaderBytes out{};
  std::copy(kChunkMagic.begin(), kChunkMagic.end(), out.begin());
  out[4] = h.scope ? kChunkFormatVersionScoped : kChunkFormatVersion;
  out[5] = static_cast<uint8_t>(h.codec);
  EncodeFixed16(&out[6], 0);
  EncodeFixed64(&out[8], h.plaintext_length);
  EncodeFixed64(&out[16], h.stored_length);
  return out;
}

std::vector<uint8_t> EncodeChunkPrefix(const ChunkHeader& h) {
  ChunkHeaderBytes fixed = EncodeChunkHeader(h);
  std::vector<uint8_t> out(h.prefix_size());
  std::memcpy(out.data(), fixed.data(), fixed.size());
  if (h.scope) std::memcpy(out.data() + kChunkHeaderSize, h.scope->data(), kChunkScopeSize);
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
  if (bytes[4] != kChunkFormatVersion && bytes[4] != kChunkFormatVersionScoped) {
    return DataLoss("chunk header: unsupported version " + std::to_string(bytes[4]) + ", expected " +
                    std::to_string(kChunkFormatVersion) + " or " + std::to_string(kChunkFormatVersionScoped));
  }
  if (bytes[4] == kChunkFormatVersionScoped && bytes.size() < kMaxChunkPrefixSize) {
    return DataLoss("chunk header: version 2 truncated: " + std::to_string(bytes.size()) +
                    " bytes, need " + std::to_string(kMaxChunkPrefixSize) + " with the scope");
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
  if (bytes[4] == kChunkFormatVersionScoped) {
    h.scope.emplace();
    std::copy_n(bytes.begin() + kChunkHeaderSize, kChunkScopeSize, h.scope->begin());
  }
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

std::vector<uint8_t> EncodeChunkObject(std::span<const uint8_t> plaintext, bool compress, int zstd_level) {
  return EncodeChunkObject(nullptr, plaintext, compress, zstd_level);
}

std::vector<uint8_t> EncodeChunkObject(const ChunkScope* scope, std::span<const uint8_t> plaintext, bool compress,
                                       int zstd_level) {
  ChunkHeader header;
  header.plaintext_length = plaintext.size();
  if (scope != nullptr) header.scope = *scope;
  const size_t prefix = header.prefix_size();
  // zstd writes into a buffer left uninitialised (the raw form is the upper
  // bound: a frame is kept only if it fits in one byte less), and the
  // object is built of exactly its bytes: no pass over the plaintext's
  // length but the compressor's and one copy of what it made.
  size_t n = 0;
  bool zstd = false;
  std::unique_ptr<uint8_t[]> frame;
  if (compress && plaintext.size() > 1 && ThreadCCtx() != nullptr) {
    frame.reset(new uint8_t[plaintext.size() - 1]);
    n = ZSTD_compressCCtx(ThreadCCtx(), frame.get(), plaintext.size() - 1, plaintext.data(), plaintext.size(),
                          zstd_level);
    zstd = !ZSTD_isError(n);
  }
  header.codec = zstd ? ChunkCodec::kZstd : ChunkCodec::kRaw;
  header.stored_length = zstd ? n : plaintext.size();
  std::vector<uint8_t> out = EncodeChunkPrefix(header);
  out.reserve(prefix + header.stored_length);
  if (zstd) {
    out.insert(out.end(), frame.get(), frame.get() + n);
  } else {
    out.insert(out.end(), plaintext.begin(), plaintext.end());
  }
  return out;
}

Result<ChunkHeader> CheckChunkObject(std::span<const uint8_t> object) {
  if (object.size() < kChunkHeaderSize) {
    return DataLoss("chunk object of " + std::to_string(object.size()) + " bytes is shorter than the " +
                    std::to_string(kChunkHeaderSize) + "-byte header");
  }
  ASSIGN_OR_RETURN(ChunkHeader header, DecodeChunkHeader(object.first(std::min(object.size(), kMaxChunkPrefixSize))));
  const uint64_t payload_size = object.size() - header.prefix_size();
  if (header.stored_length != payload_size) {
    return DataLoss("chunk object: header says " + std::to_string(header.stored_length) +
                    " payload bytes, object has " + std::to_string(payload_size));
  }
  return header;
}

Result<std::vector<uint8_t>> DecodeChunkObject(std::span<const uint8_t> object) {
  ChunkHeader header;
  return DecodeChunkObject(object, &header);
}

Result<std::vector<uint8_t>> DecodeChunkObject(std::span<const uint8_t> object, ChunkHeader* header_out) {
  ASSIGN_OR_RETURN(ChunkHeader header, CheckChunkObject(object));
  *header_out = header;
  std::span<const uint8_t> payload = object.subspan(header.prefix_size());
  if (header.codec == ChunkCodec::kRaw) return std::vector<uint8_t>(payload.begin(), payload.end());
  if (ThreadDCtx() == nullptr) return Internal("cannot allocate a zstd decompression context");
  // The frame must declare the header's length (every frame we write does)
  // before that much is allocated: a 24-byte object claiming 1 GiB must not
  // cost 1 GiB (found by tests/fuzz/chunk_format_fuzz).
  unsigned long long frame_size = ZSTD_getFrameContentSize(payload.data(), payload.size());
  if (frame_size != header.plaintext_length) {
    return DataLoss("chunk object: zstd frame declares " +
                    (frame_size == ZSTD_CONTENTSIZE_UNKNOWN || frame_size == ZSTD_CONTENTSIZE_ERROR
                         ? std::string("no content size")
                         : std::to_string(frame_size) + " bytes") +
                    ", header says " + std::to_string(header.plaintext_length));
  }
  std::vector<uint8_t> plaintext(header.plaintext_length);
  size_t n =
      ZSTD_decompressDCtx(ThreadDCtx(), plaintext.data(), plaintext.size(), payload.data(), payload.size());
  if (ZSTD_isError(n)) {
    return DataLoss(std::string("chunk object: zstd payload does not decode: ") + ZSTD_getErrorName(n));
  }
  if (n != header.plaintext_length) {
    return DataLoss("chunk object: zstd payload decodes to " + std::to_string(n) + " bytes, header says " +
                    std::to_string(header.plaintext_length));
  }
  return plaintext;
}

Result<std::vector<uint8_t>> DecodeVerifiedChunkObject(const ChunkId& id, std::span<const uint8_t> object) {
  ChunkHeader header;
  ASSIGN_OR_RETURN(std::vector<uint8_t> plaintext, DecodeChunkObject(object, &header));
  ChunkId actual = ComputeChunkId(header.scope_ptr(), plaintext);
  if (actual != id) {
    return DataLoss("chunk object: plaintext of " + std::to_string(plaintext.size()) + " bytes" +
                    (header.scope ? " in scope " + ToHex(*header.scope) : std::string()) + " hashes to " +
                    ToHex(actual) + ", expected " + ToHex(id));
  }
  return plaintext;
}

Digest256 ComputeObjectDigest(std::span<const uint8_t> object) { return Sha256::Of(object); }

Digest256 ComputeObjectDigest(std::span<const uint8_t> prefix, std::span<const uint8_t> payload) {
  Sha256 h;
  h.Update(prefix);
  h.Update(payload);
  return h.Finish();
}

Status VerifyObjectDigest(const ChunkId& id, std::span<const uint8_t> object, const Digest256& expected) {
  const Digest256 actual = ComputeObjectDigest(object);
  if (actual == expected) return Status::Ok();
  return DataLoss("chunk " + ToHex(id) + ": object of " + std::to_string(object.size()) + " bytes has digest " +
                  ToHex(actual) + ", the manifest says " + ToHex(expected));
}

Status VerifyChunkPlaintext(const ChunkId& id, const ChunkHeader& header, std::span<const uint8_t> plaintext,
                            const std::string& where) {
  const Digest256 actual = ComputeChunkId(header.scope_ptr(), plaintext);
  if (actual == id) return Status::Ok();
  return DataLoss("get chunk " + ToHex(id) + ": stored content" +
                  (header.scope ? " in scope " + ToHex(*header.scope) : std::string()) + " hashes to " +
                  ToHex(actual) + " (expected " + ToHex(id) + ", " + std::to_string(plaintext.size()) +
                  " bytes, " + where + ")");
}

}  // namespace ferry
