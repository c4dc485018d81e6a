#include "broker/router/dispatcher.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "broker/core/log.h"

namespace holdfast::broker {
namespace {

constexpr std::size_t kMaxQueueNameBytes = 1024;  // as the store checks it

}  // namespace

template <typename T, typename F>
core::Callback<T> Dispatcher::on_loop(F handler) {
  return [loop = &loop_, alive = std::weak_ptr<int>(alive_),
          handler = std::move(handler)](core::Result<T> result) mutable {
    loop->post([alive = std::move(alive), handler = std::move(handler),
                result = std::move(result)]() mutable {
      if (!alive.expired()) handler(std::move(result));
    });
  };
}

Dispatcher::Dispatcher(core::EventLoop& loop, core::QueueStore& store, const RouteTable& routes,
                       DispatcherOptions options)
    : loop_(loop), store_(store), routes_(routes), options_(std::move(options)) {
  if (!options_.dead_letter_queue) {
    options_.dead_letter_queue = [](const std::string& queue) { return "deadletter/" + queue; };
  }
  options_.read_messages = std::max<std::size_t>(options_.read_messages, 1);
  options_.max_buffered = std::max<std::size_t>(options_.max_buffered, 1);
  for (const std::string& queue : options_.known_queues) queues_.try_emplace(queue);
  options_.known_queues = {};
}

Dispatcher::~Dispatcher() {
  // Commits are ordered per calling thread, so the newest one may overtake nothing.
  for (const auto& [name, q] : queues_) {
    if (!q || !q->cursor_ready) continue;
    core::Seq position = consumed_position(*q);
    if (position > q->requested) {
      store_.commit(name, options_.cursor, position - 1, [](core::Result<core::Seq>) {});
    }
  }
}

bool Dispatcher::is_queue(const std::string& address) const {
  return queues_.contains(address) || routes_.names_queue(address);
}

core::Status Dispatcher::attach(const std::string& queue, core::QueueConsumer* consumer) {
  if (queue.empty() || queue.size() > kMaxQueueNameBytes || queue.find('\0') != std::string::npos) {
    return {core::Code::kInvalidArgument, "queue name must be 1 to 1024 bytes without NUL"};
  }
  if (consumer == nullptr) return {core::Code::kInvalidArgument, "no consumer"};
  if (consumers_.contains(consumer)) {
    return {core::Code::kAlreadyExists,
            "consumer is attached to queue '" + consumers_.at(consumer) + "' already"};
  }
  auto& slot = queues_[queue];
  if (!slot) {
    slot = std::make_unique<QueueState>();
    slot->name = queue;
    slot->id = next_id_++;
  }
  slot->consumers.push_back(consumer);
  consumers_.emplace(consumer, queue);
  ++counters_.consumers;
  slot->at_end = false;  // a newcomer looks again: appends may have gone unreported
  schedule_pump(*slot);
  return {};
}

void Dispatcher::wake(core::QueueConsumer* consumer) {
  QueueState* q = state_of(consumer);
  if (q == nullptr) return;
  if (q->at_end && q->fresh.empty() && q->again.empty()) q->at_end = false;
  schedule_pump(*q);
}

void Dispatcher::settle(core::QueueConsumer* consumer, core::Seq seq, core::Outcome outcome,
                        const std::string& reason) {
  QueueState* q = state_of(consumer);
  if (q == nullptr) return;
  auto it = q->unsettled.find(seq);
  if (it == q->unsettled.end() || it->second.consumer != consumer) return;
  auto node = q->unsettled.extract(it);
  node.mapped().consumer = nullptr;
  switch (outcome) {
    case core::Outcome::kAccepted:
      ++counters_.accepted;
      commit(*q);
      break;
    case core::Outcome::kModified:
      ++node.mapped().delivery_count;
      [[fallthrough]];
    case core::Outcome::kReleased:
      ++counters_.released;
      q->again.insert(std::move(node));
      schedule_pump(*q);
      break;
    case core::Outcome::kRejected:
      dead_letter(*q, seq, std::move(node.mapped()), reason);
      break;
  }
}

void Dispatcher::detach(core::QueueConsumer* consumer) {
  auto it = consumers_.find(consumer);
  if (it == consumers_.end()) return;
  std::string name = std::move(it->second);
  consumers_.erase(it);
  --counters_.consumers;
  QueueState& q = *queues_.at(name);
  std::erase(q.consumers, consumer);
  if (q.next_consumer >= q.consumers.size()) q.next_consumer = 0;
  for (auto u = q.unsettled.begin(); u != q.unsettled.end();) {
    if (u->second.consumer != consumer) {
      ++u;
      continue;
    }
    auto node = q.unsettled.extract(u++);
    node.mapped().consumer = nullptr;
    ++node.mapped().delivery_count;
    q.again.insert(std::move(node));
  }
  if (!q.consumers.empty()) {
    schedule_pump(q);
    return;
  }
  // Nobody left: forget the read-ahead (never delivered, so everything from its first message
  // on is unread again); what was given back stays, with its delivery counts.
  if (!q.fresh.empty()) {
    q.next_read = q.fresh.begin()->first;
    q.fresh.clear();
    q.fresh_bytes = 0;
    q.at_end = false;
  }
  drop_if_idle(name);
}

void Dispatcher::appended(const std::string& queue, core::Seq seq) {
  auto [it, inserted] = queues_.try_emplace(queue);
  if (!it->second) return;
  QueueState& q = *it->second;
  q.latest_appended = std::max(q.latest_appended, seq);
  if (q.at_end && seq >= q.next_read) {
    q.at_end = false;
    read_more(q);
  }
}

std::vector<ConsumerQueueSnapshot> Dispatcher::snapshot() const {
  std::vector<ConsumerQueueSnapshot> out;
  for (const auto& [name, q] : queues_) {
    if (!q) continue;
    out.push_back({.queue = name,
                   .consumers = q->consumers.size(),
                   .unsettled = q->unsettled.size(),
                   .buffered = q->fresh.size() + q->again.size(),
                   .committed = q->committed,
                   .caught_up = q->at_end});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.queue < b.queue; });
  return out;
}

Dispatcher::QueueState* Dispatcher::find(const std::string& queue, std::uint64_t id) {
  auto it = queues_.find(queue);
  if (it == queues_.end() || !it->second || it->second->id != id) return nullptr;
  return it->second.get();
}

Dispatcher::QueueState* Dispatcher::state_of(core::QueueConsumer* consumer) {
  auto it = consumers_.find(consumer);
  return it == consumers_.end() ? nullptr : queues_.at(it->second).get();
}

void Dispatcher::schedule_pump(QueueState& q) {
  if (q.pump_scheduled) return;
  q.pump_scheduled = true;
  loop_.post([this, alive = std::weak_ptr<int>(alive_), name = q.name, id = q.id] {
    if (alive.expired()) return;
    QueueState* s = find(name, id);
    if (s == nullptr) return;
    s->pump_scheduled = false;
    pump(*s);
  });
}

// Runs in posted tasks only: this is where consumers are called.
std::size_t Dispatcher::held_bytes(const Held& held) {
  return held.message.payload.size() +
         (held.message.amqp_bare ? held.message.amqp_bare->size() : 0);
}

void Dispatcher::pump(QueueState& state) {
  const std::string name = state.name;
  const std::uint64_t id = state.id;
  QueueState* q = &state;
  while (!q->again.empty() || !q->fresh.empty()) {
    core::QueueConsumer* consumer = pick_consumer(*q);
    if (consumer == nullptr) break;
    bool redelivery = !q->again.empty();
    auto& from = redelivery ? q->again : q->fresh;
    auto node = from.extract(from.begin());
    if (!redelivery) q->fresh_bytes -= std::min(q->fresh_bytes, held_bytes(node.mapped()));
    core::QueueDelivery delivery{name, node.key(), node.mapped().delivery_count,
                                 node.mapped().message};
    node.mapped().consumer = consumer;
    q->unsettled.insert(std::move(node));
    ++counters_.delivered;
    if (redelivery) ++counters_.redelivered;
    consumer->deliver(std::move(delivery));
    q = find(name, id);  // deliver() may have settled: look again
    if (q == nullptr) return;
  }
  read_more(*q);
}

core::QueueConsumer* Dispatcher::pick_consumer(QueueState& q) {
  const std::size_t n = q.consumers.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t k = (q.next_consumer + i) % n;
    if (q.consumers[k]->credit() > 0) {
      q.next_consumer = (k + 1) % n;
      return q.consumers[k];
    }
  }
  return nullptr;
}

void Dispatcher::read_more(QueueState& q) {
  if (q.consumers.empty()) return;
  if (!q.cursor_ready) {
    if (q.creating_cursor) return;
    q.creating_cursor = true;
    store_.create_cursor(q.name, options_.cursor,
                         on_loop<core::Seq>([this, name = q.name, id = q.id](auto result) {
                           on_cursor(name, id, std::move(result));
                         }));
    return;
  }
  if (q.reading || q.at_end || q.fresh.size() >= options_.max_buffered ||
      q.fresh_bytes >= options_.max_buffered_bytes) {
    return;
  }
  q.reading = true;
  core::ReadRequest request;
  request.cursor = options_.cursor;
  request.from = q.next_read;
  request.max_messages = std::min(options_.read_messages, options_.max_buffered - q.fresh.size());
  request.max_bytes = options_.read_bytes;
  store_.read(
      q.name, std::move(request),
      on_loop<core::ReadResult>([this, name = q.name, id = q.id, from = q.next_read](auto result) {
        on_read(name, id, from, std::move(result));
      }));
}

void Dispatcher::on_cursor(const std::string& queue, std::uint64_t id,
                           core::Result<core::Seq> result) {
  QueueState* q = find(queue, id);
  if (q == nullptr) return;
  q->creating_cursor = false;
  if (!result) {
    // Retried at the next attach() or wake().
    core::log(core::LogLevel::kWarn, "dispatcher",
              "queue '" + queue + "': cannot create cursor '" + options_.cursor +
                  "': " + result.error().to_string(),
              "cursor:" + queue);
  } else {
    q->cursor_ready = true;
    q->next_read = q->committed = q->requested = *result;
    pump(*q);
  }
  drop_if_idle(queue);
}

void Dispatcher::on_read(const std::string& queue, std::uint64_t id, core::Seq from,
                         core::Result<core::ReadResult> result) {
  QueueState* q = find(queue, id);
  if (q == nullptr) return;
  q->reading = false;
  if (!result) {
    q->at_end = true;  // try again at the next append, wake or attach, not in a loop
    core::log(core::LogLevel::kError, "dispatcher",
              "queue '" + queue + "': read failed: " + result.error().to_string(), "read:" + queue);
  } else if (!q->consumers.empty()) {
    if (from != q->next_read) {  // everybody left and came back meanwhile: read again
      read_more(*q);
      return;
    }
    for (core::StoredMessage& m : result->messages) {
      auto [it, added] = q->fresh.emplace(m.seq, Held{.message = std::move(m.message)});
      if (added) q->fresh_bytes += held_bytes(it->second);
    }
    q->next_read = std::max(q->next_read, result->next);
    if (result->messages.empty() && q->latest_appended < q->next_read) q->at_end = true;
    pump(*q);
    return;
  }
  drop_if_idle(queue);
}

void Dispatcher::dead_letter(QueueState& q, core::Seq seq, Held held, const std::string& reason) {
  std::string dlq = options_.dead_letter_queue(q.name);
  if (dlq.empty()) dlq = "deadletter/" + q.name;
  std::vector<core::AppendRequest> batch(1);
  batch[0].queue = dlq;
  batch[0].message = held.message;  // the original stays here in case the append fails
  batch[0].dead_letter = core::DeadLetterInfo{.reason = reason.empty() ? "rejected" : reason,
                                              .original_queue = q.name,
                                              .original_seq = seq,
                                              .dead_lettered_at_ms = core::now_ms()};
  q.dead_lettering.emplace(seq, std::move(held));
  store_.append(std::move(batch),
                on_loop<std::vector<core::Seq>>(
                    [this, name = q.name, id = q.id, seq, dlq = std::move(dlq)](auto result) {
                      on_dead_lettered(name, id, seq, dlq, std::move(result));
                    }));
}

void Dispatcher::on_dead_lettered(const std::string& queue, std::uint64_t id, core::Seq seq,
                                  const std::string& dlq,
                                  core::Result<std::vector<core::Seq>> result) {
  QueueState* q = find(queue, id);  // always there: a state with dead-letterings stays
  if (result) {
    ++counters_.dead_lettered;
    if (q != nullptr) {
      q->dead_lettering.erase(seq);
      commit(*q);
    }
    if (!result->empty()) appended(dlq, result->front());
  } else {
    ++counters_.dead_letter_failures;
    core::log(core::LogLevel::kWarn, "dispatcher",
              "queue '" + queue + "': cannot dead-letter message " + std::to_string(seq) + " to '" +
                  dlq + "', delivering it again: " + result.error().to_string(),
              "dead-letter:" + queue);
    if (q != nullptr) {
      auto node = q->dead_lettering.extract(seq);
      if (!node.empty()) {
        ++node.mapped().delivery_count;
        q->again.insert(std::move(node));
        schedule_pump(*q);
      }
    }
  }
  drop_if_idle(queue);
}

core::Seq Dispatcher::consumed_position(const QueueState& q) {
  core::Seq position = q.next_read;
  for (const auto* held : {&q.fresh, &q.again, &q.unsettled, &q.dead_lettering}) {
    if (!held->empty()) position = std::min(position, held->begin()->first);
  }
  return position;
}

void Dispatcher::commit(QueueState& q) {
  if (!q.cursor_ready || q.committing) return;  // on_committed() issues the newest
  core::Seq position = consumed_position(q);
  if (position <= q.requested) return;
  q.committing = true;
  q.requested = position;
  store_.commit(q.name, options_.cursor, position - 1,
                on_loop<core::Seq>([this, name = q.name, id = q.id](auto result) {
                  on_committed(name, id, std::move(result));
                }));
}

void Dispatcher::on_committed(const std::string& queue, std::uint64_t id,
                              core::Result<core::Seq> result) {
  QueueState* q = find(queue, id);
  if (q == nullptr) return;
  q->committing = false;
  if (!result) {
    // Retried at the next settle; meanwhile the messages would only be delivered again.
    q->requested = q->committed;
    core::log(core::LogLevel::kWarn, "dispatcher",
              "queue '" + queue + "': cannot commit cursor '" + options_.cursor +
                  "': " + result.error().to_string(),
              "commit:" + queue);
    return;
  }
  q->committed = std::max(q->committed, *result);
  commit(*q);
  drop_if_idle(queue);
}

void Dispatcher::drop_if_idle(const std::string& queue) {
  auto it = queues_.find(queue);
  if (it == queues_.end() || !it->second) return;
  const QueueState& q = *it->second;
  if (!q.consumers.empty() || !q.fresh.empty() || !q.again.empty() || !q.unsettled.empty() ||
      !q.dead_lettering.empty() || q.reading || q.creating_cursor || q.committing) {
    return;
  }
  if (q.cursor_ready && consumed_position(q) > q.committed) return;  // a commit failed
  it->second.reset();                                                // the queue stays known
}

}  // namespace holdfast::broker
