#include "protocols/coap/io.h"

#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace holdfast::coap {
namespace {

// What a small datagram costs in a receive queue (its skb's truesize on Linux 6.x); larger
// ones cost more, so dividing by it overestimates their number a little.
constexpr int kSmallDatagramTruesize = 832;
constexpr int kMaxCopies = 256;

}  // namespace

CoapIo::CoapIo(coap_context_t* context, int coap_fd) : context_(context), coap_fd_(coap_fd) {
  // "tfd:        7 events:       19 data:     55d5c8a0e2f0  pos:0 ino:... sdev:..."
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(coap_fd));
  std::string line;
  while (std::getline(info, line)) {
    std::istringstream words(line);
    std::string word;
    int fd = -1;
    std::uint64_t data = 0;
    bool has_fd = false, has_data = false;
    while (words >> word) {
      if (word == "tfd:") {
        has_fd = static_cast<bool>(words >> fd);
      } else if (word == "data:") {
        has_data = static_cast<bool>(words >> std::hex >> data >> std::dec);
      }
    }
    if (!has_fd || !has_data || data == 0) continue;
    int type = 0;
    socklen_t length = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) != 0 || type != SOCK_DGRAM) continue;
    sockets_[data] = fd;
  }
}

int CoapIo::pending_datagrams(int fd) const {
  std::uint32_t meminfo[SK_MEMINFO_VARS] = {};
  socklen_t length = sizeof meminfo;
  if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, meminfo, &length) != 0) return 1;
  int queued = static_cast<int>(meminfo[SK_MEMINFO_RMEM_ALLOC] / kSmallDatagramTruesize);
  return std::clamp(queued, 1, kMaxCopies);
}

int CoapIo::drain(int max_rounds) {
  constexpr int kMaxEvents = 32;
  epoll_event events[kMaxEvents];
  int handled = 0;
  for (int round = 0; round < max_rounds; ++round) {
    int n = epoll_wait(coap_fd_, events, kMaxEvents, 0);
    if (n <= 0) break;
    batch_.clear();
    for (int i = 0; i < n; ++i) {
      int copies = 1;
      if ((events[i].events & EPOLLIN) != 0) {
        auto socket = sockets_.find(events[i].data.u64);
        if (socket != sockets_.end()) copies = pending_datagrams(socket->second);
      }
      batch_.insert(batch_.end(), static_cast<std::size_t>(copies), events[i]);
    }
    coap_io_do_epoll(context_, batch_.data(), batch_.size());
    handled += static_cast<int>(batch_.size());
  }
  return handled;
}

int CoapIo::enlarge_receive_buffers(int bytes) {
  int got = 0;
  for (const auto& [data, fd] : sockets_) {
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0) continue;
    int now = 0;
    socklen_t length = sizeof now;
    if (got == 0 && getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &now, &length) == 0) got = now;
  }
  return got;
}

}  // namespace holdfast::coap
