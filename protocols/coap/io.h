#pragma once
// Driving libcoap's I/O from our EventLoop.
//
// libcoap (epoll build) keeps its sockets and its retransmission timerfd in one epoll set of its
// own, whose descriptor sits in our loop. coap_io_process() on each readiness would read one
// datagram per call and re-arm the timerfd twice; drain() instead takes libcoap's ready events
// itself and hands them to coap_io_do_epoll() (libcoap's API for applications that run epoll
// themselves), several rounds per readiness while datagrams keep coming.
//
// Concurrency: io thread only; never blocks.

#include <coap3/coap.h>

namespace holdfast::coap {

// Processes up to `max_rounds` batches of libcoap's ready events; returns how many events ran.
int drain(coap_context_t* context, int coap_fd, int max_rounds);

// Asks for `bytes` of receive buffer on every UDP socket in libcoap's epoll set `coap_fd`
// (libcoap 4.3 gives no access to its sockets; the kernel's default, about 208 KiB, drops
// requests when hundreds of clients send at once). The kernel caps it at net.core.rmem_max.
// Returns the buffer size the first such socket got (0 if none was found).
int enlarge_receive_buffers(int coap_fd, int bytes);

}  // namespace holdfast::coap
