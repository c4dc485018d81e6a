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

TEST(CoapIo, HandsEveryQueuedDatagramToLibcoapInOneRound) {
  coap_startup();
  coap_context_t* ctx = coap_new_context(nullptr);
  ASSERT_NE(ctx, nullptr);
  std::uint16_t port = free_udp_port();
  coap_address_t address;
  coap_address_init(&address);
  address.addr.sin.sin_family = AF_INET;
  address.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.addr.sin.sin_port = htons(port);
  address.size = sizeof(sockaddr_in);
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

}  // namespace
}  // namespace holdfast::coap
