#pragma once
// TCP listening sockets for the listeners (MQTT, AMQP): bind, listen, accept.
//
// Concurrency: plain functions; call them on the io thread. listen_tcp() does not block;
// accept_tcp() never blocks (the socket is non-blocking).
#include <cstdint>
#include <optional>
#include <string>

#include "broker/core/status.h"

namespace holdfast::core {

struct TcpListener {
  int fd = -1;             // non-blocking, close-on-exec; the caller owns it
  std::uint16_t port = 0;  // the bound port (useful when port 0 asked for any free port)
};

// Binds `bind` (an IPv4 or IPv6 literal) and `port` with SO_REUSEADDR and listens.
// `what` names the listener in errors ("MQTT listener"). Errors: kInvalidArgument (bad
// address), kIoError (socket, bind or listen failed, with the reason).
Result<TcpListener> listen_tcp(const std::string& what, const std::string& bind,
                               std::uint16_t port);

struct AcceptedTcp {
  int fd = -1;       // non-blocking, close-on-exec, TCP_NODELAY
  std::string peer;  // "host:port"
};

// One pending connection, or nullopt when none is waiting (EAGAIN) or accept failed; failures
// other than EAGAIN are logged (rate-limited) under `log_tag`.
std::optional<AcceptedTcp> accept_tcp(int listen_fd, std::string_view log_tag);

// When `open` connections already reach `max`: closes the accepted socket, logs the refusal
// (rate-limited, under `log_tag`) and returns true. Otherwise returns false.
bool refuse_if_full(const AcceptedTcp& accepted, std::size_t open, std::size_t max,
                    std::string_view log_tag);

}  // namespace holdfast::core
