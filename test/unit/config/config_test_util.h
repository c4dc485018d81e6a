#pragma once
// Helpers of the config tests: errors of a document, matchers, a temporary directory.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "broker/config/config.h"

namespace holdfast::config::testing {

// The errors of `text` (empty when it loads).
inline std::vector<ConfigError> errors_of(std::string_view text,
                                          std::string_view path = "test.toml") {
  auto result = parse_config(text, path);
  if (result) return {};
  return result.error();
}

// An error at `line` whose reason contains `text`.
inline auto ErrorAt(int line, std::string text) {
  return ::testing::AllOf(::testing::Field(&ConfigError::line, line),
                          ::testing::Field(&ConfigError::reason, ::testing::HasSubstr(text)));
}

inline auto ErrorAt(int line, int column, std::string text) {
  return ::testing::AllOf(::testing::Field(&ConfigError::line, line),
                          ::testing::Field(&ConfigError::column, column),
                          ::testing::Field(&ConfigError::reason, ::testing::HasSubstr(text)));
}

// A fresh directory, removed with its content at the end of the test.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path_ =
        std::filesystem::temp_directory_path() /
        ("holdfast-config-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `content` to `name` inside the directory; returns the full path.
  std::string write(const std::string& name, std::string_view content) const {
    auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace holdfast::config::testing
