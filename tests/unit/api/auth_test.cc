#include "api/auth.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "api/dispatcher.h"
#include "api/errors.h"
#include "catalog/sqlite_account_directory.h"
#include "common/fs_util.h"
#include "common/ids.h"
#include "copy/peer_auth.h"
#include "unit/api/api_fakes.h"
#include "unit/catalog/throwaway_postgres.h"

namespace ferry {
namespace {

using apitest::FakeAccounts;
using apitest::FakeClock;
using apitest::SignedV1;
using apitest::SignedV3;

constexpr UnixSeconds kNow = 1790000000;

class AuthTest : public ::testing::Test {
 protected:
  Result<AuthResult> Run(const HttpRequest& request) {
    auto params = ParseRequestParams(request);
    if (!params.ok()) return params.status();
    return auth_.Authenticate(request, *params);
  }

  FakeAccounts accounts_;
  FakeClock clock_{kNow};
  Authenticator auth_{accounts_, clock_, 15 * 60};
};

TEST_F(AuthTest, GoodV1PostForm) {
  auto result = Run(SignedV1("POST", {{"Action", "DescribeRegions"}}, kNow, "n1"));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->caller.account_id, apitest::kAccountId);
  EXPECT_TRUE(result->is_root);
  EXPECT_FALSE(result->v3);
}

TEST_F(AuthTest, GoodV1GetWithEmptyValue) {
  auto result = Run(SignedV1("GET", {{"Action", "DescribeRegions"}, {"SignatureType", ""}}, kNow, "n1"));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
}

TEST_F(AuthTest, V1SignedWithAnotherMethodFails) {
  HttpRequest request = SignedV1("GET", {{"Action", "DescribeRegions"}}, kNow, "n1");
  request.method = "POST";
  auto result = Run(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().reason(), "SignatureDoesNotMatch");
  // The server signs with the method the request really used.
  EXPECT_NE(result.status().message().find("server string to sign is:POST&%2F&AccessKeyId%3Dtestid"),
            std::string::npos);
}

TEST_F(AuthTest, BadSignatureMessageIsByteExact) {
  HttpRequest request = SignedV1("POST", {{"Action", "DescribeRegions"}}, kNow, "n1", "wrongsecret");
  auto result = Run(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().reason(), "SignatureDoesNotMatch");
  auto params = ParseRequestParams(request);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(result.status().message(),
            "Specified signature is not matched with our calculation. server string to sign is:" +
                V1StringToSign("POST", params->all()));
}

TEST_F(AuthTest, ExpiredTimestamp) {
  auto old = Run(SignedV1("POST", {{"Action", "X"}}, kNow - 15 * 60 - 1, "n1"));
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().reason(), "InvalidTimeStamp.Expired");
  auto future = Run(SignedV1("POST", {{"Action", "X"}}, kNow + 15 * 60 + 1, "n2"));
  ASSERT_FALSE(future.ok());
  EXPECT_EQ(future.status().reason(), "InvalidTimeStamp.Expired");
  EXPECT_TRUE(Run(SignedV1("POST", {{"Action", "X"}}, kNow - 15 * 60, "n3")).ok());
}

// Older official SDKs send milliseconds ("2026-12-04T19:27:29.229Z"); both
// signature versions take them, within the same window.
TEST_F(AuthTest, FractionalSecondTimestampsInBothVersions) {
  auto at = [](UnixSeconds t, const char* fraction) {
    std::string s = FormatTimeSeconds(t);
    return s.substr(0, s.size() - 1) + fraction + "Z";
  };
  auto v1 = Run(SignedV1("POST", {{"Action", "X"}, {"Timestamp", at(kNow, ".229")}}, kNow, "f1"));
  EXPECT_TRUE(v1.ok()) << v1.status().ToString();
  auto v1_edge =
      Run(SignedV1("POST", {{"Action", "X"}, {"Timestamp", at(kNow - 15 * 60, ".999")}}, kNow, "f2"));
  EXPECT_TRUE(v1_edge.ok()) << v1_edge.status().ToString();
  auto v1_old =
      Run(SignedV1("POST", {{"Action", "X"}, {"Timestamp", at(kNow - 15 * 60 - 1, ".5")}}, kNow, "f3"));
  EXPECT_EQ(v1_old.status().reason(), "InvalidTimeStamp.Expired");
  auto v1_bad = Run(SignedV1("POST", {{"Action", "X"}, {"Timestamp", at(kNow, ".")}}, kNow, "f4"));
  EXPECT_EQ(v1_bad.status().reason(), "InvalidTimeStamp.Format");

  auto v3 = Run(SignedV3("CopyImage", {}, kNow, "f5", "", apitest::kSecret, at(kNow, ".229")));
  EXPECT_TRUE(v3.ok()) << v3.status().ToString();
  auto v3_future =
      Run(SignedV3("CopyImage", {}, kNow, "f6", "", apitest::kSecret, at(kNow + 15 * 60 + 1, ".001")));
  EXPECT_EQ(v3_future.status().reason(), "InvalidTimeStamp.Expired");
}

TEST_F(AuthTest, ReusedNonceIsRejectedUntilTheWindowPasses) {
  ASSERT_TRUE(Run(SignedV1("POST", {{"Action", "X"}}, kNow, "same")).ok());
  auto again = Run(SignedV1("POST", {{"Action", "Y"}}, kNow, "same"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().reason(), "SignatureNonceUsed");
  EXPECT_EQ(again.status().message(), "Specified signature nonce was used already.");
  // Once the first request's timestamp is out of the window, the nonce is
  // forgotten (the cache stays bounded) and a fresh request may reuse it.
  clock_.Set(kNow + 40 * 60);
  EXPECT_TRUE(Run(SignedV1("POST", {{"Action", "X"}}, kNow + 40 * 60, "same")).ok());
}

TEST_F(AuthTest, UnknownAndDisabledKeys) {
  auto unknown = Run(SignedV1("POST", {{"Action", "X"}}, kNow, "n1", "s", "nokey"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().reason(), "InvalidAccessKeyId.NotFound");
  EXPECT_EQ(unknown.status().message(), "Specified access key is not found.");

  ASSERT_TRUE(accounts_.AddAccessKey({"offkey", "s", apitest::kAccountId, false, 0}).ok());
  auto disabled = Run(SignedV1("POST", {{"Action", "X"}}, kNow, "n2", "s", "offkey"));
  ASSERT_FALSE(disabled.ok());
  EXPECT_EQ(disabled.status().reason(), "Forbidden.AccessKeyDisabled");
}

// The SQLite directory caches keys; a key disabled or deleted is refused at
// the very next request all the same.
TEST(AuthCachedKeysTest, DisabledOrDeletedKeyIsRefusedAtOnce) {
  const std::string dir = ::testing::TempDir() + "/auth_cached_keys_" + RandomHex(8);
  ASSERT_TRUE(MakeDirs(dir).ok());
  auto opened = SqliteAccountDirectory::Open(dir + "/accounts.db");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  SqliteAccountDirectory& accounts = **opened;
  ASSERT_TRUE(accounts.CreateAccount({apitest::kAccountId, "root", true, 0}).ok());
  ASSERT_TRUE(accounts.AddAccessKey({apitest::kKeyId, apitest::kSecret, apitest::kAccountId, true, 0}).ok());
  FakeClock clock{kNow};
  Authenticator auth{accounts, clock, 15 * 60};
  int nonce = 0;
  auto run = [&]() -> Result<AuthResult> {
    HttpRequest request = SignedV1("POST", {{"Action", "X"}}, kNow, "n" + std::to_string(++nonce));
    auto params = ParseRequestParams(request);
    if (!params.ok()) return params.status();
    return auth.Authenticate(request, *params);
  };

  ASSERT_TRUE(run().ok());
  ASSERT_TRUE(run().ok());
  EXPECT_EQ(accounts.cached_keys(), 1u);
  ASSERT_TRUE(accounts.SetAccessKeyEnabled(apitest::kKeyId, false).ok());
  EXPECT_EQ(run().status().reason(), "Forbidden.AccessKeyDisabled");
  ASSERT_TRUE(accounts.SetAccessKeyEnabled(apitest::kKeyId, true).ok());
  ASSERT_TRUE(run().ok());
  ASSERT_TRUE(accounts.DeleteAccessKey(apitest::kKeyId).ok());
  EXPECT_EQ(run().status().reason(), "InvalidAccessKeyId.NotFound");
  std::filesystem::remove_all(dir);
}

// A directory that cannot answer (a peer holding keys is down) makes the
// request fail with 503 ServiceUnavailable, which SDKs retry, and never
// with the "your key does not exist" error.
TEST(AuthUnavailableTest, UnavailableDirectoryIsServiceUnavailableNotUnknownKey) {
  class UnavailableKeys final : public AccountDirectory {
   public:
    explicit UnavailableKeys(bool keys_fail) : keys_fail_(keys_fail) {}
    Status CreateAccount(const AccountRecord& a) override { return inner_.CreateAccount(a); }
    Result<AccountRecord> GetAccount(const std::string& id) override {
      if (!keys_fail_) return Unavailable("account lookup: peer down");
      return inner_.GetAccount(id);
    }
    Result<AccountRecord> FindAccountByName(const std::string& n) override {
      return inner_.FindAccountByName(n);
    }
    Result<std::vector<AccountRecord>> ListAccounts() override { return inner_.ListAccounts(); }
    Status AddAccessKey(const AccessKeyRecord& k) override { return inner_.AddAccessKey(k); }
    Result<AccessKeyRecord> GetAccessKey(const std::string& id) override {
      if (keys_fail_) return Unavailable("key lookup: peer down");
      return inner_.GetAccessKey(id);
    }
    Result<std::vector<AccessKeyRecord>> ListAccessKeys(const std::string& id) override {
      return inner_.ListAccessKeys(id);
    }

   private:
    const bool keys_fail_;
    FakeAccounts inner_;
  };
  FakeClock clock{kNow};
  for (bool keys_fail : {true, false}) {
    UnavailableKeys accounts(keys_fail);
    Authenticator auth(accounts, clock, 15 * 60);
    for (const HttpRequest& request : {SignedV1("POST", {{"Action", "X"}}, kNow, "n1"),
                                       SignedV3("CopyImage", {{"RegionId", "cn-hangzhou"}}, kNow, "n2")}) {
      auto params = ParseRequestParams(request);
      ASSERT_TRUE(params.ok());
      auto result = auth.Authenticate(request, *params);
      ASSERT_FALSE(result.ok());
      EXPECT_EQ(result.status().code(), Code::kUnavailable);
      EXPECT_EQ(result.status().reason(), "ServiceUnavailable");
      EXPECT_NE(result.status().message().find("peer down"), std::string::npos);
    }
    // Through the dispatcher: the ECS error body and status.
    RegionSet regions;
    Metrics metrics;
    Dispatcher dispatcher(
        ActionTable{{"X", [](ActionContext&) -> Result<nlohmann::json> { return nlohmann::json::object(); }}},
        regions, accounts, clock, metrics, "ecs.test", 900);
    HttpResponse response = dispatcher.Handle(SignedV1("POST", {{"Action", "X"}}, kNow, "n3"));
    EXPECT_EQ(response.status, 503) << response.body;
    EXPECT_EQ(nlohmann::json::parse(response.body)["Code"], "ServiceUnavailable");
  }
}

TEST_F(AuthTest, MissingAndInvalidCommonParameters) {
  HttpRequest request = SignedV1("POST", {{"Action", "X"}}, kNow, "n1");
  auto params = ParseRequestParams(request);
  ASSERT_TRUE(params.ok());
  for (const char* name : {"AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "SignatureMethod"}) {
    std::map<std::string, std::string> m = params->all();
    m.erase(name);
    auto result = auth_.Authenticate(request, Params(m));
    ASSERT_FALSE(result.ok()) << name;
    EXPECT_EQ(result.status().reason(), "MissingParameter") << name;
    EXPECT_NE(result.status().message().find(std::string("\"") + name + "\""), std::string::npos);
  }
  std::map<std::string, std::string> m = params->all();
  m["SignatureMethod"] = "HMAC-SHA256";
  auto bad_method = auth_.Authenticate(request, Params(m));
  ASSERT_FALSE(bad_method.ok());
  EXPECT_EQ(bad_method.status().reason(), "InvalidParamater");
  m = params->all();
  m["SignatureVersion"] = "2.0";
  EXPECT_EQ(auth_.Authenticate(request, Params(m)).status().reason(), "InvalidParamater");
  m = params->all();
  m["Timestamp"] = "yesterday";
  EXPECT_EQ(auth_.Authenticate(request, Params(m)).status().reason(), "InvalidTimeStamp.Format");
}

TEST_F(AuthTest, GoodV3) {
  auto result =
      Run(SignedV3("CopyImage", {{"RegionId", "cn-hangzhou"}, {"Description", "a b*~"}}, kNow, "v3n1"));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_TRUE(result->v3);
  EXPECT_EQ(result->caller.account_id, apitest::kAccountId);
}

TEST_F(AuthTest, V3Failures) {
  HttpRequest tampered = SignedV3("CopyImage", {{"RegionId", "cn-hangzhou"}}, kNow, "v3n1");
  tampered.headers["x-acs-action"] = "DeleteImage";
  auto mismatch = Run(tampered);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.status().reason(), "SignatureDoesNotMatch");
  EXPECT_TRUE(
      mismatch.status().message().starts_with("Specified signature is not matched with our calculation. "
                                              "server string to sign is:ACS3-HMAC-SHA256\n"));

  HttpRequest body_changed = SignedV3("CopyImage", {}, kNow, "v3n2", "a=1");
  body_changed.body = "a=2";
  EXPECT_EQ(Run(body_changed).status().reason(), "InvalidParameter");

  auto expired = Run(SignedV3("CopyImage", {}, kNow - 16 * 60, "v3n3"));
  EXPECT_EQ(expired.status().reason(), "InvalidTimeStamp.Expired");

  ASSERT_TRUE(Run(SignedV3("CopyImage", {}, kNow, "v3n4")).ok());
  EXPECT_EQ(Run(SignedV3("CopyImage", {}, kNow, "v3n4")).status().reason(), "SignatureNonceUsed");

  HttpRequest unsigned_date = SignedV3("CopyImage", {}, kNow, "v3n5");
  unsigned_date.headers["authorization"] =
      "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action,Signature=00";
  EXPECT_EQ(Run(unsigned_date).status().reason(), "IncompleteSignature");
}

// A megabyte of nonce is refused before it is stored (V1 and V3), and
// costs the cache nothing.
TEST_F(AuthTest, OversizedNonceIsRefused) {
  const std::string huge(1 << 20, 'n');
  auto v1 = Run(SignedV1("POST", {{"Action", "X"}}, kNow, huge));
  ASSERT_FALSE(v1.ok());
  EXPECT_EQ(v1.status().reason(), "InvalidParameter");
  EXPECT_NE(v1.status().message().find("\"SignatureNonce\""), std::string::npos);
  EXPECT_NE(v1.status().message().find("1048576 characters, at most 128"), std::string::npos);
  auto v3 = Run(SignedV3("CopyImage", {}, kNow, huge));
  ASSERT_FALSE(v3.ok());
  EXPECT_EQ(v3.status().reason(), "InvalidParameter");
  EXPECT_NE(v3.status().message().find("x-acs-signature-nonce"), std::string::npos);
  EXPECT_EQ(auth_.nonces_in_use(), 0u);
  // The longest accepted nonce still works.
  EXPECT_TRUE(
      Run(SignedV1("POST", {{"Action", "X"}}, kNow, std::string(kMaxSignatureNonceLength, 'n'))).ok());
  EXPECT_EQ(auth_.nonces_in_use(), 1u);
}

// A full cache refuses new signed requests with 503 (SDKs retry) and never
// forgets a nonce early: the first request's replay is still refused.
// Four keys share a cache of 8 nonces, 2 each at most: a key over its
// share is throttled while the others go on; a full cache is 503 for all.
TEST(AuthFullCacheTest, EachKeyHasAShareAndAFullCacheRefusesNewNoncesAndKeepsOldOnes) {
  FakeAccounts accounts;
  FakeClock clock{kNow};
  const std::vector<std::string> keys = {apitest::kKeyId, "key-2", "key-3", "key-4"};
  for (size_t i = 1; i < keys.size(); ++i) {
    ASSERT_TRUE(
        accounts.AddAccessKey(AccessKeyRecord{keys[i], apitest::kSecret, apitest::kAccountId, true, 0}).ok());
  }
  Authenticator auth(accounts, clock, 15 * 60, /*max_nonces=*/8);
  auto run = [&](const std::string& key, const std::string& nonce,
                 UnixSeconds at = kNow) -> Result<AuthResult> {
    HttpRequest request = SignedV1("POST", {{"Action", "X"}}, at, nonce, apitest::kSecret, key);
    auto params = ParseRequestParams(request);
    if (!params.ok()) return params.status();
    return auth.Authenticate(request, *params);
  };
  // The first key fills its share and is throttled; the second is not.
  ASSERT_TRUE(run(keys[0], "a").ok());
  ASSERT_TRUE(run(keys[0], "b").ok());
  auto throttled = run(keys[0], "c");
  ASSERT_FALSE(throttled.ok());
  EXPECT_EQ(throttled.status().reason(), "Throttling.User");
  EXPECT_EQ(ToEcsError(throttled.status()).http_status, 400);
  EXPECT_EQ(run(keys[0], "a").status().reason(), "SignatureNonceUsed");  // a replay is still a replay
  ASSERT_TRUE(run(keys[1], "a").ok());
  ASSERT_TRUE(run(keys[1], "b").ok());
  ASSERT_TRUE(run(keys[2], "a").ok());
  ASSERT_TRUE(run(keys[2], "b").ok());
  ASSERT_TRUE(run(keys[3], "a").ok());
  ASSERT_TRUE(run(keys[3], "b").ok());
  EXPECT_EQ(auth.nonces_in_use(), 8u);
  // Every share used: the cache is full, which is the server's problem.
  auto full = run(keys[3], "c");
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().reason(), "ServiceUnavailable");
  EXPECT_EQ(full.status().code(), Code::kUnavailable);
  EXPECT_EQ(run(keys[1], "a").status().reason(), "SignatureNonceUsed");
  EXPECT_EQ(auth.nonces_in_use(), 8u);
  // Once they can no longer pass the timestamp check they are gone, and
  // every key has its share again.
  clock.Set(kNow + 15 * 60 + 1);
  EXPECT_TRUE(run(keys[0], "c", kNow + 15 * 60 + 1).ok());
  EXPECT_TRUE(run(keys[0], "d", kNow + 15 * 60 + 1).ok());
  EXPECT_EQ(auth.nonces_in_use(), 2u);
}

// Many other requests in between do not push a nonce out.
TEST_F(AuthTest, ReplayRefusedAfterManyOtherRequests) {
  ASSERT_TRUE(Run(SignedV1("POST", {{"Action", "X"}}, kNow, "first")).ok());
  for (int i = 0; i < 2000; ++i) {
    clock_.Set(kNow + i / 4);  // ~8 minutes of traffic
    ASSERT_TRUE(Run(SignedV1("POST", {{"Action", "X"}}, kNow + i / 4, "other-" + std::to_string(i))).ok());
  }
  EXPECT_EQ(Run(SignedV1("POST", {{"Action", "X"}}, kNow, "first")).status().reason(), "SignatureNonceUsed");
  EXPECT_EQ(auth_.nonces_in_use(), 2001u);
}

// Uploads (AuthenticateV3WithoutBody) spend their nonce where the cluster's
// nonces are kept; whole requests spend theirs here (their owner process
// authenticates them). A cluster owner that answers "used" or cannot answer
// refuses the upload.
TEST_F(AuthTest, UploadNoncesAreSpentWithTheClusterNonces) {
  struct RecordingSpender final : NonceSpender {
    Status Spend(const std::string& key, const std::string& nonce, UnixSeconds timestamp) override {
      spent.push_back(key + "/" + nonce + "@" + std::to_string(timestamp));
      return answer;
    }
    std::vector<std::string> spent;
    Status answer;
  } cluster;
  auth_.SetClusterNonces(&cluster);
  auto upload = [&](const std::string& nonce) {
    HttpRequest request = SignedV3("DescribeRegions", {}, kNow, nonce);
    return auth_.AuthenticateV3WithoutBody(request, "/", {});
  };
  ASSERT_TRUE(upload("u1").ok());
  EXPECT_EQ(cluster.spent, std::vector<std::string>{"testid/u1@" + std::to_string(kNow)});
  EXPECT_EQ(auth_.nonces_in_use(), 0u);

  cluster.answer = InvalidArgument("SignatureNonceUsed", "Specified signature nonce was used already.");
  EXPECT_EQ(upload("u2").status().reason(), "SignatureNonceUsed");
  cluster.answer = Status(Code::kUnavailable, "ServiceUnavailable", "owner down");
  EXPECT_EQ(upload("u3").status().code(), Code::kUnavailable);

  // A whole request is not the cluster's to check.
  ASSERT_TRUE(Run(SignedV3("DescribeRegions", {}, kNow, "w1")).ok());
  EXPECT_EQ(cluster.spent.size(), 3u);
  EXPECT_EQ(auth_.nonces_in_use(), 1u);
  // Without cluster nonces, uploads spend here.
  auth_.SetClusterNonces(nullptr);
  ASSERT_TRUE(upload("u4").ok());
  EXPECT_EQ(upload("u4").status().reason(), "SignatureNonceUsed");
  EXPECT_EQ(auth_.nonces_in_use(), 2u);
}

// Two nodes of one region (issue 13), each with its own Authenticator and
// nonce cache, sharing a nonce ledger in a real PostgreSQL: a request
// accepted by one is a replay on the other, V1 and V3 alike.
TEST(SharedNoncesTest, ARequestAcceptedByOneNodeIsAReplayOnAnother) {
  ThrowawayPostgres server;
  ASSERT_FALSE(server.uri().empty());
  const std::string uri = server.NewDatabase();
  FakeAccounts accounts;
  FakeClock clock{kNow};
  auto ledger1 = LedgerOfNode(uri);
  auto ledger2 = LedgerOfNode(uri);
  ASSERT_NE(ledger1, nullptr);
  ASSERT_NE(ledger2, nullptr);
  Authenticator node1{accounts, clock, 15 * 60};
  Authenticator node2{accounts, clock, 15 * 60};
  node1.SetSharedNonces(ledger1.get());
  node2.SetSharedNonces(ledger2.get());
  auto run = [](Authenticator& node, const HttpRequest& request) -> Result<AuthResult> {
    auto params = ParseRequestParams(request);
    if (!params.ok()) return params.status();
    return node.Authenticate(request, *params);
  };

  const HttpRequest v1 = SignedV1("POST", {{"Action", "DescribeImages"}}, kNow, "one-use");
  auto first = run(node1, v1);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto replay = run(node2, v1);
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.status().reason(), "SignatureNonceUsed");
  EXPECT_EQ(run(node1, v1).status().reason(), "SignatureNonceUsed");

  const HttpRequest v3 = SignedV3("CopyImage", {}, kNow, "v3-one-use");
  ASSERT_TRUE(run(node2, v3).ok());
  EXPECT_EQ(run(node1, v3).status().reason(), "SignatureNonceUsed");

  EXPECT_TRUE(run(node2, SignedV1("POST", {{"Action", "DescribeImages"}}, kNow, "another")).ok());

  // The peer protocol's nonces (copy/peer_auth) take the same ledger: a
  // captured peer request replayed at the other node is refused.
  const std::string key = "cluster-key", date = FormatTimeSeconds(kNow), nonce = NewPeerNonce();
  const std::string signature = SignPeerRequest(key, "GET", "/peer/v1/x", date, nonce, "");
  NonceCache cache1(100), cache2(100);
  auto verify = [&](NonceCache& cache, NonceLedger& ledger) {
    return VerifyPeerRequest(key, "GET", "/peer/v1/x", "", date, nonce, signature, kNow, &cache,
                             kPeerMaxClockSkewSeconds, &ledger);
  };
  EXPECT_TRUE(verify(cache1, *ledger1).ok());
  EXPECT_EQ(verify(cache2, *ledger2).reason(), "Forbidden.PeerNonceUsed");
}

// Fault injection: a ledger that cannot answer.
class UnreachableLedger final : public NonceLedger {
 public:
  Result<bool> Claim(const std::array<uint8_t, 16>&, UnixSeconds, UnixSeconds) override {
    ++calls;
    return Unavailable("cannot connect to PostgreSQL at postgresql://db/ferry: connection refused");
  }
  int calls = 0;
};

TEST_F(AuthTest, ALedgerThatCannotAnswerMakesTheRequestUnavailableNotAccepted) {
  UnreachableLedger ledger;
  auth_.SetSharedNonces(&ledger);
  auto result = Run(SignedV1("POST", {{"Action", "X"}}, kNow, "while-down"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), Code::kUnavailable);
  EXPECT_EQ(result.status().reason(), "ServiceUnavailable");
  EXPECT_EQ(result.status().message().find("postgresql"), std::string::npos)
      << "the database is not named to clients";
  EXPECT_EQ(ledger.calls, 1);
  // A replay this node saw is refused without asking the ledger.
  EXPECT_EQ(Run(SignedV1("POST", {{"Action", "X"}}, kNow, "while-down")).status().reason(),
            "SignatureNonceUsed");
  EXPECT_EQ(ledger.calls, 1);

  // The peer protocol's nonces too.
  const std::string key = "cluster-key", date = FormatTimeSeconds(kNow), nonce = NewPeerNonce();
  NonceCache cache(100);
  Status peer = VerifyPeerRequest(key, "GET", "/peer/v1/x", "", date, nonce,
                                  SignPeerRequest(key, "GET", "/peer/v1/x", date, nonce, ""), kNow, &cache,
                                  kPeerMaxClockSkewSeconds, &ledger);
  EXPECT_EQ(peer.code(), Code::kUnavailable) << peer.ToString();
  EXPECT_EQ(ledger.calls, 2);
}

}  // namespace
}  // namespace ferry
