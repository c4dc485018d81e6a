#include "broker/admin/admin_server.h"

#include <httplib.h>

namespace holdfast::broker {

core::Result<std::unique_ptr<AdminServer>> AdminServer::start(const std::string& bind,
                                                              std::uint16_t port,
                                                              AdminHandlers handlers) {
  std::unique_ptr<AdminServer> admin(new AdminServer());
  admin->handlers_ = std::move(handlers);
  admin->server_ = std::make_unique<httplib::Server>();
  httplib::Server& s = *admin->server_;
  s.new_task_queue = [] { return new httplib::ThreadPool(2); };  // small box, few scrapers
  AdminHandlers& h = admin->handlers_;
  auto text = [](httplib::Response& res, int status, const std::string& body, const char* type) {
    res.status = status;
    res.set_content(body, type);
  };
  s.Get("/healthz", [&h, text](const httplib::Request&, httplib::Response& res) {
    bool ok = h.healthy();
    text(res, ok ? 200 : 503, ok ? "ok\n" : "unhealthy\n", "text/plain");
  });
  s.Get("/readyz", [&h, text](const httplib::Request&, httplib::Response& res) {
    bool ok = h.ready();
    text(res, ok ? 200 : 503, ok ? "ready\n" : "not ready\n", "text/plain");
  });
  s.Get("/metrics", [&h, text](const httplib::Request&, httplib::Response& res) {
    text(res, 200, h.metrics(), "text/plain; version=0.0.4");
  });
  s.Get("/api/status", [&h, text](const httplib::Request&, httplib::Response& res) {
    text(res, 200, h.status_json(), "application/json");
  });
  s.Get("/api/queues", [&h, text](const httplib::Request&, httplib::Response& res) {
    text(res, 200, h.queues_json(), "application/json");
  });
  s.Get("/api/connections", [&h, text](const httplib::Request&, httplib::Response& res) {
    text(res, 200, h.connections_json(), "application/json");
  });
  s.Get(R"(/api/queues/(.+)/messages)",
        [&h, text](const httplib::Request& req, httplib::Response& res) {
          std::uint64_t from = 0;
          std::size_t max = 10;
          try {
            if (req.has_param("from")) from = std::stoull(req.get_param_value("from"));
            if (req.has_param("max"))
              max = std::min<std::size_t>(std::stoull(req.get_param_value("max")), 10000);
          } catch (...) {
            text(res, 400, "{\"error\": \"from and max must be numbers\"}\n", "application/json");
            return;
          }
          auto [status, body] = h.peek_json(req.matches[1], from, max);
          text(res, status, body, "application/json");
        });
  // POSTs change things: refused from a browser (see the header comment).
  auto post = [&s, text](const char* pattern, auto handler) {
    s.Post(pattern, [handler, text](const httplib::Request& req, httplib::Response& res) {
      if (req.has_header("Origin")) {
        text(res, 403, "{\"error\": \"changes are refused from a web page\"}\n",
             "application/json");
        return;
      }
      auto [status, body] = handler(req);
      text(res, status, body, "application/json");
    });
  };
  auto json_of = [text](httplib::Response& res, std::pair<int, std::string> answer) {
    text(res, answer.first, answer.second, "application/json");
  };
  post(R"(/api/queues/(.+)/purge)",
       [&h](const httplib::Request& req) { return h.purge_json(req.matches[1]); });
  post(R"(/api/queues/(.+)/import)",
       [&h](const httplib::Request& req) { return h.import_json(req.matches[1], req.body); });
  post(R"(/api/queues/(.+)/replay)", [&h](const httplib::Request& req) {
    std::size_t max = 500;
    try {
      if (req.has_param("max")) max = std::stoull(req.get_param_value("max"));
    } catch (...) {
      return std::pair<int, std::string>{400, "{\"error\": \"max must be a number\"}\n"};
    }
    return h.replay_json(req.matches[1], req.get_param_value("to"), max);
  });
  post("/api/bridge/pause", [&h](const httplib::Request& req) {
    return h.bridge_pause_json(req.get_param_value("upstream"), true);
  });
  post("/api/bridge/resume", [&h](const httplib::Request& req) {
    return h.bridge_pause_json(req.get_param_value("upstream"), false);
  });
  s.Get("/api/deadletters", [&h, json_of](const httplib::Request&, httplib::Response& res) {
    json_of(res, h.deadletters_json());
  });
  s.Get("/api/devices", [&h, json_of](const httplib::Request&, httplib::Response& res) {
    json_of(res, h.devices_json());
  });
  if (!s.bind_to_port(bind.c_str(), port)) {
    return core::error(core::Code::kIoError, "admin endpoint cannot listen on " + bind + ":" +
                                                 std::to_string(port) +
                                                 " (address in use, or not a local address?)");
  }
  admin->thread_ = std::thread([&s] { s.listen_after_bind(); });
  return admin;
}

AdminServer::~AdminServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace holdfast::broker
