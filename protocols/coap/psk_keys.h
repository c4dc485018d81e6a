#pragma once
// PskKeys: the pre-shared keys of DTLS clients, read from a file of "identity key-hex" lines.
//
// Operation
//   One client per line: its PSK identity, white space, its key in hexadecimal (2 to 128 hex
//   digits, i.e. 1 to 64 bytes). Blank lines and lines starting with '#' are ignored. The
//   identity a client authenticates with becomes the device id of what it sends, so it must
//   be a valid device id: 1 to 128 printable ASCII characters without '/', '+' or '#'.
//
// Concurrency: immutable once loaded; any thread. load() reads a file: main thread at start-up.

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "broker/core/status.h"

namespace holdfast::coap {

// Whether `id` may be a device id taken from a DTLS identity (a PSK identity or a client
// certificate's name): 1 to 128 printable ASCII characters without '/', '+' or '#'.
bool valid_identity(std::string_view id);

class PskKeys {
 public:
  // Errors: kNotFound / kIoError (the file), kInvalidArgument naming "FILE:LINE: reason" of
  // the first bad line (a duplicate identity is one).
  static core::Result<PskKeys> load(const std::string& path);
  // The same from text (`source` names it in errors).
  static core::Result<PskKeys> parse(std::string_view text, std::string_view source);

  // The key of `identity` (raw bytes), or null.
  const std::string* key(std::string_view identity) const;
  std::size_t size() const { return keys_.size(); }

 private:
  std::map<std::string, std::string, std::less<>> keys_;
};

}  // namespace holdfast::coap
