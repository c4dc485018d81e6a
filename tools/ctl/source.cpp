// Choosing the source: the daemon first (it is the truth while it runs), its store when it is
// not answering.
#include "tools/ctl/source.h"

#include "tools/ctl/admin_source.h"
#include "tools/ctl/store_source.h"

namespace holdfast::ctl {

namespace {

// The daemon's answer to a probe of target.admin_url: a Source when it answered, else why not.
struct Asked {
  AdminUrl url;
  Probe probe;
};

Outcome<Asked> ask_daemon(const Target& target) {
  auto url = parse_admin_url(target.admin_url);
  if (!url) return std::unexpected(url.error());
  auto probe = probe_admin(*url);
  if (!probe) return std::unexpected(probe.error());
  return Asked{std::move(*url), std::move(*probe)};
}

// "holdfastd is not answering on URL (why)".
std::string not_answering(const Asked& asked) {
  return "holdfastd is not answering on " + asked.url.text + " (" + asked.probe.not_answering + ")";
}

}  // namespace

Outcome<std::unique_ptr<Source>> open_source(const Target& target) {
  auto asked = ask_daemon(target);
  if (!asked) return std::unexpected(asked.error());
  if (asked->probe.source) return std::move(asked->probe.source);
  auto store = open_store(target.store_path);
  if (store || store.error().exit_code != kExitUnreachable) return store;
  return fail(kExitUnreachable, not_answering(*asked) + " and there is no store at " +
                                    target.store_path +
                                    ": start it (tools/run.sh), pass --admin URL if it listens "
                                    "elsewhere, or pass --store PATH to read its store directly");
}

Outcome<std::unique_ptr<Source>> open_daemon(const Target& target, const std::string& what) {
  auto asked = ask_daemon(target);
  if (!asked) return std::unexpected(asked.error());
  if (asked->probe.source) return std::move(asked->probe.source);
  return fail(kExitUnreachable, not_answering(*asked) + ", and " + what +
                                    " needs it running (the store is only ever read): start it "
                                    "(tools/run.sh) or pass --admin URL if it listens elsewhere");
}

Outcome<std::unique_ptr<Source>> open_writable(const Target& target, const std::string& what) {
  auto asked = ask_daemon(target);
  if (!asked) return std::unexpected(asked.error());
  if (asked->probe.source) return std::move(asked->probe.source);
  auto store = open_store_for_writing(target.store_path);
  if (store || store.error().exit_code != kExitUnreachable) return store;
  return fail(kExitUnreachable, not_answering(*asked) + " and there is no store at " +
                                    target.store_path + " for " + what +
                                    ": start it (tools/run.sh), pass --admin URL if it listens "
                                    "elsewhere, or pass --store PATH of its store");
}

}  // namespace holdfast::ctl
