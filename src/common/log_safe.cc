#include "common/log_safe.h"

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/sink.h>

#include <algorithm>
#include <cstdint>

namespace ferry {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void AppendHexByte(uint8_t byte, std::string* out) {
  out->append("\\x");
  out->push_back(kHex[byte >> 4]);
  out->push_back(kHex[byte & 0xf]);
}

// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629:
// no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
size_t Utf8SequenceLength(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const uint8_t lead = b(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return cont(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (lead == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (lead == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (lead == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (lead == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

class LogSafeSink final : public spdlog::sinks::sink {
 public:
  explicit LogSafeSink(std::shared_ptr<spdlog::sinks::sink> inner) : inner_(std::move(inner)) {}

  void log(const spdlog::details::log_msg& msg) override {
    std::string_view payload(msg.payload.data(), msg.payload.size());
    if (IsClean(payload)) {
      inner_->log(msg);
      return;
    }
    std::string escaped;
    AppendLogSafe(payload, /*escape_backslash=*/false, &escaped);
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(escaped.data(), escaped.size());
    inner_->log(copy);
  }
  void flush() override { inner_->flush(); }
  void set_pattern(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  // The common case: printable ASCII only, nothing to copy.
  static bool IsClean(std::string_view s) {
    for (char c : s) {
      const auto u = static_cast<uint8_t>(c);
      if (u < 0x20 || u >= 0x7F) return false;
    }
    return true;
  }

  const std::shared_ptr<spdlog::sinks::sink> inner_;
};

}  // namespace

void AppendLogSafe(std::string_view text, bool escape_backslash, std::string* out) {
  out->reserve(out->size() + text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<uint8_t>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\' && escape_backslash) out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if (c < 0x80) {  // C0 controls and DEL
      switch (c) {
        case '\n':
          out->append("\\n");
          break;
        case '\r':
          out->append("\\r");
          break;
        case '\t':
          out->append("\\t");
          break;
        default:
          AppendHexByte(c, out);
      }
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(text.substr(i));
    if (n == 0) {
      AppendHexByte(c, out);
      ++i;
      continue;
    }
    // U+0080-U+009F (C1 controls) are C2 80 - C2 9F.
    if (n == 2 && c == 0xC2 && static_cast<uint8_t>(text[i + 1]) < 0xA0) {
      AppendHexByte(c, out);
      AppendHexByte(static_cast<uint8_t>(text[i + 1]), out);
    } else {
      out->append(text.substr(i, n));
    }
    i += n;
  }
}

namespace {

// The largest n <= max at which `text` can be cut without splitting a UTF-8
// sequence (a continuation byte never starts the rest).
size_t Utf8Cut(std::string_view text, size_t max) {
  size_t cut = std::min(max, text.size());
  while (cut > 0 && cut < text.size() && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) --cut;
  return cut;
}

constexpr std::string_view kEllipsis = "\u2026";

}  // namespace

std::string Echo(std::string_view value) {
  if (value.size() <= kMaxEchoedBytes) return std::string(value);
  std::string out(value.substr(0, Utf8Cut(value, kMaxEchoedBytes)));
  out.append(kEllipsis);
  out.append("(" + std::to_string(value.size()) + " bytes)");
  return out;
}

std::string TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  const size_t keep = max_bytes > kEllipsis.size() ? max_bytes - kEllipsis.size() : 0;
  std::string out(text.substr(0, Utf8Cut(text, keep)));
  out.append(kEllipsis);
  return out;
}

bool IsPrintableUtf8(std::string_view value) {
  size_t i = 0;
  while (i < value.size()) {
    const auto c = static_cast<uint8_t>(value[i]);
    if (c < 0x20 || c == 0x7F) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    const size_t n = Utf8SequenceLength(value.substr(i));
    if (n == 0 || (n == 2 && c == 0xC2 && static_cast<uint8_t>(value[i + 1]) < 0xA0)) return false;
    i += n;
  }
  return true;
}

std::string LogSafe(std::string_view value) {
  std::string out;
  AppendLogSafe(value, /*escape_backslash=*/true, &out);
  return out;
}

std::shared_ptr<spdlog::sinks::sink> NewLogSafeSink(std::shared_ptr<spdlog::sinks::sink> inner) {
  return std::make_shared<LogSafeSink>(std::move(inner));
}

}  // namespace ferry
