// The HSCAN/SSCAN cursor (server/commands/element_scan.h): options as
// Redis's scanGenericCommand parses them, and the guarantee that every
// element present for a whole scan is returned, whatever changes meanwhile.

#include "server/commands/element_scan.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "server/commands/random_pick.h"

namespace shoal::server {
namespace {

std::vector<std::string_view> Views(const std::vector<std::string>& names) {
  return {names.begin(), names.end()};
}

TEST_CASE("element scan options: COUNT, MATCH and Redis's errors") {
  std::vector<std::string> args = {"HSCAN", "k", "0", "COUNT", "5", "match", "a*"};
  auto o = ParseElementScanOptions(args, 3);
  REQUIRE(o.ok());
  CHECK(o.value().count == 5);
  REQUIRE(o.value().pattern != nullptr);
  CHECK(*o.value().pattern == "a*");

  args = {"SSCAN", "k", "0", "MATCH", "*"};
  o = ParseElementScanOptions(args, 3);
  REQUIRE(o.ok());
  CHECK(o.value().pattern == nullptr);  // "*" matches everything
  CHECK(o.value().count == 10);

  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"X", "k", "0", "COUNT", "0"}, "ERR syntax error"},
      {{"X", "k", "0", "COUNT", "-1"}, "ERR syntax error"},
      {{"X", "k", "0", "COUNT", "x"}, "ERR value is not an integer or out of range"},
      {{"X", "k", "0", "COUNT"}, "ERR syntax error"},
      {{"X", "k", "0", "TYPE", "string"}, "ERR syntax error"},  // keyspace SCAN only
      {{"X", "k", "0", "NOVALUES"}, "ERR syntax error"},
  };
  for (const auto& [a, msg] : bad) {
    CAPTURE(a[3]);
    auto r = ParseElementScanOptions(a, 3);
    REQUIRE(!r.ok());
    CHECK(r.status().message() == msg);
  }
}

TEST_CASE("element scan: a full walk returns every element exactly once") {
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) names.push_back("member:" + std::to_string(i));
  for (size_t count : {1u, 7u, 10u, 999u, 1000u, 5000u}) {
    CAPTURE(count);
    std::multiset<std::string> seen;
    uint64_t cursor = 0;
    size_t steps = 0;
    do {
      ElementScanStep step = ScanElements(Views(names), cursor, count);
      CHECK(step.picked.size() <= count);
      for (size_t i : step.picked) seen.insert(names[i]);
      cursor = step.next;
      ++steps;
    } while (cursor != 0 && steps < 10000);
    CHECK(seen.size() == names.size());
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == names.size());
    CHECK(steps == (names.size() + count - 1) / count);
  }
}

TEST_CASE("element scan: elements present throughout survive adds and removes") {
  // A seeded random workload: between steps, elements are added and
  // removed; those present for the whole scan must all be returned.
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    CAPTURE(seed);
    PickRandom rng(seed);
    std::set<std::string> live;
    for (int i = 0; i < 300; ++i) live.insert("e" + std::to_string(rng.Below(100000)));
    std::set<std::string> stable = live;  // present from the start, never removed
    std::set<std::string> seen;
    uint64_t cursor = 0;
    int steps = 0;
    do {
      std::vector<std::string> names(live.begin(), live.end());
      // The container's order is not the scan's: shuffle it.
      std::vector<size_t> order = PickDistinct(names.size(), names.size(), rng);
      std::vector<std::string> shuffled;
      for (size_t i : order) shuffled.push_back(names[i]);
      ElementScanStep step = ScanElements(Views(shuffled), cursor, 1 + rng.Below(20));
      for (size_t i : step.picked) seen.insert(shuffled[i]);
      cursor = step.next;
      for (int k = 0; k < 10; ++k) live.insert("e" + std::to_string(rng.Below(100000)));
      for (int k = 0; k < 10 && !live.empty(); ++k) {
        auto it = live.begin();
        std::advance(it, static_cast<long>(rng.Below(live.size())));
        stable.erase(*it);
        live.erase(it);
      }
    } while (cursor != 0 && ++steps < 100000);
    for (const std::string& s : stable) {
      CAPTURE(s);
      CHECK(seen.count(s) == 1);
    }
  }
}

TEST_CASE("element scan: a cursor is a hash; an invented one starts midway") {
  std::vector<std::string> names = {"a", "b", "c", "d", "e"};
  std::map<uint64_t, std::string> by_hash;
  for (const auto& n : names) by_hash[ElementScanHash(n)] = n;
  const auto third = std::next(by_hash.begin(), 2);
  ElementScanStep step = ScanElements(Views(names), third->first, 10);
  CHECK(step.next == 0);
  std::set<std::string> got;
  for (size_t i : step.picked) got.insert(names[i]);
  std::set<std::string> want;
  for (auto it = third; it != by_hash.end(); ++it) want.insert(it->second);
  CHECK(got == want);
  // One step of 2 from the start: the two smallest hashes, cursor = the third.
  step = ScanElements(Views(names), 0, 2);
  REQUIRE(step.picked.size() == 2);
  CHECK(names[step.picked[0]] == by_hash.begin()->second);
  CHECK(step.next == third->first);
  // An empty container, or a cursor past every hash: nothing, cursor 0.
  CHECK(ScanElements({}, 0, 10).next == 0);
  CHECK(ScanElements(Views(names), UINT64_MAX, 10).picked.size() <= 1);
}

}  // namespace
}  // namespace shoal::server
