#include "cluster/peer/frame_mac.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace shoal::cluster {
namespace {

const std::string kA(40, 'a');  // node ids
const std::string kB(40, 'b');
const std::string kNc(32, '1');  // nonces
const std::string kNs(32, '2');

using Frame = std::vector<std::string>;

Frame Signed(FrameSigner& signer, Frame f) {
  f.push_back(signer.Next(f));
  return f;
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

TEST_CASE("frames signed in order verify, and the MAC is stripped") {
  const SessionKeys k = DeriveSessionKeys("s", kNc, kNs, kA, kB);
  FrameSigner signer(k.requests);
  FrameVerifier verifier(k.requests);
  for (int i = 0; i < 5; ++i) {
    Frame f =
        Signed(signer, {"SHOAL.FWD", "SET", "k" + std::to_string(i), std::string("v\0\r\n", 4)});
    CHECK(f.back().size() == kFrameMacBytes);
    REQUIRE(verifier.VerifyAndStrip(f));
    CHECK(f == Frame{"SHOAL.FWD", "SET", "k" + std::to_string(i), std::string("v\0\r\n", 4)});
  }
}

TEST_CASE("tampered, replayed, reordered, injected or unsigned frames are refused") {
  const SessionKeys k = DeriveSessionKeys("s", kNc, kNs, kA, kB);
  FrameSigner signer(k.requests);
  const Frame f0 = Signed(signer, {"SHOAL.MGET", "a"});
  const Frame f1 = Signed(signer, {"SHOAL.MGET", "b"});

  SUBCASE("tampered argument") {
    FrameVerifier v(k.requests);
    Frame t = f0;
    t[1] = "z";
    CHECK_FALSE(v.VerifyAndStrip(t));
  }
  SUBCASE("argument boundaries moved") {
    FrameSigner s2(k.requests);
    FrameVerifier v(k.requests);
    Frame t = Signed(s2, {"SHOAL.MGET", "ab", "c"});
    t[1] = "a";
    t[2] = "bc";
    CHECK_FALSE(v.VerifyAndStrip(t));
  }
  SUBCASE("tampered MAC") {
    FrameVerifier v(k.requests);
    Frame t = f0;
    t.back()[0] = static_cast<char>(t.back()[0] ^ 1);
    CHECK_FALSE(v.VerifyAndStrip(t));
  }
  SUBCASE("replayed") {
    FrameVerifier v(k.requests);
    Frame a = f0, b = f0;
    CHECK(v.VerifyAndStrip(a));
    CHECK_FALSE(v.VerifyAndStrip(b));
  }
  SUBCASE("reordered") {
    FrameVerifier v(k.requests);
    Frame b = f1;
    CHECK_FALSE(v.VerifyAndStrip(b));
  }
  SUBCASE("no MAC, or a MAC of the wrong size") {
    FrameVerifier v(k.requests);
    Frame bare{"SHOAL.MGET"};
    CHECK_FALSE(v.VerifyAndStrip(bare));
    Frame shorter{"SHOAL.MGET", "a", f0.back().substr(1)};
    CHECK_FALSE(v.VerifyAndStrip(shorter));
  }
  SUBCASE("signed with another session's key (a relayed connection)") {
    const SessionKeys other = DeriveSessionKeys("s", kNc, std::string(32, '3'), kA, kB);
    FrameVerifier v(other.requests);
    Frame a = f0;
    CHECK_FALSE(v.VerifyAndStrip(a));
  }
  SUBCASE("the reply key does not sign requests") {
    FrameSigner wrong(k.replies);
    FrameVerifier v(k.requests);
    Frame a = Signed(wrong, {"SHOAL.MGET", "a"});
    CHECK_FALSE(v.VerifyAndStrip(a));
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
  const std::vector<std::string> frame{"SHOAL.MGET", "x"};
  const std::string first = key.FrameMac(7, frame);
  CHECK(first.size() == kFrameMacBytes);
  CHECK(key.ChunkMac(7, "+OK\r\n") != first);
  CHECK(key.FrameMac(8, frame) != first);
  CHECK(key.FrameMac(7, frame) == first);
  CHECK(other.FrameMac(7, frame) == first);
  CHECK(MacKey("j").FrameMac(7, frame) != first);
}

}  // namespace shoal::cluster
