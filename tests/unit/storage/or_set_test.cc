// OrSet / OrMap: add wins, observed remove, DEL as an empty state that keeps
// its clock, and the join's laws on hand-made histories (the random ones are
// in crdt_property_test.cc).

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/or_set.h"

namespace shoal::storage {
namespace {

using Strings = std::vector<std::string>;

Strings Members(const OrSet& s) {
  Strings out;
  for (const auto& e : s.map().entries()) out.push_back(e.name);
  return out;
}

OrSet Joined(OrSet a, const OrSet& b) {
  a.Join(b);
  return a;
}

constexpr ActorId kA = 1, kB = 2;

TEST_CASE("add, remove, contains, members in bytewise order") {
  OrSet s;
  CHECK(s.Add("b", {kA, 1}));
  CHECK(s.Add("a", {kA, 2}));
  CHECK_FALSE(s.Add("a", {kA, 3}));  // present: the new dot replaces the old
  CHECK(Members(s) == Strings{"a", "b"});
  CHECK(s.map().Find("a")->atoms.size() == 1);
  CHECK(s.map().Find("a")->atoms[0].dot == Dot{kA, 3});
  CHECK(s.Contains("b"));
  CHECK(s.Remove("b"));
  CHECK_FALSE(s.Remove("b"));
  CHECK(Members(s) == Strings{"a"});
  CHECK(s.map().clock().Get(kA) == 3);
}

TEST_CASE("add wins over a concurrent remove; a remove that saw the add removes it") {
  OrSet base;
  base.Add("x", {kA, 1});
  OrSet left = base, right = base;
  left.Remove("x");         // saw x's dot (A,1)
  right.Add("x", {kB, 1});  // concurrent re-add: a new dot
  CHECK(Joined(left, right).Contains("x"));
  CHECK(Joined(right, left).Contains("x"));

  OrSet after = Joined(left, right);
  after.Remove("x");  // observed both dots
  CHECK_FALSE(Joined(after, right).Contains("x"));
  CHECK_FALSE(Joined(right, after).Contains("x"));
}

TEST_CASE("an existing member re-added survives a concurrent remove") {
  OrSet base;
  base.Add("x", {kA, 1});
  OrSet left = base, right = base;
  left.Remove("x");
  right.Add("x", {kB, 1});  // SADD of a member already there
  CHECK(Joined(left, right).Contains("x"));
}

TEST_CASE("DEL concurrent with SADD of a new member keeps only the new member") {
  OrSet base;
  base.Add("old1", {kA, 1});
  base.Add("old2", {kA, 2});
  OrSet deleted = base, added = base;
  deleted.Clear();
  CHECK(deleted.empty());
  CHECK(deleted.map().clock().Get(kA) == 2);  // the clock stays
  added.Add("new", {kB, 1});
  CHECK(Members(Joined(deleted, added)) == Strings{"new"});
  CHECK(Members(Joined(added, deleted)) == Strings{"new"});
}

TEST_CASE("a stale copy does not bring removed members back") {
  OrSet s;
  s.Add("x", {kA, 1});
  OrSet stale = s;
  s.Remove("x");
  s.Add("y", {kA, 2});
  CHECK(Members(Joined(s, stale)) == Strings{"y"});
  CHECK(Members(Joined(stale, s)) == Strings{"y"});
}

TEST_CASE("concurrent adds of one member keep both dots until a local add") {
  OrSet a, b;
  a.Add("x", {kA, 1});
  b.Add("x", {kB, 1});
  OrSet j = Joined(a, b);
  CHECK(j.map().Find("x")->atoms.size() == 2);
  j.Add("x", {kA, 2});
  CHECK(j.map().Find("x")->atoms.size() == 1);  // O(members + actors) again
}

TEST_CASE("join is idempotent, commutative, associative on a small history") {
  OrSet a, b, c;
  a.Add("1", {kA, 1});
  a.Add("2", {kA, 2});
  b = a;
  b.Remove("1");
  b.Add("3", {kB, 1});
  c.Add("1", {3, 1});
  a.Remove("2");
  CHECK(Joined(a, a) == a);
  CHECK(Joined(a, b) == Joined(b, a));
  CHECK(Joined(Joined(a, b), c) == Joined(a, Joined(b, c)));
  CHECK(Members(Joined(Joined(a, b), c)) == Strings{"1", "3"});
}

TEST_CASE("FromParts checks the invariants") {
  VersionVector clock = VersionVector::FromEntries({{kA, 5}}).value();
  using Map = OrSet::Map;
  CHECK(Map::FromParts(clock, {{"a", {{{kA, 1}}}}, {"b", {{{kA, 2}}}}}).ok());
  CHECK_FALSE(Map::FromParts(clock, {{"b", {{{kA, 1}}}}, {"a", {{{kA, 2}}}}}).ok());  // order
  CHECK_FALSE(Map::FromParts(clock, {{"a", {{{kA, 1}}}}, {"a", {{{kA, 2}}}}}).ok());  // repeat
  CHECK_FALSE(Map::FromParts(clock, {{"a", {}}}).ok());                               // no atom
  CHECK_FALSE(Map::FromParts(clock, {{"a", {{{kA, 6}}}}}).ok());                      // not covered
  CHECK_FALSE(Map::FromParts(clock, {{"a", {{{kB, 1}}}}}).ok());             // unknown actor
  CHECK_FALSE(Map::FromParts(clock, {{"a", {{{kA, 2}}, {{kA, 2}}}}}).ok());  // dot twice
  CHECK_FALSE(Map::FromParts(clock, {{"a", {{{kA, 3}}, {{kA, 2}}}}}).ok());  // dot order
}

}  // namespace
}  // namespace shoal::storage
