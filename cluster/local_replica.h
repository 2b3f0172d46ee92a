#pragma once
// LocalReplica: this node as a replica of keys other nodes coordinate (the vnode
// side of riak_kv, apart from the get/put state machines of
// cluster/coordinator.h). It serves
//   SHOAL.MGET key digest [key digest ...]   this node's object of each key
//       in the node-id encoding, nil if absent, or "=" when its digest equals
//       the coordinator's (the coordinator's copy is the same: no transfer).
//       The digest is ObjectDigest's eight bytes, or kCausalDigestTag and
//       the eight bytes of the causal digest (storage/container_delta.h
//       BaseDigest), which a coordinator holding the key's container object
//       decoded sends: both sides then compare causal histories in
//       O(versions), not encodings in O(elements);
//   SHOAL.MPUT key object [key object ...]   merges each object into the
//       local store (replication, read repair);
//   SHOAL.MDELTA key delta [key delta ...]   redoes each container write
//       from its delta (storage/container_delta.h) on the local copy; an
//       item whose copy is not the delta's base gets an error starting with
//       "STALE" (kStaleDeltaError), and the coordinator sends the whole
//       object instead;
//   SHOAL.HPUT key object owner [...]        as a fallback (sloppy quorum):
//       keeps each object as a durable hint for `owner`, to hand off once the
//       owner is reachable (cluster/hint_store.h). SHOAL.MGET answers merge
//       the hints this node holds for a key, so a value written to a fallback
//       is readable before hand-off.
// Peer input is decoded and checked like client input: a damaged object is
// an error reply for that item, never a crash.
//
// Runs on the loop thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "facade/reply_builder.h"
#include "storage/actor_table.h"
#include "storage/clock.h"
#include "storage/keyspace.h"
#include "storage/object.h"
#include "storage/status.h"

namespace shoal::cluster {

struct ReplicaStats {
  uint64_t gets = 0;            // items of SHOAL.MGET served
  uint64_t puts = 0;            // items of SHOAL.MPUT served
  uint64_t hints = 0;           // hints taken as a fallback (SHOAL.HPUT and our own)
  uint64_t deltas_applied = 0;  // items of SHOAL.MDELTA applied
  uint64_t deltas_stale = 0;    // items of SHOAL.MDELTA refused: not the base here
};

// The first word of SHOAL.MDELTA's reply to a delta whose base this replica
// does not hold.
inline constexpr std::string_view kStaleDeltaError = "STALE";

class HintStore;

// A digest of an object as every node encodes it (node ids, not local actor
// ids): equal digests mean equal objects (up to XXH3-64 collisions). Eight
// raw bytes.
std::string ObjectDigest(const storage::Object& object, const storage::ActorTable& actors);

// A digest as ObjectDigest returns it (its eight raw bytes).
std::string DigestBytes(uint64_t digest);

// SHOAL.MGET's causal digest: this byte, then DigestBytes(BaseDigest(...)).
inline constexpr char kCausalDigestTag = 'c';
std::string CausalDigestBytes(uint64_t digest);

// Where a key's digest may be known without its object: the digest of the
// object stored for the key (ObjectDigest's, as a number), or nullopt when
// not known (cluster/partition_trees.h keeps them for anti-entropy).
using StoredDigests = std::function<std::optional<uint64_t>(std::string_view key)>;

class LocalReplica {
 public:
  LocalReplica(storage::Keyspace& keyspace, const storage::Clock& clock)
      : keyspace_(keyspace), clock_(clock) {}

  // This node's object of `key` in the node-id encoding; empty if absent.
  // `same` is set (and nothing returned) when its digest equals `digest`.
  storage::Result<std::string> LocalObjectUnless(std::string_view key, std::string_view digest,
                                                 bool* same);
  // Merges an object from a coordinator into the local store.
  storage::Status ApplyRemote(std::string_view key, std::string_view object);
  // Redoes a coordinator's container write from its delta: kStale if the
  // local copy is not its base, kCorruption if it does not decode.
  storage::Status ApplyRemoteDelta(std::string_view key, std::string_view delta);
  // Keeps `object` (node-id encoded) as a hint for `owner`. Durable at the
  // hint store's next Commit, which the server runs before replies leave.
  // Fails when hinted handoff is off (no store) or the object is damaged.
  storage::Status StoreHint(std::string_view owner, std::string_view key, std::string_view object);

  // The hint store (nullptr: hinted handoff off). Must outlive this.
  void set_hints(HintStore* hints) { hints_ = hints; }
  // Stored digests: a SHOAL.MGET whose digest equals the key's stored
  // digest is answered "=" without loading or encoding the object.
  void set_stored_digests(StoredDigests digests) { stored_digests_ = std::move(digests); }

  // The peer frames. `argv[0]` is the frame's name; malformed frames get an
  // error reply.
  void ServeGet(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);
  void ServePut(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);
  void ServeDelta(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);
  void ServeHintedPut(const std::vector<std::string>& argv, facade::ReplyBuilder& reply);

  const ReplicaStats& stats() const { return stats_; }

 private:
  storage::Keyspace& keyspace_;
  const storage::Clock& clock_;
  HintStore* hints_ = nullptr;
  StoredDigests stored_digests_;
  ReplicaStats stats_;
};

}  // namespace shoal::cluster
