#include "api/action.h"

#include "common/log_safe.h"

namespace ferry {

Result<Region*> ActionContext::RegionParam(const std::string& name) const {
  ASSIGN_OR_RETURN(std::string region_id, params.Required(name));
  Region* region = regions.Find(region_id);
  if (region == nullptr) {
    std::string known;
    for (const Region* r : regions.ordered) known += (known.empty() ? "" : ", ") + r->id();
    return NotFound("InvalidRegionId.NotFound",
                    "The specified RegionId does not exist. \"" + Echo(region_id) +
                        "\" is not served here (served: " + (known.empty() ? "none" : known) + ").");
  }
  return region;
}

}  // namespace ferry
