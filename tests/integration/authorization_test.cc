// Authorization, everywhere, table-driven (issue 9 §4).
//
// One `ferry serve`, three accounts made with CreateAccount: the owner of
// every fixture, a recipient the owner's image is shared with, and a
// stranger with nothing shared. One table holds a row per implemented action
// (several for some), each row the expected answer for each of the three
// callers: an exact HTTP status and ECS Code, or success with what the
// answer must hold. For every row naming a resource, a caller who is told
// the resource is not there (and the stranger always) also calls with an id
// that never existed, and the two answers must be the same once the ids are
// blanked out: a stranger learns nothing.
//
// Adding a row is one struct literal in Rows() (its DryRun and no-RegionId
// twins are flags on it). An action registered in
// BuiltinActions() without a row fails TheTableCoversEveryRegisteredAction.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "api/action.h"
#include "api/dispatcher.h"
#include "integration/ferry_process.h"
#include "integration/helpers.h"
#include "integration/shared_server_test.h"

namespace ferry::testing {
namespace {

using json = nlohmann::json;

constexpr uint64_t kMiB = 1 << 20;
constexpr const char* kCopyRegion = "cn-shanghai";
// A RegionId value that makes the runner send no RegionId at all (the
// current SDK models of DeleteSnapshot carry none).
constexpr const char* kNoRegionId = "(none)";

struct Account {
  std::string id;
  std::string key_id;
  std::string secret;
};

enum class Caller { kOwner, kRecipient, kStranger };

const char* Name(Caller c) {
  switch (c) {
    case Caller::kOwner:
      return "owner";
    case Caller::kRecipient:
      return "recipient";
    case Caller::kStranger:
      return "stranger";
  }
  return "?";
}

// The resources the rows name, by placeholder: "{image}" in a parameter
// value is replaced by values.at("image"). "{bucket}" is the calling
// account's own bucket, "{caller}" its role (owner, recipient, stranger).
struct Fixtures {
  std::map<std::string, std::string> values;
  std::map<Caller, std::string> own_bucket;
  const std::string& at(const std::string& name) const { return values.at(name); }
};

using Check = std::function<void(const json& body, const Fixtures& f)>;

// One caller's expected answer: success (http 200, no Code) with `check`
// run on the body, or an ECS error with its HTTP status and Code.
struct Cell {
  int http = 200;
  std::string code;
  Check check;
};

Cell Ok(Check check = nullptr) { return Cell{200, "", std::move(check)}; }
Cell Err(int http, std::string code) { return Cell{http, std::move(code), nullptr}; }
Cell NotFound404(std::string code) { return Err(404, std::move(code)); }
const Cell kDryRunPassed = Err(400, "DryRunOperation");
const Cell kForbidden = Err(403, "Forbidden");
const Cell kNoImage = NotFound404("InvalidImageId.NotFound");
const Cell kNoSnapshot = NotFound404("InvalidSnapshotId.NotFound");
const Cell kNoInstance = NotFound404("InvalidInstanceId.NotFound");
const Cell kNoTask = Err(400, "InvalidTaskId.NotFound");       // ECS documents 400 for this one
const Cell kNoBucket = Err(400, "InvalidOSSBucket.NotFound");  // likewise

struct Row {
  std::string action;
  std::string variant;                        // tells rows of one action apart
  std::map<std::string, std::string> params;  // RegionId defaults to kRegion
  Cell owner, recipient, stranger;
  // The owner's call adds DryRun=true: for real it would change a fixture
  // the later rows need. The others' calls are real: they must be refused
  // before anything changes.
  bool owner_dry_run = false;
  // The placeholder naming the resource the row is about: the stranger (and
  // any caller told it is not found) calls again with a never-existing id in
  // its place, and must get the same answer.
  std::string probe;
  // Twins, rows of their own right after this one (see WithTwins): without
  // RegionId, the same answers; with DryRun=true for every caller, the same
  // answers but the owner's, which is DryRunOperation.
  bool twin_without_region_id = false;
  bool twin_dry_run = false;
};

std::vector<Row> WithTwins(std::vector<Row> rows) {
  std::vector<Row> out;
  for (Row& row : rows) {
    out.push_back(row);
    if (row.twin_without_region_id) {
      Row twin = row;
      twin.variant = "without RegionId";
      twin.params["RegionId"] = kNoRegionId;
      out.push_back(std::move(twin));
    }
    if (row.twin_dry_run) {
      Row twin = row;
      twin.variant = "DryRun";
      twin.params["DryRun"] = "true";
      twin.owner = kDryRunPassed;
      twin.owner_dry_run = false;
      out.push_back(std::move(twin));
    }
  }
  return out;
}

// --- checks on successful answers -------------------------------------------

// Whether the list body[outer][inner] has an element whose `key` is the
// fixture `name`.
bool Lists(const json& body, const char* outer, const char* inner, const char* key, const std::string& id) {
  if (!body.contains(outer) || !body[outer].contains(inner)) return false;
  for (const json& item : body[outer][inner]) {
    if (item.value(key, std::string()) == id) return true;
  }
  return false;
}

Check Listed(const char* outer, const char* inner, const char* key, std::string name, bool expected) {
  return [=](const json& body, const Fixtures& f) {
    ASSERT_TRUE(body.contains(outer) && body[outer].contains(inner)) << body.dump();
    EXPECT_EQ(Lists(body, outer, inner, key, f.at(name)), expected)
        << name << " " << f.at(name) << (expected ? " missing from " : " shown in ") << body.dump();
  };
}
Check ImageListed(bool expected) { return Listed("Images", "Image", "ImageId", "image", expected); }
Check SnapshotListed(bool expected) {
  return Listed("Snapshots", "Snapshot", "SnapshotId", "snapshot", expected);
}
Check TaskListed(std::string name, bool expected) {
  return Listed("TaskSet", "Task", "TaskId", name, expected);
}

Check NoTasks() {
  return [](const json& body, const Fixtures&) {
    EXPECT_EQ(body.value("TotalCount", -1), 0) << body.dump();
    EXPECT_EQ(body["TaskSet"]["Task"], json::array()) << body.dump();
  };
}

Check ImageSeenAs(std::string alias) {
  return [=](const json& body, const Fixtures& f) {
    ASSERT_TRUE(Lists(body, "Images", "Image", "ImageId", f.at("image"))) << body.dump();
    for (const json& image : body["Images"]["Image"]) {
      if (image.value("ImageId", "") == f.at("image")) {
        EXPECT_EQ(image.value("ImageOwnerAlias", ""), alias);
      }
    }
  };
}

Check Both(Check a, Check b) {
  return [=](const json& body, const Fixtures& f) {
    a(body, f);
    b(body, f);
  };
}

// --- the table ----------------------------------------------------------------

const std::vector<Row>& Rows() {
  static const std::vector<Row> kRows = WithTwins({
      // Not about any one account's resources.
      {.action = "DescribeRegions",
       .params = {{"RegionId", kNoRegionId}},
       .owner = Ok([](const json& b, const Fixtures&) {
         EXPECT_TRUE(Lists(b, "Regions", "Region", "RegionId", kRegion)) << b.dump();
       }),
       .recipient = Ok(),
       .stranger = Ok()},
      {.action = "CreateAccount",
       .variant = "only root makes accounts",
       .params = {{"RegionId", kNoRegionId}, {"AccountName", "authz-extra"}},
       .owner = kForbidden,
       .recipient = kForbidden,
       .stranger = kForbidden},

      // Images.
      {.action = "DescribeImages",
       .variant = "by ImageId",
       .params = {{"ImageId", "{image}"}, {"Status", kAllImageStatuses}},
       .owner = Ok(ImageSeenAs("self")),
       .recipient = Ok(ImageSeenAs("others")),
       .stranger = Ok(ImageListed(false)),
       .probe = "image"},
      {.action = "DescribeImages",
       .variant = "default listing",
       .params = {{"Status", kAllImageStatuses}, {"PageSize", "100"}},
       .owner = Ok(ImageListed(true)),
       .recipient = Ok(ImageListed(true)),
       .stranger = Ok(ImageListed(false))},
      {.action = "DescribeImages",
       .variant = "ImageOwnerAlias=others",
       .params = {{"ImageOwnerAlias", "others"}, {"Status", kAllImageStatuses}},
       .owner = Ok(ImageListed(false)),
       .recipient = Ok(ImageListed(true)),
       .stranger = Ok(ImageListed(false))},
      {.action = "ImportImage",
       .variant = "from the owner's bucket",
       .params = {{"ImageName", "authz-reimport"},
                  {"DiskDeviceMapping.1.OSSBucket", "{owner_bucket}"},
                  {"DiskDeviceMapping.1.OSSObject", "disk.raw"},
                  {"DiskDeviceMapping.1.Format", "RAW"}},
       .owner = kDryRunPassed,
       .recipient = kNoBucket,
       .stranger = kNoBucket,
       .owner_dry_run = true,
       .probe = "owner_bucket"},
      // Each caller asks for its own Description; only the owner's may stick
      // (checked after the table).
      {.action = "ModifyImageAttribute",
       .params = {{"ImageId", "{image}"}, {"Description", "changed by the {caller}"}},
       .owner = Ok(),
       .recipient = kForbidden,
       .stranger = kNoImage,
       .probe = "image"},
      {.action = "ModifyImageAttribute",
       .variant = "DryRun",
       .params = {{"ImageId", "{image}"}, {"Description", "x"}, {"DryRun", "true"}},
       .owner = kDryRunPassed,
       .recipient = kForbidden,
       .stranger = kNoImage,
       .probe = "image"},
      // The image is shared, so even its owner may not delete it yet.
      {.action = "DeleteImage",
       .params = {{"ImageId", "{image}"}},
       .owner = Err(403, "ImageUseShared"),
       .recipient = kForbidden,
       .stranger = kNoImage,
       .probe = "image",
       .twin_dry_run = true},
      // Force lets instances go on without the image, never a share.
      {.action = "DeleteImage",
       .variant = "Force, while shared",
       .params = {{"ImageId", "{image}"}, {"Force", "true"}},
       .owner = Err(403, "ImageUseShared"),
       .recipient = kForbidden,
       .stranger = kNoImage,
       .probe = "image"},
      // Not shared, but the owner's instance runs from it.
      {.action = "DeleteImage",
       .variant = "an image an instance uses",
       .params = {{"ImageId", "{used_image}"}},
       .owner = Err(403, "ImageUsingByInstance"),
       .recipient = kNoImage,
       .stranger = kNoImage,
       .probe = "used_image"},
      {.action = "CreateImage",
       .variant = "from the image's snapshot",
       .params = {{"SnapshotId", "{snapshot}"}},
       .owner = Ok([](const json& b, const Fixtures&) {
         EXPECT_EQ(b.value("ImageId", "").rfind("m-", 0), 0u) << b.dump();
       }),
       .recipient = kNoSnapshot,
       .stranger = kNoSnapshot,
       .probe = "snapshot",
       .twin_dry_run = true},
      {.action = "CreateImage",
       .variant = "from DiskDeviceMapping.N",
       .params = {{"DiskDeviceMapping.1.SnapshotId", "{snapshot}"},
                  {"DiskDeviceMapping.2.SnapshotId", "{snapshot}"},
                  {"DiskDeviceMapping.2.DiskType", "data"}},
       .owner = kDryRunPassed,
       .recipient = kNoSnapshot,
       .stranger = kNoSnapshot,
       .owner_dry_run = true,
       .probe = "snapshot"},
      {.action = "CopyImage",
       .params = {{"ImageId", "{image}"},
                  {"DestinationRegionId", kCopyRegion},
                  {"DestinationImageName", "authz-copy-2"}},
       .owner = kDryRunPassed,
       .recipient = Err(403, "OperationDenied.SameRegionOnly"),
       .stranger = kNoImage,
       .owner_dry_run = true,
       .probe = "image",
       .twin_dry_run = true},
      // The copy is the owner's alone (shares are never copied).
      {.action = "CancelCopyImage",
       .variant = "a finished copy",
       .params = {{"RegionId", kCopyRegion}, {"ImageId", "{copy}"}},
       .owner = Err(400, "IncorrectImageStatus"),
       .recipient = kNoImage,
       .stranger = kNoImage,
       .probe = "copy"},
      {.action = "ExportImage",
       .params = {{"ImageId", "{image}"}, {"OSSBucket", "{bucket}"}},
       .owner = kDryRunPassed,
       .recipient = kForbidden,
       .stranger = kNoImage,
       .owner_dry_run = true,
       .probe = "image",
       .twin_dry_run = true},
      {.action = "ExportImage",
       .variant = "into the owner's bucket",
       .params = {{"ImageId", "{image}"}, {"OSSBucket", "{owner_bucket}"}},
       .owner = kDryRunPassed,
       .recipient = kNoBucket,
       .stranger = kNoBucket,
       .owner_dry_run = true,
       .probe = "owner_bucket"},

      // Snapshots: a recipient may look up the shared image's snapshot by
      // id, never list it among its own or change it.
      {.action = "DescribeSnapshots",
       .variant = "by SnapshotIds",
       .params = {{"SnapshotIds", "[\"{snapshot}\"]"}},
       .owner = Ok(SnapshotListed(true)),
       .recipient = Ok(SnapshotListed(true)),
       .stranger = Ok(SnapshotListed(false)),
       .probe = "snapshot"},
      {.action = "DescribeSnapshots",
       .variant = "listing",
       .params = {{"PageSize", "100"}},
       .owner = Ok(SnapshotListed(true)),
       .recipient = Ok(SnapshotListed(false)),
       .stranger = Ok(SnapshotListed(false))},
      // The image still uses the snapshot, so even its owner may not delete it.
      {.action = "DeleteSnapshot",
       .params = {{"SnapshotId", "{snapshot}"}},
       .owner = Err(403, "SnapshotCreatedImage"),
       .recipient = kNoSnapshot,
       .stranger = kNoSnapshot,
       .probe = "snapshot",
       .twin_without_region_id = true,
       .twin_dry_run = true},

      // Tasks are their account's alone.
      {.action = "DescribeTasks",
       .variant = "by TaskIds",
       .params = {{"TaskIds", "{import_task}"}},
       .owner = Ok(TaskListed("import_task", true)),
       .recipient = Ok(TaskListed("import_task", false)),
       .stranger = Ok(TaskListed("import_task", false)),
       .probe = "import_task"},
      // The refused ImportImage and ExportImage rows above started nothing.
      {.action = "DescribeTasks",
       .variant = "listing",
       .params = {{"PageSize", "100"}},
       .owner = Ok(Both(TaskListed("import_task", true), TaskListed("export_task", true))),
       .recipient = Ok(NoTasks()),
       .stranger = Ok(NoTasks())},
      {.action = "DescribeTaskAttribute",
       .params = {{"TaskId", "{export_task}"}},
       .owner = Ok([](const json& b, const Fixtures& f) {
         EXPECT_EQ(b.value("TaskId", ""), f.at("export_task"));
         EXPECT_EQ(b.value("TaskStatus", ""), "Finished");
       }),
       .recipient = kNoTask,
       .stranger = kNoTask,
       .probe = "export_task"},
      {.action = "CancelTask",
       .variant = "a finished task",
       .params = {{"TaskId", "{import_task}"}},
       .owner = Err(403, "InvalidTaskId.IncorrectTaskStatus"),
       .recipient = kNoTask,
       .stranger = kNoTask,
       .probe = "import_task"},

      // Sharing.
      {.action = "ModifyImageSharePermission",
       .variant = "add the recipient again",
       .params = {{"ImageId", "{image}"}, {"AddAccount.1", "{recipient_id}"}},
       .owner = Ok(),
       .recipient = kForbidden,
       .stranger = kNoImage,
       .probe = "image"},
      {.action = "ModifyImageSharePermission",
       .variant = "add the stranger",
       .params = {{"ImageId", "{image}"}, {"AddAccount.1", "{stranger_id}"}},
       .owner = kDryRunPassed,
       .recipient = kForbidden,
       .stranger = kNoImage,
       .owner_dry_run = true,
       .probe = "image"},
      {.action = "ModifyImageSharePermission",
       .variant = "remove the recipient",
       .params = {{"ImageId", "{image}"}, {"RemoveAccount.1", "{recipient_id}"}},
       .owner = kDryRunPassed,
       .recipient = kForbidden,
       .stranger = kNoImage,
       .owner_dry_run = true,
       .probe = "image"},
      {.action = "DescribeImageSharePermission",
       .params = {{"ImageId", "{image}"}},
       .owner = Ok([](const json& b, const Fixtures& f) {
         EXPECT_TRUE(Lists(b, "Accounts", "Account", "AliyunId", f.at("recipient_id"))) << b.dump();
         EXPECT_EQ(b.value("TotalCount", 0), 1) << b.dump();
       }),
       .recipient = kForbidden,
       .stranger = kNoImage,
       .probe = "image"},

      // Instances and disks: the owner's instance runs from the shared
      // image; the recipient may launch its own from it, the stranger not.
      {.action = "RunInstances",
       .variant = "from the shared image",
       .params = {{"ImageId", "{image}"}, {"InstanceType", "ecs.g7.large"}, {"Amount", "1"}, {"InstanceName", "authz-{caller}"}},
       .owner = kDryRunPassed,
       .recipient = Ok([](const json& b, const Fixtures&) {
         ASSERT_EQ(b["InstanceIdSets"]["InstanceIdSet"].size(), 1u) << b.dump();
       }),
       .stranger = kNoImage,
       .owner_dry_run = true,
       .probe = "image"},
      {.action = "CreateInstance",
       .variant = "from the shared image",
       .params = {{"ImageId", "{image}"}, {"InstanceType", "ecs.g7.large"}, {"DryRun", "true"}},
       .owner = kDryRunPassed,
       .recipient = kDryRunPassed,
       .stranger = kNoImage,
       .probe = "image"},
      {.action = "DescribeInstances",
       .variant = "by InstanceIds",
       .params = {{"InstanceIds", "[\"{instance}\"]"}},
       .owner = Ok(Listed("Instances", "Instance", "InstanceId", "instance", true)),
       .recipient = Ok(Listed("Instances", "Instance", "InstanceId", "instance", false)),
       .stranger = Ok(Listed("Instances", "Instance", "InstanceId", "instance", false)),
       .probe = "instance"},
      // A DryRun checks the state too: the instance is Running already.
      {.action = "StartInstance",
       .params = {{"InstanceId", "{instance}"}},
       .owner = Err(403, "IncorrectInstanceStatus"),
       .recipient = kNoInstance,
       .stranger = kNoInstance,
       .owner_dry_run = true,
       .probe = "instance"},
      {.action = "StopInstance",
       .params = {{"InstanceId", "{instance}"}},
       .owner = kDryRunPassed,
       .recipient = kNoInstance,
       .stranger = kNoInstance,
       .owner_dry_run = true,
       .probe = "instance"},
      {.action = "RebootInstance",
       .params = {{"InstanceId", "{instance}"}},
       .owner = kDryRunPassed,
       .recipient = kNoInstance,
       .stranger = kNoInstance,
       .owner_dry_run = true,
       .probe = "instance"},
      // Running, so even its owner may not delete it without Force, nor
      // replace its system disk.
      {.action = "DeleteInstance",
       .params = {{"InstanceId", "{instance}"}},
       .owner = Err(403, "IncorrectInstanceStatus"),
       .recipient = kNoInstance,
       .stranger = kNoInstance,
       .probe = "instance"},
      {.action = "ReplaceSystemDisk",
       .params = {{"InstanceId", "{instance}"}, {"ImageId", "{image}"}},
       .owner = Err(403, "IncorrectInstanceStatus"),
       .recipient = kNoInstance,
       .stranger = kNoInstance,
       .probe = "instance"},
      {.action = "DescribeDisks",
       .variant = "by DiskIds",
       .params = {{"DiskIds", "[\"{disk}\"]"}},
       .owner = Ok(Listed("Disks", "Disk", "DiskId", "disk", true)),
       .recipient = Ok(Listed("Disks", "Disk", "DiskId", "disk", false)),
       .stranger = Ok(Listed("Disks", "Disk", "DiskId", "disk", false)),
       .probe = "disk"},
      // Snapshots of the instance's disk, and an image of the instance: its
      // owner's only (DryRun, so the fixtures stay as they are).
      {.action = "CreateSnapshot",
       .params = {{"DiskId", "{disk}"}},
       .owner = kDryRunPassed,
       .recipient = NotFound404("InvalidDiskId.NotFound"),
       .stranger = NotFound404("InvalidDiskId.NotFound"),
       .owner_dry_run = true,
       .probe = "disk",
       .twin_without_region_id = true},
      {.action = "CreateImage",
       .variant = "from InstanceId",
       .params = {{"InstanceId", "{instance}"}},
       .owner = kDryRunPassed,
       .recipient = kNoInstance,
       .stranger = kNoInstance,
       .owner_dry_run = true,
       .probe = "instance"},
      {.action = "DescribeUserData",
       .params = {{"InstanceId", "{instance}"}},
       .owner = Ok([](const json& b, const Fixtures& f) {
         EXPECT_EQ(b.value("InstanceId", ""), f.at("instance")) << b.dump();
         EXPECT_EQ(b.value("UserData", ""), "ZWNobyBoZWxsbw==") << b.dump();
       }),
       .recipient = kNoInstance,
       .stranger = kNoInstance,
       .probe = "instance"},
      {.action = "DescribeInstanceRamRole",
       .params = {{"InstanceIds", "[\"{instance}\"]"}},
       .owner = Ok(Listed("InstanceRamRoleSets", "InstanceRamRoleSet", "InstanceId", "instance", true)),
       .recipient = Ok(Listed("InstanceRamRoleSets", "InstanceRamRoleSet", "InstanceId", "instance", false)),
       .stranger = Ok(Listed("InstanceRamRoleSets", "InstanceRamRoleSet", "InstanceId", "instance", false)),
       .probe = "instance"},
  });
  return kRows;
}

// A value of the same shape as `real` that names nothing: "m-..." stays an
// image id of the same length.
std::string NeverExisted(const std::string& real) {
  const size_t dash = real.find('-');
  if (dash == 1 && real.size() == 22) return real.substr(0, 2) + "authzneverexisted000";
  return "authz-never-existed";
}

std::string Replaced(std::string text, const std::string& from, const std::string& to) {
  if (from.empty()) return text;
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

class AuthorizationTest : public SharedServerTest<AuthorizationTest> {
 public:
  static constexpr const char* kScratchPrefix = "ferry-authz-";

 protected:
  static Account Create(const std::string& name) {
    EcsClient root = RootClient(server_->endpoint(), false);
    json made = CallOk(root, "CreateAccount", {{"AccountName", name}});
    return Account{made.value("AccountId", ""), made.value("AccessKeyId", ""),
                   made.value("AccessKeySecret", "")};
  }
  // A bucket of `owner`'s, as an upload by that account would make it.
  static std::string MakeBucket(const Account& owner, const std::string& name) {
    std::filesystem::create_directories(DataDir() + "/oss/" + name);
    std::ofstream(DataDir() + "/oss/" + name + "/.ferry-owner") << owner.id << "\n";
    return name;
  }
  static EcsClient As(const Account& a) { return ClientFor(server_->endpoint(), a.key_id, a.secret, false); }

  static std::map<std::string, std::string> Fill(const std::map<std::string, std::string>& params,
                                                 const Fixtures& f, Caller caller) {
    std::map<std::string, std::string> out;
    for (const auto& [key, value] : params) {
      std::string v =
          Replaced(Replaced(value, "{bucket}", f.own_bucket.at(caller)), "{caller}", Name(caller));
      for (const auto& [name, fixture] : f.values) v = Replaced(v, "{" + name + "}", fixture);
      out[key] = v;
    }
    if (out.count("RegionId") == 0) out["RegionId"] = kRegion;
    if (out["RegionId"] == kNoRegionId) out.erase("RegionId");
    return out;
  }

  // The answer as a stranger may compare it: RequestId (also in Recommend)
  // and `id` blanked.
  static std::string Comparable(const EcsResponse& r, const std::string& id) {
    std::string text = r.body.dump();
    if (r.body.is_object()) text = Replaced(text, r.body.value("RequestId", ""), "<RequestId>");
    return std::to_string(r.http_status) + " " + Replaced(text, id, "<ID>");
  }

  static void CheckCell(const Cell& cell, const Result<EcsResponse>& r, const Fixtures& f) {
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->http_status, cell.http) << r->raw_body;
    EXPECT_EQ(r->body.value("Code", ""), cell.code) << r->raw_body;
    if (!cell.code.empty()) {
      EXPECT_FALSE(r->body.value("Message", "").empty()) << r->raw_body;
    }
    if (cell.http == 200 && r->http_status == 200 && cell.check) cell.check(r->body, f);
  }
};

TEST_F(AuthorizationTest, TheTableCoversEveryRegisteredAction) {
  std::set<std::string> covered;
  for (const Row& row : Rows()) covered.insert(row.action);
  const ActionTable registered = BuiltinActions();
  for (const auto& [action, handler] : registered) {
    // STS GetCallerIdentity reads only the caller's own identity
    // (tests/unit/api/dispatcher_test.cc); the table is about ECS resources.
    if (std::string(ActionApiVersion(action)) != kApiVersion) continue;
    EXPECT_EQ(covered.count(action), 1u) << action << " is registered in BuiltinActions() but has no row "
                                         << "in the authorization table";
  }
  for (const std::string& action : covered) {
    EXPECT_EQ(registered.count(action), 1u) << "row for " << action << ", which is not registered";
  }
}

TEST_F(AuthorizationTest, EveryActionAsOwnerRecipientAndStranger) {
  const Account owner = Create("authz-owner");
  const Account recipient = Create("authz-recipient");
  const Account stranger = Create("authz-stranger");
  ASSERT_FALSE(owner.id.empty() || recipient.id.empty() || stranger.id.empty());
  EcsClient as_owner = As(owner);

  Fixtures f;
  f.own_bucket[Caller::kOwner] = MakeBucket(owner, "authz-owner-bucket");
  f.own_bucket[Caller::kRecipient] = MakeBucket(recipient, "authz-recipient-bucket");
  f.own_bucket[Caller::kStranger] = MakeBucket(stranger, "authz-stranger-bucket");
  f.values["owner_bucket"] = f.own_bucket[Caller::kOwner];
  f.values["recipient_id"] = recipient.id;
  f.values["stranger_id"] = stranger.id;
  WriteSparseImage(DataDir() + "/oss/" + f.at("owner_bucket") + "/disk.raw", 4 * kMiB, {{0, kMiB}}, 9);

  auto import_disk = [&](const std::string& name) {
    return CallOk(as_owner, "ImportImage",
                  {{"ImageName", name},
                   {"DiskDeviceMapping.1.OSSBucket", f.at("owner_bucket")},
                   {"DiskDeviceMapping.1.OSSObject", "disk.raw"},
                   {"DiskDeviceMapping.1.Format", "RAW"}});
  };

  // The owner's image, its snapshot and import task.
  json imported = import_disk("authz-golden");
  f.values["image"] = imported.value("ImageId", "");
  f.values["import_task"] = imported.value("TaskId", "");
  ASSERT_EQ(WaitForTask(as_owner, f.at("import_task")).value("TaskStatus", ""), "Finished");
  json image = DescribeImage(as_owner, f.at("image"));
  ASSERT_EQ(image.size(), 1u) << image.dump();
  f.values["snapshot"] = image[0]["DiskDeviceMappings"]["DiskDeviceMapping"][0].value("SnapshotId", "");

  // A finished export task.
  json exported =
      CallOk(as_owner, "ExportImage", {{"ImageId", f.at("image")}, {"OSSBucket", f.at("owner_bucket")}});
  f.values["export_task"] = exported.value("TaskId", "");
  ASSERT_EQ(WaitForTask(as_owner, f.at("export_task")).value("TaskStatus", ""), "Finished");

  // A finished copy in another region.
  json copied =
      CallOk(as_owner, "CopyImage", {{"ImageId", f.at("image")}, {"DestinationRegionId", kCopyRegion}});
  f.values["copy"] = copied.value("ImageId", "");
  ASSERT_FALSE(f.at("copy").empty()) << copied.dump();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  std::string copy_status;
  while (std::chrono::steady_clock::now() < deadline) {
    json copy = DescribeImageIn(as_owner, kCopyRegion, f.at("copy"));
    ASSERT_EQ(copy.size(), 1u) << copy.dump();
    copy_status = copy[0].value("Status", "");
    if (copy_status != "Waiting" && copy_status != "Creating") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(copy_status, "Available");

  // Shared with the recipient only.
  CallOk(as_owner, "ModifyImageSharePermission",
         {{"ImageId", f.at("image")}, {"AddAccount.1", recipient.id}});

  // The owner's instance (with user data and a role) and its system disk.
  json run = CallOk(as_owner, "RunInstances",
                    {{"ImageId", f.at("image")}, {"InstanceType", "ecs.g7.large"}, {"UserData", "ZWNobyBoZWxsbw=="},
                     {"RamRoleName", "authz-role"}});
  ASSERT_EQ(run["InstanceIdSets"]["InstanceIdSet"].size(), 1u) << run.dump();
  f.values["instance"] = run["InstanceIdSets"]["InstanceIdSet"][0].get<std::string>();
  std::string instance_status;
  for (int i = 0; i < 200 && instance_status != "Running"; ++i) {
    json listed = CallOk(as_owner, "DescribeInstances", {{"InstanceIds", "[\"" + f.at("instance") + "\"]"}});
    if (listed["Instances"]["Instance"].size() == 1) {
      instance_status = listed["Instances"]["Instance"][0].value("Status", "");
    }
    if (instance_status != "Running") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(instance_status, "Running");
  json disks = CallOk(as_owner, "DescribeDisks", {{"InstanceId", f.at("instance")}});
  ASSERT_EQ(disks["Disks"]["Disk"].size(), 1u) << disks.dump();
  f.values["disk"] = disks["Disks"]["Disk"][0].value("DiskId", "");
  // An image no one else sees that the owner's second instance uses.
  json used = import_disk("authz-used");
  f.values["used_image"] = used.value("ImageId", "");
  ASSERT_EQ(WaitForTask(as_owner, used.value("TaskId", "")).value("TaskStatus", ""), "Finished");
  json run_used =
      CallOk(as_owner, "RunInstances", {{"ImageId", f.at("used_image")}, {"InstanceType", "ecs.g7.large"}});
  ASSERT_EQ(run_used["InstanceIdSets"]["InstanceIdSet"].size(), 1u) << run_used.dump();
  for (const auto& [name, value] : f.values) ASSERT_FALSE(value.empty()) << name;

  const std::map<Caller, const Account*> accounts = {
      {Caller::kOwner, &owner}, {Caller::kRecipient, &recipient}, {Caller::kStranger, &stranger}};
  size_t cells = 0;
  for (const Row& row : Rows()) {
    for (const auto& [caller, account] : accounts) {
      SCOPED_TRACE(row.action + (row.variant.empty() ? "" : " (" + row.variant + ")") + " as " +
                   Name(caller));
      const Cell& cell = caller == Caller::kOwner       ? row.owner
                         : caller == Caller::kRecipient ? row.recipient
                                                        : row.stranger;
      EcsClient client = As(*account);
      std::map<std::string, std::string> params = Fill(row.params, f, caller);
      if (caller == Caller::kOwner && row.owner_dry_run) params["DryRun"] = "true";
      Result<EcsResponse> real = client.Call(row.action, params);
      CheckCell(cell, real, f);
      ++cells;

      // A stranger learns nothing: the same answer as for an id that never
      // existed.
      const bool told_not_found = cell.code.size() > 9 && cell.code.ends_with(".NotFound");
      if (row.probe.empty() || !real.ok() || (caller != Caller::kStranger && !told_not_found)) continue;
      Fixtures never = f;
      const std::string& real_id = f.at(row.probe);
      const std::string fake_id = NeverExisted(real_id);
      never.values[row.probe] = fake_id;
      if (row.probe == "owner_bucket") never.own_bucket[Caller::kOwner] = fake_id;
      std::map<std::string, std::string> fake_params = Fill(row.params, never, caller);
      if (caller == Caller::kOwner && row.owner_dry_run) fake_params["DryRun"] = "true";
      Result<EcsResponse> fake = client.Call(row.action, fake_params);
      ASSERT_TRUE(fake.ok()) << fake.status().ToString();
      EXPECT_EQ(Comparable(*real, real_id), Comparable(*fake, fake_id))
          << "the answer about " << row.probe << " " << real_id << " differs from the one about " << fake_id
          << ", which never existed";
    }
  }
  EXPECT_EQ(cells, Rows().size() * accounts.size());

  // What the refused calls would have changed is as the owner left it.
  json after = DescribeImage(as_owner, f.at("image"));
  ASSERT_EQ(after.size(), 1u) << after.dump();
  EXPECT_EQ(after[0].value("Description", ""), "changed by the owner");
  EXPECT_EQ(after[0].value("Status", ""), "Available");
  json shares = CallOk(as_owner, "DescribeImageSharePermission", {{"ImageId", f.at("image")}});
  ASSERT_EQ(shares["Accounts"]["Account"].size(), 1u) << shares.dump();
  EXPECT_EQ(shares["Accounts"]["Account"][0].value("AliyunId", ""), recipient.id);
  EXPECT_EQ(DescribeImageIn(as_owner, kCopyRegion, f.at("copy")).size(), 1u);
  std::cout << "authorization table: " << Rows().size() << " rows x " << accounts.size()
            << " callers = " << cells << " cells\n";
}

}  // namespace
}  // namespace ferry::testing
