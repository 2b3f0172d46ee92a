#pragma once
// ContainerDelta: what one container write changed (a write of a hash, set
// or sorted set: Keyspace::ModifyHash/ModifySet/ModifyZset), small enough to
// ship and log instead of the whole new object.
//
// A container write is a pure function of (base object, write): the
// coordinator reads the joined state of the base at the write's time,
// applies the command with the write's dot, and Put()s one container
// version (storage/object.h "Convergent containers"). The same base, dot,
// timestamp, expiry and changed names give a byte-identical new object. So
// a delta carries
//   - the version's type, the write's dot, timestamp and expiry;
//   - the new state's clock, and for each name whose atoms the write
//     changed its new atom list (as a container version of the type holding
//     only those entries, encoded as container_codec.h does), or the name in
//     `removed` when the write removed it;
//   - the digest (BaseDigest) of the object it was computed from.
// ApplyDelta() redoes the write on a base with that digest and gives the
// coordinator's new object; on any other base it refuses with Code::kStale
// and the sender falls back to the whole object.
//
// The digest is causal, not a hash of every byte: the context, and per
// sibling its dot, kind, timestamp, expiry and, for a container, its clock
// and entry count — all in node-id order. Its soundness rests on the DVV
// invariant that one dot names one write, whose version is the same bytes
// on every replica holding it (storage/dvv.h, storage/or_map.h); the only
// legal rewrite of a sibling in place, the remains of an expired version
// (Object::CompactExpired), changes its kind and so the digest. It costs
// O(siblings x actors), not O(elements): computing it on every write does
// not bring back the O(size) cost the delta exists to avoid.
//
// Encoding (node-id form: it leaves the node; integers are varints):
//   format byte (1), kind byte (VersionKind: 3 hash, 4 set, 5 sorted set),
//   dot (20-byte node id, counter), timestamp, expiry (int64 bit patterns),
//   base digest (8 bytes, little-endian),
//   removed: n, n x (length, name) in strictly increasing bytewise order,
//   then to the end the node-id container payload of `changed`.
// DecodeDelta checks all of it (and that no name is both changed and
// removed) and returns Code::kCorruption; peer input is never trusted.
//
// Pure logic, not thread safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/actor_table.h"
#include "storage/dvv.h"
#include "storage/object.h"
#include "storage/status.h"

namespace shoal::storage {

struct ContainerDelta {
  VersionKind kind = VersionKind::kSet;  // kHash, kSet or kZset
  Dot dot;                               // the write's dot
  int64_t timestamp_ms = 0;              // the new version's timestamp; the base is viewed at it
  int64_t expire_at_ms = 0;              // the new version's expiry (0 = none)
  uint64_t base_digest = 0;              // BaseDigest() of the object the write started from
  // A container version of `kind`: the new state's whole clock, and the
  // entries (name and all its atoms) the write added or changed.
  Version changed;
  std::vector<std::string> removed;  // names the write removed, sorted, distinct
  bool operator==(const ContainerDelta&) const = default;
};

// The causal digest of an object described above; equal on every node for
// equal objects.
uint64_t BaseDigest(const Object& object, const ActorTable& actors);

// The delta of the write that turned `base` into `after`: `after` holds
// exactly the one container version the write Put() (dot, kind, timestamp,
// expiry), and `base` is what it started from. kInvalid otherwise, or if
// the base does not read as that container type at the write's time.
// (Computes the base's view; DeltaFrom spares that when the caller has it.)
Result<ContainerDelta> DeltaOf(const Object& base, const Object& after, const ActorTable& actors);

// The same from its parts: `base_digest` = BaseDigest(base); `before` a
// container version holding the state the write started from (the base's
// joined view of the type at the write's time); `after` the new version and
// `dot` its dot. O(elements) comparisons, O(changed) copies.
ContainerDelta DeltaFrom(uint64_t base_digest, const Version& before, const Version& after,
                         const Dot& dot);

// Appends the encoding to *out.
void EncodeDelta(const ContainerDelta& delta, const ActorTable& actors, std::string* out);
// Appends the encoding of the delta of the write that made `after`, from
// the journal of that write (storage/or_map.h "Journal": the names the
// command touched, and whether the base held each), without the base's
// state and without building the ContainerDelta: O(touched x log) plus the
// bytes of the touched entries, the size of the write rather than of the
// container. `base_digest` = BaseDigest(base), `dot` the write's dot;
// `journal` must be complete and come from the state that became `after`,
// which started as the base's view. The bytes are then EncodeDelta's of
// DeltaOf(base, after) (every name a write touches and keeps holds an atom
// with the write's new dot, so it differs from the base).
void EncodeDeltaFromJournal(uint64_t base_digest, const Version& after, const Dot& dot,
                            const OrMapJournal& journal, const ActorTable& actors,
                            std::string* out);
// Interns the node ids it reads. kCorruption on malformed input.
Result<ContainerDelta> DecodeDelta(std::string_view encoded, ActorTable& actors);

// Redoes the write on `base`: the coordinator's new object, byte for byte.
// Code::kStale when `base` is not the object the delta was computed from
// (digest, type, a removed name that is absent, atoms the clock does not
// cover, a dot already covered).
Result<Object> ApplyDelta(const Object& base, const ContainerDelta& delta,
                          const ActorTable& actors);
// The same on a base the caller gives up: when it is one unexpired version
// of the delta's type its state is moved into the result, not copied. Every
// check is made before the state moves, so a refused delta leaves `base` as
// it was; an applied one leaves it fit only to be dropped.
Result<Object> ApplyDelta(Object&& base, const ContainerDelta& delta, const ActorTable& actors);

}  // namespace shoal::storage
