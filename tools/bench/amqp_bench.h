#pragma once
// `holdfast-bench amqp`: an AMQP 1.0 load generator for any broker (holdfastd, RabbitMQ with its
// AMQP 1.0 plugin, ...), built on Qpid Proton-C's proactor:
//   senders    N links (one connection each, or spread over --connections) transferring
//              unsettled messages to --address (or one address each, --per-sender-address),
//              each with at most --window transfers waiting for their outcome; a message counts
//              once the broker settles it `accepted`
//   receivers  M links on the same address(es), each keeping --credit granted and accepting
//              every message
// It prints msgs/s sent, accepted and received, transfer-to-accepted latency and (with
// receivers) end-to-end latency, p50/p99/p99.9/max; rejected, released and modified transfers
// and link or connection errors are counted and listed with their AMQP condition. The first 8
// payload bytes carry the send time; the rest are random. --durable marks messages durable (and
// the link termini: RabbitMQ then declares durable queues). bench/amqp.sh runs it against
// holdfastd and RabbitMQ side by side. The load itself is amqp_load.h. It asserts nothing.

namespace CLI {
class App;
}

namespace holdfast::bench {

// Adds `amqp` to `app`. When it runs it sets `exit_code` (non-zero only when the benchmark could
// not run cleanly: links not attached, transfers not accepted, link or connection errors;
// never because of a figure).
void add_amqp_commands(CLI::App& app, int& exit_code);

}  // namespace holdfast::bench
