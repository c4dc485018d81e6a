#include "protocols/coap/handles.h"

namespace holdfast::coap {
namespace {

std::vector<std::string> options(const coap_pdu_t* pdu, coap_option_num_t number) {
  std::vector<std::string> out;
  coap_opt_filter_t filter;
  coap_option_filter_clear(&filter);
  coap_option_filter_set(&filter, number);
  coap_opt_iterator_t it;
  if (!coap_option_iterator_init(pdu, &it, &filter)) return out;
  while (coap_opt_t* opt = coap_option_next(&it)) {
    out.emplace_back(reinterpret_cast<const char*>(coap_opt_value(opt)), coap_opt_length(opt));
  }
  return out;
}

}  // namespace

std::vector<std::string> uri_path(const coap_pdu_t* pdu) {
  return options(pdu, COAP_OPTION_URI_PATH);
}

std::vector<std::string> uri_query(const coap_pdu_t* pdu) {
  return options(pdu, COAP_OPTION_URI_QUERY);
}

std::optional<std::uint32_t> uint_option(const coap_pdu_t* pdu, coap_option_num_t number) {
  coap_opt_iterator_t it;
  coap_opt_t* opt = coap_check_option(pdu, number, &it);
  if (!opt) return std::nullopt;
  return coap_decode_var_bytes(coap_opt_value(opt), coap_opt_length(opt));
}

std::string token_of(const coap_pdu_t* pdu) {
  coap_bin_const_t t = coap_pdu_get_token(pdu);
  return std::string(reinterpret_cast<const char*>(t.s), t.length);
}

std::string peer_of(const coap_session_t* session) {
  const coap_address_t* a = coap_session_get_addr_remote(session);
  if (!a) return "?";
  unsigned char buf[INET6_ADDRSTRLEN + 16];
  std::size_t n = coap_print_addr(a, buf, sizeof buf);
  return std::string(reinterpret_cast<char*>(buf), n);
}

std::string endpoint_key(const coap_session_t* session) {
  const coap_address_t* a = coap_session_get_addr_remote(session);
  if (!a) return {};
  if (a->addr.sa.sa_family == AF_INET) {
    std::string key(reinterpret_cast<const char*>(&a->addr.sin.sin_port), 2);
    key.append(reinterpret_cast<const char*>(&a->addr.sin.sin_addr), 4);
    return key;
  }
  if (a->addr.sa.sa_family == AF_INET6) {
    std::string key(reinterpret_cast<const char*>(&a->addr.sin6.sin6_port), 2);
    key.append(reinterpret_cast<const char*>(&a->addr.sin6.sin6_addr), 16);
    return key;
  }
  return peer_of(session);
}

std::string source_ip(const coap_session_t* session) {
  std::string peer = peer_of(session);
  if (!peer.empty() && peer.front() == '[') return peer.substr(1, peer.find(']') - 1);
  return peer.substr(0, peer.rfind(':'));
}

void add_uint_option(coap_pdu_t* pdu, coap_option_num_t number, std::uint32_t value) {
  std::uint8_t buf[4];
  coap_add_option(pdu, number, coap_encode_var_safe(buf, sizeof buf, value), buf);
}

void set_response(coap_pdu_t* response, ResponseCode code, std::string_view diagnostic,
                  std::chrono::seconds max_age) {
  coap_pdu_set_code(response, static_cast<coap_pdu_code_t>((code.cls << 5) | code.detail));
  if (code.retry_hint) add_uint_option(response, COAP_OPTION_MAXAGE, max_age.count());
  if (code.cls >= 4 && !diagnostic.empty()) {
    coap_add_data(response, diagnostic.size(),
                  reinterpret_cast<const std::uint8_t*>(diagnostic.data()));
  }
}

}  // namespace holdfast::coap
