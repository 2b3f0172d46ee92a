// PlanOpenFiles: Redis's adjustOpenFilesLimit decisions.

#include "server/open_files.h"

#include <doctest/doctest.h>

#include <cerrno>

namespace shoal::server {
namespace {

TEST_CASE("enough descriptors: nothing changes") {
  int calls = 0;
  OpenFilesPlan p = PlanOpenFiles(100, 100000, [&](uint64_t) { return ++calls, 0; });
  CHECK(calls == 0);
  CHECK(p.maxclients == 100);
  CHECK(p.warnings.empty());
  CHECK(p.notice.empty());
}

TEST_CASE("the limit is raised when allowed") {
  OpenFilesPlan p = PlanOpenFiles(10000, 1024, [](uint64_t) { return 0; });
  CHECK(p.maxclients == 10000);
  CHECK(p.limit == 10000 + kReservedFds);
  CHECK(p.notice ==
        "Increased maximum number of open files to 10128 (it was originally set to "
        "1024).");
}

TEST_CASE("raised part of the way: maxclients fits what was granted") {
  OpenFilesPlan p = PlanOpenFiles(10000, 1024, [](uint64_t n) { return n <= 4096 ? 0 : 1; });
  CHECK(p.limit <= 4096);
  CHECK(p.limit > 4096 - 16);
  CHECK(p.maxclients == static_cast<int64_t>(p.limit - kReservedFds));
  REQUIRE(p.warnings.size() == 3);
  CHECK(p.warnings[0] ==
        "You requested maxclients of 10000 requiring at least 10128 max file "
        "descriptors.");
}

TEST_CASE("not allowed to raise: maxclients is lowered with Redis's warnings") {
  OpenFilesPlan p = PlanOpenFiles(10000, 256, [](uint64_t) { return EPERM; });
  CHECK(p.limit == 256);
  CHECK(p.maxclients == 256 - static_cast<int64_t>(kReservedFds));
  REQUIRE(p.warnings.size() == 3);
  CHECK(p.warnings[2] ==
        "Current maximum open files is 256. maxclients has been reduced to 128 "
        "to compensate for low ulimit. If you need higher maxclients increase "
        "'ulimit -n'.");
  CHECK_FALSE(p.fatal);
}

TEST_CASE("too few descriptors for the reserve: fatal") {
  OpenFilesPlan p = PlanOpenFiles(10000, 64, [](uint64_t) { return EPERM; });
  CHECK(p.fatal);
}

}  // namespace
}  // namespace shoal::server
