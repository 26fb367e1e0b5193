#include "copy/peer_auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <tuple>
#include <vector>

#include "common/fs_util.h"
#include "common/hash.h"
#include "common/ids.h"

namespace ferry {
namespace {

constexpr const char* kKey = "0123456789abcdef-cluster";
constexpr const char* kTarget = "/ferry/peer/v1/regions/cn-hangzhou/snapshots/s-abc/manifest";
constexpr const char* kDate = "2026-11-26T08:30:00Z";

UnixSeconds DateSeconds() { return *ParseTime(kDate); }

constexpr const char* kNonce = "00112233445566778899aabbccddeeff";

TEST(PeerAuthTest, SignatureIsHexHmacSha256OfMethodTargetDateNonceAndBodyDigest) {
  const std::string empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  EXPECT_EQ(PeerStringToSign("GET", kTarget, kDate, kNonce, empty_sha256),
            std::string("GET\n") + kTarget + "\n" + kDate + "\n" + kNonce + "\n" + empty_sha256);
  // Computed independently (Python hmac/hashlib) from the spec's formula.
  EXPECT_EQ(SignPeerRequest(kKey, "GET", kTarget, kDate, kNonce, ""),
            "b4022c43fa30bb4b1fd98d1e89fcb29b322fd1349708082712ba905054d3bffb");
  EXPECT_EQ(SignPeerRequest(kKey, "POST", "/ferry/peer/v1/regions/cn-beijing/copies", kDate, kNonce,
                            R"({"ImageId":"m-1"})"),
            "1af1f9f927e049e4d286da2eca0902e6d76907a7b7c1c0a415274d825ba52c36");
  const std::string fresh = NewPeerNonce();
  EXPECT_EQ(fresh.size(), 32u);
  EXPECT_NE(fresh, NewPeerNonce());
}

Status Verify(std::string_view key, std::string_view method, std::string_view target, std::string_view body,
              std::string_view date, std::string_view signature, UnixSeconds now, NonceCache* nonces = nullptr,
              std::string_view nonce = kNonce) {
  return VerifyPeerRequest(key, method, target, body, date, nonce, signature, now, nonces);
}

TEST(PeerAuthTest, AcceptsAGoodSignatureInEitherCase) {
  std::string sig = SignPeerRequest(kKey, "GET", kTarget, kDate, kNonce, "");
  EXPECT_TRUE(Verify(kKey, "GET", kTarget, "", kDate, sig, DateSeconds()).ok());
  std::string upper = sig;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(Verify(kKey, "GET", kTarget, "", kDate, upper, DateSeconds() + kPeerMaxClockSkewSeconds).ok());
}

TEST(PeerAuthTest, RejectsWrongKeyTargetMethodBodyNonceOrMissingSignature) {
  std::string sig = SignPeerRequest(kKey, "GET", kTarget, kDate, kNonce, "");
  const std::string body = R"({"ImageName":"a"})";
  std::string post_sig = SignPeerRequest(kKey, "POST", kTarget, kDate, kNonce, body);
  const UnixSeconds now = DateSeconds();
  ASSERT_TRUE(Verify(kKey, "POST", kTarget, body, kDate, post_sig, now).ok());
  for (const Status& st : {
           Verify("another-cluster-key", "GET", kTarget, "", kDate, sig, now),
           Verify(kKey, "GET", std::string(kTarget) + "x", "", kDate, sig, now),
           Verify(kKey, "PUT", kTarget, "", kDate, sig, now),
           Verify(kKey, "GET", kTarget, "", kDate, "", now),
           Verify("", "GET", kTarget, "", kDate, SignPeerRequest("", "GET", kTarget, kDate, kNonce, ""), now),
           // The same signature does not carry another body, or none...
           Verify(kKey, "POST", kTarget, R"({"ImageName":"b"})", kDate, post_sig, now),
           Verify(kKey, "POST", kTarget, "", kDate, post_sig, now),
           // ...nor another nonce.
           Verify(kKey, "GET", kTarget, "", kDate, sig, now, nullptr, "ffeeddccbbaa99887766554433221100"),
       }) {
    EXPECT_EQ(st.code(), Code::kUnauthenticated) << st.ToString();
    EXPECT_EQ(st.reason(), "Forbidden.PeerSignature") << st.ToString();
  }
  for (std::string_view bad : {std::string_view(""), std::string_view("0011"),
                               std::string_view("00112233445566778899AABBCCDDEEFF")}) {
    Status st = Verify(kKey, "GET", kTarget, "", kDate, SignPeerRequest(kKey, "GET", kTarget, kDate, bad, ""),
                       now, nullptr, bad);
    EXPECT_EQ(st.reason(), "Forbidden.PeerNonce") << bad << ": " << st.ToString();
  }
}

TEST(PeerAuthTest, RejectsStaleMissingOrMalformedDates) {
  const UnixSeconds now = DateSeconds();
  auto verify = [&](const std::string& date, UnixSeconds at) {
    return Verify(kKey, "GET", kTarget, "", date, SignPeerRequest(kKey, "GET", kTarget, date, kNonce, ""), at);
  };
  EXPECT_EQ(kPeerMaxClockSkewSeconds, 300);
  EXPECT_TRUE(verify(kDate, now + kPeerMaxClockSkewSeconds).ok());
  // A date 14 minutes ahead (or behind) is far outside the window.
  for (const Status& st :
       {verify(kDate, now + kPeerMaxClockSkewSeconds + 1), verify(kDate, now - kPeerMaxClockSkewSeconds - 1),
        verify(kDate, now - 14 * 60), verify(kDate, now + 14 * 60), verify("", now),
        verify("2026-11-26T08:30Z", now), verify("yesterday", now)}) {
    EXPECT_EQ(st.code(), Code::kUnauthenticated) << st.ToString();
    EXPECT_EQ(st.reason(), "Forbidden.PeerDate") << st.ToString();
  }
  Status stale = verify(kDate, now + 3600);
  EXPECT_NE(stale.message().find("3600 s"), std::string::npos) << stale.message();
}

// A captured request is accepted once; its replay is refused for as long as
// its date could pass, and a wrongly signed request takes no cache entry.
TEST(PeerAuthTest, ReplayedNonceIsRefused) {
  NonceCache nonces(10);
  const UnixSeconds now = DateSeconds();
  const std::string sig = SignPeerRequest(kKey, "GET", kTarget, kDate, kNonce, "");
  ASSERT_TRUE(Verify(kKey, "GET", kTarget, "", kDate, sig, now, &nonces).ok());
  for (UnixSeconds at : {now, now + 1, now + kPeerMaxClockSkewSeconds}) {
    Status replay = Verify(kKey, "GET", kTarget, "", kDate, sig, at, &nonces);
    EXPECT_EQ(replay.code(), Code::kUnauthenticated) << replay.ToString();
    EXPECT_EQ(replay.reason(), "Forbidden.PeerNonceUsed") << replay.ToString();
  }
  EXPECT_EQ(Verify(kKey, "GET", kTarget, "", kDate, sig, now + kPeerMaxClockSkewSeconds + 1, &nonces).reason(),
            "Forbidden.PeerDate");
  EXPECT_EQ(Verify("wrong-key-0123456789", "GET", kTarget, "", kDate, sig, now, &nonces,
                   "ffeeddccbbaa99887766554433221100")
                .reason(),
            "Forbidden.PeerSignature");
  EXPECT_EQ(nonces.size(), 1u);
}

constexpr const char* kKeyId = "LTAI5tExampleKeyId";
constexpr const char* kSecret = "the-access-key-secret";

TEST(PeerSealTest, OpensASealMadeIndependentlyFromTheSpec) {
  // Python `cryptography` AESGCM, key HMAC-SHA256(kKey, "ferry-peer-seal-v1"),
  // nonce 00..0b, AAD = the AccessKeyId: nonce || ciphertext || tag in hex.
  const std::string golden =
      "000102030405060708090a0b93bb42ca2435fd56ff7ff496cd6659f5ccfcb305bf1c1e9bd03a38bdd8d92884d581358774";
  Result<std::string> opened = OpenPeerSecret(kKey, kKeyId, golden);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, kSecret);
}

TEST(PeerSealTest, SealsRoundTripWithAFreshNonceEachTime) {
  std::string a = SealPeerSecret(kKey, kKeyId, kSecret);
  std::string b = SealPeerSecret(kKey, kKeyId, kSecret);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 2 * (12 + std::string(kSecret).size() + 16));
  EXPECT_EQ(a.find(kSecret), std::string::npos);
  EXPECT_EQ(a.find(ToHex(std::string_view(kSecret))), std::string::npos);
  for (const std::string& sealed : {a, b}) {
    Result<std::string> opened = OpenPeerSecret(kKey, kKeyId, sealed);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(*opened, kSecret);
  }
  Result<std::string> empty = OpenPeerSecret(kKey, "k", SealPeerSecret(kKey, "k", ""));
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_EQ(*empty, "");
}

TEST(PeerSealTest, RefusesAnotherKeyAnotherContextAlteredOrMalformedText) {
  const std::string sealed = SealPeerSecret(kKey, kKeyId, kSecret);
  std::string flipped = sealed;
  flipped[30] = flipped[30] == '0' ? '1' : '0';
  for (const auto& [key, context, text] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"another-cluster-key", kKeyId, sealed},
           {kKey, "LTAI5tAnotherKeyId", sealed},
           {kKey, kKeyId, flipped},
           {kKey, kKeyId, sealed.substr(0, sealed.size() - 2)},
           {kKey, kKeyId, sealed.substr(0, 40)},
           {kKey, kKeyId, "zz" + sealed.substr(2)},
           {kKey, kKeyId, sealed.substr(1)},
       }) {
    Result<std::string> opened = OpenPeerSecret(key, context, text);
    ASSERT_FALSE(opened.ok()) << key << " " << context << " " << text;
    EXPECT_EQ(opened.status().code(), Code::kUnauthenticated);
    EXPECT_EQ(opened.status().reason(), "Forbidden.PeerSeal");
    EXPECT_NE(opened.status().message().find(context), std::string::npos) << opened.status().message();
  }
}

class ClusterKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/ferry-peer-auth-" + RandomHex(8);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ClusterKeyFileTest, GeneratesOncePrivatelyAndThenReadsTheSameKey) {
  const std::string path = dir_ + "/cluster-key";
  Result<std::string> first = LoadOrCreateClusterKey(path);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->size(), 2 * kClusterKeyRandomBytes);
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<std::string> second = LoadOrCreateClusterKey(path);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, *first);
  // Another directory gets another key.
  Result<std::string> other = LoadOrCreateClusterKey(dir_ + "/other-key");
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*other, *first);
}

TEST_F(ClusterKeyFileTest, ReadsAnOperatorWrittenKeyAndRejectsAnEmptyFile) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/given", std::string("  operator-chosen-key-0001\n"), 0600).ok());
  Result<std::string> given = LoadOrCreateClusterKey(dir_ + "/given");
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(*given, "operator-chosen-key-0001");
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/empty", std::string("\n"), 0600).ok());
  Result<std::string> empty = LoadOrCreateClusterKey(dir_ + "/empty");
  EXPECT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find(dir_ + "/empty"), std::string::npos);
}

}  // namespace
}  // namespace ferry
