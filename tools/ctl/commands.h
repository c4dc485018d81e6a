#pragma once
// holdfastctl's commands, one function each, run by main() once the command line is parsed.
// Each prints its result on stdout (tables for people, or JSON with --json) and returns a
// Failure for main() to print on stderr and turn into the exit status.
//
// Thread: the main thread; every command blocks until it is done (queues --watch until
// Ctrl-C).

#include <optional>

#include "tools/tea/tea.h"
#include <cstdint>
#include <string>

#include "tools/ctl/failure.h"
#include "tools/ctl/render.h"
#include "tools/ctl/source.h"

namespace holdfast::ctl {

struct Globals {
  Target target;
  bool json = false;
};

struct QueuesOptions {
  std::string sort = "name";  // depth | bytes | age | name
  bool all = false;           // include the broker's internal '$...' queues
  double watch_seconds = 0;   // > 0: refresh every that many seconds until Ctrl-C
};

struct PeekOptions {
  std::string queue;
  std::uint64_t from = 0;  // 0: the head
  std::size_t max = 10;
  PayloadFormat format = PayloadFormat::kAuto;
  std::size_t payload_bytes = 1024;  // 0: whole payloads
  // --tea-key: also show each payload decrypted (display only; nothing stored changes).
  std::optional<tea::Params> tea;
};

struct PurgeOptions {
  std::string queue;
  bool yes = false;
};

struct ExportOptions {
  std::string queue;
  std::string out;  // empty: stdout
};

Outcome<void> run_status(const Globals& g);
Outcome<void> run_queues(const Globals& g, const QueuesOptions& o);
Outcome<void> run_peek(const Globals& g, const PeekOptions& o);
Outcome<void> run_purge(const Globals& g, const PurgeOptions& o);
Outcome<void> run_export(const Globals& g, const ExportOptions& o);

// The entry of `queue` in a queues() answer, or kExitNotFound naming `source`.
Outcome<json> find_queue(Source& source, const std::string& queue);

}  // namespace holdfast::ctl
