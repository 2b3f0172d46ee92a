// MemberScan: a scan by member hash returns every member present throughout
// at least once, whatever changes between calls, and always progresses.

#include "server/commands/member_scan.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace shoal::server {
namespace {

std::vector<std::string_view> Views(const std::vector<std::string>& v) {
  return {v.begin(), v.end()};
}

TEST_CASE("a full scan of a fixed set returns each member exactly once") {
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) names.push_back("m" + std::to_string(i));
  for (size_t count : {1, 7, 10, 999, 5000}) {
    CAPTURE(count);
    std::multiset<std::string> seen;
    uint64_t cursor = 0;
    size_t calls = 0;
    do {
      MemberScanPage page = ScanMembers(Views(names), cursor, count);
      for (size_t i : page.positions) seen.insert(names[i]);
      cursor = page.next_cursor;
      ++calls;
    } while (cursor != 0 && calls < 5000);
    CHECK(cursor == 0);
    CHECK(seen.size() == names.size());
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == names.size());
  }
}

TEST_CASE("members present throughout survive adds and removes between calls") {
  std::mt19937_64 rng(7);
  std::vector<std::string> stable, churn;
  for (int i = 0; i < 300; ++i) stable.push_back("s" + std::to_string(i));
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int next = 0;
  do {
    // Churn: add some members and drop others before each call.
    for (int k = 0; k < 5; ++k) churn.push_back("c" + std::to_string(next++));
    if (churn.size() > 10) churn.erase(churn.begin(), churn.begin() + 4);
    std::vector<std::string> all = stable;
    all.insert(all.end(), churn.begin(), churn.end());
    std::shuffle(all.begin(), all.end(), rng);
    MemberScanPage page = ScanMembers(Views(all), cursor, 13);
    for (size_t i : page.positions) seen.insert(all[i]);
    cursor = page.next_cursor;
  } while (cursor != 0);
  for (const std::string& s : stable) CHECK(seen.count(s) == 1);
}

TEST_CASE("empty sets finish at once; cursors past every hash finish too") {
  CHECK(ScanMembers({}, 0, 10).next_cursor == 0);
  std::vector<std::string> one = {"x"};
  MemberScanPage page = ScanMembers(Views(one), UINT64_MAX, 10);
  CHECK((page.positions.empty() || MemberScanHash("x") == UINT64_MAX));
  CHECK(page.next_cursor == 0);
  CHECK(MemberScanHash("") != 0);
}

}  // namespace
}  // namespace shoal::server
