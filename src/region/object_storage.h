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
  // `root_account_id` owns buckets that have no owner file.
  ObjectStorage(std::string root_dir, std::string root_account_id);

  // 3-63 characters of [a-z0-9-], not starting or ending with '-'
  // (InvalidOSSBucket.Malformed otherwise).
  static Status ValidateBucketName(const std::string& bucket);
  // 1-1023 bytes of UTF-8 without control characters (C0, DEL, C1), no
  // leading '/', no "." or ".." path segment, no reserved names
  // (InvalidOSSObject.Malformed otherwise).
  static Status ValidateObjectName(const std::string& object);

  // Path of an existing object readable by `account_id`:
  // InvalidOSSBucket.NotFound / InvalidOSSObject.NotFound otherwise.
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
  Result<std::string> TempPathForWrite(const std::string& account_id, const std::string& bucket);
  // Atomically moves `temp_path` to <bucket>/<object> (fsync + rename + fsync dir).
  Status Publish(const std::string& temp_path, const std::string& bucket, const std::string& object);

  const std::string& root() const { return root_; }

 private:
  std::string root_;
  std::string root_account_id_;
};

}  // namespace ferry
