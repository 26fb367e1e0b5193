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

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
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
  // 1-1023 bytes of UTF-8 without control characters (C0, DEL, C1), no
  // leading '/', no "." or ".." path segment, no reserved names
  // (InvalidOSSObject.Malformed otherwise).
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

  // ---- Giving resources back: expiry, staging objects, usage -------------
  //
  // Upload parts (and export temp files) live in <bucket>/.uploads/ until
  // their upload completes. One not written to for `max_age` is abandoned and
  // removed by SweepExpired, as is a staging object no import claimed within
  // `max_age` (see SetStaging).
  //
  // Staging objects: `ferry image import` uploads with staging=1; the object
  // then carries a marker (<bucket>/.ferry-staging/<hash of name>, first
  // line the object name, then one claiming task id per line). ImportImage
  // claims it (ClaimStaging) and the end of that task releases it
  // (ReleaseStaging): the last release deletes the object.

  ~ObjectStorage();

  // Removes the part file of upload `upload_id` of `object` (no error if it
  // is already gone). InvalidOSSBucket.NotFound if `account_id` does not own
  // the bucket.
  Status AbortUpload(const std::string& account_id, const std::string& bucket, const std::string& object,
                     const std::string& upload_id);
  // Deletes an object of a bucket `account_id` owns (and its staging marker).
  Status DeleteObject(const std::string& account_id, const std::string& bucket, const std::string& object);

  // Marks (or unmarks) an existing object as staging. A new marker has no
  // claims; unmarking an object drops its claims too.
  Status SetStaging(const std::string& account_id, const std::string& bucket, const std::string& object,
                    bool staging);
  // Adds `task_id` to the claims of a staging object; no-op for an object
  // that is not staging. Whether an object is staging: IsStaging.
  Status ClaimStaging(const std::string& account_id, const std::string& bucket, const std::string& object,
                      const std::string& task_id);
  bool IsStaging(const std::string& bucket, const std::string& object) const;
  // Drops `task_id`'s claim; when it was the last claim, deletes the object
  // and its marker. No-op when `task_id` holds no claim on it.
  Status ReleaseStaging(const std::string& bucket, const std::string& object, const std::string& task_id);
  struct StagingClaim {
    std::string bucket;
    std::string object;
    std::string task_id;
  };
  // Every claim on every staging object (to release claims whose task ended
  // while the process was down).
  std::vector<StagingClaim> ListStagingClaims() const;

  struct SweepStats {
    uint64_t parts_removed = 0;
    uint64_t staging_removed = 0;
    uint64_t bytes_freed = 0;  // allocated bytes
  };
  // One sweep: removes files in <bucket>/.uploads/ whose mtime is older than
  // now - max_age_seconds, and unclaimed staging objects whose marker is.
  SweepStats SweepExpired(UnixSeconds now, int64_t max_age_seconds);
  // Sweeps now, then every `interval` on a thread this object owns (stopped
  // by the destructor). Call at most once.
  void StartExpirySweeper(const Clock& clock, int64_t max_age_seconds, std::chrono::seconds interval);

  // Stored bytes of `account_id`: the allocated bytes of its objects and
  // upload parts, plus what every usage source reports (the snapshots'
  // logical data bytes of each region sharing this storage). Never the
  // deduplicated chunk bytes: usage tells nothing about other accounts.
  using UsageSource = std::function<Result<uint64_t>(const std::string& account_id)>;
  // Registers a source; returns its id for RemoveUsageSource. A source must
  // not call back into this ObjectStorage.
  uint64_t AddUsageSource(UsageSource source);
  void RemoveUsageSource(uint64_t id);
  Result<uint64_t> AccountObjectBytes(const std::string& account_id) const;
  Result<uint64_t> AccountStoredBytes(const std::string& account_id) const;
  // The process's per-account limit on stored bytes (0 = unlimited),
  // enforced by region/quotas.h. Set before serving.
  void set_max_account_bytes(uint64_t bytes) { max_account_bytes_ = bytes; }
  uint64_t max_account_bytes() const { return max_account_bytes_; }

 private:
  std::string StagingMarkerPath(const std::string& bucket, const std::string& object) const;

  std::string root_;
  std::string root_account_id_;
  std::atomic<uint64_t> max_account_bytes_{0};

  mutable std::mutex staging_mu_;  // serialises marker read-modify-writes

  mutable std::shared_mutex sources_mu_;
  uint64_t next_source_id_ = 1;              // guarded by sources_mu_
  std::map<uint64_t, UsageSource> sources_;  // guarded by sources_mu_

  std::mutex sweeper_mu_;
  std::condition_variable sweeper_cv_;
  bool sweeper_stop_ = false;  // guarded by sweeper_mu_
  std::thread sweeper_;
};

}  // namespace ferry
