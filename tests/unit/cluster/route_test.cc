#include "cluster/route.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "facade/errors.h"

namespace shoal::cluster {
namespace {

using Argv = std::vector<std::string>;

// Mirrors server/commands/cmd_strings.cc's SetIsBlind (which lives a layer
// up): SET is blind unless an option makes it depend on the current value.
bool FakeSetIsBlind(std::span<const std::string> argv) {
  for (size_t i = 3; i < argv.size(); ++i) {
    std::string opt = argv[i];
    for (char& c : opt) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (opt == "NX" || opt == "XX" || opt == "GET" || opt == "KEEPTTL") return false;
  }
  return true;
}

// Command rows as the real table declares them (name, arity, write, first,
// last, step, routing): cmd_strings.cc, cmd_keys.cc, cmd_connection.cc.
struct Row {
  std::string_view name;
  int arity;
  bool write;
  int first_key, last_key, key_step;
  Routing routing;
};

const std::vector<Row>& Rows() {
  static const std::vector<Row> rows = {
      {"get", 2, false, 1, 1, 1, {}},
      {"set", -3, true, 1, 1, 1, {.blind_if = FakeSetIsBlind}},
      {"setex", 4, true, 1, 1, 1, {.access = Access::kBlindWrite}},
      {"incr", 2, true, 1, 1, 1, {}},
      {"mget",
       -2,
       false,
       1,
       -1,
       1,
       {.split = Split::kEachKey, .part_command = "get", .combine = Combine::kArray}},
      {"mset",
       -3,
       true,
       1,
       -1,
       2,
       {.split = Split::kKeyValuePairs, .part_command = "set", .combine = Combine::kOk}},
      {"msetnx", -3, true, 1, -1, 2, {.split = Split::kSameReplicas}},
      {"del", -2, true, 1, -1, 1, {.split = Split::kEachKey, .combine = Combine::kSum}},
      {"exists", -2, false, 1, -1, 1, {.split = Split::kEachKey, .combine = Combine::kSum}},
      {"keys", 2, false, 0, 0, 0, {.scope = Scope::kClusterWide, .combine = Combine::kConcatAll}},
      {"scan", -2, false, 0, 0, 0, {.scope = Scope::kClusterWide, .combine = Combine::kScanAll}},
      {"dbsize", 1, false, 0, 0, 0, {.scope = Scope::kClusterWide, .combine = Combine::kSumAll}},
      {"ping", -1, false, 0, 0, 0, {}},
      {"echo", 2, false, 0, 0, 0, {}},
  };
  return rows;
}

CommandRef Ref(std::string_view name) {
  for (const Row& row : Rows()) {
    if (row.name != name) continue;
    return CommandRef{.impl = &row,
                      .name = row.name,
                      .arity = row.arity,
                      .write = row.write,
                      .first_key = row.first_key,
                      .last_key = row.last_key,
                      .key_step = row.key_step,
                      .routing = &row.routing};
  }
  return {};
}

const NodeId kSelf = "self";

ReplicaSet Set(uint32_t partition, std::vector<NodeId> nodes) {
  std::vector<Target> out;
  for (NodeId& n : nodes) {
    Target t;
    t.partition = partition++;
    t.node = std::move(n);
    out.push_back(std::move(t));
  }
  return std::make_shared<const std::vector<Target>>(std::move(out));
}

// Keys placed by hand; any other key lives on `fallback_set`.
class FakeContext : public RouteContext {
 public:
  FakeContext() : fallback_set_(Set(0, {kSelf, "b", "c"})) {}

  const NodeId& self() const override { return kSelf; }
  ReplicaSet Replicas(std::string_view key) const override {
    ++replicas_calls;
    auto it = placement.find(std::string(key));
    return it == placement.end() ? fallback_set_ : it->second;
  }
  CommandRef Find(std::string_view name) const override {
    if (std::find(hidden.begin(), hidden.end(), name) != hidden.end()) return {};
    return Ref(name);
  }
  bool Reachable(const NodeId& node) const override { return !unreachable.contains(node); }

  std::map<std::string, ReplicaSet> placement;
  std::set<NodeId> unreachable;
  std::vector<std::string_view> hidden;  // commands Find does not know
  mutable int replicas_calls = 0;

 private:
  ReplicaSet fallback_set_;
};

Request PlanOf(Argv argv, const FakeContext& ctx, bool coordinate_here = false) {
  std::string name = argv[0];
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const CommandRef cmd = Ref(name);
  REQUIRE(cmd);
  REQUIRE(ArityAllows(cmd, argv.size()));
  return Plan(cmd, argv, coordinate_here, ctx);
}

TEST_CASE("Plan: keyless commands run locally with their argv") {
  FakeContext ctx;
  for (const Argv& argv : {Argv{"PING"}, Argv{"ping", "hello"}, Argv{"ECHO", "x"}}) {
    CAPTURE(argv[0]);
    const Request req = PlanOf(argv, ctx);
    CHECK(req.kind == Request::Kind::kLocal);
    CHECK(req.combine == Combine::kSingle);
    CHECK(req.argv == argv);
    CHECK(req.parts.empty());
    CHECK(req.error.empty());
    CHECK_FALSE(req.barrier());
  }
  CHECK(ctx.replicas_calls == 0);
}

TEST_CASE("Plan: KEYS, SCAN and DBSIZE are cluster-wide barriers") {
  struct Case {
    Argv argv;
    Combine combine;
  };
  const std::vector<Case> cases = {
      {{"KEYS", "*"}, Combine::kConcatAll},
      {{"scan", "0", "MATCH", "a*"}, Combine::kScanAll},
      {{"DBSIZE"}, Combine::kSumAll},
  };
  FakeContext ctx;
  for (const Case& c : cases) {
    CAPTURE(c.argv[0]);
    const Request req = PlanOf(c.argv, ctx);
    CHECK(req.kind == Request::Kind::kClusterWide);
    CHECK(req.barrier());
    CHECK(req.combine == c.combine);
    CHECK(req.argv == c.argv);
    CHECK(req.parts.empty());
    CHECK(req.error.empty());
  }
  CHECK(ctx.replicas_calls == 0);
}

TEST_CASE("Plan: a single-key command is one part on its key's replicas") {
  FakeContext ctx;
  ctx.placement["here"] = Set(7, {"b", kSelf, "c"});
  ctx.placement["there"] = Set(9, {"b", "c", "d"});
  struct Case {
    std::string key;
    bool coordinate_here;
    bool forward;
    bool needs_read;
  };
  const std::vector<Case> cases = {
      {"here", false, false, true},   // a replica: read here
      {"there", false, true, false},  // not a replica: forwarded whole, no read
      {"here", true, false, true},
      {"there", true, false, true},  // SHOAL.FWD: coordinated here whatever the placement
  };
  for (const Case& c : cases) {
    CAPTURE(c.key);
    CAPTURE(c.coordinate_here);
    const Request req = PlanOf({"GET", c.key}, ctx, c.coordinate_here);
    CHECK(req.kind == Request::Kind::kKeyed);
    CHECK(req.combine == Combine::kSingle);
    CHECK(req.error.empty());
    CHECK(req.argv.empty());
    REQUIRE(req.parts.size() == 1);
    const Part& p = req.parts[0];
    CHECK(p.argv == Argv{"GET", c.key});
    CHECK(p.key == c.key);
    CHECK(p.cmd.name == "get");
    CHECK(p.replicas == ctx.placement[c.key]);  // the context's set, not a copy
    CHECK(p.forward == c.forward);
    CHECK(p.needs_read == c.needs_read);
    CHECK_FALSE(p.ready);
    CHECK_FALSE(p.done);
  }
}

TEST_CASE("Plan: a fallback target on this node counts as a replica") {
  FakeContext ctx;
  Target primary;
  primary.partition = 3;
  primary.node = "b";
  const Target fallback{.partition = 4, .node = kSelf, .fallback = true, .stands_in_for = "c"};
  auto targets = std::vector<Target>{primary, fallback};
  ctx.placement["k"] = std::make_shared<const std::vector<Target>>(std::move(targets));
  const Request req = PlanOf({"GET", "k"}, ctx);
  REQUIRE(req.parts.size() == 1);
  CHECK_FALSE(req.parts[0].forward);
  CHECK(req.parts[0].needs_read);
}

TEST_CASE("Plan: reads and read-modify-writes read first, blind writes do not") {
  struct Case {
    Argv argv;
    bool needs_read;
  };
  const std::vector<Case> cases = {
      {{"GET", "k"}, true},
      {{"SET", "k", "v"}, false},
      {{"SET", "k", "v", "EX", "10"}, false},
      {{"SET", "k", "v", "px", "100"}, false},
      {{"SET", "k", "v", "NX"}, true},
      {{"SET", "k", "v", "xx"}, true},
      {{"SET", "k", "v", "GET"}, true},
      {{"SET", "k", "v", "EX", "10", "KEEPTTL"}, true},
      {{"SET", "k", "NX"}, false},  // "NX" is the value here, not an option
      {{"SETEX", "k", "10", "v"}, false},
      {{"INCR", "k"}, true},
      {{"DEL", "k"}, true},
      {{"EXISTS", "k"}, true},
  };
  FakeContext ctx;  // every key lives here
  for (const Case& c : cases) {
    CAPTURE(c.argv);
    const Request req = PlanOf(c.argv, ctx);
    REQUIRE(req.parts.size() == 1);
    CHECK_FALSE(req.parts[0].forward);
    CHECK(req.parts[0].needs_read == c.needs_read);
  }
}

TEST_CASE("Plan: MGET becomes one GET part per key, combined as an array") {
  FakeContext ctx;
  ctx.placement["b"] = Set(20, {"x", "y", "z"});
  const Request req = PlanOf({"MGET", "a", "b", "c", "a"}, ctx);
  CHECK(req.kind == Request::Kind::kKeyed);
  CHECK(req.combine == Combine::kArray);
  CHECK(req.cmd.name == "mget");
  REQUIRE(req.parts.size() == 4);
  const std::vector<std::string> keys = {"a", "b", "c", "a"};  // duplicates kept, in order
  for (size_t i = 0; i < keys.size(); ++i) {
    CAPTURE(i);
    const Part& p = req.parts[i];
    CHECK(p.argv == Argv{"get", keys[i]});
    CHECK(p.key == keys[i]);
    CHECK(p.cmd.name == "get");
    CHECK(p.forward == (keys[i] == "b"));
    CHECK(p.needs_read == (keys[i] != "b"));
  }
}

TEST_CASE("Plan: DEL and EXISTS split per key under the client's spelling, summed") {
  FakeContext ctx;
  ctx.placement["far"] = Set(1, {"x"});
  for (const std::string name : {"DEL", "exists"}) {
    CAPTURE(name);
    const Request req = PlanOf({name, "k1", "far"}, ctx);
    CHECK(req.combine == Combine::kSum);
    REQUIRE(req.parts.size() == 2);
    CHECK(req.parts[0].argv == Argv{name, "k1"});
    CHECK(req.parts[1].argv == Argv{name, "far"});
    CHECK(req.parts[0].cmd.impl == req.cmd.impl);  // no part command: the command itself
    CHECK(req.parts[0].needs_read);
    CHECK_FALSE(req.parts[0].forward);
    CHECK(req.parts[1].forward);
    CHECK_FALSE(req.parts[1].needs_read);
  }
}

TEST_CASE("Plan: MSET becomes one blind SET part per pair, combined as OK") {
  FakeContext ctx;
  ctx.placement["k2"] = Set(5, {"x", "y"});
  const Request req = PlanOf({"MSET", "k1", "v1", "k2", "NX", "k3", "v3"}, ctx);
  CHECK(req.kind == Request::Kind::kKeyed);
  CHECK(req.combine == Combine::kOk);
  REQUIRE(req.parts.size() == 3);
  CHECK(req.parts[0].argv == Argv{"set", "k1", "v1"});
  CHECK(req.parts[1].argv == Argv{"set", "k2", "NX"});
  CHECK(req.parts[2].argv == Argv{"set", "k3", "v3"});
  for (const Part& p : req.parts) {
    CAPTURE(p.key);
    CHECK(p.cmd.name == "set");
    CHECK_FALSE(p.needs_read);  // a value "NX" is not an option
    CHECK(p.forward == (p.key == "k2"));
  }
}

TEST_CASE("Plan: a malformed MSET stays one part for the handler to reject") {
  FakeContext ctx;
  ctx.placement["k2"] = Set(5, {"x", "y"});
  const Argv argv = {"MSET", "k1", "v1", "k2"};
  const Request req = PlanOf(argv, ctx);
  CHECK(req.kind == Request::Kind::kKeyed);
  CHECK(req.combine == Combine::kSingle);
  CHECK(req.error.empty());
  REQUIRE(req.parts.size() == 1);
  CHECK(req.parts[0].argv == argv);
  CHECK(req.parts[0].cmd.name == "mset");
  CHECK(req.parts[0].key == "k1");
  CHECK_FALSE(req.parts[0].forward);
  CHECK(req.parts[0].needs_read);
}

TEST_CASE("Plan: a part command the host does not know leaves the command whole") {
  FakeContext ctx;
  ctx.hidden = {"get"};
  const Argv argv = {"MGET", "a", "b"};
  const Request req = PlanOf(argv, ctx);
  CHECK(req.kind == Request::Kind::kKeyed);
  CHECK(req.combine == Combine::kSingle);
  REQUIRE(req.parts.size() == 1);
  CHECK(req.parts[0].argv == argv);
  CHECK(req.parts[0].cmd.name == "mget");
  CHECK(req.parts[0].key == "a");
}

TEST_CASE("Plan: MSETNX keys must share one replica set, else CROSSSLOT") {
  FakeContext ctx;
  ctx.placement["a"] = Set(3, {kSelf, "b", "c"});
  ctx.placement["a2"] = Set(3, {kSelf, "b", "c"});  // equal, though another object
  ctx.placement["far"] = Set(3, {"x", "y", "z"});
  ctx.placement["other_partition"] = Set(4, {kSelf, "b", "c"});  // same nodes
  ctx.placement["reordered"] = Set(3, {"b", kSelf, "c"});

  SUBCASE("shared: one part, the whole command") {
    const Argv argv = {"MSETNX", "a", "1", "a2", "2", "a", "3"};
    const Request req = PlanOf(argv, ctx);
    CHECK(req.kind == Request::Kind::kKeyed);
    CHECK(req.error.empty());
    CHECK(req.combine == Combine::kSingle);
    REQUIRE(req.parts.size() == 1);
    CHECK(req.parts[0].argv == argv);
    CHECK(req.parts[0].key == "a");
    CHECK(req.parts[0].replicas == ctx.placement["a"]);
    CHECK(req.parts[0].needs_read);
    CHECK_FALSE(req.parts[0].forward);
    // Every key is read before it runs, each once.
    CHECK(req.parts[0].more_keys == std::vector<std::string>{"a2"});
  }
  SUBCASE("same nodes through another partition: shared") {
    const Request req = PlanOf({"MSETNX", "a", "1", "other_partition", "2"}, ctx);
    CHECK(req.error.empty());
    CHECK(req.parts.size() == 1);
  }
  SUBCASE("one key: nothing to compare") {
    const Request req = PlanOf({"MSETNX", "far", "1"}, ctx);
    CHECK(req.error.empty());
    REQUIRE(req.parts.size() == 1);
    CHECK(req.parts[0].forward);
    CHECK(req.parts[0].more_keys.empty());  // the coordinator it goes to reads
  }
  for (const std::string other : {"far", "reordered"}) {
    for (const bool coordinate_here : {false, true}) {
      CAPTURE(other);
      CAPTURE(coordinate_here);
      const Request req = PlanOf({"MSETNX", "a", "1", other, "2"}, ctx, coordinate_here);
      CHECK(req.kind == Request::Kind::kLocal);
      CHECK(req.combine == Combine::kSingle);
      CHECK(req.error == "CROSSSLOT Keys in request don't hash to the same slot");
      CHECK(req.error == facade::errors::kCrossSlot);
      CHECK(req.parts.empty());
    }
  }
}

TEST_CASE("ShareReplicas: the same nodes in the same order, any partition") {
  FakeContext ctx;
  ctx.placement["a"] = Set(3, {kSelf, "b", "c"});
  ctx.placement["a2"] = Set(5, {kSelf, "b", "c"});
  ctx.placement["far"] = Set(3, {"x", "y", "z"});
  ctx.placement["reordered"] = Set(3, {"b", kSelf, "c"});
  using Keys = std::vector<std::string_view>;
  CHECK(ShareReplicas(ctx, Keys{}));
  CHECK(ShareReplicas(ctx, Keys{"far"}));
  CHECK(ShareReplicas(ctx, Keys{"a", "a2", "a"}));
  CHECK_FALSE(ShareReplicas(ctx, Keys{"a", "far"}));
  CHECK_FALSE(ShareReplicas(ctx, Keys{"a", "reordered"}));
}

// A routing whose keys are named by a count (as the transaction frame's).
std::vector<size_t> CountedKeys(std::span<const std::string> argv) {
  std::vector<size_t> out;
  const size_t n = argv.size() > 1 ? static_cast<size_t>(std::stoul(argv[1])) : 0;
  for (size_t i = 0; i < n && 2 + i < argv.size(); ++i) out.push_back(2 + i);
  return out;
}

TEST_CASE("Plan: a keys_of hook names the keys; they must share replicas and are all read") {
  FakeContext ctx;
  ctx.placement["k1"] = Set(3, {kSelf, "b", "c"});
  ctx.placement["k2"] = Set(4, {kSelf, "b", "c"});
  ctx.placement["far"] = Set(3, {"x", "y", "z"});
  const Routing routing{.split = Split::kSameReplicas, .keys_of = CountedKeys};
  const CommandRef txn{.impl = &routing,
                       .name = "txn",
                       .arity = -3,
                       .write = true,
                       .first_key = 2,
                       .last_key = 2,
                       .key_step = 1,
                       .routing = &routing};
  Argv argv = {"txn", "2", "k1", "k2", "payload", "k1"};
  CHECK(KeyPositions(txn, argv) == std::vector<size_t>{2, 3});
  Request req = Plan(txn, argv, false, ctx);
  REQUIRE(req.parts.size() == 1);
  CHECK(req.parts[0].key == "k1");
  CHECK(req.parts[0].more_keys == std::vector<std::string>{"k2"});
  CHECK(req.parts[0].needs_read);
  Argv cross = {"txn", "2", "k1", "far", "payload"};
  req = Plan(txn, cross, false, ctx);
  CHECK(req.error == facade::errors::kCrossSlot);
}

TEST_CASE("KeyPositions follows Redis's first/last/step convention") {
  struct Case {
    int first, last, step;
    size_t argc;
    std::vector<size_t> want;
  };
  const std::vector<Case> cases = {
      {0, 0, 0, 3, {}},          // keyless
      {1, 1, 1, 2, {1}},         // GET k
      {1, 1, 1, 5, {1}},         // SET k v EX 10
      {1, -1, 1, 4, {1, 2, 3}},  // MGET a b c
      {1, -1, 1, 2, {1}},        // MGET a
      {1, -1, 2, 5, {1, 3}},     // MSET a 1 b 2
      {1, -1, 2, 4, {1, 3}},     // MSET a 1 b (malformed)
      {2, -1, 1, 4, {2, 3}},     // first key 2
      {1, -2, 1, 4, {1, 2}},     // all but the last argument
      {1, -2, 1, 2, {}},         // last resolves before first
      {1, -3, 1, 2, {}},         // last before argv[0]
      {1, -5, 1, 3, {}},         // ... far before
      {1, 3, 1, 3, {1, 2}},      // last past argc is clamped
      {1, 1, 1, 1, {}},          // no argument at the first key's position
      {3, -1, 1, 3, {}},         // first key past the end
      {1, -1, 0, 3, {1, 2}},     // step 0 treated as 1
      {1, 4, 3, 8, {1, 4}},      // step 3
  };
  for (const Case& c : cases) {
    CAPTURE(c.first);
    CAPTURE(c.last);
    CAPTURE(c.step);
    CAPTURE(c.argc);
    CommandRef cmd;
    cmd.first_key = c.first;
    cmd.last_key = c.last;
    cmd.key_step = c.step;
    CHECK(KeyPositions(cmd, c.argc) == c.want);
  }
}

TEST_CASE("Plan property: MGET has one part per key with the context's replicas") {
  std::mt19937 rng(20240611);
  const std::vector<NodeId> nodes = {kSelf, "n1", "n2", "n3", "n4"};
  for (int round = 0; round < 300; ++round) {
    CAPTURE(round);
    FakeContext ctx;
    const size_t key_count = 1 + rng() % 12;
    Argv argv = {"MGET"};
    for (size_t i = 0; i < key_count; ++i) {
      // Small key space: repeats happen.
      const std::string key = "k" + std::to_string(rng() % 8);
      argv.push_back(key);
      if (ctx.placement.count(key) != 0) continue;
      std::vector<NodeId> pick = nodes;
      std::shuffle(pick.begin(), pick.end(), rng);
      pick.resize(1 + rng() % 3);
      ctx.placement[key] = Set(static_cast<uint32_t>(rng() % 64), pick);
    }
    const bool coordinate_here = rng() % 4 == 0;
    const Argv sent = argv;
    const Request req = PlanOf(argv, ctx, coordinate_here);
    CHECK(req.kind == Request::Kind::kKeyed);
    CHECK(req.combine == Combine::kArray);
    REQUIRE(req.parts.size() == key_count);
    for (size_t i = 0; i < key_count; ++i) {
      CAPTURE(i);
      const Part& p = req.parts[i];
      const std::string& key = sent[i + 1];
      CHECK(p.key == key);
      CHECK(p.argv == Argv{"get", key});
      const ReplicaSet& want = ctx.placement[key];
      REQUIRE(p.replicas != nullptr);
      CHECK(*p.replicas == *want);
      const bool mine =
          std::any_of(want->begin(), want->end(), [](const Target& t) { return t.node == kSelf; });
      CHECK(p.forward == (!mine && !coordinate_here));
      CHECK(p.needs_read == !p.forward);
    }
  }
}

}  // namespace
}  // namespace shoal::cluster

namespace shoal::cluster {
namespace {

TEST_CASE("Plan: a write that reads first goes to the key's first reachable primary") {
  FakeContext ctx;
  ctx.placement["k"] = Set(7, {"b", kSelf, "c"});
  for (const Argv& argv : {Argv{"INCR", "k"}, Argv{"SET", "k", "v", "NX"}, Argv{"DEL", "k"}}) {
    CAPTURE(argv[0]);
    SUBCASE("the first primary is reachable: it coordinates") {
      const Request req = PlanOf(argv, ctx);
      REQUIRE(req.parts.size() == 1);
      CHECK(req.parts[0].forward);
      CHECK(req.parts[0].forward_to == "b");
      CHECK_FALSE(req.parts[0].needs_read);  // the coordinator reads
    }
    SUBCASE("the first primary is unreachable: the next one, this node") {
      ctx.unreachable = {"b"};
      const Request req = PlanOf(argv, ctx);
      REQUIRE(req.parts.size() == 1);
      CHECK_FALSE(req.parts[0].forward);
      CHECK(req.parts[0].needs_read);
    }
    SUBCASE("forwarded here: coordinated here whatever the placement") {
      const Request req = PlanOf(argv, ctx, /*coordinate_here=*/true);
      REQUIRE(req.parts.size() == 1);
      CHECK_FALSE(req.parts[0].forward);
    }
  }
}

TEST_CASE("Plan: reads and blind writes run on this node when it is a replica") {
  FakeContext ctx;
  ctx.placement["k"] = Set(7, {"b", kSelf, "c"});
  for (const Argv& argv : {Argv{"GET", "k"}, Argv{"SET", "k", "v"}, Argv{"SETEX", "k", "9", "v"}}) {
    CAPTURE(argv[0]);
    const Request req = PlanOf(argv, ctx);
    REQUIRE(req.parts.size() == 1);
    CHECK_FALSE(req.parts[0].forward);
  }
}

TEST_CASE("Plan: a part for keys held elsewhere goes to the first reachable replica") {
  FakeContext ctx;
  ctx.placement["k"] = Set(7, {"x", "y", "z"});
  ctx.unreachable = {"x"};
  for (const Argv& argv : {Argv{"GET", "k"}, Argv{"INCR", "k"}}) {
    CAPTURE(argv[0]);
    const Request req = PlanOf(argv, ctx);
    REQUIRE(req.parts.size() == 1);
    CHECK(req.parts[0].forward);
    CHECK(req.parts[0].forward_to == "y");
  }
  SUBCASE("none reachable: the first, where it fails with NOQUORUM") {
    ctx.unreachable = {"x", "y", "z"};
    const Request req = PlanOf({"GET", "k"}, ctx);
    REQUIRE(req.parts.size() == 1);
    CHECK(req.parts[0].forward_to == "x");
  }
}

// A sloppy replica set: this node stands in for `down` (the first primary),
// followed by the primaries `b` and `c`.
ReplicaSet SelfStandingInFor(const NodeId& down) {
  std::vector<Target> targets;
  targets.push_back(Target{.partition = 7, .node = kSelf, .fallback = true, .stands_in_for = down});
  for (const char* primary : {"b", "c"}) {
    Target t;
    t.partition = 7;
    t.node = primary;
    targets.push_back(std::move(t));
  }
  return std::make_shared<const std::vector<Target>>(std::move(targets));
}

TEST_CASE("Plan: a fallback sends writes to a reachable primary and serves reads itself") {
  FakeContext ctx;
  ctx.placement["k"] = SelfStandingInFor("a");
  for (const Argv& argv :
       {Argv{"INCR", "k"}, Argv{"SET", "k", "v", "NX"}, Argv{"SET", "k", "v"}, Argv{"DEL", "k"}}) {
    CAPTURE(argv[0]);
    ctx.unreachable.clear();
    SUBCASE("a primary is reachable: the first one coordinates") {
      const Request req = PlanOf(argv, ctx);
      REQUIRE(req.parts.size() == 1);
      CHECK(req.parts[0].forward);
      CHECK(req.parts[0].forward_to == "b");
      ctx.unreachable = {"b"};
      const Request next = PlanOf(argv, ctx);
      CHECK(next.parts[0].forward_to == "c");
    }
    SUBCASE("no primary is reachable: this fallback coordinates") {
      ctx.unreachable = {"b", "c"};
      const Request req = PlanOf(argv, ctx);
      REQUIRE(req.parts.size() == 1);
      CHECK_FALSE(req.parts[0].forward);
    }
  }
  SUBCASE("a read runs on this node") {
    const Request req = PlanOf({"GET", "k"}, ctx);
    REQUIRE(req.parts.size() == 1);
    CHECK_FALSE(req.parts[0].forward);
    CHECK(req.parts[0].needs_read);
  }
}

}  // namespace
}  // namespace shoal::cluster
