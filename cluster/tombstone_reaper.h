#pragma once
// TombstoneReaper: forgets dead keys (tombstones, remains of expired
// versions) once no replica, hint or delayed write can bring an older value
// back — the shell around cluster/purge_decision.h.
//
// Every kStepMs the reaper walks, in bounded slices, the partitions whose
// first primary (owner) is this node (Store::ScanPartition: at most
// keys_per_step keys looked at per step, so no pause grows with the data),
// and collects up to `batch` keys whose settled object is purgeable: dead
// since before now - grace_ms (Object::IsPurgeable). With candidates and
// every member alive and reachable, one round runs (never two at once):
//
//   SHOAL.PURGECHECK key object [key object ...]    to every other member
//       object: the owner's settled object (node-id encoding). Reply: an
//       array of 2 integers per key, the member's CopyState and the digest
//       (PurgeDigest, as a signed 64-bit integer) of its own copy (0: none).
//   SHOAL.PURGE key digest [key digest ...]         to every member holding a
//       copy it may drop (kSame, kCovered), with that member's own digest.
//       Compare-and-delete: a member purges a key only if its settled copy
//       still has that digest and is dead. Reply: an array of integers, 1
//       purged, 0 kept.
//
// The owner purges its own copy in the same turn (Keyspace::Purge compares
// it with the object it checked). A member that kept its copy (a write
// landed meanwhile) keeps a dead or newer object: never a resurrection,
// at worst a key purged again in a later round.
//
// Frames hold at most kMaxPurgeKeys keys; malformed frames get an error
// reply, malformed items a blocking answer (check) or an error element
// (purge). Runs on the loop thread.

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/purge_decision.h"
#include "facade/reply_builder.h"
#include "facade/uv_handle.h"
#include "storage/clock.h"
#include "storage/keyspace.h"
#include "storage/status.h"

namespace shoal::cluster {

class HintStore;

struct ReaperOptions {
  int64_t grace_ms = 60000;  // tombstone-grace-ms
  size_t replicas = 3;       // N: which members are a key's primaries
  size_t keys_per_step = 1000;
  size_t batch = 128;         // keys per check round
  int64_t timeout_ms = 1000;  // a member's answer is late after this
};

struct ReaperStats {
  uint64_t rounds = 0;         // check rounds sent
  uint64_t keys_checked = 0;   // keys in those rounds
  uint64_t purged = 0;         // keys this node purged as their owner
  uint64_t purges_served = 0;  // keys purged on another owner's SHOAL.PURGE
  // Why keys stayed: a round refused as a whole because a member was down
  // (counted once per round), then per key.
  uint64_t refused_member_down = 0;
  uint64_t refused_no_answer = 0;
  uint64_t refused_replica_differs = 0;
  uint64_t refused_copy_elsewhere = 0;
  uint64_t refused_changed = 0;  // the owner's copy changed during the round
};

class TombstoneReaper {
 public:
  // Keys per frame (peer input is refused past it).
  static constexpr size_t kMaxPurgeKeys = 1024;
  // How often a step runs.
  static constexpr int64_t kStepMs = 100;

  // All references must outlive the reaper.
  TombstoneReaper(uv_loop_t* loop, ClusterNode& node, storage::Keyspace& keyspace,
                  const storage::Clock& clock);
  ~TombstoneReaper();
  TombstoneReaper(const TombstoneReaper&) = delete;
  TombstoneReaper& operator=(const TombstoneReaper&) = delete;

  // Starts the step timer.
  storage::Status Start();
  // Stops it; a round in flight is abandoned.
  void Stop();

  void set_options(const ReaperOptions& options) { options_ = options; }
  // The hint store a check looks in (nullptr: none). Must outlive this.
  void set_hints(const HintStore* hints) { hints_ = hints; }

  // One step: walks a slice, and starts a round if it found candidates.
  void Step();

  // The peer frames (argv[0] is the frame's name).
  void ServeCheck(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);
  void ServePurge(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);

  const ReaperStats& stats() const { return stats_; }
  bool round_in_flight() const { return in_flight_; }

 private:
  struct Candidate {
    std::string key;
    storage::Object object;  // the owner's settled object
    uint64_t digest = 0;
    std::vector<NodeId> primaries;
  };
  struct Round;

  static void OnTimer(uv_timer_t* timer) noexcept;
  // Fills `out` with up to options_.batch purgeable keys of the partitions
  // this node owns, looking at no more than keys_per_step keys.
  void Collect(std::vector<Candidate>* out);
  void Finish(const std::shared_ptr<Round>& round);

  uv_loop_t* loop_;
  ClusterNode& node_;
  storage::Keyspace& keyspace_;
  const storage::Clock& clock_;
  const HintStore* hints_ = nullptr;
  ReaperOptions options_;
  ReaperStats stats_;
  facade::UvHandle<uv_timer_t> timer_;
  uint32_t partition_ = 0;  // the walk: partition, then position in it
  uint64_t position_ = 0;
  bool in_flight_ = false;
  // Replies that arrive after Stop() or destruction find this false.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace shoal::cluster
