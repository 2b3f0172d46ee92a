#pragma once
// OrSet: the state of a convergent Redis set — an add-wins observed-remove
// set without tombstones (ORSWOT: Bieniusa et al., "An optimized
// conflict-free replicated set", 2012; Riak's riak_dt_orswot), over the
// causal core of storage/or_map.h: a clock plus, per member, the dots of the
// writes that added it (one dot after a local add, more only after merging
// concurrent adds). Metadata is O(members + actors), never O(operations).
//
// Commands on one replica (the coordinator; `dot` is the write's dot, see
// Object::NextPutDot and Keyspace::ModifySet):
//   SADD m        Add(m, dot): m's dots become {dot} (the old ones are
//                 covered: this write saw them). Even an existing member gets
//                 the new dot, so a concurrent SREM elsewhere (which cannot
//                 have seen it) does not remove it: add wins.
//   SREM m        Remove(m): observed remove.
//   DEL, SPOP all Clear(): every member goes, the clock stays. An empty set
//                 reads as absent (Redis has no empty sets), yet it is stored
//                 (in a cluster) so that merging it with an older copy
//                 removes what it removed, and keeps a concurrent SADD.
// Merge (Join): the OrMap join. All replicas that merged the same writes in
// any order hold equal states.
//
// Members are binary strings, kept sorted bytewise. Pure logic, not thread
// safe.

#include <cstddef>
#include <string_view>

#include "storage/or_map.h"

namespace shoal::storage {

// What one write says about one member: "present".
struct SetAtom {
  Dot dot;
  bool operator==(const SetAtom&) const = default;
};

class OrSet {
 public:
  using Map = OrMap<SetAtom>;

  OrSet() = default;
  explicit OrSet(Map map) : map_(std::move(map)) {}

  // SADD: true if `member` was absent.
  bool Add(std::string_view member, const Dot& dot) {
    return map_.Put(member, SetAtom{dot}, [](const SetAtom&) { return true; });
  }
  // SREM: true if `member` was present.
  bool Remove(std::string_view member) { return map_.Remove(member); }
  // Removes every member (DEL); the clock stays.
  void Clear() { map_.Clear(); }
  // Records the changes made from now on in `journal` (OrMap::Track).
  void Track(OrMapJournal* journal) { map_.Track(journal); }

  bool Contains(std::string_view member) const { return map_.Find(member) != nullptr; }
  size_t Size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  // Members in bytewise order: for (const auto& e : set.map().entries()) e.name.
  const Map& map() const { return map_; }
  // Moves the map out (this state is then empty).
  Map TakeMap() { return std::move(map_); }

  // Replica synchronisation (and the join of a key's concurrent set versions).
  void Join(const OrSet& other) { map_.Merge(other.map_); }

  bool operator==(const OrSet&) const = default;

 private:
  Map map_;
};

}  // namespace shoal::storage
