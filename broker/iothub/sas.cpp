#include "broker/iothub/sas.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <charconv>
#include <limits>
#include <optional>
#include <vector>

#include "broker/core/address.h"
#include "broker/iothub/base64.h"
#include "broker/iothub/iso8601.h"
#include "broker/iothub/text.h"

namespace holdfast::iothub {
namespace {

using core::Code;
using core::error;
using core::Result;
using core::Status;
using detail::iequals;
using detail::quoted;

constexpr std::string_view kPrefix = "SharedAccessSignature ";

// Wipes decoded key bytes when they go out of scope.
struct KeyBytes {
  std::string bytes;
  ~KeyBytes() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

Result<std::int64_t> parse_expiry(std::string_view text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return error(Code::kInvalidArgument, "SAS token 'se' is not a decimal number of seconds");
  }
  if (text.size() > 1 && text.front() == '0') {
    return error(Code::kInvalidArgument, "SAS token 'se' has leading zeros");
  }
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return error(Code::kInvalidArgument, "SAS token 'se' does not fit in 64 bits");
  }
  return value;
}

bool segments_match(const std::vector<std::string_view>& got,
                    const std::vector<std::string_view>& want, bool prefix_allowed) {
  if (got.size() > want.size()) return false;
  if (!prefix_allowed && got.size() != want.size()) return false;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!iequals(got[i], want[i])) return false;
  }
  return !got.empty();
}

}  // namespace

Result<SasToken> parse_sas_token(std::string_view text) {
  if (!text.starts_with(kPrefix)) {
    return error(Code::kInvalidArgument, "SAS token does not start with 'SharedAccessSignature '");
  }
  std::string_view rest = text.substr(kPrefix.size());
  if (rest.find_first_of(" \t\r\n\f\v") != std::string_view::npos) {
    return error(Code::kInvalidArgument, "SAS token has whitespace among its fields");
  }

  std::optional<std::string_view> sr, sig, se, skn;
  std::size_t start = 0;
  while (start <= rest.size()) {
    std::size_t amp = rest.find('&', start);
    if (amp == std::string_view::npos) amp = rest.size();
    std::string_view field = rest.substr(start, amp - start);
    start = amp + 1;
    if (field.empty()) continue;
    std::size_t eq = field.find('=');
    if (eq == std::string_view::npos) {
      return error(Code::kInvalidArgument, "SAS token field " + quoted(field) + " has no '='");
    }
    std::string_view name = field.substr(0, eq);
    std::optional<std::string_view>* slot = nullptr;
    if (iequals(name, "sr")) {
      slot = &sr;
    } else if (iequals(name, "sig")) {
      slot = &sig;
    } else if (iequals(name, "se")) {
      slot = &se;
    } else if (iequals(name, "skn")) {
      slot = &skn;
    } else {
      continue;  // unknown fields are ignored, as by the Azure SDKs
    }
    if (slot->has_value()) {
      return error(Code::kInvalidArgument, "SAS token has field " + quoted(name) + " twice");
    }
    *slot = field.substr(eq + 1);
  }

  for (auto [value, name] : {std::pair{&sr, "sr"}, std::pair{&sig, "sig"}, std::pair{&se, "se"}}) {
    if (!value->has_value()) {
      return error(Code::kInvalidArgument, std::string("SAS token has no '") + name + "' field");
    }
    if ((*value)->empty()) {
      return error(Code::kInvalidArgument, std::string("SAS token field '") + name + "' is empty");
    }
  }
  if (skn && skn->empty()) return error(Code::kInvalidArgument, "SAS token field 'skn' is empty");

  SasToken token;
  if (!core::url_decode(*sr)) {
    return error(Code::kInvalidArgument, "SAS token 'sr' has a bad %-escape");
  }
  token.sr_raw = std::string(*sr);
  auto decoded_sig = core::url_decode(*sig);
  if (!decoded_sig) return error(Code::kInvalidArgument, "SAS token 'sig' has a bad %-escape");
  token.sig = std::move(*decoded_sig);
  auto expiry = parse_expiry(*se);
  if (!expiry) return error(expiry.error());
  token.se = *expiry;
  if (skn) {
    auto decoded_skn = core::url_decode(*skn);
    if (!decoded_skn) return error(Code::kInvalidArgument, "SAS token 'skn' has a bad %-escape");
    token.skn = std::move(*decoded_skn);
  }
  return token;
}

Result<std::string> compute_sas_signature(std::string_view sr_raw, std::int64_t se,
                                          std::string_view base64_key) {
  auto decoded = base64_decode(base64_key);
  if (!decoded) {
    return error(Code::kInvalidArgument, "key is not valid base64: " + decoded.error().message());
  }
  KeyBytes key{std::move(*decoded)};
  if (key.bytes.empty()) return error(Code::kInvalidArgument, "key is empty");

  std::string to_sign;
  to_sign.reserve(sr_raw.size() + 21);
  to_sign.append(sr_raw);
  to_sign.push_back('\n');
  to_sign.append(std::to_string(se));

  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  if (HMAC(EVP_sha256(), key.bytes.data(), static_cast<int>(key.bytes.size()),
           reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size(), mac.data(),
           &mac_size) == nullptr) {
    return error(Code::kInternal, "HMAC-SHA256 failed in OpenSSL");
  }
  return base64_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac_size));
}

std::string sas_resource_uri(std::string_view host, std::string_view device_id,
                             std::string_view module_id) {
  std::string uri;
  uri.append(host).append("/devices/").append(device_id);
  if (!module_id.empty()) uri.append("/modules/").append(module_id);
  return uri;
}

Result<std::string> mint_sas_token(std::string_view resource_uri, std::string_view base64_key,
                                   std::int64_t expiry_epoch_s, std::string_view policy_name) {
  if (resource_uri.empty()) return error(Code::kInvalidArgument, "SAS resource URI is empty");
  if (expiry_epoch_s < 0) return error(Code::kInvalidArgument, "SAS expiry is negative");
  std::string sr = core::url_encode(resource_uri);
  auto sig = compute_sas_signature(sr, expiry_epoch_s, base64_key);
  if (!sig) return error(sig.error());
  std::string token(kPrefix);
  token.append("sr=").append(sr);
  token.append("&sig=").append(core::url_encode(*sig));
  token.append("&se=").append(std::to_string(expiry_epoch_s));
  if (!policy_name.empty()) token.append("&skn=").append(core::url_encode(policy_name));
  return token;
}

Result<SasResource> parse_sas_resource(std::string_view sr_raw) {
  auto decoded = core::url_decode(sr_raw);
  if (!decoded) return error(Code::kInvalidArgument, "SAS resource has a bad %-escape");
  auto segments = core::split_address(*decoded);
  auto bad_shape = [&] {
    return error(Code::kInvalidArgument, "SAS resource " + quoted(*decoded) +
                                             " is not {host}[/devices[/{id}[/modules/{id}]]]");
  };
  for (auto segment : segments) {
    if (segment.empty()) return bad_shape();
  }
  std::size_t n = segments.size();
  if (n == 4 || n > 5) return bad_shape();
  if (n >= 2 && !iequals(segments[1], "devices")) return bad_shape();
  if (n == 5 && !iequals(segments[3], "modules")) return bad_shape();
  SasResource resource;
  resource.host = std::string(segments[0]);
  if (n >= 3) resource.device_id = std::string(segments[2]);
  if (n == 5) resource.module_id = std::string(segments[4]);
  return resource;
}

Status verify_sas_token(const SasToken& token, std::span<const std::string> base64_keys,
                        std::int64_t now_epoch_s, std::string_view expected_host,
                        std::string_view expected_device_id, std::string_view expected_module_id) {
  if (expected_host.empty() || expected_device_id.empty()) {
    return {Code::kInvalidArgument, "verify_sas_token needs the expected host and device id"};
  }
  if (base64_keys.empty()) {
    return {Code::kUnauthenticated, "no key to check the SAS token against"};
  }

  // 1. Signature. Every key is tried so that the time taken does not say which one matched.
  bool matched = false;
  for (std::size_t i = 0; i < base64_keys.size(); ++i) {
    auto expected = compute_sas_signature(token.sr_raw, token.se, base64_keys[i]);
    if (!expected) {
      return {Code::kInvalidArgument,
              "key #" + std::to_string(i + 1) + " cannot be used: " + expected.error().message()};
    }
    // The length of a SHA-256 signature is public; only the bytes need constant time.
    if (token.sig.size() == expected->size() &&
        CRYPTO_memcmp(token.sig.data(), expected->data(), expected->size()) == 0) {
      matched = true;
    }
  }
  if (!matched) {
    return {Code::kUnauthenticated,
            token.skn.empty()
                ? "SAS token signature does not match the identity's keys"
                : "SAS token signature does not match the keys of policy " + quoted(token.skn)};
  }

  // 2. Expiry: se + skew < now, written so that it cannot overflow.
  if (now_epoch_s > token.se && now_epoch_s - token.se > kSasExpirySkewSeconds) {
    return {Code::kUnauthenticated, "SAS token expired at " + format_iso8601_utc_s(token.se) +
                                        " (se=" + std::to_string(token.se) + "); now is " +
                                        format_iso8601_utc_s(now_epoch_s) + ", skew allowed " +
                                        std::to_string(kSasExpirySkewSeconds) + " s"};
  }

  // 3. Audience.
  auto decoded = core::url_decode(token.sr_raw);
  if (!decoded) return {Code::kInvalidArgument, "SAS token 'sr' has a bad %-escape"};
  std::vector<std::string_view> want = {expected_host, "devices", expected_device_id};
  if (!expected_module_id.empty()) {
    want.push_back("modules");
    want.push_back(expected_module_id);
  }
  bool is_policy = !token.skn.empty();
  if (!segments_match(core::split_address(*decoded), want, is_policy)) {
    std::string target = sas_resource_uri(expected_host, expected_device_id, expected_module_id);
    return {Code::kPermissionDenied, "SAS token is for " + quoted(*decoded) + ", not for " +
                                         quoted(target) +
                                         (is_policy ? " or a whole-segment prefix of it" : "")};
  }
  return {};
}

}  // namespace holdfast::iothub
