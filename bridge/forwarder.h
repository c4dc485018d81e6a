#pragma once
// Forwarder: drains the device queues routed to one upstream into IoT Hub, in order per device,
// and moves each queue's cursor only past what the hub accepted.
//
// Operation
//   Queues: every queue whose name a route to this upstream can produce (found by listing the
//   store at start and every `rescan` interval, and on notify()). Each gets the cursor
//   "bridge/{upstream}". The device of a queue is its messages' origin device id (else the
//   device their address names).
//   Per device: read ahead from the cursor, present a token (minted from the device keys, or in
//   token-passthrough mode the token the device gave Holdfast: its messages wait while none is
//   valid), then keep up to `window` messages unsettled, packed by up to `batch` into IoT Hub
//   batch transfers where the upstream can (AMQP). The hub settles a batch as a whole; a refused
//   batch is sent again one message at a time (after the backoff of a transient refusal), so a
//   refusal for good finds its message and a throttle below the batch size cannot stall it. Accepted transfers advance the cursor
//   over the contiguous accepted prefix (one commit in flight per queue; later ones coalesce).
//   Refusals, classified as IOTHUB.md lists them:
//     permanent (message-size-exceeded, decode-error, invalid-field, argument-error, not-allowed,
//       not-found, unauthorized-access, iot-hub-suspended) -> the message goes to
//       deadletter/{queue} with the condition as reason; the device's other messages go on
//       (with hold_refused: the queue is held instead, retrying with backoff);
//     quota (resource-limit-exceeded) -> the device pauses for `quota_pause`;
//     anything else (throttled, timeouts, released, ...) -> the device backs off (exponential,
//       decorrelated jitter) and resends from the refused message.
//   A refused put-token (CBS 401) or a refused link holds that device's queue (backing off, the
//   reason logged) until the hub takes its token: a key problem is fixed by the operator, and
//   dead-lettering every message meanwhile would help nobody.
//   A lost connection rewinds every queue to its cursor and reconnects forever with backoff;
//   the state change is logged once, not per retry.
//   Live share: when a queue's oldest unsent message has waited `backlog_age` and more than a
//   window is queued behind it, the queue splits at its end: the messages before the split are
//   the backlog, those from it on are live. Each is read and sent in order; live messages get
//   `live_share` percent of the window (at least one transfer), the backlog the rest, and
//   either takes the whole window while the other has nothing to send. The cursor commits the
//   backlog; the live messages the hub accepted are remembered in memory as a contiguous range
//   and the cursor jumps over them when the backlog has drained, which ends the split.
//
// Concurrency: bridge thread only (its EventLoop), except stats() (any thread).
//
// Limitations: a transient refusal inside a window lets later messages of that device reach
// the hub before the refused one is resent (use window = 1 for strict order); resends after a
// rewind are at-least-once (the hub may get a message twice). With a live share, a device's
// fresh messages reach the hub before its backlog (live_share = 0 keeps queue order); after a
// restart during the split, live messages already accepted are sent again. Tokens are renewed
// with a new put-token at 80 % of their life.
//   Cloud-to-device: each device with a token also gets a receiver on its devicebound link; a
// message goes to the local broker as devices/{id}/messages/devicebound[/{property bag}] (so
// MQTT devices subscribed to .../devicebound/# and AMQP devicebound receivers get it), watched
// (core::DeliveryWatch), and the device's answer is relayed to the hub: accepted (MQTT PUBACK,
// AMQP accepted) -> complete, rejected (AMQP rejected, MQTT 5 PUBACK failure) -> reject,
// released or no answer (the device disconnected first) -> abandon, so the hub redelivers it.
// A message stored for an offline persistent MQTT session or in a routed queue is in
// Holdfast's custody and completed. A message no device is subscribed to is kept in the store
// (the outbox, internal queue $c2d/{upstream}/{device}) and completed at the hub once durable; so is
// every C2D message of an MQTT upstream (Paho has acknowledged it already) and any message
// behind kept ones (order). The outbox offers its head to the device, watched, every
// `c2d_retry` and whenever the device subscribes; taken (accepted or rejected), it is
// committed. Kept messages survive restarts.
// A device that subscribes locally before it sent anything (want_c2d) is opened at the hub
// for its C2D alone; its queue takes over once it appears.
#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bridge/hub_connection.h"
#include "broker/core/delivery_watch.h"
#include "broker/core/event_loop.h"
#include "broker/core/queue_store.h"

namespace holdfast::iothub {
class DeviceKeys;
class TokenStore;
}  // namespace holdfast::iothub

namespace holdfast::bridge {

struct ForwarderOptions {
  std::string upstream = "hub";
  HubConnectionOptions hub;
  std::shared_ptr<const iothub::DeviceKeys> keys;        // mint tokens; null: token passthrough
  std::shared_ptr<iothub::TokenStore> tokens;            // the tokens devices gave Holdfast
  std::function<bool(const std::string& queue)> drains;  // whether this upstream drains a queue
  std::uint32_t window = 100;  // unsettled messages per device
  // Most messages per IoT Hub batch transfer (AMQP upstreams); 1: every message on its own.
  std::uint32_t batch = 1;
  std::uint32_t live_share = 0;  // percent of the window for fresh messages during a backlog
  std::chrono::milliseconds backlog_age{10'000};  // oldest unsent message this old: a backlog
  // A message refused for good: false -> deadletter/{queue}; true -> its queue is held (the
  // message retried with backoff) until the operator fixes the cause.
  bool hold_refused = false;
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{60'000};
  std::chrono::milliseconds quota_pause{60'000};
  std::chrono::milliseconds rescan{1'000};
  std::chrono::seconds token_lifetime{3600};
  // Cloud-to-device: hands a message from the hub to the local broker, with `watch` in its
  // PublishOptions. `done` runs once on the broker's io thread (the watch's thread) when the
  // submit finished; kNotFound means no local subscriber yet. Null: no C2D receivers attached.
  std::function<void(core::Message, std::shared_ptr<core::DeliveryWatch> watch,
                     std::function<void(core::Status)> done)>
      deliver_c2d;
  std::chrono::milliseconds c2d_retry{2'000};  // a kept message nobody took is offered again
};

struct ForwarderStats {
  std::atomic<bool> connected{false};
  std::atomic<std::uint64_t> sent{0};           // messages sent (resends included)
  std::atomic<std::uint64_t> forwarded{0};      // accepted by the hub
  std::atomic<std::uint64_t> refused{0};        // transfers refused (each attempt)
  std::atomic<std::uint64_t> dead_lettered{0};  // refused for good
  std::atomic<std::uint64_t> retried{0};        // refusals sent again after a pause
  std::atomic<std::uint64_t> throttled{0};      // of those, device-container-throttled
  std::atomic<std::uint64_t> connects{0};       // successful connections
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> c2d_delivered{0};  // cloud-to-device messages a device took
  std::atomic<std::uint64_t> c2d_rejected{0};   // rejected by the device
  std::atomic<std::uint64_t> c2d_abandoned{0};  // released by the device or not answered
  std::atomic<std::uint64_t> c2d_kept{0};       // stored for a device that was not there
  std::atomic<bool> paused{false};               // set_paused(true): no new transfers are sent
  std::atomic<std::uint64_t> backlogs{0};       // queues split into backlog and live messages
  std::atomic<std::uint64_t> batches{0};        // batch transfers sent (each several messages)
  std::atomic<std::uint64_t> live_forwarded{0};  // of `forwarded`, sent as live during a backlog
};

class Forwarder final : public HubConnection::Listener {
 public:
  Forwarder(core::EventLoop& loop, core::QueueStore& store, ForwarderOptions options);
  ~Forwarder() override;

  // Bridge thread: starts scanning and connecting.
  void start();
  // Bridge thread: closes the upstream connection; no more store calls are made.
  void stop();
  // Bridge thread: `queue` has new messages.
  void notified(const std::string& queue);
  // Bridge thread: a local device subscribed to its cloud-to-device messages. A device without
  // a queue yet is opened at the hub for them, if this upstream can log in for it.
  void want_c2d(const std::string& device);
  // Opens `device` at the hub for its C2D alone, if it has no queue here yet and this
  // upstream can log in for it; `why` is logged.
  void open_for_c2d(const std::string& device, const std::string& why);
  // Bridge thread: while paused no new transfer is sent (unsettled ones settle as usual, reads
  // and tokens go on, queues keep filling); resuming sends again. Kept in memory only.
  void set_paused(bool paused);
  const ForwarderStats& stats() const { return stats_; }

  // HubConnection::Listener
  void on_connected() override;
  void on_device_ready(const std::string& device) override;
  void on_device_refused(const std::string& device, const HubOutcome& why) override;
  void on_credit(const std::string& device) override;
  void on_settled(const std::string& device, std::uint64_t tag, const HubOutcome& outcome) override;
  void on_c2d(const std::string& device, std::uint64_t id, core::Message message) override;
  void on_disconnected(const core::Status& why) override;

 private:
  void offer_c2d(std::string device, std::uint64_t id, core::Message message);
  // The C2D outbox: messages kept in the store queue $c2d/{upstream}/{device} (cursor
  // "bridge/{upstream}") until the device takes them. Every device the forwarder opens gets
  // one (empty), so that after a restart the scan finds every device it served and opens it
  // for its C2D even before its telemetry queue names it.
  struct Outbox {
    bool open = false;      // the cursor's position is known
    core::Seq next = 1;     // the first message not yet taken
    bool offering = false;  // one message is with the local broker now
    core::Seq end = 1;      // the seq the next append gets, as far as known
    core::EventLoop::TimerId retry_timer = 0;
  };
  std::string outbox_queue(const std::string& device) const {
    return "$c2d/" + options_.upstream + "/" + device;
  }
  // Keeps the hub's message `id` in the device's outbox and completes it at the hub once
  // durable (abandons it if the store refused it).
  void keep_for_device(const std::string& device, std::uint64_t id, core::Message message);
  // Appends `message` to the device's outbox; `stored(ok)` once durable (or failed).
  void keep_c2d(const std::string& device, core::Message message,
                std::function<void(bool)> stored);
  void open_outbox(const std::string& device);
  void offer_kept(const std::string& device);
  void kept_taken(const std::string& device, core::Seq seq, core::Outcome outcome);
  void retry_kept(const std::string& device);
  void settle_c2d(HubConnection* hub, const std::string& device, std::uint64_t id,
                  core::Outcome outcome);
  using Clock = std::chrono::steady_clock;
  // Messages read and sent in order from one position of a queue.
  struct Stream {
    core::Seq next_read = 1;  // the first seq not read into `ready`
    core::Seq done = 1;       // every seq before it is settled for good
    core::Seq end = 0;        // reads stop before it (the backlog of a split); 0: no end
    std::uint64_t epoch = 0;  // renewed by rewind(): a read from before it is ignored
    bool reading = false;
    bool at_end = false;
    std::deque<core::StoredMessage> ready;
    std::map<core::Seq, bool> inflight;  // sent: seq -> settled for good (accepted/dead-lettered)
    std::map<core::Seq, core::Seq> batches;  // a batch in flight: its first seq -> its last
    core::Seq unbatched_until = 0;  // a refused batch's messages go again one by one
  };
  struct Queue {
    std::string name;
    std::string device;
    bool cursor_ready = false;
    core::Seq committed = 1;  // the cursor's position: first seq not yet committed
    Stream main;              // from the cursor on; while split, the backlog
    std::unique_ptr<Stream> live;  // while split: the messages from `main.end` on
    bool token_presented = false;
    bool link_ready = false;
    Clock::time_point paused_until{};
    std::chrono::milliseconds backoff{0};
    bool committing = false;
    core::Seq commit_wanted = 0;
    bool c2d_only = false;  // no store queue: opened for cloud-to-device messages alone
  };

  void scan();
  void add_queue(const std::string& name);
  void pump(Queue& q);
  void read(Queue& q, Stream& s);
  void send(Queue& q);
  Stream* next_to_send(Queue& q);
  std::size_t live_slots() const;
  // Sends the head of `s` as one batch transfer when it can; false: send one message instead.
  bool send_batch(Queue& q, Stream& s);
  Stream& stream_of(Queue& q, core::Seq seq) {
    return q.live && seq >= q.main.end ? *q.live : q.main;
  }
  Stream* stream_by_epoch(Queue& q, std::uint64_t epoch);
  void maybe_split(Queue& q, const core::QueueStats& stats);
  void present_token(Queue& q);
  void schedule_renewal(const std::string& device);
  void settled_for_good(Queue& q, core::Seq seq);
  void commit(Queue& q);
  void dead_letter(Queue& q, core::Seq seq, const std::string& reason);
  // Dead-letters the message or, with hold_refused, holds its queue at it.
  void refused_for_good(Queue& q, core::Seq seq, const std::string& reason);
  void pause(Queue& q, std::chrono::milliseconds how_long, const std::string& why);
  void rewind(Stream& s, core::Seq from);
  void rewind_all(Queue& q);  // every stream back to what is settled for good
  void connect();
  Queue* queue_of_device(const std::string& device);
  // `q` learnt its device: it becomes the device's queue (taking over a C2D-only entry).
  void adopt_device(Queue& q);
  std::chrono::milliseconds next_backoff(std::chrono::milliseconds previous);
  std::string cursor() const { return "bridge/" + options_.upstream; }
  // A store callback that runs f(result) on the bridge loop if this forwarder still exists
  // then. It may fire on the store thread after the forwarder is gone: it touches only the
  // loop (which outlives every forwarder) and a weak pointer.
  template <typename T, typename F>
  core::Callback<T> from_store(F f) {
    return [loop = &loop_, alive = std::weak_ptr<bool>(alive_),
            f = std::move(f)](core::Result<T> result) mutable {
      loop->post([alive, f = std::move(f), result = std::move(result)]() mutable {
        if (alive.lock()) f(std::move(result));
      });
    };
  }

  core::EventLoop& loop_;
  core::QueueStore& store_;
  ForwarderOptions options_;
  ForwarderStats stats_;
  std::unique_ptr<HubConnection> hub_;
  bool connected_ = false;
  bool stopped_ = false;
  std::chrono::milliseconds reconnect_backoff_{0};
  std::string last_failure_;  // logged once per distinct failure
  std::map<std::string, std::unique_ptr<Queue>> queues_;
  std::map<std::string, std::string> device_queue_;  // device -> queue
  std::map<std::string, Outbox> outboxes_;            // device -> its C2D outbox
  core::EventLoop::TimerId scan_timer_ = 0;
  core::EventLoop::TimerId reconnect_timer_ = 0;
  std::mt19937 rng_{std::random_device{}()};
  std::uint64_t next_epoch_ = 1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace holdfast::bridge
