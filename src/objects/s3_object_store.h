// S3ObjectStore: the ObjectStore backend in the region's S3-compatible store
// (Ceph RADOS Gateway, MinIO, AWS), so that every node of a region serves
// the same buckets: an object uploaded through one node is imported by
// another. The design, its layout and what the gateway was checked to do
// are in s3_object_store.md beside this file.
//
// Keys, under the location's prefix:
//   oss/b/<bucket>                      the bucket record {"owner","created"};
//                                       made with If-None-Match: * (two nodes
//                                       creating one name race safely)
//   oss/a/<account>/<bucket>            the account's index of its buckets
//   oss/o/<bucket>/<key>                the object (or, for a parted one, the
//                                       list of its parts); its ObjectInfo in
//                                       the x-amz-meta-ferry header (base64
//                                       JSON), or in oss/m/<bucket>/<sha256>
//                                       when too large for a header
//   oss/u/<bucket>/<upload id>          a multipart upload {"key",...}
//   oss/p/<bucket>/<id>/<NNNNN>         part NNNNN of an upload or of a
//                                       parted object, an object of its own
//   oss/k/<bucket>/<id>/<NNNNN>-<chunk>-<size>
//                                       part NNNNN is that chunk of the
//                                       region's chunk store (PartChunks):
//                                       the root garbage collection reads
//   oss/d/<bucket>/<id>                 the key parts <id> are for (the sweep
//                                       frees parts no object names)
//   oss/s/<bucket>/<h>                  a staging mark (body: the key);
//   oss/c/<bucket>/<h>/<task id>        its claims, one object each
//                                       (h = SHA-256 of the key, hex)
//
// Writers spool to an unlinked file in `spool_dir` (hashing MD5 and CRC-64
// as bytes arrive); Commit sends it in one PUT with Content-MD5 (up to
// 16 MiB) or an S3 multipart upload of 16 MiB parts, each with its
// Content-MD5, two at a time: the gateway checks every byte it stores, and
// the object appears whole. A completed multipart upload, and a file of
// more than 16 MiB (an export), is a parted object: its parts stay where
// they are, zero parts are only lengths, and the object is their list, so
// completing moves no bytes and zeros are neither stored nor read. A
// reader gets an unlinked copy of the object (ranged GETs with If-Match on
// the ETag it read the metadata with, the CRC-64 checked, all-zero blocks
// left as holes).
//
// Keys may be any bytes ValidateKey allows; the gateway's limit on a whole
// key (1024 bytes on Ceph by default) bounds bucket + key a little below
// OSS's 1023 for the key alone (InvalidObjectName, saying so).
//
// Threading: thread-safe; writers and readers are used by one thread at a
// time.
#pragma once

#include <memory>
#include <string>

#include "common/clock.h"
#include "objects/object_store.h"

namespace ferry {

class S3Client;

class S3ObjectStore final : public ObjectStore {
 public:
  // `spool_dir`: a folder of this node for writers' and readers' temp files
  // (unlinked: nothing is left after a crash).
  S3ObjectStore(std::shared_ptr<S3Client> client, std::string spool_dir,
                const Clock& clock = SystemClock::Get());
  ~S3ObjectStore() override;

  Status CreateBucket(const std::string& account_id, const std::string& bucket) override;
  Status DeleteBucket(const std::string& account_id, const std::string& bucket) override;
  Result<BucketInfo> GetBucket(const std::string& account_id, const std::string& bucket) const override;
  Result<ListBucketsResult> ListBuckets(const std::string& account_id,
                                        const ListBucketsRequest& request) const override;

  Result<std::unique_ptr<ObjectPutWriter>> PutObject(const std::string& account_id, const std::string& bucket,
                                                     const std::string& key,
                                                     const PutOptions& options) override;
  Result<ObjectInfo> PutFile(const std::string& account_id, const std::string& bucket, const std::string& key,
                             int fd, const PutOptions& options) override;
  Result<OpenObject> OpenForRead(const std::string& account_id, const std::string& bucket,
                                 const std::string& key) const override;
  Result<OpenObject> OpenRangeForRead(const std::string& account_id, const std::string& bucket,
                                      const std::string& key, const RangePicker& pick) const override;
  Result<uint64_t> ObjectStoredBytes(const std::string& account_id, const std::string& bucket,
                                     const std::string& key) const override;
  Result<ObjectInfo> HeadObject(const std::string& account_id, const std::string& bucket,
                                const std::string& key) const override;
  Result<ListObjectsResult> ListObjects(const std::string& account_id, const std::string& bucket,
                                        const ListObjectsRequest& request) const override;
  Status DeleteObject(const std::string& account_id, const std::string& bucket,
                      const std::string& key) override;

  Result<std::string> InitiateMultipart(const std::string& account_id, const std::string& bucket,
                                        const std::string& key, const PutOptions& options) override;
  Result<std::unique_ptr<PartWriter>> UploadPart(const std::string& account_id, const std::string& bucket,
                                                 const std::string& key, const std::string& upload_id,
                                                 uint32_t part_number, std::optional<Md5Digest> expected_md5,
                                                 std::optional<uint64_t> size = std::nullopt) override;
  Result<PartInfo> UploadZeroPart(const std::string& account_id, const std::string& bucket,
                                  const std::string& key, const std::string& upload_id, uint32_t part_number,
                                  uint64_t size, std::optional<Md5Digest> expected_md5) override;
  Result<ListPartsResult> ListParts(const std::string& account_id, const std::string& bucket,
                                    const std::string& key, const std::string& upload_id,
                                    const ListPartsRequest& request) const override;
  Result<ListUploadsResult> ListUploads(const std::string& account_id, const std::string& bucket,
                                        const ListUploadsRequest& request) const override;
  Result<ObjectInfo> CompleteMultipart(const std::string& account_id, const std::string& bucket,
                                       const std::string& key, const std::string& upload_id,
                                       const std::vector<CompletePart>& parts) override;
  Status AbortMultipart(const std::string& account_id, const std::string& bucket, const std::string& key,
                        const std::string& upload_id) override;

  Status SetStaging(const std::string& account_id, const std::string& bucket, const std::string& key,
                    bool staging) override;
  Status ClaimStaging(const std::string& account_id, const std::string& bucket, const std::string& key,
                      const std::string& task_id) override;
  bool IsStaging(const std::string& bucket, const std::string& key) const override;
  Status ReleaseStaging(const std::string& bucket, const std::string& key,
                        const std::string& task_id) override;
  std::vector<StagingClaim> ListStagingClaims() const override;

  SweepStats SweepExpired(UnixSeconds now, int64_t max_age_seconds) override;
  Result<uint64_t> AccountObjectBytes(const std::string& account_id) const override;

  void SetPartChunks(std::shared_ptr<PartChunks> chunks) override;
  Status ForEachChunkRoot(const std::function<void(const Digest256&)>& fn) const override;
  Result<std::optional<ObjectChunkLayout>> ChunkLayout(const std::string& account_id,
                                                       const std::string& bucket,
                                                       const std::string& key) const override;

  // Internal (s3_object_store.cc): the state its writers share.
  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace ferry
