// libFuzzer target: the versioned object's encodings (storage/object.h,
// storage/object_codec.cc): Object::Decode (local form, what the store
// keeps) and Object::DecodeWithNodeIds (node-id form, what the log and the
// peer channel carry).
//
// Input: byte 0 is a mode (bit 0: node-id form, else local form; bits 1-2:
// the time reads are made at). The rest is the encoded object. The local
// form is decoded against a node table holding the counter base actor and
// four node ids (ActorIds 0..4); the node-id form interns into a fresh table
// of at most 8 actors, so a full table is reached too.
//
// Invariants checked, for each object a decoder accepts:
//   - it encodes (both forms) to bytes that decode to an equal object, and
//     encoding is a fixed point;
//   - the fast paths agree with the full decode: PeekSingleValue's value is
//     the one LiveValues shows, EncodedIsTombstonesOnly is
//     IsTombstonesOnly, LiveCount is LiveValues().size() (plus the live
//     container types), TypeAt is kNone iff the object is absent;
//   - merging an object into itself changes nothing.

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/object.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using shoal::fuzz::Check;
using namespace shoal::storage;

constexpr const char* kIds[] = {
    "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222",
    "abcdef0123456789abcdef0123456789abcdef01", "ffffffffffffffffffffffffffffffffffffffff"};

void CheckReads(const Object& o, std::string_view local, int64_t now, const ActorTable& actors) {
  const std::vector<std::string> live = o.LiveValues(now, actors);
  bool containers = false;
  for (const auto& s : o.siblings()) containers = containers || s.value.IsContainer();
  // LiveCount also counts each container type whose join is not empty.
  Check(containers ? o.LiveCount(now) >= live.size() : o.LiveCount(now) == live.size(),
        "LiveCount != LiveValues().size()");
  Check(o.IsAbsent(now) == (o.TypeAt(now, actors) == KeyType::kNone), "TypeAt disagrees");
  (void)o.HashView(now, actors);
  (void)o.SetView(now, actors);
  (void)o.ZsetView(now, actors);
  if (auto peek = Object::PeekSingleValue(local, now)) {
    Check(live.size() == 1 && live[0] == *peek, "PeekSingleValue disagrees with LiveValues");
  }
  Check(Object::EncodedIsTombstonesOnly(local, actors) == o.IsTombstonesOnly(),
        "EncodedIsTombstonesOnly disagrees with IsTombstonesOnly");
  Object merged = o;
  merged.Merge(o);
  Check(merged == o, "merging an object into itself changed it");
  (void)o.CounterForUpdate(now, actors);
  (void)o.ExpireAtMs();
}

void CheckLocal(const Object& o, const ActorTable& actors, int64_t now) {
  const std::string local = o.Encode();
  auto again = Object::Decode(local, actors);
  Check(again.ok() && again.value() == o, "Decode(Encode(o)) != o");
  Check(again.value().Encode() == local, "Encode is not a fixed point");
  CheckReads(o, local, now, actors);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const int64_t kNow[4] = {0, 1, 1700000000000, INT64_MAX / 2};
  const int64_t now = kNow[(data[0] >> 1) & 3];
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  if ((data[0] & 1) == 0) {
    ActorTable actors(8);
    for (const char* id : kIds) Check(actors.Intern(id).ok(), "intern");
    auto o = Object::Decode(bytes, actors);
    if (!o.ok()) return 0;
    Check(o.value().Encode() == bytes || Object::Decode(o.value().Encode(), actors).ok(),
          "re-encoding fails");
    CheckLocal(o.value(), actors, now);
    CheckReads(o.value(), bytes, now, actors);
    return 0;
  }

  ActorTable actors(8);
  auto o = Object::DecodeWithNodeIds(bytes, actors);
  if (!o.ok()) return 0;
  std::string wire;
  o.value().EncodeWithNodeIds(actors, &wire);
  auto again = Object::DecodeWithNodeIds(wire, actors);
  Check(again.ok() && again.value() == o.value(), "DecodeWithNodeIds(EncodeWithNodeIds(o)) != o");
  std::string wire2;
  again.value().EncodeWithNodeIds(actors, &wire2);
  Check(wire2 == wire, "EncodeWithNodeIds is not a fixed point");
  CheckLocal(o.value(), actors, now);
  return 0;
}
