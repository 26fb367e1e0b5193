// Request parameters: query string and urlencoded form body merged into one
// map, and typed accessors that fail with the documented ECS errors
// (MissingParameter, InvalidParameter) as Status reasons.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.h"
#include "common/status.h"

namespace ferry {

// Decodes application/x-www-form-urlencoded ('+' is a space, %XY escapes).
// Fails on a malformed escape.
Result<std::map<std::string, std::string>> ParseFormUrlEncoded(std::string_view s);
std::string UrlDecode(std::string_view s, bool plus_is_space);
// Like UrlDecode, but nullopt on a malformed escape ("%", "%4", "%zz").
std::optional<std::string> UrlDecodeStrict(std::string_view s, bool plus_is_space);

// RFC 3986 percent-encoding as the ECS signatures use it: unreserved
// A-Z a-z 0-9 - _ . ~ kept, everything else %XY upper-case.
std::string PercentEncode(std::string_view s);

class Params {
 public:
  Params() = default;
  explicit Params(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  const std::map<std::string, std::string>& all() const { return values_; }
  void Set(const std::string& k, std::string v) { values_[k] = std::move(v); }
  bool Has(const std::string& k) const { return values_.count(k) != 0; }

  // Absent or empty -> nullopt.
  std::optional<std::string> Get(const std::string& k) const;
  std::string GetOr(const std::string& k, const std::string& fallback) const;
  // MissingParameter: `The input parameter "K" that is mandatory for processing this request is not supplied.`
  Result<std::string> Required(const std::string& k) const;
  // "true"/"false" (case-insensitive); anything else -> InvalidParameter.
  Result<bool> Bool(const std::string& k, bool fallback) const;
  // Decimal integer within [min, max]; else InvalidParameter.
  Result<int64_t> Int(const std::string& k, int64_t fallback, int64_t min, int64_t max) const;
  // Tag.N.Key / Tag.N.Value (also lower-case key/value), N = 1..20.
  Result<Tags> TagList(const std::string& prefix = "Tag") const;
  // Name.1, Name.2, ... until the first gap.
  std::vector<std::string> RepeatList(const std::string& prefix) const;
  // Comma list "a,b,c" (empty items dropped).
  std::vector<std::string> CommaList(const std::string& k) const;
  // JSON array string ["a","b"] -> InvalidParameter if malformed.
  Result<std::vector<std::string>> JsonStringArray(const std::string& k) const;
  // ClientToken: "" when absent, else at most 64 printable ASCII characters
  // (ecs-api.md 1.1); anything else -> InvalidParameter. Every action that
  // takes one reads it here.
  Result<std::string> ClientToken() const;

 private:
  std::map<std::string, std::string> values_;
};

}  // namespace ferry
