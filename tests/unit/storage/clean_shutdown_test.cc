#include "storage/clean_shutdown.h"

#include <doctest/doctest.h>

#include <filesystem>

#include "storage/file.h"
#include "tests/unit/storage/temp_dir.h"

namespace shoal::storage {
namespace {

using testing::TempDir;

TEST_CASE("the clean-shutdown marker is taken once per clean shutdown") {
  TempDir dir;
  PosixEnv env;
  SUBCASE("a first start, or a start after a crash, finds none") {
    auto taken = TakeCleanShutdownMarker(&env, dir.path());
    REQUIRE(taken.ok());
    CHECK_FALSE(taken.value());
  }
  SUBCASE("a clean shutdown leaves it; the next start takes it; a crash after that leaves none") {
    REQUIRE(MarkCleanShutdown(&env, dir.path()).ok());
    CHECK(std::filesystem::exists(dir.File(kCleanShutdownFile)));
    auto taken = TakeCleanShutdownMarker(&env, dir.path());
    REQUIRE(taken.ok());
    CHECK(taken.value());
    CHECK_FALSE(std::filesystem::exists(dir.File(kCleanShutdownFile)));
    // The run that started crashed: the start after it finds no marker.
    taken = TakeCleanShutdownMarker(&env, dir.path());
    REQUIRE(taken.ok());
    CHECK_FALSE(taken.value());
  }
}

TEST_CASE("marker I/O failures are reported, never taken as a clean shutdown") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  SUBCASE("the marker cannot be made durable at shutdown") {
    env.FailSyncDir(true);
    CHECK_FALSE(MarkCleanShutdown(&env, dir.path()).ok());
  }
  SUBCASE("its removal cannot be made durable at start") {
    REQUIRE(MarkCleanShutdown(&env, dir.path()).ok());
    env.FailSyncDir(true);
    CHECK_FALSE(TakeCleanShutdownMarker(&env, dir.path()).ok());
  }
}

}  // namespace
}  // namespace shoal::storage
