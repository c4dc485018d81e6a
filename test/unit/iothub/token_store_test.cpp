#include "broker/iothub/token_store.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace holdfast::iothub {
namespace {

TEST(TokenStore, KeepsTheLongerLivedTokenUntilItExpires) {
  TokenStore store;
  store.put("dev1", {"t-200", 200, false});
  store.put("dev1", {"t-100", 100, true});  // expires earlier: ignored
  auto kept = store.get("dev1", 150);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->token, "t-200");
  EXPECT_FALSE(kept->verified);
  store.put("dev1", {"t-300", 300, true});
  EXPECT_EQ(store.get("dev1", 150)->token, "t-300");
  EXPECT_FALSE(store.get("dev1", 300));  // expired at its `se`
  EXPECT_FALSE(store.get("dev2", 0));
}

TEST(TokenStore, ExpireForgetsOnlyExpiredTokens) {
  TokenStore store;
  store.put("a", {"x", 10, false});
  store.put("b", {"y", 20, false});
  EXPECT_EQ(store.expire(15), 1u);
  EXPECT_EQ(store.size(), 1u);
  EXPECT_TRUE(store.get("b", 15));
}

TEST(TokenStore, ConcurrentPutsAndGetsAreSafe) {
  TokenStore store;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 1000; ++i) {
        store.put("dev" + std::to_string(i % 10), {"t", 1000 + i, t % 2 == 0});
        (void)store.get("dev" + std::to_string(i % 10), 500);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(store.size(), 10u);
  EXPECT_EQ(store.get("dev9", 0)->expiry_s, 1999);  // the longest-lived one of dev9
}

}  // namespace
}  // namespace holdfast::iothub
