#pragma once
// Helpers shared by the holdfast-bench subcommands: a latency histogram, what Linux tells a
// process about its own I/O and memory, directory sizes, and plain-text tables.
//
// Concurrency
//   LatencyHistogram is not synchronized: record from one thread (e.g. the store thread, in
//   callbacks) and read it once that thread's writes happen-before the read. The rest are
//   free functions, safe from any thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace holdfast::bench {

// Log-linear histogram of non-negative integers (microseconds, say): exact below 64, then 64
// buckets per power of two, so any percentile is within ~1.6% of the true value.
class LatencyHistogram {
 public:
  void record(std::uint64_t value);
  // Adds `other`'s values to this histogram (e.g. from another thread or process).
  void merge(const LatencyHistogram& other);
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  // The value at quantile q in [0, 1]; 0 when empty.
  std::uint64_t percentile(double q) const;

 private:
  static constexpr int kSubBits = 6;
  static constexpr std::size_t kSub = std::size_t{1} << kSubBits;
  static constexpr std::size_t kBuckets = (64 - kSubBits + 1) * kSub;
  static std::size_t index(std::uint64_t value);
  static std::uint64_t value_at(std::size_t index);  // middle of the bucket

  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

// `write_bytes` of /proc/self/io: bytes this process (all its threads, RocksDB's background
// threads included) caused to be sent to storage. Page granular: rewriting a partly filled
// page after an fsync counts the whole page again. nullopt when the kernel does not say.
std::optional<std::uint64_t> process_write_bytes();

// A "kB" field of /proc/self/status, e.g. "VmHWM" (peak resident set) or "VmRSS".
std::optional<std::uint64_t> process_status_kb(std::string_view field);

struct DirUsage {
  std::uint64_t files = 0;
  std::uint64_t apparent_bytes = 0;   // sum of file sizes
  std::uint64_t allocated_bytes = 0;  // blocks actually allocated (st_blocks * 512)
  std::uint64_t sst_files = 0;
  std::uint64_t wal_bytes = 0;  // RocksDB write-ahead logs (*.log)
};
// Sizes of the regular files under `dir`, recursively; zeros if it does not exist.
DirUsage dir_usage(const std::filesystem::path& dir);

// Writes back and then drops every file under `dir` from the page cache, so that the next
// reader starts cold. Best effort; no privileges needed (posix_fadvise DONTNEED).
void evict_from_page_cache(const std::filesystem::path& dir);

// "1.23 GiB", "512 KiB", "100 B".
std::string format_bytes(double bytes);
// "12,345,678".
std::string format_count(std::uint64_t n);
// printf into a std::string.
[[gnu::format(printf, 1, 2)]] std::string strprintf(const char* format, ...);

// A table printed with aligned columns: the first row is the header.
class Table {
 public:
  explicit Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void print(std::FILE* out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace holdfast::bench
