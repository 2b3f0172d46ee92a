// The peer handshake's arithmetic: nonces and the challenge-response proofs
// that show a peer knows the cluster-secret without sending it.
//
// Handshake (connector C, acceptor S; see cluster/peer/client.h):
//   C -> S  SHOAL.HELLO <c_id> <c_nonce> <version>
//   S -> C  [<s_id>, <s_nonce>, ServerProof(secret, c_nonce, s_id, c_id)]
//   C -> S  SHOAL.AUTH ClientProof(secret, s_nonce, c_id, s_id)
//   S -> C  +OK
// Each side proves itself over the other side's fresh nonce, so a recorded
// handshake cannot be replayed; the role tag ("S" / "C") in the message keeps a
// peer from reflecting one side's proof back as the other's. Both ids are
// bound in, so a proof made for one pair of nodes does not serve another.
// An empty secret is an empty HMAC key: it interoperates only with itself.
// After +OK every batch of frames and every chunk of replies carries a MAC
// keyed from this handshake (cluster/peer/frame_mac.h).
//
// <version> is kPeerProtocolVersion. Version 2 added the MACs, version 3
// sealed requests in batches instead of one by one. A node refuses a HELLO
// of another version (or none, version 1) with kPeerVersionError, so nodes
// of different versions never talk: a rolling upgrade across a version
// change is not supported.
//
// Everything here is pure (apart from NewNonce's randomness) and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace shoal::cluster {

// The protocol label every proof starts with; a new handshake version changes it.
inline constexpr std::string_view kPeerProofLabel = "shoal-peer-v3";
// SHOAL.HELLO's version argument.
inline constexpr std::string_view kPeerProtocolVersion = "3";
// The acceptor's reply to a HELLO of another version.
inline constexpr std::string_view kPeerVersionError =
    "ERR peer protocol version mismatch: this node speaks shoal-peer-v3 (sealed batches); "
    "upgrade every node of the cluster";

// Length of a nonce in hex characters (16 random bytes).
inline constexpr size_t kNonceHexLength = 32;

// A fresh nonce: kNonceHexLength lower-case hex characters from libcrypto's
// RAND_bytes. Should RAND_bytes fail, falls back to std::random_device (a nonce
// must be unpredictable and unique, not secret).
std::string NewNonce();

// Lower-case hex of HMAC-SHA256(key, data) (64 characters). An empty key is
// allowed. Returns "" only if libcrypto fails, which SecretEquals never accepts.
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// What S sends to prove the secret: hex HMAC-SHA256(secret,
// "shoal-peer-v3|S|" + client_nonce + "|" + server_id + "|" + client_id).
std::string ServerProof(std::string_view secret, std::string_view client_nonce,
                        std::string_view server_id, std::string_view client_id);

// What C sends to prove the secret: hex HMAC-SHA256(secret,
// "shoal-peer-v3|C|" + server_nonce + "|" + client_id + "|" + server_id).
std::string ClientProof(std::string_view secret, std::string_view server_nonce,
                        std::string_view client_id, std::string_view server_id);

// Compares a received secret or proof with the expected one in time
// independent of where they differ (CRYPTO_memcmp): the peer handshake's
// proofs and AUTH's password. False if the sizes differ or either is empty
// (an empty proof is a libcrypto failure, never a valid proof).
bool SecretEquals(std::string_view a, std::string_view b);

}  // namespace shoal::cluster
