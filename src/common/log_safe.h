// Log hygiene: a value a client chose (an object or image name, a request
// target, an AccessKey id, a nonce, an action...) must not be able to forge
// log lines. LogSafe() renders such a value for a log line; the escaping sink
// is the safety net under every log line of the process, whatever the call
// site passed (a Status message quoting a client's name, say).
//
// Escapes: control characters (C0, DEL, and the C1 range U+0080-U+009F) as
// \n \r \t or \xHH, and every byte that is not part of valid UTF-8 as \xHH.
// LogSafe() also doubles a backslash, so the rendering reads back
// unambiguously; the sink leaves backslashes alone (it sees text LogSafe has
// already escaped).
//
// Thread-safe: pure functions; the sink is as thread-safe as the one it wraps.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace spdlog::sinks {
class sink;
}

namespace ferry {

// `value` with control characters, invalid UTF-8 and backslashes escaped.
std::string LogSafe(std::string_view value);

// Appends `text` with control characters and invalid UTF-8 escaped
// (backslashes kept when `escape_backslash` is false).
void AppendLogSafe(std::string_view text, bool escape_backslash, std::string* out);

// True when `value` is valid UTF-8 without control characters: what
// LogSafe() leaves as it is (backslashes aside). Names a client gives (OSS
// object names) are refused at the edge unless this holds.
bool IsPrintableUtf8(std::string_view value);

// Echoes of a client's value in an error message stay short whatever the
// client sent (a 100 KB parameter must not come back in a 100 KB error):
// Echo(value) is `value` when it is at most kMaxEchoedBytes bytes, else its
// first bytes up to that (cut at a UTF-8 boundary) followed by
// "…(N bytes)". TruncateUtf8(text, max) is `text` when it is at most `max`
// bytes, else its first bytes up to max - 3 (at a UTF-8 boundary) and "…".
inline constexpr size_t kMaxEchoedBytes = 64;
std::string Echo(std::string_view value);
std::string TruncateUtf8(std::string_view text, size_t max_bytes);

// A sink that escapes control characters and invalid UTF-8 in each message
// (not its pattern: the line ends where `inner` ends it) and hands it to
// `inner`: one event, one line.
std::shared_ptr<spdlog::sinks::sink> NewLogSafeSink(std::shared_ptr<spdlog::sinks::sink> inner);

}  // namespace ferry
