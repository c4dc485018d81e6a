#include "protocols/amqp/sasl.h"

#include <proton/sasl.h>
#include <proton/sasl_plugin.h>

#include <cstring>
#include <string_view>

#include "protocols/amqp/connection.h"

namespace holdfast::amqp {
namespace {

constexpr char kMechanisms[] = "ANONYMOUS PLAIN MSSBCBS";

Connection* connection_of(pn_transport_t* t) {
  return static_cast<Connection*>(pnx_sasl_get_context(t));
}

void impl_free(pn_transport_t*) {}  // the context is the Connection, owned elsewhere
const char* list_mechanisms(pn_transport_t*) {
  return kMechanisms;
}
bool init_server(pn_transport_t* t) {
  pnx_sasl_set_desired_state(t, SASL_POSTED_MECHANISMS);
  return true;
}
bool init_client(pn_transport_t*) {
  return false;
}
void prepare_write(pn_transport_t*) {}

void process_init(pn_transport_t* t, const char* mechanism, const pn_bytes_t* recv) {
  std::string_view mech = mechanism ? mechanism : "";
  std::string_view response =
      recv && recv->start ? std::string_view(recv->start, recv->size) : std::string_view();
  bool ok = false;
  std::string user = "anonymous";
  if (mech == "ANONYMOUS" || mech == "MSSBCBS") {
    ok = true;
  } else if (mech == "PLAIN") {
    // authzid NUL authcid NUL password
    auto first = response.find('\0');
    auto second = first == std::string_view::npos ? first : response.find('\0', first + 1);
    if (second != std::string_view::npos) {
      std::string_view authcid = response.substr(first + 1, second - first - 1);
      std::string_view password = response.substr(second + 1);
      user.assign(authcid);
      ok = connection_of(t)->sasl_plain(authcid, password);
    }
  }
  if (ok) {
    pnx_sasl_set_succeeded(t, user.c_str(), nullptr);
  } else {
    pnx_sasl_set_failed(t);
  }
  pnx_sasl_set_desired_state(t, SASL_POSTED_OUTCOME);
}

void process_response(pn_transport_t*, const pn_bytes_t*) {}
bool process_mechanisms(pn_transport_t*, const char*) {
  return false;
}
void process_challenge(pn_transport_t*, const pn_bytes_t*) {}
void process_outcome(pn_transport_t*, const pn_bytes_t*) {}
bool can_encrypt(pn_transport_t*) {
  return false;
}
ssize_t max_encrypt_size(pn_transport_t*) {
  return 0;
}
ssize_t encode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}
ssize_t decode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}

const pnx_sasl_implementation kImplementation = {
    impl_free,
    list_mechanisms,
    init_server,
    init_client,
    prepare_write,
    process_init,
    process_response,
    process_mechanisms,
    process_challenge,
    process_outcome,
    can_encrypt,
    max_encrypt_size,
    encode,
    decode,
};

}  // namespace

void install_sasl(pn_transport_t* transport, Connection* connection) {
  pn_sasl_t* sasl = pn_sasl(transport);
  // PLAIN over plain TCP: the devices this gateway serves cannot do TLS.
  pn_sasl_set_allow_insecure_mechs(sasl, true);
  pnx_sasl_set_implementation(transport, &kImplementation, connection);
}

}  // namespace holdfast::amqp
