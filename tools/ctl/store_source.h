#pragma once
// A stopped holdfastd's store, opened read-only (RocksQueueStore::open_read_only): nothing is
// started and nothing is written, so it is safe on a store another process owns. Answers in
// the admin endpoint's JSON shapes (see source.h); purge() is refused, and so are import() and
// replay() unless it was opened for writing. set_paused() and devices() need the daemon.

#include <memory>
#include <string>

#include "tools/ctl/source.h"

namespace holdfast::ctl {

// Errors: kExitUnreachable when there is no store at `path` (the message says only that; the
// caller adds the context), kExitFailed when it cannot be opened (the reason says why).
Outcome<std::unique_ptr<Source>> open_store(const std::string& path);

// The same store opened read-write (RocksQueueStore::open), for import and replay while
// holdfastd is stopped; only when no process holds its LOCK file. The daemon's queue policies
// (quotas, TTLs) are not known here, so they are not applied to what is appended. Errors:
// kExitUnreachable (no store at `path`), kExitBusy (another process holds it: the message
// names its pid), kExitFailed (it cannot be opened).
Outcome<std::unique_ptr<Source>> open_store_for_writing(const std::string& path);

}  // namespace holdfast::ctl
