#include "api/peer_endpoints.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/ids.h"
#include "copy/peer_auth.h"
#include "copy/peer_wire.h"

namespace ferry {
namespace {

std::string Header(const HttpRequest& request, const char* name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? "" : it->second;
}

// Status code of a peer error. Kept apart from api/errors.cc: these codes
// are Ferry's own, not ECS's, and only peers read them.
int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kInvalidArgument:
      return 400;
    case Code::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string ErrorCodeFor(const Status& status) {
  if (status.code() == Code::kDataLoss) return "InvalidChunk.Corrupted";
  if (!status.reason().empty()) return status.reason();
  switch (status.code()) {
    case Code::kNotFound:
      return "InvalidChunkId.NotFound";
    case Code::kUnavailable:
      return "ServiceUnavailable";
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
      return "Forbidden.PeerSignature";
    case Code::kInvalidArgument:
      return "InvalidParameter";
    default:
      return "InternalError";
  }
}

}  // namespace

PeerEndpoints::PeerEndpoints(std::string cluster_key, const RegionSet& regions, const Clock& clock)
    : cluster_key_(std::move(cluster_key)), regions_(regions), clock_(clock) {}

HttpResponse PeerEndpoints::ErrorResponse(const Status& status, const std::string& request_id) {
  HttpResponse response;
  response.status = HttpStatusFor(status);
  response.content_type = "application/json;charset=utf-8";
  nlohmann::json body = {
      {"RequestId", request_id}, {"Code", ErrorCodeFor(status)}, {"Message", status.message()}};
  response.body = body.dump();
  return response;
}

HttpResponse PeerEndpoints::Handle(const HttpRequest& request) const {
  const auto start = std::chrono::steady_clock::now();
  const std::string request_id = NewRequestId();
  Result<HttpResponse> served = Serve(request);
  HttpResponse response =
      served.ok() ? std::move(served).value() : ErrorResponse(served.status(), request_id);
  response.headers.emplace_back("x-acs-request-id", request_id);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (served.ok()) {
    spdlog::info("request_id={} action=Peer{} target={} status={} bytes={} latency_ms={:.3f}", request_id,
                 request.method, request.target, response.status, response.body.size(), ms);
  } else {
    spdlog::info("request_id={} action=Peer{} target={} remote={} status={} error={}", request_id,
                 request.method, request.target, request.remote_address, response.status,
                 served.status().ToString());
  }
  return response;
}

Result<HttpResponse> PeerEndpoints::Serve(const HttpRequest& request) const {
  // Authentication comes first, so an unauthenticated caller learns nothing
  // about which regions, snapshots or chunks exist.
  RETURN_IF_ERROR(VerifyPeerRequest(cluster_key_, request.method, request.target,
                                    Header(request, kPeerDateHeader), Header(request, kPeerSignatureHeader),
                                    clock_.Now()));
  if (request.method != "GET") {
    return InvalidArgument("UnsupportedHTTPMethod",
                           "Peer endpoints answer GET only, not " + request.method + ".");
  }
  if (request.target.find('?') != std::string::npos) {
    return InvalidArgument("InvalidParameter", "Peer requests take no query string.");
  }
  ASSIGN_OR_RETURN(PeerRoute route, ParsePeerPath(request.target));
  Region* region = regions_.Find(route.region_id);
  if (region == nullptr) {
    return NotFound("InvalidRegionId.NotFound",
                    "The region \"" + route.region_id + "\" is not served by this process.");
  }
  HttpResponse response;
  if (route.kind == PeerRoute::Kind::kManifest) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> manifest, region->PeerReadManifest(route.snapshot_id));
    response.content_type = kPeerManifestContentType;
    response.body.assign(manifest.begin(), manifest.end());
    return response;
  }
  // The stored object goes out as it is: the destination verifies what it
  // stores, so decoding, hashing and recompressing here would be wasted.
  Result<std::vector<uint8_t>> chunk = region->PeerReadChunkStored(route.chunk_id);
  if (!chunk.ok()) {
    if (chunk.status().code() == Code::kNotFound) {
      return NotFound("InvalidChunkId.NotFound",
                      "The chunk " + ToHex(route.chunk_id) + " is not in region " + route.region_id + ".");
    }
    return chunk.status().WithContext("region " + route.region_id + " chunk " + ToHex(route.chunk_id));
  }
  response.content_type = kPeerChunkContentType;
  response.body.assign(chunk->begin(), chunk->end());
  return response;
}

}  // namespace ferry
