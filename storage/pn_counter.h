#pragma once
// PnCounter: a convergent counter (a state-based PN-counter CRDT, Shapiro et
// al., "A comprehensive study of Convergent and Commutative Replicated Data
// Types", 2011; Riak's counters). One (P, N) pair per actor: P sums the
// increments that actor accepted, N the decrements. The value is
// sum(P) - sum(N); Merge is the entry-wise max (a join), so replicas that
// accepted increments on both sides of a partition converge to a value that
// counts all of them, whatever the merge order.
//
// The starting value of a counter made from a string ("5" INCR'd) is kept
// under kCounterBaseActor (storage/actor_table.h): two replicas converting
// the same string concurrently agree on the base instead of counting it
// twice.
//
// How counters sit in versioned objects (siblings, GET) is described in
// storage/object.h. Pure logic, not thread safe.

#include <cstdint>
#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/status.h"

namespace shoal::storage {

class PnCounter {
 public:
  struct Entry {
    ActorId actor = 0;
    uint64_t p = 0;  // increments accepted by actor
    uint64_t n = 0;  // decrements accepted by actor (as a positive amount)
    bool operator==(const Entry&) const = default;
  };

  PnCounter() = default;

  // A counter whose value is `value`, held by kCounterBaseActor.
  static PnCounter FromInt(int64_t value);
  // Rebuilds a counter from entries in any order (decoding). kInvalid on a
  // repeated actor. Entries with p == n == 0 are dropped.
  static Result<PnCounter> FromEntries(std::vector<Entry> entries);

  // Adds `delta` (negative: a decrement) on behalf of `actor`. Fails with
  // Code::kOverflow, message "ERR increment or decrement would overflow"
  // (Redis's words), and leaves the counter unchanged, if the current value
  // or the new value is outside int64 or the actor's entry would pass 2^64.
  Status Add(ActorId actor, int64_t delta);

  // The value, or Code::kOverflow if it is outside int64 (possible only
  // after merging counters that each were in range).
  Result<int64_t> Value() const;
  // The exact value in decimal, even outside int64 (what GET shows).
  std::string ValueString() const;

  // Entry-wise max: the join of two counters' histories.
  void Merge(const PnCounter& other);

  const std::vector<Entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  bool operator==(const PnCounter&) const = default;

 private:
  __int128 Sum() const;

  std::vector<Entry> entries_;  // sorted by actor, no all-zero entry
};

}  // namespace shoal::storage
