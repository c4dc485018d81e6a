#include "tools/hubsim/tls_files.h"

#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>

namespace holdfast::hubsim {
namespace {

template <typename T, void (*F)(T*)>
struct Free {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;

core::Status openssl_error(const std::string& what) {
  return {core::Code::kIoError, "cannot generate the emulator's TLS files: " + what};
}

bool add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

Cert make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
               long serial, const std::string& san) {
  Cert cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  bool ok = true;
  if (!issuer) {
    ok = add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE") &&
         add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign") &&
         add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  } else {
    ok = add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE") &&
         add_ext(cert.get(), signer, NID_ext_key_usage, "serverAuth") &&
         add_ext(cert.get(), signer, NID_subject_alt_name, san);
  }
  if (!ok || X509_sign(cert.get(), issuer_key, EVP_sha256()) == 0) return nullptr;
  return cert;
}

bool write_pem(const std::string& path, X509* cert, EVP_PKEY* key) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  bool ok = cert ? PEM_write_X509(f, cert) == 1
                 : PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  return std::fclose(f) == 0 && ok;
}

}  // namespace

core::Result<TlsFiles> ensure_tls_files(const std::string& dir,
                                        const std::vector<std::string>& names) {
  namespace fs = std::filesystem;
  TlsFiles files{dir + "/ca.pem", dir + "/server.pem", dir + "/server.key"};
  if (fs::exists(files.ca_file) && fs::exists(files.cert_file) && fs::exists(files.key_file)) {
    return files;
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return core::error(core::Code::kIoError, "cannot create " + dir + ": " + ec.message());
  PKey ca_key(EVP_EC_gen("P-256"));
  PKey server_key(EVP_EC_gen("P-256"));
  if (!ca_key || !server_key) return core::error(openssl_error("key generation failed"));
  Cert ca = make_cert(ca_key.get(), "holdfast-hubsim test CA", nullptr, ca_key.get(), 1, "");
  std::string san;
  for (const auto& n : names) {
    unsigned char buf[16];
    bool ip = inet_pton(AF_INET, n.c_str(), buf) == 1 || inet_pton(AF_INET6, n.c_str(), buf) == 1;
    san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + n;
  }
  if (!ca) return core::error(openssl_error("CA certificate"));
  Cert server = make_cert(server_key.get(), names.empty() ? "localhost" : names.front(), ca.get(),
                          ca_key.get(), 2, san);
  if (!server) return core::error(openssl_error("server certificate"));
  if (!write_pem(files.ca_file, ca.get(), nullptr) ||
      !write_pem(files.cert_file, server.get(), nullptr) ||
      !write_pem(files.key_file, nullptr, server_key.get())) {
    return core::error(core::Code::kIoError, "cannot write the TLS files in " + dir);
  }
  fs::permissions(files.key_file, fs::perms::owner_read | fs::perms::owner_write,
                  fs::perm_options::replace, ec);
  return files;
}

}  // namespace holdfast::hubsim
