#pragma once
// Test PKI for the hub emulator: a CA and a server certificate it signed, so the bridge (and any
// client) can verify the emulator's TLS exactly as it verifies IoT Hub's, with a CA file.
#include <string>
#include <vector>

#include "broker/core/status.h"

namespace holdfast::hubsim {

struct TlsFiles {
  std::string ca_file;    // DIR/ca.pem: give this to clients
  std::string cert_file;  // DIR/server.pem
  std::string key_file;   // DIR/server.key
};

// Uses DIR/{ca.pem,server.pem,server.key} when they exist; otherwise creates DIR and generates
// them: ECDSA P-256 keys, valid 30 days, the server certificate naming every entry of `names`
// (DNS names, or IP addresses when they parse as one) as subjectAltName. Blocks on file I/O.
// Errors: kIoError naming the file or the OpenSSL failure.
core::Result<TlsFiles> ensure_tls_files(const std::string& dir,
                                        const std::vector<std::string>& names);

}  // namespace holdfast::hubsim
