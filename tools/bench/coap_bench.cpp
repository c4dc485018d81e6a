#include "tools/bench/coap_bench.h"

#include <arpa/inet.h>
#include <coap3/coap.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tools/bench/bench_util.h"

namespace holdfast::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct CoapLoadOptions {
  std::string host = "127.0.0.1";
  int port = 5683;
  int clients = 50;
  int non_clients = 0;
  int payload_bytes = 100;
  double seconds = 10;
  double warmup_seconds = 1;
  std::string label = "holdfastd";
  bool kv = false;
};

struct ContextDeleter {
  void operator()(coap_context_t* c) const { coap_free_context(c); }
};

struct Client {
  coap_session_t* session = nullptr;
  bool confirmable = true;
  std::string path;  // "devices/dev{i}/messages/events"
  Clock::time_point sent_at;
  bool waiting = false;
};

struct Figures {
  std::uint64_t answered_total = 0;  // 2.01 in the whole run (warm-up and drain included)
  std::uint64_t answered = 0;        // 2.01 within the measurement
  std::uint64_t refused = 0;         // any other response code
  std::uint64_t lost = 0;            // CON given up after retransmissions
  LatencyHistogram latency_us;
};

struct Run {
  const CoapLoadOptions* options = nullptr;
  std::string payload;
  std::vector<Client> clients;
  Clock::time_point measure_from, measure_until;
  Figures con, non;
  bool stopping = false;
};

Run* g_run = nullptr;  // libcoap's handlers take no argument of ours

void send_next(Client& c) {
  if (g_run->stopping) return;
  coap_pdu_t* pdu =
      coap_pdu_init(c.confirmable ? COAP_MESSAGE_CON : COAP_MESSAGE_NON, COAP_REQUEST_CODE_POST,
                    coap_new_message_id(c.session), coap_session_max_pdu_size(c.session));
  std::uint8_t token[8];
  std::size_t token_length = 0;
  coap_session_new_token(c.session, &token_length, token);
  coap_add_token(pdu, token_length, token);
  std::size_t start = 0;
  while (start < c.path.size()) {
    std::size_t end = c.path.find('/', start);
    if (end == std::string::npos) end = c.path.size();
    coap_add_option(pdu, COAP_OPTION_URI_PATH, end - start,
                    reinterpret_cast<const std::uint8_t*>(c.path.data() + start));
    start = end + 1;
  }
  std::uint8_t format[1] = {42};  // application/octet-stream
  coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, 1, format);
  coap_add_data(pdu, g_run->payload.size(),
                reinterpret_cast<const std::uint8_t*>(g_run->payload.data()));
  c.sent_at = Clock::now();
  c.waiting = true;
  coap_send(c.session, pdu);
}

coap_response_t on_response(coap_session_t* session, const coap_pdu_t*, const coap_pdu_t* received,
                            const coap_mid_t) {
  auto* c = static_cast<Client*>(coap_session_get_app_data(session));
  if (!c || !c->waiting) return COAP_RESPONSE_OK;
  coap_pdu_code_t code = coap_pdu_get_code(received);
  if (code == 0) return COAP_RESPONSE_OK;  // an empty ACK: the answer comes separately
  auto now = Clock::now();
  c->waiting = false;
  Figures& f = c->confirmable ? g_run->con : g_run->non;
  if (code == COAP_RESPONSE_CODE_CREATED) ++f.answered_total;
  if (now >= g_run->measure_from && c->sent_at < g_run->measure_until) {
    if (code == COAP_RESPONSE_CODE_CREATED) {
      ++f.answered;
      f.latency_us.record(
          std::chrono::duration_cast<std::chrono::microseconds>(now - c->sent_at).count());
    } else {
      ++f.refused;
    }
  }
  send_next(*c);
  return COAP_RESPONSE_OK;
}

void on_nack(coap_session_t* session, const coap_pdu_t*, const coap_nack_reason_t,
             const coap_mid_t) {
  auto* c = static_cast<Client*>(coap_session_get_app_data(session));
  if (!c || !c->waiting) return;
  c->waiting = false;
  ++(c->confirmable ? g_run->con : g_run->non).lost;
  send_next(*c);
}

void report(const CoapLoadOptions& o, const char* kind, int clients, const Figures& f,
            double seconds) {
  if (clients == 0) return;
  double rate = f.answered / seconds;
  std::printf(
      "%s coap %s: %d clients, %s answered 2.01 in %.1f s = %.0f msgs/s; latency to 2.01 "
      "p50 %.2f ms p99 %.2f ms; refused %s, lost %s\n",
      o.label.c_str(), kind, clients, format_count(f.answered).c_str(), seconds, rate,
      f.latency_us.percentile(0.5) / 1000.0, f.latency_us.percentile(0.99) / 1000.0,
      format_count(f.refused).c_str(), format_count(f.lost).c_str());
  if (o.kv) {
    std::printf(
        "result.%s_msgs_per_s=%.0f\nresult.%s_p50_ms=%.3f\nresult.%s_p99_ms=%.3f\n"
        "result.%s_refused=%llu\nresult.%s_lost=%llu\nresult.%s_total=%llu\n",
        kind, rate, kind, f.latency_us.percentile(0.5) / 1000.0, kind,
        f.latency_us.percentile(0.99) / 1000.0, kind, static_cast<unsigned long long>(f.refused),
        kind, static_cast<unsigned long long>(f.lost), kind,
        static_cast<unsigned long long>(f.answered_total));
  }
}

int run_coap(const CoapLoadOptions& o) {
  coap_startup();
  coap_set_log_level(LOG_ERR);
  std::unique_ptr<coap_context_t, ContextDeleter> ctx(coap_new_context(nullptr));
  if (!ctx) {
    std::fprintf(stderr, "holdfast-bench coap: cannot create a libcoap context\n");
    return 1;
  }
  coap_register_response_handler(ctx.get(), on_response);
  coap_register_nack_handler(ctx.get(), on_nack);
  coap_address_t server;
  coap_address_init(&server);
  server.addr.sin.sin_family = AF_INET;
  server.addr.sin.sin_port = htons(static_cast<std::uint16_t>(o.port));
  server.size = sizeof(server.addr.sin);
  if (inet_pton(AF_INET, o.host.c_str(), &server.addr.sin.sin_addr) != 1) {
    std::fprintf(stderr, "holdfast-bench coap: --host must be an IPv4 address\n");
    return 1;
  }
  Run run;
  run.options = &o;
  g_run = &run;
  std::mt19937_64 rng(std::random_device{}());
  run.payload.resize(o.payload_bytes);
  for (auto& b : run.payload) b = static_cast<char>(rng());
  int total = o.clients + o.non_clients;
  run.clients.resize(total);
  for (int i = 0; i < total; ++i) {
    Client& c = run.clients[i];
    c.confirmable = i < o.clients;
    c.path = "devices/coap-bench-" + std::to_string(i) + "/messages/events";
    c.session = coap_new_client_session(ctx.get(), nullptr, &server, COAP_PROTO_UDP);
    if (!c.session) {
      std::fprintf(stderr, "holdfast-bench coap: cannot open client session %d\n", i);
      return 1;
    }
    coap_session_set_app_data(c.session, &c);
  }
  auto start = Clock::now();
  std::clock_t cpu_start = std::clock();
  run.measure_from = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.warmup_seconds));
  run.measure_until = run.measure_from + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(o.seconds));
  for (auto& c : run.clients) send_next(c);
  while (Clock::now() < run.measure_until) coap_io_process(ctx.get(), 50);
  // Let the requests sent inside the window finish (their latency counts).
  run.stopping = true;
  auto drain_until = Clock::now() + std::chrono::seconds(5);
  auto busy = [&] {
    for (auto& c : run.clients) {
      if (c.waiting) return true;
    }
    return false;
  };
  while (busy() && Clock::now() < drain_until) coap_io_process(ctx.get(), 50);
  double cpu_s = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  double wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  report(o, "con", o.clients, run.con, o.seconds);
  report(o, "non", o.non_clients, run.non, o.seconds);
  // Whether the load generator itself could be the limit (one thread: 100% is all it has).
  std::printf("holdfast-bench coap CPU: %.0f%% of one core (%.1f s in %.1f s)\n",
              100 * cpu_s / wall_s, cpu_s, wall_s);
  if (o.kv) std::printf("result.bench_cpu_pct=%.0f\n", 100 * cpu_s / wall_s);
  for (auto& c : run.clients) coap_session_release(c.session);
  g_run = nullptr;
  ctx.reset();
  coap_cleanup();
  bool answered = run.con.answered + run.non.answered > 0;
  return answered && run.con.refused + run.non.refused == 0 ? 0 : 1;
}

}  // namespace

void add_coap_commands(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<CoapLoadOptions>();
  CoapLoadOptions& o = *options;
  CLI::App* coap = app.add_subcommand(
      "coap",
      "CoAP load generator (libcoap client): --clients sessions POST confirmable requests to "
      "devices/dev{i}/messages/events, --non-clients non-confirmable ones, each with one "
      "request outstanding. Prints msgs/s answered 2.01 and latency to the 2.01 (durable). "
      "Asserts nothing.");
  auto option = [coap](const char* name, auto& value, const char* help) {
    return coap->add_option(name, value, help)->capture_default_str();
  };
  option("--host", o.host, "server IPv4 address");
  option("--port", o.port, "server CoAP (UDP) port");
  option("--clients", o.clients, "confirmable clients (one session each)");
  option("--non-clients", o.non_clients, "non-confirmable clients (one session each)");
  option("--payload-bytes", o.payload_bytes, "payload size (random bytes)");
  option("--seconds", o.seconds, "measured duration, after --warmup-seconds");
  option("--warmup-seconds", o.warmup_seconds, "load before the measurement starts");
  option("--label", o.label, "name of the server in the output");
  coap->add_flag("--kv", o.kv, "also print the figures as result.KEY=VALUE lines (for scripts)");
  coap->callback([options, &exit_code] { exit_code = run_coap(*options); });
}

}  // namespace holdfast::bench
