#pragma once
// Driving libcoap's I/O from our EventLoop.
//
// libcoap (epoll build) keeps its sockets and its retransmission timerfd in one epoll set of its
// own, whose descriptor sits in our loop. coap_io_process() on each readiness would read one
// datagram per call and re-arm the timerfd twice. CoapIo instead takes libcoap's ready events
// itself and hands them to coap_io_do_epoll() (libcoap's API for applications that run epoll
// themselves). libcoap 4.3 reads one datagram per event and, after every call, walks all its
// sessions to re-arm its timer (coap_io_prepare_epoll: O(sessions) plus a timerfd_settime).
// So a readable UDP socket's event is passed as many times as the socket holds datagrams
// (estimated from its receive queue's memory, SO_MEMINFO): one call, one walk and one timer
// update per batch instead of per datagram. An underestimate leaves datagrams for the next
// round (the sets are level-triggered); an overestimate costs one recvmsg() that finds nothing
// per extra copy.
//
// Concurrency: io thread only; never blocks.

#include <coap3/coap.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace holdfast::coap {

class CoapIo {
 public:
  // `coap_fd`: coap_context_get_coap_fd(). Finds libcoap's UDP sockets in that set (Linux
  // lists them in the set's fdinfo with their epoll data, libcoap's socket pointer).
  CoapIo(coap_context_t* context, int coap_fd);

  // Processes up to `max_rounds` batches of libcoap's ready events; returns the datagrams (and
  // timer expiries) handed to libcoap.
  int drain(int max_rounds);

  // Asks for `bytes` of receive buffer on every UDP socket found (libcoap 4.3 gives no access
  // to its sockets; the kernel's default, about 208 KiB, drops requests when hundreds of
  // clients send at once). The kernel caps it at net.core.rmem_max. Returns the buffer size
  // the first socket got (0 if none was found).
  int enlarge_receive_buffers(int bytes);

  std::size_t sockets() const { return sockets_.size(); }

  // Answers sent by us rather than by coap_send(): on a plain UDP listener (one socket), a
  // complete answer that needs no libcoap state afterwards (a piggybacked ACK or a NON
  // response) is queued here and the turn's answers leave in one sendmmsg() by flush(),
  // from the address the request came to (IP_PKTINFO). libcoap's coap_send() costs a
  // sendmsg() per answer, a quarter of the io thread under load.
  bool can_queue() const { return sockets_.size() == 1; }
  // Queues `pdu` (not consumed) for `remote`, sent from `local`. False: not queued (no single
  // UDP socket, or the PDU cannot be encoded); send it with coap_send().
  bool queue(const coap_pdu_t* pdu, const coap_address_t& remote, const coap_address_t& local);
  bool has_queued() const { return !out_.empty(); }
  // Sends what is queued; returns how many datagrams the kernel took (the rest are dropped
  // and counted: CON clients retransmit, and their duplicates are answered from the cache).
  std::size_t flush();
  std::uint64_t dropped() const { return dropped_; }

 private:
  struct Datagram {
    std::string bytes;
    coap_address_t remote;
    coap_address_t local;
  };
  int pending_datagrams(int fd) const;

  coap_context_t* context_;
  int coap_fd_;
  std::unordered_map<std::uint64_t, int> sockets_;  // epoll data (libcoap's socket) -> fd
  std::vector<epoll_event> batch_;
  static constexpr std::size_t kChunk = 64;  // datagrams per sendmmsg()
  // flush()'s scratch, kept between turns (no allocation per flush).
  struct SendBuffers {
    std::array<mmsghdr, kChunk> headers{};
    std::array<iovec, kChunk> iov{};
    std::array<std::array<char, CMSG_SPACE(sizeof(in6_pktinfo))>, kChunk> control{};
  };
  std::vector<Datagram> out_;
  SendBuffers send_;
  std::uint64_t dropped_ = 0;
  int family_ = AF_UNSPEC;  // of the single UDP socket
  bool wildcard_ = false;   // bound to 0.0.0.0 or ::: answers name their source (PKTINFO)
};

// The datagram of a UDP `pdu` (RFC 7252 3: header, token, options, payload); empty if the
// PDU is not one libcoap would send over UDP as is.
std::string encode_udp(const coap_pdu_t* pdu);

}  // namespace holdfast::coap
