#include "cluster/quorum.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/object.h"

namespace shoal::cluster {
namespace {

using storage::Object;
using storage::Version;
using Indexes = std::vector<size_t>;
constexpr int64_t kNow = 1'700'000'000'000;

char Letter(QuorumState s) {
  switch (s) {
    case QuorumState::kPending:
      return 'P';
    case QuorumState::kSucceeded:
      return 'S';
    case QuorumState::kFailed:
      return 'F';
  }
  return '?';
}

// One table row: n replicas, quorum q, events as "o2" (replica 2 succeeded)
// or "f0" (replica 0 failed), and the state letter after each event.
struct Row {
  size_t n;
  size_t q;
  std::vector<std::string> events;
  std::string states;  // one of P/S/F per event
  size_t ok;
  size_t failed;
};

const std::vector<Row>& Table() {
  static const std::vector<Row> rows = {
      // n = 1: the only replica decides.
      {1, 1, {"o0"}, "S", 1, 0},
      {1, 1, {"f0"}, "F", 0, 1},
      {1, 0, {"o0"}, "S", 1, 0},         // r clamped up to 1
      {1, 5, {"f0", "o0"}, "FF", 0, 1},  // r clamped down to 1; second event ignored
      // n = 2.
      {2, 1, {"f1", "o0"}, "PS", 1, 1},
      {2, 2, {"o0", "o1"}, "PS", 2, 0},
      {2, 2, {"o1", "f0"}, "PF", 1, 1},
      {2, 1, {"f0", "f1"}, "PF", 0, 2},
      // n = 3, the default N=3 R=2 W=2.
      {3, 2, {"o0", "o2"}, "PS", 2, 0},
      {3, 2, {"o0", "f1", "o2"}, "PPS", 2, 1},
      {3, 2, {"f0", "o1", "f2"}, "PPF", 1, 2},
      {3, 2, {"f0", "f1"}, "PF", 0, 2},
      {3, 2, {"o0", "o1", "f2"}, "PSS", 2, 1},  // decided stays decided
      {3, 3, {"o0", "o1", "f2"}, "PPF", 2, 1},
      {3, 1, {"f0", "f1", "o2"}, "PPS", 1, 2},
      {3, 2, {"o0", "o0", "f0", "o1"}, "PPPS", 2, 0},  // repeats ignored
      {3, 2, {"o9", "f7", "o1"}, "PPP", 1, 0},         // out of range ignored
      // n = 4.
      {4, 3, {"o0", "f1", "o2", "o3"}, "PPPS", 3, 1},
      {4, 3, {"f0", "o1", "f2"}, "PPF", 1, 2},
      {4, 2, {"f0", "f1", "o2", "o3"}, "PPPS", 2, 2},
      {4, 4, {"o0", "o1", "o2", "f3"}, "PPPF", 3, 1},
      // n = 5.
      {5, 3, {"o4", "o3", "o2"}, "PPS", 3, 0},
      {5, 3, {"f0", "f1", "o2", "o3", "f4"}, "PPPPF", 2, 3},
      {5, 3, {"f0", "f1", "o2", "o3", "o4"}, "PPPPS", 3, 2},
      {5, 1, {"f0", "f1", "f2", "f3", "f4"}, "PPPPF", 0, 5},
      {5, 5, {"o0", "o1", "o2", "o3", "o4"}, "PPPPS", 5, 0},
      {5, 5, {"f3"}, "F", 0, 1},
      {5, 7, {"o0", "o1", "o2", "o3", "o4"}, "PPPPS", 5, 0},  // w clamped to 5
  };
  return rows;
}

TEST_CASE("read quorum decisions, table driven") {
  for (const Row& row : Table()) {
    CAPTURE(row.n);
    CAPTURE(row.q);
    CAPTURE(row.states);
    ReadQuorum q(row.n, row.q);
    CHECK(q.required() == std::clamp<size_t>(row.q, 1, row.n));
    CHECK(q.state() == QuorumState::kPending);
    std::string seen;
    for (const std::string& e : row.events) {
      const size_t replica = std::stoul(e.substr(1));
      if (e[0] == 'o') {
        q.AddReply(replica, Object());
      } else {
        q.AddFailure(replica);
      }
      seen += Letter(q.state());
    }
    CHECK(seen == row.states);
    CHECK(q.ok_count() == row.ok);
    CHECK(q.failed_count() == row.failed);
  }
}

TEST_CASE("write quorum decisions, table driven") {
  for (const Row& row : Table()) {
    CAPTURE(row.n);
    CAPTURE(row.q);
    CAPTURE(row.states);
    WriteQuorum q(row.n, row.q);
    CHECK(q.required() == std::clamp<size_t>(row.q, 1, row.n));
    std::string seen;
    for (const std::string& e : row.events) {
      const size_t replica = std::stoul(e.substr(1));
      if (e[0] == 'o') {
        q.AddAck(replica);
      } else {
        q.AddFailure(replica);
      }
      seen += Letter(q.state());
    }
    CHECK(seen == row.states);
    CHECK(q.ok_count() == row.ok);
    CHECK(q.failed_count() == row.failed);
  }
}

TEST_CASE("every outcome of every order for n = 1..5 follows the rule") {
  // Each replica succeeds, fails or stays silent, in a shuffled order; the
  // state is decided exactly when the rule says and never changes after.
  std::mt19937 rng(7);
  for (size_t n = 1; n <= 5; ++n) {
    size_t outcomes = 1;
    for (size_t i = 0; i < n; ++i) outcomes *= 3;
    for (size_t q = 1; q <= n; ++q) {
      for (size_t code = 0; code < outcomes; ++code) {
        std::vector<int> kind(n);  // 0 silent, 1 ok, 2 failed
        size_t c = code;
        for (size_t i = 0; i < n; ++i, c /= 3) kind[i] = static_cast<int>(c % 3);
        std::vector<size_t> order(n);
        for (size_t i = 0; i < n; ++i) order[i] = i;
        std::shuffle(order.begin(), order.end(), rng);
        ReadQuorum read(n, q);
        WriteQuorum write(n, q);
        size_t ok = 0, failed = 0;
        QuorumState decided = QuorumState::kPending;
        for (size_t i : order) {
          if (kind[i] == 0) continue;
          if (kind[i] == 1) {
            read.AddReply(i, Object());
            write.AddAck(i);
            ++ok;
          } else {
            read.AddFailure(i);
            write.AddFailure(i);
            ++failed;
          }
          QuorumState expect = decided;
          if (decided == QuorumState::kPending) {
            if (ok >= q) expect = QuorumState::kSucceeded;
            if (failed > n - q) expect = QuorumState::kFailed;
          }
          decided = expect;
          CHECK(read.state() == expect);
          CHECK(write.state() == expect);
        }
        CHECK(read.ok_count() == ok);
        CHECK(write.ok_count() == ok);
        CHECK(read.failed_count() == failed);
        CHECK(write.failed_count() == failed);
      }
    }
  }
}

// Three nodes and helpers to build replicas' objects.
struct Nodes {
  storage::ActorTable actors;
  storage::ActorId a = actors.Intern(std::string(40, 'a')).value();
  storage::ActorId b = actors.Intern(std::string(40, 'b')).value();
  storage::ActorId c = actors.Intern(std::string(40, 'c')).value();
};

std::vector<std::string> Values(const Object& o, const Nodes& n) {
  return o.LiveValues(kNow + 100, n.actors);
}

TEST_CASE("read repair targets: replicas whose reply lacks part of the merge") {
  Nodes n;
  Object v1;
  v1.Put(Version::Bytes("v1", kNow), n.a);
  Object v2 = v1;  // a later write that saw v1
  v2.Put(Version::Bytes("v2", kNow + 1), n.a);

  SUBCASE("one replica behind, one without the key") {
    ReadQuorum q(3, 2);
    q.AddReply(0, v1);
    CHECK(q.StaleReplicas().empty());
    q.AddReply(1, v2);
    CHECK(q.state() == QuorumState::kSucceeded);
    CHECK(q.merged() == v2);
    CHECK(q.StaleReplicas() == Indexes{0});
    q.AddReply(2, Object());  // no version of the key: needs repair too
    CHECK(q.StaleReplicas() == Indexes{0, 2});
    CHECK(Values(q.merged(), n) == std::vector<std::string>{"v2"});
  }

  SUBCASE("concurrent writes: every replica lacks the other's sibling") {
    Object left = v1;  // two coordinators, both from v1's context
    left.Update(v1.Context(), Version::Bytes("left", kNow + 2), n.b);
    Object right = v1;
    right.Update(v1.Context(), Version::Bytes("right", kNow + 3), n.c);
    ReadQuorum q(3, 3);
    q.AddReply(2, right);
    q.AddReply(0, left);
    CHECK(q.state() == QuorumState::kPending);
    CHECK(q.StaleReplicas() == Indexes{0, 2});
    CHECK(q.merged().Size() == 2);
    CHECK(Values(q.merged(), n) == std::vector<std::string>{"left", "right"});
    Object both = left;
    both.Merge(right);
    q.AddReply(1, both);  // already has both siblings: up to date
    CHECK(q.state() == QuorumState::kSucceeded);
    CHECK(q.StaleReplicas() == Indexes{0, 2});
  }

  SUBCASE("a resolving write supersedes siblings; failed replicas are not listed") {
    Object sib = v1;
    sib.Update(v1.Context(), Version::Bytes("s1", kNow + 2), n.b);
    sib.Update(v1.Context(), Version::Bytes("s2", kNow + 3), n.c);
    REQUIRE(sib.Size() == 2);
    Object resolved = sib;
    resolved.Put(Version::Bytes("resolved", kNow + 4), n.a);
    ReadQuorum q(4, 2);
    q.AddFailure(3);
    q.AddReply(0, sib);
    q.AddReply(1, resolved);
    CHECK(q.merged() == resolved);
    CHECK(q.StaleReplicas() == Indexes{0});
    // A tombstone that saw everything supersedes too.
    Object deleted = resolved;
    deleted.Put(Version::Tombstone(kNow + 5), n.b);
    q.AddReply(2, deleted);
    CHECK(q.merged().IsAbsent(kNow + 100));
    CHECK(q.StaleReplicas() == Indexes{0, 1});
  }

  SUBCASE("all replies equal: nothing to repair") {
    ReadQuorum q(3, 2);
    q.AddReply(0, v2);
    q.AddReply(1, v2);
    q.AddReply(2, v2);
    CHECK(q.StaleReplicas().empty());
    ReadQuorum none(2, 2);
    none.AddReply(0, Object());
    none.AddReply(1, Object());
    CHECK(none.StaleReplicas().empty());
    CHECK(none.merged() == Object());
  }
}

TEST_CASE("late replies after the decision") {
  Nodes n;
  Object v1;
  v1.Put(Version::Bytes("v1", kNow), n.a);
  Object v2 = v1;
  v2.Put(Version::Bytes("v2", kNow + 1), n.a);

  SUBCASE("an older late reply needs repair and brings nothing") {
    ReadQuorum q(3, 2);
    q.AddReply(0, v2);
    q.AddReply(1, v2);
    REQUIRE(q.state() == QuorumState::kSucceeded);
    ReadQuorum::Late late = q.AddLateReply(2, v1);
    CHECK(late.replica_stale);
    CHECK_FALSE(late.brought_news);
    CHECK(q.merged() == v2);
    CHECK(q.StaleReplicas() == Indexes{2});
    CHECK(q.ok_count() == 3);
  }

  SUBCASE("a newer late reply brings news: the others become stale") {
    ReadQuorum q(3, 2);
    q.AddReply(0, v1);
    q.AddReply(1, v1);
    REQUIRE(q.StaleReplicas().empty());
    ReadQuorum::Late late = q.AddLateReply(2, v2);
    CHECK_FALSE(late.replica_stale);
    CHECK(late.brought_news);
    CHECK(q.merged() == v2);
    CHECK(q.StaleReplicas() == Indexes{0, 1});
  }

  SUBCASE("a concurrent late reply both needs repair and brings news") {
    ReadQuorum q(3, 2);
    q.AddReply(0, v2);
    q.AddReply(1, v2);
    Object other = v1;
    other.Update(v1.Context(), Version::Bytes("other", kNow + 2), n.b);
    ReadQuorum::Late late = q.AddLateReply(2, other);
    CHECK(late.replica_stale);
    CHECK(late.brought_news);
    CHECK(Values(q.merged(), n) == std::vector<std::string>{"v2", "other"});
    CHECK(q.StaleReplicas() == Indexes{0, 1, 2});
  }

  SUBCASE("an equal late reply changes nothing") {
    ReadQuorum q(3, 2);
    q.AddReply(0, v2);
    q.AddReply(1, v2);
    ReadQuorum::Late late = q.AddLateReply(2, v2);
    CHECK_FALSE(late.replica_stale);
    CHECK_FALSE(late.brought_news);
    CHECK(q.StaleReplicas().empty());
  }

  SUBCASE("a replica that timed out is still heard; the decision stays") {
    ReadQuorum q(3, 3);
    q.AddReply(0, v1);
    q.AddFailure(1);
    REQUIRE(q.state() == QuorumState::kFailed);
    ReadQuorum::Late late = q.AddLateReply(1, v2);
    CHECK(late.brought_news);
    CHECK(q.state() == QuorumState::kFailed);
    CHECK(q.ok_count() == 2);
    CHECK(q.failed_count() == 0);
    CHECK(q.StaleReplicas() == Indexes{0});
    q.AddLateReply(2, v2);
    CHECK(q.state() == QuorumState::kFailed);  // decisions never change
    CHECK(q.ok_count() == 3);
  }

  SUBCASE("a second reply from one replica, or a bad index, is ignored") {
    ReadQuorum q(2, 1);
    q.AddReply(0, v1);
    ReadQuorum::Late late = q.AddLateReply(0, v2);
    CHECK_FALSE(late.replica_stale);
    CHECK_FALSE(late.brought_news);
    CHECK(q.merged() == v1);
    late = q.AddLateReply(5, v2);
    CHECK_FALSE(late.brought_news);
    CHECK(q.merged() == v1);
    CHECK(q.ok_count() == 1);
  }

  SUBCASE("while pending a late reply counts like any reply") {
    ReadQuorum q(3, 2);
    q.AddReply(0, v1);
    ReadQuorum::Late late = q.AddLateReply(1, v2);
    CHECK(late.brought_news);
    CHECK(q.state() == QuorumState::kSucceeded);
    CHECK(q.StaleReplicas() == Indexes{0});
  }
}

TEST_CASE("NOQUORUM error text") {
  CHECK(NoQuorumMessage(1, 2) == "NOQUORUM got 1 of 2 required replies");
  CHECK(NoQuorumMessage(0, 3) == "NOQUORUM got 0 of 3 required replies");
}

}  // namespace
}  // namespace shoal::cluster

namespace shoal::cluster {
namespace {

TEST_CASE("a late ack turns a failure into an ack while the write is undecided") {
  SUBCASE("pending: it counts") {
    WriteQuorum q(3, 2);
    q.AddAck(0);
    q.AddFailure(1);
    CHECK(q.state() == WriteQuorum::State::kPending);
    q.AddLateAck(1);
    CHECK(q.state() == WriteQuorum::State::kSucceeded);
    CHECK(q.ok_count() == 2);
    CHECK(q.failed_count() == 0);
  }
  SUBCASE("decided: it does not") {
    WriteQuorum q(3, 3);
    q.AddAck(0);
    q.AddFailure(1);
    CHECK(q.state() == WriteQuorum::State::kFailed);
    q.AddLateAck(1);
    CHECK(q.state() == WriteQuorum::State::kFailed);
    CHECK(q.ok_count() == 1);
  }
  SUBCASE("only a replica that failed, once") {
    WriteQuorum q(3, 3);
    q.AddLateAck(2);  // never heard from: nothing
    CHECK(q.ok_count() == 0);
    q.AddAck(0);
    q.AddLateAck(0);  // already an ack
    CHECK(q.ok_count() == 1);
  }
}

}  // namespace
}  // namespace shoal::cluster
