#include "store/s3_chunk_store.h"

#include "store/chunk_format.h"

namespace ferry {
namespace {

constexpr std::string_view kChunkDir = "chunks/";

// The id a key names (KeyOf's inverse); false for an object under chunks/
// that is not named by an id, which is not a chunk.
bool IdOfKey(const std::string& key, ChunkId* id) {
  return key.size() == kChunkDir.size() + 64 && FromHex(std::string_view(key).substr(kChunkDir.size()), id);
}

Status VerifyPlaintext(const ChunkId& id, const ChunkHeader& header, std::span<const uint8_t> plaintext) {
  return VerifyChunkPlaintext(id, header, plaintext, "object " + S3ChunkStore::KeyOf(id));
}

}  // namespace

Result<std::unique_ptr<S3ChunkStore>> S3ChunkStore::Open(const S3Location& location,
                                                         const S3Credentials& credentials, int zstd_level,
                                                         S3Options options) {
  ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, S3Client::Open(location, credentials, options));
  return std::make_unique<S3ChunkStore>(std::move(client), zstd_level);
}

S3ChunkStore::S3ChunkStore(std::unique_ptr<S3Client> client, int zstd_level)
    : client_(std::move(client)), zstd_level_(zstd_level) {}

std::string S3ChunkStore::KeyOf(const ChunkId& id) { return std::string(kChunkDir) + ToHex(id); }

Status S3ChunkStore::Put(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                         bool* newly_stored) {
  if (newly_stored != nullptr) *newly_stored = false;
  const Digest256 actual = ComputeChunkId(scope, plaintext);
  if (actual != id) {
    return DataLoss("put chunk: " + std::to_string(plaintext.size()) + " bytes" +
                    (scope != nullptr ? " in scope " + ToHex(*scope) : std::string()) + " hash to " +
                    ToHex(actual) + ", expected id " + ToHex(id));
  }
  return PutHashedWithDigest(scope, id, plaintext, newly_stored, nullptr);
}

Status S3ChunkStore::PutHashed(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                               bool* newly_stored) {
  return PutHashedWithDigest(scope, id, plaintext, newly_stored, nullptr);
}

Status S3ChunkStore::PutHashedWithDigest(const ChunkScope* scope, const ChunkId& id,
                                         std::span<const uint8_t> plaintext, bool* newly_stored,
                                         std::optional<Digest256>* object_digest) {
  if (newly_stored != nullptr) *newly_stored = false;
  if (object_digest != nullptr) object_digest->reset();
  if (plaintext.size() > kMaxChunkPlaintext) {
    return InvalidArgument("", "put chunk " + ToHex(id) + ": " + std::to_string(plaintext.size()) +
                                   " bytes exceeds the limit " + std::to_string(kMaxChunkPlaintext));
  }
  ASSIGN_OR_RETURN(bool present, Has(id));
  if (present) return Status::Ok();
  const std::vector<uint8_t> object = EncodeChunkObject(scope, plaintext, /*compress=*/true, zstd_level_);
  // One SHA-256 of the object: the PUT's payload hash and the object digest
  // (of the bytes just encoded from `plaintext`, whose id the caller computed).
  const Digest256 digest = ComputeObjectDigest(object);
  RETURN_IF_ERROR(client_->Put(KeyOf(id), object, &digest).WithContext("put chunk " + ToHex(id)));
  if (object_digest != nullptr) *object_digest = digest;
  if (newly_stored != nullptr) *newly_stored = true;
  return Status::Ok();
}

Result<std::vector<uint8_t>> S3ChunkStore::ReadObject(const ChunkId& id, ChunkHeader* header) {
  Result<std::vector<uint8_t>> object = client_->Get(KeyOf(id), kMaxChunkPrefixSize + kMaxChunkPlaintext);
  if (!object.ok()) {
    if (object.status().code() == Code::kNotFound) {
      return NotFound("",
                      "chunk " + ToHex(id) + " is not in the store (" + client_->location().ToString() + ")");
    }
    return object.status().WithContext("get chunk " + ToHex(id));
  }
  Result<ChunkHeader> checked = CheckChunkObject(*object);
  if (!checked.ok()) return checked.status().WithContext("get chunk object " + ToHex(id));
  *header = *checked;
  return object;
}

Result<std::vector<uint8_t>> S3ChunkStore::Get(const ChunkId& id) {
  ChunkHeader header;
  ASSIGN_OR_RETURN(std::vector<uint8_t> object, ReadObject(id, &header));
  Result<std::vector<uint8_t>> plaintext = DecodeChunkObject(object);
  if (!plaintext.ok()) return plaintext.status().WithContext("get chunk " + ToHex(id));
  RETURN_IF_ERROR(VerifyPlaintext(id, header, *plaintext));
  return plaintext;
}

Result<std::vector<uint8_t>> S3ChunkStore::GetWithObjectDigest(const ChunkId& id,
                                                               const Digest256& object_digest) {
  ChunkHeader header;
  ASSIGN_OR_RETURN(std::vector<uint8_t> object, ReadObject(id, &header));
  const bool digest_matches = ComputeObjectDigest(object) == object_digest;
  Result<std::vector<uint8_t>> plaintext = DecodeChunkObject(object);
  if (!plaintext.ok()) return plaintext.status().WithContext("get chunk " + ToHex(id));
  if (!digest_matches) RETURN_IF_ERROR(VerifyPlaintext(id, header, *plaintext));
  return plaintext;
}

Result<std::vector<uint8_t>> S3ChunkStore::GetStored(const ChunkId& id) {
  ChunkHeader header;
  return ReadObject(id, &header);
}

Status S3ChunkStore::WriteObject(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored,
                                 const Digest256* object_digest) {
  ASSIGN_OR_RETURN(bool present, Has(id));
  if (present) return Status::Ok();
  RETURN_IF_ERROR(client_->Put(KeyOf(id), object, object_digest).WithContext("put chunk " + ToHex(id)));
  if (newly_stored != nullptr) *newly_stored = true;
  return Status::Ok();
}

Status S3ChunkStore::PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored) {
  if (newly_stored != nullptr) *newly_stored = false;
  Result<std::vector<uint8_t>> plaintext = DecodeVerifiedChunkObject(id, object);
  if (!plaintext.ok()) return plaintext.status().WithContext("put chunk object " + ToHex(id));
  return WriteObject(id, object, newly_stored);
}

Status S3ChunkStore::PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object,
                                         const Digest256& object_digest, bool* newly_stored) {
  if (newly_stored != nullptr) *newly_stored = false;
  Result<ChunkHeader> header = CheckChunkObject(object);
  if (!header.ok()) return header.status().WithContext("put chunk object " + ToHex(id));
  RETURN_IF_ERROR(VerifyObjectDigest(id, object, object_digest));
  return WriteObject(id, object, newly_stored, &object_digest);
}

Result<bool> S3ChunkStore::Has(const ChunkId& id) {
  ASSIGN_OR_RETURN(std::optional<uint64_t> size, client_->Head(KeyOf(id)));
  return size.has_value();
}

Status S3ChunkStore::Delete(const ChunkId& id) { return client_->Delete(KeyOf(id)); }

Status S3ChunkStore::List(const std::function<void(const ChunkId&)>& fn) {
  return client_->List(kChunkDir, [&](const S3ObjectInfo& o) {
    ChunkId id{};
    if (IdOfKey(o.key, &id)) fn(id);
  });
}

Result<ChunkStoreStats> S3ChunkStore::Stats() {
  ChunkStoreStats stats;
  RETURN_IF_ERROR(client_->List(kChunkDir, [&](const S3ObjectInfo& o) {
    ChunkId id{};
    if (IdOfKey(o.key, &id)) {
      stats.chunks++;
      stats.stored_bytes += o.size;
    }
  }));
  return stats;
}

}  // namespace ferry
