#include "protocols/coap/io.h"

#include <linux/sock_diag.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
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
  if (sockets_.size() == 1) {
    sockaddr_storage bound{};
    socklen_t length = sizeof bound;
    if (getsockname(sockets_.begin()->second, reinterpret_cast<sockaddr*>(&bound), &length) == 0) {
      family_ = bound.ss_family;
      if (family_ == AF_INET) {
        wildcard_ = reinterpret_cast<sockaddr_in*>(&bound)->sin_addr.s_addr == htonl(INADDR_ANY);
      } else if (family_ == AF_INET6) {
        wildcard_ = IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<sockaddr_in6*>(&bound)->sin6_addr);
      }
    }
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

namespace {

// Makes `value` the one control message of `m`, in `buffer` (CMSG_SPACE(sizeof value) bytes).
template <typename T>
void set_control(msghdr& m, char* buffer, int level, int type, const T& value) {
  m.msg_control = buffer;
  m.msg_controllen = CMSG_SPACE(sizeof value);
  cmsghdr* c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(sizeof value);
  std::memcpy(CMSG_DATA(c), &value, sizeof value);
}

// Appends an option's delta or length nibble extension (RFC 7252 3.1); returns the nibble.
std::uint8_t nibble(std::size_t value, std::string& extension) {
  if (value < 13) return static_cast<std::uint8_t>(value);
  if (value < 269) {
    extension.push_back(static_cast<char>(value - 13));
    return 13;
  }
  std::size_t v = value - 269;
  extension.push_back(static_cast<char>(v >> 8));
  extension.push_back(static_cast<char>(v & 0xff));
  return 14;
}

}  // namespace

std::string encode_udp(const coap_pdu_t* pdu) {
  coap_bin_const_t token = coap_pdu_get_token(pdu);
  if (token.length > 8) return {};
  std::string out;
  int type = static_cast<int>(coap_pdu_get_type(pdu));
  out.push_back(static_cast<char>(0x40 | (type << 4) | static_cast<int>(token.length)));
  out.push_back(static_cast<char>(coap_pdu_get_code(pdu)));
  auto mid = static_cast<std::uint16_t>(coap_pdu_get_mid(pdu));
  out.push_back(static_cast<char>(mid >> 8));
  out.push_back(static_cast<char>(mid & 0xff));
  out.append(reinterpret_cast<const char*>(token.s), token.length);
  coap_opt_iterator_t it;
  coap_option_iterator_init(pdu, &it, COAP_OPT_ALL);
  std::size_t previous = 0;
  while (coap_opt_t* option = coap_option_next(&it)) {
    std::string extension;
    std::uint8_t delta = nibble(it.number - previous, extension);
    std::size_t length = coap_opt_length(option);
    std::uint8_t size = nibble(length, extension);
    out.push_back(static_cast<char>(delta << 4 | size));
    out += extension;
    out.append(reinterpret_cast<const char*>(coap_opt_value(option)), length);
    previous = it.number;
  }
  std::size_t length = 0;
  const std::uint8_t* data = nullptr;
  if (coap_get_data(pdu, &length, &data) && length > 0) {
    out.push_back(static_cast<char>(0xff));
    out.append(reinterpret_cast<const char*>(data), length);
  }
  return out;
}

bool CoapIo::queue(const coap_pdu_t* pdu, const coap_address_t& remote,
                   const coap_address_t& local) {
  if (!can_queue() || remote.addr.sa.sa_family != family_) return false;
  std::string bytes = encode_udp(pdu);
  if (bytes.empty()) return false;
  out_.push_back({std::move(bytes), remote, local});
  return true;
}

std::size_t CoapIo::flush() {
  if (out_.empty()) return 0;
  int fd = sockets_.begin()->second;
  std::array<mmsghdr, kChunk>& headers = send_.headers;
  std::array<iovec, kChunk>& iov = send_.iov;
  auto& control = send_.control;
  std::size_t sent = 0;
  for (std::size_t first = 0; first < out_.size(); first += kChunk) {
    std::size_t n = std::min(kChunk, out_.size() - first);
    for (std::size_t i = 0; i < n; ++i) {
      Datagram& d = out_[first + i];
      iov[i] = {d.bytes.data(), d.bytes.size()};
      msghdr& m = headers[i].msg_hdr;
      m = {};
      m.msg_name = &d.remote.addr;
      m.msg_namelen = d.remote.size;
      m.msg_iov = &iov[i];
      m.msg_iovlen = 1;
      // From the address the request came to (a listener bound to a wildcard address).
      control[i].fill(0);
      if (!wildcard_ || d.local.addr.sa.sa_family != family_) {
        // Bound to one address: the kernel answers from it.
      } else if (family_ == AF_INET && d.local.addr.sin.sin_addr.s_addr != 0) {
        in_pktinfo info{};
        info.ipi_spec_dst = d.local.addr.sin.sin_addr;
        set_control(m, control[i].data(), IPPROTO_IP, IP_PKTINFO, info);
      } else if (family_ == AF_INET6 && !IN6_IS_ADDR_UNSPECIFIED(&d.local.addr.sin6.sin6_addr)) {
        in6_pktinfo info{};
        info.ipi6_addr = d.local.addr.sin6.sin6_addr;
        set_control(m, control[i].data(), IPPROTO_IPV6, IPV6_PKTINFO, info);
      }
    }
    std::size_t done = 0;
    while (done < n) {
      int r = sendmmsg(fd, headers.data() + done, static_cast<unsigned>(n - done), 0);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        ++done;  // this datagram cannot go (e.g. the buffer is full): dropped, the rest tried
        ++dropped_;
        continue;
      }
      done += static_cast<std::size_t>(r);
      sent += static_cast<std::size_t>(r);
    }
  }
  out_.clear();
  return sent;
}

}  // namespace holdfast::coap
