#pragma once
// AdminServer: the HTTP endpoint on localhost for operators, Prometheus and holdfastctl.
//
//   GET /healthz         200 "ok" while the daemon's loops respond, else 503
//   GET /readyz          200 once listeners are bound and the store is open, 503 while
//                        starting or shutting down
//   GET /metrics         Prometheus text format
//   GET /api/status      JSON: version, uptime, listeners, store totals
//   GET /api/queues      JSON: every queue's depth, bytes, oldest age, counters, cursors
//   GET /api/connections JSON: connected clients
//   GET /api/queues/NAME/messages?from=SEQ&max=N
//                        JSON: up to N stored messages of queue NAME from SEQ (default: the
//                        head), payloads in base64; 404 for an unknown queue. Never consumes.
//   POST /api/queues/NAME/purge
//                        JSON {"queue": NAME, "purged": N}: removes every message of queue NAME
//                        (counted as removed); 404 for an unknown queue. Refused (403) when the
//                        request carries an Origin header: browsers send one, holdfastctl and
//                        curl do not, so a web page cannot purge through the operator's browser.
//   POST /api/queues/NAME/import
//                        body: JSON lines as `holdfastctl export` writes them; appended to NAME
//                        in one atomic append (created if missing). JSON {"queue", "imported",
//                        "first_seq", "last_seq"}; 400 naming the bad line.
//   GET /api/deadletters JSON: the dead-letter queues, their counts, oldest age, reasons
//   POST /api/queues/NAME/replay?to=QUEUE&max=N
//                        moves up to N (at most 500 per request) messages of dead-letter queue
//                        NAME back to their original queue (or QUEUE): appended there, then
//                        removed. JSON {"queue", "replayed", "remaining", "last_seq", "to"}.
//   POST /api/bridge/pause?upstream=NAME, POST /api/bridge/resume?upstream=NAME
//                        stop (resume) sending new transfers upstream (every upstream without
//                        ?upstream); not persisted. JSON {"upstreams": [{"name", "paused"}]};
//                        404 for an unknown upstream, 409 when no bridge runs.
//   GET /api/devices     JSON: the devices seen since start: id, protocol, last seen, backlog,
//                        token state
//   Every POST is refused (403) when the request carries an Origin header: browsers send one,
//   holdfastctl and curl do not, so a web page cannot change anything through a browser.
//
// Concurrency
//   Requests are served on the server's own threads (cpp-httplib), which may block: handlers
//   use call_sync() on the store and post to the io loop. start() and the destructor belong to
//   the main thread.

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "broker/core/status.h"

namespace httplib {
class Server;
}

namespace holdfast::broker {

struct AdminHandlers {
  std::function<bool()> healthy;
  std::function<bool()> ready;
  std::function<std::string()> metrics;  // Prometheus text
  std::function<std::string()> status_json;
  std::function<std::string()> queues_json;
  std::function<std::string()> connections_json;
  // (HTTP status, JSON body)
  std::function<std::pair<int, std::string>(const std::string& queue, std::uint64_t from,
                                            std::size_t max)>
      peek_json;
  // (HTTP status, JSON body)
  std::function<std::pair<int, std::string>(const std::string& queue)> purge_json;
  std::function<std::pair<int, std::string>(const std::string& queue, const std::string& body)>
      import_json;
  std::function<std::pair<int, std::string>()> deadletters_json;
  std::function<std::pair<int, std::string>(const std::string& queue, const std::string& to,
                                            std::size_t max)>
      replay_json;
  std::function<std::pair<int, std::string>(const std::string& upstream, bool paused)>
      bridge_pause_json;
  std::function<std::pair<int, std::string>()> devices_json;
};

class AdminServer {
 public:
  // Binds `bind:port` and starts serving. Errors: kIoError (cannot bind; the reason says why).
  static core::Result<std::unique_ptr<AdminServer>> start(const std::string& bind,
                                                          std::uint16_t port,
                                                          AdminHandlers handlers);
  ~AdminServer();

 private:
  AdminServer() = default;
  AdminHandlers handlers_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace holdfast::broker
