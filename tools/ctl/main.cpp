// holdfastctl: operator's tool for holdfastd. See --help; commands live in commands.h.
#include <CLI/CLI.hpp>
#include <iostream>

#include "tools/ctl/commands.h"

namespace {

using namespace holdfast::ctl;

constexpr const char* kDescription =
    "holdfastctl: look into a running holdfastd through its admin endpoint, or into a stopped "
    "one's store.";

constexpr const char* kFooter = R"(
Where it looks: holdfastd's admin endpoint (--admin, else $HOLDFAST_ADMIN, else
http://127.0.0.1:8088). When nothing answers there, it opens the store at --store (default
./data/store) read-only instead, so a stopped daemon can be inspected without starting anything.
import and replay change a stopped daemon's store too (opened read-write, only while no process
holds it). purge, bridge and devices need the running daemon. The global options may also
follow the command.

Exit status:
  0  ok
  1  the operation failed (the message says why)
  2  bad usage: unknown command or option, bad value, an import line that is not an exported
     message; purge or replay without a terminal and without --yes
  3  holdfastd is not answering and there is no store to read instead (or the command needs
     the running daemon)
  4  not found: no such queue or upstream
  5  holdfastd is not answering, yet another process holds its store (import, replay)

Run `holdfastctl COMMAND --help` for a command's options.)";

constexpr const char* kCommandFooter = R"(
Global options: --admin URL, --store PATH, --json (see holdfastctl --help).
Exit status: 0 ok, 1 failed, 2 bad usage, 3 holdfastd not answering and no store, 4 not found,
5 store held by another process.)";

CLI::App* command(CLI::App& app, const char* name, const char* description) {
  CLI::App* sub = app.add_subcommand(name, description);
  sub->fallthrough();  // global options after the command go to the app
  sub->footer(kCommandFooter);
  return sub;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app(kDescription, "holdfastctl");
  app.footer(kFooter);
  app.set_version_flag("--version", std::string("holdfastctl ") + HOLDFAST_VERSION);
  app.require_subcommand(0, 1);  // none: a usage error below, with the list of commands
  app.fallthrough();

  Globals g;
  app.add_option("--admin", g.target.admin_url, "holdfastd's admin endpoint")
      ->type_name("URL")
      ->envname("HOLDFAST_ADMIN")
      ->capture_default_str();
  app.add_option("--store", g.target.store_path,
                 "store to read (read-only) when holdfastd is not answering")
      ->type_name("PATH")
      ->capture_default_str();
  app.add_flag("--json", g.json, "machine output: JSON (JSON lines for export and --watch)");

  command(app, "status", "Readiness, uptime, listeners and their connections, store totals.");

  QueuesOptions queues;
  CLI::App* q = command(app, "queues",
                        "A table of the queues: depth, bytes, oldest message's age, counters, "
                        "cursors; with --rate or --watch also messages in and out per second.");
  q->add_option("--sort", queues.sort, "order: depth, bytes, age (largest first) or name")
      ->type_name("KEY")
      ->check(CLI::IsMember({"depth", "bytes", "age", "name"}))
      ->capture_default_str();
  q->add_flag("--all", queues.all, "include the broker's internal '$...' queues");
  q->add_option("--rate", queues.rate_seconds,
                "measure messages in and out per second over SECONDS (default 1) before printing "
                "(--watch measures between refreshes)")
      ->type_name("[SECONDS]")
      ->expected(0, 1)
      ->default_str("1")
      ->check(CLI::Range(0.1, 3600.0));
  q->add_option("--watch", queues.watch_seconds,
                "refresh every SECONDS (default 2) until Ctrl-C, redrawn in place on a terminal")
      ->type_name("[SECONDS]")
      ->expected(0, 1)
      ->default_str("2")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            double seconds = 0;
            if (!CLI::detail::lexical_cast(value, seconds) || !(seconds > 0)) {
              return "a number of seconds above 0 is expected, not '" + value + "'";
            }
            return "";
          },
          ""));

  PeekOptions peek;
  std::string format = "auto";
  CLI::App* p = command(app, "peek",
                        "Show a queue's messages without consuming them: sequence number, "
                        "received-at, address, origin, properties, payload.");
  p->add_option("QUEUE", peek.queue, "queue name, e.g. iothub/dev1")->type_name("")->required();
  p->add_option("--from", peek.from, "first sequence number (default: the oldest stored)")
      ->type_name("SEQ");
  p->add_option("--max", peek.max, "at most this many messages")
      ->type_name("N")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  p->add_option("--format", format,
                "payload as hex (a dump), text (control bytes escaped), base64, or auto: text "
                "when it is printable UTF-8, else hex")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"auto", "hex", "text", "base64"}))
      ->capture_default_str();
  p->add_option("--payload-bytes", peek.payload_bytes,
                "show at most this many bytes of each payload as hex or text (0: all)")
      ->type_name("N")
      ->capture_default_str();
  std::string tea_key, tea_variant = "xtea", tea_mode = "ecb", tea_order = "big", tea_iv;
  p->add_option("--tea-key", tea_key,
                "also show each payload decrypted with this TEA/XTEA key (32 hex digits); for "
                "display only, nothing stored changes")
      ->type_name("HEX");
  p->add_option("--tea-variant", tea_variant, "tea or xtea")
      ->check(CLI::IsMember({"tea", "xtea"}))
      ->capture_default_str();
  p->add_option("--tea-mode", tea_mode, "ecb or cbc (with --tea-iv)")
      ->check(CLI::IsMember({"ecb", "cbc"}))
      ->capture_default_str();
  p->add_option("--tea-iv", tea_iv, "CBC initial vector, 16 hex digits (default: zeros)")
      ->type_name("HEX");
  p->add_option("--tea-byte-order", tea_order,
                "how the firmware reads 32-bit words from bytes: big or little (endian)")
      ->check(CLI::IsMember({"big", "little"}))
      ->capture_default_str();

  PurgeOptions purge;
  CLI::App* u = command(app, "purge",
                        "Delete every message of a queue (needs the running holdfastd). Asks "
                        "you to type the queue name unless --yes.");
  u->add_option("QUEUE", purge.queue, "queue name")->required();
  u->add_flag("--yes,-y", purge.yes, "do not ask (required when stdin is not a terminal)");

  ExportOptions exported;
  CLI::App* e = command(app, "export",
                        "Write a queue's messages as JSON lines, one message per line with every "
                        "field (payload in base64), without consuming them. Progress on stderr.");
  e->add_option("QUEUE", exported.queue, "queue name")->required();
  e->add_option("--out,-o", exported.out,
                "write to FILE (via FILE.partial, renamed when complete) instead of stdout")
      ->type_name("FILE");

  ImportOptions imported;
  CLI::App* i = command(app, "import",
                        "Append messages to a queue from the JSON lines export writes (bytes, "
                        "properties, origin, received-at kept). Every line is checked before "
                        "anything is appended. Progress on stderr.");
  i->add_option("QUEUE", imported.queue, "queue to append to (created if missing)")->required();
  i->add_option("FILE", imported.in, "JSON lines to read (default or '-': stdin)");

  command(app, "deadletters",
          "A table of the dead-letter queues (deadletter/QUEUE, where the bridge puts messages "
          "the upstream refused for good, and queue policies' dead_letter_queue): count, bytes, "
          "oldest age, original queues, reasons.");

  ReplayOptions replay;
  CLI::App* r = command(app, "replay",
                        "Move a dead-letter queue's messages back to the queue each came from "
                        "(or --to QUEUE): appended there first, then removed, so a crash in "
                        "between duplicates and never loses. Asks you to type the queue name "
                        "unless --yes.");
  r->add_option("DLQ", replay.queue, "dead-letter queue, e.g. deadletter/iothub/dev1")->required();
  r->add_option("--to", replay.to, "append to this queue instead of each message's original one")
      ->type_name("QUEUE");
  r->add_option("--max", replay.max, "at most N messages, the oldest first (default: all)")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  r->add_flag("--yes,-y", replay.yes, "do not ask (required when stdin is not a terminal)");

  BridgeOptions bridge;
  std::string bridge_action;
  CLI::App* b = command(app, "bridge",
                        "Pause or resume forwarding to an upstream (needs the running holdfastd). "
                        "While paused no new transfers are sent; unsettled ones settle, queues "
                        "keep filling. Not persisted: restarting holdfastd resumes.");
  b->add_option("ACTION", bridge_action, "pause or resume")
      ->required()
      ->check(CLI::IsMember({"pause", "resume"}));
  b->add_option("UPSTREAM", bridge.upstream, "upstream name (default: every upstream)");

  command(app, "devices",
          "A table of the devices heard from since holdfastd started (needs it running): "
          "protocol, last seen, messages, backlog of their queues, token state (token "
          "passthrough: valid until when, or expired).");

  app.failure_message([](const CLI::App* top, const CLI::Error& error) {
    std::string help = "holdfastctl --help";
    if (!top->get_subcommands().empty()) {
      help = "holdfastctl " + top->get_subcommands().front()->get_name() + " --help";
    }
    return "holdfastctl: " + std::string(error.what()) + " (see " + help + ")\n";
  });
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (app.get_subcommands().empty() && dynamic_cast<const CLI::ExtrasError*>(&error) &&
        !app.remaining().empty()) {
      std::cerr << "holdfastctl: unknown command '" << app.remaining().front()
                << "': the commands are status, queues, peek, export, import, purge, deadletters, "
                   "replay, bridge and devices (see holdfastctl --help)\n";
      return kExitUsage;
    }
    int code = app.exit(error);  // prints help, the version, or the error and a hint
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (app.get_subcommands().empty()) {
    std::cerr << "holdfastctl: which command? status, queues, peek, export, import, purge, "
                 "deadletters, replay, bridge or devices (see holdfastctl --help)\n";
    return kExitUsage;
  }

  Outcome<void> result;
  std::string name = app.get_subcommands().front()->get_name();
  try {
    if (name == "status") {
      result = run_status(g);
    } else if (name == "queues") {
      result = run_queues(g, queues);
    } else if (name == "peek") {
      peek.format = format == "hex"      ? PayloadFormat::kHex
                    : format == "text"   ? PayloadFormat::kText
                    : format == "base64" ? PayloadFormat::kBase64
                                         : PayloadFormat::kAuto;
      if (!tea_key.empty()) {
        holdfast::tea::Params t;
        holdfast::tea::Key iv_key{};
        if (!holdfast::tea::parse_key(tea_key, t.key) ||
            (!tea_iv.empty() && !holdfast::tea::parse_key(tea_iv + std::string(16, '0'), iv_key))) {
          std::cerr << "holdfastctl: --tea-key needs 32 hex digits and --tea-iv 16\n";
          return kExitUsage;
        }
        for (int i = 0; i < 8; ++i) t.iv[i] = iv_key[i];
        t.variant =
            tea_variant == "tea" ? holdfast::tea::Variant::kTea : holdfast::tea::Variant::kXtea;
        t.mode = tea_mode == "cbc" ? holdfast::tea::Mode::kCbc : holdfast::tea::Mode::kEcb;
        t.order = tea_order == "little" ? holdfast::tea::ByteOrder::kLittle
                                        : holdfast::tea::ByteOrder::kBig;
        peek.tea = t;
      }
      result = run_peek(g, peek);
    } else if (name == "purge") {
      result = run_purge(g, purge);
    } else if (name == "export") {
      result = run_export(g, exported);
    } else if (name == "import") {
      result = run_import(g, imported);
    } else if (name == "deadletters") {
      result = run_deadletters(g);
    } else if (name == "replay") {
      result = run_replay(g, replay);
    } else if (name == "bridge") {
      bridge.pause = bridge_action == "pause";
      result = run_bridge(g, bridge);
    } else if (name == "devices") {
      result = run_devices(g);
    }
  } catch (const nlohmann::json::exception& e) {  // an answer without the fields it should have
    result = fail(kExitFailed, std::string("unexpected answer from holdfastd or its store (") +
                                   e.what() + "); are holdfastctl and holdfastd the same version?");
  }
  if (!result) {
    std::cout.flush();
    std::cerr << "holdfastctl: " << result.error().message << "\n";
    return result.error().exit_code;
  }
  return kExitOk;
}
