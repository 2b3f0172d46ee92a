#include <doctest/doctest.h>
#include <xxhash.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "storage/context_token.h"
#include "storage/object.h"
#include "storage/varint.h"

namespace shoal::storage {
namespace {

std::string Id(char c) {
  return std::string(40, c);
}

// Test-side encoder, so that tokens with a valid checksum but bad contents
// can be built.
std::string B64(std::string_view in) {
  static const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    acc = (acc << 8) | static_cast<uint8_t>(ch);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(a[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(a[(acc << (6 - bits)) & 63]);
  return out;
}

std::string Seal(std::string body) {
  auto sum = static_cast<uint32_t>(XXH3_64bits(body.data(), body.size()));
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<char>(sum >> (8 * i)));
  return B64(body);
}

std::string Body(std::initializer_list<std::pair<char, uint64_t>> entries, uint8_t version = 1) {
  std::string b(1, static_cast<char>(version));
  PutVarint64(&b, entries.size());
  for (auto [c, counter] : entries) {
    b += std::string(20, c);
    PutVarint64(&b, counter);
  }
  return b;
}

bool Printable(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '_')) {
      return false;
    }
  }
  return !s.empty();
}

TEST_CASE("the empty context has a fixed short printable token") {
  ActorTable t;
  const std::string token = EncodeContextToken(VersionVector{}, t);
  CHECK(token == kEmptyContextToken);
  CHECK(Printable(token));
  CHECK(token == Seal(Body({})));
  auto back = DecodeContextToken(token, t);
  REQUIRE(back.ok());
  CHECK(back.value().empty());
}

TEST_CASE("tokens round-trip across nodes that interned ids in another order") {
  ActorTable here, there;
  const ActorId a = here.Intern(Id('a')).value(), b = here.Intern(Id('b')).value();
  const ActorId b2 = there.Intern(Id('b')).value(), a2 = there.Intern(Id('a')).value();
  VersionVector vv;
  vv.Raise(a, 3);
  vv.Raise(b, 1'000'000);
  const std::string token = EncodeContextToken(vv, here);
  CHECK(Printable(token));
  MESSAGE("token of a 2-entry context: " << token.size() << " characters");
  auto r = DecodeContextToken(token, there);
  REQUIRE(r.ok());
  CHECK(r.value().Get(a2) == 3);
  CHECK(r.value().Get(b2) == 1'000'000);
  CHECK(r.value().size() == 2);
  CHECK(EncodeContextToken(r.value(), there) == token);
}

TEST_CASE("unknown node ids are interned up to the client quota, then dropped") {
  ActorTable t(64);  // a quota of 8 client-named ids
  const ActorId a = t.Intern(Id('a')).value();
  auto r = DecodeContextToken(Seal(Body({{'\x11', 5}, {'\xaa', 2}})), t);
  REQUIRE(r.ok());
  CHECK(r.value().size() == 2);
  CHECK(r.value().Get(a) == 2);
  const std::optional<ActorId> learned = t.LookupBinary(std::string(20, '\x11'));
  REQUIRE(learned.has_value());
  CHECK(r.value().Get(*learned) == 5);
  CHECK(t.client_interned() == 1);
  // Known now: naming it again costs nothing.
  REQUIRE(DecodeContextToken(Seal(Body({{'\x11', 9}})), t).ok());
  CHECK(t.client_interned() == 1);
  for (char c = '\x20'; c < '\x27'; ++c) REQUIRE(DecodeContextToken(Seal(Body({{c, 1}})), t).ok());
  CHECK(t.client_interned() == 8);
  CHECK(t.client_refused() == 0);
  const size_t size = t.size();
  auto past = DecodeContextToken(Seal(Body({{'\x30', 4}, {'\xaa', 3}})), t);
  REQUIRE(past.ok());
  CHECK(past.value().size() == 1);
  CHECK(past.value().Get(a) == 3);
  CHECK(t.size() == size);
  CHECK(t.client_refused() == 1);
}

// The resurrection this prevents: a client read a value written by an actor
// this node has not heard of (a fallback's stand-in, on the other side of a
// partition), replaced it here with the token it got, and then the replaced
// version arrived. It must stay replaced.
TEST_CASE("a write with another node's token supersedes that node's versions when they arrive") {
  ActorTable there, here;
  const ActorId stand_in = there.Intern(Id('5')).value();
  const ActorId primary = here.Intern(Id('7')).value();
  Object far;
  far.Update(VersionVector{}, Version::Bytes("seen-and-replaced", 1), stand_in);
  const std::string token = EncodeContextToken(far.Context(), there);

  Object near;
  near.Update(VersionVector{}, Version::Bytes("concurrent", 2), primary);
  auto ctx = DecodeContextToken(token, here);
  REQUIRE(ctx.ok());
  near.Update(ctx.value(), Version::Bytes("replacement", 3), primary);

  std::string wire;
  far.EncodeWithNodeIds(there, &wire);
  auto arrived = Object::DecodeWithNodeIds(wire, here);
  REQUIRE(arrived.ok());
  near.Merge(arrived.value());
  std::vector<std::string> live = near.LiveValues(10, here);
  std::sort(live.begin(), live.end());
  CHECK(live == std::vector<std::string>{"concurrent", "replacement"});
}

TEST_CASE("malformed tokens are refused with the client's error") {
  ActorTable t;
  (void)t.Intern(Id('a'));
  auto bad = [&](std::string_view token) {
    auto r = DecodeContextToken(token, t);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalid);
    CHECK(r.status().message() == "ERR invalid context");
  };
  const std::string good = Seal(Body({{'\xaa', 2}}));
  REQUIRE(DecodeContextToken(good, t).ok());
  bad("");
  bad("hello world");
  bad(good + "=");                       // padding is not used
  bad(good.substr(0, good.size() - 1));  // truncated
  bad(good + "A");
  std::string flipped = good;
  flipped[3] = flipped[3] == 'A' ? 'B' : 'A';
  bad(flipped);                                  // checksum
  bad(Seal(Body({{'\xaa', 2}}, 2)));             // unknown version
  bad(Seal(Body({{'\xaa', 0}})));                // counter 0
  bad(Seal(Body({{'\xaa', kMaxCounter + 1}})));  // counter too large
  bad(Seal(Body({{'\xaa', 2}, {'\xaa', 3}})));   // repeated node id
  bad(Seal(Body({{'\x11', 2}, {'\x11', 3}})));   // repeated unknown node id
  bad(Seal(Body({{'\xaa', 2}}) + "x"));          // trailing bytes
  std::string count = Body({});
  count[1] = 5;  // claims 5 entries, has none
  bad(Seal(count));
  bad(std::string(kMaxContextTokenLength + 4, 'A'));  // oversized
  // Non-canonical base64: the last character carries stray low bits.
  std::string stray = Seal(Body({{'\xaa', 200}}));  // 28 bytes: 4 spare bits
  REQUIRE(DecodeContextToken(stray, t).ok());
  REQUIRE(stray.size() % 4 != 0);
  stray.back() = static_cast<char>(stray.back() == 'A' ? 'B' : stray.back() + 1);
  bad(stray);
  // Nothing of a refused token entered the table.
  CHECK(t.size() == 2);
  CHECK(t.client_interned() == 0);
}

TEST_CASE("random tokens never crash") {
  ActorTable t;
  (void)t.Intern(Id('a'));
  std::mt19937_64 rng(3);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ ";
  for (int i = 0; i < 20'000; ++i) {
    std::string s(rng() % 80, 'A');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    (void)DecodeContextToken(s, t);
    std::string raw(rng() % 40, '\0');
    for (char& c : raw) c = static_cast<char>(rng());
    auto r = DecodeContextToken(B64(raw), t);
    if (r.ok()) CHECK(EncodeContextToken(r.value(), t).size() <= B64(raw).size());
  }
}

}  // namespace
}  // namespace shoal::storage
