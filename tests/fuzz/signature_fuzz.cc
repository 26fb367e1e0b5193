// The V1 and V3 signature / canonical request builders and the V3
// Authorization header parser (api/signature.*).
// Invariants: FormatV3Authorization(Parse(x)) parses back to the same
// fields; the V1 string to sign and the V3 canonical request are
// deterministic and the V1 one never includes the Signature parameter.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "api/params.h"
#include "api/signature.h"
#include "fuzz_util.h"

using ferry::fuzz::Fields;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fields fields(data, size);
  const std::string authorization = fields.Next();
  const std::string method = fields.Next();
  const std::string uri = fields.Next();
  const std::string query = fields.Next();
  const std::string headers = fields.Next();

  auto parsed = ferry::ParseV3Authorization(authorization);
  if (parsed.ok()) {
    FUZZ_CHECK(!parsed->access_key_id.empty() && !parsed->signature.empty());
    std::string formatted = ferry::FormatV3Authorization(*parsed);
    auto again = ferry::ParseV3Authorization(formatted);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again->access_key_id == parsed->access_key_id);
    FUZZ_CHECK(again->signed_headers == parsed->signed_headers);
    FUZZ_CHECK(again->signature == parsed->signature);
  }

  auto params = ferry::ParseFormUrlEncoded(query);
  if (!params.ok()) return 0;

  // V1: the Signature parameter is never part of what is signed.
  std::string to_sign = ferry::V1StringToSign(method, *params);
  FUZZ_CHECK(to_sign.starts_with(method + "&%2F&"));
  auto without_signature = *params;
  without_signature.erase("Signature");
  FUZZ_CHECK(ferry::V1StringToSign(method, without_signature) == to_sign);
  FUZZ_CHECK(ferry::V1Signature("secret", to_sign) == ferry::V1Signature("secret", to_sign));

  // V3: headers as "name:value" lines.
  ferry::V3Request request;
  request.method = method;
  request.canonical_uri = uri;
  request.query = *params;
  size_t pos = 0;
  while (pos < headers.size()) {
    size_t nl = headers.find('\n', pos);
    if (nl == std::string::npos) nl = headers.size();
    std::string line = headers.substr(pos, nl - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) request.headers[line.substr(0, colon)] = line.substr(colon + 1);
    pos = nl + 1;
  }
  request.signed_headers = ferry::V3SignableHeaders(request.headers);
  if (parsed.ok()) request.signed_headers.insert(request.signed_headers.end(), parsed->signed_headers.begin(),
                                                 parsed->signed_headers.end());
  request.hashed_payload = std::string(ferry::kEmptyPayloadSha256);
  std::string canonical = ferry::V3CanonicalRequest(request);
  FUZZ_CHECK(canonical.starts_with(method + "\n"));
  FUZZ_CHECK(canonical == ferry::V3CanonicalRequest(request));
  std::string string_to_sign = ferry::V3StringToSign(canonical);
  FUZZ_CHECK(ferry::V3Signature("secret", string_to_sign).size() == 64);
  (void)ferry::V3CanonicalQuery(*params);
  return 0;
}
