// S3ChunkStore: a ChunkStore in a bucket of an S3-compatible object store
// (Ceph RADOS Gateway in our tests), shared by the nodes of a region.
//
// Layout: <prefix>chunks/<64 hex id>, each object a chunk object as in
// chunk_format.md, byte for byte what FsChunkStore keeps in its file: only
// the location differs. An object is written with one PUT that carries its
// SHA-256, so the server stores it whole or not at all and never keeps bytes
// damaged on the way; an answered PUT is durable (the server's promise), so
// Sync has nothing to do.
//
// Every read is verified as FsChunkStore verifies it: the plaintext against
// the id, or the object against its object digest.
//
// Threading: thread-safe (S3Client is); nothing is cached.
#pragma once

#include <memory>

#include "store/chunk_format.h"
#include "store/chunk_store.h"
#include "store/s3_client.h"

namespace ferry {

class S3ChunkStore final : public ChunkStore {
 public:
  // Opens the client (checking the bucket and the credentials: S3Client::Open).
  static Result<std::unique_ptr<S3ChunkStore>> Open(const S3Location& location,
                                                    const S3Credentials& credentials, int zstd_level = 1,
                                                    S3Options options = {});
  explicit S3ChunkStore(std::unique_ptr<S3Client> client, int zstd_level = 1);

  using ChunkStore::Put;
  using ChunkStore::PutHashed;
  Status Put(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
             bool* newly_stored = nullptr) override;
  Status PutHashed(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                   bool* newly_stored = nullptr) override;
  Status PutHashedWithDigest(const ChunkScope* scope, const ChunkId& id, std::span<const uint8_t> plaintext,
                             bool* newly_stored, std::optional<Digest256>* object_digest) override;
  Status Sync() override { return Status::Ok(); }
  Result<std::vector<uint8_t>> Get(const ChunkId& id) override;
  Result<std::vector<uint8_t>> GetWithObjectDigest(const ChunkId& id,
                                                   const Digest256& object_digest) override;
  Result<std::vector<uint8_t>> GetStored(const ChunkId& id) override;
  // Verifies the object (decoded, its plaintext against the id), then stores
  // its bytes as they are.
  Status PutStored(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored = nullptr) override;
  Status PutStoredWithDigest(const ChunkId& id, std::span<const uint8_t> object,
                             const Digest256& object_digest, bool* newly_stored = nullptr) override;
  Result<bool> Has(const ChunkId& id) override;
  Status Delete(const ChunkId& id) override;
  Status List(const std::function<void(const ChunkId&)>& fn) override;
  Result<ChunkStoreStats> Stats() override;

  // The object key of `id`, relative to the location's prefix.
  static std::string KeyOf(const ChunkId& id);
  S3Client& client() { return *client_; }

 private:
  // The object of `id`, its header and size checked (kNotFound, kDataLoss).
  Result<std::vector<uint8_t>> ReadObject(const ChunkId& id, ChunkHeader* header);
  // Stores `object` (already verified) unless the chunk is there;
  // `object_digest` its SHA-256 if known (the PUT's payload hash).
  Status WriteObject(const ChunkId& id, std::span<const uint8_t> object, bool* newly_stored,
                     const Digest256* object_digest = nullptr);

  std::unique_ptr<S3Client> client_;
  const int zstd_level_;
};

}  // namespace ferry
