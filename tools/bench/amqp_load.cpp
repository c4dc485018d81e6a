// `holdfast-bench amqp`'s load, the main thread's side: builds the connections and links,
// starts the Proton threads (their event handlers are in amqp_events.cpp), times the measured
// window, drains, closes and collects the figures.
#include "tools/bench/amqp_load.h"

#include <proton/connection.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/proactor.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <tuple>

#include "tools/bench/amqp_load_impl.h"

namespace holdfast::bench {
namespace {

using amqp_detail::Conn;
using amqp_detail::LinkState;
using amqp_detail::Load;

using Clock = std::chrono::steady_clock;

double cpu_seconds() {  // user + system time of this process, all threads
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

std::string address_for(const AmqpLoadOptions& o, unsigned sender) {
  if (!o.per_sender_address) return o.address;
  std::string a = o.address;
  if (auto at = a.find("{i}"); at != std::string::npos) {
    return a.replace(at, 3, std::to_string(sender));
  }
  return a + "/" + std::to_string(sender);
}

// The message of a sender: a data section of `payload` (random bytes; the first 8 are the send
// time), with a durable header when asked. Returns the encoding and where the payload starts.
std::pair<std::string, std::size_t> encode_message(const AmqpLoadOptions& o,
                                                   const std::string& payload) {
  pn_message_t* m = pn_message();
  pn_message_set_durable(m, o.durable);
  pn_message_set_inferred(m, true);  // a binary body goes in a data section
  pn_data_put_binary(pn_message_body(m), pn_bytes(payload.size(), payload.data()));
  pn_rwbytes_t buf{0, nullptr};
  ssize_t n = pn_message_encode2(m, &buf);
  std::string out = n > 0 ? std::string(buf.start, static_cast<std::size_t>(n)) : std::string();
  std::free(buf.start);
  pn_message_free(m);
  std::size_t at = payload.size() >= 8 ? out.rfind(payload) : std::string::npos;
  return {out, at};
}

// Main thread: creates connection `c` with its session and links and hands it to the proactor.
void connect(Load& l, Conn& c, const AmqpLoadOptions& o) {
  c.pn = pn_connection();
  c.scratch = pn_message();
  pn_connection_set_context(c.pn, &c);
  pn_connection_set_container(c.pn, c.container.c_str());
  pn_connection_set_hostname(c.pn, o.host.c_str());
  if (!o.user.empty()) {
    pn_connection_set_user(c.pn, o.user.c_str());
    pn_connection_set_password(c.pn, o.password.c_str());
  }
  pn_connection_open(c.pn);
  pn_session_t* session = pn_session(c.pn);
  pn_session_open(session);
  for (LinkState* s : c.links) {
    s->pn = s->sender ? pn_sender(session, s->name.c_str()) : pn_receiver(session, s->name.c_str());
    pn_link_set_context(s->pn, s);
    pn_terminus_t* far = s->sender ? pn_link_target(s->pn) : pn_link_source(s->pn);
    pn_terminus_set_address(far, s->address.c_str());
    if (o.durable) pn_terminus_set_durability(far, PN_CONFIGURATION);
    pn_link_set_snd_settle_mode(s->pn, PN_SND_UNSETTLED);
    pn_link_set_rcv_settle_mode(s->pn, PN_RCV_FIRST);
    pn_link_open(s->pn);
    if (!s->sender) pn_link_flow(s->pn, static_cast<int>(o.credit));
  }
  pn_transport_t* t = pn_transport();
  pn_sasl_t* sasl = pn_sasl(t);
  pn_sasl_set_allow_insecure_mechs(sasl, true);  // PLAIN without TLS: a local benchmark
  pn_sasl_allowed_mechs(sasl, o.user.empty() ? "ANONYMOUS" : "PLAIN");
  char addr[PN_MAX_ADDR];
  pn_proactor_addr(addr, sizeof addr, o.host.c_str(), std::to_string(o.port).c_str());
  pn_proactor_connect2(l.proactor, c.pn, t, addr);
}

template <typename Pred>
bool wait_until(Pred done, double seconds) {
  auto until = Clock::now() +
               std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  while (!done()) {
    if (Clock::now() >= until) return false;
    sleep_ms(2);
  }
  return true;
}

}  // namespace

std::int64_t amqp_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

AmqpLoadResult run_amqp_load(const AmqpLoadOptions& o,
                             const std::function<std::int64_t(bool ok)>& ready) {
  Load l(o);
  const std::string prefix = o.container_prefix.empty()
                                 ? strprintf("hfbench-%ld", static_cast<long>(::getpid()))
                                 : o.container_prefix;
  const unsigned n_links = o.senders + o.receivers;
  const unsigned n_conns = o.connections == 0 ? n_links : std::min(o.connections, n_links);
  for (unsigned k = 0; k < n_conns; ++k) {
    auto c = std::make_unique<Conn>();
    c->container = strprintf("%s-c%u", prefix.c_str(), k);
    l.conns.push_back(std::move(c));
  }
  std::uint64_t seed = static_cast<std::uint64_t>(amqp_now_ns()) * 2654435761u + 1;
  for (unsigned k = 0; k < n_links; ++k) {
    auto s = std::make_unique<LinkState>();
    s->sender = k < o.senders;
    unsigned i = s->sender ? k : k - o.senders;
    s->name = strprintf("%s-%c%u", prefix.c_str(), s->sender ? 's' : 'r', i);
    s->address = address_for(o, s->sender ? i : (o.senders ? i % o.senders : 0));
    if (s->sender) {
      std::string payload(o.payload_bytes, '\0');
      for (char& ch : payload) {  // xorshift: random, incompressible like encrypted payloads
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        ch = static_cast<char>(seed);
      }
      std::tie(s->encoded, s->stamp_at) = encode_message(o, payload);
    }
    s->conn = l.conns[k % n_conns].get();
    s->conn->links.push_back(s.get());
    l.links.push_back(std::move(s));
  }

  // Proton threads, then the connections.
  l.proactor = pn_proactor();
  std::vector<std::thread> threads;
  l.threads_left.store(std::max(o.threads, 1u));
  for (unsigned t = 0; t < std::max(o.threads, 1u); ++t) {
    threads.emplace_back([&l] { l.run_thread(); });
  }
  for (auto& c : l.conns) connect(l, *c, o);
  wait_until(
      [&] {
        return std::all_of(l.links.begin(), l.links.end(),
                           [](const auto& s) { return s->state.load() != 0; });
      },
      o.connect_timeout);
  AmqpLoadResult result;
  for (auto& s : l.links) {
    if (s->state.load() == 1) continue;
    if (++result.not_ready <= 3) {
      std::fprintf(stderr, "holdfast-bench amqp: %s link %s to '%s': %s\n",
                   s->sender ? "sender" : "receiver", s->name.c_str(), s->address.c_str(),
                   s->state.load() == 0
                       ? "not attached (senders: no credit) within --connect-timeout"
                       : "refused or closed (see the errors)");
    }
  }
  const std::int64_t start = ready(result.not_ready == 0);

  double cpu_start = cpu_seconds(), cpu_end = cpu_start;
  if (result.not_ready == 0 && start != 0) {
    const std::int64_t warm = static_cast<std::int64_t>(o.warmup_seconds * 1e9);
    const std::int64_t end = start + warm + static_cast<std::int64_t>(o.seconds * 1e9);
    l.run_start.store(start);
    l.window_start.store(start + warm);
    l.window_end.store(end);
    if (std::int64_t wait = start - amqp_now_ns(); wait > 0) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
    }
    l.go.store(true);
    for (auto& c : l.conns) l.wake(*c);
    bool cpu_started = warm == 0;
    std::int64_t next_report = start + 5'000'000'000;
    std::uint64_t reported = 0;
    for (;;) {
      sleep_ms(10);
      std::int64_t t = amqp_now_ns();
      if (!cpu_started && t >= start + warm) {
        cpu_start = cpu_seconds();
        cpu_started = true;
      }
      if (o.progress && t >= next_report) {
        std::uint64_t a = l.accepted.load();
        std::printf("  ... %s accepted (%.0f/s in the last 5 s), %s received\n",
                    format_count(a).c_str(), (a - reported) / 5.0,
                    format_count(l.received.load()).c_str());
        std::fflush(stdout);
        reported = a;
        next_report += 5'000'000'000;
      }
      if (t >= end || l.conns_gone.load() == l.conns.size()) break;
    }
    cpu_end = cpu_seconds();
    l.stopping.store(true);

    // Drain: the outstanding outcomes, then the receivers' deliveries (until every accepted
    // message arrived or none did for two seconds).
    result.drained = wait_until([&] { return l.unsettled.load() <= 0; }, o.drain_timeout);
    if (o.receivers > 0) {
      std::uint64_t last = l.received.load();
      auto idle_since = Clock::now();
      wait_until(
          [&] {
            std::uint64_t backlog = l.received_backlog.load();  // first: it never passes r
            std::uint64_t r = l.received.load();
            if (r != last) last = r, idle_since = Clock::now();
            return r - backlog >= l.accepted.load() ||
                   Clock::now() - idle_since > std::chrono::seconds(2);
          },
          o.drain_timeout);
    }
  }

  // Close every connection, then stop the threads.
  l.closing.store(true);
  for (auto& c : l.conns) l.wake(*c);
  auto all_gone = [&] { return l.conns_gone.load() == l.conns.size(); };
  if (!wait_until(all_gone, 3)) {
    pn_proactor_disconnect(l.proactor, nullptr);
    wait_until(all_gone, 3);
  }
  pn_proactor_interrupt(l.proactor);
  for (auto& t : threads) t.join();
  pn_proactor_free(l.proactor);

  result.cpu_seconds = cpu_end - cpu_start;
  result.min_accepted = ~0ull;
  for (auto& c : l.conns) {
    result.sent += c->sent;
    result.accepted += c->accepted;
    result.received += c->received;
    result.accept_us.merge(c->accept_us);
    result.e2e_us.merge(c->e2e_us);
    pn_message_free(c->scratch);
  }
  for (auto& s : l.links) {
    if (!s->sender) continue;
    result.min_accepted = std::min(result.min_accepted, s->accepted);
    result.max_accepted = std::max(result.max_accepted, s->accepted);
  }
  if (result.min_accepted == ~0ull) result.min_accepted = 0;
  result.sent_total = l.sent.load();
  result.accepted_total = l.accepted.load();
  result.received_total = l.received.load();
  result.received_backlog = l.received_backlog.load();
  result.rejected = l.rejected.load();
  result.released = l.released.load();
  result.unsettled = l.lost.load();
  result.link_errors = l.link_errors.load();
  result.connection_errors = l.connection_errors.load();
  result.errors = l.errors();
  return result;
}

}  // namespace holdfast::bench
