#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "storage/node_id.h"

namespace shoal::storage {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/shoal-node-id-XXXXXX";
  char* d = mkdtemp(tmpl);
  REQUIRE(d != nullptr);
  return d;
}

TEST_CASE("node id is created once and kept") {
  std::string dir = TempDir();
  auto first = LoadOrCreateNodeId(dir, std::string(20, '\x5a'));
  REQUIRE(first.ok());
  CHECK(IsValidNodeId(first.value()));
  // 20 bytes of 0x5a are forty hex digits "5a5a...".
  std::string want;
  for (int i = 0; i < 20; ++i) want += "5a";
  CHECK(first.value() == want);
  auto second = LoadOrCreateNodeId(dir, std::string(20, '\x01'));
  REQUIRE(second.ok());
  CHECK(second.value() == first.value());
  std::filesystem::remove_all(dir);
}

TEST_CASE("a damaged node id file stops start-up") {
  std::string dir = TempDir();
  std::ofstream(dir + "/node-id") << "not-an-id\n";
  auto r = LoadOrCreateNodeId(dir, std::string(20, 'x'));
  CHECK_FALSE(r.ok());
  CHECK(r.status().code() == Code::kCorruption);
  std::filesystem::remove_all(dir);
}

TEST_CASE("an unwritable dir is an error, not a crash") {
  auto r = LoadOrCreateNodeId("/nonexistent/dir/for/shoal", std::string(20, 'x'));
  CHECK_FALSE(r.ok());
  CHECK(r.status().code() == Code::kIOError);
}

}  // namespace
}  // namespace shoal::storage
