#include "bridge/forwarder.h"

#include <algorithm>

#include "broker/core/address.h"
#include "broker/core/log.h"
#include "broker/iothub/device_keys.h"
#include "broker/iothub/token_store.h"

namespace holdfast::bridge {
namespace {

constexpr std::string_view kLog = "bridge";

enum class Kind { kPermanent, kQuota, kTransient };

Kind classify(const std::string& condition) {
  static const std::set<std::string> kPermanent = {"amqp:link:message-size-exceeded",
                                                   "amqp:decode-error",
                                                   "amqp:invalid-field",
                                                   "com.microsoft:argument-error",
                                                   "amqp:not-allowed",
                                                   "amqp:not-found",
                                                   "amqp:unauthorized-access",
                                                   "com.microsoft:iot-hub-suspended"};
  if (kPermanent.contains(condition)) return Kind::kPermanent;
  if (condition == "amqp:resource-limit-exceeded") return Kind::kQuota;
  return Kind::kTransient;
}

std::string device_of_message(const core::Message& m) {
  if (!m.origin.device_id.empty()) return m.origin.device_id;
  auto d = core::parse_device_address(m.address);
  return d ? d->device_id : std::string();
}

}  // namespace

Forwarder::Forwarder(core::EventLoop& loop, core::QueueStore& store, ForwarderOptions options)
    : loop_(loop), store_(store), options_(std::move(options)) {}

Forwarder::~Forwarder() {
  *alive_ = false;
  loop_.cancel_timer(scan_timer_);
  loop_.cancel_timer(reconnect_timer_);
  for (auto& [device, box] : outboxes_) loop_.cancel_timer(box.retry_timer);
}

void Forwarder::start() {
  scan();
  connect();
}

void Forwarder::stop() {
  stopped_ = true;
  loop_.cancel_timer(scan_timer_);
  loop_.cancel_timer(reconnect_timer_);
  if (hub_) hub_->close();
}

void Forwarder::notified(const std::string& queue) {
  if (stopped_) return;
  auto it = queues_.find(queue);
  if (it == queues_.end()) {
    if (options_.drains(queue)) add_queue(queue);
    return;
  }
  Queue& q = *it->second;
  (q.live ? *q.live : q.main).at_end = false;  // new messages join the stream without an end
  pump(q);
}

void Forwarder::set_paused(bool paused) {
  if (stats_.paused.exchange(paused) == paused) return;
  core::log_info(kLog, "upstream '" + options_.upstream + "' " +
                           (paused ? "paused by the operator: no new transfers"
                                   : "resumed by the operator"));
  if (!paused) {
    for (auto& [name, q] : queues_) pump(*q);
  }
}

void Forwarder::scan() {
  if (stopped_) return;
  store_.list_queues(from_store<std::vector<core::QueueStats>>(
      [this](core::Result<std::vector<core::QueueStats>> result) {
        {
          if (stopped_) return;
          if (result) {
            std::string outboxes = outbox_queue("");
            for (const auto& q : *result) {
              if (q.name.starts_with(outboxes)) {
                // A device served before a restart: opened for its C2D, and what was kept for
                // it is offered again.
                std::string device = q.name.substr(outboxes.size());
                if (!outboxes_.contains(device)) {
                  outboxes_[device].end = q.next;
                  open_outbox(device);
                  open_for_c2d(device, "was served before");
                }
                continue;
              }
              if (!options_.drains(q.name)) continue;
              if (!queues_.contains(q.name)) {
                add_queue(q.name);
                continue;
              }
              Queue& state = *queues_[q.name];
              Stream& tail = state.live ? *state.live : state.main;
              if (tail.at_end && q.next > tail.next_read) {
                tail.at_end = false;  // grew without a notify()
                pump(state);
              }
              maybe_split(state, q);
            }
          }
          scan_timer_ = loop_.add_timer(options_.rescan, [this] { scan(); });
        }
      }));
}

void Forwarder::add_queue(const std::string& name) {
  auto q = std::make_unique<Queue>();
  q->name = name;
  queues_.emplace(name, std::move(q));
  store_.create_cursor(name, cursor(), from_store<core::Seq>([this, name](auto pos) {
                         auto it = queues_.find(name);
                         if (it == queues_.end()) return;
                         if (!pos) {
                           core::log(core::LogLevel::kWarn, kLog,
                                     "cannot open queue '" + name + "': " + pos.error().message(),
                                     "cursor");
                           queues_.erase(it);
                           return;
                         }
                         Queue& q = *it->second;
                         q.cursor_ready = true;
                         q.committed = q.main.next_read = q.main.done = *pos;
                         q.main.epoch = next_epoch_++;
                         pump(q);
                       }));
}

void Forwarder::maybe_split(Queue& q, const core::QueueStats& stats) {
  // A backlog: the oldest unsent message has waited long and more than a window is behind it.
  if (options_.live_share == 0 || q.live || !connected_ || !q.link_ready) return;
  if (q.main.ready.empty() || stats.next <= q.main.next_read + options_.window) return;
  std::int64_t waited = core::now_ms() - q.main.ready.front().message.received_at_ms;
  if (waited < options_.backlog_age.count()) return;
  q.main.end = stats.next;
  q.live = std::make_unique<Stream>();
  q.live->next_read = q.live->done = stats.next;
  q.live->epoch = next_epoch_++;
  ++stats_.backlogs;
  core::log_info(kLog, "queue '" + q.name + "' drains a backlog of " +
                           std::to_string(stats.next - q.main.done) + " messages; " +
                           std::to_string(options_.live_share) +
                           " % of the window goes to its messages from seq " +
                           std::to_string(stats.next) + " on");
  pump(q);
}

Forwarder::Stream* Forwarder::stream_by_epoch(Queue& q, std::uint64_t epoch) {
  if (q.main.epoch == epoch) return &q.main;
  if (q.live && q.live->epoch == epoch) return q.live.get();
  return nullptr;
}

void Forwarder::pump(Queue& q) {
  if (stopped_ || !q.cursor_ready) return;
  if (Clock::now() < q.paused_until) return;
  for (Stream* s : {&q.main, q.live.get()}) {
    if (s && !s->at_end && !s->reading && s->ready.size() < options_.window) read(q, *s);
  }
  if (!connected_ || q.device.empty()) return;
  if (!q.token_presented) present_token(q);
  if (q.link_ready) send(q);
}

void Forwarder::read(Queue& q, Stream& s) {
  if (q.c2d_only || (s.end != 0 && s.next_read >= s.end)) {
    s.at_end = true;
    return;
  }
  s.reading = true;
  core::ReadRequest r;
  r.from = s.next_read;
  r.max_messages = options_.window;
  if (s.end != 0) r.max_messages = std::min<std::uint64_t>(r.max_messages, s.end - s.next_read);
  r.max_bytes = 1 << 20;
  std::string name = q.name;
  std::uint64_t epoch = s.epoch;
  store_.read(name, r, from_store<core::ReadResult>([this, name, epoch](auto result) {
                {
                  auto it = queues_.find(name);
                  if (it == queues_.end()) return;
                  Queue& q = *it->second;
                  // Rewound (or merged away) meanwhile: whoever reads now reads anew.
                  Stream* s = stream_by_epoch(q, epoch);
                  if (!s) return;
                  s->reading = false;
                  if (!result) {
                    core::log(core::LogLevel::kWarn, kLog,
                              "cannot read queue '" + name + "': " + result.error().message(),
                              "read");
                    s->at_end = true;  // the next scan retries
                    return;
                  }
                  if (result->messages.empty()) {
                    s->at_end = true;
                    return;
                  }
                  for (auto& m : result->messages) {
                    if (m.seq < s->next_read) continue;  // from before a rewind
                    if (s->end != 0 && m.seq >= s->end) break;
                    if (auto f = s->inflight.find(m.seq); f != s->inflight.end() && f->second) {
                      continue;  // settled for good already (accepted before a rewind)
                    }
                    if (q.device.empty()) {
                      q.device = device_of_message(m.message);
                      if (!q.device.empty()) adopt_device(q);
                    }
                    s->ready.push_back(std::move(m));
                  }
                  s->next_read = std::max(s->next_read, result->next);
                  if (s->end != 0) s->next_read = std::min(s->next_read, s->end);
                  pump(q);
                }
              }));
}

void Forwarder::present_token(Queue& q) {
  std::string token;
  if (options_.keys) {
    auto minted = options_.keys->mint(options_.hub.host, q.device, "",
                                      core::now_s() + options_.token_lifetime.count());
    if (!minted) {
      core::log(core::LogLevel::kWarn, kLog,
                "no key for device '" + q.device + "' in the device-keys file: its queue '" +
                    q.name + "' waits",
                "no-key");
      return;
    }
    token = *minted;
  } else if (options_.tokens) {
    auto kept = options_.tokens->get(q.device, core::now_s());
    if (!kept) {
      core::log(core::LogLevel::kInfo, kLog,
                "no valid token from device '" + q.device +
                    "' yet (token passthrough): its "
                    "messages wait",
                "no-token");
      return;  // the next scan tries again
    }
    token = kept->token;
  } else {
    return;
  }
  q.token_presented = true;
  hub_->open_device(q.device, token, static_cast<bool>(options_.deliver_c2d));
  // Its (empty) outbox records the device for the next start.
  if (options_.deliver_c2d && !outboxes_.contains(q.device)) open_outbox(q.device);
}

Forwarder::Queue* Forwarder::queue_of_device(const std::string& device) {
  auto it = device_queue_.find(device);
  if (it == device_queue_.end()) return nullptr;
  auto q = queues_.find(it->second);
  return q == queues_.end() ? nullptr : q->second.get();
}

std::size_t Forwarder::live_slots() const {
  return std::max<std::size_t>(1, options_.window * options_.live_share / 100);
}

Forwarder::Stream* Forwarder::next_to_send(Queue& q) {
  std::size_t inflight = q.main.inflight.size() + (q.live ? q.live->inflight.size() : 0);
  if (inflight >= options_.window) return nullptr;
  if (q.live && !q.live->ready.empty()) {
    if (q.live->inflight.size() < live_slots() || q.main.ready.empty()) return q.live.get();
  }
  return q.main.ready.empty() ? nullptr : &q.main;
}

bool Forwarder::send_batch(Queue& q, Stream& s) {
  if (options_.batch < 2 || s.ready.size() < 2 || s.ready.front().seq < s.unbatched_until) {
    return false;
  }
  std::size_t inflight = q.main.inflight.size() + (q.live ? q.live->inflight.size() : 0);
  std::size_t room = options_.window - inflight;  // next_to_send() saw room for one at least
  if (&s == q.live.get() && !q.main.ready.empty() && s.inflight.size() < live_slots()) {
    room = std::min(room, live_slots() - s.inflight.size());
  }
  std::size_t n = std::min<std::size_t>({options_.batch, room, s.ready.size()});
  if (n < 2) return false;
  std::vector<const core::Message*> messages;
  messages.reserve(n);
  for (std::size_t i = 0; i < n; ++i) messages.push_back(&s.ready[i].message);
  core::Seq first = s.ready.front().seq;
  std::size_t packed = hub_->send_batch(q.device, messages, first);
  if (packed < 2) return false;
  core::Seq last = first;
  for (std::size_t i = 0; i < packed; ++i) {
    last = s.ready.front().seq;
    s.inflight.emplace(last, false);
    s.ready.pop_front();
  }
  s.batches.emplace(first, last);
  ++stats_.batches;
  stats_.sent += packed;
  return true;
}

void Forwarder::send(Queue& q) {
  Stream* s = nullptr;
  while (!stats_.paused && hub_->credit(q.device) > 0 && (s = next_to_send(q)) != nullptr) {
    if (send_batch(q, *s)) continue;
    core::StoredMessage& m = s->ready.front();
    std::string why;
    auto sent = hub_->send(q.device, m.message, m.seq, why);
    if (sent == HubConnection::SendResult::kTooLarge) {
      // The hub would refuse it every time: refuse it here, for good.
      core::Seq seq = m.seq;
      s->inflight.emplace(seq, false);
      s->ready.pop_front();
      refused_for_good(q, seq, why);
      if (options_.hold_refused) return;
      continue;
    }
    if (sent != HubConnection::SendResult::kSent) break;
    s->inflight.emplace(m.seq, false);
    s->ready.pop_front();
    ++stats_.sent;
  }
  for (Stream* each : {&q.main, q.live.get()}) {
    if (each && each->ready.size() < options_.window / 2 && !each->reading && !each->at_end) {
      read(q, *each);
    }
  }
}

void Forwarder::on_connected() {
  connected_ = true;
  stats_.connected = true;
  ++stats_.connects;
  reconnect_backoff_ = std::chrono::milliseconds(0);
  core::log_info(kLog, "connected to " + options_.hub.host + ":" +
                           std::to_string(options_.hub.port) + " (upstream '" + options_.upstream +
                           "')");
  last_failure_.clear();
  for (auto& [name, q] : queues_) pump(*q);
}

void Forwarder::on_device_ready(const std::string& device) {
  Queue* q = queue_of_device(device);
  if (!q) return;
  q->link_ready = true;
  schedule_renewal(device);
  pump(*q);
}

void Forwarder::schedule_renewal(const std::string& device) {
  // Renew the token on the live connection at 80 % of its life, as the SDKs do.
  auto renew_in =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.token_lifetime) * 8 / 10;
  HubConnection* hub = hub_.get();
  loop_.add_timer(renew_in, [this, device, hub, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.lock() || hub_.get() != hub || !connected_) return;  // reconnected meanwhile
    Queue* q = queue_of_device(device);
    if (!q || !q->link_ready) return;
    q->token_presented = false;
    present_token(*q);
    schedule_renewal(device);
  });
}

void Forwarder::on_credit(const std::string& device) {
  if (Queue* q = queue_of_device(device)) send(*q);
}

void Forwarder::on_device_refused(const std::string& device, const HubOutcome& why) {
  Queue* q = queue_of_device(device);
  if (!q) return;
  q->token_presented = false;
  q->link_ready = false;
  rewind_all(*q);
  pause(*q, next_backoff(q->backoff),
        "the hub refused device '" + device + "': " + why.condition + " " + why.description);
}

void Forwarder::on_settled(const std::string& device, std::uint64_t tag,
                           const HubOutcome& outcome) {
  Queue* q = queue_of_device(device);
  if (!q) return;
  auto seq = static_cast<core::Seq>(tag);
  Stream& s = stream_of(*q, seq);
  auto it = s.inflight.find(seq);
  if (it == s.inflight.end() || it->second) return;  // from before a rewind
  core::Seq last = seq;
  if (auto b = s.batches.find(seq); b != s.batches.end()) {
    last = b->second;
    s.batches.erase(b);
  }
  if (outcome.accepted) {
    std::vector<core::Seq> settled;
    for (auto i = it; i != s.inflight.end() && i->first <= last; ++i) {
      if (!i->second) settled.push_back(i->first);
    }
    stats_.forwarded += settled.size();
    if (&s == q->live.get()) stats_.live_forwarded += settled.size();
    q->backoff = std::chrono::milliseconds(0);
    for (core::Seq each : settled) settled_for_good(*q, each);  // may merge the streams
    send(*q);
    return;
  }
  ++stats_.refused;
  std::string reason =
      outcome.condition + (outcome.description.empty() ? "" : ": " + outcome.description);
  Kind kind = classify(outcome.condition);
  // A refused batch goes again one message at a time: a refusal for good then finds its
  // message, and a throttle smaller than the batch cannot refuse it forever.
  if (last != seq) s.unbatched_until = std::max(s.unbatched_until, last + 1);
  if (last != seq && kind == Kind::kPermanent) {
    core::log(core::LogLevel::kInfo, kLog,
              "a batch of '" + q->name + "' was refused (" + reason +
                  "); its messages go again one at a time",
              "batch-refused");
    rewind(s, seq);
    pump(*q);
    return;
  }
  switch (kind) {
    case Kind::kPermanent:
      refused_for_good(*q, seq, reason);
      break;
    case Kind::kQuota:
      ++stats_.retried;
      rewind(s, seq);
      pause(*q, options_.quota_pause, "quota: " + reason);
      break;
    case Kind::kTransient:
      ++stats_.retried;
      if (outcome.condition == "com.microsoft:device-container-throttled") ++stats_.throttled;
      rewind(s, seq);
      pause(*q, next_backoff(q->backoff), reason);
      break;
  }
}

void Forwarder::settled_for_good(Queue& q, core::Seq seq) {
  Stream& s = stream_of(q, seq);
  s.inflight[seq] = true;
  while (!s.inflight.empty() && s.inflight.begin()->second) {
    s.done = s.inflight.begin()->first + 1;
    s.inflight.erase(s.inflight.begin());
  }
  if (q.live && q.main.done >= q.main.end) {
    // The backlog has drained: the cursor jumps over the live messages accepted meanwhile, and
    // the live stream goes on as the only one.
    core::log_info(kLog, "queue '" + q.name + "' drained its backlog");
    q.main = std::move(*q.live);
    q.live.reset();
  }
  if (q.main.done <= q.committed) return;
  q.committed = q.main.done;
  q.commit_wanted = std::max(q.commit_wanted, q.committed - 1);
  commit(q);
}

void Forwarder::commit(Queue& q) {
  if (q.committing || q.commit_wanted == 0) return;
  q.committing = true;
  core::Seq upto = q.commit_wanted;
  std::string name = q.name;
  store_.commit(name, cursor(), upto, from_store<core::Seq>([this, name, upto](auto r) {
                  {
                    bool ok = r.has_value();
                    std::string why = ok ? std::string() : r.error().message();
                    auto it = queues_.find(name);
                    if (it == queues_.end()) return;
                    Queue& q = *it->second;
                    q.committing = false;
                    if (!ok) {
                      core::log(core::LogLevel::kWarn, kLog, "cannot commit '" + name + "': " + why,
                                "commit");
                    } else if (q.commit_wanted == upto) {
                      q.commit_wanted = 0;
                    }
                    commit(q);
                  }
                }));
}

void Forwarder::refused_for_good(Queue& q, core::Seq seq, const std::string& reason) {
  if (!options_.hold_refused) {
    dead_letter(q, seq, reason);
    return;
  }
  rewind(stream_of(q, seq), seq);
  pause(q, next_backoff(q.backoff),
        "message " + std::to_string(seq) + " refused for good, queue held (on_refusal = hold): " +
            reason);
}

void Forwarder::dead_letter(Queue& q, core::Seq seq, const std::string& reason) {
  // Find the message again: it is stored, the read is cheap and keeps memory bounded.
  core::ReadRequest r;
  r.from = seq;
  r.max_messages = 1;
  std::string name = q.name;
  store_.read(name, r, from_store<core::ReadResult>([this, name, seq, reason](auto result) {
                {
                  auto it = queues_.find(name);
                  if (it == queues_.end()) return;
                  if (!result || result->messages.empty() || result->messages[0].seq != seq) {
                    settled_for_good(*it->second, seq);  // gone meanwhile (purged, expired)
                    return;
                  }
                  core::AppendRequest a;
                  a.queue = "deadletter/" + name;
                  a.message = std::move(result->messages[0].message);
                  a.dead_letter = core::DeadLetterInfo{
                      "upstream " + options_.upstream + ": " + reason, name, seq, core::now_ms()};
                  std::vector<core::AppendRequest> batch;
                  batch.push_back(std::move(a));
                  store_.append(
                      std::move(batch),
                      from_store<std::vector<core::Seq>>([this, name, seq, reason](auto appended) {
                        {
                          bool ok = appended.has_value();
                          auto it = queues_.find(name);
                          if (it == queues_.end()) return;
                          if (!ok) {
                            rewind(stream_of(*it->second, seq), seq);
                            pause(*it->second, next_backoff(it->second->backoff),
                                  "cannot dead-letter a refused message");
                            return;
                          }
                          ++stats_.dead_lettered;
                          core::log(core::LogLevel::kWarn, kLog,
                                    "message " + std::to_string(seq) + " of '" + name +
                                        "' dead-lettered: " + reason,
                                    "dead-letter");
                          settled_for_good(*it->second, seq);
                          send(*it->second);
                        }
                      }));
                }
              }));
}

void Forwarder::rewind(Stream& s, core::Seq from) {
  // Everything from `from` on is sent again, except what is settled for good.
  for (auto it = s.inflight.lower_bound(from); it != s.inflight.end();) {
    it = it->second ? std::next(it) : s.inflight.erase(it);
  }
  s.batches.erase(s.batches.lower_bound(from), s.batches.end());
  s.ready.clear();
  s.next_read = from;
  s.at_end = false;
  s.reading = false;  // a read in flight is ignored when it answers
  s.epoch = next_epoch_++;
}

void Forwarder::rewind_all(Queue& q) {
  rewind(q.main, q.main.done);
  if (q.live) rewind(*q.live, q.live->done);
}

void Forwarder::pause(Queue& q, std::chrono::milliseconds how_long, const std::string& why) {
  q.backoff = how_long;
  q.paused_until = Clock::now() + how_long;
  core::log(core::LogLevel::kInfo, kLog,
            "queue '" + q.name + "' pauses " + std::to_string(how_long.count()) + " ms: " + why,
            "pause");
  std::string name = q.name;
  loop_.add_timer(how_long, [this, name, alive = std::weak_ptr<bool>(alive_)] {
    if (!alive.lock()) return;
    auto it = queues_.find(name);
    if (it != queues_.end()) pump(*it->second);
  });
}

std::chrono::milliseconds Forwarder::next_backoff(std::chrono::milliseconds previous) {
  // Decorrelated jitter: random between the base and three times the previous pause, capped.
  auto base = options_.backoff_initial.count();
  auto high = std::max<std::int64_t>(base, previous.count() * 3);
  std::uniform_int_distribution<std::int64_t> pick(base, high);
  return std::chrono::milliseconds(
      std::min<std::int64_t>(pick(rng_), options_.backoff_max.count()));
}

void Forwarder::connect() {
  if (stopped_) return;
  hub_ = make_hub_connection(loop_, options_.hub, *this);
  hub_->connect();
}

void Forwarder::on_disconnected(const core::Status& why) {
  bool was_connected = connected_;
  connected_ = false;
  stats_.connected = false;
  for (auto& [name, q] : queues_) {
    q->token_presented = false;
    q->link_ready = false;
    rewind_all(*q);
  }
  // The HubConnection reported from a posted task; drop it on the next turn.
  loop_.post([old = std::shared_ptr<HubConnection>(std::move(hub_))] {});
  if (stopped_) return;
  if (!was_connected) ++stats_.connect_failures;
  if (why.message() != last_failure_ || was_connected) {
    core::log_warn(kLog, "upstream '" + options_.upstream + "' unavailable: " + why.message() +
                             "; retrying with backoff (logged again when it changes)");
    last_failure_ = why.message();
  }
  reconnect_backoff_ = next_backoff(reconnect_backoff_);
  reconnect_timer_ = loop_.add_timer(reconnect_backoff_, [this] { connect(); });
}

}  // namespace holdfast::bridge
