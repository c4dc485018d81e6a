// holdfastctl peek and holdfastctl export: reading a queue's messages without consuming them.

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "broker/iothub/base64.h"
#include "tools/ctl/commands.h"
#include "tools/ctl/progress.h"

namespace holdfast::ctl {
namespace {

constexpr std::size_t kExportPage = 500;

// A string field, made safe for a terminal.
std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? safe(j[key].get<std::string>()) : "";
}

std::string properties_text(const json& p) {
  std::string text;
  auto add = [&](const std::string& item) { text += (text.empty() ? "" : ", ") + item; };
  for (const char* key : {"message_id", "correlation_id", "content_type", "content_encoding"}) {
    if (!str(p, key).empty()) add(std::string(key) + "=" + str(p, key));
  }
  if (p.contains("creation_time_ms") && p["creation_time_ms"].is_number()) {
    add("creation_time=" + iso_time_ms(p["creation_time_ms"].get<std::int64_t>()));
  }
  if (p.contains("user") && p["user"].is_array()) {
    for (const auto& kv : p["user"]) {
      if (kv.is_array() && kv.size() == 2 && kv[0].is_string() && kv[1].is_string()) {
        add(safe(kv[0].get<std::string>()) + ":" + safe(kv[1].get<std::string>()));
      }
    }
  }
  return text.empty() ? "(none)" : text;
}

void print_message(std::ostream& out, const json& m, const PeekOptions& o) {
  auto payload = iothub::base64_decode(m.value("payload_base64", std::string()));
  std::string bytes = payload ? *payload : std::string();
  out << "#" << m.value("seq", 0ULL) << "  " << iso_time_ms(m.value("received_at_ms", 0LL)) << "  "
      << str(m, "address") << "\n";
  const json& origin = m.contains("origin") ? m["origin"] : json::object();
  out << "  origin      " << str(origin, "protocol");
  if (!str(origin, "client_id").empty()) out << ", client " << str(origin, "client_id");
  if (!str(origin, "device_id").empty()) out << ", device " << str(origin, "device_id");
  out << "\n  properties  "
      << properties_text(m.contains("properties") ? m["properties"] : json::object()) << "\n";
  if (m.contains("dead_letter")) {
    const json& d = m["dead_letter"];
    out << "  dead letter " << str(d, "reason") << ", from " << str(d, "original_queue") << " #"
        << d.value("original_seq", 0ULL) << "\n";
  }
  PayloadFormat format = o.format;
  if (format == PayloadFormat::kAuto) {
    format = is_printable_text(bytes) ? PayloadFormat::kText : PayloadFormat::kHex;
  }
  out << "  payload     " << count(bytes.size(), "byte") << ", "
      << (format == PayloadFormat::kText  ? "text"
          : format == PayloadFormat::kHex ? "hex"
                                          : "base64");
  if (!payload) out << " (the source sent undecodable base64)";
  out << "\n";
  print_payload(out, bytes, format, o.payload_bytes, "    ");
  if (o.tea) {
    if (bytes.size() % 8 != 0) {
      out << "  decrypted   (not a whole number of 8-byte blocks: not TEA-encrypted?)\n";
    } else {
      std::string plain = tea::decrypt(bytes, *o.tea);
      PayloadFormat shown =
          o.format == PayloadFormat::kAuto
              ? (is_printable_text(plain) ? PayloadFormat::kText : PayloadFormat::kHex)
              : format;
      out << "  decrypted   " << count(plain.size(), "byte") << " (display only)\n";
      print_payload(out, plain, shown, o.payload_bytes, "    ");
    }
  }
}

}  // namespace

Outcome<void> run_peek(const Globals& g, const PeekOptions& o) {
  auto source = open_source(g.target);
  if (!source) return std::unexpected(source.error());
  auto page = (*source)->read(o.queue, o.from, o.max);
  if (!page) return std::unexpected(page.error());
  if (g.json) {
    std::cout << json_text(*page, 2) << "\n";
    return {};
  }
  const json& messages = (*page)["messages"];
  std::uint64_t next = page->value("next", 0ULL);
  std::cout << "queue " << safe(o.queue) << " in " << (*source)->describe() << ": "
            << count(messages.size(), "message");
  if (o.from != 0) std::cout << " from #" << o.from;
  std::cout << "\n";
  for (const auto& m : messages) {
    std::cout << "\n";
    print_message(std::cout, m, o);
  }
  if (messages.size() == o.max) {
    std::cout << "\nmore may follow: holdfastctl peek '" << safe(o.queue) << "' --from " << next
              << "\n";
  }
  return {};
}

Outcome<void> run_export(const Globals& g, const ExportOptions& o) {
  auto source = open_source(g.target);
  if (!source) return std::unexpected(source.error());
  // A snapshot: the messages stored when the export starts, not those appended meanwhile.
  auto queue = find_queue(**source, o.queue);
  if (!queue) return std::unexpected(queue.error());
  std::uint64_t end = queue->value("next", 0ULL);
  std::uint64_t total = queue->value("depth", 0ULL);

  std::string partial = o.out.empty() ? "" : o.out + ".partial";
  std::ofstream file;
  if (!partial.empty()) {
    file.open(partial, std::ios::binary | std::ios::trunc);
    if (!file) {
      return fail(kExitFailed, "cannot write " + partial + ": " + std::strerror(errno));
    }
  }
  std::ostream& out = partial.empty() ? std::cout : file;
  auto abandon = [&](Failure f) -> Outcome<void> {
    if (!partial.empty()) {
      file.close();
      std::error_code ec;
      std::filesystem::remove(partial, ec);
    }
    return std::unexpected(std::move(f));
  };

  Progress progress("exporting " + safe(o.queue), total);
  std::uint64_t exported = 0, bytes = 0, from = 0;
  for (bool done = false; !done;) {
    auto page = (*source)->read(o.queue, from, kExportPage);
    if (!page) return abandon(page.error());
    const json& messages = (*page)["messages"];
    if (messages.empty()) break;
    for (const auto& m : messages) {
      if (m.value("seq", 0ULL) >= end) {
        done = true;
        break;
      }
      json line = m;
      line["queue"] = o.queue;
      std::string text = json_text(line);
      out << text << '\n';
      ++exported;
      bytes += text.size() + 1;
    }
    if (!out)
      return abandon(
          {kExitFailed, "cannot write the export: " + std::string(std::strerror(errno))});
    std::uint64_t next = page->value("next", 0ULL);
    if (next <= from) break;  // no progress: never loop on a confused source
    from = next;
    progress.update(exported, bytes);
  }
  out.flush();
  if (!out)
    return abandon({kExitFailed, "cannot write the export: " + std::string(std::strerror(errno))});
  progress.update(exported, bytes, true);
  if (!partial.empty()) {
    file.close();
    std::error_code ec;
    std::filesystem::rename(partial, o.out, ec);
    if (ec)
      return abandon(
          {kExitFailed, "cannot rename " + partial + " to " + o.out + ": " + ec.message()});
  }
  std::string where = o.out.empty() ? "stdout" : o.out;
  if (g.json && !o.out.empty()) {
    json summary = {{"queue", o.queue}, {"exported", exported}, {"bytes", bytes}, {"out", o.out}};
    std::cout << json_text(summary, 2) << "\n";
  } else {
    std::cerr << "holdfastctl: exported " << count(exported, "message") << " of " << safe(o.queue)
              << " from " << (*source)->describe() << " to " << where << "\n";
  }
  return {};
}

}  // namespace holdfast::ctl
