// Sharing actions: ModifyImageSharePermission, DescribeImageSharePermission.
// The ECS rules (who may share, which accounts, limits) live in the region;
// these handlers parse the account lists and render the share list.
#include "api/actions_internal.h"
#include "api/views.h"

namespace ferry::actions {
namespace {

using nlohmann::json;

// The largest N accepted in AddAccount.N / RemoveAccount.N as a well-formed
// parameter name; only N <= kMaxShareAccountsPerCall is used (ECS ignores
// the rest).
constexpr int kMaxAccountIndex = 999;

// The values of Prefix.1 .. Prefix.10, in N order; higher N are ignored, as
// ECS documents.
Result<std::vector<std::string>> AccountList(const Params& params, const std::string& prefix) {
  ASSIGN_OR_RETURN(std::vector<int> indexes, ObjectListIndexes(params, prefix, kMaxAccountIndex));
  std::vector<std::string> accounts;
  for (int n : indexes) {
    if (n > static_cast<int>(kMaxShareAccountsPerCall)) break;
    accounts.push_back(params.GetOr(prefix + "." + std::to_string(n), ""));
  }
  return accounts;
}

}  // namespace

Result<json> ModifyImageSharePermission(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  ModifyImageSharePermissionRequest request;
  ASSIGN_OR_RETURN(request.image_id, p.Required("ImageId"));
  ASSIGN_OR_RETURN(request.add_accounts, AccountList(p, "AddAccount"));
  ASSIGN_OR_RETURN(request.remove_accounts, AccountList(p, "RemoveAccount"));
  ASSIGN_OR_RETURN(bool is_public, p.Bool("IsPublic", false));
  if (is_public) {
    return PermissionDenied("InvalidParameter.IsPublic",
                            "The specified parameter IsPublic is not valid: Ferry has no community images; "
                            "share with accounts (AddAccount.N) instead.");
  }
  // LaunchPermission (an invitational preview) is accepted and ignored.
  ASSIGN_OR_RETURN(request.dry_run, p.Bool("DryRun", false));
  RETURN_IF_ERROR(region->ModifyImageSharePermission(ctx.caller, request));
  return json::object();
}

Result<json> DescribeImageSharePermission(ActionContext& ctx) {
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  const Params& p = ctx.params;
  DescribeImageSharePermissionRequest request;
  ASSIGN_OR_RETURN(request.image_id, p.Required("ImageId"));
  ASSIGN_OR_RETURN(Paging paging, PagingParams(p));
  request.page_number = paging.page_number;
  request.page_size = paging.page_size;
  ASSIGN_OR_RETURN(Page<ImageShareRecord> page, region->DescribeImageSharePermission(ctx.caller, request));
  json accounts = json::array();
  for (const ImageShareRecord& share : page.items) accounts.push_back(ShareAccountView(share));
  return json{
      {"RegionId", region->id()},
      {"ImageId", request.image_id},
      {"TotalCount", page.total},
      {"PageNumber", paging.page_number},
      {"PageSize", paging.page_size},
      // Groups are for public (community) sharing, which Ferry does not have.
      {"ShareGroups", json{{"ShareGroup", json::array()}}},
      {"Accounts", json{{"Account", std::move(accounts)}}},
  };
}

}  // namespace ferry::actions
