#include "broker/admin/message_json.h"

#include "broker/iothub/base64.h"

namespace holdfast::broker {

nlohmann::json message_json(const core::StoredMessage& m) {
  const core::Message& msg = m.message;
  nlohmann::json user = nlohmann::json::array();
  for (const auto& [k, v] : msg.properties.user) user.push_back({k, v});
  nlohmann::json j = {{"seq", m.seq},
                      {"address", msg.address},
                      {"payload_base64", iothub::base64_encode(msg.payload)},
                      {"received_at_ms", msg.received_at_ms},
                      {"stored_bytes", m.stored_bytes},
                      {"origin",
                       {{"protocol", core::protocol_name(msg.origin.protocol)},
                        {"client_id", msg.origin.client_id},
                        {"device_id", msg.origin.device_id}}},
                      {"properties",
                       {{"message_id", msg.properties.message_id},
                        {"correlation_id", msg.properties.correlation_id},
                        {"content_type", msg.properties.content_type},
                        {"content_encoding", msg.properties.content_encoding},
                        {"user", user}}}};
  if (msg.properties.creation_time_ms) {
    j["properties"]["creation_time_ms"] = *msg.properties.creation_time_ms;
  }
  if (msg.amqp_bare) j["amqp_bare_base64"] = iothub::base64_encode(*msg.amqp_bare);
  if (m.dead_letter) {
    j["dead_letter"] = {{"reason", m.dead_letter->reason},
                        {"original_queue", m.dead_letter->original_queue},
                        {"original_seq", m.dead_letter->original_seq},
                        {"dead_lettered_at_ms", m.dead_letter->dead_lettered_at_ms}};
  }
  return j;
}

nlohmann::json queue_json(const core::QueueStats& q, std::int64_t now_ms) {
  nlohmann::json cursors = nlohmann::json::object();
  for (const auto& c : q.cursors) cursors[c.name] = c.position;
  return {{"name", q.name},
          {"depth", q.depth},
          {"bytes", q.bytes},
          {"head", q.head},
          {"next", q.next},
          {"oldest_age_ms", q.oldest_received_at_ms ? now_ms - q.oldest_received_at_ms : 0},
          {"appended", q.appended},
          {"removed", q.removed},
          {"dropped", q.dropped},
          {"expired", q.expired},
          {"dead_lettered", q.dead_lettered},
          {"cursors", cursors}};
}

}  // namespace holdfast::broker

namespace holdfast::broker {
namespace {

using nlohmann::json;

core::Status bad(const std::string& field, const std::string& what) {
  return {core::Code::kInvalidArgument, "\"" + field + "\" " + what};
}

// Copies j[key] into `out` when present; a present field of another type is an error.
core::Status take(const json& j, const char* key, std::string& out, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return {};
  if (!j[key].is_string()) return bad(where + key, "must be a string");
  out = j[key].get<std::string>();
  return {};
}

template <typename Int>
core::Status take_int(const json& j, const char* key, Int& out, const std::string& where) {
  if (!j.contains(key) || j[key].is_null()) return {};
  if (!j[key].is_number_integer()) return bad(where + key, "must be an integer");
  out = j[key].get<Int>();
  return {};
}

core::Result<std::string> decoded(const json& j, const char* key) {
  auto bytes = iothub::base64_decode(j[key].get<std::string>());
  if (!bytes) return core::error(bad(key, "is not valid base64"));
  return bytes;
}

core::Result<core::Protocol> protocol_named(const std::string& name) {
  for (int p = 0; p <= static_cast<int>(core::Protocol::kInternal); ++p) {
    if (core::protocol_name(static_cast<core::Protocol>(p)) == name) {
      return static_cast<core::Protocol>(p);
    }
  }
  return core::error(bad("origin.protocol", "is not a protocol: '" + name + "'"));
}

core::Status read_origin(const json& j, core::Origin& o) {
  if (!j.contains("origin")) return {};
  const json& origin = j["origin"];
  if (!origin.is_object()) return bad("origin", "must be an object");
  std::string protocol;
  if (auto s = take(origin, "protocol", protocol, "origin."); !s.ok()) return s;
  if (!protocol.empty()) {
    auto p = protocol_named(protocol);
    if (!p) return p.error();
    o.protocol = *p;
  }
  if (auto s = take(origin, "client_id", o.client_id, "origin."); !s.ok()) return s;
  return take(origin, "device_id", o.device_id, "origin.");
}

core::Status read_properties(const json& j, core::Properties& p) {
  if (!j.contains("properties")) return {};
  const json& props = j["properties"];
  const std::string where = "properties.";
  if (!props.is_object()) return bad("properties", "must be an object");
  for (auto [key, field] :
       {std::pair{"message_id", &p.message_id}, std::pair{"correlation_id", &p.correlation_id},
        std::pair{"content_type", &p.content_type},
        std::pair{"content_encoding", &p.content_encoding}}) {
    if (auto s = take(props, key, *field, where); !s.ok()) return s;
  }
  if (props.contains("creation_time_ms") && !props["creation_time_ms"].is_null()) {
    std::int64_t t = 0;
    if (auto s = take_int(props, "creation_time_ms", t, where); !s.ok()) return s;
    p.creation_time_ms = t;
  }
  if (!props.contains("user")) return {};
  if (!props["user"].is_array()) return bad("properties.user", "must be an array of [key, value]");
  for (const auto& kv : props["user"]) {
    if (!kv.is_array() || kv.size() != 2 || !kv[0].is_string() || !kv[1].is_string()) {
      return bad("properties.user", "must hold [key, value] pairs of strings");
    }
    p.user.emplace_back(kv[0].get<std::string>(), kv[1].get<std::string>());
  }
  return {};
}

core::Status read_dead_letter(const json& j, std::optional<core::DeadLetterInfo>& out) {
  if (!j.contains("dead_letter") || j["dead_letter"].is_null()) return {};
  const json& d = j["dead_letter"];
  if (!d.is_object()) return bad("dead_letter", "must be an object");
  core::DeadLetterInfo info;
  const std::string where = "dead_letter.";
  if (auto s = take(d, "reason", info.reason, where); !s.ok()) return s;
  if (auto s = take(d, "original_queue", info.original_queue, where); !s.ok()) return s;
  if (auto s = take_int(d, "original_seq", info.original_seq, where); !s.ok()) return s;
  if (auto s = take_int(d, "dead_lettered_at_ms", info.dead_lettered_at_ms, where); !s.ok()) {
    return s;
  }
  out = std::move(info);
  return {};
}

}  // namespace

core::Result<core::AppendRequest> append_from_json(const json& j, const std::string& queue) {
  if (!j.is_object()) return core::error(core::Code::kInvalidArgument, "not a JSON object");
  core::AppendRequest r;
  r.queue = queue;
  core::Message& m = r.message;
  if (!j.contains("address") || !j["address"].is_string()) {
    return core::error(bad("address", "is missing (a string is expected)"));
  }
  m.address = j["address"].get<std::string>();
  if (!j.contains("payload_base64") || !j["payload_base64"].is_string()) {
    return core::error(bad("payload_base64", "is missing (base64 text is expected)"));
  }
  auto payload = decoded(j, "payload_base64");
  if (!payload) return core::error(payload.error());
  m.payload = std::move(*payload);
  m.received_at_ms = core::now_ms();
  for (auto s : {take_int(j, "received_at_ms", m.received_at_ms, ""), read_origin(j, m.origin),
                 read_properties(j, m.properties), read_dead_letter(j, r.dead_letter)}) {
    if (!s.ok()) return core::error(s);
  }
  if (m.origin.protocol == core::Protocol::kUnknown && !j.contains("origin")) {
    m.origin.protocol = core::Protocol::kInternal;
  }
  if (j.contains("amqp_bare_base64") && !j["amqp_bare_base64"].is_null()) {
    if (!j["amqp_bare_base64"].is_string())
      return core::error(bad("amqp_bare_base64", "must be a string"));
    auto bare = decoded(j, "amqp_bare_base64");
    if (!bare) return core::error(bare.error());
    m.amqp_bare = std::move(*bare);
  }
  return r;
}

}  // namespace holdfast::broker
