#pragma once
// Progress of a long export, import or replay, on stderr: rewritten in place on a terminal, else
// a line every few seconds; nothing for operations that finish within a second.
//
// Thread: holdfastctl's main thread.

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "tools/ctl/render.h"

namespace holdfast::ctl {

class Progress {
 public:
  // "exporting iothub/dev1", out of `total` messages (0: unknown). update() takes the bytes
  // done so far (0: not shown).
  Progress(std::string doing, std::uint64_t total) : doing_(std::move(doing)), total_(total) {}

  void update(std::uint64_t done, std::uint64_t bytes, bool final = false) {
    auto now = std::chrono::steady_clock::now();
    if (!final && (now - started_ < std::chrono::seconds(1) || now < next_)) return;
    if (final && !shown_) return;
    next_ = now + (tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000));
    std::string of = total_ > 0 ? " of " + std::to_string(total_) : "";
    std::string size = bytes > 0 ? ", " + human_bytes(bytes) : "";
    std::fprintf(stderr, "%sholdfastctl: %s: %llu%s messages%s%s", tty_ ? "\r" : "", doing_.c_str(),
                 static_cast<unsigned long long>(done), of.c_str(), size.c_str(),
                 tty_ ? "\x1b[K" : "\n");
    if (final && tty_) std::fputc('\n', stderr);
    shown_ = true;
  }

 private:
  std::string doing_;
  std::uint64_t total_;
  bool tty_ = isatty(STDERR_FILENO) == 1;
  bool shown_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point next_ = started_;
};

}  // namespace holdfast::ctl
