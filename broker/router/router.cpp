#include "broker/router/router.h"

namespace holdfast::broker {

Router::Router(core::EventLoop& loop, core::QueueStore& store, RouteTable routes)
    : loop_(loop), store_(store), routes_(std::move(routes)) {}

void Router::submit(core::Message message, core::Assurance assurance,
                    core::Callback<void> done) {
  (void)assurance;  // both are stored; kBestEffort callers simply do not wait for `done`
  ++counters_.received[static_cast<std::size_t>(message.origin.protocol) % 5];

  matches_.clear();
  trie_.match(message.address, matches_);
  // Subscribers must not unsubscribe synchronously in deliver(), so the entries stay valid.
  std::size_t delivered = 0;
  for (const auto* entry : matches_) {
    if (entry->options.no_local &&
        entry->subscriber->subscriber_id() == message.origin.client_id) {
      continue;
    }
    entry->subscriber->deliver(message, entry->filter, entry->options);
    ++delivered;
  }
  counters_.live_deliveries += delivered;

  std::vector<std::string> queues = routes_.resolve(message.address, message.origin);
  if (queues.empty()) {
    if (matches_.empty()) {
      ++counters_.no_route;
      done(core::error(core::Code::kNotFound,
                       "no route or subscriber for address '" + message.address + "'"));
    } else {
      done({});
    }
    return;
  }
  std::vector<core::AppendRequest> batch(queues.size());
  for (std::size_t i = 0; i < queues.size(); ++i) {
    batch[i].queue = std::move(queues[i]);
    batch[i].message = i + 1 == queues.size() ? std::move(message) : message;
  }
  std::size_t count = batch.size();
  store_.append(std::move(batch), [this, count, done = std::move(done)](
                                      core::Result<std::vector<core::Seq>> result) mutable {
    // Store thread: hand the outcome back to the io thread.
    loop_.post([this, count, done = std::move(done), result = std::move(result)]() mutable {
      if (result) {
        counters_.stored += count;
        done({});
      } else {
        ++counters_.store_refused;
        done(core::error(result.error()));
      }
    });
  });
}

void Router::subscribe(const std::string& filter, core::Subscriber* subscriber,
                       core::SubscriptionOptions options) {
  trie_.add(filter, subscriber, options);
}

bool Router::unsubscribe(const std::string& filter, core::Subscriber* subscriber) {
  return trie_.remove(filter, subscriber);
}

void Router::unsubscribe_all(core::Subscriber* subscriber) { trie_.remove_all(subscriber); }

}  // namespace holdfast::broker
