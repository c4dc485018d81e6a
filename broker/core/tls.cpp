#include "broker/core/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>

namespace holdfast::core {
namespace {

// OpenSSL's queued errors as one line (emptying the queue), or `fallback`.
std::string openssl_errors(const std::string& fallback) {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? fallback : out;
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::server(const TlsFiles& files) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return error(Code::kInternal, "cannot create a TLS context: " + openssl_errors(""));
  std::shared_ptr<TlsContext> owned(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // No session cache: devices reconnect rarely, and it would hold memory per client.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_num_tickets(ctx, 0);
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert_file.c_str()) != 1) {
    return error(Code::kInvalidArgument,
                 "cannot use certificate " + files.cert_file + ": " + openssl_errors("unreadable"));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return error(Code::kInvalidArgument,
                 "cannot use private key " + files.key_file + ": " + openssl_errors("unreadable"));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return error(Code::kInvalidArgument, "private key " + files.key_file +
                                             " does not match certificate " + files.cert_file);
  }
  if (!files.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, files.client_ca_file.c_str(), nullptr) != 1) {
      return error(Code::kInvalidArgument, "cannot use client CA " + files.client_ca_file + ": " +
                                               openssl_errors("unreadable"));
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return owned;
}

Result<std::shared_ptr<TlsContext>> TlsContext::client(const std::string& ca_file) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return error(Code::kInternal, "cannot create a TLS context: " + openssl_errors(""));
  std::shared_ptr<TlsContext> owned(new TlsContext(ctx));
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  int loaded = ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx)
                               : SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr);
  if (loaded != 1) {
    return error(Code::kInvalidArgument,
                 "cannot use the CA file " + (ca_file.empty() ? "(system store)" : ca_file) +
                     ": " + openssl_errors("unreadable"));
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  return owned;
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

TlsSession::TlsSession(std::shared_ptr<TlsContext> context, int fd)
    : context_(std::move(context)), ssl_(SSL_new(context_->native())) {
  if (ssl_) {
    SSL_set_fd(ssl_, fd);
    SSL_set_accept_state(ssl_);
  }
}

TlsSession::TlsSession(std::shared_ptr<TlsContext> context, int fd,
                       const std::string& server_name)
    : context_(std::move(context)), ssl_(SSL_new(context_->native())) {
  if (!ssl_) return;
  SSL_set_fd(ssl_, fd);
  SSL_set_connect_state(ssl_);
  if (SSL_set_tlsext_host_name(ssl_, server_name.c_str()) != 1 ||
      SSL_set1_host(ssl_, server_name.c_str()) != 1) {
    SSL_free(ssl_);
    ssl_ = nullptr;  // every call fails with EPROTO
  }
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

ssize_t TlsSession::read(char* buf, std::size_t len) {
  if (!ssl_) return result(-1, "read");
  ERR_clear_error();
  return result(SSL_read(ssl_, buf, static_cast<int>(len)), "read");
}

ssize_t TlsSession::write(const char* buf, std::size_t len) {
  if (!ssl_) return result(-1, "write");
  ERR_clear_error();
  return result(SSL_write(ssl_, buf, static_cast<int>(len)), "write");
}

ssize_t TlsSession::result(int n, const char* what) {
  wants_write_ = false;
  if (n > 0) return n;
  if (!ssl_) {
    error_ = "out of memory for a TLS session";
    errno = EPROTO;
    return -1;
  }
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      wants_write_ = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;  // close_notify
    case SSL_ERROR_SYSCALL:
      if (errno == 0) {
        if (!handshake_done()) {
          error_ = "connection closed during the TLS handshake";
          errno = EPROTO;
          return -1;
        }
        return 0;  // EOF without close_notify: treated as a close, as most servers do
      }
      return -1;  // errno from the socket
    default: {
      error_ = std::string(handshake_done() ? "TLS " : "TLS handshake ") + what + " failed: " +
               openssl_errors("protocol error");
      long verify = SSL_get_verify_result(ssl_);
      if (verify != X509_V_OK) error_ += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      errno = EPROTO;
      return -1;
    }
  }
}

bool TlsSession::pending() const { return ssl_ && SSL_pending(ssl_) > 0; }

bool TlsSession::handshake_done() const { return ssl_ && SSL_is_init_finished(ssl_); }

std::string TlsSession::peer_common_name() const {
  if (!ssl_) return {};
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (!cert) return {};
  char cn[256] = {};
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  X509_free(cert);
  return n > 0 ? std::string(cn, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace holdfast::core
