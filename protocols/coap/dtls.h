#pragma once
// Dtls: the DTLS side of a CoAP listener (libcoap on OpenSSL) and the device identities it
// proves: pre-shared keys (psk_keys.h), certificates (PKI), or both on one socket.
//
// Operation
//   - PSK: a client's PSK identity must be in the key file; it becomes the device id.
//   - Certificates: the listener shows cert_file (PEM chain) with key_file. With a client CA
//     file, clients must present a certificate that CA signed (verified by OpenSSL, chain
//     depth 3, not expired, not self-signed) and its name (subjectAltName, else CN) becomes
//     the device id; a name that cannot be a device id fails the handshake. Without a client
//     CA no client certificate is asked for and a device is named by its path.
//
// Concurrency: io thread only (libcoap's callbacks run in coap_io_do_epoll()); never blocks.

#include <coap3/coap.h>

#include <string>
#include <unordered_map>

#include "broker/core/status.h"
#include "protocols/coap/options.h"

namespace holdfast::coap {

class Dtls {
 public:
  explicit Dtls(const CoapOptions& options) : options_(options) {}
  Dtls(const Dtls&) = delete;
  Dtls& operator=(const Dtls&) = delete;

  // Io thread, before the endpoint is created. Errors: kUnsupported (libcoap without DTLS),
  // kInvalidArgument (neither keys nor a certificate), kInternal (libcoap refused the setup,
  // e.g. unreadable PEM files), each prefixed with `what`.
  core::Status setup(coap_context_t* context, const std::string& what);
  // The device a DTLS client proved to be: its PSK identity or its certificate's name; empty
  // without DTLS or without a client certificate.
  std::string identity(const coap_session_t* session) const;
  // The session ended.
  void forget(const coap_session_t* session) { names_.erase(session); }
  // "pre-shared keys", "certificates" or both, for the log.
  std::string describe() const;

 private:
  static const coap_bin_const_t* on_psk_identity(coap_bin_const_t* identity,
                                                 coap_session_t* session, void* arg);
  static int on_certificate(const char* cn, const std::uint8_t* der, std::size_t length,
                            coap_session_t* session, unsigned depth, int validated, void* arg);

  const CoapOptions& options_;
  std::unordered_map<const coap_session_t*, std::string> names_;  // certificate names
  coap_bin_const_t psk_scratch_{};  // the key handed to libcoap, which copies it at once
};

}  // namespace holdfast::coap
