// The request authenticator (api/auth.*): V1 parameters and V3 headers of a
// whole request, through ParseRequestParams and Authenticator::Authenticate
// as the dispatcher calls them, against an in-memory account directory.
// The first field picks a mode: "1" re-signs the request with V1 and "3"
// with V3 using the test key, so inputs get past the signature check and
// reach the timestamp, nonce and key checks.
// Invariants: a request is accepted only when it carries the signature the
// test key makes for it, computed here independently of the authenticator
// (whatever the mode: a seed or a mutation may already carry a valid one);
// a request accepted once is refused when replayed (same nonce).
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "api/auth.h"
#include "api/dispatcher.h"
#include "api/params.h"
#include "api/signature.h"
#include "common/hash.h"
#include "fuzz_util.h"
#include "unit/api/api_fakes.h"

using ferry::fuzz::Fields;

namespace {

constexpr ferry::UnixSeconds kNow = 1790000000;

void ParseHeaders(const std::string& text, ferry::HttpRequest* request) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(pos, nl - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      request->headers[name] = line.substr(colon + 1);
    }
    pos = nl + 1;
  }
}

std::string TargetPathOf(const std::string& target) { return target.substr(0, target.find('?')); }

void ResignV3(ferry::HttpRequest* request) {
  auto authorization = ferry::ParseV3Authorization(request->headers["authorization"]);
  if (!authorization.ok()) return;
  size_t q = request->target.find('?');
  auto query = ferry::ParseFormUrlEncoded(q == std::string::npos ? "" : request->target.substr(q + 1));
  if (!query.ok()) return;
  request->headers["x-acs-content-sha256"] = ferry::Sha256Hex(request->body);
  ferry::V3Request canonical;
  canonical.method = request->method;
  canonical.canonical_uri = TargetPathOf(request->target);
  canonical.query = *query;
  canonical.headers = request->headers;
  canonical.signed_headers = authorization->signed_headers;
  canonical.hashed_payload = request->headers["x-acs-content-sha256"];
  authorization->signature =
      ferry::V3Signature(ferry::apitest::kSecret, ferry::V3StringToSign(ferry::V3CanonicalRequest(canonical)));
  request->headers["authorization"] = ferry::FormatV3Authorization(*authorization);
}

// Whether the request carries the signature the test key makes for it, by the
// algorithm the request itself names.
bool SignedWithTestKey(const ferry::HttpRequest& request, const ferry::Params& params) {
  if (ferry::Authenticator::IsV3(request)) {
    ferry::HttpRequest resigned = request;
    ResignV3(&resigned);
    auto given = ferry::ParseV3Authorization(request.headers.at("authorization"));
    auto expected = ferry::ParseV3Authorization(resigned.headers.at("authorization"));
    if (!given.ok() || !expected.ok()) return false;
    std::string signature = given->signature;
    std::transform(signature.begin(), signature.end(), signature.begin(), [](unsigned char c) { return std::tolower(c); });
    return signature == expected->signature;
  }
  auto signature = params.Get("Signature");
  return signature && *signature == ferry::V1Signature(ferry::apitest::kSecret,
                                                       ferry::V1StringToSign(request.method, params.all()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fields fields(data, size);
  const std::string mode = fields.Next();
  ferry::HttpRequest request;
  request.method = fields.Next();
  request.target = fields.Next();
  request.body = fields.Next();
  ParseHeaders(fields.Next(), &request);
  if (mode == "3") ResignV3(&request);

  auto params = ferry::ParseRequestParams(request);
  if (!params.ok()) return 0;
  if (mode == "1" && params->Has("Signature")) {
    auto all = params->all();
    params->Set("Signature",
                ferry::V1Signature(ferry::apitest::kSecret, ferry::V1StringToSign(request.method, all)));
  }

  ferry::apitest::FakeAccounts accounts;
  ferry::apitest::FakeClock clock(kNow);
  ferry::Authenticator authenticator(accounts, clock, 15 * 60);
  auto result = authenticator.Authenticate(request, *params);
  if (result.ok()) {
    FUZZ_CHECK(SignedWithTestKey(request, *params));
    FUZZ_CHECK(result->caller.account_id == ferry::apitest::kAccountId);
    auto replay = authenticator.Authenticate(request, *params);
    FUZZ_CHECK(!replay.ok());
  } else {
    FUZZ_CHECK(!result.status().reason().empty());
  }
  return 0;
}
