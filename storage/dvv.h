#pragma once
// Dotted version vectors: the causality tracking of every key (Preguiça,
// Baquero, Almeida, Fonte, Gonçalves, "Dotted Version Vectors: Logical
// Clocks for Optimistic Replication", 2010/2012; Riak 2's dvvset.erl is the
// model, this is our own code).
//
// A DvvSet<V> is what one replica holds for one key:
//   - a causal context: a VersionVector, the join of everything the replica
//     has seen for the key (actor -> highest counter seen; the history it
//     denotes is {(a, 1..n)} per entry);
//   - a set of siblings, each a value with exactly one dot (actor, counter),
//     the unique name of the write that created it.
// Invariants (checked by FromParts, kept by every operation):
//   I1 every sibling's dot is covered by the context;
//   I2 no two siblings share a dot (a dot names one write, one value);
//   I3 siblings are sorted by dot, entries of a VersionVector by actor, and
//      counters are >= 1, so equal states compare equal (operator==).
// Sizes: the context has one entry per actor that ever coordinated a write
// of the key (or appeared in a client context), never one per write; the
// siblings are only the truly concurrent writes.
//
// Unlike dvvset.erl, which keeps per actor a list of values with implicit,
// contiguous dots, siblings carry their dot explicitly: that lets
// last-writer-wins (RemoveIf) drop any subset of siblings, which contiguous
// lists cannot represent. The compact byte encoding (storage/object.h) still
// spends nothing on the dot in the common case.
//
// Pure logic, no allocation beyond the vectors, not thread safe.

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "storage/actor_table.h"
#include "storage/status.h"

namespace shoal::storage {

// Counters of clocks and dots are in [1, kMaxCounter]; decoders reject more.
// (A counter grows by one per write through one coordinator; 2^62 writes do
// not happen, and the margin keeps max + 1 far from overflow.)
inline constexpr uint64_t kMaxCounter = uint64_t{1} << 62;

// The name of one write: the coordinator that accepted it and its counter.
struct Dot {
  ActorId actor = 0;
  uint64_t counter = 0;
  auto operator<=>(const Dot&) const = default;
};

// A version vector: actor -> counter, a sorted small vector. An actor not
// listed has counter 0.
class VersionVector {
 public:
  struct Entry {
    ActorId actor = 0;
    uint64_t counter = 0;
    bool operator==(const Entry&) const = default;
  };

  VersionVector() = default;

  // Builds a vector from entries in any order. kInvalid on a duplicate actor
  // or a counter outside [1, kMaxCounter].
  static Result<VersionVector> FromEntries(std::vector<Entry> entries);

  // The counter of `actor` (0 if absent).
  uint64_t Get(ActorId actor) const;
  // Raises the counter of `actor` to at least `counter` (no-op for 0).
  void Raise(ActorId actor, uint64_t counter);
  // True if the history of this vector contains `dot`.
  bool Covers(const Dot& dot) const { return dot.counter <= Get(dot.actor); }
  // True if this vector's history includes `other`'s (this >= other).
  bool Descends(const VersionVector& other) const;
  // Entry-wise max (the join of the two histories).
  void Join(const VersionVector& other);

  const std::vector<Entry>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  bool operator==(const VersionVector&) const = default;

 private:
  std::vector<Entry> entries_;  // sorted by actor, counters >= 1
};

template <typename V>
class DvvSet {
 public:
  struct Sibling {
    Dot dot;
    V value;
    bool operator==(const Sibling&) const = default;
  };

  DvvSet() = default;

  // Rebuilds a set from its parts (decoding). Sorts the siblings; kInvalid if
  // a dot is repeated, not covered by `context`, or has counter 0.
  static Result<DvvSet> FromParts(VersionVector context, std::vector<Sibling> siblings);

  // The causal context to hand to clients (join of everything seen).
  const VersionVector& Context() const { return context_; }
  // Siblings, sorted by dot.
  const std::vector<Sibling>& siblings() const { return siblings_; }
  size_t Size() const { return siblings_.size(); }
  bool empty() const { return siblings_.empty(); }
  // Calls fn(V&) on every sibling's value in place; dots and context stay,
  // so the invariants hold whatever fn does to the values.
  template <typename Fn>
  void ForEachValue(Fn fn) {
    for (Sibling& s : siblings_) fn(s.value);
  }

  // A write through `coordinator` of `value` by a client that had seen
  // `context` (dvvset's update/3). Siblings whose dots `context` covers are
  // superseded and removed; the others stay. The new value gets the dot
  // (coordinator, max(max(context[coordinator], Context()[coordinator]) + 1,
  // dot_floor)), which no write of this key has used, and the context
  // becomes join(Context(), context) plus that dot. A plain write (no client
  // context) passes Context(): it supersedes every sibling, so sequential
  // writes through one replica never make siblings. Returns the new dot.
  //
  // dot_floor (0 = none) is a node-wide value that never repeats, even
  // across restarts (storage/dot_counter.h): with it, a key that was purged
  // and written again never reuses a dot that an old client context may
  // cover. Counters it skips name no write, so covering them is harmless.
  Dot Update(const VersionVector& context, V value, ActorId coordinator, uint64_t dot_floor = 0);

  // Update(Context(), value, dot.actor) with the new value's dot given:
  // every sibling is superseded, the context gains `dot`. The dot must be
  // one Update could have given: counter in [1, kMaxCounter] and above
  // Context().Get(dot.actor); kInvalid (nothing changed) otherwise. Replays
  // a write made elsewhere on an equal set (storage/container_delta.h).
  Status ReplaceAllWithDot(V value, const Dot& dot);

  // Number of siblings Update(context, ...) would leave (the survivors plus
  // the new value), without changing anything: the caller can refuse a write
  // past its sibling limit.
  size_t SizeAfterUpdate(const VersionVector& context) const;

  // Replica synchronisation (dvvset's sync/2): this becomes the join of this
  // and `other`. A sibling survives iff the other side also has its dot or
  // has not seen it (its context does not cover it); the context becomes the
  // join. Commutative, associative and idempotent.
  void Merge(const DvvSet& other);

  // Removes the siblings for which pred(sibling) is true. Their dots stay in
  // the context, so the removal is itself a supersession that replicates:
  // merging with a replica that still holds them removes them there too.
  // (Last-writer-wins uses this.)
  template <typename Pred>
  void RemoveIf(Pred pred) {
    siblings_.erase(std::remove_if(siblings_.begin(), siblings_.end(), pred), siblings_.end());
  }

  bool operator==(const DvvSet&) const = default;

 private:
  VersionVector context_;
  std::vector<Sibling> siblings_;  // sorted by dot; every dot covered by context_
};

// --- implementation (templates) ---

template <typename V>
Result<DvvSet<V>> DvvSet<V>::FromParts(VersionVector context, std::vector<Sibling> siblings) {
  std::sort(siblings.begin(), siblings.end(),
            [](const Sibling& a, const Sibling& b) { return a.dot < b.dot; });
  for (size_t i = 0; i < siblings.size(); ++i) {
    const Dot& d = siblings[i].dot;
    if (d.counter == 0 || !context.Covers(d)) return Status::Invalid("dot not in context");
    if (i > 0 && siblings[i - 1].dot == d) return Status::Invalid("repeated dot");
  }
  DvvSet set;
  set.context_ = std::move(context);
  set.siblings_ = std::move(siblings);
  return set;
}

template <typename V>
Dot DvvSet<V>::Update(const VersionVector& context, V value, ActorId coordinator,
                      uint64_t dot_floor) {
  RemoveIf([&](const Sibling& s) { return context.Covers(s.dot); });
  context_.Join(context);
  Dot dot{coordinator, std::max(context_.Get(coordinator) + 1, dot_floor)};
  context_.Raise(coordinator, dot.counter);
  // The new dot is greater than every dot of `coordinator`, so it goes right
  // after them.
  auto pos = std::upper_bound(siblings_.begin(), siblings_.end(), dot,
                              [](const Dot& d, const Sibling& s) { return d < s.dot; });
  siblings_.insert(pos, Sibling{dot, std::move(value)});
  return dot;
}

template <typename V>
Status DvvSet<V>::ReplaceAllWithDot(V value, const Dot& dot) {
  if (dot.counter == 0 || dot.counter > kMaxCounter || dot.counter <= context_.Get(dot.actor)) {
    return Status::Invalid("dot already covered");
  }
  siblings_.clear();
  context_.Raise(dot.actor, dot.counter);
  siblings_.push_back(Sibling{dot, std::move(value)});
  return Status::Ok();
}

template <typename V>
size_t DvvSet<V>::SizeAfterUpdate(const VersionVector& context) const {
  size_t kept = 0;
  for (const Sibling& s : siblings_) kept += context.Covers(s.dot) ? 0 : 1;
  return kept + 1;
}

template <typename V>
void DvvSet<V>::Merge(const DvvSet& other) {
  std::vector<Sibling> out;
  out.reserve(siblings_.size() + other.siblings_.size());
  size_t i = 0, j = 0;
  while (i < siblings_.size() || j < other.siblings_.size()) {
    if (j == other.siblings_.size() ||
        (i < siblings_.size() && siblings_[i].dot < other.siblings_[j].dot)) {
      if (!other.context_.Covers(siblings_[i].dot)) out.push_back(std::move(siblings_[i]));
      ++i;
    } else if (i == siblings_.size() || other.siblings_[j].dot < siblings_[i].dot) {
      if (!context_.Covers(other.siblings_[j].dot)) out.push_back(other.siblings_[j]);
      ++j;
    } else {  // same dot: the same write on both sides
      out.push_back(std::move(siblings_[i]));
      ++i;
      ++j;
    }
  }
  siblings_ = std::move(out);
  context_.Join(other.context_);
}

}  // namespace shoal::storage
