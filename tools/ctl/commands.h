#pragma once
// holdfastctl's commands, one function each, run by main() once the command line is parsed.
// Each prints its result on stdout (tables for people, or JSON with --json) and returns a
// Failure for main() to print on stderr and turn into the exit status.
//
// Thread: the main thread; every command blocks until it is done (queues --watch until
// Ctrl-C).

#include <cstdint>
#include <optional>
#include <string>

#include "tools/tea/tea.h"

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
  double rate_seconds = 0;    // > 0: one-shot, measure in/out rates over that many seconds
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

struct ImportOptions {
  std::string queue;
  std::string in;  // empty or "-": stdin
};

struct ReplayOptions {
  std::string queue;      // the dead-letter queue
  std::string to;         // empty: each message's original queue
  std::uint64_t max = 0;  // 0: every message there when the replay starts
  bool yes = false;
};

struct BridgeOptions {
  bool pause = true;     // pause, else resume
  std::string upstream;  // empty: every upstream
};

Outcome<void> run_status(const Globals& g);
Outcome<void> run_queues(const Globals& g, const QueuesOptions& o);
Outcome<void> run_peek(const Globals& g, const PeekOptions& o);
Outcome<void> run_purge(const Globals& g, const PurgeOptions& o);
Outcome<void> run_export(const Globals& g, const ExportOptions& o);
Outcome<void> run_import(const Globals& g, const ImportOptions& o);
Outcome<void> run_deadletters(const Globals& g);
Outcome<void> run_replay(const Globals& g, const ReplayOptions& o);
Outcome<void> run_bridge(const Globals& g, const BridgeOptions& o);
Outcome<void> run_devices(const Globals& g);

// Ok when `yes` or stdin is a terminal, else kExitUsage: `verb` ("purge") needs --yes.
Outcome<void> can_ask(bool yes, const std::string& verb, const std::string& queue);
// Asks on the terminal to type `expected` (after `what` was explained on stderr); kExitFailed
// when something else was typed. Callers check for a terminal before contacting anything.
Outcome<void> confirm_by_typing(const std::string& what, const std::string& expected);

// The entry of `queue` in a queues() answer, or kExitNotFound naming `source`.
Outcome<json> find_queue(Source& source, const std::string& queue);

}  // namespace holdfast::ctl
