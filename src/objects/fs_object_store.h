// FsObjectStore: the file-system backend of ObjectStore — one folder per
// bucket under a root directory (DATA/oss), one file per object.
//
// On-disk layout (format version 1 of the metadata files):
//
//   <root>/<bucket>/                      a bucket; it appears by the rename
//                                         of a prepared folder holding:
//     .ferry-owner                        owner account id + "\n" (its mtime
//                                         is the creation time). A folder the
//                                         operator made by hand has none and
//                                         belongs to the root account.
//     <key>                               the object's bytes; '/' in a key is
//                                         a folder, so "a" and "a/b" cannot
//                                         both exist (InvalidObjectName)
//     .ferry-meta/<h>                     the object's metadata, JSON:
//        {"v":1,"key","size","etag","crc64","md5"(hex, Normal only),
//         "type","content_type","meta":{...},"last_modified",
//         "ino","mtime_ns"}; h = first 32 hex of SHA-256(key)
//     .ferry-staging/<h>                  staging marker: the key, then one
//                                         claiming task id per line
//     .uploads/.ferry-put-<random>        a put, export or completion being
//                                         published
//     .uploads/mp-<upload id>/upload      a multipart upload, JSON:
//        {"v":1,"key","initiated","content_type","meta":{...},
//         "part_size"(once a part fixed it)}
//     .uploads/mp-<upload id>/data        the parts written in place: part
//                                         N at (N-1)*part_size (sparse)
//     .uploads/mp-<upload id>/<NNNNN>     part NNNNN's bytes (5 digits) when
//                                         not in place
//     .uploads/mp-<upload id>/<NNNNN>.meta  {"v":1,"size","md5","crc64",
//                                         "last_modified"} and either
//                                         "offset","data_ino" (in place) or
//                                         "ino","mtime_ns" (its own file)
//
// Names starting with ".ferry" or ".uploads" are reserved (never keys).
//
// Durability and atomicity. Every object is written to a private file under
// .uploads, fsynced, then its metadata file is written (temp, fsync, rename)
// and the object renamed into place (fsync of the folder). The metadata
// names the inode, size and mtime of the file it describes; a metadata file
// that does not match the object's inode (a crash between the two renames,
// a file the operator copied in by hand, data dirs from before metadata)
// is ignored and the object is "legacy": its ETag is derived from inode,
// size and mtime (stable, opaque, not an MD5), no CRC-64 and no Content-MD5
// are reported and the Content-Type is application/octet-stream. Commits
// and deletes of one key are serialized in this process (one process per
// data directory), so a key's metadata always follows its last commit.
//
// Multipart completion publishes the upload's data file (parts of one size
// land there at their final offsets; fs_multipart.cc) after copying in the
// parts stored apart; uploads whose parts do not tile the object are
// copied once into a new file with copy_file_range (holes stay holes). The
// object's CRC-64 is combined from the parts' (Crc64Combine) without
// reading them; the ETag is MD5 of the parts' MD5s, "-<count>". PutFile
// with known digests (a raw export) stores the ETag and CRC-64 its caller
// computed, reading nothing: that ETag has the multipart shape but is not
// an MD5 (region/export_etag.h), and no "md5" is recorded. All-zero
// 4 KiB blocks (aligned in the file) of every write stay holes.
//
// Safety. Every path from a client is a validated key, opened beneath the
// bucket folder (opened itself with O_NOFOLLOW) with no symlink anywhere on
// the way (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a component walk
// with O_NOFOLLOW where openat2 is missing); only regular files are objects,
// and a FIFO planted by hand cannot hang a reader. Folders for new keys are
// made component by component with O_NOFOLLOW, so a symlink planted in a
// bucket is never followed for writing either. Listings skip symlinks,
// reserved names and names that are not valid keys.
//
// Threading: thread-safe. Writers are used by one thread at a time.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "common/clock.h"
#include "objects/object_store.h"

namespace ferry {

class FsObjectStore final : public ObjectStore {
 public:
  // `root_account_id` owns buckets that have no owner file.
  FsObjectStore(std::string root_dir, std::string root_account_id, const Clock& clock = SystemClock::Get());
  ~FsObjectStore() override;

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
  std::string HostPathPrefix() const override { return root_ + "/"; }

  const std::string& root() const { return root_; }
  // The file of an object `account_id` may read (NoSuchBucket / NoSuchKey
  // otherwise). For tests and operator tools only: never check a path and
  // then hand it to a tool (it can be replaced in between); use OpenForRead.
  Result<std::string> PathForRead(const std::string& account_id, const std::string& bucket,
                                  const std::string& key) const;

  // ---- Internal: used by the writers (fs_object_store.cc) ----
  struct Bucket;  // an opened, owner-checked bucket folder
  // Publishes the fsynced private file `temp` (a name under .uploads, `fd`
  // open on it) as `key`, with `info` as its metadata (ino and mtime filled
  // in here). Removes the temp file on failure.
  Result<ObjectInfo> Publish(const Bucket& bucket, const std::string& temp, int fd, const std::string& key,
                             ObjectInfo info);
  std::mutex& UploadLock(const std::string& upload_id) const;
  // What this process knows of a multipart upload beyond its files: the
  // parts being written at their offsets, and whether the data file is
  // closed to them (fs_multipart.cc). Made on first use.
  struct UploadState;
  std::shared_ptr<UploadState> StateOf(const std::string& upload_id);
  void ForgetUpload(const std::string& upload_id);

 private:
  Result<Bucket> OpenBucket(const std::string& account_id, const std::string& bucket) const;
  Result<std::string> BucketOwner(int dir_fd, const std::string& bucket) const;
  std::mutex& KeyLock(const std::string& bucket, const std::string& key) const;
  std::string MetaPath(const std::string& bucket, const std::string& key) const;
  std::string StagingMarkerPath(const std::string& bucket, const std::string& key) const;
  Result<ObjectInfo> InfoFor(int fd, const std::string& bucket, const std::string& key) const;
  Status RemoveObject(const Bucket& bucket, const std::string& key);

  std::string root_;
  std::string root_account_id_;
  const Clock& clock_;

  static constexpr size_t kLockStripes = 64;
  mutable std::array<std::mutex, kLockStripes> key_locks_;     // a key's commit/delete
  mutable std::array<std::mutex, kLockStripes> upload_locks_;  // a multipart upload's state
  // Shared by anything adding folders or entries to a bucket; exclusive
  // while empty folders are removed and buckets deleted.
  mutable std::shared_mutex tree_mu_;
  mutable std::mutex staging_mu_;  // serialises marker read-modify-writes
  std::mutex states_mu_;
  std::map<std::string, std::shared_ptr<UploadState>> upload_states_;  // guarded by states_mu_
};

}  // namespace ferry
