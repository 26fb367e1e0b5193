#include "api/params.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

using Map = std::map<std::string, std::string>;

TEST(ParamsTest, FormDecodingPlusAndEscapes) {
  auto parsed = ParseFormUrlEncoded("a=x+y%20z&b=%E4%B8%AD&c=&d&&e=1%2B1%3D2");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->at("a"), "x y z");
  EXPECT_EQ(parsed->at("b"), "\xE4\xB8\xAD");
  EXPECT_EQ(parsed->at("c"), "");
  EXPECT_EQ(parsed->at("d"), "");
  EXPECT_EQ(parsed->at("e"), "1+1=2");
  EXPECT_EQ(parsed->size(), 5u);
}

TEST(ParamsTest, MalformedEscapeIsRejected) {
  for (const char* bad : {"a=%zz", "a=%4", "a=%", "%G0=1"}) {
    auto parsed = ParseFormUrlEncoded(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().reason(), "InvalidParameter");
  }
  // The lenient decoder keeps what it cannot decode.
  EXPECT_EQ(UrlDecode("100%+x%41", true), "100% xA");
  EXPECT_EQ(UrlDecode("a+b", false), "a+b");
}

TEST(ParamsTest, PercentEncodeFollowsRfc3986) {
  EXPECT_EQ(PercentEncode("a b*~-_.+/"), "a%20b%2A~-_.%2B%2F");
  EXPECT_EQ(PercentEncode("\xE4\xB8\xAD"), "%E4%B8%AD");
}

TEST(ParamsTest, RequiredUsesTheDocumentedMessage) {
  Params p(Map{{"Empty", ""}});
  auto r = p.Required("ImageId");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().reason(), "MissingParameter");
  EXPECT_EQ(r.status().message(),
            "The input parameter \"ImageId\" that is mandatory for processing this request is not supplied.");
  EXPECT_FALSE(p.Required("Empty").ok());
  EXPECT_FALSE(p.Get("Empty").has_value());
  EXPECT_EQ(p.GetOr("Empty", "x"), "x");
}

TEST(ParamsTest, BoolAndInt) {
  Params p(Map{{"T", "TRUE"}, {"F", "false"}, {"B", "yes"}, {"N", "42"}, {"X", "4x"}, {"Big", "101"}});
  EXPECT_TRUE(*p.Bool("T", false));
  EXPECT_FALSE(*p.Bool("F", true));
  EXPECT_TRUE(*p.Bool("Absent", true));
  auto bad = p.Bool("B", false);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "InvalidParameter");
  EXPECT_TRUE(bad.status().message().starts_with("The specified parameter \"B\" is not valid."));
  EXPECT_EQ(*p.Int("N", 0, 1, 100), 42);
  EXPECT_EQ(*p.Int("Absent", 7, 1, 100), 7);
  EXPECT_FALSE(p.Int("X", 0, 0, 100).ok());
  EXPECT_FALSE(p.Int("Big", 0, 1, 100).ok());
}

TEST(ParamsTest, TagsInIndexOrderWithLowerCaseAliases) {
  Params p(Map{{"Tag.2.Key", "b"},
               {"Tag.2.Value", "2"},
               {"Tag.1.key", "a"},
               {"Tag.1.value", "1"},
               {"Tag.10.Key", "c"}});
  auto tags = p.TagList();
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  Tags expected = {{"a", "1"}, {"b", "2"}, {"c", ""}};
  EXPECT_EQ(*tags, expected);
}

TEST(ParamsTest, TagErrors) {
  auto mismatch = Params(Map{{"Tag.1.Value", "v"}}).TagList();
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().reason(), "InvalidTag.Mismatch");

  auto empty_key = Params(Map{{"Tag.1.Key", ""}, {"Tag.1.Value", "v"}}).TagList();
  ASSERT_FALSE(empty_key.ok());
  EXPECT_EQ(empty_key.status().reason(), "InvalidTagKey.Malformed");

  auto reserved = Params(Map{{"Tag.1.Key", "aliyun-x"}}).TagList();
  ASSERT_FALSE(reserved.ok());
  EXPECT_EQ(reserved.status().reason(), "InvalidTagKey.Malformed");

  auto too_many = Params(Map{{"Tag.21.Key", "k"}}).TagList();
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.status().reason(), "InvalidTagCount");
}

TEST(ParamsTest, RepeatCommaAndJsonLists) {
  Params p(Map{{"AddAccount.1", "a"},
               {"AddAccount.2", "b"},
               {"AddAccount.4", "d"},
               {"Status", "Creating, Available,,"},
               {"Ids", "[\"s-1\",\"s-2\"]"},
               {"BadIds", "[s-1]"},
               {"Mixed", "[\"a\",1]"}});
  EXPECT_EQ(p.RepeatList("AddAccount"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(p.CommaList("Status"), (std::vector<std::string>{"Creating", "Available"}));
  EXPECT_EQ(*p.JsonStringArray("Ids"), (std::vector<std::string>{"s-1", "s-2"}));
  EXPECT_TRUE(p.JsonStringArray("Absent")->empty());
  auto bad = p.JsonStringArray("BadIds");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "InvalidParameter");
  EXPECT_FALSE(p.JsonStringArray("Mixed").ok());
}

TEST(ParamsTest, ClientTokenIsAtMost64PrintableAsciiCharacters) {
  auto token = [](const std::string& value) {
    return Params(std::map<std::string, std::string>{{"ClientToken", value}}).ClientToken();
  };
  EXPECT_EQ(*token(std::string(64, 't')), std::string(64, 't'));
  EXPECT_EQ(*Params().ClientToken(), "");
  EXPECT_EQ(token(std::string(65, 't')).status().reason(), "InvalidParameter");
  EXPECT_EQ(token("token-\xC3\xA9").status().reason(), "InvalidParameter");
  EXPECT_EQ(token("a\nb").status().reason(), "InvalidParameter");
}

}  // namespace
}  // namespace ferry
