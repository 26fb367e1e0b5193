#include "store/manifest.h"

#include <algorithm>
#include <string>

#include "store/coding.h"
#include "store/manifest_format.h"

namespace ferry {
namespace {

void AppendEntry(const ChunkEntry& e, std::vector<uint8_t>* out) {
  if (e.zero) {
    out->push_back(kEntryKindZero);
  } else {
    out->push_back(kEntryKindData);
    out->insert(out->end(), e.id.begin(), e.id.end());
  }
  PutFixed32(out, e.length);
}

bool IsAllZero(const ChunkId& id) {
  return std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

Digest256 Manifest::ContentDigest() const {
  // Hashed in batches so a large manifest is never encoded whole just to
  // digest it; the bytes are exactly the encoded entries section.
  constexpr size_t kBatchBytes = 64 << 10;
  Sha256 h;
  std::vector<uint8_t> buf;
  buf.reserve(kBatchBytes + kDataEntrySize);
  for (const ChunkEntry& e : entries) {
    AppendEntry(e, &buf);
    if (buf.size() >= kBatchBytes) {
      h.Update(buf);
      buf.clear();
    }
  }
  h.Update(buf);
  return h.Finish();
}

uint64_t Manifest::DataBytes() const {
  uint64_t total = 0;
  for (const ChunkEntry& e : entries) {
    if (!e.zero) total += e.length;
  }
  return total;
}

Manifest Manifest::Empty(uint64_t logical_size, uint32_t chunk_size) {
  Manifest m;
  m.logical_size = logical_size;
  m.chunk_size = chunk_size;
  if (chunk_size == 0) return m;  // Validate reports it
  uint64_t count = (logical_size + chunk_size - 1) / chunk_size;
  m.entries.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    m.entries[i].length =
        static_cast<uint32_t>(std::min<uint64_t>(chunk_size, logical_size - i * chunk_size));
  }
  return m;
}

Status Manifest::Validate() const {
  if (chunk_size == 0) return InvalidArgument("", "manifest: chunk_size is 0");
  uint64_t want = logical_size / chunk_size + (logical_size % chunk_size != 0 ? 1 : 0);
  if (entries.size() != want) {
    return InvalidArgument("", "manifest: " + std::to_string(entries.size()) + " entries, expected " +
                                   std::to_string(want) + " for logical_size " +
                                   std::to_string(logical_size) + " and chunk_size " +
                                   std::to_string(chunk_size));
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const ChunkEntry& e = entries[i];
    uint64_t expected = std::min<uint64_t>(chunk_size, logical_size - i * uint64_t{chunk_size});
    if (e.length != expected) {
      return InvalidArgument("", "manifest: entry " + std::to_string(i) + " has length " +
                                     std::to_string(e.length) + ", expected " + std::to_string(expected));
    }
    if (e.zero && !IsAllZero(e.id)) {
      return InvalidArgument("", "manifest: zero entry " + std::to_string(i) + " carries id " + ToHex(e.id));
    }
  }
  return Status::Ok();
}

std::vector<uint8_t> EncodeManifest(const Manifest& m) {
  std::vector<uint8_t> out;
  uint64_t data_entries = 0;
  for (const ChunkEntry& e : m.entries) data_entries += e.zero ? 0 : 1;
  out.reserve(kManifestHeaderSize + data_entries * kDataEntrySize +
              (m.entries.size() - data_entries) * kZeroEntrySize + kManifestTrailerSize);
  out.insert(out.end(), kManifestMagic.begin(), kManifestMagic.end());
  PutFixed32(&out, kManifestFormatVersion);
  PutFixed64(&out, m.logical_size);
  PutFixed32(&out, m.chunk_size);
  PutFixed64(&out, m.entries.size());
  for (const ChunkEntry& e : m.entries) AppendEntry(e, &out);
  Digest256 sum = Sha256::Of(out);
  out.insert(out.end(), sum.begin(), sum.end());
  return out;
}

Result<Manifest> DecodeManifest(std::span<const uint8_t> bytes) {
  constexpr size_t kMinSize = kManifestHeaderSize + kManifestTrailerSize;
  if (bytes.size() < kMinSize) {
    return DataLoss("manifest truncated: " + std::to_string(bytes.size()) +
                    " bytes, a manifest has at least " + std::to_string(kMinSize));
  }
  if (!std::equal(kManifestMagic.begin(), kManifestMagic.end(), bytes.begin())) {
    return DataLoss("manifest: bad magic " + ToHex(bytes.first(4)) + ", expected " +
                    ToHex(std::span<const uint8_t>(kManifestMagic)));
  }
  uint32_t version = DecodeFixed32(&bytes[4]);
  if (version != kManifestFormatVersion) {
    return InvalidArgument("", "manifest: unsupported format version " + std::to_string(version) +
                                   ", this build reads version " + std::to_string(kManifestFormatVersion));
  }
  std::span<const uint8_t> body = bytes.first(bytes.size() - kManifestTrailerSize);
  Digest256 actual = Sha256::Of(body);
  if (!std::equal(actual.begin(), actual.end(), bytes.end() - kManifestTrailerSize)) {
    return DataLoss("manifest: checksum mismatch over " + std::to_string(body.size()) + " bytes: stored " +
                    ToHex(bytes.last(kManifestTrailerSize)) + ", computed " + ToHex(actual));
  }
  Manifest m;
  m.logical_size = DecodeFixed64(&bytes[8]);
  m.chunk_size = DecodeFixed32(&bytes[16]);
  uint64_t count = DecodeFixed64(&bytes[20]);
  size_t pos = kManifestHeaderSize;
  // Bounds the allocation by what the buffer can actually hold.
  if (count > (body.size() - pos) / kZeroEntrySize) {
    return DataLoss("manifest: entry count " + std::to_string(count) + " cannot fit in " +
                    std::to_string(body.size() - pos) + " bytes of entries");
  }
  m.entries.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    ChunkEntry& e = m.entries[i];
    uint8_t kind = body[pos];
    size_t need = kind == kEntryKindData ? kDataEntrySize : kZeroEntrySize;
    if (kind != kEntryKindData && kind != kEntryKindZero) {
      return DataLoss("manifest: entry " + std::to_string(i) + " at offset " + std::to_string(pos) +
                      " has unknown kind " + std::to_string(kind));
    }
    if (body.size() - pos < need) {
      return DataLoss("manifest: entry " + std::to_string(i) + " at offset " + std::to_string(pos) +
                      " truncated: needs " + std::to_string(need) + " bytes, " +
                      std::to_string(body.size() - pos) + " left");
    }
    ++pos;
    e.zero = kind == kEntryKindZero;
    if (!e.zero) {
      std::copy_n(&body[pos], e.id.size(), e.id.begin());
      pos += e.id.size();
    }
    e.length = DecodeFixed32(&body[pos]);
    pos += 4;
  }
  if (pos != body.size()) {
    return DataLoss("manifest: " + std::to_string(body.size() - pos) + " unexpected bytes after entry " +
                    std::to_string(count) + " at offset " + std::to_string(pos));
  }
  Status st = m.Validate();
  if (!st.ok()) return st;
  return m;
}

}  // namespace ferry
