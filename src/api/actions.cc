// The action table, the helpers shared by the handlers, and the actions that
// are not about one region's resources (DescribeRegions, CreateAccount, and
// STS GetCallerIdentity).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <set>

#include "api/accounts_admin.h"
#include "api/action.h"
#include "api/actions_internal.h"
#include "api/views.h"
#include "common/http_url.h"

namespace ferry {

using nlohmann::json;

ActionTable BuiltinActions() {
  return ActionTable{
      {"DescribeRegions", actions::DescribeRegions},
      {"ImportImage", actions::ImportImage},
      {"DescribeImages", actions::DescribeImages},
      {"ModifyImageAttribute", actions::ModifyImageAttribute},
      {"DeleteImage", actions::DeleteImage},
      {"CreateImage", actions::CreateImage},
      {"ExportImage", actions::ExportImage},
      {"CreateSnapshot", actions::CreateSnapshot},
      {"DescribeSnapshots", actions::DescribeSnapshots},
      {"DeleteSnapshot", actions::DeleteSnapshot},
      {"DescribeTasks", actions::DescribeTasks},
      {"DescribeTaskAttribute", actions::DescribeTaskAttribute},
      {"CancelTask", actions::CancelTask},
      {"CreateAccount", actions::CreateAccount},
      // STS (Version 2015-04-01; api/dispatcher.h kStsApiVersion).
      {"GetCallerIdentity", actions::GetCallerIdentity},
      {"CopyImage", actions::CopyImage},
      {"CancelCopyImage", actions::CancelCopyImage},
      {"ModifyImageSharePermission", actions::ModifyImageSharePermission},
      {"DescribeImageSharePermission", actions::DescribeImageSharePermission},
      // Instances and disks (actions_instances.cc).
      {"RunInstances", actions::RunInstances},
      {"CreateInstance", actions::CreateInstance},
      {"DescribeInstances", actions::DescribeInstances},
      {"StartInstance", actions::StartInstance},
      {"StopInstance", actions::StopInstance},
      {"RebootInstance", actions::RebootInstance},
      {"DeleteInstance", actions::DeleteInstance},
      {"ReplaceSystemDisk", actions::ReplaceSystemDisk},
      {"DescribeDisks", actions::DescribeDisks},
      {"DescribeUserData", actions::DescribeUserData},
      {"DescribeInstanceRamRole", actions::DescribeInstanceRamRole},
  };
}

namespace actions {

Result<Paging> TokenOrPagePaging(const Params& p) {
  if (!p.Get("MaxResults") && !p.Get("NextToken")) return PagingParams(p);
  Paging paging;
  ASSIGN_OR_RETURN(int64_t max_results, p.Int("MaxResults", 10, 1, 100));
  paging.page_size = static_cast<uint64_t>(max_results);
  const std::string token = p.GetOr("NextToken", "0");
  uint64_t offset = 0;
  auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), offset);
  if (ec != std::errc() || ptr != token.data() + token.size() || offset % paging.page_size != 0) {
    return InvalidArgument(
        "InvalidParameter",
        "The specified parameter \"NextToken\" is not valid: \"" + Echo(token) +
            "\" is not a token returned for MaxResults=" + std::to_string(paging.page_size) + ".");
  }
  paging.page_number = offset / paging.page_size + 1;
  return paging;
}

std::string AsciiLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

Result<CreationFilter> ParseCreationFilter(const Params& p, const std::vector<std::string>& ignored) {
  constexpr int kMaxFilters = 20;
  CreationFilter f;
  ASSIGN_OR_RETURN(std::vector<int> indexes, ObjectListIndexes(p, "Filter", kMaxFilters));
  for (int n : indexes) {
    const std::string prefix = "Filter." + std::to_string(n) + ".";
    ASSIGN_OR_RETURN(std::string key, p.Required(prefix + "Key"));
    const std::string value = p.GetOr(prefix + "Value", "");
    if (key == "CreationStartTime" || key == "CreationEndTime") {
      std::optional<UnixSeconds> t = ParseTime(value);
      if (!t) {
        return NotFound("InvalidFilterValue", "The specified Filter Value \"" + Echo(value) + "\" of " +
                                                  prefix + "Key " + key +
                                                  " is not valid: use yyyy-MM-ddTHH:mmZ (UTC).");
      }
      (key == "CreationStartTime" ? f.from : f.to) = t;
    } else if (std::find(ignored.begin(), ignored.end(), key) == ignored.end()) {
      std::string keys = "CreationStartTime, CreationEndTime";
      for (const std::string& k : ignored) keys += ", " + k;
      return NotFound("InvalidFilterKey.NotFound",
                      "The specified Filter Key \"" + Echo(key) + "\" is not found; use " + keys + ".");
    }
  }
  return f;
}

const std::vector<std::string>& AllImageStatuses() {
  static const std::vector<std::string> kStatuses = {"Creating",    "Waiting",      "Available",
                                                     "UnAvailable", "CreateFailed", "Deprecated"};
  return kStatuses;
}

Status DryRunPassed() {
  return InvalidArgument("DryRunOperation", "Request validation has been passed with DryRun flag set.");
}

Result<Paging> PagingParams(const Params& params) {
  Paging paging;
  ASSIGN_OR_RETURN(int64_t number, params.Int("PageNumber", 1, 1, std::numeric_limits<int32_t>::max()));
  ASSIGN_OR_RETURN(int64_t size, params.Int("PageSize", 10, 1, 100));
  paging.page_number = static_cast<uint64_t>(number);
  paging.page_size = static_cast<uint64_t>(size);
  return paging;
}

Result<std::vector<int>> ObjectListIndexes(const Params& params, const std::string& prefix, int max_n) {
  const std::string head = prefix + ".";
  std::set<int> indexes;
  for (auto it = params.all().lower_bound(head); it != params.all().end(); ++it) {
    const std::string& key = it->first;
    if (key.compare(0, head.size(), head) != 0) break;
    const size_t dot = key.find('.', head.size());
    const std::string digits =
        key.substr(head.size(), dot == std::string::npos ? std::string::npos : dot - head.size());
    bool valid = !digits.empty() && digits.size() <= 3 && digits[0] != '0' &&
                 std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); });
    const int n = valid ? std::stoi(digits) : 0;
    if (!valid || n < 1 || n > max_n) {
      return InvalidArgument("InvalidParameter", "The specified parameter \"" + Echo(key) +
                                                     "\" is not valid: N must be 1.." +
                                                     std::to_string(max_n) + ".");
    }
    indexes.insert(n);
  }
  return std::vector<int>(indexes.begin(), indexes.end());
}

Result<ImageRecord> FindVisibleImage(Region& region, const Caller& caller, const std::string& image_id) {
  DescribeImagesRequest request;
  request.image_id = image_id;
  request.statuses = AllImageStatuses();
  request.page_size = 1;
  ASSIGN_OR_RETURN(Page<ImageRecord> page, region.DescribeImages(caller, request));
  if (page.items.empty()) {
    return NotFound("InvalidImageId.NotFound", "The specified ImageId \"" + Echo(image_id) +
                                                   "\" does not exist in region " + region.id() + ".");
  }
  return std::move(page.items.front());
}

Result<json> DescribeRegions(ActionContext& ctx) {
  const std::string language = AsciiLower(ctx.params.GetOr("AcceptLanguage", "zh-CN"));
  // The current AcceptLanguage list: zh-CN, zh-TW, en-US, ja, fr, de, ko.
  // Ferry has names in Chinese and English only: zh-TW gets the Chinese
  // ones, the other languages English, the closest it can offer.
  bool english = false;
  if (language == "en-us" || language == "ja" || language == "fr" || language == "de" || language == "ko") {
    english = true;
  } else if (language != "zh-cn" && language != "zh-tw") {
    return NotFound("InvalidAcceptLanguage.NotFound",
                    "Only Chinese (zh-CN, zh-TW), English (en-US), Japanese (ja), French (fr), German (de) "
                    "and Korean (ko) are allowed.");
  }
  json regions = json::array();
  // Each region's endpoint is the Ferry process serving it: this one, or
  // the peer's configured URL.
  for (const Region* region : ctx.regions.ordered)
    regions.push_back(RegionView(region->config(), english, ctx.host_id));
  // Regions other processes of the cluster serve: the same names as if
  // they were served here.
  for (const RemoteRegionInfo& remote : ctx.regions.remote) {
    if (ctx.regions.Find(remote.region_id) != nullptr) continue;
    RegionConfig config;
    config.region_id = remote.region_id;
    FillRegionNames(&config);
    Result<HttpBaseUrl> url = ParseHttpBaseUrl(remote.base_url);
    regions.push_back(RegionView(config, english, url.ok() ? url->host_header : remote.base_url));
  }
  return json{{"Regions", json{{"Region", std::move(regions)}}}};
}

Result<json> CreateAccount(ActionContext& ctx) {
  if (!ctx.caller_is_root) {
    return PermissionDenied("Forbidden",
                            "User not authorized to operate on the specified resource: only the root "
                            "account may create accounts.");
  }
  ASSIGN_OR_RETURN(std::string name, ctx.params.Required("AccountName"));
  ASSIGN_OR_RETURN(AccessKeyRecord key, CreateAccountWithKey(ctx.accounts, name, ctx.clock));
  return json{
      {"AccountId", key.account_id},
      {"AccessKeyId", key.access_key_id},
      {"AccessKeySecret", key.access_key_secret},
  };
}

Result<json> GetCallerIdentity(ActionContext& ctx) {
  // Ferry has no RAM users: every AccessKey is an account's own key.
  const std::string& id = ctx.caller.account_id;
  json body{
      {"IdentityType", "Account"}, {"AccountId", id}, {"UserId", id},
      {"PrincipalId", id},         {"Arn", "acs:ram::" + id + ":root"},
  };
  // Ferry extension: the account's name, for people (the console's top bar).
  // A key another process of the cluster vouched for may name an account
  // this process's directory does not hold: then the name is left out.
  Result<AccountRecord> account = ctx.accounts.GetAccount(id);
  if (account.ok()) body["AccountName"] = account->name;
  return body;
}

}  // namespace actions
}  // namespace ferry
