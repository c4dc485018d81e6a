#include "protocols/coap/dtls.h"

#include <cstring>

#include "broker/core/log.h"
#include "protocols/coap/handles.h"
#include "protocols/coap/psk_keys.h"

namespace holdfast::coap {

core::Status Dtls::setup(coap_context_t* context, const std::string& what) {
  if (!coap_dtls_is_supported()) {
    return {core::Code::kUnsupported, what + ": this libcoap has no DTLS support"};
  }
  bool keys = options_.psk && options_.psk->size() > 0;
  bool certificate = !options_.cert_file.empty() && !options_.key_file.empty();
  if (!keys && !certificate) {
    return {core::Code::kInvalidArgument,
            what + ": DTLS needs pre-shared keys (psk_file) or cert_file and key_file"};
  }
  if (keys) {
    coap_dtls_spsk_t psk;
    std::memset(&psk, 0, sizeof psk);
    psk.version = COAP_DTLS_SPSK_SETUP_VERSION;
    psk.validate_id_call_back = on_psk_identity;
    psk.id_call_back_arg = this;
    if (!coap_context_set_psk2(context, &psk)) {
      return {core::Code::kInternal, what + ": cannot set up DTLS with pre-shared keys"};
    }
  }
  if (certificate) {
    bool clients = !options_.client_ca_file.empty();
    coap_dtls_pki_t pki;
    std::memset(&pki, 0, sizeof pki);
    pki.version = COAP_DTLS_PKI_SETUP_VERSION;
    pki.verify_peer_cert = clients;  // asks for, and requires, a client certificate
    pki.cert_chain_validation = 1;
    pki.cert_chain_verify_depth = 3;
    pki.validate_cn_call_back = on_certificate;
    pki.cn_call_back_arg = this;
    pki.pki_key.key_type = COAP_PKI_KEY_PEM;
    // libcoap keeps these pointers: options_ lives as long as the context.
    pki.pki_key.key.pem.public_cert = options_.cert_file.c_str();
    pki.pki_key.key.pem.private_key = options_.key_file.c_str();
    pki.pki_key.key.pem.ca_file = clients ? options_.client_ca_file.c_str() : nullptr;
    if (!coap_context_set_pki(context, &pki)) {
      return {core::Code::kInternal, what + ": cannot set up DTLS with " + options_.cert_file +
                                         " and " + options_.key_file + " (see the log)"};
    }
    // The CA that verifies client certificates (pem.ca_file only names it to clients).
    if (clients &&
        !coap_context_set_pki_root_cas(context, options_.client_ca_file.c_str(), nullptr)) {
      return {core::Code::kInternal,
              what + ": cannot load the client CA " + options_.client_ca_file + " (see the log)"};
    }
  }
  return {};
}

std::string Dtls::identity(const coap_session_t* session) const {
  if (!options_.dtls) return {};
  const coap_bin_const_t* psk = coap_session_get_psk_identity(session);
  if (psk && psk->s && psk->length) {
    return std::string(reinterpret_cast<const char*>(psk->s), psk->length);
  }
  auto it = names_.find(session);
  return it == names_.end() ? std::string() : it->second;
}

std::string Dtls::describe() const {
  bool keys = options_.psk && options_.psk->size() > 0;
  std::string out = keys ? "pre-shared keys" : "";
  if (!options_.cert_file.empty()) {
    out += std::string(keys ? " and " : "") + "certificates" +
           (options_.client_ca_file.empty() ? "" : ", client certificates required");
  }
  return out;
}

const coap_bin_const_t* Dtls::on_psk_identity(coap_bin_const_t* identity, coap_session_t* session,
                                              void* arg) {
  auto* self = static_cast<Dtls*>(arg);
  std::string id(reinterpret_cast<const char*>(identity->s), identity->length);
  const std::string* key = self->options_.psk ? self->options_.psk->key(id) : nullptr;
  if (!key) {
    core::log(core::LogLevel::kInfo, "coap",
              "refused DTLS identity '" + id + "' from " + peer_of(session) + ": unknown",
              "psk-unknown");
    return nullptr;
  }
  self->psk_scratch_ = {key->size(), reinterpret_cast<const std::uint8_t*>(key->data())};
  return &self->psk_scratch_;
}

int Dtls::on_certificate(const char* cn, const std::uint8_t*, std::size_t, coap_session_t* session,
                         unsigned depth, int validated, void* arg) {
  auto* self = static_cast<Dtls*>(arg);
  if (self->options_.client_ca_file.empty()) return 1;  // no client identity by certificate
  if (!validated) return 0;
  if (depth > 0) return 1;  // a CA of the chain: OpenSSL verified it
  std::string name = cn ? cn : "";
  if (!valid_identity(name)) {
    core::log(core::LogLevel::kInfo, "coap",
              "refused the certificate of " + peer_of(session) + ": its name '" + name +
                  "' cannot be a device id",
              "cert-name");
    return 0;
  }
  self->names_[session] = std::move(name);
  return 1;
}

}  // namespace holdfast::coap
