#include <gtest/gtest.h>

#include "common/hash.h"

namespace ferry {
namespace {

TEST(Md5Test, KnownDigestsInUpperHexAsOssEtagsShowThem) {
  EXPECT_EQ(ToUpperHex(Md5::Of(std::string_view(""))), "D41D8CD98F00B204E9800998ECF8427E");
  EXPECT_EQ(ToHex(Md5::Of(std::string_view("abc"))), "900150983cd24fb0d6963f7d28e17f72");
  Md5 md5;
  md5.Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("a"), 1));
  md5.Update(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("bc"), 2));
  EXPECT_EQ(md5.Finish(), Md5::Of(std::string_view("abc")));
  Md5Digest parsed{};
  ASSERT_TRUE(FromHex("900150983CD24FB0D6963F7D28E17F72", &parsed));
  EXPECT_EQ(parsed, Md5::Of(std::string_view("abc")));
  EXPECT_FALSE(FromHex("900150983CD24FB0", &parsed));
}

}  // namespace
}  // namespace ferry
