// libFuzzer target: the container payloads (hashes, sets, sorted sets) of
// versioned objects (storage/container_codec.h): DecodeContainer in the
// local and node-id forms, and the one-element lookup DecodeContainerEntry.
//
// Input: byte 0 is a mode (bit 0: node-id form, else local form). The rest
// is a container payload (type byte, clock, entries). The local form is
// decoded against a node table holding the counter base actor and four node
// ids (ActorIds 0..4); the node-id form interns into a fresh table of at
// most 8 actors, so a full table is reached too.
//
// Invariants checked, for each payload a decoder accepts:
//   - it encodes (both forms) to bytes that decode to an equal state, and
//     encoding is a fixed point;
//   - joining the state with itself changes nothing;
//   - DecodeContainerEntry finds each entry as the full decode has it, and
//     nothing for a name that is absent; EncodedContainerIsEmpty agrees;
//   - the reads (hash values, scores, ranking) do not crash, and no score is
//     NaN.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "storage/container_codec.h"
#include "storage/object.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using shoal::fuzz::Check;
using namespace shoal::storage;

constexpr const char* kIds[] = {
    "1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222",
    "abcdef0123456789abcdef0123456789abcdef01", "ffffffffffffffffffffffffffffffffffffffff"};

size_t Size(const Version& v) {
  switch (v.kind) {
    case VersionKind::kHash:
      return v.hash.Size();
    case VersionKind::kSet:
      return v.set.Size();
    default:
      return v.zset.Size();
  }
}

// The entry names of a decoded state (at most a few, to stay fast).
template <typename Map>
void CheckLookups(const Map& map, std::string_view local, const ActorTable& actors) {
  size_t n = 0;
  for (const auto& e : map.entries()) {
    if (++n > 8) break;
    Version one;
    Check(DecodeContainerEntry(local, e.name, actors, &one).ok(), "lookup of a present entry");
    Check(Size(one) == 1, "lookup found nothing");
    Version absent;
    Check(DecodeContainerEntry(local, e.name + std::string(1, '\0'), actors, &absent).ok() &&
              (Size(absent) == 0 || map.Find(e.name + std::string(1, '\0')) != nullptr),
          "lookup of an absent entry");
  }
}

void CheckState(const Version& v, ActorTable& actors) {
  std::string local;
  EncodeContainer(v, nullptr, &local);
  Version back;
  Check(DecodeContainer(local, &actors, nullptr, &back).ok(), "Decode(Encode(local)) fails");
  std::string again;
  EncodeContainer(back, nullptr, &again);
  Check(again == local, "local encoding is not a fixed point");
  std::string wire;
  EncodeContainer(v, &actors, &wire);
  Version remote;
  Check(DecodeContainer(wire, nullptr, &actors, &remote).ok(), "Decode(Encode(node ids)) fails");
  Check(EncodedContainerIsEmpty(local) == (Size(v) == 0), "EncodedContainerIsEmpty disagrees");
  switch (v.kind) {
    case VersionKind::kHash: {
      Check(back.hash == v.hash && remote.hash == v.hash, "hash round trip");
      OrHash self = v.hash;
      self.Join(v.hash);
      Check(self == v.hash, "hash join with itself changed it");
      for (const auto& e : v.hash.map().entries()) (void)OrHash::Value(e, actors);
      CheckLookups(v.hash.map(), local, actors);
      break;
    }
    case VersionKind::kSet: {
      Check(back.set == v.set && remote.set == v.set, "set round trip");
      OrSet self = v.set;
      self.Join(v.set);
      Check(self == v.set, "set join with itself changed it");
      CheckLookups(v.set.map(), local, actors);
      break;
    }
    default: {
      Check(back.zset == v.zset && remote.zset == v.zset, "zset round trip");
      OrZset self = v.zset;
      self.Join(v.zset);
      Check(self == v.zset, "zset join with itself changed it");
      for (const auto& m : v.zset.Ranked(actors)) Check(!std::isnan(m.score), "NaN score");
      CheckLookups(v.zset.map(), local, actors);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  ActorTable actors(8);
  if ((data[0] & 1) == 0) {
    for (const char* id : kIds) Check(actors.Intern(id).ok(), "intern");
    Version v;
    if (!DecodeContainer(bytes, &actors, nullptr, &v).ok()) return 0;
    CheckState(v, actors);
    return 0;
  }
  Version v;
  if (!DecodeContainer(bytes, nullptr, &actors, &v).ok()) return 0;
  std::string wire;
  EncodeContainer(v, &actors, &wire);
  Version again;
  Check(DecodeContainer(wire, nullptr, &actors, &again).ok(), "node-id re-decode fails");
  std::string wire2;
  EncodeContainer(again, &actors, &wire2);
  Check(wire2 == wire, "node-id encoding is not a fixed point");
  CheckState(v, actors);
  return 0;
}
