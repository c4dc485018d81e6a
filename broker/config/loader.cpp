// Reading holdfast.toml: TOML -> Config, driven by the settings table, collecting every error.
//
// Order: parse (toml++ stops at the first syntax error, so that one is reported alone); read
// each section's keys (types, bounds, unknown and missing keys); per element compute the
// key-dependent defaults, resolve relative paths and run the section's checks; then the checks
// across sections (upstream names, route targets, port collisions).

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "broker/config/config.h"
#include "broker/config/diagnostics.h"
#include "broker/config/schema.h"
#include "broker/config/units.h"

namespace holdfast::config {
namespace {

using detail::ConfigPlaces;
using detail::did_you_mean;
using detail::Errors;
using detail::label;
using detail::Places;
using detail::Where;
using schema::Kind;
using schema::Section;
using schema::SettingInfo;
using schema::Value;

Where where(const toml::source_region& region) {
  return {static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

// ---- values ---------------------------------------------------------------------------------

std::string type_of(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "nothing";
  }
}

// The value of `node` for `info`, or why it is not acceptable.
std::expected<Value, std::string> decode_node(const SettingInfo& info, const toml::node& node) {
  auto wrong = [&](std::string_view expected) {
    return std::unexpected("expected " + std::string(expected) + ", got " + type_of(node));
  };
  Value value;
  switch (info.kind) {
    case Kind::kBool:
      if (!node.is_boolean()) return wrong("true or false");
      value = node.as_boolean()->get();
      break;
    case Kind::kInteger:
      if (!node.is_integer()) return wrong("an integer");
      value = node.as_integer()->get();
      break;
    case Kind::kSize:
      if (node.is_integer()) {
        std::int64_t n = node.as_integer()->get();
        if (n < 0) return std::unexpected("must not be negative, got " + std::to_string(n));
        value = n;
      } else if (node.is_string()) {
        auto bytes = parse_size(node.as_string()->get());
        if (!bytes) return std::unexpected(bytes.error().message());
        value = static_cast<std::int64_t>(*bytes);
      } else {
        return wrong(kSizeForms);
      }
      break;
    case Kind::kDuration:
      if (node.is_integer()) {
        return std::unexpected("the bare number " + std::to_string(node.as_integer()->get()) +
                               " has no unit; expected " + std::string(kDurationForms));
      }
      if (!node.is_string()) return wrong(kDurationForms);
      if (auto ms = parse_duration(node.as_string()->get()); ms) {
        value = static_cast<std::int64_t>(ms->count());
      } else {
        return std::unexpected(ms.error().message());
      }
      break;
    case Kind::kString:
    case Kind::kPath:
      if (!node.is_string()) return wrong(info.kind == Kind::kPath ? "a path string" : "a string");
      value = node.as_string()->get();
      break;
    case Kind::kEnum:
      if (!node.is_string()) return wrong("one of " + schema::choices_text(info));
      value = node.as_string()->get();
      break;
  }
  if (auto reason = schema::validate(info, value); !reason.empty()) {
    // Never echo a secret.
    if (info.secret) return std::unexpected("is not acceptable");
    return std::unexpected(reason);
  }
  return value;
}

// ---- elements -------------------------------------------------------------------------------

class Problems final : public schema::ElementProblems {
 public:
  Problems(std::string_view section, const Places& places, Errors& errors)
      : section_(section), places_(places), errors_(errors) {}

  void error(std::string_view key, std::string reason) override {
    errors_.add(places_.at(key), std::string(section_) + "." + std::string(key) + ": " + reason);
  }
  bool fine(std::string_view key) const override { return !places_.bad.contains(key); }

 private:
  std::string_view section_;
  const Places& places_;
  Errors& errors_;
};

// Reads the keys of `table` into `out`, which holds the defaults.
template <typename S>
void read_keys(const Section<S>& section, const toml::table& table, S& out, Places& places,
               Errors& errors) {
  places.from_file = true;
  places.header = where(table.source());
  for (auto&& [key, node] : table) {
    std::string_view name = key.str();
    const auto* setting = section.find(name);
    if (setting == nullptr) {
      std::vector<std::string_view> known;
      for (const auto& s : section.settings) known.push_back(s.key);
      errors.add(where(key.source()), "unknown key \"" + std::string(name) + "\" in " +
                                          label(section.name, section.is_array) +
                                          did_you_mean(name, known));
      continue;
    }
    places.keys.emplace(std::string(name), where(key.source()));
    auto value = decode_node(*setting, node);
    if (!value) {
      errors.add(where(node.source()),
                 std::string(section.name) + "." + std::string(name) + ": " + value.error());
      places.bad.emplace(name);
      continue;
    }
    setting->set(out, *value);
  }
  for (const auto& setting : section.settings) {
    if (!setting.required || places.keys.contains(setting.key)) continue;
    std::string what = setting.kind == Kind::kEnum ? "one of " + schema::choices_text(setting)
                                                   : std::string(schema::kind_name(setting.kind));
    errors.add(places.header, label(section.name, section.is_array) + " lacks the required key \"" +
                                  std::string(setting.key) + "\" (" + what + ")");
    places.bad.emplace(setting.key);
  }
}

// Completes one element, resolves its relative paths and runs the section's checks.
template <typename S>
void finish(const Section<S>& section, S& element, const Places& places,
            const std::filesystem::path& base_dir, Errors& errors) {
  if (section.complete) section.complete(element);
  if (!base_dir.empty()) {
    for (const auto& setting : section.settings) {
      if (setting.kind != Kind::kPath) continue;
      std::string text = std::get<std::string>(setting.get(element));
      if (text.empty() || std::filesystem::path(text).is_absolute()) continue;
      setting.set(element, Value((base_dir / text).lexically_normal().string()));
    }
  }
  if (section.check) {
    Problems problems(section.name, places, errors);
    section.check(element, problems);
  }
}

// ---- the document ---------------------------------------------------------------------------

ConfigResult parse(std::string_view text, std::string_view display_path,
                   const std::filesystem::path& base_dir) {
  std::string file(display_path.empty() ? "<config>" : display_path);
  Errors errors(file);

  toml::table root;
  try {
    root = toml::parse(text, std::string_view(file));
  } catch (const toml::parse_error& e) {
    errors.add(where(e.source()), "TOML syntax error: " + std::string(e.description()));
    return std::unexpected(errors.take());
  }

  std::vector<std::string_view> section_names;
  schema::for_each_section(
      [&](const auto& section, auto) { section_names.push_back(section.name); });
  for (auto&& [key, node] : root) {
    if (std::find(section_names.begin(), section_names.end(), key.str()) != section_names.end()) {
      continue;
    }
    std::string what = node.is_table() || node.is_array_of_tables() ? "section" : "key";
    errors.add(where(key.source()), "unknown " + what + " \"" + std::string(key.str()) + "\"" +
                                        did_you_mean(key.str(), section_names));
  }

  Config config = default_config();
  ConfigPlaces places;
  schema::for_each_section([&](const auto& section, auto member) {
    using Member = std::remove_cvref_t<decltype(config.*member)>;
    auto& target = config.*member;
    auto& element_places = places.sections[section.name];
    const toml::node* node = root.get(section.name);
    Where at = node ? where(node->source()) : Where{};

    if constexpr (schema::IsVector<Member>::value) {
      if (node != nullptr) {
        const toml::array* array = node->as_array();
        if (array == nullptr) {
          errors.add(at, std::string(section.name) + ": expected an array of tables: write " +
                             label(section.name, true) + " before each entry, not " +
                             label(section.name, false));
        } else {
          target.clear();  // present in the file: replaces the default array
          for (const toml::node& item : *array) {
            const toml::table* table = item.as_table();
            if (table == nullptr) {
              errors.add(where(item.source()),
                         std::string(section.name) + ": expected a table, got " + type_of(item));
              continue;
            }
            auto element = schema::defaults_of(section);
            Places p;
            read_keys(section, *table, element, p, errors);
            target.push_back(std::move(element));
            element_places.push_back(std::move(p));
          }
        }
      }
      element_places.resize(target.size());  // defaults: no places
      for (std::size_t i = 0; i < target.size(); ++i) {
        // Default elements were completed by default_config(); completing again is harmless.
        finish(section, target[i], element_places[i], base_dir, errors);
      }
    } else {
      Places p;
      if (node != nullptr) {
        if (const toml::table* table = node->as_table()) {
          read_keys(section, *table, target, p, errors);
        } else if (node->is_array_of_tables()) {
          errors.add(at, std::string(section.name) + ": expected a single table: write " +
                             label(section.name, false) + ", not " + label(section.name, true));
        } else {
          errors.add(at, std::string(section.name) + ": expected a table " +
                             label(section.name, false) + ", got " + type_of(*node));
        }
      }
      finish(section, target, p, base_dir, errors);
      element_places.push_back(std::move(p));
    }
  });

  detail::check_across_sections(config, places, errors);

  if (!errors.empty()) return std::unexpected(errors.take());
  config.source = std::string(display_path);
  return config;
}

core::Status to_status(const std::vector<ConfigError>& errors) {
  return core::Status(core::Code::kInvalidArgument, format_errors(errors));
}

}  // namespace

ConfigResult parse_config(std::string_view text, std::string_view path) {
  return parse(text, path, std::filesystem::path(path).parent_path());
}

core::Result<Config> load_config_string(std::string_view text, std::string_view path) {
  auto result = parse_config(text, path);
  if (!result) return core::error(to_status(result.error()));
  return std::move(*result);
}

core::Result<Config> load_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return core::error(core::Code::kIoError, path + ": cannot read the config: is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int e = errno;
    return core::error(e == ENOENT ? core::Code::kNotFound : core::Code::kIoError,
                       path + ": cannot read the config: " + std::strerror(e));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return core::error(core::Code::kIoError, path + ": cannot read the config: read failed");
  }
  auto base = std::filesystem::absolute(path, ec).parent_path();
  if (ec) base = std::filesystem::path(path).parent_path();
  auto result = parse(text.str(), path, base);
  if (!result) return core::error(to_status(result.error()));
  return std::move(*result);
}

}  // namespace holdfast::config
