#include "tools/ctl/admin_source.h"

#include <httplib.h>

#include <cctype>
#include <charconv>

namespace holdfast::ctl {
namespace {

// Short: nothing answering must not keep an operator waiting. Reads get longer, for a daemon
// that is busy with a large group commit.
constexpr int kConnectSeconds = 2;
constexpr int kReadSeconds = 30;

bool is_not_answering(httplib::Error e) {
  return e == httplib::Error::Connection || e == httplib::Error::ConnectionTimeout;
}

std::string why(httplib::Error e) {
  switch (e) {
    case httplib::Error::Connection:
      return "cannot connect";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    case httplib::Error::Read:
      return "no answer";
    case httplib::Error::Write:
      return "cannot send the request";
    default:
      return httplib::to_string(e);
  }
}

std::string error_of(const json& body) {
  if (body.is_object() && body.contains("error") && body["error"].is_string()) {
    return body["error"].get<std::string>();
  }
  return "";
}

class AdminSource final : public Source {
 public:
  explicit AdminSource(AdminUrl url) : url_(std::move(url)), client_(url_.host, url_.port) {
    client_.set_connection_timeout(kConnectSeconds, 0);
    client_.set_read_timeout(kReadSeconds, 0);
    client_.set_write_timeout(kReadSeconds, 0);
    client_.set_keep_alive(true);   // export and --watch ask many times
    client_.set_url_encode(false);  // encode_path() already did
  }

  bool is_daemon() const override { return true; }
  std::string describe() const override { return "holdfastd at " + url_.text; }

  Outcome<json> status() override { return call("GET", "/api/status", ""); }
  Outcome<json> queues() override { return call("GET", "/api/queues", ""); }

  Outcome<json> read(const std::string& queue, std::uint64_t from, std::size_t max) override {
    std::string path = "/api/queues/" + encode_path(queue) + "/messages?max=" + std::to_string(max);
    if (from != 0) path += "&from=" + std::to_string(from);
    return call("GET", path, no_queue(queue));
  }

  Outcome<json> purge(const std::string& queue) override {
    return call("POST", "/api/queues/" + encode_path(queue) + "/purge", no_queue(queue));
  }

  Outcome<json> import(const std::string& queue, const std::string& lines) override {
    return call("POST", "/api/queues/" + encode_path(queue) + "/import", "", lines);
  }

  Outcome<json> deadletters() override { return call("GET", "/api/deadletters", ""); }

  Outcome<json> replay(const std::string& queue, const std::string& to, std::size_t max) override {
    std::string path = "/api/queues/" + encode_path(queue) + "/replay?max=" + std::to_string(max);
    if (!to.empty()) path += "&to=" + encode_path(to);
    return call("POST", path, no_queue(queue));
  }

  Outcome<json> set_paused(const std::string& upstream, bool paused) override {
    std::string path = paused ? "/api/bridge/pause" : "/api/bridge/resume";
    if (!upstream.empty()) path += "?upstream=" + encode_path(upstream);
    return call("POST", path,
                "no upstream '" + upstream + "' in " + describe() +
                    "; `holdfastctl status` lists the upstreams");
  }

  Outcome<json> devices() override { return call("GET", "/api/devices", ""); }

  // GET /readyz: holdfastd answers "ready" (200) or "not ready" (503). Returns "" when it
  // answered, else why nothing did.
  Outcome<std::string> probe() {
    auto res = client_.Get("/readyz");
    if (!res) {
      if (is_not_answering(res.error())) return why(res.error());
      return fail(kExitFailed, "something listens on " + url_.text + " but does not answer HTTP (" +
                                   why(res.error()) +
                                   "); is --admin the address of holdfastd's [admin] endpoint?");
    }
    if ((res->status == 200 && res->body == "ready\n") ||
        (res->status == 503 && res->body == "not ready\n")) {
      return std::string();
    }
    return fail(kExitFailed, "something answers on " + url_.text +
                                 " but it is not holdfastd's admin endpoint (GET /readyz: HTTP " +
                                 std::to_string(res->status) +
                                 "); check --admin against the [admin] section of its config");
  }

 private:
  std::string no_queue(const std::string& queue) const {
    return "no queue '" + queue + "' in " + describe() +
           "; `holdfastctl queues --all` lists every queue";
  }

  // `not_found` non-empty: what a 404 (with an error object) means, reported as kExitNotFound.
  Outcome<json> call(const char* method, const std::string& path, const std::string& not_found,
                     const std::string& body_out = "") {
    auto res = std::string(method) == "POST" ? client_.Post(path, body_out, "application/x-ndjson")
                                             : client_.Get(path);
    if (!res) {
      std::string reason = why(res.error());
      if (is_not_answering(res.error())) {
        return fail(kExitUnreachable, "holdfastd stopped answering on " + url_.text + " (" +
                                          reason +
                                          "); start it again (tools/run.sh) or pass --store PATH "
                                          "to read its store directly");
      }
      return fail(kExitFailed, std::string(method) + " " + path + " on " + url_.text + " failed (" +
                                   reason +
                                   "); holdfastd may be overloaded or "
                                   "shutting down: try again");
    }
    json body = json::parse(res->body, nullptr, /*allow_exceptions=*/false);
    if (res->status == 404 && !not_found.empty() && !error_of(body).empty()) {
      return fail(kExitNotFound, not_found);
    }
    if (res->status != 200) {
      std::string detail = error_of(body);
      if (detail.empty()) detail = res->body.substr(0, 200);
      std::string hint =
          res->status == 404 ? " (this holdfastd may be older than holdfastctl)" : "";
      return fail(kExitFailed, std::string(method) + " " + path + " on " + url_.text + ": HTTP " +
                                   std::to_string(res->status) + hint + ": " + detail);
    }
    if (body.is_discarded()) {
      return fail(kExitFailed, std::string(method) + " " + path + " on " + url_.text +
                                   " did not answer JSON; is it holdfastd's admin endpoint?");
    }
    return body;
  }

  AdminUrl url_;
  httplib::Client client_;
};

}  // namespace

Outcome<AdminUrl> parse_admin_url(const std::string& url) {
  auto bad = [&](const std::string& problem) {
    return fail(kExitUsage, "--admin (or HOLDFAST_ADMIN) '" + url + "': " + problem +
                                "; expected http://HOST:PORT, e.g. http://127.0.0.1:8088");
  };
  std::string rest = url;
  int port = -1;
  if (rest.starts_with("https://")) return bad("the admin endpoint speaks plain HTTP");
  if (rest.starts_with("http://")) {
    rest = rest.substr(7);
    port = 80;
  } else if (rest.find("://") != std::string::npos) {
    return bad("not an http:// URL");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) return bad("a path is not expected");
  std::string host = rest;
  std::string port_text;
  if (rest.starts_with("[")) {  // [IPv6]:port
    auto close = rest.find(']');
    if (close == std::string::npos) return bad("unclosed '['");
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return bad("junk after ']'");
      port_text = rest.substr(close + 2);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
  }
  if (!port_text.empty()) {
    int p = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || p < 1 || p > 65535) {
      return bad("port '" + port_text + "' is not a number from 1 to 65535");
    }
    port = p;
  }
  if (host.empty()) return bad("no host");
  if (port < 0) return bad("no port");
  std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return AdminUrl{host, port, "http://" + shown + ":" + std::to_string(port)};
}

Outcome<Probe> probe_admin(const AdminUrl& url) {
  auto source = std::make_unique<AdminSource>(url);
  auto why_not = source->probe();
  if (!why_not) return std::unexpected(why_not.error());
  if (!why_not->empty()) return Probe{nullptr, *why_not};
  return Probe{std::move(source), ""};
}

std::string encode_path(const std::string& name) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace holdfast::ctl
