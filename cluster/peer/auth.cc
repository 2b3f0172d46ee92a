#include "cluster/peer/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdint>
#include <random>

namespace shoal::cluster {
namespace {

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

// "shoal-peer-v3|<role>|a|b|c": the message each proof signs.
std::string ProofMessage(std::string_view role, std::string_view a, std::string_view b,
                         std::string_view c) {
  std::string msg;
  msg.reserve(kPeerProofLabel.size() + role.size() + a.size() + b.size() + c.size() + 4);
  msg.append(kPeerProofLabel).append("|").append(role).append("|");
  msg.append(a).append("|").append(b).append("|").append(c);
  return msg;
}

}  // namespace

std::string NewNonce() {
  unsigned char bytes[kNonceHexLength / 2];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    std::random_device rd;
    for (unsigned char& b : bytes) b = static_cast<unsigned char>(rd());
  }
  return Hex(bytes, sizeof(bytes));
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  // A non-null key pointer even for an empty key: some libcrypto MAC paths
  // treat (NULL, 0) differently from ("", 0).
  static const unsigned char kEmpty[1] = {0};
  const auto* key_bytes = key.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  const auto* data_bytes =
      data.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(data.data());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key_bytes, static_cast<int>(key.size()), data_bytes, data.size(), mac,
           &mac_len) == nullptr) {
    return {};
  }
  return Hex(mac, mac_len);
}

std::string ServerProof(std::string_view secret, std::string_view client_nonce,
                        std::string_view server_id, std::string_view client_id) {
  return HmacSha256Hex(secret, ProofMessage("S", client_nonce, server_id, client_id));
}

std::string ClientProof(std::string_view secret, std::string_view server_nonce,
                        std::string_view client_id, std::string_view server_id) {
  return HmacSha256Hex(secret, ProofMessage("C", server_nonce, client_id, server_id));
}

bool SecretEquals(std::string_view a, std::string_view b) {
  if (a.empty() || a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace shoal::cluster
