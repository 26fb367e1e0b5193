#include "store/chunk_store.h"

#include "store/chunk_format.h"

namespace ferry {

Result<std::vector<uint8_t>> ChunkStore::GetStored(const ChunkId& id) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> plaintext, Get(id));
  return EncodeChunkObject(plaintext, /*compress=*/false);
}

Status ChunkStore::PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored) {
  if (newly_stored != nullptr) *newly_stored = false;
  Result<std::vector<uint8_t>> plaintext = DecodeChunkObject(object);
  if (!plaintext.ok()) return plaintext.status().WithContext("put chunk object " + ToHex(id));
  Digest256 actual = Sha256::Of(std::span<const uint8_t>(*plaintext));
  if (actual != id) {
    return DataLoss("put chunk object: plaintext of " + std::to_string(plaintext->size()) +
                    " bytes hashes to " + ToHex(actual) + ", expected id " + ToHex(id));
  }
  return PutHashed(id, *plaintext, newly_stored);
}

}  // namespace ferry
