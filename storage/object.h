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
// Convergent containers (hashes, sets, sorted sets):
//   A container version (kHash, kSet, kZset) carries its type's whole CRDT
//   state, clock included (storage/or_map.h and the typed files). Live
//   container versions of one type are JOINED on read and before a write,
//   exactly as counters are: a command reads HashView()/SetView()/ZsetView()
//   (the join of every unexpired version of the type, empty ones included:
//   they carry removes), and a write is
//     view = obj.SetView(now, actors)          (kWrongType: another type)
//     dot  = obj.NextPutDot(coordinator, floor)
//     apply the command to view.state with `dot` (SADD: view.state.Add(m, dot))
//     obj.Put(Version::OfSet(view.state, now, view.expire_at_ms), coordinator, floor)
//   Put() supersedes every sibling this replica has; concurrent writes on two
//   partition sides leave two container versions whose join is the merged
//   container, so reads never show container siblings as siblings.
//   DEL of a container (and a write that removes its last element) stores
//   the EMPTY state with its clock (an observed remove of everything the
//   coordinator had seen): it reads as absent — EXISTS 0, TYPE none, as
//   Redis has no empty containers — counts as dead like a tombstone
//   (IsTombstonesOnly, IsPurgeable; a lone node forgets the key), yet merged
//   with a concurrent SADD elsewhere it keeps the new member only. EXPIRE
//   re-puts the joined state with the new expiry. An expired container
//   version is compacted to a tombstone like any other (CompactExpired): its
//   removes expire with it.
//   The writer must hold its own earlier writes of the key (see
//   storage/or_map.h), as for every Put.
//   Such a write is a pure function of the object it starts from and the
//   write (dot, timestamp, expiry, changed elements): what it changed is
//   shipped and logged as a ContainerDelta (storage/container_delta.h), which
//   PutWithDot() replays on a copy of that object.
//
// The type of a key (TypeAt): the live versions are the bytes and counter
// versions and the container versions of each type whose join is not
// empty. The type is the type of the live version with the greatest
// (timestamp_ms, node id, dot counter) — last writer wins the TYPE, a pure
// function of the object, the same on every node. Commands of another type
// get kWrongType (kWrongTypeMessage, Redis's words). When a bytes or counter
// version wins, the string view (GET, LiveValues) shows only the bytes and
// counter versions (a losing container is not shown); when a container wins,
// GET is WRONGTYPE. A write of either kind (Put) supersedes all siblings, so
// the losing type goes with the next write. A string SET concurrent with a
// container write leaves both until then: which one shows depends only on
// the timestamps.
//
// Not thread safe.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/actor_table.h"
#include "storage/dvv.h"
#include "storage/or_hash.h"
#include "storage/or_set.h"
#include "storage/or_zset.h"
#include "storage/pn_counter.h"
#include "storage/status.h"

namespace shoal::storage {

enum class VersionKind : uint8_t {
  kBytes = 0,      // a string value
  kCounter = 1,    // a PN-counter (INCR and friends)
  kTombstone = 2,  // a delete
  kHash = 3,       // a convergent hash (storage/or_hash.h)
  kSet = 4,        // a convergent set (storage/or_set.h)
  kZset = 5,       // a convergent sorted set (storage/or_zset.h)
};

// What TYPE shows for a key: the type of its live value (see TypeAt).
enum class KeyType : uint8_t { kNone, kString, kHash, kSet, kZset };

// Redis's words for a command of one type on a key of another.
inline constexpr std::string_view kWrongTypeMessage =
    "WRONGTYPE Operation against a key holding the wrong kind of value";

// The payload of one sibling. A TTL is part of the version: expire_at_ms is
// replicated with it, and a write without KEEPTTL-like intent simply carries
// no expiry.
struct Version {
  VersionKind kind = VersionKind::kBytes;
  std::string bytes;         // kBytes only
  PnCounter counter;         // kCounter only
  OrHash hash;               // kHash only: the whole state, clock included
  OrSet set;                 // kSet only
  OrZset zset;               // kZset only
  int64_t timestamp_ms = 0;  // wall time at the coordinator (LWW, ordering)
  int64_t expire_at_ms = 0;  // absolute expiry, 0 = none

  static Version Bytes(std::string value, int64_t timestamp_ms, int64_t expire_at_ms = 0);
  static Version Counter(PnCounter counter, int64_t timestamp_ms, int64_t expire_at_ms = 0);
  static Version Tombstone(int64_t timestamp_ms);
  static Version OfHash(OrHash state, int64_t timestamp_ms, int64_t expire_at_ms = 0);
  static Version OfSet(OrSet state, int64_t timestamp_ms, int64_t expire_at_ms = 0);
  static Version OfZset(OrZset state, int64_t timestamp_ms, int64_t expire_at_ms = 0);

  bool IsContainer() const { return kind >= VersionKind::kHash; }
  // A container with no element: what DEL of a container (or removing its
  // last element) writes. It reads as absent, like a tombstone, but keeps
  // its clock: see "Convergent containers" above.
  bool IsEmptyContainer() const {
    return (kind == VersionKind::kHash && hash.empty()) ||
           (kind == VersionKind::kSet && set.empty()) ||
           (kind == VersionKind::kZset && zset.empty());
  }
  // A tombstone or an empty container: dead whatever the time.
  bool IsDead() const { return kind == VersionKind::kTombstone || IsEmptyContainer(); }
  // Not dead, and not expired (expiry as Redis: expired once expire_at_ms <=
  // now_ms).
  bool IsLive(int64_t now_ms) const {
    return !IsDead() && (expire_at_ms == 0 || expire_at_ms > now_ms);
  }
  // Not expired (dead or not).
  bool IsUnexpired(int64_t now_ms) const { return expire_at_ms == 0 || expire_at_ms > now_ms; }
  bool operator==(const Version&) const = default;
};

// What INCR and friends start from: see CounterForUpdate().
struct CounterBase {
  PnCounter counter;
  int64_t expire_at_ms = 0;  // the TTL the new counter version keeps (0 = none)
};

// What a command of a container type reads and starts its write from: see
// Object::HashView and friends.
template <typename State>
struct ContainerView {
  State state;               // the join of the key's unexpired versions of the type
  int64_t expire_at_ms = 0;  // the TTL a write keeps (0 = none)
  bool exists = false;       // the key holds a live value of this type
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
  // Put() with the dot given rather than derived: replays on a replica the
  // Put() a coordinator made (storage/container_delta.h), so that the same
  // object and the same (dot, version) give the same new object. kInvalid
  // unless dot.counter is in [1, kMaxCounter] and above Context()'s counter
  // of dot.actor (what Put() would have made it); nothing changes then.
  Status PutWithDot(Version version, const Dot& dot) {
    return set_.ReplaceAllWithDot(std::move(version), dot);
  }
  // Replica synchronisation: this becomes the join of this and `other`.
  void Merge(const Object& other) { set_.Merge(other.set_); }

  // The dot Put(version, coordinator, dot_floor) would give its version:
  // containers tag the elements a write adds with it before the Put.
  Dot NextPutDot(ActorId coordinator, uint64_t dot_floor = 0) const {
    return Dot{coordinator, std::max(Context().Get(coordinator) + 1, dot_floor)};
  }

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
  // The value of the only sibling when Size() == 1, else nullptr: for
  // TakeViewOf, which moves a container's state out of it.
  Version* OnlyValue() {
    Version* only = nullptr;
    if (set_.Size() == 1) set_.ForEachValue([&](Version& v) { only = &v; });
    return only;
  }

  // The string values GET shows, in the order described at the top of this
  // file: bytes and counter versions only (containers are never string
  // values; check TypeAt first).
  std::vector<std::string> LiveValues(int64_t now_ms, const ActorTable& actors) const;
  // The number of live values: LiveValues(now_ms, ...).size() plus one per
  // container type whose join is not empty.
  size_t LiveCount(int64_t now_ms) const;
  bool IsAbsent(int64_t now_ms) const { return LiveCount(now_ms) == 0; }

  // The key's type (rule at the top of this file); kNone if absent.
  KeyType TypeAt(int64_t now_ms, const ActorTable& actors) const;

  // What a command of the type reads and writes from: the join of the
  // unexpired versions of the type (empty state if none), the TTL a write
  // keeps (the latest of theirs, 0 if one has none), and whether the key
  // holds a live value of the type. kWrongType (kWrongTypeMessage) if the
  // key's type is another one.
  Result<ContainerView<OrHash>> HashView(int64_t now_ms, const ActorTable& actors) const;
  Result<ContainerView<OrSet>> SetView(int64_t now_ms, const ActorTable& actors) const;
  Result<ContainerView<OrZset>> ZsetView(int64_t now_ms, const ActorTable& actors) const;

  // The key's expiry as a whole (for the store's TTL index and TTL/PTTL):
  // the latest expire_at_ms of the siblings that are not dead (IsDead), 0 if
  // one of them has none or there are none.
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
  //                                    "CONFLICT <n> siblings ...";
  //   a container type wins         -> Code::kWrongType.
  // Then Add() the delta for the coordinator and Put() the result.
  Result<CounterBase> CounterForUpdate(int64_t now_ms, const ActorTable& actors) const;

  // True if the object can be forgotten without risk of resurrection once
  // every replica has it: it has at least one sibling, none is live at
  // now_ms, and each died (a tombstone at its timestamp, an expired version
  // or its remains at its expiry or its timestamp, whichever is later)
  // before cutoff_ms. The caller picks a cutoff (e.g. now minus a grace
  // period) and must know every replica has seen the death.
  bool IsPurgeable(int64_t now_ms, int64_t cutoff_ms) const;

  // True if the object has siblings and every one is dead (a delete, the
  // remains of an expired version, or an empty container): a
  // time-independent "dead".
  bool IsTombstonesOnly() const;

  // --- expiry in a cluster --------------------------------------------------
  //
  // A replica in a cluster must not forget an expired version: its context
  // is what keeps an older value another replica still holds from coming
  // back (it dominates it). It keeps the version's remains instead:
  // CompactExpired() turns every expired bytes, counter or container sibling
  // into a tombstone with the same dot, timestamp and expiry, dropping the
  // payload.
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
  // Fast path for container lookups (SISMEMBER, HGET, ZSCORE): if `encoded`
  // (local form) holds exactly one sibling and it is an unexpired container
  // version, a view of its container payload (storage/container_codec.h:
  // DecodeContainerEntry); otherwise nullopt — decode and use the views.
  // The version may be an empty container. Never allocates.
  static std::optional<std::string_view> PeekContainer(std::string_view encoded, int64_t now_ms);
  // IsTombstonesOnly() of the object `encoded` (local form) holds, reading
  // only the flags byte in the single-sibling form (and a container's entry
  // count); false if it does not decode.
  static bool EncodedIsTombstonesOnly(std::string_view encoded, const ActorTable& actors);

  bool operator==(const Object&) const = default;

 private:
  Set set_;
};

// Code written once for the three container types: the state of type
// `State` in a container version, and Object's view of that type.
template <typename State>
State& StateOf(Version& v);
template <>
inline OrHash& StateOf<OrHash>(Version& v) {
  return v.hash;
}
template <>
inline OrSet& StateOf<OrSet>(Version& v) {
  return v.set;
}
template <>
inline OrZset& StateOf<OrZset>(Version& v) {
  return v.zset;
}
template <typename State>
const State& StateOf(const Version& v) {
  return StateOf<State>(const_cast<Version&>(v));
}

template <typename State>
Result<ContainerView<State>> ViewOf(const Object& obj, int64_t now_ms, const ActorTable& actors);
template <>
inline Result<ContainerView<OrHash>> ViewOf<OrHash>(const Object& obj, int64_t now_ms,
                                                    const ActorTable& actors) {
  return obj.HashView(now_ms, actors);
}
template <>
inline Result<ContainerView<OrSet>> ViewOf<OrSet>(const Object& obj, int64_t now_ms,
                                                  const ActorTable& actors) {
  return obj.SetView(now_ms, actors);
}
template <>
inline Result<ContainerView<OrZset>> ViewOf<OrZset>(const Object& obj, int64_t now_ms,
                                                    const ActorTable& actors) {
  return obj.ZsetView(now_ms, actors);
}

// The version kind holding a state of type `State`.
template <typename State>
constexpr VersionKind KindOfState();
template <>
constexpr VersionKind KindOfState<OrHash>() {
  return VersionKind::kHash;
}
template <>
constexpr VersionKind KindOfState<OrSet>() {
  return VersionKind::kSet;
}
template <>
constexpr VersionKind KindOfState<OrZset>() {
  return VersionKind::kZset;
}

// MovableVersionOf: `obj`'s one version when it is unexpired and of the
// type, the version whose state TakeViewOf moves out; else nullptr.
//
// ViewOf() for a write that replaces the object's versions: when `obj` is
// one unexpired version of the type (the common case: nothing to join), its
// state is moved into the view instead of copied, and `obj` keeps that
// version with an empty state — fit only for a Put(), which supersedes it,
// or to be dropped. The view is the one ViewOf() gives (the version is
// alone and of the type, so the key is of the type or absent). Otherwise
// exactly ViewOf(), `obj` unchanged.
template <typename State>
Version* MovableVersionOf(Object& obj, int64_t now_ms) {
  Version* only = obj.OnlyValue();
  if (only == nullptr || only->kind != KindOfState<State>() || !only->IsUnexpired(now_ms)) {
    return nullptr;
  }
  return only;
}
template <typename State>
Result<ContainerView<State>> TakeViewOf(Object& obj, int64_t now_ms, const ActorTable& actors) {
  Version* only = MovableVersionOf<State>(obj, now_ms);
  if (only == nullptr) return ViewOf<State>(obj, now_ms, actors);
  ContainerView<State> view;
  view.state = std::move(StateOf<State>(*only));
  StateOf<State>(*only) = State();
  view.exists = !view.state.empty();
  view.expire_at_ms = view.exists ? only->expire_at_ms : 0;
  return view;
}

}  // namespace shoal::storage
