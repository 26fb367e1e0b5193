// Copy actions: CopyImage (called on the source region) and CancelCopyImage
// (called on the destination region). The ECS rules live in the regions;
// these handlers parse parameters and map the source region's absence to the
// code CopyImage documents for it.
#include "api/actions_internal.h"

namespace ferry::actions {

using nlohmann::json;

Result<json> CopyImage(ActionContext& ctx) {
  const Params& p = ctx.params;
  // RegionId names the *source* region here; ECS reports an unknown one as
  // SourceRegion.NotFound (400) rather than InvalidRegionId.NotFound.
  ASSIGN_OR_RETURN(std::string source_region_id, p.Required("RegionId"));
  Region* region = ctx.regions.Find(source_region_id);
  if (region == nullptr) {
    return InvalidArgument("SourceRegion.NotFound", "The source region not found: \"" +
                                                        Echo(source_region_id) + "\" is not served here.");
  }
  CopyImageRequest request;
  ASSIGN_OR_RETURN(request.image_id, p.Required("ImageId"));
  // Documented as optional, but a copy without a destination has nowhere to
  // go (Terraform always sends it).
  ASSIGN_OR_RETURN(request.destination_region_id, p.Required("DestinationRegionId"));
  request.destination_image_name = p.GetOr("DestinationImageName", "");
  request.destination_description = p.GetOr("DestinationDescription", "");
  ASSIGN_OR_RETURN(request.tags, p.TagList());
  ASSIGN_OR_RETURN(request.client_token, p.ClientToken());
  ASSIGN_OR_RETURN(request.encrypted, p.Bool("Encrypted", false));
  request.kms_key_id = p.GetOr("KMSKeyId", "");
  if (!request.kms_key_id.empty() && !request.encrypted) {
    return InvalidArgument("InvalidParameter.EncryptedIllegal",
                           "The specified parameter Encrypted must be true when kmsKeyId is not empty "
                           "(KMSKeyId \"" +
                               Echo(request.kms_key_id) + "\").");
  }
  // ResourceGroupId is accepted and ignored: Ferry has no resource groups.
  ASSIGN_OR_RETURN(request.dry_run, p.Bool("DryRun", false));

  // The region validates everything only it knows (the image, the
  // destination, names) even for a dry run.
  ASSIGN_OR_RETURN(std::string image_id, region->CopyImage(ctx.caller, request));
  if (request.dry_run) return DryRunPassed();
  return json{{"ImageId", image_id}};
}

Result<json> CancelCopyImage(ActionContext& ctx) {
  // RegionId names the destination region: where the copy is being made.
  ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
  ASSIGN_OR_RETURN(std::string image_id, ctx.params.Required("ImageId"));
  RETURN_IF_ERROR(region->CancelCopyImage(ctx.caller, image_id));
  return json::object();
}

}  // namespace ferry::actions
