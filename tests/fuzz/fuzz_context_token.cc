// libFuzzer target: context tokens (storage/context_token.h), the causal
// contexts clients hand back to GETV/SETV/DELV.
//
// Input: byte 0 is a mode. Bit 0 clear: the rest is the token text as a
// client sends it. Bit 0 set: the rest is the binary body (version, count,
// entries); the target appends its checksum and base64url-encodes it, so
// mutations reach the entry parsing. The node table knows four node ids
// (the seed corpus uses them); the decoder interns unknown ones up to the
// table's quota of client-named ids (two here), then drops them.
//
// Invariants checked, for each token DecodeContextToken accepts:
//   - every actor of the decoded context is one this node knows, with a
//     counter in [1, kMaxCounter];
//   - its token decodes to the same context, and is a fixed point (the
//     token of that decoded context is the same text);
//   - a token is never longer than kMaxContextTokenLength.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/context_token.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using shoal::fuzz::Check;
using namespace shoal::storage;

std::string Base64Url(std::string_view in) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

ActorTable& Actors() {
  static ActorTable* table = [] {
    auto* t = new ActorTable(16);
    for (const char* id :
         {"1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222",
          "abcdef0123456789abcdef0123456789abcdef01", "ffffffffffffffffffffffffffffffffffffffff"}) {
      Check(t->Intern(id).ok(), "intern");
    }
    return t;
  }();
  return *table;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string token =
      (data[0] & 1) ? Base64Url(shoal::fuzz::WithChecksum(rest, 4)) : std::string(rest);
  ActorTable& actors = Actors();
  auto vv = DecodeContextToken(token, actors);
  if (!vv.ok()) {
    Check(vv.status().message() == kInvalidContextMessage, "an error other than invalid context");
    return 0;
  }
  for (const auto& e : vv.value().entries()) {
    Check(actors.Contains(e.actor), "an actor this node does not know");
    Check(e.counter >= 1 && e.counter <= kMaxCounter, "a counter out of range");
  }
  const std::string encoded = EncodeContextToken(vv.value(), actors);
  Check(encoded.size() <= kMaxContextTokenLength, "a token longer than the limit");
  auto again = DecodeContextToken(encoded, actors);
  Check(again.ok() && again.value() == vv.value(), "decode(encode(c)) != c");
  Check(EncodeContextToken(again.value(), actors) == encoded, "the token is not a fixed point");
  return 0;
}
