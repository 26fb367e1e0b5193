#include "common/log_safe.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace ferry {
namespace {

TEST(LogSafeTest, PrintableTextIsUnchanged) {
  EXPECT_EQ(LogSafe("images/disk-1.qcow2 ok=yes"), "images/disk-1.qcow2 ok=yes");
  EXPECT_EQ(LogSafe(""), "");
  // Valid UTF-8 beyond ASCII stays readable.
  EXPECT_EQ(LogSafe("\xE4\xB8\xAD\xE6\x96\x87 \xC3\xA9 \xF0\x9F\x98\x80"),
            "\xE4\xB8\xAD\xE6\x96\x87 \xC3\xA9 \xF0\x9F\x98\x80");
}

TEST(LogSafeTest, ControlCharactersAreEscaped) {
  EXPECT_EQ(LogSafe("a\nb"), "a\\nb");
  EXPECT_EQ(LogSafe("a\r\nlevel=error forged"), "a\\r\\nlevel=error forged");
  EXPECT_EQ(LogSafe("\t"), "\\t");
  EXPECT_EQ(LogSafe(std::string_view("x\0y", 3)), "x\\x00y");
  EXPECT_EQ(LogSafe("\x1b[31mred"), "\\x1b[31mred");
  EXPECT_EQ(LogSafe("\x7f"), "\\x7f");
  // C1 controls (U+0085 NEL, U+009B CSI) are escaped byte by byte.
  EXPECT_EQ(LogSafe("a\xC2\x85"
                    "b\xC2\x9B"),
            "a\\xc2\\x85b\\xc2\\x9b");
  // U+00A0 is the first non-control after them.
  EXPECT_EQ(LogSafe("\xC2\xA0"), "\xC2\xA0");
}

TEST(LogSafeTest, InvalidUtf8IsEscaped) {
  EXPECT_EQ(LogSafe("\xff"), "\\xff");
  EXPECT_EQ(LogSafe("a\xC3"), "a\\xc3");                           // truncated sequence
  EXPECT_EQ(LogSafe("\xC0\xAF"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(LogSafe("\xE0\x80\xAF"), "\\xe0\\x80\\xaf");           // overlong, 3 bytes
  EXPECT_EQ(LogSafe("\xED\xA0\x80"), "\\xed\\xa0\\x80");           // surrogate U+D800
  EXPECT_EQ(LogSafe("\xF4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(LogSafe("\x80z"), "\\x80z");                           // stray continuation byte
}

TEST(LogSafeTest, BackslashIsDoubledSoTheRenderingIsUnambiguous) {
  EXPECT_EQ(LogSafe("a\\nb"), "a\\\\nb");
  EXPECT_NE(LogSafe("a\\nb"), LogSafe("a\nb"));
  std::string out;
  AppendLogSafe("a\\n\n", /*escape_backslash=*/false, &out);
  EXPECT_EQ(out, "a\\n\\n");
}

TEST(LogSafeTest, SinkKeepsOneEventOnOneLine) {
  std::ostringstream written;
  auto inner = std::make_shared<spdlog::sinks::ostream_sink_mt>(written);
  spdlog::logger logger("log-safe-test", NewLogSafeSink(inner));
  logger.set_pattern("%l %v");
  logger.info("upload object={} done", "x\n2026-01-01 info forged \xff line");
  logger.info("plain {}", "line");
  EXPECT_EQ(written.str(),
            "info upload object=x\\n2026-01-01 info forged \\xff line done\n"
            "info plain line\n");
}

TEST(EchoTest, ShortValuesComeBackWholeLongOnesCutWithTheirLength) {
  EXPECT_EQ(Echo(""), "");
  EXPECT_EQ(Echo(std::string(kMaxEchoedBytes, 'a')), std::string(kMaxEchoedBytes, 'a'));
  const std::string huge(100000, '[');
  EXPECT_EQ(Echo(huge), std::string(kMaxEchoedBytes, '[') + "\u2026(100000 bytes)");
  // Never half a character: 3-byte CJK characters, 64 is not a multiple of 3.
  std::string cjk;
  for (int i = 0; i < 40; ++i) cjk += "\xE4\xB8\xAD";
  const std::string echoed = Echo(cjk);
  EXPECT_EQ(echoed.substr(0, 63), cjk.substr(0, 63));
  EXPECT_EQ(echoed.substr(63), "\u2026(120 bytes)");
  EXPECT_TRUE(IsPrintableUtf8(echoed));
}

TEST(EchoTest, TruncateUtf8KeepsTheBoundAndTheCharacters) {
  EXPECT_EQ(TruncateUtf8("short", 10), "short");
  const std::string cut = TruncateUtf8(std::string(5000, 'x'), 1024);
  EXPECT_EQ(cut.size(), 1024u);
  EXPECT_EQ(cut.substr(1021), "\u2026");
  std::string cjk;
  for (int i = 0; i < 100; ++i) cjk += "\xE4\xB8\xAD";
  const std::string t = TruncateUtf8(cjk, 20);
  EXPECT_LE(t.size(), 20u);
  EXPECT_TRUE(IsPrintableUtf8(t));
}

}  // namespace
}  // namespace ferry
