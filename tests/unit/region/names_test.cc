// The name and value rules of region/names.h that instances use: Password
// and HostName.
#include "region/names.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry {
namespace {

TEST(PasswordTest, EightToThirtyCharactersOfThreeKinds) {
  const std::vector<std::string> good = {"Ferry2026", "ferry-2026", "FERRY_ferry", "Ab1(Ab1(",
                                         std::string(10, 'a') + "A1" + std::string(18, 'b')};
  for (const std::string& ok : good) EXPECT_TRUE(ValidatePassword(ok).ok()) << ok;
  EXPECT_EQ(ValidatePassword("Ab1-").reason(), "InvalidParameter");                         // too short
  EXPECT_EQ(ValidatePassword("Ab1-" + std::string(27, 'x')).reason(), "InvalidParameter");  // 31
  EXPECT_EQ(ValidatePassword("abcdefgh123").reason(), "InvalidParameter");                  // two kinds
  EXPECT_EQ(ValidatePassword("ABCDEFGHabcd").reason(), "InvalidParameter");
  EXPECT_EQ(ValidatePassword("Abc 12345").reason(), "InvalidParameter");  // a space
  EXPECT_EQ(ValidatePassword("Abc\"12345").reason(), "InvalidParameter");
  EXPECT_EQ(ValidatePassword("Abc12345\xC3\xA9").reason(), "InvalidParameter");
  // The message never quotes the password.
  EXPECT_EQ(ValidatePassword("Secret12 34").message().find("Secret"), std::string::npos);
}

TEST(HostNameTest, DotSeparatedLettersDigitsAndDashes) {
  for (const char* ok : {"web-01", "web-01.example.com", "a1", "K8S.node-3"}) {
    EXPECT_TRUE(ValidateHostName(ok, false).ok()) << ok;
  }
  const std::vector<std::string> bad = {
      "a", std::string(65, 'a'), "-web", "web.", "web..example", "web--01", "web_01", "web 01"};
  for (const std::string& b : bad) EXPECT_EQ(ValidateHostName(b, false).reason(), "InvalidParameter") << b;
  EXPECT_TRUE(ValidateHostName(std::string(64, 'a'), false).ok());
  // Windows: 2-15, no dots, not only digits.
  EXPECT_TRUE(ValidateHostName("WIN-01", true).ok());
  EXPECT_EQ(ValidateHostName(std::string(16, 'w'), true).reason(), "InvalidParameter");
  EXPECT_EQ(ValidateHostName("win.corp", true).reason(), "InvalidParameter");
  EXPECT_EQ(ValidateHostName("12345", true).reason(), "InvalidParameter");
}

}  // namespace
}  // namespace ferry
