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
purge always needs the running daemon. The global options may also follow the command.

Exit status:
  0  ok
  1  the operation failed (the message says why)
  2  bad usage: unknown command or option, bad value; purge without a terminal and without --yes
  3  holdfastd is not answering and there is no store to read instead
  4  not found: no such queue

Run `holdfastctl COMMAND --help` for a command's options.)";

constexpr const char* kCommandFooter = R"(
Global options: --admin URL, --store PATH, --json (see holdfastctl --help).
Exit status: 0 ok, 1 failed, 2 bad usage, 3 holdfastd not answering and no store, 4 not found.)";

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
                        "cursors.");
  q->add_option("--sort", queues.sort, "order: depth, bytes, age (largest first) or name")
      ->type_name("KEY")
      ->check(CLI::IsMember({"depth", "bytes", "age", "name"}))
      ->capture_default_str();
  q->add_flag("--all", queues.all, "include the broker's internal '$...' queues");
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
                << "': the commands are status, queues, peek, purge and export (see "
                   "holdfastctl --help)\n";
      return kExitUsage;
    }
    int code = app.exit(error);  // prints help, the version, or the error and a hint
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (app.get_subcommands().empty()) {
    std::cerr << "holdfastctl: which command? status, queues, peek, purge or export (see "
                 "holdfastctl --help)\n";
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
        t.variant = tea_variant == "tea" ? holdfast::tea::Variant::kTea : holdfast::tea::Variant::kXtea;
        t.mode = tea_mode == "cbc" ? holdfast::tea::Mode::kCbc : holdfast::tea::Mode::kEcb;
        t.order = tea_order == "little" ? holdfast::tea::ByteOrder::kLittle : holdfast::tea::ByteOrder::kBig;
        peek.tea = t;
      }
      result = run_peek(g, peek);
    } else if (name == "purge") {
      result = run_purge(g, purge);
    } else if (name == "export") {
      result = run_export(g, exported);
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
