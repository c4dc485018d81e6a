#pragma once
// Private to amqp_load.cpp (set-up, timing, results: the main thread) and amqp_events.cpp (the
// Proton event handlers): the state of `holdfast-bench amqp`'s links and connections.
//
// Concurrency
//   The main thread builds every Conn and LinkState before handing the connection to the
//   proactor (pn_proactor_connect2); from then on the thread handling that connection's events
//   (Proton serializes them) owns them, except for the atomics, Conn::mu/gone (see wake()) and
//   the error list (under its mutex). The main thread reads the rest after joining the threads.

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "tools/bench/amqp_load.h"
#include "tools/bench/bench_util.h"

namespace holdfast::bench::amqp_detail {

struct Conn;

// One link: the pn_link_t's context.
struct LinkState {
  Conn* conn = nullptr;
  bool sender = false;
  std::string name;  // link name: PREFIX-s{i} / PREFIX-r{j}
  std::string address;
  pn_link_t* pn = nullptr;
  std::atomic<int> state{0};  // 0 attaching, 1 ready (attached; senders: with credit), -1 gone
  // Senders.
  std::string encoded;  // the message, encoded once; the send time is written at stamp_at
  std::size_t stamp_at = std::string::npos;
  std::uint32_t unsettled = 0;
  std::uint64_t next_tag = 0;
  std::uint64_t accepted = 0;
};

// One connection with one session: the pn_connection_t's context.
struct Conn {
  std::string container;
  pn_connection_t* pn = nullptr;
  std::vector<LinkState*> links;
  std::mutex mu;      // guards `gone` against pn_connection_wake() from the main thread
  bool gone = false;  // PN_TRANSPORT_CLOSED handled: Proton frees `pn` next
  // The figures of this connection's links in the measured window (event handlers only).
  std::uint64_t sent = 0, accepted = 0, received = 0;
  LatencyHistogram accept_us, e2e_us;
  pn_message_t* scratch = nullptr;  // decodes received messages
  std::string buffer;               // a received transfer
};

// What the Proton threads and the main thread share.
class Load {
 public:
  explicit Load(const AmqpLoadOptions& o) : o_(o) {}

  pn_proactor_t* proactor = nullptr;
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<std::unique_ptr<LinkState>> links;
  // Set by the main thread before `go`: the first transfer's time and the measured window.
  std::atomic<std::int64_t> run_start{LLONG_MAX};
  std::atomic<std::int64_t> window_start{LLONG_MAX}, window_end{LLONG_MAX};
  std::atomic<bool> go{false}, stopping{false}, closing{false};
  std::atomic<unsigned> threads_left{0};
  std::atomic<std::uint64_t> sent{0}, accepted{0}, received{0}, rejected{0}, released{0};
  std::atomic<std::uint64_t> received_backlog{0};  // sent before this run (older messages)
  std::atomic<std::int64_t> unsettled{0};          // transfers without an outcome, on live links
  std::atomic<std::uint64_t> lost{0};              // transfers whose link went before their outcome
  std::atomic<std::uint64_t> link_errors{0}, connection_errors{0}, conns_gone{0};

  // Any thread. Counts an error by its text (with the AMQP condition).
  void note_error(const std::string& e);
  std::vector<std::pair<std::string, std::uint64_t>> errors();

  // Main thread: makes `c`'s thread run PN_CONNECTION_WAKE (send, or close once `closing`),
  // unless the connection is gone.
  void wake(Conn& c);

  // A Proton thread: handles events until a PN_PROACTOR_INTERRUPT, then passes it on.
  void run_thread();

 private:
  bool in_window(std::int64_t t) const {
    return t >= window_start.load(std::memory_order_relaxed) &&
           t < window_end.load(std::memory_order_relaxed);
  }
  void handle(pn_event_t* e);
  void send_more(LinkState& s);
  void on_outcome(LinkState& s, pn_delivery_t* d);
  void on_transfer(LinkState& r, pn_delivery_t* d);
  void link_gone(LinkState& l);

  const AmqpLoadOptions& o_;
  std::mutex errors_mu_;
  std::vector<std::pair<std::string, std::uint64_t>> errors_;
};

// "name: description" of an AMQP error condition, or "(no condition)".
std::string describe(pn_condition_t* c);

}  // namespace holdfast::bench::amqp_detail
