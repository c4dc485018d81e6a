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
                        {"original_seq", m.dead_letter->original_seq}};
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
