#include "protocols/coap/io.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <fstream>
#include <string>

namespace holdfast::coap {

int drain(coap_context_t* context, int coap_fd, int max_rounds) {
  constexpr int kMaxEvents = 32;
  epoll_event events[kMaxEvents];
  int handled = 0;
  for (int round = 0; round < max_rounds; ++round) {
    int n = epoll_wait(coap_fd, events, kMaxEvents, 0);
    if (n <= 0) break;
    coap_io_do_epoll(context, events, static_cast<size_t>(n));
    handled += n;
  }
  return handled;
}

int enlarge_receive_buffers(int coap_fd, int bytes) {
  // Linux lists the descriptors an epoll set watches in its fdinfo: "tfd:   7 events: ...".
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(coap_fd));
  std::string word;
  int got = 0;
  while (info >> word) {
    if (word != "tfd:") continue;
    int fd = -1;
    if (!(info >> fd)) break;
    int type = 0;
    socklen_t length = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_DGRAM) continue;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0) continue;
    int now = 0;
    length = sizeof now;
    if (got == 0 && getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &now, &length) == 0) got = now;
  }
  return got;
}

}  // namespace holdfast::coap
