// PgNonceLedger on a real PostgreSQL server: a nonce spent on one node is
// refused on another until it expires (issue 13: a security property), and
// nodes claiming the same nonces at once each win a nonce exactly once.
#include "catalog/pg_nonce_ledger.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "throwaway_postgres.h"

namespace ferry {
namespace {

class PgNonceLedgerTest : public PostgresTest {
 protected:
  std::unique_ptr<PgNonceLedger> Node() { return LedgerOfNode(uri_); }
};

TEST_F(PgNonceLedgerTest, ANonceSpentOnOneNodeIsRefusedOnAnotherUntilItExpires) {
  auto node1 = Node();
  auto node2 = Node();
  ASSERT_NE(node1, nullptr);
  ASSERT_NE(node2, nullptr);
  const NonceCache::Digest nonce = NonceCache::DigestOf("LTAIkey", "a1b2c3");
  const NonceCache::Digest other_key = NonceCache::DigestOf("LTAIother", "a1b2c3");

  EXPECT_TRUE(node1->Claim(nonce, 1000, 1900).value());
  EXPECT_FALSE(node2->Claim(nonce, 1001, 1901).value()) << "replayed on another node";
  EXPECT_FALSE(node1->Claim(nonce, 1002, 1902).value()) << "replayed on the same node";
  EXPECT_TRUE(node2->Claim(other_key, 1003, 1903).value()) << "the same nonce of another key is its own";
  EXPECT_FALSE(node2->Claim(nonce, 1900, 2800).value()) << "refused up to its expiry, inclusive";

  // Expired: the nonce may be used again (its request would fail the
  // timestamp check anyway), and Expire removes what is left.
  EXPECT_TRUE(node2->Claim(nonce, 1901, 2801).value());
  EXPECT_FALSE(node1->Claim(nonce, 1902, 2802).value());
  EXPECT_EQ(node1->Expire(1904).value(), 1u) << "other_key's claim expired at 1903";
  EXPECT_EQ(node1->Expire(1904).value(), 0u);
  EXPECT_FALSE(node1->Claim(nonce, 1905, 2805).value()) << "Expire took an unexpired claim";
}

TEST_F(PgNonceLedgerTest, NodesClaimingTheSameNoncesAtOnceEachWinANonceOnce) {
  constexpr int kNodes = 6;
  constexpr int kNonces = 300;
  std::vector<std::unique_ptr<PgNonceLedger>> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.push_back(Node());
    ASSERT_NE(nodes.back(), nullptr);
  }
  std::vector<std::atomic<int>> wins(kNonces);
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < kNonces; ++n) {
        // Each node walks the nonces from a different place.
        const int which = (n + i * 37) % kNonces;
        auto won = nodes[i]->Claim(NonceCache::DigestOf("LTAIkey", std::to_string(which)), 5000, 5900);
        if (!won.ok()) {
          ++errors;
        } else if (*won) {
          ++wins[which];
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  for (int n = 0; n < kNonces; ++n) EXPECT_EQ(wins[n].load(), 1) << "nonce " << n;
}

}  // namespace
}  // namespace ferry
