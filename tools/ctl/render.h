#pragma once
// Text for people: aligned tables, byte counts, ages, timestamps and payload dumps. Pure
// functions of their arguments; any thread.

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace holdfast::ctl {

// "0 B", "512 B", "1.5 KiB", "12.0 MiB", "3.2 GiB".
std::string human_bytes(std::uint64_t bytes);

// A duration for operators: "0s", "42s", "5m 02s", "3h 04m", "2d 03h"; "-" for a negative one.
std::string human_duration_ms(std::int64_t ms);

// "1 message", "2 messages".
std::string count(std::uint64_t n, std::string_view noun);

// `text` for one line of a terminal: control characters and bytes that are not UTF-8 become
// \xNN, so a device's topic or property cannot move the cursor or rewrite the screen.
std::string safe(std::string_view text);

// "2024-05-01T12:34:56.789Z".
std::string iso_time_ms(std::int64_t epoch_ms);

// A table with a header row; columns left-aligned unless marked numeric (right-aligned).
class Table {
 public:
  struct Column {
    std::string title;
    bool numeric = false;
  };
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  bool empty() const { return rows_.empty(); }
  // Two spaces between columns; no trailing spaces.
  void print(std::ostream& out) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// How peek shows payloads.
enum class PayloadFormat { kAuto, kHex, kText, kBase64 };

// True when `bytes` is valid UTF-8 without control characters other than tab, CR and LF.
bool is_printable_text(std::string_view bytes);

// Writes `bytes` in `format`, each line prefixed with `indent`; kAuto picks text for printable
// text, else hex. At most `limit` bytes are shown (0: all), then a line saying how many were
// left out.
void print_payload(std::ostream& out, std::string_view bytes, PayloadFormat format,
                   std::size_t limit, std::string_view indent);

}  // namespace holdfast::ctl
