#include "api/dispatcher.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "api/client.h"
#include "api/server.h"
#include "common/ids.h"
#include "objects/fs_object_store.h"
#include "unit/api/api_fakes.h"
#include "unit/api/fake_region.h"

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
    // One Status from actions whose documented tables give its code
    // different HTTP statuses.
    for (const char* name : {"CreateSnapshot", "CreateImage", "StartInstance"}) {
      table[name] = [](ActionContext&) -> Result<nlohmann::json> {
        return FailedPrecondition("IncorrectInstanceStatus", "instance i-1 is Starting");
      };
    }
    table["GetCallerIdentity"] = BuiltinActions().at("GetCallerIdentity");
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

TEST_F(DispatcherTest, GetCallerIdentityAnswersUnderTheStsVersionOnly) {
  HttpResponse r = dispatcher_.Handle(
      SignedV1("POST", {{"Action", "GetCallerIdentity"}, {"Version", "2015-04-01"}}, kNow, "sts-1"));
  ASSERT_EQ(r.status, 200) << r.body;
  nlohmann::json body = Json(r);
  EXPECT_EQ(body["AccountId"], apitest::kAccountId);
  EXPECT_EQ(body["IdentityType"], "Account");
  EXPECT_EQ(body["Arn"], std::string("acs:ram::") + apitest::kAccountId + ":root");
  EXPECT_EQ(body["AccountName"], "root");

  // Under the ECS version it does not exist, and ECS actions do not exist
  // under the STS version.
  HttpResponse ecs = dispatcher_.Handle(
      SignedV1("POST", {{"Action", "GetCallerIdentity"}, {"Version", "2014-05-26"}}, kNow, "sts-2"));
  EXPECT_EQ(ecs.status, 404);
  EXPECT_EQ(Json(ecs)["Code"], "InvalidAction.NotFound");
  HttpResponse echo =
      dispatcher_.Handle(SignedV1("POST", {{"Action", "Echo"}, {"Version", "2015-04-01"}}, kNow, "sts-3"));
  EXPECT_EQ(echo.status, 404);
  EXPECT_EQ(Json(echo)["Code"], "InvalidAction.NotFound");
}

TEST_F(DispatcherTest, AnErrorTakesTheHttpStatusOfTheActionsDocumentedTable) {
  const std::pair<const char*, int> expected[] = {
      {"CreateSnapshot", 400}, {"CreateImage", 400}, {"StartInstance", 403}};
  int nonce = 0;
  for (const auto& [action, status] : expected) {
    HttpResponse r =
        dispatcher_.Handle(SignedV1("POST", {{"Action", action}}, kNow, "status-" + std::to_string(++nonce)));
    EXPECT_EQ(r.status, status) << action << " " << r.body;
    EXPECT_EQ(Json(r)["Code"], "IncorrectInstanceStatus") << action;
    EXPECT_EQ(Json(r)["Message"], "instance i-1 is Starting") << action;
  }
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

// Records what it is asked to forward and answers as told.
class FakeForwarder final : public Forwarder {
 public:
  Result<HttpResponse> Forward(const std::string& base_url, const HttpRequest& request,
                               int timeout_ms) override {
    last_timeout_ms = timeout_ms;
    std::lock_guard<std::mutex> lock(mu_);
    calls.emplace_back(base_url, request);
    return answer;
  }
  void ForwardAsync(const std::string& base_url, HttpRequest request, int timeout_ms, Done done) override {
    done(Forward(base_url, request, timeout_ms));
  }

  std::mutex mu_;
  std::vector<std::pair<std::string, HttpRequest>> calls;
  int last_timeout_ms = -1;
  Result<HttpResponse> answer = HttpResponse{};
};

// A process serving no region itself, whose peer at kPeerUrl serves
// cn-shanghai. Its account directory does not know the key the requests are
// signed with: only the owner may authenticate them.
class ForwardingTest : public ::testing::Test {
 protected:
  static constexpr const char* kPeerUrl = "http://10.1.2.3:8080";

  ForwardingTest() {
    regions_.remote = {{"cn-shanghai", kPeerUrl}};
    auto forwarder = std::make_unique<FakeForwarder>();
    forwarder_ = forwarder.get();
    dispatcher_ = std::make_unique<Dispatcher>(Table(), regions_, accounts_, clock_, metrics_, "ecs.test",
                                               900, std::move(forwarder));
    HttpResponse relayed;
    relayed.status = 404;
    relayed.content_type = "text/xml;charset=utf-8";
    relayed.headers = {{"x-acs-request-id", "OWNER-1"}};
    relayed.body = "<Error><RequestId>OWNER-1</RequestId><Code>InvalidImageId.NotFound</Code></Error>";
    forwarder_->answer = relayed;
  }

  static ActionTable Table() {
    ActionTable table;
    for (const char* name : {"DescribeImages", "DescribeRegions", "CreateAccount"}) {
      table[name] = [](ActionContext&) -> Result<nlohmann::json> {
        return nlohmann::json{{"ServedBy", "here"}};
      };
    }
    return table;
  }

  nlohmann::json Json(const HttpResponse& r) { return nlohmann::json::parse(r.body); }

  FakeAccounts accounts_;  // knows only apitest::kKeyId
  FakeClock clock_{kNow};
  RegionSet regions_;
  Metrics metrics_;
  FakeForwarder* forwarder_ = nullptr;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(ForwardingTest, WarmingAsksEachPeerProcessOnceForItsHealth) {
  regions_.remote.push_back({"cn-beijing", kPeerUrl});  // same process as cn-shanghai
  regions_.remote.push_back({"us-west-1", "http://10.1.2.4:8080"});
  dispatcher_->WarmForwarding();
  std::lock_guard<std::mutex> lock(forwarder_->mu_);
  ASSERT_EQ(forwarder_->calls.size(), 2u);
  EXPECT_EQ(forwarder_->calls[0].first, kPeerUrl);
  EXPECT_EQ(forwarder_->calls[1].first, "http://10.1.2.4:8080");
  for (const auto& [url, request] : forwarder_->calls) {
    EXPECT_EQ(request.method, "GET") << url;
    EXPECT_EQ(request.target, "/healthz") << url;
  }
  EXPECT_GT(forwarder_->last_timeout_ms, 0) << "a short deadline: Stop() waits for the warming";
}

TEST_F(ForwardingTest, RequestForARemoteRegionIsRelayedUnauthenticatedAndUnchanged) {
  const std::vector<HttpRequest> requests = {
      SignedV1("POST", {{"Action", "DescribeImages"}, {"RegionId", "cn-shanghai"}}, kNow, "n1", "s",
               "ownerkey"),
      SignedV1("GET", {{"Action", "DescribeImages"}, {"RegionId", "cn-shanghai"}}, kNow, "n2", "s",
               "ownerkey"),
      SignedV3("DescribeImages", {{"RegionId", "cn-shanghai"}}, kNow, "n3", "", "wrong-secret"),
  };
  for (size_t i = 0; i < requests.size(); ++i) {
    HttpResponse r = dispatcher_->Handle(requests[i]);
    EXPECT_EQ(r.status, 404) << i;
    EXPECT_EQ(r.content_type, "text/xml;charset=utf-8");
    EXPECT_EQ(r.body, "<Error><RequestId>OWNER-1</RequestId><Code>InvalidImageId.NotFound</Code></Error>");
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].second, "OWNER-1");
    ASSERT_EQ(forwarder_->calls.size(), i + 1);
    EXPECT_EQ(forwarder_->calls[i].first, kPeerUrl);
    const HttpRequest& sent = forwarder_->calls[i].second;
    EXPECT_EQ(sent.method, requests[i].method);
    EXPECT_EQ(sent.target, requests[i].target);
    EXPECT_EQ(sent.headers, requests[i].headers);
    EXPECT_EQ(sent.body, requests[i].body);
  }
  EXPECT_NE(metrics_.RenderPrometheus().find(
                "ferry_api_requests_total{action=\"DescribeImages\",code=\"InvalidImageId.NotFound\"} 3"),
            std::string::npos)
      << metrics_.RenderPrometheus();
}

// Requests no region owns go to the cluster owner (here the peer serving
// cn-shanghai, the cluster's first region), which alone authenticates them:
// the cluster-wide actions whatever their RegionId, and requests with no or
// an unknown RegionId. An unknown action is refused here, unauthenticated.
TEST_F(ForwardingTest, ClusterWideActionsAndRegionlessRequestsGoToTheClusterOwner) {
  const std::vector<HttpRequest> requests = {
      SignedV1("POST", {{"Action", "CreateAccount"}, {"AccountName", "bob"}}, kNow, "n1"),
      SignedV1("POST", {{"Action", "CreateAccount"}, {"RegionId", "cn-beijing"}}, kNow, "n2"),
      SignedV1("POST", {{"Action", "DescribeRegions"}, {"RegionId", "cn-shanghai"}}, kNow, "n3"),
      SignedV1("POST", {{"Action", "DescribeImages"}, {"RegionId", "cn-beijing"}}, kNow, "n4"),
      SignedV1("POST", {{"Action", "DescribeImages"}}, kNow, "n5"),
  };
  for (size_t i = 0; i < requests.size(); ++i) {
    HttpResponse r = dispatcher_->Handle(requests[i]);
    EXPECT_EQ(r.body, "<Error><RequestId>OWNER-1</RequestId><Code>InvalidImageId.NotFound</Code></Error>") << i;
    ASSERT_EQ(forwarder_->calls.size(), i + 1) << i;
    EXPECT_EQ(forwarder_->calls[i].first, kPeerUrl);
    EXPECT_EQ(forwarder_->calls[i].second.body, requests[i].body);
  }
  EXPECT_TRUE(IsClusterWideAction("CreateAccount"));
  EXPECT_TRUE(IsClusterWideAction("DescribeRegions"));
  EXPECT_FALSE(IsClusterWideAction("DescribeImages"));
  HttpResponse unknown =
      dispatcher_->Handle(SignedV1("POST", {{"Action", "Nope"}, {"RegionId", "cn-shanghai"}}, kNow, "n6"));
  EXPECT_EQ(Json(unknown)["Code"], "InvalidAction.NotFound");
  EXPECT_EQ(forwarder_->calls.size(), requests.size());
}

// Every process computes the same owner from its regions and peers: the
// one serving the alphabetically first region of the cluster.
TEST(ClusterOwnerTest, TheProcessServingTheFirstRegionOwnsTheCluster) {
  actiontest::FakeRegion beijing("cn-beijing"), shanghai("cn-shanghai");
  RegionSet a;  // serves cn-beijing
  a.ordered = {&beijing};
  a.remote = {{"cn-shanghai", "http://b:1"}, {"us-west-1", "http://c:1"}};
  RegionSet b;  // serves cn-shanghai
  b.ordered = {&shanghai};
  b.remote = {{"us-west-1", "http://c:1"}, {"cn-beijing", "http://a:1"}};
  RegionSet c;  // serves only peers' regions
  c.remote = {{"cn-shanghai", "http://b:1"}, {"cn-beijing", "http://a:1"}};
  EXPECT_EQ(ClusterOwner(a), nullptr);
  ASSERT_NE(ClusterOwner(b), nullptr);
  EXPECT_EQ(ClusterOwner(b)->base_url, "http://a:1");
  ASSERT_NE(ClusterOwner(c), nullptr);
  EXPECT_EQ(ClusterOwner(c)->base_url, "http://a:1");
  EXPECT_EQ(ClusterOwner(RegionSet{{&shanghai}, {}}), nullptr);  // a process alone

  const Params create(std::map<std::string, std::string>{{"AccountName", "x"}, {"RegionId", "cn-shanghai"}});
  EXPECT_EQ(RemoteOwner(b, "CreateAccount", create)->base_url, "http://a:1");
  EXPECT_EQ(RemoteOwner(b, "DescribeImages", create), nullptr);  // b serves cn-shanghai
  EXPECT_EQ(RemoteOwner(a, "DescribeImages", create)->base_url, "http://b:1");
  const Params west(std::map<std::string, std::string>{{"RegionId", "us-west-1"}});
  const Params nowhere(std::map<std::string, std::string>{{"RegionId", "nowhere-1"}});
  EXPECT_EQ(RemoteOwner(a, "DescribeImages", west)->base_url, "http://c:1");
  EXPECT_EQ(RemoteOwner(a, "DescribeImages", nowhere), nullptr);
  EXPECT_EQ(RemoteOwner(b, "DescribeImages", nowhere)->base_url, "http://a:1");
}

TEST_F(ForwardingTest, UnreachablePeerIsServiceUnavailableNamingTheRegion) {
  forwarder_->answer = Unavailable("cannot connect to http://10.1.2.3:8080: Connection refused");
  HttpResponse r = dispatcher_->Handle(SignedV1(
      "POST", {{"Action", "DescribeImages"}, {"RegionId", "cn-shanghai"}}, kNow, "n1", "s", "ownerkey"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json(r)["Code"], "ServiceUnavailable");
  const std::string message = Json(r)["Message"];
  EXPECT_NE(message.find("\"cn-shanghai\""), std::string::npos) << message;
  EXPECT_NE(message.find("cannot be reached"), std::string::npos) << message;
  // The caller is not authenticated yet: the cluster's addresses stay private.
  EXPECT_EQ(message.find("10.1.2.3"), std::string::npos) << message;

  HttpResponse xml = dispatcher_->Handle(SignedV1(
      "POST", {{"Action", "DescribeImages"}, {"RegionId", "cn-shanghai"}, {"Format", "XML"}}, kNow, "n2"));
  EXPECT_EQ(xml.status, 503);
  EXPECT_NE(xml.body.find("<Code>ServiceUnavailable</Code>"), std::string::npos) << xml.body;
}

TEST_F(ForwardingTest, AlreadyForwardedRequestIsNeverForwardedAgain) {
  HttpRequest request =
      SignedV1("POST", {{"Action", "DescribeImages"}, {"RegionId", "cn-shanghai"}}, kNow, "n1");
  request.headers[kForwardedHeader] = "1";
  HttpResponse r = dispatcher_->Handle(request);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(Json(r)["Code"], "ServiceUnavailable");
  const std::string message = Json(r)["Message"];
  EXPECT_NE(message.find("\"cn-shanghai\" is not served by this Ferry process"), std::string::npos)
      << message;
  EXPECT_NE(message.find("already forwarded"), std::string::npos) << message;
  EXPECT_TRUE(forwarder_->calls.empty());
}

// Two real servers on loopback: a client talks to the front process about
// the owner's region, with a key only the owner holds, V1 and V3.
class TwoProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/ferry-forwarding-test-" + RandomHex(8);
    std::filesystem::create_directories(dir_ + "/oss");
    storage_ = std::make_unique<FsObjectStore>(dir_ + "/oss", apitest::kAccountId);
    ASSERT_TRUE(
        owner_accounts_.CreateAccount(AccountRecord{"7777000011112222", "owner-user", false, 0}).ok());
    ASSERT_TRUE(
        owner_accounts_
            .AddAccessKey(AccessKeyRecord{"OwnerOnlyKey", "owner-secret", "7777000011112222", true, 0})
            .ok());
    owner_ = Start("owner", owner_regions_, owner_accounts_);
    front_regions_.remote = {{"cn-shanghai", "http://127.0.0.1:" + std::to_string(owner_->port())}};
    front_ = Start("front", front_regions_, front_accounts_);
  }
  void TearDown() override {
    if (front_) front_->Stop();
    if (owner_) owner_->Stop();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Server> Start(const std::string& name, const RegionSet& regions,
                                AccountDirectory& accounts) {
    ActionTable table;
    table["DescribeImages"] = [name](ActionContext& ctx) -> Result<nlohmann::json> {
      return nlohmann::json{{"ServedBy", name},
                            {"RegionId", ctx.params.GetOr("RegionId", "")},
                            {"Account", ctx.caller.account_id}};
    };
    ServerConfig config;
    config.port = 0;
    config.threads = 2;
    auto server = StartServer(config, std::move(table), regions, accounts, *storage_, SystemClock::Get());
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    return server.ok() ? std::move(server).value() : nullptr;
  }

  EcsClient FrontClient(bool v3) {
    ClientConfig c;
    c.endpoint = "http://127.0.0.1:" + std::to_string(front_->port());
    c.access_key_id = "OwnerOnlyKey";
    c.access_key_secret = "owner-secret";
    c.use_v3 = v3;
    return EcsClient(c);
  }

  std::string dir_;
  std::unique_ptr<FsObjectStore> storage_;
  FakeAccounts owner_accounts_;
  FakeAccounts front_accounts_;
  RegionSet owner_regions_;
  RegionSet front_regions_;
  std::unique_ptr<Server> owner_;
  std::unique_ptr<Server> front_;
};

TEST_F(TwoProcessTest, FrontAnswersForTheOwnersRegion) {
  ASSERT_TRUE(owner_ && front_);
  for (bool v3 : {false, true}) {
    EcsClient client = FrontClient(v3);
    Result<nlohmann::json> body = client.CallOrError("DescribeImages", {{"RegionId", "cn-shanghai"}});
    ASSERT_TRUE(body.ok()) << (v3 ? "v3: " : "v1: ") << body.status().ToString();
    EXPECT_EQ((*body)["ServedBy"], "owner");
    EXPECT_EQ((*body)["Account"], "7777000011112222");
    // The owner checks signatures: a wrong secret is refused there.
    ClientConfig bad;
    bad.endpoint = "http://127.0.0.1:" + std::to_string(front_->port());
    bad.access_key_id = "OwnerOnlyKey";
    bad.access_key_secret = "guess";
    bad.use_v3 = v3;
    EcsClient forged(bad);
    Result<nlohmann::json> refused = forged.CallOrError("DescribeImages", {{"RegionId", "cn-shanghai"}});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().reason(), "SignatureDoesNotMatch");
  }
  // A region nobody serves belongs to the cluster owner, the owner here.
  Result<nlohmann::json> unknown =
      FrontClient(false).CallOrError("DescribeImages", {{"RegionId", "cn-beijing"}});
  ASSERT_TRUE(unknown.ok()) << unknown.status().ToString();
  EXPECT_EQ((*unknown)["ServedBy"], "owner");
}

// A signed request the owner has accepted, replayed through the front, is
// refused by the owner's nonce cache.
TEST_F(TwoProcessTest, ReplayThroughTheFrontMeetsTheOwnersNonceCache) {
  ASSERT_TRUE(owner_ && front_);
  // A V1 GET carries everything in its target: the same bytes to either process.
  const std::string target =
      SignedV1("GET", {{"Action", "DescribeImages"}, {"RegionId", "cn-shanghai"}}, SystemClock::Get().Now(),
               "replayed-nonce", "owner-secret", "OwnerOnlyKey")
          .target;
  auto send = [&](uint16_t port) {
    ClientConfig c;
    c.endpoint = "http://127.0.0.1:" + std::to_string(port);
    return EcsClient(c).Get(target);
  };
  Result<std::string> first = send(owner_->port());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_NE(first->find("\"ServedBy\":\"owner\""), std::string::npos) << *first;
  Result<std::string> replay = send(front_->port());
  ASSERT_FALSE(replay.ok());
  EXPECT_NE(replay.status().message().find("HTTP 400"), std::string::npos) << replay.status().ToString();
  EXPECT_NE(replay.status().message().find("SignatureNonceUsed"), std::string::npos) << replay.status().ToString();
}

TEST_F(TwoProcessTest, DisagreeingProcessesDoNotLoop) {
  ASSERT_TRUE(owner_ && front_);
  // The owner believes the front serves cn-shanghai, and the front the owner.
  owner_regions_.remote = {{"cn-shanghai", "http://127.0.0.1:" + std::to_string(front_->port())}};
  Result<EcsResponse> r = FrontClient(false).Call("DescribeImages", {{"RegionId", "cn-shanghai"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->http_status, 503);
  EXPECT_EQ(r->body["Code"], "ServiceUnavailable");
  EXPECT_NE(r->body["Message"].get<std::string>().find("already forwarded"), std::string::npos)
      << r->raw_body;
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
