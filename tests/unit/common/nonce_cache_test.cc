#include "common/nonce_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry {
namespace {

using Outcome = NonceCache::Outcome;

NonceCache::Digest D(const std::string& nonce) { return NonceCache::DigestOf("LTAIkey", nonce); }

TEST(NonceCacheTest, DigestIsSixteenBytesAndScoped) {
  static_assert(sizeof(NonceCache::Digest) == 16);
  EXPECT_EQ(NonceCache::DigestOf("k1", "n"), NonceCache::DigestOf("k1", "n"));
  EXPECT_NE(NonceCache::DigestOf("k1", "n"), NonceCache::DigestOf("k2", "n"));
  // The separator keeps "k1"+"\nn" apart from "k1\n"+"n" only by the scope
  // being an id without newlines; the nonce's whole length counts.
  EXPECT_NE(NonceCache::DigestOf("k1", "n"), NonceCache::DigestOf("k1", "nn"));
}

TEST(NonceCacheTest, ReplayRefusedUntilExpiry) {
  NonceCache cache(10);
  EXPECT_EQ(cache.CheckAndInsert(D("a"), 100, 200), Outcome::kAccepted);
  EXPECT_EQ(cache.CheckAndInsert(D("a"), 150, 250), Outcome::kReplayed);
  EXPECT_EQ(cache.CheckAndInsert(D("a"), 200, 300), Outcome::kReplayed);  // expiry is inclusive
  EXPECT_EQ(cache.CheckAndInsert(D("a"), 201, 300), Outcome::kAccepted);
}

TEST(NonceCacheTest, FullCacheRefusesRatherThanEvicts) {
  NonceCache cache(3);
  EXPECT_EQ(cache.CheckAndInsert(D("a"), 100, 200), Outcome::kAccepted);
  EXPECT_EQ(cache.CheckAndInsert(D("b"), 100, 300), Outcome::kAccepted);
  EXPECT_EQ(cache.CheckAndInsert(D("c"), 100, 400), Outcome::kAccepted);
  EXPECT_EQ(cache.CheckAndInsert(D("d"), 100, 500), Outcome::kFull);
  EXPECT_EQ(cache.size(), 3u);
  // Nothing was evicted: every stored nonce is still a replay.
  for (const char* n : {"a", "b", "c"}) EXPECT_EQ(cache.CheckAndInsert(D(n), 150, 500), Outcome::kReplayed);
  // Room comes back only as entries expire.
  EXPECT_EQ(cache.CheckAndInsert(D("d"), 201, 500), Outcome::kAccepted);
  EXPECT_EQ(cache.CheckAndInsert(D("e"), 201, 500), Outcome::kFull);
  EXPECT_EQ(cache.CheckAndInsert(D("b"), 201, 500), Outcome::kReplayed);
}

TEST(NonceCacheTest, SizeStaysBoundedUnderLoad) {
  NonceCache cache(1000);
  size_t full = 0;
  for (int i = 0; i < 100000; ++i) {
    // One request a "second" tick every 10 requests, each valid 60 s: at
    // most 600 live at once, so the cap is never reached...
    UnixSeconds now = i / 10;
    EXPECT_NE(cache.CheckAndInsert(D("n" + std::to_string(i)), now, now + 60), Outcome::kReplayed);
    ASSERT_LE(cache.size(), 1000u);
  }
  EXPECT_LE(cache.size(), 610u);
  // ...and with a long validity the cap holds and the overflow is refused.
  for (int i = 0; i < 5000; ++i) {
    if (cache.CheckAndInsert(D("m" + std::to_string(i)), 10000, 1'000'000) == Outcome::kFull) ++full;
    ASSERT_LE(cache.size(), 1000u);
  }
  EXPECT_EQ(cache.size(), 1000u);
  EXPECT_GE(full, 4000u);
}

}  // namespace
TEST(NonceCacheTest, EachScopeHasAShareThatExpiryGivesBack) {
  NonceCache cache(10, 3);
  const uint64_t alice = NonceCache::ScopeOf("alice"), bob = NonceCache::ScopeOf("bob");
  EXPECT_NE(alice, bob);
  for (const char* n : {"a1", "a2", "a3"}) EXPECT_EQ(cache.CheckAndInsert(D(n), 100, 200, alice), Outcome::kAccepted);
  EXPECT_EQ(cache.CheckAndInsert(D("a4"), 100, 300, alice), Outcome::kScopeFull);
  EXPECT_EQ(cache.CheckAndInsert(D("a1"), 100, 300, alice), Outcome::kReplayed);
  EXPECT_EQ(cache.CheckAndInsert(D("b1"), 100, 300, bob), Outcome::kAccepted);
  EXPECT_EQ(cache.size(), 4u);
  // Alice's three expire at 200: her share is back, Bob's entry stays.
  EXPECT_EQ(cache.CheckAndInsert(D("a4"), 201, 400, alice), Outcome::kAccepted);
  EXPECT_EQ(cache.CheckAndInsert(D("b1"), 201, 400, bob), Outcome::kReplayed);
  EXPECT_EQ(cache.size(), 2u);
  // Without a share, one scope may take the whole cache.
  NonceCache whole(3);
  for (const char* n : {"x", "y", "z"}) EXPECT_EQ(whole.CheckAndInsert(D(n), 100, 200, alice), Outcome::kAccepted);
  EXPECT_EQ(whole.CheckAndInsert(D("w"), 100, 200, alice), Outcome::kFull);
}

}  // namespace ferry
