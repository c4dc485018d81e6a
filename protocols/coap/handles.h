#pragma once
// RAII for libcoap handles, and small helpers to read and write PDUs.
//
// Concurrency: io thread only (libcoap's context is single-threaded); never blocks.

#include <coap3/coap.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/coap/errors.h"

namespace holdfast::coap {

struct ContextDeleter {
  void operator()(coap_context_t* c) const { coap_free_context(c); }
};
using ContextPtr = std::unique_ptr<coap_context_t, ContextDeleter>;

// A counted reference to a session: libcoap keeps the session (and the endpoint's address)
// while one exists.
struct SessionRelease {
  void operator()(coap_session_t* s) const { coap_session_release(s); }
};
using SessionRef = std::unique_ptr<coap_session_t, SessionRelease>;
inline SessionRef reference(coap_session_t* s) {
  return SessionRef(coap_session_reference(s));
}

struct PduDeleter {
  void operator()(coap_pdu_t* p) const { coap_delete_pdu(p); }
};
using PduPtr = std::unique_ptr<coap_pdu_t, PduDeleter>;

struct StringDeleter {
  void operator()(coap_string_t* s) const { coap_delete_string(s); }
};

// Request options, in the order they appear.
std::vector<std::string> uri_path(const coap_pdu_t* pdu);
std::vector<std::string> uri_query(const coap_pdu_t* pdu);
std::optional<std::uint32_t> uint_option(const coap_pdu_t* pdu, coap_option_num_t number);
std::string token_of(const coap_pdu_t* pdu);
inline coap_bin_const_t token_view(const std::string& token) {
  return {token.size(), reinterpret_cast<const std::uint8_t*>(token.data())};
}

// The remote endpoint, "IP:PORT" (IPv6 in brackets), and only its IP address.
std::string peer_of(const coap_session_t* session);
// The remote endpoint as a short binary key (port and address bytes, 6 or 18 bytes: no heap
// allocation for IPv4), for the ExchangeCache.
std::string endpoint_key(const coap_session_t* session);
std::string source_ip(const coap_session_t* session);

// Sets `code` on `response`, with Max-Age `max_age` when the code carries a retry hint and a
// diagnostic payload (RFC 7252 5.5.2) for error codes. Must be the last change to `response`
// except that no other option may follow Max-Age.
void set_response(coap_pdu_t* response, ResponseCode code, std::string_view diagnostic = {},
                  std::chrono::seconds max_age = std::chrono::seconds(0));
// Adds an unsigned integer option (Content-Format, Observe, Max-Age, Size1...).
void add_uint_option(coap_pdu_t* pdu, coap_option_num_t number, std::uint32_t value);

}  // namespace holdfast::coap
