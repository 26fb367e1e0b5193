#include "api/signature.h"

#include <algorithm>
#include <utility>

#include "api/params.h"
#include "common/hash.h"

namespace ferry {
namespace {

std::string Trim(std::string_view s) {
  size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return "";
  size_t last = s.find_last_not_of(" \t");
  return std::string(s.substr(first, last - first + 1));
}

Status Incomplete(const std::string& detail) {
  return InvalidArgument("IncompleteSignature",
                         "The request signature does not conform to Aliyun standards. " + detail);
}

// name=value pairs, both percent-encoded, sorted by the *encoded* name
// (encoding does not preserve byte order: "/" becomes "%2F", which sorts
// before "."), joined with '&'. `skip` names a parameter left out.
std::string EncodeSortJoin(const std::map<std::string, std::string>& params, std::string_view skip) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(params.size());
  for (const auto& [name, value] : params) {
    if (!skip.empty() && name == skip) continue;
    encoded.emplace_back(PercentEncode(name), PercentEncode(value));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

}  // namespace

std::string V1CanonicalizedQuery(const std::map<std::string, std::string>& params) {
  return EncodeSortJoin(params, "Signature");
}

std::string V1StringToSign(std::string_view method, const std::map<std::string, std::string>& params) {
  return std::string(method) + "&" + PercentEncode("/") + "&" + PercentEncode(V1CanonicalizedQuery(params));
}

std::string V1Signature(std::string_view secret, std::string_view string_to_sign) {
  return Base64Encode(HmacSha1(std::string(secret) + "&", string_to_sign));
}

std::string V3CanonicalQuery(const std::map<std::string, std::string>& query) {
  return EncodeSortJoin(query, "");
}

std::string V3CanonicalRequest(const V3Request& request) {
  std::vector<std::string> names;
  names.reserve(request.signed_headers.size());
  for (const std::string& h : request.signed_headers) {
    std::string lower = h;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    names.push_back(std::move(lower));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());

  std::string canonical_headers;
  std::string signed_headers;
  for (const std::string& name : names) {
    auto it = request.headers.find(name);
    canonical_headers += name + ":" + (it == request.headers.end() ? "" : Trim(it->second)) + "\n";
    if (!signed_headers.empty()) signed_headers.push_back(';');
    signed_headers += name;
  }
  std::string uri = request.canonical_uri.empty() ? "/" : request.canonical_uri;
  return request.method + "\n" + uri + "\n" + V3CanonicalQuery(request.query) + "\n" + canonical_headers +
         "\n" + signed_headers + "\n" + request.hashed_payload;
}

std::string V3StringToSign(std::string_view canonical_request) {
  return std::string(kAcs3Algorithm) + "\n" + Sha256Hex(canonical_request);
}

std::string V3Signature(std::string_view secret, std::string_view string_to_sign) {
  return ToHex(HmacSha256(secret, string_to_sign));
}

Result<V3Authorization> ParseV3Authorization(std::string_view header) {
  std::string prefix = std::string(kAcs3Algorithm) + " ";
  if (!header.starts_with(prefix))
    return Incomplete("The Authorization header must start with \"" + prefix + "\".");
  std::string_view rest = header.substr(prefix.size());
  V3Authorization out;
  bool have_credential = false, have_headers = false, have_signature = false;
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t comma = rest.find(',', pos);
    if (comma == std::string_view::npos) comma = rest.size();
    std::string item = Trim(rest.substr(pos, comma - pos));
    size_t eq = item.find('=');
    if (eq != std::string::npos) {
      std::string name = item.substr(0, eq);
      std::string value = item.substr(eq + 1);
      if (name == "Credential") {
        out.access_key_id = value;
        have_credential = true;
      } else if (name == "SignedHeaders") {
        size_t p = 0;
        while (p <= value.size()) {
          size_t semi = value.find(';', p);
          if (semi == std::string::npos) semi = value.size();
          std::string h = Trim(std::string_view(value).substr(p, semi - p));
          if (!h.empty()) out.signed_headers.push_back(std::move(h));
          p = semi + 1;
        }
        have_headers = true;
      } else if (name == "Signature") {
        out.signature = value;
        have_signature = true;
      }
    }
    pos = comma + 1;
  }
  if (!have_credential || out.access_key_id.empty())
    return Incomplete("Credential is missing from Authorization.");
  if (!have_headers) return Incomplete("SignedHeaders is missing from Authorization.");
  if (!have_signature || out.signature.empty()) return Incomplete("Signature is missing from Authorization.");
  return out;
}

std::string FormatV3Authorization(const V3Authorization& authorization) {
  std::string headers;
  for (const std::string& h : authorization.signed_headers) {
    if (!headers.empty()) headers.push_back(';');
    headers += h;
  }
  return std::string(kAcs3Algorithm) + " Credential=" + authorization.access_key_id +
         ",SignedHeaders=" + headers + ",Signature=" + authorization.signature;
}

std::vector<std::string> V3SignableHeaders(const std::map<std::string, std::string>& headers) {
  std::vector<std::string> out;
  for (const auto& [name, value] : headers) {
    if (name == "host" || name == "content-type" || name.starts_with("x-acs-")) out.push_back(name);
  }
  return out;  // std::map keeps them sorted
}

}  // namespace ferry
