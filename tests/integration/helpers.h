// Shared steps of the integration tests: disk-image files with holes, ECS
// clients for the harness's root key, polling a task to an end state, and a
// cluster of several `ferry serve` processes.
//
// Threading: one test thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/client.h"
#include "common/status.h"
#include "integration/ferry_process.h"

namespace ferry::testing {

inline constexpr const char* kRegion = "cn-hangzhou";
// A bucket the operator made by hand under DATA/oss: owned by root.
inline constexpr const char* kOperatorBucket = "operator-images";

struct Extent {
  uint64_t offset;
  uint64_t length;
};

// Creates a sparse file of `size` bytes whose `extents` hold pseudo-random
// bytes (from `seed`) and whose other ranges are holes.
void WriteSparseImage(const std::string& path, uint64_t size, const std::vector<Extent>& extents, uint64_t seed);

EcsClient RootClient(const std::string& endpoint, bool use_v3);
EcsClient ClientFor(const std::string& endpoint, const std::string& key_id, const std::string& secret, bool use_v3);

// Calls and expects a 2xx answer; fails the test (and returns the body) otherwise.
nlohmann::json CallOk(EcsClient& client, const std::string& action, std::map<std::string, std::string> params);

// Polls DescribeTaskAttribute until the task is no longer Processing or the
// deadline passes; returns the last answer.
nlohmann::json WaitForTask(EcsClient& client, const std::string& task_id,
                           std::chrono::seconds deadline = std::chrono::seconds(90));

// DescribeImages for one id with every status; the Images.Image array.
nlohmann::json DescribeImage(EcsClient& client, const std::string& image_id);

// Value of RelatedItem `name` in a DescribeTaskAttribute answer ("" if absent).
std::string RelatedItem(const nlohmann::json& task, const std::string& name);

// Every image status; DescribeImages shows only Available ones by default.
inline constexpr const char* kAllImageStatuses = "Creating,Waiting,Available,UnAvailable,CreateFailed";

// DescribeImages for one id in `region` with every status; Images.Image.
nlohmann::json DescribeImageIn(EcsClient& client, const std::string& region, const std::string& image_id);

// WaitForTask for a task of `region`.
nlohmann::json WaitForTaskIn(EcsClient& client, const std::string& region, const std::string& task_id,
                             std::chrono::seconds deadline = std::chrono::seconds(90));

// ImportImage of `bucket`/`object` (RAW) in `region`, waited for; the image
// id, "" (and a test failure) when the import did not finish.
std::string ImportRawImage(EcsClient& client, const std::string& region, const std::string& bucket,
                           const std::string& object, const std::string& name);

// ExportImage of `image_id` as RAW into `bucket` of the process that serves
// `region` (whose DATA/oss/<bucket> is `bucket_dir`), waited for; the hex
// SHA-256 of the exported file, "" (and a test failure) when it failed.
std::string ExportImageSha256(EcsClient& client, const std::string& region, const std::string& image_id,
                              const std::string& bucket, const std::string& bucket_dir,
                              const std::string& prefix);

// ExportImage of `image_id` as RAW into `bucket` (OSSPrefix `prefix`),
// waited for; the exported object's key, "" (and a test failure) when it
// failed.
std::string ExportImageObject(EcsClient& client, const std::string& region, const std::string& image_id,
                              const std::string& bucket, const std::string& prefix);

// Through a node's OSS endpoint, as root: `bucket` made when missing, and
// the file `path` uploaded as `key` (a test failure when it cannot be).
void UploadAsRoot(const std::string& oss_endpoint, const std::string& bucket, const std::string& key,
                  const std::string& path);
// Through a node's OSS endpoint, as root: `bucket` made when missing.
void CreateBucketAsRoot(const std::string& oss_endpoint, const std::string& bucket);
// The hex SHA-256 of bucket/key downloaded as root through a node's OSS
// endpoint into `scratch_file`; "" (and a test failure) when it cannot be.
std::string DownloadedSha256(const std::string& oss_endpoint, const std::string& bucket,
                             const std::string& key, const std::string& scratch_file);

// The value of `name`{region="region"} in a Prometheus text exposition;
// -1 when absent.
int64_t MetricValue(const std::string& exposition, const std::string& name, const std::string& region);

// The sum over result codes of ferry_api_requests_total{action="action",...}
// in a Prometheus text exposition: how many `action` requests the server
// answered.
int64_t ApiRequests(const std::string& exposition, const std::string& action);

// qemu-io -c COMMAND -f qcow2 PATH (a disk written as its VM would); its
// exit code, -1 if it did not run.
int RunQemuIo(const std::string& path, const std::string& command);

// `length` bytes of `path` from `offset` (a test failure if they are not
// all there).
std::string ReadRange(const std::string& path, uint64_t offset, size_t length);

// An HTTP answer: its status (-1 when the request could not be made) and its
// body as JSON ({"Raw": text} when it is not JSON, {"Transport": why} when
// there was no answer).
struct HttpAnswer {
  int status = 0;
  nlohmann::json body;
  std::string Code() const { return body.is_object() ? body.value("Code", std::string()) : std::string(); }
};

// One request on a fresh connection to `endpoint` ("http://host:port"),
// without EcsClient, to see statuses and bodies as they are. `headers` are
// sent as given (a Content-Length among them replaces the body's, so a
// caller can announce a body it does not send, with Expect: 100-continue).
// A GET target ("/?Action=...&Signature=...") signed (V1) with the harness's
// root key and a nonce of its own: everything is in the target, so the very
// same bytes can be sent to several processes (a replay).
std::string RootSignedV1Target(std::map<std::string, std::string> params);

HttpAnswer SendHttp(const std::string& endpoint, const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers = {}, const std::string& body = "");

// The x-ferry-* headers of a peer-protocol request signed with `key`.
std::map<std::string, std::string> PeerSignedHeaders(const std::string& key, const std::string& method,
                                                     const std::string& target, const std::string& body = "");

// Several `ferry serve` processes of one cluster on fixed loopback ports:
// process i serves regions[i] and names every other process's regions as
// peers; all share one cluster key and the harness's root key. Each has its
// own data and config directory (with the operator bucket made) under one
// scratch directory, and keeps its port and flags across restarts.
class FerryCluster {
 public:
  // `regions[i]`: the regions process i serves. A region two processes
  // serve has two nodes (they need a shared --catalog and --store, given
  // with set_extra_args); the others name both with --peer.
  FerryCluster(const std::string& scratch_prefix, std::vector<std::vector<std::string>> regions);
  ~FerryCluster();  // stops every running process by pid
  FerryCluster(const FerryCluster&) = delete;
  FerryCluster& operator=(const FerryCluster&) = delete;

  // Flags added to process i's command line from its next Start() on.
  void set_extra_args(size_t i, std::vector<std::string> args);
  // Flags put before the cluster's own --peer flags of process i (a --peer
  // naming another server of a peer region first).
  void set_leading_args(size_t i, std::vector<std::string> args) { leading_args_[i] = std::move(args); }
  // Process i's cluster key from its next Start() on (default: the one all
  // share); each process reads its own key file (mode 0600).
  void set_cluster_key(size_t i, std::string key);
  // Starts (or restarts) process i with its port, data dir and flags.
  bool Start(size_t i, std::string* error);
  bool StartAll(std::string* error);

  size_t size() const { return servers_.size(); }
  FerryServer& server(size_t i) { return *servers_.at(i); }
  const std::string& endpoint(size_t i) const { return endpoints_.at(i); }
  std::string DataDir(size_t i) const;
  std::string BucketDir(size_t i) const;  // DATA/oss/<kOperatorBucket>
  // Every process's log, for failure messages.
  std::string Logs() const;

 private:
  ScratchDir scratch_;
  std::vector<std::vector<std::string>> regions_;
  std::vector<uint16_t> ports_;
  std::vector<std::string> endpoints_;
  std::vector<std::vector<std::string>> extra_args_;
  std::map<size_t, std::vector<std::string>> leading_args_;
  std::vector<std::unique_ptr<FerryServer>> servers_;
  std::string cluster_key_;
  std::vector<std::string> keys_;  // per process; the key file's content
};

}  // namespace ferry::testing
