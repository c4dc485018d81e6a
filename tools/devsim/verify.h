#pragma once
// holdfast-devsim verify: checks an IoT Hub emulator's record (holdfast-hubsim --record: a JSON
// line per accepted message with device_id and sha256) against what devsim reported sending
// (its JSON lines, one or more runs, in the order given): every message sent must be in the
// record exactly once, per device in the order sent. Record lines of other devices or other
// payloads are ignored, so a record that also holds earlier runs can be checked.
//
// Prints one JSON line per device {"device", "sent", "recorded", "missing", "duplicated",
// "out_of_order"} and a summary with the same totals and "ok". Returns 0 when everything is
// there once and in order, 4 otherwise (also when the files hold no
// message sent), 1 when a file cannot be read.
//
// Concurrency: one thread; reads the files and returns.
#include <cstdint>
#include <string>
#include <vector>

#include "tools/devsim/common.h"

namespace holdfast::devsim {

// One device's verdict: `sent` are the payload hashes in the order sent, `recorded` those the
// record holds (only hashes that were sent), in the record's order. missing: sent, never
// recorded; duplicated: recordings beyond the first of each; out_of_order: positions where the
// record's first recordings differ from the order sent (the messages missing left out).
struct DeviceVerdict {
  std::uint64_t missing = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t out_of_order = 0;
  bool ok() const { return missing == 0 && duplicated == 0 && out_of_order == 0; }
};
DeviceVerdict check_device(const std::vector<std::string>& sent,
                           const std::vector<std::string>& recorded);

int verify_record(const std::string& record_file, const std::vector<std::string>& sent_files,
                  Output& out);

}  // namespace holdfast::devsim
