// Snapshot actions: DescribeSnapshots, DeleteSnapshot.
#include <charconv>

#include "api/actions_internal.h"
#include "api/views.h"

namespace ferry::actions {
namespace {

using nlohmann::json;

constexpr size_t kMaxSnapshotIds = 100;

// DescribeSnapshots pages either by PageNumber/PageSize or, in current SDKs,
// by MaxResults/NextToken. Ferry's NextToken is the decimal offset of the
// next snapshot, which maps onto pages as long as MaxResults stays the same
// between calls (as every client iterating a listing does).
Result<Paging> SnapshotPaging(const Params& p) {
  if (!p.Get("MaxResults") && !p.Get("NextToken")) return PagingParams(p);
  Paging paging;
  ASSIGN_OR_RETURN(int64_t max_results, p.Int("MaxResults", 10, 1, 100));
  paging.page_size = static_cast<uint64_t>(max_results);
  const std::string token = p.GetOr("NextToken", "0");
  uint64_t offset = 0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), offset);
  if (ec != std::errc() || ptr != token.data() + token.size() || offset % paging.page_size != 0) {
    return InvalidArgument("InvalidParameter", "The specified parameter \"NextToken\" is not valid: \"" +
                                                   token + "\" is not a token returned for MaxResults=" +
                                                   std::to_string(paging.page_size) + ".");
  }
  paging.page_number = offset / paging.page_size + 1;
  return paging;
}

// The region holding the caller's own snapshot `snapshot_id`, for actions
// whose current SDK models carry no RegionId. Only the caller's own: the
// snapshots of an image shared with it are visible to DescribeSnapshots but
// not its to change, and must get the answer an unknown id gets.
Result<Region*> RegionOfSnapshot(const RegionSet& regions, const Caller& caller,
                                 const std::string& snapshot_id) {
  DescribeSnapshotsRequest lookup;
  lookup.snapshot_ids = {snapshot_id};
  for (Region* region : regions.ordered) {
    ASSIGN_OR_RETURN(Page<SnapshotRecord> found, region->DescribeSnapshots(caller, lookup));
    for (const SnapshotRecord& s : found.items)
      if (s.account_id == caller.account_id) return region;
  }
  return NotFound("InvalidSnapshotId.NotFound",
                  "The specified snapshot \"" + snapshot_id + "\" is not found in " +
                      (regions.ordered.size() == 1 ? "region " + regions.ordered[0]->id() : "any region") +
                      ".");
}

}  // namespace

Result<json> DescribeSnapshots(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  DescribeSnapshotsRequest request;
  ASSIGN_OR_RETURN(request.snapshot_ids, p.JsonStringArray("SnapshotIds"));
  if (request.snapshot_ids.size() > kMaxSnapshotIds) {
    return InvalidArgument("InvalidSnapshotIds.Malformed",
                           "The amount of specified specified snapshot Ids exceeds the limit: got " +
                               std::to_string(request.snapshot_ids.size()) + ", at most " +
                               std::to_string(kMaxSnapshotIds) + ".");
  }
  const std::string status = p.GetOr("Status", "all");
  if (status != "all" && status != "progressing" && status != "accomplished" && status != "failed") {
    return NotFound("InvalidStatus.NotFound",
                    "The specified Status \"" + status +
                        "\" is not found; use progressing, accomplished, failed or all.");
  }
  request.status = status == "all" ? "" : status;
  request.snapshot_name = p.GetOr("SnapshotName", "");
  ASSIGN_OR_RETURN(Paging paging, SnapshotPaging(p));
  request.page_number = paging.page_number;
  request.page_size = paging.page_size;
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  if (dry_run) return DryRunPassed();

  ASSIGN_OR_RETURN(Page<SnapshotRecord> page, region->DescribeSnapshots(ctx.caller, request));
  json snapshots = json::array();
  for (const SnapshotRecord& s : page.items) snapshots.push_back(SnapshotView(s, region->id()));
  const uint64_t next_offset = (paging.page_number - 1) * paging.page_size + page.items.size();
  const bool more = !page.items.empty() && next_offset < page.total;
  return json{
      {"TotalCount", page.total},
      {"PageNumber", paging.page_number},
      {"PageSize", paging.page_size},
      {"NextToken", more ? std::to_string(next_offset) : ""},
      {"Snapshots", json{{"Snapshot", std::move(snapshots)}}},
  };
}

Result<json> DeleteSnapshot(ActionContext& ctx) {
  const Params& p = ctx.params;
  ASSIGN_OR_RETURN(std::string snapshot_id, p.Required("SnapshotId"));
  ASSIGN_OR_RETURN(bool force, p.Bool("Force", false));
  ASSIGN_OR_RETURN(bool dry_run, p.Bool("DryRun", false));
  Region* region = nullptr;
  if (p.Get("RegionId")) {
    ASSIGN_OR_RETURN(region, ctx.RegionParam());
  } else {
    ASSIGN_OR_RETURN(region, RegionOfSnapshot(ctx.regions, ctx.caller, snapshot_id));
  }
  if (dry_run) {
    RETURN_IF_ERROR(RegionOfSnapshot(RegionSet{{region}}, ctx.caller, snapshot_id).status());
    return DryRunPassed();
  }
  RETURN_IF_ERROR(region->DeleteSnapshot(ctx.caller, snapshot_id, force));
  return json::object();
}

}  // namespace ferry::actions
