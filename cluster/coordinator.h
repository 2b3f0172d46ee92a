#pragma once
// Coordinator: the distributed half of a client request on one key, as the
// replica coordinating it (Dynamo section 4.5; riak_kv's get and put FSMs).
// It sends, collects and times out; cluster/quorum.h decides. The replica
// side of the same exchanges is cluster/local_replica.h.
//
//   Read()       fetches the key from the other replicas (SHOAL.MGET) and
//                answers once R replicas, this one included, replied, with
//                the merge of their objects: the value the command then runs
//                on (Keyspace::Pin). If this node's copy lacked part of the
//                merge, the merge is saved here first. Replicas whose reply
//                lacks versions of the merge, including replies that arrive
//                after the answer, get the merged object (read repair,
//                unless read-repair is off).
//   Replicate()  sends the key's new object (after the local write) to the
//                other replicas (SHOAL.MPUT, an object merge) and answers once
//                W replicas, this one included, applied it. A container write
//                that comes with a delta (storage/container_delta.h) sends
//                primaries the delta instead (SHOAL.MDELTA): a replica whose
//                copy is not the delta's base refuses it (an error reply)
//                and is sent the whole object (SHOAL.MPUT), its ack counted
//                only once that applied. Fallbacks always get the whole
//                object (a hint is an object to merge).
//   Forward()    hands a whole client command to a replica of its key
//                (SHOAL.FWD) and returns that node's reply bytes.
//
// A missed quorum is Code::kUnavailable with NoQuorumMessage's text. Every
// request fails (never hangs) by request-timeout-ms: each peer request
// carries that deadline.
//
// Runs on the loop thread. Callbacks may run synchronously (e.g. when no
// peer is connected) or later; a Coordinator must outlive its requests'
// callbacks (the server keeps it until the loop ends).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/local_replica.h"
#include "cluster/peer/transport.h"
#include "storage/clock.h"
#include "storage/keyspace.h"
#include "storage/status.h"

namespace shoal::cluster {

// SHOAL.FWD's optional protocol argument: SHOAL.FWD PROTO 3 <command...>.
inline constexpr std::string_view kForwardProtoArg = "PROTO";

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
  // Replies that came after their request's deadline (request-timeout-ms):
  // the replica or the link is slow. Reads and writes.
  uint64_t late_replies = 0;
  // Read replies that came after the read was decided (R replies reached):
  // with N > R the normal fate of the last replicas' replies, used for read
  // repair; late ones counted in late_replies too.
  uint64_t replies_after_quorum = 0;
  // Container deltas sent to replicas (SHOAL.MDELTA), and those refused
  // (the replica's copy was not the base, or it failed otherwise), for
  // which the whole object was sent instead.
  uint64_t deltas_sent = 0;
  uint64_t deltas_refused = 0;
};

class Coordinator {
 public:
  // `self` is this node's id. All references must outlive the Coordinator.
  Coordinator(PeerTransport& transport, storage::Keyspace& keyspace, const storage::Clock& clock,
              NodeId self);

  void set_options(const CoordinatorOptions& options) { options_ = options; }
  const CoordinatorOptions& options() const { return options_; }

  // The merged object (empty if no replica has the key), or kUnavailable,
  // or the error saving the merge here (kCorruption).
  using ReadDone = std::function<void(storage::Result<storage::Object>)>;
  // Ok, or kUnavailable.
  using WriteDone = std::function<void(storage::Status)>;

  // `replicas` are the key's replicas; this node should be one of them (if
  // it is not, it takes part anyway as an extra replica).
  void Read(const std::string& key, ReplicaSet replicas, ReadDone done);

  // A read for a command that runs on this node's store afterwards. Once
  // the quorum is met this node's copy is the merge (Read saves the merge
  // here when the copy lacked something), so `done` usually gets nullopt
  // and no copy of the object: the command runs on the store. It gets the
  // merge only when this node's copy could not be read (damaged bytes):
  // the command must then run on the merge (Keyspace::Pin). Errors as Read.
  using StoreReadDone = std::function<void(storage::Result<std::optional<storage::Object>>)>;
  void ReadIntoStore(const std::string& key, ReplicaSet replicas, StoreReadDone done);

  // `object` is the key's object in the node-id encoding, as just applied
  // locally. `delta`, if not empty, is the write's encoded ContainerDelta
  // (Change::delta()); `object` may then be empty, and is read from the
  // keyspace (the key's current object, which includes the write) only if
  // some target needs it.
  void Replicate(const std::string& key, std::string object, ReplicaSet replicas, WriteDone done,
                 std::string delta = {});

  // ok: `bytes` is the remote node's RESP reply. Otherwise `bytes` is the
  // error text (NOQUORUM... when the node did not answer in time).
  // `resp` is the client's protocol, which the remote node writes its reply
  // in: SHOAL.FWD PROTO 3 <command...> for RESP3, plain SHOAL.FWD <command...>
  // (what older nodes send and expect) for RESP2.
  using ForwardDone = std::function<void(bool ok, std::string bytes)>;
  void Forward(const NodeId& to, std::vector<std::string> argv, size_t required, int resp,
               ForwardDone done);

  const CoordinatorStats& stats() const { return stats_; }
  const NodeId& self() const { return self_; }
  // Where this node keeps hints when it coordinates as a fallback (sloppy
  // quorum). Without one, a fallback self does not count toward W.
  void set_local_replica(LocalReplica* replica) { replica_ = replica; }
  // Stored digests: a read sends the replicas its copy's digest from here
  // when known, instead of encoding the copy to compute it; when not known
  // and the copy is a cached container, its causal digest
  // (Keyspace::CachedBaseDigest, see LocalReplica's SHOAL.MGET).
  void set_stored_digests(StoredDigests digests) { stored_digests_ = std::move(digests); }

 private:
  struct ReadState;
  // Read and ReadIntoStore: one of the callbacks is set.
  void StartRead(const std::string& key, ReplicaSet replicas, ReadDone done,
                 StoreReadDone store_done);
  void FinishRead(ReadState& st);
  // Brings this node's deferred copy into the quorum (ReadQuorum::Resolve)
  // before a reply with an object is merged. False if it cannot be read:
  // the read fails (if undecided) and the reply is dropped.
  bool ResolveSelf(ReadState& st);
  // A reply after the decision: `object`, or the coordinator's own copy's
  // equal ("=") when nullopt.
  void OnLateRead(ReadState& st, size_t replica, std::optional<storage::Object> object);
  void Repair(ReadState& st, const std::vector<size_t>& replicas);
  int64_t Deadline() const;
  // SHOAL.MPUT to a primary, SHOAL.HPUT (a hint) to a fallback. Takes
  // `object` (the last replica's put is moved, not copied).
  void Put(const Target& to, const std::string& key, std::string object, int64_t deadline_ms,
           PeerCallback cb);
  // Counts a write of `key` sent to `to` until its first callback: `cb`
  // wrapped. A command forwarded to `to` that names such a key must follow
  // that write (PeerTransport::SendForward's `ordered`).
  PeerCallback TrackWrite(const NodeId& to, const std::string& key, PeerCallback cb);

  PeerTransport& transport_;
  storage::Keyspace& keyspace_;
  const storage::Clock& clock_;
  NodeId self_;
  LocalReplica* replica_ = nullptr;
  StoredDigests stored_digests_;
  // node -> key -> writes sent there and not answered yet.
  std::unordered_map<NodeId, std::unordered_map<std::string, uint32_t>> unanswered_writes_;
  CoordinatorOptions options_;
  CoordinatorStats stats_;
};

}  // namespace shoal::cluster
