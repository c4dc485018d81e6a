// The admin endpoint's wiring and the operator actions behind holdfastctl's import,
// deadletters, replay, bridge pause|resume and devices.
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "broker/admin/queue_ops.h"
#include "broker/core/log.h"
#include "broker/daemon/daemon.h"
#include "broker/daemon/on_loop.h"

namespace holdfast::daemon {
namespace {

using nlohmann::json;

std::pair<int, std::string> answer(int status, const json& body) {
  return {status, body.dump(2) + "\n"};
}

std::pair<int, std::string> failed(const core::Status& s) {
  int status = 500;
  switch (s.code()) {
    case core::Code::kNotFound:
      status = 404;
      break;
    case core::Code::kInvalidArgument:
    case core::Code::kTooLarge:
      status = 400;
      break;
    case core::Code::kUnsupported:
      status = 409;
      break;
    case core::Code::kResourceExhausted:
    case core::Code::kUnavailable:
      status = 503;
      break;
    default:
      break;
  }
  return answer(status, {{"error", s.to_string()}});
}

}  // namespace

core::Status Daemon::start_admin(const config::Config& config) {
  if (config.admin.port == 0) return {};
  auto admin = broker::AdminServer::start(
      config.admin.bind, config.admin.port,
      {.healthy = [this] { return healthy(); },
       .ready = [this] { return ready(); },
       .metrics = [this] { return metrics(); },
       .status_json = [this] { return status_json(); },
       .queues_json = [this] { return queues_json(); },
       .connections_json = [this] { return connections_json(); },
       .peek_json = [this](const std::string& queue, std::uint64_t from,
                           std::size_t max) { return peek_json(queue, from, max); },
       .purge_json = [this](const std::string& queue) { return purge_json(queue); },
       .import_json = [this](const std::string& queue,
                             const std::string& body) { return import_json(queue, body); },
       .deadletters_json = [this] { return deadletters_json(); },
       .replay_json = [this](const std::string& queue, const std::string& to,
                             std::size_t max) { return replay_json(queue, to, max); },
       .bridge_pause_json = [this](const std::string& upstream,
                                   bool paused) { return bridge_pause_json(upstream, paused); },
       .devices_json = [this] { return devices_json(); }});
  if (!admin) return admin.error();
  admin_ = std::move(*admin);
  core::log_info("holdfastd", "admin endpoint on http://" + config.admin.bind + ":" +
                                  std::to_string(config.admin.port));
  return {};
}

void Daemon::appended(const std::string& queue, core::Seq last) {
  loop_->post([this, queue, last] {
    dispatcher_->appended(queue, last);
    if (bridge_) bridge_->notify(queue);
  });
}

std::pair<int, std::string> Daemon::import_json(const std::string& queue,
                                                const std::string& lines) {
  auto imported = broker::import_lines(*store_, queue, lines);
  if (!imported) return failed(imported.error());
  if (auto last = (*imported)["last_seq"].get<core::Seq>(); last != 0) appended(queue, last);
  core::log_info("admin", "imported " + (*imported)["imported"].dump() + " messages into queue '" +
                              queue + "' on request");
  return answer(200, *imported);
}

std::pair<int, std::string> Daemon::deadletters_json() {
  auto list = broker::dead_letters_json(*store_, core::now_ms());
  if (!list) return failed(list.error());
  return answer(200, *list);
}

std::pair<int, std::string> Daemon::replay_json(const std::string& queue, const std::string& to,
                                                std::size_t max) {
  std::lock_guard lock(replay_mu_);
  auto replayed = broker::replay_dead_letters(*store_, queue, to, max);
  if (!replayed) return failed(replayed.error());
  for (const auto& [target, moved] : (*replayed)["to"].items()) {
    appended(target, moved["last_seq"].get<core::Seq>());
  }
  if ((*replayed)["replayed"].get<std::uint64_t>() > 0) {
    core::log_info("admin", "replayed " + (*replayed)["replayed"].dump() +
                                " messages of dead-letter queue '" + queue + "' on request");
  }
  return answer(200, *replayed);
}

std::pair<int, std::string> Daemon::bridge_pause_json(const std::string& upstream, bool paused) {
  if (!bridge_) {
    return answer(409, {{"error", "no bridge runs: no route names an upstream in the config"}});
  }
  if (!bridge_->set_paused(upstream, paused)) {
    return answer(404, {{"error", "no upstream '" + upstream + "'"}});
  }
  json list = json::array();
  for (const auto& u : bridge_->stats()) {
    list.push_back({{"name", u.name}, {"paused", u.stats->paused.load()}});
  }
  return answer(200, {{"upstreams", list}});
}

std::pair<int, std::string> Daemon::devices_json() {
  if (!ready_) return answer(503, {{"error", "holdfastd is starting or shutting down"}});
  struct Seen {
    DeviceTracker::Device device;
    std::vector<std::string> queues;
  };
  auto seen = on_loop(*loop_, [this] {
    std::vector<Seen> out;
    for (auto& d : devices_->devices()) {
      auto queues = router_->routes().resolve(d.last_address, d.origin);
      out.push_back({std::move(d), std::move(queues)});
    }
    return std::pair{std::move(out), devices_->evicted()};
  });
  if (!seen) return answer(503, {{"error", "the io loop did not answer in time"}});
  auto queues = core::call_sync<std::vector<core::QueueStats>>(
      [&](auto done) { store_->list_queues(std::move(done)); });
  if (!queues) return failed(queues.error());
  std::map<std::string, std::uint64_t> depth;
  for (const auto& q : *queues) depth[q.name] = q.depth;
  std::int64_t now = core::now_ms();
  json devices = json::array();
  for (const auto& [d, names] : seen->first) {
    std::uint64_t backlog = 0;
    for (const auto& q : names) backlog += depth.contains(q) ? depth[q] : 0;
    json token = {{"state", "none"}};
    // Any kept token, expired or not: "now" before the epoch.
    if (auto kept = tokens_->get(d.id, std::numeric_limits<std::int64_t>::min())) {
      token = {{"state", kept->expiry_s * 1000 > now ? "valid" : "expired"},
               {"expires_at_ms", kept->expiry_s * 1000},
               {"verified", kept->verified}};
    }
    devices.push_back({{"device_id", d.id},
                       {"protocol", core::protocol_name(d.origin.protocol)},
                       {"client_id", d.origin.client_id},
                       {"last_seen_ms", d.last_seen_ms},
                       {"last_seen_age_ms", now - d.last_seen_ms},
                       {"messages", d.messages},
                       {"queues", names},
                       {"backlog", backlog},
                       {"token", token}});
  }
  return answer(
      200, {{"devices", devices}, {"capacity", devices_->capacity()}, {"evicted", seen->second}});
}

}  // namespace holdfast::daemon
