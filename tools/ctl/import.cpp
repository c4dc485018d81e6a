// holdfastctl import: JSON lines, as export writes them, appended to a queue.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "broker/admin/message_json.h"
#include "tools/ctl/commands.h"
#include "tools/ctl/progress.h"

namespace holdfast::ctl {
namespace {

// One request (one atomic append) per chunk: bounded in messages and bytes.
constexpr std::size_t kChunkMessages = 500;
constexpr std::size_t kChunkBytes = 1 << 20;

// Checks every line before anything is appended, so a bad line in the middle of a file does not
// leave half of it imported. Returns how many messages the input holds.
Outcome<std::uint64_t> validate(std::istream& in, const std::string& name,
                                const std::string& queue) {
  std::string line;
  std::uint64_t messages = 0;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto where = name + " line " + std::to_string(n) + ": ";
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) {
      return fail(kExitUsage, where +
                                  "not JSON; import reads the JSON lines that "
                                  "`holdfastctl export` writes, one message per line");
    }
    if (auto r = broker::append_from_json(j, queue); !r) {
      return fail(kExitUsage,
                  where + r.error().message() + "; import reads what `holdfastctl export` writes");
    }
    ++messages;
  }
  if (in.bad()) return fail(kExitFailed, "cannot read " + name + ": " + std::strerror(errno));
  return messages;
}

}  // namespace

Outcome<void> run_import(const Globals& g, const ImportOptions& o) {
  bool from_stdin = o.in.empty() || o.in == "-";
  std::string name = from_stdin ? "stdin" : o.in;
  if (from_stdin && isatty(STDIN_FILENO) == 1) {
    return fail(kExitUsage,
                "import reads JSON lines from FILE or from stdin, and stdin is a "
                "terminal: pass FILE (e.g. holdfastctl import QUEUE dev1.jsonl)");
  }
  // A file is read twice (checked, then sent); stdin once, into memory.
  std::ifstream file;
  std::istringstream buffered;
  if (from_stdin) {
    std::ostringstream all;
    all << std::cin.rdbuf();
    buffered.str(all.str());
  } else {
    file.open(o.in, std::ios::binary);
    if (!file) return fail(kExitFailed, "cannot read " + o.in + ": " + std::strerror(errno));
  }
  std::istream& in = from_stdin ? static_cast<std::istream&>(buffered) : file;
  auto total = validate(in, name, o.queue);
  if (!total) return std::unexpected(total.error());
  in.clear();
  in.seekg(0);

  auto source = open_writable(g.target, "import");
  if (!source) return std::unexpected(source.error());
  Progress progress("importing into " + safe(o.queue), *total);
  std::uint64_t imported = 0, bytes = 0, first_seq = 0, last_seq = 0;
  std::string chunk, line;
  std::size_t in_chunk = 0;
  auto send = [&]() -> Outcome<void> {
    if (in_chunk == 0) return {};
    auto r = (*source)->import(o.queue, chunk);
    if (!r) {
      r.error().message += " (" + std::to_string(imported) + " messages were imported before)";
      return std::unexpected(r.error());
    }
    imported += r->value("imported", 0ULL);
    if (first_seq == 0) first_seq = r->value("first_seq", 0ULL);
    last_seq = r->value("last_seq", last_seq);
    bytes += chunk.size();
    chunk.clear();
    in_chunk = 0;
    progress.update(imported, bytes);
    return {};
  };
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    chunk += line;
    chunk += '\n';
    if (++in_chunk >= kChunkMessages || chunk.size() >= kChunkBytes) {
      if (auto ok = send(); !ok) return ok;
    }
  }
  if (auto ok = send(); !ok) return ok;
  progress.update(imported, bytes, true);
  json summary = {{"queue", o.queue},     {"imported", imported}, {"first_seq", first_seq},
                  {"last_seq", last_seq}, {"from", name},         {"into", (*source)->describe()}};
  if (g.json) {
    std::cout << json_text(summary, 2) << "\n";
  } else {
    std::cout << "imported " << count(imported, "message") << " from " << safe(name)
              << " into queue '" << safe(o.queue) << "' of " << (*source)->describe();
    if (imported > 0) std::cout << " (#" << first_seq << " to #" << last_seq << ")";
    std::cout << "\n";
  }
  return {};
}

}  // namespace holdfast::ctl
