#pragma once
// DeviceKeys: the symmetric keys the gateway uses to verify the SAS tokens its devices present
// and to mint tokens of its own, loaded from the device-keys file.
//
// File format (example with comments: conf/device-keys.example). One entry per line, fields
// separated by spaces or tabs:
//   DEVICE_ID PRIMARY_KEY [SECONDARY_KEY]                 a device
//   DEVICE_ID/MODULE_ID PRIMARY_KEY [SECONDARY_KEY]       a module of a device
//   policy NAME PRIMARY_KEY [SECONDARY_KEY]               a hub-level shared access policy with
//                                                         DeviceConnect: its tokens carry
//                                                         skn=NAME and may cover any device
// - Keys are standard padded base64 as the Azure portal and `az iot hub` show them, 16 to 64
//   bytes once decoded (IoT Hub's limits).
// - Ids: 1 to 128 ASCII letters, digits and - : . + % _ # * ? ! ( ) , = @ ; $ ' (IoT Hub's set).
//   They are case-sensitive, as in IoT Hub, and written as is (no URL-encoding).
// - Blank lines are skipped. A line whose first field starts with '#' is a comment, and a field
//   starting with '#' after the id ends the line (keys never contain '#'). So a device whose id
//   starts with '#', or a device named "policy", cannot be listed.
// - Each device, module and policy may appear once. A line ending in CR (CRLF files) is fine.
// Errors name every bad line at once, one per line of the Status message:
//   FILE:LINE: reason
// Key material never appears in a message.
//
// Concurrency: immutable once built; every const method may be called from any thread at the
// same time and never blocks. To reload, build a new DeviceKeys and swap a shared_ptr to it.

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/core/status.h"
#include "broker/iothub/sas.h"

namespace holdfast::iothub {

class DeviceKeys {
 public:
  // An empty set: every verify() fails with kUnauthenticated.
  DeviceKeys() = default;

  // Parses the file format above. `source` names the text in errors (usually the file path).
  // Fails with kInvalidArgument listing every bad line.
  static core::Result<DeviceKeys> parse(std::string_view text, std::string_view source);

  // Reads and parses a file. Blocks on file I/O: call it from the thread that loads the
  // configuration, not an I/O loop. Fails with kNotFound when the file does not exist, kIoError
  // when it cannot be read, and as parse() otherwise.
  static core::Result<DeviceKeys> load(const std::string& path);

  // The identity's keys, primary first (one or two base64 strings), or an empty span when the
  // file does not list it. Ids are compared exactly. The span stays valid as long as this
  // object lives.
  std::span<const std::string> keys_for(std::string_view device_id,
                                        std::string_view module_id = {}) const;

  // The keys of a policy, or an empty span when there is no such policy.
  std::span<const std::string> policy_keys(std::string_view policy_name) const;

  // Verifies `token` for the identity {host, device_id[, module_id]}: with the keys of policy
  // token.skn when the token names one, else with the identity's own keys (see
  // verify_sas_token for the checks and their codes). An unknown identity or policy is
  // kUnauthenticated. Picking the keys here, by the identity the caller expects rather than by
  // what the token's `sr` says, is what stops one device's key from vouching for another.
  core::Status verify(const SasToken& token, std::int64_t now_epoch_s, std::string_view host,
                      std::string_view device_id, std::string_view module_id = {}) const;

  // Mints a token for {host, device_id[, module_id]} with the identity's primary key (see
  // mint_sas_token). Fails with kNotFound when the file does not list the identity.
  core::Result<std::string> mint(std::string_view host, std::string_view device_id,
                                 std::string_view module_id, std::int64_t expiry_epoch_s) const;

  std::size_t identity_count() const { return identities_.size(); }
  std::size_t policy_count() const { return policies_.size(); }

 private:
  // Devices by "id", modules by "id/module".
  std::map<std::string, std::vector<std::string>, std::less<>> identities_;
  std::map<std::string, std::vector<std::string>, std::less<>> policies_;
};

}  // namespace holdfast::iothub
