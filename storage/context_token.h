#pragma once
// Context tokens: the causal context of GETV/SETV/DELV as clients see it —
// opaque, compact, printable, and valid on every node of the cluster.
//
// A token is base64url without padding (RFC 4648 section 5: A-Z a-z 0-9 -
// _) of:
//   version byte (1), n (varint), n x (20-byte binary node id, counter
//   varint), then a 4-byte little-endian checksum (low 32 bits of XXH3-64 of
//   everything before it).
// Node ids are written in full and in node id order, so a token read from
// one node works on any other, and one context has one token everywhere.
// The checksum makes a mistyped or truncated token (or a value passed where
// a context belongs) fail instead of silently covering the wrong versions;
// it is not a security measure.
//
// The empty context (a key never written) has a token too: kEmptyContextToken,
// always the same eight characters.
//
// Pure logic, no allocation beyond the returned values.

#include <cstddef>
#include <string>
#include <string_view>

#include "storage/actor_table.h"
#include "storage/dvv.h"
#include "storage/status.h"

namespace shoal::storage {

// Longest token accepted (characters). About 3,000 node ids.
inline constexpr size_t kMaxContextTokenLength = 64 * 1024;

// The token of the empty context.
extern const std::string_view kEmptyContextToken;

// The client's error for any malformed token (the command layer sends it).
inline constexpr std::string_view kInvalidContextMessage = "ERR invalid context";

// The token of `context`. Every actor of `context` must be in `actors`.
std::string EncodeContextToken(const VersionVector& context, const ActorTable& actors);

// Parses a client's token. Code::kInvalid with message kInvalidContextMessage
// if it is longer than kMaxContextTokenLength, not canonical base64url, of
// an unknown version, fails its checksum, repeats a node id, has a counter
// outside [1, kMaxCounter], or has trailing bytes.
//
// Node ids this node has never interned are interned
// (ActorTable::InternFromClient) once the whole token is valid. A token
// handed out by another node names actors whose writes may not have reached
// this one yet — a fallback's stand-in actor during a partition, say — and
// the write made with the token must cover those writes when they arrive:
// were the ids dropped, a version the client saw and replaced would come
// back as a sibling. Past the table's quota of client-named ids they are
// dropped, with exactly that effect (never a loss); a client can fill the
// quota but not the room replication needs.
Result<VersionVector> DecodeContextToken(std::string_view token, ActorTable& actors);

}  // namespace shoal::storage
