#include "broker/router/subscription_trie.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "broker/core/address.h"

namespace holdfast::broker {
namespace {

struct Sub : core::Subscriber {
  explicit Sub(std::string id) : id(std::move(id)) {}
  void deliver(const core::Message&, const core::PublishOptions&, const std::string&,
               const core::SubscriptionOptions&, core::DurableCopies&) override {}
  const std::string& subscriber_id() const override { return id; }
  std::string id;
};

std::vector<std::string> matching_filters(const SubscriptionTrie& trie, std::string_view topic) {
  std::vector<const SubscriptionTrie::Entry*> out;
  trie.match(topic, out);
  std::vector<std::string> filters;
  for (auto* e : out) filters.push_back(e->filter + "@" + e->subscriber->subscriber_id());
  std::sort(filters.begin(), filters.end());
  return filters;
}

TEST(SubscriptionTrie, AgreesWithTopicMatchesOnRandomFiltersAndTopics) {
  std::mt19937 rng(7);
  const std::vector<std::string> words = {"a", "b", "", "$x"};
  auto random_levels = [&](bool wildcards) {
    std::string s;
    int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) {
      if (i) s += '/';
      int pick = static_cast<int>(rng() % (wildcards ? 6 : 4));
      if (pick == 4) {
        s += '+';
      } else if (pick == 5) {
        s += '#';
        break;
      } else {
        s += words[pick];
      }
    }
    return s;
  };
  Sub s1("s1"), s2("s2");
  SubscriptionTrie trie;
  std::vector<std::pair<std::string, Sub*>> subs;
  for (int i = 0; i < 200; ++i) {
    std::string f = random_levels(true);
    if (!core::is_valid_topic_filter(f)) continue;
    Sub* s = i % 2 ? &s1 : &s2;
    trie.add(f, s, {});
    if (std::find(subs.begin(), subs.end(), std::make_pair(f, s)) == subs.end()) {
      subs.emplace_back(f, s);
    }
  }
  EXPECT_EQ(trie.size(), subs.size());
  for (int i = 0; i < 500; ++i) {
    std::string topic = random_levels(false);
    std::vector<std::string> expected;
    for (auto& [f, s] : subs) {
      if (core::topic_matches(f, topic)) expected.push_back(f + "@" + s->id);
    }
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(matching_filters(trie, topic), expected) << topic;
  }
}

TEST(SubscriptionTrie, ReplaceRemoveAndRemoveAll) {
  Sub a("a"), b("b");
  SubscriptionTrie trie;
  trie.add("x/+", &a, {.max_qos = 0});
  trie.add("x/+", &a, {.max_qos = 1});  // replaces
  trie.add("x/#", &a, {});
  trie.add("x/y", &b, {});
  EXPECT_EQ(trie.size(), 3u);
  std::vector<const SubscriptionTrie::Entry*> out;
  trie.match("x/y", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(trie.remove("x/y", &b));
  EXPECT_FALSE(trie.remove("x/y", &b));
  EXPECT_FALSE(trie.remove("x/y", &a));
  trie.remove_all(&a);
  EXPECT_EQ(trie.size(), 0u);
  out.clear();
  trie.match("x/y", out);
  EXPECT_TRUE(out.empty());
}

TEST(SubscriptionTrie, DollarTopicsOnlyMatchExplicitFirstLevels) {
  Sub a("a");
  SubscriptionTrie trie;
  trie.add("#", &a, {});
  trie.add("+/status", &a, {});
  trie.add("$SYS/#", &a, {});
  EXPECT_EQ(matching_filters(trie, "$SYS/status"), std::vector<std::string>{"$SYS/#@a"});
}

}  // namespace
}  // namespace holdfast::broker
