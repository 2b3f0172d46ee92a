// The container encodings: round trips (local and node-id forms, alone and
// among siblings), canonical node-id bytes, every truncation and corruption
// failing cleanly, one-element lookups, and the size of a 10,000-member set.

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "storage/container_codec.h"
#include "storage/object.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Nodes {
  ActorTable actors;
  ActorId a = actors.Intern(std::string(40, 'c')).value();
  ActorId b = actors.Intern(std::string(40, 'b')).value();
};

// A set, a hash with every atom kind, a sorted set with both kinds, each
// with concurrent versions, and an object holding one of each.
Object SampleSet(Nodes& n) {
  Object o;
  OrSet s;
  Dot d = o.NextPutDot(n.a);
  s.Add("alpha", d);
  s.Add("beta", d);
  o.Put(Version::OfSet(s, kNow), n.a);
  VersionVector old = o.Context();
  OrSet t = s;
  d = o.NextPutDot(n.b);
  t.Add(std::string("bin\0ary", 7), d);
  t.Remove("alpha");
  o.Update(old, Version::OfSet(t, kNow + 1, kNow + 99), n.b);
  return o;
}

Object SampleHash(Nodes& n) {
  Object o;
  OrHash h;
  Dot d = o.NextPutDot(n.a);
  h.Set("name", "ann", d, kNow);
  h.Set("n", "5", d, kNow);
  o.Put(Version::OfHash(h, kNow), n.a);
  d = o.NextPutDot(n.a);
  REQUIRE(h.IncrBy("n", -7, d, n.actors).ok());
  REQUIRE(h.IncrByFloat("f", 1.5L, d, n.actors).ok());
  o.Put(Version::OfHash(h, kNow + 1), n.a);
  OrHash other;
  d = Dot{n.b, 1};
  other.Set("name", "bob", d, kNow + 2);
  REQUIRE(other.IncrBy("n", 3, d, n.actors).ok());
  Object side;
  side.Put(Version::OfHash(other, kNow + 2), n.b);
  o.Merge(side);
  return o;
}

Object SampleZset(Nodes& n) {
  Object o;
  OrZset z;
  Dot d = o.NextPutDot(n.a);
  z.Add("m", 1.5, d, kNow);
  z.Add("inf", std::numeric_limits<double>::infinity(), d, kNow);
  o.Put(Version::OfZset(z, kNow), n.a);
  d = o.NextPutDot(n.a);
  REQUIRE(z.IncrBy("m", -0.25, d, n.actors).ok());
  o.Put(Version::OfZset(z, kNow + 1), n.a);
  return o;
}

void RoundTrips(const Object& o, Nodes& n) {
  const std::string local = o.Encode();
  auto back = Object::Decode(local, n.actors);
  REQUIRE(back.ok());
  CHECK(back.value() == o);
  CHECK(back.value().Encode() == local);
  std::string wire;
  o.EncodeWithNodeIds(n.actors, &wire);
  auto remote = Object::DecodeWithNodeIds(wire, n.actors);
  REQUIRE(remote.ok());
  CHECK(remote.value() == o);
  // Another node meeting the actors in the other order reads the same
  // object and writes the same node-id bytes.
  ActorTable other;
  REQUIRE(other.Intern(std::string(40, 'b')).ok());
  auto there = Object::DecodeWithNodeIds(wire, other);
  REQUIRE(there.ok());
  std::string wire2;
  there.value().EncodeWithNodeIds(other, &wire2);
  CHECK(wire2 == wire);
}

TEST_CASE("containers round-trip in both forms; node-id bytes are canonical") {
  Nodes n;
  RoundTrips(SampleSet(n), n);
  RoundTrips(SampleHash(n), n);
  RoundTrips(SampleZset(n), n);
  // All three types and a string as siblings of one key.
  Object mixed;
  mixed.Merge(SampleSet(n));
  Object h = SampleHash(n);
  Object z;
  z.Update({}, SampleZset(n).siblings()[0].value, n.b);
  mixed.Update({}, Version::Bytes("s", kNow), n.b);
  RoundTrips(mixed, n);
  RoundTrips(h, n);
  RoundTrips(z, n);
  // An empty container (DEL) keeps its clock through the codec.
  Object del = SampleSet(n);
  OrSet empty = del.SetView(kNow, n.actors).value().state;
  empty.Clear();
  del.Put(Version::OfSet(empty, kNow + 5), n.a);
  RoundTrips(del, n);
  CHECK(Object::EncodedIsTombstonesOnly(del.Encode(), n.actors));
  CHECK_FALSE(Object::EncodedIsTombstonesOnly(SampleZset(n).Encode(), n.actors));
}

TEST_CASE("every truncation and many corruptions of a valid encoding fail cleanly") {
  Nodes n;
  for (const Object& o : {SampleSet(n), SampleHash(n), SampleZset(n)}) {
    for (bool node_ids : {false, true}) {
      std::string bytes;
      if (node_ids) {
        o.EncodeWithNodeIds(n.actors, &bytes);
      } else {
        bytes = o.Encode();
      }
      for (size_t len = 0; len < bytes.size(); ++len) {
        CAPTURE(len);
        const std::string cut = bytes.substr(0, len);
        auto r =
            node_ids ? Object::DecodeWithNodeIds(cut, n.actors) : Object::Decode(cut, n.actors);
        CHECK_FALSE(r.ok());
        if (!r.ok()) CHECK(r.status().code() == Code::kCorruption);
      }
      auto trailing = node_ids ? Object::DecodeWithNodeIds(bytes + "x", n.actors)
                               : Object::Decode(bytes + "x", n.actors);
      CHECK_FALSE(trailing.ok());
      // Flipped bytes: never a crash; whatever decodes re-encodes and
      // decodes to itself.
      std::mt19937 rng(7);
      for (int i = 0; i < 2000; ++i) {
        std::string bad = bytes;
        bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255);
        auto r =
            node_ids ? Object::DecodeWithNodeIds(bad, n.actors) : Object::Decode(bad, n.actors);
        if (r.ok()) {
          auto again = Object::Decode(r.value().Encode(), n.actors);
          REQUIRE(again.ok());
          CHECK(again.value() == r.value());
        }
      }
    }
  }
}

// Bytes built by hand.
std::string B(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

TEST_CASE("the container decoder refuses what the encoder never writes") {
  Nodes n;
  Version v;
  const int a = static_cast<int>(n.a);
  auto decode = [&](const std::string& payload) {
    return DecodeContainer(payload, &n.actors, nullptr, &v).ok();
  };
  // type set, clock {a:5}, one entry "a" with dot (index 0, gap 0).
  const std::string set = B({1, 1, a, 5});
  CHECK(decode(set + B({1, 2, 'a', 0, 0})));
  CHECK(v.set.Contains("a"));
  // Names out of order / repeated.
  CHECK_FALSE(decode(set + B({2, 2, 'b', 0, 0, 2, 'a', 0, 0})));
  CHECK_FALSE(decode(set + B({2, 2, 'a', 0, 0, 2, 'a', 0, 1})));
  // A dot outside the clock (gap >= counter), a bad clock index.
  CHECK_FALSE(decode(set + B({1, 2, 'a', 0, 5})));
  CHECK_FALSE(decode(set + B({1, 2, 'a', 1, 0})));
  // The same dot twice in one entry; "several" with one atom.
  CHECK_FALSE(decode(set + B({1, 3, 'a', 2, 0, 0, 0, 0})));
  CHECK_FALSE(decode(set + B({1, 3, 'a', 1, 0, 0})));
  // Unknown type; a clock repeating an actor; an unknown actor.
  CHECK_FALSE(decode(B({3, 1, a, 5, 0})));
  CHECK_FALSE(decode(B({1, 2, a, 5, a, 6, 0})));
  CHECK_FALSE(decode(B({1, 1, 99, 5, 0})));
  // Counts larger than the input; trailing bytes.
  CHECK_FALSE(decode(set + B({0x7f})));
  CHECK_FALSE(decode(set + B({1, 2, 'a', 0, 0, 0})));
  // Hash: an unknown tag; a float total that is not a number.
  const std::string hash = B({0, 1, a, 5});
  CHECK(decode(hash + B({1, 2, 'f', 0, 0, 1, 4})));  // kInt, zigzag 4 = 2
  CHECK(v.hash.Get("f", n.actors) == "2");
  CHECK_FALSE(decode(hash + B({1, 2, 'f', 0, 0, 7})));
  CHECK_FALSE(decode(hash + B({1, 2, 'f', 0, 0, 2, 3, 'a', 'b', 'c', 1, '1', 0})));
  CHECK(decode(hash + B({1, 2, 'f', 0, 0, 2, 3, '1', '.', '5', 1, '1', 0})));
  // Sorted set: a NaN score.
  const std::string zset = B({2, 1, a, 5});
  std::string nan(8, '\0');
  const double q = std::numeric_limits<double>::quiet_NaN();
  std::memcpy(nan.data(), &q, 8);
  std::string one(8, '\0');
  const double d1 = 1;
  std::memcpy(one.data(), &d1, 8);
  CHECK(decode(zset + B({1, 2, 'm', 0, 0, 0, 1}) + one));
  CHECK(v.zset.Score("m", n.actors) == 1);
  CHECK_FALSE(decode(zset + B({1, 2, 'm', 0, 0, 0, 1}) + nan));
}

TEST_CASE("one-element lookups read only what they need") {
  Nodes n;
  Object o;
  OrSet s;
  const Dot d = o.NextPutDot(n.a);
  for (int i = 0; i < 100; ++i) s.Add("m" + std::to_string(1000 + i), d);
  o.Put(Version::OfSet(s, kNow, kNow + 50), n.a);
  const std::string bytes = o.Encode();
  auto payload = Object::PeekContainer(bytes, kNow);
  REQUIRE(payload.has_value());
  CHECK_FALSE(Object::PeekContainer(bytes, kNow + 50).has_value());  // expired
  Version v;
  REQUIRE(DecodeContainerEntry(*payload, "m1042", n.actors, &v).ok());
  CHECK(v.set.Contains("m1042"));
  CHECK(v.set.Size() == 1);
  REQUIRE(DecodeContainerEntry(*payload, "m1042x", n.actors, &v).ok());
  CHECK(v.set.Size() == 0);
  REQUIRE(DecodeContainerEntry(*payload, "zzz", n.actors, &v).ok());
  CHECK(v.set.Size() == 0);
  // A string is not a container.
  Object str;
  str.Put(Version::Bytes("x", kNow), n.a);
  CHECK_FALSE(Object::PeekContainer(str.Encode(), kNow).has_value());
}

TEST_CASE("a 10,000-member set of 16-byte members costs a few bytes per member") {
  ActorTable actors;
  const ActorId self = actors.Intern(std::string(40, 'a')).value();
  Object o;
  uint64_t floor = 1'000'000;
  for (int i = 0; i < 10'000; ++i) {
    // One SADD per member, the node's dot counter also used by writes of
    // three other keys in between.
    floor += 4;
    OrSet s = o.SetView(kNow, actors).value().state;
    char member[17];
    std::snprintf(member, sizeof(member), "member:%09d", i);
    s.Add(std::string_view(member, 16), o.NextPutDot(self, floor));
    o.Put(Version::OfSet(std::move(s), kNow), self, floor);
  }
  const size_t bytes = o.Encode().size();
  const double per_member = static_cast<double>(bytes) / 10'000;
  MESSAGE("10,000 x 16-byte members: " << bytes << " bytes encoded, " << per_member
                                       << " bytes per member (" << per_member - 16
                                       << " over the member)");
  CHECK(per_member - 16 < 6);

  // The same for a hash of 10,000 16-byte fields with 16-byte values, and
  // a sorted set of 10,000 16-byte members (one HSET / ZADD each).
  Object h, z;
  for (int i = 0; i < 10'000; ++i) {
    floor += 4;
    char field[17], value[17];
    std::snprintf(field, sizeof(field), "field:%010d", i);
    std::snprintf(value, sizeof(value), "value:%010d", i);
    OrHash hs = h.HashView(kNow, actors).value().state;
    hs.Set(std::string_view(field, 16), std::string(value, 16), h.NextPutDot(self, floor), kNow);
    h.Put(Version::OfHash(std::move(hs), kNow), self, floor);
    OrZset zs = z.ZsetView(kNow, actors).value().state;
    zs.Add(std::string_view(value, 16), i, z.NextPutDot(self, floor), kNow + i);
    z.Put(Version::OfZset(std::move(zs), kNow), self, floor);
  }
  MESSAGE("hash, 10,000 x (16 + 16 bytes): " << h.Encode().size() << " bytes; sorted set, "
                                             << "10,000 x 16-byte members: " << z.Encode().size()
                                             << " bytes");
}

}  // namespace
}  // namespace shoal::storage
