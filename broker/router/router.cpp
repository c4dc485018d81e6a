#include "broker/router/router.h"

#include <algorithm>

namespace holdfast::broker {

Router::Router(core::EventLoop& loop, core::QueueStore& store, RouteTable routes)
    : loop_(loop), store_(store), routes_(std::move(routes)) {}

void Router::submit(core::Message message, core::PublishOptions options,
                    core::Callback<void> done) {
  ++counters_.received[static_cast<std::size_t>(message.origin.protocol) % 5];
  core::DurableCopies durable;
  deliver_live(message, options, durable);

  std::vector<std::string> queues = routes_.resolve(message.address, message.origin);
  auto& copies = durable.copies();
  if (queues.empty() && copies.empty()) {
    if (matches_.empty()) {
      ++counters_.no_route;
      done(core::error(core::Code::kNotFound,
                       "no route or subscriber for address '" + message.address + "'"));
    } else {
      done({});
    }
    return;
  }
  // One atomic append: the routed queues, then the subscribers' durable copies.
  std::vector<core::AppendRequest> batch(queues.size() + copies.size());
  for (std::size_t i = 0; i < queues.size(); ++i) {
    batch[i].queue = std::move(queues[i]);
    batch[i].message = i + 1 == queues.size() ? std::move(message) : message;
  }
  std::vector<std::function<void(core::Seq)>> stored;
  for (std::size_t i = 0; i < copies.size(); ++i) {
    batch[queues.size() + i].queue = std::move(copies[i].queue);
    batch[queues.size() + i].message = std::move(copies[i].message);
    stored.push_back(std::move(copies[i].stored));
  }
  std::size_t routed = queues.size();
  std::vector<std::string> names;  // for the append listener, only when there is one
  if (append_listener_) {
    names.reserve(batch.size());
    for (const auto& request : batch) names.push_back(request.queue);
  }
  store_.append(std::move(batch),
                [this, routed, stored = std::move(stored), names = std::move(names),
                 watch = std::move(options.watch),
                 done = std::move(done)](core::Result<std::vector<core::Seq>> result) mutable {
                  // Store thread: hand the outcome back to the io thread.
                  loop_.post([this, routed, stored = std::move(stored), names = std::move(names),
                              watch = std::move(watch), done = std::move(done),
                              result = std::move(result)]() mutable {
                    for (std::size_t i = 0; i < stored.size(); ++i) {
                      stored[i](result ? (*result)[routed + i] : 0);
                    }
                    if (result) {
                      if (append_listener_) {
                        for (std::size_t i = 0; i < names.size() && i < result->size(); ++i) {
                          append_listener_(names[i], (*result)[i]);
                        }
                      }
                      counters_.stored += routed;
                      // In a routed queue the message is in the broker's custody.
                      if (watch && routed > 0) watch->accept();
                      done({});
                    } else {
                      ++counters_.store_refused;
                      done(core::error(result.error()));
                    }
                  });
                });
}

void Router::deliver_live(const core::Message& message, const core::PublishOptions& options,
                          core::DurableCopies& durable) {
  matches_.clear();
  trie_.match(message.address, matches_);
  if (matches_.empty()) return;
  // One copy per subscriber, at the highest QoS of its matching subscriptions. Subscribers
  // must not unsubscribe synchronously in deliver(), so the entries stay valid meanwhile.
  std::stable_sort(matches_.begin(), matches_.end(),
                   [](const auto* a, const auto* b) { return a->subscriber < b->subscriber; });
  for (std::size_t i = 0; i < matches_.size();) {
    const auto* first = matches_[i];
    core::SubscriptionOptions combined = first->options;
    bool local_only = first->options.no_local;
    std::size_t j = i + 1;
    for (; j < matches_.size() && matches_[j]->subscriber == first->subscriber; ++j) {
      combined.max_qos = std::max(combined.max_qos, matches_[j]->options.max_qos);
      local_only = local_only && matches_[j]->options.no_local;
    }
    i = j;
    if (local_only && first->subscriber->subscriber_id() == message.origin.client_id) continue;
    std::size_t claims = options.watch ? options.watch->claims_taken() : 0;
    first->subscriber->deliver(message, options, first->filter, combined, durable);
    // A subscriber that took no claim took the message as it was handed over.
    if (options.watch && options.watch->claims_taken() == claims) options.watch->accept();
    ++counters_.live_deliveries;
  }
}

void Router::subscribe(const std::string& filter, core::Subscriber* subscriber,
                       core::SubscriptionOptions options) {
  trie_.add(filter, subscriber, options);
  if (subscribe_listener_) subscribe_listener_(filter);
}

bool Router::unsubscribe(const std::string& filter, core::Subscriber* subscriber) {
  return trie_.remove(filter, subscriber);
}

void Router::unsubscribe_all(core::Subscriber* subscriber) {
  trie_.remove_all(subscriber);
}

}  // namespace holdfast::broker
