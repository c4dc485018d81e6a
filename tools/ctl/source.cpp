// Choosing the source: the daemon first (it is the truth while it runs), its store when it is
// not answering.
#include "tools/ctl/source.h"

#include "tools/ctl/admin_source.h"
#include "tools/ctl/store_source.h"

namespace holdfast::ctl {

Outcome<std::unique_ptr<Source>> open_source(const Target& target) {
  auto url = parse_admin_url(target.admin_url);
  if (!url) return std::unexpected(url.error());
  auto probe = probe_admin(*url);
  if (!probe) return std::unexpected(probe.error());
  if (probe->source) return std::move(probe->source);
  auto store = open_store(target.store_path);
  if (store) return store;
  if (store.error().exit_code != kExitUnreachable) return store;
  return fail(kExitUnreachable, "holdfastd is not answering on " + url->text + " (" +
                                    probe->not_answering + ") and there is no store at " +
                                    target.store_path +
                                    ": start it (tools/run.sh), pass --admin URL if it listens "
                                    "elsewhere, or pass --store PATH to read its store directly");
}

Outcome<std::unique_ptr<Source>> open_daemon(const Target& target, const std::string& what) {
  auto url = parse_admin_url(target.admin_url);
  if (!url) return std::unexpected(url.error());
  auto probe = probe_admin(*url);
  if (!probe) return std::unexpected(probe.error());
  if (probe->source) return std::move(probe->source);
  return fail(kExitUnreachable, "holdfastd is not answering on " + url->text + " (" +
                                    probe->not_answering + "), and " + what +
                                    " needs it running (the store is only ever read): start it "
                                    "(tools/run.sh) or pass --admin URL if it listens elsewhere");
}

Outcome<std::unique_ptr<Source>> open_writable(const Target& target, const std::string& what) {
  auto url = parse_admin_url(target.admin_url);
  if (!url) return std::unexpected(url.error());
  auto probe = probe_admin(*url);
  if (!probe) return std::unexpected(probe.error());
  if (probe->source) return std::move(probe->source);
  auto store = open_store_for_writing(target.store_path);
  if (store || store.error().exit_code != kExitUnreachable) return store;
  return fail(kExitUnreachable, "holdfastd is not answering on " + url->text + " (" +
                                    probe->not_answering + ") and there is no store at " +
                                    target.store_path + " for " + what +
                                    ": start it (tools/run.sh), pass --admin URL if it listens "
                                    "elsewhere, or pass --store PATH of its store");
}

}  // namespace holdfast::ctl
