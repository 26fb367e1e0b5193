// ObjectStorage: the region's OSS stand-in — one folder per bucket under a
// root directory (default DATA/oss). ImportImage reads from it, ExportImage
// writes to it, and the CLI uploads to it through the server
// (PUT /oss/<bucket>/<object>, see api/server.h).
//
// Ownership: a bucket belongs to the account that created it (recorded in
// <bucket>/.ferry-owner). A folder created by hand by the operator has no
// owner file and belongs to the root account. Another account's bucket is
// reported as not found (InvalidOSSBucket.NotFound) — never revealed.
//
// Layout: <root>/<bucket>/<object path>, in-progress uploads under
// <root>/<bucket>/.uploads/<upload-id>; names starting with ".ferry" or
// ".uploads" are reserved.
//
// Threading: thread-safe; an UploadSession is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/fs_util.h"
#include "common/status.h"

namespace ferry {

class UploadSession {
 public:
  virtual ~UploadSession() = default;
  // Writes bytes at `offset` of the object being uploaded (parts may come in
  // any order; gaps stay sparse).
  virtual Status Write(uint64_t offset, std::span<const uint8_t> data) = 0;
  // Sets the final size, fsyncs, and publishes the object atomically.
  virtual Status Complete(uint64_t size) = 0;
  // Discards the upload.
  virtual void Abort() = 0;
};

class ObjectStorage {
 public:
  // The largest object, as OSS bounds it: 10,000 parts of 5 GiB (48.8 TiB).
  // Upload offsets, part ends and declared sizes beyond it are refused
  // (InvalidParameter) before anything is written.
  static constexpr uint64_t kMaxObjectBytes = uint64_t{10000} * (uint64_t{5} << 30);
  // Refuses an object size (or a part's end) beyond kMaxObjectBytes, naming
  // `what` ("size", "offset + part length").
  static Status CheckObjectSize(uint64_t bytes, const std::string& what);

  // `root_account_id` owns buckets that have no owner file.
  ObjectStorage(std::string root_dir, std::string root_account_id);

  // 3-63 characters of [a-z0-9-], not starting or ending with '-'
  // (InvalidOSSBucket.Malformed otherwise).
  static Status ValidateBucketName(const std::string& bucket);
  // 1-1023 bytes, no leading '/', no "." or ".." path segment, no NUL, no
  // reserved names (InvalidOSSObject.Malformed otherwise).
  static Status ValidateObjectName(const std::string& object);

  // Opens an existing object readable by `account_id` for reading, once:
  // the bucket folder is opened without following a symlink, its owner file
  // read through that folder, and the object opened beneath it with no
  // symlink anywhere on the way (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS,
  // or a component walk with O_NOFOLLOW where openat2 is missing), O_RDONLY|
  // O_NOFOLLOW|O_CLOEXEC, and must be a regular file.
  // InvalidOSSBucket.NotFound / InvalidOSSObject.NotFound otherwise.
  //
  // The descriptor names an inode nobody rewrites: every write Ferry makes
  // into a bucket builds a private file and publishes it by rename (uploads
  // via Complete, exports via Publish), so a later upload of the same name
  // replaces the name, never these bytes. Callers still compare fstat
  // before and after use, against the operator editing files by hand.
  Result<UniqueFd> OpenForRead(const std::string& account_id, const std::string& bucket,
                               const std::string& object) const;

  // Path of an existing object readable by `account_id`:
  // InvalidOSSBucket.NotFound / InvalidOSSObject.NotFound otherwise.
  // For tests and existence checks only: never check a path and then hand it
  // to a tool (it can be replaced in between); use OpenForRead.
  Result<std::string> PathForRead(const std::string& account_id, const std::string& bucket,
                                  const std::string& object) const;

  // Checks that `bucket` exists and belongs to `account_id`
  // (InvalidOSSBucket.NotFound otherwise).
  Status CheckBucket(const std::string& account_id, const std::string& bucket) const;

  // Creates the bucket for `account_id` if it does not exist; fails with
  // InvalidOSSBucket.NotFound if another account owns it.
  Status EnsureBucket(const std::string& account_id, const std::string& bucket);

  // Starts (or continues, for the same upload_id) an upload into a bucket
  // owned by `account_id` (created if new). upload_id: [A-Za-z0-9-]{1,64}.
  Result<std::unique_ptr<UploadSession>> OpenUpload(const std::string& account_id, const std::string& bucket,
                                                    const std::string& object, const std::string& upload_id);

  // A temp path inside the bucket for an object that will be published with
  // Publish(); used by exports so the final rename stays on one file system.
  // The file is created here (O_EXCL, 0600) under <bucket>/.uploads with a
  // name starting with ".ferry-export-", which no upload id can produce.
  Result<std::string> TempPathForWrite(const std::string& account_id, const std::string& bucket);
  // Atomically moves `temp_path` to <bucket>/<object> (fsync + rename + fsync dir).
  Status Publish(const std::string& temp_path, const std::string& bucket, const std::string& object);

  const std::string& root() const { return root_; }

 private:
  std::string root_;
  std::string root_account_id_;
};

}  // namespace ferry
