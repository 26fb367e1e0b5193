// `ferry oss ...`: the object storage commands, over the OSS object endpoint
// (api/oss_client.h): ls, mb, cp (both ways, multipart, resumable, with a
// progress bar), rm and presign. The endpoint is FERRY_OSS_ENDPOINT, else
// the profile's oss_endpoint (written by `ferry serve`), else the ECS
// endpoint's host on its port + 2.
//
// Transfers resume from a checkpoint kept under the CLI's config folder
// (~/.ferry/checkpoints/), named after the source and destination: run the
// same `ferry oss cp` again after an interruption.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "common/status.h"

namespace ferry::cli {

struct OssCommandOptions {
  bool v4 = false;             // sign with OSS4-HMAC-SHA256 instead of V1
  bool recursive = false;      // ls: no delimiter
  uint64_t part_size_mib = 16;  // cp: multipart part size
  int64_t expires = 3600;      // presign: seconds
};

// ls [BUCKET[/PREFIX]] (also oss://BUCKET/PREFIX): buckets, or the objects
// and common prefixes under PREFIX.
Status OssList(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& where);
// mb BUCKET
Status OssMakeBucket(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& bucket);
// cp SRC DST: a local file to oss://bucket/key (a key ending in "/" or
// empty takes the file's name) or oss://bucket/key to a local file.
Status OssCopy(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& src,
               const std::string& dst);
// rm oss://bucket/key, or the older form rm BUCKET OBJECT.
Status OssRemove(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& first,
                 const std::string& second);
// presign oss://bucket/key: prints a GET URL valid for `expires` seconds.
Status OssPresign(const ClientOptions& opts, const OssCommandOptions& oss, const std::string& url);

// A failed upload or download names what to do next: " (run the same
// command again to resume)" when running it again can help (the server was
// unreachable, the disk or a quota was full, ...); "" when the request
// itself was refused (a bad name, a missing bucket, a wrong key).
std::string ResumeHint(const Status& failure);

// Uploads `file` to bucket/object for `ferry image import`: makes the bucket
// (idempotent), multipart with a progress bar, resumable from a checkpoint;
// `staging`: the server removes the object when the import reading it ends.
Status UploadForImport(const ClientOptions& opts, const std::string& file, const std::string& bucket,
                       const std::string& object, bool staging);
// Deletes bucket/object (no error when it is gone).
Status DeleteUploaded(const ClientOptions& opts, const std::string& bucket, const std::string& object);

// The `ferry oss` subcommands' arguments, registered on `oss` (CLI11) with
// their callbacks setting `action`. Must outlive parsing and the action.
struct OssCliOptions {
  OssCommandOptions options;
  std::string first, second;  // positional arguments
  void AddTo(CLI::App* oss, const ClientOptions& client, std::function<Status()>& action);

 private:
  const ClientOptions* client_ = nullptr;
  std::function<Status()>* action_ = nullptr;
};

}  // namespace ferry::cli
