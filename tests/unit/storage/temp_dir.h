#pragma once
// TempDir: a private directory under /tmp for a test, removed with everything
// in it when the test ends.

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

namespace shoal::storage::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "shoal-test") {
    std::string t = "/tmp/" + prefix + "-XXXXXX";
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path_ = t;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace shoal::storage::testing
