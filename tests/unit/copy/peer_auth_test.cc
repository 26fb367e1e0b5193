#include "copy/peer_auth.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/fs_util.h"
#include "common/ids.h"

namespace ferry {
namespace {

constexpr const char* kKey = "0123456789abcdef-cluster";
constexpr const char* kTarget = "/ferry/peer/v1/regions/cn-hangzhou/snapshots/s-abc/manifest";
constexpr const char* kDate = "2026-11-26T08:30:00Z";

UnixSeconds DateSeconds() { return *ParseTime(kDate); }

TEST(PeerAuthTest, SignatureIsHexHmacSha256OfMethodTargetDate) {
  EXPECT_EQ(PeerStringToSign("GET", kTarget, kDate), std::string("GET\n") + kTarget + "\n" + kDate);
  // Computed independently (Python hmac) from the spec's formula.
  EXPECT_EQ(SignPeerRequest(kKey, "GET", kTarget, kDate),
            "2f354ddb6eab6950608af837be81ce7ef2ac2cf131bfd5fe99fc52d0a5ccf766");
}

TEST(PeerAuthTest, AcceptsAGoodSignatureInEitherCase) {
  std::string sig = SignPeerRequest(kKey, "GET", kTarget, kDate);
  EXPECT_TRUE(VerifyPeerRequest(kKey, "GET", kTarget, kDate, sig, DateSeconds()).ok());
  std::string upper = sig;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(VerifyPeerRequest(kKey, "GET", kTarget, kDate, upper, DateSeconds() + 899).ok());
}

TEST(PeerAuthTest, RejectsWrongKeyTargetMethodOrMissingSignature) {
  std::string sig = SignPeerRequest(kKey, "GET", kTarget, kDate);
  const UnixSeconds now = DateSeconds();
  for (const Status& st : {
           VerifyPeerRequest("another-cluster-key", "GET", kTarget, kDate, sig, now),
           VerifyPeerRequest(kKey, "GET", std::string(kTarget) + "x", kDate, sig, now),
           VerifyPeerRequest(kKey, "PUT", kTarget, kDate, sig, now),
           VerifyPeerRequest(kKey, "GET", kTarget, kDate, "", now),
           VerifyPeerRequest("", "GET", kTarget, kDate, SignPeerRequest("", "GET", kTarget, kDate), now),
       }) {
    EXPECT_EQ(st.code(), Code::kUnauthenticated) << st.ToString();
    EXPECT_EQ(st.reason(), "Forbidden.PeerSignature") << st.ToString();
  }
}

TEST(PeerAuthTest, RejectsStaleMissingOrMalformedDates) {
  const UnixSeconds now = DateSeconds();
  auto verify = [&](const std::string& date, UnixSeconds at) {
    return VerifyPeerRequest(kKey, "GET", kTarget, date, SignPeerRequest(kKey, "GET", kTarget, date), at);
  };
  EXPECT_TRUE(verify(kDate, now + kPeerMaxClockSkewSeconds).ok());
  for (const Status& st :
       {verify(kDate, now + kPeerMaxClockSkewSeconds + 1), verify(kDate, now - kPeerMaxClockSkewSeconds - 1),
        verify("", now), verify("2026-11-26T08:30Z", now), verify("yesterday", now)}) {
    EXPECT_EQ(st.code(), Code::kUnauthenticated) << st.ToString();
    EXPECT_EQ(st.reason(), "Forbidden.PeerDate") << st.ToString();
  }
  Status stale = verify(kDate, now + 3600);
  EXPECT_NE(stale.message().find("3600 s"), std::string::npos) << stale.message();
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
