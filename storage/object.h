#pragma once
// Object: everything one replica keeps for one key — a DvvSet
// (storage/dvv.h) of Versions, plus the read rules (tombstones, expiry,
// counters, last-writer-wins) and the compact byte encoding the store, the
// log and the peer channel keep it in. Pure logic: time is passed in as
// now_ms (ms since the Unix epoch); nothing here reads a clock.
//
// Writes (what the command layer calls; `coordinator` is this node's ActorId):
//   SET key v           obj.Put(Version::Bytes(v, now, expire_at), coordinator)
//   SETV key ctx v      obj.Update(ctx, Version::Bytes(v, now, expire_at), coordinator)
//   DEL key             obj.Put(Version::Tombstone(now), coordinator)
//   DELV key ctx        obj.Update(ctx, Version::Tombstone(now), coordinator)
//   INCRBY key d        base = obj.CounterForUpdate(now) (refuse if !ok);
//                       base.counter.Add(coordinator, d) (refuse on overflow);
//                       obj.Put(Version::Counter(base.counter, now, base.expire_at_ms),
//                       coordinator)
//   replication / read repair / hand-off:  obj.Merge(remote)
// Put() uses the object's own context, so it supersedes every sibling this
// replica has: sequential writes through one node never make siblings.
// Before a write the caller may call SiblingsAfterUpdate(ctx) and refuse
// with "CONFLICT <n> siblings ..." past `max-siblings` (nothing is mutated).
// With `conflict-resolution lww` the caller calls ResolveLww() after every
// Update/Put/Merge.
//
// Reads:
//   LiveValues(now, actors) — what GET and GETV show. Tombstones and expired
//   versions are not shown. Bytes versions are shown one each. All live
//   counter versions are joined (PnCounter::Merge) into ONE value shown as
//   the decimal sum: concurrent INCRs on two partition sides (same old
//   context, two coordinators) leave two counter siblings whose join counts
//   both increments, and GET shows one number. A mix of counter and bytes
//   versions (a SET concurrent with an INCR) shows each bytes value plus the
//   one joined counter value, in the order below. Order: by (timestamp_ms,
//   node id, dot counter) of the version, oldest first; the joined counter
//   takes the place of its oldest live counter version. The order is the
//   same on every node (node ids, not ActorIds).
//   GET: LiveValues().size() == 0 -> nil, 1 -> bulk, else array.
//   GETV: [EncodeContextToken(obj.Context()), LiveValues()].
//   IsAbsent(now): no live version (all tombstones/expired, or empty).
//
// Not thread safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/actor_table.h"
#include "storage/dvv.h"
#include "storage/pn_counter.h"
#include "storage/status.h"

namespace shoal::storage {

enum class VersionKind : uint8_t {
  kBytes = 0,      // a string value
  kCounter = 1,    // a PN-counter (INCR and friends)
  kTombstone = 2,  // a delete
};

// The payload of one sibling. A TTL is part of the version: expire_at_ms is
// replicated with it, and a write without KEEPTTL-like intent simply carries
// no expiry.
struct Version {
  VersionKind kind = VersionKind::kBytes;
  std::string bytes;         // kBytes only
  PnCounter counter;         // kCounter only
  int64_t timestamp_ms = 0;  // wall time at the coordinator (LWW, ordering)
  int64_t expire_at_ms = 0;  // absolute expiry, 0 = none

  static Version Bytes(std::string value, int64_t timestamp_ms, int64_t expire_at_ms = 0);
  static Version Counter(PnCounter counter, int64_t timestamp_ms, int64_t expire_at_ms = 0);
  static Version Tombstone(int64_t timestamp_ms);

  // Not a tombstone, and not expired (expiry as Redis: expired once
  // expire_at_ms <= now_ms).
  bool IsLive(int64_t now_ms) const {
    return kind != VersionKind::kTombstone && (expire_at_ms == 0 || expire_at_ms > now_ms);
  }
  bool operator==(const Version&) const = default;
};

// What INCR and friends start from: see CounterForUpdate().
struct CounterBase {
  PnCounter counter;
  int64_t expire_at_ms = 0;  // the TTL the new counter version keeps (0 = none)
};

// The one error text for a key whose siblings block a command (a
// read-modify-write, or a write past max-siblings): "CONFLICT <n> siblings:
// resolve them with GETV and a SETV carrying its context". Clients match
// its first words, "CONFLICT <n> siblings".
std::string ConflictMessage(size_t siblings);

class Object {
 public:
  using Set = DvvSet<Version>;
  using Sibling = Set::Sibling;

  Object() = default;
  explicit Object(Set set) : set_(std::move(set)) {}

  // --- writes -------------------------------------------------------------

  // A write with a client context (SETV, DELV): supersedes exactly the
  // siblings `context` covers. Returns the new version's dot. dot_floor: see
  // DvvSet::Update (the node's DotCounter; 0 in tests).
  Dot Update(const VersionVector& context, Version version, ActorId coordinator,
             uint64_t dot_floor = 0) {
    return set_.Update(context, std::move(version), coordinator, dot_floor);
  }
  // A write without a client context (SET, DEL, INCR, EXPIRE...): uses this
  // replica's own context, so it supersedes every sibling here.
  Dot Put(Version version, ActorId coordinator, uint64_t dot_floor = 0) {
    return set_.Update(set_.Context(), std::move(version), coordinator, dot_floor);
  }
  // Replica synchronisation: this becomes the join of this and `other`.
  void Merge(const Object& other) { set_.Merge(other.set_); }

  // Number of siblings (tombstones and expired ones included: they are
  // stored) that Update(context, ...) would leave. Put() always leaves 1.
  size_t SiblingsAfterUpdate(const VersionVector& context) const {
    return set_.SizeAfterUpdate(context);
  }

  // conflict-resolution lww: keeps only the sibling with the greatest
  // (timestamp_ms, node id, dot counter) — tombstones and expired versions
  // compete too, so a later DEL wins. If that sibling is a counter, every
  // counter sibling is kept (they join on read, so GET still shows one value
  // and concurrent increments still count). The dropped siblings stay
  // covered by the context, so the choice replicates. THIS CAN DROP
  // CONCURRENT WRITES: that is what lww means.
  void ResolveLww(const ActorTable& actors);

  // --- reads --------------------------------------------------------------

  const VersionVector& Context() const { return set_.Context(); }
  const std::vector<Sibling>& siblings() const { return set_.siblings(); }
  // Stored siblings, tombstones and expired ones included.
  size_t Size() const { return set_.Size(); }
  const Set& set() const { return set_; }

  // The values GET shows, in the order described at the top of this file.
  std::vector<std::string> LiveValues(int64_t now_ms, const ActorTable& actors) const;
  // LiveValues(now_ms, ...).size() without building the strings.
  size_t LiveCount(int64_t now_ms) const;
  bool IsAbsent(int64_t now_ms) const { return LiveCount(now_ms) == 0; }

  // The key's expiry as a whole (for the store's TTL index and TTL/PTTL):
  // the latest expire_at_ms of the non-tombstone siblings, 0 if one of them
  // has none or there are none.
  int64_t ExpireAtMs() const;

  // The counter an INCR/DECR/INCRBY/DECRBY starts from, and the TTL it keeps
  // (Redis's INCR keeps a key's TTL):
  //   no live version               -> an empty counter (value 0), no TTL;
  //   only counter versions live    -> their join, the latest of their TTLs;
  //   one bytes version, no counter -> the string parsed as Redis's
  //                                    string2ll does, held by
  //                                    kCounterBaseActor; Code::kNotInteger
  //                                    if it is not an integer;
  //   anything else (LiveCount > 1) -> Code::kConflict, message
  //                                    "CONFLICT <n> siblings ...".
  // Then Add() the delta for the coordinator and Put() the result.
  Result<CounterBase> CounterForUpdate(int64_t now_ms) const;

  // True if the object can be forgotten without risk of resurrection once
  // every replica has it: it has at least one sibling, none is live at
  // now_ms, and each died (a tombstone at its timestamp, an expired version
  // or its remains at its expiry or its timestamp, whichever is later)
  // before cutoff_ms. The caller picks a cutoff (e.g. now minus a grace
  // period) and must know every replica has seen the death.
  bool IsPurgeable(int64_t now_ms, int64_t cutoff_ms) const;

  // True if the object has siblings and every one is a tombstone (a delete,
  // or the remains of an expired version): a time-independent "dead".
  bool IsTombstonesOnly() const;

  // --- expiry in a cluster --------------------------------------------------
  //
  // A replica in a cluster must not forget an expired version: its context
  // is what keeps an older value another replica still holds from coming
  // back (it dominates it). It keeps the version's remains instead:
  // CompactExpired() turns every expired bytes or counter sibling into a
  // tombstone with the same dot, timestamp and expiry, dropping the payload.
  // The remains are a pure function of the version once it has expired, so
  // two replicas compacting the same write at different times store the
  // same bytes (equal digests); a merge of the two forms of one dot keeps
  // either, and the next compaction makes them equal. Last-writer-wins
  // orders by (timestamp, node id, dot), all kept, so it picks the same
  // sibling before and after. Returns true if something was compacted.
  bool CompactExpired(int64_t now_ms);

  // --- encoding -----------------------------------------------------------
  //
  // Local form (Encode/Decode): what the store keeps as the key's value.
  // Actors are ActorIds, meaningful only in this process with this
  // ActorTable. Common case — one bytes sibling whose dot is the only clock
  // entry's counter, no expiry — costs 1 flags byte + actor varint (1 byte
  // for the first 128 actors) + counter varint + timestamp varint (6 bytes
  // for today's ms times) + the raw value: about 9-10 bytes over the value.
  //
  // Node-id form (EncodeWithNodeIds/DecodeWithNodeIds): the same layout
  // with actors written as 20-byte binary node ids; for the append-only log
  // and the peer channel.
  //
  // Decoders check everything (flags, varint bounds, counts against the
  // bytes left, actor ids, counter ranges, repeated actors or dots, dots
  // outside the clock, trailing bytes) and return Code::kCorruption for
  // malformed input; they never crash or read out of bounds.

  std::string Encode() const;
  // Encode(), moving a one-sibling bytes value's buffer into the result
  // instead of copying it: the few header bytes are inserted in front of the
  // value, in place when its buffer has kEncodeHeadRoom spare bytes (the
  // request parser reserves them for big bulk strings), so a 512 MB SET is
  // stored without a second copy. That value is left empty in this object;
  // *value_size is set to its size (0 when the object is not of that form,
  // and then the result is Encode()'s and nothing is moved). The value is
  // the last *value_size bytes of the result.
  std::string EncodeMovingValue(size_t* value_size);
  // (EncodeWithNodeIds() of the object left behind is then the node-id form
  // the object had, without the value that followed it.)
  static constexpr size_t kEncodeHeadRoom = 32;
  static Result<Object> Decode(std::string_view encoded, const ActorTable& actors);
  // Decode() leaving every bytes value empty (clocks, dots, kinds, expiries
  // and counters kept): for Put(), which supersedes every sibling and needs
  // only the context. Overwriting or deleting a 512 MB value then copies
  // nothing of it.
  static Result<Object> DecodeWithoutValues(std::string_view encoded, const ActorTable& actors);
  // Appends the node-id form to *out.
  void EncodeWithNodeIds(const ActorTable& actors, std::string* out) const;
  // Interns the node ids it reads (a failed decode may have interned some;
  // harmless). Fails also if the ActorTable is full.
  static Result<Object> DecodeWithNodeIds(std::string_view encoded, ActorTable& actors);

  // Fast path for GET: if `encoded` (local form) holds exactly one sibling
  // and it is a live bytes version at now_ms, a view of its value inside
  // `encoded`; otherwise nullopt — which means "decode and use LiveValues()"
  // (the key may be absent, a counter, or have siblings). Never allocates;
  // does not validate more than it reads.
  static std::optional<std::string_view> PeekSingleValue(std::string_view encoded, int64_t now_ms);
  // IsTombstonesOnly() of the object `encoded` (local form) holds, reading
  // only the flags byte in the single-sibling form; false if it does not
  // decode.
  static bool EncodedIsTombstonesOnly(std::string_view encoded, const ActorTable& actors);

  bool operator==(const Object&) const = default;

 private:
  Set set_;
};

}  // namespace shoal::storage
