// holdfastctl purge: it deletes, so it asks first (as replay does, with the same prompt).
#include <unistd.h>

#include <iostream>
#include <string>

#include "tools/ctl/commands.h"

namespace holdfast::ctl {

Outcome<void> confirm_by_typing(const std::string& what, const std::string& expected) {
  std::cerr << "Type the queue name to confirm: " << std::flush;
  std::string typed;
  if (!std::getline(std::cin, typed) || typed != expected) {
    return fail(kExitFailed, "not " + what + ": what was typed is not '" + expected + "'");
  }
  return {};
}

Outcome<void> can_ask(bool yes, const std::string& verb, const std::string& queue) {
  // Decided before anything is contacted: a script must not hang on a prompt nobody sees.
  if (yes || isatty(STDIN_FILENO) == 1) return {};
  return fail(kExitUsage, verb +
                              " asks to type the queue name on a terminal, and stdin is not "
                              "one: pass --yes to " +
                              verb + " '" + queue + "' without asking");
}

Outcome<void> run_purge(const Globals& g, const PurgeOptions& o) {
  if (auto ok = can_ask(o.yes, "purge", o.queue); !ok) return ok;
  auto source = open_daemon(g.target, "purge");
  if (!source) return std::unexpected(source.error());
  auto queue = find_queue(**source, o.queue);
  if (!queue) return std::unexpected(queue.error());

  if (!o.yes) {
    std::cerr << "Purge queue '" << safe(o.queue) << "' of " << (*source)->describe() << ": "
              << count(queue->value("depth", 0ULL), "message") << " ("
              << human_bytes(queue->value("bytes", 0ULL))
              << ") will be deleted for good, whoever has not consumed them yet.\n";
    if (o.queue.starts_with("$")) {
      std::cerr << "'$' queues are holdfastd's own state (retained messages, MQTT sessions): "
                   "purging one loses that state.\n";
    }
    if (auto ok = confirm_by_typing("purged", o.queue); !ok) return ok;
  }

  auto purged = (*source)->purge(o.queue);
  if (!purged) return std::unexpected(purged.error());
  if (g.json) {
    std::cout << json_text(*purged, 2) << "\n";
  } else {
    std::cout << "purged " << count(purged->value("purged", 0ULL), "message") << " from queue '"
              << safe(o.queue) << "'\n";
  }
  return {};
}

}  // namespace holdfast::ctl
