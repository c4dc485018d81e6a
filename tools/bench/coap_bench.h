#pragma once
// `holdfast-bench coap`: a CoAP load generator on libcoap's client API (one thread, one libcoap
// context, one UDP session per client):
//   CON clients  --clients sessions, each POSTing confirmable requests to
//                devices/dev{i}/messages/events with one request outstanding (CoAP's NSTART 1):
//                the next goes when the 2.01 arrives, which holdfastd sends once the message is
//                durable (after an empty ACK: a separate response)
//   NON clients  --non-clients sessions doing the same with non-confirmable requests
// It prints msgs/s answered 2.01 and request-to-2.01 latency (p50, p99) per kind. bench/coap.sh
// runs it against holdfastd next to `holdfast-bench mqtt` (QoS 1) on the same daemon. It asserts
// nothing.

namespace CLI {
class App;
}

namespace holdfast::bench {

// Adds `coap` to `app`. When it runs it sets `exit_code` (non-zero only when the benchmark could
// not run: no session, no answers, refusals; never because of a figure).
void add_coap_commands(CLI::App& app, int& exit_code);

}  // namespace holdfast::bench
