#pragma once
// IoT Hub shared access signature (SAS) tokens: parse, mint, verify.
//
// Wire facts (see /work/shared/IOTHUB.md, "SAS tokens"):
//   SharedAccessSignature sr={sr}&sig={sig}&se={expiry}[&skn={policy}]
//   sig = URL-encode(base64(HMAC-SHA256(base64-decode(key), sr-as-sent + "\n" + se)))
// The string to sign holds `sr` exactly as it appears in the token: the C SDK sends it raw
// ("hub/devices/dev1"), other SDKs URL-encoded ("%2F" or "%2f"), and each spelling has its own
// signature. So a token keeps its raw `sr`, and `sr` is decoded only to find out whom the token
// is for.
//
// Every function here is pure (no I/O, no clock, no shared state): call it from any thread; it
// never blocks. Keys are base64 strings as IoT Hub shows them; decoded key bytes are wiped after
// use. Error messages never contain a key or a signature.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "broker/core/status.h"

namespace holdfast::iothub {

// A token whose `se` lies this far in the past still verifies (clock skew allowance).
inline constexpr std::int64_t kSasExpirySkewSeconds = 300;

struct SasToken {
  std::string sr_raw;   // the `sr` value exactly as sent, still URL-encoded if it was
  std::string sig;      // URL-decoded: the base64 text of the HMAC
  std::int64_t se = 0;  // expiry, Unix epoch seconds
  std::string skn;      // URL-decoded policy (key) name; empty for a device or module token

  friend bool operator==(const SasToken&, const SasToken&) = default;
};

// Parses "SharedAccessSignature sr=..&sig=..&se=..[&skn=..]".
// - Fields may come in any order; names are matched case-insensitively; empty fields (a
//   trailing '&') are skipped; unknown fields are ignored (as the Azure SDK parsers do).
// - A value runs from the first '=' to the next '&', so an unencoded '=' in it is kept.
// Fails with kInvalidArgument, naming the problem: missing "SharedAccessSignature " prefix,
// whitespace in the fields, a field without '=', a repeated field, a missing or empty sr/sig/se,
// an empty skn, a bad %-escape in sr, sig or skn, an se that is not plain decimal digits without
// leading zeros (the signature covers se as written, and SasToken keeps it as a number) or does
// not fit in 64 bits.
core::Result<SasToken> parse_sas_token(std::string_view text);

// base64(HMAC-SHA256(base64-decode(base64_key), sr_raw + "\n" + decimal(se))), not URL-encoded.
// Fails with kInvalidArgument when the key is not valid base64 (see base64_decode) or empty.
core::Result<std::string> compute_sas_signature(std::string_view sr_raw, std::int64_t se,
                                                std::string_view base64_key);

// "{host}/devices/{device_id}" or ".../modules/{module_id}": the resource a device or module
// token names, unencoded, as mint_sas_token wants it.
std::string sas_resource_uri(std::string_view host, std::string_view device_id,
                             std::string_view module_id = {});

// Mints a token. `resource_uri` is the unencoded resource, e.g. "hub/devices/dev1" (see
// sas_resource_uri). It is written into `sr` URL-encoded with core::url_encode, i.e. '/' becomes
// "%2F" (upper case), as the C#, Python and Node SDKs and the IoT Hub documentation do, and the
// signature covers that encoded text. `sig` and `skn` are URL-encoded too; `skn` is written only
// when `policy_name` is not empty. Field order: sr, sig, se[, skn].
// Fails with kInvalidArgument for an empty resource, a negative expiry or a bad key.
core::Result<std::string> mint_sas_token(std::string_view resource_uri, std::string_view base64_key,
                                         std::int64_t expiry_epoch_s,
                                         std::string_view policy_name = {});

// What a token's `sr` names, URL-decoded once: "{host}", "{host}/devices",
// "{host}/devices/{id}" or "{host}/devices/{id}/modules/{mid}".
struct SasResource {
  std::string host;
  std::string device_id;  // empty when the resource covers all devices (policy tokens)
  std::string module_id;  // empty unless the resource names a module

  friend bool operator==(const SasResource&, const SasResource&) = default;
};

// Decodes `sr` to find whom a token is for, e.g. when an AMQP CBS put-token or a SASL PLAIN
// login must be mapped to a device before its keys can be looked up. "devices" and "modules"
// are matched case-insensitively; host and ids keep their case. Fails with kInvalidArgument on a
// bad %-escape, an empty host or id, or any other shape.
core::Result<SasResource> parse_sas_resource(std::string_view sr_raw);

// Verifies a parsed token for the identity {expected_host, expected_device_id[,
// expected_module_id]}, checking in this order:
//  1. signature: `sig` is compared in constant time (CRYPTO_memcmp) with the signature computed
//     over the raw `sr` under each of `base64_keys` (primary, secondary; every key is tried).
//     The caller picks the keys: the identity's own keys when token.skn is empty, else the keys
//     of the policy token.skn (DeviceKeys::verify does exactly this).
//     Mismatch: kUnauthenticated. A key that is not valid base64: kInvalidArgument. No keys at
//     all: kUnauthenticated.
//  2. expiry: `se` + kSasExpirySkewSeconds earlier than `now_epoch_s`: kUnauthenticated, saying
//     when it expired.
//  3. audience: `sr`, URL-decoded once and split at '/', compared segment by segment and
//     case-insensitively with "{host}/devices/{device_id}[/modules/{module_id}]". A device or
//     module token (no skn) must name exactly that identity; a policy token (skn set) may name
//     any whole-segment prefix of it ("{host}/devices" covers every device, "{host}" the hub).
//     Mismatch: kPermissionDenied. Undecodable `sr`: kInvalidArgument.
// The signature is checked first so that nothing about expiry or audience is revealed to a
// sender who does not hold a key. An empty expected host or device id is kInvalidArgument.
core::Status verify_sas_token(const SasToken& token, std::span<const std::string> base64_keys,
                              std::int64_t now_epoch_s, std::string_view expected_host,
                              std::string_view expected_device_id,
                              std::string_view expected_module_id = {});

}  // namespace holdfast::iothub
