#pragma once
// Daemon: wires holdfastd together from a Config — the store, the io loop with the router and
// the listeners, the admin endpoint — and takes it apart again in an order that loses nothing.
//
// Threads
//   main   start() and shutdown(); waits for signals in between (see main.cpp).
//   io     the EventLoop: listeners, router, sessions. Started by start().
//   store  inside RocksQueueStore.
//   admin  cpp-httplib's threads; they read atomics and use call_sync()/post-and-wait.
//
// Shutdown (SIGTERM, SIGINT): not ready -> stop accepting -> close connections -> stop the loop
// -> destroy the listeners -> close the store, which first runs every queued operation, so
// appends in flight are committed -> exit 0.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bridge/bridge.h"
#include "broker/admin/admin_server.h"
#include "broker/config/config.h"
#include "broker/core/event_loop.h"
#include "broker/daemon/device_tracker.h"
#include "broker/iothub/token_store.h"
#include "broker/router/dispatcher.h"
#include "broker/router/router.h"
#include "protocols/amqp/server.h"
#include "protocols/coap/server.h"
#include "protocols/mqtt/server/server.h"
#include "storage/rocks_queue_store.h"

namespace holdfast::daemon {

class Daemon {
 public:
  // Main thread; blocks while opening the store and binding ports. Errors name what failed.
  static core::Result<std::unique_ptr<Daemon>> start(const config::Config& config);
  // Main thread; orderly shutdown as described above. Also run by the destructor.
  void shutdown();
  ~Daemon();

  bool ready() const { return ready_; }

  // Admin views; called on admin threads.
  std::string metrics();
  std::string status_json();
  std::string queues_json();
  std::string connections_json();
  std::pair<int, std::string> peek_json(const std::string& queue, std::uint64_t from,
                                        std::size_t max);
  std::pair<int, std::string> purge_json(const std::string& queue);
  // Operator actions and views of holdfastctl (admin_actions.cpp).
  std::pair<int, std::string> import_json(const std::string& queue, const std::string& lines);
  std::pair<int, std::string> deadletters_json();
  std::pair<int, std::string> replay_json(const std::string& queue, const std::string& to,
                                          std::size_t max);
  std::pair<int, std::string> bridge_pause_json(const std::string& upstream, bool paused);
  std::pair<int, std::string> devices_json();
  bool healthy();

 private:
  Daemon() = default;
  core::Status start_listeners(const config::Config& config);
  core::Status start_bridge(const config::Config& config);
  core::Status start_admin(const config::Config& config);  // admin_actions.cpp
  // Io thread, after an admin action appended to `queue`: wakes its consumers and the bridge.
  void appended(const std::string& queue, core::Seq last);

  std::atomic<bool> ready_{false};
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  config::Config config_;
  // Destruction order matters; shutdown() does it explicitly: the store first (its last
  // callbacks reach the router, the listeners and the loop), then listeners, router, loop.
  std::unique_ptr<core::EventLoop> loop_;
  std::unique_ptr<broker::Router> router_;
  std::unique_ptr<broker::Dispatcher> dispatcher_;  // local queue consumers (AMQP receivers)
  std::unique_ptr<DeviceTracker> devices_;          // the listeners' Ingress, before the router
  std::mutex replay_mu_;                            // one replay at a time
  std::unique_ptr<storage::RocksQueueStore> store_;
  std::vector<std::unique_ptr<mqtt::MqttServer>> mqtt_;
  std::vector<std::unique_ptr<amqp::AmqpServer>> amqp_;
  std::vector<std::unique_ptr<coap::CoapServer>> coap_;
  std::unique_ptr<broker::AdminServer> admin_;
  std::unique_ptr<bridge::Bridge> bridge_;  // null when no route names an upstream
  std::shared_ptr<iothub::TokenStore> tokens_ = std::make_shared<iothub::TokenStore>();
  std::thread io_thread_;
  bool shut_down_ = false;
};

}  // namespace holdfast::daemon
