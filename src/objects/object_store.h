// ObjectStore: buckets of objects, as OSS models them — the seam between
// Ferry's object storage and what uses it (ImportImage reads, ExportImage
// writes, the Ferry CLI's upload route, and the OSS wire endpoint). Two
// backends: FsObjectStore (objects/fs_object_store.h, the data directory)
// and S3ObjectStore (objects/s3_object_store.h, the region's S3 store, so
// that every node serves the same buckets); both pass the same contract
// tests (tests/unit/objects/object_store_contract_test.cc).
//
// Semantics follow OSS (shared/reference/oss-api.md sections 4-5):
//   - Buckets belong to the account that created them. Creating your own
//     bucket again is fine; another account's name is BucketAlreadyExists.
//     Deleting a bucket that holds objects or open multipart uploads is
//     BucketNotEmpty.
//   - Isolation: every read or write of another account's bucket fails
//     exactly as if the bucket did not exist (NoSuchBucket), so bucket names
//     reveal nothing about other accounts. (OSS answers AccessDenied for a
//     bucket that exists under another owner; we chose not to confirm its
//     existence. CreateBucket is the one call that must say the name is
//     taken: BucketAlreadyExists.)
//   - Objects are written by streaming (ObjectWriter: Write sequentially,
//     then Commit), never held whole in memory, and appear atomically:
//     a reader sees the old object or the new one, whole. The last commit
//     of two writers to one key wins.
//   - Each object carries its size, ETag ("<MD5 upper hex>" with the quotes;
//     "<hex>-<parts>" for multipart objects, opaque as OSS documents it: a
//     raw export's is not an MD5, KnownFileDigests), CRC-64/XZ of its bytes
//     (common/crc64.h), Content-Type, x-oss-meta-* user metadata (at most
//     kMaxUserMetaBytes), last-modified time and type (Normal|Multipart).
//   - Listings are in UTF-8 byte order.
//
// Errors: a failed Status carries one of the stable reasons below (OSS error
// codes, so the OSS wire maps them 1:1). The ECS layer maps them to its own
// codes (InvalidOSSBucket.NotFound, ...) in region/object_errors.h.
//
// Threading: every method is thread-safe. A writer or reader object is used
// by one thread at a time.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/status.h"

namespace ferry {

// Status::reason() of object-store failures (OSS error codes).
namespace oss_error {
inline constexpr char kNoSuchBucket[] = "NoSuchBucket";                // NotFound
inline constexpr char kNoSuchKey[] = "NoSuchKey";                      // NotFound
inline constexpr char kNoSuchUpload[] = "NoSuchUpload";                // NotFound
inline constexpr char kBucketAlreadyExists[] = "BucketAlreadyExists";  // AlreadyExists
inline constexpr char kBucketNotEmpty[] = "BucketNotEmpty";            // FailedPrecondition
inline constexpr char kInvalidBucketName[] = "InvalidBucketName";      // InvalidArgument
inline constexpr char kInvalidObjectName[] = "InvalidObjectName";      // InvalidArgument
inline constexpr char kInvalidPart[] = "InvalidPart";                  // InvalidArgument
inline constexpr char kInvalidPartOrder[] = "InvalidPartOrder";        // InvalidArgument
inline constexpr char kEntityTooSmall[] = "EntityTooSmall";            // InvalidArgument
inline constexpr char kEntityTooLarge[] = "EntityTooLarge";            // InvalidArgument
inline constexpr char kInvalidDigest[] = "InvalidDigest";              // InvalidArgument
inline constexpr char kInvalidArgument[] = "InvalidArgument";          // InvalidArgument
inline constexpr char kAccessDenied[] = "AccessDenied";                // PermissionDenied
}  // namespace oss_error

enum class ObjectType { kNormal, kMultipart };
const char* ObjectTypeName(ObjectType type);  // "Normal" | "Multipart"

struct BucketInfo {
  std::string name;
  std::string owner_account_id;
  UnixSeconds creation_time = 0;
};

// x-oss-meta-* pairs, keys without the prefix, lower case.
using UserMeta = std::map<std::string, std::string>;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  std::string etag;                      // with its quotes, as the ETag header shows it
  std::optional<uint64_t> crc64;         // absent when unknown (see FsObjectStore: legacy files)
  std::optional<Md5Digest> content_md5;  // Normal objects written through the store
  std::string content_type;
  UserMeta user_meta;
  UnixSeconds last_modified = 0;
  ObjectType type = ObjectType::kNormal;
};

// The digests of a file that its writer computed while writing it, handed
// to PutFile so that it reads none of the file's bytes (ExportImage of a raw
// disk, region/region_import_export.cc).
struct KnownFileDigests {
  // Opaque and multipart-shaped, "<32 upper hex>-<N>" with the quotes
  // (OpaqueMultipartEtag): not an MD5 of the bytes, as OSS documents the
  // ETag of multipart objects; it identifies the bytes all the same.
  std::string etag;
  uint64_t crc64 = 0;  // CRC-64 (common/crc64.h) of the whole file: exact
};

// What a put (or a multipart upload's initiate) says about the object.
struct PutOptions {
  std::string content_type;  // empty: application/octet-stream
  UserMeta user_meta;
  // The largest object this put may write (EntityTooLarge beyond it):
  // PutObject's 5 GiB by default; an export raises it to kMaxObjectBytes.
  uint64_t max_bytes = uint64_t{5} << 30;
  // Content-MD5 the client sent: Commit refuses (InvalidDigest) and
  // publishes nothing when the bytes hash otherwise.
  std::optional<Md5Digest> expected_md5;
  // PutFile only (every other put ignores it): the file's ETag and CRC-64
  // as its writer computed them. PutFile trusts them and reads nothing; the
  // object is Multipart, without Content-MD5. Not with expected_md5
  // (InvalidArgument).
  std::optional<KnownFileDigests> known_digests;
};

// A sequential writer of one object or part. Nothing is visible until
// Commit succeeds; destroying an uncommitted writer discards it.
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual Status Write(std::span<const uint8_t> data) = 0;
  // Appends `count` zero bytes (a hole where the backend can keep one).
  virtual Status WriteZeros(uint64_t count);
  virtual uint64_t bytes_written() const = 0;
};

class ObjectPutWriter : public ObjectWriter {
 public:
  // Checks the size and digest, makes the bytes and metadata durable and
  // publishes them atomically under the key (replacing any object there).
  virtual Result<ObjectInfo> Commit() = 0;
};

struct PartInfo {
  uint32_t part_number = 0;
  uint64_t size = 0;
  std::string etag;  // "<MD5 upper hex>" with quotes
  uint64_t crc64 = 0;
  UnixSeconds last_modified = 0;
};

class PartWriter : public ObjectWriter {
 public:
  // Stores the part (replacing an earlier part with the same number).
  virtual Result<PartInfo> Commit() = 0;
};

// An object opened for reading: the descriptor reads the very bytes `info`
// describes (the inode that was checked), whatever later puts do. Ranges are
// served by the caller with pread. A backend without local files spools the
// object to an unlinked temp file.
struct OpenObject {
  UniqueFd fd;
  ObjectInfo info;
};

struct ListBucketsRequest {
  std::string prefix;
  std::string marker;  // buckets strictly after it
  uint32_t max_keys = 100;
};
struct ListBucketsResult {
  std::vector<BucketInfo> buckets;
  bool truncated = false;
  std::string next_marker;  // when truncated
};

struct ListObjectsRequest {
  std::string prefix;
  std::string delimiter;    // empty: no grouping
  std::string marker;       // keys (and common prefixes) strictly after it
  uint32_t max_keys = 100;  // 1-1000; common prefixes count
};
struct ListObjectsResult {
  std::vector<ObjectInfo> contents;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_marker;  // the last key or prefix returned, when truncated
};

struct MultipartUpload {
  std::string key;
  std::string upload_id;
  UnixSeconds initiated = 0;
};

struct ListPartsRequest {
  uint32_t max_parts = 1000;        // 1-1000
  uint32_t part_number_marker = 0;  // parts strictly after it
};
struct ListPartsResult {
  std::vector<PartInfo> parts;
  bool truncated = false;
  uint32_t next_part_number_marker = 0;
};

struct ListUploadsRequest {
  std::string prefix;
  std::string delimiter;
  std::string key_marker;
  std::string upload_id_marker;  // with key_marker: uploads of that key after this id
  uint32_t max_uploads = 1000;   // 1-1000
};
struct ListUploadsResult {
  std::vector<MultipartUpload> uploads;
  std::vector<std::string> common_prefixes;
  bool truncated = false;
  std::string next_key_marker;
  std::string next_upload_id_marker;
};

struct CompletePart {
  uint32_t part_number = 0;
  std::string etag;  // compared with the stored part's, ignoring quotes and case
};

// Staging objects: `ferry image import` uploads its disk as a staging
// object; the ImportImage task reading it claims it and the end of that task
// releases it; the last release deletes the object.
struct StagingClaim {
  std::string bucket;
  std::string key;
  std::string task_id;
};

struct SweepStats {
  uint64_t uploads_removed = 0;  // abandoned uploads (and their parts) and temp files
  uint64_t staging_removed = 0;
  uint64_t bytes_freed = 0;  // allocated bytes
};

// Where a store may keep the bytes of multipart parts as chunks of its
// region's chunk store (given by the region, src/region/part_chunks.h): a
// part then costs its compressed bytes once, and an import of the object
// takes its chunks as they are instead of reading it back. The chunks are
// referenced by roots the store keeps (ObjectStore::ForEachChunkRoot), which
// garbage collection reads.
class PartChunks {
 public:
  virtual ~PartChunks() = default;
  // Parts of 1 to this many bytes are kept as chunks.
  virtual uint64_t max_part_bytes() const = 0;
  // Stores `bytes` as a chunk in `account_id`'s dedup scope and runs
  // `root(id)` (which records the root) while the chunk is pinned, so no
  // garbage collection deletes it between its store and its root.
  virtual Result<Digest256> Keep(const std::string& account_id, std::span<const uint8_t> bytes,
                                 const std::function<Status(const Digest256&)>& root) = 0;
  // The chunk's bytes, verified against its id; kNotFound when it is gone.
  virtual Result<std::vector<uint8_t>> Read(const Digest256& id) = 0;
};

// An object as the list of its parts, for an importer that can take chunk
// parts as they are (ObjectStore::ChunkLayout).
struct ObjectChunkLayout {
  ObjectInfo info;
  struct Part {
    uint64_t size = 0;
    bool zeros = false;
    std::optional<Digest256> chunk;  // the part is this chunk (PartChunks)
  };
  std::vector<Part> parts;
};

class ObjectStore {
 public:
  // OSS limits.
  static constexpr uint64_t kMaxPutBytes = uint64_t{5} << 30;                  // PutObject, UploadPart
  static constexpr uint64_t kMaxObjectBytes = uint64_t{10000} * kMaxPutBytes;  // 48.8 TiB
  static constexpr uint64_t kMinPartBytes = 102400;                            // every part but the last
  static constexpr uint32_t kMaxPartNumber = 10000;
  static constexpr size_t kMaxUserMetaBytes = 8192;  // keys + values
  static constexpr uint32_t kMaxListKeys = 1000;

  virtual ~ObjectStore();

  // ^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$, else InvalidBucketName.
  static Status ValidateBucketName(const std::string& bucket);
  // 1-1023 bytes of UTF-8 without control characters, no leading '/' or
  // '\\', no empty, "." or ".." '/'-segment, none over 255 bytes, and no segment starting with
  // ".ferry" or ".uploads" (reserved), else InvalidObjectName. Stricter than
  // OSS: keys are paths in the file-system backend.
  static Status ValidateKey(const std::string& key);
  // Refuses `bytes` beyond `limit` (EntityTooLarge), naming `what`.
  static Status CheckSize(uint64_t bytes, uint64_t limit, const std::string& what);
  // Content-Type and user metadata bounds (InvalidArgument).
  static Status ValidatePutOptions(const PutOptions& options);

  // ---- Buckets
  virtual Status CreateBucket(const std::string& account_id, const std::string& bucket) = 0;
  virtual Status DeleteBucket(const std::string& account_id, const std::string& bucket) = 0;
  virtual Result<BucketInfo> GetBucket(const std::string& account_id, const std::string& bucket) const = 0;
  virtual Result<ListBucketsResult> ListBuckets(const std::string& account_id,
                                                const ListBucketsRequest& request) const = 0;

  // ---- Objects
  // The bucket must exist and be the account's.
  virtual Result<std::unique_ptr<ObjectPutWriter>> PutObject(const std::string& account_id,
                                                             const std::string& bucket,
                                                             const std::string& key,
                                                             const PutOptions& options) = 0;
  // Publishes the regular file open as `fd` (the caller wrote it and writes
  // it no more; it may be sparse) as `key`, reading only its data extents:
  // its ETag is the multipart form over the PutFileParts(fd, size) parts
  // (the MD5 of the parts' MD5s, "-N"), so a part that is all hole costs
  // nothing (its MD5 is the remembered MD5 of that many zeros) and a 600 GiB
  // disk with 1 GiB of data hashes about 1 GiB, on up to two threads,
  // dropping what it read from the page cache; CRC-64 as for any object. With
  // options.expected_md5 the whole file's MD5 is computed and checked
  // instead (ETag of a plain put); with options.known_digests nothing is
  // read (their ETag and CRC-64 are the object's). A backend on the file's file system takes
  // the file itself (FsObjectStore: a hard link, no copy, holes kept);
  // otherwise it is copied. For exports, whose files Ferry makes.
  virtual Result<ObjectInfo> PutFile(const std::string& account_id, const std::string& bucket,
                                     const std::string& key, int fd, const PutOptions& options) = 0;
  virtual Result<OpenObject> OpenForRead(const std::string& account_id, const std::string& bucket,
                                         const std::string& key) const = 0;
  // OpenForRead of part of the object: `pick` gets its info and names the
  // bytes wanted (an error from it is returned as it is). The descriptor
  // holds at least them, at their offsets in the object; a backend that
  // copies the object (S3ObjectStore) fetches only them. For ranged GETs.
  struct ByteRange {
    uint64_t offset = 0;
    uint64_t length = 0;
  };
  using RangePicker = std::function<Result<ByteRange>(const ObjectInfo& info)>;
  virtual Result<OpenObject> OpenRangeForRead(const std::string& account_id, const std::string& bucket,
                                              const std::string& key, const RangePicker& pick) const;
  // The bytes the object takes in the store: a sparse file's allocated
  // bytes (FsObjectStore), an S3 object's size. For quotas.
  virtual Result<uint64_t> ObjectStoredBytes(const std::string& account_id, const std::string& bucket,
                                             const std::string& key) const;
  virtual Result<ObjectInfo> HeadObject(const std::string& account_id, const std::string& bucket,
                                        const std::string& key) const = 0;
  virtual Result<ListObjectsResult> ListObjects(const std::string& account_id, const std::string& bucket,
                                                const ListObjectsRequest& request) const = 0;
  // No error when the key does not exist (as OSS). Drops a staging marker.
  virtual Status DeleteObject(const std::string& account_id, const std::string& bucket,
                              const std::string& key) = 0;
  // Deletes each key; the first failure (not a missing key) stops it.
  Status DeleteObjects(const std::string& account_id, const std::string& bucket,
                       const std::vector<std::string>& keys);

  // ---- Multipart uploads
  virtual Result<std::string> InitiateMultipart(const std::string& account_id, const std::string& bucket,
                                                const std::string& key, const PutOptions& options) = 0;
  // Part numbers 1-kMaxPartNumber (InvalidArgument); an unknown upload (or
  // one of another key) is NoSuchUpload. `size`, when the part's size is
  // known before its bytes (the request's Content-Length): the writer
  // refuses more bytes and a Commit with fewer (InvalidArgument), and the
  // backend may place the part where it lands in the object (no copy on
  // completion).
  virtual Result<std::unique_ptr<PartWriter>> UploadPart(const std::string& account_id,
                                                         const std::string& bucket, const std::string& key,
                                                         const std::string& upload_id, uint32_t part_number,
                                                         std::optional<Md5Digest> expected_md5,
                                                         std::optional<uint64_t> size = std::nullopt) = 0;
  // Stores part `part_number` as `size` zero bytes (a Ferry extension: the
  // Ferry CLI sends no body for an all-zero part). Its ETag and CRC-64 are
  // those of the zeros, as if they had been uploaded; `size` is 1-kMaxPutBytes
  // (EntityTooLarge beyond, InvalidArgument for 0); a Content-MD5 that is not
  // the zeros' is InvalidDigest. Same errors as UploadPart otherwise.
  virtual Result<PartInfo> UploadZeroPart(const std::string& account_id, const std::string& bucket,
                                          const std::string& key, const std::string& upload_id,
                                          uint32_t part_number, uint64_t size,
                                          std::optional<Md5Digest> expected_md5) = 0;
  virtual Result<ListPartsResult> ListParts(const std::string& account_id, const std::string& bucket,
                                            const std::string& key, const std::string& upload_id,
                                            const ListPartsRequest& request) const = 0;
  virtual Result<ListUploadsResult> ListUploads(const std::string& account_id, const std::string& bucket,
                                                const ListUploadsRequest& request) const = 0;
  // Checks `parts` (ascending: InvalidPartOrder; each stored with that
  // ETag: InvalidPart; all but the last at least kMinPartBytes:
  // EntityTooSmall), then publishes their concatenation as a Multipart
  // object and removes the upload. Parts not listed are dropped.
  virtual Result<ObjectInfo> CompleteMultipart(const std::string& account_id, const std::string& bucket,
                                               const std::string& key, const std::string& upload_id,
                                               const std::vector<CompletePart>& parts) = 0;
  virtual Status AbortMultipart(const std::string& account_id, const std::string& bucket,
                                const std::string& key, const std::string& upload_id) = 0;

  // ---- Staging objects (see StagingClaim)
  // Marks (or unmarks) an existing object; a new mark has no claims.
  virtual Status SetStaging(const std::string& account_id, const std::string& bucket, const std::string& key,
                            bool staging) = 0;
  // Adds a claim; no-op for an object that is not staging.
  virtual Status ClaimStaging(const std::string& account_id, const std::string& bucket,
                              const std::string& key, const std::string& task_id) = 0;
  virtual bool IsStaging(const std::string& bucket, const std::string& key) const = 0;
  // Drops a claim; the last one deletes the object. No-op without a claim.
  virtual Status ReleaseStaging(const std::string& bucket, const std::string& key,
                                const std::string& task_id) = 0;
  virtual std::vector<StagingClaim> ListStagingClaims() const = 0;

  // ---- Giving resources back
  // Removes uploads (and temp files) untouched for `max_age_seconds` and
  // unclaimed staging objects marked that long ago.
  virtual SweepStats SweepExpired(UnixSeconds now, int64_t max_age_seconds) = 0;
  // Bytes `account_id` stores: its objects and pending uploads.
  virtual Result<uint64_t> AccountObjectBytes(const std::string& account_id) const = 0;

  // ---- Parts kept as chunks (PartChunks); the defaults keep none.
  // Set once before serving (null: parts stay bytes of the object store).
  virtual void SetPartChunks(std::shared_ptr<PartChunks> chunks) { (void)chunks; }
  // Every chunk a part of an object or of an open upload is (garbage
  // collection keeps them).
  virtual Status ForEachChunkRoot(const std::function<void(const Digest256&)>& fn) const {
    (void)fn;
    return Status::Ok();
  }
  // The object's parts, when it is kept as parts (nullopt otherwise).
  virtual Result<std::optional<ObjectChunkLayout>> ChunkLayout(const std::string& account_id,
                                                               const std::string& bucket,
                                                               const std::string& key) const {
    (void)account_id, (void)bucket, (void)key;
    return std::optional<ObjectChunkLayout>();
  }

  // A prefix of host paths the backend may put into error messages (its
  // root directory), so callers can redact them; empty if none.
  virtual std::string HostPathPrefix() const { return ""; }

  // Sweeps now, then every `interval` on a thread this store owns (stopped
  // by StopExpirySweeper, which every backend's destructor calls before its
  // members go). Call at most once.
  void StartExpirySweeper(const Clock& clock, int64_t max_age_seconds, std::chrono::seconds interval);

  // ---- Stored-bytes accounting (backend-independent, implemented here)
  // Stored bytes of `account_id`: AccountObjectBytes plus what every usage
  // source reports (the snapshots' logical data bytes of each region using
  // this store). Never deduplicated bytes: usage tells nothing about others.
  using UsageSource = std::function<Result<uint64_t>(const std::string& account_id)>;
  // Returns an id for RemoveUsageSource. A source must not call back into
  // this store.
  uint64_t AddUsageSource(UsageSource source);
  void RemoveUsageSource(uint64_t id);
  Result<uint64_t> AccountStoredBytes(const std::string& account_id) const;
  // The per-account limit on stored bytes (0 = unlimited), enforced by
  // region/quotas.h. Set before serving.
  void set_max_account_bytes(uint64_t bytes) { max_account_bytes_ = bytes; }
  uint64_t max_account_bytes() const { return max_account_bytes_; }

 protected:
  void StopExpirySweeper();

 private:
  std::mutex sweeper_mu_;
  std::condition_variable sweeper_cv_;
  bool sweeper_stop_ = false;  // guarded by sweeper_mu_
  std::thread sweeper_;

  std::atomic<uint64_t> max_account_bytes_{0};
  mutable std::shared_mutex sources_mu_;
  uint64_t next_source_id_ = 1;              // guarded by sources_mu_
  std::map<uint64_t, UsageSource> sources_;  // guarded by sources_mu_
};

// ListUploads' answer over every upload of a bucket (any order), for the
// backends: those under the request's prefix and after its markers, sorted
// by key then upload id, grouped by its delimiter, cut at max_uploads.
ListUploadsResult PageOfUploads(std::vector<MultipartUpload> uploads, const ListUploadsRequest& request);

// Streams `length` bytes of `fd` from offset 0 into `writer`: data extents
// are read (SEEK_DATA/SEEK_HOLE), holes become WriteZeros. For exports,
// whose files are sparse.
Status CopyFileToWriter(int fd, uint64_t length, ObjectWriter& writer, const std::string& label);
// The same for `count` bytes from `offset`.
Status CopyFileRangeToWriter(int fd, uint64_t offset, uint64_t count, ObjectWriter& writer,
                             const std::string& label);

// MD5 of `count` zero bytes (the ETag of an all-zero part); recent sizes
// are remembered, so the usual equal-sized zero parts cost one hash.
Md5Digest Md5OfZeros(uint64_t count);

// The multipart ETag of parts with these MD5s: MD5 of their concatenated
// binary digests, "<upper hex>-<count>" in quotes.
std::string MultipartEtag(const std::vector<Md5Digest>& part_md5s);
// An ETag of the multipart shape, "<32 upper hex of digest>-<parts>" in
// quotes, for a digest that is not an MD5 (KnownFileDigests).
std::string OpaqueMultipartEtag(const std::array<uint8_t, 16>& digest, uint64_t parts);

// The part size PutFile hashes a file of `size` bytes in when its parts are
// all the same size: 8 MiB, or more (whole MiB) so that there are at most
// 10,000 parts, as OSS allows.
uint64_t PutFilePartBytes(uint64_t size);

// One part of a file as PutFile hashes it.
struct FilePart {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool hole = false;  // no data extent meets it: all zeros, not read
};

// The parts PutFile hashes the file open as `fd` (`size` bytes) in, in
// order, covering it. A sparse file's data extents, widened to a grain of
// 1 MiB, are parts of their own (at most PutFilePartBytes(size) each); the
// holes between them are parts of power-of-two MiB sizes up to twice that,
// largest first, so a scattered 4 KiB of file-system metadata costs one MiB
// of hashing, not a whole part of zeros around it, and every hole part has
// one of a few remembered MD5s. Never more than 10,000 parts: a file with
// too many extents for that is laid out again with twice the grain, and in
// the end in PutFilePartBytes(size) parts. A file system without
// SEEK_DATA, and files over 5 TB, get the PutFilePartBytes(size) parts.
// The layout follows the file's holes, so two files with the same bytes
// and different holes may have different ETags, as multipart uploads of
// the same bytes in different parts do.
Result<std::vector<FilePart>> PutFileParts(int fd, uint64_t size);
inline std::string QuotedMd5Etag(const Md5Digest& md5) { return "\"" + ToUpperHex(md5) + "\""; }

}  // namespace ferry
