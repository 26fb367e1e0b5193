#include "api/params.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "common/log_safe.h"

namespace ferry {
namespace {

constexpr int kMaxTags = 20;
constexpr size_t kMaxTagKeyLength = 128;
constexpr size_t kMaxTagValueLength = 128;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes `s`; returns the byte offset of the first malformed escape, or
// npos when the whole input decoded.
size_t DecodeInto(std::string_view s, bool plus_is_space, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) return i;
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return i;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return std::string_view::npos;
}

Status InvalidParam(const std::string& name, const std::string& detail) {
  std::string message = "The specified parameter \"" + Echo(name) + "\" is not valid.";
  if (!detail.empty()) message += " " + detail;
  return InvalidArgument("InvalidParameter", std::move(message));
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != std::tolower(static_cast<unsigned char>(prefix[i])))
      return false;
  }
  return true;
}

}  // namespace

std::string UrlDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  if (DecodeInto(s, plus_is_space, &out) == std::string_view::npos) return out;
  // Lenient fallback for display: keep malformed escapes as they arrived.
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::optional<std::string> UrlDecodeStrict(std::string_view s, bool plus_is_space) {
  std::string out;
  if (DecodeInto(s, plus_is_space, &out) != std::string_view::npos) return std::nullopt;
  return out;
}

Result<std::map<std::string, std::string>> ParseFormUrlEncoded(std::string_view s) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t amp = s.find('&', pos);
    if (amp == std::string_view::npos) amp = s.size();
    std::string_view pair = s.substr(pos, amp - pos);
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      std::string_view raw_key = pair.substr(0, eq);
      std::string_view raw_value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      std::string key, value;
      size_t bad = DecodeInto(raw_key, true, &key);
      if (bad == std::string_view::npos) bad = DecodeInto(raw_value, true, &value);
      if (bad != std::string_view::npos) {
        return InvalidArgument("InvalidParameter",
                               "The request is not valid: malformed percent-escape in \"" + Echo(pair) +
                                   "\" at byte " + std::to_string(pos) + " of the encoded parameters.");
      }
      if (!key.empty()) out[std::move(key)] = std::move(value);
    }
    pos = amp + 1;
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0x0f]);
    }
  }
  return out;
}

std::optional<std::string> Params::Get(const std::string& k) const {
  auto it = values_.find(k);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

std::string Params::GetOr(const std::string& k, const std::string& fallback) const {
  std::optional<std::string> v = Get(k);
  return v ? *v : fallback;
}

Result<std::string> Params::Required(const std::string& k) const {
  std::optional<std::string> v = Get(k);
  if (!v) {
    return InvalidArgument(
        "MissingParameter",
        "The input parameter \"" + k + "\" that is mandatory for processing this request is not supplied.");
  }
  return *v;
}

Result<bool> Params::Bool(const std::string& k, bool fallback) const {
  std::optional<std::string> v = Get(k);
  if (!v) return fallback;
  std::string lower = *v;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true") return true;
  if (lower == "false") return false;
  return InvalidParam(k, "Expected true or false, got \"" + Echo(*v) + "\".");
}

Result<int64_t> Params::Int(const std::string& k, int64_t fallback, int64_t min, int64_t max) const {
  std::optional<std::string> v = Get(k);
  if (!v) return fallback;
  int64_t n = 0;
  const char* begin = v->data();
  const char* end = v->data() + v->size();
  auto [ptr, ec] = std::from_chars(begin, end, n);
  if (ec != std::errc() || ptr != end) {
    return InvalidParam(k, "Expected a decimal integer, got \"" + Echo(*v) + "\".");
  }
  if (n < min || n > max) {
    return InvalidParam(k, "Expected a value in [" + std::to_string(min) + ", " + std::to_string(max) +
                               "], got " + Echo(*v) + ".");
  }
  return n;
}

Result<Tags> Params::TagList(const std::string& prefix) const {
  struct Slot {
    std::optional<std::string> key;
    std::optional<std::string> value;
  };
  std::map<int, Slot> slots;
  const std::string head = prefix + ".";
  for (auto it = values_.lower_bound(head); it != values_.end() && it->first.starts_with(head); ++it) {
    std::string_view rest = std::string_view(it->first).substr(head.size());
    size_t dot = rest.find('.');
    if (dot == std::string_view::npos) continue;
    std::string_view index_text = rest.substr(0, dot);
    std::string_view field = rest.substr(dot + 1);
    bool is_key = field == "Key" || field == "key";
    bool is_value = field == "Value" || field == "value";
    if (!is_key && !is_value) continue;
    int index = 0;
    auto [ptr, ec] = std::from_chars(index_text.data(), index_text.data() + index_text.size(), index);
    if (ec != std::errc() || ptr != index_text.data() + index_text.size()) {
      return InvalidParam(it->first, "The tag index must be a decimal number.");
    }
    if (index < 1 || index > kMaxTags) {
      return InvalidArgument("InvalidTagCount", "The specified tags are beyond the permitted range. \"" +
                                                    Echo(it->first) + "\" is outside " + prefix + ".1.." +
                                                    prefix + "." + std::to_string(kMaxTags) + ".");
    }
    (is_key ? slots[index].key : slots[index].value) = it->second;
  }
  Tags tags;
  for (const auto& [index, slot] : slots) {
    std::string name = prefix + "." + std::to_string(index);
    if (!slot.key) {
      return InvalidArgument("InvalidTag.Mismatch",
                             "The specified Tag.n.Key and Tag.n.Value are not match. " + name +
                                 ".Value is set without " + name + ".Key.");
    }
    const std::string& key = *slot.key;
    if (key.empty() || key.size() > kMaxTagKeyLength || StartsWithNoCase(key, "aliyun") ||
        StartsWithNoCase(key, "acs:") || key.find("http://") != std::string::npos ||
        key.find("https://") != std::string::npos) {
      return InvalidArgument(
          "InvalidTagKey.Malformed",
          "The specified Tag.n.Key is not valid. " + name +
              ".Key must be 1-128 characters, must not start with \"aliyun\" or \"acs:\" and "
              "must not contain \"http://\" or \"https://\".");
    }
    std::string value = slot.value.value_or("");
    if (value.size() > kMaxTagValueLength || StartsWithNoCase(value, "acs:")) {
      return InvalidArgument("InvalidTagValue.Malformed",
                             "The specified Tag.n.Value is not valid. " + name +
                                 ".Value must be at most 128 characters and must not start with \"acs:\".");
    }
    tags.emplace_back(key, std::move(value));
  }
  return tags;
}

std::vector<std::string> Params::RepeatList(const std::string& prefix) const {
  std::vector<std::string> out;
  for (int n = 1;; ++n) {
    auto it = values_.find(prefix + "." + std::to_string(n));
    if (it == values_.end()) break;
    if (!it->second.empty()) out.push_back(it->second);
  }
  return out;
}

std::vector<std::string> Params::CommaList(const std::string& k) const {
  std::vector<std::string> out;
  std::optional<std::string> v = Get(k);
  if (!v) return out;
  size_t pos = 0;
  while (pos <= v->size()) {
    size_t comma = v->find(',', pos);
    if (comma == std::string::npos) comma = v->size();
    std::string item = v->substr(pos, comma - pos);
    // Clients format lists as "a, b" as often as "a,b".
    size_t first = item.find_first_not_of(" \t");
    size_t last = item.find_last_not_of(" \t");
    if (first != std::string::npos) out.push_back(item.substr(first, last - first + 1));
    pos = comma + 1;
  }
  return out;
}

Result<std::string> Params::ClientToken() const {
  constexpr size_t kMaxClientToken = 64;
  const std::string token = GetOr("ClientToken", "");
  if (token.size() > kMaxClientToken) {
    return InvalidParam("ClientToken", "It is " + std::to_string(token.size()) +
                                           " characters long; at most " + std::to_string(kMaxClientToken) +
                                           " are allowed.");
  }
  for (unsigned char c : token) {
    if (c < 0x20 || c > 0x7E)
      return InvalidParam("ClientToken", "It may hold printable ASCII characters only.");
  }
  return token;
}

Result<std::vector<std::string>> Params::JsonStringArray(const std::string& k) const {
  std::vector<std::string> out;
  std::optional<std::string> v = Get(k);
  if (!v) return out;
  nlohmann::json parsed = nlohmann::json::parse(*v, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_array()) {
    return InvalidParam(k,
                        "Expected a JSON array of strings such as [\"id1\",\"id2\"], got " + Echo(*v) + ".");
  }
  for (const nlohmann::json& item : parsed) {
    if (!item.is_string()) {
      return InvalidParam(k, "Expected a JSON array of strings, found element " + Echo(item.dump()) + ".");
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace ferry
