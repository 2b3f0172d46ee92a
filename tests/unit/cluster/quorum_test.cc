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

// v1 written by node a, and v2, a later write of a that saw v1.
struct TwoWrites {
  Nodes n;
  Object v1;
  Object v2;
  TwoWrites() {
    v1.Put(Version::Bytes("v1", kNow), n.a);
    v2 = v1;
    v2.Put(Version::Bytes("v2", kNow + 1), n.a);
  }
};

TEST_CASE("read repair targets: replicas whose reply lacks part of the merge") {
  TwoWrites w;
  Nodes& n = w.n;
  const Object& v1 = w.v1;
  const Object& v2 = w.v2;

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
  TwoWrites w;
  Nodes& n = w.n;
  const Object& v1 = w.v1;
  const Object& v2 = w.v2;

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

TEST_CASE("replies equal to the coordinator's own copy (AddSame)") {
  TwoWrites w;
  Nodes& n = w.n;
  const Object& v1 = w.v1;
  const Object& v2 = w.v2;

  SUBCASE("counts like a reply of the same object") {
    ReadQuorum q(3, 2);
    q.AddReply(1, v2);
    q.AddSame(0, 1);
    CHECK(q.state() == QuorumState::kSucceeded);
    CHECK(q.ok_count() == 2);
    CHECK(q.merged() == v2);
    CHECK(q.StaleReplicas().empty());
  }

  SUBCASE("stale with the copy it equals; repaired by a newer reply") {
    ReadQuorum q(3, 3);
    q.AddReply(0, v1);
    q.AddSame(2, 0);
    q.AddReply(1, v2);
    CHECK(q.state() == QuorumState::kSucceeded);
    CHECK(q.merged() == v2);
    CHECK(q.StaleReplicas() == Indexes{0, 2});
  }

  SUBCASE("without the reply it names, it is a failure") {
    ReadQuorum q(3, 2);
    q.AddSame(1, 0);
    CHECK(q.failed_count() == 1);
    q.AddReply(0, v1);
    q.AddSame(2, 7);
    CHECK(q.state() == QuorumState::kFailed);
  }

  SUBCASE("late: never news, stale when the copy it equals is") {
    ReadQuorum q(3, 2);
    q.AddReply(0, v1);
    q.AddReply(1, v2);
    REQUIRE(q.state() == QuorumState::kSucceeded);
    ReadQuorum::Late late = q.AddLateSame(2, 0);
    CHECK(late.replica_stale);
    CHECK_FALSE(late.brought_news);
    CHECK(q.ok_count() == 3);
    CHECK(q.StaleReplicas() == Indexes{0, 2});
    ReadQuorum agree(3, 2);
    agree.AddReply(0, v2);
    agree.AddFailure(1);
    agree.AddSame(2, 0);
    late = agree.AddLateSame(1, 0);  // timed out, then answered "="
    CHECK_FALSE(late.replica_stale);
    CHECK(agree.failed_count() == 0);
    CHECK(agree.ok_count() == 3);
    CHECK(agree.StaleReplicas().empty());
  }

  SUBCASE("the merge is the same as with copies, in every order") {
    Object other = v1;
    other.Update(v1.Context(), Version::Bytes("other", kNow + 2), n.b);
    const std::vector<Object> replies = {v1, v2, other};
    std::vector<size_t> order = {0, 1, 2, 3};
    do {
      // Replica 3 answers "=" to replica 0's copy (which comes first: the
      // coordinator's own); `copies` gets v1 itself.
      if (std::find(order.begin(), order.end(), 0) > std::find(order.begin(), order.end(), 3)) {
        continue;
      }
      ReadQuorum same(4, 4), copies(4, 4);
      for (size_t i : order) {
        if (i == 3) {
          same.AddSame(3, 0);
          copies.AddReply(3, replies[0]);
        } else {
          same.AddReply(i, replies[i]);
          copies.AddReply(i, replies[i]);
        }
      }
      CHECK(same.merged() == copies.merged());
      CHECK(same.StaleReplicas() == copies.StaleReplicas());
      CHECK(same.state() == copies.state());
    } while (std::next_permutation(order.begin(), order.end()));
  }
}

TEST_CASE("the coordinator's own copy deferred (AddDeferred, Resolve)") {
  TwoWrites w;
  const Object& v1 = w.v1;
  const Object& v2 = w.v2;

  SUBCASE("counts as a reply; agreeing replies need no object") {
    ReadQuorum q(3, 2);
    q.AddDeferred(0);
    CHECK(q.unresolved());
    CHECK(q.ok_count() == 1);
    CHECK(q.state() == QuorumState::kPending);
    q.AddSame(1, 0);
    CHECK(q.state() == QuorumState::kSucceeded);
    CHECK(q.StaleReplicas().empty());
    ReadQuorum::Late late = q.AddLateSame(2, 0);
    CHECK_FALSE(late.replica_stale);
    CHECK_FALSE(late.brought_news);
    CHECK(q.ok_count() == 3);
    CHECK(q.unresolved());
  }

  SUBCASE("decides alone when R is 1") {
    ReadQuorum q(3, 1);
    q.AddDeferred(2);
    CHECK(q.state() == QuorumState::kSucceeded);
  }

  SUBCASE("resolved, it merges and finds stale replicas as a copy would") {
    // Every order of the other replies, with and without an "=" among them:
    // the same merge, stale list and state as the coordinator's copy added
    // as a reply.
    const std::vector<Object> replies = {v1, v2, v1};
    std::vector<size_t> order = {1, 2, 3};
    do {
      ReadQuorum deferred(4, 4), copies(4, 4);
      deferred.AddDeferred(0);
      copies.AddReply(0, replies[0]);
      for (size_t i : order) {
        if (i == 3) {  // answers "=" to the coordinator's copy
          deferred.AddSame(3, 0);
          copies.AddReply(3, replies[0]);
          continue;
        }
        if (deferred.unresolved()) deferred.Resolve(replies[0]);
        deferred.AddReply(i, replies[i]);
        copies.AddReply(i, replies[i]);
      }
      CHECK_FALSE(deferred.unresolved());
      CHECK(deferred.merged() == copies.merged());
      CHECK(deferred.merged() == v2);
      CHECK(deferred.StaleReplicas() == copies.StaleReplicas());
      CHECK(deferred.StaleReplicas() == Indexes{0, 2, 3});
      CHECK(deferred.state() == copies.state());
    } while (std::next_permutation(order.begin(), order.end()));
  }

  SUBCASE("a late reply with news after an unresolved decision") {
    ReadQuorum q(3, 2);
    q.AddDeferred(0);
    q.AddSame(2, 0);
    REQUIRE(q.state() == QuorumState::kSucceeded);
    q.Resolve(v1);
    ReadQuorum::Late late = q.AddLateReply(1, v2);
    CHECK(late.brought_news);
    CHECK_FALSE(late.replica_stale);
    CHECK(q.merged() == v2);
    CHECK(q.StaleReplicas() == Indexes{0, 2});
  }

  SUBCASE("a second Resolve and AddDeferred after a reply change nothing") {
    ReadQuorum q(2, 2);
    q.AddDeferred(0);
    q.Resolve(v1);
    q.Resolve(v2);
    q.AddSame(1, 0);
    CHECK(q.merged() == v1);
    q.AddDeferred(0);  // already heard
    CHECK(q.ok_count() == 2);
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

// --- the two-set write quorum (partition transfer) ------------------------

namespace shoal::cluster {
namespace {

// A replica's sets: 'b' both, 'r' read set only (outgoing), 'n' new set only
// (pending), '-' neither (counts in both).
struct Sets {
  std::vector<bool> in_read, in_new;
};
Sets SetsOf(const std::string& kinds) {
  Sets s;
  for (char c : kinds) {
    s.in_read.push_back(c == 'b' || c == 'r');
    s.in_new.push_back(c == 'b' || c == 'n');
  }
  return s;
}
WriteQuorum TwoSet(const std::string& kinds, size_t w) {
  const Sets s = SetsOf(kinds);
  return WriteQuorum(s.in_read, s.in_new, w);
}

// Runs events ("o2" ack, "f1" failure, "l1" late ack) and returns the state
// letter after each.
std::string Run(WriteQuorum& q, const std::vector<std::string>& events) {
  std::string seen;
  for (const std::string& e : events) {
    const size_t replica = std::stoul(e.substr(1));
    if (e[0] == 'o') {
      q.AddAck(replica);
    } else if (e[0] == 'f') {
      q.AddFailure(replica);
    } else {
      q.AddLateAck(replica);
    }
    seen += Letter(q.state());
  }
  return seen;
}

TEST_CASE("two-set write quorum: W acks in each set") {
  // A transfer plan for N = 3: two ready replicas, one outgoing, one pending.
  const std::string plan = "bbrn";
  SUBCASE("both ready replicas: W in each set") {
    WriteQuorum q = TwoSet(plan, 2);
    CHECK(q.replica_count() == 4);
    CHECK(Run(q, {"o0", "o1"}) == "PS");
  }
  SUBCASE("the outgoing one counts only in the read set") {
    WriteQuorum q = TwoSet(plan, 2);
    CHECK(Run(q, {"o0", "o2"}) == "PP");
    CHECK(q.ok_count() == 1);  // the new set is the one behind
    CHECK(q.required() == 2);
    CHECK(Run(q, {"o3"}) == "S");
  }
  SUBCASE("the pending one counts only in the new set") {
    WriteQuorum q = TwoSet(plan, 2);
    CHECK(Run(q, {"o3", "o2"}) == "PP");
    CHECK(q.ok_count() == 1);
    CHECK(q.required() == 2);
    CHECK(Run(q, {"o1"}) == "S");
  }
  SUBCASE("W = 3 needs all of each set") {
    WriteQuorum q = TwoSet(plan, 3);
    CHECK(Run(q, {"o0", "o1", "o2"}) == "PPP");
    CHECK(Run(q, {"o3"}) == "S");
  }
  SUBCASE("fails as soon as one set can no longer reach its quorum") {
    WriteQuorum q = TwoSet(plan, 2);
    // The new set {0, 1, 3} loses two: the read set {0, 1, 2} still could.
    CHECK(Run(q, {"f3", "o2", "f1"}) == "PPF");
    CHECK(q.failed_count() == 2);
    CHECK(Run(q, {"o0"}) == "F");  // a decision never changes
    WriteQuorum r = TwoSet(plan, 2);
    CHECK(Run(r, {"f2", "f1"}) == "PF");  // the read set this time
  }
  SUBCASE("a set smaller than W needs all of it (clamped)") {
    // Two outgoing replicas stand in for two pending ones; one is ready.
    WriteQuorum q = TwoSet("brrnn", 4);  // each set has three replicas
    CHECK(q.required() == 3);
    CHECK(Run(q, {"o0", "o1", "o2"}) == "PPP");  // read set done, new set 1 of 3
    CHECK(Run(q, {"o3", "o4"}) == "PS");
    WriteQuorum small = TwoSet("rn", 3);  // each set has one replica
    CHECK(small.required() == 1);
    CHECK(Run(small, {"o0", "o1"}) == "PS");
    WriteQuorum lost = TwoSet("rn", 3);
    CHECK(Run(lost, {"o1", "f0"}) == "PF");
  }
  SUBCASE("late acks count in their sets while undecided") {
    WriteQuorum q = TwoSet(plan, 2);
    CHECK(Run(q, {"o0", "f3", "f2"}) == "PPP");
    CHECK(q.failed_count() == 2);
    CHECK(Run(q, {"l3"}) == "P");  // the new set has 2 now, the read set 1
    CHECK(q.failed_count() == 1);
    CHECK(q.ok_count() == 1);
    CHECK(Run(q, {"l2"}) == "S");
    CHECK(q.ok_count() == 2);
    CHECK(q.failed_count() == 0);
    WriteQuorum decided = TwoSet(plan, 2);
    CHECK(Run(decided, {"f3", "f1", "l3"}) == "PFF");
    CHECK(decided.failed_count() == 2);
    CHECK(decided.ok_count() == 0);
  }
  SUBCASE("ok_count and required describe the set furthest from its quorum") {
    WriteQuorum q = TwoSet("bbbrrnn", 3);  // read {0..4}, new {0,1,2,5,6}
    CHECK(q.ok_count() == 0);
    CHECK(q.required() == 3);
    Run(q, {"o3", "o4"});  // read 2 of 3, new 0 of 3
    CHECK(q.ok_count() == 0);
    Run(q, {"o5", "o6", "o0"});  // read 3 of 3, new 3 of 3
    CHECK(q.state() == QuorumState::kSucceeded);
    CHECK(q.ok_count() == 3);
    WriteQuorum r = TwoSet("bbrnn", 3);  // read {0,1,2}, new {0,1,3,4}: 3 of each
    Run(r, {"o3", "o4", "f2"});          // read: 0 of 3 and lost; new 2 of 3
    CHECK(r.state() == QuorumState::kFailed);
    CHECK(r.ok_count() == 0);
    CHECK(r.required() == 3);
    CHECK(NoQuorumMessage(r.ok_count(), r.required()) == "NOQUORUM got 0 of 3 required replies");
  }
  SUBCASE("replicas in neither set count in both") {
    WriteQuorum q = TwoSet("--", 2);
    WriteQuorum both = TwoSet("bb", 2);
    CHECK(Run(q, {"o0", "o1"}) == Run(both, {"o0", "o1"}));
    CHECK(q.ok_count() == 2);
  }
}

// The old one-set rule, as it was before the two-set constructor.
struct OneSetReference {
  size_t n, w, ok = 0, failed = 0;
  std::vector<char> heard;  // 0 nothing, 1 ack, 2 failure
  QuorumState state = QuorumState::kPending;
  OneSetReference(size_t n_in, size_t w_in)
      : n(std::max<size_t>(n_in, 1)),
        w(std::clamp<size_t>(w_in, 1, std::max<size_t>(n_in, 1))),
        heard(n, 0) {}
  void Decide() {
    if (state != QuorumState::kPending) return;
    if (ok >= w) {
      state = QuorumState::kSucceeded;
    } else if (failed > n - w) {
      state = QuorumState::kFailed;
    }
  }
  void Ack(size_t i) {
    if (i >= n || heard[i] != 0) return;
    heard[i] = 1;
    ++ok;
    Decide();
  }
  void Fail(size_t i) {
    if (i >= n || heard[i] != 0) return;
    heard[i] = 2;
    ++failed;
    Decide();
  }
  void Late(size_t i) {
    if (i >= n || heard[i] != 2 || state != QuorumState::kPending) return;
    heard[i] = 1;
    --failed;
    ++ok;
    Decide();
  }
};

TEST_CASE("the one-set write quorum behaves as before, and as the two-set one with equal sets") {
  std::mt19937 rng(11);
  for (size_t n = 0; n <= 6; ++n) {
    for (size_t w = 0; w <= n + 2; ++w) {
      for (int trial = 0; trial < 300; ++trial) {
        CAPTURE(n);
        CAPTURE(w);
        CAPTURE(trial);
        OneSetReference ref(n, w);
        WriteQuorum one(n, w);
        const size_t size = std::max<size_t>(n, 1);
        WriteQuorum all(std::vector<bool>(size, true), std::vector<bool>(size, true), w);
        WriteQuorum none(std::vector<bool>(size, false), std::vector<bool>(size, false), w);
        for (WriteQuorum* q : {&one, &all, &none}) {
          CHECK(q->replica_count() == ref.n);
          CHECK(q->required() == ref.w);
        }
        const int events = static_cast<int>(rng() % 12);
        for (int e = 0; e < events; ++e) {
          const size_t i = rng() % (size + 2);  // sometimes out of range
          const int kind = static_cast<int>(rng() % 3);
          for (WriteQuorum* q : {&one, &all, &none}) {
            if (kind == 0) q->AddAck(i);
            if (kind == 1) q->AddFailure(i);
            if (kind == 2) q->AddLateAck(i);
          }
          if (kind == 0) ref.Ack(i);
          if (kind == 1) ref.Fail(i);
          if (kind == 2) ref.Late(i);
          for (WriteQuorum* q : {&one, &all, &none}) {
            CHECK(q->state() == ref.state);
            CHECK(q->ok_count() == ref.ok);
            CHECK(q->failed_count() == ref.failed);
            CHECK(q->required() == ref.w);
          }
        }
      }
    }
  }
}

TEST_CASE("two-set write quorum: every outcome of every plan shape follows the rule") {
  // Replicas each in the read set only, the new set only or both; each acks,
  // fails or stays silent, in a shuffled order. Decided exactly when one set
  // can no longer reach min(W, size) (failed) or both have (succeeded).
  std::mt19937 rng(3);
  for (size_t n = 1; n <= 5; ++n) {
    size_t shapes = 1;
    for (size_t i = 0; i < n; ++i) shapes *= 3;
    for (size_t shape = 0; shape < shapes; ++shape) {
      std::string kinds;
      for (size_t i = 0, c = shape; i < n; ++i, c /= 3) kinds += "brn"[c % 3];
      const Sets sets = SetsOf(kinds);
      size_t read_size = 0, new_size = 0;
      for (size_t i = 0; i < n; ++i) {
        read_size += sets.in_read[i];
        new_size += sets.in_new[i];
      }
      // An empty set never reaches a quorum; a plan never has one (see the
      // placement tests), so such shapes are left out.
      if (read_size == 0 || new_size == 0) continue;
      for (size_t w = 1; w <= 4; ++w) {
        const size_t need_read = std::clamp<size_t>(w, 1, std::max<size_t>(read_size, 1));
        const size_t need_new = std::clamp<size_t>(w, 1, std::max<size_t>(new_size, 1));
        for (size_t outcome = 0; outcome < shapes; ++outcome) {
          CAPTURE(kinds);
          CAPTURE(w);
          CAPTURE(outcome);
          std::vector<int> kind(n);  // 0 silent, 1 ack, 2 failure
          for (size_t i = 0, c = outcome; i < n; ++i, c /= 3) kind[i] = static_cast<int>(c % 3);
          std::vector<size_t> order(n);
          for (size_t i = 0; i < n; ++i) order[i] = i;
          std::shuffle(order.begin(), order.end(), rng);
          WriteQuorum q(sets.in_read, sets.in_new, w);
          size_t read_ok = 0, read_failed = 0, new_ok = 0, new_failed = 0, failed = 0;
          QuorumState decided = QuorumState::kPending;
          for (size_t i : order) {
            if (kind[i] == 0) continue;
            if (kind[i] == 1) {
              q.AddAck(i);
              read_ok += sets.in_read[i];
              new_ok += sets.in_new[i];
            } else {
              q.AddFailure(i);
              read_failed += sets.in_read[i];
              new_failed += sets.in_new[i];
              ++failed;
            }
            if (decided == QuorumState::kPending) {
              if (read_failed > read_size - need_read || new_failed > new_size - need_new) {
                decided = QuorumState::kFailed;
              } else if (decided == QuorumState::kPending && read_ok >= need_read &&
                         new_ok >= need_new) {
                decided = QuorumState::kSucceeded;
              }
            }
            CHECK(q.state() == decided);
          }
          CHECK(q.failed_count() == failed);
          if (decided == QuorumState::kSucceeded) {
            CHECK(q.ok_count() >= q.required());
          } else {
            CHECK(q.ok_count() < q.required());
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace shoal::cluster
