#pragma once
// TLS for code that reads and writes sockets itself (the MQTT listener on 8883, the bridge's
// AMQP connection to IoT Hub): TlsContext holds the certificate, key and optional client CA of
// a server, or the trusted CAs of a client (OpenSSL's SSL_CTX); TlsSession is one connection
// over a non-blocking socket, used like recv()/send().
//
// Operation
//   The handshake runs inside the first read()/write() calls (SSL_accept or SSL_connect state).
//   A client session sends the server name (SNI) and verifies the certificate chain and that
//   the certificate names that host. Both return
//   what recv()/send() would: bytes, 0 for an orderly close (read), or -1 with errno EAGAIN when
//   the socket must become readable (or writable: wants_write() tells) before trying again, and
//   -1 with errno EPROTO on a TLS failure (error() names the reason). Decrypted bytes can wait
//   inside OpenSSL after read() returns (pending()): a caller on level-triggered epoll must read
//   until EAGAIN, or call read() again itself when it resumes reading.
//   Writes may be partial; the caller may move or grow its buffer between retries.
//
// Concurrency: a context may be shared by sessions on any thread; a session belongs to one.
#include <sys/types.h>

#include <memory>
#include <string>

#include "broker/core/status.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace holdfast::core {

struct TlsFiles {
  std::string cert_file;       // PEM chain shown to clients
  std::string key_file;        // its private key
  std::string client_ca_file;  // empty: clients need no certificate; else one is required
};

class TlsContext {
 public:
  // TLS 1.2 or newer. Errors: kInvalidArgument naming the file and OpenSSL's reason.
  static Result<std::shared_ptr<TlsContext>> server(const TlsFiles& files);
  // A client's: TLS 1.2 or newer, servers verified against `ca_file` (PEM; empty: the system's
  // trust store). Errors: kInvalidArgument naming the file.
  static Result<std::shared_ptr<TlsContext>> client(const std::string& ca_file);
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  SSL_CTX* native() const { return ctx_; }

 private:
  explicit TlsContext(SSL_CTX* ctx) : ctx_(ctx) {}
  SSL_CTX* ctx_;
};

class TlsSession {
 public:
  // The server side. Takes no ownership of `fd`.
  TlsSession(std::shared_ptr<TlsContext> context, int fd);
  // The client side, connecting to `server_name` (sent as SNI, verified in the certificate).
  TlsSession(std::shared_ptr<TlsContext> context, int fd, const std::string& server_name);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  ssize_t read(char* buf, std::size_t len);
  ssize_t write(const char* buf, std::size_t len);
  // The last EAGAIN needs the socket writable (a handshake or key update message is waiting).
  bool wants_write() const { return wants_write_; }
  // Decrypted bytes waiting inside OpenSSL.
  bool pending() const;
  bool handshake_done() const;
  // Why the last call failed with EPROTO.
  const std::string& error() const { return error_; }
  // The verified client certificate's subject common name; empty without one.
  std::string peer_common_name() const;

 private:
  ssize_t result(int n, const char* what);

  std::shared_ptr<TlsContext> context_;
  SSL* ssl_;
  bool wants_write_ = false;
  std::string error_;
};

}  // namespace holdfast::core
