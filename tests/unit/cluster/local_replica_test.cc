// LocalReplica: the replica side of SHOAL.MGET and SHOAL.MPUT, driven frame
// by frame on real keyspaces; replies are read back with the peer channel's
// parser, as a coordinator reads them.

#include "cluster/local_replica.h"

#include <doctest/doctest.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "cluster/peer/client.h"
#include "storage/clock.h"
#include "storage/object.h"
#include "tests/unit/cluster/test_node.h"

namespace shoal::cluster {
namespace {

using testing::TestNode;
using Type = PeerReply::Type;
using Strings = std::vector<std::string>;

const std::string kIdA(40, 'a');
const std::string kIdB(40, 'b');

const std::string kIdC(40, 'c');

struct Pair {
  storage::ManualClock clock;
  TestNode a{kIdA, clock};
  TestNode b{kIdB, clock};
};

// True if x and y hold the same object for `key`: y's copy, decoded with x's
// actor table, equals x's (encodings may differ, see the digest case below).
bool SameObject(TestNode& x, TestNode& y, const std::string& key) {
  auto theirs = storage::Object::DecodeWithNodeIds(y.Encoded(key), x.actors());
  REQUIRE(theirs.ok());
  return theirs.value() == x.Load(key);
}

// The elements of an array reply, checking it has `n`.
std::vector<PeerReply> Items(const PeerReply& r, size_t n) {
  REQUIRE(r.type == Type::kArray);
  REQUIRE(r.elements.size() == n);
  return r.elements;
}

TEST_CASE("SHOAL.MGET: nil for an absent key, else the object in the node-id encoding") {
  Pair p;
  p.a.Set("k", "v1");
  auto items = Items(p.a.Serve({"SHOAL.MGET", "k", "", "missing", ""}), 2);
  REQUIRE(items[0].type == Type::kString);
  CHECK(items[0].str == p.a.Encoded("k"));
  CHECK(items[1].type == Type::kNil);
  CHECK(p.a.replica().stats().gets == 2);

  // The bytes decode on another node to the same values and context.
  auto decoded = storage::Object::DecodeWithNodeIds(items[0].str, p.b.actors());
  REQUIRE(decoded.ok());
  CHECK(decoded.value().LiveValues(p.clock.NowMs(), p.b.actors()) == Strings{"v1"});
  std::string again;
  decoded.value().EncodeWithNodeIds(p.b.actors(), &again);
  CHECK(again == items[0].str);
}

TEST_CASE("SHOAL.MGET: '=' when the coordinator's digest matches, the object when it does not") {
  Pair p;
  p.a.Set("k", "v1");
  p.a.CopyTo(p.b, "k");
  const std::string same = p.b.Digest("k");
  REQUIRE(same.size() == 8);
  // Digests are of the node-id form: two nodes with the same object agree
  // although their ActorIds differ.
  CHECK(p.a.Digest("k") == same);

  auto items = Items(p.a.Serve({"SHOAL.MGET", "k", same}), 1);
  CHECK(items[0].type == Type::kStatus);
  CHECK(items[0].str == "=");

  // A newer version here: the old digest no longer matches.
  p.clock.AdvanceMs(1);
  p.a.Set("k", "v2");
  CHECK(p.a.Digest("k") != same);
  items = Items(p.a.Serve({"SHOAL.MGET", "k", same}), 1);
  REQUIRE(items[0].type == Type::kString);
  CHECK(items[0].str == p.a.Encoded("k"));

  // A digest of the wrong length is no digest.
  items = Items(p.a.Serve({"SHOAL.MGET", "k", same + "x"}), 1);
  CHECK(items[0].type == Type::kString);
  items = Items(p.a.Serve({"SHOAL.MGET", "k", same.substr(1)}), 1);
  CHECK(items[0].type == Type::kString);

  // An absent key is nil whatever the digest.
  items = Items(p.a.Serve({"SHOAL.MGET", "missing", same}), 1);
  CHECK(items[0].type == Type::kNil);
}

TEST_CASE("SHOAL.MGET: a known stored digest answers '=' without reading the object") {
  Pair p;
  p.a.Set("k", "v1");
  const std::string digest = p.a.Digest("k");
  std::optional<uint64_t> known;
  p.a.replica().set_stored_digests(
      [&](std::string_view key) { return key == "k" ? known : std::optional<uint64_t>(); });
  uint64_t d = 0;
  std::memcpy(&d, digest.data(), sizeof(d));

  // Known and equal: "=", even with the stored bytes damaged (they are not read).
  known = d;
  p.a.store().Set("k", std::string("\xff\xff", 2), 0, p.clock.NowMs());
  auto items = Items(p.a.Serve({"SHOAL.MGET", "k", digest}), 1);
  CHECK(items[0].type == Type::kStatus);
  CHECK(items[0].str == "=");

  // Known and different, or unknown: the object is read (here: damaged).
  known = d + 1;
  items = Items(p.a.Serve({"SHOAL.MGET", "k", digest}), 1);
  CHECK(items[0].type == Type::kError);
  known.reset();
  items = Items(p.a.Serve({"SHOAL.MGET", "k", digest}), 1);
  CHECK(items[0].type == Type::kError);

  // No digest from the coordinator: the object, whatever is known.
  known = d;
  items = Items(p.a.Serve({"SHOAL.MGET", "k", ""}), 1);
  CHECK(items[0].type == Type::kError);
  CHECK(p.a.replica().stats().gets == 4);
}

TEST_CASE("SHOAL.MGET: a causal digest compares histories, cached container or not") {
  Pair p;
  for (int i = 0; i < 20; ++i) p.a.AddMember("s", "m" + std::to_string(i));
  p.a.CopyTo(p.b, "s");
  const std::string causal = p.a.CausalDigest("s");
  REQUIRE(causal.size() == 9);
  CHECK(causal[0] == kCausalDigestTag);
  CHECK(p.b.CausalDigest("s") == causal);  // node-id order: the same on both nodes

  // b holds the same set (its write cached it): "=" from the cache.
  auto items = Items(p.b.Serve({"SHOAL.MGET", "s", causal}), 1);
  CHECK(items[0].type == Type::kStatus);
  CHECK(items[0].str == "=");

  SUBCASE("not cached: the object is read and its causal digest compared") {
    p.b.keyspace().set_options([&] {
      storage::KeyspaceOptions o = p.b.keyspace().options();
      o.container_cache.max_keys = 0;
      return o;
    }());
    REQUIRE_FALSE(p.b.keyspace().CachedBaseDigest("s", p.clock.NowMs()).has_value());
    items = Items(p.b.Serve({"SHOAL.MGET", "s", causal}), 1);
    CHECK(items[0].type == Type::kStatus);
    CHECK(items[0].str == "=");
  }
  SUBCASE("a write the coordinator lacks: b answers with its object") {
    p.b.AddMember("s", "newer");
    items = Items(p.b.Serve({"SHOAL.MGET", "s", causal}), 1);
    REQUIRE(items[0].type == Type::kString);
    CHECK(items[0].str == p.b.Encoded("s"));
  }
  SUBCASE("a write b lacks: the digests differ too") {
    p.a.AddMember("s", "newer");
    items = Items(p.b.Serve({"SHOAL.MGET", "s", p.a.CausalDigest("s")}), 1);
    REQUIRE(items[0].type == Type::kString);
    CHECK(items[0].str == p.b.Encoded("s"));
  }
  SUBCASE("the byte digest of the same object is not a causal one, and no tag is no match") {
    items = Items(p.b.Serve({"SHOAL.MGET", "s", causal.substr(1)}), 1);
    CHECK(items[0].type == Type::kString);
    items = Items(p.b.Serve({"SHOAL.MGET", "s", "x" + causal.substr(1)}), 1);
    CHECK(items[0].type == Type::kString);
    items = Items(p.b.Serve({"SHOAL.MGET", "s", p.b.Digest("s")}), 1);
    CHECK(items[0].str == "=");  // the byte digest still works
  }
  SUBCASE("an absent key is nil") {
    items = Items(p.b.Serve({"SHOAL.MGET", "missing", causal}), 1);
    CHECK(items[0].type == Type::kNil);
  }
}

TEST_CASE("SHOAL.MGET and SHOAL.MPUT: a frame of the wrong arity gets an error, nothing served") {
  Pair p;
  p.a.Set("k", "v1");
  const std::string object = p.a.Encoded("k");
  const std::vector<Strings> bad = {{"x"}, {"x", "k"}, {"x", "k", "d", "k2"}};
  for (const Strings& tail : bad) {
    Strings get = tail, put = tail;
    get[0] = "SHOAL.MGET";
    put[0] = "SHOAL.MPUT";
    CAPTURE(tail.size());
    PeerReply r = p.b.Serve(get);
    CHECK(r.type == Type::kError);
    CHECK(r.str == "ERR bad SHOAL.MGET frame");
    r = p.b.Serve(put);
    CHECK(r.type == Type::kError);
    CHECK(r.str == "ERR bad SHOAL.MPUT frame");
  }
  CHECK(p.b.replica().stats().gets == 0);
  CHECK(p.b.replica().stats().puts == 0);
  CHECK(p.b.Load("k").Size() == 0);
}

TEST_CASE("SHOAL.MGET: damaged stored bytes are an error for that item only") {
  Pair p;
  p.a.Set("good", "v");
  p.a.store().Set("bad", std::string("\xff\xff\xff garbage", 11), 0);
  auto items = Items(p.a.Serve({"SHOAL.MGET", "bad", "", "good", ""}), 2);
  CHECK(items[0].type == Type::kError);
  CHECK(items[0].str.rfind("ERR ", 0) == 0);
  REQUIRE(items[1].type == Type::kString);
  CHECK(items[1].str == p.a.Encoded("good"));
}

TEST_CASE("SHOAL.MPUT: merges; concurrent versions stay siblings, a descendant supersedes") {
  Pair p;
  p.a.Set("k", "from-a");
  p.clock.AdvanceMs(1);
  p.b.Set("k", "from-b");

  auto items = Items(p.b.Serve({"SHOAL.MPUT", "k", p.a.Encoded("k")}), 1);
  CHECK(items[0].type == Type::kStatus);
  CHECK(items[0].str == "OK");
  CHECK(p.b.Values("k") == Strings{"from-a", "from-b"});
  CHECK(p.b.Load("k").Size() == 2);

  // Applying the same object again changes nothing.
  const std::string before = p.b.Encoded("k");
  Items(p.b.Serve({"SHOAL.MPUT", "k", p.a.Encoded("k")}), 1);
  CHECK(p.b.Encoded("k") == before);

  // A write on b that saw both versions supersedes them on a.
  p.clock.AdvanceMs(1);
  p.b.Set("k", "resolved");
  Items(p.a.Serve({"SHOAL.MPUT", "k", p.b.Encoded("k")}), 1);
  CHECK(p.a.Values("k") == Strings{"resolved"});
  CHECK(p.a.Load("k").Size() == 1);
  CHECK(SameObject(p.a, p.b, "k"));
}

TEST_CASE("SHOAL.MPUT: concurrent counter increments are joined") {
  Pair p;
  int64_t now = p.clock.NowMs();
  REQUIRE(p.a.keyspace().IncrBy("n", 2, now).ok());
  REQUIRE(p.b.keyspace().IncrBy("n", 3, now).ok());
  REQUIRE(p.b.keyspace().IncrBy("n", -1, now).ok());
  Items(p.b.Serve({"SHOAL.MPUT", "n", p.a.Encoded("n")}), 1);
  CHECK(p.b.Values("n") == Strings{"4"});
  Items(p.a.Serve({"SHOAL.MPUT", "n", p.b.Encoded("n")}), 1);
  CHECK(p.a.Values("n") == Strings{"4"});
  // Both replicas hold the same object now.
  CHECK(SameObject(p.a, p.b, "n"));
}

TEST_CASE("SHOAL.MPUT: a damaged object is an error for its item; the store keeps its copy") {
  Pair p;
  TestNode c(kIdC, p.clock);
  // Two siblings: the general form, whose values carry their lengths. (A
  // lone bytes version ends with its value and no length, so a cut there
  // is a shorter value, not damage the decoder can see.)
  p.a.Set("k", "from-a");
  c.Set("k", "from-c");
  c.CopyTo(p.a, "k");
  p.a.Set("other", "o");
  p.b.Set("k", "from-b");
  const std::string good = p.a.Encoded("k");
  const std::string before = p.b.Encoded("k");

  const std::vector<std::string> damaged = {
      good.substr(0, good.size() - 1),          // torn tail
      good + "x",                               // trailing bytes
      good.substr(0, 5),                        // cut inside a node id
      std::string("\xff", 1) + good.substr(1),  // reserved flag bits
      "",                                       // nothing at all
  };
  uint64_t puts = p.b.replica().stats().puts;
  for (const std::string& bytes : damaged) {
    CAPTURE(bytes.size());
    auto items = Items(p.b.Serve({"SHOAL.MPUT", "k", bytes, "other", p.a.Encoded("other")}), 2);
    CHECK(items[0].type == Type::kError);
    CHECK(items[0].str.rfind("ERR ", 0) == 0);
    CHECK(items[1].type == Type::kStatus);  // the rest of the frame is applied
    CHECK(p.b.Encoded("k") == before);
    puts += 2;
    CHECK(p.b.replica().stats().puts == puts);
  }
  CHECK(p.b.Values("k") == Strings{"from-b"});
  CHECK(p.b.Values("other") == Strings{"o"});
}

// Equal objects have equal digests on every node (local_replica.h), although
// the two nodes number the actors in a different order: the node-id form is
// canonical.
TEST_CASE("ObjectDigest: the same two-actor object on two nodes") {
  Pair p;
  p.a.Set("k", "from-a");
  p.b.Set("k", "from-b");
  p.a.CopyTo(p.b, "k");
  p.b.CopyTo(p.a, "k");
  REQUIRE(SameObject(p.a, p.b, "k"));
  CHECK(p.a.Digest("k") == p.b.Digest("k"));
  auto items = Items(p.b.Serve({"SHOAL.MGET", "k", p.a.Digest("k")}), 1);
  CHECK(items[0].type == Type::kStatus);
}

TEST_CASE("LocalReplica stats count items, not frames") {
  Pair p;
  p.a.Set("k", "v");
  Items(p.b.Serve({"SHOAL.MPUT", "k", p.a.Encoded("k"), "j", p.a.Encoded("k")}), 2);
  Items(p.b.Serve({"SHOAL.MGET", "k", "", "j", "", "absent", ""}), 3);
  Items(p.b.Serve({"SHOAL.MGET", "k", p.b.Digest("k")}), 1);
  CHECK(p.b.replica().stats().puts == 2);
  CHECK(p.b.replica().stats().gets == 4);
}

}  // namespace
}  // namespace shoal::cluster
