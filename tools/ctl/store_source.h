#pragma once
// A stopped holdfastd's store, opened read-only (RocksQueueStore::open_read_only): nothing is
// started and nothing is written, so it is safe on a store another process owns. Answers in
// the admin endpoint's JSON shapes (see source.h); purge() is refused.

#include <memory>
#include <string>

#include "tools/ctl/source.h"

namespace holdfast::ctl {

// Errors: kExitUnreachable when there is no store at `path` (the message says only that; the
// caller adds the context), kExitFailed when it cannot be opened (the reason says why).
Outcome<std::unique_ptr<Source>> open_store(const std::string& path);

}  // namespace holdfast::ctl
