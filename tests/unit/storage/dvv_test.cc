#include <doctest/doctest.h>

#include <string>

#include "storage/dvv.h"

namespace shoal::storage {
namespace {

using Set = DvvSet<std::string>;

VersionVector VV(std::vector<VersionVector::Entry> entries) {
  auto r = VersionVector::FromEntries(std::move(entries));
  REQUIRE(r.ok());
  return r.value();
}

std::vector<std::string> Values(const Set& s) {
  std::vector<std::string> out;
  for (const auto& sib : s.siblings()) out.push_back(sib.value);
  return out;
}

constexpr ActorId kA = 1, kB = 2, kC = 3;

TEST_CASE("version vector: get, raise, join, descends") {
  VersionVector v;
  CHECK(v.Get(kA) == 0);
  v.Raise(kB, 3);
  v.Raise(kA, 2);
  v.Raise(kA, 1);  // lower: no-op
  v.Raise(kC, 0);  // zero: no-op
  CHECK(v.entries() == std::vector<VersionVector::Entry>{{kA, 2}, {kB, 3}});
  CHECK(v.Covers({kB, 3}));
  CHECK_FALSE(v.Covers({kB, 4}));
  CHECK_FALSE(v.Covers({kC, 1}));

  VersionVector w = VV({{kB, 5}, {kC, 1}});
  CHECK_FALSE(v.Descends(w));
  CHECK_FALSE(w.Descends(v));
  VersionVector j = v;
  j.Join(w);
  CHECK(j == VV({{kA, 2}, {kB, 5}, {kC, 1}}));
  CHECK(j.Descends(v));
  CHECK(j.Descends(w));
  CHECK(j.Descends(VersionVector{}));
}

TEST_CASE("version vector: FromEntries sorts and validates") {
  CHECK(VV({{kC, 1}, {kA, 4}}).entries() == std::vector<VersionVector::Entry>{{kA, 4}, {kC, 1}});
  CHECK_FALSE(VersionVector::FromEntries({{kA, 1}, {kA, 2}}).ok());
  CHECK_FALSE(VersionVector::FromEntries({{kA, 0}}).ok());
  CHECK_FALSE(VersionVector::FromEntries({{kA, kMaxCounter + 1}}).ok());
  CHECK(VersionVector::FromEntries({{kA, kMaxCounter}}).ok());
}

TEST_CASE("sequential writes through one coordinator never make siblings") {
  Set s;
  for (int i = 0; i < 50; ++i) {
    Dot d = s.Update(s.Context(), "v" + std::to_string(i), kA);
    CHECK(d == Dot{kA, static_cast<uint64_t>(i + 1)});
    CHECK(s.Size() == 1);
  }
  CHECK(s.Context() == VV({{kA, 50}}));
  CHECK(Values(s) == std::vector<std::string>{"v49"});
}

TEST_CASE("two writes with the same old context are siblings; a covering write resolves") {
  Set s;
  s.Update({}, "base", kA);
  VersionVector old = s.Context();
  s.Update(old, "x", kA);
  s.Update(old, "y", kA);  // stale: does not cover x
  CHECK(Values(s) == std::vector<std::string>{"x", "y"});
  CHECK(s.siblings()[0].dot == Dot{kA, 2});
  CHECK(s.siblings()[1].dot == Dot{kA, 3});
  CHECK(s.SizeAfterUpdate(old) == 3);
  CHECK(s.SizeAfterUpdate(s.Context()) == 1);
  CHECK(s.Size() == 2);  // SizeAfterUpdate does not mutate
  s.Update(s.Context(), "z", kB);
  CHECK(Values(s) == std::vector<std::string>{"z"});
  CHECK(s.Context() == VV({{kA, 3}, {kB, 1}}));
}

TEST_CASE("the new dot follows the larger of the context and the replica counter") {
  Set s;
  s.Update({}, "v", kA);
  // A client context that saw more writes of A than this replica has.
  s.Update(VV({{kA, 7}}), "w", kA);
  CHECK(s.siblings().size() == 1);
  CHECK(s.siblings()[0].dot == Dot{kA, 8});
  // A context with an actor the replica has not seen joins the clock.
  s.Update(VV({{kC, 4}}), "u", kB);
  CHECK(s.Context() == VV({{kA, 8}, {kB, 1}, {kC, 4}}));
  CHECK(Values(s) == std::vector<std::string>{"w", "u"});
}

TEST_CASE("a dot floor keeps a purged and rewritten key from reusing dots") {
  Set s;
  uint64_t floor = 0;
  for (int i = 0; i < 3; ++i) s.Update(s.Context(), "old", kA, ++floor);
  const VersionVector stale = s.Context();  // a client holds this context
  CHECK(stale == VV({{kA, 3}}));
  // The key is deleted and forgotten; the next write starts from nothing.
  Set without_floor, with_floor;
  without_floor.Update({}, "new", kA);
  with_floor.Update({}, "new", kA, ++floor);
  // Without a floor the stale context covers the new write: a stale SETV
  // would silently supersede it. With the floor it does not.
  CHECK(without_floor.SizeAfterUpdate(stale) == 1);
  CHECK(with_floor.SizeAfterUpdate(stale) == 2);
  CHECK(with_floor.siblings()[0].dot == Dot{kA, 4});
  // A floor below the key's own counter changes nothing.
  s.Update(s.Context(), "next", kA, 1);
  CHECK(s.siblings()[0].dot == Dot{kA, 4});
}

TEST_CASE("merge keeps unseen siblings, drops superseded ones, is idempotent") {
  Set a, b;
  a.Update({}, "a1", kA);
  b.Merge(a);
  CHECK(b == a);
  // Concurrent writes on both sides.
  a.Update(a.Context(), "a2", kA);
  b.Update(b.Context(), "b1", kB);
  Set ab = a, ba = b;
  ab.Merge(b);
  ba.Merge(a);
  CHECK(ab == ba);
  CHECK(Values(ab) == std::vector<std::string>{"a2", "b1"});
  Set again = ab;
  again.Merge(ab);
  CHECK(again == ab);
  // A write covering both, then merging the old states back changes nothing.
  ab.Update(ab.Context(), "c", kC);
  Set merged = ab;
  merged.Merge(a);
  merged.Merge(b);
  CHECK(merged == ab);
  CHECK(Values(merged) == std::vector<std::string>{"c"});
}

TEST_CASE("a removed sibling stays superseded across merges") {
  Set a;
  a.Update({}, "x", kA);
  VersionVector old = a.Context();
  a.Update(old, "y", kA);
  a.Update(old, "z", kA);
  Set b = a;
  b.RemoveIf([](const Set::Sibling& s) { return s.value == "y"; });
  CHECK(Values(b) == std::vector<std::string>{"z"});
  Set m = a;
  m.Merge(b);
  CHECK(m == b);
}

TEST_CASE("FromParts validates its invariants") {
  using Sib = Set::Sibling;
  VersionVector ctx = VV({{kA, 3}});
  auto ok = Set::FromParts(ctx, {Sib{{kA, 3}, "c"}, Sib{{kA, 1}, "a"}});
  REQUIRE(ok.ok());
  CHECK(ok.value().siblings()[0].dot == Dot{kA, 1});                              // sorted
  CHECK_FALSE(Set::FromParts(ctx, {Sib{{kA, 4}, "x"}}).ok());                     // not covered
  CHECK_FALSE(Set::FromParts(ctx, {Sib{{kB, 1}, "x"}}).ok());                     // not covered
  CHECK_FALSE(Set::FromParts(ctx, {Sib{{kA, 0}, "x"}}).ok());                     // counter 0
  CHECK_FALSE(Set::FromParts(ctx, {Sib{{kA, 2}, "x"}, Sib{{kA, 2}, "y"}}).ok());  // repeated
}

}  // namespace
}  // namespace shoal::storage
