#include "tools/devsim/verify.h"

#include <fstream>
#include <iostream>
#include <map>
#include <set>

namespace holdfast::devsim {
namespace {

struct DeviceCheck {
  std::vector<std::string> sent;      // sha256 in the order sent
  std::vector<std::string> recorded;  // sha256 of the record's lines that devsim sent
};

// Calls `line` with each JSON object of the file; false when it cannot be read.
template <typename F>
bool each_line(const std::string& path, F line) {
  std::ifstream in(path);
  if (!in) return false;
  std::string text;
  while (std::getline(in, text)) {
    auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) line(j);
  }
  return true;
}

}  // namespace

DeviceVerdict check_device(const std::vector<std::string>& sent,
                           const std::vector<std::string>& recorded) {
  DeviceVerdict v;
  std::map<std::string, int> times;
  for (const auto& s : recorded) ++times[s];
  std::vector<std::string> expected;  // what was sent and recorded, in the order sent
  for (const auto& s : sent) {
    auto it = times.find(s);
    if (it == times.end()) {
      ++v.missing;
    } else {
      expected.push_back(s);
    }
  }
  for (const auto& [s, n] : times) v.duplicated += n > 1 ? n - 1 : 0;
  std::vector<std::string> first_seen;  // the record's order, each message once
  std::set<std::string> seen;
  for (const auto& s : recorded) {
    if (seen.insert(s).second) first_seen.push_back(s);
  }
  for (std::size_t i = 0; i < expected.size() && i < first_seen.size(); ++i) {
    v.out_of_order += expected[i] != first_seen[i] ? 1 : 0;
  }
  return v;
}

int verify_record(const std::string& record_file, const std::vector<std::string>& sent_files,
                  Output& out) {
  std::map<std::string, DeviceCheck> devices;
  std::map<std::string, std::set<std::string>> wanted;
  for (const auto& f : sent_files) {
    bool ok = each_line(f, [&](const nlohmann::json& j) {
      if (!j.contains("seq") || !j.contains("sha256") || j.contains("c2d_topic")) return;
      auto device = j.value("device", "");
      devices[device].sent.push_back(j.value("sha256", ""));
      wanted[device].insert(j.value("sha256", ""));
    });
    if (!ok) {
      std::cerr << "holdfast-devsim verify: cannot read " << f << "\n";
      return kExitUsage;
    }
  }
  bool ok = each_line(record_file, [&](const nlohmann::json& j) {
    auto device = j.value("device_id", "");
    auto sha = j.value("sha256", "");
    auto it = wanted.find(device);
    if (it != wanted.end() && it->second.contains(sha)) devices[device].recorded.push_back(sha);
  });
  if (!ok) {
    std::cerr << "holdfast-devsim verify: cannot read " << record_file << "\n";
    return kExitUsage;
  }
  std::uint64_t sent = 0, recorded = 0, missing = 0, duplicated = 0, out_of_order = 0;
  for (const auto& [device, d] : devices) {
    DeviceVerdict v = check_device(d.sent, d.recorded);
    out.line({{"device", device},
              {"sent", d.sent.size()},
              {"recorded", d.recorded.size()},
              {"missing", v.missing},
              {"duplicated", v.duplicated},
              {"out_of_order", v.out_of_order}});
    sent += d.sent.size();
    recorded += d.recorded.size();
    missing += v.missing;
    duplicated += v.duplicated;
    out_of_order += v.out_of_order;
  }
  bool all_good = sent > 0 && missing == 0 && duplicated == 0 && out_of_order == 0;
  out.line({{"devices", devices.size()},
            {"sent", sent},
            {"recorded", recorded},
            {"missing", missing},
            {"duplicated", duplicated},
            {"out_of_order", out_of_order},
            {"ok", all_good}});
  return all_good ? kExitOk : kExitMessagesRefused;
}

}  // namespace holdfast::devsim
