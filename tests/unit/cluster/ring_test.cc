#include "cluster/ring.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <unordered_set>
#include <vector>

namespace shoal::cluster {
namespace {

// A 40-hex-character node id derived from i.
NodeId Id(int i) {
  char buf[41];
  const unsigned long long h = KeyHash(std::to_string(i));
  std::snprintf(buf, sizeof(buf), "%016llx%016llx%08x", h, ~h, static_cast<unsigned>(i));
  return NodeId(buf);
}

std::vector<NodeId> Ids(int from, int to) {
  std::vector<NodeId> out;
  for (int i = from; i < to; ++i) out.push_back(Id(i));
  return out;
}

void CheckBalanced(const Ring& ring) {
  const uint32_t q = ring.partition_count();
  const auto s = static_cast<uint32_t>(ring.members().size());
  uint32_t lo = q, hi = 0;
  for (const Share& share : ring.Shares()) {
    lo = std::min(lo, share.partitions);
    hi = std::max(hi, share.partitions);
  }
  CHECK(lo >= q / s);
  CHECK(hi <= (q + s - 1) / s);
}

// The largest and smallest shares are within 5% of the fair share. Implied by
// floor/ceil when Q/S >= 20; with fewer partitions per node it cannot hold.
void CheckWithinFivePercent(const Ring& ring) {
  const double fair = 1.0 / ring.members().size();
  for (const Share& share : ring.Shares()) {
    CHECK(share.fraction >= fair * 0.95);
    CHECK(share.fraction <= fair * 1.05);
  }
}

// Partitions p with Owner(p) == Owner(p + 1), wrapping.
int AdjacentRuns(const Ring& ring) {
  int runs = 0;
  const uint32_t q = ring.partition_count();
  for (uint32_t p = 0; p < q; ++p) {
    if (ring.Owner(p) == ring.Owner((p + 1) % q)) ++runs;
  }
  return runs;
}

TEST_CASE("partition of a hash maps the space onto Q equal ranges") {
  CHECK(PartitionOfHash(0, 256) == 0);
  CHECK(PartitionOfHash(~uint64_t{0}, 256) == 255);
  CHECK(PartitionOfHash(uint64_t{1} << 56, 256) == 1);
  CHECK(PartitionOfHash((uint64_t{1} << 56) - 1, 256) == 0);
  CHECK(PartitionOfHash(uint64_t{1} << 63, 3) == 1);
  CHECK(PartitionOfHash(12345, 1) == 0);
  Ring ring = Ring::Build(Ids(0, 3));
  CHECK(ring.PartitionOf("foo") == PartitionOfHash(KeyHash("foo"), 256));
}

TEST_CASE("a fresh ring is balanced") {
  for (int s : {1, 2, 3, 5, 8, 16, 64}) {
    CAPTURE(s);
    Ring ring = Ring::Build(Ids(0, s), 256);
    CHECK(ring.members().size() == static_cast<size_t>(s));
    CheckBalanced(ring);
    CheckWithinFivePercent(ring);
    if (s >= 2) CHECK(AdjacentRuns(ring) == 0);
  }
  Ring big = Ring::Build(Ids(0, 64), 1024);
  CheckBalanced(big);
  CheckWithinFivePercent(big);
  // Q % S == 1 wraps onto the first owner; the layout avoids it for S >= 3.
  CHECK(AdjacentRuns(Ring::Build(Ids(0, 5), 256)) == 0);  // 256 % 5 == 1
  CHECK(AdjacentRuns(Ring::Build(Ids(0, 3), 7)) == 0);
}

TEST_CASE("the ring does not depend on member order or duplicates") {
  std::vector<NodeId> a = Ids(0, 8);
  std::vector<NodeId> b = a;
  std::reverse(b.begin(), b.end());
  b.push_back(a[3]);
  std::rotate(b.begin(), b.begin() + 3, b.end());
  Ring ra = Ring::Build(a, 256);
  Ring rb = Ring::Build(b, 256);
  CHECK(ra.members() == rb.members());
  CHECK(ra.owners() == rb.owners());

  std::vector<NodeId> c = Ids(0, 9);
  std::vector<NodeId> d = c;
  std::reverse(d.begin(), d.end());
  CHECK(Ring::Rebalance(ra, c).owners() == Ring::Rebalance(rb, d).owners());
}

TEST_CASE("empty rings") {
  Ring none;
  CHECK(none.empty());
  CHECK(none.Preference("k", 3).primaries.empty());
  CHECK(none.Shares().empty());
  Ring built = Ring::Build({}, 64);
  CHECK(built.empty());
  CHECK(built.partition_count() == 64);
  Ring grown = Ring::Rebalance(built, Ids(0, 4));
  CHECK(grown.partition_count() == 64);
  CHECK(grown.owners() == Ring::Build(Ids(0, 4), 64).owners());
  CHECK(Ring::Rebalance(grown, {}).empty());
}

TEST_CASE("adding a node moves only its fair share, only to it") {
  for (int s : {1, 2, 3, 5, 8, 16, 63}) {
    CAPTURE(s);
    Ring before = Ring::Build(Ids(0, s), 256);
    Ring after = Ring::Rebalance(before, Ids(0, s + 1));
    CheckBalanced(after);
    if (256 / after.members().size() >= 20) CheckWithinFivePercent(after);
    const NodeId joiner = Id(s);
    std::vector<Move> moves = Ring::Moves(before, after);
    for (const Move& m : moves) CHECK(m.to == joiner);
    CHECK(moves.size() == after.PartitionsOf(joiner).size());
    CHECK(moves.size() >= 256 / (s + 1));
    CHECK(moves.size() <= (256 + s) / (s + 1));
    if (s >= 2) CHECK(AdjacentRuns(after) == 0);
  }
  // 64 nodes: Q = 1024 keeps every share within 5% of the fair one.
  Ring before = Ring::Build(Ids(0, 64), 1024);
  CheckWithinFivePercent(before);
  Ring after = Ring::Rebalance(before, Ids(0, 65));
  CheckBalanced(after);
  std::vector<Move> moves = Ring::Moves(before, after);
  CHECK(moves.size() == after.PartitionsOf(Id(64)).size());
  CHECK(moves.size() >= 1024 / 65);
  CHECK(moves.size() <= 1024 / 65 + 1);
  for (const Move& m : moves) CHECK(m.to == Id(64));
}

TEST_CASE("removing a node moves only its partitions") {
  for (int s : {2, 3, 5, 8, 16, 64}) {
    CAPTURE(s);
    Ring before = Ring::Build(Ids(0, s), 256);
    const NodeId leaver = Id(s / 2);
    std::vector<NodeId> rest = Ids(0, s);
    std::erase(rest, leaver);
    Ring after = Ring::Rebalance(before, rest);
    CheckBalanced(after);
    if (256 / after.members().size() >= 20) CheckWithinFivePercent(after);
    CHECK_FALSE(after.IsMember(leaver));
    std::vector<Move> moves = Ring::Moves(before, after);
    CHECK(moves.size() == before.PartitionsOf(leaver).size());
    for (const Move& m : moves) CHECK(m.from == leaver);
    // In a round-robin layout the leaver's partitions all sit between the
    // same two nodes, which must take their share too: some runs are forced
    // by minimal movement (all of them for S <= 3).
    if (s >= 5) {
      CHECK(AdjacentRuns(after) <= static_cast<int>(moves.size()) / 2);
    }
  }
}

TEST_CASE("a sequence of joins and leaves stays balanced and spread") {
  Ring ring = Ring::Build(Ids(0, 3), 1024);
  std::vector<NodeId> members = Ids(0, 3);
  for (int step = 3; step < 20; ++step) {
    members.push_back(Id(step));
    if (step % 4 == 0) members.erase(members.begin() + step % members.size());
    Ring next = Ring::Rebalance(ring, members);
    CheckBalanced(next);
    CheckWithinFivePercent(next);
    CHECK(next.members().size() == members.size());
    ring = next;
  }
  // A few runs may be unavoidable after many steps; far fewer than random.
  CHECK(AdjacentRuns(ring) <= 8);
}

TEST_CASE("rebalancing an unchanged member list moves nothing") {
  Ring ring = Ring::Build(Ids(0, 7), 256);
  CHECK(Ring::Moves(ring, Ring::Rebalance(ring, Ids(0, 7))).empty());
}

TEST_CASE("preference lists: N distinct primaries, then the rest") {
  Ring ring = Ring::Build(Ids(0, 8), 256);
  for (int k = 0; k < 200; ++k) {
    const std::string key = "key:" + std::to_string(k);
    PreferenceList pl = ring.Preference(key, 3);
    REQUIRE(pl.primaries.size() == 3);
    CHECK(pl.fallbacks.size() == 5);
    CHECK(pl.primaries[0].partition == ring.PartitionOf(key));
    std::set<NodeId> seen;
    for (const Replica& r : pl.primaries) {
      CHECK(ring.Owner(r.partition) == r.node);
      seen.insert(r.node);
    }
    CHECK(seen.size() == 3);
    for (const Replica& r : pl.fallbacks) {
      CHECK(ring.Owner(r.partition) == r.node);
      CHECK(seen.insert(r.node).second);
    }
  }
}

TEST_CASE("preference list walks clockwise and wraps") {
  // A hand-made ring: a a b a c over 5 partitions.
  auto r = Ring::FromOwners({"a", "a", "b", "a", "c"});
  REQUIRE(r.ok());
  const Ring& ring = r.value();
  PreferenceList pl = ring.PreferenceForPartition(3, 2);
  CHECK(pl.primaries == std::vector<Replica>{{3, "a"}, {4, "c"}});
  CHECK(pl.fallbacks == std::vector<Replica>{{2, "b"}});
  pl = ring.PreferenceForPartition(0, 1);
  CHECK(pl.primaries == std::vector<Replica>{{0, "a"}});
  CHECK(pl.fallbacks == std::vector<Replica>{{2, "b"}, {4, "c"}});
}

TEST_CASE("N larger than the member count returns every member") {
  Ring ring = Ring::Build(Ids(0, 3), 256);
  PreferenceList pl = ring.Preference("k", 5);
  CHECK(pl.primaries.size() == 3);
  CHECK(pl.fallbacks.empty());
  std::set<NodeId> nodes;
  for (const Replica& r : pl.primaries) nodes.insert(r.node);
  CHECK(nodes == std::set<NodeId>(ring.members().begin(), ring.members().end()));
}

TEST_CASE("sloppy preference substitutes up fallbacks for down primaries") {
  auto r = Ring::FromOwners({"a", "b", "c", "d", "e", "f"});
  REQUIRE(r.ok());
  const Ring& ring = r.value();
  const std::unordered_set<NodeId> all = {"a", "b", "c", "d", "e", "f"};

  // Everyone up: the primaries.
  CHECK(ring.SloppyPreferenceForPartition(1, 3, all) ==
        std::vector<Target>{{1, "b", false, ""}, {2, "c", false, ""}, {3, "d", false, ""}});

  // b and d down, e down too: c stays, f stands in for b, a for d.
  const std::unordered_set<NodeId> some = {"a", "c", "f"};
  CHECK(ring.SloppyPreferenceForPartition(1, 3, some) ==
        std::vector<Target>{{1, "f", true, "b"}, {2, "c", false, ""}, {3, "a", true, "d"}});

  // Not enough up nodes: down primaries without a stand-in are dropped.
  const std::unordered_set<NodeId> few = {"c", "e"};
  CHECK(ring.SloppyPreferenceForPartition(1, 3, few) ==
        std::vector<Target>{{1, "e", true, "b"}, {2, "c", false, ""}});

  CHECK(ring.SloppyPreferenceForPartition(1, 3, {}).empty());
}

TEST_CASE("sloppy preference by key matches the preference list") {
  Ring ring = Ring::Build(Ids(0, 5), 256);
  std::unordered_set<NodeId> up(ring.members().begin(), ring.members().end());
  PreferenceList pl = ring.Preference("user:42", 3);
  up.erase(pl.primaries[0].node);
  std::vector<Target> t = ring.SloppyPreference("user:42", 3, up);
  REQUIRE(t.size() == 3);
  CHECK(t[0] ==
        Target{pl.primaries[0].partition, pl.fallbacks[0].node, true, pl.primaries[0].node});
  CHECK(t[1] == Target{pl.primaries[1].partition, pl.primaries[1].node, false, ""});
}

TEST_CASE("owner tables round-trip and bad tables are rejected") {
  Ring ring = Ring::Build(Ids(0, 5), 128);
  auto copy = Ring::FromOwners(ring.owners());
  REQUIRE(copy.ok());
  CHECK(copy.value().owners() == ring.owners());
  CHECK(copy.value().members() == ring.members());
  CHECK(copy.value().partition_count() == 128);
  CHECK_FALSE(Ring::FromOwners({}).ok());
  CHECK_FALSE(Ring::FromOwners({"a", ""}).ok());
}

TEST_CASE("shares sum to one and name every member") {
  Ring ring = Ring::Build(Ids(0, 3), 256);
  std::vector<Share> shares = ring.Shares();
  REQUIRE(shares.size() == 3);
  double total = 0;
  uint32_t parts = 0;
  for (const Share& s : shares) {
    total += s.fraction;
    parts += s.partitions;
    CHECK(s.partitions == ring.PartitionsOf(s.node).size());
  }
  CHECK(parts == 256);
  CHECK(total == doctest::Approx(1.0));
  CHECK(std::is_sorted(shares.begin(), shares.end(),
                       [](const Share& a, const Share& b) { return a.node < b.node; }));
}

}  // namespace
}  // namespace shoal::cluster
