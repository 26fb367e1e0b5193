#include "api/render.h"

#include <gtest/gtest.h>

namespace ferry {
namespace {

TEST(RenderTest, JsonSuccessAddsRequestId) {
  HttpResponse r = RenderSuccess({{"ImageId", "m-1"}}, "RID-1", "CopyImage", ResponseFormat::kJson);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json;charset=utf-8");
  auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["RequestId"], "RID-1");
  EXPECT_EQ(body["ImageId"], "m-1");
}

TEST(RenderTest, XmlListWrappersAndEscaping) {
  nlohmann::json body = {
      {"Images",
       {{"Image",
         {{{"ImageId", "m-1"}, {"Size", 40}}, {{"ImageId", "m-2"}, {"Description", "a<b & \"c\""}}}}}},
      {"Tags", {{"Tag", nlohmann::json::array()}}},
      {"TotalCount", 2},
  };
  HttpResponse r = RenderSuccess(body, "RID", "DescribeImages", ResponseFormat::kXml);
  EXPECT_EQ(r.content_type, "text/xml;charset=utf-8");
  EXPECT_EQ(
      r.body,
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeImagesResponse><RequestId>RID</RequestId>"
      "<Images><Image><ImageId>m-1</ImageId><Size>40</Size></Image>"
      "<Image><Description>a&lt;b &amp; &quot;c&quot;</Description><ImageId>m-2</ImageId></Image></Images>"
      "<Tags></Tags><TotalCount>2</TotalCount></DescribeImagesResponse>");
}

TEST(RenderTest, XmlDropsForbiddenControlCharacters) {
  EXPECT_EQ(XmlEscape(std::string("a\x01\tb'", 5)), "a\tb&apos;");
}

TEST(RenderTest, ErrorBodyJsonAndXml) {
  EcsError e{404, "InvalidImageId.NotFound", "The specified ImageId does not exist."};
  HttpResponse json = RenderError(e, "RID-2", "127.0.0.1:8080", ResponseFormat::kJson);
  EXPECT_EQ(json.status, 404);
  // HostId is Ferry's own host; Recommend is kept (clients expect the key)
  // but links to no other company's site.
  EXPECT_EQ(json.body,
            "{\"RequestId\":\"RID-2\",\"HostId\":\"127.0.0.1:8080\",\"Code\":\"InvalidImageId.NotFound\","
            "\"Message\":\"The specified ImageId does not exist.\",\"Recommend\":\"\"}");
  HttpResponse xml = RenderError(e, "RID-2", "h", ResponseFormat::kXml);
  EXPECT_EQ(xml.content_type, "text/xml;charset=utf-8");
  EXPECT_TRUE(
      xml.body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>RID-2</RequestId>"
                           "<HostId>h</HostId><Code>InvalidImageId.NotFound</Code>"));
  EXPECT_TRUE(xml.body.ends_with("<Recommend></Recommend></Error>"));
}

}  // namespace
}  // namespace ferry
