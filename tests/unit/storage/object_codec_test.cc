#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "storage/object.h"
#include "storage/varint.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

std::string NodeId(int i) {
  std::string id(40, '0');
  const char* hex = "0123456789abcdef";
  for (int k = 0; k < 8; ++k) id[39 - k] = hex[(i * 2654435761u >> (4 * k)) & 15];
  id[0] = 'f';
  return id;
}

void InternNodes(ActorTable& t, int count) {
  for (int i = 0; i < count; ++i) REQUIRE(t.Intern(NodeId(i)).ok());
}

// Random objects from random writes and merges on a few replicas.
class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  Version RandomVersion() {
    const int64_t ts = kNow + static_cast<int64_t>(rng_() % 100'000);
    const int64_t exp = rng_() % 3 == 0 ? ts + static_cast<int64_t>(rng_() % 10'000) : 0;
    switch (rng_() % 4) {
      case 0:
        return Version::Tombstone(ts);
      case 1: {
        PnCounter c;
        for (int i = 0; i < static_cast<int>(rng_() % 4); ++i) {
          (void)c.Add(static_cast<ActorId>(rng_() % 6), static_cast<int64_t>(rng_() % 2001) - 1000);
        }
        return Version::Counter(c, ts, exp);
      }
      default: {
        std::string v(rng_() % (rng_() % 2 ? 8 : 300), '\0');
        for (char& ch : v) ch = static_cast<char>(rng_());
        return Version::Bytes(std::move(v), ts, exp);
      }
    }
  }

  // Actors 1..5 (all interned by InternNodes(t, 6)).
  Object RandomObject() {
    std::vector<Object> reps(3);
    const int steps = static_cast<int>(rng_() % 12);
    for (int i = 0; i < steps; ++i) {
      Object& r = reps[rng_() % 3];
      const auto actor = static_cast<ActorId>(1 + rng_() % 5);
      switch (rng_() % 3) {
        case 0:
          r.Put(RandomVersion(), actor);
          break;
        case 1:
          r.Update({}, RandomVersion(), actor);
          break;
        default:
          r.Merge(reps[rng_() % 3]);
      }
    }
    return reps[0];
  }

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
};

Object MustDecode(std::string_view bytes, const ActorTable& t) {
  auto r = Object::Decode(bytes, t);
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return std::move(r).value();
}

TEST_CASE("the common case costs about ten bytes over the value") {
  ActorTable t;
  InternNodes(t, 6);
  Object o;
  o.Put(Version::Bytes(std::string(64, 'x'), kNow), 1);
  const std::string enc = o.Encode();
  MESSAGE("64-byte value, first write: " << enc.size() << " bytes encoded, overhead "
                                         << enc.size() - 64);
  CHECK(enc.size() - 64 <= 10);
  for (int i = 0; i < 1000; ++i) o.Put(Version::Bytes(std::string(64, 'x'), kNow), 1);
  MESSAGE("after 1001 writes: overhead " << o.Encode().size() - 64);
  CHECK(o.Encode().size() - 64 <= 11);
  CHECK(MustDecode(o.Encode(), t) == o);
}

TEST_CASE("PeekSingleValue reads the single value without decoding") {
  ActorTable t;
  InternNodes(t, 6);
  Object o;
  o.Put(Version::Bytes("hello", kNow), 3);
  std::string enc = o.Encode();
  auto v = Object::PeekSingleValue(enc, kNow);
  REQUIRE(v.has_value());
  CHECK(*v == "hello");
  CHECK(v->data() >= enc.data());  // a view into the encoding
  CHECK(v->data() + v->size() == enc.data() + enc.size());

  Object ttl;
  ttl.Put(Version::Bytes("", kNow, kNow + 10), 2);
  enc = ttl.Encode();
  CHECK(Object::PeekSingleValue(enc, kNow + 9) == std::optional<std::string_view>(""));
  CHECK_FALSE(Object::PeekSingleValue(enc, kNow + 10).has_value());

  Object sib = o;
  sib.Update({}, Version::Bytes("other", kNow), 2);
  CHECK_FALSE(Object::PeekSingleValue(sib.Encode(), kNow).has_value());
  Object tomb;
  tomb.Put(Version::Tombstone(kNow), 1);
  CHECK_FALSE(Object::PeekSingleValue(tomb.Encode(), kNow).has_value());
  Object ctr;
  ctr.Put(Version::Counter(PnCounter::FromInt(5), kNow), 1);
  CHECK_FALSE(Object::PeekSingleValue(ctr.Encode(), kNow).has_value());
  CHECK_FALSE(Object::PeekSingleValue("", kNow).has_value());
  std::string node_form;
  o.EncodeWithNodeIds(t, &node_form);
  CHECK_FALSE(Object::PeekSingleValue(node_form, kNow).has_value());
}

TEST_CASE("random objects round-trip through both forms") {
  ActorTable here, there;
  InternNodes(here, 6);
  // The other node interned the same ids in another order.
  for (int i = 5; i >= 0; --i) REQUIRE(there.Intern(NodeId(i)).ok());
  Generator g(42);
  for (int i = 0; i < 2000; ++i) {
    Object o = g.RandomObject();
    const std::string enc = o.Encode();
    REQUIRE(MustDecode(enc, here) == o);

    std::string wire;
    o.EncodeWithNodeIds(here, &wire);
    auto remote = Object::DecodeWithNodeIds(wire, there);
    REQUIRE(remote.ok());
    CHECK(remote.value().LiveValues(kNow + 5000, there) == o.LiveValues(kNow + 5000, here));
    std::string back;
    remote.value().EncodeWithNodeIds(there, &back);
    // Canonical: the same object has the same node-id bytes on both nodes,
    // though they number the actors in opposite orders (digests rely on it).
    CHECK(back == wire);
    auto home = Object::DecodeWithNodeIds(back, here);
    REQUIRE(home.ok());
    CHECK(home.value() == o);
    // The local form of one node is not accepted as the node-id form.
    CHECK_FALSE(Object::DecodeWithNodeIds(enc, there).ok());
    CHECK_FALSE(Object::Decode(wire, here).ok());
  }
}

TEST_CASE("DecodeWithoutValues keeps everything but the bytes values") {
  ActorTable here;
  InternNodes(here, 6);
  Generator g(7);
  for (int i = 0; i < 500; ++i) {
    Object o = g.RandomObject();
    const std::string enc = o.Encode();
    auto bare = Object::DecodeWithoutValues(enc, here);
    REQUIRE(bare.ok());
    REQUIRE(bare.value().Size() == o.Size());
    for (size_t k = 0; k < o.Size(); ++k) {
      const auto& full = o.siblings()[k];
      const auto& thin = bare.value().siblings()[k];
      CHECK(thin.dot == full.dot);
      CHECK(thin.value.kind == full.value.kind);
      CHECK(thin.value.expire_at_ms == full.value.expire_at_ms);
      CHECK(thin.value.bytes.empty());
    }
    // A Put on either supersedes the same siblings: the same object results.
    Object a = o;
    Object b = bare.value();
    a.Put(Version::Bytes("new", kNow, 0), 1);
    b.Put(Version::Bytes("new", kNow, 0), 1);
    CHECK(a == b);
  }
}

std::string Varint(uint64_t v) {
  std::string s;
  PutVarint64(&s, v);
  return s;
}

TEST_CASE("varints: round trip and the 64-bit limit") {
  for (uint64_t v :
       {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, uint64_t{1} << 63, ~uint64_t{0}}) {
    std::string s = Varint(v);
    std::string_view in = s;
    uint64_t out = 0;
    REQUIRE(GetVarint64(&in, &out));
    CHECK(out == v);
    CHECK(in.empty());
  }
  CHECK(Varint(~uint64_t{0}).size() == kMaxVarint64Length);
  std::string over(9, '\xff');
  over.push_back('\x02');  // a 65th bit
  std::string_view in = over;
  uint64_t out = 0;
  CHECK_FALSE(GetVarint64(&in, &out));
  CHECK(in.size() == over.size());  // unchanged on failure
  std::string_view cut = std::string_view(over).substr(0, 3);
  CHECK_FALSE(GetVarint64(&cut, &out));
}

// Bytes from small integers, with `ts` spliced in where -1 appears.
std::string Build(std::initializer_list<int> parts, const std::string& ts) {
  std::string out;
  for (int p : parts) {
    if (p == -1) {
      out += ts;
    } else {
      out.push_back(static_cast<char>(p));
    }
  }
  return out;
}

// A general-form object: one clock entry (actor 1, counter 2) and two bytes
// siblings, "x" at gap `gap1` from entry `idx1`, "y" at gap `gap2`.
std::string General(const std::string& ts, int idx1, int gap1, int gap2) {
  return Build({0, 1, 1, 2, 2, idx1, gap1, 0, -1, 1, 'x', 0, gap2, 0, -1, 1, 'y'}, ts);
}

TEST_CASE("corrupt encodings are refused") {
  ActorTable t;
  InternNodes(t, 3);  // ActorIds 0..3
  const std::string ts = Varint(static_cast<uint64_t>(kNow));
  auto bad = [&](const std::string& bytes) {
    auto r = Object::Decode(bytes, t);
    CHECK(r.status().code() == Code::kCorruption);
  };
  const std::string good = General(ts, 0, 0, 1);
  auto ok = Object::Decode(good, t);
  REQUIRE(ok.ok());
  CHECK(ok.value().Size() == 2);
  REQUIRE(Object::Decode(Build({1, 1, 1, -1}, ts), t).ok());  // single form, empty value

  bad("");
  bad(Build({0x20}, ts));                 // reserved flag
  bad(Build({1, 7, 1, -1}, ts));          // actor 7 not in the table
  bad(Build({1, 1, 0, -1}, ts));          // counter 0
  bad(Build({0x0d, 1, 1, -1}, ts));       // kind 3
  bad(Build({0x09, 1, 1, -1, 'x'}, ts));  // tombstone with a payload
  bad(Build({1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, ts));
  bad(Build({1, 1, 0x81}, ts));                           // truncated varint
  bad(Build({0x11, 1, 1, -1, 0}, ts));                    // "has expiry" with expiry 0
  bad(Build({0, 0x80, 0x80, 0x80, 0x04}, ts));            // clock count beyond the input
  bad(Build({0, 0, 0x80, 0x80, 0x04}, ts));               // sibling count beyond the input
  bad(Build({0, 2, 1, 1, 1, 1, 0}, ts));                  // repeated actor in the clock
  bad(Build({0x12, 1, 1, -1}, ts));                       // node-id form given to Decode
  bad(Build({0x05, 1, 1, -1, 2, 1, 1, 0, 1, 2, 0}, ts));  // counter repeats an actor
  bad(Build({0x05, 1, 1, -1, 1, 1, 1, 0, 'z'}, ts));      // counter with trailing bytes
  bad(good.substr(0, good.size() - 1));                   // truncated value
  bad(good + "z");                                        // trailing byte
  bad(General(ts, 0, 0, 0));                              // two siblings with one dot
  bad(General(ts, 0, 2, 1));                              // gap 2 >= counter 2: dot counter 0
  bad(General(ts, 1, 0, 1));                              // entry index 1 of 1 entry
}

TEST_CASE("fuzz: random and mutated input never crashes, accepted input is canonical") {
  ActorTable t;
  InternNodes(t, 6);
  Generator g(7);
  auto& rng = g.rng();
  std::vector<std::string> seeds;
  for (int i = 0; i < 50; ++i) {
    Object o = g.RandomObject();
    seeds.push_back(o.Encode());
    std::string wire;
    o.EncodeWithNodeIds(t, &wire);
    seeds.push_back(wire);
  }
  size_t accepted = 0;
  for (int i = 0; i < 40'000; ++i) {
    std::string in;
    if (i % 4 == 0) {
      in.resize(rng() % 48);
      for (char& c : in) c = static_cast<char>(rng());
    } else {
      in = seeds[rng() % seeds.size()];
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !in.empty(); ++e) {
        const size_t pos = rng() % in.size();
        switch (rng() % 4) {
          case 0:
            in[pos] = static_cast<char>(in[pos] ^ (1 << (rng() % 8)));
            break;
          case 1:
            in.resize(pos);
            break;
          case 2:
            in.insert(pos, 1, static_cast<char>(rng()));
            break;
          default:
            in[pos] = static_cast<char>(rng());
        }
      }
    }
    (void)Object::PeekSingleValue(in, kNow);
    auto local = Object::Decode(in, t);
    if (local.ok()) {
      ++accepted;
      const Object& o = local.value();
      CHECK(MustDecode(o.Encode(), t) == o);
      (void)o.LiveValues(kNow, t);
      if (auto peek = Object::PeekSingleValue(in, kNow)) {
        CHECK(o.LiveValues(kNow, t) == std::vector<std::string>{std::string(*peek)});
      }
    }
    ActorTable scratch(64);
    auto remote = Object::DecodeWithNodeIds(in, scratch);
    if (remote.ok()) {
      ++accepted;
      std::string wire;
      remote.value().EncodeWithNodeIds(scratch, &wire);
      auto again = Object::DecodeWithNodeIds(wire, scratch);
      REQUIRE(again.ok());
      CHECK(again.value() == remote.value());
    }
  }
  MESSAGE("fuzz inputs accepted: " << accepted);
}

}  // namespace
}  // namespace shoal::storage

namespace shoal::storage {
namespace {

TEST_CASE("EncodeMovingValue moves a single value's buffer into the encoding") {
  ActorTable actors;
  ActorId a = actors.Intern(std::string(40, 'a')).value();
  std::string value(1 << 20, 'x');
  value.reserve(value.size() + Object::kEncodeHeadRoom);
  const char* buffer = value.data();
  Object o;
  o.Put(Version::Bytes(std::move(value), 1'700'000'000'000, 1'800'000'000'000), a);
  const Object copy = o;
  size_t moved = 0;
  std::string encoded = o.EncodeMovingValue(&moved);
  CHECK(moved == (1u << 20));
  CHECK(encoded.data() == buffer);  // no copy: the header went in front, in place
  CHECK(encoded == copy.Encode());
  CHECK(o.siblings()[0].value.bytes.empty());
  // What is left encodes (node ids) as the head of the whole.
  std::string head, whole;
  o.EncodeWithNodeIds(actors, &head);
  copy.EncodeWithNodeIds(actors, &whole);
  CHECK(head + std::string(1 << 20, 'x') == whole);

  // Anything else is encoded as Encode() does, nothing moved.
  Object two = copy;
  two.Update(VersionVector(), Version::Bytes("sibling", 1), a);
  const Object two_copy = two;
  CHECK(two.EncodeMovingValue(&moved) == two_copy.Encode());
  CHECK(moved == 0);
  CHECK(two == two_copy);
}

}  // namespace
}  // namespace shoal::storage
