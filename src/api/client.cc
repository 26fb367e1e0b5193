#include "api/client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cerrno>
#include <chrono>
#include <vector>

#include "api/params.h"
#include "api/signature.h"
#include "common/clock.h"
#include "common/fs_util.h"
#include "common/hash.h"
#include "common/http_url.h"
#include "common/ids.h"

namespace ferry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr const char* kVersion = "2014-05-26";
constexpr size_t kFileBufferBytes = 1u << 20;
constexpr uint64_t kMaxResponseBytes = 64ull << 20;
const auto kAwait = asio::as_tuple(asio::use_awaitable);

// The CLI accepts an endpoint without its scheme ("127.0.0.1:8080").
Result<HttpBaseUrl> ParseEndpoint(const std::string& endpoint) {
  if (endpoint.find("://") == std::string::npos) return ParseHttpBaseUrl("http://" + endpoint);
  return ParseHttpBaseUrl(endpoint);
}

// A request body: either bytes in memory or a range of an open file that is
// streamed in kFileBufferBytes pieces.
struct Body {
  std::string_view data;
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t size() const { return fd >= 0 ? length : data.size(); }
};

struct RawResponse {
  int status = 0;
  std::string body;
};

asio::awaitable<void> Exchange(const HttpBaseUrl& endpoint, std::chrono::milliseconds timeout, http::verb method,
                               const std::string& target, const std::map<std::string, std::string>& headers,
                               const Body& body, Status* status, RawResponse* out) {
  auto executor = co_await asio::this_coro::executor;
  auto fail = [&](const std::string& what, const beast::error_code& ec) {
    *status = Unavailable(what + " " + endpoint.host_header + target + ": " + ec.message());
  };
  tcp::resolver resolver(executor);
  auto [rec, results] = co_await resolver.async_resolve(endpoint.host, endpoint.port, kAwait);
  if (rec) co_return fail("resolving", rec);
  beast::tcp_stream stream(executor);
  stream.expires_after(timeout);
  auto [cec, connected] = co_await stream.async_connect(results, kAwait);
  if (cec) co_return fail("connecting to", cec);

  http::request<http::empty_body> request{method, target, 11};
  request.set(http::field::host, endpoint.host_header);
  request.set(http::field::user_agent, "ferry-client/0.1");
  for (const auto& [name, value] : headers) {
    if (name != "host") request.set(name, value);
  }
  request.content_length(body.size());
  // A large body waits for "100 Continue", so a request the server rejects
  // on its headers is answered before any body bytes are sent.
  const bool expect_continue = body.fd >= 0;
  if (expect_continue) request.set(http::field::expect, "100-continue");
  http::request_serializer<http::empty_body> serializer{request};
  stream.expires_after(timeout);
  auto [hec, hn] = co_await http::async_write_header(stream, serializer, kAwait);
  if (hec) co_return fail("sending to", hec);

  beast::flat_buffer buffer;
  if (expect_continue) {
    http::response_parser<http::string_body> interim;
    interim.body_limit(kMaxResponseBytes);
    stream.expires_after(timeout);
    auto [iec, in] = co_await http::async_read(stream, buffer, interim, kAwait);
    if (iec) co_return fail("reading the response from", iec);
    if (interim.get().result() != http::status::continue_) {
      out->status = static_cast<int>(interim.get().result_int());
      out->body = std::move(interim.get().body());
      *status = Status::Ok();
      co_return;
    }
  }

  // A server may answer and stop reading before the body is complete (e.g.
  // a size limit); its response is still worth reading.
  beast::error_code write_error;
  if (body.fd >= 0) {
    std::vector<uint8_t> chunk(kFileBufferBytes);
    uint64_t sent = 0;
    while (sent < body.length) {
      uint64_t n = std::min<uint64_t>(chunk.size(), body.length - sent);
      Status read = PreadFull(body.fd, chunk.data(), n, body.offset + sent, "upload source");
      if (!read.ok()) {
        *status = read;
        co_return;
      }
      stream.expires_after(timeout);
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(chunk.data(), n), kAwait);
      if (wec) {
        write_error = wec;
        break;
      }
      sent += n;
    }
  } else if (!body.data.empty()) {
    stream.expires_after(timeout);
    auto [wec, wn] =
        co_await asio::async_write(stream, asio::buffer(body.data.data(), body.data.size()), kAwait);
    write_error = wec;
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxResponseBytes);
  stream.expires_after(timeout);
  auto [rdec, rn] = co_await http::async_read(stream, buffer, parser, kAwait);
  if (rdec)
    co_return fail(write_error ? "sending to" : "reading the response from",
                   write_error ? write_error : rdec);
  out->status = static_cast<int>(parser.get().result_int());
  out->body = std::move(parser.get().body());
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  *status = Status::Ok();
}

Result<RawResponse> Send(const ClientConfig& config, http::verb method, const std::string& target,
                         const std::map<std::string, std::string>& headers, const Body& body) {
  ASSIGN_OR_RETURN(HttpBaseUrl endpoint, ParseEndpoint(config.endpoint));
  asio::io_context ioc;
  Status status = Internal("request did not complete");
  RawResponse response;
  try {
    asio::co_spawn(ioc,
                   Exchange(endpoint, std::chrono::milliseconds(config.timeout_ms), method, target, headers,
                            body, &status, &response),
                   asio::detached);
    ioc.run();
  } catch (const std::exception& e) {
    return Internal(std::string("HTTP client: ") + e.what());
  }
  if (!status.ok()) return status;
  return response;
}

std::string JoinEncoded(const std::map<std::string, std::string>& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += PercentEncode(name) + "=" + PercentEncode(value);
  }
  return out;
}


Code CodeForHttpStatus(int status, const std::string& ecs_code) {
  if (ecs_code.starts_with("SignatureDoesNotMatch") || ecs_code.starts_with("InvalidAccessKeyId") ||
      ecs_code.starts_with("InvalidTimeStamp") || ecs_code == "SignatureNonceUsed" ||
      ecs_code == "IncompleteSignature") {
    return Code::kUnauthenticated;
  }
  switch (status) {
    case 400:
      return Code::kInvalidArgument;
    case 401:
      return Code::kUnauthenticated;
    case 403:
      return Code::kPermissionDenied;
    case 404:
      return Code::kNotFound;
    case 409:
      return Code::kAborted;
    case 429:
    case 503:
      return Code::kUnavailable;
    default:
      return status >= 500 ? Code::kInternal : Code::kInvalidArgument;
  }
}

Result<EcsResponse> ToEcsResponse(RawResponse raw) {
  EcsResponse out;
  out.http_status = raw.status;
  out.raw_body = std::move(raw.body);
  out.body = nlohmann::json::parse(out.raw_body, nullptr, /*allow_exceptions=*/false);
  if (out.body.is_discarded()) {
    return Internal("HTTP " + std::to_string(out.http_status) +
                    " with a non-JSON body: " + out.raw_body.substr(0, 200));
  }
  return out;
}

Status ErrorFromResponse(const EcsResponse& response) {
  const nlohmann::json& body = response.body;
  bool has_code = body.is_object() && body.contains("Code") && body["Code"].is_string();
  if (response.http_status < 400 && !has_code) return Status::Ok();
  std::string code =
      has_code ? body["Code"].get<std::string>() : "HTTP" + std::to_string(response.http_status);
  std::string message = body.is_object() && body.contains("Message") && body["Message"].is_string()
                            ? body["Message"].get<std::string>()
                            : response.raw_body.substr(0, 200);
  std::string request_id = body.is_object() && body.contains("RequestId") && body["RequestId"].is_string()
                               ? body["RequestId"].get<std::string>()
                               : "";
  // The code travels as the reason; the message is the server's, with the
  // RequestId an operator asks for.
  return Status(CodeForHttpStatus(response.http_status, code), code,
                message + (request_id.empty() ? "" : " (RequestId " + request_id + ")"));
}

}  // namespace

void SignV3(const ClientConfig& config, const std::string& host_header, const std::string& method,
            const std::string& path, const std::map<std::string, std::string>& query,
            const std::string& payload_hash, std::map<std::string, std::string>* headers) {
  (*headers)["host"] = host_header;
  (*headers)["x-acs-date"] = FormatTimeSeconds(SystemClock::Get().Now());
  (*headers)["x-acs-signature-nonce"] = RandomHex(16);
  (*headers)["x-acs-content-sha256"] = payload_hash;
  V3Request canonical;
  canonical.method = method;
  canonical.canonical_uri = path;
  canonical.query = query;
  canonical.headers = *headers;
  canonical.signed_headers = V3SignableHeaders(*headers);
  canonical.hashed_payload = payload_hash;
  V3Authorization authorization;
  authorization.access_key_id = config.access_key_id;
  authorization.signed_headers = canonical.signed_headers;
  authorization.signature =
      V3Signature(config.access_key_secret, V3StringToSign(V3CanonicalRequest(canonical)));
  (*headers)["authorization"] = FormatV3Authorization(authorization);
}

EcsClient::EcsClient(ClientConfig config) : config_(std::move(config)) {}

Result<EcsResponse> EcsClient::Call(const std::string& action,
                                    const std::map<std::string, std::string>& params) {
  ASSIGN_OR_RETURN(HttpBaseUrl endpoint, ParseEndpoint(config_.endpoint));
  std::map<std::string, std::string> headers = {{"x-acs-action", action}, {"x-acs-version", kVersion}};
  if (config_.use_v3) {
    // Like @alicloud/ecs20140526: parameters in the query, action and
    // version only in signed headers, empty body.
    headers["accept"] = "application/json";
    SignV3(config_, endpoint.host_header, "POST", "/", params, std::string(kEmptyPayloadSha256), &headers);
    std::string target = params.empty() ? "/" : "/?" + JoinEncoded(params);
    ASSIGN_OR_RETURN(RawResponse raw, Send(config_, http::verb::post, target, headers, Body{}));
    return ToEcsResponse(std::move(raw));
  }
  // Like pop-core with method POST: everything, signature included, in an
  // urlencoded form body.
  std::map<std::string, std::string> all = params;
  all["Action"] = action;
  all["Format"] = "JSON";
  all["Version"] = kVersion;
  all["AccessKeyId"] = config_.access_key_id;
  all["SignatureMethod"] = "HMAC-SHA1";
  all["SignatureVersion"] = "1.0";
  all["SignatureNonce"] = RandomHex(16);
  all["Timestamp"] = FormatTimeSeconds(SystemClock::Get().Now());
  all["Signature"] = V1Signature(config_.access_key_secret, V1StringToSign("POST", all));
  headers["content-type"] = "application/x-www-form-urlencoded";
  std::string form = JoinEncoded(all);
  Body body;
  body.data = form;
  ASSIGN_OR_RETURN(RawResponse raw, Send(config_, http::verb::post, "/", headers, body));
  return ToEcsResponse(std::move(raw));
}

Result<nlohmann::json> EcsClient::CallOrError(const std::string& action,
                                              const std::map<std::string, std::string>& params) {
  ASSIGN_OR_RETURN(EcsResponse response, Call(action, params));
  RETURN_IF_ERROR(ErrorFromResponse(response));
  return std::move(response.body);
}

Result<std::string> EcsClient::Get(const std::string& path) {
  ASSIGN_OR_RETURN(RawResponse raw, Send(config_, http::verb::get, path, {}, Body{}));
  if (raw.status < 200 || raw.status >= 300) {
    return Unavailable("GET " + path + " answered HTTP " + std::to_string(raw.status) + ": " +
                       raw.body.substr(0, 200));
  }
  return std::move(raw.body);
}

}  // namespace ferry
