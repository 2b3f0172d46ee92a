// Keyspace::WriterScope and StandInWriter: a node that forgot its copy of a
// key and writes it again must not cover the writes it made before it forgot
// (they live on elsewhere); writing as a fresh stand-in actor keeps them.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/node_id.h"
#include "storage/store.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Node {
  explicit Node(char id) : self(actors.Intern(std::string(40, id)).value()) {
    ks.set_options(KeyspaceOptions{.keep_tombstones = true});
  }
  Store store;
  ActorTable actors;
  DotCounter dots;
  ActorId self;
  Keyspace ks{store, actors, self, dots};

  void Sadd(std::string_view key, const std::string& member) {
    REQUIRE(ks.ModifySet(key, kNow, [&](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
                s.Add(member, w.dot);
                return true;
              }).ok());
  }
  std::vector<std::string> Members(std::string_view key) {
    auto view = ks.ReadSet(key, kNow);
    REQUIRE(view.ok());
    std::vector<std::string> out;
    for (const auto& e : view.value().state.map().entries()) out.push_back(e.name);
    return out;
  }
  // This node's object of `key`, as the peer channel carries it.
  std::string Ship(std::string_view key) {
    auto obj = ks.Load(key, kNow);
    REQUIRE(obj.ok());
    std::string bytes;
    obj.value().EncodeWithNodeIds(actors, &bytes);
    return bytes;
  }
  void Take(std::string_view key, const std::string& bytes) {
    auto obj = Object::DecodeWithNodeIds(bytes, actors);
    REQUIRE(obj.ok());
    REQUIRE(ks.Merge(key, obj.value(), kNow).ok());
  }
  int64_t Counter(std::string_view key) {
    auto v = ks.Get(key, kNow);
    REQUIRE(v.ok());
    REQUIRE(v.value().count == 1);
    return std::stoll(std::string(v.value().value(0)));
  }
};

// Two stand-in episodes of `fallback` for keys whose primary is `primary`:
// the first episode's writes reach the primary, the fallback forgets its
// copies, then writes again from nothing (what a read quorum of other
// fallbacks may give it). `stand_in`: as Keyspace::StandInWriter, else as
// the fallback's own actor.
void TwoEpisodes(Node& fallback, Node& primary, bool stand_in) {
  auto write = [&](auto fn) {
    if (!stand_in) return fn();
    auto writer = fallback.ks.StandInWriter();
    REQUIRE(writer.ok());
    Keyspace::WriterScope scope(fallback.ks, writer.value());
    fn();
  };
  write([&] {
    fallback.Sadd("cart", "first");
    REQUIRE(fallback.ks.IncrBy("visits", 5, kNow).ok());
  });
  primary.Take("cart", fallback.Ship("cart"));
  primary.Take("visits", fallback.Ship("visits"));
  fallback.ks.Forget("cart", kNow);
  fallback.ks.Forget("visits", kNow);
  write([&] {
    fallback.Sadd("cart", "second");
    REQUIRE(fallback.ks.IncrBy("visits", 3, kNow).ok());
  });
  primary.Take("cart", fallback.Ship("cart"));
  primary.Take("visits", fallback.Ship("visits"));
}

TEST_CASE("a stand-in writer keeps the writes made before its copy was forgotten") {
  Node fallback('f'), primary('c');
  TwoEpisodes(fallback, primary, /*stand_in=*/true);
  CHECK(primary.Members("cart") == std::vector<std::string>{"first", "second"});
  CHECK(primary.Counter("visits") == 8);
}

TEST_CASE("without one, the second write covers the first (why stand-in writers exist)") {
  Node fallback('f'), primary('c');
  TwoEpisodes(fallback, primary, /*stand_in=*/false);
  CHECK(primary.Members("cart") == std::vector<std::string>{"second"});
  CHECK(primary.Counter("visits") == 3);  // the second version supersedes the first: +5 lost
}

TEST_CASE("StandInWriter: one actor per epoch; Forget, FlushAll and a new start begin another") {
  Node n('a');
  auto first = n.ks.StandInWriter();
  REQUIRE(first.ok());
  CHECK(first.value() != n.self);
  CHECK(n.actors.NameOf(first.value()).size() == 40);
  CHECK(n.ks.StandInWriter().value() == first.value());
  n.Sadd("k", "m");  // takes a dot
  CHECK(n.ks.StandInWriter().value() == first.value());
  n.ks.Forget("k", kNow);
  auto second = n.ks.StandInWriter();
  REQUIRE(second.ok());
  CHECK(second.value() != first.value());
  n.Sadd("k", "m");
  n.ks.FlushAll();
  CHECK(n.ks.StandInWriter().value() != second.value());
  // Inside a scope writes carry the scope's actor, outside this node's.
  {
    Keyspace::WriterScope scope(n.ks, second.value());
    REQUIRE(n.ks.Put("s", Version::Bytes("v", kNow), kNow).ok());
    CHECK(n.ks.Load("s", kNow).value().Context().Get(second.value()) > 0);
    CHECK(n.ks.Load("s", kNow).value().Context().Get(n.self) == 0);
  }
  REQUIRE(n.ks.Put("s", Version::Bytes("w", kNow), kNow).ok());
  CHECK(n.ks.Load("s", kNow).value().Context().Get(n.self) > 0);
}

TEST_CASE("DerivedNodeId: 20 bytes, deterministic, distinct per node and epoch") {
  const std::string a(20, '\x01'), b(20, '\x02');
  CHECK(DerivedNodeId(a, 7).size() == 20);
  CHECK(DerivedNodeId(a, 7) == DerivedNodeId(a, 7));
  CHECK(DerivedNodeId(a, 7) != DerivedNodeId(a, 8));
  CHECK(DerivedNodeId(a, 7) != DerivedNodeId(b, 7));
  CHECK(DerivedNodeId(a, 7) != a);
}

}  // namespace
}  // namespace shoal::storage
