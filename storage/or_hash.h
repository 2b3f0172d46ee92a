#pragma once
// OrHash: the state of a convergent Redis hash — an observed-remove map of
// fields (storage/or_map.h) whose values are registers or counters, as Redis
// Enterprise's Active-Active hashes ("remove can only remove fields it has
// already seen; in all other cases add/update wins"; a field is a string
// register or, once HINCRBY/HINCRBYFLOAT touched it, a counter).
//
// A field's atoms (each from one write, tagged with its dot):
//   kValue  HSET's value with the write's timestamp: a register. Concurrent
//           HSETs leave several; the field shows the last by (timestamp,
//           node id, dot) — RegisterOlder in or_map.h;
//   kInt    HINCRBY's running total of ONE writer (the dot's actor): the sum
//           of every increment that node accepted on the field since the
//           field was last set or removed (Riak's riak_dt_emcntr: per-actor
//           totals tagged with a dot, so a remove followed by a re-add never
//           brings old totals back);
//   kFloat  the same for HINCRBYFLOAT, the total kept as text
//           (FormatLongDoubleHuman, so it is portable and exact), plus the
//           field's value right after the write (`after`) and the register
//           it was based on (`base`).
//
// The value of a field (Value()): with no counter atom, the winning
// register. With counter atoms, the winning register (0 without one) PLUS
// every counter atom:
//   - integers (all atoms kInt, register a Redis integer): the exact sum;
//   - otherwise, long doubles: if the field holds exactly one counter atom,
//     kFloat, written on top of the winning register (its base), its `after`
//     — exactly Redis's step-by-step result on a single node; else the sum
//     of the register and the totals taken in ascending order (a canonical
//     order: every node gets the same bits), formatted as Redis does;
//   - a winning register that is not a number hides the counters (the field
//     shows the register; HINCRBY on it is refused as on Redis).
//
// Concurrency rules this gives (documented for users in the README):
//   - HINCRBY on both partition sides: both increments count (each side's
//     total is its own atom).
//   - HSET on one side, HINCRBY on the other: the HSET's value plus the
//     concurrent increments (no acknowledged increment is lost); a later
//     HSET, which sees them, replaces everything.
//   - HDEL on one side, HSET/HINCRBY on the other: the field survives with
//     the concurrent write only (add wins; what the HDEL saw is gone).
//   - HINCRBYFLOAT on a field HSET made: exact as Redis on one node (the
//     `after` rule); after concurrent writes the sum is in long double.
//
// Commands on one replica (`dot`: the write's dot, see Keyspace::ModifyHash):
//   HSET f v       Set(f, v, dot, now)
//   HDEL f         Remove(f)
//   HINCRBY f d    IncrBy(f, d, dot, actors)
//   HINCRBYFLOAT   IncrByFloat(f, d, dot, actors)
//   HGET f         Get(f, actors)     HLEN  Size()     DEL  Clear()
//   HGETALL ...    for (e : map().entries()) e.name, Value(e, actors)
// Pure logic, not thread safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/actor_table.h"
#include "storage/or_map.h"
#include "storage/status.h"

namespace shoal::storage {

enum class HashAtomKind : uint8_t {
  kValue = 0,  // HSET
  kInt = 1,    // HINCRBY
  kFloat = 2,  // HINCRBYFLOAT
};

struct HashAtom {
  Dot dot;
  HashAtomKind kind = HashAtomKind::kValue;
  int64_t timestamp_ms = 0;  // kValue: the write's wall time (register order)
  std::string text;          // kValue: the value; kFloat: the writer's total
  int64_t integer = 0;       // kInt: the writer's total
  Dot base;                  // kFloat: the winning register the write saw (0: none)
  std::string after;         // kFloat: the field's value right after the write
  bool operator==(const HashAtom&) const = default;
};

class OrHash {
 public:
  using Map = OrMap<HashAtom>;

  OrHash() = default;
  explicit OrHash(Map map) : map_(std::move(map)) {}

  // HSET field value: true if the field was absent.
  bool Set(std::string_view field, std::string value, const Dot& dot, int64_t timestamp_ms);
  // HDEL: true if the field was present.
  bool Remove(std::string_view field) { return map_.Remove(field); }
  void Clear() { map_.Clear(); }
  // Records the changes made from now on in `journal` (OrMap::Track).
  void Track(OrMapJournal* journal) { map_.Track(journal); }

  // HINCRBY: the new value. Errors (nothing changed), message = Redis's reply:
  //   kNotInteger "ERR hash value is not an integer" (the value is not a
  //               Redis integer);
  //   kOverflow   "ERR increment or decrement would overflow" (the value, or
  //               this node's own running total, would leave int64).
  Result<int64_t> IncrBy(std::string_view field, int64_t delta, const Dot& dot,
                         const ActorTable& actors);
  // HINCRBYFLOAT: the new value as Redis prints it. Errors (nothing changed):
  //   kNotFloat "ERR hash value is not a float";
  //   kInvalid  "ERR increment would produce NaN or Infinity".
  Result<std::string> IncrByFloat(std::string_view field, long double delta, const Dot& dot,
                                  const ActorTable& actors);

  // HGET: the field's value, nullopt if absent.
  std::optional<std::string> Get(std::string_view field, const ActorTable& actors) const;
  bool Contains(std::string_view field) const { return map_.Find(field) != nullptr; }
  size_t Size() const { return map_.size(); }
  bool empty() const { return map_.empty(); }
  const Map& map() const { return map_; }
  // Moves the map out (this state is then empty).
  Map TakeMap() { return std::move(map_); }
  // The value of one entry of map() (the rules at the top of this file).
  static std::string Value(const Map::Entry& entry, const ActorTable& actors);

  void Join(const OrHash& other) { map_.Merge(other.map_); }

  bool operator==(const OrHash&) const = default;

 private:
  // The field after a counter write by dot.actor: drops that actor's own
  // totals and the registers that lost, adds `atom`.
  void PutCounter(std::string_view field, HashAtom atom, const ActorTable& actors);

  Map map_;
};

}  // namespace shoal::storage
