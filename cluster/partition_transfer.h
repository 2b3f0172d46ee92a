#pragma once
// PartitionTransfer: moves key partitions between nodes when the ring
// changes (a node joins, leaves or is forgotten), following the duties that
// cluster/placement.h derives from the membership state:
//
//   receive  A new replica pulls each partition it must receive from its
//            source, in bounded batches (SHOAL.XFER: at most batch_keys
//            keys / batch_bytes per frame, one frame in flight per
//            partition, `concurrency` partitions at once), merging every
//            object into its keyspace. Writes reach it meanwhile (it is a
//            pending target), so once the walk ends it holds the partition:
//            it sets its ready bit and gossips it. Reads move to it only
//            then. The source refuses (an error reply) unless it holds the
//            partition itself.
//   claim    In a cluster where no member holds a partition yet (a new
//            cluster), its replicas mark it ready at once.
//   drop     A node that holds a partition it no longer replicates, once
//            every new replica holds it, clears its ready bit, waits
//            drop_delay_ms (so that nodes still routing by the older state
//            stop reading from it) and then removes the partition's keys
//            from its keyspace without tombstones (Keyspace::Forget), in
//            bounded slices.
//   stray    Keys of a partition the node neither replicates nor holds
//            (a fallback's copies, what a solo node held before it joined)
//            are merged into every primary of the partition (SHOAL.MPUT)
//            once all are reachable, and then removed here unless they
//            changed meanwhile, in bounded slices. While a primary is
//            unreachable this node may be standing in for it, and a
//            fallback cut off from every primary coordinates from its copy.
//   leave    A leaving node with no duty left removes itself from the
//            membership, spreads that, and calls on_departed (the server
//            then shuts down).
//
// Everything runs from a timer (interval_ms), never inside a gossip merge,
// and does a bounded amount of work per tick. Runs on the loop thread.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/log_sink.h"
#include "facade/reply_builder.h"
#include "facade/uv_handle.h"
#include "storage/clock.h"
#include "storage/keyspace.h"
#include "storage/status.h"

namespace shoal::cluster {

struct TransferOptions {
  size_t replicas = 3;              // N
  size_t concurrency = 4;           // partitions received at once
  size_t batch_keys = 256;          // keys per SHOAL.XFER frame
  uint64_t batch_bytes = 1u << 20;  // bytes per SHOAL.XFER frame
  int64_t request_timeout_ms = 10000;
  int64_t drop_delay_ms = 5000;
  // A partition is fetched only once the duty to receive it is this old:
  // by then every coordinator knows this node as a pending replica and
  // sends it the partition's writes, so the walk plus those writes are the
  // whole partition (Cassandra waits RING_DELAY for the same reason).
  int64_t settle_delay_ms = 1000;
  int64_t interval_ms = 100;
  size_t slice_keys = 1024;  // keys dropped (or pushed) per tick
  // The node's data survives a restart (appendonly): otherwise it starts
  // holding nothing and receives its partitions again.
  bool durable = true;
};

struct TransferStats {
  uint64_t partitions_received = 0;
  uint64_t keys_received = 0;
  uint64_t bytes_received = 0;
  uint64_t keys_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t batches_sent = 0;
  uint64_t failures = 0;  // frames that failed or were refused (retried)
  uint64_t partitions_dropped = 0;
  uint64_t keys_dropped = 0;
  uint64_t stray_keys_moved = 0;
};

class PartitionTransfer {
 public:
  // The references must outlive this object.
  PartitionTransfer(uv_loop_t* loop, ClusterNode& node, storage::Keyspace& keyspace,
                    const storage::Clock& clock, LogSink log);
  ~PartitionTransfer();
  PartitionTransfer(const PartitionTransfer&) = delete;
  PartitionTransfer& operator=(const PartitionTransfer&) = delete;

  void set_options(const TransferOptions& options) { options_ = options; }
  const TransferOptions& options() const { return options_; }
  void set_on_departed(std::function<void()> fn) { on_departed_ = std::move(fn); }

  // Starts the timer (after ClusterNode::Start).
  storage::Status Start();
  void Stop();

  // SHOAL.XFER <partition> <bound> <max keys> <max bytes>: one step of a
  // walk over `partition` (storage::Store::ScanPartition). Reply: an array
  // [next bound (integer, 0 = done), key, object, key, object, ...] with
  // objects in the node-id encoding.
  void ServeScan(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);

  // Partitions being received now / still to receive.
  size_t receiving() const { return sessions_.size(); }
  size_t pending() const { return want_.size(); }
  // Partitions waiting to be dropped here.
  size_t dropping() const { return drops_.size(); }
  const TransferStats& stats() const { return stats_; }

 private:
  struct Session {
    NodeId source;
    uint64_t bound = UINT64_MAX;
    bool in_flight = false;
    uint64_t generation = 0;  // which request is current
  };
  struct Drop {
    int64_t due_ms = 0;  // loop time the keys may go
    bool push = false;   // stray: merge into the replicas first
    bool in_flight = false;
  };

  static void OnTimer(uv_timer_t* timer) noexcept;
  void Tick();
  // Brings the sessions and drops in line with the node's duties.
  void Reconcile();
  void Request(uint32_t partition);
  void OnBatch(uint32_t partition, uint64_t generation, PeerOutcome outcome,
               const PeerReply* reply);
  void Finish(uint32_t partition);
  // Starts sessions for wanted partitions until `concurrency` run.
  void StartSessions();
  // Where to receive partition k from: `planned` (the duties' choice) if
  // reachable, else another member that holds k and is reachable (a node
  // restarting while the planned source is down must not wait for it),
  // else `planned`.
  NodeId SourceFor(uint32_t k, const NodeId& planned) const;
  // A session's source still serves: reachable and the planned one or a
  // holder of the partition, or unreachable with no other holder reachable.
  bool StillServes(uint32_t k, const NodeId& source, const NodeId& planned) const;
  // Removes (or pushes, then removes) up to slice_keys keys of a partition
  // due to go. True when the partition is empty here.
  bool DropSlice(uint32_t partition, Drop& drop);
  // Sets, clears, and marks releasing (ReadyRow) ready bits of this node.
  void MarkReady(const std::vector<uint32_t>& set, const std::vector<uint32_t>& clear,
                 const std::vector<uint32_t>& release);
  bool Active() const { return node_.member_count() > 1; }
  void Log(LogSeverity sev, const std::string& msg) const {
    if (log_) log_(sev, msg);
  }

  uv_loop_t* loop_;
  ClusterNode& node_;
  storage::Keyspace& keyspace_;
  const storage::Clock& clock_;
  LogSink log_;
  TransferOptions options_;
  TransferStats stats_;
  std::function<void()> on_departed_;
  facade::UvHandle<uv_timer_t> timer_;
  std::map<uint32_t, Session> sessions_;
  std::map<uint32_t, NodeId> want_;      // partitions to receive, and from whom
  std::map<uint32_t, int64_t> seen_ms_;  // when each want_ entry first appeared
  std::vector<uint32_t> received_;       // to mark ready at the next tick
  std::map<uint32_t, Drop> drops_;
  uint64_t next_generation_ = 1;
  uint64_t reconciled_gen_ = 0;   // node state generation last reconciled
  int64_t next_full_ms_ = 0;      // the next reconcile regardless of changes
  int64_t next_wait_log_ms_ = 0;  // the next verbose line about waiting partitions
  bool departing_ = false;
  bool stopped_ = false;
};

}  // namespace shoal::cluster
