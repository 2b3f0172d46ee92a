#include "cluster/swim_message.h"

#include <doctest/doctest.h>

#include <random>
#include <string>

namespace shoal::cluster {
namespace {

NodeId Id(char c) {
  return NodeId(40, c);
}

SwimMessage Sample() {
  SwimMessage m;
  m.type = SwimType::kPingReq;
  m.seq = 300;
  m.sender_incarnation = 1700000000000;
  m.target = Id('b');
  m.updates = {SwimUpdate{Id('c'), 7, MemberState::kSuspect, Id('a')},
               SwimUpdate{Id('d'), 0, MemberState::kAlive, {}},
               SwimUpdate{Id('e'), kMaxIncarnation, MemberState::kDead, {}}};
  return m;
}

TEST_CASE("swim message: every type round-trips") {
  for (SwimType t :
       {SwimType::kPing, SwimType::kAck, SwimType::kPingReq, SwimType::kNack, SwimType::kGossip}) {
    SwimMessage m = Sample();
    m.type = t;
    if (t != SwimType::kPing && t != SwimType::kPingReq) m.target.clear();
    auto decoded = DecodeSwimMessage(EncodeSwimMessage(m));
    REQUIRE(decoded.ok());
    CHECK(decoded.value() == m);
  }
  SwimMessage empty;
  empty.type = SwimType::kAck;
  auto decoded = DecodeSwimMessage(EncodeSwimMessage(empty));
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == empty);
  CHECK(SwimTypeName(SwimType::kPingReq) == "ping-req");
}

TEST_CASE("swim message: malformed input is refused") {
  const std::string good = EncodeSwimMessage(Sample());
  auto bad = [](std::string bytes) { return !DecodeSwimMessage(bytes).ok(); };
  CHECK(bad(""));
  CHECK(bad(std::string(1, '\x02') + good.substr(1)));      // version
  CHECK(bad(good.substr(0, 1) + '\x06' + good.substr(2)));  // type
  CHECK(bad(good.substr(0, 1) + '\x02' + good.substr(2)));  // ack with a target
  CHECK(bad(good + "x"));                                   // trailing
  std::string upper = good;
  upper[upper.find(Id('b'))] = 'B';  // not a node id
  CHECK(bad(upper));
  // An update count far past the bytes present.
  SwimMessage ack;
  ack.type = SwimType::kAck;
  std::string huge = EncodeSwimMessage(ack);
  huge.back() = '\x3f';  // 63 updates announced, none present
  CHECK(bad(huge));
  huge.back() = '\x41';  // 65 > kMaxUpdates
  CHECK(bad(huge));
  // Incarnation past the cap.
  SwimMessage over = Sample();
  over.sender_incarnation = kMaxIncarnation + 1;
  CHECK(bad(EncodeSwimMessage(over)));
  over = Sample();
  over.updates[1].incarnation = kMaxIncarnation + 1;
  CHECK(bad(EncodeSwimMessage(over)));
  // A state byte past kDead.
  over = Sample();
  std::string bytes = EncodeSwimMessage(over);
  const size_t at = bytes.find(Id('d')) + 40 + 1;  // after id and 1-byte incarnation
  REQUIRE(bytes[at] == '\x00');
  bytes[at] = '\x03';
  CHECK(bad(bytes));
}

TEST_CASE("swim message: truncations and bit flips never crash") {
  const std::string good = EncodeSwimMessage(Sample());
  for (size_t n = 0; n < good.size(); ++n) CHECK_FALSE(DecodeSwimMessage(good.substr(0, n)).ok());
  size_t accepted = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = good;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      auto decoded = DecodeSwimMessage(flipped);
      // Whatever is accepted must be well formed: it re-encodes to itself.
      if (decoded.ok()) {
        ++accepted;
        CHECK(EncodeSwimMessage(decoded.value()) == flipped);
      }
    }
  }
  MESSAGE("bit flips accepted as other valid messages: " << accepted << " of " << good.size() * 8);
  std::mt19937_64 rng(42);
  for (int round = 0; round < 20000; ++round) {
    std::string noise(rng() % 200, '\0');
    for (char& c : noise) c = static_cast<char>(rng());
    if (!noise.empty() && round % 2 == 0) noise[0] = '\x01';  // get past the version
    if (noise.size() > 1 && round % 4 == 0) noise[1] = static_cast<char>(1 + rng() % 5);
    auto decoded = DecodeSwimMessage(noise);
    if (decoded.ok()) CHECK(EncodeSwimMessage(decoded.value()) == noise);
  }
}

}  // namespace
}  // namespace shoal::cluster
