#pragma once
// Dispatcher: the broker's ConsumerRegistry. Serves local consumers (AMQP receiver links, CoAP
// GETs) from durable queues with competing-consumer semantics (see broker/core/consumers.h).
//
// Operation
//   Each queue with consumers has one state, made on the first attach: the position of the
//   queue's local-consumer cursor (created then, so messages before it count as consumed), a
//   bounded buffer of messages read ahead from the store (one read in flight per queue), the
//   messages given back for redelivery, and the deliveries not yet settled. A pump hands
//   messages round-robin to the consumers with credit, redeliveries before fresh messages and in
//   sequence order within each. The cursor is committed up to the highest sequence below which
//   every message is accepted or dead-lettered, with at most one commit per queue in flight
//   (later ones coalesce into the newest). A rejected message is appended to its dead-letter
//   queue (default "deadletter/" + queue) and counts as consumed once that append succeeded;
//   if it fails the message is redelivered (delivery count + 1) and the failure logged.
//   When a read finds nothing the queue waits for appended() (the Router's append listener),
//   a wake() or an attach(): there is no polling.
//   When the last consumer detaches, the read-ahead buffer is dropped (it is re-read later);
//   the state goes once nothing is unsettled, given back, dead-lettering or being committed.
//
// Concurrency
//   Every method on the io thread that runs `loop`, except counters(), which any thread may
//   read. Store callbacks run on the store thread and only post to the loop. Consumers are
//   called only from tasks posted to the loop, never from inside attach()/wake()/settle()/
//   detach(), and never after detach() returned (every call looks the consumer up first).
//   Tasks posted before the dispatcher is destroyed find it gone and do nothing.
//
// Limitations
//   Delivery counts live in memory: after a restart every unconsumed message starts again at 0,
//   and a message accepted above an unsettled one is delivered again (the cursor holds one
//   position per queue: at-least-once). Only appends reported through appended() wake a queue
//   that is waiting at its end (the Router's, and the dispatcher's own dead-letter appends);
//   others (retention, internal queues) are found at the next wake() or attach(). The cursor
//   stays after the last consumer leaves and keeps the queue's messages until retention drops
//   them (or an operator deletes it). A default dead-letter name longer than the store allows
//   (a queue name over 1013 bytes) makes rejects fail: such messages are redelivered.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/core/consumers.h"
#include "broker/core/event_loop.h"
#include "broker/core/queue_store.h"
#include "broker/router/routes.h"

namespace holdfast::broker {

struct DispatcherOptions {
  std::string cursor = "local";    // the cursor every local consumer of a queue shares
  // Reads are large: under write load each waits for a group commit, so a small read would cap
  // a busy queue's consumers far below its producers (measured with holdfast-bench amqp).
  std::size_t read_messages = 512;  // per store read
  std::size_t read_bytes = 1 << 20;
  std::size_t max_buffered = 1024;  // read-ahead messages per queue (not counting unsettled)
  std::size_t max_buffered_bytes = 4 << 20;  // and their payload bytes
  // The dead-letter queue of `queue`; unset, or returning "": "deadletter/" + queue.
  std::function<std::string(const std::string& queue)> dead_letter_queue;
  std::vector<std::string> known_queues;  // queues that exist (the store's list_queues at start)
};

struct DispatcherCounters {
  std::atomic<std::uint64_t> delivered{0};    // every delivery, redeliveries included
  std::atomic<std::uint64_t> redelivered{0};  // of which redeliveries
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> released{0};       // released or modified
  std::atomic<std::uint64_t> dead_lettered{0};  // rejected and stored in the dead-letter queue
  std::atomic<std::uint64_t> dead_letter_failures{0};  // rejected, appending failed: redelivered
  std::atomic<std::int64_t> consumers{0};              // attached now
};

// One queue's consumer-side state, for the admin API.
struct ConsumerQueueSnapshot {
  std::string queue;
  std::size_t consumers = 0;
  std::size_t unsettled = 0;  // delivered, not settled
  std::size_t buffered = 0;   // read ahead or given back, not delivered
  core::Seq committed = 0;    // the cursor position the store confirmed (0: not known yet)
  bool caught_up = false;     // read everything durable; waiting for appends
};

class Dispatcher final : public core::ConsumerRegistry {
 public:
  // `loop`, `store` and `routes` must outlive the dispatcher; io thread.
  Dispatcher(core::EventLoop& loop, core::QueueStore& store, const RouteTable& routes,
             DispatcherOptions options = {});
  // Io thread. Issues the newest pending cursor commit of every queue (not waited for);
  // unsettled deliveries are simply not committed, so they come back after a restart.
  ~Dispatcher() override;
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // ConsumerRegistry: io thread; see broker/core/consumers.h for errors and semantics.
  bool is_queue(const std::string& address) const override;
  core::Status attach(const std::string& queue, core::QueueConsumer* consumer) override;
  void wake(core::QueueConsumer* consumer) override;
  void settle(core::QueueConsumer* consumer, core::Seq seq, core::Outcome outcome,
              const std::string& reason = {}) override;
  void detach(core::QueueConsumer* consumer) override;

  // Io thread. `seq` was durably appended to `queue` (Router::set_append_listener): records
  // the queue as known and wakes its consumers if they wait at its end. One hash lookup when
  // nobody consumes the queue. No errors.
  void appended(const std::string& queue, core::Seq seq);

  // Io thread. The queues that have consumer state, sorted by name.
  std::vector<ConsumerQueueSnapshot> snapshot() const;
  // Any thread.
  const DispatcherCounters& counters() const { return counters_; }

 private:
  struct Held {  // a message read and not consumed yet
    core::Message message;
    std::uint32_t delivery_count = 0;
    core::QueueConsumer* consumer = nullptr;  // while delivered and unsettled
  };
  static std::size_t held_bytes(const Held& held);
  struct QueueState {
    std::string name;
    std::uint64_t id = 0;  // tells a state from a later one of the same queue
    std::vector<core::QueueConsumer*> consumers;
    std::size_t next_consumer = 0;  // round-robin position
    bool cursor_ready = false;
    bool creating_cursor = false;
    bool reading = false;
    bool at_end = false;  // the last read found nothing: wait for appended()
    bool pump_scheduled = false;
    core::Seq next_read = 0;                   // first sequence not read yet
    core::Seq latest_appended = 0;             // highest seq appended() reported
    std::map<core::Seq, Held> fresh;           // read ahead, never delivered: [first, next_read)
    std::size_t fresh_bytes = 0;               // payload bytes in `fresh`
    std::map<core::Seq, Held> again;           // given back, to be redelivered first
    std::map<core::Seq, Held> unsettled;       // delivered
    std::map<core::Seq, Held> dead_lettering;  // rejected, dead-letter append in flight
    core::Seq committed = 0;                   // cursor position confirmed by the store
    core::Seq requested = 0;  // highest position asked for (commit in flight when > committed)
    bool committing = false;
  };

  QueueState* find(const std::string& queue, std::uint64_t id);
  QueueState* state_of(core::QueueConsumer* consumer);
  void schedule_pump(QueueState& q);
  void pump(QueueState& q);
  core::QueueConsumer* pick_consumer(QueueState& q);
  void read_more(QueueState& q);
  void on_cursor(const std::string& queue, std::uint64_t id, core::Result<core::Seq> result);
  void on_read(const std::string& queue, std::uint64_t id, core::Seq from,
               core::Result<core::ReadResult> result);
  void dead_letter(QueueState& q, core::Seq seq, Held held, const std::string& reason);
  void on_dead_lettered(const std::string& queue, std::uint64_t id, core::Seq seq,
                        const std::string& dlq, core::Result<std::vector<core::Seq>> result);
  static core::Seq consumed_position(const QueueState& q);
  void commit(QueueState& q);
  void on_committed(const std::string& queue, std::uint64_t id, core::Result<core::Seq> result);
  void drop_if_idle(const std::string& queue);
  // A store callback (store thread) that posts `handler(result)` to the loop, where it runs
  // only if the dispatcher still exists.
  template <typename T, typename F>
  core::Callback<T> on_loop(F handler);

  core::EventLoop& loop_;
  core::QueueStore& store_;
  const RouteTable& routes_;
  DispatcherOptions options_;
  // Every known queue; the state is null while nobody consumes it.
  std::unordered_map<std::string, std::unique_ptr<QueueState>> queues_;
  std::unordered_map<core::QueueConsumer*, std::string> consumers_;  // -> its queue
  std::uint64_t next_id_ = 1;
  DispatcherCounters counters_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted tasks hold a weak_ptr
};

}  // namespace holdfast::broker
