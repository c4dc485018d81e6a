#pragma once
// SubscriptionTrie: MQTT filters indexed by level, so a publish visits only the branches that
// can match instead of every subscription. Single-threaded (the io thread owns it).

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/core/subscriptions.h"

namespace holdfast::broker {

class SubscriptionTrie {
 public:
  struct Entry {
    core::Subscriber* subscriber;
    std::string filter;
    core::SubscriptionOptions options;
  };

  // Adds, or replaces the options of, (filter, subscriber). `filter` must be valid.
  void add(const std::string& filter, core::Subscriber* subscriber,
           core::SubscriptionOptions options);
  bool remove(const std::string& filter, core::Subscriber* subscriber);
  void remove_all(core::Subscriber* subscriber);

  // Appends to `out` every entry whose filter matches `topic` (MQTT rules, incl. '$').
  void match(std::string_view topic, std::vector<const Entry*>& out) const;

  std::size_t size() const { return size_; }

 private:
  struct Node {
    std::unordered_map<std::string, std::unique_ptr<Node>> children;  // exact level or "+"
    std::vector<Entry> here;                                          // filters ending at this node
    std::vector<Entry> hash;  // filters ending with '#' below this node
    bool empty() const { return children.empty() && here.empty() && hash.empty(); }
  };
  void match_from(const Node& node, const std::vector<std::string_view>& levels, std::size_t i,
                  std::vector<const Entry*>& out) const;

  Node root_;
  std::size_t size_ = 0;
  std::unordered_map<core::Subscriber*, std::vector<std::string>> by_subscriber_;
};

}  // namespace holdfast::broker
