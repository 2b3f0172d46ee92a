#include "cluster/membership.h"

#include <doctest/doctest.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "storage/varint.h"
#include "tests/unit/cluster/test_ids.h"

namespace shoal::cluster {
namespace {

// A 40-hex-character node id derived from i.
NodeId NodeIdOf(int i) {
  return TestNodeId("member", i);
}

MemberInfo Info(int i, uint64_t incarnation = 1) {
  return MemberInfo{NodeIdOf(i), "127.0.0." + std::to_string(i + 1), 7000 + i, 17000 + i,
                    incarnation};
}

Membership SoloOf(int i, uint32_t partitions = 256) {
  return Membership::Solo(Info(i), partitions);
}

std::vector<NodeId> MemberIds(const Membership& m) {
  std::vector<NodeId> out;
  for (const auto& entry : m.members()) out.push_back(entry.first);
  return out;
}

// Each member owns floor(Q/S) or ceil(Q/S) partitions.
void CheckBalanced(const Membership& m) {
  const Ring& ring = m.ring();
  const uint32_t q = ring.partition_count();
  const auto s = static_cast<uint32_t>(ring.members().size());
  REQUIRE(s > 0);
  for (const Share& share : ring.Shares()) {
    CHECK(share.partitions >= q / s);
    CHECK(share.partitions <= (q + s - 1) / s);
  }
}

// The invariant: the ring's members are the member set.
void CheckInvariant(const Membership& m) {
  CHECK(m.ring().members() == MemberIds(m));
}

// Full-state exchange as over the wire: `to` merges what `from` encoded.
bool Receive(Membership& to, const Membership& from) {
  auto decoded = Membership::Decode(from.Encode());
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == from);
  return to.Merge(decoded.value());
}

// --- wire-format helpers for hand-made (and deliberately bad) states ------

void PutFixed64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// Appends the checksum the format ends with.
std::string Seal(std::string body) {
  PutFixed64(&body, XXH3_64bits(body.data(), body.size()));
  return body;
}

// The body of an encoding (without its checksum).
std::string BodyOf(const std::string& encoded) {
  return encoded.substr(0, encoded.size() - 8);
}

struct RawMember {
  std::string id;
  std::string host;
  uint64_t port = 7000;
  uint64_t cport = 17000;
  uint64_t incarnation = 1;
};

std::string RawState(uint64_t epoch, const std::vector<RawMember>& members,
                     const std::vector<uint64_t>& owners, uint8_t version = 1) {
  std::string out(1, static_cast<char>(version));
  storage::PutVarint64(&out, epoch);
  storage::PutVarint64(&out, members.size());
  for (const RawMember& m : members) {
    out += m.id;
    storage::PutVarint64(&out, m.host.size());
    out += m.host;
    storage::PutVarint64(&out, m.port);
    storage::PutVarint64(&out, m.cport);
    storage::PutVarint64(&out, m.incarnation);
  }
  storage::PutVarint64(&out, owners.size());
  for (uint64_t o : owners) storage::PutVarint64(&out, o);
  return out;
}

// n valid raw members, in id order.
std::vector<RawMember> RawMembers(int n) {
  std::vector<RawMember> out;
  for (int i = 1; i <= n; ++i) out.push_back({NodeIdOf(i), "10.0.0." + std::to_string(i)});
  std::sort(out.begin(), out.end(),
            [](const RawMember& a, const RawMember& b) { return a.id < b.id; });
  return out;
}

TEST_CASE("a solo node owns the whole ring at epoch 1") {
  Membership m = SoloOf(0, 64);
  CHECK(m.epoch() == 1);
  CHECK(m.members().size() == 1);
  REQUIRE(m.Find(NodeIdOf(0)) != nullptr);
  CHECK(*m.Find(NodeIdOf(0)) == Info(0));
  CHECK(m.Find(NodeIdOf(1)) == nullptr);
  CHECK(m.ring().partition_count() == 64);
  CHECK(m.ring().PartitionsOf(NodeIdOf(0)).size() == 64);
  CHECK(m.ring_digest() != 0);
  CheckInvariant(m);
  // Partition counts are clamped to what Decode accepts.
  CHECK(SoloOf(0, 0).ring().partition_count() == 1);
  CHECK(SoloOf(0, 1'000'000).ring().partition_count() == kMaxPartitions);
}

TEST_CASE("member entries are validated") {
  CHECK(IsValidMember(Info(3)));
  MemberInfo bad = Info(3);
  bad.id = "not-a-node-id";
  CHECK_FALSE(IsValidMember(bad));
  bad = Info(3);
  bad.id[0] = 'A';  // upper case
  CHECK_FALSE(IsValidMember(bad));
  bad = Info(3);
  bad.host = "";
  CHECK_FALSE(IsValidMember(bad));
  bad.host = "a b";
  CHECK_FALSE(IsValidMember(bad));
  bad.host = std::string(kMaxHostLength + 1, 'h');
  CHECK_FALSE(IsValidMember(bad));
  bad.host = std::string(kMaxHostLength, 'h');
  CHECK(IsValidMember(bad));
  bad = Info(3);
  bad.port = 65536;
  CHECK_FALSE(IsValidMember(bad));
  bad = Info(3);
  bad.cport = -1;
  CHECK_FALSE(IsValidMember(bad));
  bad = Info(3);
  bad.host = "::1";
  CHECK(IsValidMember(bad));
}

TEST_CASE("two solos merged either way compute the same two-node ring") {
  Membership a = SoloOf(0);
  Membership b = SoloOf(1);
  Membership a0 = a;
  Membership b0 = b;
  CHECK(a.Merge(b0));
  CHECK(b.Merge(a0));
  CHECK(a == b);
  CHECK(a.epoch() == 2);
  CHECK(a.members().size() == 2);
  CHECK(a.ring().PartitionsOf(NodeIdOf(0)).size() == 128);
  CHECK(a.ring().PartitionsOf(NodeIdOf(1)).size() == 128);
  CheckInvariant(a);
  // Built from the greater solo ring with minimal movement: its owner keeps
  // half, the other gets the rest.
  const Membership& base = (a0.ring_digest() > b0.ring_digest()) ? a0 : b0;
  const NodeId& other = base == a0 ? NodeIdOf(1) : NodeIdOf(0);
  for (const Move& move : Ring::Moves(base.ring(), a.ring())) CHECK(move.to == other);
  // Idempotent: nothing new either way.
  CHECK_FALSE(a.Merge(b));
  CHECK_FALSE(a.Merge(a0));
  CHECK_FALSE(a.Merge(Membership(a)));
  CHECK(a == b);
}

// states[i] merged with states[j], after checking that the merge commutes
// and that merging either input again changes nothing.
Membership CheckedMerge(const std::vector<Membership>& states, size_t i, size_t j) {
  CAPTURE(i);
  CAPTURE(j);
  Membership x = states[i];
  Membership y = states[j];
  x.Merge(states[j]);
  y.Merge(states[i]);
  CHECK(x == y);
  CHECK_FALSE(x.Merge(states[j]));
  CHECK_FALSE(x.Merge(states[i]));
  return x;
}

TEST_CASE("merge is commutative and idempotent over assorted states") {
  // Assorted states: solos, pairs, overlapping trios built in different
  // orders, address changes, and first-hand additions.
  std::vector<Membership> states;
  for (int i = 0; i < 4; ++i) states.push_back(SoloOf(i));
  Membership ab = SoloOf(0);
  REQUIRE(ab.Merge(SoloOf(1)));
  states.push_back(ab);
  Membership bc = SoloOf(1);
  REQUIRE(bc.Merge(SoloOf(2)));
  states.push_back(bc);
  Membership abc = ab;
  REQUIRE(abc.Merge(SoloOf(2)));
  states.push_back(abc);
  Membership cab = SoloOf(2);
  REQUIRE(cab.Merge(ab));
  states.push_back(cab);
  Membership added = SoloOf(3);
  REQUIRE(added.AddMember(Info(0)));
  states.push_back(added);
  Membership moved = ab;
  moved.UpdateSelf(MemberInfo{NodeIdOf(1), "10.9.9.9", 7001, 17001, 5});
  states.push_back(moved);
  Membership tie = ab;  // same incarnation as ab's entry, other address
  tie.UpdateSelf(MemberInfo{NodeIdOf(0), "10.8.8.8", 7000, 17000, 1});
  states.push_back(tie);
  states.push_back(Membership());

  for (size_t i = 0; i < states.size(); ++i) {
    CAPTURE(i);
    Membership self = states[i];
    CHECK_FALSE(self.Merge(states[i]));
    CHECK(self == states[i]);
    for (size_t j = 0; j < states.size(); ++j) {
      CAPTURE(j);
      Membership x = CheckedMerge(states, i, j);
      if (!x.members().empty()) {
        CheckInvariant(x);
        CheckBalanced(x);
      }
      // The result's ring is at least as great as either input's.
      CHECK(x.epoch() >= states[i].epoch());
      CHECK(x.epoch() >= states[j].epoch());
    }
  }
}

TEST_CASE("merging into an empty state yields that state") {
  Membership empty;
  CHECK(empty.members().empty());
  CHECK(empty.epoch() == 0);
  Membership ab = SoloOf(0);
  REQUIRE(ab.Merge(SoloOf(1)));
  CHECK(empty.Merge(ab));
  CHECK(empty == ab);
  CHECK_FALSE(ab.Merge(Membership()));
}

TEST_CASE("first-hand additions") {
  Membership a = SoloOf(0);
  CHECK(a.AddMember(Info(1)));
  CHECK(a.epoch() == 2);
  CHECK(a.members().size() == 2);
  CheckInvariant(a);
  CheckBalanced(a);
  // Moves from the solo ring go only to the newcomer.
  for (const Move& move : Ring::Moves(SoloOf(0).ring(), a.ring())) CHECK(move.to == NodeIdOf(1));
  CHECK_FALSE(a.AddMember(Info(1)));  // already known
  const uint64_t digest = a.ring_digest();
  CHECK(a.AddMember(Info(1, 2)));  // a newer entry: the address part changes
  CHECK(a.epoch() == 2);           // the ring does not
  CHECK(a.ring_digest() == digest);
  MemberInfo bad = Info(2);
  bad.port = 70000;
  CHECK_FALSE(a.AddMember(bad));
  CHECK(a.members().size() == 2);
  Membership empty;
  CHECK(empty.AddMember(Info(5)));
  CHECK(empty.epoch() == 1);
  CheckInvariant(empty);
}

TEST_CASE("an address change follows the higher incarnation") {
  Membership a = SoloOf(0);
  Membership b = SoloOf(1);
  Membership c = SoloOf(2);
  REQUIRE(a.Merge(b));
  REQUIRE(c.Merge(a));
  REQUIRE(a.Merge(c));
  REQUIRE(b.Merge(a));
  REQUIRE(a == b);
  REQUIRE(a == c);
  const uint64_t epoch = a.epoch();
  const uint64_t digest = a.ring_digest();

  // b restarts on another address with a higher incarnation.
  const MemberInfo moved{NodeIdOf(1), "127.0.0.9", 7777, 17777, 2};
  b.UpdateSelf(moved);
  CHECK(*b.Find(NodeIdOf(1)) == moved);
  CHECK(b.epoch() == epoch);  // UpdateSelf never touches the ring
  CHECK(b.ring_digest() == digest);

  CHECK(Receive(a, b));
  CHECK(*a.Find(NodeIdOf(1)) == moved);
  CHECK(a.epoch() == epoch);
  CHECK(a.ring_digest() == digest);

  // c still has the old entry: it loses against the new one either way.
  Membership stale = c;
  CHECK_FALSE(Receive(a, stale));
  CHECK(*a.Find(NodeIdOf(1)) == moved);
  CHECK(Receive(c, a));
  CHECK(*c.Find(NodeIdOf(1)) == moved);
  CHECK(a == c);

  // Same incarnation, different address: both sides pick the same entry.
  Membership x = a;
  Membership y = a;
  x.UpdateSelf(MemberInfo{NodeIdOf(2), "127.0.0.50", 7002, 17002, 1});
  y.UpdateSelf(MemberInfo{NodeIdOf(2), "127.0.0.40", 7002, 17002, 1});
  Membership x0 = x;
  x.Merge(y);
  y.Merge(x0);
  CHECK(x == y);
  CHECK(x.Find(NodeIdOf(2))->host == "127.0.0.50");  // the greater (host, port, cport)

  // UpdateSelf of a non-member or an invalid entry is ignored.
  Membership before = a;
  a.UpdateSelf(Info(7));
  MemberInfo invalid = moved;
  invalid.host = "";
  a.UpdateSelf(invalid);
  CHECK(a == before);
}

// Nodes start solo and exchange full states with random peers they know of
// (as the cluster node does: a seed, then everyone it learns about).
void RunConvergence(int nodes, uint32_t partitions, uint64_t seed) {
  CAPTURE(nodes);
  CAPTURE(partitions);
  CAPTURE(seed);
  std::mt19937_64 rng(seed);
  std::vector<Membership> state;
  for (int i = 0; i < nodes; ++i) state.push_back(SoloOf(i, partitions));

  // Every ring ever held, by epoch: (digest -> member count).
  std::map<uint64_t, std::map<uint64_t, size_t>> rings;
  auto record = [&](const Membership& m) {
    rings[m.epoch()][m.ring_digest()] = m.members().size();
  };
  for (const Membership& m : state) record(m);

  auto index_of = [&](const NodeId& id) {
    for (int i = 0; i < nodes; ++i) {
      if (NodeIdOf(i) == id) return i;
    }
    return -1;
  };
  auto converged = [&] {
    for (const Membership& m : state) {
      if (!(m == state[0]) || m.members().size() != static_cast<size_t>(nodes)) return false;
    }
    return true;
  };

  int steps = 0;
  for (; steps < 100'000 && !converged(); ++steps) {
    const int i = static_cast<int>(rng() % nodes);
    int j;
    if (rng() % 4 == 0) {
      // A seed / CLUSTER MEET: any node, introduced first hand or by state.
      j = static_cast<int>(rng() % nodes);
      if (j == i) continue;
    } else {
      // A peer i already knows of.
      std::vector<NodeId> known = MemberIds(state[i]);
      j = index_of(known[rng() % known.size()]);
      if (j == i) continue;
    }
    const auto before_i = std::make_pair(state[i].epoch(), state[i].ring_digest());
    const auto before_j = std::make_pair(state[j].epoch(), state[j].ring_digest());
    if (rng() % 8 == 0) {
      state[i].AddMember(*state[j].Find(NodeIdOf(j)));  // the handshake's info
    } else {
      // Request and response: j merges i's state and answers with its own.
      Receive(state[j], state[i]);
      Receive(state[i], state[j]);
    }
    // A node's ring only moves forward in (epoch, digest) order.
    CHECK(std::make_pair(state[i].epoch(), state[i].ring_digest()) >= before_i);
    CHECK(std::make_pair(state[j].epoch(), state[j].ring_digest()) >= before_j);
    for (const Membership* m : {&state[i], &state[j]}) {
      CheckInvariant(*m);
      record(*m);
    }
  }
  REQUIRE(converged());
  const Membership& final_state = state[0];
  CheckBalanced(final_state);
  CHECK(final_state.ring().members().size() == static_cast<size_t>(nodes));
  // The converged ring is the greatest ring any node ever held: the last
  // epoch, and within it the greatest digest. (While members spread, two
  // nodes may derive different rings under one epoch from different member
  // sets; the digest decides, and only that one survives.)
  CHECK(rings.rbegin()->first == final_state.epoch());
  CHECK(rings.rbegin()->second.rbegin()->first == final_state.ring_digest());
  // Epoch 1 alone had one ring per node (every solo ring): the epoch names
  // a ring only together with its digest.
  CHECK(rings.begin()->second.size() == static_cast<size_t>(nodes));
  // Once converged, exchanges change nothing.
  for (int k = 0; k < 20; ++k) {
    const int i = static_cast<int>(rng() % nodes), j = static_cast<int>(rng() % nodes);
    CHECK_FALSE(Receive(state[i], state[j]));
  }
}

TEST_CASE("random pairwise exchanges converge on one member list and one ring") {
  uint64_t seed = 1;
  for (int nodes = 3; nodes <= 8; ++nodes) {
    for (int round = 0; round < 5; ++round) RunConvergence(nodes, 256, seed++);
  }
  RunConvergence(5, 64, seed++);
  RunConvergence(8, 3, seed++);  // more members than partitions
}

TEST_CASE("encode and decode round trip") {
  std::vector<Membership> states = {SoloOf(0), SoloOf(3, 1), SoloOf(4, kMaxPartitions)};
  Membership many = SoloOf(0, 1024);
  for (int i = 1; i < 12; ++i) REQUIRE(many.Merge(SoloOf(i, 1024)));
  states.push_back(many);
  Membership crowded = SoloOf(0, 3);  // members that own no partition
  for (int i = 1; i < 6; ++i) REQUIRE(crowded.AddMember(Info(i)));
  CHECK(crowded.ring().members().size() == 6);
  states.push_back(crowded);
  Membership big_incarnation = SoloOf(0);
  big_incarnation.UpdateSelf(
      MemberInfo{NodeIdOf(0), std::string(kMaxHostLength, 'h'), 65535, 0, ~uint64_t{0}});
  states.push_back(big_incarnation);

  for (const Membership& m : states) {
    const std::string bytes = m.Encode();
    auto decoded = Membership::Decode(bytes);
    REQUIRE(decoded.ok());
    CHECK(decoded.value() == m);
    CHECK(decoded.value().ring().owners() == m.ring().owners());
    CHECK(decoded.value().ring_digest() == m.ring_digest());
    CHECK(decoded.value().Encode() == bytes);
  }
  // Compact: two members and 256 partitions fit in well under 512 bytes.
  Membership two = SoloOf(0);
  REQUIRE(two.Merge(SoloOf(1)));
  CHECK(two.Encode().size() < 400);
}

TEST_CASE("decode rejects every truncation and every damaged byte") {
  Membership m = SoloOf(0, 32);
  for (int i = 1; i < 4; ++i) REQUIRE(m.Merge(SoloOf(i, 32)));
  const std::string bytes = m.Encode();
  REQUIRE(Membership::Decode(bytes).ok());
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto r = Membership::Decode(std::string_view(bytes).substr(0, len));
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.status().code() == storage::Code::kCorruption);
  }
  CHECK_FALSE(Membership::Decode(bytes + '\0').ok());
  // Every single-bit flip breaks the checksum.
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = bytes;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
      CHECK_FALSE(Membership::Decode(bad).ok());
    }
  }
}

TEST_CASE("decode validates the body even under a good checksum") {
  // Random damage re-sealed with a valid checksum reaches the parser: it
  // must fail cleanly or yield a state that keeps the invariant.
  Membership m = SoloOf(0, 16);
  for (int i = 1; i < 5; ++i) REQUIRE(m.Merge(SoloOf(i, 16)));
  const std::string body = BodyOf(m.Encode());
  std::mt19937_64 rng(42);
  int accepted = 0;
  for (int trial = 0; trial < 20'000; ++trial) {
    std::string bad = body;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      bad[rng() % bad.size()] = static_cast<char>(rng());
    }
    if (rng() % 4 == 0) bad.resize(rng() % bad.size());
    auto r = Membership::Decode(Seal(bad));
    if (!r.ok()) continue;
    ++accepted;
    CheckInvariant(r.value());
    for (const auto& [id, info] : r.value().members()) CHECK(IsValidMember(info));
    auto again = Membership::Decode(r.value().Encode());
    REQUIRE(again.ok());
    CHECK(again.value() == r.value());
  }
  CHECK(accepted < 20'000);  // most damage is caught
}

TEST_CASE("decode rejects hand-made bad states") {
  const std::vector<RawMember> two = RawMembers(2);
  const std::vector<uint64_t> owners = {0, 1, 0, 1};
  // The writer matches the format: the good state decodes.
  auto good = Membership::Decode(Seal(RawState(3, two, owners)));
  REQUIRE(good.ok());
  CHECK(good.value().epoch() == 3);
  CHECK(good.value().members().size() == 2);
  CHECK(good.value().ring().Owner(1) == two[1].id);
  CHECK(good.value().Find(two[0].id)->host == two[0].host);
  // More members than partitions: the third member owns none.
  const std::vector<RawMember> three = RawMembers(3);
  auto crowded = Membership::Decode(Seal(RawState(3, three, {2, 0})));
  REQUIRE(crowded.ok());
  CHECK(crowded.value().ring().members().size() == 3);
  CHECK(crowded.value().ring().owners() == std::vector<NodeId>{three[2].id, three[0].id});

  auto rejects = [](const std::string& body) {
    auto r = Membership::Decode(Seal(body));
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.status().code() == storage::Code::kCorruption);
  };
  rejects(RawState(3, two, owners, 2));            // version 2 lacking its new fields
  rejects(RawState(0, two, owners));               // epoch 0
  rejects(RawState(kMaxEpoch + 1, two, owners));   // epoch past the bound
  rejects(RawState(3, {}, owners));                // no members
  rejects(RawState(3, two, {}));                   // no partitions
  rejects(RawState(3, two, {0, 2, 0, 1}));         // owner out of range
  rejects(RawState(3, two, {0, 0, 0, 0}));         // a member owns nothing
  rejects(RawState(3, two, {0, 0, 0, 1}));         // unbalanced
  rejects(RawState(3, three, {1, 1}));             // unbalanced, Q < S
  rejects(RawState(3, {two[1], two[0]}, owners));  // not in id order
  rejects(RawState(3, {two[0], two[0]}, owners));  // duplicate id
  rejects(RawState(3, two, owners) + 'x');         // trailing bytes
  rejects(RawState(3, two, std::vector<uint64_t>(kMaxPartitions + 1, 0)));
  {
    std::string body = RawState(3, two, owners);
    body.resize(body.size() - 1);  // one owner short
    rejects(body);
  }
  {
    std::string body(1, '\1');
    storage::PutVarint64(&body, 3);
    storage::PutVarint64(&body, uint64_t{1} << 40);  // a huge member count
    body += std::string(64, 'a');
    rejects(body);
  }
  auto member_rejected = [&](RawMember bad) {
    std::vector<RawMember> members = {bad};
    rejects(RawState(3, members, {0}));
  };
  member_rejected({std::string(40, 'g'), "h"});  // not hex
  member_rejected({std::string(40, 'A'), "h"});  // upper case
  member_rejected({two[0].id, ""});              // empty host
  member_rejected({two[0].id, "a\nb"});          // control character
  member_rejected({two[0].id, std::string(kMaxHostLength + 1, 'h')});
  member_rejected({two[0].id, "h", 65536});                 // port
  member_rejected({two[0].id, "h", 1, uint64_t{1} << 40});  // cport
  // Bad varints: an overlong epoch.
  {
    std::string body(1, '\1');
    body += std::string(11, '\xff');
    rejects(body);
  }
  CHECK_FALSE(Membership::Decode("").ok());
  CHECK_FALSE(Membership::Decode(std::string(9, '\0')).ok());
  CHECK_FALSE(Membership::Decode(Membership().Encode()).ok());  // the empty state
}

}  // namespace
}  // namespace shoal::cluster

// --- leaving members, removed ids and ready rows (partition transfer) ------

namespace shoal::cluster {
namespace {

// The ids of the members not leaving (every member if all are leaving).
std::vector<NodeId> ActiveIdsOf(const Membership& m) {
  std::vector<NodeId> out;
  for (const auto& [id, info] : m.members()) {
    if (!info.leaving) out.push_back(id);
  }
  return out.empty() ? MemberIds(m) : out;
}

// The full invariant of membership.h: the ring is over the active members,
// no removed id is a member, ready rows exist only for members and have one
// bit per partition.
void CheckFullInvariant(const Membership& m) {
  if (m.members().empty()) return;
  CHECK(m.ring().members() == ActiveIdsOf(m));
  for (const NodeId& id : m.removed()) CHECK(m.Find(id) == nullptr);
  for (const auto& [id, row] : m.ready()) {
    CHECK(m.Find(id) != nullptr);
    CHECK(row.bits.size() == PartitionBitmapBytes(m.ring().partition_count()));
  }
}

// A state of members 0..count-1 built by first-hand additions to SoloOf(0).
Membership GroupOf(int count, uint32_t partitions = 256) {
  Membership m = SoloOf(0, partitions);
  for (int i = 1; i < count; ++i) REQUIRE(m.AddMember(Info(i)));
  return m;
}

MemberInfo Leaving(int i, uint64_t incarnation = 2) {
  MemberInfo info = Info(i, incarnation);
  info.leaving = true;
  return info;
}

// A bitmap of `partitions` partitions with `set` on.
std::string Bits(uint32_t partitions, const std::vector<uint32_t>& set) {
  std::string bits(PartitionBitmapBytes(partitions), '\0');
  for (uint32_t k : set) bits[k / 8] = static_cast<char>(bits[k / 8] | (1 << (k % 8)));
  return bits;
}

TEST_CASE("a leaving member leaves the ring but stays a member") {
  Membership m = GroupOf(4);
  const uint64_t epoch = m.epoch();
  const Ring before = m.ring();
  m.UpdateSelf(Leaving(2));
  REQUIRE(m.Find(NodeIdOf(2)) != nullptr);
  CHECK(m.Find(NodeIdOf(2))->leaving);
  CHECK(m.members().size() == 4);
  CHECK_FALSE(m.ring().IsMember(NodeIdOf(2)));
  CHECK(m.ring().members().size() == 3);
  CHECK(m.epoch() == epoch + 1);
  CheckFullInvariant(m);
  CheckBalanced(m);
  // Minimal movement: only the leaving member's partitions move.
  const std::vector<Move> moves = Ring::Moves(before, m.ring());
  CHECK(moves.size() == before.PartitionsOf(NodeIdOf(2)).size());
  for (const Move& move : moves) CHECK(move.from == NodeIdOf(2));

  // The flag spreads: a peer with the old entry adopts it and the same ring.
  Membership peer = GroupOf(4);
  CHECK(Receive(peer, m));
  CHECK(peer == m);
  // At one incarnation, the leaving entry beats the staying one either way.
  Membership x = GroupOf(4);
  Membership y = GroupOf(4);
  x.UpdateSelf(Leaving(1, 1));
  Membership x0 = x;
  x.Merge(y);
  y.Merge(x0);
  CHECK(x == y);
  CHECK(x.Find(NodeIdOf(1))->leaving);

  // Coming back (a higher incarnation, not leaving) re-enters the ring.
  m.UpdateSelf(Info(2, 3));
  CHECK(m.ring().IsMember(NodeIdOf(2)));
  CHECK(m.ring().members().size() == 4);
  CheckFullInvariant(m);
  CheckBalanced(m);

  // Every member leaving: the ring keeps them all (a ring needs members).
  Membership all = GroupOf(2);
  all.UpdateSelf(Leaving(0));
  all.UpdateSelf(Leaving(1));
  CHECK(all.ring().members() == MemberIds(all));
  CheckFullInvariant(all);
}

TEST_CASE("remove drops the member and its ready row for good") {
  Membership m = GroupOf(4, 64);
  REQUIRE(m.SetReady(NodeIdOf(1), Bits(64, {1, 2, 3})));
  REQUIRE(m.SetReady(NodeIdOf(2), Bits(64, {4})));
  const Ring before = m.ring();
  const uint64_t epoch = m.epoch();
  CHECK(m.Remove(NodeIdOf(1)));
  CHECK(m.Find(NodeIdOf(1)) == nullptr);
  CHECK(m.IsRemoved(NodeIdOf(1)));
  CHECK(m.removed() == std::set<NodeId>{NodeIdOf(1)});
  CHECK_FALSE(m.ready().contains(NodeIdOf(1)));
  CHECK(m.IsReady(NodeIdOf(2), 4));
  CHECK_FALSE(m.IsReady(NodeIdOf(1), 1));
  CHECK(m.epoch() == epoch + 1);
  CHECK(m.ring().members().size() == 3);
  CheckFullInvariant(m);
  CheckBalanced(m);
  for (const Move& move : Ring::Moves(before, m.ring())) CHECK(move.from == NodeIdOf(1));

  CHECK_FALSE(m.Remove(NodeIdOf(1)));  // not a member any more
  CHECK_FALSE(m.Remove(NodeIdOf(9)));  // never was
  // A leaving member can be removed; the last active one cannot.
  m.UpdateSelf(Leaving(2));
  m.UpdateSelf(Leaving(3));
  CHECK_FALSE(m.Remove(NodeIdOf(0)));
  CHECK(m.Remove(NodeIdOf(2)));
  CHECK(m.Remove(NodeIdOf(3)));
  CHECK(m.members().size() == 1);
  CHECK(m.removed().size() == 3);
  CheckFullInvariant(m);
  CHECK_FALSE(m.Remove(NodeIdOf(0)));
  CHECK(m.members().size() == 1);
}

TEST_CASE("a removed id never comes back through a merge") {
  const Membership old_state = GroupOf(3);  // still lists member 2
  Membership forgot = old_state;
  REQUIRE(forgot.Remove(NodeIdOf(2)));
  Membership newer = old_state;  // member 2 with a higher incarnation
  newer.UpdateSelf(Info(2, 9));

  for (const Membership& other : {old_state, newer}) {
    // Either order gives the same state, without member 2.
    Membership a = forgot;
    Membership b = other;
    a.Merge(other);
    b.Merge(forgot);
    CHECK(a == b);
    CHECK(a.Find(NodeIdOf(2)) == nullptr);
    CHECK(a.IsRemoved(NodeIdOf(2)));
    CHECK_FALSE(a.ring().IsMember(NodeIdOf(2)));
    CheckFullInvariant(a);
    CHECK_FALSE(a.Merge(other));
    CHECK_FALSE(Receive(b, other));
  }
  // A first-hand addition does not bring it back either.
  Membership a = forgot;
  CHECK_FALSE(a.AddMember(Info(2, 100)));
  CHECK(a == forgot);
  // The removal spreads to a third party through a relay.
  Membership relay = GroupOf(3);
  REQUIRE(Receive(relay, forgot));
  CHECK(relay.IsRemoved(NodeIdOf(2)));
  Membership third = GroupOf(3);
  REQUIRE(Receive(third, relay));
  CHECK(third == forgot);
}

TEST_CASE("a merge that removes every member leaves an empty ring") {
  // Two sides forgot each other (CLUSTER FORGET on both sides of a split):
  // the merge removes both members, so no member is left for the ring.
  Membership a = GroupOf(2, 16);
  REQUIRE(a.Remove(NodeIdOf(1)));
  Membership b = SoloOf(1, 16);
  REQUIRE(b.AddMember(Info(0)));
  REQUIRE(b.Remove(NodeIdOf(0)));
  Membership x = a;
  Membership y = b;
  CHECK(x.Merge(b));
  CHECK(y.Merge(a));
  CHECK(x == y);
  CHECK(x.members().empty());
  CHECK(x.removed().size() == 2);
  CHECK(x.ring().empty());  // not a ring owned by a removed member
  CHECK(x.ring().partition_count() == 16);
  CHECK(x.epoch() > std::max(a.epoch(), b.epoch()));
  CHECK_FALSE(x.Merge(a));
  CHECK_FALSE(x.Merge(b));
  // It encodes (the caller saves it) though, like any empty state, it does
  // not decode.
  CHECK_FALSE(Membership::Decode(x.Encode()).ok());
  // A third node that hears of it keeps itself and a ring over itself.
  Membership c = SoloOf(2, 16);
  CHECK(c.Merge(x));
  CHECK(c.members().size() == 1);
  CHECK(c.ring().members() == std::vector<NodeId>{NodeIdOf(2)});
  CheckFullInvariant(c);
}

TEST_CASE("ready rows: set by their member, merged by version") {
  Membership m = GroupOf(3, 20);
  const std::string bits = Bits(20, {0, 7, 19});
  CHECK(PartitionBitmapBytes(20) == 3);
  CHECK(m.ready().empty());
  CHECK_FALSE(m.IsReady(NodeIdOf(0), 0));
  CHECK(m.SetReady(NodeIdOf(0), bits));
  CHECK(m.ready().at(NodeIdOf(0)).version == 1);
  for (uint32_t k = 0; k < 20; ++k)
    CHECK(m.IsReady(NodeIdOf(0), k) == (k == 0 || k == 7 || k == 19));
  CHECK_FALSE(m.IsReady(NodeIdOf(1), 0));
  CHECK_FALSE(m.SetReady(NodeIdOf(0), bits));  // unchanged
  CHECK(m.ready().at(NodeIdOf(0)).version == 1);
  CHECK_FALSE(m.SetReady(NodeIdOf(0), std::string(4, '\xff')));  // wrong size
  CHECK_FALSE(m.SetReady(NodeIdOf(0), std::string(2, '\xff')));
  CHECK_FALSE(m.SetReady(NodeIdOf(7), bits));  // not a member
  CHECK(m.ready().size() == 1);
  // An all-zero first row is still a row (version 1).
  CHECK(m.SetReady(NodeIdOf(1), Bits(20, {})));
  CHECK(m.ready().at(NodeIdOf(1)).version == 1);

  SUBCASE("the higher version wins, either way") {
    Membership a = m;
    Membership b = m;
    REQUIRE(a.SetReady(NodeIdOf(0), Bits(20, {1})));
    REQUIRE(a.SetReady(NodeIdOf(0), Bits(20, {2})));     // version 3
    REQUIRE(b.SetReady(NodeIdOf(0), Bits(20, {5, 6})));  // version 2
    Membership a0 = a;
    CHECK(a.Merge(b) == false);  // b's row is older: nothing changes
    CHECK(b.Merge(a0));
    CHECK(a == b);
    CHECK(a.ready().at(NodeIdOf(0)).version == 3);
    CHECK(a.IsReady(NodeIdOf(0), 2));
    CHECK_FALSE(a.IsReady(NodeIdOf(0), 5));
  }
  SUBCASE("a version tie is decided by the bits, the same way on both sides") {
    Membership a = m;
    Membership b = m;
    REQUIRE(a.SetReady(NodeIdOf(2), Bits(20, {3})));
    REQUIRE(b.SetReady(NodeIdOf(2), Bits(20, {4})));
    Membership a0 = a;
    a.Merge(b);
    b.Merge(a0);
    CHECK(a == b);
    CHECK(a.ready().at(NodeIdOf(2)).bits == std::max(Bits(20, {3}), Bits(20, {4})));
  }
  SUBCASE("rows of a member unknown to the receiver come with the member") {
    Membership solo = SoloOf(0, 20);
    REQUIRE(Receive(solo, m));
    CHECK(solo == m);
  }
  SUBCASE("rows survive the encoding") {
    auto decoded = Membership::Decode(m.Encode());
    REQUIRE(decoded.ok());
    CHECK(decoded.value().ready() == m.ready());
  }
}

TEST_CASE("ready rows of another partition count are dropped, and only once") {
  // A peer configured with other vnodes: the base ring's count wins, rows
  // sized for the other count mean nothing and never win.
  Membership b = SoloOf(1, 32);
  REQUIRE(b.SetReady(NodeIdOf(1), Bits(32, {3})));
  REQUIRE(b.AddMember(Info(0)));
  REQUIRE(b.SetReady(NodeIdOf(0), Bits(32, {4})));
  REQUIRE(b.SetReady(NodeIdOf(0), Bits(32, {5})));  // version 2
  REQUIRE(b.epoch() == 2);
  for (const bool a_wins : {false, true}) {
    CAPTURE(a_wins);
    Membership a = SoloOf(0, 16);
    REQUIRE(a.SetReady(NodeIdOf(0), Bits(16, {1, 2})));  // version 1
    if (a_wins) {                                        // a's ring at epoch 3
      REQUIRE(a.AddMember(Info(3)));
      a.UpdateSelf(Leaving(3));
      REQUIRE(a.epoch() == 3);
    }
    Membership x = a;
    Membership y = b;
    CHECK(x.Merge(b));
    y.Merge(a);
    CHECK(x == y);
    CheckFullInvariant(x);
    CHECK(x.ring().partition_count() == (a_wins ? 16 : 32));
    // Merging either input again changes nothing, and says so.
    CHECK_FALSE(x.Merge(a));
    CHECK_FALSE(x.Merge(b));
    CHECK_FALSE(y.Merge(a));
    CHECK_FALSE(y.Merge(b));
    // The row of the right size survives the other state's greater row.
    REQUIRE(x.ready().contains(NodeIdOf(0)));
    if (a_wins) {
      CHECK(x.ready().at(NodeIdOf(0)) == ReadyRow{1, Bits(16, {1, 2}), {}});
      CHECK_FALSE(x.ready().contains(NodeIdOf(1)));
    } else {
      CHECK(x.ready().at(NodeIdOf(0)) == ReadyRow{2, Bits(32, {5}), {}});
      CHECK(x.IsReady(NodeIdOf(1), 3));
    }
  }
}

// A random state over members 0..universe-1 with partitions q: built from a
// solo by first-hand additions, leaving flags, removals, ready rows, and
// merges of other such states.
Membership RandomState(std::mt19937_64& rng, int universe, uint32_t q, int depth = 0) {
  Membership m = SoloOf(static_cast<int>(rng() % universe), q);
  const int steps = 1 + static_cast<int>(rng() % 12);
  for (int s = 0; s < steps; ++s) {
    const int i = static_cast<int>(rng() % universe);
    switch (rng() % 6) {
      case 0:
      case 1:
        m.AddMember(Info(i, 1 + rng() % 3));
        break;
      case 2:
        if (m.Find(NodeIdOf(i)) != nullptr) {
          MemberInfo info = *m.Find(NodeIdOf(i));
          info.incarnation += rng() % 2;
          info.leaving = !info.leaving;
          if (rng() % 3 == 0) info.host = "10.1.1." + std::to_string(rng() % 4);
          m.UpdateSelf(info);
        }
        break;
      case 3:
        if (rng() % 3 == 0) m.Remove(NodeIdOf(i));
        break;
      case 4: {
        std::string bits(PartitionBitmapBytes(q), '\0');
        for (char& c : bits) c = static_cast<char>(rng() & rng());
        std::string releasing;  // sometimes some held partitions are releasing
        if (rng() % 2 == 0) {
          releasing = bits;
          for (char& c : releasing) c = static_cast<char>(c & rng());
        }
        const int times = 1 + static_cast<int>(rng() % 2);
        for (int t = 0; t < times; ++t) m.SetReady(NodeIdOf(i), bits, releasing);
        break;
      }
      case 5:
        if (depth < 1) m.Merge(RandomState(rng, universe, q, depth + 1));
        break;
    }
  }
  return m;
}

// Everything but the ring: members, removed ids, ready rows.
bool SameTables(const Membership& a, const Membership& b) {
  return a.members() == b.members() && a.removed() == b.removed() && a.ready() == b.ready();
}

TEST_CASE("merge is commutative, idempotent and associative over random states") {
  int associative_rings = 0, trials = 0;
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    const uint32_t q = seed % 2 == 0 ? 16 : 64;
    std::vector<Membership> states;
    for (int i = 0; i < 14; ++i) states.push_back(RandomState(rng, 6, q));
    for (const Membership& s : states) CheckFullInvariant(s);
    for (size_t i = 0; i < states.size(); ++i) {
      for (size_t j = 0; j < states.size(); ++j) {
        CAPTURE(i);
        CAPTURE(j);
        Membership x = CheckedMerge(states, i, j);
        CHECK_FALSE(x.Merge(Membership(x)));
        CheckFullInvariant(x);
        if (!x.members().empty()) CheckBalanced(x);
        // Removed ids are the union; a removed id is in no table.
        for (const NodeId& id : states[i].removed()) CHECK(x.IsRemoved(id));
        for (const NodeId& id : states[j].removed()) CHECK(x.IsRemoved(id));
        for (size_t k = 0; k < states.size(); k += 3) {
          CAPTURE(k);
          Membership left = x;  // (i + j) + k
          left.Merge(states[k]);
          Membership jk = states[j];  // i + (j + k)
          jk.Merge(states[k]);
          Membership right = states[i];
          right.Merge(jk);
          // Members, removed ids and ready rows are joins: associative.
          CHECK(SameTables(left, right));
          // The ring is derived from the greater base, which depends on the
          // grouping (see membership.h: nodes converge through the digest
          // order, not through associativity); the two results still
          // converge on one state.
          ++trials;
          if (left == right) ++associative_rings;
          Membership l2 = left;
          Membership r2 = right;
          l2.Merge(right);
          r2.Merge(left);
          CHECK(l2 == r2);
          CHECK_FALSE(l2.Merge(left));
          CHECK_FALSE(l2.Merge(right));
        }
      }
    }
  }
  MESSAGE("groupings giving equal rings: " << associative_rings << " of " << trials);
}

TEST_CASE("random states with leaving members, removed ids and ready rows round-trip") {
  for (uint64_t seed = 100; seed < 106; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    for (uint32_t q : {1u, 7u, 64u, 256u}) {
      for (int i = 0; i < 20; ++i) {
        const Membership m = RandomState(rng, 7, q);
        if (m.members().empty()) continue;
        const std::string bytes = m.Encode();
        REQUIRE(bytes[0] == '\3');
        auto decoded = Membership::Decode(bytes);
        REQUIRE(decoded.ok());
        CHECK(decoded.value() == m);
        CHECK(decoded.value().ready() == m.ready());
        CHECK(decoded.value().removed() == m.removed());
        CHECK(decoded.value().members() == m.members());
        CHECK(decoded.value().Encode() == bytes);
      }
    }
  }
}

TEST_CASE("decode rejects every truncation and bit flip of a state with the new parts") {
  Membership m = GroupOf(4, 16);
  m.UpdateSelf(Leaving(3));
  REQUIRE(m.Remove(NodeIdOf(2)));
  REQUIRE(m.SetReady(NodeIdOf(0), Bits(16, {0, 5, 15})));
  REQUIRE(m.SetReady(NodeIdOf(3), Bits(16, {1})));
  REQUIRE(m.members().size() == 3);
  const std::string bytes = m.Encode();
  REQUIRE(Membership::Decode(bytes).ok());
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto r = Membership::Decode(std::string_view(bytes).substr(0, len));
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.status().code() == storage::Code::kCorruption);
  }
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = bytes;
      bad[pos] = static_cast<char>(bad[pos] ^ (1 << bit));
      CHECK_FALSE(Membership::Decode(bad).ok());
    }
  }
  // Damage under a good checksum: fails cleanly or keeps the invariant.
  const std::string body = BodyOf(bytes);
  std::mt19937_64 rng(7);
  int accepted = 0;
  for (int trial = 0; trial < 20'000; ++trial) {
    std::string bad = body;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) bad[rng() % bad.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) bad.resize(rng() % bad.size());
    auto r = Membership::Decode(Seal(bad));
    if (!r.ok()) continue;
    ++accepted;
    CheckFullInvariant(r.value());
    auto again = Membership::Decode(r.value().Encode());
    REQUIRE(again.ok());
    CHECK(again.value() == r.value());
  }
  CHECK(accepted < 20'000);
}

// A version-2 body built by hand.
struct RawMember2 {
  std::string id;
  std::string host;
  uint64_t flags = 0;
};
struct RawRow {
  uint64_t member;  // index into the member list
  uint64_t version;
  std::string bits;
};
std::string RawState2(uint64_t epoch, const std::vector<RawMember2>& members,
                      const std::vector<std::string>& removed, const std::vector<uint64_t>& owners,
                      const std::vector<RawRow>& rows) {
  std::string out(1, '\2');
  storage::PutVarint64(&out, epoch);
  storage::PutVarint64(&out, members.size());
  for (const RawMember2& m : members) {
    out += m.id;
    storage::PutVarint64(&out, m.host.size());
    out += m.host;
    storage::PutVarint64(&out, 7000);
    storage::PutVarint64(&out, 17000);
    storage::PutVarint64(&out, 1);
    storage::PutVarint64(&out, m.flags);
  }
  storage::PutVarint64(&out, removed.size());
  for (const std::string& id : removed) out += id;
  storage::PutVarint64(&out, owners.size());
  for (uint64_t o : owners) storage::PutVarint64(&out, o);
  storage::PutVarint64(&out, rows.size());
  for (const RawRow& r : rows) {
    storage::PutVarint64(&out, r.member);
    storage::PutVarint64(&out, r.version);
    out += r.bits;
  }
  return out;
}

TEST_CASE("decode rejects hand-made bad version-2 states") {
  // Ids 0..4 in id order: three members and two others.
  std::vector<NodeId> ids;
  for (int i = 1; i <= 5; ++i) ids.push_back(NodeIdOf(i));
  std::sort(ids.begin(), ids.end());
  const std::vector<RawMember2> three = {{ids[0], "h0"}, {ids[2], "h2"}, {ids[4], "h4"}};
  const std::vector<uint64_t> owners = {0, 1, 2, 0, 1, 2, 0, 1};  // Q = 8
  const std::string one(1, '\x0f');                               // one bitmap byte for Q = 8

  // The writer matches the format: the good state decodes.
  auto good = Membership::Decode(
      Seal(RawState2(5, three, {ids[1], ids[3]}, owners, {{0, 2, one}, {2, 1, one}})));
  REQUIRE(good.ok());
  CHECK(good.value().removed() == std::set<NodeId>{ids[1], ids[3]});
  CHECK(good.value().ready().at(ids[0]).version == 2);
  CHECK(good.value().IsReady(ids[4], 3));
  CHECK_FALSE(good.value().IsReady(ids[4], 4));
  CHECK_FALSE(good.value().ready().contains(ids[2]));
  CheckFullInvariant(good.value());
  {
    // A leaving member that owns nothing is fine.
    std::vector<RawMember2> leaving = three;
    leaving[1].flags = 1;
    auto r = Membership::Decode(Seal(RawState2(5, leaving, {}, {0, 2, 0, 2, 0, 2, 0, 2}, {})));
    REQUIRE(r.ok());
    CHECK(r.value().Find(ids[2])->leaving);
    CHECK(r.value().ring().members() == std::vector<NodeId>{ids[0], ids[4]});
  }

  auto rejects = [](const std::string& body) {
    auto r = Membership::Decode(Seal(body));
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.status().code() == storage::Code::kCorruption);
  };
  {
    std::vector<RawMember2> bad = three;
    bad[0].flags = 2;  // an unknown flag
    rejects(RawState2(5, bad, {}, owners, {}));
    bad[0].flags = 3;
    rejects(RawState2(5, bad, {}, owners, {}));
    bad[0].flags = 1;  // leaving, yet it owns partitions
    rejects(RawState2(5, bad, {}, owners, {}));
  }
  rejects(RawState2(5, three, {ids[2]}, owners, {}));                    // a removed member
  rejects(RawState2(5, three, {ids[3], ids[1]}, owners, {}));            // removed not ascending
  rejects(RawState2(5, three, {ids[1], ids[1]}, owners, {}));            // duplicate removed id
  rejects(RawState2(5, three, {std::string(40, 'G')}, owners, {}));      // not an id
  rejects(RawState2(5, three, {"abc"}, owners, {}));                     // too short
  rejects(RawState2(5, three, {}, owners, {{3, 1, one}}));               // row of no member
  rejects(RawState2(5, three, {}, owners, {{2, 1, one}, {0, 1, one}}));  // rows out of order
  rejects(RawState2(5, three, {}, owners, {{1, 1, one}, {1, 1, one}}));  // duplicate row
  rejects(RawState2(5, three, {}, owners, {{0, 1, one + one}}));         // row too long
  rejects(RawState2(5, three, {}, owners, {{0, 1, ""}}));                // row too short
  rejects(RawState2(5, three, {}, owners, {{0, kMaxEpoch + 1, one}}));   // version
  rejects(RawState2(5, three, {}, owners,
                    {{0, 1, one}, {1, 1, one}, {2, 1, one}, {2, 1, one}}));  // > members
  {
    std::string body = RawState2(5, three, {}, owners, {});
    body.back() = '\x05';  // five rows announced, none present
    rejects(body);
  }
  {
    // A huge removed count.
    std::string body(1, '\2');
    storage::PutVarint64(&body, 5);
    storage::PutVarint64(&body, 1);
    body += ids[0];
    storage::PutVarint64(&body, 1);
    body += "h";
    for (int f = 0; f < 4; ++f) storage::PutVarint64(&body, f == 3 ? 0 : 1);
    storage::PutVarint64(&body, uint64_t{1} << 50);
    body += std::string(80, 'a');
    rejects(body);
  }
  {
    std::string body = RawState2(5, three, {}, owners, {});
    body[0] = '\4';  // an unknown version
    rejects(body);
  }
}

TEST_CASE("a version-1 encoding still decodes") {
  // The old format: version 1, members without flags, no removed ids, the
  // owner table, no ready rows, then the checksum (XXH3_64bits, little
  // endian) of everything before.
  const std::vector<RawMember> two = RawMembers(2);
  std::string bytes(1, '\1');
  storage::PutVarint64(&bytes, 4);  // epoch
  storage::PutVarint64(&bytes, 2);
  for (const RawMember& m : two) {
    bytes += m.id;
    storage::PutVarint64(&bytes, m.host.size());
    bytes += m.host;
    storage::PutVarint64(&bytes, 7001);
    storage::PutVarint64(&bytes, 17001);
    storage::PutVarint64(&bytes, 300);  // a two-byte varint
  }
  storage::PutVarint64(&bytes, 6);
  for (uint64_t o : {1, 0, 1, 0, 1, 0}) storage::PutVarint64(&bytes, o);
  const uint64_t sum = XXH3_64bits(bytes.data(), bytes.size());
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((sum >> (8 * i)) & 0xff));

  auto r = Membership::Decode(bytes);
  REQUIRE(r.ok());
  const Membership& m = r.value();
  CHECK(m.epoch() == 4);
  CHECK(m.members().size() == 2);
  for (const RawMember& raw : two) {
    const MemberInfo* info = m.Find(raw.id);
    REQUIRE(info != nullptr);
    CHECK(info->host == raw.host);
    CHECK(info->port == 7001);
    CHECK(info->cport == 17001);
    CHECK(info->incarnation == 300);
    CHECK_FALSE(info->leaving);
  }
  CHECK(m.removed().empty());
  CHECK(m.ready().empty());
  CHECK(m.ring().partition_count() == 6);
  CHECK(m.ring().Owner(0) == two[1].id);
  CHECK(m.ring().Owner(1) == two[0].id);
  CheckFullInvariant(m);
  // Re-encoded, it is version 3 and decodes to the same state.
  const std::string v2 = m.Encode();
  CHECK(v2[0] == '\3');
  auto again = Membership::Decode(v2);
  REQUIRE(again.ok());
  CHECK(again.value() == m);
  // A version-1 state merges with a version-2 one as any other state.
  Membership solo = SoloOf(0, 6);
  Membership x = solo;
  Membership y = m;
  x.Merge(m);
  y.Merge(solo);
  CHECK(x == y);
  // Version 1 has no flags: the same bytes with a flags field do not parse.
  {
    std::string body(1, '\1');
    storage::PutVarint64(&body, 4);
    storage::PutVarint64(&body, 1);
    body += two[0].id;
    storage::PutVarint64(&body, 1);
    body += "h";
    for (int f = 0; f < 4; ++f) storage::PutVarint64(&body, f == 3 ? 0 : 1);  // + flags
    storage::PutVarint64(&body, 1);
    storage::PutVarint64(&body, 0);
    CHECK_FALSE(Membership::Decode(Seal(body)).ok());
  }
  // Every truncation and bit flip of the old form is refused.
  for (size_t len = 0; len < bytes.size(); ++len) {
    CHECK_FALSE(Membership::Decode(std::string_view(bytes).substr(0, len)).ok());
  }
  for (size_t pos = 0; pos < bytes.size(); ++pos) {
    std::string bad = bytes;
    bad[pos] = static_cast<char>(bad[pos] ^ 0x10);
    CHECK_FALSE(Membership::Decode(bad).ok());
  }
}

}  // namespace
}  // namespace shoal::cluster
