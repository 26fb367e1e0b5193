// The query / form parameter parser (api/params.*, and ParseRequestParams of
// api/dispatcher.cc, which merges the query string and a form body).
// Invariants: whatever ParseFormUrlEncoded accepts re-encodes (PercentEncode)
// to a string that parses back to the same map; UrlDecode undoes
// PercentEncode; the typed accessors never crash on any value.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>

#include "api/dispatcher.h"
#include "api/http_types.h"
#include "api/params.h"
#include "fuzz_util.h"

using ferry::fuzz::Fields;

namespace {

void ExerciseAccessors(const ferry::Params& params) {
  for (const auto& [key, value] : params.all()) {
    (void)params.Required(key);
    (void)params.Bool(key, false);
    (void)params.Int(key, 0, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max());
    auto bounded = params.Int(key, 50, 1, 100);
    if (bounded.ok()) FUZZ_CHECK(*bounded >= 1 && *bounded <= 100);
    (void)params.CommaList(key);
    (void)params.JsonStringArray(key);
  }
  (void)params.TagList();
  (void)params.TagList("Tag");
  (void)params.RepeatList("ImageId");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fields fields(data, size);
  const std::string query = fields.Next();
  const std::string body = fields.Next();

  auto parsed = ferry::ParseFormUrlEncoded(query);
  if (parsed.ok()) {
    std::string encoded;
    for (const auto& [key, value] : *parsed) {
      FUZZ_CHECK(!key.empty());
      if (!encoded.empty()) encoded += '&';
      encoded += ferry::PercentEncode(key) + "=" + ferry::PercentEncode(value);
    }
    auto again = ferry::ParseFormUrlEncoded(encoded);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(*again == *parsed);
    ExerciseAccessors(ferry::Params(*parsed));
  }
  FUZZ_CHECK(ferry::UrlDecode(ferry::PercentEncode(query), false) == query);
  FUZZ_CHECK(ferry::UrlDecode(ferry::PercentEncode(query), true) == query);
  (void)ferry::UrlDecode(query, true);
  (void)ferry::UrlDecode(query, false);

  // As the dispatcher sees a request: query string and form body merged,
  // the body's values winning.
  ferry::HttpRequest request;
  request.method = "POST";
  request.target = "/?" + query;
  request.headers["content-type"] = "application/x-www-form-urlencoded; charset=utf-8";
  request.body = body;
  auto merged = ferry::ParseRequestParams(request);
  if (merged.ok()) {
    auto form = ferry::ParseFormUrlEncoded(body);
    FUZZ_CHECK(form.ok() || body.empty());
    if (form.ok()) {
      for (const auto& [key, value] : *form) FUZZ_CHECK(merged->all().at(key) == value);
    }
    ExerciseAccessors(*merged);
  }
  return 0;
}
