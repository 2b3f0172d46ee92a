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

namespace shoal::cluster {
namespace {

// A 40-hex-character node id derived from i.
NodeId NodeIdOf(int i) {
  char buf[41];
  const unsigned long long h = KeyHash("member" + std::to_string(i));
  std::snprintf(buf, sizeof(buf), "%016llx%016llx%08x", h, ~h, static_cast<unsigned>(i));
  return NodeId(buf);
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
      Membership x = states[i];
      Membership y = states[j];
      x.Merge(states[j]);
      y.Merge(states[i]);
      CHECK(x == y);
      CHECK_FALSE(x.Merge(states[j]));
      CHECK_FALSE(x.Merge(states[i]));
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
  rejects(RawState(3, two, owners, 2));            // unknown version
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
