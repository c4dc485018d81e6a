#pragma once
// Source: where holdfastctl reads from — the running holdfastd's admin endpoint, or, when the
// daemon is not answering, its store opened read-only (post-mortem inspection).
//
// Both sources answer in the admin endpoint's JSON shapes (see broker/admin/admin_server.h),
// so commands render and print one format whichever source answered:
//   status()      {"version", "ready", "uptime_seconds", "listeners": [...], "store": {...}};
//                 from a store: only "store" {"path", "queues", "messages", "bytes"}
//   queues()      [{"name", "depth", "bytes", "head", "next", "oldest_age_ms", "appended",
//                   "removed", "dropped", "expired", "dead_lettered", "cursors": {name: pos}}]
//   read()        {"queue", "next", "messages": [{"seq", "address", "payload_base64",
//                   "received_at_ms", "stored_bytes", "origin": {...}, "properties": {...}}]}
//   purge()       {"queue", "purged"}; a store opened read-only refuses it
//   import()      {"queue", "imported", "first_seq", "last_seq"}
//   deadletters() [{"queue", "count", "bytes", "oldest_age_ms", "reasons": {reason: n},
//                   "original_queues": {queue: n}, "sampled"}]
//   replay()      {"queue", "replayed", "remaining", "last_seq", "to": {queue: {"count",
//                   "last_seq"}}}, at most 500 messages per call
//   set_paused()  {"upstreams": [{"name", "paused"}]}; only the daemon
//   devices()     {"devices": [{"device_id", "protocol", "client_id", "last_seen_ms",
//                   "last_seen_age_ms", "messages", "queues", "backlog", "token": {"state",
//                   "expires_at_ms"?, "verified"?}}], "capacity", "evicted"}; only the daemon
//
// Concurrency: one thread (holdfastctl's main thread); every call blocks until answered.
// Errors: kExitNotFound for an unknown queue, kExitFailed otherwise, with the reason.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/ctl/failure.h"

namespace holdfast::ctl {

using nlohmann::json;

// JSON text for output. A string that is not UTF-8 (a device's bytes) gets U+FFFD in place of
// the bad bytes instead of throwing; payloads are base64, so they are never affected.
inline std::string json_text(const json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

// Where to look, from the global options.
struct Target {
  std::string admin_url = "http://127.0.0.1:8088";
  std::string store_path = "./data/store";
};

class Source {
 public:
  virtual ~Source() = default;

  virtual bool is_daemon() const = 0;
  // For messages: "holdfastd at http://127.0.0.1:8088" or "the store at ./data/store".
  virtual std::string describe() const = 0;

  virtual Outcome<json> status() = 0;
  virtual Outcome<json> queues() = 0;
  // Up to `max` messages from sequence number `from` (0: the head). Never consumes.
  virtual Outcome<json> read(const std::string& queue, std::uint64_t from, std::size_t max) = 0;
  virtual Outcome<json> purge(const std::string& queue) = 0;
  // Appends JSON lines (as export writes them) to `queue`, all or none.
  virtual Outcome<json> import(const std::string& queue, const std::string& lines) = 0;
  virtual Outcome<json> deadletters() = 0;
  virtual Outcome<json> replay(const std::string& queue, const std::string& to,
                               std::size_t max) = 0;
  // `upstream` empty: every upstream. kExitNotFound for an unknown one.
  virtual Outcome<json> set_paused(const std::string& upstream, bool paused) = 0;
  virtual Outcome<json> devices() = 0;
};

// The daemon at target.admin_url if it answers; else the store at target.store_path, opened
// read-only. Errors: kExitUnreachable (no daemon, no store there), kExitUsage (malformed URL),
// kExitFailed (something answers that is not holdfastd, or the store cannot be opened).
Outcome<std::unique_ptr<Source>> open_source(const Target& target);

// Only the daemon: for commands that change something. Errors as open_source(), and
// kExitUnreachable when the daemon is not answering (`what` names the command in the message).
Outcome<std::unique_ptr<Source>> open_daemon(const Target& target, const std::string& what);

// The daemon if it answers, else its store opened read-write, for commands that change queues
// (import, replay) while it is stopped. Errors as open_source(), and kExitBusy when another
// process holds the store (RocksDB's LOCK) although the daemon is not answering.
Outcome<std::unique_ptr<Source>> open_writable(const Target& target, const std::string& what);

}  // namespace holdfast::ctl
