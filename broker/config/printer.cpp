// Config -> documented TOML, and the settings reference; both generated from the settings table
// so that conf/holdfast.toml and --help cannot drift from the loader.

#include <string>
#include <string_view>
#include <vector>

#include "broker/config/config.h"
#include "broker/config/schema.h"
#include "broker/config/units.h"

namespace holdfast::config {
namespace {

using schema::Kind;
using schema::SettingInfo;
using schema::Value;

constexpr std::size_t kWidth = 100;

// Appends `text` as comment lines starting with `prefix`, wrapped at kWidth.
void comment(std::string& out, std::string_view prefix, std::string_view text) {
  std::string line(prefix);
  bool empty = true;
  while (!text.empty()) {
    std::size_t space = text.find(' ');
    std::string_view word = text.substr(0, space);
    text = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
    if (!empty && line.size() + 1 + word.size() > kWidth) {
      out += line + "\n";
      line = prefix;
      empty = true;
    }
    if (!empty) line += ' ';
    line += word;
    empty = false;
  }
  out += line + "\n";
}

// "size, between 1MiB and 64GiB; default \"8MiB\"", "one of \"mqtt\", ...; required".
std::string meta(const SettingInfo& info) {
  std::string out = info.kind == Kind::kEnum ? "one of " + schema::choices_text(info)
                                             : std::string(schema::kind_name(info.kind));
  if (info.kind != Kind::kEnum) {
    if (auto bounds = schema::bounds_text(info); !bounds.empty()) out += ", " + bounds;
  }
  if (info.secret) out += ", secret";
  if (info.required) return out + "; required";
  if (!info.computed_default.empty())
    return out + "; default: " + std::string(info.computed_default);
  auto value = schema::decode_text(info, info.default_text);
  return out + "; default " + (value ? schema::toml_literal(info, *value) : "?");
}

// A secret as it may be logged: in "k=v;k=v" connection strings the host and identity parts
// stay readable and every other value (keys, signatures) becomes <redacted>; anything else is
// replaced as a whole.
std::string redacted(std::string_view secret) {
  constexpr std::string_view kRedacted = "<redacted>";
  if (secret.find('=') == std::string_view::npos) return std::string(kRedacted);
  std::string out;
  while (!secret.empty()) {
    std::size_t end = secret.find(';');
    std::string_view part = secret.substr(0, end);
    secret = end == std::string_view::npos ? std::string_view() : secret.substr(end + 1);
    std::size_t eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    bool readable = eq != std::string_view::npos &&
                    (key == "HostName" || key == "DeviceId" || key == "ModuleId" ||
                     key == "GatewayHostName" || key == "SharedAccessKeyName");
    if (!out.empty()) out += ';';
    out += readable ? std::string(part) : std::string(key) + "=" + std::string(kRedacted);
  }
  return out;
}

struct Printer {
  bool redact = false;
  std::string out;

  std::string literal(const SettingInfo& info, const Value& value) const {
    if (redact && info.secret && !std::get<std::string>(value).empty()) {
      return schema::quote(redacted(std::get<std::string>(value)));
    }
    return schema::toml_literal(info, value);
  }

  // The keys of one element; `docs` puts each setting's doc and meta above its key.
  // `commented` prints an example: docs as "## ...", keys as "# key = value".
  template <typename S>
  void keys(const schema::Section<S>& section, const S& element, bool docs,
            bool commented = false) {
    std::string_view doc_prefix = commented ? "## " : "# ";
    std::string_view key_prefix = commented ? "# " : "";
    for (const auto& setting : section.settings) {
      if (docs) {
        comment(out, doc_prefix, setting.doc);
        comment(out, doc_prefix, "(" + meta(setting) + ")");
      }
      out += std::string(key_prefix) + std::string(setting.key) + " = " +
             literal(setting, setting.get(element)) + "\n";
      if (docs) out += commented ? "#\n" : "\n";
    }
  }

  template <typename S>
  void section(const schema::Section<S>& section, const S& element) {
    banner(section.name, false, section.doc);
    out += "[" + std::string(section.name) + "]\n\n";
    keys(section, element, true);
  }

  template <typename S>
  void section(const schema::Section<S>& section, const std::vector<S>& elements) {
    banner(section.name, true, section.doc);
    if (elements.empty() && !section.example.empty()) {
      comment(out, "# ",
              "None by default. An example: to use it, remove the leading \"# \" of the table "
              "line and of the key lines.");
      out += "#\n";
      out += "# [[" + std::string(section.name) + "]]\n#\n";
      keys(section, schema::element_of(section, section.example), true, true);
      out += "\n";
      return;
    }
    if (elements.empty()) {
      out += "# None: see `" + std::string(section.name) + " = []` at the top of this file.\n\n";
      return;
    }
    for (std::size_t i = 0; i < elements.size(); ++i) {
      out += "[[" + std::string(section.name) + "]]\n";
      if (i == 0) {
        out += "\n";
      } else {
        out += "# (keys as in the first [[" + std::string(section.name) + "]] above)\n";
      }
      keys(section, elements[i], i == 0);
      if (i != 0) out += "\n";
    }
  }

  void banner(std::string_view name, bool is_array, std::string_view doc) {
    std::string title = is_array ? "[[" + std::string(name) + "]]" : "[" + std::string(name) + "]";
    std::string rule = "# ---- " + title + " ";
    rule.append(kWidth - rule.size(), '-');
    out += rule + "\n";
    comment(out, "# ", doc);
    out += "\n";
  }
};

std::string print(const Config& config, bool is_default) {
  Printer p;
  p.redact = !is_default;
  if (is_default) {
    p.out +=
        "# holdfast.toml: the configuration of holdfastd, the Holdfast edge broker.\n"
        "#\n"
        "# Generated by `holdfastd --print-default-config`: every setting with its default, which "
        "is\n"
        "# also what an empty or absent file means. Do not edit this copy by hand: it is checked "
        "against\n"
        "# the program by a unit test.\n";
  } else {
    p.out += "# The effective configuration of holdfastd";
    if (!config.source.empty()) p.out += ", loaded from " + config.source;
    p.out += ". Secrets are redacted.\n";
  }
  p.out +=
      "#\n"
      "# Every key is optional unless marked required; an unknown key is an error. Check a file "
      "with\n"
      "# `holdfastd --check-config FILE`: it lists every error with its line.\n"
      "#\n";
  comment(p.out, "# ", std::string("Sizes: ") + std::string(kSizeForms) + ".");
  comment(p.out, "# ", std::string("Durations: ") + std::string(kDurationForms) + ".");
  comment(p.out, "# ", "Paths: relative paths are resolved against the directory of this file.");
  comment(p.out, "# ",
          "Arrays of tables ([[listener]], [[route]], ...) given in a file replace the whole "
          "default array; `listener = []` means no listeners at all.");
  p.out += "\n";

  // An empty array whose default is not empty can only be written before the first table.
  const Config defaults = default_config();
  bool top = false;
  schema::for_each_section([&](const auto& section, auto member) {
    if constexpr (schema::IsVector<std::remove_cvref_t<decltype(config.*member)>>::value) {
      if ((config.*member).empty() && !(defaults.*member).empty()) {
        p.out += std::string(section.name) + " = []\n";
        top = true;
      }
    }
  });
  if (top) p.out += "\n";

  schema::for_each_section(
      [&](const auto& section, auto member) { p.section(section, config.*member); });
  while (p.out.ends_with("\n\n")) p.out.pop_back();
  return p.out;
}

template <typename S>
void describe(std::string& out, const schema::Section<S>& section) {
  out += section.is_array ? "[[" + std::string(section.name) + "]]"
                          : "[" + std::string(section.name) + "]";
  out += "\n";
  comment(out, "    ", section.doc);
  for (const auto& setting : section.settings) {
    out += "  " + std::string(section.name) + "." + std::string(setting.key) + "\n";
    comment(out, "      ", setting.doc);
    comment(out, "      ", "(" + meta(setting) + ")");
  }
  out += "\n";
}

}  // namespace

std::string print_default_config() {
  return print(default_config(), true);
}

std::string print_config(const Config& config) {
  return print(config, false);
}

std::string describe_settings() {
  std::string out =
      "Settings of holdfast.toml (holdfastd --print-default-config prints a commented file).\n"
      "Sizes: " +
      std::string(kSizeForms) + ".\nDurations: " + std::string(kDurationForms) + ".\n\n";
  schema::for_each_section([&](const auto& section, auto) { describe(out, section); });
  out.pop_back();
  return out;
}

}  // namespace holdfast::config
