// Fakes for the action-handler tests (actions_test.cc, actions_copy_test.cc):
// a Region that records every request and answers from canned records (the
// ECS rules themselves are the real region's business), an in-memory
// AccountDirectory and a fixed Clock.
//
// Threading: single-threaded test use only, except the CopyPeer methods of
// FakeRegion (guarded by its copy_mu).
#pragma once

#include <algorithm>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "api/action.h"
#include "catalog/catalog.h"
#include "common/clock.h"
#include "common/hash.h"
#include "region/region.h"

namespace ferry::actiontest {

class FakeClock final : public Clock {
 public:
  UnixSeconds Now() const override { return 1700000000; }
  std::chrono::steady_clock::time_point Steady() const override { return {}; }
};

template <typename T>
inline Page<T> Slice(const std::vector<T>& all, uint64_t page_number, uint64_t page_size) {
  Page<T> page;
  page.total = all.size();
  const uint64_t begin = std::min<uint64_t>((page_number - 1) * page_size, all.size());
  const uint64_t end = std::min<uint64_t>(begin + page_size, all.size());
  page.items.assign(all.begin() + begin, all.begin() + end);
  return page;
}

// Records every request it gets and answers from canned records; the ECS
// rules themselves are the real region's business.
class FakeRegion final : public Region {
 public:
  explicit FakeRegion(const std::string& id) {
    config_.region_id = id;
    config_.local_name_en = "English " + id;
    config_.local_name_zh = "中文 " + id;
  }

  const RegionConfig& config() const override { return config_; }

  Result<ImportImageResult> ImportImage(const Caller& c, const ImportImageRequest& r) override {
    callers.push_back(c);
    imports.push_back(r);
    if (!next_error.ok()) return next_error;
    return ImportImageResult{"m-imported", "t-import"};
  }
  Result<Page<ImageRecord>> DescribeImages(const Caller& c, const DescribeImagesRequest& r) override {
    callers.push_back(c);
    image_queries.push_back(r);
    std::vector<ImageRecord> matching;
    for (const ImageRecord& image : images)
      if (r.image_id.empty() || r.image_id == image.image_id) matching.push_back(image);
    // As the region marks them: every snapshot here is the caller's.
    for (ImageRecord& image : matching) {
      for (DiskMapping& disk : image.disks) {
        disk.encrypted = std::any_of(snapshots.begin(), snapshots.end(), [&](const SnapshotRecord& s) {
          return s.snapshot_id == disk.snapshot_id && s.encrypted;
        });
      }
    }
    return Slice(matching, r.page_number, r.page_size);
  }
  Status ModifyImageAttribute(const Caller& c, const ModifyImageAttributeRequest& r) override {
    callers.push_back(c);
    modifies.push_back(r);
    return next_error;
  }
  Status DeleteImage(const Caller& c, const std::string& image_id, bool force) override {
    callers.push_back(c);
    deleted_images.emplace_back(image_id, force);
    return next_error;
  }
  Result<std::string> CreateImage(const Caller& c, const CreateImageRequest& r) override {
    callers.push_back(c);
    creates.push_back(r);
    if (!next_error.ok()) return next_error;
    return std::string("m-created");
  }
  Result<Page<SnapshotRecord>> DescribeSnapshots(const Caller& c,
                                                 const DescribeSnapshotsRequest& r) override {
    callers.push_back(c);
    snapshot_queries.push_back(r);
    std::vector<SnapshotRecord> matching;
    for (const SnapshotRecord& s : snapshots) {
      if (!r.snapshot_ids.empty() &&
          std::find(r.snapshot_ids.begin(), r.snapshot_ids.end(), s.snapshot_id) == r.snapshot_ids.end())
        continue;
      matching.push_back(s);
    }
    return Slice(matching, r.page_number, r.page_size);
  }
  Status DeleteSnapshot(const Caller& c, const std::string& snapshot_id, bool force) override {
    callers.push_back(c);
    deleted_snapshots.emplace_back(snapshot_id, force);
    return next_error;
  }
  Result<std::string> ExportImage(const Caller& c, const ExportImageRequest& r) override {
    callers.push_back(c);
    exports.push_back(r);
    if (!next_error.ok()) return next_error;
    return std::string("t-export");
  }
  Result<Page<TaskRecord>> DescribeTasks(const Caller& c, const DescribeTasksRequest& r) override {
    callers.push_back(c);
    task_queries.push_back(r);
    return Slice(tasks, r.page_number, r.page_size);
  }
  Result<TaskRecord> DescribeTaskAttribute(const Caller& c, const std::string& task_id) override {
    callers.push_back(c);
    for (const TaskRecord& t : tasks)
      if (t.task_id == task_id) return t;
    return NotFound("InvalidTaskId.NotFound", "no task " + task_id);
  }
  Status CancelTask(const Caller& c, const std::string& task_id) override {
    callers.push_back(c);
    cancelled.push_back(task_id);
    return next_error;
  }
  Result<std::vector<uint8_t>> PeerReadManifest(const std::string& snapshot_id) override {
    return NotFound("InvalidSnapshotId.NotFound", "no manifest for " + snapshot_id);
  }
  Result<std::vector<uint8_t>> PeerReadChunk(const ChunkId& id) override {
    return NotFound("", "no chunk " + ToHex(id));
  }
  Result<std::string> CopyImage(const Caller& c, const CopyImageRequest& r) override {
    callers.push_back(c);
    copy_requests.push_back(r);
    if (!next_error.ok()) return next_error;
    return std::string("m-copyof0000000000000");
  }
  Status CancelCopyImage(const Caller& c, const std::string& image_id) override {
    callers.push_back(c);
    cancelled_copies.push_back(image_id);
    return next_error;
  }
  std::vector<CopyImageRequest> copy_requests;
  std::vector<std::string> cancelled_copies;

  Status ModifyImageSharePermission(const Caller& c, const ModifyImageSharePermissionRequest& r) override {
    callers.push_back(c);
    share_changes.push_back(r);
    return next_error;
  }
  Result<Page<ImageShareRecord>> DescribeImageSharePermission(
      const Caller& c, const DescribeImageSharePermissionRequest& r) override {
    callers.push_back(c);
    share_queries.push_back(r);
    if (!next_error.ok()) return next_error;
    return Slice(shares, r.page_number, r.page_size);
  }
  // Instances of the caller, filtered by InstanceIds only, paged.
  Result<Page<InstanceRecord>> DescribeInstances(const Caller& c, const DescribeInstancesRequest& r) override {
    callers.push_back(c);
    instance_queries.push_back(r);
    std::vector<InstanceRecord> mine;
    for (const InstanceRecord& i : instances) {
      if (i.account_id != c.account_id) continue;
      if (r.instance_ids && std::find(r.instance_ids->begin(), r.instance_ids->end(), i.instance_id) ==
                                r.instance_ids->end()) {
        continue;
      }
      mine.push_back(i);
    }
    return Slice(mine, r.page_number, r.page_size);
  }
  Result<ImageRecord> UsableImage(const Caller& c, const std::string& image_id) override {
    callers.push_back(c);
    for (const ImageRecord& image : images)
      if (image.image_id == image_id) return image;
    return NotFound("InvalidImageId.NotFound", "no image " + image_id);
  }
  std::vector<ModifyImageSharePermissionRequest> share_changes;
  std::vector<DescribeImageSharePermissionRequest> share_queries;
  std::vector<ImageShareRecord> shares;  // canned

  // CopyPeer: records what it is asked and answers from the copy_* fields.
  // Guarded by copy_mu, so a server's I/O thread may call these while the
  // test thread reads (peer_endpoints_test, remote_copy_peer_test).
  Result<std::string> AcceptCopy(const CopyTarget& t) override {
    std::lock_guard<std::mutex> lock(copy_mu);
    accepted.push_back(t);
    if (!copy_error.ok()) return copy_error;
    return t.image_id.empty() ? std::string("m-accepted0000000000") : t.image_id;
  }
  Result<bool> CopyInProgress(const std::string& copy_image_id) override {
    std::lock_guard<std::mutex> lock(copy_mu);
    progress_queries.push_back(copy_image_id);
    if (!copy_error.ok()) return copy_error;
    return copies_in_progress.count(copy_image_id) > 0;
  }
  Status AcquireCopyLease(const CopyLease& lease) override {
    std::lock_guard<std::mutex> lock(copy_mu);
    acquired_leases.push_back(lease);
    return copy_error;
  }
  Status ReleaseCopyLease(const CopyLease& lease) override {
    std::lock_guard<std::mutex> lock(copy_mu);
    released_leases.push_back(lease);
    return copy_error;
  }
  std::mutex copy_mu;
  Status copy_error;                         // guarded by copy_mu
  std::set<std::string> copies_in_progress;  // guarded by copy_mu
  std::vector<CopyTarget> accepted;          // guarded by copy_mu
  std::vector<std::string> progress_queries;  // guarded by copy_mu
  std::vector<CopyLease> acquired_leases;    // guarded by copy_mu
  std::vector<CopyLease> released_leases;    // guarded by copy_mu

  Status CollectGarbage(GcStats*) override { return Status::Ok(); }
  Status Fsck(FsckReport*) override { return Status::Ok(); }
  RegionMetrics& metrics() override { return metrics_; }
  void Shutdown() override {}

  // Canned records.
  std::vector<ImageRecord> images;
  std::vector<SnapshotRecord> snapshots;
  std::vector<TaskRecord> tasks;
  std::vector<InstanceRecord> instances;
  Status next_error;

  // What the handlers asked for.
  std::vector<Caller> callers;
  std::vector<ImportImageRequest> imports;
  std::vector<DescribeImagesRequest> image_queries;
  std::vector<DescribeInstancesRequest> instance_queries;
  std::vector<ModifyImageAttributeRequest> modifies;
  std::vector<std::pair<std::string, bool>> deleted_images;
  std::vector<CreateImageRequest> creates;
  std::vector<DescribeSnapshotsRequest> snapshot_queries;
  std::vector<std::pair<std::string, bool>> deleted_snapshots;
  std::vector<ExportImageRequest> exports;
  std::vector<DescribeTasksRequest> task_queries;
  std::vector<std::string> cancelled;

 private:
  RegionConfig config_;
  RegionMetrics metrics_;
};

class FakeAccounts final : public AccountDirectory {
 public:
  Status CreateAccount(const AccountRecord& a) override {
    for (const AccountRecord& existing : accounts) {
      if (existing.account_id == a.account_id || existing.name == a.name)
        return AlreadyExists("", "taken: " + a.name);
    }
    accounts.push_back(a);
    return Status::Ok();
  }
  Result<AccountRecord> GetAccount(const std::string& account_id) override {
    for (const AccountRecord& a : accounts)
      if (a.account_id == account_id) return a;
    return NotFound("", "no account " + account_id);
  }
  Result<AccountRecord> FindAccountByName(const std::string& name) override {
    for (const AccountRecord& a : accounts)
      if (a.name == name) return a;
    return NotFound("", "no account named " + name);
  }
  Result<std::vector<AccountRecord>> ListAccounts() override { return accounts; }
  Status AddAccessKey(const AccessKeyRecord& k) override {
    keys.push_back(k);
    return Status::Ok();
  }
  Result<AccessKeyRecord> GetAccessKey(const std::string& access_key_id) override {
    for (const AccessKeyRecord& k : keys)
      if (k.access_key_id == access_key_id) return k;
    return NotFound("", "no key " + access_key_id);
  }
  Result<std::vector<AccessKeyRecord>> ListAccessKeys(const std::string& account_id) override {
    std::vector<AccessKeyRecord> out;
    for (const AccessKeyRecord& k : keys)
      if (k.account_id == account_id) out.push_back(k);
    return out;
  }

  std::vector<AccountRecord> accounts;
  std::vector<AccessKeyRecord> keys;
};

// Runs the handler of `action` as the dispatcher does and answers its body
// as a tree: what it returned, or the JSON body it wrote itself
// (ActionContext::rendered_body) without the RequestId.
inline Result<nlohmann::json> RunHandler(const std::string& action, ActionContext& ctx) {
  const ActionTable table = BuiltinActions();
  auto it = table.find(action);
  if (it == table.end()) return Internal("no handler for " + action);
  Result<nlohmann::json> body = it->second(ctx);
  if (!body.ok() || !ctx.rendered_body) return body;
  nlohmann::json written = nlohmann::json::parse(*ctx.rendered_body);
  written.erase("RequestId");
  return written;
}

}  // namespace ferry::actiontest
