#include "api/peer_accounts.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/auth.h"
#include "api/dispatcher.h"
#include "api/errors.h"
#include "copy/peer_auth.h"
#include "copy/peer_wire.h"
#include "unit/api/api_fakes.h"

namespace ferry {
namespace {

using nlohmann::json;

constexpr const char* kClusterKey = "0123456789abcdef0123456789abcdef";
constexpr const char* kPeerKeyId = "PeerKey0001";
constexpr const char* kPeerSecret = "peer-secret-value";
constexpr const char* kPeerAccountId = "9999888877776666";
constexpr UnixSeconds kNow = 1790000000;

// Wall time fixed; steady time moved by the test.
class StepClock final : public Clock {
 public:
  UnixSeconds Now() const override { return kNow; }
  std::chrono::steady_clock::time_point Steady() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return steady_;
  }
  void Advance(std::chrono::seconds d) {
    std::lock_guard<std::mutex> lock(mu_);
    steady_ += d;
  }

 private:
  mutable std::mutex mu_;
  std::chrono::steady_clock::time_point steady_{std::chrono::hours(1000)};
};

// A peer that knows some keys, or fails every call on cue.
class FakePeerClient final : public PeerClient {
 public:
  explicit FakePeerClient(std::string url) : url_(std::move(url)) {}

  Result<PeerResponse> Call(const std::string& method, const std::string& target, const std::string& body,
                            int /*timeout_ms*/, uint64_t /*max_response_bytes*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(method + " " + target + (body.empty() ? "" : " " + body));
    if (!fail_.ok()) return fail_;
    auto it = answers_.find(target);
    if (it == answers_.end()) return NotFound("InvalidAccessKeyId.NotFound", "no key at " + url_);
    PeerResponse response;
    response.status = 200;
    response.content_type = "application/json";
    response.body.assign(it->second.begin(), it->second.end());
    return response;
  }
  const std::string& base_url() const override { return url_; }
  void Warm(const std::string& /*target*/, unsigned /*connections*/, int /*timeout_ms*/) override {}
  std::chrono::microseconds min_round_trip() const override { return {}; }

  void Answer(const std::string& key_id, const std::string& body) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_[std::string(kPeerAccessKeyPathPrefix) + key_id] = body;
  }
  void AnswerAt(const std::string& target, const std::string& body) {
    std::lock_guard<std::mutex> lock(mu_);
    answers_[target] = body;
  }
  void FailWith(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    fail_ = std::move(status);
  }
  std::vector<std::string> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }

 private:
  const std::string url_;
  mutable std::mutex mu_;
  Status fail_;
  std::map<std::string, std::string> answers_;
  std::vector<std::string> calls_;
};

json PeerAnswer(const std::string& key_id = kPeerKeyId, const std::string& secret = kPeerSecret,
                const std::string& cluster_key = kClusterKey) {
  return json{{"AccessKeyId", key_id},
              {"AccountId", kPeerAccountId},
              {"AccountName", "carol"},
              {"IsRoot", false},
              {"Enabled", true},
              {"CreationTime", 1700000000},
              {"SealedSecret", SealPeerSecret(cluster_key, key_id, secret)}};
}

class PeerAccountsTest : public ::testing::Test {
 protected:
  // Two peers, asked in this order.
  void Build(const PeerAccountOptions& options = {}) {
    auto first = std::make_unique<FakePeerClient>("http://10.0.0.1:8080");
    auto second = std::make_unique<FakePeerClient>("http://10.0.0.2:8080");
    first_ = first.get();
    second_ = second.get();
    std::vector<std::unique_ptr<PeerClient>> peers;
    peers.push_back(std::move(first));
    peers.push_back(std::move(second));
    directory_ = NewPeerAccountDirectory(local_, std::move(peers), kClusterKey, clock_, options);
  }

  size_t Calls() const { return first_->calls().size() + second_->calls().size(); }

  apitest::FakeAccounts local_;
  StepClock clock_;
  FakePeerClient* first_ = nullptr;
  FakePeerClient* second_ = nullptr;
  std::unique_ptr<AccountDirectory> directory_;
};

TEST_F(PeerAccountsTest, LocalKeyNeverAsksPeers) {
  Build();
  second_->Answer(apitest::kKeyId, PeerAnswer(apitest::kKeyId, "other").dump());
  Result<AccessKeyRecord> key = directory_->GetAccessKey(apitest::kKeyId);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->access_key_secret, apitest::kSecret);
  Result<AccountRecord> account = directory_->GetAccount(apitest::kAccountId);
  ASSERT_TRUE(account.ok());
  EXPECT_TRUE(account->is_root);
  EXPECT_EQ(Calls(), 0u);
}

TEST_F(PeerAccountsTest, PeerKeyIsFoundInOrderAndCachedWithItsAccount) {
  Build();
  second_->Answer(kPeerKeyId, PeerAnswer().dump());
  // Neither peer answers for the account itself yet (both are asked).
  EXPECT_EQ(directory_->GetAccount(kPeerAccountId).status().code(), Code::kNotFound);
  EXPECT_EQ(Calls(), 2u);
  Build();
  second_->Answer(kPeerKeyId, PeerAnswer().dump());

  Result<AccessKeyRecord> key = directory_->GetAccessKey(kPeerKeyId);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_EQ(key->access_key_secret, kPeerSecret);
  EXPECT_EQ(key->account_id, kPeerAccountId);
  EXPECT_TRUE(key->enabled);
  EXPECT_EQ(key->creation_time, 1700000000);
  EXPECT_EQ(first_->calls(), std::vector<std::string>{"GET /ferry/peer/v1/access-keys/PeerKey0001"});
  EXPECT_EQ(second_->calls(), std::vector<std::string>{"GET /ferry/peer/v1/access-keys/PeerKey0001"});

  Result<AccountRecord> account = directory_->GetAccount(kPeerAccountId);
  ASSERT_TRUE(account.ok()) << account.status().ToString();
  EXPECT_EQ(account->name, "carol");
  EXPECT_FALSE(account->is_root);

  // Cached: no second fan-out within five minutes...
  clock_.Advance(std::chrono::seconds(299));
  ASSERT_TRUE(directory_->GetAccessKey(kPeerKeyId).ok());
  EXPECT_EQ(Calls(), 2u);
  // ...asked again after.
  clock_.Advance(std::chrono::seconds(2));
  ASSERT_TRUE(directory_->GetAccessKey(kPeerKeyId).ok());
  EXPECT_EQ(Calls(), 4u);
}

TEST_F(PeerAccountsTest, UnknownKeyIsNotFoundAndCachedBriefly) {
  Build();
  Result<AccessKeyRecord> key = directory_->GetAccessKey("NoSuchKey");
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), Code::kNotFound);
  EXPECT_EQ(Calls(), 2u);

  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(directory_->GetAccessKey("NoSuchKey").status().code(), Code::kNotFound);
  clock_.Advance(std::chrono::seconds(9));
  EXPECT_EQ(directory_->GetAccessKey("NoSuchKey").status().code(), Code::kNotFound);
  EXPECT_EQ(Calls(), 2u);

  // Once the miss expires a key created meanwhile is found.
  first_->Answer("NoSuchKey", PeerAnswer("NoSuchKey").dump());
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_TRUE(directory_->GetAccessKey("NoSuchKey").ok());
}

TEST_F(PeerAccountsTest, MalformedKeyIdsAreNeverSentToPeers) {
  Build();
  for (const char* id : {"", "..", "a/b", "a?b", "a b", "%2e%2e"}) {
    EXPECT_EQ(directory_->GetAccessKey(id).status().code(), Code::kNotFound) << id;
  }
  EXPECT_EQ(Calls(), 0u);
}

TEST_F(PeerAccountsTest, UnreachablePeerMakesAnUnknownKeyUnavailableNotMissing) {
  Build();
  first_->FailWith(Unavailable("connection refused"));
  Result<AccessKeyRecord> key = directory_->GetAccessKey(kPeerKeyId);
  ASSERT_FALSE(key.ok());
  EXPECT_EQ(key.status().code(), Code::kUnavailable);
  EXPECT_EQ(key.status().reason(), "ServiceUnavailable");
  EXPECT_NE(key.status().message().find(kPeerKeyId), std::string::npos);
  EXPECT_EQ(ToEcsError(key.status()).http_status, 503);
  // The reachable peer was still asked.
  EXPECT_EQ(second_->calls().size(), 1u);

  // Not cached as missing: once the peer is back (and its back-off over),
  // the key is found.
  first_->FailWith(Status::Ok());
  first_->Answer(kPeerKeyId, PeerAnswer().dump());
  clock_.Advance(std::chrono::seconds(6));
  Result<AccessKeyRecord> again = directory_->GetAccessKey(kPeerKeyId);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->access_key_secret, kPeerSecret);
}

TEST_F(PeerAccountsTest, FailedPeerIsSkippedForItsBackOff) {
  Build();
  first_->FailWith(Unavailable("timed out"));
  second_->Answer(kPeerKeyId, PeerAnswer().dump());
  // A key another peer holds is found in spite of the failed one.
  ASSERT_TRUE(directory_->GetAccessKey(kPeerKeyId).ok());
  EXPECT_EQ(first_->calls().size(), 1u);
  // Within the back-off the failed peer is not asked, and counts as failed.
  EXPECT_EQ(directory_->GetAccessKey("OtherKey").status().code(), Code::kUnavailable);
  EXPECT_EQ(first_->calls().size(), 1u);
  EXPECT_EQ(second_->calls().size(), 2u);
  clock_.Advance(std::chrono::seconds(6));
  EXPECT_EQ(directory_->GetAccessKey("OtherKey").status().code(), Code::kUnavailable);
  EXPECT_EQ(first_->calls().size(), 2u);
}

TEST_F(PeerAccountsTest, PeerThatRefusesOurClusterKeyCountsAsFailed) {
  Build();
  first_->FailWith(PermissionDenied("Forbidden.PeerSignature", "bad signature"));
  EXPECT_EQ(directory_->GetAccessKey(kPeerKeyId).status().code(), Code::kUnavailable);
}

TEST_F(PeerAccountsTest, TamperedOrMisdirectedSealsAreNotTrusted) {
  Build();
  json tampered = PeerAnswer();
  std::string sealed = tampered["SealedSecret"];
  sealed[sealed.size() / 2] = sealed[sealed.size() / 2] == '0' ? '1' : '0';
  tampered["SealedSecret"] = sealed;

  json other_key = PeerAnswer();
  // A genuine seal, but of another key's secret.
  other_key["SealedSecret"] = SealPeerSecret(kClusterKey, "AnotherKey", kPeerSecret);

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tampered", tampered.dump()},
      {"sealed for another key", other_key.dump()},
      {"another cluster key", PeerAnswer(kPeerKeyId, kPeerSecret, "fedcba9876543210fedcba9876543210").dump()},
      {"record of another key", PeerAnswer("AnotherKey").dump()},
      {"not json", "<html>"},
      {"missing field", json{{"AccessKeyId", kPeerKeyId}}.dump()},
      {"wrong type", [] {
         json j = PeerAnswer();
         j["Enabled"] = "yes";
         return j.dump();
       }()}};
  for (const auto& [what, body] : cases) {
    Build();
    first_->Answer(kPeerKeyId, body);
    Result<AccessKeyRecord> key = directory_->GetAccessKey(kPeerKeyId);
    ASSERT_FALSE(key.ok()) << what;
    EXPECT_EQ(key.status().code(), Code::kUnavailable) << what << ": " << key.status().ToString();
    EXPECT_FALSE(directory_->GetAccount(kPeerAccountId).ok()) << what;
  }
}

// The local directory failing (not "not found") is its own answer: the
// peers are not asked to cover for it.
TEST_F(PeerAccountsTest, LocalFailuresOtherThanNotFoundPassThrough) {
  class BrokenDirectory final : public AccountDirectory {
   public:
    Status CreateAccount(const AccountRecord&) override { return Internal("disk"); }
    Result<AccountRecord> GetAccount(const std::string&) override { return Internal("disk"); }
    Result<AccountRecord> FindAccountByName(const std::string&) override { return Internal("disk"); }
    Result<std::vector<AccountRecord>> ListAccounts() override { return Internal("disk"); }
    Status AddAccessKey(const AccessKeyRecord&) override { return Internal("disk"); }
    Result<AccessKeyRecord> GetAccessKey(const std::string&) override { return Internal("disk"); }
    Result<std::vector<AccessKeyRecord>> ListAccessKeys(const std::string&) override {
      return Internal("disk");
    }
  } broken;
  auto peer = std::make_unique<FakePeerClient>("http://10.0.0.1:8080");
  FakePeerClient* raw = peer.get();
  raw->Answer(kPeerKeyId, PeerAnswer().dump());
  std::vector<std::unique_ptr<PeerClient>> peers;
  peers.push_back(std::move(peer));
  auto directory = NewPeerAccountDirectory(broken, std::move(peers), kClusterKey, clock_);
  EXPECT_EQ(directory->GetAccessKey(kPeerKeyId).status().code(), Code::kInternal);
  EXPECT_EQ(directory->GetAccount(kPeerAccountId).status().code(), Code::kInternal);
  EXPECT_TRUE(raw->calls().empty());
}

TEST_F(PeerAccountsTest, CacheIsBounded) {
  PeerAccountOptions options;
  options.max_cached_keys = 2;
  Build(options);
  for (const char* id : {"Miss1", "Miss2", "Miss3"}) {
    EXPECT_EQ(directory_->GetAccessKey(id).status().code(), Code::kNotFound);
  }
  EXPECT_EQ(Calls(), 6u);
  // Miss1 was dropped to make room; Miss3 is still cached.
  EXPECT_EQ(directory_->GetAccessKey("Miss3").status().code(), Code::kNotFound);
  EXPECT_EQ(Calls(), 6u);
  EXPECT_EQ(directory_->GetAccessKey("Miss1").status().code(), Code::kNotFound);
  EXPECT_EQ(Calls(), 8u);
}

TEST_F(PeerAccountsTest, WritesAndListsGoToTheLocalDirectory) {
  Build();
  ASSERT_TRUE(directory_->CreateAccount(AccountRecord{"5555", "dave", false, 0}).ok());
  ASSERT_TRUE(directory_->AddAccessKey(AccessKeyRecord{"DaveKey", "s", "5555", true, 0}).ok());
  EXPECT_TRUE(local_.GetAccessKey("DaveKey").ok());
  EXPECT_TRUE(directory_->FindAccountByName("dave").ok());
  Result<std::vector<AccessKeyRecord>> keys = directory_->ListAccessKeys("5555");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(keys->size(), 1u);
  EXPECT_EQ(Calls(), 0u);
}

// The point of it all: a request signed with a key held by another process
// authenticates here, as that key's account.
TEST_F(PeerAccountsTest, AuthenticatorAcceptsAPeersKey) {
  Build();
  second_->Answer(kPeerKeyId, PeerAnswer().dump());
  apitest::FakeClock wall(kNow);
  Authenticator auth(*directory_, wall, 15 * 60);
  HttpRequest request =
      apitest::SignedV1("POST", {{"Action", "DescribeImages"}}, kNow, "n1", kPeerSecret, kPeerKeyId);
  Result<Params> params = ParseRequestParams(request);
  ASSERT_TRUE(params.ok());
  Result<AuthResult> result = auth.Authenticate(request, *params);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->caller.account_id, kPeerAccountId);
  EXPECT_FALSE(result->is_root);

  HttpRequest forged =
      apitest::SignedV1("POST", {{"Action", "DescribeImages"}}, kNow, "n2", "guessed", kPeerKeyId);
  params = ParseRequestParams(forged);
  ASSERT_TRUE(params.ok());
  EXPECT_EQ(auth.Authenticate(forged, *params).status().reason(), "SignatureDoesNotMatch");
}

// An account made in another process whose keys were never used here (the
// recipient of a share, say) is found by asking the peers, and cached.
TEST_F(PeerAccountsTest, AnAccountOnlyAPeerKnowsIsAskedForAndCached) {
  Build();
  const json carol = {{"AccountId", kPeerAccountId}, {"AccountName", "carol"}, {"IsRoot", false},
                      {"CreationTime", 1700000000}};
  second_->AnswerAt(PeerAccountPath(kPeerAccountId), carol.dump());
  Result<AccountRecord> account = directory_->GetAccount(kPeerAccountId);
  ASSERT_TRUE(account.ok()) << account.status().ToString();
  EXPECT_EQ(account->name, "carol");
  EXPECT_FALSE(account->is_root);
  EXPECT_EQ(account->creation_time, 1700000000);
  EXPECT_EQ(Calls(), 2u);  // the first peer did not know it
  ASSERT_TRUE(directory_->GetAccount(kPeerAccountId).ok());
  EXPECT_EQ(Calls(), 2u);

  // Unknown everywhere: not found, and not cached (made-up ids cost no memory).
  EXPECT_EQ(directory_->GetAccount("1212121212121212").status().code(), Code::kNotFound);
  EXPECT_EQ(Calls(), 4u);
  // Ids that are not digits never leave the process.
  for (const std::string& id : {std::string(), std::string(".."), std::string("a/b"), std::string("12 34"),
                                 std::string(33, '1')}) {
    EXPECT_EQ(directory_->GetAccount(id).status().code(), Code::kNotFound) << id;
  }
  EXPECT_EQ(Calls(), 4u);
  // A peer that answers for another account is not trusted; one that cannot
  // answer makes the account unavailable, not missing.
  first_->AnswerAt(PeerAccountPath("1111111111111111"), carol.dump());
  EXPECT_EQ(directory_->GetAccount("1111111111111111").status().code(), Code::kUnavailable);
  clock_.Advance(std::chrono::seconds(6));
  second_->FailWith(Unavailable("connection refused"));
  Result<AccountRecord> down = directory_->GetAccount("2222222222222222");
  EXPECT_EQ(down.status().code(), Code::kUnavailable);
  EXPECT_EQ(ToEcsError(down.status()).http_status, 503);
}

}  // namespace
}  // namespace ferry
