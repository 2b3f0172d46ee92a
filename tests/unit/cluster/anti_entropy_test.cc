// AntiEntropy: two in-process replicas whose stores diverged (missed writes,
// tombstones, concurrent versions) converge through exchanges alone, frames
// answered synchronously by the other side's engine and LocalReplica; the
// peer side refuses malformed frames.

#include "cluster/anti_entropy.h"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "cluster/peer/protocol.h"
#include "cluster/ring.h"
#include "storage/clock.h"
#include "tests/unit/cluster/test_node.h"

namespace shoal::cluster {
namespace {

constexpr uint32_t kQ = 8;
uint32_t PartitionOf(std::string_view key) {
  return PartitionOfHash(KeyHash(key), kQ);
}

struct Replica {
  testing::TestNode node;
  std::unique_ptr<AntiEntropy> ae;
  Replica* peer = nullptr;
  bool reachable = true;
  int64_t confirm_delay_ms = 0;

  Replica(std::string id, const storage::Clock& clock) : node(std::move(id), clock) {
    storage::KeyspaceOptions ko;
    ko.keep_tombstones = true;
    node.keyspace().set_options(ko);
    node.store().SetPartitioner({kQ, PartitionOf});
  }

  // The peer's reply to a frame, parsed.
  PeerReply Ask(const std::vector<std::string>& argv) {
    std::string out;
    facade::ReplyBuilder reply(&out);
    if (argv[0] == "SHOAL.AEBRANCH") {
      ae->ServeBranches(argv, reply);
    } else if (argv[0] == "SHOAL.AELEAF") {
      ae->ServeLeaves(argv, reply);
    } else if (argv[0] == "SHOAL.AEKEYS") {
      ae->ServeKeys(argv, reply);
    } else {
      return node.Serve(argv);
    }
    auto parsed = ParseReply(out);
    REQUIRE(parsed.ok());
    return std::move(parsed).value();
  }

  void Start(const storage::Clock& clock, const std::vector<std::string>& replicas) {
    AntiEntropy::Env env;
    env.self = node.id();
    env.replicas = [replicas](uint32_t) { return replicas; };
    env.reachable = [this](const NodeId&) { return peer->reachable; };
    env.send = [this](const NodeId& to, std::vector<std::string> argv, PeerCallback cb) {
      REQUIRE(to == peer->node.id());
      PeerReply r = peer->Ask(argv);
      cb(PeerOutcome::kReply, &r, false);
    };
    ae = std::make_unique<AntiEntropy>(node.keyspace(), clock, std::move(env));
    AntiEntropyOptions o;
    o.interval_ms = 1;
    o.repair_batch = 7;  // several batches per listing
    o.confirm_delay_ms = confirm_delay_ms;
    ae->Configure(true, kQ, PartitionOf, o);
  }
};

struct Pair {
  storage::ManualClock clock;
  Replica a{std::string(40, 'a'), clock};
  Replica b{std::string(40, 'b'), clock};
  int64_t now = 0;

  void Start() {
    a.peer = &b;
    b.peer = &a;
    a.Start(clock, {a.node.id(), b.node.id()});
    b.Start(clock, {a.node.id(), b.node.id()});
  }
  void Tick() {
    now += 10;
    clock.AdvanceMs(10);
    a.ae->Tick(now);
    b.ae->Tick(now);
  }
  bool TreesEqual() {
    for (uint32_t p = 0; p < kQ; ++p) {
      if (!(a.ae->trees().tree(p) == b.ae->trees().tree(p))) return false;
    }
    return true;
  }
};

bool SameObject(testing::TestNode& x, testing::TestNode& y, const std::string& key) {
  auto theirs = storage::Object::DecodeWithNodeIds(y.Encoded(key), x.actors());
  REQUIRE(theirs.ok());
  return theirs.value() == x.Load(key);
}

TEST_CASE("diverged replicas converge through exchanges, both ways, siblings and tombstones kept") {
  Pair p;
  std::vector<std::string> keys;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("k" + std::to_string(i));
    p.a.node.Set(keys.back(), "v" + std::to_string(i));
    p.a.node.CopyTo(p.b.node, keys.back());
  }
  p.Start();
  // Missed by b: new keys and overwrites on a.
  for (int i = 0; i < 40; ++i) {
    keys.push_back("a-only" + std::to_string(i));
    p.a.node.Set(keys.back(), "x");
    p.a.node.Set("k" + std::to_string(i), "new");
  }
  // Missed by a: deletes (tombstones) and new keys on b.
  for (int i = 100; i < 110; ++i)
    REQUIRE(p.b.node.keyspace().Delete("k" + std::to_string(i), p.clock.NowMs()).value());
  for (int i = 0; i < 25; ++i) {
    keys.push_back("b-only" + std::to_string(i));
    p.b.node.Set(keys.back(), "y");
  }
  // Concurrent writes on both: siblings once merged.
  p.a.node.Set("k200", "left");
  p.b.node.Set("k200", "right");

  int rounds = 0;
  do {
    p.Tick();
  } while (++rounds < 4 * static_cast<int>(kQ) && !p.TreesEqual());
  REQUIRE(p.TreesEqual());
  for (const std::string& k : keys) {
    CAPTURE(k);
    CHECK(SameObject(p.a.node, p.b.node, k));
  }
  CHECK(p.a.node.Values("k200").size() == 2);
  CHECK(p.a.node.Values("k105").empty());
  CHECK(p.b.node.Values("a-only3") == std::vector<std::string>{"x"});
  CHECK(p.a.node.Values("b-only3") == std::vector<std::string>{"y"});
  const auto& sa = p.a.ae->stats();
  const auto& sb = p.b.ae->stats();
  // Only the first: a asked while b had not built its trees yet.
  CHECK(sa.exchange_failures == 1);
  CHECK(sb.exchange_failures == 0);
  CHECK(sa.keys_repaired + sb.keys_repaired >= 40 + 40 + 10 + 25 + 1);
  CHECK(sa.partitions_compared + sb.partitions_compared > 0);
  CHECK(sa.segments_differing + sb.segments_differing > 0);

  // In sync: further exchanges find nothing.
  const uint64_t repaired = sa.keys_repaired + sb.keys_repaired;
  for (int i = 0; i < 2 * static_cast<int>(kQ); ++i) p.Tick();
  CHECK(sa.keys_repaired + sb.keys_repaired == repaired);
  for (int64_t t : p.a.ae->last_compared_ms()) CHECK(t >= 0);
}

TEST_CASE("a difference gone by the confirmation is neither listed nor repaired") {
  Pair p;
  p.a.confirm_delay_ms = 50;
  p.Start();
  std::string key;  // a key of partition 0, the first one a compares
  for (int i = 0; key.empty(); ++i) {
    if (PartitionOf("t" + std::to_string(i)) == 0) key = "t" + std::to_string(i);
  }
  p.b.ae->Tick(0);  // b builds its trees
  p.a.node.Set(key, "in flight");
  p.a.ae->Tick(0);  // builds, compares partition 0: one segment differs
  CHECK(p.a.ae->stats().partitions_compared == 1);
  p.a.node.CopyTo(p.b.node, key);  // the replication lands
  for (int64_t t = 10; t <= 50; t += 10) p.a.ae->Tick(t);
  CHECK(p.a.ae->stats().exchanges == 1);
  CHECK(p.a.ae->stats().segments_differing == 0);
  CHECK(p.a.ae->stats().keys_differing == 0);

  // One that stays is confirmed, listed and repaired.
  p.a.node.Set(key, "missed");
  for (int64_t t = 60; p.a.ae->stats().exchanges < 1 + kQ && t < 10'000; t += 10) p.a.ae->Tick(t);
  CHECK(p.a.ae->stats().segments_differing == 1);
  CHECK(p.a.ae->stats().keys_repaired == 1);
  CHECK(p.b.node.Values(key) == std::vector<std::string>{"missed"});
}

TEST_CASE("no exchange without a reachable peer, none when off") {
  Pair p;
  p.Start();
  p.b.reachable = false;
  p.a.node.Set("k", "v");
  for (int i = 0; i < 20; ++i) p.a.ae->Tick(i * 10);
  CHECK(p.a.ae->stats().partitions_compared == 0);
  p.a.ae->Configure(false, kQ, PartitionOf, {});
  CHECK_FALSE(p.a.ae->enabled());
  CHECK(p.a.ae->trees().bytes() == 0);
}

TEST_CASE("the peer side refuses malformed frames") {
  Pair p;
  p.Start();
  p.a.ae->Tick(1);  // builds
  auto error = [&](const std::vector<std::string>& argv) {
    PeerReply r = p.a.Ask(argv);
    return r.type == PeerReply::Type::kError;
  };
  CHECK(error({"SHOAL.AEBRANCH"}));
  CHECK(error({"SHOAL.AEBRANCH", "8"}));
  CHECK(error({"SHOAL.AEBRANCH", "-1"}));
  CHECK(error({"SHOAL.AEBRANCH", "x"}));
  CHECK(error({"SHOAL.AEBRANCH", "1", "2"}));
  CHECK(error({"SHOAL.AELEAF", "1"}));
  CHECK(error({"SHOAL.AELEAF", "1", "32"}));
  CHECK(error({"SHOAL.AELEAF", "99", "1"}));
  CHECK(error({"SHOAL.AEKEYS", "1", "1024"}));
  CHECK(error({"SHOAL.AEKEYS", "1", ""}));
  std::vector<std::string> many{"SHOAL.AEKEYS", "1"};
  for (int i = 0; i < 65; ++i) many.push_back(std::to_string(i));
  CHECK(error(many));
  CHECK_FALSE(error({"SHOAL.AEBRANCH", "1"}));
  CHECK_FALSE(error({"SHOAL.AELEAF", "1", "0", "31"}));
  CHECK_FALSE(error({"SHOAL.AEKEYS", "1", "0", "1023"}));

  // A partition the node does not replicate is refused.
  AntiEntropy::Env env;
  env.self = p.a.node.id();
  env.replicas = [](uint32_t) { return std::vector<NodeId>{std::string(40, 'c')}; };
  env.reachable = [](const NodeId&) { return true; };
  env.send = [](const NodeId&, std::vector<std::string>, PeerCallback) {};
  testing::TestNode n(std::string(40, 'd'), p.clock);
  n.store().SetPartitioner({kQ, PartitionOf});
  AntiEntropy other(n.keyspace(), p.clock, std::move(env));
  AntiEntropyOptions o;
  o.interval_ms = 1;
  other.Configure(true, kQ, PartitionOf, o);
  other.Tick(1);
  std::string out;
  facade::ReplyBuilder reply(&out);
  other.ServeBranches({"SHOAL.AEBRANCH", "1"}, reply);
  CHECK(out.rfind("-ERR partition 1 is not replicated here", 0) == 0);
}

}  // namespace
}  // namespace shoal::cluster
