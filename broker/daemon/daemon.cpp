#include "broker/daemon/daemon.h"

#include <future>

#include "broker/core/address.h"
#include "broker/core/log.h"
#include "broker/core/tls.h"
#include "broker/iothub/device_keys.h"
#include "protocols/coap/psk_keys.h"

namespace holdfast::daemon {
namespace {

constexpr std::string_view kLog = "holdfastd";

storage::StoreOptions store_options(const config::Config& c) {
  storage::StoreOptions o;
  o.path = c.store.path;
  o.sync =
      c.store.sync == config::SyncMode::kFsync ? storage::SyncMode::kFsync : storage::SyncMode::kOs;
  o.quota_bytes = c.store.quota_bytes;
  o.quota_policy = c.store.quota_policy;
  o.min_free_disk_bytes = c.store.min_free_disk_bytes;
  o.block_cache_bytes = c.store.block_cache_bytes;
  o.write_buffer_bytes = c.store.write_buffer_bytes;
  o.max_batch_messages = c.store.max_batch_messages;
  o.max_batch_bytes = c.store.max_batch_bytes;
  o.retention_interval = c.store.retention_interval;
  for (const auto& p : c.queue_policies) o.policies.emplace_back(p.pattern, p.policy());
  return o;
}

}  // namespace

core::Result<std::unique_ptr<Daemon>> Daemon::start(const config::Config& config) {
  std::unique_ptr<Daemon> d(new Daemon());
  d->config_ = config;

  auto store = storage::RocksQueueStore::open(store_options(config));
  if (!store) return core::error(store.error());
  d->store_ = std::move(*store);

  std::vector<broker::Route> routes;
  for (const auto& r : config.routes) routes.push_back({r.pattern, r.queue});
  auto table = broker::RouteTable::build(std::move(routes));
  if (!table) return core::error(table.error());

  d->loop_ = std::make_unique<core::EventLoop>();
  if (!d->loop_->status().ok()) return core::error(d->loop_->status());
  d->router_ = std::make_unique<broker::Router>(*d->loop_, *d->store_, std::move(*table));
  auto queues = core::call_sync<std::vector<core::QueueStats>>(
      [&](auto done) { d->store_->list_queues(std::move(done)); });
  if (!queues) return core::error(queues.error());
  broker::DispatcherOptions dispatch;
  for (const auto& q : *queues) dispatch.known_queues.push_back(q.name);
  // A consumer's rejects go where the queue's policy sends dead letters (else the default).
  dispatch.dead_letter_queue = [policies = config.queue_policies](const std::string& queue) {
    for (const auto& p : policies) {
      if (core::topic_matches(p.pattern, queue)) return p.dead_letter_queue;
    }
    return std::string();
  };
  d->dispatcher_ = std::make_unique<broker::Dispatcher>(*d->loop_, *d->store_,
                                                        d->router_->routes(), std::move(dispatch));
  // The listeners' Ingress: notes which devices send, then hands every message to the router.
  d->devices_ = std::make_unique<DeviceTracker>(*d->router_, 10'000);
  if (auto s = d->start_bridge(config); !s.ok()) return core::error(s);
  // The bridge hears of grown queues once per io-loop turn (a group commit completes many
  // appends at once): one hand-over to its thread instead of one per append.
  struct Grown {
    std::vector<std::string> queues;
    bool flush_posted = false;
  };
  d->router_->set_append_listener([dispatcher = d->dispatcher_.get(), bridge = d->bridge_.get(),
                                   loop = d->loop_.get(), grown = std::make_shared<Grown>()](
                                      const std::string& queue, core::Seq seq) {
    dispatcher->appended(queue, seq);
    if (!bridge) return;
    if (grown->queues.empty() || grown->queues.back() != queue) grown->queues.push_back(queue);
    if (grown->flush_posted) return;
    grown->flush_posted = true;
    loop->post([bridge, grown] {
      grown->flush_posted = false;
      bridge->notify(grown->queues);
      grown->queues.clear();
    });
  });
  if (d->bridge_) {
    // A device subscribing to its C2D messages gets them even before it sent anything.
    d->router_->set_subscribe_listener([bridge = d->bridge_.get()](const std::string& filter) {
      auto device = core::parse_device_address(filter);
      if (device && device->endpoint == core::DeviceEndpoint::kDeviceBound &&
          device->device_id != "+" && device->device_id != "#") {
        bridge->want_c2d(device->device_id);
      }
    });
  }

  // The loop is not running yet: this thread may set it up before handing it to the io thread.
  if (auto s = d->start_listeners(config); !s.ok()) return core::error(s);

  if (auto s = d->start_admin(config); !s.ok()) return core::error(s);

  d->io_thread_ = std::thread([loop = d->loop_.get()] { loop->run(); });
  d->ready_ = true;
  core::log_info(kLog, "ready; store at " + config.store.path);
  return d;
}

core::Status Daemon::start_bridge(const config::Config& config) {
  std::vector<bridge::ForwarderOptions> upstreams;
  for (const auto& u : config.upstreams) {
    std::vector<broker::Route> routes;
    for (const auto& r : config.routes) {
      if (r.upstream == u.name) routes.push_back({r.pattern, r.queue});
    }
    if (routes.empty()) continue;  // nothing is routed there
    if (u.auth == config::UpstreamAuth::kGateway) {
      core::log_warn(kLog, "upstream '" + u.name +
                               "' skipped: this build forwards with device keys or token "
                               "passthrough only; its queues keep filling");
      continue;
    }
    auto table = broker::RouteTable::build(std::move(routes));
    if (!table) return table.error();
    bridge::ForwarderOptions o;
    o.upstream = u.name;
    o.hub.protocol = u.kind == config::UpstreamKind::kIotHubMqtt ? bridge::HubProtocol::kMqtt
                                                                 : bridge::HubProtocol::kAmqp;
    o.hub.host = u.host;
    o.hub.port = u.port;
    o.hub.ca_file = u.ca_file;
    o.window = u.window;
    o.batch = u.batch;
    o.live_share = u.live_share;
    o.backlog_age = u.backlog_age;
    o.hold_refused = u.on_refusal == config::RefusalPolicy::kHold;
    // Cloud-to-device messages enter the local broker on the io thread, like any publish.
    o.deliver_c2d = [loop = loop_.get(), router = router_.get()](
                        core::Message m, std::shared_ptr<core::DeliveryWatch> watch,
                        std::function<void(core::Status)> done) {
      loop->post([router, m = std::move(m), watch = std::move(watch),
                  done = std::move(done)]() mutable {
        core::PublishOptions publish;
        publish.watch = std::move(watch);
        router->submit(std::move(m), std::move(publish),
                       [done = std::move(done)](core::Result<void> r) {
                         done(r ? core::Status() : r.error());
                       });
      });
    };
    o.drains = [table = std::make_shared<broker::RouteTable>(std::move(*table))](
                   const std::string& queue) { return table->names_queue(queue); };
    if (u.auth == config::UpstreamAuth::kDeviceKeys) {
      auto loaded = iothub::DeviceKeys::load(u.device_keys_file);
      if (!loaded) return loaded.error();
      o.keys = std::make_shared<const iothub::DeviceKeys>(std::move(*loaded));
    } else {
      o.tokens = tokens_;
    }
    core::log_info(kLog, "forwarding to upstream '" + u.name + "' at " + u.host + ":" +
                             std::to_string(u.port) +
                             (o.hub.protocol == bridge::HubProtocol::kMqtt ? " (MQTT)" : " (AMQP)"));
    upstreams.push_back(std::move(o));
  }
  if (upstreams.empty()) return {};
  auto started = bridge::Bridge::start(*store_, std::move(upstreams));
  if (!started) return started.error();
  bridge_ = std::move(*started);
  return {};
}

core::Status Daemon::start_listeners(const config::Config& config) {
  // Device keys let the listeners verify the SAS tokens devices log in with.
  std::shared_ptr<const iothub::DeviceKeys> keys;
  for (const auto& u : config.upstreams) {
    if (u.auth != config::UpstreamAuth::kDeviceKeys || u.device_keys_file.empty()) continue;
    auto loaded = iothub::DeviceKeys::load(u.device_keys_file);
    if (!loaded) return loaded.error();
    keys = std::make_shared<const iothub::DeviceKeys>(std::move(*loaded));
    core::log_info(kLog, "verifying device tokens with " + u.device_keys_file + " (" +
                             std::to_string(keys->identity_count()) + " identities)");
    break;
  }
  for (const auto& l : config.listeners) {
    std::string where = l.bind + ":" + std::to_string(l.port);
    if (l.protocol == core::Protocol::kCoap) {
      coap::CoapOptions o;
      o.bind = l.bind;
      o.port = l.port;
      o.max_endpoints = l.max_connections;
      o.max_body_bytes = l.max_packet_bytes;
      o.rate_limit = l.rate_limit;
      o.dtls = l.tls;
      if (l.tls) {  // DTLS: certificates, pre-shared keys, or both (the config checked one)
        o.cert_file = l.cert_file;
        o.key_file = l.key_file;
        o.client_ca_file = l.ca_file;
      }
      if (l.tls && !l.psk_file.empty()) {
        auto psk = coap::PskKeys::load(l.psk_file);
        if (!psk) return psk.error();
        o.psk = std::make_shared<const coap::PskKeys>(std::move(*psk));
        core::log_info(kLog, "CoAP DTLS keys from " + l.psk_file + " (" +
                                 std::to_string(o.psk->size()) + " identities)");
      }
      auto server = std::make_unique<coap::CoapServer>(*loop_, *devices_, *router_,
                                                       dispatcher_.get(), std::move(o));
      if (auto s = server->start(); !s.ok()) return s;
      coap_.push_back(std::move(server));
      continue;
    }
    if (l.protocol == core::Protocol::kAmqp) {
      amqp::AmqpOptions o;
      o.bind = l.bind;
      o.port = l.port;
      o.max_connections = l.max_connections;
      o.max_message_bytes = l.max_packet_bytes;
      o.require_device_auth = l.require_device_auth;
      o.idle_timeout = l.idle_timeout;
      o.open_timeout = l.idle_timeout;
      o.tls = l.tls;
      o.cert_file = l.cert_file;
      o.key_file = l.key_file;
      o.ca_file = l.ca_file;
      o.device_keys = keys;
      o.tokens = tokens_;
      auto server = std::make_unique<amqp::AmqpServer>(*loop_, *devices_, *router_,
                                                         dispatcher_.get(), o);
      if (auto s = server->start(); !s.ok()) return s;
      amqp_.push_back(std::move(server));
      continue;
    }
    std::shared_ptr<core::TlsContext> tls;
    if (l.tls) {
      auto context = core::TlsContext::server({l.cert_file, l.key_file, l.ca_file});
      if (!context) {
        return {context.error().code(), "mqtt listener on " + where + ": " +
                                            context.error().message()};
      }
      tls = std::move(*context);
    }
    if (!mqtt_.empty()) {
      // One MQTT server for every MQTT listener, so a persistent session is the same whichever
      // port its client comes back on; the first listener's limits apply to all.
      if (auto s = mqtt_.front()->listen(l.bind, l.port, std::move(tls)); !s.ok()) return s;
      continue;
    }
    mqtt::ServerOptions o;
    o.tls = std::move(tls);
    o.bind = l.bind;
    o.port = l.port;
    o.max_connections = l.max_connections;
    o.max_packet_bytes = l.max_packet_bytes;
    o.max_subscriptions_per_client = l.max_subscriptions;
    o.max_topic_bytes = l.max_topic_bytes;
    o.receive_maximum = static_cast<std::uint16_t>(l.receive_maximum);
    o.max_inflight = static_cast<std::uint16_t>(l.max_inflight);
    o.max_queued_messages = l.max_queued_messages;
    o.device_keys = keys;
    o.tokens = tokens_;
    auto server = std::make_unique<mqtt::MqttServer>(*loop_, *devices_, *router_, o, store_.get());
    if (auto s = server->restore(); !s.ok()) return s;
    if (auto s = server->start(); !s.ok()) return s;
    mqtt_.push_back(std::move(server));
  }
  return {};
}

void Daemon::shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  ready_ = false;
  if (io_thread_.joinable()) {
    std::promise<void> closed;
    loop_->post([&] {
      for (auto& s : mqtt_) {
        s->stop_accepting();
        s->close_all();
      }
      for (auto& s : amqp_) {
        s->stop_accepting();
        s->close_all();
      }
      // CoAP has no connections to close: stop reading, end observations and waiting GETs
      // (their consumers give deliveries back while the dispatcher and the store are there).
      for (auto& s : coap_) {
        s->stop_accepting();
        s->close_all();
      }
      // close_all() posted each connection's cleanup; run them, then flush and stop.
      loop_->post([&] {
        // AMQP connections still open give their consumers' deliveries back while the
        // dispatcher and the store are there to take them.
        for (auto& s : amqp_) s->abort_all();
        loop_->stop();
        closed.set_value();
      });
    });
    closed.get_future().wait();
    io_thread_.join();
  }
  if (bridge_) bridge_->stop();  // before the store closes: it reads and commits
  admin_.reset();
  std::size_t queued = 0;
  if (store_) {
    auto stats =
        core::call_sync<core::StoreStats>([&](auto done) { store_->store_stats(std::move(done)); });
    if (stats) queued = stats->messages;
  }
  // The store runs every queued operation before it closes; their callbacks still reach the
  // router, the listeners' persistence and the loop (which no longer runs what they post), so
  // those are destroyed only afterwards.
  store_.reset();
  mqtt_.clear();
  amqp_.clear();
  coap_.clear();
  dispatcher_.reset();
  router_.reset();
  loop_.reset();
  core::log_info(kLog, "stopped; " + std::to_string(queued) + " messages stored");
}

Daemon::~Daemon() {
  shutdown();
}

bool Daemon::healthy() {
  if (!ready_) return false;
  // The io loop must answer within a second.
  auto answered = std::make_shared<std::promise<void>>();
  auto future = answered->get_future();
  loop_->post([answered] { answered->set_value(); });
  return future.wait_for(std::chrono::seconds(1)) == std::future_status::ready;
}

}  // namespace holdfast::daemon
