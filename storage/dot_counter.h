#pragma once
// DotCounter: a node-wide, never-repeating floor for the counters of the dots
// this node coordinates.
//
// Why: a key whose last version is a tombstone is eventually forgotten
// (purged). A write to it after that starts a fresh object, and without a
// floor its first dot would be (self, 1) again — a dot that a client context
// handed out before the delete may already cover, so a stale SETV would
// silently supersede a newer write. Drawing every dot counter above a value
// that only grows (across restarts too) makes each dot unique for the node's
// life, so old contexts never cover new versions. (Riak solves the same
// problem with per-vnode epochs.)
//
// Durability without an fsync per write: the counter reserves a lease of
// kLease values by writing its upper end to `dir/dot-lease` (write, fsync,
// rename, fsync dir) before handing out any value from it; after a restart
// it continues from the stored end. Values in a lease never handed out are
// simply skipped.

#include <cstdint>
#include <string>

#include "storage/file.h"
#include "storage/status.h"

namespace shoal::storage {

class DotCounter {
 public:
  static constexpr uint64_t kLease = 1u << 20;
  static constexpr const char* kFileName = "dot-lease";

  // An in-memory counter starting at 0 (tests).
  DotCounter() = default;

  // Continues from dir/dot-lease (0 if missing) and persists a first lease.
  // `env` and `dir` must stay valid while the counter lives.
  Status Open(Env* env, const std::string& dir);

  // The next floor, strictly greater than every value returned before, in
  // this process and any earlier one using the same dir. Fails only when a
  // new lease cannot be persisted (fatal for the server: nothing may be
  // written with a dot that could repeat).
  Result<uint64_t> Next();

  // Makes later values exceed `seen` (a counter found in replayed data).
  void Observe(uint64_t seen) {
    if (seen > next_) next_ = seen;
  }

  uint64_t current() const { return next_; }

 private:
  Status Persist(uint64_t lease_end);

  Env* env_ = nullptr;
  std::string dir_;
  uint64_t next_ = 0;       // last value handed out
  uint64_t lease_end_ = 0;  // values <= lease_end_ are covered by the file
};

}  // namespace shoal::storage
