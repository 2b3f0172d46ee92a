#include "cluster/peer/frame_mac.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

namespace shoal::cluster {
namespace {

const std::string kA(40, 'a');  // node ids
const std::string kB(40, 'b');
const std::string kNc(32, '1');  // nonces
const std::string kNs(32, '2');

using Frame = std::vector<std::string>;
using Frames = std::vector<Frame>;

// The connector's batch: its frames and the seal's MAC.
struct Batch {
  Frames frames;
  std::string mac;
};

Batch Sealed(RequestBatch& signer, Frames frames) {
  for (const Frame& f : frames) signer.Add(f);
  return Batch{frames, signer.Seal()};
}

// What the acceptor runs of a batch; nullopt when it refuses it.
std::optional<Frames> Deliver(FrameVerifier& v, const Batch& b) {
  for (Frame f : b.frames) {
    if (!v.Hold(std::move(f))) return std::nullopt;
  }
  return v.Open(b.mac);
}

TEST_CASE("session keys: one per direction, bound to secret, nonces and ids") {
  const SessionKeys k = DeriveSessionKeys("s", kNc, kNs, kA, kB);
  CHECK(k.requests.size() == 64);
  CHECK(k.replies.size() == 64);
  CHECK(k.requests != k.replies);
  CHECK(DeriveSessionKeys("s", kNc, kNs, kA, kB).requests == k.requests);
  CHECK(DeriveSessionKeys("t", kNc, kNs, kA, kB).requests != k.requests);
  CHECK(DeriveSessionKeys("s", kNs, kNc, kA, kB).requests != k.requests);
  CHECK(DeriveSessionKeys("s", kNc, kNs, kB, kA).requests != k.requests);
  // An empty secret still yields keys (which protect nothing).
  CHECK(DeriveSessionKeys("", kNc, kNs, kA, kB).requests.size() == 64);
}

TEST_CASE("batches sealed in order open, and give back their frames unchanged") {
  const SessionKeys k = DeriveSessionKeys("s", kNc, kNs, kA, kB);
  RequestBatch signer(k.requests);
  FrameVerifier verifier(k.requests);
  for (int i = 0; i < 5; ++i) {
    Frames frames;
    for (int j = 0; j <= i; ++j) {
      frames.push_back(
          {"SHOAL.FWD", "SET", "k" + std::to_string(i * 10 + j), std::string("v\0\r\n", 4)});
    }
    const Batch b = Sealed(signer, frames);
    CHECK(b.mac.size() == kFrameMacBytes);
    const auto got = Deliver(verifier, b);
    REQUIRE(got.has_value());
    CHECK(*got == frames);
    CHECK(verifier.held() == 0);
  }
  // A seal with no frame (never sent, harmless) keeps both ends in step.
  CHECK(verifier.Open(signer.Seal()).has_value());
  CHECK(Deliver(verifier, Sealed(signer, {{"SHOAL.MGET", "x"}})).has_value());
}

TEST_CASE("tampered, replayed, reordered, injected or moved frames fail their batch") {
  const SessionKeys k = DeriveSessionKeys("s", kNc, kNs, kA, kB);
  RequestBatch signer(k.requests);
  const Batch b0 = Sealed(signer, {{"SHOAL.MGET", "a"}, {"SHOAL.MGET", "b"}});
  const Batch b1 = Sealed(signer, {{"SHOAL.MGET", "c"}});

  SUBCASE("tampered argument") {
    FrameVerifier v(k.requests);
    Batch t = b0;
    t.frames[1][1] = "z";
    CHECK_FALSE(Deliver(v, t));
  }
  SUBCASE("argument boundaries moved") {
    RequestBatch s2(k.requests);
    FrameVerifier v(k.requests);
    Batch t = Sealed(s2, {{"SHOAL.MGET", "ab", "c"}});
    t.frames[0] = {"SHOAL.MGET", "a", "bc"};
    CHECK_FALSE(Deliver(v, t));
  }
  SUBCASE("frame boundaries moved") {
    RequestBatch s2(k.requests);
    FrameVerifier v(k.requests);
    Batch t = Sealed(s2, {{"SHOAL.MGET", "a"}, {"SHOAL.MGET", "b"}});
    t.frames = {{"SHOAL.MGET", "a", "SHOAL.MGET"}, {"b"}};
    CHECK_FALSE(Deliver(v, t));
  }
  SUBCASE("a frame injected into, dropped from or reordered in a batch") {
    FrameVerifier v1(k.requests), v2(k.requests), v3(k.requests);
    Batch t = b0;
    t.frames.push_back({"SHOAL.FWD", "SET", "hijacked", "x"});
    CHECK_FALSE(Deliver(v1, t));
    t = b0;
    t.frames.pop_back();
    CHECK_FALSE(Deliver(v2, t));
    t = b0;
    std::swap(t.frames[0], t.frames[1]);
    CHECK_FALSE(Deliver(v3, t));
  }
  SUBCASE("tampered MAC") {
    FrameVerifier v(k.requests);
    Batch t = b0;
    t.mac[0] = static_cast<char>(t.mac[0] ^ 1);
    CHECK_FALSE(Deliver(v, t));
  }
  SUBCASE("replayed") {
    FrameVerifier v(k.requests);
    CHECK(Deliver(v, b0));
    CHECK_FALSE(Deliver(v, b0));
  }
  SUBCASE("reordered batches") {
    FrameVerifier v(k.requests);
    CHECK_FALSE(Deliver(v, b1));
  }
  SUBCASE("no MAC, or a MAC of the wrong size") {
    FrameVerifier v1(k.requests), v2(k.requests);
    CHECK_FALSE(Deliver(v1, Batch{b0.frames, ""}));
    CHECK_FALSE(Deliver(v2, Batch{b0.frames, b0.mac.substr(1)}));
  }
  SUBCASE("signed with another session's key (a relayed connection)") {
    const SessionKeys other = DeriveSessionKeys("s", kNc, std::string(32, '3'), kA, kB);
    FrameVerifier v(other.requests);
    CHECK_FALSE(Deliver(v, b0));
  }
  SUBCASE("the reply key does not sign requests") {
    RequestBatch wrong(k.replies);
    FrameVerifier v(k.requests);
    CHECK_FALSE(Deliver(v, Sealed(wrong, {{"SHOAL.MGET", "a"}})));
  }
}

TEST_CASE("a batch is bounded in frames and bytes, at both ends alike") {
  const SessionKeys k = DeriveSessionKeys("s", kNc, kNs, kA, kB);
  SUBCASE("frames") {
    RequestBatch signer(k.requests);
    FrameVerifier v(k.requests);
    for (size_t i = 0; i < kMaxBatchFrames; ++i) {
      CHECK_FALSE(signer.full());
      signer.Add(Frame{"SHOAL.MGET", "k"});
      REQUIRE(v.Hold({"SHOAL.MGET", "k"}));
    }
    CHECK(signer.full());
    // The acceptor refuses one more frame before a seal ...
    CHECK_FALSE(v.Hold({"SHOAL.MGET", "k"}));
    // ... and takes the seal the connector writes at this point.
    CHECK(v.Open(signer.Seal()).has_value());
    CHECK_FALSE(signer.full());
    CHECK(v.Hold({"SHOAL.MGET", "k"}));
  }
  SUBCASE("bytes: a big frame is sealed on its own") {
    RequestBatch signer(k.requests);
    FrameVerifier v(k.requests);
    const Frame big{"SHOAL.FWD", "SET", "k", std::string(kMaxBatchBytes, 'x')};
    signer.Add(big);
    CHECK(signer.bytes() > kMaxBatchBytes);
    CHECK(signer.full());
    REQUIRE(v.Hold(Frame(big)));
    CHECK_FALSE(v.Hold({"SHOAL.MGET", "k"}));
  }
}

// Splits a sealed chunk "*2 $32 <mac> $n <bytes>" into its two strings.
void Unseal(const std::string& chunk, std::string* mac, std::string* bytes) {
  REQUIRE(chunk.rfind("*2\r\n$32\r\n", 0) == 0);
  *mac = chunk.substr(9, 32);
  const size_t len_at = 9 + 32 + 2 + 1;
  const size_t crlf = chunk.find("\r\n", len_at);
  const size_t n = std::stoul(chunk.substr(len_at, crlf - len_at));
  *bytes = chunk.substr(crlf + 2, n);
  REQUIRE(chunk.size() == crlf + 2 + n + 2);
}

TEST_CASE("sealed reply chunks open in order only") {
  const SessionKeys k = DeriveSessionKeys("s", kNc, kNs, kA, kB);
  ReplySealer sealer(k.replies);
  std::string c0 = "+OK\r\n$1\r\nx\r\n";
  std::string c1 = ":1\r\n";
  sealer.Seal(c0);
  sealer.Seal(c1);
  std::string m0, b0, m1, b1;
  Unseal(c0, &m0, &b0);
  Unseal(c1, &m1, &b1);
  CHECK(b0 == "+OK\r\n$1\r\nx\r\n");

  SUBCASE("in order") {
    ReplyOpener o(k.replies);
    CHECK(o.Open(m0, b0));
    CHECK(o.Open(m1, b1));
  }
  SUBCASE("reordered or replayed") {
    ReplyOpener o(k.replies);
    CHECK_FALSE(o.Open(m1, b1));
    CHECK(o.Open(m0, b0));
    CHECK_FALSE(o.Open(m0, b0));
  }
  SUBCASE("tampered bytes, or the other direction's key") {
    ReplyOpener o(k.replies);
    CHECK_FALSE(o.Open(m0, "+OK\r\n$1\r\ny\r\n"));
    ReplyOpener wrong(k.requests);
    CHECK_FALSE(wrong.Open(m0, b0));
  }
}

}  // namespace
}  // namespace shoal::cluster

namespace shoal::cluster {

TEST_CASE("a key's MAC depends on its input only, however many it computed before") {
  // The keyed context is re-initialised for each MAC, not copied.
  MacKey key("k");
  MacKey other("k");
  MacKey j("j");
  const std::vector<std::string> frame{"SHOAL.MGET", "x"};
  auto batch = [&](MacKey& m, uint64_t seq) {
    m.Begin(seq);
    m.Frame(frame);
    return m.Finish();
  };
  const std::string first = batch(key, 7);
  CHECK(first.size() == kFrameMacBytes);
  CHECK(key.ChunkMac(7, "+OK\r\n") != first);
  CHECK(batch(key, 8) != first);
  CHECK(batch(key, 7) == first);
  CHECK(other.ChunkMac(7, "+OK\r\n") == key.ChunkMac(7, "+OK\r\n"));
  CHECK(batch(other, 7) == first);
  CHECK(batch(j, 7) != first);
  // A batch left unfinished does not leak into the next MAC.
  key.Begin(9);
  key.Frame(frame);
  CHECK(batch(key, 7) == first);
}

}  // namespace shoal::cluster
