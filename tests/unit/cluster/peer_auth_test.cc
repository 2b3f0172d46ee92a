#include "cluster/peer/auth.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

namespace shoal::cluster {
namespace {

const std::string kA(40, 'a');  // node ids
const std::string kB(40, 'b');
const std::string kNonce(32, '0');

bool IsLowerHex(const std::string& s) {
  return s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST_CASE("HmacSha256Hex matches the RFC 4231 vectors") {
  // Test case 2: a key shorter than the output.
  CHECK(HmacSha256Hex("Jefe", "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size is hashed first.
  CHECK(HmacSha256Hex(std::string(131, '\xaa'),
                      "Test Using Larger Than Block-Size Key - Hash Key First") ==
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // An empty key (an unset cluster-secret) and empty data are valid HMAC inputs.
  CHECK(HmacSha256Hex("", "") ==
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST_CASE("ServerProof signs the documented message") {
  // Pinned: HMAC-SHA256("secret", "shoal-peer-v3|S|<nonce>|<s_id>|<c_id>"), computed
  // independently, so both ends of the protocol can check against it.
  CHECK(ServerProof("secret", kNonce, kA, kB) ==
        "bcb824e65889d48a3999eba53e6cc8a5c21cecf54fe0b95607968937ca00625d");
  CHECK(ServerProof("secret", kNonce, kA, kB) ==
        HmacSha256Hex("secret", "shoal-peer-v3|S|" + kNonce + "|" + kA + "|" + kB));
  CHECK(ClientProof("secret", kNonce, kB, kA) ==
        HmacSha256Hex("secret", "shoal-peer-v3|C|" + kNonce + "|" + kB + "|" + kA));
}

TEST_CASE("proofs differ by role, nonce, ids and secret") {
  const std::string base = ServerProof("s3cret", kNonce, kA, kB);
  CHECK(base.size() == 64);
  CHECK(IsLowerHex(base));
  std::set<std::string> all{
      base,
      ClientProof("s3cret", kNonce, kA, kB),                    // other role, same fields
      ClientProof("s3cret", kNonce, kB, kA),                    // other role, its own order
      ServerProof("s3cret", std::string(32, '1'), kA, kB),      // other nonce
      ServerProof("s3cret", kNonce, kB, kA),                    // ids swapped
      ServerProof("s3cret", kNonce, kA, std::string(40, 'c')),  // other client
      ServerProof("other", kNonce, kA, kB),                     // other secret
      ServerProof("", kNonce, kA, kB),                          // no secret
  };
  CHECK(all.size() == 8);
  // Deterministic: the same inputs give the same proof.
  CHECK(ServerProof("s3cret", kNonce, kA, kB) == base);
  // An empty secret still yields a proof, equal on both ends.
  CHECK(SecretEquals(ServerProof("", kNonce, kA, kB), ServerProof("", kNonce, kA, kB)));
}

TEST_CASE("SecretEquals") {
  const std::string p = ClientProof("k", kNonce, kA, kB);
  CHECK(SecretEquals(p, p));
  CHECK(SecretEquals(p, std::string(p)));
  std::string flipped = p;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  CHECK_FALSE(SecretEquals(p, flipped));
  flipped = p;
  flipped.front() = flipped.front() == '0' ? '1' : '0';
  CHECK_FALSE(SecretEquals(p, flipped));
  CHECK_FALSE(SecretEquals(p, p.substr(0, 63)));  // sizes differ
  CHECK_FALSE(SecretEquals(p, p + "0"));
  CHECK_FALSE(SecretEquals("", ""));  // never accept a failed computation
}

TEST_CASE("NewNonce is 32 hex characters and fresh") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string n = NewNonce();
    CHECK(n.size() == kNonceHexLength);
    CHECK(IsLowerHex(n));
    seen.insert(n);
  }
  CHECK(seen.size() == 100);
}

}  // namespace
}  // namespace shoal::cluster
