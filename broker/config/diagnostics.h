#pragma once
// Internal to holdfast_config: where things are in the file being loaded, and the errors found.

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config/config.h"

namespace holdfast::config::detail {

struct Where {
  int line = 0;
  int column = 0;
};

// Where the keys of one element (a [table] or one [[array]] entry) were, and which were bad.
struct Places {
  bool from_file = false;  // false for defaults
  Where header;
  std::map<std::string, Where, std::less<>> keys;
  std::set<std::string, std::less<>> bad;

  Where at(std::string_view key) const {
    auto it = keys.find(key);
    return it == keys.end() ? header : it->second;
  }
};

class Errors {
 public:
  explicit Errors(std::string file) : file_(std::move(file)) {}

  void add(Where w, std::string reason) {
    errors_.push_back({file_, w.line, w.column, std::move(reason)});
  }
  bool empty() const { return errors_.empty(); }

  // In file order; errors not tied to a line last.
  std::vector<ConfigError> take();

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// "[store]" or "[[listener]]".
inline std::string label(std::string_view name, bool is_array) {
  return is_array ? "[[" + std::string(name) + "]]" : "[" + std::string(name) + "]";
}

// Where each element of every section came from, for the checks across sections.
struct ConfigPlaces {
  std::map<std::string_view, std::vector<Places>> sections;

  const Places& element(std::string_view section, std::size_t i) const {
    static const Places kNone;
    auto it = sections.find(section);
    if (it == sections.end() || i >= it->second.size()) return kNone;
    return it->second[i];
  }
};

// "; did you mean \"x\"?" for the candidate closest to `word` (transpositions count as one
// edit), if within a third of its length; else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

// Where an element is, for messages: "at line 12" or "(a default)".
std::string line_text(const Places& places);

// The checks that need the whole Config: unique upstream names, routes naming declared
// upstreams, sockets that cannot all be bound.
void check_across_sections(const Config& config, const ConfigPlaces& places, Errors& errors);

}  // namespace holdfast::config::detail
