#include "tools/bench/bench_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdarg>
#include <fstream>

namespace holdfast::bench {

namespace fs = std::filesystem;

std::size_t LatencyHistogram::index(std::uint64_t value) {
  if (value < kSub) return static_cast<std::size_t>(value);
  int exponent = std::bit_width(value) - 1;  // >= kSubBits
  std::uint64_t sub = (value >> (exponent - kSubBits)) & (kSub - 1);
  return static_cast<std::size_t>(exponent - kSubBits + 1) * kSub + sub;
}

std::uint64_t LatencyHistogram::value_at(std::size_t index) {
  if (index < kSub) return index;
  int exponent = static_cast<int>(index / kSub) + kSubBits - 1;
  std::uint64_t sub = index % kSub;
  std::uint64_t lower = (kSub + sub) << (exponent - kSubBits);
  std::uint64_t width = std::uint64_t{1} << (exponent - kSubBits);
  return lower + width / 2;
}

void LatencyHistogram::record(std::uint64_t value) {
  ++buckets_[index(value)];
  ++count_;
  sum_ += value;
  max_ = std::max(max_, value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

std::uint64_t LatencyHistogram::percentile(double q) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * count_));
  rank = std::max<std::uint64_t>(rank, 1);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(value_at(i), max_);
  }
  return max_;
}

std::optional<std::uint64_t> process_write_bytes() {
  std::ifstream in("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "write_bytes:") return value;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> process_status_kb(std::string_view field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
        line[field.size()] == ':') {
      return std::strtoull(line.c_str() + field.size() + 1, nullptr, 10);
    }
  }
  return std::nullopt;
}

DirUsage dir_usage(const fs::path& dir) {
  DirUsage usage;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return usage;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    ++usage.files;
    usage.apparent_bytes += static_cast<std::uint64_t>(st.st_size);
    usage.allocated_bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
    auto extension = it->path().extension();
    if (extension == ".sst") ++usage.sst_files;
    if (extension == ".log") usage.wal_bytes += static_cast<std::uint64_t>(st.st_size);
  }
  return usage;
}

void evict_from_page_cache(const fs::path& dir) {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ::fdatasync(fd);  // only clean pages can be dropped
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

std::string strprintf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out(n > 0 ? static_cast<std::size_t>(n) : 0, '\0');
  if (n > 0) std::vsnprintf(out.data(), out.size() + 1, format, args);
  va_end(args);
  return out;
}

std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (std::fabs(bytes) >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  return unit == 0 ? strprintf("%.0f B", bytes) : strprintf("%.2f %s", bytes, kUnits[unit]);
}

std::string format_count(std::uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

void Table::print(std::FILE* out) const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    widths.resize(std::max(widths.size(), row.size()), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  auto rule = [&] {
    for (std::size_t i = 0; i < widths.size(); ++i) {
      std::fprintf(out, "%s%s", i == 0 ? "" : "-+-", std::string(widths[i], '-').c_str());
    }
    std::fprintf(out, "\n");
  };
  for (std::size_t r = 0; r < rows_.size(); ++r) {
    const auto& row = rows_[r];
    for (std::size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      // The first column reads left to right; figures line up on the right.
      if (i == 0) {
        std::fprintf(out, "%-*s", static_cast<int>(widths[i]), cell.c_str());
      } else {
        std::fprintf(out, " | %*s", static_cast<int>(widths[i]), cell.c_str());
      }
    }
    std::fprintf(out, "\n");
    if (r == 0) rule();
  }
}

}  // namespace holdfast::bench
