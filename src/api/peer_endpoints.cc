#include "api/peer_endpoints.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/hash.h"
#include "common/ids.h"
#include "common/log_safe.h"
#include "copy/peer_auth.h"
#include "copy/peer_wire.h"
#include "region/copy_wire.h"

namespace ferry {
namespace {

std::string Header(const HttpRequest& request, const char* name) {
  auto it = request.headers.find(name);
  return it == request.headers.end() ? "" : it->second;
}

// Status code of a peer error. Kept apart from api/errors.cc: peers read
// the "Status" field, and these codes are Ferry's own, not ECS's.
int HttpStatusFor(const Status& status) {
  switch (status.code()) {
    case Code::kUnauthenticated:
    case Code::kPermissionDenied:
      return 403;
    case Code::kNotFound:
      return 404;
    case Code::kInvalidArgument:
      return 400;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kAborted:
    case Code::kCancelled:
      return 409;
    case Code::kResourceExhausted:
      return 429;
    case Code::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string ErrorCodeFor(const Status& status) {
  if (status.code() == Code::kDataLoss && status.reason().empty()) return "InvalidChunk.Corrupted";
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

// The internal code a caller rebuilds. A refused cluster key reaches the
// caller as PermissionDenied: its own caller's credentials were fine; the
// processes disagree about the key.
const char* WireCodeName(const Status& status) {
  return CodeName(status.code() == Code::kUnauthenticated ? Code::kPermissionDenied : status.code());
}

const char* AllowedMethod(PeerRoute::Kind kind) {
  switch (kind) {
    case PeerRoute::Kind::kCopies:
    case PeerRoute::Kind::kNonces:
      return "POST";
    case PeerRoute::Kind::kCopyLease:
      return "PUT or DELETE";
    default:
      return "GET";
  }
}

bool MethodAllowed(PeerRoute::Kind kind, const std::string& method) {
  if (kind == PeerRoute::Kind::kCopyLease) return method == "PUT" || method == "DELETE";
  return method == AllowedMethod(kind);
}

HttpResponse JsonResponse(const nlohmann::json& body) {
  HttpResponse response;
  response.content_type = "application/json;charset=utf-8";
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

}  // namespace

PeerEndpoints::PeerEndpoints(std::string cluster_key, const RegionSet& regions,
                             AccountDirectory& local_accounts, const Clock& clock,
                             Authenticator* authenticator)
    : cluster_key_(std::move(cluster_key)),
      regions_(regions),
      local_accounts_(local_accounts),
      authenticator_(authenticator),
      clock_(clock),
      nonces_(kPeerMaxNonces) {}

HttpResponse PeerEndpoints::ErrorResponse(const Status& status, const std::string& request_id) {
  HttpResponse response;
  response.status = HttpStatusFor(status);
  response.content_type = "application/json;charset=utf-8";
  nlohmann::json body = {{"RequestId", request_id},
                         {"Code", ErrorCodeFor(status)},
                         {"Message", status.message()},
                         {"Status", WireCodeName(status)}};
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
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
    // One line per chunk and per keep-warm ping: for debugging, not for the
    // operator's default log (jobs log their start and end).
    spdlog::debug("request_id={} action=Peer{} target={} status={} bytes={} latency_ms={:.3f}", request_id,
                  LogSafe(request.method), LogSafe(request.target), response.status, response.body.size(),
                  ms);
  } else {
    spdlog::info("request_id={} action=Peer{} target={} remote={} status={} error={}", request_id,
                 LogSafe(request.method), LogSafe(request.target), request.remote_address, response.status,
                 LogSafe(served.status().ToString()));
  }
  return response;
}

Result<HttpResponse> PeerEndpoints::Serve(const HttpRequest& request) const {
  // Authentication comes first, so an unauthenticated caller learns nothing
  // about which regions, snapshots, chunks, images or keys exist.
  RETURN_IF_ERROR(VerifyPeerRequest(cluster_key_, request.method, request.target, request.body,
                                    Header(request, kPeerDateHeader), Header(request, kPeerNonceHeader),
                                    Header(request, kPeerSignatureHeader), clock_.Now(), &nonces_,
                                    kPeerMaxClockSkewSeconds, shared_nonces_));
  if (request.method != "GET" && request.method != "PUT" && request.method != "POST" &&
      request.method != "DELETE") {
    return InvalidArgument("UnsupportedHTTPMethod",
                           "Peer endpoints answer GET, PUT, POST and DELETE, not " + request.method + ".");
  }
  if (request.target.find('?') != std::string::npos) {
    return InvalidArgument("InvalidParameter", "Peer requests take no query string.");
  }
  ASSIGN_OR_RETURN(PeerRoute route, ParsePeerPath(request.target));
  if (!MethodAllowed(route.kind, request.method)) {
    return InvalidArgument("UnsupportedHTTPMethod", "The peer endpoint " + request.target + " answers " +
                                                        AllowedMethod(route.kind) + ", not " +
                                                        request.method + ".");
  }
  if (route.kind == PeerRoute::Kind::kAccessKey) return ServeAccessKey(route.access_key_id);
  if (route.kind == PeerRoute::Kind::kAccount) return ServeAccount(route.account_id);
  if (route.kind == PeerRoute::Kind::kNonces) return ServeNonce(request.body);
  Region* region = regions_.Find(route.region_id);
  if (region == nullptr) {
    return NotFound("InvalidRegionId.NotFound",
                    "The region \"" + route.region_id + "\" is not served by this process.");
  }
  return ServeRegion(*region, route, request);
}

Result<HttpResponse> PeerEndpoints::ServeRegion(Region& region, const PeerRoute& route,
                                                const HttpRequest& request) const {
  HttpResponse response;
  switch (route.kind) {
    case PeerRoute::Kind::kRegion: {
      // A cheap authenticated answer: checks a peer, and readies a client's
      // connections before a copy (ChunkSource::Warm).
      response.content_type = "application/json";
      response.body = nlohmann::json{{"RegionId", route.region_id}}.dump();
      return response;
    }
    case PeerRoute::Kind::kManifest: {
      ASSIGN_OR_RETURN(std::vector<uint8_t> manifest, region.PeerReadManifest(route.snapshot_id));
      response.content_type = kPeerManifestContentType;
      response.body.assign(manifest.begin(), manifest.end());
      return response;
    }
    case PeerRoute::Kind::kChunk: {
      // The stored object goes out as it is: the destination verifies what
      // it stores, so decoding, hashing and recompressing here would be
      // wasted. From its file by sendfile when the store keeps one.
      auto refused = [&](const Status& st) -> Status {
        if (st.code() == Code::kNotFound) {
          return NotFound("InvalidChunkId.NotFound", "The chunk " + ToHex(route.chunk_id) +
                                                         " is not in region " + route.region_id + ".");
        }
        return st.WithContext("region " + route.region_id + " chunk " + ToHex(route.chunk_id));
      };
      response.content_type = kPeerChunkContentType;
      Result<std::optional<ChunkObjectFile>> file = region.PeerOpenChunkStored(route.chunk_id);
      if (!file.ok()) return refused(file.status());
      if (file->has_value()) {
        ChunkObjectFile& object = **file;
        response.file_body = std::make_shared<HttpResponse::FileBody>(
            HttpResponse::FileBody{std::move(object.fd), 0, object.size});
        return response;
      }
      Result<std::vector<uint8_t>> chunk = region.PeerReadChunkStored(route.chunk_id);
      if (!chunk.ok()) return refused(chunk.status());
      // From a pointer and a length: one memcpy (from the vector's iterators
      // libstdc++ converts byte by byte, a third of the source's CPU time).
      response.body.assign(reinterpret_cast<const char*>(chunk->data()), chunk->size());
      return response;
    }
    case PeerRoute::Kind::kCopies: {
      ASSIGN_OR_RETURN(CopyTarget target, DecodeCopyTarget(request.body));
      ASSIGN_OR_RETURN(std::string image_id, region.AcceptCopy(target));
      return JsonResponse({{"ImageId", image_id}});
    }
    case PeerRoute::Kind::kCopy: {
      ASSIGN_OR_RETURN(bool in_progress, region.CopyInProgress(route.copy_image_id));
      return JsonResponse({{"ImageId", route.copy_image_id}, {"InProgress", in_progress}});
    }
    case PeerRoute::Kind::kCopyLease: {
      const CopyLease lease{route.image_id, route.copy_region_id, route.copy_image_id};
      RETURN_IF_ERROR(request.method == "PUT" ? region.AcquireCopyLease(lease)
                                              : region.ReleaseCopyLease(lease));
      return JsonResponse(nlohmann::json::object());
    }
    case PeerRoute::Kind::kAccessKey:
    case PeerRoute::Kind::kAccount:
    case PeerRoute::Kind::kNonces:
      break;
  }
  return Internal("peer route for " + request.target + " has no region handler");
}

Result<HttpResponse> PeerEndpoints::ServeAccessKey(const std::string& access_key_id) const {
  Result<AccessKeyRecord> key = local_accounts_.GetAccessKey(access_key_id);
  if (!key.ok()) {
    if (key.status().code() == Code::kNotFound) {
      return NotFound("InvalidAccessKeyId.NotFound",
                      "The AccessKey \"" + access_key_id + "\" is not in this process's account directory.");
    }
    return key.status().WithContext("AccessKey " + access_key_id);
  }
  Result<AccountRecord> account = local_accounts_.GetAccount(key->account_id);
  if (!account.ok()) {
    // A key whose account is gone is a broken directory, not a missing key.
    return Internal("AccessKey " + access_key_id + " names account " + key->account_id +
                    ", which the account directory cannot read: " + account.status().ToString());
  }
  return JsonResponse(
      {{"AccessKeyId", key->access_key_id},
       {"AccountId", key->account_id},
       {"AccountName", account->name},
       {"IsRoot", account->is_root},
       {"Enabled", key->enabled},
       {"CreationTime", key->creation_time},
       {"SealedSecret", SealPeerSecret(cluster_key_, key->access_key_id, key->access_key_secret)}});
}

Result<HttpResponse> PeerEndpoints::ServeAccount(const std::string& account_id) const {
  Result<AccountRecord> account = local_accounts_.GetAccount(account_id);
  if (!account.ok()) {
    if (account.status().code() == Code::kNotFound) {
      return NotFound("InvalidAccount.NotFound",
                      "The account \"" + account_id + "\" is not in this process's account directory.");
    }
    return account.status().WithContext("account " + account_id);
  }
  return JsonResponse({{"AccountId", account->account_id},
                       {"AccountName", account->name},
                       {"IsRoot", account->is_root},
                       {"CreationTime", account->creation_time}});
}

Result<HttpResponse> PeerEndpoints::ServeNonce(const std::string& body) const {
  if (authenticator_ == nullptr) {
    return NotFound("InvalidPeerPath.NotFound", "This process spends no nonces for peers.");
  }
  if (body.size() > kMaxPeerNonceBody) {
    return InvalidArgument("InvalidParameter", "A nonce request is at most " +
                                                   std::to_string(kMaxPeerNonceBody) + " bytes, not " +
                                                   std::to_string(body.size()) + ".");
  }
  nlohmann::json request = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  auto text = [&](const char* name) -> const std::string* {
    if (!request.is_object() || !request.contains(name) || !request[name].is_string()) return nullptr;
    return request[name].get_ptr<const std::string*>();
  };
  const std::string* key = text("AccessKeyId");
  const std::string* nonce = text("Nonce");
  if (key == nullptr || nonce == nullptr || key->empty() || nonce->empty() ||
      !request.contains("Timestamp") || !request["Timestamp"].is_number_integer()) {
    return InvalidArgument("InvalidParameter",
                           "A nonce request is {\"AccessKeyId\": string, \"Nonce\": string, \"Timestamp\": "
                           "integer}.");
  }
  // The caller checked the request's date; one far off would keep its
  // nonce here for as long as it says.
  const auto timestamp = request["Timestamp"].get<int64_t>();
  if (std::llabs(timestamp - clock_.Now()) > authenticator_->max_skew_seconds()) {
    return InvalidArgument("InvalidTimeStamp.Expired",
                           "The nonce's timestamp is more than " +
                               std::to_string(authenticator_->max_skew_seconds()) +
                               " seconds from this process's clock.");
  }
  RETURN_IF_ERROR(authenticator_->SpendNonce(*key, *nonce, timestamp));
  return JsonResponse(nlohmann::json::object());
}

}  // namespace ferry
