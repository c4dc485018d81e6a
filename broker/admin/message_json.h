#pragma once
// The JSON form of a stored message, shared by the admin endpoint's peek view and
// holdfastctl's export and its store reader, so that both always show the same fields:
// seq, address, payload_base64, received_at_ms, stored_bytes, origin{protocol, client_id,
// device_id}, properties{message_id, correlation_id, content_type, content_encoding, user
// [[k, v]...], creation_time_ms?}, amqp_bare_base64?, dead_letter{reason, original_queue,
// original_seq, dead_lettered_at_ms}?. Pure; any thread.

#include <nlohmann/json.hpp>

#include "broker/core/queue_store.h"

namespace holdfast::broker {

nlohmann::json message_json(const core::StoredMessage& message);

// The inverse, for `holdfastctl import`: one object as message_json() (or `holdfastctl export`)
// writes it, becoming an append to `queue` with the same bytes, properties, origin,
// received-at, AMQP bare message and dead-letter record. "seq", "stored_bytes" and "queue" are
// ignored; only "address" and "payload_base64" are required. Errors: kInvalidArgument naming
// the field that is missing or malformed.
core::Result<core::AppendRequest> append_from_json(const nlohmann::json& message,
                                                   const std::string& queue);

// The JSON form of a queue's statistics (name, depth, bytes, head, next, oldest_age_ms at
// `now_ms`, the counters, cursors {name: position}), as /api/queues shows them.
nlohmann::json queue_json(const core::QueueStats& queue, std::int64_t now_ms);

}  // namespace holdfast::broker
