#pragma once
// The decisions of tombstone purging, as pure functions (the tombstone
// reaper, cluster/tombstone_reaper.h, does the messages and the timing).
//
// A dead key (tombstones only, or the remains of expired versions: see
// storage/keyspace.h) may be forgotten only when nothing anywhere can bring
// an older value back once it is gone (Riak's delete_mode, Cassandra's
// gc_grace_seconds):
//   - it died more than the grace period ago (tombstone-grace-ms), so a
//     delayed replica write or a write still in flight is older than it;
//   - every member is alive and reachable (a member we cannot ask could hold
//     anything);
//   - every primary of the key holds exactly the object the owner checked
//     (same digest of the canonical node-id encoding);
//   - no other member holds a copy or a hint of the key that could bring
//     something back: anything it holds must be dead and covered by the
//     checked object's context (merging it changes no live value).
// Each member classifies its own holdings (ClassifyCopy) when asked; the
// owner combines the answers (DecidePurge).

#include <cstdint>
#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/object.h"

namespace shoal::cluster {

// A member's holdings of a key against the object the owner checked. The
// numbers travel in SHOAL.PURGECHECK replies.
enum class CopyState : int64_t {
  kAbsent = 0,    // no copy, no hint
  kSame = 1,      // a copy equal to the checked object, hints (if any) harmless
  kCovered = 2,   // a dead copy the checked object covers, hints harmless
  kBlocking = 3,  // a live copy, a copy or hint with a version the checked
                  // object does not cover, or a live hint
};

// Why a purge did not happen.
enum class PurgeRefusal {
  kNone,            // purge
  kMemberDown,      // a member is not alive or not reachable
  kNoAnswer,        // a member did not answer the check
  kReplicaDiffers,  // a primary holds another object (or none)
  kCopyElsewhere,   // another member holds a copy or hint that could come back
};

// One member's answer to the check of one key.
struct MemberAnswer {
  bool primary = false;   // a primary of the key
  bool answered = false;  // replied in time, with a well-formed answer
  CopyState state = CopyState::kBlocking;
};

// One member's health as the owner sees it.
struct MemberHealth {
  bool alive = false;      // the failure detector holds it alive (not suspect)
  bool reachable = false;  // a ready link it answers on
};

// True if `object` is dead at now_ms (no live version) and every sibling it
// has is covered by `context`: merging it into an object with that context
// brings no value back.
bool DeadAndCovered(const storage::Object& object, const storage::VersionVector& context,
                    int64_t now_ms);

// This member's holdings of a key: `local` is its settled object
// (Keyspace::Settled; empty if absent), `hints` the objects it keeps for the
// key as a fallback.
CopyState ClassifyCopy(const storage::Object& checked, const storage::Object& local,
                       const std::vector<storage::Object>& hints, int64_t now_ms);

// kMemberDown unless every other member is alive and reachable.
PurgeRefusal CheckMembers(const std::vector<MemberHealth>& others);

// Combines the answers of every other member for one key (the owner's own
// copy is the checked object). Order of checks: kNoAnswer, then
// kReplicaDiffers, then kCopyElsewhere.
PurgeRefusal DecidePurge(const std::vector<MemberAnswer>& answers);

// The digest a purge compares: XXH3-64 of the canonical node-id encoding.
uint64_t PurgeDigest(const storage::Object& object, const storage::ActorTable& actors);

}  // namespace shoal::cluster
