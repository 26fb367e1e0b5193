// Private to the action handlers (api/actions*.cc): the handlers themselves
// and the small parameter helpers they share. Everything else uses
// BuiltinActions() from api/action.h.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/action.h"
#include "common/log_safe.h"  // Echo: client values quoted in errors

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
// PageNumber/PageSize, or (current SDKs of DescribeSnapshots and
// DescribeInstances) MaxResults/NextToken. Ferry's NextToken is the decimal
// offset of the next item, which maps onto pages as long as MaxResults stays
// the same between calls (as every client iterating a listing does).
Result<Paging> TokenOrPagePaging(const Params& params);

// The N of every "Prefix.N.Field" parameter, ascending and distinct.
// InvalidParameter when N is not a decimal in 1..max_n.
Result<std::vector<int>> ObjectListIndexes(const Params& params, const std::string& prefix, int max_n);

// `s` with ASCII letters in lower case.
std::string AsciiLower(std::string s);

// Filter.N of the Describe* actions (ECS: Filter.1.Key=CreationStartTime,
// Filter.2.Key=CreationEndTime, Filter.N.Value yyyy-MM-ddTHH:mmZ). Keys in
// `ignored` are accepted and filter nothing (DescribeImages' NetworkType);
// any other key is 404 InvalidFilterKey.NotFound, a bad time 404
// InvalidFilterValue.
struct CreationFilter {
  std::optional<UnixSeconds> from;
  std::optional<UnixSeconds> to;
  bool active() const { return from || to; }
  bool Matches(UnixSeconds created) const { return (!from || created >= *from) && (!to || created <= *to); }
};
Result<CreationFilter> ParseCreationFilter(const Params& params, const std::vector<std::string>& ignored = {});

// For filters the region's query has no field for: lists every record
// `fetch(page_number, page_size)` returns, keeps those `keep` accepts, and
// pages what was kept as `paging` asks (`total` counts what was kept). The
// account quotas bound how many records a listing holds.
template <typename Record, typename Fetch, typename Keep>
Result<Page<Record>> PageAfterFilter(const Fetch& fetch, const Keep& keep, const Paging& paging) {
  constexpr uint64_t kFetchPageSize = 100;
  std::vector<Record> kept;
  uint64_t fetched = 0;
  for (uint64_t number = 1;; ++number) {
    ASSIGN_OR_RETURN(Page<Record> page, fetch(number, kFetchPageSize));
    fetched += page.items.size();
    for (Record& record : page.items)
      if (keep(record)) kept.push_back(std::move(record));
    if (page.items.size() < kFetchPageSize || fetched >= page.total) break;
  }
  Page<Record> out;
  out.total = kept.size();
  const uint64_t offset = std::min<uint64_t>((paging.page_number - 1) * paging.page_size, kept.size());
  const uint64_t count = std::min<uint64_t>(paging.page_size, kept.size() - offset);
  out.items.assign(std::make_move_iterator(kept.begin() + offset),
                   std::make_move_iterator(kept.begin() + offset + count));
  return out;
}

// The caller's view of one image in `region` (any status); NotFound with
// InvalidImageId.NotFound when it is not visible. Used to validate DryRun
// requests without side effects.
Result<ImageRecord> FindVisibleImage(Region& region, const Caller& caller, const std::string& image_id);

// Handlers, one per action (names as ECS spells them).
Result<nlohmann::json> DescribeRegions(ActionContext& ctx);
Result<nlohmann::json> CreateAccount(ActionContext& ctx);
Result<nlohmann::json> GetCallerIdentity(ActionContext& ctx);

Result<nlohmann::json> ImportImage(ActionContext& ctx);
Result<nlohmann::json> DescribeImages(ActionContext& ctx);
Result<nlohmann::json> ModifyImageAttribute(ActionContext& ctx);
Result<nlohmann::json> DeleteImage(ActionContext& ctx);
Result<nlohmann::json> CreateImage(ActionContext& ctx);
Result<nlohmann::json> CreateSnapshot(ActionContext& ctx);
Result<nlohmann::json> ExportImage(ActionContext& ctx);

Result<nlohmann::json> DescribeSnapshots(ActionContext& ctx);
Result<nlohmann::json> DeleteSnapshot(ActionContext& ctx);

Result<nlohmann::json> DescribeTasks(ActionContext& ctx);
Result<nlohmann::json> DescribeTaskAttribute(ActionContext& ctx);
Result<nlohmann::json> CancelTask(ActionContext& ctx);

Result<nlohmann::json> ModifyImageSharePermission(ActionContext& ctx);
Result<nlohmann::json> DescribeImageSharePermission(ActionContext& ctx);

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
