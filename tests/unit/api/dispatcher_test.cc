#include "api/dispatcher.h"

#include <gtest/gtest.h>

#include <stdexcept>

#include "unit/api/api_fakes.h"

namespace ferry {
namespace {

using apitest::FakeAccounts;
using apitest::FakeClock;
using apitest::SignedV1;
using apitest::SignedV3;

constexpr UnixSeconds kNow = 1790000000;

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : dispatcher_(Table(), regions_, accounts_, clock_, metrics_, "ecs.test", 900) {}

  static ActionTable Table() {
    ActionTable table;
    table["Echo"] = [](ActionContext& ctx) -> Result<nlohmann::json> {
      return nlohmann::json{{"Value", ctx.params.GetOr("Value", "")},
                            {"Account", ctx.caller.account_id},
                            {"Items", {{"Item", {"a", "b"}}}}};
    };
    table["Fail"] = [](ActionContext&) -> Result<nlohmann::json> {
      return NotFound("InvalidImageId.NotFound", "The specified ImageId does not exist.");
    };
    table["Throw"] = [](ActionContext&) -> Result<nlohmann::json> { throw std::runtime_error("boom"); };
    table["Region"] = [](ActionContext& ctx) -> Result<nlohmann::json> {
      ASSIGN_OR_RETURN(Region * region, ctx.RegionParam());
      return nlohmann::json{{"RegionId", region->id()}};
    };
    return table;
  }

  nlohmann::json Json(const HttpResponse& r) { return nlohmann::json::parse(r.body); }

  FakeAccounts accounts_;
  FakeClock clock_{kNow};
  RegionSet regions_;
  Metrics metrics_;
  Dispatcher dispatcher_;
};

TEST_F(DispatcherTest, V1FormPostSucceeds) {
  HttpResponse r = dispatcher_.Handle(SignedV1("POST", {{"Action", "Echo"}, {"Value", "a b+c"}}, kNow, "n1"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto body = Json(r);
  EXPECT_EQ(body["Value"], "a b+c");
  EXPECT_EQ(body["Account"], apitest::kAccountId);
  EXPECT_EQ(body["RequestId"].get<std::string>().size(), 36u);
}

TEST_F(DispatcherTest, V1XmlWhenAsked) {
  HttpResponse r = dispatcher_.Handle(SignedV1("GET", {{"Action", "Echo"}, {"Format", "XML"}}, kNow, "n1"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "text/xml;charset=utf-8");
  EXPECT_TRUE(r.body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><EchoResponse><RequestId>"));
  EXPECT_NE(r.body.find("<Items><Item>a</Item><Item>b</Item></Items>"), std::string::npos);
}

TEST_F(DispatcherTest, V3TakesActionFromHeaderAndAnswersJson) {
  HttpResponse r = dispatcher_.Handle(SignedV3("Echo", {{"Value", "v3"}, {"Format", "XML"}}, kNow, "n1"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json;charset=utf-8");
  EXPECT_EQ(Json(r)["Value"], "v3");
}

TEST_F(DispatcherTest, MissingActionAndBadVersion) {
  HttpRequest no_action = SignedV1("POST", {}, kNow, "n1");
  HttpResponse r = dispatcher_.Handle(no_action);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json(r)["Code"], "MissingParameter");
  EXPECT_EQ(Json(r)["Message"],
            "The input parameter \"Action\" that is mandatory for processing this request is not supplied.");
  EXPECT_EQ(Json(r)["HostId"], "ecs.test");

  HttpResponse v =
      dispatcher_.Handle(SignedV1("POST", {{"Action", "Echo"}, {"Version", "2016-01-01"}}, kNow, "n2"));
  EXPECT_EQ(v.status, 400);
  EXPECT_EQ(Json(v)["Code"], "InvalidParameter");
  EXPECT_EQ(Json(v)["Message"], "The specified parameter \"Action or Version\" is not valid.");
}

TEST_F(DispatcherTest, UnknownAction) {
  HttpResponse r = dispatcher_.Handle(SignedV1("POST", {{"Action", "NoSuchThing"}}, kNow, "n1"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json(r)["Code"], "InvalidAction.NotFound");
  EXPECT_EQ(Json(r)["Message"], "Specified api is not found, please check your url and method.");
  EXPECT_NE(metrics_.RenderPrometheus().find(
                "ferry_api_requests_total{action=\"unknown\",code=\"InvalidAction.NotFound\"} 1"),
            std::string::npos);
}

TEST_F(DispatcherTest, HandlerErrorAndException) {
  HttpResponse fail = dispatcher_.Handle(SignedV1("POST", {{"Action", "Fail"}}, kNow, "n1"));
  EXPECT_EQ(fail.status, 404);
  EXPECT_EQ(Json(fail)["Code"], "InvalidImageId.NotFound");
  EXPECT_TRUE(
      Json(fail)["Recommend"].get<std::string>().ends_with(Json(fail)["RequestId"].get<std::string>()));

  HttpResponse thrown = dispatcher_.Handle(SignedV1("POST", {{"Action", "Throw"}}, kNow, "n2"));
  EXPECT_EQ(thrown.status, 500);
  EXPECT_EQ(Json(thrown)["Code"], "InternalError");
  EXPECT_EQ(Json(thrown)["Message"].get<std::string>().find("boom"), std::string::npos);
}

TEST_F(DispatcherTest, AuthFailureStopsBeforeTheHandler) {
  HttpResponse r = dispatcher_.Handle(SignedV1("POST", {{"Action", "Echo"}}, kNow, "n1", "bad"));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Json(r)["Code"], "SignatureDoesNotMatch");
}

TEST_F(DispatcherTest, RegionParam) {
  HttpResponse missing = dispatcher_.Handle(SignedV1("POST", {{"Action", "Region"}}, kNow, "n1"));
  EXPECT_EQ(Json(missing)["Code"], "MissingParameter");
  HttpResponse unknown =
      dispatcher_.Handle(SignedV1("POST", {{"Action", "Region"}, {"RegionId", "xx-nowhere"}}, kNow, "n2"));
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Json(unknown)["Code"], "InvalidRegionId.NotFound");
}

TEST_F(DispatcherTest, MetricsCountSuccess) {
  dispatcher_.Handle(SignedV1("POST", {{"Action", "Echo"}}, kNow, "n1"));
  std::string text = metrics_.RenderPrometheus();
  EXPECT_NE(text.find("ferry_api_requests_total{action=\"Echo\",code=\"Success\"} 1"), std::string::npos);
  EXPECT_NE(text.find("ferry_api_request_duration_seconds_count{action=\"Echo\"} 1"), std::string::npos);
  EXPECT_NE(text.find("ferry_api_request_duration_seconds_bucket{action=\"Echo\",le=\"+Inf\"} 1"),
            std::string::npos);
}

TEST(ParseRequestParamsTest, FormValueWinsAndMalformedFails) {
  HttpRequest r;
  r.method = "POST";
  r.target = "/?A=query&B=1";
  r.headers["content-type"] = "application/x-www-form-urlencoded; charset=UTF-8";
  r.body = "A=form";
  auto params = ParseRequestParams(r);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(*params->Get("A"), "form");
  EXPECT_EQ(*params->Get("B"), "1");
  r.body = "A=%G1";
  EXPECT_FALSE(ParseRequestParams(r).ok());
  // A JSON body is not form data.
  r.headers["content-type"] = "application/json";
  EXPECT_EQ(*ParseRequestParams(r)->Get("A"), "query");
}

TEST(MetricsTest, RegionCountersAndLabelEscaping) {
  Metrics metrics;
  RegionMetrics region;
  region.bytes_imported = 4096;
  region.chunks_deduped = 3;
  metrics.AddRegion("cn-\"x\"", &region);
  std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("ferry_region_bytes_imported_total{region=\"cn-\\\"x\\\"\"} 4096"), std::string::npos);
  EXPECT_NE(text.find("ferry_region_chunks_deduped_total{region=\"cn-\\\"x\\\"\"} 3"), std::string::npos);
  EXPECT_NE(text.find("# TYPE ferry_region_tasks_failed_total counter"), std::string::npos);
}

}  // namespace
}  // namespace ferry
