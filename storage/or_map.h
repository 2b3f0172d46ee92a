#pragma once
// OrMap<Atom>: the causal core shared by the convergent containers (sets,
// hashes, sorted sets: storage/or_set.h, or_hash.h, or_zset.h). It is an
// observed-remove map in the "dot store" formulation of Almeida, Shoker and
// Baquero ("Delta State Replicated Data Types", 2018: a causal context plus a
// DotMap of DotFuns) — the state Riak's riak_dt_orswot and riak_dt_map keep,
// written our own way:
//
//   - a clock: a VersionVector (storage/dvv.h), actor -> highest counter of
//     the writes this state has seen (the "causal context");
//   - entries: name (a set member, a hash field, a sorted-set member) ->
//     a non-empty list of atoms, each tagged with the dot of the write that
//     made it. An atom is what one write said about one name: "present" for
//     a set, "value v" or "my running total is t" for a hash field, a score
//     for a sorted-set member. A name is present iff it has an atom.
//
// Operations (the typed containers wrap them):
//   add      the write's dot goes into the clock (Witness) and a new atom
//            with that dot replaces the atoms of the name the write
//            supersedes (all of them for SADD/HSET/ZADD, only the writer's own
//            running total for HINCRBY/ZINCRBY);
//   remove   drops the name's atoms; the clock keeps covering their dots
//            (an observed remove: only what this replica has seen goes);
//   clear    removes every name, keeps the clock (DEL of a container).
// Merge (the join): an atom survives iff both sides hold its dot, or one
// side holds it and the other side's clock does not cover it (that side has
// not seen the write, so it cannot have removed it). Names left with no atom
// go; clocks join. Commutative, associative and idempotent because one dot
// names one write, and a write gives one name one atom: every replica holding
// (name, dot) holds the same atom (Atom::operator== compares them; merge keeps
// this side's copy). Add wins: a remove on one side concurrent with an add on
// the other cannot cover the add's new dot, so the name stays.
//
// One write may give the same dot to several names (SADD k a b c): that is
// fine, the rule above is per name.
//
// What the writer must hold: the dot of a write is the next dot of the key's
// DvvSet (Object::NextPutDot), counters never reused (storage/dot_counter.h),
// and the state the write starts from must include every earlier write this
// coordinator made to the key (the coordinator applies its writes locally
// first, and writes are coordinated by a primary, which keeps its copy,
// whenever one is reachable: cluster/route.cc). Otherwise the clock would
// cover an earlier write of its own it does not hold, and that write's names
// would be removed on merge. The same holds for the DvvSet of strings.
//
// Invariants (FromParts checks them; every operation keeps them):
//   O1 entries sorted by name, names distinct;
//   O2 every entry has at least one atom; atoms sorted by dot, dots distinct;
//   O3 every atom's dot is covered by the clock.
// Equal states compare equal (operator==).
//
// Journal (OrMapJournal): while one is attached (Track), Put, Remove and
// Clear record each name they touch and whether it was present before, so
// that a write's delta comes from what it touched (ContainerDelta's
// EncodeDeltaFromJournal) instead of a copy of the state and a diff of all
// of it.
// Merge and an assignment to the map cannot be described that way: they
// mark the journal incomplete. Copies and moves of a tracked map are not
// tracked (they are other states); equality ignores the journal.
//
// Atom requirements: a public `Dot dot` member and operator==.
// Pure logic, not thread safe.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/actor_table.h"
#include "storage/dvv.h"
#include "storage/status.h"

namespace shoal::storage {

// What one write did to a tracked OrMap (see "Journal" above).
struct OrMapJournal {
  struct Touch {
    std::string name;
    bool present_before = false;  // the name was present before this touch
  };
  std::vector<Touch> touched;  // in the order of the touches; a name may repeat
  bool complete = true;        // false: `touched` does not tell every change
};

template <typename Atom>
class OrMap {
 public:
  struct Entry {
    std::string name;
    std::vector<Atom> atoms;  // sorted by dot, non-empty
    bool operator==(const Entry&) const = default;
  };

  OrMap() = default;

  // Rebuilds a map from decoded parts; kInvalid unless O1-O3 hold (entries
  // and atoms must already be in order: decoders see canonical input).
  static Result<OrMap> FromParts(VersionVector clock, std::vector<Entry> entries);
  // The same without the O(entries) checks, for a caller that established
  // O1-O3 itself (ApplyDelta's in-place path: it checks what it changes and
  // that the clock only grew; its tests compare the result with FromParts's
  // walk).
  static OrMap FromCheckedParts(VersionVector clock, std::vector<Entry> entries) {
    OrMap m;
    m.clock_ = std::move(clock);
    m.entries_ = std::move(entries);
    return m;
  }

  const VersionVector& clock() const { return clock_; }
  const std::vector<Entry>& entries() const { return entries_; }
  // Moves the entries out; the map keeps its clock and no entries.
  std::vector<Entry> TakeEntries() { return std::move(entries_); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  // The entry of `name`, or nullptr. O(log n).
  const Entry* Find(std::string_view name) const;

  // Records a write's dot in the clock. Every add calls it (Put does).
  void Witness(const Dot& dot) { clock_.Raise(dot.actor, dot.counter); }

  // Adds `atom` to `name` (created if absent) after dropping the atoms of
  // `name` for which drop(atom) is true; witnesses atom.dot. Returns true if
  // `name` was absent. `drop` sees the old atoms only.
  template <typename Drop>
  bool Put(std::string_view name, Atom atom, Drop drop);

  // Observed remove of `name`. True if it was present.
  bool Remove(std::string_view name);
  // Observed remove of every name; the clock stays.
  void Clear() {
    if (journal_.journal != nullptr) {
      for (const Entry& e : entries_) journal_.journal->touched.push_back({e.name, true});
    }
    entries_.clear();
  }

  // This becomes the join of this and `other` (see the top of this file).
  void Merge(const OrMap& other);

  // Records this map's changes in `journal` (nullptr: stops), which must
  // outlive the tracking.
  void Track(OrMapJournal* journal) { journal_.journal = journal; }

  bool operator==(const OrMap&) const = default;

 private:
  // The journal a tracked map records in. A copy or move of the map starts
  // untracked; an assignment to a tracked map marks its journal incomplete.
  struct JournalSlot {
    JournalSlot() = default;
    // noexcept: the map's implicit move stays noexcept (vectors of
    // versions move, not copy, their states when they grow).
    JournalSlot(const JournalSlot&) noexcept {}
    JournalSlot& operator=(const JournalSlot&) noexcept {
      MarkIncomplete();
      return *this;
    }
    bool operator==(const JournalSlot&) const { return true; }
    void MarkIncomplete() const noexcept {
      if (journal != nullptr) journal->complete = false;
    }
    void Record(std::string_view name, bool present_before) const {
      if (journal != nullptr) journal->touched.push_back({std::string(name), present_before});
    }
    OrMapJournal* journal = nullptr;
  };

  typename std::vector<Entry>::iterator LowerBound(std::string_view name) {
    return std::lower_bound(entries_.begin(), entries_.end(), name,
                            [](const Entry& e, std::string_view n) { return e.name < n; });
  }

  VersionVector clock_;
  std::vector<Entry> entries_;  // sorted by name
  JournalSlot journal_;
};

// The order of concurrent register atoms of one name (two HSETs of a field,
// two ZADDs of a member on two partition sides): by (timestamp_ms, node id,
// dot counter), the greatest wins — last-writer-wins, as strings under
// `conflict-resolution lww`, the same on every node (node ids, not ActorIds).
template <typename Atom>
bool RegisterOlder(const Atom& a, const Atom& b, const ActorTable& actors) {
  if (a.timestamp_ms != b.timestamp_ms) return a.timestamp_ms < b.timestamp_ms;
  if (a.dot.actor != b.dot.actor) return actors.NameLess(a.dot.actor, b.dot.actor);
  return a.dot.counter < b.dot.counter;
}

// --- implementation (templates) ---

template <typename Atom>
Result<OrMap<Atom>> OrMap<Atom>::FromParts(VersionVector clock, std::vector<Entry> entries) {
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (i > 0 && !(entries[i - 1].name < e.name)) return Status::Invalid("names out of order");
    if (e.atoms.empty()) return Status::Invalid("name without atoms");
    for (size_t j = 0; j < e.atoms.size(); ++j) {
      const Dot& d = e.atoms[j].dot;
      if (d.counter == 0 || !clock.Covers(d)) return Status::Invalid("dot not in clock");
      if (j > 0 && !(e.atoms[j - 1].dot < d)) return Status::Invalid("dots out of order");
    }
  }
  OrMap m;
  m.clock_ = std::move(clock);
  m.entries_ = std::move(entries);
  return m;
}

template <typename Atom>
const typename OrMap<Atom>::Entry* OrMap<Atom>::Find(std::string_view name) const {
  auto it = std::lower_bound(entries_.begin(), entries_.end(), name,
                             [](const Entry& e, std::string_view n) { return e.name < n; });
  return it != entries_.end() && it->name == name ? &*it : nullptr;
}

template <typename Atom>
template <typename Drop>
bool OrMap<Atom>::Put(std::string_view name, Atom atom, Drop drop) {
  Witness(atom.dot);
  auto it = LowerBound(name);
  const bool absent = it == entries_.end() || it->name != name;
  journal_.Record(name, !absent);
  if (absent) {
    Entry e;
    e.name.assign(name);
    e.atoms.push_back(std::move(atom));
    entries_.insert(it, std::move(e));
    return true;
  }
  auto& atoms = it->atoms;
  atoms.erase(std::remove_if(atoms.begin(), atoms.end(), drop), atoms.end());
  // A new write's dot is above every dot of its coordinator here, but other
  // actors' dots may sort after it: keep the order.
  auto pos = std::upper_bound(atoms.begin(), atoms.end(), atom.dot,
                              [](const Dot& d, const Atom& a) { return d < a.dot; });
  if (pos != atoms.begin() && (pos - 1)->dot == atom.dot) {
    *(pos - 1) = std::move(atom);  // the same write again (one dot, one atom)
  } else {
    atoms.insert(pos, std::move(atom));
  }
  return false;
}

template <typename Atom>
bool OrMap<Atom>::Remove(std::string_view name) {
  auto it = LowerBound(name);
  if (it == entries_.end() || it->name != name) return false;
  journal_.Record(name, true);
  entries_.erase(it);
  return true;
}

template <typename Atom>
void OrMap<Atom>::Merge(const OrMap& other) {
  journal_.MarkIncomplete();
  static const std::vector<Atom> kNone;
  std::vector<Entry> out;
  out.reserve(std::max(entries_.size(), other.entries_.size()));
  // The DotFun join of one name's atoms (both lists sorted by dot).
  auto join = [&](std::vector<Atom>& mine, const std::vector<Atom>& theirs) {
    std::vector<Atom> atoms;
    size_t i = 0, j = 0;
    while (i < mine.size() || j < theirs.size()) {
      if (j == theirs.size() || (i < mine.size() && mine[i].dot < theirs[j].dot)) {
        if (!other.clock_.Covers(mine[i].dot)) atoms.push_back(std::move(mine[i]));
        ++i;
      } else if (i == mine.size() || theirs[j].dot < mine[i].dot) {
        if (!clock_.Covers(theirs[j].dot)) atoms.push_back(theirs[j]);
        ++j;
      } else {
        atoms.push_back(std::move(mine[i]));
        ++i;
        ++j;
      }
    }
    return atoms;
  };
  size_t i = 0, j = 0;
  while (i < entries_.size() || j < other.entries_.size()) {
    Entry e;
    if (j == other.entries_.size() ||
        (i < entries_.size() && entries_[i].name < other.entries_[j].name)) {
      e.name = std::move(entries_[i].name);
      e.atoms = join(entries_[i].atoms, kNone);
      ++i;
    } else if (i == entries_.size() || other.entries_[j].name < entries_[i].name) {
      std::vector<Atom> none;
      e.name = other.entries_[j].name;
      e.atoms = join(none, other.entries_[j].atoms);
      ++j;
    } else {
      e.name = std::move(entries_[i].name);
      e.atoms = join(entries_[i].atoms, other.entries_[j].atoms);
      ++i;
      ++j;
    }
    if (!e.atoms.empty()) out.push_back(std::move(e));
  }
  entries_ = std::move(out);
  clock_.Join(other.clock_);
}

}  // namespace shoal::storage
