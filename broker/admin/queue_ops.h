#pragma once
// Queue operations that change a store on an operator's request, shared by holdfastd's admin
// endpoint (on its own store) and holdfastctl (on a stopped daemon's store, opened read-write):
// importing exported messages, listing dead-letter queues, replaying dead letters. Each answers
// in the admin endpoint's JSON shapes (see admin_server.h).
//
// Concurrency: any thread that may block (they use call_sync() on the store): admin threads,
// holdfastctl's main thread, never the io or the store thread. Two replays of the same queue
// at once could move a message twice: the caller serializes them (holdfastd holds a mutex).

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "broker/core/queue_store.h"

namespace holdfast::broker {

// The cursor a replay commits on a dead-letter queue (then deletes, leaving none behind).
inline constexpr std::string_view kReplayCursor = "holdfastctl/replay";

// Appends the JSON lines of `lines` (blank lines skipped; each as append_from_json() reads it)
// to `queue` in one atomic append, so a failure stores none of them. Answers {"queue",
// "imported", "first_seq", "last_seq"} (seqs 0 when nothing was imported). Errors:
// kInvalidArgument "line N: ..." (N counts from `first_line`), and the store's append errors.
core::Result<nlohmann::json> import_lines(core::QueueStore& store, const std::string& queue,
                                          std::string_view lines, std::size_t first_line = 1);

// The dead-letter queues holding messages: those named "deadletter/..." and any other whose
// oldest message carries a dead-letter record (a queue policy's dead_letter_queue). For each:
// {"queue", "count", "bytes", "oldest_age_ms", "reasons": {reason: n}, "original_queues": {queue:
// n}, "sampled"}, reasons counted over the first `sample` messages (a reason's detail after its
// condition is left out, so "upstream hub: amqp:link:message-size-exceeded: 300000 bytes"
// counts as "upstream hub: amqp:link:message-size-exceeded"). Errors: the store's.
core::Result<nlohmann::json> dead_letters_json(core::QueueStore& store, std::int64_t now_ms,
                                               std::size_t sample = 1000);

// Moves up to `max` messages (at most 500 per call; call again for more) from the head of
// dead-letter queue `dlq` to the queue each came from (its dead-letter record's
// original_queue), or to `to` when not empty: appended there (new sequence numbers, at the
// end), and only once that is durable removed from `dlq`, so a crash in between duplicates a
// message rather than losing it. Answers {"queue", "replayed", "remaining", "last_seq",
// "to": {queue: {"count", "last_seq"}}}. Errors: kNotFound (no such queue), kInvalidArgument
// (a message without a dead-letter record and no `to`), kUnsupported (a consumer's cursor
// holds the queue, so its messages could not be removed), the store's errors.
core::Result<nlohmann::json> replay_dead_letters(core::QueueStore& store, const std::string& dlq,
                                                 const std::string& to, std::size_t max);

}  // namespace holdfast::broker
