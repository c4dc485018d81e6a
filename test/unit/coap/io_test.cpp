// CoapIo against a real libcoap context on a loopback UDP socket.
#include "protocols/coap/io.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>

namespace holdfast::coap {
namespace {

int requests_seen = 0;

void count_request(coap_resource_t*, coap_session_t*, const coap_pdu_t*, const coap_string_t*,
                   coap_pdu_t* response) {
  ++requests_seen;
  coap_pdu_set_code(response, COAP_RESPONSE_CODE_CHANGED);
}

std::uint16_t free_udp_port() {
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
  close(s);
  return ntohs(a.sin_port);
}

// A non-confirmable POST to /x with message-id `mid` and no token (RFC 7252 3).
std::string non_post(std::uint16_t mid) {
  std::string d;
  d.push_back(static_cast<char>(0x50));  // version 1, NON, token length 0
  d.push_back(static_cast<char>(0x02));  // 0.02 POST
  d.push_back(static_cast<char>(mid >> 8));
  d.push_back(static_cast<char>(mid & 0xff));
  d.push_back(static_cast<char>(0xb1));  // option 11 (Uri-Path), length 1
  d.push_back('x');
  d.push_back(static_cast<char>(0xff));
  d += "payload";
  return d;
}

// An IPv4 UDP address for libcoap.
coap_address_t ipv4(in_addr_t host, std::uint16_t port) {
  coap_address_t address;
  coap_address_init(&address);
  address.addr.sin.sin_family = AF_INET;
  address.addr.sin.sin_addr.s_addr = htonl(host);
  address.addr.sin.sin_port = htons(port);
  address.size = sizeof(sockaddr_in);
  return address;
}

TEST(CoapIo, HandsEveryQueuedDatagramToLibcoapInOneRound) {
  coap_startup();
  coap_context_t* ctx = coap_new_context(nullptr);
  ASSERT_NE(ctx, nullptr);
  std::uint16_t port = free_udp_port();
  coap_address_t address = ipv4(INADDR_LOOPBACK, port);
  ASSERT_NE(coap_new_endpoint(ctx, &address, COAP_PROTO_UDP), nullptr);
  coap_resource_t* any = coap_resource_unknown_init2(count_request, 0);
  coap_register_handler(any, COAP_REQUEST_POST, count_request);
  coap_add_resource(ctx, any);

  int coap_fd = coap_context_get_coap_fd(ctx);
  ASSERT_GE(coap_fd, 0);
  CoapIo io(ctx, coap_fd);
  EXPECT_EQ(io.sockets(), 1u) << "the endpoint's socket was not found in libcoap's epoll set";
  EXPECT_GT(io.enlarge_receive_buffers(1 << 20), 0);

  int client = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  to.sin_port = htons(port);
  constexpr int kDatagrams = 50;
  for (int i = 0; i < kDatagrams; ++i) {
    std::string d = non_post(static_cast<std::uint16_t>(1000 + i));
    ASSERT_EQ(sendto(client, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to),
              static_cast<ssize_t>(d.size()));
  }
  // Loopback delivers as sendto() returns: all 50 wait in the endpoint's receive queue now.
  requests_seen = 0;
  io.drain(1);
  // Without batching one round would have read one datagram (libcoap reads one per event).
  EXPECT_EQ(requests_seen, kDatagrams);
  io.drain(4);  // nothing left: no more requests, and no harm
  EXPECT_EQ(requests_seen, kDatagrams);

  close(client);
  coap_free_context(ctx);
  coap_cleanup();
}

TEST(CoapIo, EncodesWhatLibcoapParsesBack) {
  coap_pdu_t* pdu = coap_pdu_init(COAP_MESSAGE_ACK, COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE, 0x1234, 1152);
  ASSERT_NE(pdu, nullptr);
  const std::uint8_t token[] = {0xde, 0xad, 0xbe, 0xef};
  coap_add_token(pdu, sizeof token, token);
  std::uint8_t buf[4];
  // Max-Age (14), Block1 (27: a delta of 13), Proxy-Uri (35: a length past 269) and an
  // elective option 306 (a delta past 269): every size of delta and length extension.
  coap_add_option(pdu, COAP_OPTION_MAXAGE, coap_encode_var_safe(buf, sizeof buf, 30), buf);
  coap_add_option(pdu, COAP_OPTION_BLOCK1, coap_encode_var_safe(buf, sizeof buf, 0x1e), buf);
  std::string long_value(300, 'x');
  coap_add_option(pdu, COAP_OPTION_PROXY_URI, long_value.size(),
                  reinterpret_cast<const std::uint8_t*>(long_value.data()));
  constexpr coap_option_num_t kElective = 306;
  coap_add_option(pdu, kElective, 2, reinterpret_cast<const std::uint8_t*>("ab"));
  const std::string diagnostic = "store full";
  coap_add_data(pdu, diagnostic.size(), reinterpret_cast<const std::uint8_t*>(diagnostic.data()));

  std::string bytes = encode_udp(pdu);
  ASSERT_FALSE(bytes.empty());
  coap_pdu_t* back = coap_pdu_init(COAP_MESSAGE_CON, COAP_EMPTY_CODE, 0, bytes.size() + 16);
  ASSERT_EQ(coap_pdu_parse(COAP_PROTO_UDP, reinterpret_cast<const std::uint8_t*>(bytes.data()),
                           bytes.size(), back),
            1);
  EXPECT_EQ(coap_pdu_get_type(back), COAP_MESSAGE_ACK);
  EXPECT_EQ(coap_pdu_get_code(back), COAP_RESPONSE_CODE_SERVICE_UNAVAILABLE);
  EXPECT_EQ(coap_pdu_get_mid(back), 0x1234);
  coap_bin_const_t t = coap_pdu_get_token(back);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.s), t.length),
            std::string(reinterpret_cast<const char*>(token), sizeof token));
  coap_opt_iterator_t it;
  ASSERT_NE(coap_check_option(back, COAP_OPTION_MAXAGE, &it), nullptr);
  EXPECT_EQ(coap_decode_var_bytes(coap_opt_value(coap_check_option(back, COAP_OPTION_MAXAGE, &it)),
                                  coap_opt_length(coap_check_option(back, COAP_OPTION_MAXAGE, &it))),
            30u);
  coap_opt_t* proxy = coap_check_option(back, COAP_OPTION_PROXY_URI, &it);
  ASSERT_NE(proxy, nullptr);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(coap_opt_value(proxy)), coap_opt_length(proxy)),
            long_value);
  coap_opt_t* elective = coap_check_option(back, kElective, &it);
  ASSERT_NE(elective, nullptr);
  EXPECT_EQ(coap_opt_length(elective), 2u);
  ASSERT_NE(coap_check_option(back, COAP_OPTION_BLOCK1, &it), nullptr);
  std::size_t length = 0;
  const std::uint8_t* data = nullptr;
  ASSERT_TRUE(coap_get_data(back, &length, &data));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(data), length), diagnostic);
  coap_delete_pdu(back);
  coap_delete_pdu(pdu);
}

TEST(CoapIo, QueuedAnswersLeaveInOneFlush) {
  coap_startup();
  coap_context_t* ctx = coap_new_context(nullptr);
  ASSERT_NE(ctx, nullptr);
  std::uint16_t port = free_udp_port();
  coap_address_t address = ipv4(INADDR_ANY, port);  // a wildcard: answers name a source
  ASSERT_NE(coap_new_endpoint(ctx, &address, COAP_PROTO_UDP), nullptr);
  CoapIo io(ctx, coap_context_get_coap_fd(ctx));
  ASSERT_TRUE(io.can_queue());

  int client = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in me{};
  me.sin_family = AF_INET;
  me.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(client, reinterpret_cast<sockaddr*>(&me), sizeof me), 0);
  socklen_t n = sizeof me;
  getsockname(client, reinterpret_cast<sockaddr*>(&me), &n);
  coap_address_t remote = ipv4(INADDR_LOOPBACK, ntohs(me.sin_port));
  coap_address_t local = ipv4(INADDR_LOOPBACK, port);
  constexpr int kAnswers = 100;  // more than one sendmmsg() chunk
  for (int i = 0; i < kAnswers; ++i) {
    coap_pdu_t* pdu = coap_pdu_init(COAP_MESSAGE_ACK, COAP_RESPONSE_CODE_CREATED,
                                    static_cast<coap_mid_t>(i), 64);
    ASSERT_TRUE(io.queue(pdu, remote, local));
    coap_delete_pdu(pdu);
  }
  EXPECT_TRUE(io.has_queued());
  EXPECT_EQ(io.flush(), static_cast<std::size_t>(kAnswers));
  EXPECT_FALSE(io.has_queued());
  for (int i = 0; i < kAnswers; ++i) {
    char buf[64];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    ssize_t got = recvfrom(client, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fl);
    ASSERT_EQ(got, 4) << "answer " << i;
    EXPECT_EQ(static_cast<unsigned char>(buf[1]), COAP_RESPONSE_CODE(201));
    EXPECT_EQ((static_cast<unsigned char>(buf[2]) << 8 | static_cast<unsigned char>(buf[3])), i);
    EXPECT_EQ(ntohs(from.sin_port), port) << "from the listener's socket";
  }
  EXPECT_EQ(io.dropped(), 0u);
  close(client);
  coap_free_context(ctx);
  coap_cleanup();
}

}  // namespace
}  // namespace holdfast::coap
