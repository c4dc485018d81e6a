#pragma once
// The settings table: every key of holdfast.toml declared once (schema.cpp) with its type,
// default, bounds and one-line doc. The loader, the printers, default_config() and the tests
// are all driven by it; nothing else may know a default or a bound.
//
// Internal to holdfast_config (and its tests): the daemon uses config.h. Everything here is
// immutable after first use and safe to read from any thread.

#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <expected>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "broker/config/config.h"

namespace holdfast::config::schema {

enum class Kind : std::uint8_t {
  kBool,
  kInteger,
  kString,
  kPath,      // a string; relative values resolve against the config file's directory
  kSize,      // bytes: an integer or a string with a unit (units.h)
  kDuration,  // milliseconds: a string with units (units.h)
  kEnum,      // a string, one of `choices`
};

// "bool", "integer", "string", "path", "size", "duration", "enum".
std::string_view kind_name(Kind kind);

// A decoded value: bool for kBool; int64 for kInteger, kSize (bytes) and kDuration (ms);
// string for kString, kPath and kEnum.
using Value = std::variant<bool, std::int64_t, std::string>;

// Everything about a setting except how to reach it in its struct.
struct SettingInfo {
  std::string_view key;
  Kind kind = Kind::kString;
  std::string_view doc;  // one line, a sentence or two
  // The default in the form a user writes it ("64MiB", "1s", "true", "4096", "fsync",
  // "data/store"). For strings, empty means the empty string. Ignored when `required`.
  std::string_view default_text;
  // When not empty the default depends on other keys and this says how ("1883 for mqtt, ...");
  // the struct's `complete` hook computes it.
  std::string_view computed_default;
  bool required = false;
  bool secret = false;  // never echoed in messages or printed configs
  // Inclusive bounds of kInteger, kSize (bytes) and kDuration (ms) values.
  std::int64_t min = 0;
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
  std::vector<std::string_view> choices;  // kEnum
  // Further checks of a decoded value within bounds; returns why it is wrong, empty if fine.
  std::function<std::string(const Value&)> check;
};

template <typename S>
struct Setting : SettingInfo {
  std::function<void(S&, const Value&)> set;
  std::function<Value(const S&)> get;

  Setting bounds(std::int64_t lo, std::int64_t hi) && {
    min = lo;
    max = hi;
    return std::move(*this);
  }
  Setting mandatory() && {
    required = true;
    return std::move(*this);
  }
  Setting as_secret() && {
    secret = true;
    return std::move(*this);
  }
  Setting validated(std::function<std::string(const Value&)> fn) && {
    check = std::move(fn);
    return std::move(*this);
  }
  Setting computed(std::string_view how) && {
    computed_default = how;
    return std::move(*this);
  }
};

// Reports problems found by a section's `check` in the element being loaded.
class ElementProblems {
 public:
  virtual ~ElementProblems() = default;
  // Records `reason` at `key` of the element, or at the element's header when the key is not
  // in the file (a default).
  virtual void error(std::string_view key, std::string reason) = 0;
  // Whether `key` was read without error (or is absent with a default): checks across keys
  // skip keys that already have an error, so that one mistake gives one message.
  virtual bool fine(std::string_view key) const = 0;
};

using KeyValues = std::vector<std::pair<std::string_view, std::string_view>>;

template <typename S>
struct Section {
  std::string_view name;  // "store" for [store], "listener" for [[listener]]
  bool is_array = false;
  std::string_view doc;  // printed above the section
  std::vector<Setting<S>> settings;
  // Arrays: the default elements, each given as key = text pairs over the settings' defaults.
  std::vector<KeyValues> default_elements;
  // Arrays whose default is empty: an element printed commented out, as an example.
  KeyValues example;
  // Computes defaults that depend on other keys; runs after an element's keys are read.
  std::function<void(S&)> complete;
  // Checks across the keys of one element (after `complete` and path resolution).
  std::function<void(const S&, ElementProblems&)> check;

  const Setting<S>* find(std::string_view key) const {
    for (const auto& s : settings) {
      if (s.key == key) return &s;
    }
    return nullptr;
  }
};

struct Schema {
  Section<StoreSettings> store;
  Section<QueuePolicySetting> queue_policy;
  Section<ListenerSetting> listener;
  Section<RouteSetting> route;
  Section<UpstreamSetting> upstream;
  Section<AdminSetting> admin;
  Section<LogSetting> log;
};

// The table, built on first use.
const Schema& schema();

// Calls f(section, member) for every section in file order, where `member` is the pointer to
// the Config member the section fills (a struct, or a vector of structs for arrays).
template <typename F>
void for_each_section(F&& f) {
  const Schema& s = schema();
  f(s.store, &Config::store);
  f(s.queue_policy, &Config::queue_policies);
  f(s.listener, &Config::listeners);
  f(s.route, &Config::routes);
  f(s.upstream, &Config::upstreams);
  f(s.admin, &Config::admin);
  f(s.log, &Config::log);
}

// ---- Values -------------------------------------------------------------------------------

// Decodes text written the way a user writes it (a default_text) into a Value of `info`'s
// kind, checking bounds, choices and `check`. Returns the reason on failure.
std::expected<Value, std::string> decode_text(const SettingInfo& info, std::string_view text);

// Why `value` (already of the right kind) is out of bounds, not a choice or fails `check`;
// empty when fine. The reason names the accepted range or choices.
std::string validate(const SettingInfo& info, const Value& value);

// The TOML right-hand side for `value`: true, 4096, "64MiB", "1s", "fsync", "data/store".
std::string toml_literal(const SettingInfo& info, const Value& value);

// `value` as a user writes it, unquoted: "64MiB", "1s", "4096", "true", "data/store".
std::string plain_text(const SettingInfo& info, const Value& value);

// "1..65535", "1KiB..256MiB", ">= 1", or "" when the bounds are those of the kind.
std::string bounds_text(const SettingInfo& info);

// "\"fsync\", \"os\"".
std::string choices_text(const SettingInfo& info);

// A TOML basic string literal: quoted, with '"', '\\' and control characters escaped.
std::string quote(std::string_view text);

// A struct of a section with every default applied, before `complete`.
template <typename S>
S defaults_of(const Section<S>& section) {
  S out{};
  for (const auto& setting : section.settings) {
    if (setting.required || !setting.computed_default.empty()) continue;
    auto value = decode_text(setting, setting.default_text);
    // A bad default is a bug in schema.cpp; the schema self-test catches it.
    if (value) setting.set(out, *value);
  }
  return out;
}

// An element built from key = text pairs over the settings' defaults, then completed: how the
// default array elements and the printed examples are made.
template <typename S>
S element_of(const Section<S>& section, const KeyValues& values) {
  S out = defaults_of(section);
  for (auto [key, text] : values) {
    if (const auto* setting = section.find(key)) {
      if (auto value = decode_text(*setting, text)) setting->set(out, *value);
    }
  }
  if (section.complete) section.complete(out);
  return out;
}

template <typename T>
struct IsVector : std::false_type {};
template <typename T>
struct IsVector<std::vector<T>> : std::true_type {};

// ---- Enum names, declared once for the settings and the *_name() functions ------------------

template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

inline constexpr std::array<EnumName<SyncMode>, 2> kSyncModes{{
    {"fsync", SyncMode::kFsync},
    {"os", SyncMode::kOs},
}};
inline constexpr std::array<EnumName<core::OverflowPolicy>, 2> kOverflowPolicies{{
    {"reject", core::OverflowPolicy::kReject},
    {"drop-oldest", core::OverflowPolicy::kDropOldest},
}};
inline constexpr std::array<EnumName<core::Protocol>, 3> kListenerProtocols{{
    {"mqtt", core::Protocol::kMqtt},
    {"amqp", core::Protocol::kAmqp},
    {"coap", core::Protocol::kCoap},
}};
inline constexpr std::array<EnumName<UpstreamKind>, 3> kUpstreamKinds{{
    {"iothub-amqp", UpstreamKind::kIotHubAmqp},
    {"iothub-mqtt", UpstreamKind::kIotHubMqtt},
    {"emulator", UpstreamKind::kEmulator},
}};
inline constexpr std::array<EnumName<UpstreamAuth>, 3> kUpstreamAuths{{
    {"device-keys", UpstreamAuth::kDeviceKeys},
    {"token-passthrough", UpstreamAuth::kTokenPassthrough},
    {"gateway", UpstreamAuth::kGateway},
}};
inline constexpr std::array<EnumName<RefusalPolicy>, 2> kRefusalPolicies{{
    {"dead-letter", RefusalPolicy::kDeadLetter},
    {"hold", RefusalPolicy::kHold},
}};
inline constexpr std::array<EnumName<LogLevel>, 5> kLogLevels{{
    {"trace", LogLevel::kTrace},
    {"debug", LogLevel::kDebug},
    {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},
    {"error", LogLevel::kError},
}};

template <typename E, std::size_t N>
std::string_view enum_name(const std::array<EnumName<E>, N>& names, E value) {
  for (const auto& n : names) {
    if (n.value == value) return n.name;
  }
  return "?";
}

// ---- Setting factories: one per kind, binding a key to a struct member ----------------------

template <typename S>
Setting<S> flag(std::string_view key, bool S::*member, std::string_view def, std::string_view doc) {
  Setting<S> s;
  s.key = key;
  s.kind = Kind::kBool;
  s.doc = doc;
  s.default_text = def;
  s.set = [member](S& o, const Value& v) { o.*member = std::get<bool>(v); };
  s.get = [member](const S& o) { return Value(o.*member); };
  return s;
}

template <typename S, std::integral T>
Setting<S> integer(std::string_view key, T S::*member, std::string_view def, std::string_view doc) {
  Setting<S> s;
  s.key = key;
  s.kind = Kind::kInteger;
  s.doc = doc;
  s.default_text = def;
  s.min = static_cast<std::int64_t>(std::numeric_limits<T>::min());
  if constexpr (sizeof(T) < sizeof(std::int64_t)) {
    s.max = static_cast<std::int64_t>(std::numeric_limits<T>::max());
  }
  s.set = [member](S& o, const Value& v) { o.*member = static_cast<T>(std::get<std::int64_t>(v)); };
  s.get = [member](const S& o) { return Value(static_cast<std::int64_t>(o.*member)); };
  return s;
}

template <typename S>
Setting<S> size(std::string_view key, std::uint64_t S::*member, std::string_view def,
                std::string_view doc) {
  Setting<S> s;
  s.key = key;
  s.kind = Kind::kSize;
  s.doc = doc;
  s.default_text = def;
  s.set = [member](S& o, const Value& v) {
    o.*member = static_cast<std::uint64_t>(std::get<std::int64_t>(v));
  };
  s.get = [member](const S& o) { return Value(static_cast<std::int64_t>(o.*member)); };
  return s;
}

template <typename S>
Setting<S> duration(std::string_view key, std::chrono::milliseconds S::*member,
                    std::string_view def, std::string_view doc) {
  Setting<S> s;
  s.key = key;
  s.kind = Kind::kDuration;
  s.doc = doc;
  s.default_text = def;
  s.set = [member](S& o, const Value& v) {
    o.*member = std::chrono::milliseconds(std::get<std::int64_t>(v));
  };
  s.get = [member](const S& o) { return Value(static_cast<std::int64_t>((o.*member).count())); };
  return s;
}

template <typename S>
Setting<S> text(std::string_view key, std::string S::*member, std::string_view def,
                std::string_view doc, Kind kind = Kind::kString) {
  Setting<S> s;
  s.key = key;
  s.kind = kind;
  s.doc = doc;
  s.default_text = def;
  s.set = [member](S& o, const Value& v) { o.*member = std::get<std::string>(v); };
  s.get = [member](const S& o) { return Value(o.*member); };
  return s;
}

template <typename S>
Setting<S> path(std::string_view key, std::string S::*member, std::string_view def,
                std::string_view doc) {
  return text(key, member, def, doc, Kind::kPath);
}

template <typename S, typename E, std::size_t N>
Setting<S> choice(std::string_view key, E S::*member, const std::array<EnumName<E>, N>& names,
                  std::string_view def, std::string_view doc) {
  Setting<S> s;
  s.key = key;
  s.kind = Kind::kEnum;
  s.doc = doc;
  s.default_text = def;
  for (const auto& n : names) s.choices.push_back(n.name);
  s.set = [member, &names](S& o, const Value& v) {
    for (const auto& n : names) {
      if (n.name == std::get<std::string>(v)) o.*member = n.value;
    }
  };
  s.get = [member, &names](const S& o) { return Value(std::string(enum_name(names, o.*member))); };
  return s;
}

}  // namespace holdfast::config::schema
