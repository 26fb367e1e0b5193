// Actions: one handler per ECS action, registered by name in an ActionTable.
//
// A handler receives the authenticated caller and the merged parameters and
// returns the response body as JSON *without* RequestId (the dispatcher adds
// it and renders JSON or XML), or a non-OK Status that api/errors.cc turns
// into the ECS error response. A handler whose body is large may instead
// write the whole success body itself (api/response_writer.h) into
// ActionContext::rendered_body and return an empty object.
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/params.h"
#include "api/render.h"
#include "catalog/catalog.h"
#include "common/status.h"
#include "region/region.h"

namespace ferry {

// A region served by other Ferry processes of the cluster (`--peer ID=URL`,
// repeated for a region's nodes).
struct RemoteRegionInfo {
  std::string region_id;
  std::string base_url;                // "http://host:port" of the process serving it
  std::vector<std::string> more_urls;  // the region's other nodes

  // Every URL, the one that answered last first, then the others in order:
  // a forwarded request goes to the next when one cannot be connected to.
  std::vector<std::string> UrlsInTurn() const {
    std::vector<std::string> all{base_url};
    all.insert(all.end(), more_urls.begin(), more_urls.end());
    std::rotate(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(answered->load() % all.size()),
                all.end());
    return all;
  }
  void Answered(const std::string& url) const {
    if (url == base_url) answered->store(0);
    for (size_t i = 0; i < more_urls.size(); ++i)
      if (more_urls[i] == url) answered->store(i + 1);
  }
  std::shared_ptr<std::atomic<size_t>> answered = std::make_shared<std::atomic<size_t>>(0);
};

// The regions this process serves, by id, in display order, and the ones
// its peers serve.
struct RegionSet {
  std::vector<Region*> ordered;
  std::vector<RemoteRegionInfo> remote;
  const RemoteRegionInfo* FindRemote(const std::string& region_id) const {
    for (const RemoteRegionInfo& r : remote)
      if (r.region_id == region_id) return &r;
    return nullptr;
  }
  Region* Find(const std::string& region_id) const {
    for (Region* r : ordered)
      if (r->id() == region_id) return r;
    return nullptr;
  }
};

struct ActionContext {
  const Params& params;
  Caller caller;
  bool caller_is_root = false;
  std::string request_id;
  const RegionSet& regions;
  AccountDirectory& accounts;
  const Clock& clock;
  // This process's endpoint, "HOST:PORT" (ServerConfig::host_id).
  std::string host_id;
  // The format the caller asked for (Format=XML, else JSON).
  ResponseFormat format = ResponseFormat::kJson;
  // Set by a handler that wrote its success body itself, with the RequestId
  // above; sent as it is.
  std::optional<std::string> rendered_body;

  // The region named by RegionId; InvalidRegionId.NotFound (or
  // MissingParameter) otherwise.
  Result<Region*> RegionParam(const std::string& name = "RegionId") const;
};

using ActionHandler = std::function<Result<nlohmann::json>(ActionContext&)>;
using ActionTable = std::map<std::string, ActionHandler>;

// Every ECS action Ferry implements (api/actions.cc).
ActionTable BuiltinActions();

}  // namespace ferry
