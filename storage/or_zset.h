#pragma once
// OrZset: the state of a convergent Redis sorted set — the observed-remove
// set of members of storage/or_map.h (add wins, as OrSet), each member's
// score a register (ZADD) or a counter (ZINCRBY), exactly as a field of
// storage/or_hash.h with doubles instead of strings. Redis Enterprise's
// Active-Active sorted sets resolve the same way: the OR-set first, then the
// score as a counter.
//
// A member's atoms (each from one write, tagged with its dot):
//   kScore  ZADD's score with the write's timestamp: a register; concurrent
//           ZADDs leave several, the last by (timestamp, node id, dot) wins
//           (RegisterOlder in or_map.h);
//   kIncr   ZINCRBY's running total of ONE writer (the dot's actor), plus the
//           member's score right after the write (`after`) and the register
//           it was based on (`base`).
// The score (Score()): with no kIncr atom, the winning register. With kIncr
// atoms: if there is exactly one, written on top of the winning register
// (or of none, when there is none), its `after` — Redis's own step-by-step
// double arithmetic on a single node; otherwise the winning register (0
// without one) plus every total, added in ascending order (a canonical
// order: every node gets the same bits). A sum that is NaN (+inf and -inf
// from two sides) reads as 0.
//
// Concurrency: ZINCRBY on both sides counts both; ZADD on one side and
// ZINCRBY on the other gives the ZADD's score plus the concurrent
// increments; ZREM concurrent with ZADD/ZINCRBY keeps the member with the
// concurrent write only (add wins).
//
// Commands on one replica (`dot`: the write's dot, see Keyspace::ModifyZset):
//   ZADD s m       Add(m, s, dot, now)  (NX/XX/GT/LT/CH: the command layer
//                                         reads Score() first)
//   ZINCRBY d m    IncrBy(m, d, dot, actors)
//   ZREM m         Remove(m)            DEL  Clear()
//   ZSCORE m       Score(m, actors)     ZCARD  Size()
//   ZRANGE ...     Ranked(actors): every member by (score, member), the
//                  order Redis's skiplist keeps.
// Scores are never NaN (decoders refuse them). Pure logic, not thread safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "storage/actor_table.h"
#include "storage/or_map.h"
#include "storage/status.h"

namespace shoal::storage {

enum class ZsetAtomKind : uint8_t {
  kScore = 0,  // ZADD
  kIncr = 1,   // ZINCRBY
};

struct ZsetAtom {
  Dot dot;
  ZsetAtomKind kind = ZsetAtomKind::kScore;
  int64_t timestamp_ms = 0;  // kScore: the write's wall time (register order)
  double score = 0;          // kScore: the score; kIncr: the writer's total
  Dot base;                  // kIncr: the winning register the write saw (0: none)
  double after = 0;          // kIncr: the member's score right after the write
  bool operator==(const ZsetAtom&) const = default;
};

// One member of Ranked(): a view into the state (valid until it changes).
struct ScoredMember {
  std::string_view member;
  double score = 0;
};

class OrZset {
 public:
  using Map = OrMap<ZsetAtom>;

  OrZset() = default;
  explicit OrZset(Map map) : map_(std::move(map)) {}

  // ZADD score member: true if the member was absent. `score` must not be
  // NaN (the command layer refuses it, as Redis).
  bool Add(std::string_view member, double score, const Dot& dot, int64_t timestamp_ms);
  // ZINCRBY: the new score. kInvalid "ERR resulting score is not a number
  // (NaN)" (nothing changed) if it would be NaN.
  Result<double> IncrBy(std::string_view member, double delta, const Dot& dot,
                        const ActorTable& actors);
  // ZREM: true if the member was present.
  bool Remove(std::string_view member) { return map_.Remove(member); }
  void Clear() { map_.Clear(); }
  // Records the changes made from now on in `journal` (OrMap::Track).
  void Track(OrMapJournal* journal) { map_.Track(journal); }

  // ZSCORE: nullopt if absent.
  std::optional<double> Score(std::string_view member, const ActorTable& actors) const;
  bool Contains(std::string_view member) const { return map_.Find(member) != nullptr; }
  size_t Size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  const Map& map() const { return map_; }
  // Moves the map out (this state is then empty).
  Map TakeMap() { return std::move(map_); }
  // The score of one entry of map().
  static double ScoreOf(const Map::Entry& entry, const ActorTable& actors);
  // Every member ordered by (score, member bytes): O(n log n).
  std::vector<ScoredMember> Ranked(const ActorTable& actors) const;

  void Join(const OrZset& other) { map_.Merge(other.map_); }

  bool operator==(const OrZset&) const = default;

 private:
  Map map_;
};

}  // namespace shoal::storage
