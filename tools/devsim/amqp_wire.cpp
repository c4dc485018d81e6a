#include "tools/devsim/amqp_wire.h"

#include <netdb.h>
#include <proton/codec.h>
#include <proton/message.h>
#include <proton/sasl.h>
#include <proton/sasl_plugin.h>
#include <proton/transport.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace holdfast::devsim {
namespace {

// ---- SASL MSSBCBS, client side

void sasl_free(pn_transport_t*) {}
const char* sasl_mechs(pn_transport_t*) {
  return "MSSBCBS";
}
bool sasl_init_server(pn_transport_t*) {
  return false;
}
bool sasl_init_client(pn_transport_t*) {
  return true;
}
void sasl_prepare(pn_transport_t*) {}
void sasl_process_init(pn_transport_t*, const char*, const pn_bytes_t*) {}
void sasl_process_response(pn_transport_t*, const pn_bytes_t*) {}
bool sasl_process_mechanisms(pn_transport_t* t, const char* mechs) {
  if (!mechs || !std::strstr(mechs, "MSSBCBS")) return false;
  pnx_sasl_set_selected_mechanism(t, "MSSBCBS");
  pnx_sasl_set_bytes_out(t, pn_bytes(0, ""));
  pnx_sasl_set_desired_state(t, SASL_POSTED_INIT);
  return true;
}
void sasl_process_challenge(pn_transport_t*, const pn_bytes_t*) {}
void sasl_process_outcome(pn_transport_t*, const pn_bytes_t*) {}
bool sasl_can_encrypt(pn_transport_t*) {
  return false;
}
ssize_t sasl_max_encrypt(pn_transport_t*) {
  return 0;
}
ssize_t sasl_encode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}
ssize_t sasl_decode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}

const pnx_sasl_implementation kMssbcbs = {
    sasl_free,
    sasl_mechs,
    sasl_init_server,
    sasl_init_client,
    sasl_prepare,
    sasl_process_init,
    sasl_process_response,
    sasl_process_mechanisms,
    sasl_process_challenge,
    sasl_process_outcome,
    sasl_can_encrypt,
    sasl_max_encrypt,
    sasl_encode,
    sasl_decode,
};

struct MessageDeleter {
  void operator()(pn_message_t* m) const { pn_message_free(m); }
};
using MessagePtr = std::unique_ptr<pn_message_t, MessageDeleter>;

struct DataDeleter {
  void operator()(pn_data_t* d) const { pn_data_free(d); }
};
using DataPtr = std::unique_ptr<pn_data_t, DataDeleter>;

std::string encode(pn_message_t* m) {
  pn_rwbytes_t buf{0, nullptr};
  ssize_t n = pn_message_encode2(m, &buf);
  std::string out(buf.start, static_cast<std::size_t>(n > 0 ? n : 0));
  std::free(buf.start);
  return out;
}

void put_string(pn_data_t* d, const std::string& s) {
  pn_data_put_string(d, pn_bytes(s.size(), s.data()));
}

std::string data_section(const std::string& content) {
  DataPtr d(pn_data(4));
  pn_data_put_described(d.get());
  pn_data_enter(d.get());
  pn_data_put_ulong(d.get(), 0x75);
  pn_data_put_binary(d.get(), pn_bytes(content.size(), content.data()));
  pn_data_exit(d.get());
  std::string out(static_cast<std::size_t>(pn_data_encoded_size(d.get())), '\0');
  pn_data_encode(d.get(), out.data(), out.size());
  return out;
}

std::string id_text(pn_msgid_t id) {
  switch (id.type) {
    case PN_STRING:
      return std::string(id.u.as_bytes.start, id.u.as_bytes.size);
    case PN_ULONG:
      return std::to_string(id.u.as_ulong);
    default:
      return "";
  }
}

}  // namespace

DeviceMessage device_message(const std::string& device, std::uint64_t seq, std::string payload) {
  DeviceMessage m;
  m.message_id = device + "-" + std::to_string(seq);
  m.content_type = "application/octet-stream";
  m.properties = {{"seq", std::to_string(seq)}};
  m.payload = std::move(payload);
  return m;
}

void use_mssbcbs(pn_transport_t* transport) {
  pn_sasl(transport);
  pnx_sasl_set_implementation(transport, &kMssbcbs, nullptr);
}

std::string encode_message(const DeviceMessage& m) {
  MessagePtr msg(pn_message());
  pn_msgid_t id{};
  id.type = PN_STRING;
  id.u.as_bytes = pn_bytes(m.message_id.size(), m.message_id.data());
  if (!m.message_id.empty()) pn_message_set_id(msg.get(), id);
  if (!m.content_type.empty()) pn_message_set_content_type(msg.get(), m.content_type.c_str());
  if (!m.properties.empty()) {
    pn_data_t* props = pn_message_properties(msg.get());
    pn_data_put_map(props);
    pn_data_enter(props);
    for (const auto& [k, v] : m.properties) {
      put_string(props, k);
      put_string(props, v);
    }
    pn_data_exit(props);
  }
  pn_message_set_inferred(msg.get(), true);
  pn_data_put_binary(pn_message_body(msg.get()), pn_bytes(m.payload.size(), m.payload.data()));
  return encode(msg.get());
}

std::string encode_batch(const std::vector<DeviceMessage>& messages) {
  std::string body;
  for (const auto& m : messages) body += data_section(encode_message(m));
  return body;
}

std::string encode_put_token(std::uint64_t id, const std::string& audience,
                             const std::string& token) {
  MessagePtr m(pn_message());
  pn_msgid_t msgid{};
  msgid.type = PN_ULONG;  // as the C SDK: a ulong message-id, no reply-to
  msgid.u.as_ulong = id;
  pn_message_set_id(m.get(), msgid);
  pn_data_t* props = pn_message_properties(m.get());
  pn_data_put_map(props);
  pn_data_enter(props);
  put_string(props, "operation");
  put_string(props, "put-token");
  put_string(props, "type");
  put_string(props, "servicebus.windows.net:sastoken");
  put_string(props, "name");
  put_string(props, audience);
  pn_data_exit(props);
  put_string(pn_message_body(m.get()), token);
  return encode(m.get());
}

CbsReply decode_put_token_reply(std::string_view bytes) {
  CbsReply r;
  MessagePtr m(pn_message());
  if (bytes.empty() || pn_message_decode(m.get(), bytes.data(), bytes.size()) != 0) {
    r.error = "undecodable put-token reply";
    return r;
  }
  pn_msgid_t cid = pn_message_get_correlation_id(m.get());
  if (cid.type != PN_ULONG) {
    r.error = "put-token reply with a correlation-id that is not a ulong (the C SDK rejects it)";
    return r;
  }
  r.correlation_id = cid.u.as_ulong;
  pn_data_t* props = pn_message_properties(m.get());
  pn_data_rewind(props);
  bool have_status = false;
  if (pn_data_next(props) && pn_data_type(props) == PN_MAP) {
    std::size_t n = pn_data_get_map(props);
    pn_data_enter(props);
    for (std::size_t i = 0; i + 1 < n; i += 2) {
      pn_data_next(props);
      std::string k;
      if (pn_data_type(props) == PN_STRING) {
        auto key = pn_data_get_string(props);
        k.assign(key.start, key.size);
      }
      pn_data_next(props);
      if (k == "status-code") {
        if (pn_data_type(props) != PN_INT) {
          r.error = "status-code is not an AMQP int (the C SDK rejects it)";
          return r;
        }
        r.status = pn_data_get_int(props);
        have_status = true;
      } else if (k == "status-description" && pn_data_type(props) == PN_STRING) {
        auto v = pn_data_get_string(props);
        r.description.assign(v.start, v.size);
      }
    }
    pn_data_exit(props);
  }
  if (!have_status) r.error = "put-token reply without a status-code";
  return r;
}

std::optional<ReceivedMessage> decode_message(std::string_view bytes) {
  MessagePtr m(pn_message());
  if (bytes.empty() || pn_message_decode(m.get(), bytes.data(), bytes.size()) != 0) {
    return std::nullopt;
  }
  ReceivedMessage r;
  r.message_id = id_text(pn_message_get_id(m.get()));
  r.correlation_id = id_text(pn_message_get_correlation_id(m.get()));
  pn_data_t* props = pn_message_properties(m.get());
  pn_data_rewind(props);
  if (pn_data_next(props) && pn_data_type(props) == PN_MAP) {
    std::size_t n = pn_data_get_map(props);
    pn_data_enter(props);
    for (std::size_t i = 0; i + 1 < n; i += 2) {
      pn_data_next(props);
      bool key_ok = pn_data_type(props) == PN_STRING;
      std::string k =
          key_ok ? std::string(pn_data_get_string(props).start, pn_data_get_string(props).size)
                 : "";
      pn_data_next(props);
      if (key_ok && pn_data_type(props) == PN_STRING) {
        auto v = pn_data_get_string(props);
        r.properties.emplace_back(k, std::string(v.start, v.size));
      }
    }
    pn_data_exit(props);
  }
  pn_data_t* body = pn_message_body(m.get());
  pn_data_rewind(body);
  if (pn_data_next(body)) {
    if (pn_data_type(body) == PN_BINARY) {
      auto b = pn_data_get_binary(body);
      r.payload.assign(b.start, b.size);
    } else if (pn_data_type(body) == PN_STRING) {
      auto b = pn_data_get_string(body);
      r.payload.assign(b.start, b.size);
    }
  }
  return r;
}

int connect_tcp(const std::string& host, std::uint16_t port, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    why = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

}  // namespace holdfast::devsim
