#pragma once
// Coordinator: the distributed half of a client request on one key, as the
// replica coordinating it (Dynamo section 4.5; riak_kv's get and put FSMs).
// It sends, collects and times out; cluster/quorum.h decides.
//
//   Read()       fetches the key from the other replicas (SHOAL.MGET) and
//                answers once R replicas, this one included, replied. On
//                success the local store holds the merge of every reply, so
//                the command then runs locally on current data. Replicas
//                whose reply lacks versions of the merge, including replies
//                that arrive after the answer, get the merged object
//                (read repair, unless read-repair is off).
//   Replicate()  sends the key's new object (after the local write) to the
//                other replicas (SHOAL.MPUT, an object merge) and answers once
//                W replicas, this one included, applied it.
//   Forward()    hands a whole client command to a replica of its key
//                (SHOAL.FWD) and returns that node's reply bytes.
//
// The commands themselves are the server's: this file knows keys, objects
// and nodes only. Every request fails (never hangs) by request-timeout-ms:
// each peer request carries that deadline.
//
// Runs on the loop thread. Callbacks may run synchronously (e.g. when no
// peer is connected) or later; a Coordinator must outlive its requests'
// callbacks (the server keeps it until the loop ends).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/peer_batch.h"
#include "cluster/ring.h"
#include "storage/clock.h"
#include "storage/keyspace.h"

namespace shoal::cluster {

struct CoordinatorOptions {
  size_t read_quorum = 2;   // R
  size_t write_quorum = 2;  // W
  int64_t request_timeout_ms = 1000;
  bool read_repair = true;
};

struct CoordinatorStats {
  uint64_t reads = 0;            // Read() calls
  uint64_t writes = 0;           // Replicate() calls
  uint64_t forwards = 0;         // Forward() calls
  uint64_t quorum_failures = 0;  // reads and writes that missed their quorum
  uint64_t read_repairs = 0;     // repair puts sent to replicas
  uint64_t late_replies = 0;     // replies after the request was decided
  uint64_t replica_puts = 0;     // items of SHOAL.MPUT served
  uint64_t replica_gets = 0;     // items of SHOAL.MGET served
};

// The outcome of a quorum request. ok: the quorum was met. Otherwise `got`
// of `required` replicas answered in time (NoQuorumMessage(got, required)).
struct QuorumOutcome {
  bool ok = false;
  size_t got = 0;
  size_t required = 0;
};

// A digest of an object as every node encodes it (node ids, not local actor
// ids): equal digests mean equal objects (up to XXH3-64 collisions).
std::string ObjectDigest(const storage::Object& object, const storage::ActorTable& actors);

class Coordinator {
 public:
  Coordinator(uv_loop_t* loop, ClusterNode& node, storage::Keyspace& keyspace,
              const storage::Clock& clock);

  void set_options(const CoordinatorOptions& options) { options_ = options; }
  const CoordinatorOptions& options() const { return options_; }

  using Done = std::function<void(const QuorumOutcome&)>;

  // `replicas` are the key's primaries; this node should be one of them (if
  // it is not, it takes part anyway as an extra replica).
  void Read(const std::string& key, ClusterNode::ReplicaSet replicas, Done done);

  // `object` is the key's object in the node-id encoding, as just applied
  // locally.
  void Replicate(const std::string& key, std::string object, ClusterNode::ReplicaSet replicas,
                 Done done);

  // ok: `bytes` is the remote node's RESP reply. Otherwise `bytes` is the
  // error text (NOQUORUM... when the node did not answer in time).
  using ForwardDone = std::function<void(bool ok, std::string bytes)>;
  void Forward(const NodeId& to, std::vector<std::string> argv, size_t required, ForwardDone done);

  // --- the replica side (SHOAL.MGET / SHOAL.MPUT from a coordinator) ---

  // This node's object of `key` in the node-id encoding; empty if absent.
  storage::Result<std::string> LocalObject(const std::string& key);
  // The same, for SHOAL.MGET: `same` set (and no bytes) when the object's
  // digest equals `digest` (the coordinator's copy is the same).
  storage::Result<std::string> LocalObjectUnless(const std::string& key, std::string_view digest,
                                                 bool* same);
  // Merges an object from a coordinator into the local store.
  storage::Status ApplyRemote(const std::string& key, std::string_view object);

  CoordinatorStats& stats() { return stats_; }

  // Sends what is batched now (before the node's links close).
  void Flush() { batcher_.Flush(); }

 private:
  struct ReadState;
  void FinishRead(ReadState& st);
  void OnLateRead(ReadState& st, size_t replica, storage::Object object);
  void Repair(ReadState& st, const std::vector<size_t>& replicas);
  int64_t Deadline() const;

  uv_loop_t* loop_;
  ClusterNode& node_;
  storage::Keyspace& keyspace_;
  const storage::Clock& clock_;
  CoordinatorOptions options_;
  CoordinatorStats stats_;
  PeerBatcher batcher_;  // SHOAL.MGET / SHOAL.MPUT frames, one per peer and iteration
};

}  // namespace shoal::cluster
