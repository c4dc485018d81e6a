#pragma once
// How holdfastctl commands report failure: an exit status that means something, and a message
// that says what happened and what to do next. main() prints the message and exits with it.

#include <expected>
#include <string>
#include <utility>

namespace holdfast::ctl {

// Exit statuses, documented in `holdfastctl --help` (keep the two in step).
enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,       // the operation failed (the message says why)
  kExitUsage = 2,        // bad arguments, or a confirmation that cannot be asked
  kExitUnreachable = 3,  // holdfastd is not answering and there is no store to read instead
  kExitNotFound = 4,     // no such queue or upstream
  kExitBusy = 5,         // holdfastd is not answering, yet another process holds its store
};

struct Failure {
  int exit_code = kExitFailed;
  std::string message;  // one or more sentences, without the "holdfastctl: " prefix
};

template <typename T>
using Outcome = std::expected<T, Failure>;

inline std::unexpected<Failure> fail(int exit_code, std::string message) {
  return std::unexpected(Failure{exit_code, std::move(message)});
}

}  // namespace holdfast::ctl
