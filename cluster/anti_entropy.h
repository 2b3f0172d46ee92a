#pragma once
// AntiEntropy: active anti-entropy (Dynamo section 4.7, Riak's AAE with
// Riak 3's tictac trees). Keeps one TicTacTree per partition from the change
// feed (cluster/partition_trees.h) and, every `anti-entropy-interval-ms`,
// compares one partition this node replicates with one other reachable
// replica of it, then repairs the keys that differ in both directions.
//
// One exchange, over peer frames, each reply bounded:
//   SHOAL.AEBRANCH p               -> the peer's kBranches branch hashes
//                                     (bulk, 8 bytes each, little-endian)
//   SHOAL.AELEAF p b [b ...]       -> the segment hashes of those branches
//                                     (bulk, kBranchWidth * 8 bytes each);
//                                     asked again confirm_delay_ms later for
//                                     the branches of differing segments,
//                                     only segments differing both times go on
//   SHOAL.AEKEYS p s [s ...]       -> [truncated (0|1), key, digest, ...]: the
//                                     live keys of those segments (at most
//                                     kMaxSegmentsPerFrame segments asked,
//                                     at most kMaxListedKeys keys answered)
//   SHOAL.MGET key digest ...      -> pull: the peer's objects of differing
//                                     keys ("=" when equal to ours), merged
//                                     here with Keyspace::Merge
//   SHOAL.MPUT key object ...      -> push: our merged object where the
//                                     peer's differs (the peer merges too)
// Siblings and tombstones travel as they are: both sides only ever merge.
// A peer answers AE frames only for a partition it replicates (per its own
// replica list) and has built, so a ring disagreement never pushes a
// partition to a node that does not hold it. Frame fields are checked as
// client input and get an error reply, never a crash.
//
// Pacing: Tick() is called by a timer (Cluster: every min(interval, 100) ms).
// At most one exchange is in flight; a new one starts when the previous
// finished and `interval_ms` passed since it started. Each callback does a
// bounded amount of work: one listing of at most kMaxSegmentsPerFrame
// segments (a walk of one partition, O(keys / Q)) or one repair batch of
// `repair_batch` keys. While trees are being built (on enabling), each tick
// reads about `build_budget` keys; afterwards every `rebuild_every_ticks`
// ticks one partition is rebuilt from the store to catch bit rot (counted
// in rebuild_mismatches).
//
// Off (nothing kept, writes pay nothing) while the cluster has one member or
// the interval is 0. Runs on the loop thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/partition_trees.h"
#include "cluster/peer/client.h"
#include "cluster/ring.h"
#include "facade/reply_builder.h"
#include "storage/clock.h"
#include "storage/keyspace.h"

namespace shoal::cluster {

struct AntiEntropyOptions {
  int64_t interval_ms = 60000;  // between exchange starts; 0 = off
  size_t build_budget = 5000;   // keys read per tick while building trees
  int rebuild_every_ticks = 50;
  size_t repair_batch = 256;  // keys per MGET / MPUT frame
  // Differing segments are confirmed by asking for their hashes again this
  // much later; only segments that still differ are listed (Riak's tictac
  // AAE confirms the same way), so that writes still in flight when the
  // trees were compared cost no listing and no repair.
  int64_t confirm_delay_ms = 100;
};

struct AntiEntropyStats {
  uint64_t exchanges = 0;            // exchanges completed
  uint64_t exchange_failures = 0;    // ended by an error, timeout or unreachable peer
  uint64_t partitions_compared = 0;  // branch hashes compared (as initiator)
  uint64_t segments_differing = 0;   // segments found to differ
  uint64_t keys_differing = 0;       // keys listed as differing
  uint64_t keys_repaired = 0;        // local keys changed by a pull + keys pushed
  uint64_t rebuilds = 0;             // partitions rebuilt from the store
  uint64_t rebuild_mismatches = 0;   // keys a rebuild found off
  uint64_t frames_served = 0;        // AE frames answered as the peer
};

class AntiEntropy {
 public:
  static constexpr size_t kMaxSegmentsPerFrame = 64;
  static constexpr size_t kMaxListedKeys = 10000;

  // The replicas of a partition (this node included when it is one).
  using Replicas = std::function<std::vector<NodeId>(uint32_t partition)>;
  // Sends a peer request; the callback runs once (late replies: again with
  // late=true, ignored).
  using Send = std::function<void(const NodeId& peer, std::vector<std::string> argv, PeerCallback)>;
  using Reachable = std::function<bool(const NodeId& peer)>;

  struct Env {
    NodeId self;
    Replicas replicas;
    Reachable reachable;
    Send send;
  };

  // Subscribes to the keyspace's changes; `keyspace` and `clock` must
  // outlive this.
  AntiEntropy(storage::Keyspace& keyspace, const storage::Clock& clock, Env env);
  ~AntiEntropy();
  AntiEntropy(const AntiEntropy&) = delete;
  AntiEntropy& operator=(const AntiEntropy&) = delete;

  // Turns the engine on (cluster active, interval > 0) or off, with the
  // ring's partition count and partition function.
  void Configure(bool active, uint32_t partitions,
                 std::function<uint32_t(std::string_view)> partition_of,
                 const AntiEntropyOptions& options);
  bool enabled() const { return trees_.enabled(); }

  // Builds, rebuilds, and starts an exchange when one is due. `now_ms` is
  // the loop's monotonic time.
  void Tick(int64_t now_ms);
  // Ends the exchange in flight (its replies are ignored) and starts none.
  void Stop();

  // The store evicted `key`.
  void OnEvicted(std::string_view key) { trees_.OnEvicted(key); }

  // The peer side of the AE frames (argv[0] is the frame's name).
  void ServeBranches(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);
  void ServeLeaves(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);
  void ServeKeys(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);

  const AntiEntropyStats& stats() const { return stats_; }
  const PartitionTrees& trees() const { return trees_; }
  PartitionTrees& trees() { return trees_; }
  // Wall-clock ms of the last comparison of each partition (as initiator or
  // as the peer), -1 if never; empty when off.
  const std::vector<int64_t>& last_compared_ms() const { return last_compared_ms_; }

 private:
  struct Exchange {
    uint64_t id = 0;
    uint32_t partition = 0;
    NodeId peer;
    std::vector<uint32_t> segments;  // differing, to confirm then list
    bool confirming = false;         // waiting for confirm_at
    int64_t confirm_at = 0;          // loop ms
    size_t next_segment = 0;
    size_t segments_per_frame = kMaxSegmentsPerFrame;
    std::vector<std::string> keys;  // differing keys of the current listing
    size_t next_key = 0;
  };

  void StartExchange();
  // Wraps a reply handler so that it runs only for the exchange in flight,
  // and fails the exchange on anything but a reply.
  PeerCallback Step(std::function<void(const PeerReply&)> on_reply);
  void SendStep(std::vector<std::string> argv, std::function<void(const PeerReply&)> on_reply);
  void OnBranches(const PeerReply& r);
  void OnLeaves(const std::vector<uint32_t>& branches, const PeerReply& r);
  void Confirm();
  void OnConfirm(const std::vector<uint32_t>& branches, const PeerReply& r);
  void ListNext();
  void OnKeys(const std::vector<uint32_t>& segments, const PeerReply& r);
  void RepairNext();
  void OnPulled(const std::vector<std::string>& keys, const PeerReply& r);
  void Fail();
  void Finish();
  // Checks a frame's partition argument: "" if fine, else the error reply.
  std::string CheckPartition(std::string_view arg, uint32_t* partition) const;
  bool Replicates(uint32_t partition, const NodeId& node) const;

  storage::Keyspace& keyspace_;
  const storage::Clock& clock_;
  Env env_;
  AntiEntropyOptions options_;
  PartitionTrees trees_;
  AntiEntropyStats stats_;
  std::vector<int64_t> last_compared_ms_;
  std::optional<Exchange> exchange_;
  uint64_t next_exchange_id_ = 1;
  int64_t last_start_ms_ = 0;
  int64_t last_tick_ms_ = 0;
  bool started_once_ = false;
  uint32_t partition_cursor_ = 0;
  uint64_t peer_rotation_ = 0;
  uint32_t rebuild_cursor_ = 0;
  uint64_t ticks_ = 0;
  bool stopped_ = false;
};

}  // namespace shoal::cluster
