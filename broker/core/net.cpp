#include "broker/core/net.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "broker/core/log.h"

namespace holdfast::core {

Result<TcpListener> listen_tcp(const std::string& what, const std::string& bind,
                               std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string where = bind + ":" + std::to_string(port);
  int rc = getaddrinfo(bind.c_str(), std::to_string(port).c_str(), &hints, &found);
  if (rc != 0) {
    return error(Code::kInvalidArgument,
                 what + " " + where + ": bad bind address: " + gai_strerror(rc));
  }
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
            ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, 1024) == 0;
  freeaddrinfo(found);
  if (!ok) {
    std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return error(Code::kIoError, what + " cannot listen on " + where + ": " + why);
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  TcpListener l;
  l.fd = fd;
  l.port = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                            : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return l;
}

std::optional<AcceptedTcp> accept_tcp(int listen_fd, std::string_view log_tag) {
  while (true) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    int fd =
        accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        log(LogLevel::kWarn, log_tag, std::string("accept failed: ") + std::strerror(errno),
            "accept");
      }
      return std::nullopt;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "?";
    getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, serv, sizeof serv,
                NI_NUMERICHOST | NI_NUMERICSERV);
    return AcceptedTcp{fd, std::string(host) + ":" + serv};
  }
}

bool refuse_if_full(const AcceptedTcp& accepted, std::size_t open, std::size_t max,
                    std::string_view log_tag) {
  if (open < max) return false;
  ::close(accepted.fd);
  log(LogLevel::kWarn, log_tag,
      "refused a connection from " + accepted.peer + ": max_connections (" + std::to_string(max) +
          ") reached",
      "max_connections");
  return true;
}

}  // namespace holdfast::core
