#pragma once
// Persistence: what the MQTT listener keeps in the store so that it survives a restart —
// retained messages, persistent sessions (their subscriptions) and the QoS 1/2 messages not yet
// acknowledged by a persistent session's client.
//
// Operation
//   Three kinds of internal queues (their names start with '$', so no route or queue policy
//   written with wildcards touches them):
//     $mqtt/retained          a log of retained publishes; an empty payload clears a topic
//     $mqtt/sessions          a log of session records: address = client id, payload = the
//                             subscriptions; an empty payload ends the session
//     $mqtt/session/{id}      the messages queued or in flight to that session's client,
//                             consumed (cursor "client") as the client acknowledges them
//   The logs are read whole at start-up (last record per key wins) and rewritten once they
//   hold four times more records than live entries.
//
// Concurrency
//   load() on the main thread before the io loop runs (it blocks); everything else on the io
//   thread (asynchronous store calls; completions are posted back to `loop`).

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "broker/core/event_loop.h"
#include "broker/core/queue_store.h"
#include "protocols/mqtt/packet.h"

namespace holdfast::mqtt {

struct StoredSubscription {
  QoS qos = QoS::kAtMostOnce;
  bool no_local = false;
};

struct LoadedSession {
  std::map<std::string, StoredSubscription> subscriptions;
  std::vector<core::StoredMessage> pending;  // unacknowledged messages, oldest first
  std::vector<QoS> pending_qos;
};

struct LoadedState {
  std::vector<std::pair<core::Message, QoS>> retained;
  std::map<std::string, LoadedSession> sessions;
};

class Persistence {
 public:
  // `retained` and `sessions` give the live records of each log when it is rewritten.
  Persistence(core::EventLoop& loop, core::QueueStore& store,
              std::function<std::vector<core::Message>()> retained,
              std::function<std::vector<core::Message>()> sessions);

  // Main thread, before the loop runs. Reads everything back and compacts the logs.
  core::Result<LoadedState> load();

  void save_retained(const core::Message& message, QoS qos);
  void save_session(const std::string& client_id,
                    const std::map<std::string, StoredSubscription>& subscriptions);
  void forget_session(const std::string& client_id);

  // Stores a message for a persistent session; `done` gets its sequence number (0 if the
  // store refused it: the message then lives in memory only), on the io thread.
  void save_outgoing(const std::string& client_id, const core::Message& message, QoS qos,
                     std::function<void(core::Seq)> done);
  // The client acknowledged everything up to `seq` of its session queue.
  void acknowledge(const std::string& client_id, core::Seq seq);
  // A session ended: its queue is emptied.
  void drop_outgoing(const std::string& client_id);

  // The records that persist each kind of state.
  static core::Message retained_record(const core::Message& message, QoS qos);
  static core::Message session_record(const std::string& client_id,
                                      const std::map<std::string, StoredSubscription>& subs);

 private:
  struct Log {
    std::string queue;
    std::size_t live = 0;       // keys with a live record
    std::uint64_t records = 0;  // records since the last rewrite
    std::function<std::vector<core::Message>()> snapshot;
  };
  void append(Log& log, core::Message record);
  void rewrite(Log& log);

  core::EventLoop& loop_;
  core::QueueStore& store_;
  Log retained_;
  Log sessions_;
};

// "$mqtt/session/{client id}"
std::string session_queue(const std::string& client_id);

}  // namespace holdfast::mqtt
