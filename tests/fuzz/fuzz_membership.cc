// libFuzzer target: the membership state's wire form (cluster/membership.h
// Membership::Decode, versions 1 to 3) and its merge.
//
// Input: byte 0 is a mode (bit 0: append the XXH3 checksum the format ends
// with, so mutations get past it; bit 1: the rest holds two states, the
// first one's length in byte 1). The rest is one or two encoded states.
//
// Invariants checked, for each state Decode accepts:
//   - Encode() of it decodes to an equal state (members, epoch, ring,
//     removed ids, ready rows), and encoding that again gives the same bytes;
// and for two decoded states a, b:
//   - a.Merge(b) and b.Merge(a) give equal states (the merge is symmetric);
//   - merging the same state again changes nothing (it is idempotent);
//   - the merged state encodes and decodes to itself.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/membership.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using shoal::cluster::Membership;
using shoal::fuzz::Check;

bool SameState(const Membership& a, const Membership& b) {
  return a == b && a.removed() == b.removed() && a.ready() == b.ready() &&
         a.ring_digest() == b.ring_digest();
}

void CheckRoundTrip(const Membership& m) {
  const std::string bytes = m.Encode();
  auto again = Membership::Decode(bytes);
  Check(again.ok(), "an encoded state does not decode");
  Check(SameState(again.value(), m), "decode(encode(m)) != m");
  Check(again.value().Encode() == bytes, "encode(decode(encode(m))) != encode(m)");
}

std::optional<Membership> DecodeOne(std::string_view bytes, bool fix_checksum) {
  auto r = fix_checksum ? Membership::Decode(shoal::fuzz::WithChecksum(bytes, 8))
                        : Membership::Decode(bytes);
  if (!r.ok()) return std::nullopt;
  CheckRoundTrip(r.value());
  return std::move(r).value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool fix = data[0] & 1;
  const bool two = data[0] & 2;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (!two) {
    DecodeOne(rest, fix);
    return 0;
  }
  if (rest.empty()) return 0;
  const size_t first_len = static_cast<uint8_t>(rest[0]);
  rest.remove_prefix(1);
  if (first_len > rest.size()) return 0;
  std::optional<Membership> a = DecodeOne(rest.substr(0, first_len), fix);
  std::optional<Membership> b = DecodeOne(rest.substr(first_len), fix);
  if (!a || !b) return 0;

  Membership ab = *a;
  ab.Merge(*b);
  Membership ba = *b;
  ba.Merge(*a);
  Check(SameState(ab, ba), "a.Merge(b) != b.Merge(a)");
  Membership again = ab;
  Check(!again.Merge(*b) && !again.Merge(*a) && SameState(again, ab),
        "merging a state twice changed something");
  CheckRoundTrip(ab);
  return 0;
}
