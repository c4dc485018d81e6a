#include "broker/iothub/device_keys.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "broker/iothub/base64.h"
#include "broker/iothub/text.h"

namespace holdfast::iothub {
namespace {

using core::Code;
using core::error;
using core::Result;
using detail::quoted;

constexpr std::size_t kMaxIdLength = 128;
constexpr std::size_t kMinKeyBytes = 16;
constexpr std::size_t kMaxKeyBytes = 64;

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t pos = 0;
  while (true) {
    pos = line.find_first_not_of(" \t", pos);
    if (pos == std::string_view::npos) break;
    std::size_t end = line.find_first_of(" \t", pos);
    if (end == std::string_view::npos) end = line.size();
    std::string_view field = line.substr(pos, end - pos);
    if (field.starts_with('#')) break;  // a comment runs to the end of the line
    fields.push_back(field);
    pos = end;
  }
  return fields;
}

// Empty when `id` is a valid IoT Hub device or module id, else why not.
std::string id_problem(std::string_view id) {
  if (id.empty()) return "is empty";
  if (id.size() > kMaxIdLength) return "is longer than 128 characters";
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("-:.+%_#*?!(),=@;$'").find(c) != std::string_view::npos;
    if (!ok) return "has a character IoT Hub does not allow in ids";
  }
  return {};
}

std::string key_problem(std::string_view key) {
  auto bytes = base64_decode(key);
  if (!bytes) return "is not valid base64 (" + bytes.error().message() + ")";
  std::size_t n = bytes->size();
  // Wipe the decoded copy; only the base64 text is kept.
  std::fill(bytes->begin(), bytes->end(), '\0');
  if (n < kMinKeyBytes || n > kMaxKeyBytes) {
    return "decodes to " + std::to_string(n) + " bytes; IoT Hub keys have 16 to 64";
  }
  return {};
}

}  // namespace

Result<DeviceKeys> DeviceKeys::parse(std::string_view text, std::string_view source) {
  DeviceKeys keys;
  std::map<std::string, std::size_t, std::less<>> identity_lines;
  std::map<std::string, std::size_t, std::less<>> policy_lines;
  std::string errors;
  std::size_t line_number = 0;
  auto report = [&](const std::string& reason) {
    if (!errors.empty()) errors.push_back('\n');
    errors.append(source).append(":").append(std::to_string(line_number)).append(": ");
    errors.append(reason);
  };

  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (line.ends_with('\r')) line.remove_suffix(1);
    auto fields = fields_of(line);
    if (fields.empty()) continue;

    bool is_policy = fields[0] == "policy";
    std::span<const std::string_view> key_fields;
    std::string name;
    std::size_t errors_before = errors.size();
    if (is_policy) {
      if (fields.size() < 3 || fields.size() > 4) {
        report("expected 'policy NAME PRIMARY_KEY [SECONDARY_KEY]', got " +
               std::to_string(fields.size()) + " fields");
        continue;
      }
      name = std::string(fields[1]);
      key_fields = std::span(fields).subspan(2);
    } else {
      if (fields.size() < 2 || fields.size() > 3) {
        report("expected 'DEVICE_ID[/MODULE_ID] PRIMARY_KEY [SECONDARY_KEY]', got " +
               std::to_string(fields.size()) + " fields");
        continue;
      }
      name = std::string(fields[0]);
      std::size_t slash = name.find('/');
      std::string_view device = std::string_view(name).substr(0, slash);
      if (auto problem = id_problem(device); !problem.empty()) {
        report("device id " + quoted(device) + " " + problem);
      }
      if (slash != std::string::npos) {
        std::string_view module = std::string_view(name).substr(slash + 1);
        if (module.find('/') != std::string_view::npos) {
          report("identity " + quoted(name) + " has more than one '/' (DEVICE_ID/MODULE_ID)");
        } else if (auto problem = id_problem(module); !problem.empty()) {
          report("module id " + quoted(module) + " " + problem);
        }
      }
      key_fields = std::span(fields).subspan(1);
    }
    const char* ordinal[] = {"primary", "secondary"};
    for (std::size_t i = 0; i < key_fields.size(); ++i) {
      if (auto problem = key_problem(key_fields[i]); !problem.empty()) {
        report(std::string(ordinal[i]) + " key " + problem);
      }
    }
    auto& lines = is_policy ? policy_lines : identity_lines;
    auto [it, inserted] = lines.try_emplace(name, line_number);
    if (!inserted) {
      report(std::string(is_policy ? "policy " : "identity ") + quoted(name) +
             " is already listed at line " + std::to_string(it->second));
    }
    if (errors.size() != errors_before) continue;
    auto& table = is_policy ? keys.policies_ : keys.identities_;
    table.emplace(name, std::vector<std::string>(key_fields.begin(), key_fields.end()));
  }
  if (!errors.empty()) return error(Code::kInvalidArgument, std::move(errors));
  return keys;
}

Result<DeviceKeys> DeviceKeys::load(const std::string& path) {
  errno = 0;
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    int saved = errno;
    return error(saved == ENOENT ? Code::kNotFound : Code::kIoError,
                 "cannot open device keys file '" + path +
                     "': " + (saved != 0 ? std::strerror(saved) : "unknown error"));
  }
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) return error(Code::kIoError, "cannot read device keys file '" + path + "'");
  return parse(contents.str(), path);
}

std::span<const std::string> DeviceKeys::keys_for(std::string_view device_id,
                                                  std::string_view module_id) const {
  // Ids never contain '/'; without this check "dev/mod" would find the module "mod".
  if (device_id.empty() || device_id.find('/') != std::string_view::npos ||
      module_id.find('/') != std::string_view::npos) {
    return {};
  }
  std::string name(device_id);
  if (!module_id.empty()) name.append("/").append(module_id);
  auto it = identities_.find(name);
  if (it == identities_.end()) return {};
  return it->second;
}

std::span<const std::string> DeviceKeys::policy_keys(std::string_view policy_name) const {
  auto it = policies_.find(policy_name);
  if (it == policies_.end()) return {};
  return it->second;
}

core::Status DeviceKeys::verify(const SasToken& token, std::int64_t now_epoch_s,
                                std::string_view host, std::string_view device_id,
                                std::string_view module_id) const {
  std::span<const std::string> keys;
  if (!token.skn.empty()) {
    keys = policy_keys(token.skn);
    if (keys.empty()) {
      return {Code::kUnauthenticated, "SAS token names policy " + quoted(token.skn) +
                                          ", which the device keys file does not list"};
    }
  } else {
    keys = keys_for(device_id, module_id);
    if (keys.empty()) {
      return {Code::kUnauthenticated, "the device keys file does not list " +
                                          quoted(module_id.empty() ? std::string(device_id)
                                                                   : std::string(device_id) + "/" +
                                                                         std::string(module_id))};
    }
  }
  return verify_sas_token(token, keys, now_epoch_s, host, device_id, module_id);
}

Result<std::string> DeviceKeys::mint(std::string_view host, std::string_view device_id,
                                     std::string_view module_id,
                                     std::int64_t expiry_epoch_s) const {
  auto keys = keys_for(device_id, module_id);
  if (keys.empty()) {
    return error(Code::kNotFound, "the device keys file does not list " + quoted(device_id) +
                                      (module_id.empty() ? "" : " module " + quoted(module_id)));
  }
  return mint_sas_token(sas_resource_uri(host, device_id, module_id), keys.front(), expiry_epoch_s);
}

}  // namespace holdfast::iothub
