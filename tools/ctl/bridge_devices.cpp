// holdfastctl bridge pause|resume and holdfastctl devices: both ask the running holdfastd only
// (a pause and the devices seen live in its memory).
#include <iostream>

#include "broker/core/message.h"
#include "tools/ctl/commands.h"

namespace holdfast::ctl {
namespace {

std::string token_cell(const json& token, std::int64_t now_ms) {
  std::string state = token.value("state", "none");
  if (state == "none") return "none";
  std::int64_t expires = token.value("expires_at_ms", 0LL);
  std::string verified = token.value("verified", false) ? "" : " (signature not checked)";
  if (state == "valid") {
    return "valid until " + iso_time_ms(expires) + " (" + human_duration_ms(expires - now_ms) +
           ")" + verified;
  }
  return "EXPIRED " + iso_time_ms(expires) + verified;
}

}  // namespace

Outcome<void> run_bridge(const Globals& g, const BridgeOptions& o) {
  const char* verb = o.pause ? "pause" : "resume";
  auto source = open_daemon(g.target, std::string("bridge ") + verb);
  if (!source) return std::unexpected(source.error());
  auto r = (*source)->set_paused(o.upstream, o.pause);
  if (!r) return std::unexpected(r.error());
  if (g.json) {
    std::cout << json_text(*r, 2) << "\n";
    return {};
  }
  for (const auto& u : (*r)["upstreams"]) {
    std::string name = u.value("name", "");
    if (!o.upstream.empty() && name != o.upstream) continue;
    std::cout << "upstream " << safe(name) << ": "
              << (u.value("paused", false)
                      ? "paused: no new transfers are sent (unsettled ones settle, queues keep "
                        "filling) until `holdfastctl bridge resume` or a restart of holdfastd"
                      : "forwarding")
              << "\n";
  }
  return {};
}

Outcome<void> run_devices(const Globals& g) {
  auto source = open_daemon(g.target, "devices (holdfastd tracks them in memory)");
  if (!source) return std::unexpected(source.error());
  auto r = (*source)->devices();
  if (!r) return std::unexpected(r.error());
  if (g.json) {
    std::cout << json_text(*r, 2) << "\n";
    return {};
  }
  const json& devices = (*r)["devices"];
  if (devices.empty()) {
    std::cout << "no device has sent anything since holdfastd started\n";
    return {};
  }
  std::int64_t now = core::now_ms();
  Table t({{"DEVICE"},
           {"PROTOCOL"},
           {"LAST SEEN", true},
           {"MESSAGES", true},
           {"BACKLOG", true},
           {"QUEUES"},
           {"TOKEN"}});
  for (const auto& d : devices) {
    std::string queues;
    for (const auto& q : d["queues"])
      queues += (queues.empty() ? "" : ",") + safe(q.get<std::string>());
    t.add_row({safe(d.value("device_id", "")), d.value("protocol", ""),
               human_duration_ms(d.value("last_seen_age_ms", 0LL)) + " ago",
               std::to_string(d.value("messages", 0ULL)), std::to_string(d.value("backlog", 0ULL)),
               queues.empty() ? "-" : queues, token_cell(d["token"], now)});
  }
  t.print(std::cout);
  if (r->value("evicted", 0ULL) > 0) {
    std::cout << "(" << r->value("evicted", 0ULL) << " devices seen longest ago were forgotten: "
              << "holdfastd keeps the last " << r->value("capacity", 0ULL) << ")\n";
  }
  return {};
}

}  // namespace holdfast::ctl
