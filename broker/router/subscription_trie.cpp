#include "broker/router/subscription_trie.h"

#include <algorithm>

#include "broker/core/address.h"

namespace holdfast::broker {

void SubscriptionTrie::add(const std::string& filter, core::Subscriber* subscriber,
                           core::SubscriptionOptions options) {
  auto levels = core::split_address(filter);
  Node* node = &root_;
  bool hash = levels.back() == "#";
  std::size_t depth = hash ? levels.size() - 1 : levels.size();
  for (std::size_t i = 0; i < depth; ++i) {
    auto& child = node->children[std::string(levels[i])];
    if (!child) child = std::make_unique<Node>();
    node = child.get();
  }
  auto& entries = hash ? node->hash : node->here;
  for (auto& e : entries) {
    if (e.subscriber == subscriber) {
      e.options = options;
      return;
    }
  }
  entries.push_back({subscriber, filter, options});
  by_subscriber_[subscriber].push_back(filter);
  ++size_;
}

bool SubscriptionTrie::remove(const std::string& filter, core::Subscriber* subscriber) {
  auto levels = core::split_address(filter);
  bool hash = levels.back() == "#";
  std::size_t depth = hash ? levels.size() - 1 : levels.size();
  std::vector<std::pair<Node*, std::string>> path;  // to prune empty nodes afterwards
  Node* node = &root_;
  for (std::size_t i = 0; i < depth; ++i) {
    auto it = node->children.find(std::string(levels[i]));
    if (it == node->children.end()) return false;
    path.emplace_back(node, std::string(levels[i]));
    node = it->second.get();
  }
  auto& entries = hash ? node->hash : node->here;
  auto it = std::find_if(entries.begin(), entries.end(),
                         [&](const Entry& e) { return e.subscriber == subscriber; });
  if (it == entries.end()) return false;
  entries.erase(it);
  --size_;
  auto& filters = by_subscriber_[subscriber];
  filters.erase(std::find(filters.begin(), filters.end(), filter));
  if (filters.empty()) by_subscriber_.erase(subscriber);
  for (auto p = path.rbegin(); p != path.rend(); ++p) {
    auto child = p->first->children.find(p->second);
    if (!child->second->empty()) break;
    p->first->children.erase(child);
  }
  return true;
}

void SubscriptionTrie::remove_all(core::Subscriber* subscriber) {
  auto it = by_subscriber_.find(subscriber);
  if (it == by_subscriber_.end()) return;
  std::vector<std::string> filters = it->second;  // remove() edits the original
  for (const auto& f : filters) remove(f, subscriber);
}

void SubscriptionTrie::match(std::string_view topic, std::vector<const Entry*>& out) const {
  auto levels = core::split_address(topic);
  bool dollar = !topic.empty() && topic.front() == '$';
  if (dollar) {
    // Wildcards in the first level never match '$' topics: only the exact first level.
    auto it = root_.children.find(std::string(levels[0]));
    if (it != root_.children.end()) match_from(*it->second, levels, 1, out);
    return;
  }
  match_from(root_, levels, 0, out);
}

void SubscriptionTrie::match_from(const Node& node, const std::vector<std::string_view>& levels,
                                  std::size_t i, std::vector<const Entry*>& out) const {
  for (const auto& e : node.hash) out.push_back(&e);  // '#' also matches the parent level
  if (i == levels.size()) {
    for (const auto& e : node.here) out.push_back(&e);
    return;
  }
  if (auto it = node.children.find(std::string(levels[i])); it != node.children.end()) {
    match_from(*it->second, levels, i + 1, out);
  }
  if (levels[i] != "+") {
    if (auto it = node.children.find("+"); it != node.children.end()) {
      match_from(*it->second, levels, i + 1, out);
    }
  }
}

}  // namespace holdfast::broker
