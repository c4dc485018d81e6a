#pragma once
// Options of the CoAP listener (RFC 7252 over UDP, or DTLS).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace holdfast::coap {

class PskKeys;

struct CoapOptions {
  std::string bind = "0.0.0.0";
  std::uint16_t port = 5683;
  // Most client endpoints (address and port) served at once; requests from further ones get
  // 5.03 until an idle endpoint is forgotten (after `session_timeout`).
  std::uint32_t max_endpoints = 10000;
  // Largest request body accepted, whole (after Block1 reassembly); larger gets 4.13.
  std::size_t max_body_bytes = 512 * 1024;
  // An endpoint silent for this long is forgotten (its observations end).
  std::chrono::seconds session_timeout{300};
  // DTLS (dtls.h), with pre-shared keys (the identity a client presents becomes its device
  // id), or certificates (cert_file + key_file, PEM; with client_ca_file clients must show a
  // certificate it signed, whose name becomes their device id), or both.
  bool dtls = false;
  std::shared_ptr<const PskKeys> psk;
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  // Requests per second accepted from one source IP address (a token bucket holding one
  // second's worth); 0 = unlimited. Further requests get 4.29 with Max-Age.
  std::uint32_t rate_limit = 0;
  // Max-Age sent with 5.03 when the store refuses a message (full): a retry hint.
  std::chrono::seconds retry_after{5};
  // How long a GET on a queue waits for a message before answering 4.04 (also the most a
  // client may ask for with ?wait=MS).
  std::chrono::milliseconds get_wait{1000};
  std::chrono::milliseconds max_get_wait{30'000};
  // Duplicate detection: how long a (source, message-id) pair is remembered (RFC 7252
  // EXCHANGE_LIFETIME), and at most how many pairs.
  std::chrono::seconds exchange_lifetime{247};
  std::size_t max_exchanges = 100'000;
  // How long the answer to a confirmable request may take to ride on its ACK (piggybacked);
  // past it an empty ACK goes out and the answer follows as a separate response. Below the
  // clients' ACK_TIMEOUT (RFC 7252: 2 s), so that they need not retransmit meanwhile.
  std::chrono::milliseconds piggyback_wait{1000};
  // Receive buffer asked for the UDP socket (SO_RCVBUF; the kernel caps it at
  // net.core.rmem_max): a burst from many clients queues here instead of being dropped.
  int receive_buffer_bytes = 4 * 1024 * 1024;
  // Live messages waiting for an observer's previous CON notification before the oldest drops.
  std::size_t max_buffered_live = 100;
};

}  // namespace holdfast::coap
