// Private to the action handlers (api/actions*.cc): the handlers themselves
// and the small parameter helpers they share. Everything else uses
// BuiltinActions() from api/action.h.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/action.h"

namespace ferry::actions {

// Every image status ECS documents, for lookups that must see all of them.
const std::vector<std::string>& AllImageStatuses();

// The DryRunOperation "error" ECS answers once a DryRun request validated.
Status DryRunPassed();

// Paging parameters: PageNumber >= 1 (default 1), PageSize 1..100 (default 10).
struct Paging {
  uint64_t page_number = 1;
  uint64_t page_size = 10;
};
Result<Paging> PagingParams(const Params& params);

// The N of every "Prefix.N.Field" parameter, ascending and distinct.
// InvalidParameter when N is not a decimal in 1..max_n.
Result<std::vector<int>> ObjectListIndexes(const Params& params, const std::string& prefix, int max_n);

// The caller's view of one image in `region` (any status); NotFound with
// InvalidImageId.NotFound when it is not visible. Used to validate DryRun
// requests without side effects.
Result<ImageRecord> FindVisibleImage(Region& region, const Caller& caller, const std::string& image_id);

// Handlers, one per action (names as ECS spells them).
Result<nlohmann::json> DescribeRegions(ActionContext& ctx);
Result<nlohmann::json> CreateAccount(ActionContext& ctx);

Result<nlohmann::json> ImportImage(ActionContext& ctx);
Result<nlohmann::json> DescribeImages(ActionContext& ctx);
Result<nlohmann::json> ModifyImageAttribute(ActionContext& ctx);
Result<nlohmann::json> DeleteImage(ActionContext& ctx);
Result<nlohmann::json> CreateImage(ActionContext& ctx);
Result<nlohmann::json> ExportImage(ActionContext& ctx);

Result<nlohmann::json> DescribeSnapshots(ActionContext& ctx);
Result<nlohmann::json> DeleteSnapshot(ActionContext& ctx);

Result<nlohmann::json> DescribeTasks(ActionContext& ctx);
Result<nlohmann::json> DescribeTaskAttribute(ActionContext& ctx);
Result<nlohmann::json> CancelTask(ActionContext& ctx);

Result<nlohmann::json> CopyImage(ActionContext& ctx);
Result<nlohmann::json> CancelCopyImage(ActionContext& ctx);

Result<nlohmann::json> RunInstances(ActionContext& ctx);
Result<nlohmann::json> CreateInstance(ActionContext& ctx);
Result<nlohmann::json> DescribeInstances(ActionContext& ctx);
Result<nlohmann::json> StartInstance(ActionContext& ctx);
Result<nlohmann::json> StopInstance(ActionContext& ctx);
Result<nlohmann::json> RebootInstance(ActionContext& ctx);
Result<nlohmann::json> DeleteInstance(ActionContext& ctx);
Result<nlohmann::json> ReplaceSystemDisk(ActionContext& ctx);
Result<nlohmann::json> DescribeDisks(ActionContext& ctx);
Result<nlohmann::json> DescribeUserData(ActionContext& ctx);
Result<nlohmann::json> DescribeInstanceRamRole(ActionContext& ctx);

}  // namespace ferry::actions
