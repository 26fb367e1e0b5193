#include "store/chunk_store.h"

#include "store/chunk_format.h"

namespace ferry {
namespace {

// ChunkStore::NewWriteBatch's default: every Put is a PutStored of the store.
class WriteThroughBatch final : public ChunkWriteBatch {
 public:
  explicit WriteThroughBatch(ChunkStore& store) : store_(store) {}

  Status PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored) override {
    return store_.PutStored(id, object, newly_stored);
  }
  Status PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object,
                             const Digest256& object_digest, bool* newly_stored) override {
    return store_.PutStoredWithDigest(id, object, object_digest, newly_stored);
  }
  Status Commit() override { return Status::Ok(); }
  size_t pending() const override { return 0; }

 private:
  ChunkStore& store_;
};

}  // namespace

Result<std::vector<uint8_t>> ChunkStore::GetStored(const ChunkId& id) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> plaintext, Get(id));
  if (ComputeChunkId(nullptr, plaintext) != id) {
    return Internal("get chunk object " + ToHex(id) + ": the chunk is scoped and this store cannot encode its object");
  }
  return EncodeChunkObject(plaintext, /*compress=*/false);
}

Result<std::optional<ChunkObjectFile>> ChunkStore::OpenStored(const ChunkId&) {
  return std::optional<ChunkObjectFile>();
}

std::unique_ptr<ChunkWriteBatch> ChunkStore::NewWriteBatch() {
  return std::make_unique<WriteThroughBatch>(*this);
}

Status ChunkStore::PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored) {
  if (newly_stored != nullptr) *newly_stored = false;
  ChunkHeader header;
  Result<std::vector<uint8_t>> plaintext = DecodeChunkObject(object, &header);
  if (!plaintext.ok()) return plaintext.status().WithContext("put chunk object " + ToHex(id));
  Digest256 actual = ComputeChunkId(header.scope_ptr(), *plaintext);
  if (actual != id) {
    return DataLoss("put chunk object: plaintext of " + std::to_string(plaintext->size()) + " bytes" +
                    (header.scope ? " in scope " + ToHex(*header.scope) : std::string()) + " hashes to " +
                    ToHex(actual) + ", expected id " + ToHex(id));
  }
  return PutHashed(header.scope_ptr(), id, *plaintext, newly_stored);
}

Status ChunkStore::PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object,
                                       const Digest256& object_digest, bool* newly_stored) {
  if (newly_stored != nullptr) *newly_stored = false;
  RETURN_IF_ERROR(VerifyObjectDigest(id, object, object_digest).WithContext("put chunk object " + ToHex(id)));
  return PutStored(id, object, newly_stored);
}

}  // namespace ferry
