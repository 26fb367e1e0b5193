#include "store/manifest.h"

#include <algorithm>
#include <string>

#include "store/coding.h"
#include "store/manifest_format.h"

namespace ferry {
namespace {

bool IsAllZero(const ChunkId& id) {
  return std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; });
}

// Calls emit(entry) for the canonical form of `entries`: adjacent hole runs
// merged into one, entries covering no chunk dropped. Encoding and
// ContentDigest both go through here, so neither depends on how a manifest
// in memory happens to split its holes.
template <typename Fn>
void ForEachCanonicalEntry(const std::vector<ChunkEntry>& entries, Fn&& emit) {
  ChunkEntry run;
  bool have_run = false;
  for (const ChunkEntry& e : entries) {
    if (e.count == 0) continue;
    if (e.zero) {
      if (have_run) {
        run.count += e.count;
        run.length = e.length;
      } else {
        run = ChunkEntry{true, ChunkId{}, e.length, e.count};
        have_run = true;
      }
      continue;
    }
    if (have_run) {
      emit(run);
      have_run = false;
    }
    emit(e);
  }
  if (have_run) emit(run);
}

// Version 2 entry bytes: data 01 id length, hole run 02 count length. With
// `with_object_digest` (version 3) a data entry that carries an object digest
// is 03 id length digest instead; without it (ContentDigest, version 2) the
// digest is left out.
void AppendEntry(const ChunkEntry& e, bool with_object_digest, std::vector<uint8_t>* out) {
  const bool digest = with_object_digest && !e.zero && e.object_digest.has_value();
  if (e.zero) {
    out->push_back(kEntryKindHoleRun);
    PutFixed64(out, e.count);
  } else {
    out->push_back(digest ? kEntryKindDataDigest : kEntryKindData);
    out->insert(out->end(), e.id.begin(), e.id.end());
  }
  PutFixed32(out, e.length);
  if (digest) out->insert(out->end(), e.object_digest->begin(), e.object_digest->end());
}

size_t EntrySize(uint8_t kind, bool v1) {
  switch (kind) {
    case kEntryKindData:
      return kDataEntrySize;
    case kEntryKindDataDigest:
      return kDataDigestEntrySize;
    default:
      return v1 ? kZeroEntrySize : kHoleRunEntrySize;
  }
}

// Hashes the bytes `append` produces, in batches, so a large manifest is
// never encoded whole just to digest it.
class BatchedSha256 {
 public:
  BatchedSha256() { buf_.reserve(kBatchBytes + kDataDigestEntrySize); }
  std::vector<uint8_t>* buf() { return &buf_; }
  void MaybeFlush() {
    if (buf_.size() >= kBatchBytes) {
      h_.Update(buf_);
      buf_.clear();
    }
  }
  Digest256 Finish() {
    h_.Update(buf_);
    return h_.Finish();
  }

 private:
  static constexpr size_t kBatchBytes = 64 << 10;
  Sha256 h_;
  std::vector<uint8_t> buf_;
};

// The digest of builds before format version 2: SHA-256 over the version 1
// entries section, one 5-byte entry per hole chunk.
Digest256 LegacyContentDigest(const Manifest& m) {
  BatchedSha256 h;
  for (const ChunkEntry& e : m.entries) {
    if (!e.zero) {
      h.buf()->push_back(kEntryKindData);
      h.buf()->insert(h.buf()->end(), e.id.begin(), e.id.end());
      PutFixed32(h.buf(), e.length);
      h.MaybeFlush();
      continue;
    }
    for (uint64_t k = 0; k < e.count; ++k) {
      h.buf()->push_back(kEntryKindZero);
      PutFixed32(h.buf(), k + 1 == e.count ? e.length : m.chunk_size);
      h.MaybeFlush();
    }
  }
  return h.Finish();
}

std::string Str(uint64_t v) { return std::to_string(v); }

}  // namespace

Digest256 Manifest::ContentDigest() const {
  BatchedSha256 h;
  ForEachCanonicalEntry(entries, [&](const ChunkEntry& e) {
    AppendEntry(e, /*with_object_digest=*/false, h.buf());
    h.MaybeFlush();
  });
  return h.Finish();
}

bool Manifest::HasContentDigest(std::string_view hex) const {
  if (ToHex(ContentDigest()) == hex) return true;
  return ChunkCount() <= kLegacyDigestMaxChunks && ToHex(LegacyContentDigest(*this)) == hex;
}

uint64_t Manifest::DataBytes() const {
  uint64_t total = 0;
  for (const ChunkEntry& e : entries) {
    if (!e.zero) total += e.length;
  }
  return total;
}

uint64_t Manifest::ChunkCount() const {
  uint64_t total = 0;
  for (const ChunkEntry& e : entries) total += e.count;
  return total;
}

uint64_t Manifest::ChunksFor(uint64_t logical_size, uint32_t chunk_size) {
  if (chunk_size == 0) return 0;
  return logical_size / chunk_size + (logical_size % chunk_size != 0 ? 1 : 0);
}

Manifest Manifest::Empty(uint64_t logical_size, uint32_t chunk_size) {
  if (chunk_size == 0) {  // Validate reports it
    Manifest m;
    m.logical_size = logical_size;
    m.chunk_size = 0;
    return m;
  }
  return ManifestBuilder(logical_size, chunk_size).Finish();
}

Manifest Manifest::OneEntryPerChunk(uint64_t logical_size, uint32_t chunk_size) {
  Manifest m;
  m.logical_size = logical_size;
  m.chunk_size = chunk_size;
  uint64_t count = ChunksFor(logical_size, chunk_size);
  m.entries.resize(count);
  for (uint64_t i = 0; i < count; ++i) {
    m.entries[i].length =
        static_cast<uint32_t>(std::min<uint64_t>(chunk_size, logical_size - i * chunk_size));
  }
  return m;
}

Status Manifest::Validate() const {
  if (chunk_size == 0) return InvalidArgument("", "manifest: chunk_size is 0");
  const uint64_t want = ChunksFor(logical_size, chunk_size);
  uint64_t index = 0;  // first chunk of entry k; never above want
  for (size_t k = 0; k < entries.size(); ++k) {
    const ChunkEntry& e = entries[k];
    if (e.count == 0) return InvalidArgument("", "manifest: entry " + Str(k) + " covers no chunk");
    if (e.count > want - index) {
      return InvalidArgument("", "manifest: entry " + Str(k) + " covers chunks " + Str(index) + " to " +
                                     Str(index + (e.count - 1)) + ", past the " + Str(want) +
                                     " chunks of logical_size " + Str(logical_size) + " and chunk_size " +
                                     Str(chunk_size));
    }
    if (!e.zero && e.count != 1) {
      return InvalidArgument("", "manifest: data entry " + Str(k) + " covers " + Str(e.count) + " chunks");
    }
    const uint64_t last = index + e.count - 1;
    const uint64_t expected = std::min<uint64_t>(chunk_size, logical_size - last * uint64_t{chunk_size});
    if (e.length != expected) {
      return InvalidArgument(
          "", "manifest: entry " + Str(k) + " has length " + Str(e.length) + ", expected " + Str(expected));
    }
    if (e.zero && !IsAllZero(e.id)) {
      return InvalidArgument("", "manifest: zero entry " + Str(k) + " carries id " + ToHex(e.id));
    }
    if (e.zero && e.object_digest) {
      return InvalidArgument("", "manifest: zero entry " + Str(k) + " carries an object digest");
    }
    index += e.count;
  }
  if (index != want) {
    return InvalidArgument("", "manifest: entries cover " + Str(index) + " chunks, expected " + Str(want) +
                                   " for logical_size " + Str(logical_size) + " and chunk_size " +
                                   Str(chunk_size));
  }
  return Status::Ok();
}

ManifestBuilder::ManifestBuilder(uint64_t logical_size, uint32_t chunk_size) {
  m_.logical_size = logical_size;
  m_.chunk_size = chunk_size;
  total_ = Manifest::ChunksFor(logical_size, chunk_size);
}

uint32_t ManifestBuilder::LengthOf(uint64_t index) const {
  return static_cast<uint32_t>(
      std::min<uint64_t>(m_.chunk_size, m_.logical_size - index * uint64_t{m_.chunk_size}));
}

void ManifestBuilder::AddHolesUntil(uint64_t index) {
  index = std::min(index, total_);
  if (index <= next_) return;
  const uint64_t n = index - next_;
  if (!m_.entries.empty() && m_.entries.back().zero) {
    m_.entries.back().count += n;
    m_.entries.back().length = LengthOf(index - 1);
  } else {
    m_.entries.push_back(ChunkEntry{true, ChunkId{}, LengthOf(index - 1), n});
  }
  next_ = index;
}

void ManifestBuilder::AddData(const ChunkId& id, const std::optional<Digest256>& object_digest) {
  m_.entries.push_back(ChunkEntry{false, id, LengthOf(next_), 1, object_digest});
  ++next_;
}

Manifest ManifestBuilder::Finish() {
  AddHolesUntil(total_);
  return std::move(m_);
}

std::vector<uint8_t> EncodeManifest(const Manifest& m) {
  std::vector<uint8_t> out;
  size_t entry_bytes = 0;
  bool digests = false;
  for (const ChunkEntry& e : m.entries) {
    const bool digest = !e.zero && e.object_digest.has_value();
    digests = digests || digest;
    entry_bytes += e.zero ? kHoleRunEntrySize : (digest ? kDataDigestEntrySize : kDataEntrySize);
  }
  out.reserve(kManifestHeaderSize + entry_bytes + kManifestTrailerSize);
  out.insert(out.end(), kManifestMagic.begin(), kManifestMagic.end());
  PutFixed32(&out, digests ? kManifestFormatVersion : kManifestFormatVersion2);
  PutFixed64(&out, m.logical_size);
  PutFixed32(&out, m.chunk_size);
  PutFixed64(&out, 0);  // entry_count, set below
  uint64_t count = 0;
  ForEachCanonicalEntry(m.entries, [&](const ChunkEntry& e) {
    AppendEntry(e, /*with_object_digest=*/true, &out);
    ++count;
  });
  EncodeFixed64(&out[20], count);
  Digest256 sum = Sha256::Of(out);
  out.insert(out.end(), sum.begin(), sum.end());
  return out;
}

Result<Manifest> DecodeManifest(std::span<const uint8_t> bytes) {
  constexpr size_t kMinSize = kManifestHeaderSize + kManifestTrailerSize;
  if (bytes.size() < kMinSize) {
    return DataLoss("manifest truncated: " + Str(bytes.size()) + " bytes, a manifest has at least " +
                    Str(kMinSize));
  }
  if (!std::equal(kManifestMagic.begin(), kManifestMagic.end(), bytes.begin())) {
    return DataLoss("manifest: bad magic " + ToHex(bytes.first(4)) + ", expected " +
                    ToHex(std::span<const uint8_t>(kManifestMagic)));
  }
  const uint32_t version = DecodeFixed32(&bytes[4]);
  if (version != kManifestFormatVersion && version != kManifestFormatVersion2 &&
      version != kManifestFormatVersion1) {
    return InvalidArgument("", "manifest: unsupported format version " + Str(version) +
                                   ", this build reads versions 1, 2 and 3");
  }
  const bool v1 = version == kManifestFormatVersion1;
  const bool v3 = version == kManifestFormatVersion;
  std::span<const uint8_t> body = bytes.first(bytes.size() - kManifestTrailerSize);
  Digest256 actual = Sha256::Of(body);
  if (!std::equal(actual.begin(), actual.end(), bytes.end() - kManifestTrailerSize)) {
    return DataLoss("manifest: checksum mismatch over " + Str(body.size()) + " bytes: stored " +
                    ToHex(bytes.last(kManifestTrailerSize)) + ", computed " + ToHex(actual));
  }
  Manifest m;
  m.logical_size = DecodeFixed64(&bytes[8]);
  m.chunk_size = DecodeFixed32(&bytes[16]);
  const uint64_t count = DecodeFixed64(&bytes[20]);
  size_t pos = kManifestHeaderSize;
  // The count is checked against the bytes present before anything is
  // allocated from it.
  const size_t min_entry = v1 ? kZeroEntrySize : kHoleRunEntrySize;
  if (count > (body.size() - pos) / min_entry) {
    return DataLoss("manifest: entry count " + Str(count) + " cannot fit in " + Str(body.size() - pos) +
                    " bytes of entries");
  }
  // Version 1 holes are merged into runs as they are read, so fewer entries.
  if (!v1) m.entries.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    const uint8_t kind = body[pos];
    const bool known = kind == kEntryKindData || (v1 ? kind == kEntryKindZero : kind == kEntryKindHoleRun) ||
                       (v3 && kind == kEntryKindDataDigest);
    if (!known) {
      return DataLoss("manifest: entry " + Str(i) + " at offset " + Str(pos) + " has unknown kind " +
                      Str(kind) + " for format version " + Str(version));
    }
    const size_t need = EntrySize(kind, v1);
    if (body.size() - pos < need) {
      return DataLoss("manifest: entry " + Str(i) + " at offset " + Str(pos) + " truncated: needs " +
                      Str(need) + " bytes, " + Str(body.size() - pos) + " left");
    }
    const size_t at = pos;
    ++pos;
    ChunkEntry e;
    e.zero = kind != kEntryKindData && kind != kEntryKindDataDigest;
    if (!e.zero) {
      std::copy_n(&body[pos], e.id.size(), e.id.begin());
      pos += e.id.size();
    } else if (kind == kEntryKindHoleRun) {
      e.count = DecodeFixed64(&body[pos]);
      pos += 8;
    }
    e.length = DecodeFixed32(&body[pos]);
    pos += 4;
    if (kind == kEntryKindDataDigest) {
      e.object_digest.emplace();
      std::copy_n(&body[pos], e.object_digest->size(), e.object_digest->begin());
      pos += e.object_digest->size();
    }
    const bool follows_hole = !m.entries.empty() && m.entries.back().zero;
    if (e.zero && follows_hole) {
      if (!v1) {
        return DataLoss("manifest: entry " + Str(i) + " at offset " + Str(at) +
                        " is a hole run right after another (runs are stored merged)");
      }
      ChunkEntry& run = m.entries.back();
      // Only the last chunk of the image may be short.
      if (run.length != m.chunk_size) {
        return InvalidArgument("", "manifest: entry " + Str(i - 1) + " has length " + Str(run.length) +
                                       ", expected " + Str(m.chunk_size));
      }
      if (run.count == UINT64_MAX) return DataLoss("manifest: too many hole chunks at entry " + Str(i));
      ++run.count;
      run.length = e.length;
      continue;
    }
    m.entries.push_back(e);
  }
  if (pos != body.size()) {
    return DataLoss("manifest: " + Str(body.size() - pos) + " unexpected bytes after entry " + Str(count) +
                    " at offset " + Str(pos));
  }
  Status st = m.Validate();
  if (!st.ok()) return st;
  return m;
}

}  // namespace ferry
