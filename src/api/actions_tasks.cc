// Task actions: DescribeTasks, DescribeTaskAttribute, CancelTask.
#include <algorithm>
#include <optional>

#include "api/actions_internal.h"
#include "api/views.h"
#include "common/clock.h"

namespace ferry::actions {
namespace {

using nlohmann::json;

constexpr size_t kMaxTaskIds = 100;
constexpr size_t kMaxResourceIds = 100;

Result<std::optional<UnixSeconds>> TimeParam(const Params& p, const std::string& name) {
  std::optional<std::string> text = p.Get(name);
  if (!text) return std::optional<UnixSeconds>();
  std::optional<UnixSeconds> t = ParseTime(*text);
  if (!t) {
    return InvalidArgument("InvalidParameter",
                           "The specified parameter \"" + Echo(name) + "\" is not valid: \"" + Echo(*text) +
                               "\" is not yyyy-MM-ddTHH:mm:ssZ or yyyy-MM-ddTHH:mmZ (UTC).");
  }
  return t;
}

}  // namespace

Result<json> DescribeTasks(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  DescribeTasksRequest request;
  request.task_ids = p.CommaList("TaskIds");
  if (request.task_ids.size() > kMaxTaskIds) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"TaskIds\" is not valid: " +
                                                   std::to_string(request.task_ids.size()) +
                                                   " ids, at most " + std::to_string(kMaxTaskIds) + ".");
  }
  request.task_action = p.GetOr("TaskAction", "");
  // ECS ignores a TaskStatus it does not know rather than failing.
  const std::string status = p.GetOr("TaskStatus", "");
  if (status == "Finished" || status == "Processing" || status == "Failed" || status == "Cancelled")
    request.task_status = status;
  request.resource_ids = p.RepeatList("ResourceIds");
  if (request.resource_ids.size() > kMaxResourceIds) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"ResourceIds\" is not valid: " +
                                                   std::to_string(request.resource_ids.size()) +
                                                   " ids, at most " + std::to_string(kMaxResourceIds) + ".");
  }
  ASSIGN_OR_RETURN(std::optional<UnixSeconds> start, TimeParam(p, "StartTime"));
  ASSIGN_OR_RETURN(std::optional<UnixSeconds> end, TimeParam(p, "EndTime"));
  ASSIGN_OR_RETURN(Paging paging, PagingParams(p));
  request.page_number = paging.page_number;
  request.page_size = paging.page_size;

  Page<TaskRecord> page;
  if (start || end) {
    // The region cannot filter by creation time: page after filtering.
    const CreationFilter created{start, end};
    auto fetch = [&](uint64_t number, uint64_t size) {
      DescribeTasksRequest all = request;
      all.page_number = number;
      all.page_size = size;
      return region->DescribeTasks(ctx.caller, all);
    };
    auto keep = [&](const TaskRecord& t) { return created.Matches(t.creation_time); };
    ASSIGN_OR_RETURN(page, PageAfterFilter<TaskRecord>(fetch, keep, paging));
  } else {
    ASSIGN_OR_RETURN(page, region->DescribeTasks(ctx.caller, request));
  }

  json tasks = json::array();
  for (const TaskRecord& t : page.items) tasks.push_back(TaskView(t));
  return json{
      {"RegionId", region->id()},
      {"TotalCount", page.total},
      {"PageNumber", paging.page_number},
      {"PageSize", paging.page_size},
      {"TaskSet", json{{"Task", std::move(tasks)}}},
  };
}

Result<json> DescribeTaskAttribute(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  ASSIGN_OR_RETURN(std::string task_id, ctx.params.Required("TaskId"));
  ASSIGN_OR_RETURN(TaskRecord task, region->DescribeTaskAttribute(ctx.caller, task_id));
  return TaskAttributeView(task, region->id());
}

Result<json> CancelTask(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  ASSIGN_OR_RETURN(std::string task_id, ctx.params.Required("TaskId"));
  RETURN_IF_ERROR(region->CancelTask(ctx.caller, task_id));
  return json::object();
}

}  // namespace ferry::actions
